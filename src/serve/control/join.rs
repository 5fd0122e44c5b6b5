//! Joining a stream: its input opened on a thread of its own (retried with backoff), then its
//! outputs, recording and live view set up and the source added to the running pipeline.

use super::super::outputs;
use super::super::streams::{Refusal, StreamSpec};
use super::{Command, Control, MAX_OPEN_BACKOFF, OPEN_BACKOFF, OPEN_POLL};
use crate::backoff::Backoff;
use crate::config::{OutputConfig, PipelineConfig};
use crate::error::Result;
use crate::live::{output::LiveOutput, Live};
use crate::pipeline::{Pipeline, Play};
use crate::record::Recording;
use crate::sink::events::EventSinks;
use crate::sink::Sinks;
use crate::source::{Source, Tap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Control<'_> {
    /// Opens the stream's input on its own thread, retrying with backoff until it opens, the
    /// stream is removed, or the service stops.
    pub(super) fn open(&self, name: String, generation: u64) {
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
    pub(super) fn join(
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
}
