//! YOLO (fall-yolov8, a real Ultralytics YOLOv8 export) end to end: boxes against the
//! OpenVINO-Python golden decoded the Ultralytics way, a model file by path with the adapter
//! chosen from its output shapes, `--labels` checks, device properties from the command line,
//! and the `fall` alert on a clip whose ground truth is known (`tests/clips/fall_clip.py`).

use crate::common;

use common::*;
use serde_json::Value;
use std::path::Path;

const GOLDEN: &str = "tests/golden/fall_vtest.json";
const MODEL_FILE: &str = "models/fall-yolov8/best_fp16.onnx";
/// Frames compared with the golden file (f32 YOLOv8 640 runs ~5 FPS here).
const GOLDEN_FRAMES: usize = 40;

#[test]
fn yolo_boxes_match_openvino_python_golden_at_f32() {
    let dir = tempfile::tempdir().unwrap();
    let frames = GOLDEN_FRAMES.to_string();
    let lines = run_at_f32(dir.path(), "fall-yolov8", &["--limit", &frames]);
    let golden = golden_prefix(dir.path(), GOLDEN, GOLDEN_FRAMES);
    let checked = assert_matches_golden(&lines, &golden, None);
    assert!(checked >= 20, "too few golden boxes checked ({checked})");
    let labels: Vec<&str> = lines
        .iter()
        .flat_map(|l| l["objects"].as_array().unwrap())
        .map(|o| o["detection"]["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.iter().all(|l| ["Normal", "Fall"].contains(l)),
        "{labels:?}"
    );
}

#[test]
fn a_model_file_by_path_gets_its_adapter_from_the_output_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let model = root().join(MODEL_FILE);
    let pipeline = model_pipeline_file(dir.path(), model.to_str().unwrap(), "", &jsonl);
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "Normal\nFall\n").unwrap();
    let p = pipeline.to_str().unwrap();
    let out = ovstream(&[
        "run",
        p,
        "--labels",
        labels.to_str().unwrap(),
        "--threshold",
        "0.3",
        "--limit",
        "3",
        "--no-progress",
    ]);
    assert_ok(&out);
    // No adapter named anywhere: the YOLO labels in the output show the shapes chose it.
    let lines = read_jsonl(&jsonl);
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().any(|l| l["objects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["detection"]["label"] == "Normal")));
    // One name for two classes.
    std::fs::write(&labels, "person\n").unwrap();
    let out = ovstream(&[
        "run",
        p,
        "--labels",
        labels.to_str().unwrap(),
        "--limit",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 classes but 1 labels"),
        "{}",
        stderr(&out)
    );
    // Outputs no adapter knows: listed, with the adapters to choose from.
    let classifier = root().join("tests/data/classifier.xml");
    let out = ovstream(&[
        "run",
        p,
        "--model",
        classifier.to_str().unwrap(),
        "--limit",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("logits [1, 3] f32"), "{err}");
    assert!(err.contains("--adapter (ssd, blazeface, yolo)"), "{err}");
}

#[test]
fn ov_properties_reach_the_device_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let p = pipeline.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", p, "--limit", "2", "--no-progress", "--no-cache"];
        args.extend_from_slice(extra);
        ovstream(&args)
    };
    let one = assert_ok(&run(&["--ov-property", "PERFORMANCE_HINT_NUM_REQUESTS=1"]));
    assert!(one.contains("nireq 1; streams 1"), "{one}");
    let out = run(&["--ov-property", "NO_SUCH_KEY=1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("property NO_SUCH_KEY is not supported by device CPU"),
        "{err}"
    );
    assert!(
        err.contains("PERFORMANCE_HINT_NUM_REQUESTS"),
        "lists what CPU supports: {err}"
    );
    // The same from the pipeline file.
    let text = std::fs::read_to_string(&pipeline).unwrap().replace(
        "[model]\n",
        "[model]\nproperties = { PERFORMANCE_HINT_NUM_REQUESTS = 1 }\n",
    );
    std::fs::write(&pipeline, text).unwrap();
    let from_file = assert_ok(&run(&[]));
    assert!(from_file.contains("nireq 1; streams 1"), "{from_file}");
}

/// A fall clip (`tests/clips/fall_clip.py`, 5 fps: YOLOv8m costs ~0.2 core-s a frame) run through `pipelines/falls.toml`'s
/// model, tracker and alert; returns (frame records, events).
fn run_fall_clip(dir: &Path, segments: &str) -> (Vec<Value>, Vec<Value>) {
    let clip = dir.join("clip.avi");
    let status = std::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tests/clips/fall_clip.py"))
        .arg(vtest())
        .arg(&clip)
        .args(["--fps", "5", "--segments", segments])
        .status()
        .expect("run the clip script (make setup makes .venv)");
    assert!(status.success(), "clip script failed");
    let (jsonl, events) = (dir.join("out.jsonl"), dir.join("events.jsonl"));
    let text = std::fs::read_to_string(root().join("pipelines/falls.toml"))
        .unwrap()
        .replace(
            "input = \"samples/vtest.avi\"",
            &format!("input = \"{}\"", clip.display()),
        )
        .replace("mp4 = \"out/falls.mp4\"\n", "")
        .replace("out/falls.jsonl", jsonl.to_str().unwrap())
        .replace("out/falls-events.jsonl", events.to_str().unwrap());
    let pipeline = dir.join("falls.toml");
    std::fs::write(&pipeline, text).unwrap();
    assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--no-progress",
    ]));
    (read_jsonl(&jsonl), read_jsonl(&events))
}

fn fall_frames(records: &[Value]) -> usize {
    records
        .iter()
        .filter(|r| {
            r["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["detection"]["label"] == "Fall")
        })
        .count()
}

#[test]
fn a_fall_held_two_seconds_is_one_alert_and_a_flicker_is_none() {
    let dir = tempfile::tempdir().unwrap();
    // Upright 1 s, lying 4 s (frames 5..24), upright 1 s.
    let (records, events) = run_fall_clip(dir.path(), "up:5,fall:20,up:5");
    assert!(fall_frames(&records) >= 17, "the model sees the fall");
    let falls: Vec<&Value> = events.iter().filter(|e| e["type"] == "fall").collect();
    assert_eq!(falls.len(), 1, "{falls:?}");
    let fall = falls[0];
    let frame = fall["frame"].as_u64().unwrap();
    assert!(
        (14..=16).contains(&frame),
        "fires 2 s after the fall began: {fall}"
    );
    assert!(fall["held_seconds"].as_f64().unwrap() >= 2.0, "{fall}");
    assert_eq!(fall["label"], "Fall");
    let track = fall["track_key"].as_str().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "new" && e["track_key"] == track),
        "the alert belongs to a tracked object's events"
    );
    // Lying 1.6 s, upright 1 s, three times: never 2 s in a row.
    let dir = tempfile::tempdir().unwrap();
    let (records, events) = run_fall_clip(dir.path(), "fall:8,up:5,fall:8,up:5,fall:8,up:5");
    assert!(fall_frames(&records) >= 20, "the model sees each fall");
    assert!(
        events.iter().all(|e| e["type"] != "fall"),
        "{:?}",
        events
            .iter()
            .filter(|e| e["type"] == "fall")
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_annotated_ir_runs_by_path_with_no_flags_and_gives_the_same_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "Normal\nFall\n").unwrap();
    let ir = dir.path().join("ir/fall.xml");
    let out = ovstream(&[
        "models",
        "annotate",
        root().join(MODEL_FILE).to_str().unwrap(),
        "--adapter",
        "yolo",
        "--labels",
        labels.to_str().unwrap(),
        "--threshold",
        "0.45",
        "-o",
        ir.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let xml = std::fs::read_to_string(&ir).unwrap();
    assert!(
        xml.contains("<labels value=\"Normal Fall\""),
        "model_info written"
    );
    // Annotating it again onto itself would overwrite its own input.
    let again = ovstream(&[
        "models",
        "annotate",
        ir.to_str().unwrap(),
        "--adapter",
        "yolo",
        "-o",
        ir.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("is the input model"),
        "{}",
        stderr(&again)
    );
    // No manifest entry, no --adapter, no --labels, no [detect] threshold (0.45 from the IR).
    let jsonl = dir.path().join("out.jsonl");
    let text = format!(
        "[source]\ninput = \"{}\"\n[model]\nmodel = \"{}\"\n[output]\nmetadata = \"{}\"\n",
        vtest().display(),
        ir.display(),
        jsonl.display()
    );
    let pipeline = dir.path().join("annotated.toml");
    std::fs::write(&pipeline, text).unwrap();
    let frames = 10;
    assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--precision",
        "f32",
        "--limit",
        &frames.to_string(),
        "--no-progress",
    ]));
    let golden = golden_prefix(dir.path(), GOLDEN, frames);
    let lines = read_jsonl(&jsonl);
    let checked = assert_matches_golden(&lines, &golden, None);
    assert!(checked >= 5, "too few golden boxes checked ({checked})");
    let lowest = lines
        .iter()
        .flat_map(objects)
        .map(|o| o.score)
        .fold(1.0, f64::min);
    assert!(
        (0.45..0.5).contains(&lowest),
        "the IR's 0.45 threshold applies: {lowest}"
    );
}

#[test]
fn ovdetect_runs_the_yolo_model_in_gst_launch_as_the_cli_does() {
    let dir = tempfile::tempdir().unwrap();
    let from_gst = dir.path().join("gst.jsonl");
    let out = gst_launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! \
         identity eos-after=9 ! ovdetect model=fall-yolov8 precision=f32 ! \
         ovmetapublish file-path={} ! fakesink sync=false",
        vtest().display(),
        from_gst.display()
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut gst = read_jsonl(&from_gst);
    // `identity eos-after` makes avdec_msmpeg4 hand over a different last frame (checked on
    // the raw I420 bytes, without ovstream), and under load now and then none (8 of 9 frames
    // once in CI): compare the first 7, well before the cut.
    assert!(gst.len() >= 8, "{} frames", gst.len());
    gst.truncate(7);
    let golden = golden_prefix(dir.path(), GOLDEN, gst.len());
    // The element sets no threshold of its own below the default 0.5: compare those boxes.
    assert_matches_golden(&gst, &golden, None);
}
