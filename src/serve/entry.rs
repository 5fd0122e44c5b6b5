//! One stream of the service as the HTTP side sees it: its spec, its state and its view.

use super::streams::{FrameGap, Latency, StreamSpec, StreamView};
use crate::pipeline::source_stats::SourceStats;
use crate::pipeline::SourceId;
use crate::source::supervise::Health;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The next [`Entry::generation`].
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// One stream of the service.
pub struct Entry {
    pub spec: StreamSpec,
    /// Unique to this add (a name comes back after a DELETE; its late opener must not join
    /// the new entry): the control loop's commands carry it and are dropped when it differs.
    pub generation: u64,
    /// Set once its input opened and it joined the pipeline.
    pub id: Option<SourceId>,
    pub stats: Option<Arc<SourceStats>>,
    pub joined: Option<Instant>,
    /// Why it could not open (while it retries) or start.
    pub last_error: Option<String>,
    pub open_attempts: u32,
    /// Its outputs could not be opened: it will not run.
    pub failed: bool,
    /// Raised when it is removed (an opener still trying gives up).
    pub cancel: Arc<AtomicBool>,
    /// The Home Assistant discovery topics announced for it (cleared when it goes).
    pub announced: Vec<String>,
    /// It is one of the pipeline file's `[[sources]]`: the file, not the state file, keeps it.
    pub from_file: bool,
    /// It ended and how was taken from the pipeline (a failure set `failed`).
    pub collected: bool,
}

impl Entry {
    /// Its live view, once it joined (kept with its counters).
    pub fn live(&self) -> Option<Arc<crate::live::Live>> {
        self.stats.as_ref().and_then(|s| s.live.lock().clone())
    }

    pub(super) fn new(spec: StreamSpec) -> Self {
        Entry {
            spec,
            generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
            id: None,
            stats: None,
            joined: None,
            last_error: None,
            open_attempts: 0,
            failed: false,
            cancel: Arc::new(AtomicBool::new(false)),
            announced: Vec::new(),
            from_file: false,
            collected: false,
        }
    }

    /// `starting`, `streaming`, `reconnecting`, `failed` or `finished`.
    pub fn state(&self) -> String {
        match &self.stats {
            _ if self.failed => Health::Failed.to_string(),
            None if self.open_attempts > 0 => Health::Reconnecting.to_string(),
            None => Health::Starting.to_string(),
            // A source that gave up ended too, but it failed: say so.
            Some(s) if s.ended.load(Ordering::Relaxed) && s.health.get() != Health::Failed => {
                "finished".into()
            }
            Some(s) => s.health.get().to_string(),
        }
    }

    pub(super) fn view(&self, model: &str) -> StreamView {
        let (frames, drops, reconnects, latency, gap, error) = match &self.stats {
            Some(s) => {
                let l = s.end_to_end.summary();
                let g = s.frame_gap.summary();
                (
                    s.written(),
                    s.decoded.drops(),
                    s.health.reconnects() + self.open_attempts,
                    Latency {
                        p50: l.p50_ms,
                        p99: l.p99_ms,
                    },
                    FrameGap {
                        p50: g.p50_ms,
                        p99: g.p99_ms,
                        max: g.max_ms,
                    },
                    (self.last_error.clone())
                        .filter(|_| self.failed)
                        .or_else(|| s.health.last_error())
                        .or_else(|| self.last_error.clone()),
                )
            }
            None => (
                0,
                0,
                self.open_attempts,
                Latency::default(),
                FrameGap::default(),
                self.last_error.clone(),
            ),
        };
        let seconds = self.joined.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let record_input =
            (self.stats.as_ref()).and_then(|s| s.record.as_ref()?.input.get().cloned());
        StreamView {
            name: self.spec.name.clone(),
            input: crate::redact::redact(&self.spec.input),
            record_input: self.spec.record_input.as_deref().map(crate::redact::redact),
            record_input_state: record_input.as_ref().map(|h| h.get().to_string()),
            record_input_error: record_input.and_then(|h| h.last_error()),
            state: self.state(),
            frames,
            fps: if seconds > 0.0 {
                frames as f64 / seconds
            } else {
                0.0
            },
            drops,
            reconnects,
            latency_ms: latency,
            frame_gap_ms: gap,
            last_error: error,
            model: model.to_string(),
            zones: self.spec.zones.clone(),
            lines: self.spec.lines.clone(),
            threshold: self.spec.threshold,
            classes: self.spec.classes.clone(),
            outputs: self.spec.outputs.clone(),
            counts: self.stats.as_ref().and_then(|s| {
                let latest = s.latest.lock();
                let analytics = latest.as_ref()?.analytics.as_ref()?;
                serde_json::to_value(&**analytics).ok()
            }),
        }
    }
}
