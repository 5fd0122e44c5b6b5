//! Event recordings with pre-capture (`[record]`): clips of what happened, cut from the
//! camera's own encoded stream without re-encoding (DeepStream's Smart Record, Frigate's
//! `pre_capture`/`post_capture`).
//!
//! - The source's H.264/H.265 packets are tapped before its decoder into a ring
//!   ([`crate::source::tap`]); sources with nothing to copy (raw cameras, `test://`, other
//!   codecs) and `annotated = true` are encoded once by [`encoder::Encoder`] into the same kind
//!   of ring.
//! - [`Recorder`] is the source's [`Output`]: a frame with a detection of a `labels` label or an
//!   analytics event of `events` triggers; a clip starts at the last keyframe at or before
//!   `trigger - pre_capture` and stays open until `post_capture` after the last trigger
//!   (overlapping triggers extend one clip), split at a keyframe after `max_clip`.
//! - Files: `{dir}/{source}/{YYYY-MM-DD}/{HH-MM-SS}-{clip_id}.mp4` (UTC), a `.json` sidecar
//!   ([`sidecar::Sidecar`]) and a `.jpg` thumbnail; `clip_start` / `clip_end` events go to the
//!   events file, the service's event ring and MQTT `{prefix}/{source}/clips`.
//! - Retention ([`retention`]) at start and every minute; a full disk ends the clip, counts
//!   the error, and recording resumes when space returns — detection never waits for it.

pub mod clip;
pub mod encoder;
mod finish;
pub mod library;
mod recorder;
pub mod retention;
pub mod sidecar;
mod trigger;

use crate::config::RecordConfig;
use crate::sink::Sinks;
use crate::source::supervise::Supervision;
use crate::source::{RecordInput, SourceOptions, Tap};
pub use recorder::Recorder;
use sidecar::ClipEvents;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often retention runs while recording.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// After a write error (a full disk), no clip starts for this long (stream time).
pub const ERROR_PAUSE: Duration = Duration::from_secs(5);
/// Longest clip id.
const MAX_ID_LEN: usize = 128;

/// Whether `id` is a clip id the recorder makes (`{source}-{unix_ms}`): letters, digits, `.`,
/// `_`, `-`, not starting with `.` or `-`, at most 128 characters — never a path.
pub fn valid_clip_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with(['.', '-'])
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Counters of one source's recordings (defined with the outputs it belongs to).
pub use crate::sink::RecordStats;

/// What a source records with: the tap its source feeds (`None`: the recorder encodes its
/// frames itself), and the recorder output.
pub struct Recording {
    /// Give it to [`crate::source::Source::open_tapped`].
    pub tap: Option<Tap>,
    pub recorder: Recorder,
}

impl Recording {
    /// The recordings of source `source` as `config` asks, into `config.dir` (relative to
    /// `root` when given, as `serve` does); the folder is created here, so one that cannot be
    /// fails before anything runs.
    ///
    /// # Errors
    /// [`crate::Error::Output`] naming the folder when it cannot be created.
    pub fn build(
        config: Arc<RecordConfig>,
        source: &str,
        root: Option<&Path>,
    ) -> crate::error::Result<Recording> {
        let dir = config.dir_under(root);
        std::fs::create_dir_all(&dir).map_err(|e| crate::Error::Output {
            path: dir.clone(),
            message: format!("cannot create the recordings folder: {e}"),
        })?;
        let tap = Tap::new(Duration::from_secs_f64(config.pre_capture));
        let recorder = Recorder::new(Arc::clone(&config), source, dir, tap.clone());
        Ok(Recording {
            tap: (!config.annotated).then_some(tap),
            recorder,
        })
    }

    /// Records `input` — the camera's main stream while detection decodes a substream
    /// (`record_input`) — instead of the source's own packets: a [`RecordInput`] feeds the
    /// recorder's ring, found by clock time; the source is then opened untapped (`tap` becomes
    /// `None`). `source` names it in logs; `options` and `policy` are the source's.
    ///
    /// # Errors
    /// [`crate::Error::Input`] naming `input` when it cannot be opened or carries no
    /// H.264/H.265 video (see [`RecordInput::start`]).
    pub fn record_input(
        mut self,
        source: &str,
        input: &str,
        options: &SourceOptions,
        policy: Supervision,
    ) -> crate::error::Result<Recording> {
        let tap = self.recorder.tap().clone();
        let running = RecordInput::start(source, input, options, tap, policy)?;
        let _ = self.recorder.stats.input.set(running.health());
        self.recorder.record_from(running);
        self.tap = None;
        Ok(self)
    }

    /// Adds the recorder to `sinks` (after its other outputs: it sees the frames as they are
    /// written, annotated when another output draws). Its clip events go where the source's
    /// events go.
    pub fn attach(mut self, sinks: &mut Sinks) {
        let annotate = !(sinks.needs_pixels() || self.recorder.annotated());
        let events = sinks
            .events
            .as_ref()
            .map(ClipEvents::like)
            .unwrap_or_default();
        self.recorder.connect(events, annotate);
        sinks.record = Some(Arc::clone(&self.recorder.stats));
        sinks.outputs.push(Box::new(self.recorder));
    }
}
