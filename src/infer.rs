//! Infer stage: waits on started requests oldest-first (so output keeps frame order with any
//! nireq), copies the outputs, and returns each request to the free pool.

use crate::engine::Request;
use crate::error::Result;
use crate::frame::Frame;
use crate::pipeline::stats::{Edge, StageStats};
use crate::preprocess::InFlight;
use crossbeam::channel::{Receiver, Sender};

/// A frame with its raw output tensors (flat f32, in the adapter's `output_names()` order).
pub struct Inferred {
    pub frame: Frame,
    pub outputs: Vec<Vec<f32>>,
}

/// Runs the stage until `submitted_rx` closes or downstream closes. A batched request's
/// outputs are split per image (`batch` blocks back to back) into one [`Inferred`] per frame.
pub fn run(
    submitted_rx: Receiver<InFlight>,
    free_tx: Sender<Request>,
    inferred_tx: Sender<Inferred>,
    output_names: &[String],
    batch: usize,
    edge: &Edge,
    stats: &StageStats,
) -> Result<()> {
    'requests: for InFlight {
        frames,
        mut request,
        started,
    } in submitted_rx.iter()
    {
        request.wait()?;
        let elapsed = started.elapsed();
        let mut batched = vec![Vec::new(); output_names.len()];
        for (name, out) in output_names.iter().zip(batched.iter_mut()) {
            request.read_output(name, out)?;
        }
        // The pool is sized to hold every request, so this never blocks; a closed pool means
        // preprocess is done, which is fine.
        let _ = free_tx.send(request);
        let n = frames.len();
        for (k, frame) in frames.into_iter().enumerate() {
            stats.record(elapsed);
            // Batch 1: the outputs are the frame's own, moved; else its block of each.
            let outputs = if batch <= 1 && n == 1 {
                std::mem::take(&mut batched)
            } else {
                batched
                    .iter()
                    .map(|all| {
                        let block = all.len() / batch.max(1);
                        all[k * block..(k + 1) * block].to_vec()
                    })
                    .collect()
            };
            if edge
                .send(&inferred_tx, Inferred { frame, outputs })
                .is_err()
            {
                break 'requests;
            }
        }
    }
    // Drain what is still in flight so no request is dropped mid-inference.
    while let Ok(mut rest) = submitted_rx.try_recv() {
        let _ = rest.request.wait();
    }
    Ok(())
}
