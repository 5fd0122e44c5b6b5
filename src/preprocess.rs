//! Preprocess stage: frame → the infer request's input tensor (resize, written in place), then
//! start the request. Requests come from the free pool, so at most `nireq` frames are in flight.

use crate::engine::{InputSpec, Request};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::pipeline::stats::{Edge, StageStats};
use crossbeam::channel::{Receiver, Sender};
use opencv::core::{Mat, Size, CV_8UC3};
use opencv::imgproc;
use std::time::Instant;

/// A started request and its frame, on its way to the infer stage.
pub struct InFlight {
    pub frame: Frame,
    pub request: Request,
    pub started: Instant,
}

/// Resizes `frame` (packed RGB) into `input` (`[1, H, W, 3]` u8 NHWC RGB, `spec`'s size) with
/// bilinear interpolation (OpenCV `INTER_LINEAR`, as `cv2.resize` in the golden script).
///
/// # Errors
/// [`Error::Gst`] when the buffer cannot be mapped, [`Error::Input`]-free OpenCV failures as
/// [`Error::Gst`] with the OpenCV message.
pub fn resize_into(frame: &Frame, spec: &InputSpec, input: &mut [u8]) -> Result<()> {
    let map = frame
        .buffer
        .map_readable()
        .map_err(|e| Error::gst("map frame", e))?;
    let (w, h) = (frame.info.width() as i32, frame.info.height() as i32);
    let stride = frame.info.stride()[0] as usize;
    if input.len() != spec.byte_size() || map.len() < stride * h as usize {
        return Err(Error::gst(
            "preprocess",
            format!(
                "size mismatch: tensor {} bytes for {}x{}, frame {} bytes for {w}x{h}",
                input.len(),
                spec.width,
                spec.height,
                map.len()
            ),
        ));
    }
    let cv = |e: opencv::Error| Error::gst("preprocess (OpenCV)", e);
    // SAFETY: both Mats borrow memory that outlives them (the mapped buffer, the tensor); the
    // source is only read.
    let src = unsafe {
        Mat::new_rows_cols_with_data_unsafe(h, w, CV_8UC3, map.as_ptr() as *mut _, stride)
    }
    .map_err(cv)?;
    let mut dst = unsafe {
        Mat::new_rows_cols_with_data_unsafe(
            spec.height as i32,
            spec.width as i32,
            CV_8UC3,
            input.as_mut_ptr().cast(),
            spec.width * 3,
        )
    }
    .map_err(cv)?;
    imgproc::resize(
        &src,
        &mut dst,
        Size::new(spec.width as i32, spec.height as i32),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .map_err(cv)
}

/// Runs the stage until `decoded_rx` closes or downstream closes.
pub fn run(
    decoded_rx: Receiver<Frame>,
    free_rx: Receiver<Request>,
    submitted_tx: Sender<InFlight>,
    spec: &InputSpec,
    edge: &Edge,
    stats: &StageStats,
) -> Result<()> {
    for frame in decoded_rx {
        let Ok(mut request) = free_rx.recv() else {
            return Ok(()); // infer stage is gone
        };
        let t0 = Instant::now();
        resize_into(&frame, spec, request.input_mut()?)?;
        request.start()?;
        stats.record(t0.elapsed());
        let msg = InFlight {
            frame,
            request,
            started: Instant::now(),
        };
        if edge.send(&submitted_tx, msg).is_err() {
            return Ok(());
        }
    }
    Ok(())
}
