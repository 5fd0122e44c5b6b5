//! The recorder output: triggers → clip lifecycle (start at a keyframe before the trigger,
//! extend, split, end) over the source's [`Tap`]; see the module above for the design.

use super::clip::ClipWriter;
use super::encoder::Encoder;
use super::finish::Finishing;
use super::retention;
use super::sidecar::{ClipEvent, ClipEvents, RecordError, Sidecar};
use super::trigger::Triggers;
use super::{RecordStats, ERROR_PAUSE, SWEEP_INTERVAL};
use crate::config::RecordConfig;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::sink::Output;
use crate::source::{RecordInput, Tap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Where a recorder's packets come from.
enum Mode {
    /// Before the first frame.
    Undecided,
    /// The source's tapped stream (stream copy).
    Copy,
    /// Its own encoder (started at the first frame; restarted when the size changes).
    Encode(Option<Encoder>),
    /// A record input's stream (stream copy; frames found in it by clock time).
    Input,
}

/// The clip being written.
struct Active {
    writer: ClipWriter,
    sidecar: Sidecar,
    segment: u32,
    /// The next packet to write.
    next_index: u64,
    /// Ring time (ns) until which the clip stays open.
    until: u64,
    /// The thumbnail's frame: the best score of a trigger label.
    best: Option<(f32, AnalyzedFrame)>,
    /// `clip_start` was sent (after its first triggers were noted).
    announced: bool,
}

/// The [`Output`] that cuts clips out of a source's ring.
pub struct Recorder {
    config: Arc<RecordConfig>,
    source: String,
    dir: PathBuf,
    tap: Tap,
    mode: Mode,
    triggers: Triggers,
    clip: Option<Active>,
    /// A trigger seen before the ring had a keyframe: `(segment, time)`.
    pending: Option<(u32, u64)>,
    /// No clip starts before this stream time (ns; after a write error: a full disk is not
    /// retried on every frame).
    paused_until: Option<u64>,
    /// Stream time (ns) of the frame being written.
    now: u64,
    events: ClipEvents,
    annotate_thumbnail: bool,
    last_sweep: Option<Instant>,
    last_id_ms: u64,
    pub stats: Arc<RecordStats>,
    /// Clips being finished on their own threads.
    finishers: Vec<std::thread::JoinHandle<()>>,
    /// The record input feeding the tap, when the source has one (stopped at `finish`).
    input: Option<RecordInput>,
}

impl Recorder {
    /// A recorder of source `source` into `dir` cutting clips from `tap`.
    pub(super) fn new(config: Arc<RecordConfig>, source: &str, dir: PathBuf, tap: Tap) -> Self {
        Recorder {
            source: source.to_string(),
            dir,
            tap,
            mode: Mode::Undecided,
            triggers: Triggers::new(&config),
            clip: None,
            pending: None,
            paused_until: None,
            now: 0,
            events: ClipEvents::default(),
            annotate_thumbnail: true,
            last_sweep: None,
            last_id_ms: 0,
            stats: Arc::default(),
            finishers: Vec::new(),
            input: None,
            config,
        }
    }

    /// Where its clip events go, and whether thumbnails need the overlay drawn (no other
    /// output drew it).
    pub(super) fn connect(&mut self, events: ClipEvents, annotate_thumbnail: bool) {
        self.events = events;
        self.annotate_thumbnail = annotate_thumbnail;
    }

    /// Cuts its clips from `input`'s stream (which feeds its tap) from now on.
    pub(super) fn record_from(&mut self, input: RecordInput) {
        self.input = Some(input);
    }

    /// Its tap.
    pub(super) fn tap(&self) -> &Tap {
        &self.tap
    }

    /// Whether it writes the annotated frames (`annotated = true`).
    pub(super) fn annotated(&self) -> bool {
        self.config.annotated
    }

    /// The folder clips of every source go under.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `(segment, time)` of `frame` in the ring's clock.
    fn key(&self, frame: &AnalyzedFrame) -> (u32, u64) {
        match self.mode {
            Mode::Copy => (frame.frame.segment, frame.frame.raw_pts),
            Mode::Input => (self.tap.segment(), frame.frame.clock_time.unwrap_or(0)),
            _ => (self.tap.segment(), frame.frame.pts),
        }
    }

    fn policy(&self) -> retention::Policy {
        retention::Policy {
            max_age: Duration::from_secs_f64(self.config.retain_days * 86_400.0),
            max_bytes: self.config.max_bytes.as_u64(),
            min_free: self.config.min_free.as_u64(),
        }
    }

    fn sweep_if_due(&mut self) {
        if self
            .last_sweep
            .is_some_and(|t| t.elapsed() < SWEEP_INTERVAL)
        {
            return;
        }
        self.last_sweep = Some(Instant::now());
        let keep = self.clip.as_ref().map(|a| a.writer.path.clone());
        retention::sweep(&self.dir, &self.policy(), keep.as_deref());
    }

    /// Picks the packets' origin at the first frame, and feeds the encoder.
    fn feed(&mut self, frame: &AnalyzedFrame) -> Result<()> {
        if matches!(self.mode, Mode::Undecided) {
            let copy = !self.config.annotated && self.tap.caps().is_some();
            self.mode = match (&self.input, copy) {
                (Some(_), _) => Mode::Input,
                (None, true) => Mode::Copy,
                (None, false) => Mode::Encode(None),
            };
            if matches!(self.mode, Mode::Encode(_)) {
                self.tap.use_encoder();
            }
            let how = match &self.input {
                Some(input) => format!("stream copy of {}", input.uri),
                None if copy => "stream copy".to_string(),
                None => "encoded H.264".to_string(),
            };
            tracing::info!(source = %self.source, dir = %self.dir.display(), "recording ({how})");
        }
        let Mode::Encode(encoder) = &mut self.mode else {
            return Ok(());
        };
        if encoder.as_ref().is_some_and(|e| !e.fits(&frame.frame)) {
            encoder.take().expect("checked").finish();
        }
        if encoder.is_none() {
            *encoder = Some(Encoder::start(&frame.frame, &self.tap, &self.source)?);
        }
        encoder.as_ref().expect("started").push(&frame.frame)
    }

    /// A new clip id, `{source}-{unix_ms}` (increasing per recorder).
    fn next_id(&mut self, wall: SystemTime) -> String {
        let ms = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.last_id_ms = ms.max(self.last_id_ms + 1);
        format!("{}-{}", self.source, self.last_id_ms)
    }

    /// Starts a clip for a trigger at `time` of `segment`: at the last keyframe at or before
    /// `time - pre_capture` (or the first one the ring holds).
    fn start(&mut self, segment: u32, time: u64, frame: &AnalyzedFrame) {
        if self.paused_until.is_some_and(|t| self.now < t) {
            return;
        }
        let pre = (self.config.pre_capture * 1e9) as u64;
        let Some((key, caps)) = self.tap.keyframe_before(segment, time.saturating_sub(pre)) else {
            self.pending = Some((segment, time)); // the ring has no keyframe yet
            return;
        };
        self.pending = None;
        self.open_at(segment, key, caps, frame, time);
    }

    fn open_at(
        &mut self,
        segment: u32,
        key: crate::source::tap::Packet,
        caps: gstreamer::Caps,
        frame: &AnalyzedFrame,
        time: u64,
    ) {
        let policy = self.policy();
        if retention::free_bytes(&self.dir).is_some_and(|f| f < policy.min_free) {
            retention::sweep(&self.dir, &policy, None);
        }
        let (_, now_key) = self.key(frame);
        let behind = Duration::from_nanos(now_key.saturating_sub(key.time));
        // Stream time minus ring time: the sidecar's stream seconds.
        let to_stream = i128::from(frame.frame.pts) - i128::from(now_key);
        let wall = SystemTime::now()
            .checked_sub(behind)
            .unwrap_or_else(SystemTime::now);
        if let Some(free) = retention::free_bytes(&self.dir).filter(|f| *f < policy.min_free) {
            let message = format!(
                "{} has {free} bytes free, less than min_free {}: no clip until space returns",
                self.dir.display(),
                policy.min_free
            );
            self.error("disk_full", message);
            return;
        }
        let id = self.next_id(wall);
        let stamp = crate::events::rfc3339(wall); // 2026-12-06T08:00:01.123Z
        let path = self
            .dir
            .join(&self.source)
            .join(&stamp[..10])
            .join(format!("{}-{id}.mp4", stamp[11..19].replace(':', "-")));
        let writer = match ClipWriter::create(&path, &caps, &key) {
            Ok(w) => w,
            Err(e) => {
                self.error("write", e.to_string());
                return;
            }
        };
        let sidecar = Sidecar::new(&id, &self.source, &path, wall, &caps, {
            let start = i128::from(key.time) + to_stream;
            start.max(0) as f64 / 1e9
        });
        self.clip = Some(Active {
            writer,
            sidecar,
            segment,
            next_index: key.index,
            until: time + (self.config.post_capture * 1e9) as u64,
            best: None,
            announced: false,
        });
        self.tap.pin(Some(key.index));
    }

    /// Writes the ring's packets up to the clip's end that are there; splits at a keyframe
    /// past `max_clip`. A write error ends the clip.
    fn drain(&mut self, frame: Option<&AnalyzedFrame>) {
        let Some(a) = self.clip.as_mut() else { return };
        let until = a.until;
        let packets = self
            .tap
            .packets_from(a.segment, a.next_index, |p| p.time <= until);
        if packets.first().is_some_and(|p| p.index > a.next_index) {
            let lost = packets[0].index - a.next_index;
            self.stats.overflow.fetch_add(lost, Ordering::Relaxed);
        }
        let max_clip = (self.config.max_clip * 1e9) as u64;
        for p in packets {
            let a = self.clip.as_mut().expect("open");
            let long = p.time.saturating_sub(a.writer.first_time) >= max_clip;
            if p.keyframe && long && a.writer.packets > 0 {
                let (segment, until, caps) = (a.segment, a.until, self.tap.caps());
                let triggers = a.sidecar.triggers.clone();
                self.end("max_clip");
                if let (Some(frame), Some(caps)) = (frame, caps) {
                    self.open_at(segment, p.clone(), caps, frame, until);
                    if let Some(a) = self.clip.as_mut() {
                        a.until = until;
                        a.sidecar.triggers = triggers;
                    }
                }
                if self.clip.is_none() {
                    return;
                }
            }
            let a = self.clip.as_mut().expect("open");
            if let Err(e) = a.writer.push(&p) {
                self.fail();
                self.error("write", e.to_string());
                return;
            }
            a.next_index = p.index + 1;
        }
        if let Some(a) = &self.clip {
            self.tap.pin(Some(a.next_index));
        }
    }

    /// Counts and reports a recording error (`write` or `disk_full`) and pauses new clips for
    /// [`ERROR_PAUSE`]; detection and the other outputs go on.
    fn error(&mut self, cause: &'static str, message: String) {
        tracing::error!(source = %self.source, cause, "recording: {message}");
        let counter = match cause {
            "disk_full" => &self.stats.disk_full,
            _ => &self.stats.write_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.paused_until = Some(self.now + ERROR_PAUSE.as_nanos() as u64);
        self.events
            .emit(&RecordError::new(&self.source, cause, message));
    }

    /// Ends the clip after a write error: the file keeps what was written (it plays up to its
    /// last fragment); its sidecar says so when there is room for it.
    fn fail(&mut self) {
        if let Some(mut a) = self.clip.take() {
            self.tap.pin(None);
            let (first, last) = (a.writer.first_time, a.writer.last_time);
            let path = a.writer.path.clone();
            a.writer.abandon();
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            let duration = Duration::from_nanos(last.saturating_sub(first));
            a.sidecar.finish(duration, bytes, "write error");
            let _ = a.sidecar.write(&path.with_extension("json"));
        }
    }

    /// Finishes the clip: the MP4, its sidecar and thumbnail, the `clip_end` event.
    fn end(&mut self, why: &'static str) {
        let Some(a) = self.clip.take() else {
            return;
        };
        self.tap.pin(None);
        if a.writer.packets == 0 {
            let path = a.writer.path.clone();
            a.writer.abandon(); // nothing reached the ring in time: no clip
            let _ = std::fs::remove_file(path);
            return;
        }
        let finishing = Finishing {
            writer: a.writer,
            sidecar: a.sidecar,
            best: a.best.map(|(_, frame)| frame),
            annotate: self.annotate_thumbnail,
            why,
            events: self.events.clone(),
            stats: Arc::clone(&self.stats),
            dir: self.dir.clone(),
            policy: self.policy(),
        };
        self.finishers.retain(|f| !f.is_finished());
        self.finishers.push(finishing.spawn());
    }
}

impl Output for Recorder {
    fn describe(&self) -> String {
        format!("recordings {}", self.dir.display())
    }

    fn needs_pixels(&self) -> bool {
        self.config.annotated
    }

    fn write(&mut self, frame: &mut AnalyzedFrame, _source: &str) -> Result<()> {
        self.now = frame.frame.pts;
        self.sweep_if_due();
        if let Err(e) = self.feed(frame) {
            self.error("write", e.to_string());
        }
        let (segment, time) = self.key(frame);
        if self.clip.as_ref().is_some_and(|a| a.segment != segment) {
            self.end("discontinuity");
        }
        let found = self.triggers.check(frame);
        if let Some((seg, at)) = self.pending.filter(|(s, _)| *s == segment) {
            self.start(seg, at, frame);
        }
        if found.is_some() && self.clip.is_none() {
            self.start(segment, time, frame);
        }
        let post = (self.config.post_capture * 1e9) as u64;
        if let Some(a) = self.clip.as_mut() {
            let at = time.saturating_sub(a.writer.first_time) as f64 / 1e9;
            if let Some(found) = &found {
                a.until = a.until.max(time + post);
                a.sidecar.add_triggers(found, at);
                let better = |s: &f32| a.best.as_ref().is_none_or(|b| *s > b.0);
                if let Some(score) = found.best_score.filter(better) {
                    a.best = Some((score, frame.clone()));
                }
            }
            a.sidecar.observe(frame, at);
            if !a.announced {
                a.announced = true;
                self.events
                    .emit(&ClipEvent::start(&a.sidecar, &a.writer.path));
            }
        }
        self.drain(Some(frame));
        let held = self.tap.bytes() as u64;
        self.stats.ring_bytes.store(held, Ordering::Relaxed);
        if self.clip.as_ref().is_some_and(|a| time > a.until) {
            self.end("post_capture");
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Mode::Encode(encoder) = &mut self.mode {
            if let Some(e) = encoder.take() {
                e.finish();
            }
        }
        self.drain(None);
        self.end("end of stream");
        self.input = None; // stops the record input
        for f in self.finishers.drain(..) {
            let _ = f.join();
        }
        Ok(())
    }
}
