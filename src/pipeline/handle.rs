//! The handle of a running pipeline: sources join ([`Pipeline::add_source`]) with their own
//! decode thread and `decoded` edge, and leave ([`Pipeline::remove_source`]) once their
//! outputs are finalized.

use super::registry::Registry;
use super::source_stats::SourceStats;
use super::stage::SourceId;
use super::{RunOptions, EDGE_CAPACITY, GATED_LIVE_DECODED_CAPACITY, LIVE_DECODED_CAPACITY};
use crate::config::AnalyticsConfig;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::sink::Sinks;
use crate::source::{self, supervise, Playback, Source};
use crate::telemetry::DropOldest;
use crossbeam::channel::{bounded, Receiver, Sender};
use parking_lot::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::Scope;

/// How one source plays, and its zones and lines; [`Pipeline::add_source`] takes the play
/// settings from the run's [`RunOptions`] (and no analytics).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Play {
    /// Restart a file at EOS.
    pub looping: bool,
    /// Stop after this many frames.
    pub limit: Option<u64>,
    /// Zones and lines to analyze (needs [`RunOptions::analytics`] and track ids).
    pub analytics: Option<Arc<AnalyticsConfig>>,
    /// This source's own detection filter.
    pub filter: super::DetectFilter,
}

/// What the source threads share with the handle.
pub(super) struct Context<'a> {
    pub(super) registry: Registry,
    pub(super) options: &'a RunOptions,
    pub(super) stop: &'a AtomicBool,
    /// Raised when preprocess stops: live sources stop waiting on their `decoded` edge.
    pub(super) preprocess_done: AtomicBool,
}

/// A source joining preprocess's round-robin: its id and `decoded` receiver.
pub(super) type Joining = (SourceId, Receiver<Frame>);

/// A running pipeline: add and remove sources while it runs (see [`run_dynamic`]).
pub struct Pipeline<'scope, 'env: 'scope> {
    pub(super) scope: &'scope Scope<'scope, 'env>,
    pub(super) ctx: &'scope Context<'scope>,
    /// New sources for preprocess's round-robin; `None` once closed.
    pub(super) joins: Mutex<Option<Sender<Joining>>>,
}

impl<'scope> Pipeline<'scope, '_> {
    /// Starts `source` (already opened: [`Source::open`]) into the running pipeline with its
    /// own decode thread, `decoded` edge, place in the round-robin, tracker and `sinks`.
    ///
    /// # Errors
    /// [`Error::Config`] when the pipeline no longer takes sources (closed or ended).
    pub fn add_source(&self, source: Source, sinks: Sinks) -> Result<SourceId> {
        let play = Play {
            looping: self.ctx.options.looping,
            limit: self.ctx.options.limit,
            ..Play::default()
        };
        self.add_source_with(source, sinks, play)
    }

    /// [`Self::add_source`], with this source's own looping and frame limit.
    ///
    /// # Errors
    /// As [`Self::add_source`].
    pub fn add_source_with(&self, source: Source, sinks: Sinks, play: Play) -> Result<SourceId> {
        let joins = self.joins.lock();
        let Some(joins) = joins.as_ref() else {
            return Err(closed());
        };
        let live = source.drops_oldest();
        let gated = self.ctx.options.gated();
        let capacity = if live && gated {
            GATED_LIVE_DECODED_CAPACITY
        } else if live {
            LIVE_DECODED_CAPACITY
        } else {
            EDGE_CAPACITY
        };
        let mut stats =
            SourceStats::new(&sinks.source, &source.uri, capacity, sinks.needs_pixels());
        stats.record = sinks.record.clone();
        let (id, remove) = self.ctx.registry.add(stats, live, sinks);
        self.ctx.registry.set_analytics(id, play.analytics.clone());
        self.ctx.registry.set_filter(id, play.filter.clone());
        let (decoded_tx, decoded_rx) = bounded(capacity);
        // Live sources drop the oldest decoded frame rather than wait (fresh results, bounded
        // latency); files block (every frame processed).
        let drop_rx = live.then(|| decoded_rx.clone());
        if joins.send((id, decoded_rx)).is_err() {
            return Err(closed());
        }
        let ctx = self.ctx;
        let stats = ctx.registry.list.get(id).expect("registered above");
        self.scope.spawn(move || {
            let playback = Playback {
                source_id: id,
                looping: play.looping,
                limit: play.limit,
                stall_timeout: None,
            };
            let oldest = drop_rx.as_ref().map(|rx| DropOldest {
                rx,
                consumer_done: &ctx.preprocess_done,
            });
            let out = source::Output {
                name: &stats.name,
                decoded_tx: &decoded_tx,
                drop_oldest: oldest.as_ref(),
                edge: &stats.decoded,
                stop: ctx.stop,
                remove: &remove,
                health: &stats.health,
            };
            let result = supervise::run(source, playback, &ctx.options.supervision, &out);
            // Recorded before the edge closes, so it is there when the source's end reaches
            // the sink.
            ctx.registry.source_done(id, result);
            drop(decoded_tx);
        });
        tracing::info!(source = id, "source added");
        Ok(id)
    }

    /// Stops source `id` after its current frame, lets its queued frames through, and waits
    /// until its outputs are finalized (MP4 playable, JSON flushed). The other sources lose
    /// no frame and keep their order.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown id; the source's own failure or its outputs'.
    pub fn remove_source(&self, id: SourceId) -> Result<()> {
        self.ctx.registry.request_remove(id)?;
        let result = self.ctx.registry.wait_finalized(id);
        if let Some(stats) = self.ctx.registry.list.get(id) {
            stats.release();
        }
        tracing::info!(source = id, "source removed");
        result
    }

    /// [`Self::remove_source`] without waiting here: `done` gets the result on a thread of the
    /// pipeline's scope once the source's outputs are finalized, so removals of several
    /// sources run at once.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown id (`done` is not called).
    pub fn remove_source_then(
        &self,
        id: SourceId,
        done: impl FnOnce(Result<()>) + Send + 'scope,
    ) -> Result<()> {
        self.ctx.registry.request_remove(id)?;
        let ctx = self.ctx;
        std::thread::Builder::new()
            .name(format!("remove-{id}"))
            .spawn_scoped(self.scope, move || {
                let result = ctx.registry.wait_finalized(id);
                if let Some(stats) = ctx.registry.list.get(id) {
                    stats.release();
                }
                tracing::info!(source = id, "source removed");
                done(result);
            })
            .map(drop)
            .map_err(|e| Error::Setting {
                key: "pipeline".into(),
                message: format!("removal thread: {e}"),
            })
    }

    /// How source `id` ended, once its outputs are finalized (`None` while it runs): its
    /// failure or its outputs', taken (neither `remove_source` nor the end of the run reports
    /// it again). The service turns it into the stream's `failed` state.
    pub fn take_result(&self, id: SourceId) -> Option<Result<()>> {
        let ended = self
            .ctx
            .registry
            .list
            .get(id)?
            .ended
            .load(std::sync::atomic::Ordering::Relaxed);
        ended.then(|| self.ctx.registry.wait_finalized(id))
    }

    /// Replaces the zones and lines of source `id` (`None`: no analytics) from its next frame
    /// on; lines that keep their name keep their counts. Needs a pipeline run with
    /// [`RunOptions::analytics`].
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown id, invalid geometry, or a pipeline without the
    /// analytics stage.
    pub fn set_analytics(&self, id: SourceId, config: Option<Arc<AnalyticsConfig>>) -> Result<()> {
        let bad = |message: String| Error::Setting {
            key: "analytics".into(),
            message,
        };
        if self.ctx.registry.list.get(id).is_none() {
            return Err(bad(format!("no source with id {id}")));
        }
        if !self.ctx.options.analytics {
            return Err(bad(
                "this pipeline runs without the analytics stage (RunOptions::analytics)".into(),
            ));
        }
        if let Some(c) = &config {
            c.validate().map_err(bad)?;
        }
        self.ctx.registry.set_analytics(id, config);
        Ok(())
    }

    /// Filters the detections of source `id` from its next frame on (before tracking): a
    /// stricter `threshold` than the model's, only some `classes`; an empty filter lets all
    /// through again.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown id or a threshold outside [0, 1].
    pub fn set_filter(&self, id: SourceId, filter: super::DetectFilter) -> Result<()> {
        let bad = |message: String| Error::Setting {
            key: "detect filter".into(),
            message,
        };
        if self.ctx.registry.list.get(id).is_none() {
            return Err(bad(format!("no source with id {id}")));
        }
        if filter.threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
            return Err(bad(format!(
                "threshold {:?} is outside [0, 1]",
                filter.threshold
            )));
        }
        self.ctx.registry.set_filter(id, filter);
        Ok(())
    }

    /// Whether every source added so far has ended (its outputs finalized).
    pub fn all_ended(&self) -> bool {
        self.ctx
            .registry
            .list
            .snapshot()
            .iter()
            .all(|s| s.ended.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The live counters of source `id` (frames, health, latency, drops, analytics totals).
    pub fn source_stats(&self, id: SourceId) -> Option<Arc<super::source_stats::SourceStats>> {
        self.ctx.registry.list.get(id)
    }

    /// Frames written so far for source `id` (0 for an unknown one).
    pub fn frames_written(&self, id: SourceId) -> u64 {
        self.ctx.registry.list.get(id).map_or(0, |s| s.written())
    }

    /// No more sources: the pipeline ends when the ones it has end.
    pub fn close(&self) {
        self.joins.lock().take();
    }
}

fn closed() -> Error {
    Error::Setting {
        key: "pipeline".into(),
        message: "the pipeline has ended; it takes no more sources".into(),
    }
}
