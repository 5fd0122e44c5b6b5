//! `ovstream serve`: a long-running process whose streams are added, changed and removed over
//! a REST API ([`api`]) while one compiled model and one request pool serve them all. A thin
//! layer over the dynamic pipeline ([`crate::pipeline::run_dynamic`]): the HTTP side (axum on
//! a small tokio runtime) reads shared state and sends commands; the control loop
//! ([`control`]) applies them to the pipeline handle. Streams added over the API are kept in a
//! state file and restored at the next start.

pub mod api;
mod clips;
mod console;
pub(crate) mod control;
mod entry;
mod events;
mod faces;
mod guard;
mod home_assistant;
mod live;
pub mod openapi;
pub mod outputs;
pub mod refusal;
mod start;
mod state;
pub mod streams;

use crate::sink::events::EventRing;
use crate::source::supervise::Health;
use control::Command;
pub use entry::Entry;
use parking_lot::RwLock;
pub use start::run;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use streams::{StreamSpec, StreamView};

/// Default API address (loopback).
pub const DEFAULT_API: &str = "127.0.0.1:8080";
/// The folder of remembered unknown people, beside the state file.
pub const UNKNOWN_DIR: &str = "unknown";
/// Events kept for `GET /api/events`.
pub const MAX_EVENTS: usize = 1000;

/// How the service is reached and where it keeps its streams.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `HOST:PORT` of the API.
    pub api: String,
    /// Bearer token every `/api/*` request must carry.
    pub token: Option<String>,
    /// Where streams added over the API are kept.
    pub state_file: PathBuf,
    /// Allow a non-loopback `api` without a token.
    pub insecure: bool,
    /// Run only the pipeline file's inputs of this shard (see [`crate::shard`]).
    pub shard: Option<crate::shard::Shard>,
}

/// Default state file: `$XDG_STATE_HOME/ovstream/streams.json` (`~/.local/state/…`).
pub fn default_state_file() -> PathBuf {
    dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("ovstream")
        .join("streams.json")
}

/// What the HTTP side and the control loop share.
pub struct Service {
    pub streams: RwLock<BTreeMap<String, Entry>>,
    commands: crossbeam::channel::Sender<Command>,
    pub token: Option<String>,
    pub media_roots: Vec<PathBuf>,
    /// `[serve] allowed_inputs`: what the API may add (`None`: anything it can read).
    pub allowed_inputs: Option<crate::config::allowed::AllowedInputs>,
    /// `[serve] output_root`: where a stream's own `outputs` go.
    pub output_root: Option<PathBuf>,
    pub model: String,
    /// Asks the running pipeline for its metrics text (`GET /metrics`).
    pub metrics: crate::pipeline::metrics::Scraper,
    pub state_file: PathBuf,
    /// The model is compiled and the pipeline runs.
    pub compiled: AtomicBool,
    /// The OpenAPI document served at `/api/openapi.json` (made once at start).
    pub openapi: Arc<serde_json::Value>,
    /// The most recent events of every stream.
    pub events: Arc<EventRing>,
    /// What a stream's `threshold` and `classes` are checked against.
    pub detect: streams::Model,
    /// The pipeline file's `[record]`: every stream's recordings unless it has its own.
    pub record: Option<crate::config::RecordConfig>,
    /// The pipeline file's `[source] realtime`: files are played as cameras (a
    /// `record_input` may go with one).
    pub realtime: bool,
    /// The address the API is bound to, and the other `Host` names it answers to (`[serve]
    /// allowed_hosts`): anything else is a cross-site or DNS-rebinding request.
    pub api_addr: std::net::SocketAddr,
    pub allowed_hosts: Vec<String>,
    /// `[serve] max_viewers` and `viewer_timeout`: every stream's live view.
    pub live: crate::live::LiveOptions,
    /// `[serve] rtsp`: the server every stream is mounted on.
    pub rtsp: Option<Arc<crate::live::rtsp::RtspService>>,
    /// The face library (`/api/faces`), with a `[recognize]` table.
    pub faces: Option<Arc<crate::face::library::FaceLibrary>>,
    /// `[serve] max_image_bytes`: the largest upload to `/api/faces`.
    pub max_image_bytes: usize,
    /// The console's signed-in browsers.
    pub sessions: console::Sessions,
    /// The pipeline file's per-stream `[output]` (`{name}` templates): every stream's files
    /// unless it has its own `outputs`.
    pub defaults: crate::config::OutputConfig,
    /// Held while the state file is written (by the API's threads and the control loop).
    pub state_lock: parking_lot::Mutex<()>,
    /// Files of removed streams (path → name): a re-add of that name may write them again.
    pub released: parking_lot::Mutex<std::collections::HashMap<PathBuf, String>>,
}

/// Where a stream being added comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// `POST /api/streams`.
    Api,
    /// The pipeline file's `[[sources]]` (not saved in the state file).
    File,
    /// The state file (it wrote its files in an earlier run).
    State,
}

impl Service {
    /// The recordings of stream `spec`: its own `record`, else the pipeline file's.
    pub fn record_for(&self, spec: &StreamSpec) -> Option<crate::config::RecordConfig> {
        spec.record.clone().or_else(|| self.record.clone())
    }

    /// Every folder clips may be in: the pipeline file's `[record] dir` and each stream's
    /// own, resolved against `[serve] output_root`.
    pub fn clip_dirs(&self) -> Vec<PathBuf> {
        let own = self.streams.read();
        let mut dirs: Vec<PathBuf> = self
            .record
            .iter()
            .chain(own.values().filter_map(|e| e.spec.record.as_ref()))
            .map(|r| r.dir_under(self.output_root.as_deref()))
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Every stream, by name.
    pub fn list(&self) -> Vec<StreamView> {
        self.streams
            .read()
            .values()
            .map(|e| e.view(&self.model))
            .collect()
    }

    /// The last frame of stream `name` as JPEG (annotated unless `raw`).
    ///
    /// # Errors
    /// 404 for no such stream, 409 while it has no frame yet or when `raw` is asked of a
    /// stream whose outputs draw on the frames (its last frame is annotated), 500 when the
    /// encoder fails.
    pub fn snapshot(
        &self,
        name: &str,
        raw: bool,
    ) -> std::result::Result<Vec<u8>, streams::Refusal> {
        let stats = self
            .streams
            .read()
            .get(name)
            .ok_or_else(|| streams::Refusal::new(404, format!("no stream named {name}")))?
            .stats
            .clone();
        let no_frame = || streams::Refusal::new(409, format!("stream {name} has no frame yet"));
        let stats = stats.ok_or_else(no_frame)?;
        let frame = stats.latest.lock().clone().ok_or_else(no_frame)?;
        if raw && stats.draw {
            return Err(streams::Refusal::new(
                409,
                format!("stream {name} writes annotated video: its frames are drawn on, no raw frame is kept"),
            ));
        }
        crate::sink::snapshot::jpeg(&frame, !raw && !stats.draw)
            .map_err(|e| streams::Refusal::new(500, e.to_string()))
    }

    pub fn get(&self, name: &str) -> Option<StreamView> {
        self.streams.read().get(name).map(|e| e.view(&self.model))
    }

    /// Ready: compiled, and no stream still starting.
    pub fn ready(&self) -> bool {
        self.compiled.load(Ordering::Relaxed)
            && self
                .streams
                .read()
                .values()
                .all(|e| e.state() != Health::Starting.to_string())
    }

    /// Lists `spec` and starts opening it.
    ///
    /// # Errors
    /// 409 when the name is taken.
    pub fn add(&self, spec: StreamSpec) -> std::result::Result<StreamView, streams::Refusal> {
        self.add_from(spec, Origin::Api)
    }

    /// [`Self::add`] of a stream from `origin`.
    ///
    /// # Errors
    /// 409 when the name is taken, or when one of its files is another stream's or exists
    /// without being its own (see [`outputs::ClaimCheck`]).
    pub(super) fn add_from(
        &self,
        spec: StreamSpec,
        origin: Origin,
    ) -> std::result::Result<StreamView, streams::Refusal> {
        let name = spec.name.clone();
        let (generation, view);
        {
            let mut all = self.streams.write();
            if all.contains_key(&name) {
                return Err(streams::Refusal::new(
                    409,
                    format!("a stream named {name} exists"),
                ));
            }
            let released = self.released.lock();
            let check = outputs::ClaimCheck {
                others: (all.iter())
                    .map(|(n, e)| (n.as_str(), self.files_of(&e.spec).unwrap_or_default()))
                    .collect(),
                released: &released,
                restored: origin == Origin::State,
            };
            check.check(&name, &self.files_of(&spec)?)?;
            drop(released);
            let entry = Entry {
                from_file: origin == Origin::File,
                ..Entry::new(spec)
            };
            generation = entry.generation;
            // Its view now: a DELETE may remove it before this answer goes out.
            view = entry.view(&self.model);
            all.insert(name.clone(), entry);
        }
        if origin == Origin::Api {
            // Saved before the answer: a 201 means it comes back after a restart.
            if let Err(e) = self.save_streams() {
                let mut all = self.streams.write();
                if all.get(&name).is_some_and(|e| e.generation == generation) {
                    all.remove(&name);
                }
                return Err(streams::Refusal::new(
                    503,
                    format!("not added: the state file could not be written ({e})"),
                ));
            }
        }
        let _ = self.commands.send(Command::Add(name.clone(), generation));
        Ok(view)
    }

    /// The checks of a stream added over the API (or restored): its name, input (against
    /// `media_roots` and `[serve] allowed_inputs`), outputs, geometry, threshold and classes.
    ///
    /// # Errors
    /// A 422 [`streams::Refusal`] naming the rule that is broken.
    pub fn check(&self, spec: &StreamSpec) -> std::result::Result<(), streams::Refusal> {
        if let Some(allowed) = &self.allowed_inputs {
            allowed
                .check(&spec.input)
                .map_err(|m| streams::Refusal::new(422, m))?;
            if let Some(main) = &spec.record_input {
                allowed
                    .check(main)
                    .map_err(|m| streams::Refusal::new(422, format!("record_input: {m}")))?;
            }
        }
        spec.check(&self.media_roots, self.output_root.as_deref())
            .and_then(|()| spec.check_filter(&self.detect))?;
        let record = self.record_for(spec);
        let problem = spec.record_input.as_deref().and_then(|r| {
            let realtime = self.realtime;
            crate::config::record_input_problem(
                &spec.name,
                &spec.input,
                r,
                record.as_ref(),
                realtime,
            )
        });
        problem.map_or(Ok(()), |m| Err(streams::Refusal::new(422, m)))
    }

    pub(crate) fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }
}
