//! Postprocess stage: raw output tensors → detections through the model adapter.

use crate::adapters::Adapter;
use crate::engine::InputSpec;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::infer::Inferred;
use crate::pipeline::stats::{Edge, StageStats};
use crossbeam::channel::{Receiver, Sender};
use std::time::Instant;

/// Runs the stage until `inferred_rx` closes or downstream closes.
pub fn run(
    inferred_rx: Receiver<Inferred>,
    detected_tx: Sender<AnalyzedFrame>,
    adapter: &Adapter,
    input: &InputSpec,
    edge: &Edge,
    stats: &StageStats,
) -> Result<()> {
    for Inferred { frame, outputs } in inferred_rx {
        let t0 = Instant::now();
        let detections = adapter.decode(&outputs, &frame, input);
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
