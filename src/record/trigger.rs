//! What starts or extends a clip in one frame: detections of a `labels` label (their tracks
//! keep a clip open from their first frame to their last) and analytics events of `events`.

use crate::config::RecordConfig;
use crate::frame::AnalyzedFrame;
use std::sync::Arc;

/// The triggers of one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// `(label, track id)` of each triggering detection (id `None` without tracking).
    pub objects: Vec<(Arc<str>, Option<u64>)>,
    /// Types of the triggering analytics events (`zone_enter`, …).
    pub events: Vec<&'static str>,
    /// Best confidence among the triggering detections.
    pub best_score: Option<f32>,
}

/// A recorder's trigger rules.
#[derive(Debug, Clone)]
pub struct Triggers {
    labels: Vec<Arc<str>>,
    events: Vec<String>,
}

impl Triggers {
    pub fn new(config: &RecordConfig) -> Self {
        Triggers {
            labels: config
                .labels
                .iter()
                .map(|l| Arc::from(l.as_str()))
                .collect(),
            events: config.events.clone(),
        }
    }

    /// The triggers in `frame`, `None` when there are none.
    pub fn check(&self, frame: &AnalyzedFrame) -> Option<Found> {
        let mut found = Found::default();
        for d in &frame.detections {
            if self.labels.iter().any(|l| **l == *d.label) {
                found.objects.push((d.label.clone(), d.track_id));
                found.best_score = Some(
                    found
                        .best_score
                        .map_or(d.confidence, |s| s.max(d.confidence)),
                );
            }
        }
        if let Some(a) = &frame.analytics {
            for e in &a.events {
                let kind = e.kind.as_str();
                if self.events.iter().any(|t| t == kind) {
                    found.events.push(kind);
                }
            }
        }
        (!found.objects.is_empty() || !found.events.is_empty()).then_some(found)
    }
}
