//! RTSP input against a real loopback server (gstreamer-rtsp-server on 127.0.0.1): the server
//! is stopped mid-stream and started again 3 s later; ovstream reconnects and keeps numbering.

use crate::common;

use common::*;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use std::time::{Duration, Instant};

const EXIT_INTERRUPTED: i32 = 130;
/// A camera stand-in: the sample (vtest.avi, 10 fps, 79.5 s) served at its real rate as H.264
/// over RTP; every test here ends well before the clip does, so it never needs to loop.
fn media() -> String {
    format!(
        "( filesrc location=\"{}\" ! decodebin ! videoconvert ! \
         x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! \
         rtph264pay name=pay0 pt=96 )",
        vtest().display()
    )
}

/// An RTSP server on 127.0.0.1 with its own GLib main loop thread.
struct Server {
    server: rtsp::RTSPServer,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    source: Option<glib::SourceId>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(port: u16) -> Server {
        Self::start_with(port, rtsp::gst_rtsp::RTSPLowerTrans::all())
    }

    /// A server that offers only the `protocols` lower transports.
    fn start_with(port: u16, protocols: rtsp::gst_rtsp::RTSPLowerTrans) -> Server {
        gst::init().unwrap();
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(&media());
        factory.set_shared(true);
        factory.set_protocols(protocols);
        server.mount_points().unwrap().add_factory("/cam", factory);
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let source = Some(server.attach(Some(&context)).expect("RTSP server listens"));
        let ml = main_loop.clone();
        let ctx = context.clone();
        let thread = Some(std::thread::spawn(move || {
            ctx.with_thread_default(|| ml.run()).unwrap();
        }));
        Server {
            server,
            context,
            main_loop,
            source,
            thread,
        }
    }

    /// Stops listening and drops every client session, as a camera that reboots.
    fn stop(&mut self) {
        if let Some(id) = self.source.take() {
            if let Some(source) = self.context.find_source_by_id(&id) {
                source.destroy();
            }
        }
        let server = self.server.clone();
        self.context.invoke(move || {
            server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
        });
        std::thread::sleep(Duration::from_millis(200));
    }

    fn resume(&mut self) {
        self.source = Some(
            self.server
                .attach(Some(&self.context))
                .expect("listen again"),
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn line_count(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

fn wait_for_lines(path: &std::path::Path, at_least: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while line_count(path) < at_least {
        assert!(
            Instant::now() < deadline,
            "fewer than {at_least} lines in {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn rtsp_source_reconnects_after_the_server_restarts() {
    let port = free_port();
    let mut server = Server::start(port);
    let uri = format!("rtsp://127.0.0.1:{port}/cam");
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let child = spawn_ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--input",
        &uri,
        "--no-progress",
    ]);
    // JSON lines are buffered: wait for a real amount of streaming, then take the camera down.
    wait_for_lines(&jsonl, 20, Duration::from_secs(60));
    server.stop();
    let before_restart = line_count(&jsonl);
    // The outage the timestamps must show (≥ 2 s; the camera is away 3 s).
    std::thread::sleep(Duration::from_secs(3));
    server.resume();
    // Frames after the restart: the reconnect (backoff 1 s, 2 s, …) must bring more in.
    wait_for_lines(&jsonl, before_restart + 60, Duration::from_secs(60));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_INTERRUPTED), "{err}");
    assert!(
        err.contains("reconnecting"),
        "a reconnect was logged: {err}"
    );
    assert!(
        err.contains("reconnect(s)"),
        "summary counts reconnects: {err}"
    );

    let lines = read_jsonl(&jsonl);
    let frames: Vec<u64> = lines.iter().map(|l| l["frame"].as_u64().unwrap()).collect();
    let ts: Vec<u64> = lines
        .iter()
        .map(|l| l["timestamp"].as_u64().unwrap())
        .collect();
    assert!(
        frames.windows(2).all(|w| w[1] > w[0]),
        "frame numbers increase"
    );
    let back = ts.windows(2).position(|w| w[1] <= w[0]);
    assert!(
        back.is_none(),
        "timestamps increase across the reconnect: {:?}",
        back.map(|i| &lines[i.saturating_sub(1)..(i + 3).min(lines.len())])
    );
    let gap = ts.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        gap > 2_000_000_000,
        "the ~3 s outage shows as a timestamp gap: {gap} ns"
    );
    // Waited for above; the JSON writer flushed them at the interrupt.
    assert!(
        lines.len() >= before_restart + 60,
        "frames after the restart: {} before, {} at the end",
        before_restart,
        lines.len()
    );
}

#[test]
fn unreachable_rtsp_url_retries_then_fails_after_max_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    // A listener that never answers: connections hang like a dead camera's.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = black_hole.local_addr().unwrap().port();
    let path = dir.path().join("cam.toml");
    std::fs::write(
        &path,
        format!(
            "[source]\ninput = \"rtsp://127.0.0.1:{port}/cam\"\nstall_timeout = 1.0\n\
             max_reconnects = 2\n[model]\nmodel = \"pedestrian-ssdlite\"\n[output]\n\
             metadata = \"{}\"\n",
            dir.path().join("out.jsonl").display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = ovstream(&["run", path.to_str().unwrap(), "--no-progress"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("rtsp://127.0.0.1:{port}/cam")),
        "{err}"
    );
    assert!(err.contains("gave up after 2 reconnect(s)"), "{err}");
    // It never connected: said so, not "stalled after frame 0".
    assert!(err.contains("never delivered a frame"), "{err}");
    assert!(!err.contains("after frame 0"), "{err}");
    assert_eq!(err.matches(": reconnecting").count(), 2, "{err}");
    assert!(err.contains(": failed"), "{err}");
    assert!(!err.contains(": streaming"), "never streamed: {err}");
    // 3 stalls of 1 s plus backoff 1 s + 2 s; nowhere near a hang.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn rtsp_transport_option_reaches_rtspsrc() {
    // The server allows RTP over TCP only: `--rtsp-transport tcp` streams, `udp` is refused
    // (and with max_reconnects 0 fails at once with the input-error code).
    let port = free_port();
    let _server = Server::start_with(port, rtsp::gst_rtsp::RTSPLowerTrans::TCP);
    let uri = format!("rtsp://127.0.0.1:{port}/cam");
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let args = |transport: &'static str| {
        let mut a = vec!["run", pipeline.to_str().unwrap(), "--input", &uri];
        a.extend(["--rtsp-transport", transport, "--rtsp-latency", "0"]);
        a.extend(["--limit", "45", "--max-reconnects", "0", "--no-progress"]);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |transport| {
        let a = args(transport);
        ovstream(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run("tcp");
    assert_ok(&out);
    // `limit` counts frames taken from the source; a live source may drop some of them.
    let n = read_jsonl(&jsonl).len();
    assert!((5..=45).contains(&n), "{n} frames streamed over TCP");
    let out = run("udp");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&uri), "{err}");
}

/// Pulls `want` decoded frames from `url` (a fresh RTSP client); returns their width × height.
fn watch(url: &str, want: usize, within: Duration) -> Vec<(u32, u32)> {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "rtspsrc location={url} latency=0 ! decodebin ! videoconvert ! \
         appsink name=sink sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let deadline = Instant::now() + within;
    let mut sizes = Vec::new();
    while sizes.len() < want && Instant::now() < deadline {
        if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(500)) {
            let s = sample.caps().unwrap().structure(0).unwrap().to_owned();
            sizes.push((
                s.get::<i32>("width").unwrap() as u32,
                s.get::<i32>("height").unwrap() as u32,
            ));
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    sizes
}

/// Runs ovstream on `inputs` with `--rtsp-out url`; once `inputs.len()` JSON lines are out,
/// calls `clients`, then interrupts the run; returns what `clients` returned and stderr.
fn with_rtsp_out<T>(inputs: &[&str], url: &str, clients: impl FnOnce() -> T) -> (T, String) {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let mut args = vec!["run", pipeline.to_str().unwrap()];
    for input in inputs {
        args.extend(["--input", input]);
    }
    args.extend(["--rtsp-out", url, "--no-progress"]);
    let child = spawn_ovstream(&args);
    wait_for_lines(&jsonl, inputs.len(), Duration::from_secs(60));
    let got = clients();
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(EXIT_INTERRUPTED), "{err}");
    (got, err)
}

#[test]
fn rtsp_out_serves_the_annotated_stream_to_several_clients() {
    let port = free_port();
    let url = format!("rtsp://127.0.0.1:{port}/ovstream");
    let ((a, b, c), err) = with_rtsp_out(&["test://?fps=15&width=320&height=240"], &url, || {
        // Two clients at once, then a third after they left (a new media is built for it).
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| watch(&url, 30, Duration::from_secs(30)));
            let b = s.spawn(|| watch(&url, 30, Duration::from_secs(30)));
            (a.join().unwrap(), b.join().unwrap())
        });
        (a, b, watch(&url, 10, Duration::from_secs(30)))
    });
    for (name, frames, want) in [("first", a, 30), ("second", b, 30), ("later", c, 10)] {
        assert_eq!(
            frames.len(),
            want,
            "{name} client got {} frames",
            frames.len()
        );
        assert!(
            frames.iter().all(|&wh| wh == (320, 240)),
            "{name} client: {frames:?}"
        );
    }
    assert!(
        err.contains(&format!("serving the annotated stream at {url}")),
        "{err}"
    );
}

#[test]
fn rtsp_out_on_a_taken_port_is_an_output_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let url = format!("rtsp://127.0.0.1:{port}/ovstream");
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--rtsp-out",
        &url,
        "--limit",
        "5",
        "--no-progress",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains(&url), "{err}");
}

#[test]
fn rtsp_out_with_two_sources_serves_a_mount_per_source_on_one_server() {
    let port = free_port();
    let base = format!("rtsp://127.0.0.1:{port}/live");
    let inputs = [
        "test://?fps=15&width=320&height=240",
        "test://?fps=15&width=176&height=144&pattern=ball",
    ];
    let ((first, second), err) = with_rtsp_out(&inputs, &base, || {
        std::thread::scope(|s| {
            let a = s.spawn(|| watch(&format!("{base}/test"), 10, Duration::from_secs(30)));
            let b = s.spawn(|| watch(&format!("{base}/test-2"), 10, Duration::from_secs(30)));
            (a.join().unwrap(), b.join().unwrap())
        })
    });
    assert_eq!(first.len(), 10, "{err}");
    assert_eq!(second.len(), 10, "{err}");
    assert!(first.iter().all(|&wh| wh == (320, 240)), "{first:?}");
    assert!(second.iter().all(|&wh| wh == (176, 144)), "{second:?}");
    for mount in ["test", "test-2"] {
        assert!(
            err.contains(&format!("serving the annotated stream at {base}/{mount}")),
            "{err}"
        );
    }
}
