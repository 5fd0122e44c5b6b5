//! The camera stand-in clip (`scripts/camera_clip.py`, made by `make setup` from vtest.avi:
//! H.264 1280x720 30 fps, idle stretches of median background + sensor noise, vtest's walkers
//! in 10 s stretches; the layout is in `samples/camera_walkway.json`): motion boxes, the motion
//! gate's inference share and its track recall against `always`, and `bench --density`.

use crate::common;

use common::*;
use gstovstream::bench::recall::{track_recall, MIN_TRACK_SECONDS};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// 30 s of the clip: idle 0–10 s, walkers 10–20 s, idle 20–30 s.
const FRAMES: u64 = 900;
/// The density benchmark's recall runs: the clip's idle lead-in and its first active stretch
/// (frames 300–600 in `camera_walkway.json`). The motion gate after activity is covered by the
/// other tests, over [`FRAMES`].
const DENSITY_FRAMES: u64 = 600;

fn clip() -> PathBuf {
    asset("samples/camera_walkway.mp4")
}

/// The clip's first active stretch, `[first, end)` frame numbers, from its layout file.
fn first_active() -> (u64, u64) {
    let layout: Value = serde_json::from_str(
        &std::fs::read_to_string(asset("samples/camera_walkway.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(layout["fps"], 30, "{layout}");
    let a = &layout["active"][0];
    (a[0].as_u64().unwrap(), a[1].as_u64().unwrap())
}

/// `ovstream run` on the clip's first `FRAMES` frames as a file (full speed) with `detect`
/// and `extra` TOML; its metadata lines and stderr.
fn run(dir: &Path, name: &str, detect: &str, extra: &str) -> (Vec<Value>, String) {
    run_frames(dir, name, detect, extra, FRAMES)
}

/// [`run`] on the clip's first `frames` frames.
fn run_frames(
    dir: &Path,
    name: &str,
    detect: &str,
    extra: &str,
    frames: u64,
) -> (Vec<Value>, String) {
    let jsonl = dir.join(format!("{name}.jsonl"));
    let pipeline = dir.join(format!("{name}.toml"));
    std::fs::write(
        &pipeline,
        format!(
            "[source]\ninput = \"{}\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n[detect]\n\
             threshold = 0.5\n{detect}\n[track]\n{extra}\n[output]\nmetadata = \"{}\"\n",
            clip().display(),
            jsonl.display()
        ),
    )
    .unwrap();
    let err = assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--limit",
        &frames.to_string(),
        "--no-progress",
    ]));
    (read_jsonl(&jsonl), err)
}

fn motion_boxes(line: &Value) -> &Vec<Value> {
    line["motion"]
        .as_array()
        .unwrap_or_else(|| panic!("no motion field: {line}"))
}

fn frames_with_motion(lines: &[Value], range: std::ops::Range<u64>) -> Vec<u64> {
    lines
        .iter()
        .filter(|l| range.contains(&l["frame"].as_u64().unwrap()))
        .filter(|l| !motion_boxes(l).is_empty())
        .map(|l| l["frame"].as_u64().unwrap())
        .collect()
}

#[test]
fn motion_boxes_on_walkers_not_on_sensor_noise_and_not_under_a_mask() {
    let dir = tempfile::tempdir().unwrap();
    let (start, end) = first_active();
    let (lines, _) = run(dir.path(), "motion", "mode = \"motion\"", "");
    assert_eq!(lines.len() as u64, FRAMES);
    // Idle: noise (sigma 3 grey levels, fresh every frame) is never motion.
    let idle_before = frames_with_motion(&lines, 0..start);
    assert!(
        idle_before.is_empty(),
        "motion in the idle stretch: {idle_before:?}"
    );
    // Walkers: motion on (nearly) every frame, boxes inside the picture.
    let active = frames_with_motion(&lines, start..end);
    assert!(
        active.len() as u64 >= (end - start) * 95 / 100,
        "motion on {} of {} active frames",
        active.len(),
        end - start
    );
    for l in &lines[start as usize..end as usize] {
        for b in motion_boxes(l) {
            let (x0, x1) = (b["x_min"].as_f64().unwrap(), b["x_max"].as_f64().unwrap());
            assert!((0.0..=1.0).contains(&x0) && x0 < x1 && x1 <= 1.0, "{b}");
        }
    }
    // The walkers leave at once (the clip cuts to the idle picture): a second of change, then
    // quiet again for the rest of the idle stretch.
    let after = frames_with_motion(&lines, end + 30..FRAMES);
    assert!(after.is_empty(), "motion after the walkers left: {after:?}");

    // A mask over the left half: no motion box reaches into it (beyond the blur's pixel), and
    // the walkers on the right half still move (the run ends with the walkers' stretch).
    let mask = "[motion]\nmask = [[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]]\n";
    let (masked, _) = run_frames(dir.path(), "masked", "mode = \"motion\"", mask, end);
    let mut right = 0;
    for l in &masked[start as usize..end as usize] {
        for b in motion_boxes(l) {
            assert!(
                b["x_min"].as_f64().unwrap() >= 0.49,
                "box under the mask: {b}"
            );
            right += 1;
        }
    }
    assert!(right > 100, "only {right} motion boxes right of the mask");
    let left_before: usize = lines[start as usize..end as usize]
        .iter()
        .flat_map(motion_boxes)
        .filter(|b| b["x_max"].as_f64().unwrap() < 0.49)
        .count();
    assert!(
        left_before > 100,
        "the unmasked run saw {left_before} boxes on the left"
    );
}

#[test]
fn motion_gate_infers_under_half_the_frames_and_keeps_every_track() {
    let dir = tempfile::tempdir().unwrap();
    // The reference tracks: every frame inferred up to a second past the walkers' stretch (the
    // idle rest has nothing to track; motion mode's frames there are checked below).
    let (_, end) = first_active();
    let (always, _) = run_frames(dir.path(), "always", "mode = \"always\"", "", end + 30);
    let (motion, summary) = run(dir.path(), "motion", "mode = \"motion\"", "");
    assert_eq!(motion.len() as u64, FRAMES);
    let inferred = motion
        .iter()
        .filter(|l| l.get("inferred").is_none())
        .count();
    assert!(
        (inferred as u64) < FRAMES / 2,
        "inferred {inferred} of {FRAMES} frames"
    );
    assert!(summary.contains("carried the last boxes"), "{summary}");
    // The walkers leave at 20 s (frame 600): after the motion hold and their fading ghost,
    // the empty walkway gets no idle check (`max_idle_seconds`, 5 s, checks only scenes whose
    // last inferences found objects; before, frame ~820 was inferred).
    let late: Vec<u64> = motion
        .iter()
        .filter(|l| l.get("inferred").is_none())
        .map(|l| l["frame"].as_u64().unwrap())
        .filter(|&f| f >= 750)
        .collect();
    assert_eq!(late, Vec::<u64>::new(), "idle checks of an empty scene");
    // Frame numbers and timestamps run on across skipped frames (30 fps).
    for (i, l) in motion.iter().enumerate() {
        assert_eq!(l["frame"].as_u64().unwrap(), i as u64, "{l}");
        let ts = l["timestamp"].as_u64().unwrap() as f64;
        assert!(
            (ts - i as f64 * 1e9 / 30.0).abs() < 1e6,
            "frame {i} at {ts} ns"
        );
    }
    // Every track `always` keeps for a second or more is reported in motion mode too.
    let recall = track_recall(
        &dir.path().join("always.jsonl"),
        &dir.path().join("motion.jsonl"),
        MIN_TRACK_SECONDS,
    )
    .unwrap();
    assert!(recall.tracks >= 3, "{recall:?}");
    assert_eq!(recall.missed, Vec::<u64>::new(), "{recall:?}");
    assert!(recall.first_report_delay_ms <= 300.0, "{recall:?}");
    assert!(always.iter().all(|l| l.get("inferred").is_none()));
}

#[test]
fn bench_density_reports_streams_recall_and_delay_per_mode() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("density.json");
    let out = ovstream(&[
        "bench",
        asset("pipelines/camera.toml").to_str().unwrap(),
        "--density",
        "--density-seconds",
        "2",
        "--max-streams",
        "1",
        "--density-frames",
        &DENSITY_FRAMES.to_string(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let d = &report["density"];
    for mode in ["always", "interval", "motion"] {
        let m = &d[mode];
        // One step (--max-streams 1); whether it held is the machine's speed, not asserted
        // here, but the density must agree with it.
        let steps = m["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 1, "{mode}: {m}");
        let step = &steps[0];
        assert_eq!(step["streams"], 1, "{mode}: {step}");
        let held = step["held"].as_bool().unwrap();
        assert_eq!(m["streams"], u64::from(held), "{mode}: {m}");
        assert!(
            step["slowest_fps"].as_f64().unwrap() > 0.0,
            "{mode}: {step}"
        );
        // The clip's layout (camera_walkway.json) placed the stream: its window holds at least
        // the clip's active quarter.
        assert_eq!(step["starts"].as_array().unwrap().len(), 1, "{step}");
        assert!(step["active_share"].as_f64().unwrap() >= 0.25, "{step}");
        assert_eq!(step["peak_active"], 1, "{step}");
        if mode == "always" {
            assert!(m["recall"].is_null(), "{m}");
        } else {
            assert!(m["recall"].as_f64().unwrap() >= 0.98, "{mode}: {m}");
            assert!(m["first_report_delay_ms"].as_f64().is_some(), "{mode}: {m}");
        }
    }
    let share = |mode: &str| d[mode]["inferred_share"].as_f64().unwrap();
    assert_eq!(share("always"), 1.0);
    assert!((share("interval") - 1.0 / 3.0).abs() < 0.01, "{report}");
    assert!(share("motion") < 0.5, "{report}");
    assert!(report["idle_cpu_ms_per_frame"].as_f64().unwrap() > 0.0);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("stream density") && table.contains("motion"),
        "{table}"
    );
}
