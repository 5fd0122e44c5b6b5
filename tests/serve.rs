//! `ovstream serve`: the real binary, the real model, HTTP over 127.0.0.1 (a plain
//! HTTP/1.1 client here, so nothing but the service's own stack is under test).

mod common;

use common::broker::free_port;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cret-token";

/// A running `ovstream serve` on a port the kernel picked, killed when dropped.
struct Service {
    served: common::serve::Served,
    port: u16,
}

impl Service {
    fn start(dir: &Path, pipeline: &Path) -> Service {
        let served = common::serve::start_with_token(dir, pipeline, TOKEN);
        let port = served.port;
        Service { served, port }
    }

    /// `method path` with an optional token and body: (status, body).
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let body = body.unwrap_or("");
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut text = Vec::new();
        let _ = s.read_to_end(&mut text);
        let text = String::from_utf8_lossy(&text).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    /// `GET path` with the token: the raw body of a 200 response.
    fn bytes(&self, path: &str) -> Vec<u8> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Authorization: Bearer {TOKEN}\r\n\r\n"
        );
        s.write_all(request.as_bytes()).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&all[..split]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_lowercase().contains("content-type: image/jpeg"),
            "{head}"
        );
        all[split + 4..].to_vec()
    }

    fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (status, text) = self.call(method, path, Some(TOKEN), body);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn streams(&self) -> Vec<Value> {
        let (status, v) = self.api("GET", "/api/streams", None);
        assert_eq!(status, 200, "{v}");
        v.as_array().unwrap().clone()
    }

    fn stream(&self, name: &str) -> Value {
        self.streams()
            .into_iter()
            .find(|s| s["name"] == name)
            .unwrap_or(Value::Null)
    }

    /// SIGTERM; waits for the exit; returns (exit code, stderr).
    fn stop(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.served.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (status, log) = self.served.wait();
        (status.code(), log)
    }
}

fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A service pipeline file: pedestrian SSD, JSON per stream in `dir/out`, plus `extra`.
fn pipeline(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("serve.toml");
    let text = format!(
        "[model]\nmodel = \"pedestrian-ssdlite\"\n[output]\nmetadata = \"{}/out/{{name}}.jsonl\"\n{extra}",
        dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn add(s: &Service, name: &str, input: &str) -> (u16, Value) {
    let body = serde_json::json!({ "name": name, "input": input }).to_string();
    s.api("POST", "/api/streams", Some(&body))
}

/// Width and height from a baseline JPEG's SOF0 segment.
fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if marker == 0xC0 {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return Some((u32::from(w), u32::from(h)));
        }
        i += 2 + len;
    }
    None
}

/// Frame numbers in a stream's JSON lines, in file order.
fn frames_of(path: &Path) -> Vec<u64> {
    read_jsonl(path)
        .iter()
        .map(|r| r["frame"].as_u64().unwrap())
        .collect()
}

#[test]
fn streams_come_and_go_over_the_api_and_come_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), "");
    let s = Service::start(dir.path(), &file);
    for name in ["cam1", "cam2", "cam3"] {
        let (status, v) = add(&s, name, "test://?width=320&height=240&fps=10");
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["name"], name);
    }
    wait_for("three streaming streams", Duration::from_secs(60), || {
        s.streams()
            .iter()
            .all(|v| v["state"] == "streaming" && v["frames"].as_u64().unwrap() > 5)
    });
    assert_eq!(s.call("GET", "/readyz", None, None).0, 200);
    let before: Vec<u64> = ["cam1", "cam3"]
        .iter()
        .map(|n| s.stream(n)["frames"].as_u64().unwrap())
        .collect();
    let (status, _) = s.api("DELETE", "/api/streams/cam2", None);
    assert_eq!(status, 204);
    assert_eq!(s.api("GET", "/api/streams/cam2", None).0, 404);
    wait_for("the others to keep going", Duration::from_secs(30), || {
        ["cam1", "cam3"]
            .iter()
            .zip(&before)
            .all(|(n, b)| s.stream(n)["frames"].as_u64().unwrap() > b + 10)
    });
    let view = s.stream("cam1");
    assert_eq!(view["model"], "pedestrian-ssdlite");
    assert!(view["fps"].as_f64().unwrap() > 5.0, "{view}");
    assert!(view["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{view}");
    // Prometheus text on the same port, open without the token.
    let (status, metrics) = s.call("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("ovstream_frames_total{source=\"cam1\"}"),
        "{metrics}"
    );
    // (frames, drops) per survivor; a live source drops its oldest frame when the box falls
    // behind (counted), which leaves a gap in the frame numbers.
    let reported: Vec<(u64, u64)> = ["cam1", "cam3"]
        .iter()
        .map(|n| {
            let v = s.stream(n);
            (v["frames"].as_u64().unwrap(), v["drops"].as_u64().unwrap())
        })
        .collect();
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    // Every frame of the survivors was written, in order, across the delete: frame numbers
    // rise, with gaps (from frame 0 on) only where the source counted drops.
    for (name, (reported, drops)) in ["cam1", "cam3"].into_iter().zip(reported) {
        let frames = frames_of(&dir.path().join(format!("out/{name}.jsonl")));
        assert!(
            frames.len() as u64 >= reported,
            "{name}: {} frames in the file, {reported} reported before the stop",
            frames.len()
        );
        assert!(
            frames.windows(2).all(|w| w[0] < w[1]),
            "{name}: frame numbers out of order"
        );
        let missing = frames.last().unwrap() + 1 - frames.len() as u64;
        assert!(
            missing == 0 || drops > 0,
            "{name}: {missing} frame numbers missing, no drop counted"
        );
    }
    // The removed stream's file was finalized too.
    assert!(!frames_of(&dir.path().join("out/cam2.jsonl")).is_empty());

    // A restart restores the two from the state file.
    let s = Service::start(dir.path(), &file);
    let names: Vec<String> = s
        .streams()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["cam1", "cam3"]);
    wait_for(
        "restored streams streaming",
        Duration::from_secs(60),
        || s.streams().iter().all(|v| v["state"] == "streaming"),
    );
}

#[test]
fn bad_requests_get_the_right_status_and_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let file = pipeline(
        dir.path(),
        &format!("[serve]\nmedia_roots = [\"{}\"]\n", media.display()),
    );
    let s = Service::start(dir.path(), &file);
    assert_eq!(s.call("GET", "/api/streams", None, None).0, 401);
    assert_eq!(s.call("GET", "/api/streams", Some("wrong"), None).0, 401);
    assert_eq!(add(&s, "a", "test://?width=320&height=240&fps=5").0, 201);
    let (status, v) = add(&s, "a", "test://");
    assert_eq!(status, 409);
    assert!(v["error"].as_str().unwrap().contains("exists"), "{v}");
    let (status, v) = s.api("POST", "/api/streams", Some("{\"name\": "));
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].is_string());
    let big = format!(
        "{{\"name\":\"b\",\"input\":\"test://\",\"x\":\"{}\"}}",
        "a".repeat(70 * 1024)
    );
    assert_eq!(s.api("POST", "/api/streams", Some(&big)).0, 413);
    let (status, v) = add(&s, "c", "ftp://host/x.mp4");
    assert_eq!(status, 422);
    assert!(
        v["error"].as_str().unwrap().contains("unknown scheme"),
        "{v}"
    );
    let outside = vtest().display().to_string();
    let (status, v) = add(&s, "d", &outside);
    assert_eq!(status, 422);
    assert!(v["error"].as_str().unwrap().contains("media_roots"), "{v}");
    let own = r#"{"name": "o", "input": "test://", "outputs": {"mp4": "o.mp4"}}"#;
    let (status, v) = s.api("POST", "/api/streams", Some(own));
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("output_root"), "{v}");
    let (status, v) = add(&s, "bad name!", "test://");
    assert_eq!(status, 422);
    assert!(v["error"].as_str().unwrap().contains("stream name"), "{v}");
    let (status, v) = add(&s, "huge", "test://?width=16000&height=16000");
    assert_eq!(status, 422, "a test pattern over 7680x4320: {v}");
    assert!(v["error"].as_str().unwrap().contains("1 to 7680"), "{v}");
    let (status, v) = add(&s, "e", "test://?colour=red");
    assert_eq!(status, 422, "{v}");
    // Only /dev/videoN (or a link to one) reaches v4l2src.
    let (status, v) = add(&s, "e", "/dev/video../../etc/passwd");
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("/dev/video0"), "{v}");
    let low = r#"{"name": "g", "input": "test://", "threshold": 0.2}"#;
    let (status, v) = s.api("POST", "/api/streams", Some(low));
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("floor"), "{v}");
    let class = r#"{"name": "g", "input": "test://", "classes": ["unicorn"]}"#;
    let (status, v) = s.api("POST", "/api/streams", Some(class));
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("unknown class"),
        "{v}"
    );
    // A file under a media root is fine.
    std::fs::copy(vtest(), media.join("vtest.avi")).unwrap();
    let inside = media.join("vtest.avi").display().to_string();
    assert_eq!(add(&s, "f", &inside).0, 201);
    assert_eq!(s.api("GET", "/api/streams/nope", None).0, 404);
    let (status, doc) = s.api("GET", "/api/openapi.json", None);
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert!(doc["paths"]["/api/streams/{name}/snapshot.jpg"].is_object());
    // No frame yet for a stream that is only starting, or none at all: a JSON error.
    assert_eq!(s.api("GET", "/api/streams/nope/snapshot.jpg", None).0, 404);
    assert_eq!(s.api("DELETE", "/api/streams/nope", None).0, 404);
    assert_eq!(s.api("PATCH", "/api/streams/nope", Some("{}")).0, 404);
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn an_unreachable_camera_reconnects_without_touching_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), "");
    let s = Service::start(dir.path(), &file);
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
    assert_eq!(add(&s, "ok", "test://?width=320&height=240&fps=10").0, 201);
    let dead = format!("rtsp://127.0.0.1:{}/nothing", free_port());
    assert_eq!(add(&s, "dead", &dead).0, 201);
    wait_for(
        "the dead camera to be reconnecting",
        Duration::from_secs(60),
        || {
            let v = s.stream("dead");
            v["state"] == "reconnecting" && v["last_error"].is_string()
        },
    );
    wait_for("the other to stream", Duration::from_secs(60), || {
        s.stream("ok")["frames"].as_u64().unwrap() > 20
    });
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// One build path: a `[source]` key reaches a stream of `serve` exactly as it reaches `run`
/// (serve used to drop `stall_timeout`, so its streams waited the default 5 s). A listener
/// that accepts and never answers stands in for a camera that hangs: with `stall_timeout = 1`
/// and `max_reconnects = 1` both give up after one reconnect, saying "no frame for 1 s".
#[test]
fn source_settings_reach_serve_streams_as_they_reach_run() {
    let dir = tempfile::tempdir().unwrap();
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = black_hole.local_addr().unwrap().port();
    let uri = format!("rtsp://127.0.0.1:{port}/cam");
    let file = pipeline(
        dir.path(),
        "[source]\nstall_timeout = 1.0\nmax_reconnects = 1\n",
    );
    let out = ovstream(&[
        "run",
        file.to_str().unwrap(),
        "--input",
        &uri,
        "--no-progress",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("gave up after 1 reconnect(s)"), "{err}");
    assert!(err.contains("no frame for 1 s"), "{err}");

    let s = Service::start(dir.path(), &file);
    assert_eq!(add(&s, "hung", &uri).0, 201);
    wait_for(
        "the hung camera to give up",
        Duration::from_secs(60),
        || s.stream("hung")["state"] == "failed",
    );
    let view = s.stream("hung");
    let why = view["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("no frame for 1 s"), "{view}");
    assert_eq!(view["reconnects"], 1, "{view}");
}

#[test]
fn a_line_and_a_threshold_patched_onto_a_running_stream_apply_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::copy(vtest(), media.join("vtest.avi")).unwrap();
    let file = pipeline(
        dir.path(),
        &format!(
            "[source]\nloop = true\n[serve]\nmedia_roots = [\"{}\"]\n",
            media.display()
        ),
    );
    let s = Service::start(dir.path(), &file);
    let input = media.join("vtest.avi").display().to_string();
    assert_eq!(add(&s, "square", &input).0, 201);
    wait_for("frames", Duration::from_secs(60), || {
        s.stream("square")["frames"].as_u64().unwrap() > 50
    });
    let patch =
        r#"{"lines": [{"name": "mid", "points": [[0.5, 0.0], [0.5, 1.0]]}], "threshold": 0.8}"#;
    let (status, v) = s.api("PATCH", "/api/streams/square", Some(patch));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["lines"][0]["name"], "mid");
    assert_eq!(v["threshold"], 0.8);
    let bad = r#"{"lines": [{"name": "z", "points": [[0.5, 0.5], [0.5, 0.5]]}]}"#;
    let (status, v) = s.api("PATCH", "/api/streams/square", Some(bad));
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("zero-length"), "{v}");
    wait_for("crossings", Duration::from_secs(120), || {
        let (_, m) = s.call("GET", "/metrics", None, None);
        m.lines()
            .any(|l| l.starts_with("ovstream_line_crossings_total{") && l.contains("line=\"mid\""))
    });
    // The events behind it, newest first; and a snapshot of the stream's size.
    let (status, events) = s.api(
        "GET",
        "/api/events?source=square&type=line_cross&limit=3",
        None,
    );
    assert_eq!(status, 200, "{events}");
    let events = events.as_array().unwrap();
    assert!(!events.is_empty() && events.len() <= 3, "{events:?}");
    assert!(events
        .iter()
        .all(|e| e["line"] == "mid" && e["source"] == "square"));
    let frames: Vec<u64> = events
        .iter()
        .map(|e| e["frame"].as_u64().unwrap())
        .collect();
    assert!(
        frames.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {frames:?}"
    );
    for path in [
        "/api/streams/square/snapshot.jpg",
        "/api/streams/square/snapshot.jpg?raw=1",
    ] {
        let jpeg = s.bytes(path);
        assert_eq!(jpeg_size(&jpeg), Some((768, 576)), "{path}");
    }
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    let records = read_jsonl(&dir.path().join("out/square.jsonl"));
    let first = records
        .iter()
        .position(|r| r.get("analytics").is_some())
        .expect("frames with analytics after the patch");
    assert!(first > 0, "the line came after the start");
    assert!(
        records
            .iter()
            .enumerate()
            .all(|(i, r)| r["frame"].as_u64() == Some(i as u64)),
        "frame numbers continue through the patch"
    );
    let last = &records.last().unwrap()["analytics"]["lines"]["mid"];
    assert!(
        last["in"].as_u64().unwrap() + last["out"].as_u64().unwrap() > 0,
        "{last}"
    );
}

#[test]
fn sigterm_finalizes_every_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own");
    let file = pipeline(
        dir.path(),
        &format!(
            "mp4 = \"{}/out/{{name}}.mp4\"\n[serve]\noutput_root = \"{}\"\n",
            dir.path().display(),
            own.display()
        ),
    );
    // `mp4` belongs to [output]: the helper's table is the last one in the file.
    let s = Service::start(dir.path(), &file);
    for name in ["m1", "m2"] {
        assert_eq!(add(&s, name, "test://?width=320&height=240&fps=15").0, 201);
    }
    // A stream's own files, under the output root only.
    let body = |name: &str, mp4: &str| {
        serde_json::json!({
            "name": name,
            "input": "test://?width=320&height=240&fps=15",
            "outputs": {"mp4": mp4, "events": "cams/{name}-events.jsonl"}
        })
        .to_string()
    };
    for (path, why) in [("../m4.mp4", "`..`"), ("/tmp/m4.mp4", "relative")] {
        let (status, v) = s.api("POST", "/api/streams", Some(&body("m4", path)));
        assert_eq!(status, 422, "{v}");
        assert!(v["error"].as_str().unwrap().contains(why), "{v}");
    }
    let (status, v) = s.api("POST", "/api/streams", Some(&body("m3", "cams/{name}.mp4")));
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["outputs"]["mp4"], "cams/{name}.mp4");
    let (status, v) = s.api("POST", "/api/streams", Some(&body("m4", "cams/m3.mp4")));
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("m3"), "{v}");
    wait_for("frames", Duration::from_secs(60), || {
        s.streams()
            .iter()
            .all(|v| v["frames"].as_u64().unwrap() > 30)
    });
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    for path in ["out/m1.mp4", "out/m2.mp4", "own/cams/m3.mp4"] {
        let (frames, w, h) = decode_mp4(&dir.path().join(path));
        assert!(frames > 30, "{path}: {frames} frames");
        assert_eq!((w, h), (320, 240));
    }
    assert!(
        !dir.path().join("out/m3.mp4").exists(),
        "its own mp4 replaces the file's"
    );
    let events = read_jsonl(&own.join("cams/m3-events.jsonl"));
    assert!(events.iter().all(|e| e["source"] == "m3"), "{events:?}");
}

/// A raw request to the service: (status, body).
fn raw(port: u16, request: &str) -> (u16, String) {
    let (status, _, body) = common::http::request(port, request);
    (status, String::from_utf8_lossy(&body).to_string())
}

#[test]
fn cross_site_requests_and_foreign_hosts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), "");
    let s = Service::start(dir.path(), &file);
    let port = s.port;
    let post = |name: &str, headers: &str| {
        let body = format!(r#"{{"name":"{name}","input":"test://?fps=5&width=160&height=120"}}"#);
        raw(
            port,
            &format!(
                "POST /api/streams HTTP/1.1\r\nConnection: close\r\n\
                 Authorization: Bearer {TOKEN}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let own = format!("Host: 127.0.0.1:{port}\r\n");
    // A form or text/plain post is what a foreign page sends without a CORS preflight.
    let (status, body) = post("a", &format!("{own}Content-Type: text/plain\r\n"));
    assert_eq!(status, 415, "{body}");
    let (status, body) = post(
        "b",
        &format!("{own}Origin: http://evil.example\r\nContent-Type: application/json\r\n"),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("evil.example"), "{body}");
    // DNS rebinding: a name that resolves to 127.0.0.1 but is not this service's.
    let (status, body) = post(
        "c",
        &format!("Host: rebind.example:{port}\r\nContent-Type: application/json\r\n"),
    );
    assert_eq!(status, 403, "{body}");
    let (status, _) = raw(
        port,
        &format!(
            "GET /api/streams HTTP/1.1\r\nConnection: close\r\nHost: rebind.example\r\n\
             Authorization: Bearer {TOKEN}\r\n\r\n"
        ),
    );
    assert_eq!(status, 403, "reading through a rebound name");
    // The service's own page (same origin) and plain clients work.
    let (status, body) = post(
        "ok",
        &format!(
            "Host: localhost:{port}\r\nOrigin: http://localhost:{port}\r\n\
             Content-Type: application/json; charset=utf-8\r\n"
        ),
    );
    assert_eq!(status, 201, "{body}");
    let names: Vec<Value> = s.streams().iter().map(|v| v["name"].clone()).collect();
    assert_eq!(names, ["ok"], "nothing refused was added");
    let (status, _) = raw(
        port,
        "GET /healthz HTTP/1.1\r\nConnection: close\r\nHost: x\r\n\r\n",
    );
    assert_eq!(status, 200, "probes stay open");
}

#[test]
fn idle_connections_cannot_exhaust_the_service() {
    use common::serve::start_limited;
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), "");
    // 256 file descriptors, 300 sockets that never send a byte.
    let served = start_limited(
        &[file.to_str().unwrap()],
        Duration::from_secs(60),
        Some(256),
    );
    let port = served.port;
    let idle: Vec<std::net::TcpStream> = (0..300)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Over the connection cap: a clear 503 at once, not a hang.
    let started = Instant::now();
    let (status, body) = common::http::get(port, "/healthz");
    assert!(
        (status == 503 && body.contains("too many connections")) || status == 200,
        "{status} {body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The idle ones are closed after the header timeout (10 s); then the service answers.
    wait_for(
        "the idle sockets to be closed",
        Duration::from_secs(30),
        || common::http::get(port, "/healthz").0 == 200,
    );
    let mut closed = 0;
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 512];
        if s.read(&mut buf).is_ok() {
            closed += 1; // EOF, or the 503 of one over the cap
        }
    }
    assert_eq!(closed, 300, "every idle socket was answered or closed");
    let log = served.log();
    let accept_lines = log.matches("accept failed").count();
    assert!(
        accept_lines <= 3,
        "{accept_lines} accept errors logged:\n{log}"
    );
}

/// `ovstream serve FILE EXTRA…` with the token, the state file `dir/state.json` and `envs`.
fn start_with(dir: &Path, pipeline: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Service {
    let token = dir.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let state = dir.join("state.json");
    let mut args = vec![
        pipeline.to_str().unwrap(),
        "--api-token-file",
        token.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend(extra);
    let served = common::serve::start_env(&args, Duration::from_secs(90), envs);
    let port = served.port;
    Service { served, port }
}

/// `ovstream serve FILE --shard K/3` (see [`start_with`]).
fn start_shard(dir: &Path, pipeline: &Path, shard: u32) -> Service {
    start_with(dir, pipeline, &["--shard", &format!("{shard}/3")], &[])
}

/// The names in the state file.
fn state_names(dir: &Path) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(dir.join("state.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// Issue 32, items 4 and 8: a restored stream is checked like a POSTed one (one that fails is
/// listed `failed` with why, and kept in the state file); the state file holds only streams
/// added over the API, so a replica restarted with another shard runs that shard's file
/// sources, not the ones it ran before.
#[test]
fn restored_streams_are_checked_and_file_sources_follow_the_file_and_shard() {
    use std::collections::BTreeSet;
    let dir = tempfile::tempdir().unwrap();
    let mut extra = format!("[serve]\nmedia_roots = [\"{}\"]\n", dir.path().display());
    let cameras: Vec<String> = (1..=6).map(|i| format!("cam{i}")).collect();
    for c in &cameras {
        extra += &format!(
            "[[sources]]\nname = \"{c}\"\ninput = \"test://?fps=5&width=160&height=120\"\n"
        );
    }
    let file = pipeline(dir.path(), &extra);
    // camera → shard, as the replicas split them.
    let out = ovstream(&["shards", file.to_str().unwrap(), "--replicas", "3"]);
    assert_ok(&out);
    let table: Vec<(String, u32)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let name = f.next()?.to_string();
            let shard = f.next()?.parse().ok()?;
            name.starts_with("cam").then_some((name, shard))
        })
        .collect();
    let owned = |k: u32| -> BTreeSet<String> {
        table
            .iter()
            .filter(|(_, s)| *s == k)
            .map(|(c, _)| c.clone())
            .collect()
    };
    let (first, second) = (0..3)
        .flat_map(|a| (0..3).map(move |b| (a, b)))
        .find(|&(a, b)| a != b && !owned(a).is_empty() && owned(a) != owned(b))
        .expect("two shards that run different cameras");
    // A state file from before: one good stream, two that a POST would refuse, and a stale
    // copy of a file source (older versions saved those too).
    let state = serde_json::json!({"streams": [
        {"name": "good", "input": "test://?fps=5&width=160&height=120"},
        {"name": "outside", "input": "/etc/hostname"},
        {"name": "hot", "input": "test://?fps=5&width=160&height=120", "threshold": -5.0},
        {"name": cameras[0], "input": "test://?pattern=ball&fps=5&width=160&height=120"},
    ]});
    std::fs::write(dir.path().join("state.json"), state.to_string()).unwrap();

    let s = start_shard(dir.path(), &file, first);
    let names: BTreeSet<String> = s
        .streams()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let mut want: BTreeSet<String> = ["good", "outside", "hot"].map(String::from).into();
    want.extend(owned(first));
    assert_eq!(names, want);
    for (name, why) in [("outside", "media_roots"), ("hot", "threshold")] {
        let v = s.stream(name);
        assert_eq!(v["state"], "failed", "{v}");
        let error = v["last_error"].as_str().unwrap_or("");
        assert!(
            error.contains("restored from the state file but refused") && error.contains(why),
            "{v}"
        );
    }
    assert_ne!(s.stream("good")["state"], "failed");
    // A POST saves the state: the API's streams and the refused ones, no file source.
    let (status, v) = add(&s, "api1", "test://?fps=5&width=160&height=120");
    assert_eq!(status, 201, "{v}");
    let api_streams: BTreeSet<String> = ["good", "outside", "hot", "api1"].map(String::from).into();
    wait_for("the state file saved", Duration::from_secs(10), || {
        state_names(dir.path()) == api_streams
    });
    drop(s);

    // Restarted as another shard: that shard's file sources, the same API streams.
    let s = start_shard(dir.path(), &file, second);
    let names: BTreeSet<String> = s
        .streams()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let mut want = api_streams.clone();
    want.extend(owned(second));
    assert_eq!(names, want);
    // Deleting a refused one removes it from the state file too.
    let (status, v) = s.api("DELETE", "/api/streams/hot", None);
    assert_eq!(status, 204, "{v}");
    wait_for("hot gone from the state", Duration::from_secs(10), || {
        !state_names(dir.path()).contains("hot")
    });
}

/// Issue 32, item 6: `[serve] allowed_inputs` limits what the API may add (and what is
/// restored), by scheme, host, address block and port; the refusal never repeats the input.
#[test]
fn allowed_inputs_limit_what_the_api_may_add() {
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(
        dir.path(),
        "[serve]\nallowed_inputs = [\"test\", \"rtsp://127.0.0.0/8\", \"http://localhost:8080\"]\n",
    );
    let state = serde_json::json!({"streams": [
        {"name": "old", "input": "http://10.0.0.1/cam.mjpg"},
    ]});
    std::fs::write(dir.path().join("state.json"), state.to_string()).unwrap();
    let s = Service::start(dir.path(), &file);
    for refused in [
        "http://10.0.0.1/cam.mjpg",
        "rtsp://admin:hunter2@192.168.1.10/stream1",
        "http://localhost/cam.mjpg",
        "/dev/video0",
    ] {
        let (status, v) = add(&s, "x", refused);
        assert_eq!(status, 422, "{refused}: {v}");
        let error = v["error"].as_str().unwrap();
        assert!(
            error.contains("allowed_inputs") && !error.contains("hunter2"),
            "{error}"
        );
    }
    let (status, v) = add(&s, "cam", "rtsp://admin:hunter2@127.0.0.1:1/stream1");
    assert_eq!(status, 201, "{v}");
    let (status, v) = add(&s, "pattern", "test://?fps=5&width=160&height=120");
    assert_eq!(status, 201, "{v}");
    let old = s.stream("old");
    assert_eq!(old["state"], "failed", "{old}");
    assert!(
        old["last_error"]
            .as_str()
            .unwrap()
            .contains("allowed_inputs"),
        "{old}"
    );
}

/// A fake RTSP camera on 127.0.0.1 that asks for Basic authentication and returns the
/// `Authorization` header rtspsrc answers with (then the test is done with it).
fn rtsp_auth_catcher() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = conn.read(&mut chunk) {
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let request = String::from_utf8_lossy(&buf[..end]).to_string();
                    buf.drain(..end + 4);
                    let cseq = request
                        .lines()
                        .find_map(|l| l.strip_prefix("CSeq:"))
                        .unwrap_or("1")
                        .trim()
                        .to_string();
                    if let Some(auth) = request
                        .lines()
                        .find_map(|l| l.strip_prefix("Authorization:"))
                    {
                        let _ = tx.send(auth.trim().to_string());
                    }
                    let answer = format!(
                        "RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n\
                         WWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n"
                    );
                    if conn.write_all(answer.as_bytes()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    (port, rx)
}

/// Issue 32, item 3: a camera password given as `${env:OVSTREAM_…}` is what the state file,
/// the API and the log hold; the camera gets the secret itself (checked at a fake RTSP server
/// that asks for Basic authentication).
#[test]
fn a_password_from_the_environment_reaches_the_camera_and_is_never_kept() {
    const SECRET: &str = "hunter2:w/ith@odd";
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), "");
    let state = dir.path().join("state.json");
    let s = start_with(
        dir.path(),
        &file,
        &[],
        &[("OVSTREAM_TEST_CAM_PASSWORD", SECRET)],
    );
    let (port, auth) = rtsp_auth_catcher();
    let input = format!("rtsp://admin:${{env:OVSTREAM_TEST_CAM_PASSWORD}}@127.0.0.1:{port}/live");
    let (status, v) = add(&s, "door", &input);
    assert_eq!(status, 201, "{v}");
    let header = auth
        .recv_timeout(Duration::from_secs(30))
        .expect("the camera was asked with credentials");
    let basic = header.strip_prefix("Basic ").expect("Basic");
    let decoded = String::from_utf8(common::webdriver::decode_base64(basic)).unwrap();
    assert_eq!(decoded, format!("admin:{SECRET}"));
    // Kept as the reference: the state file, the API; the log never has the secret.
    let kept = std::fs::read_to_string(&state).unwrap();
    assert!(kept.contains("${env:OVSTREAM_TEST_CAM_PASSWORD}"), "{kept}");
    let listed = s.stream("door").to_string();
    for text in [&kept, &listed] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    // References that may not or cannot be read are refused at once.
    for (bad, says) in [
        (
            "rtsp://admin:${env:HOME}@127.0.0.1/x",
            "only variables named",
        ),
        (
            "rtsp://admin:${env:OVSTREAM_NOT_SET_Y}@127.0.0.1/x",
            "is not set",
        ),
        (
            "rtsp://127.0.0.1/${env:OVSTREAM_TEST_CAM_PASSWORD}",
            "password only",
        ),
    ] {
        let (status, v) = add(&s, "bad", bad);
        assert_eq!(status, 422, "{bad}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{v}");
    }
    let (_, log) = s.stop();
    assert!(!log.contains("hunter2"), "{log}");
}

/// Issue 32, item 15 (file descriptors): a stream added and deleted 30 times leaves the
/// service with the descriptors it had (each removed stream's last frame kept its decoder's
/// buffer pool — a socket pair — alive).
#[test]
fn streams_added_and_deleted_give_their_file_descriptors_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = Service::start(dir.path(), &pipeline(dir.path(), ""));
    let fd_dir = format!("/proc/{}/fd", s.served.child.id());
    let fds = || std::fs::read_dir(&fd_dir).unwrap().count();
    let cycle = || {
        let (status, v) = add(&s, "cam", "test://?fps=10&width=160&height=120");
        assert_eq!(status, 201, "{v}");
        wait_for("cam streaming", Duration::from_secs(30), || {
            s.stream("cam")["frames"].as_u64() > Some(2)
        });
        let (status, v) = s.api("DELETE", "/api/streams/cam", None);
        assert_eq!(status, 204, "{v}");
    };
    cycle(); // the first stream's one-time setup (plugins, threads)
    let baseline = fds();
    for _ in 0..30 {
        cycle();
    }
    let after = fds();
    assert!(
        after <= baseline + 2,
        "{baseline} descriptors before 30 add/delete cycles, {after} after"
    );
    // Its metric series go with it; another stream's stay, their counters whole.
    let series = |name: &str| {
        let (status, text) = s.call("GET", "/metrics", None, None);
        assert_eq!(status, 200);
        let label = format!("source=\"{name}\"");
        text.lines()
            .filter(|l| !l.starts_with('#') && l.contains(&label))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let (status, v) = add(&s, "kept", "test://?fps=10&width=160&height=120");
    assert_eq!(status, 201, "{v}");
    wait_for("kept streaming", Duration::from_secs(30), || {
        s.stream("kept")["frames"].as_u64() > Some(20)
    });
    let frames = |lines: &[String]| -> f64 {
        let line = lines
            .iter()
            .find(|l| l.starts_with("ovstream_frames_total"))
            .expect("a frames series");
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let before = frames(&series("kept"));
    cycle();
    assert_eq!(
        series("cam"),
        Vec::<String>::new(),
        "a removed stream's series"
    );
    let now = frames(&series("kept"));
    assert!(
        now >= before,
        "kept's frame counter went from {before} to {now}"
    );
}
