//! The streams of the service: what a client asks for ([`StreamSpec`], the JSON body of
//! `POST /api/streams`, also what the state file keeps), how a request is checked, and what
//! `GET /api/streams` reports ([`StreamView`]).

use crate::config::analytics::{LineConfig, ZoneConfig};
use crate::config::AnalyticsConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Longest stream name.
pub const MAX_NAME_LEN: usize = 64;
/// URI schemes a stream may use without a media root.
const NETWORK_SCHEMES: [&str; 5] = ["rtsp://", "rtsps://", "http://", "https://", "test://"];

/// One stream as added over the API (and kept in the state file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// `[A-Za-z0-9_-]{1,64}`: the stream's id in paths, outputs (`{name}`), events, metrics.
    pub name: String,
    /// `rtsp://`, `rtsps://`, `http(s)://`, `test://`, `/dev/videoN`, or a file under a media
    /// root.
    pub input: String,
    /// This stream's zones and lines (replace the pipeline file's `[analytics]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<ZoneConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<LineConfig>>,
    /// A stricter confidence threshold than the pipeline file's (it cannot be lower: the
    /// model's decoder already dropped what is below that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// Only these of the model's classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

/// `PATCH /api/streams/{name}`: what changes while the stream runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamPatch {
    #[serde(default)]
    pub zones: Option<Vec<ZoneConfig>>,
    #[serde(default)]
    pub lines: Option<Vec<LineConfig>>,
    #[serde(default)]
    pub threshold: Option<f32>,
    #[serde(default)]
    pub classes: Option<Vec<String>>,
}

/// The model's view of what a stream may filter: its threshold (the floor) and class names.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub threshold: f32,
    pub labels: Vec<String>,
}

/// Why a request is refused: the HTTP status and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

impl Refusal {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

impl StreamSpec {
    /// The stream's zones and lines: its own, else `defaults` (the pipeline file's).
    pub fn analytics(&self, defaults: &AnalyticsConfig) -> AnalyticsConfig {
        if self.zones.is_none() && self.lines.is_none() {
            return defaults.clone();
        }
        AnalyticsConfig {
            zones: self.zones.clone().unwrap_or_default(),
            lines: self.lines.clone().unwrap_or_default(),
        }
    }

    /// The stream's detection filter.
    pub fn filter(&self) -> crate::pipeline::DetectFilter {
        crate::pipeline::DetectFilter {
            threshold: self.threshold,
            classes: self.classes.clone(),
        }
    }

    /// Checks the threshold against the model's (`model.threshold` ≤ it ≤ 1) and the classes
    /// against its labels.
    ///
    /// # Errors
    /// A 422 [`Refusal`] naming the value.
    pub fn check_filter(&self, model: &Model) -> Result<(), Refusal> {
        if let Some(t) = self.threshold {
            if !(model.threshold..=1.0).contains(&t) {
                return Err(Refusal::new(
                    422,
                    format!(
                        "threshold {t}: expected {} to 1 (the pipeline's threshold is the floor: \
                         lower scores are not decoded)",
                        model.threshold
                    ),
                ));
            }
        }
        if let Some(classes) = &self.classes {
            if let Some(c) = classes.iter().find(|c| !model.labels.contains(c)) {
                return Err(Refusal::new(
                    422,
                    format!(
                        "unknown class {c:?} (the model has: {})",
                        model.labels.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the name, the input against `media_roots`, and the geometry.
    ///
    /// # Errors
    /// A 422 [`Refusal`] naming the rule that is broken.
    pub fn check(&self, media_roots: &[PathBuf]) -> Result<(), Refusal> {
        check_name(&self.name)?;
        check_input(&self.input, media_roots)?;
        crate::source::check_syntax(&self.input).map_err(|e| Refusal::new(422, e.to_string()))?;
        self.analytics(&AnalyticsConfig::default())
            .validate()
            .map_err(|m| Refusal::new(422, m))
    }
}

/// `[A-Za-z0-9_-]{1,64}`.
///
/// # Errors
/// A 422 [`Refusal`].
pub fn check_name(name: &str) -> Result<(), Refusal> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(
            422,
            format!("stream name {name:?}: use 1 to {MAX_NAME_LEN} of A-Z a-z 0-9 _ -"),
        ))
    }
}

/// Network URIs and cameras are allowed; a file only under one of `media_roots`.
fn check_input(input: &str, media_roots: &[PathBuf]) -> Result<(), Refusal> {
    if NETWORK_SCHEMES.iter().any(|s| input.starts_with(s)) {
        return Ok(());
    }
    if input.starts_with("/dev/video") || input.starts_with("v4l2:///dev/video") {
        return Ok(());
    }
    let path = match input.strip_prefix("file://") {
        Some(p) => PathBuf::from(p),
        None if input.contains("://") => {
            let scheme = input.split("://").next().unwrap_or_default();
            return Err(Refusal::new(
                422,
                format!(
                    "input {}: unknown scheme `{scheme}://`; use rtsp://, rtsps://, http(s)://, \
                     test://, /dev/videoN or a file under a media root",
                    crate::redact::redact(input)
                ),
            ));
        }
        None => PathBuf::from(input),
    };
    let outside = || {
        Refusal::new(
            422,
            format!(
                "input {input}: files are allowed only under [serve] media_roots ({})",
                if media_roots.is_empty() {
                    "none configured".to_string()
                } else {
                    media_roots
                        .iter()
                        .map(|r| r.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        )
    };
    // Resolved, so `..` and symlinks cannot leave a root.
    let real = path.canonicalize().map_err(|_| outside())?;
    let inside = media_roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .any(|root| real.starts_with(&root) && real != root);
    if inside && real.is_file() {
        Ok(())
    } else {
        Err(outside())
    }
}

/// One stream in `GET /api/streams`.
#[derive(Debug, Clone, Serialize)]
pub struct StreamView {
    pub name: String,
    /// The input with any password shown as `***`.
    pub input: String,
    /// `starting`, `streaming`, `reconnecting`, `failed`, `finished`.
    pub state: String,
    pub frames: u64,
    /// Frames per second since the stream joined.
    pub fps: f64,
    /// Frames dropped at its `decoded` queue (live sources under overload).
    pub drops: u64,
    pub reconnects: u32,
    pub latency_ms: Latency,
    pub last_error: Option<String>,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<ZoneConfig>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<LineConfig>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

/// End-to-end latency (decode to sink), ms.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
}

/// The streams kept across restarts: `{"streams": [StreamSpec…]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    streams: Vec<StreamSpec>,
}

/// Reads the state file (a missing one is no streams).
///
/// # Errors
/// A message naming the file when it exists but cannot be read or parsed.
pub fn load_state(path: &Path) -> Result<Vec<StreamSpec>, String> {
    match crate::config::read_capped(path, crate::config::MAX_TEXT_FILE_BYTES) {
        Ok(text) => serde_json::from_str::<StateFile>(&text)
            .map(|s| s.streams)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the state file atomically (a temporary file beside it, then a rename).
///
/// # Errors
/// The I/O error, naming the file.
pub fn save_state(path: &Path, streams: &[StreamSpec]) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let text = serde_json::to_string_pretty(&StateFile {
        streams: streams.to_vec(),
    })
    .expect("streams serialize");
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, input: &str) -> StreamSpec {
        StreamSpec {
            name: name.into(),
            input: input.into(),
            zones: None,
            lines: None,
            threshold: None,
            classes: None,
        }
    }

    #[test]
    fn names_schemes_and_media_roots_are_checked() {
        assert!(spec("door-1", "test://?pattern=ball").check(&[]).is_ok());
        assert!(spec("door 1", "test://")
            .check(&[])
            .unwrap_err()
            .message
            .contains("name"));
        let e = spec("a", "ftp://x/y").check(&[]).unwrap_err();
        assert!(e.message.contains("unknown scheme `ftp://`"), "{e:?}");
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        std::fs::write(media.join("a.mp4"), b"x").unwrap();
        std::fs::write(dir.path().join("b.mp4"), b"x").unwrap();
        let roots = vec![media.clone()];
        assert!(spec("a", media.join("a.mp4").to_str().unwrap())
            .check(&roots)
            .is_ok());
        let outside = spec("a", dir.path().join("b.mp4").to_str().unwrap()).check(&roots);
        assert!(outside.unwrap_err().message.contains("media_roots"));
        let escape = media.join("../b.mp4");
        assert!(spec("a", escape.to_str().unwrap()).check(&roots).is_err());
        assert!(spec("a", media.join("a.mp4").to_str().unwrap())
            .check(&[])
            .is_err());
    }

    #[test]
    fn the_state_file_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/streams.json");
        assert_eq!(load_state(&path).unwrap(), vec![]);
        let streams = vec![spec("a", "test://"), spec("b", "rtsp://cam/1")];
        save_state(&path, &streams).unwrap();
        assert_eq!(load_state(&path).unwrap(), streams);
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left");
    }
}
