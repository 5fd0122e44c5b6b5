//! Object events: the events file, and MQTT to a real mosquitto on 127.0.0.1 that loses
//! nothing when the broker goes away.

use crate::common;

use common::broker::{free_port, Broker, Subscriber};
use common::proxy::Proxy;
use common::service::wait_for;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::time::Duration;

/// `type` of each event per track id, in file order.
fn lives(events: &[Value]) -> BTreeMap<u64, Vec<String>> {
    let mut by: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for e in events {
        by.entry(e["id"].as_u64().unwrap())
            .or_default()
            .push(e["type"].as_str().unwrap().to_string());
    }
    by
}

fn event_ids(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect()
}

/// Events the subscriber got on `{prefix}/{source}/events`.
fn received(sub: &Subscriber, prefix: &str, source: &str) -> Vec<Value> {
    let topic = format!("{prefix}/{source}/events");
    sub.messages()
        .into_iter()
        .filter(|(t, _)| *t == topic)
        .map(|(_, p)| serde_json::from_str(&p).unwrap())
        .collect()
}

/// `pipelines/coco.toml` up to its `[output]` table (tests add their own).
fn coco_without_outputs() -> String {
    std::fs::read_to_string(root().join("pipelines/coco.toml"))
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("[output]"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// [`coco_without_outputs`] written to `dir/coco.toml` (the events tests give their outputs as
/// flags: no annotated MP4 nobody looks at, nothing written into the repository's `out/`).
fn coco_pipeline(dir: &Path) -> String {
    let path = dir.join("coco.toml");
    std::fs::write(&path, coco_without_outputs()).unwrap();
    path.to_str().unwrap().to_string()
}

fn run_coco(dir: &Path, args: &[&str]) -> std::process::Output {
    let pipeline = coco_pipeline(dir);
    let mut all = vec!["run", pipeline.as_str(), "--no-progress"];
    all.extend_from_slice(args);
    ovstream(&all)
}

#[test]
fn every_track_has_one_new_then_updates_then_one_end() {
    let dir = tempfile::tempdir().unwrap();
    let (events, frames) = (dir.path().join("ev.jsonl"), dir.path().join("f.jsonl"));
    // Half of vtest: ~100 tracks, a few of them alive at the limit (ended by the source's end).
    let out = run_coco(
        dir.path(),
        &[
            "--events",
            events.to_str().unwrap(),
            "--metadata",
            frames.to_str().unwrap(),
            "--limit",
            "400",
        ],
    );
    assert_ok(&out);
    let events = read_jsonl(&events);
    let lives = lives(&events);
    assert!(lives.len() > 50, "{} tracks", lives.len());
    let last_frame = |e: &&Value| e["frame"].as_u64() == Some(399);
    assert!(
        events.iter().filter(last_frame).any(|e| e["type"] == "end"),
        "tracks alive at the limit end with it"
    );
    for (id, life) in &lives {
        assert_eq!(
            life.first().map(String::as_str),
            Some("new"),
            "track {id}: {life:?}"
        );
        assert_eq!(
            life.last().map(String::as_str),
            Some("end"),
            "track {id}: {life:?}"
        );
        assert_eq!(life.iter().filter(|t| *t == "new").count(), 1, "{id}");
        assert_eq!(life.iter().filter(|t| *t == "end").count(), 1, "{id}");
    }
    // The same track ids as the per-frame records, and each event's box is its frame's.
    let records = read_jsonl(&frames);
    let ids: HashSet<u64> = records
        .iter()
        .flat_map(|r| r["objects"].as_array().unwrap().clone())
        .filter_map(|o| o["id"].as_u64())
        .collect();
    assert_eq!(ids, lives.keys().copied().collect::<HashSet<_>>());
    for e in events.iter().filter(|e| e["type"] == "new") {
        let record = &records[e["frame"].as_u64().unwrap() as usize];
        let o = record["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == e["id"])
            .expect("a new event's object is in its frame");
        assert_eq!(o["detection"]["label"], e["label"]);
        assert_eq!(o["detection"]["confidence"], e["score"]);
        assert!(e["wall_time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(e["source"], "vtest");
    }
    assert_eq!(
        event_ids(&events).len(),
        events.len(),
        "event ids are unique"
    );
}

#[test]
fn mqtt_subscriber_receives_exactly_the_events_file() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "t1", &dir.path().join("sub.txt"), &[]);
    let events = dir.path().join("ev.jsonl");
    let out = run_coco(
        dir.path(),
        &[
            "--events",
            events.to_str().unwrap(),
            "--mqtt",
            &broker.url("t1"),
            "--limit",
            "300",
        ],
    );
    let err = assert_ok(&out);
    assert!(
        sub.wait_for("t1/available", "offline", Duration::from_secs(10)),
        "`offline` after the run"
    );
    let messages = sub.messages();
    let pos = |payload: &str| {
        messages
            .iter()
            .position(|(t, p)| t == "t1/available" && p == payload)
            .unwrap()
    };
    let first_event = messages
        .iter()
        .position(|(t, _)| t == "t1/vtest/events")
        .expect("events arrived");
    assert!(pos("online") < first_event, "`online` during the run");
    let file = read_jsonl(&events);
    assert_eq!(event_ids(&received(&sub, "t1", "vtest")), event_ids(&file));
    assert!(
        err.contains(&format!("{} published, 0 dropped", file.len())) || err.contains("published"),
        "{err}"
    );
    // Per-label counts, retained.
    assert!(
        messages.iter().any(|(t, _)| t == "t1/vtest/person"),
        "person count topic"
    );
}

#[test]
fn a_broker_outage_loses_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "t2", &dir.path().join("sub.txt"), &[]);
    let events = dir.path().join("ev.jsonl");
    let url = broker.url("t2");
    let run = spawn_ovstream(&[
        "run",
        &coco_pipeline(dir.path()),
        "--no-progress",
        "--loop",
        "--realtime",
        "--events",
        events.to_str().unwrap(),
        "--mqtt",
        &url,
    ]);
    assert!(sub.wait_for("t2/available", "online", Duration::from_secs(60)));
    let count = || received(&sub, "t2", "vtest").len();
    wait_for("events before the outage", Duration::from_secs(30), || {
        count() >= 5
    });
    broker.stop();
    let before = count();
    // vtest at its own rate (10 fps) gives ~10 events a second: ~40 wait for the broker.
    std::thread::sleep(OUTAGE);
    broker.restart();
    wait_for(
        "the backlog and newer events",
        Duration::from_secs(60),
        || count() >= before + 60,
    );
    let err = finish(run);
    assert!(
        sub.wait_for("t2/available", "offline", Duration::from_secs(30)),
        "{err}"
    );
    let file = event_ids(&read_jsonl(&events));
    let got = event_ids(&received(&sub, "t2", "vtest"));
    let missing: Vec<_> = file.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "{} of {} events lost: {missing:?}",
        missing.len(),
        file.len()
    );
    assert!(
        err.contains("mqtt:") && !err.contains(" 0 reconnect(s)"),
        "{err}"
    );
}

/// How long a broker or a connection stays down in the outage tests.
const OUTAGE: Duration = Duration::from_secs(4);

/// Ends a `--loop` run as Ctrl-C would (its outputs finalized, exit 130) and returns its
/// stderr.
fn finish(run: std::process::Child) -> String {
    interrupt(&run);
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(130), "interrupted: {err}");
    err
}

/// QoS 2 across a cut of the publisher's connection only (a TCP proxy closed for 2 s while the
/// broker stays up): the backlog goes out after the reconnect and nothing is lost. Mosquitto
/// 2.0 answers a QoS 2 PUBLISH beyond its `max_inflight_messages` (20) as if accepted and drops
/// it, so a window larger than that lost events here.
#[test]
fn qos2_across_a_connection_cut_loses_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let mut proxy = Proxy::start(broker.port);
    let sub = Subscriber::start(broker.port, "t5", &dir.path().join("sub.txt"), &[]);
    let events = dir.path().join("ev.jsonl");
    let url = format!("mqtt://127.0.0.1:{}/t5", proxy.port);
    let run = spawn_ovstream(&[
        "run",
        &coco_pipeline(dir.path()),
        "--no-progress",
        "--loop",
        "--realtime",
        "--events",
        events.to_str().unwrap(),
        "--mqtt",
        &url,
        "--mqtt-qos",
        "2",
    ]);
    assert!(sub.wait_for("t5/available", "online", Duration::from_secs(60)));
    let count = || received(&sub, "t5", "vtest").len();
    wait_for("events before the cut", Duration::from_secs(30), || {
        count() >= 5
    });
    proxy.cut();
    let before = count();
    std::thread::sleep(OUTAGE / 2);
    proxy.resume();
    wait_for(
        "the backlog and newer events",
        Duration::from_secs(60),
        || count() >= before + 40,
    );
    let err = finish(run);
    // The last will is not sent on a clean disconnect: wait for the run's last event instead.
    let file = event_ids(&read_jsonl(&events));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let missing = loop {
        let got = event_ids(&received(&sub, "t5", "vtest"));
        let missing: Vec<String> = file.difference(&got).cloned().collect();
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        missing.is_empty(),
        "{} of {} events lost: {:?}\n{err}",
        missing.len(),
        file.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(err.contains(" 1 reconnect(s)"), "{err}");
}

#[test]
fn a_full_queue_drops_the_oldest_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port: every message waits in a queue of 100.
    let port = free_port();
    let pipeline = dir.path().join("p.toml");
    let coco = coco_without_outputs();
    std::fs::write(
        &pipeline,
        format!(
            "{coco}[output.mqtt]\nurl = \"mqtt://127.0.0.1:{port}/t3\"\nqueue = 100\nframes = true\n"
        ),
    )
    .unwrap();
    let metrics_port = free_port().to_string();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let run = spawn_ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--no-progress",
        "--loop",
        "--limit",
        "600",
        "--metrics",
        &metrics,
    ]);
    // Scrape while it runs until the queue has dropped something (100 frame records fill it).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let scrape = loop {
        let scrape = try_http_get(&metrics).unwrap_or_default();
        if scrape.contains("ovstream_mqtt_messages_total{state=\"dropped\"}")
            && metric(&scrape, "ovstream_mqtt_messages_total{state=\"dropped\"}") > 0.0
        {
            break scrape;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no drop within 120 s: {scrape}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "the run goes on without the broker: {err}"
    );
    let dropped = metric(&scrape, "ovstream_mqtt_messages_total{state=\"dropped\"}");
    assert!(dropped > 0.0, "{scrape}");
    assert_eq!(metric(&scrape, "ovstream_mqtt_connected"), 0.0);
    assert!(metric(&scrape, "ovstream_mqtt_queue_depth") <= 100.0);
    let line = err
        .lines()
        .find(|l| l.contains("mqtt:") && l.contains("dropped"))
        .unwrap();
    assert!(!line.contains(" 0 dropped"), "{line}");
}

/// GET http://addr/metrics; `None` while nothing listens there (yet, or any more).
fn try_http_get(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(str::trim))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in {text}"))
}

#[test]
fn a_killed_run_leaves_offline_by_its_last_will() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "t4", &dir.path().join("sub.txt"), &[]);
    let url = broker.url("t4");
    let mut run = spawn_ovstream(&[
        "run",
        &coco_pipeline(dir.path()),
        "--no-progress",
        "--loop",
        "--realtime",
        "--mqtt",
        &url,
    ]);
    assert!(sub.wait_for("t4/available", "online", Duration::from_secs(60)));
    run.kill().unwrap(); // SIGKILL
    run.wait().unwrap();
    assert!(
        sub.wait_for("t4/available", "offline", Duration::from_secs(30)),
        "the broker publishes the last will"
    );
}

#[test]
fn mqtts_with_a_test_ca_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    let tls = format!(
        "cafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key",
        d.display()
    );
    let broker = Broker::start_with(d, &tls);
    let ca = format!("{}/ca.pem", d.display());
    let sub = Subscriber::start(broker.port, "t5", &d.join("sub.txt"), &["--cafile", &ca]);
    let pipeline = d.join("p.toml");
    let coco = coco_without_outputs();
    std::fs::write(
        &pipeline,
        format!(
            "{coco}[output]\nevents = \"{}/ev.jsonl\"\n[output.mqtt]\nurl = \"mqtts://127.0.0.1:{}/t5\"\nca = \"{ca}\"\n",
            d.display(),
            broker.port
        ),
    )
    .unwrap();
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--no-progress",
        "--limit",
        "100",
    ]);
    assert_ok(&out);
    assert!(sub.wait_for("t5/available", "offline", Duration::from_secs(10)));
    let file = event_ids(&read_jsonl(&d.join("ev.jsonl")));
    assert!(!file.is_empty());
    assert_eq!(event_ids(&received(&sub, "t5", "vtest")), file);
    // A CA file that does not exist is a config error naming it.
    std::fs::write(
        &pipeline,
        format!(
            "{coco}[output.mqtt]\nurl = \"mqtts://127.0.0.1:1\"\nca = \"{}/nope.pem\"\n",
            d.display()
        ),
    )
    .unwrap();
    let out = ovstream(&["run", pipeline.to_str().unwrap(), "--no-progress"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nope.pem"), "{}", stderr(&out));
}

/// A CA and a server certificate for 127.0.0.1, made with `openssl`.
fn make_certs(d: &Path) {
    let sh = format!(
        "set -e; cd {}; \
         openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem; \
         openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr; \
         printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf; \
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
           -extfile ext.cnf -out server.pem",
        d.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &sh])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_mqtt_urls_are_config_errors() {
    for (url, want) in [
        ("http://127.0.0.1", "scheme `http`"),
        ("mqtt://", "no host"),
    ] {
        let out = ovstream(&["run", "--mqtt", url, "--limit", "1"]);
        assert_eq!(out.status.code(), Some(2), "{url}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{url}: {}", stderr(&out));
    }
    let out = ovstream(&[
        "run",
        "--mqtt",
        "mqtt://bob:hunter2@127.0.0.1:1",
        "--mqtt-qos",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

#[test]
fn ovmetapublish_method_mqtt_publishes_each_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "t6", &dir.path().join("sub.txt"), &[]);
    let out = gst_launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=I420 ! \
         videorate drop-only=true max-rate=5 ! ovdetect model=pedestrian-ssdlite ! ovtrack ! \
         ovmetapublish method=mqtt address=127.0.0.1:{} topic=t6/frames source=vtest ! \
         fakesink sync=false",
        vtest().display(),
        broker.port
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(sub.wait_for("t6/frames/available", "offline", Duration::from_secs(10)));
    let frames: Vec<Value> = sub
        .messages()
        .into_iter()
        .filter(|(t, _)| t == "t6/frames")
        .map(|(_, p)| serde_json::from_str(&p).unwrap())
        .collect();
    assert!(frames.len() > 100, "{} records", frames.len());
    let seq: Vec<u64> = frames
        .iter()
        .map(|f| f["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seq,
        (0..frames.len() as u64).collect::<Vec<_>>(),
        "every buffer, in order"
    );
    assert!(frames
        .iter()
        .any(|f| !f["objects"].as_array().unwrap().is_empty()));
}

#[test]
fn a_refused_login_is_logged_and_the_files_are_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwd");
    std::fs::write(&pw, "").unwrap();
    let broker = Broker::start_with(
        dir.path(),
        &format!("allow_anonymous false\npassword_file {}", pw.display()),
    );
    let events = dir.path().join("ev.jsonl");
    let url = format!("mqtt://mallory:guess@127.0.0.1:{}/t7", broker.port);
    let out = run_coco(
        dir.path(),
        &[
            "--events",
            events.to_str().unwrap(),
            "--mqtt",
            &url,
            "--limit",
            "60",
        ],
    );
    let err = assert_ok(&out);
    assert!(err.contains("refused"), "{err}");
    assert!(
        !err.contains("guess"),
        "the password is never printed: {err}"
    );
    assert!(
        !read_jsonl(&events).is_empty(),
        "the events file is written"
    );
}

#[test]
fn ovmetapublish_fails_its_start_after_max_connect_attempts() {
    let out = gst_launch(&format!(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420 ! ovmetapublish method=mqtt \
         address=127.0.0.1:{} max-connect-attempts=1 ! fakesink",
        free_port()
    ));
    assert!(!out.status.success());
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("no connection after 1 attempt"), "{err}");
}

#[test]
fn an_unreachable_broker_at_shutdown_is_retried_with_backoff_not_in_a_loop() {
    // Nothing listens on port 1: every connect is refused at once. Draining the undelivered
    // events at the end used to retry without a pause (~700,000 warnings in 10 s).
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let started = std::time::Instant::now();
    let out = ovstream_with_env(
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--mqtt",
            "mqtt://127.0.0.1:1/t7",
            "--limit",
            "5",
            "--no-progress",
        ],
        &[("OVSTREAM_LOG", "warn")],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let retries = err.matches("retrying").count();
    assert!(
        (1..=20).contains(&retries),
        "{retries} retry warnings:\n{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
