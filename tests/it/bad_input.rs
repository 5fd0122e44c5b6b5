//! Bad input gets a clear error naming the file/key, a distinct non-zero exit code, no panic.

use crate::common;

use common::*;
use std::process::{Command, Output};

const EXIT_CONFIG: i32 = 2;
const EXIT_INPUT: i32 = 3;
const EXIT_MODEL: i32 = 4;

fn assert_fails(out: &Output, code: i32, mentions: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr:\n{err}");
    assert!(!err.contains("panicked"), "panic:\n{err}");
    for m in mentions {
        assert!(err.contains(m), "stderr should mention `{m}`:\n{err}");
    }
}

fn run_with(extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let pipeline = pipeline_file(dir.path(), "", &jsonl);
    let mut args = vec!["run", pipeline.to_str().unwrap(), "--no-progress"];
    args.extend_from_slice(extra);
    ovstream(&args)
}

#[test]
fn missing_input_file() {
    let out = run_with(&["--input", "/nonexistent/clip.avi"]);
    assert_fails(&out, EXIT_INPUT, &["/nonexistent/clip.avi", "no such file"]);
}

#[test]
fn input_that_is_not_a_video() {
    let out = run_with(&["--input", "Cargo.toml"]);
    assert_fails(&out, EXIT_INPUT, &["Cargo.toml"]);
}

#[test]
fn model_path_that_does_not_exist() {
    let out = run_with(&["--model", "/nonexistent/model.xml"]);
    assert_fails(&out, EXIT_MODEL, &["/nonexistent/model.xml", "not found"]);
}

#[test]
fn unknown_model_id() {
    let out = run_with(&["--model", "no-such-model"]);
    assert_fails(&out, EXIT_MODEL, &["no-such-model", "pedestrian-ssdlite"]);
}

/// models/fetch's SSDLite IR is static at 300x300 with the graph's resize loop cut out:
/// another input size is refused naming the model and its own size.
#[test]
fn another_input_size_for_a_static_ir_names_its_own() {
    let out = run_with(&["--input-size", "240x320", "--limit", "1"]);
    assert_fails(
        &out,
        EXIT_MODEL,
        &[
            "pedestrian-ssdlite/model.xml",
            "to [1, 240, 320, 3] from its static [1, 300, 300, 3]",
        ],
    );
}

#[test]
fn model_whose_outputs_match_no_adapter() {
    let model = asset("tests/data/classifier.xml");
    // No adapter named: nothing fits its outputs, which is the user's choice to make (exit 2).
    let out = run_with(&["--model", model.to_str().unwrap()]);
    assert_fails(
        &out,
        EXIT_CONFIG,
        &[
            "classifier.xml",
            "logits [1, 3]",
            "no adapter fits",
            "--adapter",
        ],
    );
    // The adapter named, the outputs do not match it: the model's problem (exit 4).
    let out = run_with(&["--model", model.to_str().unwrap(), "--adapter", "ssd"]);
    assert_fails(
        &out,
        EXIT_MODEL,
        &["classifier.xml", "logits", "no SSD layout"],
    );
}

#[test]
fn pipeline_file_with_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(
        &path,
        "[source]\ninput = \"samples/vtest.avi\"\n[model]\nmodel = \"pedestrian-ssdlite\"\nnireqs = 4\n",
    )
    .unwrap();
    let out = ovstream(&["run", path.to_str().unwrap()]);
    assert_fails(&out, EXIT_CONFIG, &["typo.toml", "nireqs", "line 5"]);
}

#[test]
fn missing_pipeline_file() {
    let out = ovstream(&["run", "/nonexistent/pipeline.toml"]);
    assert_fails(&out, EXIT_CONFIG, &["/nonexistent/pipeline.toml"]);
}

#[test]
fn unknown_class_in_filter() {
    let out = run_with(&["--classes", "unicorn"]);
    assert_fails(
        &out,
        EXIT_MODEL,
        &["detect.classes: class \"unicorn\" is not a class of the model (person)"],
    );
}

/// Pipeline-file settings checked before any frame: a detection rate outside (0, 1000] per
/// second, and a zone's or line's class the model does not have (it would never match).
#[test]
fn out_of_range_rate_and_unknown_zone_class_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let run = |extra: &str| {
        let pipeline = pipeline_file(dir.path(), extra, &jsonl);
        ovstream(&[
            "run",
            pipeline.to_str().unwrap(),
            "--no-progress",
            "--limit",
            "3",
        ])
    };
    for fps in ["0", "-5", "1000.5"] {
        let out = run(&format!("[detect]\nfps = {fps}"));
        assert_fails(
            &out,
            EXIT_CONFIG,
            &[&format!("detect.fps = {fps}"), "(0, 1000]"],
        );
    }
    let zone = "[[analytics.zones]]\nname = \"door\"\npolygon = [[0.0, 0.0], [1.0, 0.0], \
                [1.0, 1.0]]\nclasses = [\"person\", \"persn\"]";
    let out = run(zone);
    assert_fails(&out, EXIT_CONFIG, &["zone `door`", "\"persn\"", "(person)"]);
    let line = "[[analytics.lines]]\nname = \"gate\"\npoints = [[0.5, 0.0], [0.5, 1.0]]\n\
                classes = [\"car\"]";
    let out = run(line);
    assert_fails(&out, EXIT_CONFIG, &["line `gate`", "\"car\""]);
    // Known classes: the same zone runs.
    let out = run(&zone.replace(", \"persn\"", ""));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read_jsonl(&jsonl).len(), 3);
}

/// A decoder GStreamer cannot find (ranked out here, as if gstreamer1.0-libav were not
/// installed) is named, with the Debian package that provides it.
#[test]
fn missing_decoder_names_the_debian_package() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "", &dir.path().join("out.jsonl"));
    let out = ovstream_with_env(
        &["run", pipeline.to_str().unwrap(), "--no-progress"],
        &[("GST_PLUGIN_FEATURE_RANK", "avdec_msmpeg4:NONE")],
    );
    assert_fails(
        &out,
        EXIT_INPUT,
        &["vtest.avi", "missing a plug-in", "gstreamer1.0-libav"],
    );
}

#[test]
fn camera_that_does_not_exist() {
    // No V4L2 device exists on these machines: the camera path must fail cleanly and name it.
    let out = run_with(&["--input", "/dev/video97"]);
    assert_fails(&out, EXIT_INPUT, &["v4l2:///dev/video97", "/dev/video97"]);
}

/// A pipeline file that names no input runs once `--input` gives one: the flags are merged
/// before the config is validated (it used to fail with "no input").
#[test]
fn input_flag_completes_a_pipeline_file_without_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-input.toml");
    let jsonl = dir.path().join("out.jsonl");
    std::fs::write(
        &path,
        format!(
            "[model]\nmodel = \"pedestrian-ssdlite\"\n[output]\nmetadata = \"{}\"\n",
            jsonl.display()
        ),
    )
    .unwrap();
    let out = ovstream(&["run", path.to_str().unwrap(), "--no-progress"]);
    assert_fails(&out, EXIT_CONFIG, &["no-input.toml", "no input"]);
    let vtest = vtest();
    let out = ovstream(&[
        "run",
        path.to_str().unwrap(),
        "--input",
        vtest.to_str().unwrap(),
        "--limit",
        "3",
        "--no-progress",
    ]);
    assert_ok(&out);
    assert_eq!(read_jsonl(&jsonl).len(), 3);
}

/// An unreadable token file is a bad setting (exit 2) naming the file, before anything starts.
#[test]
fn unreadable_api_token_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-token");
    let out = ovstream(&[
        "serve",
        "pipelines/pedestrians.toml",
        "--api",
        "127.0.0.1:0",
        "--api-token-file",
        missing.to_str().unwrap(),
    ]);
    assert_fails(&out, EXIT_CONFIG, &["no-such-token", "--api-token-file"]);
    assert!(!stderr(&out).contains("GStreamer"), "{}", stderr(&out));
    // A folder, two lines, a non-ASCII token: no request could ever carry them.
    let two_lines = dir.path().join("two-lines");
    std::fs::write(&two_lines, "first\nsecond\n").unwrap();
    let accent = dir.path().join("accent");
    std::fs::write(&accent, "s\u{e9}cret\n").unwrap();
    for (file, name) in [
        (
            dir.path().to_path_buf(),
            dir.path().file_name().unwrap().to_str().unwrap(),
        ),
        (two_lines.clone(), "two-lines"),
        (accent.clone(), "accent"),
    ] {
        let out = ovstream(&[
            "serve",
            "pipelines/pedestrians.toml",
            "--api",
            "127.0.0.1:0",
            "--api-token-file",
            file.to_str().unwrap(),
        ]);
        assert_fails(&out, EXIT_CONFIG, &[name]);
    }
}

/// An adapter name nobody registered is a settings error listing the registered ones (no
/// silent fallback to SSD).
#[test]
fn unregistered_adapter_lists_the_registered_ones() {
    let out = run_with(&["--adapter", "retinanet"]);
    assert_fails(
        &out,
        EXIT_CONFIG,
        &["retinanet", "not registered", "ssd, blazeface, yolo"],
    );
}

#[test]
fn recordings_folder_that_cannot_be_made() {
    // A file where the folder would go: exit 5 naming it, before any model is compiled.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let target = blocker.join("clips");
    let out = run_with(&["--record", target.to_str().unwrap()]);
    assert_fails(&out, 5, &[target.to_str().unwrap(), "recordings folder"]);
    let out = run_with(&["--post-capture", "3"]);
    assert_fails(&out, EXIT_CONFIG, &["--post-capture", "--record"]);
}

/// Issue 32, messages and exit codes: an `--api` that cannot be an address, empty or
/// duplicated labels, an MQTT URL with port 0 or a `#`, a model path that is a folder or a
/// FIFO, a number too large for its setting, a file without inputs for `shards`.
#[test]
fn messages_and_exit_codes_name_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let p = "pipelines/pedestrians.toml";
    for api in ["127.0.0.1:99999", "no-such-host.invalid:8080"] {
        let out = ovstream(&["serve", p, "--api", api]);
        assert_fails(&out, EXIT_CONFIG, &[api]);
    }
    // Its cause once: `…: invalid port value`, not `…: invalid port value: invalid port value`.
    let out = ovstream(&["serve", p, "--api", "127.0.0.1:99999"]);
    let err = stderr(&out);
    assert_eq!(err.matches("invalid port value").count(), 1, "{err}");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    let twice = dir.path().join("twice.txt");
    std::fs::write(&twice, "person\ncar\nperson\n").unwrap();
    for (file, why) in [
        (&empty, "no labels"),
        (&twice, "`person` is label 0 and label 2"),
    ] {
        let out = run_with(&["--labels", file.to_str().unwrap(), "--limit", "1"]);
        assert_fails(&out, EXIT_CONFIG, &[why]);
    }
    for (url, why) in [
        ("mqtt://127.0.0.1:0/x", "port 0"),
        ("mqtt://127.0.0.1:1883/a#b", "no wildcards"),
    ] {
        let out = run_with(&["--mqtt", url, "--limit", "1"]);
        assert_fails(&out, EXIT_CONFIG, &[why]);
    }
    let fifo = dir.path().join("model.xml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for (model, what) in [(dir.path(), "is a folder"), (fifo.as_path(), "is a FIFO")] {
        let out = run_with(&["--model", model.to_str().unwrap(), "--limit", "1"]);
        assert_fails(&out, EXIT_MODEL, &[what]);
    }
    let huge = dir.path().join("huge.toml");
    std::fs::write(
        &huge,
        "[model]\nmodel = \"pedestrian-ssdlite\"\n[detect]\nthreshold = 1e308\n",
    )
    .unwrap();
    let out = ovstream(&["config", "check", huge.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(EXIT_CONFIG));
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &stderr(&out);
    assert!(
        text.contains("threshold = 1e308") && !text.contains("inf"),
        "{text}"
    );
    let none = dir.path().join("none.toml");
    std::fs::write(&none, "[model]\nmodel = \"pedestrian-ssdlite\"\n").unwrap();
    let out = ovstream(&["shards", none.to_str().unwrap(), "--replicas", "3"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no inputs"));
}

/// Issue 32, item 5: a file whose frames are wider than 7680 is refused before its frames are
/// decoded into the pipeline (a 16000x16000 stream would take gigabytes), saying why.
#[test]
fn frames_larger_than_8k_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.mp4");
    let made = Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=3", "!"])
        .args([
            "video/x-raw,width=7696,height=16,framerate=10/1",
            "!",
            "x264enc",
            "!",
        ])
        .args(["mp4mux", "!", "filesink"])
        .arg(format!("location={}", wide.display()))
        .status()
        .expect("gst-launch-1.0 runs (scripts/setup.sh installs gstreamer1.0-tools)");
    assert!(made.success());
    let out = run_with(&["--input", wide.to_str().unwrap()]);
    assert_fails(&out, EXIT_INPUT, &["wide.mp4", "larger than 7680x4320"]);
}
