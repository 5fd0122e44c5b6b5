//! What `ovstream bench --density` reports, and the detection modes it compares.

use super::{HOLD_RATE, MAX_P99_MS};
use crate::bench::recall::TrackRecall;
use crate::config::{DetectMode, PipelineConfig};

/// `[detect] interval` of the `interval` mode.
pub const DENSITY_INTERVAL: u32 = 3;

/// A detection mode measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Always,
    Interval,
    Motion,
}

impl std::str::FromStr for Mode {
    type Err = String;

    /// `always`, `interval` or `motion`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("density mode `{s}`: expected always, interval or motion"))
    }
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Always, Mode::Interval, Mode::Motion];

    pub(super) fn name(self) -> &'static str {
        match self {
            Mode::Always => "always",
            Mode::Interval => "interval",
            Mode::Motion => "motion",
        }
    }

    /// `config` with this mode's `[detect]` settings and tracking on: `motion` keeps the
    /// file's `fps` (the rate inside motion), the others infer every (3rd) frame.
    pub(super) fn config(self, config: &PipelineConfig) -> PipelineConfig {
        let mut cfg = config.clone();
        cfg.track.enabled = true;
        cfg.detect.interval = if self == Mode::Interval {
            DENSITY_INTERVAL
        } else {
            1
        };
        cfg.detect.mode = Some(if self == Mode::Motion {
            DetectMode::Motion
        } else {
            cfg.detect.fps = None;
            DetectMode::Always
        });
        cfg
    }
}

/// N streams of one mode for the window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DensityStep {
    pub streams: usize,
    /// The slowest stream's frames written per second.
    pub slowest_fps: f64,
    /// End-to-end p99, the worst stream's, ms.
    pub p99_ms: f64,
    /// Process CPU per frame written, ms.
    pub cpu_ms_per_frame: f64,
    /// Share of the written frames that were inferred.
    pub inferred_share: f64,
    pub drops: u64,
    /// Where each stream started, seconds into the clip (see `phases`).
    pub starts: Vec<f64>,
    /// Share of the window's stream-seconds that the clip's layout marks active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_share: Option<f64>,
    /// Most streams active at once in the window, per the layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_active: Option<usize>,
    pub held: bool,
}

/// One mode's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModeDensity {
    /// The largest number of streams that held (0: not even one).
    pub streams: usize,
    /// CPU ms per frame at that number (at 1 stream when none held).
    pub cpu_ms_per_frame: f64,
    /// Share of the clip's frames inferred (the recall run).
    pub inferred_share: f64,
    /// Track recall against `always` (absent for `always` itself).
    pub recall: Option<f64>,
    /// Median first-report delay of the recalled tracks, ms (absent for `always`).
    pub first_report_delay_ms: Option<f64>,
    pub recall_detail: Option<TrackRecall>,
    pub steps: Vec<DensityStep>,
}

impl ModeDensity {
    /// From the mode's `steps` (1, 2, … streams), the share of frames it inferred and its
    /// recall against `always`.
    pub fn new(
        steps: Vec<DensityStep>,
        inferred_share: f64,
        recall_detail: Option<TrackRecall>,
    ) -> Self {
        let best = steps.iter().rev().find(|s| s.held).or(steps.first());
        ModeDensity {
            streams: steps.iter().take_while(|s| s.held).count(),
            cpu_ms_per_frame: best.map_or(0.0, |s| s.cpu_ms_per_frame),
            inferred_share,
            recall: recall_detail.as_ref().map(|r| r.recall),
            first_report_delay_ms: recall_detail.as_ref().map(|r| r.first_report_delay_ms),
            recall_detail,
            steps,
        }
    }
}

/// The modes measured (all three unless `--density-modes` chose), under the JSON names
/// users' scripts read (`density.motion.streams`, `density.motion.recall`, …).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Densities {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always: Option<ModeDensity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<ModeDensity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion: Option<ModeDensity>,
}

/// Everything `ovstream bench --density` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DensityReport {
    pub clip: String,
    pub model: String,
    pub execution_devices: String,
    pub nireq: usize,
    /// The clip's frame rate, frames/s.
    pub clip_fps: f64,
    pub window_seconds: f64,
    pub density: Densities,
    /// `motion` mode CPU per frame on the idle stretch and on the active one, ms.
    pub idle_cpu_ms_per_frame: f64,
    pub active_cpu_ms_per_frame: f64,
    /// `idle / active` (goal ≤ 0.10).
    pub idle_to_active: f64,
    /// `motion.streams / always.streams` (goal ≥ 3), when both were measured.
    pub motion_to_always: Option<f64>,
}

impl std::fmt::Display for DensityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "stream density: {} at {:.0} fps in real time, model {} on {} (nireq {}), \
             {:.0} s per step; a step holds at ≥ {:.0}% of the frame rate and p99 ≤ {:.0} ms",
            self.clip,
            self.clip_fps,
            self.model,
            self.execution_devices,
            self.nireq,
            self.window_seconds,
            HOLD_RATE * 100.0,
            MAX_P99_MS
        )?;
        writeln!(
            f,
            "  {:<9} {:>7} {:>9} {:>9} {:>7} {:>10}   steps (streams: slowest fps / p99 ms \
             [most streams active at once])",
            "mode", "streams", "CPU ms/f", "inferred", "recall", "1st report"
        )?;
        let d = &self.density;
        for (name, m) in [
            ("always", &d.always),
            ("interval", &d.interval),
            ("motion", &d.motion),
        ] {
            let Some(m) = m else { continue };
            let steps: Vec<String> = m
                .steps
                .iter()
                .map(|s| {
                    let peak = s.peak_active.map_or(String::new(), |p| format!(" [{p}]"));
                    format!("{}: {:.1}/{:.0}{peak}", s.streams, s.slowest_fps, s.p99_ms)
                })
                .collect();
            writeln!(
                f,
                "  {:<9} {:>7} {:>9.2} {:>8.1}% {:>7} {:>10}   {}",
                name,
                m.streams,
                m.cpu_ms_per_frame,
                100.0 * m.inferred_share,
                m.recall.map_or("-".into(), |r| format!("{r:.3}")),
                m.first_report_delay_ms
                    .map_or("-".into(), |ms| format!("{ms:.0} ms")),
                steps.join(", ")
            )?;
        }
        if let Some(ratio) = self.motion_to_always {
            writeln!(f, "  motion / always: {ratio:.2}× streams")?;
        }
        writeln!(
            f,
            "  motion mode: idle stretch {:.2} CPU ms/frame vs active {:.2} ({:.0}%)",
            self.idle_cpu_ms_per_frame,
            self.active_cpu_ms_per_frame,
            100.0 * self.idle_to_active
        )
    }
}
