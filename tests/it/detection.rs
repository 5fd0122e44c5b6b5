//! End to end on the real model and the real video: boxes against the OpenVINO-Python golden
//! file, frame order with several requests in flight, and a decodable MP4.

use crate::common;

use common::*;

const VTEST_FRAMES: usize = 795;
const GOLDEN: &str = "tests/golden/pedestrians_vtest.json";
/// The first [`PLANES_FRAMES`] frames with `--resize planes` (ssd_reference.py --resize planes).
const GOLDEN_PLANES: &str = "tests/golden/pedestrians_vtest_planes.json";
const PLANES_FRAMES: usize = 150;

#[test]
fn boxes_match_openvino_python_golden_at_f32() {
    let dir = tempfile::tempdir().unwrap();
    let lines = run_at_f32(dir.path(), "pedestrian-ssdlite", &[]);
    let checked = assert_matches_golden(&lines, GOLDEN, None);
    assert!(checked > 1000, "golden file has too few boxes ({checked})");
}

/// `[model] resize = "planes"` resizes the I420 planes and converts after: its boxes match the
/// reference made the same way, and not the default (`rgb`) reference on the same frames.
#[test]
fn resize_planes_matches_its_own_golden_and_not_the_rgb_one() {
    let dir = tempfile::tempdir().unwrap();
    let frames = PLANES_FRAMES.to_string();
    let extra = ["--resize", "planes", "--limit", &frames];
    let lines = run_at_f32(dir.path(), "pedestrian-ssdlite", &extra);
    let checked = assert_matches_golden(&lines, GOLDEN_PLANES, None);
    assert!(checked > 200, "golden file has too few boxes ({checked})");
    // The same frames of the rgb reference: some boxes differ past the tolerances.
    let rgb = golden_prefix(dir.path(), GOLDEN, PLANES_FRAMES);
    let other = std::panic::catch_unwind(|| assert_matches_golden(&lines, &rgb, None));
    assert!(other.is_err(), "planes output also matches the rgb golden");
}

/// Frames of vtest the nireq-4 run takes (half the clip: order and the MP4's end are the same
/// at a limit as at the file's end; the golden tests run it whole).
const NIREQ4_FRAMES: usize = 400;

#[test]
fn nireq4_keeps_frame_order_and_writes_a_playable_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let mp4 = dir.path().join("sub/out.mp4");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--nireq",
        "4",
        "--limit",
        &NIREQ4_FRAMES.to_string(),
        "--output",
        mp4.to_str().unwrap(),
        "--no-progress",
    ]);
    let err = assert_ok(&out);
    assert!(err.contains("nireq 4"), "{err}");
    assert!(err.contains("inference runs on CPU"), "{err}");

    // The source ends at the limit with 4 requests in flight: they drain, in order.
    let lines = read_jsonl(&jsonl);
    assert_eq!(lines.len(), NIREQ4_FRAMES, "one JSON line per frame");
    let mut last_ts = None;
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            line["frame"].as_u64(),
            Some(i as u64),
            "frames out of order"
        );
        let ts = line["timestamp"].as_u64().unwrap();
        assert!(last_ts.is_none_or(|l| ts > l), "timestamps must increase");
        last_ts = Some(ts);
        assert_eq!(line["resolution"]["width"], 768);
        assert_eq!(line["resolution"]["height"], 576);
        assert_eq!(line["source"], "vtest", "the source name (file stem)");
    }
    let with_person = lines
        .iter()
        .filter(|l| {
            l["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["roi_type"] == "person" && o["detection"]["label_id"] == 1)
        })
        .count();
    assert!(
        with_person > NIREQ4_FRAMES / 2,
        "persons in {with_person} frames"
    );

    assert_eq!(decode_mp4(&mp4), (NIREQ4_FRAMES, 768, 576));
}

#[test]
fn limit_and_loop_continue_numbering_past_the_end_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let n = VTEST_FRAMES + 40;
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--loop",
        "--limit",
        &n.to_string(),
        "--no-progress",
    ]);
    assert_ok(&out);
    let lines = read_jsonl(&jsonl);
    assert_eq!(lines.len(), n);
    let ts: Vec<u64> = lines
        .iter()
        .map(|l| l["timestamp"].as_u64().unwrap())
        .collect();
    assert!(
        ts.windows(2).all(|w| w[1] > w[0]),
        "timestamps increase across the loop"
    );
    // The looped frame shows the same scene as frame 0: same number of people.
    assert_eq!(
        lines[VTEST_FRAMES]["objects"].as_array().unwrap().len(),
        lines[0]["objects"].as_array().unwrap().len()
    );
}

/// `carried` (`k` frames after `inferred`) has the inferred frame's objects (ids, labels,
/// confidences, box sizes), each box moved by at most a walker's pace over `k` frames.
fn assert_carries(inferred: &serde_json::Value, carried: &serde_json::Value, k: usize) {
    let (from, to) = (
        inferred["objects"].as_array().unwrap(),
        carried["objects"].as_array().unwrap(),
    );
    assert_eq!(from.len(), to.len(), "{carried}");
    for (a, b) in from.iter().zip(to) {
        for key in ["id", "roi_type"] {
            assert_eq!(a[key], b[key], "{carried}");
        }
        let (da, db) = (&a["detection"], &b["detection"]);
        assert_eq!(da["confidence"], db["confidence"]);
        let coord = |d: &serde_json::Value, k: &str| d["bounding_box"][k].as_f64().unwrap();
        for (lo, hi) in [("x_min", "x_max"), ("y_min", "y_max")] {
            let (size_a, size_b) = (coord(da, hi) - coord(da, lo), coord(db, hi) - coord(db, lo));
            assert!((size_a - size_b).abs() < 1e-5, "{lo}: {a} -> {b}");
            // A walker moves a few pixels a frame, not across the picture.
            let step = (coord(db, lo) - coord(da, lo)) / k as f64;
            assert!(step.abs() < 0.02, "{lo} moves {step} a frame: {a} -> {b}");
        }
    }
}

#[test]
fn detect_interval_infers_every_third_frame_and_carries_boxes_between() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let text = std::fs::read_to_string(&pipeline).unwrap() + "[detect]\ninterval = 3\n";
    std::fs::write(&pipeline, text).unwrap();
    let p = pipeline.to_str().unwrap();
    let err = assert_ok(&ovstream(&["run", p, "--limit", "30", "--no-progress"]));
    assert!(err.contains("10 frame(s) inferred, 20 carried"), "{err}");
    let lines = read_jsonl(&jsonl);
    assert_eq!(lines.len(), 30);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            line["frame"].as_u64(),
            Some(i as u64),
            "numbering continues"
        );
        let inferred = line.get("inferred").is_none();
        assert_eq!(inferred, i % 3 == 0, "frame {i}: {line}");
        if !inferred {
            assert_carries(&lines[i - i % 3], line, i % 3);
        }
    }
    // Carried boxes move along their tracks: some walker's box is not where it was inferred.
    let moved = (0..30).filter(|i| i % 3 != 0).any(|i| {
        let shift = |o: &serde_json::Value| o["detection"]["bounding_box"]["x_min"].as_f64();
        let before = lines[i - i % 3]["objects"].as_array().unwrap();
        let now = lines[i]["objects"].as_array().unwrap();
        before.iter().zip(now).any(|(b, n)| shift(b) != shift(n))
    });
    assert!(moved, "carried boxes are predicted, not frozen");
    // Constant velocity: two frames after an inference a box has moved twice as far as one.
    for j in (0..27).step_by(3) {
        let x = |i: usize| -> Vec<f64> {
            lines[i]["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["detection"]["bounding_box"]["x_min"].as_f64().unwrap())
                .collect()
        };
        let (x0, x1, x2) = (x(j), x(j + 1), x(j + 2));
        for k in 0..x0.len() {
            let (one, two) = (x1[k] - x0[k], x2[k] - x0[k]);
            assert!(
                (two - 2.0 * one).abs() < 1e-4,
                "frame {j} box {k}: {one} then {two}"
            );
        }
    }
    let carried = lines
        .iter()
        .filter(|l| l.get("inferred").is_some())
        .filter(|l| !l["objects"].as_array().unwrap().is_empty())
        .count();
    assert!(
        carried >= 10,
        "skipped frames carry boxes ({carried} of 20)"
    );
    let bad = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("interval = 3", "interval = 0");
    std::fs::write(&pipeline, bad).unwrap();
    let out = ovstream(&["run", p, "--limit", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("detect.interval = 0"),
        "{}",
        stderr(&out)
    );
}

/// The startup line names the precision the model runs at. With none named, that is the CPU
/// plugin's own choice, except f32 where the plugin would run bf16 on a CPU without AMX (bf16
/// is slower there); a named precision, by flag or as an OpenVINO property, stands where the
/// CPU has bf16 (`BF16` among its `OPTIMIZATION_CAPABILITIES`). Where it has not (AVX2 only),
/// the plugin runs f32: the line says so and a warning names what was asked.
#[test]
fn the_cpu_runs_bf16_only_with_amx_unless_a_precision_is_named() {
    let out = ovstream(&["devices", "--properties"]);
    assert_ok(&out);
    let properties = String::from_utf8_lossy(&out.stdout).into_owned();
    let property = |name: &str| {
        properties
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("the CPU reports {name}"))
            .trim()
            .to_string()
    };
    let plugin = property("INFERENCE_PRECISION_HINT");
    let has_bf16 = property("OPTIMIZATION_CAPABILITIES")
        .split_whitespace()
        .any(|c| c == "BF16");
    let amx = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("flags"))
        .is_some_and(|l| l.split_whitespace().any(|f| f == "amx_bf16"));
    let expected = if plugin == "bf16" && !amx {
        "f32"
    } else {
        plugin.as_str()
    };
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "", &dir.path().join("out.jsonl"));
    let startup = |extra: &[&str]| {
        let mut args = vec![
            "run",
            pipeline.to_str().unwrap(),
            "--limit",
            "2",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        let err = assert_ok(&ovstream(&args));
        let line = err
            .lines()
            .find(|l| l.starts_with("model "))
            .unwrap_or_default()
            .to_string();
        (line, err)
    };
    let (default, err) = startup(&[]);
    assert!(
        default.contains(&format!("inference runs on CPU at {expected};")),
        "plugin {plugin}, AMX {amx}: {default}"
    );
    assert!(!err.contains("was asked"), "{err}");
    let named = if has_bf16 { "bf16" } else { "f32" };
    for asked in [
        &["--precision", "bf16"][..],
        &["--ov-property", "INFERENCE_PRECISION_HINT=bf16"],
    ] {
        let (line, err) = startup(asked);
        assert!(
            line.contains(&format!("at {named};")),
            "BF16 {has_bf16}: {line}"
        );
        assert_eq!(
            err.contains("precision bf16 was asked; CPU runs f32"),
            !has_bf16,
            "{err}"
        );
    }
}
