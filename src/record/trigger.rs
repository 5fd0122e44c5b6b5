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
    /// Types of the triggering analytics and alert events (`zone_enter`, `fall`, …).
    pub events: Vec<String>,
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
                    found.events.push(kind.to_string());
                }
            }
        }
        for kind in &frame.alerts {
            if let Some(t) = self.events.iter().find(|t| **t == **kind) {
                found.events.push(t.clone());
            }
        }
        (!found.objects.is_empty() || !found.events.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Detection;

    fn frame(labels: &[&str], alerts: &[&str]) -> AnalyzedFrame {
        gstreamer::init().unwrap();
        let info = gstreamer_video::VideoInfo::builder(gstreamer_video::VideoFormat::I420, 4, 4)
            .build()
            .unwrap();
        let buffer = gstreamer::Buffer::with_size(info.size()).unwrap();
        AnalyzedFrame {
            frame: crate::frame::Frame::from_buffer(buffer, info, 0, 0),
            detections: labels
                .iter()
                .enumerate()
                .map(|(i, l)| Detection {
                    label: Arc::from(*l),
                    confidence: 0.5 + i as f32 / 10.0,
                    track_id: Some(i as u64),
                    ..Detection::default()
                })
                .collect(),
            analytics: None,
            alerts: alerts.iter().map(|a| Arc::from(*a)).collect(),
            drawn: false,
            attributes: Vec::new(),
        }
    }

    #[test]
    fn labels_and_alert_types_trigger_and_nothing_else_does() {
        let t = Triggers::new(&RecordConfig::new("rec"));
        assert_eq!(t.check(&frame(&["car", "dog"], &[])), None);
        let found = t.check(&frame(&["car", "person", "person"], &[])).unwrap();
        assert_eq!(found.objects.len(), 2);
        assert_eq!(found.best_score, Some(0.7));
        let found = t.check(&frame(&[], &["fall", "speeding"])).unwrap();
        assert_eq!(found.events, ["fall"]);
    }
}
