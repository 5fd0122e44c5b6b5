//! Frame → model input: the I420 frame resized (and letterboxed, and scaled to f32 where the
//! [`InputSpec`] says so) straight into the infer request's input tensor, with OpenCV.

use crate::engine::{InputElement, InputFormat, InputSpec};
use crate::error::{Error, Result};
use crate::frame::Frame;
use opencv::core::{Mat, Size, CV_8UC1, CV_8UC3};
use opencv::imgproc;

/// Work buffers reused from frame to frame (one per thread that fills inputs).
#[derive(Debug, Default)]
pub struct Scratch {
    /// The model-size I420 image between resize and color conversion.
    yuv: Vec<u8>,
    /// The model-size RGB image before it is scaled to f32 or copied.
    rgb: Vec<u8>,
}

/// Wraps plane `plane` of an I420 frame as a single-channel Mat of `rows` x `cols`.
///
/// # Safety
/// `data` must be the mapped frame and outlive the returned Mat; the Mat is only read from.
unsafe fn plane_mat(data: &[u8], frame: &Frame, plane: usize, rows: i32, cols: i32) -> Result<Mat> {
    let offset = frame.info.offset()[plane];
    let stride = frame.info.stride()[plane] as usize;
    if data.len() < offset + stride * (rows as usize - 1) + cols as usize {
        return Err(Error::layout(
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
    Error::opencv("preprocess", e)
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
/// [`Error::Gst`] when the buffer cannot be mapped; [`Error::Layout`] when sizes do not fit;
/// [`Error::OpenCv`] when a resize fails.
pub fn resize_into(
    frame: &Frame,
    spec: &InputSpec,
    input: &mut [u8],
    scratch: &mut Vec<u8>,
) -> Result<()> {
    if input.len() != spec.byte_size() {
        return Err(Error::layout(
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

/// Writes `frame` into one image of the input tensor (`input`: [`InputSpec::byte_size`]
/// bytes) as `spec.format` says: u8, f32 in `[-1, 1]` (`v / 127.5 - 1`) or in `[0, 1]`
/// (`v / 255`), stretched or letterboxed (aspect kept, centered, bars of `format.pad`; see
/// [`crate::engine::Letterbox`]).
///
/// # Errors
/// As [`resize_into`]; [`Error::Layout`] for [`InputElement::F32`], which its caller fills.
pub fn fill_input(
    frame: &Frame,
    spec: &InputSpec,
    input: &mut [u8],
    scratch: &mut Scratch,
) -> Result<()> {
    let format = spec.format;
    let Scratch { yuv, rgb: work } = scratch;
    let scratch = yuv;
    if format == InputFormat::default() {
        return resize_into(frame, spec, input, scratch);
    }
    let (mw, mh) = (spec.width, spec.height);
    work.clear();
    work.resize(mw * mh * 3, format.pad);
    if format.letterbox {
        let lb = spec.letterbox(frame.info.width(), frame.info.height());
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
            return Err(Error::layout(
                "preprocess",
                "f32 inputs are filled by their stage",
            ));
        }
        InputElement::F32Symmetric | InputElement::F32Unit => {
            if input.len() != work.len() * 4 {
                return Err(Error::gst(
                    "preprocess",
                    "input tensor is not f32 of the model size",
                ));
            }
            let (divisor, offset) = if format.element == InputElement::F32Unit {
                (255.0, 0.0)
            } else {
                (127.5, -1.0)
            };
            for (dst, &v) in input.chunks_exact_mut(4).zip(work.iter()) {
                dst.copy_from_slice(&(f32::from(v) / divisor + offset).to_ne_bytes());
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
        return Err(Error::layout(
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
