//! The pipeline's scheduling on the fake inference backend ([`crate::engine::fake`]): real
//! GStreamer sources and sinks, no model. Each test runs in well under a second; what real
//! models detect is checked by the integration tests.

use super::*;
use crate::adapters::{self, Build};
use crate::config::PipelineConfig;
use crate::engine::fake::FakeModel;
use crate::sink::sinks_for_sources;
use crate::source::SourceOptions;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn vtest() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/vtest.avi");
    assert!(p.is_file(), "{} is missing: run `make setup`", p.display());
    p.display().to_string()
}

/// The fake engine and an SSD adapter for its `[1, 1, N, 7]` output (one class, `thing`).
fn fake(model: &FakeModel) -> (Engine, Adapter) {
    fake_at(model, 0.4)
}

/// [`fake`] with the SSD adapter's confidence `threshold`.
fn fake_at(model: &FakeModel, threshold: f32) -> (Engine, Adapter) {
    let engine = model.engine();
    let build = Build {
        outputs: &engine.outputs,
        has_output: &|n| engine.has_output(n),
        input: (engine.input.height as i64, engine.input.width as i64),
        labels: vec!["thing".into()],
        threshold,
        iou: 0.5,
        classes: &[],
    };
    let adapter = (adapters::ssd::REGISTRATION.build)(&build).expect("fake fits SSD");
    (engine, adapter)
}

/// A config whose outputs are JSON lines (and more, from `extra`) under `dir`, per source.
fn config(dir: &Path, extra: &str) -> PipelineConfig {
    let text = format!(
        "[source]\ninput = \"x\"\n[model]\nmodel = \"fake\"\n[output]\nmetadata = \"{}/{{name}}.jsonl\"\n{extra}",
        dir.display()
    );
    PipelineConfig::parse(&text, Path::new("seam.toml")).unwrap()
}

fn open(uri: &str) -> Source {
    crate::gst_init().unwrap();
    Source::open(uri, &SourceOptions::default()).unwrap()
}

fn inputs(config: &PipelineConfig, sources: Vec<(&str, Source)>) -> Vec<Input> {
    let names: Vec<String> = sources.iter().map(|(n, _)| n.to_string()).collect();
    let sinks = sinks_for_sources(config, &names).unwrap();
    sources
        .into_iter()
        .zip(sinks)
        .map(|((_, source), sinks)| Input {
            source,
            sinks,
            analytics: None,
        })
        .collect()
}

fn lines(dir: &Path, name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.jsonl"))).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn frames(lines: &[Value]) -> Vec<u64> {
    lines.iter().map(|l| l["frame"].as_u64().unwrap()).collect()
}

fn confidences(lines: &[Value]) -> Vec<f64> {
    lines
        .iter()
        .map(|l| l["objects"][0]["detection"]["confidence"].as_f64().unwrap())
        .collect()
}

#[test]
fn frames_keep_their_order_with_any_nireq() {
    let mut reference: Option<Vec<f64>> = None;
    for nireq in [1, 2, 3, 8] {
        let dir = tempfile::tempdir().unwrap();
        let (mut engine, adapter) = fake(&FakeModel {
            nireq,
            ..FakeModel::default()
        });
        let cfg = config(dir.path(), "");
        let options = RunOptions {
            limit: Some(30),
            ..RunOptions::for_config(&cfg, false)
        };
        let ins = inputs(&cfg, vec![("a", open(&vtest()))]);
        let stop = AtomicBool::new(false);
        let summary = run_many(
            ins,
            &mut engine,
            &adapter,
            Secondary::none(),
            &options,
            &stop,
        )
        .unwrap();
        assert_eq!(summary.frames, 30);
        let out = lines(dir.path(), "a");
        assert_eq!(frames(&out), (0..30).collect::<Vec<_>>(), "nireq {nireq}");
        // Each frame's box carries its own pixels' mean: the same frame → the same value,
        // whatever request it went through and in whatever order the requests finished.
        let conf = confidences(&out);
        match &reference {
            None => reference = Some(conf),
            Some(r) => assert_eq!(&conf, r, "nireq {nireq}"),
        }
    }
}

#[test]
fn a_cross_source_batch_gives_each_frame_its_own_result() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, adapter) = fake(&FakeModel {
        batch: 2,
        nireq: 2,
        ..FakeModel::default()
    });
    let cfg = config(dir.path(), "");
    let options = RunOptions {
        limit: Some(20),
        ..RunOptions::for_config(&cfg, false)
    };
    let black = "test://?pattern=black&fps=200&width=64&height=64";
    let white = "test://?pattern=white&fps=200&width=64&height=64";
    let ins = inputs(&cfg, vec![("black", open(black)), ("white", open(white))]);
    let stop = AtomicBool::new(false);
    run_many(
        ins,
        &mut engine,
        &adapter,
        Secondary::none(),
        &options,
        &stop,
    )
    .unwrap();
    let (b, w) = (lines(dir.path(), "black"), lines(dir.path(), "white"));
    assert!(!b.is_empty() && !w.is_empty());
    assert!(
        confidences(&b).iter().all(|&c| c < 0.6),
        "{:?}",
        confidences(&b)
    );
    assert!(
        confidences(&w).iter().all(|&c| c > 0.9),
        "{:?}",
        confidences(&w)
    );
    for out in [&b, &w] {
        assert!(frames(out).windows(2).all(|f| f[1] > f[0]));
    }
}

#[test]
fn end_of_source_reaches_every_stage_and_finalizes_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, adapter) = fake(&FakeModel::default());
    let extra = format!(
        "mp4 = \"{0}/{{name}}.mp4\"\nevents = \"{0}/{{name}}.events.jsonl\"\n",
        dir.path().display()
    );
    let cfg = config(dir.path(), &extra);
    let options = RunOptions {
        limit: Some(12),
        ..RunOptions::for_config(&cfg, false)
    };
    let ins = inputs(&cfg, vec![("a", open(&vtest()))]);
    let stop = AtomicBool::new(false);
    let summary = run_many(
        ins,
        &mut engine,
        &adapter,
        Secondary::none(),
        &options,
        &stop,
    )
    .unwrap();
    let stages: Vec<&str> = summary.stages.iter().map(|s| s.name).collect();
    for stage in [
        "preprocess",
        "infer",
        "postprocess",
        "analytics",
        "events",
        "overlay",
    ] {
        let s = summary.stages.iter().find(|s| s.name == stage);
        assert_eq!(s.map(|s| s.count), Some(12), "{stage} in {stages:?}");
    }
    assert_eq!(lines(dir.path(), "a").len(), 12);
    let mp4 = std::fs::read(dir.path().join("a.mp4")).unwrap();
    assert!(mp4.windows(4).any(|w| w == b"moov"), "MP4 finalized");
    // One tracked thing: its `new` event, and its `end` at end of source.
    let events = lines(dir.path(), "a.events");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"new"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"end"), "{kinds:?}");
}

#[test]
fn a_live_edge_drops_its_oldest_frames_when_inference_falls_behind() {
    let dir = tempfile::tempdir().unwrap();
    // 20 ms per inference, one request: 50 frames/s at most, from a 200 fps camera.
    let (mut engine, adapter) = fake(&FakeModel {
        nireq: 1,
        delay: Duration::from_millis(20),
        jitter: Duration::ZERO,
        ..FakeModel::default()
    });
    let cfg = config(dir.path(), "");
    let options = RunOptions {
        limit: Some(120),
        ..RunOptions::for_config(&cfg, true)
    };
    let options = RunOptions {
        motion: None,
        stats_interval: None,
        ..options
    };
    let cam = "test://?pattern=ball&fps=200&width=64&height=64";
    let ins = inputs(&cfg, vec![("cam", open(cam))]);
    let stop = AtomicBool::new(false);
    let summary = run_many(
        ins,
        &mut engine,
        &adapter,
        Secondary::none(),
        &options,
        &stop,
    )
    .unwrap();
    let out = frames(&lines(dir.path(), "cam"));
    let drops = summary.sources[0].drops;
    assert!(drops > 20, "{drops} drops");
    assert_eq!(
        out.len() as u64 + drops,
        120,
        "every frame written or counted"
    );
    assert!(out.windows(2).all(|f| f[1] > f[0]), "{out:?}");
    let decoded = summary.edges.iter().find(|e| e.name == "decoded").unwrap();
    assert!(decoded.high_water <= decoded.capacity, "{decoded:?}");
}

#[test]
fn sources_join_and_leave_a_running_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, adapter) = fake(&FakeModel::default());
    let cfg = config(dir.path(), "");
    let options = RunOptions::for_config(&cfg, false);
    let stop = AtomicBool::new(false);
    let cam = "test://?pattern=ball&fps=100&width=64&height=64";
    let summary = run_dynamic(
        &mut engine,
        &adapter,
        Secondary::none(),
        &options,
        &stop,
        |p| {
            let mut sinks = sinks_for_sources(&cfg, &["file".into(), "cam".into()])?;
            let cam_sinks = sinks.pop().unwrap();
            let play = Play {
                limit: Some(25),
                ..Play::default()
            };
            p.add_source_with(open(&vtest()), sinks.pop().unwrap(), play)?;
            let cam = p.add_source(open(cam), cam_sinks)?;
            let list = &p.ctx.registry.list;
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while list.snapshot()[cam].written() < 10 {
                assert!(std::time::Instant::now() < deadline, "the camera streams");
                std::thread::sleep(Duration::from_millis(5));
            }
            p.remove_source(cam)?;
            // Its outputs are final once remove_source returns.
            let written = lines(dir.path(), "cam").len();
            assert!(written >= 10, "{written}");
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(
        frames(&lines(dir.path(), "file")),
        (0..25).collect::<Vec<_>>()
    );
    let cam = frames(&lines(dir.path(), "cam"));
    assert!(cam.windows(2).all(|f| f[1] > f[0]), "{cam:?}");
    let reported = summary.sources.iter().find(|s| s.name == "cam").unwrap();
    assert_eq!(reported.frames, cam.len() as u64, "{reported:?}");
}

#[test]
fn an_interval_infers_every_nth_frame_and_carries_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, adapter) = fake(&FakeModel::default());
    let cfg = config(dir.path(), "[detect]\ninterval = 3\n");
    let options = RunOptions {
        limit: Some(30),
        ..RunOptions::for_config(&cfg, false)
    };
    assert_eq!(options.interval, 3);
    let ins = inputs(&cfg, vec![("a", open(&vtest()))]);
    let stop = AtomicBool::new(false);
    let summary = run_many(
        ins,
        &mut engine,
        &adapter,
        Secondary::none(),
        &options,
        &stop,
    )
    .unwrap();
    assert_eq!(summary.sources[0].skipped, 20);
    let out = lines(dir.path(), "a");
    let carried: Vec<u64> = out
        .iter()
        .filter(|l| l["inferred"] == false)
        .map(|l| l["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(carried.len(), 20);
    assert!(carried.iter().all(|f| f % 3 != 0), "{carried:?}");
    assert!(out
        .iter()
        .all(|l| l["objects"].as_array().unwrap().len() == 1));
}

#[test]
fn stop_ends_a_live_run_with_its_outputs_finalized() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, adapter) = fake(&FakeModel::default());
    let extra = format!("mp4 = \"{}/{{name}}.mp4\"\n", dir.path().display());
    let cfg = config(dir.path(), &extra);
    let options = RunOptions {
        motion: None,
        stats_interval: None,
        ..RunOptions::for_config(&cfg, true)
    };
    let cam = "test://?pattern=ball&fps=100&width=64&height=64";
    let ins = inputs(&cfg, vec![("cam", open(cam))]);
    let stop = AtomicBool::new(false);
    let summary = run_many_with(
        ins,
        &mut engine,
        &adapter,
        Secondary::none(),
        &options,
        &stop,
        |p, ids| {
            let list = &p.ctx.registry.list;
            while list.snapshot()[ids[0]].written() < 10 {
                std::thread::sleep(Duration::from_millis(5));
            }
            stop.store(true, Ordering::Relaxed);
            Ok(())
        },
    )
    .unwrap();
    assert!(summary.frames >= 10);
    let mp4 = std::fs::read(dir.path().join("cam.mp4")).unwrap();
    assert!(mp4.windows(4).any(|w| w == b"moov"), "MP4 finalized");
    assert!(frames(&lines(dir.path(), "cam")).len() as u64 == summary.frames);
}

/// A live 100 fps 160x120 `test://` `pattern` through the fake model with the `[detect]`
/// settings `detect`, `frames` frames: the summary and the JSON lines.
fn live_pattern(detect: &str, pattern: &str, frames: u64) -> (Summary, Vec<Value>) {
    live_pattern_at(detect, pattern, frames, 0.4)
}

/// [`live_pattern`] with the adapter's confidence `threshold`.
fn live_pattern_at(
    detect: &str,
    pattern: &str,
    frames: u64,
    threshold: f32,
) -> (Summary, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, adapter) = fake_at(&FakeModel::default(), threshold);
    let cfg = config(dir.path(), &format!("[detect]\n{detect}\n"));
    let options = RunOptions {
        limit: Some(frames),
        stats_interval: None,
        ..RunOptions::for_config(&cfg, true)
    };
    let cam = format!("test://?pattern={pattern}&fps=100&width=160&height=120");
    let ins = inputs(&cfg, vec![("cam", open(&cam))]);
    let stop = AtomicBool::new(false);
    let summary = run_many(
        ins,
        &mut engine,
        &adapter,
        Secondary::none(),
        &options,
        &stop,
    )
    .unwrap();
    let out = lines(dir.path(), "cam");
    (summary, out)
}

#[test]
fn motion_mode_infers_moving_scenes_and_idle_checks_only_where_objects_were() {
    const MOTION: &str = "mode = \"motion\"\nmax_idle_seconds = 0.2";
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &format!("[detect]\n{MOTION}\n"));
    assert!(RunOptions::for_config(&cfg, true).motion.is_some());
    let run = |pattern: &str, frames: u64| {
        // A threshold between the fake model's confidence on black (0.5) and on white (~1).
        let (summary, _) = live_pattern_at(MOTION, pattern, frames, 0.6);
        let s = &summary.sources[0];
        (s.frames, s.skipped)
    };
    // A still scene with an object (white: the fake model's box is confident): the first
    // frame, then one per 0.2 s of stream time (0.6 s here).
    let (written, skipped) = run("white", 60);
    assert!(written >= 50, "{written}");
    let inferred = written - skipped;
    assert!(
        (3..=6).contains(&inferred),
        "{inferred} of {written} inferred"
    );
    // A still, empty scene (black: its box is under the threshold), 1 s: the first frame and
    // one idle check (two empty inferences in a row end them; one more if a result was still
    // on its way), not one per 0.2 s.
    let (written, skipped) = run("black", 100);
    assert!(written >= 90, "{written}");
    let inferred = written - skipped;
    assert!(
        (2..=3).contains(&inferred),
        "{inferred} of {written} inferred"
    );
    // A moving ball: nearly every frame.
    let (written, skipped) = run("ball", 40);
    assert!(skipped * 4 < written, "{skipped} of {written} skipped");
}

#[test]
fn a_detect_rate_caps_inferences_per_second_of_stream_time_in_every_mode() {
    let run = |detect: &str, frames: u64| {
        let (summary, out) = live_pattern(detect, "ball", frames);
        let inferred: Vec<u64> = out
            .iter()
            .filter(|l| l["inferred"] != false)
            .map(|l| l["timestamp"].as_u64().unwrap())
            .collect();
        assert_eq!(
            summary.sources[0].frames - summary.sources[0].skipped,
            inferred.len() as u64
        );
        (summary.sources[0].frames, inferred)
    };
    // Motion mode, a ball moving on every frame of a 100 fps stream, 10 inferences a second:
    // one frame in ten, on a 100 ms grid of stream time.
    let (written, inferred) = run("mode = \"motion\"\nfps = 10", 60);
    assert!(written >= 50, "{written}");
    let expected = written.div_ceil(10) as usize;
    assert!(
        inferred.len().abs_diff(expected) <= 1,
        "{} of {written} inferred: {inferred:?}",
        inferred.len()
    );
    // Never three within a period: a slot taken late (a live source that dropped frames under
    // load) may be followed by the next slot on time, less than a period later.
    assert!(
        inferred.windows(3).all(|t| t[2] - t[0] >= 98_000_000),
        "{inferred:?}"
    );
    // Every-frame mode at 25 a second: one in four, kept on the 40 ms grid.
    let (written, inferred) = run("mode = \"always\"\nfps = 25", 40);
    let expected = written.div_ceil(4) as usize;
    assert!(
        inferred.len().abs_diff(expected) <= 1,
        "{} of {written} inferred: {inferred:?}",
        inferred.len()
    );
}
