//! GStreamer source stage: `uridecodebin → videoconvert → I420 → appsink`, one thread per source.
//!
//! Files are read as fast as downstream accepts them (back-pressure: the bounded channel blocks,
//! the appsink queue fills, the decoder waits). `looping` restarts a file at EOS with a flushing
//! seek; frame numbers and timestamps keep increasing.

mod damage;
mod options;
mod plugins;
pub mod supervise;
mod truncation;
mod uri;

pub use damage::Damage;
use damage::GapDetector;
pub use options::{RtspTransport, SourceOptions, DEFAULT_RTSP_LATENCY_MS};
use uri::{camera_head, test_pattern_head};
pub use uri::{check_syntax, input_uri, TEST_SCHEME, V4L2_SCHEME};

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::telemetry::{DropOldest, Edge};
use crossbeam::channel::Sender;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Pixel format handed to the pipeline: I420, what most decoders produce (videoconvert is then
/// a passthrough) and what x264enc takes; only the model-sized image is converted to RGB.
pub const FRAME_FORMAT: &str = "I420";
/// How long one pull waits before checking the bus and the stop flag.
const PULL_TIMEOUT: gst::ClockTime = gst::ClockTime::from_mseconds(100);
/// How long opening (preroll) may take before the input is declared unreachable.
const OPEN_TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(20);
/// Buffers the appsink may hold before it blocks the decoder.
const APPSINK_MAX_BUFFERS: u32 = 2;

/// An opened (prerolled) decoding pipeline.
pub struct Source {
    /// The URI as shown (logs, errors, stats, health, metrics): its password, if any, `***`.
    pub uri: String,
    /// The URI as opened (credentials included): for reconnects only, never printed.
    open_uri: String,
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    /// Duration of the input when known (files), for progress.
    pub duration: Option<gst::ClockTime>,
    /// A live source (camera, RTSP, test pattern): it cannot be paused, so the pipeline drops
    /// the oldest frame instead of blocking it. Files are not live: they get back-pressure.
    pub live: bool,
    /// How it was opened (kept for reconnects).
    pub options: SourceOptions,
    /// A file shorter than its container declares (reported as damage at its end).
    pub truncated: Option<truncation::Truncation>,
}

/// How to play a source.
#[derive(Debug, Clone, Copy, Default)]
pub struct Playback {
    /// Index of the source in the pipeline.
    pub source_id: usize,
    /// Restart at EOS (files).
    pub looping: bool,
    /// Stop after this many frames.
    pub limit: Option<u64>,
    /// A live source with no frame for this long has stalled (an error; the supervisor
    /// reconnects). `None`: never.
    pub stall_timeout: Option<std::time::Duration>,
}

/// Where the frame numbering and timestamps stand; it outlives one connection, so they keep
/// increasing across loops and reconnects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Number of the next frame.
    pub seq: u64,
    /// Added to the stream's own timestamps.
    pub pts_offset: u64,
    /// End (pts + duration) of the last frame sent, in output time.
    pub last_end: u64,
    /// PTS of the last frame sent, in output time.
    pub last_pts: Option<u64>,
    /// Live sources: output time is time since this instant (set at the first connection),
    /// so timestamps increase across reconnects and outages show as gaps; stream timestamps
    /// from the network are not trusted to be monotonic.
    pub epoch: Option<Instant>,
}

/// Where a source sends its frames; fixed across reconnects.
#[derive(Clone, Copy)]
pub struct Output<'a> {
    /// The source's name in logs (see [`crate::config::names`]).
    pub name: &'a str,
    pub decoded_tx: &'a Sender<Frame>,
    /// Live sources: drop the oldest queued frame instead of blocking.
    pub drop_oldest: Option<&'a DropOldest<'a, Frame>>,
    pub edge: &'a Edge,
    /// Raised on SIGINT: stop after the current frame.
    pub stop: &'a AtomicBool,
    /// Raised when this source is removed from a running pipeline: stop after the current
    /// frame (the others go on).
    pub remove: &'a AtomicBool,
    /// Updated on every health change (live sources).
    pub health: &'a supervise::HealthCell,
}

/// How a source run ended, and what was wrong with the input on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    pub end: SourceEnd,
    pub damage: Damage,
}

/// How a source run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEnd {
    /// End of stream.
    Eos,
    /// `limit` frames were produced.
    Limit,
    /// The stop flag was raised (SIGINT).
    Stopped,
    /// The source was removed from a running pipeline.
    Removed,
    /// Downstream closed its channel (it failed or finished early).
    DownstreamClosed,
}

impl Source {
    /// Builds the decode pipeline for `input` (path or URI) and prerolls it, so a missing or
    /// undecodable input fails here, before any model is compiled.
    ///
    /// Inputs: file paths and `file://`, `rtsp://`, `http(s)://` (uridecodebin; `options`
    /// set rtspsrc's transport and latency), cameras `/dev/videoN` or `v4l2:///dev/videoN`
    /// (v4l2src; `options` give width, height, framerate), `test://` (live test pattern).
    ///
    /// # Errors
    /// [`Error::Input`] naming the input with GStreamer's reason.
    pub fn open(input: &str, options: &SourceOptions) -> Result<Source> {
        // Error::Input shows its URI with the password redacted.
        crate::gst_init()?;
        let uri = input_uri(input)?;
        let bad = |message: String| Error::Input {
            uri: uri.clone(),
            message,
        };
        let head = if let Some(query) = uri.strip_prefix(TEST_SCHEME) {
            test_pattern_head(query).map_err(bad)?
        } else if let Some(device) = uri.strip_prefix(V4L2_SCHEME) {
            camera_head(device, options.camera_caps().as_deref()).map_err(bad)?
        } else {
            "uridecodebin name=decode".to_string()
        };
        // A file played in real time: the appsink waits for each frame's time on the clock
        // (the file's own rate); the pipeline then treats it as live (see `drops_oldest`).
        let sync = options.realtime && head.starts_with("uridecodebin");
        let description = format!(
            "{head} ! videoconvert ! video/x-raw,format={FRAME_FORMAT} ! \
             appsink name=sink sync={sync} enable-last-sample=false max-buffers={APPSINK_MAX_BUFFERS}"
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| Error::Input {
                uri: uri.clone(),
                message: e.to_string(),
            })?
            .downcast::<gst::Pipeline>()
            .map_err(|_| Error::gst("source pipeline", "not a pipeline"))?;
        if let Some(decode) = pipeline.by_name("decode") {
            decode.set_property("uri", &uri);
            let opts = *options;
            decode.connect("source-setup", false, move |args| {
                if let Some(element) = args.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
                    opts.setup_source(&element);
                }
                None
            });
        }
        pipeline.connect("deep-element-added", false, |args| {
            if let Some(element) = args.get(2).and_then(|v| v.get::<gst::Element>().ok()) {
                plugins::single_threaded_decoder(&element);
            }
            None
        });
        if let (Some(camera), Some(device)) =
            (pipeline.by_name("camera"), uri.strip_prefix(V4L2_SCHEME))
        {
            camera.set_property("device", device);
        }
        let appsink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| Error::gst("source pipeline", "no appsink"))?;
        let source_uri = uri.clone();
        let source = Source {
            uri: crate::redact::redact(&uri),
            open_uri: uri,
            pipeline,
            appsink,
            duration: None,
            live: false,
            options: *options,
            truncated: gst::glib::filename_from_uri(&source_uri)
                .ok()
                .and_then(|(path, _)| truncation::check(&path)),
        };
        if let Some(t) = &source.truncated {
            tracing::warn!(uri = %source.uri, "{}", t.describe());
        }
        source.preroll()
    }

    /// Starts a file at `seconds` from its beginning instead of 0 (frame-accurate; timestamps
    /// then start there). The benchmarks use it to give streams of one clip different phases.
    ///
    /// # Errors
    /// [`Error::Input`] for a live input or a failed seek.
    pub fn seek(&self, seconds: f64) -> Result<()> {
        let bad = |message: String| Error::Input {
            uri: self.uri.clone(),
            message,
        };
        if self.live {
            return Err(bad("cannot seek a live input".into()));
        }
        self.pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                gst::ClockTime::from_nseconds((seconds.max(0.0) * 1e9) as u64),
            )
            .map_err(|e| bad(format!("seek to {seconds:.2} s failed: {e}")))?;
        let (done, _, _) = self.pipeline.state(OPEN_TIMEOUT);
        done.map_err(|e| bad(format!("seek to {seconds:.2} s: {e}")))?;
        Ok(())
    }

    /// Frames are dropped (oldest first, counted) rather than waited for when inference falls
    /// behind: live sources, and files played in real time (`realtime`).
    pub fn drops_oldest(&self) -> bool {
        self.live || self.options.realtime
    }

    fn preroll(mut self) -> Result<Source> {
        let change = self.pipeline.set_state(gst::State::Paused);
        if change == Ok(gst::StateChangeSuccess::NoPreroll) {
            self.live = true; // live source: nothing to wait for
            return Ok(self);
        }
        let bus = self.pipeline.bus().expect("pipeline has a bus");
        let msg = bus.timed_pop_filtered(
            OPEN_TIMEOUT,
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::AsyncDone(_)) => {
                self.duration = self.pipeline.query_duration::<gst::ClockTime>();
                Ok(self)
            }
            Some(gst::MessageView::Error(err)) => {
                Err(self.with_network_cause(self.input_error(err)))
            }
            _ => Err(self.with_network_cause(Error::Input {
                uri: self.uri.clone(),
                message: format!("could not open within {OPEN_TIMEOUT}"),
            })),
        }
    }

    /// For a network input whose server cannot be reached, the reason (connection refused,
    /// no route, unknown host) in front of GStreamer's generic message.
    fn with_network_cause(&self, err: Error) -> Error {
        match (err, uri::network_unreachable(&self.open_uri)) {
            (Error::Input { uri, message }, Some(cause)) => Error::Input {
                uri,
                message: format!("{cause} ({message})"),
            },
            (err, _) => err,
        }
    }

    fn input_error(&self, err: &gst::message::Error) -> Error {
        let debug = err
            .debug()
            .map(|d| d.as_str().to_string())
            .unwrap_or_default();
        let detail = debug.lines().last().unwrap_or("");
        let mut message = err.error().to_string();
        if !detail.is_empty() {
            message.push_str(&format!(" ({detail})"));
        }
        if err.error().matches(gst::CoreError::MissingPlugin) {
            message.push_str(&format!("; {}", plugins::debian_package_hint(detail)));
        }
        Error::Input {
            uri: self.uri.clone(),
            message,
        }
    }

    /// Frames per second from the negotiated caps, when known.
    pub fn framerate(&self) -> Option<f64> {
        let caps = self.appsink.static_pad("sink")?.current_caps()?;
        let info = gst_video::VideoInfo::from_caps(&caps).ok()?;
        let fps = info.fps();
        (fps.numer() > 0 && fps.denom() > 0).then(|| fps.numer() as f64 / fps.denom() as f64)
    }

    /// Pulls frames and sends them on `decoded_tx` until EOS (or `limit` frames), the `stop`
    /// flag, or downstream closing.
    ///
    /// With `drop_oldest` (live sources), a full `decoded` edge loses its oldest frame instead
    /// of blocking the source.
    ///
    /// Decode problems that do not stop the stream (lost frames, warnings) are collected in
    /// the report's [`Damage`]; the caller decides (the CLI exits with the input-error code).
    ///
    /// # Errors
    /// [`Error::Input`] when decoding fails; the frames sent before it stand.
    pub fn run(
        self,
        playback: Playback,
        cursor: &mut Cursor,
        out: &Output,
        on_first_frame: &mut dyn FnMut(),
    ) -> Result<SourceReport> {
        self.pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| Error::gst("source start", e))?;
        tracing::info!(uri = %self.uri, "source started");
        let mut damage = Damage::default();
        let result = self.pull_loop(playback, cursor, out, on_first_frame, &mut damage);
        if let (Ok(SourceEnd::Eos), Some(t)) = (&result, &self.truncated) {
            let decoded = cursor.seq;
            if let Some(frames) = t.frames.filter(|_| !playback.looping) {
                damage.lost_frames += frames.saturating_sub(decoded);
            }
            let promised = t.frames.map_or(String::new(), |n| {
                format!(" of the {n} its header promises")
            });
            let at = cursor.last_pts.map_or(String::new(), |p| {
                format!(" at {}", gst::ClockTime::from_nseconds(p))
            });
            damage.push(format!(
                "{}; decoding ended after {decoded} frame(s){promised}{at}",
                t.describe()
            ));
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        tracing::info!(uri = %self.uri, ?result, "source stopped");
        if !damage.is_empty() {
            tracing::warn!(uri = %self.uri, "{}", damage.describe());
        }
        result.map(|end| SourceReport { end, damage })
    }

    fn pull_loop(
        &self,
        Playback {
            source_id,
            looping,
            limit,
            stall_timeout,
        }: Playback,
        cursor: &mut Cursor,
        out: &Output,
        on_first_frame: &mut dyn FnMut(),
        damage: &mut Damage,
    ) -> Result<SourceEnd> {
        let Output {
            decoded_tx,
            drop_oldest,
            edge,
            stop,
            remove,
            ..
        } = *out;
        let mut first = true;
        let bus = self.pipeline.bus().expect("pipeline has a bus");
        let mut gaps = GapDetector::default();
        let mut last_frame = Instant::now();
        loop {
            let seq = cursor.seq;
            if remove.load(Ordering::Relaxed) {
                return Ok(SourceEnd::Removed);
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(SourceEnd::Stopped);
            }
            if limit.is_some_and(|l| seq >= l) {
                return Ok(SourceEnd::Limit);
            }
            if let Some(t) = stall_timeout.filter(|t| last_frame.elapsed() > *t) {
                let stalled = Error::Input {
                    uri: self.uri.clone(),
                    message: format!(
                        "stalled: no frame for {} s after frame {seq}",
                        t.as_secs_f64()
                    ),
                };
                return Err(if seq == 0 {
                    self.with_network_cause(stalled)
                } else {
                    stalled
                });
            }
            while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Warning]) {
                if let gst::MessageView::Warning(w) = msg.view() {
                    let from = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                    damage.push(format!("after frame {seq}: {from}: {}", w.error()));
                }
            }
            if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
                if let gst::MessageView::Error(err) = msg.view() {
                    let base = self.input_error(err);
                    return Err(match base {
                        Error::Input { uri, message } => Error::Input {
                            uri,
                            message: format!("decode error after frame {seq}: {message}"),
                        },
                        other => other,
                    });
                }
            }
            let Some(sample) = self.appsink.try_pull_sample(PULL_TIMEOUT) else {
                if self.appsink.is_eos() {
                    if looping && seq > 0 {
                        cursor.pts_offset = cursor.last_end;
                        gaps.reset();
                        self.pipeline
                            .seek_simple(
                                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                                gst::ClockTime::ZERO,
                            )
                            .map_err(|e| Error::Input {
                                uri: self.uri.clone(),
                                message: format!("cannot loop (seek to start failed): {e}"),
                            })?;
                        continue;
                    }
                    return Ok(SourceEnd::Eos);
                }
                continue;
            };
            let (Some(buffer), Some(caps)) = (sample.buffer_owned(), sample.caps()) else {
                continue;
            };
            let info =
                gst_video::VideoInfo::from_caps(caps).map_err(|e| Error::gst("source caps", e))?;
            drop(sample);
            let raw_pts = buffer.pts().map_or(0, |p| p.nseconds());
            if let Some((at, lost)) = gaps.check(raw_pts, buffer.duration().map(|d| d.nseconds())) {
                damage.lost_frames += lost;
                damage.push(format!(
                    "{lost} frame(s) missing at {} (after frame {})",
                    gst::ClockTime::from_nseconds(at),
                    seq.saturating_sub(1)
                ));
            }
            let pts = match (self.live, cursor.epoch) {
                (true, Some(epoch)) => epoch.elapsed().as_nanos() as u64,
                (true, None) => {
                    cursor.epoch = Some(Instant::now());
                    0
                }
                (false, _) => cursor.pts_offset + raw_pts,
            };
            let pts = cursor.last_pts.map_or(pts, |last| pts.max(last + 1));
            cursor.last_pts = Some(pts);
            // Some streams carry no buffer duration: use the caps' frame interval, so a looped
            // file's first frame lands after this one.
            let duration = buffer.duration().map(|d| d.nseconds()).unwrap_or_else(|| {
                let fps = info.fps();
                if fps.numer() > 0 {
                    1_000_000_000 * fps.denom() as u64 / fps.numer() as u64
                } else {
                    1
                }
            });
            cursor.last_end = pts + duration.max(1);
            last_frame = Instant::now();
            let mut frame = Frame::from_buffer(buffer, info, source_id, seq);
            frame.pts = pts;
            let sent = match drop_oldest {
                Some(oldest) => edge.send_or_drop_oldest(decoded_tx, oldest, frame),
                None => edge.send(decoded_tx, frame),
            };
            if sent.is_err() {
                return Ok(SourceEnd::DownstreamClosed);
            }
            if first {
                first = false;
                on_first_frame();
            }
            cursor.seq += 1;
        }
    }
}

impl Source {
    /// The URI as opened, credentials included (reconnects only; never print it).
    pub(crate) fn open_uri(&self) -> &str {
        &self.open_uri
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Decodes the first frame of `input` (for benchmarks and tools).
pub fn first_frame(input: &str) -> Result<Frame> {
    frame_at(input, 0)
}

/// Decodes frame `n` (0-based, in decode order) of `input` (enrollment from a video).
///
/// # Errors
/// [`Error::Input`] when the input cannot be opened or has fewer than `n + 1` frames.
pub fn frame_at(input: &str, n: u64) -> Result<Frame> {
    let source = Source::open(input, &SourceOptions::default())?;
    source
        .pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| Error::gst("source start", e))?;
    let pull = || {
        source
            .appsink
            .try_pull_sample(gst::ClockTime::from_seconds(10))
    };
    for i in 0..n {
        if pull().is_none() {
            return Err(Error::Input {
                uri: source.uri.clone(),
                message: format!("has only {i} frame(s); frame {n} asked for"),
            });
        }
    }
    let sample = pull().ok_or_else(|| Error::Input {
        uri: source.uri.clone(),
        message: format!("no frame {n} decoded"),
    })?;
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("appsink caps"))
        .map_err(|e| Error::gst("source caps", e))?;
    let buffer = sample.buffer_owned().expect("sample buffer");
    Ok(Frame::from_buffer(buffer, info, 0, n))
}
