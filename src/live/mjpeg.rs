//! The live view's JPEG encoder, one per picture width MJPEG viewers ask for: `appsrc !
//! videoconvert ! videoscale ! I420 at the width (aspect kept, even height) ! jpegenc !
//! appsink`, kept running while viewers of that width watch; each picture is framed as one
//! part of `multipart/x-mixed-replace` ([`part`]).

use crate::error::{Error, Result};
use crate::frame::Frame;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// The boundary between MJPEG parts (`multipart/x-mixed-replace; boundary=…`).
pub const BOUNDARY: &str = "ovstreamframe";
/// JPEG quality of live pictures.
const QUALITY: i32 = 80;
/// Longest one picture may take to encode.
const TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(2);

/// A running JPEG encoder for one output width.
pub struct JpegEncoder {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    appsink: gst_app::AppSink,
    shape: (u32, u32, gstreamer_video::VideoFormat),
}

/// The picture size for `width` of a `w`×`h` frame: aspect kept, both even (`None`: as is).
pub fn scaled(w: u32, h: u32, width: Option<u32>) -> (u32, u32) {
    let even = |v: u32| (v & !1).max(2);
    match width {
        Some(to) => {
            let to = even(to);
            (
                to,
                even((u64::from(h) * u64::from(to) / u64::from(w.max(1))) as u32),
            )
        }
        None => (even(w), even(h)),
    }
}

impl JpegEncoder {
    /// Starts an encoder for frames shaped like `frame`, scaled to `width`.
    ///
    /// # Errors
    /// [`Error::Gst`] when the pipeline cannot be made.
    pub fn start(frame: &Frame, width: Option<u32>) -> Result<JpegEncoder> {
        let info = &frame.info;
        let (w, h) = scaled(info.width(), info.height(), width);
        let crate::launch::AppPipeline {
            pipeline,
            src: appsrc,
            out: appsink,
        } = crate::launch::app_pipeline(
            &format!(
                "appsrc name=src format=time ! videoconvert ! videoscale ! \
                 video/x-raw,format=I420,width={w},height={h},pixel-aspect-ratio=1/1 ! \
                 jpegenc quality={QUALITY} ! appsink name=out sync=false enable-last-sample=false"
            ),
            "live JPEG encoder",
        )?;
        let caps = info
            .to_caps()
            .map_err(|e| Error::gst("live JPEG encoder", e))?;
        appsrc.set_caps(Some(&caps));
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| Error::gst("live JPEG encoder", e))?;
        Ok(JpegEncoder {
            pipeline,
            appsrc,
            appsink,
            shape: (info.width(), info.height(), info.format()),
        })
    }

    /// Whether `frame` has the size and format this encoder was started for.
    pub fn fits(&self, frame: &Frame) -> bool {
        self.shape == (frame.info.width(), frame.info.height(), frame.info.format())
    }

    /// `buffer` (a frame's pixels) as a JPEG.
    ///
    /// # Errors
    /// [`Error::Gst`] when the encoder fails or gives nothing within [`TIMEOUT`].
    pub fn encode(&self, buffer: gst::Buffer) -> Result<Vec<u8>> {
        self.appsrc
            .push_buffer(buffer)
            .map_err(|e| Error::gst("live JPEG encoder", format!("{e:?}")))?;
        let sample = self
            .appsink
            .try_pull_sample(TIMEOUT)
            .ok_or_else(|| Error::gst("live JPEG encoder", "no picture"))?;
        let buffer = sample
            .buffer()
            .ok_or_else(|| Error::gst("live JPEG encoder", "an empty sample"))?;
        let map = buffer
            .map_readable()
            .map_err(|e| Error::gst("live JPEG encoder", e))?;
        Ok(map.to_vec())
    }
}

impl Drop for JpegEncoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// `jpeg` as one part of the multipart stream.
pub fn part(jpeg: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        jpeg.len()
    )
    .into_bytes();
    out.extend_from_slice(jpeg);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn scaling_keeps_the_aspect_with_even_sides() {
        assert_eq!(super::scaled(768, 576, Some(320)), (320, 240));
        assert_eq!(super::scaled(1280, 720, Some(321)), (320, 180));
        assert_eq!(super::scaled(641, 481, None), (640, 480));
    }
}
