//! Sink stage: writes each annotated frame to every configured output, in frame order.

pub mod jsonl;
pub mod rtsp;
pub mod video;

use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::pipeline::stats::StageStats;
use crossbeam::channel::Receiver;
use gstreamer as gst;
use indicatif::ProgressBar;
use jsonl::JsonlSink;
use rtsp::RtspSink;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use video::VideoSink;

/// The outputs of one source.
pub struct Sinks {
    /// Written into each JSON line's `source`.
    pub source: String,
    pub metadata: Option<JsonlSink>,
    pub videos: Vec<VideoSink>,
    /// `--rtsp-out`: the annotated stream served over RTSP.
    pub rtsp: Option<RtspSink>,
}

impl Sinks {
    pub fn needs_pixels(&self) -> bool {
        !self.videos.is_empty() || self.rtsp.is_some()
    }

    fn write(&mut self, frame: &mut AnalyzedFrame) -> Result<()> {
        if let Some(m) = self.metadata.as_mut() {
            m.write(frame, &self.source)?;
        }
        if self.needs_pixels() {
            // Continuous timestamps across loops, so the muxer sees a monotonic stream.
            let pts = gst::ClockTime::from_nseconds(frame.frame.pts);
            if frame.frame.buffer.pts() != Some(pts) {
                frame.frame.buffer.make_mut().set_pts(pts);
            }
            for v in &mut self.videos {
                v.push(&frame.frame)?;
            }
            if let Some(r) = self.rtsp.as_mut() {
                r.push(&frame.frame)?;
            }
        }
        Ok(())
    }

    /// Finalizes every output (mp4 `moov`, JSON flush); reports the first failure.
    pub fn finish(&mut self) -> Result<()> {
        let mut first = Ok(());
        if let Some(m) = self.metadata.as_mut() {
            first = first.and(m.finish());
        }
        for v in &mut self.videos {
            let r = v.finish();
            first = first.and(r);
        }
        if let Some(r) = self.rtsp.as_mut() {
            first = first.and(r.finish());
        }
        first
    }
}

/// Runs the stage until `rendered_rx` closes; outputs are finalized even when a write fails.
pub fn run(
    rendered_rx: Receiver<AnalyzedFrame>,
    sinks: &mut Sinks,
    stats: &StageStats,
    end_to_end: &StageStats,
    written: &AtomicU64,
    progress: &ProgressBar,
) -> Result<()> {
    let mut result = Ok(());
    for mut frame in rendered_rx {
        let t0 = Instant::now();
        if let Err(e) = sinks.write(&mut frame) {
            result = Err(e);
            break;
        }
        stats.record(t0.elapsed());
        end_to_end.record(frame.frame.arrival.elapsed());
        written.fetch_add(1, Ordering::Relaxed);
        progress.inc(1);
    }
    let finished = sinks.finish();
    result.and(finished)
}
