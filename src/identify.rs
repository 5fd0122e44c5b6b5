//! Identify stage (face recognition pipelines): between postprocess and overlay, names each
//! face ([`crate::face::recognizer::Recognizer`]: align → embed → gallery → track vote).

use crate::error::Result;
use crate::face::recognizer::Recognizer;
use crate::frame::AnalyzedFrame;
use crate::pipeline::stats::{Edge, StageStats};
use crossbeam::channel::{Receiver, Sender};
use std::time::Instant;

/// Runs the stage until `detected_rx` closes or downstream closes.
pub fn run(
    detected_rx: Receiver<AnalyzedFrame>,
    identified_tx: Sender<AnalyzedFrame>,
    recognizer: &mut Recognizer,
    edge: &Edge,
    stats: &StageStats,
) -> Result<()> {
    for mut frame in detected_rx {
        let t0 = Instant::now();
        recognizer.identify(&mut frame)?;
        stats.record(t0.elapsed());
        if edge.send(&identified_tx, frame).is_err() {
            break;
        }
    }
    Ok(())
}
