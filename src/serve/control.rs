//! The service's control loop, on the pipeline's control thread: it owns the [`Pipeline`]
//! handle and applies the API's commands to it (add, remove, patch). Sources open on their own
//! threads (opening a camera can take seconds; one that fails is retried with backoff and
//! stays listed with its error), so the loop never waits on a camera; only a removal waits,
//! until the stream's outputs are finalized. The HTTP side reads the shared [`Service`] and
//! never blocks the pipeline threads.

use super::outputs;
use super::streams::{Refusal, StreamPatch, StreamSpec};
use super::Service;
use crate::backoff::Backoff;
use crate::config::{OutputConfig, PipelineConfig};
use crate::error::Result;
use crate::live::{output::LiveOutput, Live};
use crate::pipeline::{Pipeline, Play};
use crate::record::Recording;
use crate::sink::events::EventSinks;
use crate::sink::mqtt::Mqtt;
use crate::sink::Sinks;
use crate::source::{Source, Tap};
use crossbeam::channel::{Receiver, RecvTimeoutError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

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

    /// Opens the stream's input on its own thread, retrying with backoff until it opens, the
    /// stream is removed, or the service stops.
    fn open(&self, name: String, generation: u64) {
        let Some((input, record_input, cancel, record)) = self
            .service
            .streams
            .read()
            .get(&name)
            .filter(|e| e.generation == generation)
            .map(|e| {
                let record = self.service.record_for(&e.spec);
                let record_input = e.spec.record_input.clone();
                (
                    e.spec.input.clone(),
                    record_input,
                    Arc::clone(&e.cancel),
                    record,
                )
            })
        else {
            return;
        };
        let root = self.service.output_root.clone();
        let options = self.config.source.options();
        let policy = self.config.source.supervision();
        let service = Arc::clone(&self.service);
        std::thread::spawn(move || {
            let mut backoff = Backoff::new(OPEN_BACKOFF, MAX_OPEN_BACKOFF);
            while !cancel.load(Ordering::Relaxed) {
                // A fresh recording per attempt: its tap sees this connection from its start.
                // With a record input (the camera's main stream) its clips come from there.
                let recording = record
                    .clone()
                    .map(|r| Recording::build(Arc::new(r), &name, root.as_deref()))
                    .transpose()
                    .and_then(|recording| match (recording, &record_input) {
                        (Some(r), Some(main)) => {
                            r.record_input(&name, main, &options, policy).map(Some)
                        }
                        (recording, _) => Ok(recording),
                    });
                let opened = recording.and_then(|recording| {
                    // The recorder's tap, else one for the live view's `?raw=1` copies.
                    let tap = recording
                        .as_ref()
                        .and_then(|r| r.tap.clone())
                        .unwrap_or_else(|| Tap::new(Duration::ZERO));
                    Source::open_tapped(&input, &options, Some(tap.clone()))
                        .map(|s| (s, recording, tap))
                });
                match opened {
                    Ok(opened) => {
                        let _ = service.commands.send(Command::Opened(
                            name,
                            generation,
                            Box::new(opened),
                        ));
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(stream = name, "cannot open: {e}");
                        let mut streams = service.streams.write();
                        let mine = streams
                            .get_mut(&name)
                            .filter(|e| e.generation == generation);
                        if let Some(entry) = mine {
                            entry.last_error = Some(e.to_string());
                            entry.open_attempts += 1;
                        }
                    }
                }
                backoff.wait(OPEN_POLL, || cancel.load(Ordering::Relaxed));
            }
        });
    }

    /// The live view of stream `name`, one of its `sinks`' outputs: it copies the camera's
    /// own packets from `tap` where it can, shares an MP4 output's encoder when one has the
    /// same settings, and is mounted on the RTSP server unless the stream's outputs say
    /// `rtsp = false`.
    ///
    /// # Errors
    /// The live output's setup (GStreamer).
    fn live_view(
        &self,
        name: &str,
        spec: &StreamSpec,
        tap: &Tap,
        sinks: &mut Sinks,
    ) -> Result<Arc<Live>> {
        let live = Arc::new(Live::new(name, self.service.live));
        live.copy_from(tap);
        let share = live.encoder_share();
        if (sinks.outputs.iter_mut()).any(|o| o.share_encoder(Arc::clone(&share))) {
            live.set_shared(share);
        }
        let restream = spec.outputs.as_ref().and_then(|o| o.rtsp) != Some(false);
        if let Some(server) = self.service.rtsp.as_ref().filter(|_| restream) {
            live.set_mount(server.mount(&live), server.url(name));
        }
        (sinks.outputs).push(Box::new(LiveOutput::new(Arc::clone(&live))?));
        Ok(live)
    }

    /// Joins an opened stream to the pipeline with its outputs and zones; drops `source` when
    /// the entry of that name and generation is gone (removed, or removed and added again).
    fn join(
        &self,
        pipeline: &Pipeline<'_, '_>,
        (name, generation): (&str, u64),
        source: Source,
        recording: Option<Recording>,
        tap: Tap,
    ) {
        let Some(spec) = self
            .service
            .streams
            .read()
            .get(name)
            .filter(|e| e.generation == generation && !e.cancel.load(Ordering::Relaxed))
            .map(|e| e.spec.clone())
        else {
            tracing::debug!(stream = name, generation, "removed while it opened");
            return;
        };
        let analytics = spec.analytics(&self.config.analytics);
        let play = Play {
            looping: self.config.source.looping,
            limit: self.config.source.limit,
            analytics: (!analytics.is_empty()).then(|| Arc::new(analytics)),
            filter: spec.filter(),
        };
        let config = match self.output_config(&spec) {
            Ok(output) => PipelineConfig {
                output,
                ..self.config.clone()
            },
            Err(r) => {
                self.fail(name, r.message);
                return;
            }
        };
        let joined = crate::sink::sinks_sharing(&config, &[name.to_string()], self.mqtt.clone())
            .and_then(|mut sinks| {
                let mut sinks = sinks.pop().expect("one name, one set of sinks");
                sinks
                    .events
                    .get_or_insert_with(|| EventSinks::new(name, None, None, false))
                    .ring = Some(Arc::clone(&self.service.events));
                if let Some(recording) = recording {
                    recording.attach(&mut sinks);
                }
                let live = self.live_view(name, &spec, &tap, &mut sinks)?;
                pipeline
                    .add_source_with(source, sinks, play)
                    .map(|id| (id, live))
            });
        let mut streams = self.service.streams.write();
        let Some(entry) = streams.get_mut(name).filter(|e| e.generation == generation) else {
            // Not reached while removals run on this thread; never leave an orphan behind.
            drop(streams);
            if let Ok((id, _)) = joined {
                let _ = pipeline.remove_source(id);
            }
            return;
        };
        match joined {
            Ok((id, live)) => {
                entry.id = Some(id);
                entry.stats = pipeline.source_stats(id);
                if let Some(stats) = &entry.stats {
                    stats.keep_latest.store(true, Ordering::Relaxed);
                    *stats.live.lock() = Some(live);
                }
                entry.announced = self.announce(&spec);
                entry.joined = Some(Instant::now());
                entry.last_error = None;
                tracing::info!(stream = name, id, "stream joined");
            }
            Err(e) => {
                drop(streams);
                self.fail(name, e.to_string());
            }
        }
    }

    /// The stream's `[output]`: its files (its own `outputs` in place of the pipeline file's)
    /// with their folders made; JSON lines added to, an MP4 that exists (a restart, a re-add)
    /// left as it is for the next free `{name}-{n}.mp4`.
    ///
    /// # Errors
    /// See [`outputs::stream_files`]; a folder that cannot be made.
    fn output_config(&self, spec: &StreamSpec) -> Result<OutputConfig, Refusal> {
        let files = self.service.files_of(spec)?;
        let mut out = self.config.output.clone();
        out.append = true;
        for f in files {
            if let Some(dir) = f.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Refusal::new(422, format!("outputs.{}: {}: {e}", f.key, dir.display()))
                })?;
            }
            match f.key {
                "mp4" => out.mp4 = Some(outputs::next_free(&f.path)),
                "metadata" => out.metadata = Some(f.path.display().to_string()),
                _ => out.events = Some(f.path.display().to_string()),
            }
        }
        Ok(out)
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
