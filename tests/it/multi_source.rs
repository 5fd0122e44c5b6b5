//! Several sources in one process: one compiled model and request pool, outputs per source.
//! Each source's results must be what it gets when run alone (same boxes and track ids at
//! f32), its frames in order, and no source starved by another.

use crate::common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

const LIMIT: &str = "300";
const CARPHONE_FRAMES: usize = 120;

/// Runs the pedestrian pipeline at f32 with nireq 4 on `inputs`; extra arguments after.
fn run(dir: &Path, inputs: &[&Path], extra: &[&str]) -> String {
    let pipeline = pipeline_file(dir, "", &dir.join("unused.jsonl"));
    let mut args = vec![
        "run".to_string(),
        pipeline.display().to_string(),
        "--precision".into(),
        "f32".into(),
        "--nireq".into(),
        "4".into(),
        "--limit".into(),
        LIMIT.into(),
        "--no-progress".into(),
    ];
    for i in inputs {
        args.push("--input".into());
        args.push(i.display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_ok(&ovstream(&args))
}

/// Lines of a shared JSON-lines file split by `"source"`.
fn by_source(lines: Vec<Value>) -> HashMap<String, Vec<Value>> {
    let mut map: HashMap<String, Vec<Value>> = HashMap::new();
    for l in lines {
        map.entry(l["source"].as_str().unwrap().to_string())
            .or_default()
            .push(l);
    }
    map
}

fn assert_same_results(together: &[Value], alone: &[Value], name: &str) {
    assert_eq!(together.len(), alone.len(), "{name}: frame count");
    let mut boxes = 0;
    for (t, a) in together.iter().zip(alone) {
        assert_eq!(t["frame"], a["frame"], "{name}: frame order");
        assert_eq!(t["timestamp"], a["timestamp"], "{name}: timestamps");
        if let Err(why) = same_objects(&t["objects"], &a["objects"]) {
            panic!(
                "{name} frame {}: {why}: boxes, scores or track ids differ from the run \
                 alone\n together: {}\n alone:    {}",
                t["frame"], t["objects"], a["objects"]
            );
        }
        boxes += t["objects"].as_array().unwrap().len();
    }
    assert!(boxes > 100, "{name}: only {boxes} boxes compared");
}

/// Largest difference allowed between two runs' normalized coordinates and confidences. A
/// batched or multi-stream inference may sum in another order than batch 1 (seen on an AVX2
/// CPU: 0.40429658 against 0.4042966), so the last bits of an f32 may differ; anything a user
/// could see may not.
const SAME_F32: f64 = 1e-5;

/// `Ok` when two frames' `objects` are the same boxes: same count, order, labels and track
/// ids; coordinates and confidences within [`SAME_F32`]; pixel boxes within 1 px (rounding).
fn same_objects(together: &Value, alone: &Value) -> Result<(), String> {
    let (t, a) = (together.as_array().unwrap(), alone.as_array().unwrap());
    if t.len() != a.len() {
        return Err(format!("{} objects against {}", t.len(), a.len()));
    }
    for (i, (t, a)) in t.iter().zip(a).enumerate() {
        for key in ["id", "roi_type"] {
            if t[key] != a[key] {
                return Err(format!("object {i}: {key} {} against {}", t[key], a[key]));
            }
        }
        let (td, ad) = (&t["detection"], &a["detection"]);
        for key in ["label", "label_id"] {
            if td[key] != ad[key] {
                return Err(format!("object {i}: {key} {} against {}", td[key], ad[key]));
            }
        }
        let close = |x: &Value, y: &Value, tolerance: f64| {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= tolerance
        };
        let numbers = ["x_min", "y_min", "x_max", "y_max"]
            .map(|k| (&td["bounding_box"][k], &ad["bounding_box"][k], SAME_F32))
            .into_iter()
            .chain([(&td["confidence"], &ad["confidence"], SAME_F32)])
            .chain(["x", "y", "w", "h"].map(|k| (&t[k], &a[k], 1.0)));
        for (x, y, tolerance) in numbers {
            if !close(x, y, tolerance) {
                return Err(format!("object {i}: {x} against {y}"));
            }
        }
    }
    Ok(())
}

#[test]
fn two_inputs_in_one_run_match_each_run_alone_at_f32() {
    let dir = tempfile::tempdir().unwrap();
    let (vtest, carphone) = (vtest(), asset("samples/carphone.mp4"));
    let shared = dir.path().join("all.jsonl");
    let mp4 = dir.path().join("out.mp4");
    let err = run(
        dir.path(),
        &[&vtest, &carphone],
        &[
            "--metadata",
            shared.to_str().unwrap(),
            "--output",
            mp4.to_str().unwrap(),
        ],
    );
    assert!(err.contains("source vtest: file://"), "{err}");
    assert!(err.contains("source carphone: file://"), "{err}");
    let together = by_source(read_jsonl(&shared));
    assert_eq!(
        together.len(),
        2,
        "sources in the shared file: {:?}",
        together.keys()
    );
    for (i, (input, name)) in [(&vtest, "vtest"), (&carphone, "carphone")]
        .iter()
        .enumerate()
    {
        let alone_jsonl = dir.path().join(format!("alone{i}.jsonl"));
        run(
            dir.path(),
            &[input],
            &["--metadata", alone_jsonl.to_str().unwrap()],
        );
        let alone = read_jsonl(&alone_jsonl);
        assert!(alone.iter().all(|l| l["source"] == *name));
        assert_same_results(&together[*name], &alone, name);
    }
    // One playable MP4 per source: the path got the source name.
    assert_eq!(
        decode_mp4(&dir.path().join("out-vtest.mp4")),
        (LIMIT.parse().unwrap(), 768, 576)
    );
    assert_eq!(
        decode_mp4(&dir.path().join("out-carphone.mp4")),
        (CARPHONE_FRAMES, 176, 144)
    );
}

#[test]
fn sources_table_names_repeats_and_no_source_starves() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("{name}.jsonl");
    let all = dir.path().join("all.jsonl");
    let text = format!(
        "[source]\nloop = true\n\
         [[sources]]\ninput = \"{v}\"\n\
         [[sources]]\ninput = \"{v}\"\n\
         [[sources]]\nname = \"phone\"\ninput = \"{c}\"\n\
         [model]\nmodel = \"pedestrian-ssdlite\"\nnireq = 2\n\
         [output]\nmetadata = \"{all}\"\n",
        v = vtest().display(),
        c = asset("samples/carphone.mp4").display(),
        all = all.display(),
    );
    let pipeline = dir.path().join("many.toml");
    std::fs::write(&pipeline, text).unwrap();
    let err = assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--limit",
        "200",
        "--no-progress",
    ]));
    for name in ["vtest", "vtest-2", "phone"] {
        assert!(err.contains(&format!("source {name}: file://")), "{err}");
    }
    // The shared file interleaves the sources; each keeps its order, and at no point has one
    // source run ahead of another by more than the queues between them hold.
    let lines = read_jsonl(&all);
    assert_eq!(lines.len(), 600, "200 frames of each (carphone looped)");
    let mut count: HashMap<String, u64> = HashMap::new();
    let mut max_lead = 0;
    for l in &lines {
        let name = l["source"].as_str().unwrap().to_string();
        let n = count.entry(name.clone()).or_default();
        assert_eq!(l["frame"].as_u64(), Some(*n), "{name}: frames out of order");
        *n += 1;
        if count.len() == 3 && count.values().all(|&c| c < 200) {
            let (lo, hi) = (count.values().min().unwrap(), count.values().max().unwrap());
            max_lead = max_lead.max(hi - lo);
        }
    }
    assert!(
        max_lead <= 12,
        "a source ran {max_lead} frames ahead of another"
    );
    // `{name}` in the metadata path: one file per source.
    let per_source = dir.path().join("b");
    std::fs::create_dir_all(&per_source).unwrap();
    let template = per_source.join(jsonl.file_name().unwrap());
    assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--limit",
        "20",
        "--metadata",
        template.to_str().unwrap(),
        "--no-progress",
    ]));
    for name in ["vtest", "vtest-2", "phone"] {
        let lines = read_jsonl(&per_source.join(format!("{name}.jsonl")));
        assert_eq!(lines.len(), 20, "{name}");
        assert!(lines.iter().all(|l| l["source"] == name));
    }
}

#[test]
fn a_bad_input_among_several_fails_before_the_model_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.mp4");
    let pipeline = pipeline_file(dir.path(), "", &dir.path().join("out.jsonl"));
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--input",
        vtest().to_str().unwrap(),
        "--input",
        missing.to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("nope.mp4"), "{err}");
    assert!(!err.contains("compiled in"), "{err}");
}

#[test]
fn cross_stream_batch_gives_each_source_the_boxes_of_batch_1() {
    let dir = tempfile::tempdir().unwrap();
    let (vtest, carphone) = (vtest(), asset("samples/carphone.mp4"));
    let mut results = Vec::new();
    for batch in ["1", "3"] {
        let template = dir.path().join(format!("b{batch}-{{name}}.jsonl"));
        let err = run(
            dir.path(),
            &[&vtest, &carphone],
            &["--batch", batch, "--metadata", template.to_str().unwrap()],
        );
        if batch != "1" {
            assert!(err.contains(&format!("batch {batch}")), "{err}");
        }
        results.push(
            ["vtest", "carphone"]
                .map(|n| read_jsonl(&dir.path().join(format!("b{batch}-{n}.jsonl")))),
        );
    }
    // Batches of 3 over 2 sources mix them in one inference, and the carphone clip ends first
    // (partial batches); every frame's result is still its batch-1 result.
    for (i, name) in ["vtest", "carphone"].iter().enumerate() {
        assert_same_results(&results[1][i], &results[0][i], name);
    }
}

#[test]
fn a_damaged_source_among_several_is_reported_while_the_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(vtest()).unwrap();
    let half = dir.path().join("half.avi");
    std::fs::write(&half, &data[..data.len() / 2]).unwrap();
    let carphone = asset("samples/carphone.mp4");
    let pipeline = pipeline_file(dir.path(), "", &dir.path().join("unused.jsonl"));
    let out_dir = dir.path().join("out");
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--input",
        half.to_str().unwrap(),
        "--input",
        carphone.to_str().unwrap(),
        "--metadata",
        out_dir.join("{name}.jsonl").to_str().unwrap(),
        "--output",
        out_dir.join("{name}.mp4").to_str().unwrap(),
        "--no-progress",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "an input error: {err}");
    assert!(
        err.contains("half.avi") && err.contains("file truncated"),
        "{err}"
    );
    assert!(err.contains("half: "), "the damage names its source: {err}");
    // The healthy source ran to its end; the damaged one kept what decoded; both MP4s play.
    let phone = read_jsonl(&out_dir.join("carphone.jsonl"));
    assert_eq!(phone.len(), CARPHONE_FRAMES);
    assert_eq!(
        decode_mp4(&out_dir.join("carphone.mp4")),
        (CARPHONE_FRAMES, 176, 144)
    );
    let n = read_jsonl(&out_dir.join("half.jsonl")).len();
    assert!(n > 200 && n < 600, "{n}");
    assert_eq!(decode_mp4(&out_dir.join("half.mp4")), (n, 768, 576));
}
