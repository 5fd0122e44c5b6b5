//! Where a source's events go: the events file (`--events`, one JSON object per line) and
//! MQTT (`{prefix}/{source}/events`; zone and line events on `{prefix}/{source}/analytics`;
//! `{prefix}/{source}/frames` with `frames = true`;
//! `{prefix}/{source}/{label}`: the current count of that label, retained, on change;
//! `{prefix}/{source}/motion` and `{prefix}/{source}/zones/{zone}/occupancy`: `ON`/`OFF`,
//! retained, on change — motion where the stream has a motion detector, occupancy where it has
//! zones).

use super::jsonl::{frame_json, SharedJsonl};
use super::mqtt::Mqtt;
use super::thumbnails::{Thumbnails, TrackThumbs, Wanted};
use crate::error::Result;
use crate::events::Event;
use crate::frame::analytics::AnalyticsEvent;
use crate::frame::AnalyzedFrame;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most recent events of every source, newest last, bounded (the service's
/// `GET /api/events`): each event as its JSON object.
pub struct EventRing {
    capacity: usize,
    events: parking_lot::Mutex<std::collections::VecDeque<serde_json::Value>>,
    /// The events' thumbnails (`GET /api/events/{event_id}/thumbnail.jpg`).
    pub thumbnails: Thumbnails,
}

impl EventRing {
    /// A ring of at most `capacity` events (the oldest go first).
    pub fn new(capacity: usize) -> Self {
        EventRing {
            capacity: capacity.max(1),
            events: parking_lot::Mutex::new(std::collections::VecDeque::with_capacity(capacity)),
            thumbnails: Thumbnails::default(),
        }
    }

    /// Adds `events` (the oldest go when it is full).
    pub(crate) fn push<T: serde::Serialize>(&self, events: &[T]) {
        if events.is_empty() {
            return;
        }
        let mut ring = self.events.lock();
        for e in events {
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(serde_json::to_value(e).expect("an event serializes"));
        }
    }

    /// Up to `limit` events, newest first, that `keep` accepts.
    pub fn recent(
        &self,
        limit: usize,
        keep: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        self.events
            .lock()
            .iter()
            .rev()
            .filter(|e| keep(e))
            .take(limit)
            .cloned()
            .collect()
    }
}

/// The event outputs of one source.
#[derive(Default)]
pub struct EventSinks {
    /// The source's name (topics, JSON `source`).
    pub source: String,
    /// Events file; possibly one shared by every source.
    pub file: Option<SharedJsonl>,
    pub mqtt: Option<Mqtt>,
    /// The service's ring of recent events (and their thumbnails).
    pub ring: Option<Arc<EventRing>>,
    /// The best crop of each live track, for the ring's thumbnails.
    thumbs: TrackThumbs,
    /// Publish each frame's record on `{prefix}/{source}/frames` too.
    pub frames: bool,
    /// `{prefix}/{source}/events`, `…/frames` and `…/analytics` (built once, not per frame).
    events_topic: String,
    frames_topic: String,
    analytics_topic: String,
    /// Last published count per label.
    counts: BTreeMap<Arc<str>, usize>,
    /// Last published motion state and zone occupancy (zone name → occupied).
    motion: Option<bool>,
    occupied: BTreeMap<Arc<str>, bool>,
}

/// The payloads of a binary state (Home Assistant's defaults).
pub const ON: &str = "ON";
pub const OFF: &str = "OFF";

impl EventSinks {
    pub fn new(source: &str, file: Option<SharedJsonl>, mqtt: Option<Mqtt>, frames: bool) -> Self {
        let topic = |rest: &str| {
            mqtt.as_ref()
                .map_or_else(String::new, |m| m.topic(&format!("{source}/{rest}")))
        };
        EventSinks {
            source: source.to_string(),
            events_topic: topic("events"),
            frames_topic: topic("frames"),
            analytics_topic: topic("analytics"),
            file,
            mqtt,
            ring: None,
            thumbs: TrackThumbs::default(),
            frames,
            counts: BTreeMap::new(),
            motion: None,
            occupied: BTreeMap::new(),
        }
    }

    /// Whether there is anywhere to send events.
    pub fn is_empty(&self) -> bool {
        self.file.is_none() && self.mqtt.is_none() && self.ring.is_none()
    }

    /// Writes and publishes `events` (to `{prefix}/{source}/events`).
    ///
    /// # Errors
    /// [`crate::Error::Output`] when the events file cannot be written (MQTT never fails here:
    /// it queues).
    pub fn write(&mut self, events: &[Event]) -> Result<()> {
        self.emit(events, &self.events_topic)
    }

    /// Writes zone and line events to the events file and `{prefix}/{source}/analytics`.
    ///
    /// # Errors
    /// As [`Self::write`].
    pub fn write_analytics(&mut self, events: &[AnalyticsEvent]) -> Result<()> {
        self.emit(events, &self.analytics_topic)
    }

    /// Alert events (`[[alerts]]`): the events file, the ring and MQTT `{prefix}/{source}/events`
    /// (beside the object events they belong to).
    pub fn write_alerts(&mut self, events: &[crate::alerts::AlertEvent]) -> Result<()> {
        self.emit(events, &self.events_topic)
    }

    /// Cuts the thumbnails of this frame's events for the ring (only where there is one):
    /// object and alert events show their track's best crop, zone and line events the
    /// crossing object's, `crowding` the whole frame. A frame that cannot be read costs its
    /// thumbnails, never its events (logged).
    pub fn thumbnails(
        &mut self,
        frame: &AnalyzedFrame,
        events: &[Event],
        alerts: &[crate::alerts::AlertEvent],
    ) {
        let Some(ring) = &self.ring else { return };
        let analytics = frame.analytics.as_ref().map_or(&[][..], |a| &a.events[..]);
        if events.is_empty() && alerts.is_empty() && analytics.is_empty() {
            return;
        }
        let on_frame = |id: u64| {
            frame
                .detections
                .iter()
                .find(|d| d.track_id == Some(id))
                .map(|d| {
                    (
                        d.confidence,
                        [d.bbox.x_min, d.bbox.y_min, d.bbox.x_max, d.bbox.y_max],
                    )
                })
        };
        let objects = events.iter().map(|e| {
            let ends = e.kind == crate::events::EventType::End;
            Wanted {
                event_id: &e.event_id,
                track: Some(e.id),
                score: e.score,
                bbox: (!ends).then_some(e.bbox),
                ends,
            }
        });
        let tracked = |event_id, id: Option<u64>| {
            let seen = id.and_then(on_frame);
            Wanted {
                event_id,
                track: id,
                score: seen.map_or(0.0, |(s, _)| s),
                bbox: seen.map(|(_, b)| b),
                ends: false,
            }
        };
        let alerts = alerts.iter().map(|a| tracked(&a.event_id, Some(a.id)));
        let zones = analytics.iter().map(|a| tracked(&a.event_id, a.id));
        let wanted = objects.chain(alerts).chain(zones);
        if let Err(e) = self.thumbs.capture(&ring.thumbnails, frame, wanted) {
            tracing::warn!(source = %self.source, "event thumbnails: {e}");
        }
    }

    /// `events` to the ring, the events file and MQTT `topic`.
    fn emit<T: serde::Serialize>(&self, events: &[T], topic: &str) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        if let Some(ring) = &self.ring {
            ring.push(events);
        }
        if let Some(file) = &self.file {
            let mut file = file.lock();
            for e in events {
                file.write_value(e)?;
            }
        }
        if let Some(mqtt) = &self.mqtt {
            for e in events {
                let payload = serde_json::to_vec(e).expect("an event serializes");
                mqtt.publish(topic.to_string(), payload, false);
            }
        }
        Ok(())
    }

    /// Publishes the frame's record (with `frames`) and the per-label counts that changed.
    pub fn publish_frame(&mut self, frame: &AnalyzedFrame) {
        let Some(mqtt) = &self.mqtt else { return };
        if self.frames {
            mqtt.publish(
                self.frames_topic.clone(),
                frame_json(frame, &self.source),
                false,
            );
        }
        let mut now: BTreeMap<Arc<str>, usize> =
            self.counts.keys().map(|k| (k.clone(), 0)).collect();
        for d in &frame.detections {
            *now.entry(d.label.clone()).or_default() += 1;
        }
        for (label, n) in &now {
            if self.counts.get(label) != Some(n) {
                let topic = mqtt.topic(&format!("{}/{label}", self.source));
                mqtt.publish(topic, n.to_string().into_bytes(), true);
            }
        }
        self.counts = now;
        let state = |on: bool| if on { ON } else { OFF }.as_bytes().to_vec();
        if let Some(regions) = &frame.frame.motion {
            let moving = !regions.is_empty();
            if self.motion != Some(moving) {
                let topic = mqtt.topic(&format!("{}/motion", self.source));
                mqtt.publish(topic, state(moving), true);
                self.motion = Some(moving);
            }
        }
        if let Some(a) = &frame.analytics {
            for (zone, counts) in a.geometry.zones.iter().zip(&a.zone_counts) {
                let inside = counts.values().any(|n| *n > 0);
                if self.occupied.get(&zone.name) != Some(&inside) {
                    let topic =
                        mqtt.topic(&format!("{}/zones/{}/occupancy", self.source, zone.name));
                    mqtt.publish(topic, state(inside), true);
                    self.occupied.insert(zone.name.clone(), inside);
                }
            }
        }
    }

    /// Flushes the events file.
    ///
    /// # Errors
    /// [`crate::Error::Output`] naming the file.
    pub fn finish(&mut self) -> Result<()> {
        match &self.file {
            Some(f) => f.lock().finish(),
            None => Ok(()),
        }
    }
}
