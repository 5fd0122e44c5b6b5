//! Video sinks fed through `appsrc`: H.264 MP4 files and an on-screen display.
//!
//! MP4: `appsrc ! videoconvert ! videoscale ! I420 at the first frame's size ! x264enc !
//! h264parse ! mp4mux (fragmented) ! filesink`. Frames are already I420, so videoconvert and
//! videoscale pass them through; I420 is pinned before x264enc so it never picks a 4:4:4
//! profile few players decode. A stream whose frame size changes mid-way (a TS with two
//! resolutions, a camera that comes back at another size) is scaled to its first size, never
//! cropped: the appsrc caps follow each frame. The MP4 is written in fragments of
//! [`FRAGMENT_MS`]: a run killed without a chance to finish (SIGKILL, a second SIGINT, power
//! loss) leaves a file that plays up to its last fragment; the price is a slightly larger
//! file. `finish()` sends EOS and waits for it, so the file is complete after a normal end or
//! one SIGINT. An MP4 output may share its encoder ([`crate::sink::Output::share_encoder`]):
//! `h264parse ! tee`, one branch to the muxer, one (leaky) to an appsink whose access units go
//! to the stream's live view; a keyframe is forced when the live view asks for one.

use crate::error::{Error, Result};
use crate::frame::Frame;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};

/// How long `finish()` waits for the muxer to write the file.
const FINISH_TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(60);
/// Length of an MP4 fragment in ms: at most this much video is lost when the process is killed.
pub const FRAGMENT_MS: u32 = 1000;
/// Frames the appsrc queues before `push` blocks (back-pressure from the encoder).
const APPSRC_MAX_BUFFERS: u64 = 4;

/// An appsrc-fed GStreamer pipeline that consumes annotated frames.
pub struct VideoSink {
    what: PathBuf,
    tail: String,
    pipeline: Option<gst::Pipeline>,
    appsrc: Option<gst_app::AppSrc>,
    /// Size and format of the appsrc caps now (they follow the frames).
    shape: Option<(u32, u32, gstreamer_video::VideoFormat)>,
    /// Who else takes the encoded video ([`crate::sink::Output::share_encoder`]).
    share: Option<std::sync::Arc<crate::sink::EncoderShare>>,
}

/// With a share: the encoder's output is split, one branch to the muxer, one to `units`.
const SHARED_TEE: &str = "tee name=t t. ! queue ! mux.video_0 ";
const SHARED_BRANCH: &str =
    " t. ! queue leaky=downstream max-size-buffers=30 ! appsink name=units sync=false async=false";

impl VideoSink {
    /// An MP4 (H.264) file at `path`; parent folders are created.
    pub fn mp4(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::Output {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        // The location is set as a property, so any path works without quoting.
        Ok(Self::with_tail(
            path,
            &format!(
                "videoconvert ! videoscale ! video/x-raw,format=I420{{size}} ! \
                 x264enc speed-preset=ultrafast ! h264parse ! {{tee}}\
                 mp4mux name=mux fragment-duration={FRAGMENT_MS} ! filesink name=file buffer-mode=unbuffered{{branch}}"
            ),
        ))
    }

    /// An on-screen window.
    pub fn display() -> Self {
        Self::with_tail(
            Path::new("display"),
            "videoconvert ! autovideosink sync=false",
        )
    }

    fn with_tail(what: &Path, tail: &str) -> Self {
        VideoSink {
            what: what.to_path_buf(),
            tail: tail.to_string(),
            pipeline: None,
            appsrc: None,
            shape: None,
            share: None,
        }
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Output {
            path: self.what.clone(),
            message: message.to_string(),
        }
    }

    /// Builds the pipeline on the first frame (its caps give size and format).
    fn start(&mut self, frame: &Frame) -> Result<()> {
        // The output keeps the first frame's size, made even (x264 refuses odd 4:2:0 sizes: a
        // 161x121 camera is scaled to 160x120).
        let (width, height) = even_size(frame);
        let size = format!(",width={width},height={height}");
        let (tee, branch) = if self.share.is_some() {
            (SHARED_TEE, SHARED_BRANCH)
        } else {
            ("", "")
        };
        let description = format!(
            "appsrc name=src format=time max-buffers={APPSRC_MAX_BUFFERS} block=true ! {}",
            self.tail
                .replace("{size}", &size)
                .replace("{tee}", tee)
                .replace("{branch}", branch)
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| self.error(e))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| self.error("not a pipeline"))?;
        if let Some(file) = pipeline.by_name("file") {
            file.set_property("location", self.what.to_string_lossy().as_ref());
        }
        let appsrc = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| self.error("no appsrc"))?;
        if let (Some(share), Some(units)) = (&self.share, pipeline.by_name("units")) {
            let share = std::sync::Arc::clone(share);
            let units = units
                .downcast::<gst_app::AppSink>()
                .map_err(|_| self.error("units is not an appsink"))?;
            units.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        (share.on_unit)(&sample);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
        let caps = frame.info.to_caps().map_err(|e| self.error(e))?;
        appsrc.set_caps(Some(&caps));
        self.shape = Some(shape(frame));
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| self.error(format!("cannot start: {e}")))?;
        self.pipeline = Some(pipeline);
        self.appsrc = Some(appsrc);
        Ok(())
    }

    /// Pushes one frame (the buffer is shared, not copied).
    pub fn push(&mut self, frame: &Frame) -> Result<()> {
        if self.appsrc.is_none() {
            self.start(frame)?;
        }
        self.check_bus()?;
        let appsrc = self.appsrc.as_ref().expect("started");
        if self.shape != Some(shape(frame)) {
            let caps = frame.info.to_caps().map_err(|e| self.error(e))?;
            tracing::info!(
                output = %self.what.display(),
                width = frame.info.width(),
                height = frame.info.height(),
                "frame size changed; scaled to the output's first size"
            );
            appsrc.set_caps(Some(&caps));
            self.shape = Some(shape(frame));
        }
        if let Some(share) = &self.share {
            if share
                .want_keyframe
                .swap(false, std::sync::atomic::Ordering::Relaxed)
            {
                let event = gstreamer_video::DownstreamForceKeyUnitEvent::builder()
                    .all_headers(true)
                    .build();
                appsrc.send_event(event);
            }
        }
        appsrc
            .push_buffer(frame.buffer.clone())
            .map_err(|e| self.error(format!("push failed: {e:?}")))?;
        Ok(())
    }

    fn check_bus(&self) -> Result<()> {
        let Some(bus) = self.pipeline.as_ref().and_then(|p| p.bus()) else {
            return Ok(());
        };
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Err(self.error(err.error()));
            }
        }
        Ok(())
    }

    /// Sends EOS and waits until the file is finalized; safe to call when nothing was pushed.
    pub fn finish(&mut self) -> Result<()> {
        let (Some(pipeline), Some(appsrc)) = (self.pipeline.take(), self.appsrc.take()) else {
            return Ok(());
        };
        let _ = appsrc.end_of_stream();
        let bus = pipeline.bus().expect("pipeline has a bus");
        let msg = bus.timed_pop_filtered(
            FINISH_TIMEOUT,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        let _ = pipeline.set_state(gst::State::Null);
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => Ok(()),
            Some(gst::MessageView::Error(err)) => Err(self.error(err.error())),
            _ => Err(self.error(format!("not finalized within {FINISH_TIMEOUT}"))),
        }
    }
}

/// The frame's size rounded down to even numbers (at least 2x2): what H.264 4:2:0 encodes.
pub fn even_size(frame: &Frame) -> (u32, u32) {
    let even = |v: u32| (v & !1).max(2);
    (even(frame.info.width()), even(frame.info.height()))
}

fn shape(frame: &Frame) -> (u32, u32, gstreamer_video::VideoFormat) {
    (frame.info.width(), frame.info.height(), frame.info.format())
}

/// An MP4 file or a window: the annotated frames, encoded or shown.
impl crate::sink::Output for VideoSink {
    fn describe(&self) -> String {
        self.what.display().to_string()
    }

    fn needs_pixels(&self) -> bool {
        true
    }

    fn write(&mut self, frame: &mut crate::frame::AnalyzedFrame, _source: &str) -> Result<()> {
        self.push(&frame.frame)
    }

    fn finish(&mut self) -> Result<()> {
        VideoSink::finish(self)
    }

    /// An MP4 output shares its encoder (a display has none); only before its first frame.
    fn share_encoder(&mut self, share: std::sync::Arc<crate::sink::EncoderShare>) -> bool {
        if !self.tail.contains("{tee}") || self.pipeline.is_some() {
            return false;
        }
        self.share = Some(share);
        true
    }
}

impl Drop for VideoSink {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
