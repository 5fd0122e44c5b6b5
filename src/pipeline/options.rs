//! What a run is asked to do ([`RunOptions`]) and what each of its sources brings ([`Input`]).

use super::metrics;
use crate::config::{AnalyticsConfig, PipelineConfig};
use crate::sink::Sinks;
use crate::source::{supervise, Source};
use std::sync::Arc;

/// What to do with the sources.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Restart a file at EOS.
    pub looping: bool,
    /// Stop each source after this many frames.
    pub limit: Option<u64>,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// Reconnect policy for live sources.
    pub supervision: supervise::Supervision,
    /// Print a stats line (health, FPS, drops, end-to-end latency) this often; `None`: never.
    pub stats_interval: Option<std::time::Duration>,
    /// Track objects (ByteTrack): `(threshold, track_buffer)`; `None`: no track ids.
    pub track: Option<(f32, usize)>,
    /// Serve Prometheus metrics on this `HOST:PORT`.
    pub metrics: Option<String>,
    /// … or on this endpoint, bound before any output file was created (so a taken port
    /// fails the run before it truncates anything).
    pub metrics_endpoint: Option<std::sync::Arc<metrics::Endpoint>>,
    /// Run the overlay stage (it draws on the frames of sources whose outputs show pixels).
    /// [`super::run_many`] turns it on when any of its sources needs it; a [`super::run_dynamic`] pipeline
    /// whose sources may come with an MP4 or RTSP output must set it.
    pub overlay: bool,
    /// Run the events stage (object events to each source's events file and MQTT).
    /// [`super::run_many`] turns it on when any of its sources has event outputs.
    pub events: bool,
    /// Run the analytics stage (zones and lines; needs `track`). [`super::run_many`] turns it on when
    /// any of its sources has zones or lines; a [`super::run_dynamic`] pipeline whose sources may get
    /// them must set it.
    pub analytics: bool,
    /// `[[alerts]]` rules, applied by the events stage to every source with event outputs.
    pub alerts: Arc<[crate::config::alerts::AlertConfig]>,
    /// Infer every `interval`-th frame of each source (`[detect] interval`; 0 and 1: all);
    /// the frames between repeat the last inferred frame's detections, `inferred: false`.
    pub interval: u32,
    /// `[detect] mode = "motion"`: infer only frames with motion (and the idle checks).
    pub motion: Option<super::gate::MotionGate>,
    /// `[detect] fps`: most frames per second of stream time inferred per source.
    pub detect_fps: Option<f64>,
}

impl RunOptions {
    /// Everything a pipeline file says about running its sources, for sources that are `live`
    /// or not: `[source]` loop, limit, stall timeout and reconnects, `[output]` stats
    /// interval, `[track]`, `[detect]` interval and mode (with `[motion]`), `[[alerts]]`. The
    /// one place a config becomes run options: `run`, `serve`, the benchmarks and the elements
    /// start from it and set only what is not in a config (progress bar, metrics endpoint,
    /// stages a dynamic pipeline must have).
    ///
    /// With tracking on, the analytics stage runs even without zones: zones may come later
    /// (hot reload, `serve`'s API). The overlay and events stages are left to
    /// [`super::run_many`], which turns them on when an output needs them.
    pub fn for_config(config: &PipelineConfig, live: bool) -> RunOptions {
        let source = &config.source;
        RunOptions {
            looping: source.looping,
            limit: source.limit,
            progress: false,
            supervision: source.supervision(),
            stats_interval: config.output.stats_interval(live),
            track: config.track_options(),
            metrics: None,
            metrics_endpoint: None,
            overlay: false,
            events: false,
            analytics: config.track.enabled,
            alerts: config.alerts.clone().into(),
            interval: config.detect.interval,
            motion: super::gate::MotionGate::for_config(config, live),
            detect_fps: config.detect.fps,
        }
    }

    /// Whether some frames may go without inference (interval, motion mode or a detect rate).
    pub fn gated(&self) -> bool {
        self.interval > 1 || self.motion.is_some() || self.detect_fps.is_some()
    }

    /// The gate these options ask for.
    pub fn gate(&self) -> super::gate::Gate {
        super::gate::Gate::new(
            u64::from(self.interval.max(1)),
            self.detect_fps,
            self.motion.clone(),
        )
    }
}

/// One source of a run, its outputs (`sinks.source` is its name) and its zones and lines.
pub struct Input {
    pub source: Source,
    pub sinks: Sinks,
    pub analytics: Option<Arc<AnalyticsConfig>>,
}

/// A source's own detection filter, applied before tracking: a stricter confidence
/// `threshold` than the model's, and/or only these `classes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectFilter {
    pub threshold: Option<f32>,
    pub classes: Option<Vec<String>>,
    /// The `[[classify]]` classifiers (by `model`) this source runs; `None`: all of them.
    pub classify: Option<Vec<String>>,
}

impl DetectFilter {
    /// Whether it lets everything through.
    pub fn is_empty(&self) -> bool {
        self.threshold.is_none() && self.classes.is_none() && self.classify.is_none()
    }

    /// Keeps the detections it accepts.
    pub fn apply(&self, detections: &mut Vec<crate::frame::Detection>) {
        detections.retain(|d| {
            self.threshold.is_none_or(|t| d.confidence >= t)
                && self
                    .classes
                    .as_ref()
                    .is_none_or(|c| c.iter().any(|c| *c == *d.label))
        });
    }
}
