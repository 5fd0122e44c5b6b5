//! GStreamer source stage: `uridecodebin → videoconvert → I420 → appsink`, one thread per source.
//!
//! Files are read as fast as downstream accepts them (back-pressure: the bounded channel blocks,
//! the appsink queue fills, the decoder waits). `looping` restarts a file at EOS with a flushing
//! seek; frame numbers and timestamps keep increasing.

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::pipeline::stats::{DropOldest, Edge};
use crossbeam::channel::Sender;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use std::path::Path;
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

/// Live test pattern scheme: `test://?pattern=ball&fps=30&width=640&height=480` (every key
/// optional), `videotestsrc is-live=true`: the camera stand-in for demos and tests.
pub const TEST_SCHEME: &str = "test://";

/// The source elements for a `test://` URI's query (after the scheme).
fn test_pattern_head(query: &str) -> std::result::Result<String, String> {
    let (mut pattern, mut fps, mut width, mut height) = ("ball".to_string(), 30u32, 640u32, 480u32);
    for pair in query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = || {
            value
                .parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("`{key}` must be a positive integer, got `{value}`"))
        };
        match key {
            "pattern"
                if !value.is_empty()
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                pattern = value.to_string()
            }
            "pattern" => return Err(format!("bad pattern `{value}`")),
            "fps" => fps = number()?,
            "width" => width = number()?,
            "height" => height = number()?,
            other => {
                return Err(format!(
                    "unknown key `{other}` (known: pattern, fps, width, height)"
                ))
            }
        }
    }
    Ok(format!(
        "videotestsrc is-live=true pattern={pattern} ! \
         video/x-raw,width={width},height={height},framerate={fps}/1"
    ))
}

/// Turns a path or URI into a URI; a path must exist.
///
/// # Errors
/// [`Error::Input`] when a path does not exist or is not a file.
pub fn input_uri(input: &str) -> Result<String> {
    let has_scheme = input.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if has_scheme {
        return Ok(input.to_string());
    }
    let path = Path::new(input);
    if !path.is_file() {
        return Err(Error::Input {
            uri: input.to_string(),
            message: if path.exists() {
                "not a regular file".into()
            } else {
                "no such file".into()
            },
        });
    }
    let abs = path.canonicalize().map_err(|e| Error::Input {
        uri: input.to_string(),
        message: e.to_string(),
    })?;
    gst::glib::filename_to_uri(&abs, None)
        .map(|u| u.to_string())
        .map_err(|e| Error::Input {
            uri: input.to_string(),
            message: e.to_string(),
        })
}

/// An opened (prerolled) decoding pipeline.
pub struct Source {
    pub uri: String,
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    /// Duration of the input when known (files), for progress.
    pub duration: Option<gst::ClockTime>,
    /// A live source (camera, RTSP, test pattern): it cannot be paused, so the pipeline drops
    /// the oldest frame instead of blocking it. Files are not live: they get back-pressure.
    pub live: bool,
}

/// Most damage events kept verbatim; the rest are only counted.
const MAX_DAMAGE_EVENTS: usize = 10;

/// Problems that did not stop decoding but lost or damaged frames: gaps in the timestamps
/// (frames the demuxer/decoder dropped on corrupt data) and GStreamer warnings, each with the
/// position where it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    pub events: Vec<String>,
    /// Events beyond [`MAX_DAMAGE_EVENTS`].
    pub more: usize,
    /// Frames missing according to the timestamps.
    pub lost_frames: u64,
}

impl Damage {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    fn push(&mut self, event: String) {
        if self.events.len() < MAX_DAMAGE_EVENTS {
            self.events.push(event);
        } else {
            self.more += 1;
        }
    }

    /// One line: lost frames and every event (with positions).
    pub fn describe(&self) -> String {
        let more = if self.more > 0 {
            format!("; and {} more", self.more)
        } else {
            String::new()
        };
        format!(
            "damaged input, about {} frame(s) lost: {}{more}",
            self.lost_frames,
            self.events.join("; ")
        )
    }
}

/// Expects each frame to start where the previous one ended; a later start is a gap.
#[derive(Debug, Default)]
struct GapDetector {
    expected: Option<(u64, u64)>, // (next pts, frame duration), raw stream time in ns
}

impl GapDetector {
    /// Checks a frame with raw `pts` and `duration`; returns the frames missing before it.
    fn check(&mut self, pts: u64, duration: Option<u64>) -> Option<(u64, u64)> {
        let gap = match self.expected {
            Some((next, dur)) if dur > 0 && pts > next + dur / 2 => Some((
                next,
                ((pts - next) as f64 / dur as f64).round().max(1.0) as u64,
            )),
            _ => None,
        };
        self.expected = duration
            .filter(|d| *d > 0)
            .map(|d| (pts + d, d))
            .or(self.expected.map(|(_, d)| (pts + d, d)));
        gap
    }

    fn reset(&mut self) {
        self.expected = None;
    }
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
    /// End of stream (or `limit` reached).
    Eos,
    /// The stop flag was raised (SIGINT).
    Stopped,
    /// Downstream closed its channel (it failed or finished early).
    DownstreamClosed,
}

impl Source {
    /// Builds the decode pipeline for `input` (path or URI) and prerolls it, so a missing or
    /// undecodable input fails here, before any model is compiled.
    ///
    /// # Errors
    /// [`Error::Input`] naming the input with GStreamer's reason.
    pub fn open(input: &str) -> Result<Source> {
        crate::gst_init()?;
        let uri = input_uri(input)?;
        let head = match uri.strip_prefix(TEST_SCHEME) {
            Some(query) => test_pattern_head(query).map_err(|message| Error::Input {
                uri: uri.clone(),
                message,
            })?,
            None => "uridecodebin name=decode".to_string(),
        };
        let description = format!(
            "{head} ! videoconvert ! video/x-raw,format={FRAME_FORMAT} ! \
             appsink name=sink sync=false enable-last-sample=false max-buffers={APPSINK_MAX_BUFFERS}"
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
        }
        let appsink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| Error::gst("source pipeline", "no appsink"))?;
        let source = Source {
            uri,
            pipeline,
            appsink,
            duration: None,
            live: false,
        };
        source.preroll()
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
            Some(gst::MessageView::Error(err)) => Err(self.input_error(err)),
            _ => Err(Error::Input {
                uri: self.uri.clone(),
                message: format!("could not open within {OPEN_TIMEOUT}"),
            }),
        }
    }

    fn input_error(&self, err: &gst::message::Error) -> Error {
        let debug = err
            .debug()
            .map(|d| format!(" ({})", d.as_str().lines().last().unwrap_or("")))
            .unwrap_or_default();
        Error::Input {
            uri: self.uri.clone(),
            message: format!("{}{debug}", err.error()),
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
        decoded_tx: &Sender<Frame>,
        drop_oldest: Option<&DropOldest<'_, Frame>>,
        edge: &Edge,
        stop: &AtomicBool,
    ) -> Result<SourceReport> {
        self.pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| Error::gst("source start", e))?;
        tracing::info!(uri = %self.uri, "source started");
        let mut damage = Damage::default();
        let result = self.pull_loop(playback, decoded_tx, drop_oldest, edge, stop, &mut damage);
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
        }: Playback,
        decoded_tx: &Sender<Frame>,
        drop_oldest: Option<&DropOldest<'_, Frame>>,
        edge: &Edge,
        stop: &AtomicBool,
        damage: &mut Damage,
    ) -> Result<SourceEnd> {
        let bus = self.pipeline.bus().expect("pipeline has a bus");
        let mut gaps = GapDetector::default();
        let mut seq = 0u64;
        let mut pts_offset = 0u64;
        let mut last_end = 0u64;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(SourceEnd::Stopped);
            }
            if limit.is_some_and(|l| seq >= l) {
                return Ok(SourceEnd::Eos);
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
                        pts_offset = last_end;
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
            let pts = pts_offset + raw_pts;
            last_end = pts + buffer.duration().map_or(0, |d| d.nseconds());
            let frame = Frame {
                source_id,
                seq,
                pts,
                buffer,
                info,
                arrival: Instant::now(),
            };
            let sent = match drop_oldest {
                Some(oldest) => edge.send_or_drop_oldest(decoded_tx, oldest, frame),
                None => edge.send(decoded_tx, frame),
            };
            if sent.is_err() {
                return Ok(SourceEnd::DownstreamClosed);
            }
            seq += 1;
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Decodes the first frame of `input` (for benchmarks and tools).
pub fn first_frame(input: &str) -> Result<Frame> {
    let source = Source::open(input)?;
    source
        .pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| Error::gst("source start", e))?;
    let sample = source
        .appsink
        .try_pull_sample(gst::ClockTime::from_seconds(10))
        .ok_or_else(|| Error::Input {
            uri: source.uri.clone(),
            message: "no frame decoded".into(),
        })?;
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("appsink caps"))
        .map_err(|e| Error::gst("source caps", e))?;
    let buffer = sample.buffer_owned().expect("sample buffer");
    Ok(Frame {
        source_id: 0,
        seq: 0,
        pts: buffer.pts().map_or(0, |p| p.nseconds()),
        buffer,
        info,
        arrival: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: u64 = 100_000_000;

    #[test]
    fn gap_detector_counts_missing_frames() {
        let mut g = GapDetector::default();
        assert_eq!(g.check(0, Some(D)), None);
        assert_eq!(g.check(D, Some(D)), None);
        assert_eq!(g.check(5 * D, Some(D)), Some((2 * D, 3)));
        assert_eq!(g.check(6 * D, None), None, "duration carried over");
        g.reset();
        assert_eq!(g.check(0, Some(D)), None, "loop restart is not a gap");
    }

    #[test]
    fn damage_keeps_the_first_events_and_counts_the_rest() {
        let mut d = Damage::default();
        for i in 0..MAX_DAMAGE_EVENTS + 3 {
            d.push(format!("e{i}"));
        }
        assert_eq!(d.events.len(), MAX_DAMAGE_EVENTS);
        assert!(d.describe().ends_with("and 3 more"));
    }
}
