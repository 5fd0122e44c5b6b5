//! Postprocess: raw output tensors → detections through the model adapter, then track ids
//! (one tracker per source, made at its first frame, dropped at its end).

use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::inference::{Inference, Inferred};
use crate::pipeline::registry::Registry;
use crate::pipeline::stage::{Emit, SourceId, Stage};
use crate::pipeline::DetectFilter;
use crate::track::{Predictor, Tracker};
use std::collections::HashMap;

pub struct Postprocess<'a> {
    pub inference: &'a Inference,
    /// `(threshold, track_buffer)` of ByteTrack; `None`: no track ids.
    pub track: Option<(f32, usize)>,
    pub trackers: HashMap<SourceId, Tracker>,
    /// Per-source detection filters ([`crate::pipeline::Pipeline::set_filter`]), read again
    /// when the registry's filter version changes.
    pub registry: &'a Registry,
    pub filters: HashMap<SourceId, DetectFilter>,
    pub version: u64,
    /// Each source's last inferred detections (tracked), carried on the frames the gate
    /// skips, moved along their tracks by the source's predictor.
    pub last: HashMap<SourceId, (Vec<crate::frame::Detection>, Predictor)>,
    /// The gate skips frames (interval, motion mode, detect rate): keep `last`, and tell the
    /// gate's idle check whether each inferred frame had objects.
    pub skipping: bool,
    pub sightings: crate::pipeline::gate::Sightings,
}

impl Stage for Postprocess<'_> {
    type In = Inferred;
    type Out = AnalyzedFrame;

    fn process(&mut self, input: Inferred, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        let Inferred { frame, outputs } = input;
        let Some(outputs) = outputs else {
            if let Some(stats) = self.registry.list.get(frame.source_id) {
                stats
                    .skipped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let detections = self
                .last
                .get(&frame.source_id)
                .map(|(last, predictor)| predictor.predict(last, frame.pts))
                .unwrap_or_default();
            out.push(AnalyzedFrame::new(frame, detections));
            return Ok(());
        };
        let mut detections = self.inference.decode(&outputs, &frame);
        let version = self.registry.filters_version();
        if version != self.version {
            self.version = version;
            self.filters.clear();
        }
        let registry = self.registry;
        let filter = self
            .filters
            .entry(frame.source_id)
            .or_insert_with(|| registry.filter_of(frame.source_id).unwrap_or_default());
        if !filter.is_empty() {
            filter.apply(&mut detections);
        }
        if let Some((threshold, buffer)) = self.track {
            self.trackers
                .entry(frame.source_id)
                .or_insert_with(|| Tracker::new(threshold, buffer))
                .update(&mut detections, frame.info.width(), frame.info.height());
        }
        if self.skipping {
            self.sightings
                .record(frame.source_id, !detections.is_empty());
            let (last, predictor) = self.last.entry(frame.source_id).or_default();
            predictor.observe(&detections, frame.pts);
            last.clone_from(&detections);
        }
        out.push(AnalyzedFrame::new(frame, detections));
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.trackers.remove(&id);
        self.filters.remove(&id);
        self.last.remove(&id);
        self.sightings.forget(id);
        Ok(())
    }
}
