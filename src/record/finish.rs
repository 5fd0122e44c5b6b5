//! Finishing a clip off the sink thread: the muxer's EOS, the thumbnail (a JPEG encode), the
//! sidecar, the `clip_end` event and retention take tens of milliseconds, which a live source
//! would otherwise pay in dropped frames. The recorder joins its finishers before it ends.

use super::clip::ClipWriter;
use super::retention;
use super::sidecar::{ClipEvent, ClipEvents, RecordError, Sidecar};
use super::RecordStats;
use crate::frame::AnalyzedFrame;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// A clip to finish, with everything its end needs.
pub struct Finishing {
    pub writer: ClipWriter,
    pub sidecar: Sidecar,
    /// The thumbnail's frame, and whether the overlay must be drawn on it.
    pub best: Option<AnalyzedFrame>,
    pub annotate: bool,
    pub why: &'static str,
    pub events: ClipEvents,
    pub stats: Arc<RecordStats>,
    /// Retention over this folder once the clip is complete.
    pub dir: PathBuf,
    pub policy: retention::Policy,
}

impl Finishing {
    /// Finishes the clip on a thread of its own.
    pub fn spawn(self) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("clip-finish".into())
            .spawn(move || self.run())
            .expect("spawn a clip finisher")
    }

    fn run(mut self) {
        let source = self.sidecar.source.clone();
        let (first, last) = (self.writer.first_time, self.writer.last_time);
        let path = self.writer.path.clone();
        let failed = |e: crate::error::Error| {
            tracing::error!(source, "recording: {e}");
            self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
            self.events
                .emit(&RecordError::new(&source, "write", e.to_string()));
        };
        if let Err(e) = self.writer.finish() {
            return failed(e);
        }
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        let duration = Duration::from_nanos(last.saturating_sub(first));
        self.sidecar.finish(duration, bytes, self.why);
        if let Some(frame) = &self.best {
            match crate::sink::snapshot::jpeg(frame, self.annotate) {
                Ok(jpeg) => {
                    let _ = std::fs::write(path.with_extension("jpg"), jpeg);
                }
                Err(e) => tracing::warn!(source, "clip thumbnail: {e}"),
            }
        }
        if let Err(e) = self.sidecar.write(&path.with_extension("json")) {
            return failed(e);
        }
        self.stats.clips.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.events.emit(&ClipEvent::end(&self.sidecar, &path));
        tracing::info!(source, clip = %path.display(), "clip written");
        retention::sweep(&self.dir, &self.policy, None);
    }
}
