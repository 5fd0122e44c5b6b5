//! Zone and line analytics on real detections (BlazeFace on clips built here with the venv's
//! OpenCV: a face photo moving on a known path, `tests/clips/moving_objects.py`), on vtest.avi
//! with the pedestrian detector, and through the CLI (bad geometry, hot reload).

use crate::common;

use common::broker::{Broker, Subscriber};
use common::*;
use gstovstream::config::analytics::{LineConfig, ZoneConfig};
use gstovstream::config::PipelineConfig;
use gstovstream::detector::Detector;
use gstovstream::pipeline::{self, metrics::Endpoint, RunOptions};
use gstovstream::sink::sinks_for_sources;
use gstovstream::source::{Source, SourceOptions};
use gstreamer as gst;
use gstreamer::prelude::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Clip size and rate, and the height of the face photo in it (BlazeFace full-range finds it
/// in every frame at this size).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 360.0;
const FPS: f64 = 25.0;
const FACE: u32 = 180;
const PHOTO: &str = "samples/faces/obama.jpg";
/// Frames of tolerance on an event's frame against the geometric one.
const TOLERANCE: i64 = 2;

const ANALYTICS_TYPES: [&str; 5] = [
    "zone_enter",
    "zone_exit",
    "loitering",
    "crowding",
    "line_cross",
];

/// Keyframes `(frame, x, y)` of a photo's top-left corner, linear in between (as the clip
/// script interpolates).
struct Path2(Vec<(u32, f64, f64)>);

impl Path2 {
    fn spec(&self) -> String {
        self.0
            .iter()
            .map(|(f, x, y)| format!("{f}:{x},{y}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    fn at(&self, frame: u32) -> (f64, f64) {
        for w in self.0.windows(2) {
            let ((f0, x0, y0), (f1, x1, y1)) = (w[0], w[1]);
            if (f0..=f1).contains(&frame) {
                let t = if f1 == f0 {
                    0.0
                } else {
                    f64::from(frame - f0) / f64::from(f1 - f0)
                };
                return (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            }
        }
        let last = self.0.last().unwrap();
        (last.1, last.2)
    }

    /// The first frame from `from` whose point (top-left + `offset`, pixels) satisfies `pred`.
    fn first(&self, from: u32, offset: (f64, f64), pred: impl Fn(f64) -> bool) -> i64 {
        let end = self.0.last().unwrap().0;
        (from..=end)
            .find(|&f| pred(self.at(f).0 + offset.0))
            .unwrap_or_else(|| panic!("the path never gets there after frame {from}"))
            as i64
    }
}

/// Writes a clip of `frames` frames with a face photo on each path.
fn make_clip(dir: &Path, name: &str, frames: u32, paths: &[&Path2]) -> PathBuf {
    let out = dir.join(format!("{name}.avi"));
    let mut cmd = std::process::Command::new(root().join(".venv/bin/python"));
    cmd.arg(root().join("tests/clips/moving_objects.py"))
        .arg(&out)
        .args(["--size", &format!("{WIDTH}x{HEIGHT}")])
        .args(["--fps", &FPS.to_string(), "--frames", &frames.to_string()]);
    for p in paths {
        cmd.arg("--object")
            .arg(asset(PHOTO))
            .arg(FACE.to_string())
            .arg(p.spec());
    }
    let status = cmd
        .status()
        .expect("run the clip script (make setup makes .venv)");
    assert!(status.success(), "clip script failed");
    out
}

/// A BlazeFace pipeline file on `clip` with `tables` appended.
fn face_pipeline(dir: &Path, clip: &Path, tables: &str) -> PathBuf {
    let path = dir.join("analytics.toml");
    let text = format!(
        "[source]\ninput = \"{}\"\n[model]\nmodel = \"blazeface-full\"\n{tables}",
        clip.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `ovstream run PIPELINE --metadata --events …`; returns (frame records, events).
fn run_faces(dir: &Path, pipeline: &Path, extra: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let (md, ev) = (dir.join("frames.jsonl"), dir.join("events.jsonl"));
    let mut args = vec![
        "run",
        pipeline.to_str().unwrap(),
        "--no-progress",
        "--metadata",
        md.to_str().unwrap(),
        "--events",
        ev.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    assert_ok(&ovstream(&args));
    (read_jsonl(&md), read_jsonl(&ev))
}

fn analytics_events(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| ANALYTICS_TYPES.contains(&e["type"].as_str().unwrap()))
        .cloned()
        .collect()
}

fn of<'a>(events: &'a [Value], key: &str, name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e[key] == name).collect()
}

/// The detected box center minus the photo's top-left corner (pixels) in `frame`, whose only
/// object is the face of `path`.
fn face_offset(records: &[Value], path: &Path2, frame: u32) -> (f64, f64) {
    let objects = records[frame as usize]["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "frame {frame}: one face: {objects:?}");
    let b = &objects[0]["detection"]["bounding_box"];
    let f = |k: &str| b[k].as_f64().unwrap();
    let (x, y) = path.at(frame);
    (
        (f("x_min") + f("x_max")) / 2.0 * WIDTH - x,
        (f("y_min") + f("y_max")) / 2.0 * HEIGHT - y,
    )
}

fn assert_near(what: &str, got: &Value, want: i64) {
    let got = got["frame"].as_i64().unwrap();
    assert!(
        (got - want).abs() <= TOLERANCE,
        "{what}: frame {got}, geometric frame {want} (±{TOLERANCE})"
    );
}

#[test]
fn lines_and_zones_on_a_face_moving_on_a_known_path() {
    let dir = tempfile::tempdir().unwrap();
    // Right, stay 1.6 s, left, right again (and stay 1 s).
    let path = Path2(vec![
        (0, 20.0, 50.0),
        (40, 440.0, 50.0),
        (80, 440.0, 50.0),
        (120, 20.0, 50.0),
        (160, 440.0, 50.0),
        (179, 440.0, 50.0),
    ]);
    let clip = make_clip(dir.path(), "walk", 180, &[&path]);
    let tables = r#"
[[analytics.zones]]
name = "right"
polygon = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
inertia = 5
loiter_seconds = 1.0
point = "center"
[[analytics.lines]]
name = "mid"
points = [[0.5, 0.0], [0.5, 1.0]]
in = [1.0, 0.0]
point = "center"
[[analytics.lines]]
name = "beyond"          # the face passes above its lower end: crosses the line, not the segment
points = [[0.5, 0.9], [0.5, 1.0]]
point = "center"
"#;
    let pipeline = face_pipeline(dir.path(), &clip, tables);
    let broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "an", &dir.path().join("sub.txt"), &[]);
    let url = broker.url("an");
    let (records, events) = run_faces(dir.path(), &pipeline, &["--mqtt", &url]);
    assert_eq!(records.len(), 180);
    let offset = face_offset(&records, &path, 0);
    let line = WIDTH / 2.0;
    let c1 = path.first(0, offset, |x| x > line);
    let c2 = path.first(80, offset, |x| x < line);
    let c3 = path.first(120, offset, |x| x > line);

    let analytics = analytics_events(&events);
    let mid = of(&analytics, "line", "mid");
    let directions: Vec<&str> = mid
        .iter()
        .map(|e| e["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["in", "out", "in"], "{mid:?}");
    for (e, want) in mid.iter().zip([c1, c2, c3]) {
        assert_near("line_cross", e, want);
        assert_eq!(e["label"], "face");
        assert_eq!(e["source"], "walk");
    }
    assert!(of(&analytics, "line", "beyond").is_empty(), "{analytics:?}");

    // Zone: enter and exit `inertia` (5) frames after the point crosses its edge; loitering
    // 1 s (25 frames) after the visit began; dwell from the first frame inside to the first
    // outside.
    let zone = of(&analytics, "zone", "right");
    let kinds: Vec<&str> = zone.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "zone_enter",
            "loitering",
            "zone_exit",
            "zone_enter",
            "loitering"
        ],
        "{zone:?}"
    );
    assert_near("zone_enter", zone[0], c1 + 4);
    assert_near("loitering", zone[1], c1 + 25);
    let loiter = zone[1]["dwell_seconds"].as_f64().unwrap();
    assert!((1.0..1.1).contains(&loiter), "loitering dwell {loiter}");
    assert_near("zone_exit", zone[2], c2 + 4);
    let dwell = zone[2]["dwell_seconds"].as_f64().unwrap();
    let want = (c2 - c1) as f64 / FPS;
    assert!(
        (dwell - want).abs() <= 0.1,
        "dwell {dwell} s, geometric {want} s"
    );
    assert_near("second zone_enter", zone[3], c3 + 4);
    assert_near("second loitering", zone[4], c3 + 25);

    // Per frame: the object's `zones` and the counts follow the events.
    let enter = zone[0]["frame"].as_u64().unwrap() as usize;
    let exit = zone[2]["frame"].as_u64().unwrap() as usize;
    for (f, r) in records.iter().enumerate() {
        let inside = (enter..exit).contains(&f) || f >= zone[3]["frame"].as_u64().unwrap() as usize;
        let zones = &r["objects"][0]["zones"];
        let want: Value = if inside {
            serde_json::json!(["right"])
        } else {
            serde_json::json!([])
        };
        assert_eq!(zones, &want, "frame {f}");
        let count = &r["analytics"]["zones"]["right"]["face"];
        assert_eq!(count.as_u64().unwrap_or(0), u64::from(inside), "frame {f}");
    }
    let last = &records.last().unwrap()["analytics"]["lines"];
    assert_eq!(last["mid"], serde_json::json!({"in": 2, "out": 1}));
    assert_eq!(last["beyond"], serde_json::json!({"in": 0, "out": 0}));
    // The object's own events carry its zones.
    let update = events
        .iter()
        .find(|e| e["type"] == "update" && e["zones"] == serde_json::json!(["right"]))
        .expect("an update when the face entered the zone");
    assert_eq!(update["frame"], zone[0]["frame"]);

    // MQTT: exactly the file's analytics events on `an/walk/analytics`, in order.
    assert!(sub.wait_for("an/available", "offline", Duration::from_secs(10)));
    let received: Vec<String> = sub
        .messages()
        .into_iter()
        .filter(|(t, _)| t == "an/walk/analytics")
        .map(|(_, p)| {
            let v: Value = serde_json::from_str(&p).unwrap();
            v["event_id"].as_str().unwrap().to_string()
        })
        .collect();
    let written: Vec<String> = analytics
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(received, written);
}

#[test]
fn a_face_jittering_on_the_line_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    // Still for 10 frames (where the face's offset in the photo is measured), to x = 250,
    // then ±4 px about 250 (below the 1% = 6.4 px hysteresis) for 40 frames, then on.
    let mut keys = vec![(0, 100.0, 90.0), (10, 100.0, 90.0), (30, 250.0, 90.0)];
    for i in 0..20u32 {
        keys.push((31 + 2 * i, 254.0, 90.0));
        keys.push((32 + 2 * i, 246.0, 90.0));
    }
    keys.extend([(80, 250.0, 90.0), (100, 450.0, 90.0)]);
    let path = Path2(keys);
    let clip = make_clip(dir.path(), "jitter", 101, &[&path]);
    // First run: where the face's center is relative to the photo.
    let probe = face_pipeline(dir.path(), &clip, "");
    let (records, _) = run_faces(dir.path(), &probe, &["--limit", "10"]);
    let offset = face_offset(&records, &path, 5);
    let x = (250.0 + offset.0) / WIDTH;
    let tables = format!(
        "[[analytics.lines]]\nname = \"door\"\npoints = [[{x}, 0.0], [{x}, 1.0]]\n\
         in = [1.0, 0.0]\npoint = \"center\"\n"
    );
    let pipeline = face_pipeline(dir.path(), &clip, &tables);
    let (records, events) = run_faces(dir.path(), &pipeline, &[]);
    // The face's center really goes back and forth across the line.
    let sides: Vec<bool> = records[31..80]
        .iter()
        .filter_map(|r| {
            let b = &r["objects"].as_array()?.first()?["detection"]["bounding_box"];
            Some((b["x_min"].as_f64()? + b["x_max"].as_f64()?) / 2.0 > x)
        })
        .collect();
    let flips = sides.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        flips >= 10,
        "the center crossed the line only {flips} times"
    );
    let crossings = analytics_events(&events);
    assert_eq!(crossings.len(), 1, "{crossings:?}");
    assert_eq!(crossings[0]["direction"], "in");
    let last = &records.last().unwrap()["analytics"]["lines"]["door"];
    assert_eq!(last, &serde_json::json!({"in": 1, "out": 0}));
}

#[test]
fn crowding_when_a_second_face_enters_and_again_after_it_fell_back() {
    let dir = tempfile::tempdir().unwrap();
    // A walks into the right half and stays; B follows below it, leaves, comes back.
    let a = Path2(vec![(0, 20.0, 0.0), (30, 440.0, 0.0), (159, 440.0, 0.0)]);
    let b = Path2(vec![
        (0, 20.0, 180.0),
        (30, 20.0, 180.0),
        (60, 440.0, 180.0),
        (80, 440.0, 180.0),
        (110, 20.0, 180.0),
        (120, 20.0, 180.0),
        (150, 440.0, 180.0),
        (159, 440.0, 180.0),
    ]);
    let clip = make_clip(dir.path(), "two", 160, &[&a, &b]);
    let tables = r#"
[[analytics.zones]]
name = "right"
polygon = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
max_objects = 1
point = "center"
"#;
    let pipeline = face_pipeline(dir.path(), &clip, tables);
    let (records, events) = run_faces(dir.path(), &pipeline, &[]);
    let analytics = analytics_events(&events);
    let kinds: Vec<&str> = analytics
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "zone_enter",
            "zone_enter",
            "crowding",
            "zone_exit",
            "zone_enter",
            "crowding"
        ],
        "{analytics:?}"
    );
    for c in analytics.iter().filter(|e| e["type"] == "crowding") {
        assert_eq!(c["count"], 2);
        assert!(c.get("id").is_none());
    }
    // Crowding comes with the second object's entry.
    assert_eq!(analytics[2]["frame"], analytics[1]["frame"]);
    assert_eq!(analytics[5]["frame"], analytics[4]["frame"]);
    let ids: std::collections::HashSet<u64> =
        analytics.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert_eq!(ids.len(), 2, "two tracks: {analytics:?}");
    let at = |e: &Value| &records[e["frame"].as_u64().unwrap() as usize]["analytics"];
    assert_eq!(at(&analytics[2])["zones"]["right"]["face"], 2);
    assert_eq!(at(&analytics[3])["zones"]["right"]["face"], 1);
}

fn scrape(addr: std::net::SocketAddr) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// The value of the sample of `metric` whose labels include every `key="value"` of `labels`.
fn sample(body: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn on_vtest_the_events_the_frame_counts_and_the_metrics_agree() {
    gstovstream::gst_init().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = PipelineConfig::new(vtest().display().to_string(), "pedestrian-ssdlite");
    config.output.metadata = Some(dir.path().join("f.jsonl").display().to_string());
    config.output.events = Some(dir.path().join("e.jsonl").display().to_string());
    let mut zone = ZoneConfig::new("left", vec![[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]);
    zone.loiter_seconds = Some(3.0);
    config.analytics.zones.push(zone);
    config
        .analytics
        .lines
        .push(LineConfig::new("mid", [0.5, 0.0], [0.5, 1.0]));
    config.validate(Path::new("test")).unwrap();
    let mut detector = Detector::from_config(&config, None).unwrap();
    let endpoint = Arc::new(Endpoint::bind("127.0.0.1:0").unwrap());
    let addr = endpoint.addr.expect("a bound listener");
    let sinks = sinks_for_sources(&config, &["vtest".to_string()]).unwrap();
    let input = pipeline::Input {
        source: Source::open(&config.source.input, &SourceOptions::default()).unwrap(),
        sinks: sinks.into_iter().next().unwrap(),
        analytics: config.analytics_for("vtest"),
    };
    let options = RunOptions {
        track: config.track_options(),
        metrics_endpoint: Some(endpoint),
        ..RunOptions::default()
    };
    let mut body = String::new();
    let summary = pipeline::run_many_with(
        vec![input],
        &mut detector.engine,
        &detector.adapter,
        pipeline::Secondary::none(),
        &options,
        &AtomicBool::new(false),
        |p, _| {
            // Every frame is through; the endpoint still answers.
            while !p.all_ended() {
                std::thread::sleep(Duration::from_millis(20));
            }
            body = scrape(addr);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(summary.frames, 795);
    let events = analytics_events(&read_jsonl(&dir.path().join("e.jsonl")));
    let last = read_jsonl(&dir.path().join("f.jsonl")).pop().unwrap();
    let a = &last["analytics"];
    let count = |kind: &str, key: &str, value: &str| {
        events
            .iter()
            .filter(|e| e["type"] == kind && e[key] == value)
            .count() as f64
    };
    let (ins, outs) = (
        count("line_cross", "direction", "in"),
        count("line_cross", "direction", "out"),
    );
    assert!(
        ins + outs >= 5.0,
        "people cross the middle of vtest: {ins} in, {outs} out"
    );
    assert_eq!(a["lines"]["mid"]["in"].as_f64().unwrap(), ins);
    assert_eq!(a["lines"]["mid"]["out"].as_f64().unwrap(), outs);
    let metric = "ovstream_line_crossings_total";
    let m = |d| {
        sample(
            &body,
            metric,
            &[("line", "mid"), ("direction", d), ("label", "person")],
        )
    };
    assert_eq!((m("in"), m("out")), (ins, outs), "{body}");

    let (enters, exits) = (
        count("zone_enter", "zone", "left"),
        count("zone_exit", "zone", "left"),
    );
    assert!(enters >= 5.0, "{enters} zone entries");
    let inside = a["zones"]["left"]["person"].as_f64().unwrap_or(0.0);
    assert_eq!(enters - exits, inside);
    let gauge = sample(
        &body,
        "ovstream_zone_objects",
        &[("zone", "left"), ("label", "person")],
    );
    assert_eq!(gauge, inside, "{body}");
    for kind in ["zone_enter", "zone_exit", "loitering"] {
        let n = sample(
            &body,
            "ovstream_zone_events_total",
            &[("zone", "left"), ("type", kind)],
        );
        assert_eq!(n, count(kind, "zone", "left"), "{kind}: {body}");
    }
    assert!(
        count("loitering", "zone", "left") >= 1.0,
        "someone stays 3 s"
    );
}

#[test]
fn bad_geometry_is_a_config_error_naming_the_zone_or_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[analytics.zones]]\nname = \"bay\"\npolygon = [[0.1, 0.1], [0.5, 0.1]]\n",
            "zone `bay`: polygon has 2 point(s); at least 3",
        ),
        (
            "[[analytics.zones]]\nname = \"bay\"\npolygon = [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]\n",
            "zone `bay`: polygon is self-intersecting",
        ),
        (
            "[[analytics.zones]]\nname = \"bay\"\npolygon = [[0.1, 0.1], [1.5, 0.1], [0.5, 0.5]]\n",
            "zone `bay`: point 2 = [1.5, 0.1] is outside [0, 1]",
        ),
        (
            "[[analytics.lines]]\nname = \"door\"\npoints = [[0.5, 0.2], [0.5, 0.2]]\n",
            "line `door`: zero-length line",
        ),
        (
            "[[analytics.lines]]\nname = \"door\"\npoints = [[0.5, 0.0], [0.5, 1.0]]\n\
             [[analytics.lines]]\nname = \"door\"\npoints = [[0.2, 0.0], [0.2, 1.0]]\n",
            "line `door`: the name is used twice",
        ),
    ];
    for (i, (tables, message)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        let text = format!(
            "[source]\ninput = \"{}\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n{tables}",
            vtest().display()
        );
        std::fs::write(&path, text).unwrap();
        let out = ovstream(&["run", path.to_str().unwrap(), "--no-progress"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(message), "want `{message}` in: {err}");
        assert!(
            err.contains(path.to_str().unwrap()),
            "names the file: {err}"
        );
    }
}

#[test]
fn a_line_added_to_the_pipeline_file_while_running_starts_counting() {
    let dir = tempfile::tempdir().unwrap();
    let path = Path2(vec![(0, 20.0, 50.0), (40, 440.0, 50.0), (80, 20.0, 50.0)]);
    let clip = make_clip(dir.path(), "loop", 81, &[&path]);
    let mid = "[[analytics.lines]]\nname = \"mid\"\npoints = [[0.5, 0.0], [0.5, 1.0]]\n\
               point = \"center\"\n";
    let pipeline = face_pipeline(dir.path(), &clip, mid);
    let (md, ev) = (dir.path().join("f.jsonl"), dir.path().join("e.jsonl"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ovstream"))
        .args(["run", pipeline.to_str().unwrap(), "--loop", "--no-progress"])
        .args([
            "--metadata",
            md.to_str().unwrap(),
            "--events",
            ev.to_str().unwrap(),
        ])
        .current_dir(root())
        .env("OVSTREAM_LOG", "warn")
        .env("XDG_CACHE_HOME", test_cache())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Frames are flowing (the model may take seconds to compile on a cold cache).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&md).map_or(0, |m| m.len()) == 0 {
        assert!(std::time::Instant::now() < deadline, "no frames written");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(child.try_wait().unwrap().is_none(), "still running");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&pipeline)
        .unwrap();
    // A new line (applied at once) and an `[output]` edit (only at the next start, said so).
    f.write_all(b"[[analytics.lines]]\nname = \"quarter\"\npoints = [[0.25, 0.0], [0.25, 1.0]]\npoint = \"center\"\n[output]\nstats_interval = 2.0\n")
        .unwrap();
    drop(f);
    std::thread::sleep(Duration::from_secs(3));
    // SIGHUP asks for a reload; it never ends the run.
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    std::thread::sleep(Duration::from_secs(1));
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP ended the run");
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "interrupted");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("analytics reloaded from") && err.contains("2 line(s)"),
        "{err}"
    );
    assert!(
        err.contains("edits to [output] apply at the next start"),
        "{err}"
    );
    let records = read_jsonl(&md);
    let first_with = records
        .iter()
        .position(|r| r["analytics"]["lines"].get("quarter").is_some())
        .expect("the new line shows up in the frame records");
    assert!(first_with > 0, "not there from the start");
    // Counting on the new line, only after it was added; the old line's counts carry on.
    let quarter = of(&analytics_events(&read_jsonl(&ev)), "line", "quarter")
        .into_iter()
        .map(|e| e["frame"].as_u64().unwrap() as usize)
        .collect::<Vec<_>>();
    assert!(quarter.len() >= 2, "crossings of the new line: {quarter:?}");
    assert!(
        quarter.iter().all(|&f| f >= first_with),
        "{quarter:?} vs {first_with}"
    );
    let mid_total = |r: &Value| {
        let m = &r["analytics"]["lines"]["mid"];
        m["in"].as_u64().unwrap() + m["out"].as_u64().unwrap()
    };
    assert!(
        mid_total(&records[first_with - 1]) > 0,
        "mid counted before the reload"
    );
    assert!(
        records
            .windows(2)
            .all(|w| mid_total(&w[1]) >= mid_total(&w[0])),
        "the kept line's counts never went back"
    );
}

#[test]
fn the_elements_give_the_cli_events_counts_and_draw_the_zone() {
    let dir = tempfile::tempdir().unwrap();
    let path = Path2(vec![(0, 20.0, 30.0), (40, 440.0, 30.0), (80, 20.0, 30.0)]);
    let clip = make_clip(dir.path(), "elements", 81, &[&path]);
    let tables = r#"
[[analytics.zones]]
name = "right"
polygon = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
point = "center"
[[analytics.lines]]
name = "mid"
points = [[0.5, 0.0], [0.5, 1.0]]
point = "center"
"#;
    let pipeline_file = face_pipeline(dir.path(), &clip, tables);
    let (cli_records, cli_events) = run_faces(dir.path(), &pipeline_file, &[]);
    let key = |e: &Value| {
        let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
        (
            s("type"),
            s("zone"),
            s("line"),
            s("direction"),
            e["frame"].as_u64().unwrap(),
        )
    };
    let cli: Vec<_> = analytics_events(&cli_events).iter().map(key).collect();
    assert!(cli.len() >= 4, "{cli:?}");

    // The same clip through the elements; `ovanalytics` reads the same pipeline file.
    register();
    let jsonl = dir.path().join("elements.jsonl");
    let description = format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=I420 ! \
         ovdetect model=blazeface-full ! ovtrack ! ovanalytics config={} source=elements ! \
         ovmetapublish file-path={} source=elements ! ovoverlay ! videoconvert ! \
         video/x-raw,format=BGR ! appsink name=out sync=false",
        clip.display(),
        pipeline_file.display(),
        jsonl.display()
    );
    let pipeline = gst::parse::launch(&description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let first = sink.pull_sample().unwrap();
    let bus = pipeline.bus().unwrap();
    let mut messages = Vec::new();
    while sink.pull_sample().is_ok() {}
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Element(m) => {
                let s = m.structure().unwrap();
                if s.name() == "ovanalytics" {
                    let json: Value = serde_json::from_str(s.get::<&str>("json").unwrap()).unwrap();
                    assert_eq!(s.get::<&str>("type").unwrap(), json["type"]);
                    messages.push(json);
                }
            }
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{e:?}"),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let from_elements: Vec<_> = messages.iter().map(key).collect();
    assert_eq!(from_elements, cli, "element messages vs the CLI's events");
    let records = read_jsonl(&jsonl);
    assert_eq!(records.len(), cli_records.len());
    for (f, (e, c)) in records.iter().zip(&cli_records).enumerate() {
        assert_eq!(e["analytics"], c["analytics"], "frame {f}");
        let zones = |r: &Value| {
            r["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["zones"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(zones(e), zones(c), "frame {f}");
    }
    // ovoverlay tinted the zone (right half) and left the rest of the gray background alone.
    let buffer = first.buffer().unwrap();
    let map = buffer.map_readable().unwrap();
    let info = gstreamer_video::VideoInfo::from_caps(first.caps().unwrap()).unwrap();
    let stride = info.stride()[0] as usize;
    let px = |x: f64, y: f64| {
        let o = (y * HEIGHT) as usize * stride + (x * WIDTH) as usize * 3;
        [map[o], map[o + 1], map[o + 2]]
    };
    let outside = px(0.25, 0.9);
    let inside = px(0.75, 0.9);
    assert!(outside.iter().all(|&c| c.abs_diff(128) <= 6), "{outside:?}");
    assert!(inside.iter().any(|&c| c.abs_diff(128) > 15), "{inside:?}");
}

/// `ovanalytics` asks `ovdetect` (through `ovtrack`) for the model's labels when caps arrive,
/// as `ovstream run` checks them before it starts: a zone class the model lacks fails the
/// pipeline naming the zone and the class; a class it has runs.
#[test]
fn ovanalytics_refuses_a_zone_class_the_model_upstream_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let launch = |class: &str| {
        let tables = dir.path().join(format!("{class}.toml"));
        std::fs::write(
            &tables,
            format!(
                "[[analytics.zones]]\nname = \"door\"\npolygon = [[0.0, 0.0], [1.0, 0.0], \
                 [1.0, 1.0], [0.0, 1.0]]\nclasses = [\"{class}\"]\n"
            ),
        )
        .unwrap();
        gst_launch(&format!(
            "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=320,height=240 ! \
             ovdetect model=pedestrian-ssdlite ! ovtrack ! ovanalytics config={} ! fakesink",
            tables.display()
        ))
    };
    let out = launch("bus");
    assert!(!out.status.success());
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("zone `door`: class \"bus\" is not a class of the model (person)"),
        "{err}"
    );
    let out = launch("person");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
