//! `ovstream serve` under hostile use (issue 32): cross-site requests, idle connections,
//! restored state and shards, allowed inputs, credentials by reference, leaks over add/delete
//! cycles, races between DELETE and a new POST of one name, outputs that would truncate files.

use crate::common;

use common::service::*;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;
use std::time::Instant;

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

/// Issue 32, item 15: a stream added and deleted 60 times leaves the service with the
/// descriptors it had (each removed stream's last frame kept its decoder's buffer pool — a
/// socket pair — alive) and its memory within 10 % (each kept ~0.5 MB of latency histograms).
#[test]
fn streams_added_and_deleted_give_their_file_descriptors_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = Service::start(dir.path(), &pipeline(dir.path(), ""));
    let fd_dir = format!("/proc/{}/fd", s.served.child.id());
    let fds = || std::fs::read_dir(&fd_dir).unwrap().count();
    let cycle = || {
        let (status, v) = add(&s, "cam", "test://?fps=30&width=160&height=120");
        assert_eq!(status, 201, "{v}");
        wait_for("cam streaming", Duration::from_secs(30), || {
            s.stream("cam")["frames"].as_u64() > Some(2)
        });
        let (status, v) = s.api("DELETE", "/api/streams/cam", None);
        assert_eq!(status, 204, "{v}");
    };
    let rss_kb = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.served.child.id()));
        (status.unwrap().lines())
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    };
    for _ in 0..3 {
        cycle(); // the first streams' one-time setup (plugins, threads, pools)
    }
    let (baseline, rss) = (fds(), rss_kb());
    for _ in 0..60 {
        cycle();
    }
    let after = fds();
    assert!(
        after <= baseline + 2,
        "{baseline} descriptors before 60 add/delete cycles, {after} after"
    );
    let grown = rss_kb();
    assert!(
        grown * 10 <= rss * 11,
        "RSS {} MB before 60 add/delete cycles, {} MB after",
        rss / 1024,
        grown / 1024
    );
    // Its metric series go with it; another stream's stay, their counters whole.
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
    let before = frames(&series(&s, "kept"));
    cycle();
    assert_eq!(
        series(&s, "cam"),
        Vec::<String>::new(),
        "a removed stream's series"
    );
    let now = frames(&series(&s, "kept"));
    assert!(
        now >= before,
        "kept's frame counter went from {before} to {now}"
    );
}

/// The lines of `/metrics` labelled `source="{name}"`.
fn series(s: &Service, name: &str) -> Vec<String> {
    let (status, text) = s.call("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    let label = format!("source=\"{name}\"");
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(&label))
        .map(String::from)
        .collect()
}

/// Issue 32, item 7: DELETE and POST of one name raced from three clients, 30 loops in all.
/// A late opener of a removed stream used to join the new entry of the same name (joined by
/// name), leaving a source that ran on unlisted: after the last DELETE nothing of `cam` may
/// run — no descriptors beyond the baseline, no metric series, no line written to its file,
/// and every line written is whole.
#[test]
fn racing_deletes_and_posts_of_one_name_leave_no_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let s = Service::start(dir.path(), &pipeline(dir.path(), "[source]\nloop = true\n"));
    // An input that takes 300 ms to open: DELETE and the next POST land while it opens.
    let port = common::http::slow_file_server(
        &root().join("samples/carphone.mp4"),
        Duration::from_millis(300),
    );
    let input = format!("http://127.0.0.1:{port}/carphone.mp4");
    let input = input.as_str();
    let fd_dir = format!("/proc/{}/fd", s.served.child.id());
    let fds = || std::fs::read_dir(&fd_dir).unwrap().count();
    // The first stream's one-time setup (plugins, threads) before the baseline.
    assert_eq!(add(&s, "warm", input).0, 201);
    wait_for("warm streaming", Duration::from_secs(30), || {
        s.stream("warm")["frames"].as_u64() > Some(2)
    });
    assert_eq!(s.api("DELETE", "/api/streams/warm", None).0, 204);
    let baseline = fds();
    let created = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for client in 0..3 {
            let (s, created) = (&s, &created);
            scope.spawn(move || {
                for i in 0..10 {
                    let (status, v) = add(s, "cam", input);
                    assert!(status == 201 || status == 409, "{status} {v}");
                    if status == 201 {
                        created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    // Let some opens finish, others not.
                    std::thread::sleep(Duration::from_millis(((client * 10 + i) % 4) * 150));
                    let (status, v) = s.api("DELETE", "/api/streams/cam", None);
                    assert!(status == 204 || status == 404, "{status} {v}");
                }
            });
        }
    });
    assert!(created.into_inner() >= 10, "the loops added the stream");
    let _ = s.api("DELETE", "/api/streams/cam", None);
    assert!(s.streams().is_empty(), "{:?}", s.streams());
    let file = dir.path().join("out/cam.jsonl");
    let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
    wait_for("no series of cam", Duration::from_secs(10), || {
        series(&s, "cam").is_empty()
    });
    wait_for("the descriptors back", Duration::from_secs(10), || {
        fds() <= baseline + 2
    });
    let before = size();
    // An orphan writes many lines a second.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(size(), before, "something still writes {}", file.display());
    assert!(series(&s, "cam").is_empty(), "{:?}", series(&s, "cam"));
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    for line in text.lines() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "a torn line: {line}"
        );
    }
}

/// Issue 32, item 11: a POSTed output never truncates a file this stream did not write —
/// another stream's default output, a finished recording or an input under `media_roots` —
/// while the same stream added again writes its own file on (its earlier lines kept).
#[test]
fn per_stream_outputs_never_truncate_another_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let extra = format!(
        "events = \"{0}/{{name}}-events.jsonl\"\n[serve]\noutput_root = \"{0}\"\nmedia_roots = [\"{0}\"]\n",
        out.display()
    );
    let s = Service::start(dir.path(), &pipeline(dir.path(), &extra));
    let input = "test://?fps=10&width=160&height=120";
    let post = |name: &str, key: &str, file: &str, input: &str| {
        let body = serde_json::json!({ "name": name, "input": input, "outputs": { key: file } });
        s.api("POST", "/api/streams", Some(&body.to_string()))
    };
    assert_eq!(add(&s, "a", input).0, 201);
    wait_for("a's default output", Duration::from_secs(30), || {
        out.join("a.jsonl").exists()
    });
    // Another stream's default output.
    let (status, v) = post("b", "metadata", "a.jsonl", input);
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("stream a"), "{v}");
    // A finished recording, and an input a stream reads.
    std::fs::create_dir_all(out.join("clips")).unwrap();
    let clip = out.join("clips/a-20261206-101500.mp4");
    std::fs::copy(root().join("samples/carphone.mp4"), &clip).unwrap();
    let media = out.join("walk.mp4");
    std::fs::copy(root().join("samples/carphone.mp4"), &media).unwrap();
    let before = (sha256(&clip), sha256(&media));
    assert_eq!(add(&s, "reader", media.to_str().unwrap()).0, 201);
    for (key, file) in [
        ("mp4", "clips/a-20261206-101500.mp4"),
        ("events", "walk.mp4"),
    ] {
        let (status, v) = post("c", key, file, input);
        assert_eq!(status, 409, "{key} {file}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("never overwritten"),
            "{v}"
        );
    }
    assert!(s.stream("c").is_null(), "nothing refused is listed");
    // Its own file again: re-added after a DELETE, it writes on after its earlier lines.
    assert_eq!(post("d", "metadata", "d-own.jsonl", input).0, 201);
    let own = out.join("d-own.jsonl");
    let lines = || {
        std::fs::read_to_string(&own)
            .unwrap_or_default()
            .lines()
            .count()
    };
    wait_for("d's lines", Duration::from_secs(30), || lines() > 3);
    assert_eq!(s.api("DELETE", "/api/streams/d", None).0, 204);
    let first = lines();
    let (status, v) = post("d", "metadata", "d-own.jsonl", input);
    assert_eq!(status, 201, "{v}");
    wait_for(
        "d's new lines after its old",
        Duration::from_secs(30),
        || lines() > first + 3,
    );
    assert_eq!((sha256(&clip), sha256(&media)), before, "untouched");
}

/// Issue 32, item 12: a restarted service's stream writes `{name}-1.mp4` beside the MP4 of
/// the run before, which stays as it was (it was truncated), and both play.
#[test]
fn a_restarted_stream_starts_a_new_mp4_beside_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("mp4 = \"{}/out/{{name}}.mp4\"\n", dir.path().display());
    let file = pipeline(dir.path(), &extra);
    let s = Service::start(dir.path(), &file);
    assert_eq!(add(&s, "cam", "test://?fps=15&width=160&height=120").0, 201);
    wait_for("cam streaming", Duration::from_secs(30), || {
        s.stream("cam")["frames"].as_u64() > Some(15)
    });
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    let first = dir.path().join("out/cam.mp4");
    let kept = sha256(&first);
    let s = Service::start(dir.path(), &file);
    wait_for(
        "cam restored and streaming",
        Duration::from_secs(60),
        || s.stream("cam")["frames"].as_u64() > Some(15),
    );
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(sha256(&first), kept, "the first run's MP4 is untouched");
    let second = dir.path().join("out/cam-1.mp4");
    for mp4 in [&first, &second] {
        let (frames, w, h) = decode_mp4(mp4);
        assert!(
            frames > 10 && (w, h) == (160, 120),
            "{}: {frames} frames",
            mp4.display()
        );
    }
}

/// Issue 32, item 16: an output that cannot be written (here a disk that is full: the stream's
/// JSON lines file is `/dev/full`) fails its stream — `failed`, with the cause — while the
/// other streams go on, and the service still exits 0 (before: the sink stage stopped and
/// took every stream with it, and the service exited 5 at SIGTERM).
#[test]
fn a_failed_output_fails_its_stream_not_the_service() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("out/full.jsonl")).unwrap();
    let s = Service::start(dir.path(), &pipeline(dir.path(), ""));
    let input = "test://?fps=15&width=160&height=120";
    assert_eq!(add(&s, "ok", input).0, 201);
    assert_eq!(add(&s, "full", input).0, 201);
    wait_for("full failed", Duration::from_secs(30), || {
        s.stream("full")["state"] == "failed"
    });
    let failed = s.stream("full");
    let why = failed["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("No space left"), "{failed}");
    let frames = s.stream("ok")["frames"].as_u64().unwrap();
    wait_for("ok going on", Duration::from_secs(30), || {
        s.stream("ok")["frames"].as_u64() > Some(frames + 15)
    });
    assert_eq!(s.stream("ok")["state"], "streaming");
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
}

/// Issue 32, messages: empty and unknown classes (zones included) are 422, `null` clears a
/// stream's threshold, an error repeats at most ~200 bytes of what it was sent, and a POST
/// whose state file cannot be written is 503 and adds nothing.
#[test]
fn api_messages_filters_and_an_unwritable_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = Service::start(dir.path(), &pipeline(dir.path(), ""));
    let input = "test://?fps=5&width=160&height=120";
    let post = |body: Value| s.api("POST", "/api/streams", Some(&body.to_string()));
    let (status, v) = post(serde_json::json!({"name": "a", "input": input, "classes": []}));
    assert_eq!(status, 422, "{v}");
    let zone = serde_json::json!([{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "classes": ["dragon"]}]);
    let (status, v) = post(serde_json::json!({"name": "a", "input": input, "zones": zone}));
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("zone `z`: class \"dragon\" is not a class of the model"),
        "{v}"
    );
    let long = "x".repeat(5000);
    for body in [
        serde_json::json!({"name": long, "input": input}),
        serde_json::json!({"name": "a", "input": format!("/nope/{long}")}),
    ] {
        let (status, v) = post(body);
        assert_eq!(status, 422, "{v}");
        let error = v["error"].as_str().unwrap();
        assert!(error.len() < 400, "{} bytes: {error}", error.len());
    }
    let (status, v) = post(serde_json::json!({"name": "a", "input": input, "threshold": 0.8}));
    assert_eq!(status, 201, "{v}");
    let (status, v) = s.api("PATCH", "/api/streams/a", Some(r#"{"threshold": null}"#));
    assert_eq!(status, 200, "{v}");
    assert!(v.get("threshold").is_none_or(Value::is_null), "{v}");
    // The state file's folder replaced by a file: it cannot be written.
    std::fs::remove_file(dir.path().join("state.json")).unwrap();
    std::fs::create_dir(dir.path().join("state.json")).unwrap();
    let (status, v) = post(serde_json::json!({"name": "b", "input": input}));
    assert_eq!(status, 503, "{v}");
    assert!(v["error"].as_str().unwrap().contains("state file"), "{v}");
    assert!(s.stream("b").is_null(), "not listed");
}
