//! Running an opened source: the pull loop that numbers, timestamps and sends its frames.

use super::damage::GapDetector;
use super::{supervise, Damage, Source};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::telemetry::{DropOldest, Edge};
use crossbeam::channel::Sender;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long one pull waits before checking the bus and the stop flag.
const PULL_TIMEOUT: gst::ClockTime = gst::ClockTime::from_mseconds(100);

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
                return Err(self.stalled(seq, t));
            }
            self.check_bus(&bus, seq, damage)?;
            let Some(sample) = self.appsink.try_pull_sample(PULL_TIMEOUT) else {
                if self.appsink.is_eos() {
                    if looping && seq > 0 {
                        self.rewind(cursor)?;
                        gaps.reset();
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
            let clock_time = clock_time(&sample, &buffer, self.pipeline.base_time());
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
            let pts = cursor.stamp(self.live, raw_pts, buffer.duration(), &info);
            last_frame = Instant::now();
            let mut frame = Frame::from_buffer(buffer, info, source_id, seq);
            frame.pts = pts;
            frame.segment = self.tap.as_ref().map_or(0, |t| t.segment());
            frame.clock_time = clock_time;
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
    /// The error of a source that delivered no frame for `timeout`, after frame `seq`; the
    /// network's cause added when it never delivered one.
    fn stalled(&self, seq: u64, timeout: Duration) -> Error {
        let message = if seq == 0 {
            format!(
                "never delivered a frame: nothing within {} s of opening it (no answer, or no \
                 picture)",
                timeout.as_secs_f64()
            )
        } else {
            format!(
                "stalled: no frame for {} s after frame {seq}",
                timeout.as_secs_f64()
            )
        };
        let stalled = Error::Input {
            uri: self.uri.clone(),
            message,
        };
        if seq == 0 {
            self.with_network_cause(stalled)
        } else {
            stalled
        }
    }

    /// Seeks back to the start (a looped file); the next frames' PTS continue after the last.
    fn rewind(&self, cursor: &mut Cursor) -> Result<()> {
        cursor.pts_offset = cursor.last_end;
        self.pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                gst::ClockTime::ZERO,
            )
            .map_err(|e| Error::Input {
                uri: self.uri.clone(),
                message: format!("cannot loop (seek to start failed): {e}"),
            })
    }

    /// Takes the bus's warnings into `damage` and fails on its first error (a decode error
    /// after frame `seq`).
    fn check_bus(&self, bus: &gst::Bus, seq: u64, damage: &mut Damage) -> Result<()> {
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Warning]) {
            if let gst::MessageView::Warning(w) = msg.view() {
                let from = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                damage.push(format!("after frame {seq}: {from}: {}", w.error()));
            }
        }
        let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) else {
            return Ok(());
        };
        let gst::MessageView::Error(err) = msg.view() else {
            return Ok(());
        };
        Err(match self.input_error(err) {
            Error::Input { uri, message } => Error::Input {
                uri,
                message: format!("decode error after frame {seq}: {message}"),
            },
            other => other,
        })
    }
}

impl Cursor {
    /// The output PTS (ns) of the next frame, whose stream PTS is `raw_pts` and duration
    /// `duration` (the caps' frame interval when the buffer has none), and moves past it:
    /// a live source's time since the epoch, a file's PTS plus the loop offset; always after
    /// the last frame's.
    fn stamp(
        &mut self,
        live: bool,
        raw_pts: u64,
        duration: Option<gst::ClockTime>,
        info: &gst_video::VideoInfo,
    ) -> u64 {
        let pts = match (live, self.epoch) {
            (true, Some(epoch)) => epoch.elapsed().as_nanos() as u64,
            (true, None) => {
                self.epoch = Some(Instant::now());
                0
            }
            (false, _) => self.pts_offset + raw_pts,
        };
        let pts = self.last_pts.map_or(pts, |last| pts.max(last + 1));
        self.last_pts = Some(pts);
        // Some streams carry no buffer duration: use the caps' frame interval, so a looped
        // file's first frame lands after this one.
        let duration = duration.map(|d| d.nseconds()).unwrap_or_else(|| {
            let fps = info.fps();
            if fps.numer() > 0 {
                1_000_000_000 * fps.denom() as u64 / fps.numer() as u64
            } else {
                1
            }
        });
        self.last_end = pts + duration.max(1);
        pts
    }
}

/// `buffer`'s time on the pipeline's clock (ns): `base_time` plus its running time in the
/// sample's segment; `None` without a PTS, a time segment or a base time.
pub(crate) fn clock_time(
    sample: &gst::Sample,
    buffer: &gst::BufferRef,
    base_time: Option<gst::ClockTime>,
) -> Option<u64> {
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let running = segment.to_running_time(buffer.pts()?)?;
    Some((base_time? + running).nseconds())
}
