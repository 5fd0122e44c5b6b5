//! Face recognition on real photos and video: BlazeFace decode against an OpenVINO-Python
//! golden, gallery naming, a clip of three people, the carphone clip enrolled from frame 0.

use crate::common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn sample(name: &str) -> PathBuf {
    asset(&format!("samples/{name}"))
}

/// A face-recognition pipeline file: `input` → blazeface-full → facenet → `gallery`, JSON only.
fn faces_pipeline(
    dir: &Path,
    input: &Path,
    gallery: &Path,
    metadata: &Path,
    extra: &str,
) -> PathBuf {
    let text = format!(
        "[source]\ninput = \"{}\"\n[model]\nmodel = \"blazeface-full\"\n\
         [recognize]\ngallery = \"{}\"\n{extra}\n[output]\nmetadata = \"{}\"\n",
        input.display(),
        gallery.display(),
        metadata.display()
    );
    let path = dir.join("faces.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `ovstream gallery add NAME IMAGE` into `gallery`.
fn enroll(gallery: &Path, name: &str, image: &Path) {
    assert_ok(&ovstream(&[
        "gallery",
        "--gallery",
        gallery.to_str().unwrap(),
        "add",
        name,
        image.to_str().unwrap(),
    ]));
}

/// `(track id, name, similarity)` of each face of each frame.
fn faces(lines: &[Value]) -> Vec<Vec<(Option<u64>, String, f64)>> {
    lines
        .iter()
        .map(|l| {
            l["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    (
                        o["id"].as_u64(),
                        o["identity"]["name"].as_str().unwrap_or("").to_string(),
                        o["identity"]["similarity"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .collect()
}

/// Runs the face pipeline on `input` with `gallery`; returns the JSON lines.
fn recognize(input: &Path, gallery: &Path, extra: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = faces_pipeline(dir.path(), input, gallery, &jsonl, extra);
    assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--no-progress",
    ]));
    read_jsonl(&jsonl)
}

fn name_of_photo(photo: &str, gallery: &Path) -> (String, f64) {
    let lines = recognize(&sample(&format!("faces/{photo}.jpg")), gallery, "");
    let f = faces(&lines);
    assert_eq!(f.len(), 1, "a photo is one frame");
    assert_eq!(f[0].len(), 1, "{photo}: one face, got {:?}", f[0]);
    (f[0][0].1.clone(), f[0][0].2)
}

#[test]
fn gallery_names_the_sample_photos() {
    let dir = tempfile::tempdir().unwrap();
    let both = dir.path().join("both");
    enroll(&both, "obama", &sample("faces/obama.jpg"));
    enroll(&both, "biden", &sample("faces/biden.jpg"));
    for (photo, want) in [("obama2", "obama"), ("obama3", "obama"), ("biden", "biden")] {
        let (name, similarity) = name_of_photo(photo, &both);
        assert_eq!(name, want, "{photo}: similarity {similarity}");
    }
    // Embeddings are cached by image sha256.
    let cache: Value =
        serde_json::from_slice(&std::fs::read(both.join(".embeddings.json")).unwrap()).unwrap();
    assert_eq!(cache["embeddings"].as_object().unwrap().len(), 2);

    let only_obama = dir.path().join("obama");
    enroll(&only_obama, "obama", &sample("faces/obama.jpg"));
    let (name, similarity) = name_of_photo("biden", &only_obama);
    assert_eq!(
        name, "unknown",
        "biden against obama: similarity {similarity}"
    );
}

#[test]
fn gallery_refuses_an_image_without_a_face() {
    let dir = tempfile::tempdir().unwrap();
    // A frame of the pedestrian video: people far away, no usable face.
    let frame = dir.path().join("street.jpg");
    write_frame_jpeg(&vtest(), &frame);
    let out = ovstream(&[
        "gallery",
        "--gallery",
        dir.path().join("g").to_str().unwrap(),
        "add",
        "nobody",
        frame.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("street.jpg") && err.contains("no face"),
        "{err}"
    );
}

/// Frame 0 of `video` as a JPEG (gst: decodebin ! jpegenc).
fn write_frame_jpeg(video: &Path, out: &Path) {
    run_gst(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! jpegenc snapshot=true ! \
         filesink location=\"{}\"",
        video.display(),
        out.display()
    ));
}

/// Frames per segment of the photo clip (2 s at 15 fps).
const SEGMENT: usize = 30;

#[test]
fn clip_of_three_people_names_each_segment_and_changes_track_ids() {
    // obama2, biden, obama3, one after the other, each still for 2 s, each at its own place
    // in a 960x480 frame (as people stepping in front of a camera).
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("people.mp4");
    let mut description = format!(
        "concat name=c ! videoconvert ! x264enc speed-preset=ultrafast key-int-max=15 ! \
         mp4mux ! filesink location=\"{}\"",
        clip.display()
    );
    for (k, photo) in ["obama2", "biden", "obama3"].iter().enumerate() {
        description.push_str(&format!(
            " filesrc location=\"{}\" ! jpegdec ! videoconvert ! videoscale ! \
             video/x-raw,width=320,height=480,pixel-aspect-ratio=1/1 ! \
             imagefreeze num-buffers={SEGMENT} ! video/x-raw,framerate=15/1 ! \
             videobox left={} right={} ! videoconvert ! video/x-raw,format=I420 ! c.",
            sample(&format!("faces/{photo}.jpg")).display(),
            -(320 * k as i32),
            -(640 - 320 * k as i32),
        ));
    }
    run_gst(&description);

    let gallery = dir.path().join("gallery");
    enroll(&gallery, "obama", &sample("faces/obama.jpg"));
    enroll(&gallery, "biden", &sample("faces/biden.jpg"));
    let lines = recognize(&clip, &gallery, "");
    assert_eq!(lines.len(), 3 * SEGMENT);
    let f = faces(&lines);
    let mut segment_ids = Vec::new();
    for (k, want) in ["obama", "biden", "obama"].iter().enumerate() {
        let seg = &f[k * SEGMENT..(k + 1) * SEGMENT];
        let named = seg
            .iter()
            .filter(|faces| faces.len() == 1 && faces[0].1 == *want)
            .count();
        assert!(
            named * 10 >= SEGMENT * 9,
            "segment {k}: {named}/{SEGMENT} frames named {want}: {seg:?}"
        );
        let mut ids: HashMap<Option<u64>, usize> = HashMap::new();
        for faces in seg {
            for (id, _, _) in faces {
                *ids.entry(*id).or_default() += 1;
            }
        }
        let (id, count) = ids.into_iter().max_by_key(|(_, c)| *c).unwrap();
        assert!(
            id.is_some() && count * 10 >= SEGMENT * 9,
            "segment {k}: one track id inside a segment: {seg:?}"
        );
        segment_ids.push(id);
    }
    assert!(
        segment_ids[0] != segment_ids[1] && segment_ids[1] != segment_ids[2],
        "track ids change between segments: {segment_ids:?}"
    );
}

#[test]
fn carphone_caller_enrolled_from_frame_0_is_named_through_the_clip() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = dir.path().join("gallery");
    assert_ok(&ovstream(&[
        "gallery",
        "--gallery",
        gallery.to_str().unwrap(),
        "add",
        "caller",
        "--video",
        sample("carphone.mp4").to_str().unwrap(),
        "--frame",
        "0",
    ]));
    assert!(gallery.join("caller/carphone-0.jpg").is_file());
    let lines = recognize(&sample("carphone.mp4"), &gallery, "");
    let f = faces(&lines);
    let n = f.len();
    assert!(n >= 100, "{n} frames");
    let with_face = f.iter().filter(|faces| !faces.is_empty()).count();
    assert!(with_face * 100 >= n * 95, "face in {with_face}/{n} frames");
    let caller = f
        .iter()
        .filter(|faces| faces.iter().any(|x| x.1 == "caller"))
        .count();
    assert!(caller * 10 >= n * 9, "caller named in {caller}/{n} frames");
    let mut ids: HashMap<Option<u64>, usize> = HashMap::new();
    for faces in &f {
        for (id, _, _) in faces {
            *ids.entry(*id).or_default() += 1;
        }
    }
    let top = ids.values().max().copied().unwrap_or(0);
    assert!(
        top * 10 >= n * 8,
        "one track id covers most of the clip: {ids:?}"
    );
}

#[test]
fn blazeface_matches_the_openvino_python_reference() {
    // tests/golden/blazeface_reference.py (f32): every 5th carphone frame.
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(asset("tests/golden/carphone_faces.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let text = format!(
        "[source]\ninput = \"{}\"\n[model]\nmodel = \"blazeface-full\"\nprecision = \"f32\"\n\
         [detect]\nthreshold = 0.5\n[track]\nenabled = false\n[output]\nmetadata = \"{}\"\n",
        sample("carphone.mp4").display(),
        jsonl.display()
    );
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, text).unwrap();
    assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--no-progress",
    ]));
    let lines = read_jsonl(&jsonl);
    let mut checked = 0;
    for g in golden["frames"].as_array().unwrap() {
        let i = g["frame"].as_u64().unwrap() as usize;
        let mine = objects(&lines[i]);
        let theirs = g["objects"].as_array().unwrap();
        assert_eq!(
            mine.len(),
            theirs.len(),
            "frame {i}: {mine:?} vs {theirs:?}"
        );
        for t in theirs {
            let b = [0, 1, 2, 3].map(|k| t["box"][k].as_f64().unwrap());
            let score = t["score"].as_f64().unwrap();
            let ok = mine
                .iter()
                .any(|m| iou(&m.b, &b) >= 0.9 && (m.score - score).abs() <= 0.02);
            assert!(
                ok,
                "frame {i}: golden {b:?} {score} not matched by {mine:?}"
            );
            checked += 1;
        }
        // Keypoints too (normalized, within 1% of the frame).
        for (m, t) in lines[i]["objects"].as_array().unwrap().iter().zip(theirs) {
            for (a, b) in m["keypoints"]
                .as_array()
                .unwrap()
                .iter()
                .zip(t["keypoints"].as_array().unwrap())
            {
                for c in 0..2 {
                    let d = (a[c].as_f64().unwrap() - b[c].as_f64().unwrap()).abs();
                    assert!(d < 0.01, "frame {i}: keypoint {a:?} vs {b:?}");
                }
            }
        }
    }
    assert!(checked >= 20, "{checked} golden faces checked");
}
