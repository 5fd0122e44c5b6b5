//! Analytics cost: the pipeline with the file's zones and lines against the same pipeline with
//! none, alternating (without, with, without, with, …) in one process run, metadata-only and
//! with overlay + MP4; reported as FPS ratios (with / without), so machine drift cancels.

use super::{run_streams, PipelineRun};
use crate::config::{AnalyticsConfig, PipelineConfig};
use crate::detector::Detector;
use crate::error::{Error, Result};
use std::path::Path;

/// Rounds of (without, with) per variant.
const ROUNDS: usize = 2;

/// One variant (`metadata-only`, `overlay+mp4`): FPS without and with analytics.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AnalyticsRow {
    pub name: &'static str,
    pub fps_without: f64,
    pub fps_with: f64,
    /// `fps_with / fps_without` (goal ≥ 0.98).
    pub ratio: f64,
    /// p50 of the analytics and overlay stages with analytics, ms.
    pub analytics_p50_ms: f64,
    pub overlay_p50_ms: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AnalyticsReport {
    pub zones: usize,
    pub lines: usize,
    pub frames_per_run: u64,
    pub rows: Vec<AnalyticsRow>,
}

fn p50(run: &PipelineRun, stage: &str) -> f64 {
    run.summary
        .stages
        .iter()
        .find(|s| s.name == stage)
        .map_or(0.0, |s| s.p50_ms)
}

/// Runs the comparison on `config`'s first input, `limit` frames per run.
///
/// # Errors
/// [`Error::Config`] when the pipeline file has no zones or lines; model, input and output
/// errors.
pub fn run(
    config: &PipelineConfig,
    limit: u64,
    scratch: &Path,
    openvino_lib: Option<&Path>,
) -> Result<AnalyticsReport> {
    let analytics = config.analytics.clone();
    if analytics.is_empty() {
        return Err(Error::Setting {
            key: "bench --analytics".into(),
            message: "the pipeline file has no [[analytics.zones]] or [[analytics.lines]]".into(),
        });
    }
    let mut without = config.clone();
    without.analytics = AnalyticsConfig::default();
    let mut detector = Detector::from_config(config, openvino_lib)?;
    let input = config.first_input();
    let mut rows = Vec::new();
    for (name, video) in [("metadata-only", false), ("overlay+mp4", true)] {
        let (mut fps, mut last) = ([0.0f64; 2], None);
        for _ in 0..ROUNDS {
            for (i, cfg) in [&without, config].into_iter().enumerate() {
                let run = run_streams(&mut detector, cfg, input, 1, limit, scratch, name, video)?;
                fps[i] += run.fps / ROUNDS as f64;
                if i == 1 {
                    last = Some(run);
                }
            }
        }
        let last = last.expect("at least one round");
        tracing::info!(name, without = fps[0], with = fps[1], "analytics cost");
        rows.push(AnalyticsRow {
            name,
            fps_without: fps[0],
            fps_with: fps[1],
            ratio: fps[1] / fps[0],
            analytics_p50_ms: p50(&last, "analytics"),
            overlay_p50_ms: p50(&last, "overlay"),
        });
    }
    Ok(AnalyticsReport {
        zones: analytics.zones.len(),
        lines: analytics.lines.len(),
        frames_per_run: limit,
        rows,
    })
}

impl std::fmt::Display for AnalyticsReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "analytics: {} zone(s), {} line(s); {} frames per run, {ROUNDS} rounds alternating",
            self.zones, self.lines, self.frames_per_run
        )?;
        writeln!(
            f,
            "{:<14} {:>12} {:>9} {:>7} {:>14} {:>12}",
            "pipeline", "FPS without", "FPS with", "ratio", "analytics p50", "overlay p50"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<14} {:>12.1} {:>9.1} {:>7.3} {:>11.3} ms {:>9.3} ms",
                r.name, r.fps_without, r.fps_with, r.ratio, r.analytics_p50_ms, r.overlay_p50_ms
            )?;
        }
        Ok(())
    }
}
