//! Helpers for the integration tests: paths to fetched assets, running the `ovstream` binary,
//! reading its JSON lines. Assets come from `make setup`; a missing one fails the test loudly.
#![allow(dead_code)]

pub mod broker;
pub mod http;
pub mod proxy;
pub mod rtsp_camera;
pub mod serve;
pub mod service;
pub mod webdriver;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fetched sample or model; panics with the set-up command when it is missing.
pub fn asset(rel: &str) -> PathBuf {
    let p = root().join(rel);
    assert!(
        p.is_file(),
        "{} is missing: run `make setup` (models/fetch, samples/fetch) first",
        p.display()
    );
    p
}

pub fn vtest() -> PathBuf {
    asset("samples/vtest.avi")
}

/// The caches (compiled models, measured nireq/nstreams) of the binaries the tests start:
/// private to this checkout's test runs (`target/tmp/cache`), never the user's
/// `~/.cache/ovstream`; a test that needs its own sets `XDG_CACHE_HOME` itself.
pub fn test_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cache")
}

/// Runs `ovstream ARGS…` from the repository root.
pub fn ovstream(args: &[&str]) -> Output {
    ovstream_with_env(args, &[])
}

/// Same, with extra environment variables.
pub fn ovstream_with_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ovstream"))
        .args(args)
        .current_dir(root())
        .env("OVSTREAM_LOG", "warn")
        .env("XDG_CACHE_HOME", test_cache())
        .envs(envs.iter().copied())
        .output()
        .expect("spawn ovstream")
}

/// Starts `ovstream ARGS…` in the background (stdout discarded, stderr captured).
pub fn spawn_ovstream(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ovstream"))
        .args(args)
        .current_dir(root())
        .env("OVSTREAM_LOG", "warn")
        .env("XDG_CACHE_HOME", test_cache())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ovstream")
}

/// Sends SIGINT, as Ctrl-C would.
pub fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT failed");
}

/// Runs `models/fetch` with an optional manifest into `dest`; `envs` are extra variables.
pub fn fetch_models(manifest: Option<&Path>, dest: &Path, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("models/fetch"));
    if let Some(m) = manifest {
        cmd.arg("--manifest").arg(m);
    }
    cmd.arg("--dest").arg(dest).envs(envs.iter().copied());
    cmd.output().expect("run models/fetch")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stderr.
pub fn assert_ok(out: &Output) -> String {
    let err = stderr(out);
    assert!(
        out.status.success(),
        "ovstream failed ({:?}):\n{err}",
        out.status
    );
    err
}

/// Writes a pipeline file into `dir` with `[output]` set to metadata only, over `pedestrians`.
pub fn pipeline_file(dir: &Path, extra_model: &str, metadata: &Path) -> PathBuf {
    model_pipeline_file(dir, "pedestrian-ssdlite", extra_model, metadata)
}

/// Same for any model id of the manifest.
pub fn model_pipeline_file(dir: &Path, model: &str, extra_model: &str, metadata: &Path) -> PathBuf {
    let text = format!(
        "[source]\ninput = \"{}\"\n[model]\nmodel = \"{model}\"\n{extra_model}\n\
         [output]\nmetadata = \"{}\"\n",
        vtest().display(),
        metadata.display()
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Parses a JSON-lines file.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// Golden comparison thresholds (issue: IoU ≥ 0.95, |Δscore| ≤ 0.02; every golden box ≥ 0.5
/// found; no extra box above 0.55). Run ovstream with `--threshold 0.45` so boxes near 0.5 in
/// the golden can still be matched.
pub const GOLDEN_MIN_SCORE: f64 = 0.5;
pub const EXTRA_MAX_SCORE: f64 = 0.55;
pub const MIN_IOU: f64 = 0.95;
pub const MAX_SCORE_DIFF: f64 = 0.02;

#[derive(Debug, Clone, Copy)]
pub struct Obj {
    pub b: [f64; 4],
    pub score: f64,
    pub label_id: u64,
}

pub fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let area = |r: &[f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

/// Objects of one ovstream JSON line.
pub fn objects(line: &Value) -> Vec<Obj> {
    line["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let d = &o["detection"];
            let bb = &d["bounding_box"];
            Obj {
                b: ["x_min", "y_min", "x_max", "y_max"].map(|k| bb[k].as_f64().unwrap()),
                score: d["confidence"].as_f64().unwrap(),
                label_id: d["label_id"].as_u64().unwrap(),
            }
        })
        .collect()
}

fn golden_objects(frame: &Value) -> Vec<Obj> {
    frame["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| Obj {
            b: [0, 1, 2, 3].map(|i| o["box"][i].as_f64().unwrap()),
            score: o["score"].as_f64().unwrap(),
            label_id: o["label_id"].as_u64().unwrap(),
        })
        .collect()
}

/// Runs manifest model `model` over vtest the way the golden files were made (`--precision
/// f32 --threshold 0.45`) with the flags `extra`, in `dir`; asserts it succeeded and returns
/// its JSON lines.
pub fn run_at_f32(dir: &Path, model: &str, extra: &[&str]) -> Vec<Value> {
    let jsonl = dir.join("out.jsonl");
    let pipeline = model_pipeline_file(dir, model, "", &jsonl);
    let mut args = vec![
        "run",
        pipeline.to_str().unwrap(),
        "--precision",
        "f32",
        "--threshold",
        "0.45",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    assert_ok(&ovstream(&args));
    read_jsonl(&jsonl)
}

/// The golden file `golden` (relative to the repository) cut to its first `n` frames, written
/// into `dir`; returns its path.
pub fn golden_prefix(dir: &Path, golden: &str, n: usize) -> String {
    let text = std::fs::read_to_string(root().join(golden)).unwrap();
    let mut gold: Value = serde_json::from_str(&text).unwrap();
    let frames = gold["frames"].as_array_mut().unwrap();
    assert!(frames.len() >= n, "{golden} has {} frames", frames.len());
    frames.truncate(n);
    let path = dir.join(format!("golden-{n}.json"));
    std::fs::write(&path, gold.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

/// Compares ovstream's JSON lines with a golden file from `tests/golden/ssd_reference.py`,
/// restricted to `labels` when given. Same label required. Panics listing the failures;
/// returns how many golden boxes were checked.
pub fn assert_matches_golden(lines: &[Value], golden_path: &str, labels: Option<&[u64]>) -> usize {
    let gold: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(golden_path)).unwrap()).unwrap();
    let frames = gold["frames"].as_array().unwrap();
    assert_eq!(lines.len(), frames.len(), "one line per golden frame");
    let keep = |o: &Obj| labels.is_none_or(|l| l.contains(&o.label_id));
    let (mut checked, mut failures) = (0, Vec::new());
    for (line, gframe) in lines.iter().zip(frames) {
        let f = line["frame"].as_u64().unwrap();
        let mine: Vec<Obj> = objects(line).into_iter().filter(keep).collect();
        let theirs: Vec<Obj> = golden_objects(gframe).into_iter().filter(keep).collect();
        for g in theirs.iter().filter(|g| g.score >= GOLDEN_MIN_SCORE) {
            checked += 1;
            let found = mine.iter().any(|m| {
                m.label_id == g.label_id
                    && iou(&m.b, &g.b) >= MIN_IOU
                    && (m.score - g.score).abs() <= MAX_SCORE_DIFF
            });
            if !found {
                failures.push(format!("frame {f}: golden {g:?} unmatched; ours {mine:?}"));
            }
        }
        for m in mine.iter().filter(|m| m.score > EXTRA_MAX_SCORE) {
            let known = theirs
                .iter()
                .any(|g| g.label_id == m.label_id && iou(&m.b, &g.b) >= MIN_IOU);
            if !known {
                failures.push(format!("frame {f}: extra box {m:?}; golden {theirs:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} golden/extra checks failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    checked
}

/// Decodes an MP4 with GStreamer; returns (frames, width, height).
pub fn decode_mp4(path: &Path) -> (usize, i32, i32) {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(
        "filesrc name=f ! qtdemux ! h264parse ! avdec_h264 ! videoconvert ! appsink name=s sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline
        .by_name("f")
        .unwrap()
        .set_property("location", path.to_str().unwrap());
    let sink = pipeline
        .by_name("s")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let (mut n, mut w, mut h) = (0, 0, 0);
    // Bounded: a file the demuxer refuses posts an error and never an EOS.
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
        let s = sample.caps().unwrap().structure(0).unwrap().to_owned();
        w = s.get::<i32>("width").unwrap();
        h = s.get::<i32>("height").unwrap();
        n += 1;
    }
    let bus = pipeline.bus().unwrap();
    let error = bus.pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(
        error.is_none(),
        "decoding {} failed: {error:?}",
        path.display()
    );
    (n, w, h)
}

/// Registers the plugin's elements in this process (for `gst_check::Harness` and parsed
/// pipelines).
pub fn register() {
    gst::init().unwrap();
    gstovstream::plugin_register_static().unwrap();
}

/// The first `n` frames of vtest.avi as I420 buffers, with their caps.
pub fn vtest_frames(n: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=I420 ! \
         appsink name=s sync=false",
        vtest().display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("s")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut caps = None;
    let mut buffers = Vec::new();
    while buffers.len() < n {
        let sample = sink.pull_sample().unwrap();
        caps = sample.caps_owned();
        buffers.push(sample.buffer_owned().unwrap());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    (caps.unwrap(), buffers)
}

/// A folder holding only the plugin this test run built (`cargo test` leaves the cdylib in
/// `deps/`, next to unrelated shared objects GStreamer should not scan). One folder per build
/// of the plugin (named by its size and mtime), shared by the test processes: GStreamer's
/// registry keeps one entry for it instead of one per process, and the folders of other builds
/// are removed once an hour old.
pub fn plugin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(copy_plugin).clone()
}

fn copy_plugin() -> PathBuf {
    let built = Path::new(env!("CARGO_BIN_EXE_ovstream"))
        .parent()
        .unwrap()
        .join("deps/libgstovstream.so");
    let meta = std::fs::metadata(&built).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    let stamp = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let name = format!("plugin-{}-{stamp}", meta.len());
    remove_old_plugin_dirs(tmp, &name);
    let dir = tmp.join(&name);
    let dest = dir.join("libgstovstream.so");
    if !dest.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        // Copied under a name GStreamer does not load, then renamed: a process that finds
        // `dest` finds it whole.
        let partial = dir.join(format!(".copy-{}", std::process::id()));
        std::fs::copy(&built, &partial).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
        std::fs::rename(&partial, &dest).unwrap();
    }
    dir
}

/// Removes the plugin folders of other builds made over an hour ago.
fn remove_old_plugin_dirs(tmp: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() > 3600));
        if name.starts_with("plugin-") && name != current && old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `gst-launch-1.0 -q ARGS` with the plugin on GST_PLUGIN_PATH, from the repository root.
pub fn gst_launch(description: &str) -> Output {
    let plugin_dir = plugin_dir();
    Command::new("gst-launch-1.0")
        .arg("-q")
        .args(description.split_whitespace())
        .env("GST_PLUGIN_PATH", plugin_dir)
        .current_dir(root())
        .output()
        .expect("gst-launch-1.0 runs")
}

/// A sample portrait, `samples/faces/{name}.jpg` (or `.png`: the astronaut).
pub fn photo(name: &str) -> PathBuf {
    match root().join(format!("samples/faces/{name}.png")).exists() {
        true => asset(&format!("samples/faces/{name}.png")),
        false => asset(&format!("samples/faces/{name}.jpg")),
    }
}

/// Frames per person in a [`photo_clip`] (2 s at 15 fps).
pub const PHOTO_SEGMENT: usize = 30;

/// Runs a `gst-launch` description to its EOS (panics on an error or after 60 s).
pub fn run_gst(description: &str) {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(description).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("pipeline finishes");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
}

/// A 960x480 15 fps H.264 clip: each sample portrait (`samples/faces/{name}.jpg`) for
/// [`PHOTO_SEGMENT`] frames, at one of three places (as
/// people stepping in front of a camera, one after the other).
pub fn photo_clip(path: &Path, photos: &[&str]) {
    let mut description = format!(
        "concat name=c ! videoconvert ! x264enc speed-preset=ultrafast key-int-max=15 ! \
         mp4mux ! filesink location=\"{}\"",
        path.display()
    );
    for (k, p) in photos.iter().enumerate() {
        let slot = 320 * (k % 3) as i32;
        description.push_str(&format!(
            " filesrc location=\"{}\" ! {} ! videoconvert ! videoscale ! \
             video/x-raw,width=320,height=480,pixel-aspect-ratio=1/1 ! \
             imagefreeze num-buffers={PHOTO_SEGMENT} ! video/x-raw,framerate=15/1 ! \
             videobox left={} right={} ! videoconvert ! video/x-raw,format=I420 ! c.",
            photo(p).display(),
            match photo(p).extension().and_then(|e| e.to_str()) {
                Some("png") => "pngdec",
                _ => "jpegdec",
            },
            -slot,
            -(640 - slot),
        ));
    }
    run_gst(&description);
}

/// SHA-256 of a file's bytes (a file a run must leave untouched).
pub fn sha256(path: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}
