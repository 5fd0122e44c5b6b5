//! Hostile and careless inputs: no code run from the working directory's ancestors, no
//! credential printed, no input or output overwritten, no panic or hang on absurd values.

use crate::common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Builds a shared object at `out` from C `source` with clang.
fn build_so(source: &str, out: &Path) {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let c = out.with_extension("c");
    std::fs::write(&c, source).unwrap();
    let status = Command::new("clang")
        .args(["-shared", "-fPIC", "-o"])
        .arg(out)
        .arg(&c)
        .status()
        .expect("clang runs (scripts/setup.sh installs it)");
    assert!(status.success());
}

#[test]
fn a_library_planted_above_the_working_directory_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("PWNED");
    let planted = dir
        .path()
        .join(".venv/lib/python3.11/site-packages/openvino/libs/libopenvino_c.so.9999");
    build_so(
        &format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void run(void) {{ \
             FILE *f = fopen(\"{}\", \"w\"); if (f) fclose(f); }}\n",
            marker.display()
        ),
        &planted,
    );
    let cwd = dir.path().join("work/here");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ovstream"))
        .arg("devices")
        .current_dir(&cwd)
        .env_remove("OVSTREAM_OPENVINO_LIB")
        .output()
        .unwrap();
    assert!(!marker.exists(), "the planted library's code ran");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("CPU"));
}

#[test]
fn a_library_without_the_openvino_symbols_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libnotopenvino.so");
    build_so("int unrelated(void) { return 1; }\n", &lib);
    let out = ovstream(&["devices", "--openvino-lib", lib.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(lib.to_str().unwrap()), "{err}");
    assert!(err.contains("ov_get_openvino_version"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_output_that_is_an_input_or_another_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.avi");
    std::fs::copy(vtest(), &input).unwrap();
    let before = sha256(&input);
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let via_dotdot = dir.path().join("sub/../in.avi");
    let link = dir.path().join("link.avi");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let other = dir.path().join("x.out");
    for (flag, target) in [
        ("--output", input.to_str().unwrap()),
        ("--metadata", via_dotdot.to_str().unwrap()),
        ("--events", link.to_str().unwrap()),
    ] {
        let out = ovstream(&[
            "run",
            "--input",
            input.to_str().unwrap(),
            flag,
            target,
            "--limit",
            "5",
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {target}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("same file as input"),
            "{}",
            stderr(&out)
        );
        assert_eq!(sha256(&input), before, "{flag} {target} changed the input");
    }
    let out = ovstream(&[
        "run",
        "--input",
        input.to_str().unwrap(),
        "--output",
        other.to_str().unwrap(),
        "--metadata",
        other.to_str().unwrap(),
        "--limit",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("same file as --metadata output"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn absurd_durations_are_config_errors_with_the_range() {
    for value in ["1e300", "0.00001", "-3", "NaN"] {
        let flag = format!("--stats-interval={value}");
        let out = ovstream(&["run", &flag, "--limit", "1"]);
        assert_eq!(out.status.code(), Some(2), "{value}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("stats_interval") && err.contains("86400"),
            "{value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        "[source]\ninput = \"samples/vtest.avi\"\nstall_timeout = 1e300\n[model]\nmodel = \"pedestrian-ssdlite\"\n",
    )
    .unwrap();
    let out = ovstream(&["run", pipeline.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stall_timeout = 1e300"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn endless_or_huge_text_files_are_refused_before_reading_them_whole() {
    let out = ovstream(&["run", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 1048576 bytes"),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        "[source]\ninput = \"samples/vtest.avi\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n\
         [detect]\nlabels_file = \"/dev/zero\"\n",
    )
    .unwrap();
    let out = ovstream(&["run", pipeline.to_str().unwrap(), "--limit", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/dev/zero"), "{}", stderr(&out));
}

#[test]
fn a_cached_nireq_of_zero_is_measured_again_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().to_str().unwrap();
    let args = [
        "run",
        "--nireq",
        "auto",
        "--limit",
        "20",
        "--no-progress",
        "--metadata",
        "-",
    ];
    let out = ovstream_with_env(&args, &[("XDG_CACHE_HOME", cache)]);
    assert_ok(&out);
    let file = dir.path().join("ovstream/nireq.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let zeroed = regex_free_zero(&text);
    std::fs::write(&file, &zeroed).unwrap();
    // Must not deadlock on 0 requests: measured again, then runs.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovstream"))
        .args(args)
        .current_dir(root())
        .env("XDG_CACHE_HOME", cache)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("hung on a cached nireq of 0");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("(cached in"), "{}", stderr(&out));
    assert!(!std::fs::read_to_string(&file).unwrap().contains(": 0"));
}

/// Every cached value in a `{"key": N, …}` JSON object set to 0.
fn regex_free_zero(text: &str) -> String {
    let map: std::collections::BTreeMap<String, u64> = serde_json::from_str(text).unwrap();
    let zeroed: std::collections::BTreeMap<String, u64> = map.into_keys().map(|k| (k, 0)).collect();
    serde_json::to_string(&zeroed).unwrap()
}

#[test]
fn a_password_in_an_input_uri_is_never_printed() {
    let out = ovstream(&[
        "run",
        "--input",
        "rtsp://admin:s3cret@127.0.0.1:1/cam",
        "--max-reconnects",
        "0",
        "--limit",
        "1",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert!(err.contains("admin:***@127.0.0.1"), "{err}");
}

#[test]
fn display_without_a_display_is_an_output_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("m.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_ovstream"))
        .args(["run", "--display", "--limit", "5", "--metadata"])
        .arg(&meta)
        .current_dir(root())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("no display"), "{}", stderr(&out));
}

#[test]
fn logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    let out = ovstream_with_env(
        &["run", "--limit", "3", "--no-progress"],
        &[("OVSTREAM_LOG", "info")],
    );
    let err = assert_ok(&out);
    assert!(err.contains("INFO"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn ten_idle_connections_do_not_delay_a_scrape() {
    use std::io::{Read, Write};
    let port = common::broker::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut run = spawn_ovstream(&[
        "run",
        "--input",
        "test://?fps=30&width=320&height=240",
        "--limit",
        "450",
        "--metrics",
        &addr,
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "metrics never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle: Vec<_> = (0..10)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let took = t0.elapsed();
    drop(idle);
    assert!(body.contains("ovstream_frames_total"), "{body}");
    assert!(
        took < Duration::from_millis(1500),
        "the scrape waited {took:?} behind idle clients"
    );
    run.kill().unwrap();
    run.wait().unwrap();
}

#[test]
fn a_taken_metrics_port_fails_before_any_output_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("m.jsonl");
    std::fs::write(&meta, "precious\n").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = ovstream(&[
        "run",
        "--limit",
        "5",
        "--metadata",
        meta.to_str().unwrap(),
        "--metrics",
        &addr,
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&meta).unwrap(), "precious\n");
}

#[test]
fn listening_endpoints_say_where_and_warn_on_every_interface() {
    let out = ovstream(&[
        "run",
        "--limit",
        "5",
        "--no-progress",
        "--rtsp-out",
        "rtsp://127.0.0.1:0/x",
        "--metrics",
        "0.0.0.0:0",
    ]);
    let err = assert_ok(&out);
    assert!(!err.contains("127.0.0.1:0/"), "port 0 printed: {err}");
    assert!(
        err.contains("serving the annotated stream at rtsp://127.0.0.1:"),
        "{err}"
    );
    assert!(
        err.contains("warning: --metrics listens on every interface"),
        "{err}"
    );
}

#[test]
fn config_mistakes_are_exit_2_before_the_compile() {
    for args in [
        &["run", "--classes", ",,,", "--limit", "1"][..],
        &["run", "--input-size", "301x301", "--limit", "1"][..],
        &["run", "--device", "GPU.99", "--limit", "1"][..],
        &[
            "run",
            "pipelines/faces.toml",
            "--gallery",
            "/nonexistent/gallery",
            "--limit",
            "1",
        ][..],
    ] {
        let out = ovstream(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("compiled in"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    for (key, want) in [
        ("nireq = -1", "positive number"),
        ("nstreams = \"banana\"", "banana"),
    ] {
        let p = dir.path().join("p.toml");
        std::fs::write(
            &p,
            format!("[source]\ninput = \"samples/vtest.avi\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n{key}\n"),
        )
        .unwrap();
        let out = ovstream(&["run", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{key}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{key}: {}", stderr(&out));
        assert!(!stderr(&out).contains("untagged"), "{}", stderr(&out));
    }
}

#[test]
fn gallery_add_never_overwrites_and_refuses_unusable_names() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = dir.path().join("g");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(asset("samples/faces/obama.jpg"), a.join("face.jpg")).unwrap();
    std::fs::copy(asset("samples/faces/obama2.jpg"), b.join("face.jpg")).unwrap();
    let add = |name: &str, images: &[&Path]| {
        let mut args = vec!["gallery".to_string(), "--gallery".into()];
        args.push(gallery.display().to_string());
        args.extend(["add".to_string(), name.to_string()]);
        args.extend(images.iter().map(|p| p.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ovstream(&args)
    };
    assert_ok(&add("obama", &[&a.join("face.jpg"), &b.join("face.jpg")]));
    let person = gallery.join("obama");
    let files = || {
        let mut f: Vec<_> = std::fs::read_dir(&person)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        f.sort();
        f
    };
    assert_eq!(
        files().len(),
        2,
        "two photos with one file name both stay: {:?}",
        files()
    );
    // Adding an image that is already in the gallery changes nothing.
    let first = files()[0].clone();
    let size = std::fs::metadata(&first).unwrap().len();
    assert_ok(&add("obama", &[&first]));
    assert_eq!(files().len(), 2);
    assert_eq!(
        std::fs::metadata(&first).unwrap().len(),
        size,
        "the image was truncated"
    );
    for bad in ["a\nb", "   ", " padded"] {
        let out = add(bad, &[&a.join("face.jpg")]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
}

/// RGB of the centre pixel of the last frame of `mp4`, and the frame size.
fn last_frame_centre(mp4: &Path) -> ([u8; 3], (i32, i32)) {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! qtdemux ! decodebin ! videoconvert ! video/x-raw,format=RGB ! \
         appsink name=s sync=false",
        mp4.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("s")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut last = None;
    while let Some(s) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
        last = Some(s);
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let sample = last.expect("a decoded frame");
    let info = gstreamer_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
    let map = sample.buffer().unwrap().map_readable().unwrap();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let at = (h / 2) * info.stride()[0] as usize + (w / 2) * 3;
    ([map[at], map[at + 1], map[at + 2]], (w as i32, h as i32))
}

#[test]
fn a_mid_stream_size_change_is_scaled_to_the_first_size_not_cropped() {
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("two-sizes.ts");
    // 30 frames of 320x240, then 30 of solid red at 640x480, in one stream.
    let out = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(
            format!(
                "concat name=c ! videoconvert ! x264enc ! mpegtsmux ! filesink location={} \
                 videotestsrc num-buffers=30 pattern=ball ! \
                 video/x-raw,width=320,height=240,framerate=30/1 ! c. \
                 videotestsrc num-buffers=30 pattern=red ! \
                 video/x-raw,width=640,height=480,framerate=30/1 ! c.",
                ts.display()
            )
            .split_whitespace(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mp4, meta) = (dir.path().join("o.mp4"), dir.path().join("o.jsonl"));
    let run = ovstream(&[
        "run",
        "--input",
        ts.to_str().unwrap(),
        "--output",
        mp4.to_str().unwrap(),
        "--metadata",
        meta.to_str().unwrap(),
        "--no-progress",
    ]);
    assert_ok(&run);
    let lines = read_jsonl(&meta);
    assert_eq!(lines.last().unwrap()["resolution"]["width"], 640);
    assert_eq!(decode_mp4(&mp4), (60, 320, 240));
    let ([r, g, b], size) = last_frame_centre(&mp4);
    assert_eq!(size, (320, 240));
    assert!(
        r > 180 && g < 90 && b < 90,
        "the red frames were not scaled: rgb {r},{g},{b}"
    );
}

#[test]
fn a_killed_run_leaves_an_mp4_that_plays_to_its_last_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("k.mp4");
    let mut run = spawn_ovstream(&[
        "run",
        "--loop",
        "--no-progress",
        "--output",
        mp4.to_str().unwrap(),
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&mp4).map_or(0, |m| m.len()) < 300_000 {
        assert!(Instant::now() < deadline, "the MP4 never grew");
        std::thread::sleep(Duration::from_millis(100));
    }
    run.kill().unwrap(); // SIGKILL: no chance to finish the file
    run.wait().unwrap();
    let (frames, w, h) = decode_mp4(&mp4);
    assert_eq!((w, h), (768, 576));
    assert!(
        frames >= 10,
        "{frames} frames decoded from the killed run's MP4"
    );
}

/// Issue 32, item 12: at a camera's low bitrate, a SIGKILL 3 s in still leaves an MP4 that
/// plays and JSON lines on disk: fragments go to the file as they are made (not when 64 KiB
/// have gathered), JSON lines at most 1 s after they are written.
#[test]
fn a_run_killed_early_at_a_low_bitrate_leaves_video_and_lines_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("cam.mp4");
    let meta = dir.path().join("cam.jsonl");
    let mut run = spawn_ovstream(&[
        "run",
        "--input",
        "test://?pattern=ball&width=160&height=120&fps=10",
        "--no-progress",
        "--output",
        mp4.to_str().unwrap(),
        "--metadata",
        meta.to_str().unwrap(),
    ]);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    // Two fragments (1 s each) made, and the JSON flushed at least once since the first line.
    let lines = || std::fs::read(&meta).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count());
    while lines() < 25 {
        assert!(Instant::now() < deadline, "no JSON lines reached the file");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1200));
    run.kill().unwrap(); // SIGKILL: nothing is finished
    run.wait().unwrap();
    let size = std::fs::metadata(&mp4).unwrap().len();
    assert!(size < 64 * 1024, "a low bitrate: {size} B");
    let (frames, w, h) = decode_mp4(&mp4);
    assert_eq!((w, h), (160, 120));
    assert!(
        frames >= 10,
        "{frames} frames from the killed run's MP4 ({size} B)"
    );
}

#[test]
fn messages_name_the_real_cause() {
    let port = common::broker::free_port(); // nothing listens there
    let url = format!("http://127.0.0.1:{port}/clip.mp4");
    let out = ovstream(&["run", "--input", &url, "--limit", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let out = ovstream(&[
        "run",
        "--output",
        dir.path().to_str().unwrap(),
        "--limit",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a folder"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("compiled in"),
        "checked before the compile"
    );
}
