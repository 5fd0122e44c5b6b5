//! `[detect] mode = "motion"`: inference only where something moves, on a clip whose ground
//! truth is known (`tests/clips/moving_objects.py`: a face photo that comes in, walks across
//! and leaves a still gray scene), against `mode = "always"` on the same clip.

use crate::common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const FPS: u32 = 10;
/// Idle 3 s, the face crosses in 5 s, idle 7 s.
const FRAMES: u32 = 150;
const ENTERS: u32 = 30;
const LEAVES: u32 = 80;

fn clip(dir: &Path) -> PathBuf {
    let out = dir.join("walk.avi");
    let status = std::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tests/clips/moving_objects.py"))
        .arg(&out)
        .args(["--size", "640x360", "--fps", &FPS.to_string()])
        .args(["--frames", &FRAMES.to_string()])
        .arg("--object")
        .arg(asset("samples/faces/obama.jpg"))
        .arg("180")
        .arg(format!("{ENTERS}:20,90;{LEAVES}:460,90"))
        .status()
        .expect("run the clip script (make setup makes .venv)");
    assert!(status.success(), "clip script failed");
    out
}

fn run(dir: &Path, clip: &Path, mode: &str) -> (Vec<Value>, String) {
    let jsonl = dir.join(format!("{mode}.jsonl"));
    let pipeline = dir.join(format!("{mode}.toml"));
    std::fs::write(
        &pipeline,
        format!(
            "[source]\ninput = \"{}\"\n[model]\nmodel = \"blazeface-full\"\n[detect]\nmode = \
             \"{mode}\"\n[output]\nmetadata = \"{}\"\n",
            clip.display(),
            jsonl.display()
        ),
    )
    .unwrap();
    let err = assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--no-progress",
    ]));
    (read_jsonl(&jsonl), err)
}

fn has_face(line: &Value) -> bool {
    !line["objects"].as_array().unwrap().is_empty()
}

#[test]
fn motion_mode_infers_only_where_something_moves_and_misses_no_face() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path());
    let (always, _) = run(dir.path(), &clip, "always");
    let (motion, summary) = run(dir.path(), &clip, "motion");
    assert_eq!(motion.len(), FRAMES as usize);
    let inferred: Vec<u64> = motion
        .iter()
        .filter(|l| l.get("inferred").is_none())
        .map(|l| l["frame"].as_u64().unwrap())
        .collect();
    assert!(
        inferred.len() < FRAMES as usize / 2,
        "inferred {} of {FRAMES}: {inferred:?}",
        inferred.len()
    );
    assert!(summary.contains("carried the last boxes"), "{summary}");
    // Every frame where the face is in view (always mode) has it in motion mode too.
    let face_frames: Vec<usize> = (0..always.len())
        .filter(|&i| has_face(&always[i]))
        .collect();
    assert!(
        face_frames.len() >= 40,
        "the detector sees the face: {face_frames:?}"
    );
    let missed: Vec<usize> = face_frames
        .iter()
        .copied()
        .filter(|&i| !has_face(&motion[i]))
        .collect();
    assert!(
        missed.is_empty(),
        "frames without the face in motion mode: {missed:?}"
    );
    // While it moves, every frame is inferred. Before it comes only the first frame is; after
    // it leaves, the half second of hold and the ghost it leaves in the background (fading in
    // about a second) are, then only one frame per `max_idle_seconds` (5 s).
    for f in ENTERS + 1..LEAVES {
        assert!(
            inferred.contains(&u64::from(f)),
            "frame {f} moves but was not inferred"
        );
    }
    let before: Vec<u64> = inferred
        .iter()
        .copied()
        .filter(|&f| f < u64::from(ENTERS))
        .collect();
    assert_eq!(before, vec![0], "{inferred:?}");
    let settled = u64::from(LEAVES + 2 * FPS);
    let late = inferred.iter().filter(|&&f| f > settled).count();
    assert!(
        late <= 2,
        "idle frames inferred after {settled}: {inferred:?}"
    );
    for (i, line) in motion.iter().enumerate() {
        assert_eq!(
            line["frame"].as_u64(),
            Some(i as u64),
            "numbering continues"
        );
    }
}

#[test]
fn bad_motion_values_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (table, key) in [
        (
            "[motion]\nmask = [[[0.0, 0.0], [1.5, 0.0], [0.0, 1.0]]]\n",
            "motion.mask[0]",
        ),
        ("[motion]\nthreshold = 0\n", "motion.threshold"),
        (
            "[detect]\nmax_idle_seconds = -1.0\n",
            "detect.max_idle_seconds",
        ),
        ("[detect]\nmode = \"sometimes\"\n", "sometimes"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(
            &path,
            format!(
                "[source]\ninput = \"{}\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n{table}",
                vtest().display()
            ),
        )
        .unwrap();
        let out = ovstream(&["run", path.to_str().unwrap(), "--limit", "1"]);
        assert_eq!(out.status.code(), Some(2), "{table}: {}", stderr(&out));
        assert!(stderr(&out).contains(key), "{table}: {}", stderr(&out));
    }
}
