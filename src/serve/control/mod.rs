//! The service's control loop, on the pipeline's control thread: it owns the [`Pipeline`]
//! handle and applies the API's commands to it (add, remove, patch). Sources open on their own
//! threads (opening a camera can take seconds; one that fails is retried with backoff and
//! stays listed with its error), so the loop never waits on a camera; only a removal waits,
//! until the stream's outputs are finalized. The HTTP side reads the shared [`Service`] and
//! never blocks the pipeline threads.

use super::outputs;
use super::streams::{Refusal, StreamPatch, StreamSpec};
use super::Service;
use crate::config::PipelineConfig;
use crate::error::Result;
use crate::pipeline::Pipeline;
use crate::record::Recording;
use crate::sink::mqtt::Mqtt;
use crate::source::{Source, Tap};
use crossbeam::channel::{Receiver, RecvTimeoutError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

mod join;

/// How often the loop checks the stop flag.
const TICK: Duration = Duration::from_millis(100);
/// Backoff between attempts to open a stream's input: first, and longest.
const OPEN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_OPEN_BACKOFF: Duration = Duration::from_secs(30);
/// How often a backoff wait checks whether the stream was removed.
const OPEN_POLL: Duration = Duration::from_millis(50);

/// Where a removal's answer goes.
pub type RemoveReply = oneshot::Sender<std::result::Result<(), Refusal>>;

/// What the API asks the control loop to do.
pub enum Command {
    /// Start opening the stream already listed under this name and [`Entry::generation`]
    /// (`super::entry::Entry`).
    Add(String, u64),
    /// The input of that name and generation opened, with its recordings (their tap already
    /// fed by it): join it to the pipeline, unless the entry is gone or another by now.
    Opened(String, u64, Box<(Source, Option<Recording>, Tap)>),
    Remove(String, RemoveReply),
    Patch(
        String,
        StreamPatch,
        oneshot::Sender<std::result::Result<StreamSpec, Refusal>>,
    ),
}

/// Everything the loop needs besides the pipeline.
pub struct Control<'a> {
    pub service: Arc<Service>,
    pub commands: Receiver<Command>,
    pub config: &'a PipelineConfig,
    pub mqtt: Option<Mqtt>,
    pub stop: &'a AtomicBool,
}

impl Control<'_> {
    /// Applies commands until `stop`.
    ///
    /// # Errors
    /// Never for a stream's failure (it is recorded on the stream); only when the pipeline
    /// itself is gone.
    pub fn run(self, pipeline: &Pipeline<'_, '_>) -> Result<()> {
        self.service.compiled.store(true, Ordering::Relaxed);
        while !self.stop.load(Ordering::Relaxed) {
            match self.commands.recv_timeout(TICK) {
                Ok(command) => self.apply(pipeline, command),
                Err(RecvTimeoutError::Timeout) => self.collect(pipeline),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.collect(pipeline);
        // Openers still trying give up; the running sources stop with `stop` and their
        // outputs are finalized as the pipeline ends.
        for entry in self.service.streams.read().values() {
            entry.cancel.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Takes how each ended stream ended: a failure (its input gave up, an output could not be
    /// written) makes it `failed` with that cause — its own state, never the service's exit.
    fn collect(&self, pipeline: &Pipeline<'_, '_>) {
        let mut streams = self.service.streams.write();
        for (name, entry) in streams.iter_mut().filter(|(_, e)| !e.collected) {
            let Some(result) = entry.id.and_then(|id| pipeline.take_result(id)) else {
                continue;
            };
            entry.collected = true;
            if let Err(e) = result {
                tracing::error!(stream = name, "failed: {e}");
                entry.failed = true;
                entry.last_error = Some(e.to_string());
            }
        }
    }

    fn apply(&self, pipeline: &Pipeline<'_, '_>, command: Command) {
        match command {
            Command::Add(name, generation) => {
                self.save();
                self.open(name, generation);
            }
            Command::Opened(name, generation, opened) => {
                let (source, recording, tap) = *opened;
                self.join(pipeline, (&name, generation), source, recording, tap)
            }
            Command::Remove(name, reply) => self.remove(pipeline, &name, reply),
            Command::Patch(name, patch, reply) => {
                let _ = reply.send(self.patch(pipeline, &name, patch));
            }
        }
    }

    /// Publishes the stream's Home Assistant discovery configs (with `home_assistant`); returns
    /// their topics.
    fn announce(&self, spec: &StreamSpec) -> Vec<String> {
        let Some(mqtt) = self.mqtt.as_ref().filter(|_| {
            self.config
                .output
                .mqtt
                .as_ref()
                .is_some_and(|m| m.home_assistant)
        }) else {
            return Vec::new();
        };
        let labels = spec
            .classes
            .clone()
            .unwrap_or_else(|| self.service.detect.labels.clone());
        let zones: Vec<String> = spec
            .analytics(&self.config.analytics)
            .zones
            .iter()
            .map(|z| z.name.clone())
            .collect();
        let motion = self.config.detect.mode == Some(crate::config::DetectMode::Motion);
        let announce = super::home_assistant::Announce {
            source: &spec.name,
            labels: &labels,
            zones: &zones,
            motion,
        };
        super::home_assistant::announce(mqtt, &self.service.model, &announce)
    }

    /// Clears the Home Assistant configs of `topics` (a removed stream's, or a patched one's
    /// before it is announced again).
    fn unannounce(&self, name: &str, topics: &[String]) {
        if let Some(mqtt) = &self.mqtt {
            if !topics.is_empty() {
                super::home_assistant::clear(mqtt, name, topics);
            }
        }
    }

    /// Marks a stream `failed` with `message` (it stays listed).
    fn fail(&self, name: &str, message: String) {
        tracing::error!(stream = name, "cannot start: {message}");
        if let Some(entry) = self.service.streams.write().get_mut(name) {
            entry.last_error = Some(message);
            entry.failed = true;
        }
    }

    /// Unlists the stream and stops it; `reply` is answered once its outputs are finalized,
    /// on a thread of its own (removals of several streams run at once).
    fn remove(&self, pipeline: &Pipeline<'_, '_>, name: &str, reply: RemoveReply) {
        let Some(entry) = self.service.streams.write().remove(name) else {
            let _ = reply.send(Err(Refusal::new(404, format!("no stream named {name}"))));
            return;
        };
        entry.cancel.store(true, Ordering::Relaxed);
        if let Ok(files) = self.service.files_of(&entry.spec) {
            outputs::release(&mut self.service.released.lock(), name, files);
        }
        self.unannounce(name, &entry.announced);
        self.save();
        let Some(id) = entry.id else {
            let _ = reply.send(Ok(()));
            return;
        };
        // Its outputs are finalized when `reply` is answered; a failure of its own is
        // reported but the stream is gone either way.
        let owned = name.to_string();
        let answer = move |result: Result<()>| {
            if let Err(e) = result {
                tracing::warn!(stream = owned, "removed; it had failed: {e}");
            }
            let _ = reply.send(Ok(()));
        };
        if let Err(e) = pipeline.remove_source_then(id, answer) {
            tracing::warn!(stream = name, "removed: {e}");
        }
    }

    fn patch(
        &self,
        pipeline: &Pipeline<'_, '_>,
        name: &str,
        patch: StreamPatch,
    ) -> std::result::Result<StreamSpec, Refusal> {
        let mut streams = self.service.streams.write();
        let entry = streams
            .get_mut(name)
            .ok_or_else(|| Refusal::new(404, format!("no stream named {name}")))?;
        let mut spec = entry.spec.clone();
        if patch.zones.is_some() {
            spec.zones = patch.zones;
        }
        if patch.lines.is_some() {
            spec.lines = patch.lines;
        }
        if let Some(threshold) = patch.threshold {
            spec.threshold = threshold;
        }
        if let Some(classes) = patch.classes {
            spec.classes = classes;
        }
        if patch.classify.is_some() {
            spec.classify = patch.classify;
        }
        spec.check_filter(&self.service.detect)?;
        let analytics = spec.analytics(&self.config.analytics);
        analytics.validate().map_err(|m| Refusal::new(422, m))?;
        if let Some(id) = entry.id {
            let config = (!analytics.is_empty()).then(|| Arc::new(analytics));
            pipeline
                .set_analytics(id, config)
                .and_then(|()| pipeline.set_filter(id, spec.filter()))
                .map_err(|e| Refusal::new(422, e.to_string()))?;
        }
        entry.spec = spec.clone();
        if !entry.announced.is_empty() {
            // Zones or classes may have changed: the entities follow.
            let old = std::mem::take(&mut entry.announced);
            entry.announced = self.announce(&spec);
            if let Some(mqtt) = &self.mqtt {
                for t in old.into_iter().filter(|t| !entry.announced.contains(t)) {
                    mqtt.publish(t, Vec::new(), true);
                }
            }
        }
        drop(streams);
        self.save();
        Ok(spec)
    }

    /// Writes the state file (a failure is logged: the service runs on).
    fn save(&self) {
        if let Err(e) = self.service.save_streams() {
            tracing::error!("state file not written: {e}");
        }
    }
}
