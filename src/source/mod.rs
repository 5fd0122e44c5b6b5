//! GStreamer source stage: `uridecodebin → videoconvert → I420 → appsink`, one thread per source.
//!
//! Files are read as fast as downstream accepts them (back-pressure: the bounded channel blocks,
//! the appsink queue fills, the decoder waits). `looping` restarts a file at EOS with a flushing
//! seek; frame numbers and timestamps keep increasing.

mod damage;
mod options;
mod plugins;
pub mod record_input;
mod run;
pub mod secrets;
pub mod supervise;
pub mod tap;
mod truncation;
mod uri;

pub use damage::Damage;
pub use options::{RtspTransport, SourceOptions, DEFAULT_RTSP_LATENCY_MS};
pub use record_input::RecordInput;
pub use run::{Cursor, Output, Playback, SourceEnd, SourceReport};
pub use tap::Tap;
use uri::{camera_head, test_pattern_head};
pub use uri::{check_syntax, input_uri, TEST_SCHEME, V4L2_SCHEME};
use uri::{MAX_TEST_HEIGHT, MAX_TEST_WIDTH};

use crate::error::{Error, Result};
use crate::frame::Frame;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

/// Pixel format handed to the pipeline: I420, what most decoders produce (videoconvert is then
/// a passthrough) and what x264enc takes; only the model-sized image is converted to RGB.
pub const FRAME_FORMAT: &str = "I420";
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
    /// The encoded stream tapped before the decoder (recordings), kept across reconnects.
    pub(crate) tap: Option<Tap>,
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
        Self::open_tapped(input, options, None)
    }

    /// [`Self::open`], with the encoded stream fed to `tap` before the decoder (H.264/H.265
    /// packets; see [`tap`]) from the first packet on, preroll included.
    ///
    /// # Errors
    /// As [`Self::open`].
    pub fn open_tapped(input: &str, options: &SourceOptions, tap: Option<Tap>) -> Result<Source> {
        // Error::Input shows its URI with the password redacted.
        crate::gst_init()?;
        // A `${env:…}`/`${cred:…}` password is read now, never kept (see `secrets`).
        let uri = input_uri(&secrets::expand(input)?)?;
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
        // Frames over the largest supported size fail to negotiate before a decoder pool of
        // them is allocated (a 16000x16000 stream would take gigabytes).
        let description = format!(
            "{head} ! videoconvert ! video/x-raw,format={FRAME_FORMAT},width=[1,{MAX_TEST_WIDTH}],\
             height=[1,{MAX_TEST_HEIGHT}] ! \
             appsink name=sink sync={sync} enable-last-sample=false max-buffers={APPSINK_MAX_BUFFERS}"
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| Error::Input {
                uri: uri.clone(),
                message: e.to_string(),
            })?
            .downcast::<gst::Pipeline>()
            .map_err(|_| Error::gst("source pipeline", "not a pipeline"))?;
        // The system clock, always: frames of this pipeline and packets of a record input
        // compare by their time on it ([`Frame::clock_time`]).
        pipeline.use_clock(Some(&gst::SystemClock::obtain()));
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
        let decoder_tap = tap.clone();
        pipeline.connect("deep-element-added", false, move |args| {
            if let Some(element) = args.get(2).and_then(|v| v.get::<gst::Element>().ok()) {
                plugins::single_threaded_decoder(&element);
                if let Some(tap) = &decoder_tap {
                    tap.attach(&element);
                }
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
            tap,
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
        if debug.contains("not-negotiated") {
            message.push_str(&format!(
                "; its frames could not be converted: frames larger than \
                 {MAX_TEST_WIDTH}x{MAX_TEST_HEIGHT} are refused"
            ));
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
