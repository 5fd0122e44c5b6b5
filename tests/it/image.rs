//! The container image (`scripts/image.sh`, `deploy/Containerfile`): built with podman from a
//! Debian base made by mmdebstrap, it runs a short pipeline on the bundled sample with the same
//! result as the host binary, and a served `/healthz` answers from the host
//! (`--network host`). Skipped — saying so — only where podman is not installed (`make setup`
//! installs it, so CI runs it).

use crate::common;

use common::broker::free_port;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/ovstream:latest";

fn have_podman() -> bool {
    Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The limits `scripts/image.sh` derives (hard limits; processes ≤ pid_max).
fn limits() -> Vec<String> {
    let sh = |cmd: &str| {
        let out = Command::new("bash").arg("-c").arg(cmd).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let cap = |v: String| {
        if v == "unlimited" {
            1_048_576u64
        } else {
            v.parse().unwrap()
        }
    };
    let nofile = cap(sh("ulimit -Hn"));
    let pid_max: u64 = sh("cat /proc/sys/kernel/pid_max").parse().unwrap();
    let nproc = cap(sh("ulimit -Hu")).min(pid_max);
    vec![
        "--ulimit".into(),
        format!("nofile={nofile}:{nofile}"),
        "--ulimit".into(),
        format!("nproc={nproc}:{nproc}"),
    ]
}

fn podman(args: &[&str]) -> Output {
    let limits = limits();
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "runc"]);
    if args.first() == Some(&"run") {
        cmd.arg("run").args(&limits).args(&args[1..]);
    } else {
        cmd.args(args);
    }
    cmd.output().expect("podman runs")
}

fn build() {
    let bin = env!("CARGO_BIN_EXE_ovstream");
    let plugin = plugin_dir().join("libgstovstream.so");
    let started = Instant::now();
    let out = Command::new(root().join("scripts/image.sh"))
        .current_dir(root())
        .env("OVSTREAM_BIN", bin)
        .env("OVSTREAM_PLUGIN", &plugin)
        .output()
        .unwrap();
    let log = stderr(&out);
    assert!(out.status.success(), "scripts/image.sh failed:\n{log}");
    assert!(log.contains("nothing missing"), "{log}");
    eprintln!(
        "image build: {:.1} s\n{log}",
        started.elapsed().as_secs_f64()
    );
}

fn http_status(port: u16, path: &str) -> u16 {
    common::http::get(port, path).0
}

/// Each frame's objects (boxes, scores, labels), without the source URI (paths differ).
fn objects(path: &Path) -> Vec<Value> {
    read_jsonl(path)
        .into_iter()
        .map(|l| serde_json::json!([l["frame"], l["objects"]]))
        .collect()
}

/// Starts `serve` in the image on the host's network; seconds until `/readyz` is 200.
fn serve_until_ready(name: &str, port: u16, dir: &Path, cache: Option<&Path>) -> f64 {
    let mut args: Vec<String> = ["run", "-d", "--rm", "--name", name, "--network", "host"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["-v".into(), format!("{}:/work", dir.display())]);
    if let Some(cache) = cache {
        args.extend(["-v".into(), format!("{}:/tmp/cache", cache.display())]);
    }
    args.extend([
        IMAGE.to_string(),
        "serve".into(),
        "/work/serve.toml".into(),
        "--api".into(),
        format!("127.0.0.1:{port}"),
        "--state".into(),
        "/tmp/streams.json".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let out = podman(&args);
    assert!(out.status.success(), "podman run -d: {}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(120);
    while http_status(port, "/readyz") != 200 {
        assert!(
            Instant::now() < deadline,
            "the container's /readyz never answered 200"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ready = started.elapsed().as_secs_f64();
    assert_eq!(http_status(port, "/healthz"), 200);
    let _ = podman(&["stop", "-t", "5", name]);
    ready
}

#[test]
fn the_image_runs_the_sample_like_the_host_and_serves_healthz() {
    if !have_podman() {
        eprintln!(
            "SKIPPED: podman is not installed (make setup installs podman runc mmdebstrap uidmap)"
        );
        return;
    }
    build();
    let dir = tempfile::tempdir().unwrap();
    // The container's user (10001) writes here.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "[source]\ninput = \"/media/vtest.avi\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n\
         precision = \"f32\"\n[detect]\nthreshold = 0.5\n[output]\nmetadata = \"/work/container.jsonl\"\n",
    )
    .unwrap();
    let out = podman(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &format!("{}:/media:ro", root().join("samples").display()),
        "-v",
        &format!("{}:/work", dir.path().display()),
        IMAGE,
        "run",
        "/work/p.toml",
        "--limit",
        "40",
        "--no-progress",
    ]);
    assert!(out.status.success(), "container run: {}", stderr(&out));
    let host = dir.path().join("host.jsonl");
    assert_ok(&ovstream(&[
        "run",
        dir.path().join("p.toml").to_str().unwrap(),
        "--input",
        vtest().to_str().unwrap(),
        "--metadata",
        host.to_str().unwrap(),
        "--limit",
        "40",
        "--no-progress",
    ]));
    let inside = objects(&dir.path().join("container.jsonl"));
    let outside = objects(&host);
    assert_eq!(inside.len(), 40);
    assert!(
        inside
            .iter()
            .map(|f| f[1].as_array().unwrap().len())
            .sum::<usize>()
            >= 40,
        "{inside:?}"
    );
    assert_eq!(
        inside, outside,
        "the container's detections differ from the host's"
    );

    // serve in the container, /healthz and /readyz from the host; cold then warm model cache.
    std::fs::write(
        dir.path().join("serve.toml"),
        "[model]\nmodel = \"pedestrian-ssdlite\"\n",
    )
    .unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let name = format!("ovstream-test-{}", std::process::id());
    // Two names: `--rm` removes a stopped container asynchronously, so reusing one name can
    // race with that removal ("the container name … is already in use").
    let cold = serve_until_ready(
        &format!("{name}-cold"),
        free_port(),
        dir.path(),
        Some(&cache),
    );
    let warm = serve_until_ready(
        &format!("{name}-warm"),
        free_port(),
        dir.path(),
        Some(&cache),
    );
    let inspect = podman(&["image", "inspect", IMAGE, "--format", "{{.Size}}"]);
    let size: u64 = String::from_utf8_lossy(&inspect.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    eprintln!(
        "image {} MB; container start to /readyz 200: cold cache {cold:.2} s, warm cache {warm:.2} s",
        size / 1_000_000
    );
}
