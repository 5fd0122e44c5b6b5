//! Sink: each annotated frame goes to the outputs of its source, in frame order; a source's
//! outputs are finalized (MP4 `moov`, JSON flush) when its end passes, the others' at the end.

use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::pipeline::registry::Registry;
use crate::pipeline::source_stats::SourceStats;
use crate::pipeline::stage::{Emit, SourceId, Stage};
use crate::sink::Sinks;
use crate::telemetry::StageStats;
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub struct Sink<'a> {
    pub registry: &'a Registry,
    pub end_to_end: &'a StageStats,
    pub progress: &'a ProgressBar,
    /// The outputs of the sources seen so far, with their counters.
    pub outputs: HashMap<SourceId, (Sinks, Arc<SourceStats>)>,
}

impl Sink<'_> {
    fn finalize(&self, id: SourceId, mut sinks: Sinks) -> Result<()> {
        let result = sinks.finish();
        let reported = match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(crate::Error::Output {
                path: sinks.source.clone().into(),
                message: e.to_string(),
            }),
        };
        self.registry.outputs_done(id, reported);
        result
    }
}

impl Stage for Sink<'_> {
    type In = AnalyzedFrame;
    type Out = ();

    fn process(&mut self, mut frame: AnalyzedFrame, _out: &mut Emit<()>) -> Result<()> {
        let id = frame.frame.source_id;
        if !self.outputs.contains_key(&id) {
            let (Some(sinks), Some(stats)) =
                (self.registry.take_sinks(id), self.registry.list.get(id))
            else {
                return Ok(()); // not a source of this pipeline
            };
            self.outputs.insert(id, (sinks, stats));
        }
        let (sinks, stats) = self.outputs.get_mut(&id).expect("inserted above");
        if let Err(e) = sinks.write(&mut frame) {
            // This source's failure: it stops, its other outputs are finalized (an MP4 stays
            // playable), its later frames are dropped here; the other sources go on.
            self.registry.output_failed(id, e);
            let (sinks, _) = self.outputs.remove(&id).expect("present");
            let _ = self.finalize(id, sinks);
            return Ok(());
        }
        let e2e = frame.frame.arrival.elapsed();
        self.end_to_end.record(e2e);
        stats.end_to_end.record(e2e);
        stats.record_written();
        if stats.keep_latest.load(Ordering::Relaxed) {
            *stats.latest.lock() = Some(frame);
        }
        self.progress.inc(1);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        let sinks = match self.outputs.remove(&id) {
            Some((sinks, _)) => Some(sinks),
            None => self.registry.take_sinks(id), // it never sent a frame
        };
        // A failure is the source's (reported by `remove_source` or at the end of the run);
        // the other sources go on.
        if let Some(Err(e)) = sinks.map(|sinks| self.finalize(id, sinks)) {
            tracing::error!(source = id, "finalizing outputs failed: {e}");
        }
        Ok(())
    }

    /// Finalizes every output still open, even after a failure; reports the first failure.
    fn finish(&mut self) -> Result<()> {
        let mut result = Ok(());
        let open: Vec<_> = self
            .outputs
            .drain()
            .map(|(id, (sinks, _))| (id, sinks))
            .chain(self.registry.take_all_sinks())
            .collect();
        for (id, sinks) in open {
            result = result.and(self.finalize(id, sinks));
        }
        result
    }
}
