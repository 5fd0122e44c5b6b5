//! Soak: the pipeline on its input looped for N frames (metadata only), with the process RSS
//! sampled every 500 ms. Reported: RSS once warm (after the first 10% of the run: model,
//! buffers and pools are allocated by then) and at the end; goal growth ≤ 5%.

use crate::config::PipelineConfig;
use crate::detector::Detector;
use crate::error::Result;
use crate::pipeline::{self, RunOptions};
use crate::sink::sinks_from_config;
use crate::source::Source;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// Share of the run after which the process counts as warm.
const WARM_FRACTION: f64 = 0.1;

/// What `ovstream bench --soak N` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SoakReport {
    pub frames: u64,
    pub seconds: f64,
    pub fps: f64,
    pub rss_warm_kb: u64,
    pub rss_end_kb: u64,
    pub growth: f64,
}

use super::resources::rss_kb;

/// Runs `frames` frames and samples the RSS.
///
/// # Errors
/// Model, input and output errors.
pub fn run(
    config: &PipelineConfig,
    frames: u64,
    scratch: &Path,
    openvino_lib: Option<&Path>,
) -> Result<SoakReport> {
    let cfg = super::scratch_outputs(config, scratch, "soak", false);
    let mut detector = Detector::from_config(&cfg, openvino_lib)?;
    let source = Source::open(cfg.first_input(), &cfg.source.options())?;
    let sinks = sinks_from_config(&cfg, &source.uri)?;
    let options = RunOptions {
        looping: true,
        limit: Some(frames),
        ..RunOptions::for_config(&cfg, false)
    };
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let (summary, samples) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Some(kb) = rss_kb() {
                    samples.push((started.elapsed().as_secs_f64(), kb));
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
            samples
        });
        let summary = pipeline::run(
            source,
            &mut detector.engine,
            &detector.adapter,
            sinks,
            pipeline::Secondary::none(),
            &options,
            &AtomicBool::new(false),
        );
        done.store(true, Ordering::Relaxed);
        (summary, sampler.join().unwrap_or_default())
    });
    let summary = summary?;
    let seconds = started.elapsed().as_secs_f64();
    let warm = samples
        .iter()
        .find(|(t, _)| *t >= seconds * WARM_FRACTION)
        .or(samples.first())
        .map_or(0, |s| s.1);
    let end = rss_kb().or(samples.last().map(|s| s.1)).unwrap_or(0);
    Ok(SoakReport {
        frames: summary.frames,
        seconds,
        fps: summary.fps,
        rss_warm_kb: warm,
        rss_end_kb: end,
        growth: end as f64 / warm.max(1) as f64,
    })
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "soak: {} frames in {:.1} s ({:.1} FPS); RSS warm {} kB, end {} kB: growth {:.3} ({})",
            self.frames,
            self.seconds,
            self.fps,
            self.rss_warm_kb,
            self.rss_end_kb,
            self.growth,
            if self.growth <= 1.05 {
                "within 5%"
            } else {
                "OVER 5%"
            }
        )
    }
}
