//! Per-track classification history: when a track is due again (`reclassify_interval`), and
//! its smoothed attributes over the last `smoothing` results (majority label, mean value), as
//! gvaclassify's per-track cache and Frigate's sub-label vote do.

use crate::frame::{Attribute, AttributeValue};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Tracks remembered at most per classifier; the least recently seen go first.
pub const MAX_TRACKS: usize = 1024;
/// A track not seen for this many frames of its source is forgotten.
const FORGET_AFTER: u64 = 300;

/// One track's results.
#[derive(Debug, Default)]
struct TrackHistory {
    /// Frame of its last classification, from when it is decided (what `due` reads).
    classified: Option<u64>,
    /// Frame whose results were recorded last (what `frames_ago` counts from): in a group of
    /// frames a later one may be marked before an earlier one's attributes are read.
    recorded: Option<u64>,
    last_seen: u64,
    /// Per attribute (in the classifier's order), its last results.
    results: Vec<VecDeque<AttributeValue>>,
}

/// Histories of every track one classifier has seen, keyed by `(source_id, track id)`.
#[derive(Debug)]
pub struct Histories {
    names: Vec<Arc<str>>,
    /// `None`: once per track.
    interval: Option<u64>,
    smoothing: usize,
    tracks: HashMap<(usize, u64), TrackHistory>,
}

impl Histories {
    /// For attributes `names`; `interval` 0 classifies a track once.
    pub fn new(names: Vec<Arc<str>>, interval: u64, smoothing: usize) -> Self {
        Histories {
            names,
            interval: (interval > 0).then_some(interval),
            smoothing: smoothing.max(1),
            tracks: HashMap::new(),
        }
    }

    /// Whether track `key` should be classified on frame `seq`.
    pub fn due(&self, key: (usize, u64), seq: u64) -> bool {
        match self.tracks.get(&key).and_then(|t| t.classified) {
            None => true,
            Some(last) => self.interval.is_some_and(|i| seq >= last + i),
        }
    }

    /// Notes that track `key` is being classified on frame `seq` (so a later frame of the same
    /// group is not due again before the results are in).
    pub fn mark(&mut self, key: (usize, u64), seq: u64) {
        if !self.tracks.contains_key(&key) && self.tracks.len() >= MAX_TRACKS {
            let oldest = (self.tracks.iter())
                .min_by_key(|(_, t)| t.last_seen)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.tracks.remove(&oldest);
            }
        }
        let track = self.tracks.entry(key).or_default();
        track.classified = Some(seq);
        track.last_seen = seq;
    }

    /// Records the results of classifying track `key` on frame `seq` (one per attribute;
    /// `None`: nothing usable, e.g. below `min_confidence`).
    pub fn record(&mut self, key: (usize, u64), seq: u64, results: Vec<Option<AttributeValue>>) {
        if self.tracks.get(&key).and_then(|t| t.classified) != Some(seq) {
            self.mark(key, seq);
        }
        let smoothing = self.smoothing;
        let n = self.names.len();
        let track = self.tracks.entry(key).or_default();
        track.recorded = Some(seq);
        track.results.resize_with(n, VecDeque::new);
        for (kept, result) in track.results.iter_mut().zip(results) {
            if let Some(r) = result {
                if kept.len() == smoothing {
                    kept.pop_front();
                }
                kept.push_back(r);
            }
        }
    }

    /// The smoothed attributes of track `key` seen on frame `seq` (empty before its first
    /// classification).
    pub fn attributes(&mut self, key: (usize, u64), seq: u64) -> Vec<Attribute> {
        let Some(track) = self.tracks.get_mut(&key) else {
            return Vec::new();
        };
        track.last_seen = seq;
        let frames_ago = track.recorded.map_or(0, |c| seq.saturating_sub(c));
        (self.names.iter().zip(&track.results))
            .filter_map(|(name, kept)| {
                Some(Attribute {
                    name: Arc::clone(name),
                    value: smooth(kept)?,
                    frames_ago,
                })
            })
            .collect()
    }

    /// Forgets source `source` (it ended), or its tracks not seen since `seq − FORGET_AFTER`.
    pub fn forget(&mut self, source: usize, seq: Option<u64>) {
        self.tracks.retain(|&(s, _), t| {
            s != source || seq.is_some_and(|seq| seq.saturating_sub(t.last_seen) < FORGET_AFTER)
        });
    }

    /// Whether no track is remembered.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }
}

/// The majority label (ties: the larger summed confidence) with its mean confidence; the mean
/// value; the classes present in at least half of the results with their mean confidence.
pub fn smooth(results: &VecDeque<AttributeValue>) -> Option<AttributeValue> {
    match results.back()? {
        AttributeValue::Value { .. } => {
            let values: Vec<f32> = (results.iter())
                .filter_map(|r| match r {
                    AttributeValue::Value { value } => Some(*value),
                    _ => None,
                })
                .collect();
            let value = values.iter().sum::<f32>() / values.len() as f32;
            Some(AttributeValue::Value { value })
        }
        AttributeValue::Label { .. } => {
            // (label, label_id, count, summed confidence)
            let mut votes: Vec<(Arc<str>, u32, usize, f32)> = Vec::new();
            for r in results {
                if let AttributeValue::Label {
                    label,
                    label_id,
                    confidence,
                } = r
                {
                    match votes.iter_mut().find(|v| v.1 == *label_id) {
                        Some(v) => {
                            v.2 += 1;
                            v.3 += confidence;
                        }
                        None => votes.push((Arc::clone(label), *label_id, 1, *confidence)),
                    }
                }
            }
            let (label, label_id, n, sum) = votes
                .into_iter()
                .max_by(|a, b| a.2.cmp(&b.2).then(a.3.total_cmp(&b.3)))?;
            Some(AttributeValue::Label {
                label,
                label_id,
                confidence: sum / n as f32,
            })
        }
        AttributeValue::Multi { .. } => {
            let mut seen: Vec<(Arc<str>, usize, f32)> = Vec::new();
            for r in results {
                if let AttributeValue::Multi {
                    labels,
                    confidences,
                } = r
                {
                    for (l, c) in labels.iter().zip(confidences) {
                        match seen.iter_mut().find(|s| s.0 == *l) {
                            Some(s) => {
                                s.1 += 1;
                                s.2 += c;
                            }
                            None => seen.push((Arc::clone(l), 1, *c)),
                        }
                    }
                }
            }
            let half = results.len().div_ceil(2);
            let kept: Vec<_> = seen.into_iter().filter(|s| s.1 >= half).collect();
            Some(AttributeValue::Multi {
                labels: kept.iter().map(|s| Arc::clone(&s.0)).collect(),
                confidences: kept.iter().map(|s| s.2 / s.1 as f32).collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, id: u32, c: f32) -> Option<AttributeValue> {
        Some(AttributeValue::Label {
            label: name.into(),
            label_id: id,
            confidence: c,
        })
    }

    #[test]
    fn interval_once_and_smoothing() {
        let names: Vec<Arc<str>> = vec!["gender".into(), "age".into()];
        let mut h = Histories::new(names.clone(), 15, 3);
        let key = (0, 7);
        assert!(h.due(key, 0));
        let age = |v| Some(AttributeValue::Value { value: v });
        h.record(key, 0, vec![label("male", 1, 0.9), age(40.0)]);
        assert!(!h.due(key, 14) && h.due(key, 15));
        h.record(key, 15, vec![label("female", 0, 0.6), age(50.0)]);
        h.record(key, 30, vec![label("male", 1, 0.7), None]);
        let a = h.attributes(key, 33);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].frames_ago, 3);
        match &a[0].value {
            AttributeValue::Label {
                label, confidence, ..
            } => assert!(&**label == "male" && (confidence - 0.8).abs() < 1e-6),
            other => panic!("{other:?}"),
        }
        assert_eq!(a[1].value, AttributeValue::Value { value: 45.0 });
        // Only the last 3 are kept: two more females win.
        h.record(key, 45, vec![label("female", 0, 0.9), None]);
        h.record(key, 60, vec![label("female", 0, 0.9), None]);
        assert!(matches!(&h.attributes(key, 60)[0].value,
            AttributeValue::Label { label, .. } if &**label == "female"));
        // A later frame of a group marked first: the earlier frame still counts from its own
        // last results.
        h.mark(key, 75);
        assert_eq!(h.attributes(key, 70)[0].frames_ago, 10);
        // Interval 0: once per track.
        let mut once = Histories::new(names, 0, 5);
        once.record(key, 0, vec![None, age(1.0)]);
        assert!(!once.due(key, 1_000_000) && once.due((0, 8), 5));
        once.forget(0, None);
        assert!(once.is_empty());
    }
}
