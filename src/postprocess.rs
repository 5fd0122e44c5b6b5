//! Postprocess stage: raw output tensors → detections through the model adapter, then track ids.

use crate::adapters::Adapter;
use crate::engine::InputSpec;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::infer::Inferred;
use crate::pipeline::stats::{Edge, StageStats};
use crate::track::Tracker;
use crossbeam::channel::{Receiver, Sender};
use std::time::Instant;

/// The stage's state: the adapter that decodes, and the trackers that number (one per
/// source, indexed by `source_id`; `None` when tracking is off).
pub struct Postprocess<'a> {
    pub adapter: &'a Adapter,
    pub input: &'a InputSpec,
    pub trackers: Vec<Option<Tracker>>,
}

impl Postprocess<'_> {
    /// Runs the stage until `inferred_rx` closes or downstream closes.
    pub fn run(
        mut self,
        inferred_rx: Receiver<Inferred>,
        detected_tx: Sender<AnalyzedFrame>,
        edge: &Edge,
        stats: &StageStats,
    ) -> Result<()> {
        for Inferred { frame, outputs } in inferred_rx {
            let t0 = Instant::now();
            let mut detections = self.adapter.decode(
                &outputs,
                (frame.info.width(), frame.info.height()),
                self.input,
            );
            if let Some(t) = self
                .trackers
                .get_mut(frame.source_id)
                .and_then(Option::as_mut)
            {
                t.update(&mut detections, frame.info.width(), frame.info.height());
            }
            stats.record(t0.elapsed());
            if edge
                .send(&detected_tx, AnalyzedFrame { frame, detections })
                .is_err()
            {
                break;
            }
        }
        Ok(())
    }
}
