//! JPEG encoding of face crops (gallery sample thumbnails, remembered unknowns' samples):
//! `appsrc (RGB) ! videoconvert ! jpegenc ! appsink`, one small pipeline per image.

use crate::error::{Error, Result};
use gstreamer as gst;
use opencv::core::{Mat, CV_8UC3};
use opencv::prelude::*;

/// JPEG quality of face crops.
const QUALITY: u32 = 90;
/// How long one encode may take.
const TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(5);

/// Encodes an RGB u8 `Mat` (`CV_8UC3`, width a multiple of 4) as JPEG.
///
/// # Errors
/// [`Error::Layout`] for another Mat type or width; [`Error::Gst`] when the encoder fails.
pub fn jpeg(rgb: &Mat) -> Result<Vec<u8>> {
    if rgb.typ() != CV_8UC3 || rgb.cols() % 4 != 0 || rgb.rows() == 0 {
        return Err(Error::layout(
            "face crop",
            "an RGB crop with a width that is a multiple of 4",
        ));
    }
    let bytes = rgb
        .data_bytes()
        .map_err(|e| Error::opencv("face crop", e))?;
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", rgb.cols())
        .field("height", rgb.rows())
        .field("framerate", gst::Fraction::new(0, 1))
        .build();
    let what = "face crop JPEG";
    let crate::launch::AppPipeline { pipeline, src, out } = crate::launch::app_pipeline(
        &format!(
            "appsrc name=src format=time ! videoconvert ! jpegenc quality={QUALITY} ! \
             appsink name=out sync=false"
        ),
        what,
    )?;
    src.set_caps(Some(&caps));
    use gstreamer::prelude::*;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| Error::gst(what, e))?;
    let mut buffer = gst::Buffer::from_slice(bytes.to_vec());
    buffer
        .get_mut()
        .expect("a new buffer")
        .set_pts(gst::ClockTime::ZERO);
    let pushed = src
        .push_buffer(buffer)
        .map_err(|e| Error::gst(what, e))
        .and_then(|_| src.end_of_stream().map_err(|e| Error::gst(what, e)));
    let sample = pushed.and_then(|_| {
        out.try_pull_sample(TIMEOUT)
            .ok_or_else(|| Error::gst(what, "the encoder gave no JPEG"))
    });
    let _ = pipeline.set_state(gst::State::Null);
    let sample = sample?;
    let map = sample
        .buffer()
        .ok_or_else(|| Error::gst(what, "an empty sample"))?
        .map_readable()
        .map_err(|e| Error::gst(what, e))?;
    Ok(map.to_vec())
}
