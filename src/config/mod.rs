//! Pipeline configuration: `pipelines/*.toml`, with CLI overrides applied on top.
//!
//! Unknown keys are rejected; errors name the file, the line and the key (from `toml`'s span).

use crate::error::{Error, Result};
pub mod alerts;
pub mod analytics;
mod model;
pub mod names;
pub mod output;
mod source;

pub use crate::source::RtspTransport;
pub use analytics::AnalyticsConfig;
pub use model::{Hint, ModelConfig, Nireq, Precision};
pub use output::{MqttConfig, OutputConfig};
use serde::Deserialize;
pub use source::{NamedSource, SourceConfig};

/// Default compiled-model cache: `~/.cache/ovstream/compiled` (the tuning caches sit beside
/// it, in `~/.cache/ovstream`).
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("ovstream")
        .join("compiled")
}
use std::path::{Path, PathBuf};

/// Default detection confidence threshold (objects below it are dropped).
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// Default interval of the stats line for live sources.
pub const DEFAULT_STATS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// Largest pipeline or labels file read (1 MiB): `/dev/zero` or a huge file is refused before
/// it fills memory.
pub const MAX_TEXT_FILE_BYTES: u64 = 1 << 20;
/// Longest duration accepted for any seconds setting (one day); a larger one would overflow.
pub const MAX_SECONDS: f64 = 86_400.0;
/// Shortest stats-line interval (a shorter one would only flood the terminal).
pub const MIN_STATS_INTERVAL: f64 = 0.1;

/// Reads a UTF-8 text file of at most `cap` bytes.
///
/// # Errors
/// The read error, or `InvalidData` naming the cap when the file is larger.
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(cap + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {cap} bytes; not a pipeline or labels file"),
        ));
    }
    Ok(text)
}

/// Default OpenVINO device.
pub const DEFAULT_DEVICE: &str = "CPU";

/// One pipeline: a source, a detection model, and sinks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// The input (`input`) and the settings every source shares (loop, limit, RTSP, camera).
    #[serde(default)]
    pub source: SourceConfig,
    /// Several inputs in one process, sharing one compiled model and request pool:
    /// `[[sources]]` tables with `input` and an optional `name` (instead of `[source] input`).
    #[serde(default)]
    pub sources: Vec<NamedSource>,
    pub model: ModelConfig,
    #[serde(default)]
    pub detect: DetectConfig,
    #[serde(default)]
    pub output: OutputConfig,
    /// Face recognition after detection (a face detector in `[model]`).
    #[serde(default)]
    pub recognize: Option<RecognizeConfig>,
    #[serde(default)]
    pub track: TrackConfig,
    /// Zones and lines for every source (`[[analytics.zones]]`, `[[analytics.lines]]`).
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    /// Alert events: a tracked label held long enough (`[[alerts]]`).
    #[serde(default)]
    pub alerts: Vec<alerts::AlertConfig>,
    /// `ovstream serve` settings.
    #[serde(default)]
    pub serve: ServeConfig,
}

/// `[serve]`: what the service accepts over its API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Folders whose files (and files below them) streams may read; default none: only
    /// `rtsp://`, `rtsps://`, `http(s)://`, `test://` and V4L2 cameras.
    #[serde(default)]
    pub media_roots: Vec<PathBuf>,
    /// The folder under which a stream's own `outputs` (given over the API) are written;
    /// default none: streams use the pipeline file's `[output]` only.
    #[serde(default)]
    pub output_root: Option<PathBuf>,
}

/// Default cosine-similarity threshold of a gallery match (calibrated on the sample photos:
/// see README, "Face recognition").
pub const DEFAULT_SIMILARITY: f32 = 0.6;
/// Default frames between re-identifications of a tracked face.
pub const DEFAULT_REIDENTIFY_INTERVAL: u32 = 30;
/// Default frames a lost track is kept for re-association.
pub const DEFAULT_TRACK_BUFFER: usize = 30;

/// Face recognition: align → embed → match the gallery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecognizeConfig {
    /// Embedding model: manifest id or path (default `facenet`).
    #[serde(default = "default_embedder")]
    pub model: String,
    /// Gallery folder: `<gallery>/<name>/*.jpg|png`.
    pub gallery: PathBuf,
    /// Cosine similarity below which a face is `unknown`.
    #[serde(default = "default_similarity")]
    pub threshold: f32,
    /// A tracked face is identified on its first frame, then every this many frames.
    #[serde(default = "default_reidentify_interval")]
    pub reidentify_interval: u32,
    /// Embedding infer requests; default: the model's OPTIMAL_NUMBER_OF_INFER_REQUESTS.
    #[serde(default)]
    pub nireq: Option<usize>,
}

impl RecognizeConfig {
    /// Recognition against the gallery folder `gallery`, with the default embedder (FaceNet),
    /// similarity threshold and re-identification interval.
    pub fn new(gallery: impl Into<PathBuf>) -> Self {
        RecognizeConfig {
            model: default_embedder(),
            gallery: gallery.into(),
            threshold: default_similarity(),
            reidentify_interval: default_reidentify_interval(),
            nireq: None,
        }
    }
}

/// Object tracking (ByteTrack from `trackforge`): stable ids across frames.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Frames a lost track is kept for re-association.
    #[serde(default = "default_track_buffer")]
    pub track_buffer: usize,
}

impl PipelineConfig {
    /// A pipeline of `input` (path or URI; empty for one whose sources are added at run time)
    /// through `model` (manifest id or path), every other table at its defaults (no outputs,
    /// tracking on, no recognition) — the same values a TOML file that names only these two
    /// gets.
    pub fn new(input: impl Into<String>, model: impl Into<String>) -> Self {
        PipelineConfig {
            source: SourceConfig {
                input: input.into(),
                ..SourceConfig::default()
            },
            sources: Vec::new(),
            model: ModelConfig::new(model),
            detect: DetectConfig::default(),
            output: OutputConfig::default(),
            recognize: None,
            track: TrackConfig::default(),
            analytics: AnalyticsConfig::default(),
            alerts: Vec::new(),
            serve: ServeConfig::default(),
        }
    }

    /// Every input with its unique name, in order: the `[[sources]]`, or `[source] input`.
    ///
    /// # Errors
    /// A message when an explicit name is invalid or given twice.
    pub fn streams(&self) -> std::result::Result<Vec<NamedSource>, String> {
        if self.sources.is_empty() {
            let single = NamedSource {
                name: None,
                input: self.source.input.clone(),
                analytics: None,
            };
            return crate::config::names::resolve_names(&[single]);
        }
        crate::config::names::resolve_names(&self.sources)
    }

    /// Replaces the inputs: one becomes `[source] input`, several become `[[sources]]`.
    pub fn set_inputs(&mut self, inputs: &[String]) {
        self.source.input.clear();
        self.sources.clear();
        match inputs {
            [] => {}
            [one] => self.source.input = one.clone(),
            many => {
                self.sources = many
                    .iter()
                    .map(|input| NamedSource {
                        name: None,
                        input: input.clone(),
                        analytics: None,
                    })
                    .collect()
            }
        }
    }

    /// The first input (benchmarks loop it).
    pub fn first_input(&self) -> &str {
        self.sources
            .first()
            .map_or(self.source.input.as_str(), |s| s.input.as_str())
    }

    /// The zones and lines of the source named `name` (its own `analytics`, else the top-level
    /// one); `None` when it has none.
    pub fn analytics_for(&self, name: &str) -> Option<std::sync::Arc<AnalyticsConfig>> {
        let own = self
            .streams()
            .ok()?
            .into_iter()
            .find(|s| s.name.as_deref() == Some(name))
            .and_then(|s| s.analytics);
        let config = own.unwrap_or_else(|| self.analytics.clone());
        (!config.is_empty()).then(|| std::sync::Arc::new(config))
    }

    /// Whether any source has zones or lines.
    pub fn has_analytics(&self) -> bool {
        !self.analytics.is_empty()
            || self
                .sources
                .iter()
                .any(|s| s.analytics.as_ref().is_some_and(|a| !a.is_empty()))
    }

    /// The pipeline's tracker settings `(threshold, track_buffer)`; `None` when tracking is off.
    pub fn track_options(&self) -> Option<(f32, usize)> {
        self.track
            .enabled
            .then_some((self.detect.threshold, self.track.track_buffer))
    }
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            enabled: true,
            track_buffer: DEFAULT_TRACK_BUFFER,
        }
    }
}

fn default_embedder() -> String {
    "facenet".into()
}
fn default_similarity() -> f32 {
    DEFAULT_SIMILARITY
}
fn default_reidentify_interval() -> u32 {
    DEFAULT_REIDENTIFY_INTERVAL
}
fn default_track_buffer() -> usize {
    DEFAULT_TRACK_BUFFER
}

/// Detection postprocessing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Confidence below which detections are dropped; default: the model file's
    /// `confidence_threshold` (IR `model_info`), else 0.5.
    #[serde(default = "default_threshold")]
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
    pub iou: Option<f32>,
    /// Infer every `interval`-th frame (1: every frame); the frames between carry the last
    /// inferred frame's tracked boxes (JSON `inferred: false`).
    #[serde(default = "default_interval")]
    pub interval: u32,
}

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
        }
    }
}

pub(crate) fn default_true() -> bool {
    true
}
fn default_threshold() -> f32 {
    DEFAULT_THRESHOLD
}

impl PipelineConfig {
    /// Reads and validates a pipeline file.
    ///
    /// # Errors
    /// [`Error::Config`] naming `path` when it cannot be read, is not valid TOML, has an unknown
    /// or missing key (with line and column), or a value out of range.
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_capped(path, MAX_TEXT_FILE_BYTES).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses pipeline TOML; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let config = Self::from_toml(text, path)?;
        config.validate(path)?;
        Ok(config)
    }

    /// The TOML as a config, unvalidated; notes whether `[detect] threshold` was given.
    fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let mut config: PipelineConfig = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: describe_toml_error(text, &e),
        })?;
        config.detect.threshold_given = toml::from_str::<toml::Table>(text)
            .ok()
            .and_then(|t| t.get("detect")?.get("threshold").cloned())
            .is_some();
        Ok(config)
    }

    /// Checks value ranges; called after every override too.
    pub fn validate(&self, path: &Path) -> Result<()> {
        if self.source.input.is_empty() && self.sources.is_empty() {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: "no input: set `[source] input` or add `[[sources]]` tables".into(),
            });
        }
        self.validate_settings(path)
    }

    /// A pipeline file for `ovstream serve`, whose inputs are optional (streams come over the
    /// API): read and checked as [`Self::load`] does otherwise.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn load_for_service(path: &Path) -> Result<Self> {
        let text = read_capped(path, MAX_TEXT_FILE_BYTES).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        let config = Self::from_toml(&text, path)?;
        config.validate_settings(path)?;
        Ok(config)
    }

    /// [`Self::validate`] without requiring an input.
    ///
    /// # Errors
    /// As [`Self::validate`].
    pub fn validate_settings(&self, path: &Path) -> Result<()> {
        let bad = |message: String| {
            Err(Error::Config {
                path: path.to_path_buf(),
                message,
            })
        };
        if !self.source.input.is_empty() && !self.sources.is_empty() {
            return bad(
                "inputs given twice: use `[source] input` or `[[sources]]`, not both".into(),
            );
        }
        if let Err(message) = self.streams() {
            return bad(message);
        }
        if let Err(message) = crate::config::names::check_templates(&self.output) {
            return bad(message);
        }
        if let Err(message) = alerts::validate(&self.alerts) {
            return bad(message);
        }
        if !self.alerts.is_empty() && !self.track.enabled {
            return bad("[[alerts]] follow tracked objects: turn [track] enabled back on".into());
        }
        if !(1..=MAX_INTERVAL).contains(&self.detect.interval) {
            return bad(format!(
                "detect.interval = {} is outside 1..={MAX_INTERVAL}",
                self.detect.interval
            ));
        }
        if let Some(iou) = self.detect.iou.filter(|v| !(*v > 0.0 && *v <= 1.0)) {
            return bad(format!("detect.iou = {iou} is outside (0, 1]"));
        }
        if !(0.0..=1.0).contains(&self.detect.threshold) {
            return bad(format!(
                "detect.threshold = {} is outside [0, 1]",
                self.detect.threshold
            ));
        }
        if let Some(t) = self.source.stall_timeout {
            if !(t > 0.0 && t <= MAX_SECONDS) {
                return bad(format!(
                    "source.stall_timeout = {t:?}: expected seconds in (0, {MAX_SECONDS}]"
                ));
            }
        }
        let s = &self.source;
        if [s.width, s.height, s.framerate].contains(&Some(0)) {
            return bad("source.width, height and framerate must be positive".into());
        }
        if let Some(t) = self.output.stats_interval {
            if !(t == 0.0 || (MIN_STATS_INTERVAL..=MAX_SECONDS).contains(&t)) {
                return bad(format!(
                    "output.stats_interval = {t:?}: expected 0 (off) or seconds in \
                     [{MIN_STATS_INTERVAL}, {MAX_SECONDS}]"
                ));
            }
        }
        if let Some(m) = &self.output.mqtt {
            // URL, QoS, queue, TLS files, password variable: checked before anything starts.
            m.target()?;
        }
        if let Some(r) = &self.recognize {
            if !(-1.0..=1.0).contains(&r.threshold) {
                return bad(format!(
                    "recognize.threshold = {} is outside [-1, 1]",
                    r.threshold
                ));
            }
            if r.reidentify_interval == 0 || r.nireq == Some(0) {
                return bad("recognize.reidentify_interval and nireq must be at least 1".into());
            }
        }
        if self.model.nireq == Some(Nireq::Count(0)) {
            return bad("model.nireq must be at least 1".into());
        }
        if self.model.batch == 0 {
            return bad("model.batch must be at least 1".into());
        }
        if self.model.batch > 1 && self.recognize.is_some() {
            return bad(
                "model.batch > 1 is for detection pipelines; face recognition (the gallery's \
                 face finder, one photo at a time) needs batch = 1"
                    .into(),
            );
        }
        if let Some(n) = &self.model.nstreams {
            let ok = n.eq_ignore_ascii_case("auto")
                || n.parse::<usize>().is_ok_and(|v| (1..=256).contains(&v));
            if !ok {
                return bad(format!(
                    "model.nstreams = `{n}`: expected a number of streams from 1 to 256, or \"auto\""
                ));
            }
        }
        if self.detect.classes.iter().any(|c| c.trim().is_empty()) {
            return bad(format!(
                "detect.classes = {:?}: empty class names (a list like person,car)",
                self.detect.classes
            ));
        }
        if let Some([h, w]) = self.model.input_size {
            if h % 2 != 0 || w % 2 != 0 {
                return bad(format!(
                    "model.input_size = [{h}, {w}]: height and width must be even (the frame is \
                     resized as I420)"
                ));
            }
            if h == 0 || w == 0 {
                return bad("model.input_size must be positive [height, width]".into());
            }
        }
        for a in std::iter::once(&self.analytics)
            .chain(self.sources.iter().filter_map(|s| s.analytics.as_ref()))
        {
            if let Err(message) = a.validate() {
                return bad(message);
            }
        }
        if self.has_analytics() && !self.track.enabled {
            return bad(
                "analytics (zones, lines) work on track ids: turn tracking on ([track] enabled \
                 = true)"
                    .into(),
            );
        }
        if self.model.device.trim().is_empty() {
            return bad("model.device is empty".into());
        }
        Ok(())
    }
}

/// `toml`'s message plus the 1-based line and column of the offending key.
fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim().to_string();
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            let key = text[span.clone()].trim();
            format!("line {line}, column {column}: {message} (at `{key}`)")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests;
