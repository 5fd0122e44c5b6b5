//! Event recordings (`--record`, `[record]`): clips cut from the camera's own H.264 packets
//! with pre/post-capture, sidecars, thumbnails and clip events; a SIGKILL leaves a playable
//! partial clip; retention by size; a full file system; sources without H.264 to copy go
//! through the recorder's encoder. The camera stand-in clip has walkers in three stretches
//! (`samples/camera_walkway.json`): 10–20 s, 45–55 s, 80–90 s, a keyframe every 2 s.

use crate::common;

use common::rtsp_camera::{copy_of, RtspCamera};
use common::*;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use serde_json::Value;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub(crate) const FPS: f64 = 30.0;
/// The stand-in clip's keyframe interval (s).
pub(crate) const GOP: f64 = 2.0;
pub(crate) const PRE: f64 = 3.0;
pub(crate) const POST: f64 = 3.0;

pub(crate) fn walkway() -> PathBuf {
    asset("samples/camera_walkway.mp4")
}

/// A pipeline file of `input` (motion-gated pedestrian detection at most 5 times a second, as
/// `pipelines/camera.toml` has it; tracked) writing metadata and events into `dir`, with
/// `extra` TOML appended.
pub(crate) fn pipeline(dir: &Path, input: &Path, extra: &str) -> PathBuf {
    let path = dir.join("record.toml");
    std::fs::write(
        &path,
        format!(
            "[source]\ninput = \"{}\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n[detect]\n\
             mode = \"motion\"\nfps = 5\n[track]\n[output]\nmetadata = \"{}\"\nevents = \"{}\"\n{extra}",
            input.display(),
            dir.join("meta.jsonl").display(),
            dir.join("events.jsonl").display()
        ),
    )
    .unwrap();
    path
}

/// One demuxed packet: its keyframe flag and a hash of its bytes.
#[derive(Debug, Clone, Copy)]
struct Packet {
    key: bool,
    hash: u64,
}

/// Every sample of `description` (a pipeline from `filesrc name=file` to `appsink
/// name=sink`) reading `mp4`.
pub(crate) fn samples(description: &str, mp4: &Path) -> Vec<gst::Sample> {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    pipeline
        .by_name("file")
        .unwrap()
        .set_property("location", mp4.to_str().unwrap());
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pull_all(&pipeline, &sink, mp4)
}

/// Every video packet of an MP4 in decode order, as `qtdemux` gives them (no parser, no
/// decoder: the bytes as stored).
fn packets(mp4: &Path) -> Vec<Packet> {
    let demux = "filesrc name=file ! qtdemux ! video/x-h264 ! appsink name=sink sync=false";
    samples(demux, mp4)
        .iter()
        .map(|sample| {
            let b = sample.buffer().unwrap();
            let mut h = DefaultHasher::new();
            b.map_readable().unwrap().as_slice().hash(&mut h);
            Packet {
                key: !b.flags().contains(gst::BufferFlags::DELTA_UNIT),
                hash: h.finish(),
            }
        })
        .collect()
}

/// Every sample `sink` gets until EOS; panics naming `what` on an error or a stall.
fn pull_all(pipeline: &gst::Pipeline, sink: &gst_app::AppSink, what: &Path) -> Vec<gst::Sample> {
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let mut out = Vec::new();
    loop {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            pipeline.set_state(gst::State::Null).unwrap();
            panic!("{}: {msg:?}", what.display());
        }
        match sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
            Some(sample) => out.push(sample),
            None if sink.is_eos() => break,
            None => panic!("{}: no sample for 10 s", what.display()),
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

/// Frames of `mp4` that decode (`qtdemux ! h264parse ! avdec_h264`).
fn decoded_frames(mp4: &Path) -> usize {
    let decode =
        "filesrc name=file ! qtdemux ! h264parse ! avdec_h264 ! appsink name=sink sync=false";
    samples(decode, mp4).len()
}

/// The clips (MP4s) under `dir`, oldest first.
pub(crate) fn clips(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = glob::glob(&format!("{}/*/*/*.mp4", dir.display()))
        .unwrap()
        .flatten()
        .collect();
    all.sort();
    all
}

pub(crate) fn sidecar(mp4: &Path) -> Value {
    let path = mp4.with_extension("json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e}", path.display());
    }))
    .unwrap()
}

/// `[first, last]` stream seconds of each stretch of frames with a person, stretches split by
/// gaps longer than `gap` seconds.
fn person_stretches(meta: &[Value], gap: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for line in meta.iter().filter(|l| !objects(l).is_empty()) {
        let t = line["frame"].as_u64().unwrap() as f64 / FPS;
        match out.last_mut() {
            Some(s) if t - s.1 <= gap => s.1 = t,
            _ => out.push((t, t)),
        }
    }
    out
}

/// `ovstream run` of `input` recording into `rec` with `[pre, post]` capture seconds and
/// `extra` flags; panics with its stderr when it fails.
fn record_run(dir: &Path, input: &Path, rec: &Path, capture: &[&str; 2], extra: &[&str]) {
    let toml = pipeline(dir, input, "");
    let mut args = vec![
        "run",
        toml.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
        "--pre-capture",
        capture[0],
        "--post-capture",
        capture[1],
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    assert_ok(&ovstream(&args));
}

#[test]
fn clips_are_the_cameras_own_packets_with_pre_and_post_capture() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("clips");
    record_run(
        dir.path(),
        &walkway(),
        &rec,
        &[&PRE.to_string(), &POST.to_string()],
        &[],
    );
    let meta = read_jsonl(&dir.path().join("meta.jsonl"));
    assert_eq!(meta.len(), 3600, "detection saw every frame");
    let people = person_stretches(&meta, PRE + POST);
    assert_eq!(people.len(), 3, "three stretches of walkers: {people:?}");
    let found = clips(&rec);
    assert_eq!(found.len(), 3, "one clip per stretch: {found:?}");

    let source = packets(&walkway());
    let by_hash: HashSet<u64> = source.iter().map(|p| p.hash).collect();
    let events = read_jsonl(&dir.path().join("events.jsonl"));
    for (clip, (first, last)) in found.iter().zip(&people) {
        let side = sidecar(clip);
        let start = side["start_seconds"].as_f64().unwrap();
        let end = side["end_seconds"].as_f64().unwrap();
        // Starts on a keyframe at or before (first person − pre), at most one GOP earlier.
        assert!(
            start <= first - PRE + 1e-6 && start >= first - PRE - GOP - 1e-6,
            "{}: starts at {start} s, first person at {first} s",
            clip.display()
        );
        assert!(
            end >= last + POST - 1.0 / FPS - 1e-6,
            "{}: ends at {end} s, last person at {last} s",
            clip.display()
        );
        let mine = packets(clip);
        assert!(
            mine[0].key,
            "{}: first packet is not a keyframe",
            clip.display()
        );
        let copied = mine.iter().filter(|p| by_hash.contains(&p.hash)).count();
        assert_eq!(copied, mine.len(), "{}: re-encoded packets", clip.display());
        // The first packet is the source's packet at the clip's start time.
        let at = (start * FPS).round() as usize;
        assert_eq!(
            mine[0].hash,
            source[at].hash,
            "{}: first packet",
            clip.display()
        );
        let expected = ((end - start) * FPS).round() as usize;
        assert!(
            mine.len().abs_diff(expected) <= 1,
            "{}: {} packets for {start}..{end} s",
            clip.display(),
            mine.len()
        );
        assert!(
            side["triggers"].as_array().unwrap()[0]["label"] == "person"
                && !side["objects"].as_array().unwrap().is_empty(),
            "{side}"
        );
        let jpeg = std::fs::read(clip.with_extension("jpg")).unwrap();
        assert!(
            jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.len() > 10_000,
            "thumbnail"
        );
        let id = side["clip_id"].as_str().unwrap();
        for kind in ["clip_start", "clip_end"] {
            assert!(
                events
                    .iter()
                    .any(|e| e["type"] == kind && e["clip_id"] == id),
                "no {kind} event for {id}"
            );
        }
    }
}

#[test]
fn a_killed_run_leaves_a_playable_partial_clip() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("clips");
    let toml = pipeline(dir.path(), &walkway(), "");
    let mut child = spawn_ovstream(&[
        "run",
        toml.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
        "--no-progress",
    ]);
    // Wait for a clip with a few fragments written but no sidecar yet (still being written).
    let deadline = Instant::now() + Duration::from_secs(120);
    let active = loop {
        let open = clips(&rec).into_iter().find(|c| {
            !c.with_extension("json").exists()
                && std::fs::metadata(c).is_ok_and(|m| m.len() > 1_500_000)
        });
        if let Some(c) = open {
            break c;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "ovstream ended before a clip was under way"
        );
        assert!(Instant::now() < deadline, "no clip under way");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !active.with_extension("json").exists(),
        "the clip had ended"
    );
    let mine = packets(&active);
    assert!(mine.len() >= 90 && mine[0].key, "{} packets", mine.len());
    let frames = decoded_frames(&active);
    assert!(frames >= 90, "{frames} frames decode from the killed clip");
}

#[test]
fn retention_deletes_the_oldest_clips_over_max_bytes_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("clips");
    // An old clip of ours (by name) and a file of the user's, both in the folder.
    let old_day = rec.join("camera_walkway/2020-01-01");
    std::fs::create_dir_all(&old_day).unwrap();
    let old = old_day.join("00-00-00-camera_walkway-1.mp4");
    std::fs::write(&old, vec![0u8; 1 << 20]).unwrap();
    std::fs::write(old.with_extension("json"), b"{}").unwrap();
    let foreign = old_day.join("holiday.mp4");
    std::fs::write(&foreign, vec![0u8; 3 << 20]).unwrap();
    // Each clip is ~4 MB: two fit in 9 MB.
    let extra = format!(
        "[record]\ndir = \"{}\"\npre_capture = {PRE}\npost_capture = {POST}\nmax_bytes = \"9MB\"\n",
        rec.display()
    );
    let toml = pipeline(dir.path(), &walkway(), &extra);
    assert_ok(&ovstream(&["run", toml.to_str().unwrap(), "--no-progress"]));
    assert!(
        !old.exists() && !old.with_extension("json").exists(),
        "oldest first"
    );
    assert!(foreign.exists(), "a file the recorder did not write stays");
    let kept = clips(&rec);
    let ours: Vec<_> = kept.iter().filter(|c| **c != foreign).collect();
    assert_eq!(ours.len(), 2, "the two newest clips: {kept:?}");
    let starts: Vec<f64> = ours
        .iter()
        .map(|c| sidecar(c)["start_seconds"].as_f64().unwrap())
        .collect();
    assert!(
        starts.iter().all(|s| *s > 30.0),
        "the first clip went: {starts:?}"
    );
    let total: u64 = glob::glob(&format!(
        "{}/camera_walkway/*/*-camera_walkway-*",
        rec.display()
    ))
    .unwrap()
    .flatten()
    .map(|p| std::fs::metadata(p).unwrap().len())
    .sum();
    assert!(total <= 9_000_000, "{total} bytes kept");
}

#[test]
fn sources_without_h264_are_encoded_into_clips() {
    // vtest.avi is MS-MPEG-4: nothing to copy, so the recorder encodes the frames (as for raw
    // cameras and test:// patterns).
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("clips");
    record_run(dir.path(), &vtest(), &rec, &["1", "1"], &["--limit", "100"]);
    let found = clips(&rec);
    assert_eq!(found.len(), 1, "{found:?}");
    let side = sidecar(&found[0]);
    assert_eq!(side["codec"], "h264");
    // vtest is 10 fps: 100 frames are 10 s, people in all of them.
    let frames = decoded_frames(&found[0]);
    let stored = packets(&found[0]).len();
    assert!(
        (95..=100).contains(&frames),
        "{frames} frames decode of {stored} packets: {}",
        side["duration"]
    );
    assert_eq!(side["start_seconds"].as_f64().unwrap(), 0.0, "{side}");
}

#[test]
fn a_full_file_system_ends_the_clip_and_recording_resumes_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("small");
    std::fs::create_dir_all(&rec).unwrap();
    // A 10 MiB file system holding a 2 MB file of the user's and an old 5 MB clip: the first
    // clip (~4 MB) fills it and fails; retention (under min_free) then deletes the old clip,
    // and the recordings go on, each clip complete.
    let mounted = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=10m",
            "tmpfs",
            rec.to_str().unwrap(),
        ])
        .status()
        .expect("run mount");
    assert!(
        mounted.success(),
        "this test mounts a small tmpfs: run it as root (CI does)"
    );
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(rec.clone());
    let old_day = rec.join("camera_walkway/2020-01-01");
    std::fs::create_dir_all(&old_day).unwrap();
    let old = old_day.join("00-00-00-camera_walkway-1.mp4");
    std::fs::write(&old, vec![0u8; 5_000_000]).unwrap();
    std::fs::write(old.with_extension("json"), b"{}").unwrap();
    let foreign = rec.join("keep.bin");
    std::fs::write(&foreign, vec![0u8; 2_000_000]).unwrap();
    let extra = format!(
        "[record]\ndir = \"{}\"\npre_capture = {PRE}\npost_capture = {POST}\nmin_free = \"3MiB\"\n",
        rec.display()
    );
    let toml = pipeline(dir.path(), &walkway(), &extra);
    assert_ok(&ovstream(&["run", toml.to_str().unwrap(), "--no-progress"]));
    let meta = read_jsonl(&dir.path().join("meta.jsonl"));
    assert_eq!(meta.len(), 3600, "detection went on");
    let events = read_jsonl(&dir.path().join("events.jsonl"));
    let errors: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "record_error")
        .collect();
    assert!(!errors.is_empty(), "the full disk was reported");
    assert!(
        events.iter().any(|e| e["type"] == "end"),
        "object events went on"
    );
    assert!(!old.exists(), "retention made room");
    assert!(foreign.exists(), "a file the recorder did not write stays");
    // Retention freed room for the last one, which is complete.
    let last = clips(&rec).pop().expect("a clip after the error");
    let side = sidecar(&last);
    assert!(side["start_seconds"].as_f64().unwrap() > 70.0, "{side}");
    assert!(decoded_frames(&last) > 300);
}

pub(crate) const TOKEN: &str = "clips-test-token";

/// `method path` on the service with `headers`: (status, head, body bytes).
pub(crate) fn http(port: u16, method: &str, path: &str, headers: &str) -> (u16, String, Vec<u8>) {
    common::http::request(
        port,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\
             Content-Length: 0\r\n\r\n"
        ),
    )
}

pub(crate) fn authed(port: u16, method: &str, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    http(
        port,
        method,
        path,
        &format!("Authorization: Bearer {TOKEN}\r\n{extra}"),
    )
}

#[test]
fn serve_records_a_posted_stream_and_serves_its_clips() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own");
    std::fs::create_dir_all(&own).unwrap();
    let file = dir.path().join("serve.toml");
    std::fs::write(
        &file,
        format!(
            "[model]\nmodel = \"pedestrian-ssdlite\"\n[detect]\nmode = \"motion\"\nfps = 5\n[track]\n\
             [serve]\nmedia_roots = [\"{}\"]\noutput_root = \"{}\"\n",
            root().join("samples").display(),
            own.display()
        ),
    )
    .unwrap();
    let served = common::serve::start_with_token(dir.path(), &file, TOKEN);
    let port = served.port;
    let body = |name: &str, dir: &str| {
        serde_json::json!({
            "name": name,
            "input": walkway(),
            "record": {"dir": dir, "pre_capture": PRE, "post_capture": POST},
        })
        .to_string()
    };
    let post = |b: String| {
        let (_, head, body) = common::http::request(
            port,
            &format!(
                "POST /api/streams HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
                 Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{b}",
                b.len()
            ),
        );
        format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&body))
    };
    let refused = post(body("bad", "../clips"));
    assert!(
        refused.starts_with("HTTP/1.1 422") && refused.contains("record.dir"),
        "{refused}"
    );
    let added = post(body("walk", "clips"));
    assert!(added.starts_with("HTTP/1.1 201"), "{added}");

    let deadline = Instant::now() + Duration::from_secs(180);
    let list = loop {
        let (status, _, body) = authed(port, "GET", "/api/clips?source=walk", "");
        assert_eq!(status, 200);
        let list: Vec<Value> = serde_json::from_slice(&body).unwrap();
        if list.len() == 3 {
            break list;
        }
        assert!(
            Instant::now() < deadline,
            "clips: {list:?}\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (_, _, metrics) = http(port, "GET", "/metrics", "");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("ovstream_clips_total{source=\"walk\"} 3")
            && metrics.contains("ovstream_record_bytes ")
            && metrics.contains("ovstream_record_errors_total{source=\"walk\",cause=\"write\"} 0"),
        "{metrics}"
    );
    let starts: Vec<&str> = list.iter().map(|c| c["start"].as_str().unwrap()).collect();
    assert!(
        starts.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {starts:?}"
    );
    assert!(
        list.iter().all(|c| c["triggers"][0] == "person"),
        "{list:?}"
    );
    let (status, _, body) = authed(port, "GET", "/api/clips?label=car", "");
    assert_eq!((status, body.as_slice()), (200, b"[]".as_slice()));

    let id = list[0]["id"].as_str().unwrap();
    let (status, _, side) = authed(port, "GET", &format!("/api/clips/{id}"), "");
    assert_eq!(status, 200);
    let side: Value = serde_json::from_slice(&side).unwrap();
    assert_eq!(side["clip_id"], id);
    let mp4 = clips(&own.join("clips"))
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(&format!("-{id}.mp4")))
        .expect("the clip's file");
    let bytes = std::fs::read(&mp4).unwrap();
    let (status, head, part) = authed(
        port,
        "GET",
        &format!("/api/clips/{id}.mp4"),
        "Range: bytes=100-1099\r\n",
    );
    assert_eq!(status, 206, "{head}");
    assert!(
        head.to_lowercase()
            .contains(&format!("content-range: bytes 100-1099/{}", bytes.len())),
        "{head}"
    );
    assert_eq!(part, bytes[100..1100]);
    let (status, head, whole) = authed(port, "GET", &format!("/api/clips/{id}.mp4"), "");
    assert_eq!((status, whole.len()), (200, bytes.len()), "{head}");
    let (status, head, jpeg) = authed(port, "GET", &format!("/api/clips/{id}.jpg"), "");
    assert_eq!(status, 200, "{head}");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "{head}");

    assert_eq!(http(port, "GET", "/api/clips", "").0, 401, "token required");
    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd.mp4",
        "nope-1.jpg",
    ] {
        let (status, _, _) = authed(port, "GET", &format!("/api/clips/{bad}"), "");
        assert_eq!(status, 404, "{bad}");
    }
    let (status, _, _) = authed(port, "DELETE", &format!("/api/clips/{id}"), "");
    assert_eq!(status, 204);
    assert!(!mp4.exists() && !mp4.with_extension("json").exists());
    assert_eq!(authed(port, "GET", &format!("/api/clips/{id}"), "").0, 404);
    let (status, _, body) = authed(port, "GET", "/api/clips", "");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Vec<Value>>(&body).unwrap().len(),
        2
    );
    drop(served);
}

/// The slices (NAL types 1 and 5) of an AVC packet (4-byte lengths), hashed: parameter sets,
/// SEI and delimiters differ between a file and an RTSP stream of it; the pictures do not.
fn slice_hash(avc: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    let mut rest = avc;
    while rest.len() > 4 {
        let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let nal = &rest[4..(4 + n).min(rest.len())];
        if matches!(nal.first().map(|b| b & 0x1f), Some(1 | 5)) {
            nal.hash(&mut h);
        }
        rest = &rest[(4 + n).min(rest.len())..];
    }
    h.finish()
}

/// Each packet's slice hash, in decode order.
pub(crate) fn slices(mp4: &Path) -> Vec<u64> {
    let demux =
        "filesrc name=file ! qtdemux ! video/x-h264,stream-format=avc ! appsink name=sink sync=false";
    samples(demux, mp4)
        .iter()
        .map(|s| slice_hash(s.buffer().unwrap().map_readable().unwrap().as_slice()))
        .collect()
}

/// The first finished clip (its sidecar written) under `rec` while `child` records a live
/// camera: the first stretch of walkers is 10–20 s into the stream, so its clip ends ~23 s in.
/// Panics with `child`'s stderr when it ends first, or after 90 s.
pub(crate) fn first_clip(rec: &Path, child: &mut std::process::Child) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(c) = clips(rec)
            .into_iter()
            .find(|c| c.with_extension("json").exists())
        {
            return c;
        }
        if child.try_wait().unwrap().is_some() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("ovstream ended early: {err}");
        }
        assert!(Instant::now() < deadline, "no clip from the camera");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_rtsp_camera_is_recorded_from_its_own_packets() {
    let camera = RtspCamera::start(&[("/cam", copy_of(&walkway()))]);
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("clips");
    let url = camera.url("/cam");
    let toml = pipeline(dir.path(), Path::new(&url), "");
    let mut child = spawn_ovstream(&[
        "run",
        toml.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
        "--pre-capture",
        &PRE.to_string(),
        "--post-capture",
        &POST.to_string(),
        "--rtsp-transport",
        "tcp",
        "--no-progress",
    ]);
    let clip = first_clip(&rec, &mut child);
    interrupt(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted: {status}");
    let side = sidecar(&clip);
    let meta = read_jsonl(&dir.path().join("meta.jsonl"));
    let first = meta
        .iter()
        .find(|l| !objects(l).is_empty())
        .map(|l| l["timestamp"].as_f64().unwrap() / 1e9)
        .expect("a person seen");
    let start = side["start_seconds"].as_f64().unwrap();
    // Live timestamps carry network jitter: 0.2 s of slack around the keyframe rule.
    assert!(
        start <= first - PRE + 0.2 && start >= first - PRE - GOP - 0.2,
        "starts at {start} s, first person at {first} s"
    );
    let source: HashSet<u64> = slices(&walkway()).into_iter().collect();
    let mine = slices(&clip);
    assert!(mine.len() >= 300, "{} packets", mine.len());
    let copied = mine.iter().filter(|h| source.contains(h)).count();
    assert_eq!(
        copied,
        mine.len(),
        "pictures not copied from the camera's stream"
    );
    assert!(packets(&clip)[0].key, "starts on a keyframe");
    assert!(decoded_frames(&clip) >= mine.len() - 1);
}
