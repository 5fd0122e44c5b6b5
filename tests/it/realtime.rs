//! `--realtime`: a file played at its own frame rate as a live camera (drop-oldest, never
//! blocking), the stand-in for cameras in tests and benchmarks.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A 30 fps MJPEG AVI of `frames` frames of GStreamer's moving ball.
fn clip(dir: &Path, frames: u32, width: u32, height: u32) -> PathBuf {
    let path = dir.join(format!("ball-{width}x{height}.avi"));
    let out = gst_launch(&format!(
        "videotestsrc pattern=ball num-buffers={frames} ! \
         video/x-raw,width={width},height={height},framerate=30/1 ! jpegenc ! avimux ! \
         filesink location={}",
        path.display()
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn run_realtime(dir: &Path, clip: &Path, model: &str) -> (usize, f64, String) {
    let jsonl = dir.join("out.jsonl");
    let pipeline = model_pipeline_file(dir, model, "", &jsonl);
    let started = Instant::now();
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--input",
        clip.to_str().unwrap(),
        "--realtime",
        "--no-progress",
    ]);
    let err = assert_ok(&out);
    (
        read_jsonl(&jsonl).len(),
        started.elapsed().as_secs_f64(),
        err,
    )
}

/// Frames dropped on the source's `decoded` edge, from the summary's queue line.
fn decoded_drops(summary: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.contains("queues (high water"))
        .unwrap_or_else(|| panic!("no queue line in {summary}"));
    let after = line.split(" decoded ").nth(1).expect("a decoded edge");
    after.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_file_plays_at_its_own_rate_and_drops_when_overloaded() {
    let dir = tempfile::tempdir().unwrap();
    // 90 frames at 30 fps: 3 s of wall clock, never faster. A light load keeps (nearly)
    // everything: a hiccup of the shared CI machine may cost a frame, which is then counted.
    let light = clip(dir.path(), 90, 320, 240);
    let (frames, seconds, err) = run_realtime(dir.path(), &light, "pedestrian-ssdlite");
    assert!(
        seconds >= 2.9,
        "played in {seconds:.2} s: faster than the file's rate"
    );
    assert_eq!(frames as u64 + decoded_drops(&err), 90, "{err}");
    assert!(frames >= 80, "{frames} of 90 frames at a light load: {err}");
    // The same without --realtime runs as fast as it can (a file, back-pressure).
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let started = Instant::now();
    assert_ok(&ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--input",
        light.to_str().unwrap(),
        "--no-progress",
    ]));
    assert!(
        started.elapsed().as_secs_f64() < seconds,
        "a plain file is not paced"
    );
    // 720p30 into a detector that manages ~13 FPS here: frames are dropped (counted), oldest
    // first, and the run still takes the file's duration, not longer.
    let heavy = clip(dir.path(), 60, 1280, 720);
    let (frames, seconds, err) = run_realtime(dir.path(), &heavy, "fall-yolov8");
    let drops = decoded_drops(&err);
    assert!(
        drops > 0 && frames < 60,
        "{frames} frames, {drops} drops: {err}"
    );
    assert_eq!(
        frames as u64 + drops,
        60,
        "every frame written or counted as dropped"
    );
    assert!(seconds < 30.0, "took {seconds:.1} s");
}
