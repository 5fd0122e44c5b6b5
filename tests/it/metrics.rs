//! The Prometheus endpoint, scraped over HTTP on 127.0.0.1 during a live run.

use crate::common;

use common::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn scrape(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// The value of the first sample line starting with `prefix` (name plus labels).
fn value(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_endpoint_is_scraped_during_a_run_and_counters_increase() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    // Two live sources in one process: per-source series carry their names.
    let (source, other) = (
        "test://?fps=30&width=320&height=240",
        "test://?fps=15&width=320&height=240&pattern=ball",
    );
    let child = spawn_ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--input",
        source,
        "--input",
        other,
        "--metrics",
        &format!("127.0.0.1:{port}"),
        "--no-progress",
    ]);
    let frames = "ovstream_frames_total{source=\"test\"}";
    let other_frames = "ovstream_frames_total{source=\"test-2\"}";
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        assert!(
            Instant::now() < deadline,
            "no scrape with frames within 60 s"
        );
        if let Some(body) = scrape(port) {
            if value(&body, frames).is_some_and(|v| v > 0.0) {
                break body;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    std::thread::sleep(Duration::from_secs(2));
    let second = scrape(port).expect("second scrape");
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (a, b) = (
        value(&first, frames).unwrap(),
        value(&second, frames).unwrap(),
    );
    assert!(b > a, "frames counter increases: {a} → {b}");
    let other_b = value(&second, other_frames).unwrap_or(0.0);
    assert!(other_b > 0.0, "the second source is counted too:\n{second}");
    let other_fps = value(&second, "ovstream_fps{source=\"test-2\"}").unwrap();
    let fps = value(&second, "ovstream_fps{source=\"test\"}").unwrap();
    assert!(
        other_fps < fps,
        "15 vs 30 FPS sources: {other_fps} vs {fps}"
    );
    assert!(second.ends_with("# EOF\n"), "OpenMetrics text: {second}");
    for needle in [
        "# TYPE ovstream_frames counter",
        "# TYPE ovstream_stage_latency_seconds histogram",
        "ovstream_stage_latency_seconds_bucket{stage=\"infer\",le=\"0.0005\"}",
        "ovstream_stage_latency_seconds_count{stage=\"end-to-end\"}",
        "ovstream_queue_high_water{edge=\"decoded\",source=\"test\"}",
        "ovstream_queue_drops_total{edge=\"decoded\",source=\"test-2\"}",
        "ovstream_queue_high_water{edge=\"inferred\"}",
        "ovstream_queue_depth{edge=\"submitted\"}",
        "ovstream_queue_depth{edge=\"decoded\",source=\"test\"}",
        "ovstream_inference_info{device=\"CPU\",execution_devices=\"CPU\"} 1",
        "# TYPE ovstream_model_compile_seconds gauge",
    ] {
        assert!(second.contains(needle), "`{needle}` missing:\n{second}");
    }
    for name in ["test", "test-2"] {
        let streaming = format!("ovstream_source_health{{source=\"{name}\",state=\"streaming\"}}");
        assert_eq!(value(&second, &streaming), Some(1.0), "{second}");
    }
    let count = "ovstream_stage_latency_seconds_count{stage=\"infer\"}";
    assert!(
        value(&second, count).unwrap() >= b + other_b,
        "every written frame was inferred"
    );
}

#[test]
fn metrics_on_a_taken_port_is_an_output_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "", &dir.path().join("o.jsonl"));
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--metrics",
        &format!("127.0.0.1:{port}"),
        "--limit",
        "3",
        "--no-progress",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}
