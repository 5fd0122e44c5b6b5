//! Snapshots: one frame as JPEG (GStreamer's `jpegenc`), annotated with the overlay or as
//! decoded — what `GET /api/streams/{name}/snapshot.jpg` serves.

use crate::error::{Error, Result};
use crate::frame::AnalyzedFrame;
use gstreamer as gst;
use gstreamer::prelude::*;

/// JPEG quality of snapshots.
const QUALITY: i32 = 85;
/// Longest an encode may take.
const TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(5);

/// `frame` as a JPEG of its own size; with `annotate`, boxes, labels, zones and lines are
/// drawn on a copy first (the frame itself is not touched).
///
/// # Errors
/// [`Error::OpenCv`] or [`Error::Layout`] from the overlay; [`Error::Gst`] from the encoder.
pub fn jpeg(frame: &AnalyzedFrame, annotate: bool) -> Result<Vec<u8>> {
    let mut frame = frame.clone();
    if annotate {
        frame.frame.buffer = frame
            .frame
            .buffer
            .copy_deep()
            .map_err(|e| Error::gst("snapshot copy", e))?;
        crate::overlay::draw(&mut frame)?;
    }
    let info = &frame.frame.info;
    let caps = info.to_caps().map_err(|e| Error::gst("snapshot caps", e))?;
    let crate::launch::AppPipeline { pipeline, src, out } = crate::launch::app_pipeline(
        &format!(
            "appsrc name=src format=time ! videoconvert ! jpegenc quality={QUALITY} ! \
             appsink name=out sync=false"
        ),
        "snapshot pipeline",
    )?;
    src.set_caps(Some(&caps));
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| Error::gst("snapshot pipeline", e))?;
    let mut buffer = frame.frame.buffer.clone();
    buffer.make_mut().set_pts(gst::ClockTime::ZERO);
    let pushed = src
        .push_buffer(buffer)
        .map_err(|e| Error::gst("snapshot push", e))
        .and_then(|_| {
            src.end_of_stream()
                .map_err(|e| Error::gst("snapshot EOS", e))
        });
    let sample = pushed.and_then(|_| {
        out.try_pull_sample(TIMEOUT)
            .ok_or_else(|| Error::gst("snapshot", "the encoder gave no JPEG"))
    });
    let _ = pipeline.set_state(gst::State::Null);
    let sample = sample?;
    let buffer = sample
        .buffer()
        .ok_or_else(|| Error::gst("snapshot", "an empty sample"))?;
    let map = buffer
        .map_readable()
        .map_err(|e| Error::gst("snapshot map", e))?;
    Ok(map.to_vec())
}
