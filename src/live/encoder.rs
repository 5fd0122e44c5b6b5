//! The live view's H.264 encoder, one per watched stream, shared by its `live.mp4` viewers and
//! its RTSP mount: `appsrc (leaky) ! videoconvert ! I420 ! x264enc (ultrafast, zero latency,
//! no B-frames, a keyframe every [`GOP_SECONDS`] or when a viewer joins) ! h264parse ! tee`,
//! one branch `! mp4mux fragment-duration=100 streamable=true ! appsink`, the other the access
//! units themselves (`! appsink`, for RTSP).
//! mp4mux starts a fragment at every keyframe and at most every [`FRAGMENT_MS`]; the byte
//! stream is cut into the init segment and fragments ([`super::fmp4::Splitter`]) and handed to
//! the stream's [`Live`] hub from the appsink's thread.

use super::fmp4::{Piece, Splitter};
use super::{Chunk, Live, Track};
use crate::error::{Error, Result};
use crate::frame::Frame;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// Longest fragment, milliseconds.
pub const FRAGMENT_MS: u32 = 100;
/// Seconds between keyframes when no viewer joins.
pub const GOP_SECONDS: f64 = 2.0;
/// The track's timescale (ticks per second): `tfdt` is read back in it.
pub(super) const TIMESCALE: u64 = 90_000;
/// Frames waiting at the encoder; more are dropped (a viewer never slows the stream).
const APPSRC_MAX_BUFFERS: u64 = 2;
/// When frames were pushed, kept to find the frame a fragment starts with.
const PUSHED_KEPT: usize = 256;

/// A running encoder.
pub struct Mp4Encoder {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    shape: (u32, u32, gst_video::VideoFormat),
    /// PTS of the first frame: the stream starts at 0.
    base: Option<u64>,
    pushed: Pushed,
}

impl Mp4Encoder {
    /// Starts an encoder for frames shaped like `frame`, feeding `live`.
    ///
    /// # Errors
    /// [`Error::Gst`] when the pipeline cannot be made or started.
    pub fn start(frame: &Frame, live: Arc<Live>, track: Track) -> Result<Mp4Encoder> {
        let fps = frame.info.fps();
        let rate = if fps.numer() > 0 && fps.denom() > 0 {
            fps.numer() as f64 / fps.denom() as f64
        } else {
            30.0
        };
        let key_int = ((rate * GOP_SECONDS).round() as u32).max(1);
        let (width, height) = crate::sink::video::even_size(frame);
        let description = format!(
            "appsrc name=src format=time leaky-type=downstream max-buffers={APPSRC_MAX_BUFFERS} ! \
             videoconvert ! videoscale ! \
             video/x-raw,format=I420,width={width},height={height} ! \
             x264enc name=enc speed-preset=ultrafast tune=zerolatency bframes=0 \
             key-int-max={key_int} ! video/x-h264,profile=baseline ! h264parse ! tee name=t \
             t. ! queue ! mux.video_0 \
             mp4mux name=mux fragment-duration={FRAGMENT_MS} streamable=true \
             trak-timescale={TIMESCALE} ! appsink name=out sync=false enable-last-sample=false \
             t. ! queue ! appsink name=h264 sync=false enable-last-sample=false max-buffers=1 drop=true"
        );
        let what = format!("live encoder of {}", live.name);
        let crate::launch::AppPipeline {
            pipeline,
            src: appsrc,
            out: appsink,
        } = crate::launch::app_pipeline(&description, &what)?;
        let units = pipeline
            .by_name("h264")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .expect("named in the description");
        if track == Track::Annotated {
            let to_rtsp = Arc::clone(&live);
            units.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        to_rtsp.publish_h264(&sample);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
        let pushed: Arc<Mutex<VecDeque<(u64, Instant)>>> = Arc::default();
        appsink.set_callbacks(muxed_to(live, track, Some(Arc::clone(&pushed))));
        let caps = frame.info.to_caps().map_err(|e| Error::gst(&what, e))?;
        appsrc.set_caps(Some(&caps));
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| Error::gst(&what, e))?;
        Ok(Mp4Encoder {
            pipeline,
            appsrc,
            shape: (frame.info.width(), frame.info.height(), frame.info.format()),
            base: None,
            pushed,
        })
    }

    /// Whether `frame` has the size and format this encoder was started for.
    pub fn fits(&self, frame: &Frame) -> bool {
        self.shape == (frame.info.width(), frame.info.height(), frame.info.format())
    }

    /// Encodes `buffer` (a frame's pixels, shared) of the frame with PTS `pts` (ns) that
    /// reached the sink at `at`; `keyframe` starts a GOP with it.
    ///
    /// # Errors
    /// [`Error::Gst`] when the encoder failed.
    pub fn push(
        &mut self,
        mut buffer: gst::Buffer,
        pts: u64,
        at: Instant,
        keyframe: bool,
    ) -> Result<()> {
        let bus = self.pipeline.bus().expect("pipeline has a bus");
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(e) = msg.view() {
                return Err(Error::gst("live encoder", e.error()));
            }
        }
        let base = *self.base.get_or_insert(pts);
        let relative = pts.saturating_sub(base);
        {
            let mut pushed = self.pushed.lock();
            if pushed.back().is_some_and(|(p, _)| *p >= relative) && relative > 0 {
                return Ok(()); // not after the last one (a loop's restart): skipped
            }
            if pushed.len() == PUSHED_KEPT {
                pushed.pop_front();
            }
            pushed.push_back((relative, at));
        }
        let b = buffer.make_mut();
        b.set_pts(gst::ClockTime::from_nseconds(relative));
        b.set_dts(gst::ClockTime::NONE);
        if keyframe {
            let event = gst_video::DownstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .build();
            self.appsrc.send_event(event);
        }
        self.appsrc
            .push_buffer(buffer)
            .map(|_| ())
            .map_err(|e| Error::gst("live encoder", format!("{e:?}")))
    }

    /// Stops at once (viewers gone: nothing to drain).
    pub fn stop(self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// When frames were pushed into a muxer: relative PTS (ns) → the time the frame reached the
/// sink.
pub(super) type Pushed = Arc<Mutex<VecDeque<(u64, Instant)>>>;

/// The callbacks of an appsink after `mp4mux`: its byte stream cut into the init segment and
/// fragments, handed to `track` of `live` (from the appsink's thread).
pub(super) fn muxed_to(
    live: Arc<Live>,
    track: Track,
    pushed: Option<Pushed>,
) -> gst_app::AppSinkCallbacks {
    let mut splitter = Splitter::default();
    gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            let Some(buffer) = sample.buffer() else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            let pieces = splitter.push(&map).map_err(|e| {
                tracing::error!(stream = live.name, "live muxer: {e}");
                gst::FlowError::Error
            })?;
            for piece in pieces {
                deliver(&live, track, pushed.as_ref(), piece);
            }
            Ok(gst::FlowSuccess::Ok)
        })
        .build()
}

/// Hands one piece of the muxer's output to the hub; a fragment carries the time its first
/// frame reached the sink (found by its `tfdt`).
fn deliver(live: &Live, track: Track, pushed: Option<&Pushed>, piece: Piece) {
    match piece {
        Piece::Init(init) => live.publish_init(track, init),
        Piece::Fragment {
            bytes,
            keyframe,
            decode_time,
        } => {
            let first_frame = decode_time.zip(pushed).and_then(|(t, pushed)| {
                let ns = t * 1_000_000_000 / TIMESCALE;
                let pushed = pushed.lock();
                // Within a tick's rounding of the frame's own PTS.
                pushed
                    .iter()
                    .find(|(p, _)| p.abs_diff(ns) <= 1_000_000)
                    .map(|(_, at)| *at)
            });
            live.publish_fragment(
                track,
                Chunk {
                    bytes: bytes.into(),
                    first_frame,
                },
                keyframe,
            );
        }
    }
}
