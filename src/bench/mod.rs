//! Benchmark: raw inference throughput of the compiled model (like `benchmark_app`: every
//! request kept busy with one prepared input) against the full pipeline on a looped file, in one
//! process run, reported as ratios (machines are noisy; ratios from one run are comparable).
//! Raw throughput is measured before and after the pipeline runs; the ratio uses their mean.

pub mod faces;
pub mod live;
pub mod soak;

use crate::adapters::InputFormat;
use crate::config::PipelineConfig;
use crate::detector::{sinks_from_config, Detector};
use crate::engine::Engine;
use crate::error::Result;
use crate::manifest::Manifest;
use crate::pipeline::{self, stats::Summary, RunOptions};
use crate::source::{first_frame, Source};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Raw throughput measurement (the mean of one measurement before and one after the pipeline
/// runs: this machine's speed drifts, and bracketing keeps the ratio honest).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RawThroughput {
    pub fps_before: f64,
    pub fps_after: f64,
    pub inferences: u64,
    pub seconds: f64,
    pub fps: f64,
    pub nireq: usize,
}

/// One pipeline measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PipelineRun {
    pub name: &'static str,
    pub fps: f64,
    pub ratio_to_raw: f64,
    pub summary: Summary,
}

/// Everything `ovstream bench` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub model: String,
    /// Precision of the stored weights (from the manifest; empty for a plain path).
    pub weights: String,
    pub device: String,
    pub execution_devices: String,
    pub compile_ms: f64,
    pub raw: RawThroughput,
    pub pipelines: Vec<PipelineRun>,
}

/// Keeps `engine.nireq` requests busy on one prepared frame for at least `duration` (and at
/// least `2 × nireq` inferences); returns inferences per second.
pub fn raw_throughput(
    engine: &mut Engine,
    input: &str,
    duration: Duration,
) -> Result<RawThroughput> {
    let frame = first_frame(input)?;
    let nireq = engine.nireq;
    let (count, seconds) =
        crate::tune::keep_busy(engine, &frame, InputFormat::default(), nireq, duration)?;
    Ok(RawThroughput {
        fps_before: count as f64 / seconds,
        fps_after: count as f64 / seconds,
        inferences: count,
        seconds,
        fps: count as f64 / seconds,
        nireq,
    })
}

/// `config` with its outputs replaced by files in `scratch`: JSON lines `<name>.jsonl`, and
/// `<name>.mp4` when `mp4`; no display, no RTSP server.
pub(crate) fn scratch_outputs(
    config: &PipelineConfig,
    scratch: &Path,
    name: &str,
    mp4: bool,
) -> PipelineConfig {
    let mut cfg = config.clone();
    cfg.output.metadata = Some(scratch.join(format!("{name}.jsonl")).display().to_string());
    cfg.output.mp4 = mp4.then(|| scratch.join(format!("{name}.mp4")));
    cfg.output.display = false;
    cfg.output.rtsp = None;
    cfg
}

/// Runs the benchmark: raw throughput, then the pipeline on `input` looped for `limit` frames,
/// metadata-only and with overlay + MP4 (written under `scratch`).
pub fn run(
    config: &PipelineConfig,
    input: &str,
    limit: u64,
    raw_duration: Duration,
    scratch: &Path,
    openvino_lib: Option<&Path>,
) -> Result<BenchReport> {
    let mut detector = Detector::from_config(config, openvino_lib)?;
    let before = raw_throughput(&mut detector.engine, input, raw_duration)?;
    tracing::info!(fps = before.fps, "raw inference throughput (before)");
    let variants: [(&'static str, bool); 2] = [("metadata-only", false), ("overlay+mp4", true)];
    let mut pipelines = Vec::new();
    for (name, with_video) in variants {
        let cfg = scratch_outputs(config, scratch, name, with_video);
        let source = Source::open(input, &config.source.options())?;
        let mut sinks = sinks_from_config(&cfg, &source.uri)?;
        let options = RunOptions {
            looping: true,
            limit: Some(limit),
            progress: false,
            ..RunOptions::default()
        };
        let summary = pipeline::run(
            source,
            &mut detector.engine,
            &detector.adapter,
            &mut sinks,
            None,
            &options,
            &AtomicBool::new(false),
        )?;
        tracing::info!(name, fps = summary.fps, "pipeline");
        pipelines.push(PipelineRun {
            name,
            fps: summary.fps,
            ratio_to_raw: 0.0,
            summary,
        });
    }
    let after = raw_throughput(&mut detector.engine, input, raw_duration)?;
    tracing::info!(fps = after.fps, "raw inference throughput (after)");
    let raw = RawThroughput {
        fps_before: before.fps,
        fps_after: after.fps,
        inferences: before.inferences + after.inferences,
        seconds: before.seconds + after.seconds,
        fps: (before.fps + after.fps) / 2.0,
        nireq: before.nireq,
    };
    for p in &mut pipelines {
        p.ratio_to_raw = p.fps / raw.fps;
    }
    let weights = Manifest::load(&Manifest::default_dir())
        .ok()
        .and_then(|m| m.get(&detector.model).map(|e| e.precision.clone()))
        .unwrap_or_default();
    Ok(BenchReport {
        model: detector.model.clone(),
        weights,
        device: detector.engine.device.clone(),
        execution_devices: detector.engine.execution_devices.clone(),
        compile_ms: detector.engine.compile_time.as_secs_f64() * 1000.0,
        raw,
        pipelines,
    })
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "model {} ({} weights) on {} (executes on {}), compile {:.0} ms",
            self.model, self.weights, self.device, self.execution_devices, self.compile_ms
        )?;
        writeln!(
            f,
            "  {:<16} {:>9.1} FPS  (mean of {:.1} before and {:.1} after the pipeline runs; nireq {})",
            "raw inference", self.raw.fps, self.raw.fps_before, self.raw.fps_after, self.raw.nireq
        )?;
        for p in &self.pipelines {
            let e2e = p.summary.stages.iter().find(|s| s.name == "end-to-end");
            writeln!(
                f,
                "  {:<16} {:>9.1} FPS  ratio to raw {:.3}  ({} frames; end-to-end p50 {:.1} ms p99 {:.1} ms)",
                p.name,
                p.fps,
                p.ratio_to_raw,
                p.summary.frames,
                e2e.map_or(0.0, |s| s.p50_ms),
                e2e.map_or(0.0, |s| s.p99_ms),
            )?;
        }
        Ok(())
    }
}
