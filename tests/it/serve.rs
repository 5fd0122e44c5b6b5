//! `ovstream serve`: the real binary, the real model, HTTP over 127.0.0.1: streams over the
//! API, restarts, patches, SIGTERM. The hostile-use checks are in `serve_hardening.rs`.

use crate::common;

use common::broker::free_port;
use common::service::*;
use common::*;
use std::time::Duration;

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
        v["error"]
            .as_str()
            .unwrap()
            .contains("classes: class \"unicorn\" is not a class of the model (person)"),
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
/// and `max_reconnects = 1` both give up after one reconnect, saying "nothing within 1 s".
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
    assert!(err.contains("nothing within 1 s"), "{err}");

    let s = Service::start(dir.path(), &file);
    assert_eq!(add(&s, "hung", &uri).0, 201);
    wait_for(
        "the hung camera to give up",
        Duration::from_secs(60),
        || s.stream("hung")["state"] == "failed",
    );
    let view = s.stream("hung");
    let why = view["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("nothing within 1 s"), "{view}");
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
