//! What is written beside a clip (`{clip}.json`) and said about it (`clip_start` /
//! `clip_end` events on the events file, the service's ring and MQTT `{prefix}/{source}/clips`).

use crate::error::{Error, Result};
use crate::frame::AnalyzedFrame;
use crate::sink::events::{EventRing, EventSinks};
use crate::sink::jsonl::SharedJsonl;
use crate::sink::mqtt::Mqtt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Least time (s) between two recorded observations of one track in a sidecar.
pub const OBJECT_SAMPLE_SECONDS: f64 = 0.2;
/// Most observations one sidecar holds (a five-minute clip of a crowd stays small).
pub const MAX_OBJECT_SAMPLES: usize = 20_000;
/// Most triggers and events one sidecar holds.
pub const MAX_EVENTS: usize = 2_000;

/// What started or extended the clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerRecord {
    /// `object` (a detection of a `labels` label) or the event type (`zone_enter`, …).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Track id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Seconds from the clip's start.
    pub time: f64,
}

/// One object in one frame of the clip: a player can draw its box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectSample {
    /// Seconds from the clip's start.
    pub time: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub label: String,
    pub score: f32,
    /// `[x_min, y_min, x_max, y_max]`, normalized to the frame.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

/// The `.json` beside a clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub clip_id: String,
    pub source: String,
    /// The MP4's file name (beside this file).
    pub file: String,
    /// Wall-clock start and end, RFC 3339 UTC.
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    /// Start and end in the stream's own seconds (the source's frame timestamps).
    pub start_seconds: f64,
    #[serde(default)]
    pub end_seconds: Option<f64>,
    /// Seconds of video.
    #[serde(default)]
    pub duration: f64,
    /// `h264` or `h265`.
    pub codec: String,
    #[serde(default)]
    pub bytes: u64,
    /// Why the clip ended: `post_capture`, `max_clip`, `end of stream`, `discontinuity`.
    #[serde(default)]
    pub ended_by: String,
    pub triggers: Vec<TriggerRecord>,
    /// Analytics events inside the clip, each with `time` (s from the clip's start).
    #[serde(default)]
    pub events: Vec<serde_json::Value>,
    #[serde(default)]
    pub objects: Vec<ObjectSample>,
    #[serde(skip)]
    wall_start: Option<SystemTime>,
    #[serde(skip)]
    last_sample: HashMap<Option<u64>, f64>,
}

impl Sidecar {
    pub fn new(
        id: &str,
        source: &str,
        mp4: &Path,
        wall: SystemTime,
        caps: &gstreamer::Caps,
        start_seconds: f64,
    ) -> Self {
        let codec = caps.structure(0).map_or("h264", |s| {
            if s.name() == "video/x-h265" {
                "h265"
            } else {
                "h264"
            }
        });
        Sidecar {
            clip_id: id.to_string(),
            source: source.to_string(),
            file: mp4
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().to_string()),
            start: crate::events::rfc3339(wall),
            end: None,
            start_seconds,
            end_seconds: None,
            duration: 0.0,
            codec: codec.to_string(),
            bytes: 0,
            ended_by: String::new(),
            triggers: Vec::new(),
            events: Vec::new(),
            objects: Vec::new(),
            wall_start: Some(wall),
            last_sample: HashMap::new(),
        }
    }

    /// Labels and event types that triggered the clip, each once.
    pub fn trigger_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.triggers {
            let name = t.label.clone().unwrap_or_else(|| t.kind.clone());
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// Notes the triggers of a frame `at` seconds into the clip (each track once).
    pub fn add_triggers(&mut self, found: &super::trigger::Found, at: f64) {
        for (label, id) in &found.objects {
            let seen = self
                .triggers
                .iter()
                .any(|t| t.kind == "object" && t.id == *id && t.label.as_deref() == Some(label));
            if !seen && self.triggers.len() < MAX_EVENTS {
                self.triggers.push(TriggerRecord {
                    kind: "object".into(),
                    label: Some(label.to_string()),
                    id: *id,
                    time: at,
                });
            }
        }
        for kind in &found.events {
            if self.triggers.len() < MAX_EVENTS {
                self.triggers.push(TriggerRecord {
                    kind: kind.to_string(),
                    label: None,
                    id: None,
                    time: at,
                });
            }
        }
    }

    /// Notes the objects (each track at most every [`OBJECT_SAMPLE_SECONDS`]) and analytics
    /// events of a frame `at` seconds into the clip.
    pub fn observe(&mut self, frame: &AnalyzedFrame, at: f64) {
        for d in &frame.detections {
            let due = self
                .last_sample
                .get(&d.track_id)
                .is_none_or(|t| at - t >= OBJECT_SAMPLE_SECONDS);
            if !due || self.objects.len() >= MAX_OBJECT_SAMPLES {
                continue;
            }
            self.last_sample.insert(d.track_id, at);
            let b = d.bbox;
            self.objects.push(ObjectSample {
                time: at,
                id: d.track_id,
                label: d.label.to_string(),
                score: d.confidence,
                bbox: [b.x_min, b.y_min, b.x_max, b.y_max],
            });
        }
        for e in frame.analytics.iter().flat_map(|a| &a.events) {
            if self.events.len() >= MAX_EVENTS {
                break;
            }
            let mut v = serde_json::to_value(e).expect("an event serializes");
            v["time"] = at.into();
            self.events.push(v);
        }
    }

    /// Fills the end: `duration` of video, `bytes` of MP4, why it ended.
    pub fn finish(&mut self, duration: Duration, bytes: u64, why: &str) {
        self.duration = duration.as_secs_f64();
        self.end = self
            .wall_start
            .map(|w| crate::events::rfc3339(w + duration));
        self.end_seconds = Some(self.start_seconds + self.duration);
        self.bytes = bytes;
        self.ended_by = why.to_string();
    }

    /// Writes it to `path` (through a temporary file, so a reader never sees half of it).
    ///
    /// # Errors
    /// [`Error::Output`] naming the path.
    pub fn write(&self, path: &Path) -> Result<()> {
        let err = |e: std::io::Error| Error::Output {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let tmp = path.with_extension("json.part");
        let text = serde_json::to_vec_pretty(self).expect("a sidecar serializes");
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(err)
    }
}

/// `clip_start` / `clip_end`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub clip_id: String,
    pub source: String,
    /// The MP4's path as written.
    pub path: String,
    pub start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// `clip_end`: seconds of video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// What triggered it: labels and event types, each once.
    pub triggers: Vec<String>,
    /// When the event was made, RFC 3339 UTC.
    pub wall_time: String,
}

impl ClipEvent {
    fn new(kind: &'static str, s: &Sidecar, path: String) -> Self {
        ClipEvent {
            kind,
            clip_id: s.clip_id.clone(),
            source: s.source.clone(),
            path,
            start: s.start.clone(),
            end: None,
            duration: None,
            bytes: None,
            triggers: s.trigger_names(),
            wall_time: crate::events::rfc3339_now(),
        }
    }

    /// The clip at `path` has started.
    pub fn start(s: &Sidecar, path: &Path) -> Self {
        Self::new("clip_start", s, path.display().to_string())
    }

    /// The clip at `path` is complete.
    pub fn end(s: &Sidecar, path: &Path) -> Self {
        ClipEvent {
            end: s.end.clone(),
            duration: Some(s.duration),
            bytes: Some(s.bytes),
            ..Self::new("clip_end", s, path.display().to_string())
        }
    }
}

/// `record_error`: a clip could not be written (`cause`: `write`, `disk_full`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub source: String,
    pub cause: &'static str,
    pub message: String,
    pub wall_time: String,
}

impl RecordError {
    pub fn new(source: &str, cause: &'static str, message: String) -> Self {
        RecordError {
            kind: "record_error",
            source: source.to_string(),
            cause,
            message,
            wall_time: crate::events::rfc3339_now(),
        }
    }
}

/// Where a recorder's clip events go: the source's events file and event ring, and MQTT
/// `{prefix}/{source}/clips`.
#[derive(Default, Clone)]
pub struct ClipEvents {
    file: Option<SharedJsonl>,
    ring: Option<Arc<EventRing>>,
    mqtt: Option<(Mqtt, String)>,
}

impl ClipEvents {
    /// The outputs of `events`, with the clips topic.
    pub fn like(events: &EventSinks) -> Self {
        ClipEvents {
            file: events.file.clone(),
            ring: events.ring.clone(),
            mqtt: events.mqtt.clone().map(|m| {
                let topic = m.topic(&format!("{}/clips", events.source));
                (m, topic)
            }),
        }
    }

    /// Writes and publishes `event`; a failing events file is logged (a recording never stops
    /// the pipeline).
    pub fn emit<T: Serialize>(&self, event: &T) {
        if let Some(ring) = &self.ring {
            ring.push(std::slice::from_ref(event));
        }
        if let Some(file) = &self.file {
            if let Err(e) = file.lock().write_value(event) {
                tracing::error!("clip event: {e}");
            }
        }
        if let Some((mqtt, topic)) = &self.mqtt {
            let payload = serde_json::to_vec(event).expect("an event serializes");
            mqtt.publish(topic.clone(), payload, false);
        }
    }
}
