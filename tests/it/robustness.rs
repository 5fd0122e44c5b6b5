//! Damaged input and interruption: what decodes is processed, outputs are finalized and
//! playable, and the exit code says what happened.

use crate::common;

use common::*;
use std::time::{Duration, Instant};

const EXIT_INPUT: i32 = 3;
const EXIT_INTERRUPTED: i32 = 130;
const VTEST_FRAMES: usize = 795;

/// vtest.avi with `len` bytes at `offset` overwritten by deterministic pseudo-random bytes.
fn corrupted_copy(dir: &std::path::Path, offset: usize, len: usize) -> std::path::PathBuf {
    let mut data = std::fs::read(vtest()).unwrap();
    let mut x: u32 = 0x2545_f491;
    for b in &mut data[offset..offset + len] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let path = dir.join("corrupt.avi");
    std::fs::write(&path, data).unwrap();
    path
}

/// `ovstream run` on `input` with JSON lines and an MP4 in `dir`; returns (output, jsonl, mp4).
fn run_to_mp4(
    dir: &std::path::Path,
    input: &std::path::Path,
) -> (std::process::Output, std::path::PathBuf, std::path::PathBuf) {
    let jsonl = dir.join("out.jsonl");
    let mp4 = dir.join("out.mp4");
    let pipeline = pipeline_file(dir, "", &jsonl);
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        mp4.to_str().unwrap(),
        "--no-progress",
    ]);
    (out, jsonl, mp4)
}

#[test]
fn corrupted_middle_is_reported_with_position_and_outputs_stay_playable() {
    let dir = tempfile::tempdir().unwrap();
    let input = corrupted_copy(dir.path(), 3_000_000, 500_000);
    let (out, jsonl, mp4) = run_to_mp4(dir.path(), &input);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(EXIT_INPUT), "{err}");
    assert!(err.contains("corrupt.avi"), "{err}");
    assert!(err.contains("frame(s) missing at"), "position given: {err}");
    assert!(!err.contains("panicked"), "{err}");

    let lines = read_jsonl(&jsonl);
    assert!(
        lines.len() > VTEST_FRAMES / 2 && lines.len() < VTEST_FRAMES,
        "{}",
        lines.len()
    );
    let (frames, w, h) = decode_mp4(&mp4);
    assert_eq!(
        (frames, w, h),
        (lines.len(), 768, 576),
        "mp4 holds every processed frame"
    );
}

#[test]
fn truncated_file_is_reported_and_outputs_stay_playable() {
    // vtest.avi cut in half: avidemux plays to the cut and ends with a plain EOS; the
    // container check must still call it an input error, with the frames it lost.
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(vtest()).unwrap();
    let input = dir.path().join("half.avi");
    std::fs::write(&input, &data[..data.len() / 2]).unwrap();
    let (out, jsonl, mp4) = run_to_mp4(dir.path(), &input);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(EXIT_INPUT), "{err}");
    assert!(
        err.contains("half.avi") && err.contains("file truncated"),
        "{err}"
    );
    let lines = read_jsonl(&jsonl);
    let n = lines.len();
    assert!(n > VTEST_FRAMES / 3 && n < VTEST_FRAMES * 2 / 3, "{n}");
    assert!(
        err.contains(&format!(
            "decoding ended after {n} frame(s) of the {VTEST_FRAMES}"
        )),
        "position given: {err}"
    );
    assert_eq!(
        decode_mp4(&mp4),
        (n, 768, 576),
        "mp4 holds every processed frame"
    );
}

#[test]
fn sigint_finalizes_the_mp4_with_every_frame_written() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let mp4 = dir.path().join("out.mp4");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let mut child = spawn_ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--loop",
        "--no-progress",
        "--output",
        mp4.to_str().unwrap(),
    ]);
    // Wait until frames are flowing (the JSON writer has flushed a few blocks).
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&jsonl).map_or(0, |m| m.len()) < 32 * 1024 {
        assert!(Instant::now() < deadline, "no output within 60 s");
        assert!(child.try_wait().unwrap().is_none(), "exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_INTERRUPTED), "{err}");
    assert!(err.contains("interrupted"), "{err}");

    let lines = read_jsonl(&jsonl);
    assert!(!lines.is_empty());
    assert_eq!(
        lines.last().unwrap()["frame"],
        lines.len() as u64 - 1,
        "no torn line"
    );
    let (frames, _, _) = decode_mp4(&mp4);
    assert_eq!(frames, lines.len(), "mp4 decodes to the frames written");
}

#[test]
fn odd_frame_sizes_are_encoded_at_the_even_size_below() {
    // x264 refuses odd 4:2:0 sizes: a 161x121 camera used to leave a 0-byte MP4 and exit 5.
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let mp4 = dir.path().join("odd.mp4");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--input",
        "test://?width=161&height=121&fps=10",
        "--limit",
        "20",
        "--output",
        mp4.to_str().unwrap(),
        "--no-progress",
    ]);
    assert_ok(&out);
    assert_eq!(decode_mp4(&mp4), (20, 160, 120));
}
