//! Benchmark: raw inference throughput of the compiled model (like `benchmark_app`: every
//! request kept busy with one prepared input) against the full pipeline on a looped file, in one
//! process run, reported as ratios (machines are noisy; ratios from one run are comparable).
//! Raw throughput is measured before and after the pipeline runs; the ratio uses their mean.

pub mod faces;
pub mod live;
pub mod soak;

use crate::config::PipelineConfig;
use crate::detector::{sinks_from_config, Detector};
use crate::engine::Engine;
use crate::error::Result;
use crate::manifest::Manifest;
use crate::pipeline::{self, stats::Summary, RunOptions};
use crate::preprocess::resize_into;
use crate::source::{first_frame, Source};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

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
    let mut idle = engine.create_requests(engine.nireq)?;
    let mut scratch = Vec::new();
    for r in &mut idle {
        resize_into(&frame, &engine.input, r.input_mut()?, &mut scratch)?;
    }
    // Warm-up: one inference per request.
    for r in &mut idle {
        r.infer()?;
    }
    let mut in_flight: VecDeque<_> = VecDeque::with_capacity(idle.len());
    let started = Instant::now();
    for mut r in idle {
        r.start()?;
        in_flight.push_back(r);
    }
    let min_count = 2 * in_flight.len() as u64;
    let mut count = 0u64;
    while let Some(mut r) = in_flight.pop_front() {
        r.wait()?;
        count += 1;
        if started.elapsed() < duration || count < min_count {
            r.start()?;
            in_flight.push_back(r);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(RawThroughput {
        fps_before: count as f64 / seconds,
        fps_after: count as f64 / seconds,
        inferences: count,
        seconds,
        fps: count as f64 / seconds,
        nireq: engine.nireq,
    })
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
        let mut cfg = config.clone();
        cfg.output.metadata = Some(scratch.join(format!("{name}.jsonl")).display().to_string());
        cfg.output.mp4 = with_video.then(|| scratch.join(format!("{name}.mp4")));
        cfg.output.display = false;
        cfg.output.rtsp = None;
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
