//! `[detect]` (thresholds, labels, classes, NMS IoU, detection interval) and `[track]`.

use super::{default_true, DEFAULT_THRESHOLD, DEFAULT_TRACK_BUFFER};
use serde::Deserialize;
use std::path::PathBuf;

/// Detection postprocessing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct DetectConfig {
    /// Confidence below which detections are dropped; default: the model file's
    /// `confidence_threshold` (IR `model_info`), else 0.5.
    #[serde(default = "default_threshold")]
    #[cfg_attr(feature = "cli", schemars(range(min = 0.0, max = 1.0)))]
    pub threshold: f32,
    /// `threshold` was set (in the file or by `--threshold`), so it wins over the model's.
    #[serde(skip)]
    pub threshold_given: bool,
    /// Class names (label id L is `labels[L-1]`); default: from the manifest.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// A file with one class name per line (overrides `labels`).
    #[serde(default)]
    pub labels_file: Option<PathBuf>,
    /// Keep only these class names; empty keeps all.
    #[serde(default)]
    pub classes: Vec<String>,
    /// IoU above which NMS drops a box of the same class (adapters that run NMS: YOLO);
    /// default: the model file's `iou_threshold`, else 0.45.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0)))]
    pub iou: Option<f32>,
    /// Infer every `interval`-th frame (1: every frame); the frames between carry the last
    /// inferred frame's tracked boxes (JSON `inferred: false`).
    #[serde(default = "default_interval")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = MAX_INTERVAL)))]
    pub interval: u32,
    /// `always`: every frame (of the interval) is inferred; `motion`: only frames with motion
    /// (`[motion]`), the ones just after, and one every `max_idle_seconds` while the last
    /// inferences found objects. Default: `always`
    /// for files, `motion` when any input is live (a camera watches a mostly empty scene).
    #[serde(default)]
    pub mode: Option<DetectMode>,
    /// Most frames per second of stream time sent to inference, per stream, in any mode
    /// (Frigate's `detect.fps`): with `mode = "motion"`, the rate inside motion, and the rate
    /// at which motion is looked for. The frames between carry the last boxes, moved along
    /// each track's velocity (JSON `inferred: false`). Default: no limit.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(max = MAX_DETECT_FPS), extend("exclusiveMinimum" = 0.0)))]
    pub fps: Option<f64>,
    /// `motion` mode: seconds of stream time after which a frame is inferred even without
    /// motion, while one of the last two inferences found objects (objects that arrived and
    /// stopped, as Frigate re-checks its stationary objects); a still, empty scene is not
    /// inferred until something moves. Default 5.
    #[serde(default = "default_max_idle")]
    #[cfg_attr(feature = "cli", schemars(range(max = super::MAX_SECONDS), extend("exclusiveMinimum" = 0.0)))]
    pub max_idle_seconds: f64,
}

/// When the detector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum DetectMode {
    Always,
    Motion,
}

/// Default `max_idle_seconds`.
pub const DEFAULT_MAX_IDLE: f64 = 5.0;

fn default_max_idle() -> f64 {
    DEFAULT_MAX_IDLE
}

/// Largest `[detect] fps`.
pub const MAX_DETECT_FPS: f64 = 1000.0;

/// Largest `[detect] interval`.
pub const MAX_INTERVAL: u32 = 1000;

fn default_interval() -> u32 {
    1
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            threshold: DEFAULT_THRESHOLD,
            labels: None,
            labels_file: None,
            classes: Vec::new(),
            iou: None,
            threshold_given: false,
            interval: 1,
            mode: None,
            fps: None,
            max_idle_seconds: DEFAULT_MAX_IDLE,
        }
    }
}

fn default_threshold() -> f32 {
    DEFAULT_THRESHOLD
}

/// Object tracking (ByteTrack from `trackforge`): stable ids across frames.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct TrackConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Frames a lost track is kept for re-association.
    #[serde(default = "default_track_buffer")]
    pub track_buffer: usize,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            enabled: true,
            track_buffer: DEFAULT_TRACK_BUFFER,
        }
    }
}

fn default_track_buffer() -> usize {
    DEFAULT_TRACK_BUFFER
}

/// The one message for a class filter (`detect.classes`, a stream's `classes`, a zone's or
/// line's `classes`) naming a class the model lacks: `{what}: class "bus" is not a class of
/// the model (person, car)`.
pub fn not_a_class(what: &str, class: &str, labels: &[impl AsRef<str>]) -> String {
    let labels: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
    format!(
        "{what}: class {class:?} is not a class of the model ({})",
        labels.join(", ")
    )
}
