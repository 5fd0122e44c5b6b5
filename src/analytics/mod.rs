//! Zone and line analytics on tracked objects (DeepStream's `nvdsanalytics`, DL Streamer's
//! `gvaanalytics`, Frigate's zones): per source, each track's test point is checked against
//! every zone and line per frame; the results go onto the frame ([`FrameAnalytics`]: counts,
//! events) and onto each detection (`zones`). The pipeline's analytics stage and the
//! `ovanalytics` element both run [`Analytics::frame`].
//!
//! - Zone: `zone_enter` / `zone_exit` after `inertia` frames inside / outside (or when the track
//!   is lost while inside), `loitering` once per visit when the dwell passes `loiter_seconds`
//!   (stream time), `crowding` when the count inside rises above `max_objects` (again only after
//!   it has fallen back).
//! - Line: `line_cross` with `direction` `in` / `out` ([`line`]).

pub mod line;
pub mod zone;

use crate::config::analytics::{AnalyticsConfig, TestPoint};
use crate::frame::analytics::{AnalyticsEvent, AnalyticsEventType, FrameAnalytics, Geometry};
use crate::frame::{AnalyzedFrame, BBox};
use crate::geometry::Point;
use crate::track::TrackClock;
use line::Line;
use std::collections::HashMap;
use std::sync::Arc;
use zone::{Zone, ZoneEvent};

/// Analytics of one source.
pub struct Analytics {
    source: Arc<str>,
    config: Arc<AnalyticsConfig>,
    /// When a track is lost: more than the tracker's buffer of inferred frames without it.
    clock: TrackClock,
    /// Frame size the geometry was resolved for.
    size: (u32, u32),
    geometry: Arc<Geometry>,
    zones: Vec<Zone>,
    lines: Vec<Line>,
    /// [`TrackClock`] time when each live track was last seen.
    last_seen: HashMap<u64, u64>,
    /// Events made so far (numbers the `event_id`s).
    made: u64,
}

/// The test point of `b`.
pub fn test_point(b: &BBox, point: TestPoint) -> Point {
    let x = (b.x_min + b.x_max) / 2.0;
    match point {
        TestPoint::BottomCenter => [x, b.y_max],
        TestPoint::Center => [x, (b.y_min + b.y_max) / 2.0],
    }
}

impl Analytics {
    /// Analytics of `source` with `config`; a track is lost after more than `lost_after` inferred
    /// frames without it (use the tracker's buffer, `[track] track_buffer`).
    pub fn new(source: &str, config: Arc<AnalyticsConfig>, lost_after: u64) -> Self {
        let mut a = Analytics {
            source: source.into(),
            config,
            clock: TrackClock::new(lost_after),
            size: (0, 0),
            geometry: Arc::default(),
            zones: Vec::new(),
            lines: Vec::new(),
            last_seen: HashMap::new(),
            made: 0,
        };
        a.resolve(1, 1);
        a
    }

    /// The configuration in use.
    pub fn config(&self) -> &Arc<AnalyticsConfig> {
        &self.config
    }

    /// Switches to `config` between frames: zones and lines that keep their name keep their
    /// state (line counts, who is inside); the others start afresh.
    pub fn reload(&mut self, config: Arc<AnalyticsConfig>) {
        self.config = config;
        let (w, h) = self.size;
        self.resolve(w.max(1), h.max(1));
    }

    /// Builds zones and lines for a `width` x `height` frame, keeping the state of those whose
    /// name is unchanged.
    fn resolve(&mut self, width: u32, height: u32) {
        let mut old_zones: HashMap<Arc<str>, Zone> = self
            .zones
            .drain(..)
            .map(|z| (z.shape.name.clone(), z))
            .collect();
        let mut old_lines: HashMap<Arc<str>, Line> = self
            .lines
            .drain(..)
            .map(|l| (l.shape.name.clone(), l))
            .collect();
        for c in &self.config.zones {
            let mut z = Zone::new(c, width, height);
            if let Some(old) = old_zones.remove(&z.shape.name) {
                z.keep_state(old);
            }
            self.zones.push(z);
        }
        for c in &self.config.lines {
            let mut l = Line::new(c, width, height);
            if let Some(old) = old_lines.remove(&l.shape.name) {
                l.keep_state(old);
            }
            self.lines.push(l);
        }
        self.size = (width, height);
        self.geometry = Arc::new(Geometry {
            zones: self.zones.iter().map(|z| z.shape.clone()).collect(),
            lines: self.lines.iter().map(|l| l.shape.clone()).collect(),
        });
    }

    /// Tests every tracked detection of `frame` against the zones and lines: sets each
    /// detection's `zones` and the frame's `analytics` (counts and this frame's events).
    /// Detections without a track id are left alone (an object needs a life to enter, leave
    /// or cross).
    pub fn frame(&mut self, frame: &mut AnalyzedFrame) {
        let f = &frame.frame;
        let (seq, ts, size) = (f.seq, f.pts, (f.info.width(), f.info.height()));
        let result = self.analyze(seq, f.inferred, ts, size, &mut frame.detections);
        frame.analytics = Some(Arc::new(result));
    }

    /// The zones and lines that apply to `d` (track `id`) at stream time `ts` (ns): their
    /// events into `events`.
    fn observe(
        &mut self,
        id: u64,
        d: &crate::frame::Detection,
        ts: u64,
        events: &mut Vec<(Place, ZoneEvent)>,
    ) {
        for (zi, z) in self.zones.iter_mut().enumerate() {
            if !z.applies_to(&d.label) {
                continue;
            }
            let p = test_point(&d.bbox, z.point);
            if let Some(e) = z.observe(id, &d.label, p, ts) {
                events.push((Place::Zone(zi), e));
            }
        }
        for (li, l) in self.lines.iter_mut().enumerate() {
            if !l.applies_to(&d.label) {
                continue;
            }
            let p = test_point(&d.bbox, l.point);
            if let Some(direction) = l.observe(id, &d.label, p) {
                let e = ZoneEvent {
                    kind: AnalyticsEventType::LineCross,
                    id: Some(id),
                    label: Some(d.label.clone()),
                    dwell_seconds: None,
                    count: None,
                };
                events.push((Place::Line(li, direction), e));
            }
        }
    }

    /// Forgets the tracks lost by now (in id order): their zone exits into `events`.
    fn forget_lost(&mut self, events: &mut Vec<(Place, ZoneEvent)>) {
        let mut lost: Vec<u64> = self
            .last_seen
            .iter()
            .filter(|(_, &last)| self.clock.is_lost(last))
            .map(|(&id, _)| id)
            .collect();
        lost.sort_unstable();
        for id in lost {
            self.last_seen.remove(&id);
            for (zi, z) in self.zones.iter_mut().enumerate() {
                if let Some(e) = z.lost(id) {
                    events.push((Place::Zone(zi), e));
                }
            }
            for l in &mut self.lines {
                l.lost(id);
            }
        }
    }

    /// [`Self::frame`] on parts: frame number `seq` and whether it was `inferred` (a tracker
    /// update; frames that carry boxes between inferences are not), its stream time `ts` (ns),
    /// `size` (width, height) in pixels, its `detections` (their `zones` are set). Returns the
    /// counts and events of this frame.
    pub fn analyze(
        &mut self,
        seq: u64,
        inferred: bool,
        ts: u64,
        size: (u32, u32),
        detections: &mut [crate::frame::Detection],
    ) -> FrameAnalytics {
        if size != self.size {
            self.resolve(size.0, size.1);
        }
        let mut events = Vec::new();
        let now = self.clock.frame(inferred);
        for d in detections.iter() {
            if let Some(id) = d.track_id {
                self.last_seen.insert(id, now);
                self.observe(id, d, ts, &mut events);
            }
        }
        self.forget_lost(&mut events);
        for (zi, z) in self.zones.iter_mut().enumerate() {
            if let Some(e) = z.crowding() {
                events.push((Place::Zone(zi), e));
            }
        }
        for d in detections.iter_mut() {
            d.zones.clear();
            if let Some(id) = d.track_id {
                d.zones.extend(
                    self.zones
                        .iter()
                        .filter(|z| z.contains(id))
                        .map(|z| z.shape.name.clone()),
                );
            }
        }
        let events = events
            .into_iter()
            .map(|(place, e)| self.event(place, e, seq, ts))
            .collect();
        FrameAnalytics {
            geometry: Arc::clone(&self.geometry),
            zone_counts: self.zones.iter().map(Zone::counts).collect(),
            line_counts: self.lines.iter().map(|l| l.counts).collect(),
            line_counts_by_label: self
                .lines
                .iter()
                .enumerate()
                .flat_map(|(i, l)| l.by_label.iter().map(move |(k, v)| ((i, k.clone()), *v)))
                .collect(),
            events,
        }
    }

    fn event(&mut self, place: Place, e: ZoneEvent, frame: u64, timestamp: u64) -> AnalyticsEvent {
        let n = self.made;
        self.made += 1;
        let (zone, line, direction) = match place {
            Place::Zone(i) => (Some(self.zones[i].shape.name.clone()), None, None),
            Place::Line(i, d) => (None, Some(self.lines[i].shape.name.clone()), Some(d)),
        };
        AnalyticsEvent {
            kind: e.kind,
            event_id: format!("{}-{}-a{n}", crate::events::run_id(), self.source),
            source: self.source.clone(),
            zone,
            line,
            direction,
            id: e.id,
            label: e.label,
            frame,
            timestamp,
            wall_time: crate::events::rfc3339_now(),
            dwell_seconds: e.dwell_seconds,
            count: e.count,
        }
    }
}

/// Where an event happened: zone index, or line index and direction.
#[derive(Debug, Clone, Copy)]
enum Place {
    Zone(usize),
    Line(usize, crate::frame::analytics::Direction),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::analytics::AnalyticsEventType as Kind;
    use crate::frame::Detection;

    fn person(id: Option<u64>) -> Vec<Detection> {
        id.map(|id| Detection {
            label: "person".into(),
            bbox: BBox {
                x_min: 0.4,
                y_min: 0.4,
                x_max: 0.6,
                y_max: 0.6,
            },
            track_id: Some(id),
            ..Detection::default()
        })
        .into_iter()
        .collect()
    }

    /// A track missing from `track_buffer` inferred frames may still come back under its id
    /// (ByteTrack): it stays inside the zone, with no exit and no second enter. Frames that
    /// only carry boxes between inferences do not count.
    #[test]
    fn a_track_leaves_a_zone_after_more_than_the_buffer_of_inferred_frames() {
        let config: AnalyticsConfig = toml::from_str(
            "[[zones]]\nname = \"all\"\npolygon = [[0, 0], [1, 0], [1, 1], [0, 1]]\ninertia = 1\n",
        )
        .unwrap();
        let mut a = Analytics::new("door", Arc::new(config), 3);
        let mut step = |seq: u64, inferred: bool, id: Option<u64>| -> Vec<Kind> {
            let ts = seq * 100_000_000;
            let result = a.analyze(seq, inferred, ts, (640, 480), &mut person(id));
            result.events.iter().map(|e| e.kind).collect()
        };
        let mut kinds = step(0, true, Some(1));
        (1..4).for_each(|seq| kinds.extend(step(seq, true, None)));
        kinds.extend(step(4, true, Some(1)));
        (5..20).for_each(|seq| kinds.extend(step(seq, false, None)));
        assert_eq!(kinds, [Kind::ZoneEnter]);
        (20..24).for_each(|seq| kinds.extend(step(seq, true, None)));
        assert_eq!(kinds, [Kind::ZoneEnter, Kind::ZoneExit]);
    }

    /// A zone or line with `classes` sees only those labels: a person enters the zone for
    /// people and crosses the line for people, not those for cars.
    #[test]
    fn zones_and_lines_see_only_their_classes() {
        let config: AnalyticsConfig = toml::from_str(
            "[[zones]]\nname = \"people\"\npolygon = [[0, 0], [1, 0], [1, 1], [0, 1]]\n\
             inertia = 1\nclasses = [\"person\"]\n\
             [[zones]]\nname = \"cars\"\npolygon = [[0, 0], [1, 0], [1, 1], [0, 1]]\n\
             inertia = 1\nclasses = [\"car\"]\n\
             [[lines]]\nname = \"walk\"\npoints = [[0.5, 0], [0.5, 1]]\nclasses = [\"person\"]\n\
             [[lines]]\nname = \"drive\"\npoints = [[0.5, 0], [0.5, 1]]\nclasses = [\"car\"]\n",
        )
        .unwrap();
        let mut a = Analytics::new("door", Arc::new(config), 3);
        let mut names = Vec::new();
        for seq in 0..12u64 {
            let mut d = person(Some(1));
            let dx = 0.03 * seq as f32 - 0.15;
            (d[0].bbox.x_min, d[0].bbox.x_max) = (0.4 + dx, 0.6 + dx);
            let result = a.analyze(seq, true, seq * 100_000_000, (640, 480), &mut d);
            let name = |e: &AnalyticsEvent| e.zone.clone().or(e.line.clone()).unwrap();
            names.extend(result.events.iter().map(|e| (e.kind, name(e).to_string())));
        }
        assert_eq!(
            names,
            [
                (Kind::ZoneEnter, "people".to_string()),
                (Kind::LineCross, "walk".to_string())
            ]
        );
    }
}
