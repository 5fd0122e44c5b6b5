//! The sources of a running pipeline: their telemetry ([`SourceList`]), their outputs on the
//! way to the sink stage, how each ended, and when its outputs were finalized. Shared by the
//! [`super::Pipeline`] handle (add, remove), the source threads and the sink stage.

use super::source_stats::{SourceList, SourceStats};
use super::stage::SourceId;
use crate::config::AnalyticsConfig;
use crate::error::{Error, Result};
use crate::sink::events::EventSinks;
use crate::sink::mqtt::Mqtt;
use crate::sink::Sinks;
use crate::source::supervise::SupervisedReport;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// One source's life in the pipeline.
pub struct Slot {
    pub live: bool,
    /// Raised to remove the source (its thread stops after the current frame).
    pub remove: Arc<AtomicBool>,
    pub started: Instant,
    /// How the source's thread ended (`None` while it runs).
    pub report: Option<Result<SupervisedReport>>,
    /// Its outputs were finalized (`None` until the sink has seen its end).
    pub outputs: Option<Result<()>>,
    /// When its outputs were finalized.
    pub ended: Option<Instant>,
    /// An output of it failed while it ran (the first failure): it was asked to stop.
    pub failure: Option<Error>,
}

#[derive(Default)]
pub struct Registry {
    pub list: SourceList,
    slots: Mutex<Vec<Slot>>,
    changed: Condvar,
    /// Outputs of sources whose first frame has not reached the sink stage yet.
    pending_sinks: Mutex<HashMap<SourceId, Sinks>>,
    /// Event outputs of sources whose first frame has not reached the events stage yet.
    pending_events: Mutex<HashMap<SourceId, EventSinks>>,
    /// The MQTT publisher the sources share (shut down at the end of the run).
    mqtt: Mutex<Option<Mqtt>>,
    /// Zones and lines per source (none: no entry).
    analytics: Mutex<HashMap<SourceId, Arc<AnalyticsConfig>>>,
    /// Bumped on every change of `analytics` after a source was added.
    analytics_version: AtomicU64,
    /// Per-source detection filters (none: no entry), and their change counter.
    filters: Mutex<HashMap<SourceId, super::DetectFilter>>,
    filters_version: AtomicU64,
}

impl Registry {
    /// Registers a source with its telemetry and outputs; returns its id and remove flag.
    pub fn add(
        &self,
        stats: SourceStats,
        live: bool,
        mut sinks: Sinks,
    ) -> (SourceId, Arc<AtomicBool>) {
        let mut slots = self.slots.lock();
        let id = self.list.push(Arc::new(stats));
        debug_assert_eq!(id, slots.len());
        let remove = Arc::new(AtomicBool::new(false));
        slots.push(Slot {
            live,
            remove: Arc::clone(&remove),
            started: Instant::now(),
            report: None,
            outputs: None,
            ended: None,
            failure: None,
        });
        if let Some(events) = sinks.events.take() {
            if let Some(m) = &events.mqtt {
                self.mqtt.lock().get_or_insert_with(|| m.clone());
            }
            self.pending_events.lock().insert(id, events);
        }
        self.pending_sinks.lock().insert(id, sinks);
        (id, remove)
    }

    /// Sets (or with `None` clears) the zones and lines of `id`; the analytics stage picks the
    /// change up at the source's next frame.
    pub fn set_analytics(&self, id: SourceId, config: Option<Arc<AnalyticsConfig>>) {
        let mut all = self.analytics.lock();
        match config.filter(|c| !c.is_empty()) {
            Some(c) => all.insert(id, c),
            None => all.remove(&id),
        };
        self.analytics_version.fetch_add(1, Ordering::Release);
    }

    /// The zones and lines of `id`.
    pub fn analytics_of(&self, id: SourceId) -> Option<Arc<AnalyticsConfig>> {
        self.analytics.lock().get(&id).cloned()
    }

    /// Changes so far to any source's zones and lines.
    pub fn analytics_version(&self) -> u64 {
        self.analytics_version.load(Ordering::Acquire)
    }

    /// Sets (or with an empty filter clears) the detection filter of `id`.
    pub fn set_filter(&self, id: SourceId, filter: super::DetectFilter) {
        let mut all = self.filters.lock();
        if filter.is_empty() {
            all.remove(&id);
        } else {
            all.insert(id, filter);
        }
        self.filters_version.fetch_add(1, Ordering::Release);
    }

    /// The detection filter of `id`.
    pub fn filter_of(&self, id: SourceId) -> Option<super::DetectFilter> {
        self.filters.lock().get(&id).cloned()
    }

    /// Changes so far to any source's filter.
    pub fn filters_version(&self) -> u64 {
        self.filters_version.load(Ordering::Acquire)
    }

    /// The event outputs of `id`, for the events stage (once).
    pub fn take_event_sinks(&self, id: SourceId) -> Option<EventSinks> {
        self.pending_events.lock().remove(&id)
    }

    /// Every event output not yet taken by the events stage.
    pub fn take_all_event_sinks(&self) -> Vec<(SourceId, EventSinks)> {
        self.pending_events.lock().drain().collect()
    }

    /// The MQTT publisher, when a source has one.
    pub fn mqtt(&self) -> Option<Mqtt> {
        self.mqtt.lock().clone()
    }

    /// The outputs of `id`, for the sink stage (once).
    pub fn take_sinks(&self, id: SourceId) -> Option<Sinks> {
        self.pending_sinks.lock().remove(&id)
    }

    /// Every output not yet taken by the sink stage.
    pub fn take_all_sinks(&self) -> Vec<(SourceId, Sinks)> {
        self.pending_sinks.lock().drain().collect()
    }

    /// The source thread of `id` ended this way.
    pub fn source_done(&self, id: SourceId, report: Result<SupervisedReport>) {
        self.slots.lock()[id].report = Some(report);
        self.changed.notify_all();
    }

    /// The sink stage finalized the outputs of `id`.
    pub fn outputs_done(&self, id: SourceId, result: Result<()>) {
        if let Some(s) = self.list.get(id) {
            s.ended.store(true, Ordering::Relaxed);
        }
        let mut slots = self.slots.lock();
        let slot = &mut slots[id];
        if slot.outputs.is_none() {
            slot.outputs = Some(result);
            slot.ended = Some(Instant::now());
        }
        self.changed.notify_all();
    }

    /// An output of `id` failed while it ran (a write error: disk full, a broken encoder): the
    /// source is asked to stop, the other sources go on, and `error` is its result (reported
    /// by `remove_source`, taken by [`Self::wait_finalized`], or at the end of the run).
    pub fn output_failed(&self, id: SourceId, error: Error) {
        tracing::error!(source = id, "output failed, the source stops: {error}");
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.get_mut(id) {
            slot.remove.store(true, Ordering::Relaxed);
            slot.failure.get_or_insert(error);
        }
    }

    /// Raises the remove flag of `id`.
    ///
    /// # Errors
    /// [`Error::Config`] when there is no such source.
    pub fn request_remove(&self, id: SourceId) -> Result<()> {
        let slots = self.slots.lock();
        let slot = slots.get(id).ok_or_else(|| no_source(id))?;
        slot.remove.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Waits until the outputs of `id` are finalized; returns the first failure of the source
    /// or its outputs (taken: the run's end does not report it again).
    pub fn wait_finalized(&self, id: SourceId) -> Result<()> {
        let mut slots = self.slots.lock();
        while slots
            .get(id)
            .ok_or_else(|| no_source(id))?
            .outputs
            .is_none()
        {
            self.changed.wait(&mut slots);
        }
        let slot = &mut slots[id];
        let report = match &mut slot.report {
            Some(Err(_)) => slot.report.take().and_then(|r| r.err()),
            _ => None,
        };
        let outputs = match &mut slot.outputs {
            Some(Err(_)) => slot.outputs.replace(Ok(())).and_then(|r| r.err()),
            _ => None,
        };
        match report.or(slot.failure.take()).or(outputs) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every slot, taken at the end of the run.
    pub fn take_slots(&self) -> Vec<Slot> {
        std::mem::take(&mut *self.slots.lock())
    }
}

fn no_source(id: SourceId) -> Error {
    Error::Setting {
        key: "pipeline".into(),
        message: format!("no source with id {id}"),
    }
}
