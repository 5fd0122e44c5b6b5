//! Recording a camera's main stream while detecting on its substream (`[source]
//! record_input`): the clips are the main stream's own packets (1280x720), detection ran on the
//! 640x360 substream, and the two meet on the system clock (pre-capture holds).

use crate::common;
use crate::common::rtsp_camera::{copy_of, RtspCamera};
use crate::common::*;
use crate::record::{
    authed, clips, first_clip, pipeline, samples, sidecar, slices, walkway, FPS, GOP, POST, PRE,
    TOKEN,
};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The stand-in camera's detection substream, its first 30 s: the main stream decoded, scaled
/// to 640x360 at 5 fps and encoded again, as a camera's second encoder does (made once per
/// checkout, under `target/tmp`). Served as a file, like the main stream, both mounts start
/// at once when played; a real-time transcoding mount starts later, under load seconds later.
fn substream(mp4: &Path) -> PathBuf {
    let path = root().join("target/tmp/camera_walkway_sub30.mp4");
    if path.is_file() {
        return path;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let partial = path.with_extension(format!("{}.part", std::process::id()));
    let chain = "qtdemux ! h264parse ! avdec_h264 ! videorate ! videoscale ! \
                 video/x-raw,width=640,height=360,framerate=5/1 ! identity eos-after=150 ! \
                 x264enc speed-preset=ultrafast key-int-max=10 bitrate=512 ! mp4mux ! filesink";
    let out = std::process::Command::new("gst-launch-1.0")
        .args(["-q", "filesrc", &format!("location={}", mp4.display()), "!"])
        .args(chain.split_whitespace())
        .arg(format!("location={}", partial.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// The picture size of an MP4's H.264 track.
fn size(mp4: &Path) -> (i32, i32) {
    let demux = "filesrc name=file ! qtdemux ! video/x-h264 ! appsink name=sink sync=false";
    let sample = &samples(demux, mp4)[0];
    let caps = sample.caps().unwrap().structure(0).unwrap().to_owned();
    (caps.get("width").unwrap(), caps.get("height").unwrap())
}

/// The camera with its main stream at `/main` and its substream at `/sub`.
fn camera() -> RtspCamera {
    let main = walkway();
    let sub = substream(&main);
    RtspCamera::start(&[("/main", copy_of(&main)), ("/sub", copy_of(&sub))])
}

#[test]
fn the_main_stream_is_recorded_while_the_substream_is_detected() {
    let main = walkway();
    let camera = camera();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("clips");
    let toml = pipeline(dir.path(), Path::new(&camera.url("/sub")), "");
    let text = std::fs::read_to_string(&toml).unwrap().replacen(
        "[source]\n",
        &format!(
            "[source]\nrecord_input = \"{}\"\nrtsp_transport = \"tcp\"\n",
            camera.url("/main")
        ),
        1,
    );
    std::fs::write(&toml, text).unwrap();
    let mut child = spawn_ovstream(&[
        "run",
        toml.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
        "--pre-capture",
        &PRE.to_string(),
        "--post-capture",
        &POST.to_string(),
        "--no-progress",
    ]);
    let clip = first_clip(&rec, &mut child);
    interrupt(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted: {status}");

    // Detection saw the substream.
    let meta = read_jsonl(&dir.path().join("meta.jsonl"));
    assert!(
        meta.iter()
            .all(|l| l["resolution"]["width"] == 640 && l["resolution"]["height"] == 360),
        "{}",
        meta[0]
    );
    let first = meta
        .iter()
        .find(|l| !objects(l).is_empty())
        .map(|l| l["timestamp"].as_f64().unwrap() / 1e9)
        .expect("a person seen");
    // The clip is the main stream's: its size, and its pictures copied.
    assert_eq!(size(&clip), (1280, 720));
    let source = slices(&main);
    let known: HashSet<u64> = source.iter().copied().collect();
    let mine = slices(&clip);
    assert!(mine.len() >= 300, "{} packets", mine.len());
    let copied = mine.iter().filter(|h| known.contains(h)).count();
    assert_eq!(
        copied,
        mine.len(),
        "pictures not copied from the main stream"
    );
    // Pre-capture in stream time, by the keyframe rule (0.2 s of network jitter).
    let start = sidecar(&clip)["start_seconds"].as_f64().unwrap();
    assert!(
        start <= first - PRE + 0.2 && start >= first - PRE - GOP - 0.2,
        "starts at {start} s, first person at {first} s"
    );
    // And in the picture: where the clip starts in the main stream. This server starts each
    // stream's timeline when it is played and ovstream opens the two one after the other, so
    // here the main stream leads by that gap (0.45 s alone, 1.24 s seen under the whole
    // suite; a camera's two streams share one timeline): the clip starts before the first
    // person is in its pictures, by pre_capture less that lead.
    let at = source.iter().position(|h| *h == mine[0]).unwrap() as f64 / FPS;
    // It ends post_capture after the last person, in the main stream's pictures too (the main
    // stream, opened first, is ahead, if anything).
    let last = meta
        .iter()
        .filter(|l| !objects(l).is_empty())
        .map(|l| l["timestamp"].as_f64().unwrap() / 1e9)
        .fold(first, f64::max);
    let end = source.iter().position(|h| Some(h) == mine.last()).unwrap() as f64 / FPS;
    eprintln!(
        "people at {first:.2}–{last:.2} s of the substream; the clip starts at {start:.2} s, \
         {at:.2}–{end:.2} s of the main stream; {} packets",
        mine.len()
    );
    assert!(
        end >= last + POST - 0.5,
        "ends {end} s into the main stream"
    );
    assert!(
        at <= first - PRE + 2.5 && at >= first - PRE - GOP - 0.2,
        "the clip starts {at} s into the main stream, first person at {first} s of the substream"
    );
}

#[test]
fn an_unreachable_record_input_fails_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let main = format!("rtsp://admin:hunter2@127.0.0.1:{port}/main");
    let toml = dir.path().join("p.toml");
    std::fs::write(
        &toml,
        format!(
            "[source]\ninput = \"test://?width=320&height=240\"\nrecord_input = \"{main}\"\n\
             [model]\nmodel = \"pedestrian-ssdlite\"\n[record]\ndir = \"{}\"\n",
            dir.path().join("clips").display()
        ),
    )
    .unwrap();
    let out = ovstream(&["run", toml.to_str().unwrap(), "--no-progress"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "an input error:\n{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}/main")) && err.contains("refused"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the password printed:\n{err}");
}

#[test]
fn serve_records_a_posted_stream_s_main_stream() {
    let camera = camera();
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own");
    std::fs::create_dir_all(&own).unwrap();
    let file = dir.path().join("serve.toml");
    std::fs::write(
        &file,
        format!(
            "[source]\nrtsp_transport = \"tcp\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n\
             [detect]\nmode = \"motion\"\nfps = 5\n[track]\n[serve]\noutput_root = \"{}\"\n",
            own.display()
        ),
    )
    .unwrap();
    let served = common::serve::start_with_token(dir.path(), &file, TOKEN);
    let port = served.port;
    let post = |body: Value| {
        let b = body.to_string();
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
    let stream = |record: Value| {
        serde_json::json!({
            "name": "door",
            "input": camera.url("/sub"),
            "record_input": camera.url("/main").replace("rtsp://", "rtsp://admin:hunter2@"),
            "record": record,
        })
    };
    let refused = post(stream(Value::Null));
    assert!(
        refused.starts_with("HTTP/1.1 422") && refused.contains("record_input needs recordings"),
        "{refused}"
    );
    let record = serde_json::json!({"dir": "clips", "pre_capture": PRE, "post_capture": POST});
    let added = post(stream(record));
    assert!(added.starts_with("HTTP/1.1 201"), "{added}");
    assert!(
        added.contains("\"record_input\":\"rtsp://admin:***@") && !added.contains("hunter2"),
        "{added}"
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let id = loop {
        let (status, _, body) = authed(port, "GET", "/api/clips?source=door", "");
        assert_eq!(status, 200);
        let list: Vec<Value> = serde_json::from_slice(&body).unwrap();
        if let Some(c) = list.first() {
            break c["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no clip\n{}", served.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    let mp4 = clips(&own.join("clips"))
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(&format!("-{id}.mp4")))
        .expect("the clip's file");
    assert_eq!(size(&mp4), (1280, 720), "the main stream's clip");
    let (_, _, view) = authed(port, "GET", "/api/streams/door", "");
    let view: Value = serde_json::from_slice(&view).unwrap();
    assert_eq!(view["record_input_state"], "streaming", "{view}");
    let (_, _, metrics) = authed(port, "GET", "/metrics", "");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("ovstream_record_input_up{source=\"door\"} 1")
            && metrics.contains("ovstream_record_input_reconnects_total{source=\"door\"} 0"),
        "{metrics}"
    );
    drop(served);
}
