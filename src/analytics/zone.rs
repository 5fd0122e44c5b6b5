//! One zone's state for one source: which tracks are inside (with inertia), their dwell,
//! crowding.

use crate::config::analytics::{TestPoint, ZoneConfig};
use crate::frame::analytics::{AnalyticsEventType, ZoneShape};
use crate::geometry::{self, Point};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A zone event before it gets its source, ids and wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneEvent {
    pub kind: AnalyticsEventType,
    pub id: Option<u64>,
    pub label: Option<Arc<str>>,
    pub dwell_seconds: Option<f64>,
    pub count: Option<u32>,
}

/// Where one track stands with the zone.
#[derive(Debug, Clone)]
struct Presence {
    label: Arc<str>,
    /// Counted as inside (after `inertia` frames).
    inside: bool,
    /// Frames in a row on the other side of `inside`, and the stream time of the first.
    streak: u32,
    streak_start: u64,
    /// Stream time of the first frame of this visit.
    entered: u64,
    loitered: bool,
    last_seen: u64,
}

pub struct Zone {
    pub shape: ZoneShape,
    classes: Option<HashSet<String>>,
    inertia: u32,
    loiter_ns: Option<u64>,
    max_objects: Option<u32>,
    pub point: TestPoint,
    presence: HashMap<u64, Presence>,
    crowded: bool,
}

impl Zone {
    /// The zone of `config` in a `width` x `height` frame.
    pub fn new(config: &ZoneConfig, width: u32, height: u32) -> Zone {
        Zone {
            shape: ZoneShape {
                name: config.name.as_str().into(),
                polygon: config
                    .polygon
                    .iter()
                    .map(|&p| config.units.normalize(p, width, height))
                    .collect(),
            },
            classes: config.classes.as_ref().map(|c| c.iter().cloned().collect()),
            inertia: config.inertia.max(1),
            loiter_ns: config.loiter_seconds.map(|s| (s * 1e9) as u64),
            max_objects: config.max_objects,
            point: config.point,
            presence: HashMap::new(),
            crowded: false,
        }
    }

    /// Carries the tracks' presence over from the zone of the same name before a reload.
    pub fn keep_state(&mut self, old: Zone) {
        self.presence = old.presence;
        self.crowded = old.crowded;
    }

    pub fn applies_to(&self, label: &str) -> bool {
        self.classes.as_ref().is_none_or(|c| c.contains(label))
    }

    /// Track `id` (`label`) has its test point at `p` at stream time `ts` (ns).
    pub fn observe(&mut self, id: u64, label: &Arc<str>, p: Point, ts: u64) -> Option<ZoneEvent> {
        let now_inside = geometry::point_in_polygon(&self.shape.polygon, p);
        let inertia = self.inertia;
        let presence = self.presence.entry(id).or_insert_with(|| Presence {
            label: label.clone(),
            inside: false,
            streak: 0,
            streak_start: ts,
            entered: ts,
            loitered: false,
            last_seen: ts,
        });
        presence.label = label.clone();
        presence.last_seen = ts;
        if now_inside == presence.inside {
            presence.streak = 0;
        } else {
            if presence.streak == 0 {
                presence.streak_start = ts;
            }
            presence.streak += 1;
            if presence.streak >= inertia {
                presence.inside = now_inside;
                presence.streak = 0;
                let event = if now_inside {
                    presence.entered = presence.streak_start;
                    presence.loitered = false;
                    ZoneEvent {
                        kind: AnalyticsEventType::ZoneEnter,
                        id: Some(id),
                        label: Some(label.clone()),
                        dwell_seconds: None,
                        count: None,
                    }
                } else {
                    let dwell = presence.streak_start.saturating_sub(presence.entered);
                    exit(id, label, dwell)
                };
                return Some(event);
            }
        }
        let due = self
            .loiter_ns
            .filter(|_| presence.inside && !presence.loitered)?;
        let dwell = ts.saturating_sub(presence.entered);
        (dwell >= due).then(|| {
            presence.loitered = true;
            ZoneEvent {
                kind: AnalyticsEventType::Loitering,
                id: Some(id),
                label: Some(label.clone()),
                dwell_seconds: Some(dwell as f64 / 1e9),
                count: None,
            }
        })
    }

    /// Track `id` is lost: `zone_exit` if it was inside (dwell up to when it was last seen).
    pub fn lost(&mut self, id: u64) -> Option<ZoneEvent> {
        let p = self.presence.remove(&id)?;
        p.inside
            .then(|| exit(id, &p.label, p.last_seen.saturating_sub(p.entered)))
    }

    /// Whether track `id` counts as inside.
    pub fn contains(&self, id: u64) -> bool {
        self.presence.get(&id).is_some_and(|p| p.inside)
    }

    /// Objects inside now, per label.
    pub fn counts(&self) -> BTreeMap<Arc<str>, u32> {
        let mut counts = BTreeMap::new();
        for p in self.presence.values().filter(|p| p.inside) {
            *counts.entry(p.label.clone()).or_default() += 1;
        }
        counts
    }

    /// `crowding` when the number inside has just risen above `max_objects`.
    pub fn crowding(&mut self) -> Option<ZoneEvent> {
        let max = self.max_objects?;
        let n = self.presence.values().filter(|p| p.inside).count() as u32;
        if n <= max {
            self.crowded = false;
            return None;
        }
        if self.crowded {
            return None;
        }
        self.crowded = true;
        Some(ZoneEvent {
            kind: AnalyticsEventType::Crowding,
            id: None,
            label: None,
            dwell_seconds: None,
            count: Some(n),
        })
    }
}

fn exit(id: u64, label: &Arc<str>, dwell_ns: u64) -> ZoneEvent {
    ZoneEvent {
        kind: AnalyticsEventType::ZoneExit,
        id: Some(id),
        label: Some(label.clone()),
        dwell_seconds: Some(dwell_ns as f64 / 1e9),
        count: None,
    }
}
