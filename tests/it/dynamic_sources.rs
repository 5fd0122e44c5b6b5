//! Sources join and leave a running pipeline (the library API the service mode builds on):
//! the others lose no frame and keep their order; a removed source's outputs are finalized.

use crate::common;

use common::*;
use gstovstream::config::{Nireq, PipelineConfig, Precision};
use gstovstream::detector::Detector;
use gstovstream::pipeline::{self, Play, RunOptions, SourceId};
use gstovstream::sink::sinks_from_config;
use gstovstream::source::{Source, SourceOptions};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// The pedestrian pipeline at f32 with nireq 4, writing `out/<name>.jsonl` and `.mp4`.
fn config(dir: &Path) -> PipelineConfig {
    let mut c = PipelineConfig::new("", "pedestrian-ssdlite");
    c.model.precision = Some(Precision::F32);
    c.model.nireq = Some(Nireq::Count(4));
    c.output.metadata = Some(dir.join("{name}.jsonl").display().to_string());
    c.output.mp4 = Some(dir.join("{name}.mp4"));
    c
}

fn options(c: &PipelineConfig) -> RunOptions {
    RunOptions {
        track: c.track_options(),
        overlay: true,
        ..RunOptions::default()
    }
}

/// Frames of vtest each run takes: carphone joins at 100 and leaves at 300.
const VTEST_FRAMES: u64 = 400;

/// Waits until `done()` (at most a minute).
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_source_added_and_removed_mid_run_leaves_the_other_untouched() {
    gstovstream::gst_init().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (alone_dir, dynamic_dir) = (dir.path().join("alone"), dir.path().join("dynamic"));
    std::fs::create_dir_all(&alone_dir).unwrap();
    std::fs::create_dir_all(&dynamic_dir).unwrap();
    let vtest = vtest().display().to_string();
    let carphone = asset("samples/carphone.mp4").display().to_string();
    let open = |input: &str| Source::open(input, &SourceOptions::default()).unwrap();

    // vtest alone.
    let alone = config(&alone_dir);
    let mut detector = Detector::from_config(&alone, None).unwrap();
    let sinks = sinks_from_config(&alone, "vtest").unwrap();
    let summary = pipeline::run(
        open(&vtest),
        &mut detector.engine,
        &detector.adapter,
        sinks,
        pipeline::Secondary::none(),
        &RunOptions {
            limit: Some(VTEST_FRAMES),
            ..options(&alone)
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(summary.frames, VTEST_FRAMES);

    // vtest, with carphone (looped, so it outlives the window) from vtest's frame 100 to 300.
    let dynamic = config(&dynamic_dir);
    let mut phone: Option<SourceId> = None;
    let summary = pipeline::run_dynamic(
        &mut detector.engine,
        &detector.adapter,
        pipeline::Secondary::none(),
        &options(&dynamic),
        &AtomicBool::new(false),
        |p| {
            let v = p.add_source_with(
                open(&vtest),
                sinks_from_config(&dynamic, "vtest")?,
                Play {
                    limit: Some(VTEST_FRAMES),
                    ..Play::default()
                },
            )?;
            wait_for("100 vtest frames", || p.frames_written(v) >= 100);
            let looping = Play {
                looping: true,
                ..Play::default()
            };
            let c = p.add_source_with(
                open(&carphone),
                sinks_from_config(&dynamic, "carphone")?,
                looping,
            )?;
            phone = Some(c);
            wait_for("200 more vtest frames", || p.frames_written(v) >= 300);
            assert!(p.frames_written(c) > 0, "carphone got no frame in 200");
            p.remove_source(c)?;
            Ok(())
        },
    )
    .unwrap();
    let phone = phone.unwrap();
    let by_name = |name: &str| summary.sources.iter().find(|s| s.name == name).unwrap();
    assert_eq!(by_name("vtest").frames, VTEST_FRAMES, "vtest lost frames");

    // vtest: the same boxes, scores, track ids and frame order as alone.
    let together = read_jsonl(&dynamic_dir.join("vtest.jsonl"));
    let before = read_jsonl(&alone_dir.join("vtest.jsonl"));
    assert_eq!(together.len(), before.len(), "vtest frame count");
    let mut boxes = 0;
    for (t, a) in together.iter().zip(&before) {
        assert_eq!(t["frame"], a["frame"], "frame order");
        assert_eq!(
            t["objects"], a["objects"],
            "frame {}: boxes, scores or track ids differ from vtest alone",
            t["frame"]
        );
        boxes += t["objects"].as_array().unwrap().len();
    }
    assert!(boxes > 1000, "only {boxes} boxes compared");
    assert_eq!(
        decode_mp4(&dynamic_dir.join("vtest.mp4")).0,
        VTEST_FRAMES as usize
    );

    // carphone: its JSON covers exactly the frames it ran, from 0 in order, and its MP4 plays
    // them all (finalized by the removal, while vtest went on).
    let ran = by_name("carphone").frames as usize;
    assert!(ran > 100, "carphone ran {ran} frames (source {phone})");
    let lines = read_jsonl(&dynamic_dir.join("carphone.jsonl"));
    let frames: Vec<u64> = lines.iter().map(|l| l["frame"].as_u64().unwrap()).collect();
    assert_eq!(frames, (0..ran as u64).collect::<Vec<_>>());
    assert!(lines.iter().all(|l| l["source"] == "carphone"));
    assert_eq!(
        decode_mp4(&dynamic_dir.join("carphone.mp4")),
        (ran, 176, 144)
    );
    assert!(!summary.interrupted, "a removal is not an interruption");
}

#[test]
fn a_removed_source_outputs_are_final_before_the_run_ends() {
    gstovstream::gst_init().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let mut detector = Detector::from_config(&c, None).unwrap();
    let live = "test://?pattern=ball&fps=30&width=320&height=240";
    pipeline::run_dynamic(
        &mut detector.engine,
        &detector.adapter,
        pipeline::Secondary::none(),
        &options(&c),
        &AtomicBool::new(false),
        |p| {
            let cam = Source::open(live, &SourceOptions::default())?;
            let id = p.add_source(cam, sinks_from_config(&c, "cam")?)?;
            wait_for("30 frames", || p.frames_written(id) >= 30);
            p.remove_source(id)?;
            // Finalized now, while the pipeline still runs: the MP4 plays.
            let (frames, w, h) = decode_mp4(&dir.path().join("cam.mp4"));
            assert_eq!((w, h), (320, 240));
            assert_eq!(frames, read_jsonl(&dir.path().join("cam.jsonl")).len());
            assert!(
                p.remove_source(id + 1).is_err(),
                "an unknown id is an error"
            );
            Ok(())
        },
    )
    .unwrap();
}
