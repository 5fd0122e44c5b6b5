//! Benchmark: raw inference throughput of the compiled model (like `benchmark_app`: every
//! request kept busy with one prepared input) against the full pipeline on a looped file, in one
//! process run, reported as ratios (machines are noisy; ratios from one run are comparable).
//! Raw throughput is measured before and after the pipeline runs; the ratio uses their mean.

pub mod analytics;
pub mod density;
pub mod faces;
pub mod live;
pub mod recall;
pub mod resources;
pub mod soak;
pub mod startup;

use crate::config::PipelineConfig;
use crate::detector::Detector;
use crate::error::Result;
use crate::inference::Inference;
use crate::manifest::Manifest;
use crate::pipeline::{self, RunOptions, Summary};
use crate::sink::sinks_for_sources;
use crate::source::{first_frame, Source};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Images per inference.
    pub batch: usize,
    /// Process CPU time per inferred image, ms (the floor for the pipeline's CPU ms/frame).
    pub cpu_ms_per_frame: f64,
    /// Objects the model found in the timed frame (decoded from the last timed request): a
    /// check that the benchmark fed the model its real input format.
    pub detections: usize,
}

/// One row of the streams table: the pipeline on `streams` copies of the input at once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PipelineRun {
    /// `metadata-only` or `overlay+mp4`.
    pub name: &'static str,
    pub streams: usize,
    /// Frames per second, all streams together.
    pub fps: f64,
    /// `fps / streams`, and the slowest stream's own FPS (fairness).
    pub fps_per_stream: f64,
    pub fps_slowest_stream: f64,
    pub ratio_to_raw: f64,
    /// Process CPU time (user + system, all threads) per frame, ms.
    pub cpu_ms_per_frame: f64,
    /// Peak resident set size during the run, kB (`VmHWM`, reset before the run).
    pub peak_rss_kb: u64,
    pub summary: Summary,
}

impl PipelineRun {
    fn end_to_end(&self) -> (f64, f64) {
        self.summary
            .stages
            .iter()
            .find(|s| s.name == "end-to-end")
            .map_or((0.0, 0.0), |s| (s.p50_ms, s.p99_ms))
    }
}

/// Everything `ovstream bench` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub model: String,
    /// Precision of the stored weights (from the manifest; empty for a plain path).
    pub weights: String,
    pub device: String,
    pub execution_devices: String,
    /// INFERENCE_PRECISION_HINT the model was compiled with (`f32`, `bf16`, …).
    pub precision: String,
    pub compile_ms: f64,
    pub startup: startup::Startup,
    pub raw: RawThroughput,
    pub pipelines: Vec<PipelineRun>,
}

/// Default numbers of concurrent streams in the table.
pub const DEFAULT_STREAMS: [usize; 4] = [1, 2, 4, 8];

/// Keeps `detector.engine.nireq` requests busy on the first frame of `input` for at least
/// `duration` (and at least `2 × nireq` inferences); returns inferences per second.
pub fn raw_throughput(
    detector: &mut Detector,
    input: &str,
    duration: Duration,
) -> Result<RawThroughput> {
    let frame = first_frame(input)?;
    let engine = &mut detector.engine;
    let nireq = engine.nireq;
    let cpu = resources::cpu_time();
    let mut busy = crate::tune::keep_busy(engine, &frame, nireq, duration)?;
    let cpu = resources::cpu_time().saturating_sub(cpu);
    let (count, seconds) = (busy.images, busy.seconds);
    let inference = Inference::new(engine, &detector.adapter);
    let outputs = inference.collect(&mut busy.last, 1)?;
    let detections = inference.decode(&outputs[0], &frame).len();
    Ok(RawThroughput {
        detections,
        fps_before: count as f64 / seconds,
        fps_after: count as f64 / seconds,
        inferences: count,
        seconds,
        fps: count as f64 / seconds,
        nireq,
        batch: engine.input.batch,
        cpu_ms_per_frame: cpu.as_secs_f64() * 1000.0 / count.max(1) as f64,
    })
}

/// Calls `run` with a stop flag that is raised after `duration` (a pipeline given it then ends
/// its sources, drains and returns), or once `run` returned.
pub(crate) fn run_for<T>(duration: Duration, run: impl FnOnce(&AtomicBool) -> T) -> T {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let deadline = std::time::Instant::now() + duration;
            while std::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            stop.store(true, Ordering::Relaxed);
        });
        let out = run(&stop);
        stop.store(true, Ordering::Relaxed);
        out
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

/// Runs the benchmark: cold vs warm start, raw throughput, then the pipeline on `streams[i]`
/// copies of `input` (looped; `limit` frames in all per run), metadata-only and with overlay +
/// one MP4 per stream (written under `scratch`).
///
/// # Errors
/// Model, input and output errors.
pub fn run(
    config: &PipelineConfig,
    input: &str,
    limit: u64,
    streams: &[usize],
    raw_duration: Duration,
    scratch: &Path,
    openvino_lib: Option<&Path>,
) -> Result<BenchReport> {
    let mut detector = Detector::from_config(config, openvino_lib)?;
    let startup = startup::measure(
        config,
        input,
        detector.engine.nireq,
        detector.engine.nstreams,
        scratch,
        openvino_lib,
    )?;
    tracing::info!(?startup, "time to first result");
    let before = raw_throughput(&mut detector, input, raw_duration)?;
    tracing::info!(fps = before.fps, "raw inference throughput (before)");
    let variants: [(&'static str, bool); 2] = [("metadata-only", false), ("overlay+mp4", true)];
    let mut pipelines = Vec::new();
    for (name, with_video) in variants {
        for &n in streams {
            let run = run_streams(
                &mut detector,
                config,
                input,
                n,
                limit,
                scratch,
                name,
                with_video,
            )?;
            tracing::info!(name, streams = n, fps = run.fps, "pipeline");
            pipelines.push(run);
        }
    }
    let after = raw_throughput(&mut detector, input, raw_duration)?;
    tracing::info!(fps = after.fps, "raw inference throughput (after)");
    let raw = RawThroughput {
        fps_before: before.fps,
        fps_after: after.fps,
        inferences: before.inferences + after.inferences,
        seconds: before.seconds + after.seconds,
        fps: (before.fps + after.fps) / 2.0,
        nireq: before.nireq,
        batch: before.batch,
        cpu_ms_per_frame: (before.cpu_ms_per_frame + after.cpu_ms_per_frame) / 2.0,
        detections: after.detections,
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
        precision: detector.engine.precision.clone(),
        compile_ms: detector.engine.compile_time.as_secs_f64() * 1000.0,
        startup,
        raw,
        pipelines,
    })
}

/// One row: `n` copies of `input` through the shared model, `limit` frames in all.
#[allow(clippy::too_many_arguments)]
fn run_streams(
    detector: &mut Detector,
    config: &PipelineConfig,
    input: &str,
    n: usize,
    limit: u64,
    scratch: &Path,
    name: &'static str,
    with_video: bool,
) -> Result<PipelineRun> {
    let cfg = scratch_outputs(config, scratch, &format!("{name}-{n}-{{name}}"), with_video);
    let names: Vec<String> = (1..=n).map(|i| format!("s{i}")).collect();
    let sinks = sinks_for_sources(&cfg, &names)?;
    let mut sources = Vec::with_capacity(n);
    for _ in 0..n {
        sources.push(Source::open(input, &config.source.options())?);
    }
    let inputs = sources
        .into_iter()
        .zip(sinks)
        .map(|(source, sinks)| pipeline::Input {
            source,
            sinks,
            // The pipeline file's top-level zones and lines, on every stream.
            analytics: config.analytics_for(""),
        })
        .collect();
    let options = RunOptions {
        looping: true,
        limit: Some((limit / n as u64).max(1)),
        // No hot reload here: the analytics stage runs only for the file's zones and lines
        // (run_many turns it on for inputs that have some).
        analytics: false,
        ..RunOptions::for_config(config, false)
    };
    resources::reset_peak_rss();
    let cpu = resources::cpu_time();
    let summary = pipeline::run_many(
        inputs,
        &mut detector.engine,
        &detector.adapter,
        pipeline::Secondary::none(),
        &options,
        &AtomicBool::new(false),
    )?;
    let cpu = resources::cpu_time().saturating_sub(cpu);
    for entry in std::fs::read_dir(scratch).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "mp4") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(PipelineRun {
        name,
        streams: n,
        fps: summary.fps,
        fps_per_stream: summary.fps / n as f64,
        fps_slowest_stream: summary
            .sources
            .iter()
            .map(|s| s.fps)
            .fold(f64::INFINITY, f64::min),
        ratio_to_raw: 0.0,
        cpu_ms_per_frame: cpu.as_secs_f64() * 1000.0 / summary.frames.max(1) as f64,
        peak_rss_kb: resources::peak_rss_kb().unwrap_or(0),
        summary,
    })
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "model {} ({} weights) on {} (inference ran on {} at {}), compile {:.0} ms",
            self.model,
            self.weights,
            self.device,
            self.execution_devices,
            self.precision,
            self.compile_ms
        )?;
        writeln!(f, "{}", self.startup)?;
        writeln!(
            f,
            "raw inference {:.1} FPS (mean of {:.1} before and {:.1} after the pipelines; nireq {}, \
             batch {}; CPU {:.2} ms/frame; {} object(s) in the timed frame)",
            self.raw.fps,
            self.raw.fps_before,
            self.raw.fps_after,
            self.raw.nireq,
            self.raw.batch,
            self.raw.cpu_ms_per_frame,
            self.raw.detections
        )?;
        writeln!(
            f,
            "{:<14} {:>7} {:>8} {:>10} {:>8} {:>6} {:>8} {:>8} {:>9} {:>9}",
            "pipeline",
            "streams",
            "FPS",
            "FPS/stream",
            "slowest",
            "×raw",
            "e2e p50",
            "e2e p99",
            "CPU ms/f",
            "peak RSS"
        )?;
        for p in &self.pipelines {
            let (p50, p99) = p.end_to_end();
            writeln!(
                f,
                "{:<14} {:>7} {:>8.1} {:>10.1} {:>8.1} {:>6.3} {:>8.1} {:>8.1} {:>9.2} {:>6.0} MB",
                p.name,
                p.streams,
                p.fps,
                p.fps_per_stream,
                p.fps_slowest_stream,
                p.ratio_to_raw,
                p50,
                p99,
                p.cpu_ms_per_frame,
                p.peak_rss_kb as f64 / 1024.0,
            )?;
        }
        Ok(())
    }
}
