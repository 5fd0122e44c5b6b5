//! The streams of the service: what a client asks for ([`StreamSpec`], the JSON body of
//! `POST /api/streams`, also what the state file keeps), how a request is checked, and what
//! `GET /api/streams` reports ([`StreamView`]).

use crate::config::analytics::{class_filters, LineConfig, ZoneConfig};
use crate::config::AnalyticsConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use super::outputs::StreamOutputs;
pub use super::refusal::Refusal;

/// Longest stream name.
pub const MAX_NAME_LEN: usize = 64;
/// URI schemes a stream may use without a media root.
const NETWORK_SCHEMES: [&str; 5] = ["rtsp://", "rtsps://", "http://", "https://", "test://"];

/// One stream as added over the API (and kept in the state file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// This stream's files instead of the pipeline file's `[output]` ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<StreamOutputs>,
    /// This stream's event recordings (the pipeline file's `[record]` keys); `dir` is relative
    /// to `[serve] output_root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<crate::config::RecordConfig>,
    /// The camera's main stream (`rtsp://`, …, as `input`), recorded while `input` — its
    /// substream — is detected on (the pipeline file's `[source] record_input`): clips are its
    /// own packets. Needs recordings (`record`, or the pipeline file's `[record]`, not
    /// `annotated`) and a live `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_input: Option<String>,
    /// Which of the pipeline file's `[[classify]]` classifiers (by `model`, e.g. `age-gender`)
    /// run on this stream; `[]`: none; default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classify: Option<Vec<String>>,
}

/// `PATCH /api/streams/{name}`: what changes while the stream runs.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamPatch {
    #[serde(default)]
    pub zones: Option<Vec<ZoneConfig>>,
    #[serde(default)]
    pub lines: Option<Vec<LineConfig>>,
    /// A number sets the stream's threshold; `null` clears it (the pipeline's applies).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f32>, nullable)]
    pub threshold: Option<Option<f32>>,
    /// Labels to keep; `null` clears the filter (every class).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub classes: Option<Option<Vec<String>>>,
    #[serde(default)]
    pub classify: Option<Vec<String>>,
}

/// A key that is present, `null` included (`Some(None)`); absent is `None` (`serde(default)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The model's view of what a stream may filter: its threshold (the floor) and class names.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub threshold: f32,
    pub labels: Vec<String>,
    /// The `model` of each `[[classify]]` table.
    pub classifiers: Vec<String>,
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
            classify: self.classify.clone(),
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
        if let Some(c) = (self.classify.iter().flatten()).find(|c| !model.classifiers.contains(c)) {
            return Err(Refusal::new(
                422,
                format!(
                    "unknown classifier {:?} (the pipeline's [[classify]] models: {})",
                    crate::redact::clip(c),
                    model.classifiers.join(", ")
                ),
            ));
        }
        if self.classes.as_ref().is_some_and(Vec::is_empty) {
            return Err(Refusal::new(
                422,
                "classes: empty (it would drop every object); leave it out, or null, for all",
            ));
        }
        // The stream's classes, and those of its zones and lines.
        let all = std::iter::once(("classes".to_string(), &self.classes)).chain(class_filters(
            self.zones.as_deref().unwrap_or_default(),
            self.lines.as_deref().unwrap_or_default(),
        ));
        for (what, classes) in all {
            if let Some(c) = classes.iter().flatten().find(|c| !model.labels.contains(c)) {
                let (what, c) = (crate::redact::clip(&what), crate::redact::clip(c));
                let message = crate::config::not_a_class(&what, &c, &model.labels);
                return Err(Refusal::new(422, message));
            }
        }
        Ok(())
    }

    /// Checks the name, the input against `media_roots`, the outputs against `output_root`
    /// (never the input itself), and the geometry.
    ///
    /// # Errors
    /// A 422 [`Refusal`] naming the rule that is broken.
    pub fn check(
        &self,
        media_roots: &[PathBuf],
        output_root: Option<&Path>,
    ) -> Result<(), Refusal> {
        check_name(&self.name)?;
        check_input(&self.input, media_roots)?;
        crate::source::check_syntax(&self.input).map_err(|e| Refusal::new(422, e.to_string()))?;
        if let Some(main) = &self.record_input {
            let named = |r: Refusal| Refusal::new(r.status, format!("record_input: {}", r.message));
            check_input(main, media_roots).map_err(named)?;
            crate::source::check_syntax(main)
                .map_err(|e| Refusal::new(422, format!("record_input: {e}")))?;
        }
        let outputs = self.output_files(output_root)?;
        let input = Path::new(self.input.strip_prefix("file://").unwrap_or(&self.input))
            .canonicalize()
            .ok();
        if let Some((key, _)) = outputs.iter().find(|(_, p)| Some(p) == input.as_ref()) {
            return Err(Refusal::new(
                422,
                format!("outputs.{key}: is the stream's input; an input is never overwritten"),
            ));
        }
        if let Some(r) = &self.record {
            r.validate().map_err(|m| Refusal::new(422, m))?;
            check_record_dir(&r.dir, output_root)?;
        }
        self.analytics(&AnalyticsConfig::default())
            .validate()
            .map_err(|m| Refusal::new(422, m))
    }

    /// The stream's own output files, resolved under `output_root` (none without `outputs`).
    ///
    /// # Errors
    /// See [`StreamOutputs::resolve`].
    pub fn output_files(
        &self,
        output_root: Option<&Path>,
    ) -> Result<Vec<(&'static str, PathBuf)>, Refusal> {
        self.outputs
            .as_ref()
            .map_or(Ok(Vec::new()), |o| o.resolve(&self.name, output_root))
    }
}

/// A stream's `record.dir`: a path under a configured `output_root` (the rules of the
/// per-stream outputs: relative, no `..`, no symlink leading out).
///
/// # Errors
/// A 422 [`Refusal`] naming the rule.
fn check_record_dir(dir: &Path, output_root: Option<&Path>) -> Result<(), Refusal> {
    let Some(root) = output_root else {
        return Err(Refusal::new(
            422,
            "record: per-stream recordings need [serve] output_root in the pipeline file",
        ));
    };
    let real_root = root.canonicalize().map_err(|e| {
        Refusal::new(
            422,
            format!("record: [serve] output_root {}: {e}", root.display()),
        )
    })?;
    let shown = dir.display().to_string();
    super::outputs::under_root(&shown, &real_root)
        .map(|_| ())
        .map_err(|why| Refusal::new(422, format!("record.dir {shown:?}: {why}")))
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
            format!(
                "stream name {:?}: use 1 to {MAX_NAME_LEN} of A-Z a-z 0-9 _ -",
                crate::redact::clip(name)
            ),
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
                    crate::redact::clip(&crate::redact::redact(input))
                ),
            ));
        }
        None => PathBuf::from(input),
    };
    let outside = || {
        Refusal::new(
            422,
            format!(
                "input {}: files are allowed only under [serve] media_roots ({})",
                crate::redact::clip(input),
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StreamView {
    pub name: String,
    /// The input with any password shown as `***`.
    pub input: String,
    /// The recorded main stream (`record_input`), any password shown as `***`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_input: Option<String>,
    /// Its state once opened: `streaming` or `reconnecting` (clips stop; detection goes on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_input_state: Option<String>,
    /// Why it last reconnected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_input_error: Option<String>,
    /// `starting`, `streaming`, `reconnecting`, `failed`, `finished`.
    pub state: String,
    pub frames: u64,
    /// Frames per second since the stream joined.
    pub fps: f64,
    /// Frames dropped at its `decoded` queue (live sources under overload).
    pub drops: u64,
    pub reconnects: u32,
    pub latency_ms: Latency,
    /// Wall time between consecutive results (pacing): steady at 1/fps when nothing stalls.
    pub frame_gap_ms: FrameGap,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<StreamOutputs>,
    /// Zone occupancy and line crossings in its latest frame:
    /// `{"zones": {"bay": {"person": 2}}, "lines": {"door": {"in": 14, "out": 9}}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub counts: Option<serde_json::Value>,
}

/// End-to-end latency (decode to sink), ms.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
}

/// Time between consecutive results of a stream, ms.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct FrameGap {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// A stream of `name` on `input` with nothing else set (the tests' stream).
#[cfg(test)]
pub(super) fn spec(name: &str, input: &str) -> StreamSpec {
    StreamSpec {
        name: name.into(),
        input: input.into(),
        zones: None,
        lines: None,
        threshold: None,
        classes: None,
        outputs: None,
        record: None,
        record_input: None,
        classify: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_schemes_and_media_roots_are_checked() {
        assert!(spec("door-1", "test://?pattern=ball")
            .check(&[], None)
            .is_ok());
        assert!(spec("door 1", "test://")
            .check(&[], None)
            .unwrap_err()
            .message
            .contains("name"));
        let e = spec("a", "ftp://x/y").check(&[], None).unwrap_err();
        assert!(e.message.contains("unknown scheme `ftp://`"), "{e:?}");
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        std::fs::write(media.join("a.mp4"), b"x").unwrap();
        std::fs::write(dir.path().join("b.mp4"), b"x").unwrap();
        let roots = vec![media.clone()];
        assert!(spec("a", media.join("a.mp4").to_str().unwrap())
            .check(&roots, None)
            .is_ok());
        let outside = spec("a", dir.path().join("b.mp4").to_str().unwrap()).check(&roots, None);
        assert!(outside.unwrap_err().message.contains("media_roots"));
        let escape = media.join("../b.mp4");
        assert!(spec("a", escape.to_str().unwrap())
            .check(&roots, None)
            .is_err());
        assert!(spec("a", media.join("a.mp4").to_str().unwrap())
            .check(&[], None)
            .is_err());
    }
}
