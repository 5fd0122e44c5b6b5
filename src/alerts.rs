//! Alerts ([`crate::config::alerts`]): per track, the run of frames in which it carries the
//! rule's label. A run starts at the first such frame, survives interruptions up to `max_gap`
//! (stream time), and fires one event once it has lasted `min_duration`; after a longer
//! interruption a new run can fire again (a second fall of the same person).

use crate::config::alerts::{AlertConfig, AttributeFilter, Compare};
use crate::events::{rfc3339_now, run_id};
use crate::frame::AnalyzedFrame;
use crate::frame::{Attribute, AttributeValue};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

const NS_PER_S: f64 = 1e9;

/// A filter no attribute matches (a name no classifier can give).
fn never() -> AttributeFilter {
    AttributeFilter {
        name: String::new(),
        compare: Compare::Eq,
        label: String::new(),
        number: None,
    }
}

/// Whether `attributes` has `filter.name` and it compares as the filter says: labels by
/// name (`=`, `!=`; a `multi` attribute by membership), values by number.
pub fn matches(filter: &AttributeFilter, attributes: &[Attribute]) -> bool {
    let Some(a) = attributes.iter().find(|a| *a.name == *filter.name) else {
        return false;
    };
    let equal = match &a.value {
        AttributeValue::Label { label, .. } => **label == *filter.label,
        AttributeValue::Multi { labels, .. } => labels.iter().any(|l| **l == *filter.label),
        AttributeValue::Value { value } => filter.number == Some(*value),
    };
    match (filter.compare, &a.value, filter.number) {
        (Compare::Eq, ..) => equal,
        (Compare::Ne, ..) => !equal,
        (c, AttributeValue::Value { value }, Some(n)) => match c {
            Compare::Lt => *value < n,
            Compare::Le => *value <= n,
            Compare::Gt => *value > n,
            _ => *value >= n,
        },
        _ => false,
    }
}

/// One alert: a JSON object in the events file and on `{prefix}/{source}/events`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    /// The rule's `type` (e.g. `fall`).
    #[serde(rename = "type")]
    pub kind: Arc<str>,
    /// Unique per message: `<run>-<source>-<track>-<type>:<n>`.
    pub event_id: String,
    /// The object's events' `track_key` (`<run>-<source>-<id>`).
    pub track_key: String,
    pub source: Arc<str>,
    /// Track id.
    pub id: u64,
    pub label: Arc<str>,
    /// Confidence in the frame that fired it.
    pub score: f32,
    /// `[x_min, y_min, x_max, y_max]`, normalized to the frame.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Frame number and stream timestamp (ns) where it fired, and where the run started.
    pub frame: u64,
    pub timestamp: u64,
    pub start_timestamp: u64,
    /// Seconds of stream time the label has been held.
    pub held_seconds: f64,
    /// When the event was made, RFC 3339 UTC.
    pub wall_time: String,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    last: u64,
    fired: bool,
}

/// One source's alert state.
#[derive(Debug)]
pub struct Alerts {
    source: Arc<str>,
    rules: Arc<[AlertConfig]>,
    /// Each rule's parsed `attribute` filter.
    filters: Vec<Option<AttributeFilter>>,
    /// `(rule, track)` → its current run.
    runs: HashMap<(usize, u64), Run>,
    fired: u64,
}

impl Alerts {
    pub fn new(source: &str, rules: Arc<[AlertConfig]>) -> Self {
        // Validated with the config: a filter that does not parse here matches nothing.
        let filters = (rules.iter())
            .map(|r| {
                r.attribute
                    .as_deref()
                    .map(|a| AttributeFilter::parse(a).unwrap_or_else(|_| never()))
            })
            .collect();
        Alerts {
            source: source.into(),
            filters,
            rules,
            runs: HashMap::new(),
            fired: 0,
        }
    }

    /// Alerts that fire in `frame` (tracked detections only), appended to `out`.
    pub fn frame(&mut self, frame: &AnalyzedFrame, out: &mut Vec<AlertEvent>) {
        let (seq, ts) = (frame.frame.seq, frame.frame.pts);
        for (r, rule) in self.rules.iter().enumerate() {
            let gap = (rule.max_gap * NS_PER_S) as u64;
            let needed = (rule.min_duration * NS_PER_S) as u64;
            for d in &frame.detections {
                let Some(id) = d.track_id else { continue };
                if *d.label != *rule.label
                    || self.filters[r]
                        .as_ref()
                        .is_some_and(|f| !matches(f, &d.attributes))
                {
                    continue;
                }
                let run = self.runs.entry((r, id)).or_insert(Run {
                    start: ts,
                    last: ts,
                    fired: false,
                });
                if ts.saturating_sub(run.last) > gap || ts < run.last {
                    *run = Run {
                        start: ts,
                        last: ts,
                        fired: false,
                    };
                }
                run.last = ts;
                let held = ts - run.start;
                if !run.fired && held >= needed {
                    run.fired = true;
                    self.fired += 1;
                    let b = d.bbox;
                    out.push(AlertEvent {
                        kind: Arc::from(rule.kind.as_str()),
                        event_id: format!(
                            "{}-{}-{id}-{}:{}",
                            run_id(),
                            self.source,
                            rule.kind,
                            self.fired
                        ),
                        track_key: format!("{}-{}-{id}", run_id(), self.source),
                        source: self.source.clone(),
                        id,
                        label: d.label.clone(),
                        score: d.confidence,
                        bbox: [b.x_min, b.y_min, b.x_max, b.y_max],
                        frame: seq,
                        timestamp: ts,
                        start_timestamp: run.start,
                        held_seconds: held as f64 / NS_PER_S,
                        wall_time: rfc3339_now(),
                    });
                }
            }
            // Runs interrupted for longer than the gap are over.
            self.runs
                .retain(|(rr, _), run| *rr != r || ts.saturating_sub(run.last) <= gap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{BBox, Detection, Frame};

    fn frame(seq: u64, fps: u64, labels: &[(u64, &str)]) -> AnalyzedFrame {
        let mut f = AnalyzedFrame::new(Frame::blank(seq, seq * 1_000_000_000 / fps), Vec::new());
        f.detections = labels
            .iter()
            .map(|(id, l)| Detection {
                label: Arc::from(*l),
                track_id: Some(*id),
                confidence: 0.8,
                bbox: BBox {
                    x_min: 0.1,
                    y_min: 0.1,
                    x_max: 0.2,
                    y_max: 0.2,
                },
                ..Detection::default()
            })
            .collect();
        f
    }

    fn run(labels: impl Fn(u64) -> Vec<(u64, &'static str)>, frames: u64) -> Vec<AlertEvent> {
        let rules: Arc<[AlertConfig]> = vec![AlertConfig::new("fall", "Fall")].into();
        let mut alerts = Alerts::new("cam", rules);
        let mut out = Vec::new();
        for seq in 0..frames {
            alerts.frame(&frame(seq, 10, &labels(seq)), &mut out);
        }
        out
    }

    #[test]
    fn a_label_held_two_seconds_fires_once() {
        let out = run(|_| vec![(1, "Fall")], 100);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].frame, 20, "2 s at 10 fps");
        assert_eq!(out[0].held_seconds, 2.0);
        assert_eq!(&*out[0].kind, "fall");
    }

    #[test]
    fn flicker_shorter_than_the_duration_never_fires() {
        // 1.5 s of Fall, 1 s Normal, repeated: each run is cut by a gap > 0.5 s.
        let out = run(
            |s| vec![(1, if s % 25 < 15 { "Fall" } else { "Normal" })],
            200,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn short_gaps_keep_the_run_and_long_ones_rearm_it() {
        // Missed every 4th frame (0.1 s gaps): one run, fires at 2 s.
        let out = run(
            |s| {
                if s % 4 == 3 {
                    vec![]
                } else {
                    vec![(1, "Fall")]
                }
            },
            30,
        );
        assert_eq!(out.len(), 1);
        // Two falls 3 s apart with 1 s standing up between: two alerts; another track too.
        let out = run(
            |s| match s {
                0..=24 => vec![(1, "Fall"), (2, "Fall")],
                25..=34 => vec![(1, "Normal")],
                _ => vec![(1, "Fall")],
            },
            70,
        );
        let ids: Vec<u64> = out.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![1, 2, 1], "{out:?}");
        assert_ne!(out[0].event_id, out[2].event_id);
    }
}

#[cfg(test)]
mod attribute_tests {
    use super::*;

    fn attrs(gender: &str, age: f32) -> Vec<Attribute> {
        vec![
            Attribute {
                name: "gender".into(),
                value: AttributeValue::Label {
                    label: gender.into(),
                    label_id: 0,
                    confidence: 0.9,
                },
                frames_ago: 0,
            },
            Attribute {
                name: "age".into(),
                value: AttributeValue::Value { value: age },
                frames_ago: 3,
            },
        ]
    }

    #[test]
    fn filters_compare_labels_and_values_and_need_the_attribute() {
        let f = |t: &str| AttributeFilter::parse(t).unwrap();
        assert!(matches(&f("gender=female"), &attrs("female", 30.0)));
        assert!(!matches(&f("gender=female"), &attrs("male", 30.0)));
        assert!(matches(&f("gender!=female"), &attrs("male", 30.0)));
        assert!(matches(&f("age<16"), &attrs("male", 12.5)));
        assert!(!matches(&f("age<16"), &attrs("male", 16.0)));
        assert!(matches(&f("age>=16"), &attrs("male", 16.0)));
        // No such attribute (not classified yet): no match, even for `!=`.
        assert!(!matches(&f("gender!=male"), &[]));
        assert!(!matches(&f("mood=happy"), &attrs("male", 1.0)));
    }
}
