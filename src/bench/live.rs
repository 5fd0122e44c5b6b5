//! Live-latency benchmark: a live test source (`test://`, vtest.avi's 768x576) at 1× and 2×
//! the inference capacity. Load is set by the source's frame rate: `fps = load × raw FPS`
//! (raw inference throughput measured first, as in `ovstream bench`). Scaling the model input
//! instead does not work for TF-OD-API SSDs: their graph resizes to 300x300 inside, so a
//! bigger input costs little more. Per load: end-to-end latency p50/p95/p99 (from the frame's
//! arrival at the appsink to the sink's write), drop rate, and the goal
//! `p99 ≤ 3 frame intervals + one inference latency` (the infer stage's p50).

use super::{raw_throughput, run_for};
use crate::config::PipelineConfig;
use crate::detector::Detector;
use crate::error::Result;
use crate::pipeline::{self, RunOptions};
use crate::sink::sinks_from_config;
use crate::source::Source;
use std::path::Path;
use std::time::Duration;

/// Size of the camera stand-in's frames (vtest.avi's size).
const LIVE_WIDTH: u32 = 768;
const LIVE_HEIGHT: u32 = 576;
/// Raw-throughput measurement before the runs.
const CALIBRATION: Duration = Duration::from_secs(10);

fn test_source(fps: u32) -> String {
    format!("test://?pattern=ball&fps={fps}&width={LIVE_WIDTH}&height={LIVE_HEIGHT}")
}

/// One load level's measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveRun {
    /// `source_fps / raw FPS`.
    pub load: f64,
    pub source_fps: u32,
    /// Frames written per second, and the share of source frames dropped.
    pub fps: f64,
    pub drop_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// `3 × frame interval + infer p50`, in ms.
    pub goal_p99_ms: f64,
}

/// The table `ovstream bench --live` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveReport {
    pub model: String,
    pub execution_devices: String,
    pub nireq: usize,
    pub raw_fps: f64,
    pub runs: Vec<LiveRun>,
}

/// Measures each of `loads` (multiples of the raw inference throughput) for `duration`.
pub fn run(
    config: &PipelineConfig,
    loads: &[f64],
    duration: Duration,
    scratch: &Path,
    openvino_lib: Option<&Path>,
) -> Result<LiveReport> {
    let cfg = super::scratch_outputs(config, scratch, "live", false);
    let mut detector = Detector::from_config(&cfg, openvino_lib)?;
    let raw_fps = raw_throughput(&mut detector, &test_source(30), CALIBRATION)?.fps;
    // Every frame inferred, whatever the file's mode: the load is what is measured.
    let options = RunOptions {
        motion: None,
        interval: 1,
        ..RunOptions::for_config(&cfg, false)
    };
    let mut runs = Vec::new();
    for &load in loads {
        let source_fps = (load * raw_fps).round().max(1.0) as u32;
        let src = Source::open(&test_source(source_fps), &cfg.source.options())?;
        let sinks = sinks_from_config(&cfg, &src.uri)?;
        let summary = run_for(duration, |stop| {
            pipeline::run(
                src,
                &mut detector.engine,
                &detector.adapter,
                sinks,
                pipeline::Secondary::none(),
                &options,
                stop,
            )
        })?;
        let stage = |name: &str| summary.stages.iter().find(|s| s.name == name).cloned();
        let e2e = stage("end-to-end").expect("end-to-end stage");
        let infer_p50 = stage("infer").map_or(0.0, |s| s.p50_ms);
        let drops: u64 = summary.edges.iter().map(|e| e.drops).sum();
        let run = LiveRun {
            load: f64::from(source_fps) / raw_fps,
            source_fps,
            fps: summary.fps,
            drop_rate: drops as f64 / (summary.frames + drops).max(1) as f64,
            p50_ms: e2e.p50_ms,
            p95_ms: e2e.p95_ms,
            p99_ms: e2e.p99_ms,
            goal_p99_ms: 3.0 * 1000.0 / f64::from(source_fps) + infer_p50,
        };
        tracing::info!(?run, "live load measured");
        runs.push(run);
    }
    Ok(LiveReport {
        model: detector.model.clone(),
        execution_devices: detector.engine.execution_devices.clone(),
        nireq: detector.engine.nireq,
        raw_fps,
        runs,
    })
}

impl std::fmt::Display for LiveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "live latency: {}x{} test source, model {} on {} (nireq {}), raw inference {:.1} FPS",
            LIVE_WIDTH, LIVE_HEIGHT, self.model, self.execution_devices, self.nireq, self.raw_fps
        )?;
        writeln!(
            f,
            "  {:>6} {:>10} {:>8} {:>7} {:>8} {:>8} {:>8} {:>12}",
            "load", "source FPS", "out FPS", "drops", "p50 ms", "p95 ms", "p99 ms", "goal p99 ms"
        )?;
        for r in &self.runs {
            writeln!(
                f,
                "  {:>5.2}× {:>10} {:>8.1} {:>6.1}% {:>8.1} {:>8.1} {:>8.1} {:>8.1} {}",
                r.load,
                r.source_fps,
                r.fps,
                100.0 * r.drop_rate,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.goal_p99_ms,
                if r.p99_ms <= r.goal_p99_ms {
                    "met"
                } else {
                    "MISSED"
                }
            )?;
        }
        Ok(())
    }
}
