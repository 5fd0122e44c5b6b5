//! Sink stage: writes each annotated frame to every configured output, in frame order.

pub mod jsonl;
pub mod rtsp;
pub mod video;

use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::pipeline::source_stats::SourceStats;
use crate::pipeline::stats::StageStats;
use crossbeam::channel::Receiver;
use gstreamer as gst;
use indicatif::ProgressBar;
use jsonl::SharedJsonl;
use rtsp::RtspSink;
use std::sync::atomic::Ordering;
use std::time::Instant;
use video::VideoSink;

/// The outputs of one source.
pub struct Sinks {
    /// Written into each JSON line's `source`.
    pub source: String,
    /// JSON lines; possibly one file shared with the other sources.
    pub metadata: Option<SharedJsonl>,
    pub videos: Vec<VideoSink>,
    /// `--rtsp-out`: the annotated stream served over RTSP.
    pub rtsp: Option<RtspSink>,
}

impl Sinks {
    pub fn needs_pixels(&self) -> bool {
        !self.videos.is_empty() || self.rtsp.is_some()
    }

    fn write(&mut self, frame: &mut AnalyzedFrame) -> Result<()> {
        if let Some(m) = &self.metadata {
            m.lock().write(frame, &self.source)?;
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
        if let Some(m) = &self.metadata {
            first = first.and(m.lock().finish());
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

/// Runs the stage until `rendered_rx` closes: each frame goes to the sinks of its source
/// (`sinks[frame.source_id]`, counted in `sources[frame.source_id]`); every output is finalized
/// even when a write fails.
pub fn run(
    rendered_rx: Receiver<AnalyzedFrame>,
    sinks: &mut [&mut Sinks],
    sources: &[SourceStats],
    stats: &StageStats,
    end_to_end: &StageStats,
    progress: &ProgressBar,
) -> Result<()> {
    let mut result = Ok(());
    for mut frame in rendered_rx {
        let t0 = Instant::now();
        let id = frame.frame.source_id;
        if let Err(e) = sinks[id].write(&mut frame) {
            result = Err(e);
            break;
        }
        stats.record(t0.elapsed());
        let e2e = frame.frame.arrival.elapsed();
        end_to_end.record(e2e);
        sources[id].end_to_end.record(e2e);
        sources[id].written.fetch_add(1, Ordering::Relaxed);
        progress.inc(1);
    }
    for s in sinks.iter_mut() {
        let finished = s.finish();
        result = result.and(finished);
    }
    result
}
