//! Pipeline configuration: `pipelines/*.toml`, with CLI overrides applied on top.
//!
//! Unknown keys are rejected; errors name the file, the line and the key (from `toml`'s span).

use crate::error::{Error, Result};
pub mod alerts;
pub mod allowed;
pub mod analytics;
pub mod classify;
mod detect;
#[cfg(feature = "cli")]
mod flags;
mod model;
pub mod motion;
pub mod names;
pub mod output;
mod overrides;
pub mod record;
#[cfg(feature = "cli")]
pub mod schema;
mod serve;
mod source;
mod validate;

pub use crate::source::RtspTransport;
pub use analytics::AnalyticsConfig;
pub use detect::{
    not_a_class, DetectConfig, DetectMode, TrackConfig, MAX_DETECT_FPS, MAX_INTERVAL,
};
#[cfg(feature = "cli")]
pub use flags::{Overrides, RunOverrides};
pub use model::{Hint, ModelConfig, Nireq, Precision, Resize};
pub use output::{MqttConfig, OutputConfig};
pub use overrides::{parse_property, parse_size, Inputs, Override};
pub use record::RecordConfig;
use serde::Deserialize;
pub use serve::ServeConfig;
pub use source::{record_input_problem, NamedSource, SourceConfig};

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
            format!("larger than {cap} bytes (the most read of a text file here)"),
        ));
    }
    Ok(text)
}

/// Default OpenVINO device.
pub const DEFAULT_DEVICE: &str = "CPU";

/// One pipeline: a source, a detection model, and sinks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
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
    /// Second-stage classifiers on detected objects, run in order (`[[classify]]`).
    #[serde(default)]
    pub classify: Vec<classify::ClassifyConfig>,
    #[serde(default)]
    pub track: TrackConfig,
    /// Zones and lines for every source (`[[analytics.zones]]`, `[[analytics.lines]]`).
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    /// The motion detector (`[detect] mode = "motion"`).
    #[serde(default)]
    pub motion: motion::MotionConfig,
    /// Alert events: a tracked label held long enough (`[[alerts]]`).
    #[serde(default)]
    pub alerts: Vec<alerts::AlertConfig>,
    /// Event recordings with pre-capture for every source (`[record]`; a `[[sources]]` entry's
    /// own `record` replaces it for that source).
    #[serde(default)]
    pub record: Option<RecordConfig>,
    /// `ovstream serve` settings.
    #[serde(default)]
    pub serve: ServeConfig,
}

/// Default number of unknown people kept (`[recognize] max_unknown`).
pub const DEFAULT_MAX_UNKNOWN: usize = 1000;

/// Default cosine-similarity threshold of a gallery match (calibrated on the sample photos:
/// see docs/faces.md, "Recognition pipeline").
pub const DEFAULT_SIMILARITY: f32 = 0.6;
/// Default frames between re-identifications of a tracked face.
pub const DEFAULT_REIDENTIFY_INTERVAL: u32 = 30;
/// Default frames a lost track is kept for re-association.
pub const DEFAULT_TRACK_BUFFER: usize = 30;

/// Face recognition: align → embed → match the gallery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RecognizeConfig {
    /// Embedding model: manifest id or path (default `facenet`).
    #[serde(default = "default_embedder")]
    pub model: String,
    /// Gallery folder: `<gallery>/<name>/*.jpg|png`.
    pub gallery: PathBuf,
    /// Cosine similarity below which a face is `unknown`.
    #[serde(default = "default_similarity")]
    #[cfg_attr(feature = "cli", schemars(range(min = -1.0, max = 1.0)))]
    pub threshold: f32,
    /// A tracked face is identified on its first frame, then every this many frames.
    #[serde(default = "default_reidentify_interval")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1)))]
    pub reidentify_interval: u32,
    /// Embedding infer requests; default: the model's OPTIMAL_NUMBER_OF_INFER_REQUESTS.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = 1)))]
    pub nireq: Option<usize>,
    /// Remember unknown people: a stable `unknown_id` across appearances and cameras
    /// (`false`: nothing of an unknown face is kept).
    #[serde(default = "default_true")]
    pub remember_unknown: bool,
    /// Unknown people remembered at most (the least recently seen are forgotten first).
    #[serde(default = "default_max_unknown")]
    pub max_unknown: usize,
}

fn default_max_unknown() -> usize {
    DEFAULT_MAX_UNKNOWN
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
            remember_unknown: true,
            max_unknown: default_max_unknown(),
        }
    }
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
            classify: Vec::new(),
            track: TrackConfig::default(),
            analytics: AnalyticsConfig::default(),
            alerts: Vec::new(),
            motion: Default::default(),
            record: None,
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
                record: None,
                record_input: self.source.record_input.clone(),
            };
            return crate::config::names::resolve_names(&[single]);
        }
        crate::config::names::resolve_names(&self.sources)
    }

    /// Replaces the inputs: one becomes `[source] input`, several become `[[sources]]`.
    pub fn set_inputs(&mut self, inputs: &[String]) {
        self.source.input.clear();
        // Another camera's main stream would be recorded beside these inputs.
        self.source.record_input = None;
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
                        record: None,
                        record_input: None,
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

    /// The recordings of the source named `name` (its own `record`, else `[record]`); `None`
    /// when it records nothing.
    pub fn record_for(&self, name: &str) -> Option<std::sync::Arc<RecordConfig>> {
        let own = self
            .streams()
            .ok()?
            .into_iter()
            .find(|s| s.name.as_deref() == Some(name))
            .and_then(|s| s.record);
        own.or_else(|| self.record.clone()).map(std::sync::Arc::new)
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

fn default_embedder() -> String {
    "facenet".into()
}
fn default_similarity() -> f32 {
    DEFAULT_SIMILARITY
}
fn default_reidentify_interval() -> u32 {
    DEFAULT_REIDENTIFY_INTERVAL
}
pub(crate) fn default_true() -> bool {
    true
}
impl PipelineConfig {
    /// Reads and validates a pipeline file (inputs required).
    ///
    /// # Errors
    /// [`Error::Config`] naming `path` when it cannot be read, is not valid TOML, has an unknown
    /// or missing key (with line and column), or a value out of range.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &[], Inputs::Required)
    }

    /// Reads a pipeline file without validating it: [`Self::load_with`] validates once the
    /// overrides are merged.
    ///
    /// # Errors
    /// [`Error::Config`] naming `path` when it cannot be read, is not valid TOML or has an
    /// unknown or missing key (with line and column).
    pub fn read(path: &Path) -> Result<Self> {
        let text = read_capped(path, MAX_TEXT_FILE_BYTES).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        Self::from_toml(&text, path)
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

    /// Checks value ranges and that there is an input ([`Self::load_with`] calls it once,
    /// after the overrides).
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
        Self::load_with(path, &[], Inputs::Optional)
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
