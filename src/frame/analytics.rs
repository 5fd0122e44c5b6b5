//! What the analytics stage attaches to a frame: the zones and lines it tested (normalized to
//! the frame), the live counts, and the events of this frame. Read by the events stage (events
//! file, MQTT), the JSON sink (`analytics` counts), the overlay and the metrics.

use crate::geometry::Point;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A zone in frame coordinates (normalized `[0, 1]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneShape {
    pub name: Arc<str>,
    pub polygon: Vec<Point>,
}

/// A line in frame coordinates (normalized): `from → to`, and the unit vector across it that
/// points to its `in` side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineShape {
    pub name: Arc<str>,
    pub from: Point,
    pub to: Point,
    pub in_normal: Point,
}

/// The zones and lines of one source, resolved for its frame size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    pub zones: Vec<ZoneShape>,
    pub lines: Vec<LineShape>,
}

/// Crossings of one line so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineCounts {
    #[serde(rename = "in")]
    pub inward: u64,
    #[serde(rename = "out")]
    pub outward: u64,
}

/// One frame's analytics.
#[derive(Debug, Clone, Default)]
pub struct FrameAnalytics {
    pub geometry: Arc<Geometry>,
    /// Objects inside each zone now, per label (index as `geometry.zones`).
    pub zone_counts: Vec<BTreeMap<Arc<str>, u32>>,
    /// Crossings of each line so far (index as `geometry.lines`).
    pub line_counts: Vec<LineCounts>,
    /// Crossings of each line so far per label: `(line index, label) → counts`.
    pub line_counts_by_label: BTreeMap<(usize, Arc<str>), LineCounts>,
    /// Events of this frame, in the order they happened.
    pub events: Vec<AnalyticsEvent>,
}

impl Serialize for FrameAnalytics {
    /// `{"zones": {"loading_bay": {"person": 2}}, "lines": {"door": {"in": 14, "out": 9}}}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Zones<'a>(&'a FrameAnalytics);
        impl Serialize for Zones<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.zone_counts.len()))?;
                for (z, counts) in self.0.geometry.zones.iter().zip(&self.0.zone_counts) {
                    m.serialize_entry(&*z.name, counts)?;
                }
                m.end()
            }
        }
        struct Lines<'a>(&'a FrameAnalytics);
        impl Serialize for Lines<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.line_counts.len()))?;
                for (l, counts) in self.0.geometry.lines.iter().zip(&self.0.line_counts) {
                    m.serialize_entry(&*l.name, counts)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("zones", &Zones(self))?;
        m.serialize_entry("lines", &Lines(self))?;
        m.end()
    }
}

/// What happened in a zone or on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalyticsEventType {
    ZoneEnter,
    ZoneExit,
    Loitering,
    Crowding,
    LineCross,
}

impl AnalyticsEventType {
    /// The `type` string (`zone_enter`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AnalyticsEventType::ZoneEnter => "zone_enter",
            AnalyticsEventType::ZoneExit => "zone_exit",
            AnalyticsEventType::Loitering => "loitering",
            AnalyticsEventType::Crowding => "crowding",
            AnalyticsEventType::LineCross => "line_cross",
        }
    }
}

/// Which way an object crossed a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// One analytics event: a JSON object in the events file and on `{prefix}/{source}/analytics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsEvent {
    #[serde(rename = "type")]
    pub kind: AnalyticsEventType,
    /// Unique per message: `<run>-<source>-a<n>`.
    pub event_id: String,
    pub source: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Track id of the object (`crowding`: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Arc<str>>,
    /// Frame number and stream timestamp (ns) where it happened.
    pub frame: u64,
    pub timestamp: u64,
    /// When the event was made, RFC 3339 UTC.
    pub wall_time: String,
    /// `zone_exit`, `loitering`: seconds inside the zone (stream time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dwell_seconds: Option<f64>,
    /// `crowding`: objects inside the zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// The whole of a [`FrameAnalytics`] as one JSON document (geometry, counts, events): what the
/// `ovanalytics` element attaches to a buffer for `ovoverlay` and `ovmetapublish`.
#[derive(Serialize, Deserialize)]
struct Wire {
    geometry: Geometry,
    zone_counts: Vec<BTreeMap<Arc<str>, u32>>,
    line_counts: Vec<LineCounts>,
    /// `(line index, label, counts)`.
    line_counts_by_label: Vec<(usize, Arc<str>, LineCounts)>,
    events: Vec<AnalyticsEvent>,
}

impl FrameAnalytics {
    /// Everything, as JSON (see [`Self::from_wire`]).
    pub fn to_wire(&self) -> String {
        let wire = Wire {
            geometry: (*self.geometry).clone(),
            zone_counts: self.zone_counts.clone(),
            line_counts: self.line_counts.clone(),
            line_counts_by_label: self
                .line_counts_by_label
                .iter()
                .map(|((i, label), c)| (*i, label.clone(), *c))
                .collect(),
            events: self.events.clone(),
        };
        serde_json::to_string(&wire).expect("analytics serialize")
    }

    /// Reads what [`Self::to_wire`] wrote; `None` for anything else.
    pub fn from_wire(text: &str) -> Option<FrameAnalytics> {
        let w: Wire = serde_json::from_str(text).ok()?;
        Some(FrameAnalytics {
            geometry: Arc::new(w.geometry),
            zone_counts: w.zone_counts,
            line_counts: w.line_counts,
            line_counts_by_label: w
                .line_counts_by_label
                .into_iter()
                .map(|(i, label, c)| ((i, label), c))
                .collect(),
            events: w.events,
        })
    }
}
