//! `ovstream bench`: raw inference vs pipeline ratios, or live latency (`--live`).

use crate::{load_config, Overrides};
use anyhow::Context;
use clap::Args;
use ovstream::config::PipelineConfig;
use ovstream::error::exit_code;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    overrides: Overrides,
    /// Frames per pipeline run, all streams together (the input is looped).
    #[arg(long, default_value_t = 3000)]
    limit: u64,
    /// Numbers of concurrent copies of the input to run, one table row each.
    #[arg(long, value_delimiter = ',', default_values_t = ovstream::bench::DEFAULT_STREAMS)]
    streams: Vec<usize>,
    /// Seconds of raw-throughput measurement.
    #[arg(long, default_value_t = 15.0)]
    raw_seconds: f64,
    /// Benchmark several models one after another (manifest ids or paths), e.g.
    /// `pedestrian-ssdlite,coco-ssd-mobilenet-v2` to compare FP32 and INT8 weights.
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Also write the report(s) as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Live-latency benchmark instead: a live test source at 1× and 2× the raw inference
    /// throughput; end-to-end p50/p95/p99 and drop rate per load.
    #[arg(long)]
    live: bool,
    /// Seconds per load level in the live benchmark.
    #[arg(long, default_value_t = 30.0)]
    live_seconds: f64,
    /// Face-recognition benchmark instead (a pipeline with [recognize], e.g.
    /// pipelines/faces.toml): detection only vs recognition every frame vs every
    /// reidentify_interval frames, `--limit` frames each.
    #[arg(long)]
    faces: bool,
    /// Soak instead: run N frames (input looped, metadata only) and report RSS once warm and
    /// at the end (goal: growth ≤ 5%).
    #[arg(long, value_name = "FRAMES")]
    soak: Option<u64>,
    /// Analytics cost instead: the pipeline with the file's zones and lines vs none,
    /// alternating in one run (metadata-only and overlay+mp4), `--limit` frames per run.
    #[arg(long)]
    analytics: bool,
    /// Stream density instead: real-time streams of the pipeline's input (a camera clip,
    /// e.g. pipelines/camera.toml) added one at a time per detection mode (always, interval 3,
    /// motion) until one falls below 95% of its frame rate or p99 passes 500 ms; track recall
    /// of interval and motion against always.
    #[arg(long)]
    density: bool,
    /// Seconds per step of the density benchmark.
    #[arg(long, default_value_t = 20.0)]
    density_seconds: f64,
    /// Most streams the density benchmark tries per mode.
    #[arg(long, default_value_t = 32)]
    max_streams: usize,
    /// Detection modes the density benchmark measures.
    #[arg(long, value_delimiter = ',', default_value = "always,interval,motion")]
    density_modes: Vec<ovstream::bench::density::Mode>,
    /// Frames of the clip in the density benchmark's recall runs (default: all of it).
    #[arg(long)]
    density_frames: Option<u64>,
}

pub(crate) fn run(args: &BenchArgs, lib: Option<&Path>) -> anyhow::Result<i32> {
    let config = load_config(&args.overrides)?;
    anyhow::ensure!(
        !args.streams.is_empty() && args.streams.iter().all(|&n| n > 0),
        "--streams: give stream counts of at least 1, e.g. 1,2,4,8"
    );
    anyhow::ensure!(
        !args.density || (args.density_seconds > 0.0 && args.density_seconds <= 3600.0),
        "--density-seconds: give 0 < seconds <= 3600"
    );
    let scratch = std::env::temp_dir().join(format!("ovstream-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let result = measure(args, &config, &scratch, lib);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// The benchmark `args` ask for, its outputs in `scratch`; prints the report, writes the JSON.
fn measure(
    args: &BenchArgs,
    config: &PipelineConfig,
    scratch: &Path,
    lib: Option<&Path>,
) -> anyhow::Result<i32> {
    let json = args.json.as_deref();
    if let Some(frames) = args.soak {
        return publish(
            &ovstream::bench::soak::run(config, frames, scratch, lib)?,
            json,
        );
    }
    if args.analytics {
        let report = ovstream::bench::analytics::run(config, args.limit, scratch, lib)?;
        return publish(&report, json);
    }
    if args.faces {
        return publish(
            &ovstream::bench::faces::run(config, args.limit, scratch, lib)?,
            json,
        );
    }
    if args.density {
        let options = ovstream::bench::density::DensityOptions {
            window: Duration::from_secs_f64(args.density_seconds),
            max_streams: args.max_streams.clamp(1, 256),
            modes: args.density_modes.clone(),
            recall_frames: args.density_frames,
        };
        let report =
            ovstream::bench::density::run(config, config.first_input(), &options, scratch, lib)?;
        return publish(&report, json);
    }
    if args.live {
        let window = Duration::from_secs_f64(args.live_seconds);
        let report = ovstream::bench::live::run(config, &[1.0, 2.0], window, scratch, lib)?;
        return publish(&report, json);
    }
    let models = (args.models.clone()).unwrap_or_else(|| vec![config.model.model.clone()]);
    let mut reports = Vec::new();
    for model in &models {
        let mut cfg = config.clone();
        cfg.model.model = model.clone();
        let report = ovstream::bench::run(
            &cfg,
            cfg.first_input(),
            args.limit,
            &args.streams,
            Duration::from_secs_f64(args.raw_seconds),
            scratch,
            lib,
        )?;
        println!("{report}");
        reports.push(report);
    }
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&reports)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(exit_code::OK)
}

/// Prints `report` and writes it as JSON to `json` when given.
fn publish<R: std::fmt::Display + serde::Serialize>(
    report: &R,
    json: Option<&Path>,
) -> anyhow::Result<i32> {
    println!("{report}");
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(exit_code::OK)
}
