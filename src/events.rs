//! Object events: the life of each tracked object as `new` → `update`s → `end` messages, the
//! records that the events file and MQTT carry (what a VMS or home-automation system consumes,
//! rather than per-frame dumps).
//!
//! - `new`: the first frame of a track.
//! - `update`: its label, identity (or `unknown_id`), zones or a classifier's label changed
//!   (at once; a `value` attribute such as the age rides with the other updates), or its top score or box changed
//!   and [`UPDATE_INTERVAL_NS`] of stream time passed since its last event.
//! - `end`: the track was missing from more than `lost_after` inferred frames (the tracker's
//!   own buffer: until then ByteTrack may still find it again under the same id; frames that
//!   carry boxes between inferences do not count), or its stream ended (EOS, SIGINT, source
//!   removed).
//!
//! Every message of one track shares `track_key` (`<run>-<source>-<id>`); `event_id` adds the
//! message's number in the track (`…:0` is the `new`), so it is unique per message.

use crate::frame::{AnalyzedFrame, Attribute, AttributesJson, BBox, Detection};
use crate::track::TrackClock;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Least stream time between two `update`s of a track whose label, identity and zones did not
/// change (1 s).
pub const UPDATE_INTERVAL_NS: u64 = 1_000_000_000;

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    New,
    Update,
    End,
}

/// The object's identity (face recognition), when known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventIdentity {
    pub name: Arc<str>,
    /// Cosine similarity to the gallery match, in `[-1, 1]`.
    pub similarity: f32,
}

/// One event: a JSON object in the events file and on `{prefix}/{source}/events`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Unique per message: `<track_key>:<n>`.
    pub event_id: String,
    /// The same for every message of one tracked object.
    pub track_key: String,
    pub source: Arc<str>,
    /// Track id (per source).
    pub id: u64,
    pub label: Arc<str>,
    /// Confidence in this frame.
    pub score: f32,
    /// Highest confidence so far.
    pub top_score: f32,
    /// `[x_min, y_min, x_max, y_max]`, normalized to the frame.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Frame number and stream timestamp (ns) of the observation.
    pub frame: u64,
    pub timestamp: u64,
    /// When the event was made, RFC 3339 UTC.
    pub wall_time: String,
    /// When the object was first seen (wall clock, RFC 3339 UTC).
    pub start_time: String,
    /// `end` events: when the track ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<EventIdentity>,
    /// The remembered unknown person the face is (an `update` when it is assigned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_id: Option<u64>,
    /// Zones the object is in (filled by zone analytics; empty without).
    pub zones: Vec<Arc<str>>,
    /// Second-stage classifier results, smoothed over the track (`[[classify]]`), as in the
    /// JSON-lines output.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_attributes"
    )]
    pub attributes: Vec<Attribute>,
}

fn serialize_attributes<S: serde::Serializer>(a: &[Attribute], s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&AttributesJson(a), s)
}

/// Whether two attribute lists say something different enough for an `update` at once: an
/// attribute appeared or went, or a label (`label`, `multi`) changed. Values (the age) and
/// confidences do not count.
fn attributes_changed(old: &[Attribute], new: &[Attribute]) -> bool {
    use crate::frame::AttributeValue as V;
    old.len() != new.len()
        || old.iter().zip(new).any(|(a, b)| {
            a.name != b.name
                || match (&a.value, &b.value) {
                    (V::Label { label: x, .. }, V::Label { label: y, .. }) => x != y,
                    (V::Multi { labels: x, .. }, V::Multi { labels: y, .. }) => x != y,
                    (V::Value { .. }, V::Value { .. }) => false,
                    _ => true,
                }
        })
}

/// What is remembered about one live track.
#[derive(Debug, Clone)]
struct Track {
    key: String,
    messages: u64,
    label: Arc<str>,
    identity: Option<Arc<str>>,
    unknown_id: Option<u64>,
    zones: Vec<Arc<str>>,
    attributes: Vec<Attribute>,
    score: f32,
    top_score: f32,
    bbox: BBox,
    similarity: Option<f32>,
    frame: u64,
    timestamp: u64,
    /// [`TrackClock`] time when it was last seen.
    seen: u64,
    start_time: String,
    /// Stream time of its last event.
    last_event_ts: u64,
    /// Last event's top score and box (what an `update` reports as changed).
    reported_top: f32,
    reported_box: BBox,
}

/// Turns one source's tracked detections into events.
#[derive(Debug)]
pub struct EventTracker {
    source: Arc<str>,
    /// When a track has ended: more than the tracker's buffer of inferred frames without it.
    clock: TrackClock,
    tracks: HashMap<u64, Track>,
}

/// A run id unique across processes: start time (µs) and pid, in hex.
pub fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        format!("{us:x}{:x}", std::process::id())
    })
}

/// Now as RFC 3339 UTC with milliseconds (`2026-12-01T21:50:08.123Z`).
pub fn rfc3339_now() -> String {
    rfc3339(SystemTime::now())
}

/// `t` as RFC 3339 UTC with milliseconds (`humantime`'s formatter).
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Messages made so far in this process (all sources).
static MADE: AtomicU64 = AtomicU64::new(0);

impl EventTracker {
    /// Events of `source`; a track is over after `lost_after` frames without it (use the
    /// tracker's buffer, `[track] track_buffer`).
    pub fn new(source: &str, lost_after: u64) -> Self {
        EventTracker {
            source: source.into(),
            clock: TrackClock::new(lost_after),
            tracks: HashMap::new(),
        }
    }

    /// Live tracks.
    pub fn live(&self) -> usize {
        self.tracks.len()
    }

    /// The events of `frame` (tracked detections only: objects without a track id have no
    /// life to report), appended to `out`: `new`s and `update`s in detection order, then the
    /// `end`s of tracks lost by now.
    pub fn frame(&mut self, frame: &AnalyzedFrame, out: &mut Vec<Event>) {
        let (seq, ts) = (frame.frame.seq, frame.frame.pts);
        let now = self.clock.frame(frame.frame.inferred);
        for d in &frame.detections {
            let Some(id) = d.track_id else { continue };
            let track = match self.tracks.entry(id) {
                Entry::Vacant(slot) => {
                    let mut track = Track::start(&self.source, id, d, seq, ts);
                    out.push(track.event(EventType::New, &self.source, id, None));
                    slot.insert(track)
                }
                Entry::Occupied(slot) => {
                    let track = slot.into_mut();
                    if let Some(e) = track.observe(d, seq, ts, &self.source, id) {
                        out.push(e);
                    }
                    track
                }
            };
            track.seen = now;
        }
        let lost: Vec<u64> = self
            .tracks
            .iter()
            .filter(|(_, t)| self.clock.is_lost(t.seen))
            .map(|(id, _)| *id)
            .collect();
        self.end(lost, out);
    }

    /// `end` for every live track (the stream ended), appended to `out`.
    pub fn end_all(&mut self, out: &mut Vec<Event>) {
        let all: Vec<u64> = self.tracks.keys().copied().collect();
        self.end(all, out);
    }

    fn end(&mut self, mut ids: Vec<u64>, out: &mut Vec<Event>) {
        ids.sort_unstable();
        for id in ids {
            if let Some(mut t) = self.tracks.remove(&id) {
                let end = rfc3339_now();
                out.push(t.event(EventType::End, &self.source, id, Some(end)));
            }
        }
    }
}

impl Track {
    fn start(source: &str, id: u64, d: &Detection, frame: u64, timestamp: u64) -> Track {
        Track {
            key: format!("{}-{source}-{id}", run_id()),
            messages: 0,
            label: d.label.clone(),
            identity: d.identity.as_ref().map(|i| i.name.clone()),
            unknown_id: d.identity.as_ref().and_then(|i| i.unknown_id),
            similarity: d.identity.as_ref().map(|i| i.similarity),
            zones: d.zones.clone(),
            attributes: d.attributes.clone(),
            score: d.confidence,
            top_score: d.confidence,
            bbox: d.bbox,
            frame,
            timestamp,
            seen: 0,
            start_time: rfc3339_now(),
            last_event_ts: timestamp,
            reported_top: d.confidence,
            reported_box: d.bbox,
        }
    }

    /// Takes this frame's detection of the track; an `update` when one is due.
    fn observe(
        &mut self,
        d: &Detection,
        frame: u64,
        ts: u64,
        source: &Arc<str>,
        id: u64,
    ) -> Option<Event> {
        let identity = d.identity.as_ref().map(|i| i.name.clone());
        let unknown_id = d.identity.as_ref().and_then(|i| i.unknown_id);
        let changed = d.label != self.label
            || (identity.is_some() && (identity != self.identity || unknown_id != self.unknown_id))
            || d.zones != self.zones
            || attributes_changed(&self.attributes, &d.attributes);
        self.label = d.label.clone();
        self.attributes.clone_from(&d.attributes);
        if d.zones != self.zones {
            self.zones.clone_from(&d.zones);
        }
        if identity.is_some() {
            self.identity = identity;
            self.unknown_id = unknown_id;
            self.similarity = d.identity.as_ref().map(|i| i.similarity);
        }
        self.score = d.confidence;
        self.top_score = self.top_score.max(d.confidence);
        self.bbox = d.bbox;
        self.frame = frame;
        self.timestamp = ts;
        let moved = self.top_score > self.reported_top || self.bbox != self.reported_box;
        let due = ts.saturating_sub(self.last_event_ts) >= UPDATE_INTERVAL_NS;
        (changed || (moved && due)).then(|| self.event(EventType::Update, source, id, None))
    }

    fn event(&mut self, kind: EventType, source: &Arc<str>, id: u64, end: Option<String>) -> Event {
        let n = self.messages;
        self.messages += 1;
        self.last_event_ts = self.timestamp;
        self.reported_top = self.top_score;
        self.reported_box = self.bbox;
        MADE.fetch_add(1, Ordering::Relaxed);
        let b = self.bbox;
        Event {
            kind,
            event_id: format!("{}:{n}", self.key),
            track_key: self.key.clone(),
            source: source.clone(),
            id,
            label: self.label.clone(),
            score: self.score,
            top_score: self.top_score,
            bbox: [b.x_min, b.y_min, b.x_max, b.y_max],
            frame: self.frame,
            timestamp: self.timestamp,
            wall_time: rfc3339_now(),
            start_time: self.start_time.clone(),
            end_time: end,
            identity: self
                .identity
                .clone()
                .zip(self.similarity)
                .map(|(name, similarity)| EventIdentity { name, similarity }),
            unknown_id: self.unknown_id,
            zones: self.zones.clone(),
            attributes: self.attributes.clone(),
        }
    }
}

/// Events made so far in this process.
pub fn made() -> u64 {
    MADE.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;

    fn frame(seq: u64, tracks: &[(u64, f32, f32)]) -> AnalyzedFrame {
        AnalyzedFrame {
            frame: Frame::blank(seq, seq * 100_000_000), // 10 fps
            detections: tracks
                .iter()
                .map(|&(id, score, x)| Detection {
                    label_id: 1,
                    label: "person".into(),
                    confidence: score,
                    bbox: BBox {
                        x_min: x,
                        y_min: 0.1,
                        x_max: x + 0.2,
                        y_max: 0.5,
                    },
                    track_id: Some(id),
                    ..Detection::default()
                })
                .collect(),
            analytics: None,
            alerts: Vec::new(),
            drawn: false,
            attributes: Vec::new(),
        }
    }

    fn kinds(events: &[Event]) -> Vec<(EventType, u64)> {
        events.iter().map(|e| (e.kind, e.id)).collect()
    }

    #[test]
    fn a_track_is_new_then_updated_at_most_once_a_second_then_ends_when_lost() {
        let mut t = EventTracker::new("door", 5);
        let mut out = Vec::new();
        for seq in 0..25 {
            t.frame(&frame(seq, &[(1, 0.6, 0.01 * seq as f32)]), &mut out);
        }
        // 10 fps, moving every frame: new at 0, updates at 1.0 s and 2.0 s of stream time.
        assert_eq!(
            kinds(&out),
            [
                (EventType::New, 1),
                (EventType::Update, 1),
                (EventType::Update, 1)
            ]
        );
        assert_eq!(out[1].frame, 10);
        // Missing from 5 inferred frames (the buffer), the tracker may still find it again.
        for seq in 25..30 {
            t.frame(&frame(seq, &[]), &mut out);
        }
        assert_eq!(out.last().unwrap().kind, EventType::Update);
        t.frame(&frame(30, &[]), &mut out);
        let last = out.last().unwrap();
        assert_eq!((last.kind, last.frame), (EventType::End, 24));
        assert!(last.end_time.is_some());
        let ids: Vec<&str> = out.iter().map(|e| e.event_id.as_str()).collect();
        assert!(ids.iter().all(|i| i.starts_with(&out[0].track_key)));
        assert_eq!(
            ids.iter().collect::<std::collections::HashSet<_>>().len(),
            ids.len(),
            "event ids are unique"
        );
        assert_eq!(t.live(), 0);
    }

    /// ByteTrack keeps a lost track `track_buffer` updates and can match it on the next: such a
    /// return is the same life (no `end` before it, no second `new`, event ids stay unique).
    /// Frames that only carry boxes between inferences are not updates of the tracker.
    #[test]
    fn a_track_found_again_within_the_buffer_or_over_carried_frames_is_one_life() {
        let mut t = EventTracker::new("door", 3);
        let mut out = Vec::new();
        t.frame(&frame(0, &[(1, 0.6, 0.1)]), &mut out);
        for seq in 1..4 {
            t.frame(&frame(seq, &[]), &mut out);
        }
        t.frame(&frame(4, &[(1, 0.6, 0.1)]), &mut out);
        for seq in 5..20 {
            let mut carried = frame(seq, &[]);
            carried.frame.inferred = false;
            t.frame(&carried, &mut out);
        }
        assert_eq!(kinds(&out), [(EventType::New, 1)]);
        for seq in 20..24 {
            t.frame(&frame(seq, &[]), &mut out);
        }
        assert_eq!(kinds(&out), [(EventType::New, 1), (EventType::End, 1)]);
        assert_eq!(out[1].frame, 4);
    }

    #[test]
    fn a_label_change_is_an_update_at_once_and_end_all_closes_every_track() {
        let mut t = EventTracker::new("door", 30);
        let mut out = Vec::new();
        t.frame(&frame(0, &[(1, 0.6, 0.1), (2, 0.7, 0.5)]), &mut out);
        let mut f = frame(1, &[(1, 0.6, 0.1), (2, 0.7, 0.5)]);
        f.detections[0].label = "car".into();
        t.frame(&f, &mut out);
        assert_eq!(
            kinds(&out),
            [
                (EventType::New, 1),
                (EventType::New, 2),
                (EventType::Update, 1)
            ]
        );
        assert_eq!(&*out[2].label, "car");
        t.end_all(&mut out);
        assert_eq!(kinds(&out[3..]), [(EventType::End, 1), (EventType::End, 2)]);
    }

    #[test]
    fn wall_times_are_rfc3339_utc() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_764_625_808_123);
        assert_eq!(rfc3339(t), "2025-12-01T21:50:08.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
