//! The recorder's own H.264 encoder, for what has no H.264/H.265 packets to copy: raw sources
//! (`test://`, raw or MJPEG cameras), other codecs (MPEG-4, VP8 files) and `annotated = true`.
//! `appsrc ! videoconvert ! I420 ! x264enc (the MP4 output's preset, zero latency, a keyframe
//! every [`GOP_SECONDS`]) ! h264parse ! avc ! appsink`; each packet goes into a [`Tap`] stamped
//! with the frame's PTS, so clips are cut from it exactly as from a camera's stream.

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::source::Tap;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// Seconds between keyframes: the most a clip starts before its pre-capture.
pub const GOP_SECONDS: u32 = 2;
/// Frames queued at the encoder before `push` blocks (back-pressure, as the MP4 output).
const APPSRC_MAX_BUFFERS: u64 = 4;

/// A running encoder feeding a tap.
pub struct Encoder {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    shape: (u32, u32),
    source: String,
}

impl Encoder {
    /// Starts an encoder for frames shaped like `frame` (size and rate from its caps).
    ///
    /// # Errors
    /// [`Error::Gst`] when the pipeline cannot be made.
    pub fn start(frame: &Frame, tap: &Tap, source: &str) -> Result<Encoder> {
        let fps = frame.info.fps();
        let rate = if fps.numer() > 0 && fps.denom() > 0 {
            fps.numer() as f64 / fps.denom() as f64
        } else {
            30.0
        };
        let key_int = ((rate * f64::from(GOP_SECONDS)).round() as u32).max(1);
        let (width, height) = crate::sink::video::even_size(frame);
        let description = format!(
            "appsrc name=src format=time max-buffers={APPSRC_MAX_BUFFERS} block=true ! \
             videoconvert ! videoscale ! \
             video/x-raw,format=I420,width={width},height={height} ! \
             x264enc speed-preset=ultrafast tune=zerolatency key-int-max={key_int} ! \
             h264parse ! video/x-h264,stream-format=avc,alignment=au ! \
             appsink name=out sync=false enable-last-sample=false"
        );
        let crate::launch::AppPipeline {
            pipeline,
            src: appsrc,
            out: appsink,
        } = crate::launch::app_pipeline(&description, "record encoder")?;
        let into = tap.clone();
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let (Some(caps), Some(buffer)) = (sample.caps(), sample.buffer_owned()) {
                        into.push_encoded(&caps.to_owned(), running_time(&sample, buffer));
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        let caps = frame
            .info
            .to_caps()
            .map_err(|e| Error::gst("record encoder caps", e))?;
        appsrc.set_caps(Some(&caps));
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| Error::gst("record encoder start", e))?;
        Ok(Encoder {
            pipeline,
            appsrc,
            shape: (frame.info.width(), frame.info.height()),
            source: source.to_string(),
        })
    }

    /// Whether `frame` has the size this encoder was started for.
    pub fn fits(&self, frame: &Frame) -> bool {
        self.shape == (frame.info.width(), frame.info.height())
    }

    /// Encodes `frame` (its buffer is shared, not copied), stamped with its PTS.
    ///
    /// # Errors
    /// [`Error::Gst`] when the encoder failed.
    pub fn push(&self, frame: &Frame) -> Result<()> {
        let bus = self.pipeline.bus().expect("pipeline has a bus");
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(e) = msg.view() {
                return Err(Error::gst("record encoder", e.error()));
            }
        }
        let mut buffer = frame.buffer.clone();
        let pts = gst::ClockTime::from_nseconds(frame.pts);
        if buffer.pts() != Some(pts) {
            buffer.make_mut().set_pts(pts);
        }
        self.appsrc
            .push_buffer(buffer)
            .map(|_| ())
            .map_err(|e| Error::gst("record encoder", format!("{}: {e:?}", self.source)))
    }

    /// Drains the encoder (every frame pushed reaches the tap).
    pub fn finish(self) {
        let _ = self.appsrc.end_of_stream();
        if let Some(bus) = self.pipeline.bus() {
            let _ = bus.timed_pop_filtered(
                gst::ClockTime::from_seconds(10),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            );
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// `buffer` with its PTS and DTS as running time: x264enc shifts its output by 1000 hours (room
/// for negative DTS) and says so in the segment; the tap wants the frames' own PTS back.
fn running_time(sample: &gst::Sample, mut buffer: gst::Buffer) -> gst::Buffer {
    let Some(segment) = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>())
    else {
        return buffer;
    };
    let (pts, dts) = (buffer.pts(), buffer.dts());
    let b = buffer.make_mut();
    b.set_pts(pts.and_then(|t| segment.to_running_time(t)));
    b.set_dts(dts.and_then(|t| segment.to_running_time(t)));
    buffer
}
