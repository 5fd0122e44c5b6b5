//! `[record]`: event recordings with pre-capture (per `[[sources]]` entry as `[sources.record]`,
//! per stream in `serve`). What triggers a clip, how much is kept around it, and how long clips
//! are kept.

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Default seconds kept before the first trigger (Frigate's `pre_capture`).
pub const DEFAULT_PRE_CAPTURE: f64 = 5.0;
/// Default seconds kept after the last trigger (Frigate's `post_capture`).
pub const DEFAULT_POST_CAPTURE: f64 = 5.0;
/// Longest pre-capture (s): the encoded ring must hold it.
pub const MAX_PRE_CAPTURE: f64 = 60.0;
/// Longest post-capture (s).
pub const MAX_POST_CAPTURE: f64 = 300.0;
/// Default longest clip (s): a clip that stays active is split at a keyframe after it.
pub const DEFAULT_MAX_CLIP: f64 = 300.0;
/// Default days a clip is kept.
pub const DEFAULT_RETAIN_DAYS: f64 = 7.0;
/// Default most bytes of clips in `dir` (oldest deleted first).
pub const DEFAULT_MAX_BYTES: ByteSize = ByteSize::gib(20);
/// Default free space kept on the file system of `dir`.
pub const DEFAULT_MIN_FREE: ByteSize = ByteSize::gib(1);
/// The analytics and alert events that start or extend a clip by default.
pub const DEFAULT_EVENTS: [&str; 5] = ["zone_enter", "line_cross", "loitering", "crowding", "fall"];

/// Event recordings of one source.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RecordConfig {
    /// Folder of the clips: `{dir}/{source}/{YYYY-MM-DD}/{HH-MM-SS}-{clip_id}.mp4` (UTC), each
    /// with a `.json` sidecar and a `.jpg` thumbnail. In `serve`, relative to `[serve]
    /// output_root`.
    #[cfg_attr(feature = "cli", schema(value_type = String))]
    pub dir: PathBuf,
    /// Seconds of video kept before the trigger, in `0..=60`; the clip starts at the last
    /// keyframe at or before `trigger - pre_capture`.
    #[serde(default = "default_pre_capture")]
    #[cfg_attr(feature = "cli", schemars(range(min = 0.0, max = MAX_PRE_CAPTURE)))]
    pub pre_capture: f64,
    /// Seconds of video after the last trigger, in `0..=300`.
    #[serde(default = "default_post_capture")]
    #[cfg_attr(feature = "cli", schemars(range(min = 0.0, max = MAX_POST_CAPTURE)))]
    pub post_capture: f64,
    /// Longest clip in seconds (`>= 1`): a clip that stays active is split at a keyframe.
    #[serde(default = "default_max_clip")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1.0, max = crate::config::MAX_SECONDS)))]
    pub max_clip: f64,
    /// A detection of one of these labels keeps a clip active from its track's first frame to
    /// its last (default `["person"]`; empty: labels trigger nothing).
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// Analytics and alert events (`type`) that start or extend a clip.
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// `false`: the camera's own encoded video, copied (no re-encode); `true`: the annotated
    /// frames, encoded with H.264.
    #[serde(default)]
    pub annotated: bool,
    /// Clips older than this many days are deleted (`> 0`).
    #[serde(default = "default_retain_days")]
    #[cfg_attr(feature = "cli", schemars(extend("exclusiveMinimum" = 0.0)))]
    pub retain_days: f64,
    /// Most bytes of clips (and their sidecars) under `dir`; the oldest go first (e.g.
    /// `"20GiB"`).
    #[serde(default = "default_max_bytes")]
    #[cfg_attr(feature = "cli", schema(value_type = String))]
    #[cfg_attr(feature = "cli", schemars(with = "super::schema::Bytes"))]
    pub max_bytes: ByteSize,
    /// Free space kept on the file system of `dir`; below it the oldest clips go first.
    #[serde(default = "default_min_free")]
    #[cfg_attr(feature = "cli", schema(value_type = String))]
    #[cfg_attr(feature = "cli", schemars(with = "super::schema::Bytes"))]
    pub min_free: ByteSize,
}

impl RecordConfig {
    /// Recordings into `dir` with every other key at its default.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RecordConfig {
            dir: dir.into(),
            pre_capture: DEFAULT_PRE_CAPTURE,
            post_capture: DEFAULT_POST_CAPTURE,
            max_clip: DEFAULT_MAX_CLIP,
            labels: default_labels(),
            events: default_events(),
            annotated: false,
            retain_days: DEFAULT_RETAIN_DAYS,
            max_bytes: DEFAULT_MAX_BYTES,
            min_free: DEFAULT_MIN_FREE,
        }
    }

    /// The folder clips go under: `dir`, relative to `root` when given (`[serve] output_root`)
    /// and `dir` is relative.
    pub fn dir_under(&self, root: Option<&std::path::Path>) -> PathBuf {
        match root {
            Some(r) if self.dir.is_relative() => r.join(&self.dir),
            _ => self.dir.clone(),
        }
    }

    /// Checks the ranges.
    ///
    /// # Errors
    /// A message naming the key and its range.
    pub fn validate(&self) -> Result<(), String> {
        let range = |key: &str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("record.{key} = {v} is outside {lo}..={hi}"))
            }
        };
        range("pre_capture", self.pre_capture, 0.0, MAX_PRE_CAPTURE)?;
        range("post_capture", self.post_capture, 0.0, MAX_POST_CAPTURE)?;
        range("max_clip", self.max_clip, 1.0, crate::config::MAX_SECONDS)?;
        if !(self.retain_days.is_finite() && self.retain_days > 0.0) {
            return Err(format!(
                "record.retain_days = {} must be above 0",
                self.retain_days
            ));
        }
        if self.dir.as_os_str().is_empty() {
            return Err("record.dir is empty".into());
        }
        if let Some(e) = self.events.iter().find(|e| !is_trigger_event(e)) {
            return Err(format!(
                "record.events: unknown event `{e}` (known: zone_enter, zone_exit, line_cross, \
                 loitering, crowding, or an [[alerts]] type)"
            ));
        }
        Ok(())
    }
}

/// Whether `name` can be an event type: an analytics event or an `[[alerts]]` type (lower-case
/// letters, digits and `_`).
fn is_trigger_event(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn default_pre_capture() -> f64 {
    DEFAULT_PRE_CAPTURE
}
fn default_post_capture() -> f64 {
    DEFAULT_POST_CAPTURE
}
fn default_max_clip() -> f64 {
    DEFAULT_MAX_CLIP
}
fn default_labels() -> Vec<String> {
    vec!["person".into()]
}
fn default_events() -> Vec<String> {
    DEFAULT_EVENTS.iter().map(|e| e.to_string()).collect()
}
fn default_retain_days() -> f64 {
    DEFAULT_RETAIN_DAYS
}
fn default_max_bytes() -> ByteSize {
    DEFAULT_MAX_BYTES
}
fn default_min_free() -> ByteSize {
    DEFAULT_MIN_FREE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_sizes_parse() {
        let c: RecordConfig =
            toml::from_str("dir = \"rec\"\nmax_bytes = \"2GiB\"\nmin_free = \"10MiB\"").unwrap();
        assert_eq!(c.max_bytes.as_u64(), 2 << 30);
        assert_eq!(c.min_free.as_u64(), 10 << 20);
        assert_eq!(c.pre_capture, DEFAULT_PRE_CAPTURE);
        assert_eq!(c.labels, ["person"]);
        c.validate().unwrap();
    }

    #[test]
    fn ranges_are_checked() {
        let mut c = RecordConfig::new("rec");
        c.pre_capture = 61.0;
        assert!(c.validate().unwrap_err().contains("pre_capture"));
        c.pre_capture = 1.0;
        c.post_capture = -1.0;
        assert!(c.validate().unwrap_err().contains("post_capture"));
        c.post_capture = 1.0;
        c.events.push("Zone Enter".into());
        assert!(c.validate().unwrap_err().contains("Zone Enter"));
        assert!(toml::from_str::<RecordConfig>("dir = \"r\"\nmax_bytes = \"lots\"").is_err());
    }
}
