//! The live view of `ovstream serve` (`/api/streams/{name}/live.mp4`, `live.mjpeg`, `live`):
//! the real binary and model, read by clients no one here wrote — GStreamer's `souphttpsrc`
//! into `qtdemux ! h264parse ! avdec_h264` and `multipartdemux ! jpegdec` — plus raw sockets
//! for viewers that never read.

use crate::common;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "live-view-token";

fn pipeline(dir: &Path, serve: &str) -> PathBuf {
    let path = dir.join("serve.toml");
    let text = format!("[model]\nmodel = \"pedestrian-ssdlite\"\n[serve]\n{serve}\n");
    std::fs::write(&path, text).unwrap();
    path
}

/// `method path` (with the token unless `token` is false): (status, body).
fn call(port: u16, method: &str, path: &str, token: bool, body: &str) -> (u16, String) {
    let auth = if token {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let (status, _, body) = common::http::request(
        port,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    (status, String::from_utf8_lossy(&body).to_string())
}

fn json(port: u16, path: &str) -> Value {
    let (status, body) = call(port, "GET", path, true, "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Adds `name` as a live test pattern and waits until it streams.
fn add_stream(port: u16, name: &str, input: &str) {
    let body = serde_json::json!({ "name": name, "input": input }).to_string();
    let (status, text) = call(port, "POST", "/api/streams", true, &body);
    assert_eq!(status, 201, "{text}");
    wait_for("the stream to stream", Duration::from_secs(60), || {
        let v = json(port, &format!("/api/streams/{name}"));
        v["state"] == "streaming" && v["frames"].as_u64().unwrap() > 5
    });
}

/// Plays `description ! appsink name=out`; an element named `src` (souphttpsrc) sends the
/// token.
fn play(description: &str) -> (gst::Pipeline, gst_app::AppSink) {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!("{description} ! appsink name=out sync=false"))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    if let Some(src) = pipeline.by_name("src") {
        let headers = gst::Structure::builder("headers")
            .field("Authorization", format!("Bearer {TOKEN}"))
            .build();
        src.set_property("extra-headers", headers);
    }
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    (pipeline, sink)
}

/// A GStreamer client of `path` of the service (with the token) through `tail`.
fn client(port: u16, path: &str, tail: &str) -> (gst::Pipeline, gst_app::AppSink) {
    play(&format!(
        "souphttpsrc name=src location=http://127.0.0.1:{port}{path} ! {tail}"
    ))
}

/// Samples pulled for `window` after the first one (which starts the clock), and the caps of
/// each; `during` runs once, a second into the window.
fn read_for(sink: &gst_app::AppSink, window: Duration, mut during: impl FnMut()) -> Vec<gst::Caps> {
    let first = sink
        .try_pull_sample(gst::ClockTime::from_seconds(30))
        .expect("a first sample within 30 s");
    let start = Instant::now();
    let mut caps = vec![first.caps().unwrap().to_owned()];
    let mut ran = false;
    while start.elapsed() < window {
        if !ran && start.elapsed() > Duration::from_secs(1) {
            during();
            ran = true;
        }
        let left = window.saturating_sub(start.elapsed());
        let wait = gst::ClockTime::from_nseconds(left.as_nanos() as u64);
        if let Some(s) = sink.try_pull_sample(wait) {
            caps.push(s.caps().unwrap().to_owned());
        }
    }
    caps
}

fn width_height(caps: &gst::Caps) -> (i32, i32) {
    let s = caps.structure(0).unwrap();
    (s.get("width").unwrap(), s.get("height").unwrap())
}

fn encoding(port: u16) -> bool {
    json(port, "/api/streams/cam/live")["encoding"] == true
}

#[test]
fn a_stream_plays_as_fragmented_mp4_and_mjpeg_and_encodes_only_while_watched() {
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), "");
    let s = common::serve::start_with_token(dir.path(), &file, TOKEN);
    let port = s.port;
    add_stream(port, "cam", "test://?width=320&height=240&fps=10");

    for path in ["live", "live.mp4", "live.mjpeg"] {
        let (status, body) = call(port, "GET", &format!("/api/streams/cam/{path}"), false, "");
        assert_eq!(status, 401, "{path} without the token: {body}");
    }
    assert_eq!(
        call(port, "GET", "/api/streams/nope/live.mp4", true, "").0,
        404
    );
    assert_eq!(
        call(port, "GET", "/api/streams/cam/live.mjpeg?fps=0", true, "").0,
        400
    );
    // Nobody watches: no encoder.
    let view = json(port, "/api/streams/cam/live");
    assert_eq!(view["encoding"], false, "{view}");
    assert_eq!(view["viewers"]["mp4"], 0);
    assert_eq!(view["urls"]["mp4"], "/api/streams/cam/live.mp4");
    let (_, metrics) = call(port, "GET", "/metrics", false, "");
    assert!(
        metrics.contains("ovstream_live_encoding{source=\"cam\"} 0"),
        "{metrics}"
    );

    // Fragmented MP4: 5 s of a 10 fps stream decode, starting at a keyframe.
    let (player, sink) = client(
        port,
        "/api/streams/cam/live.mp4",
        "qtdemux ! h264parse name=parse ! avdec_h264",
    );
    let first_is_delta = Arc::new(AtomicU32::new(2));
    let seen = Arc::clone(&first_is_delta);
    player
        .by_name("parse")
        .unwrap()
        .static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                let delta = u32::from(b.flags().contains(gst::BufferFlags::DELTA_UNIT));
                let _ = seen.compare_exchange(2, delta, Ordering::SeqCst, Ordering::SeqCst);
            }
            gst::PadProbeReturn::Ok
        });
    let mut during = None;
    let frames = read_for(&sink, Duration::from_secs(5), || {
        during = Some(json(port, "/api/streams/cam/live"));
    });
    player.set_state(gst::State::Null).unwrap();
    assert!(frames.len() >= 45, "{} frames decoded in 5 s", frames.len());
    assert_eq!(width_height(&frames[0]), (320, 240));
    assert_eq!(
        first_is_delta.load(Ordering::SeqCst),
        0,
        "the first frame is a keyframe"
    );
    let during = during.unwrap();
    assert_eq!(during["encoding"], true, "{during}");
    assert_eq!(during["viewers"]["mp4"], 1, "{during}");
    assert!(
        during["mime"].as_str().unwrap().contains("avc1.42"),
        "{during}"
    );
    let latency = &json(port, "/api/streams/cam/live")["latency_ms"];
    println!("live.mp4 latency, frame at the sink to bytes on the socket: {latency}");
    // The last viewer left: the encoder stops.
    wait_for("the encoder to stop", Duration::from_secs(10), || {
        !encoding(port)
    });

    // MJPEG at 5 pictures/s, scaled to 160 wide.
    let (viewer, sink) = client(
        port,
        "/api/streams/cam/live.mjpeg?fps=5&width=160",
        "multipartdemux ! jpegdec",
    );
    let pictures = read_for(&sink, Duration::from_secs(4), || {
        assert!(!encoding(port), "MJPEG needs no H.264 encoder");
    });
    viewer.set_state(gst::State::Null).unwrap();
    // 4 s at 5/s after the first: 20 more, give or take one at either end.
    assert!(
        (18..=22).contains(&pictures.len()),
        "{} pictures in 4 s",
        pictures.len()
    );
    assert!(pictures.iter().all(|c| width_height(c) == (160, 120)));
    let (_, metrics) = call(port, "GET", "/metrics", false, "");
    for series in [
        "ovstream_live_bytes_total{source=\"cam\",kind=\"mp4\"}",
        "ovstream_live_bytes_total{source=\"cam\",kind=\"mjpeg\"}",
        "ovstream_viewers{source=\"cam\",kind=\"mjpeg\"}",
        "ovstream_viewer_drops_total{source=\"cam\"}",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
}

/// A `live.mp4` request on a socket with a tiny receive buffer (set before it connects, so the
/// window is small from the start) that is never read.
fn stalled_viewer(port: u16) -> TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns until it is handed to
    // `TcpStream`; pointers to locals with their sizes.
    let mut s = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
        TcpStream::from_raw_fd(fd)
    };
    let request = format!(
        "GET /api/streams/cam/live.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {TOKEN}\r\n\r\n"
    );
    s.write_all(request.as_bytes()).unwrap();
    s
}

/// Whether the service closed `s` (reads what is buffered until EOF or an error).
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(_) => {}
        }
    }
}

fn frames_written(port: u16) -> u64 {
    json(port, "/api/streams/cam")["frames"].as_u64().unwrap()
}

#[test]
fn viewers_that_never_read_do_not_slow_the_stream_and_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), "viewer_timeout = 3\n");
    let s = common::serve::start_with_token(dir.path(), &file, TOKEN);
    let port = s.port;
    // Noise: megabits per second, so a socket nobody reads fills in seconds.
    add_stream(
        port,
        "cam",
        "test://?pattern=snow&width=640&height=480&fps=10",
    );
    let window = Duration::from_secs(10);
    let before = frames_written(port);
    std::thread::sleep(window);
    let alone = frames_written(port) - before;

    let mut stalled: Vec<TcpStream> = (0..15).map(|_| stalled_viewer(port)).collect();
    let (reader, _sink) = client(port, "/api/streams/cam/live.mp4", "qtdemux");
    wait_for("16 viewers", Duration::from_secs(10), || {
        json(port, "/api/streams/cam/live")["viewers"]["mp4"] == 16
    });
    let (status, body) = call(port, "GET", "/api/streams/cam/live.mp4", true, "");
    assert_eq!(status, 503, "the 17th viewer: {body}");
    assert!(body.contains("max_viewers"), "{body}");
    let before = frames_written(port);
    std::thread::sleep(window);
    let watched = frames_written(port) - before;
    assert!(
        watched as f64 >= 0.97 * alone as f64,
        "{watched} frames in {window:?} with 16 viewers, {alone} with none"
    );
    wait_for(
        "the stalled viewers to be cut off",
        Duration::from_secs(60),
        || json(port, "/api/streams/cam/live")["viewers"]["mp4"] == 1,
    );
    for s in &mut stalled {
        assert!(closed(s), "a stalled viewer's connection is closed");
    }
    reader.set_state(gst::State::Null).unwrap();
}

/// An RTSP client of `url` (with the token as Basic password unless `password` is None).
fn rtsp_client(url: &str, password: Option<&str>) -> (gst::Pipeline, gst_app::AppSink) {
    let credentials = password.map_or(String::new(), |p| format!("user-id=ovstream user-pw={p}"));
    play(&format!(
        "rtspsrc location={url} {credentials} latency=100 protocols=tcp ! rtph264depay ! \
         h264parse ! avdec_h264"
    ))
}

/// Whether `pipeline` reports an error within `limit` (a refused or missing mount).
fn fails(pipeline: &gst::Pipeline, limit: Duration) -> bool {
    let bus = pipeline.bus().unwrap();
    let failed = bus
        .timed_pop_filtered(
            gst::ClockTime::from_nseconds(limit.as_nanos() as u64),
            &[gst::MessageType::Error],
        )
        .is_some();
    pipeline.set_state(gst::State::Null).unwrap();
    failed
}

#[test]
fn every_stream_is_restreamed_over_rtsp_from_its_one_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::broker::free_port();
    let file = pipeline(dir.path(), &format!("rtsp = \"127.0.0.1:{port}\"\n"));
    let s = common::serve::start_with_token(dir.path(), &file, TOKEN);
    add_stream(s.port, "cam", "test://?width=320&height=240&fps=10");
    let body = r#"{"name": "quiet", "input": "test://?width=160&height=120&fps=5",
                   "outputs": {"rtsp": false}}"#;
    assert_eq!(call(s.port, "POST", "/api/streams", true, body).0, 201);
    let url = format!("rtsp://127.0.0.1:{port}/cam");
    let view = json(s.port, "/api/streams/cam/live");
    assert_eq!(view["urls"]["rtsp"], url.as_str(), "{view}");
    assert_eq!(view["encoding"], false, "{view}");
    wait_for("the second stream", Duration::from_secs(30), || {
        call(s.port, "GET", "/api/streams/quiet/live", true, "").0 == 200
    });
    assert!(json(s.port, "/api/streams/quiet/live")["urls"]["rtsp"].is_null());

    // Without the token: refused.
    let (anonymous, _) = rtsp_client(&url, None);
    assert!(fails(&anonymous, Duration::from_secs(20)), "no credentials");

    let (watcher, sink) = rtsp_client(&url, Some(TOKEN));
    for i in 0..20 {
        let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(20));
        let sample = sample.unwrap_or_else(|| panic!("frame {i} over RTSP"));
        assert_eq!(width_height(&sample.caps().unwrap().to_owned()), (320, 240));
    }
    let view = json(s.port, "/api/streams/cam/live");
    assert_eq!(view["encoding"], true, "{view}");
    assert_eq!(view["viewers"]["rtsp"], 1, "{view}");
    let (_, metrics) = call(s.port, "GET", "/metrics", false, "");
    let rtsp_bytes: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ovstream_live_bytes_total{source=\"cam\",kind=\"rtsp\"} "))
        .unwrap_or_else(|| panic!("RTSP bytes in {metrics}"))
        .parse()
        .unwrap();
    assert!(rtsp_bytes > 0.0, "{metrics}");
    // A live.mp4 viewer shares that encoder.
    let (player, mp4) = client(
        s.port,
        "/api/streams/cam/live.mp4",
        "qtdemux ! h264parse ! avdec_h264",
    );
    assert!(mp4
        .try_pull_sample(gst::ClockTime::from_seconds(20))
        .is_some());
    player.set_state(gst::State::Null).unwrap();

    // Removing the stream ends the client's stream and the mount.
    assert_eq!(call(s.port, "DELETE", "/api/streams/cam", true, "").0, 204);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sink.is_eos() {
        assert!(
            Instant::now() < deadline,
            "the RTSP client's stream did not end"
        );
        let _ = sink.try_pull_sample(gst::ClockTime::from_mseconds(200));
    }
    watcher.set_state(gst::State::Null).unwrap();
    let (late, _) = rtsp_client(&url, Some(TOKEN));
    assert!(fails(&late, Duration::from_secs(20)), "the mount is gone");
}

/// The NAL units of an AVC (length-prefixed) access unit without SEI, SPS, PPS and AUD: what
/// a re-muxer may add or drop while the coded slices stay the camera's.
fn slices(au: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= au.len() {
        let n = u32::from_be_bytes(au[i..i + 4].try_into().unwrap()) as usize;
        let nal = &au[i + 4..(i + 4 + n).min(au.len())];
        if !nal.is_empty() && !matches!(nal[0] & 0x1f, 6..=9) {
            out.extend_from_slice(nal);
        }
        i += 4 + n;
    }
    out
}

/// Every access unit `qtdemux` gives for `source`, as [`slices`].
fn access_units(source: &str, limit: Duration) -> Vec<Vec<u8>> {
    let (pipeline, sink) = play(&format!("{source} ! qtdemux"));
    let deadline = Instant::now() + limit;
    let mut units = Vec::new();
    while Instant::now() < deadline {
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) else {
            break;
        };
        let map = sample.buffer().unwrap().map_readable().unwrap();
        units.push(slices(&map));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    units
}

#[test]
fn raw_is_the_cameras_own_h264_copied_or_the_decoded_frames_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let samples = common::root().join("samples");
    let file = dir.path().join("serve.toml");
    std::fs::write(
        &file,
        format!(
            "[model]\nmodel = \"pedestrian-ssdlite\"\n[source]\nloop = true\nrealtime = true\n\
             [serve]\nmedia_roots = [\"{}\"]\n",
            samples.display()
        ),
    )
    .unwrap();
    let s = common::serve::start_with_token(dir.path(), &file, TOKEN);
    let clip = samples.join("camera_walkway.mp4");
    add_stream(s.port, "walk", clip.to_str().unwrap());
    let url = format!(
        "http://127.0.0.1:{}/api/streams/walk/live.mp4?raw=1",
        s.port
    );
    let received = access_units(
        &format!("souphttpsrc name=src location={url}"),
        Duration::from_secs(4),
    );
    assert!(
        received.len() >= 30,
        "{} access units in 4 s",
        received.len()
    );
    let view = json(s.port, "/api/streams/walk/live");
    assert_eq!(view["raw_copied"], true, "{view}");
    assert!(
        view["raw_mime"].as_str().unwrap().contains("avc1.4D"),
        "the camera's Main profile: {view}"
    );
    let own: std::collections::HashSet<Vec<u8>> = access_units(
        &format!("filesrc location={}", clip.display()),
        Duration::from_secs(60),
    )
    .into_iter()
    .collect();
    assert!(
        received.iter().all(|au| !au.is_empty()),
        "coded slices in every unit"
    );
    assert!(
        received.iter().any(|au| au.len() > 10_000),
        "a keyframe's slices"
    );
    let copied = received.iter().filter(|au| own.contains(*au)).count();
    assert_eq!(
        copied,
        received.len(),
        "every access unit is one of the file's own"
    );

    // A test pattern has nothing to copy: its frames as decoded, encoded.
    add_stream(s.port, "cam", "test://?width=320&height=240&fps=10");
    let (player, sink) = client(
        s.port,
        "/api/streams/cam/live.mp4?raw=1",
        "qtdemux ! h264parse ! avdec_h264",
    );
    let frames = read_for(&sink, Duration::from_secs(2), || {});
    player.set_state(gst::State::Null).unwrap();
    assert!(frames.len() >= 15, "{} frames in 2 s", frames.len());
    assert_eq!(json(s.port, "/api/streams/cam/live")["raw_copied"], false);
}

#[test]
fn a_stream_with_an_mp4_output_shares_its_encoder_with_the_live_view() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let port = common::broker::free_port();
    let file = pipeline(
        dir.path(),
        &format!(
            "output_root = \"{}\"\nrtsp = \"127.0.0.1:{port}\"\n",
            out.display()
        ),
    );
    let s = common::serve::start_with_token(dir.path(), &file, TOKEN);
    let body = r#"{"name": "cam", "input": "test://?width=320&height=240&fps=10",
                   "outputs": {"mp4": "{name}.mp4"}}"#;
    assert_eq!(call(s.port, "POST", "/api/streams", true, body).0, 201);
    wait_for("the stream to stream", Duration::from_secs(60), || {
        let v = json(s.port, "/api/streams/cam");
        v["state"] == "streaming" && v["frames"].as_u64().unwrap() > 5
    });
    let (player, sink) = client(
        s.port,
        "/api/streams/cam/live.mp4",
        "qtdemux ! h264parse ! avdec_h264",
    );
    let (watcher, rtsp) = rtsp_client(&format!("rtsp://127.0.0.1:{port}/cam"), Some(TOKEN));
    let mut during = None;
    let frames = read_for(&sink, Duration::from_secs(4), || {
        during = Some(json(s.port, "/api/streams/cam/live"));
    });
    assert!(
        rtsp.try_pull_sample(gst::ClockTime::from_seconds(20))
            .is_some(),
        "RTSP frames from the shared encoder"
    );
    player.set_state(gst::State::Null).unwrap();
    watcher.set_state(gst::State::Null).unwrap();
    assert!(frames.len() >= 30, "{} frames in 4 s", frames.len());
    let during = during.unwrap();
    assert_eq!(during["shared_encoder"], true, "{during}");
    assert_eq!(
        during["encoding"], false,
        "no encoder of the live view's own: {during}"
    );
    // The file is whole: the share took nothing from it.
    assert_eq!(call(s.port, "DELETE", "/api/streams/cam", true, "").0, 204);
    let (decoded, w, h) = common::decode_mp4(&out.join("cam.mp4"));
    assert!(decoded > 40, "{decoded} frames in the MP4 output");
    assert_eq!((w, h), (320, 240));
}
