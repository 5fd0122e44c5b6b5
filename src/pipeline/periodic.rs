//! The periodic stats line of long runs (live sources by default), one per source: health,
//! FPS, drops and end-to-end latency over the last interval, e.g.
//! `stats door (rtsp://cam/1): streaming, 29.9 FPS, 1794 frames; drops 12 (0.7%) in the last
//! 10 s, 40 in all; end-to-end p50/p95/p99 38.2/51.0/66.1 ms`.

use super::source_stats::SourceList;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Granularity of the interruptible sleep between lines.
const STEP: Duration = Duration::from_millis(100);

/// What the stats lines read; all of it is shared with the running stages.
pub struct Periodic<'a> {
    pub sources: &'a SourceList,
    pub interval: Duration,
    /// Raised when the pipeline has finished.
    pub done: &'a AtomicBool,
}

impl Periodic<'_> {
    /// Prints a line per source every `interval` until `done`.
    pub fn run(&self) {
        let mut since = Instant::now();
        let mut before: Vec<(u64, u64)> = Vec::new();
        loop {
            while since.elapsed() < self.interval {
                if self.done.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(STEP);
            }
            let seconds = since.elapsed().as_secs_f64();
            since = Instant::now();
            let sources = self.sources.snapshot();
            before.resize(sources.len(), (0, 0));
            for (s, (frames_before, drops_before)) in sources.iter().zip(&mut before) {
                if s.ended.load(Ordering::Relaxed) {
                    continue;
                }
                let frames = s.written();
                let drops = s.decoded.drops();
                let (new_frames, new_drops) = (frames - *frames_before, drops - *drops_before);
                (*frames_before, *drops_before) = (frames, drops);
                let window = s.end_to_end.take_window();
                let line = format!(
                    "stats {} ({}): {}, {:.1} FPS, {frames} frames; drops {new_drops} ({:.1}%) \
                     in the last {seconds:.0} s, {drops} in all; end-to-end p50/p95/p99 \
                     {:.1}/{:.1}/{:.1} ms",
                    s.name,
                    s.uri,
                    s.health.get(),
                    new_frames as f64 / seconds,
                    100.0 * new_drops as f64 / (new_frames + new_drops).max(1) as f64,
                    window.p50_ms,
                    window.p95_ms,
                    window.p99_ms,
                );
                tracing::debug!("{line}");
                eprintln!("{line}");
            }
        }
    }
}
