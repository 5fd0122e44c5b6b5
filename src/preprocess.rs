//! Preprocess stage: frame → the infer request's input tensor (resize, written in place), then
//! start the request. Requests come from the free pool, so at most `nireq` frames are in flight.

use crate::adapters::blazeface::Letterbox;
use crate::adapters::{InputElement, InputFormat};
use crate::engine::{InputSpec, Request};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::pipeline::round_robin::RoundRobin;
use crate::pipeline::stats::{Edge, StageStats};
use crossbeam::channel::{Receiver, Sender};
use opencv::core::{Mat, Size, CV_8UC1, CV_8UC3};
use opencv::imgproc;
use std::time::Instant;

/// A started request and its frames (one per image of the batch; fewer than `batch` when no
/// more were ready), on its way to the infer stage.
pub struct InFlight {
    pub frames: Vec<Frame>,
    pub request: Request,
    pub started: Instant,
}

/// Wraps plane `plane` of an I420 frame as a single-channel Mat of `rows` x `cols`.
///
/// # Safety
/// `data` must be the mapped frame and outlive the returned Mat; the Mat is only read from.
unsafe fn plane_mat(data: &[u8], frame: &Frame, plane: usize, rows: i32, cols: i32) -> Result<Mat> {
    let offset = frame.info.offset()[plane];
    let stride = frame.info.stride()[plane] as usize;
    if data.len() < offset + stride * (rows as usize - 1) + cols as usize {
        return Err(Error::gst(
            "preprocess",
            format!("frame buffer too small for plane {plane}"),
        ));
    }
    Mat::new_rows_cols_with_data_unsafe(
        rows,
        cols,
        CV_8UC1,
        data.as_ptr().add(offset) as *mut _,
        stride,
    )
    .map_err(cv_err)
}

fn cv_err(e: opencv::Error) -> Error {
    Error::gst("preprocess (OpenCV)", e)
}

/// Writes `frame` (I420) into `input` (`[1, H, W, 3]` u8 NHWC RGB at `spec`'s size).
///
/// Only the small image is color-converted: each plane is resized with bilinear interpolation
/// (OpenCV `INTER_LINEAR`) into `scratch` as an I420 image of the model size, which is then
/// converted to RGB (`COLOR_YUV2RGB_I420`, BT.601) straight into the tensor. The golden script
/// (`tests/golden/ssd_reference.py`) does the same with `cv2`. `spec` width and height must be
/// even.
///
/// # Errors
/// [`Error::Gst`] when the buffer cannot be mapped or sizes do not fit.
pub fn resize_into(
    frame: &Frame,
    spec: &InputSpec,
    input: &mut [u8],
    scratch: &mut Vec<u8>,
) -> Result<()> {
    if input.len() != spec.byte_size() {
        return Err(Error::gst(
            "preprocess",
            format!(
                "input tensor has {} bytes, want {}",
                input.len(),
                spec.byte_size()
            ),
        ));
    }
    resize_rgb(
        frame,
        spec.width as i32,
        spec.height as i32,
        input,
        spec.width * 3,
        scratch,
    )
}

/// Writes `frame` into `input` in `format`: u8 or f32 in `[-1, 1]` (`v / 127.5 - 1`),
/// stretched or letterboxed (aspect kept, centered, black bars; see
/// [`crate::adapters::blazeface::Letterbox`]). `work` holds the RGB image between steps.
///
/// # Errors
/// As [`resize_into`].
pub fn fill_input(
    frame: &Frame,
    spec: &InputSpec,
    format: InputFormat,
    input: &mut [u8],
    scratch: &mut Vec<u8>,
    work: &mut Vec<u8>,
) -> Result<()> {
    if format == InputFormat::default() {
        return resize_into(frame, spec, input, scratch);
    }
    let (mw, mh) = (spec.width, spec.height);
    work.clear();
    work.resize(mw * mh * 3, 0);
    if format.letterbox {
        let lb = Letterbox::fit(
            frame.info.width(),
            frame.info.height(),
            mw as u32,
            mh as u32,
        );
        // The scaled frame is converted straight into its place on the black canvas.
        let at = (lb.pad_y as usize * mw + lb.pad_x as usize) * 3;
        resize_rgb(
            frame,
            lb.width as i32,
            lb.height as i32,
            &mut work[at..],
            mw * 3,
            scratch,
        )?;
    } else {
        resize_rgb(frame, mw as i32, mh as i32, work, mw * 3, scratch)?;
    }
    match format.element {
        InputElement::U8 => input.copy_from_slice(work),
        InputElement::F32 => {
            return Err(Error::gst(
                "preprocess",
                "f32 inputs are filled by their stage",
            ));
        }
        InputElement::F32Symmetric => {
            if input.len() != work.len() * 4 {
                return Err(Error::gst(
                    "preprocess",
                    "input tensor is not f32 of the model size",
                ));
            }
            for (dst, &v) in input.chunks_exact_mut(4).zip(work.iter()) {
                dst.copy_from_slice(&(f32::from(v) / 127.5 - 1.0).to_ne_bytes());
            }
        }
    }
    Ok(())
}

/// Resizes the I420 `frame` to `mw` x `mh` (even) RGB u8 into `input`, whose rows are
/// `row_bytes` apart (`mw * 3` for a packed image, more for a region of a wider one).
fn resize_rgb(
    frame: &Frame,
    mw: i32,
    mh: i32,
    input: &mut [u8],
    row_bytes: usize,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    let needed = row_bytes * (mh as usize - 1) + mw as usize * 3;
    if input.len() < needed || row_bytes < mw as usize * 3 || mw % 2 != 0 || mh % 2 != 0 {
        return Err(Error::gst(
            "preprocess",
            format!(
                "input tensor {} bytes for {mw}x{mh} (even sizes only)",
                input.len()
            ),
        ));
    }
    let map = frame
        .buffer
        .map_readable()
        .map_err(|e| Error::gst("map frame", e))?;
    let (w, h) = (frame.info.width() as i32, frame.info.height() as i32);
    let (cw, ch) = ((w + 1) / 2, (h + 1) / 2);
    let (mcw, mch) = (mw / 2, mh / 2);
    // scratch: Y (mh x mw), then U and V (mch x mcw each), contiguous: an I420 image.
    let y_len = (mw * mh) as usize;
    let c_len = (mcw * mch) as usize;
    scratch.resize(y_len + 2 * c_len, 0);
    let base = scratch.as_mut_ptr();
    // SAFETY: the Mats borrow `map` and `scratch`/`input`, all alive for this function; the
    // three destination regions of `scratch` do not overlap.
    unsafe {
        let planes = [
            (0, h, w, mh, mw, 0),
            (1, ch, cw, mch, mcw, y_len),
            (2, ch, cw, mch, mcw, y_len + c_len),
        ];
        for (plane, rows, cols, drows, dcols, off) in planes {
            let src = plane_mat(&map, frame, plane, rows, cols)?;
            let mut dst = Mat::new_rows_cols_with_data_unsafe(
                drows,
                dcols,
                CV_8UC1,
                base.add(off).cast(),
                dcols as usize,
            )
            .map_err(cv_err)?;
            imgproc::resize(
                &src,
                &mut dst,
                Size::new(dcols, drows),
                0.0,
                0.0,
                imgproc::INTER_LINEAR,
            )
            .map_err(cv_err)?;
        }
        let yuv =
            Mat::new_rows_cols_with_data_unsafe(mh + mch, mw, CV_8UC1, base.cast(), mw as usize)
                .map_err(cv_err)?;
        let mut rgb = Mat::new_rows_cols_with_data_unsafe(
            mh,
            mw,
            CV_8UC3,
            input.as_mut_ptr().cast(),
            row_bytes,
        )
        .map_err(cv_err)?;
        imgproc::cvt_color_def(&yuv, &mut rgb, imgproc::COLOR_YUV2RGB_I420).map_err(cv_err)?;
    }
    Ok(())
}

/// Runs the stage until every source's `decoded` edge closes, or downstream closes. With
/// `spec.batch` > 1 a request takes the next frame (waiting for it) plus whatever frames are
/// ready then, in turn across sources, up to `batch`; it never waits to fill a batch.
pub fn run(
    mut decoded: RoundRobin<Frame>,
    free_rx: Receiver<Request>,
    submitted_tx: Sender<InFlight>,
    spec: &InputSpec,
    format: InputFormat,
    edge: &Edge,
    stats: &StageStats,
) -> Result<()> {
    let (mut scratch, mut work) = (Vec::new(), Vec::new());
    // Take a free request first, then the frame: a frame never waits here for a request while
    // fresher ones arrive behind it (live sources keep only the newest in `decoded`).
    for mut request in free_rx.iter() {
        let Some(first) = decoded.recv() else {
            return Ok(()); // EOS
        };
        let mut frames = vec![first];
        while frames.len() < spec.batch {
            match decoded.try_recv() {
                Some(frame) => frames.push(frame),
                None => break,
            }
        }
        let t0 = Instant::now();
        // One image per slot of the `[batch, H, W, 3]` tensor; unused slots keep old pixels
        // and their outputs are ignored.
        let input = request.input_mut()?;
        for (frame, slot) in frames.iter().zip(input.chunks_exact_mut(spec.byte_size())) {
            fill_input(frame, spec, format, slot, &mut scratch, &mut work)?;
        }
        request.start()?;
        let per_frame = t0.elapsed() / frames.len() as u32;
        for _ in &frames {
            stats.record(per_frame);
        }
        let msg = InFlight {
            frames,
            request,
            started: Instant::now(),
        };
        if edge.send(&submitted_tx, msg).is_err() {
            return Ok(());
        }
    }
    Ok(()) // infer stage is gone
}
