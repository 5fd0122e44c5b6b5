//! Frame → model input: the I420 frame resized (and letterboxed, and scaled to f32 where the
//! [`InputSpec`] says so) straight into the infer request's input tensor, with OpenCV.
//!
//! Two ways to resize ([`Resize`], `[model] resize`): `rgb` converts the whole frame to RGB and
//! resizes that (what the models were trained and calibrated on); `planes` resizes the three
//! I420 planes and converts only the model-size image (less work for large frames).

use crate::colorimetry::{self, Colorimetry};
use crate::config::Resize;
use crate::engine::{InputElement, InputFormat, InputSpec};
use crate::error::{Error, Result};
use crate::frame::Frame;
use opencv::core::{Mat, Size, CV_8UC1, CV_8UC3};
use opencv::imgproc;

/// Work buffers reused from frame to frame (one per thread that fills inputs).
#[derive(Debug, Default)]
pub struct Scratch {
    resize: ResizeScratch,
    /// The model-size RGB image before it is scaled to f32 or copied.
    rgb: Vec<u8>,
}

/// What [`resize_rgb`] works in.
#[derive(Debug, Default)]
struct ResizeScratch {
    /// `planes`: the model-size I420 image between resize and color conversion; `rgb`: the
    /// frame's I420 copy when its planes are not laid out back to back or are full range.
    yuv: Vec<u8>,
    /// `rgb`: the whole frame as RGB.
    whole: Vec<u8>,
}

/// Wraps plane `plane` of an I420 frame as a single-channel Mat of `rows` x `cols`.
///
/// # Safety
/// `data` must be the mapped frame and outlive the returned Mat; the Mat is only read from.
unsafe fn plane_mat(data: &[u8], frame: &Frame, plane: usize, rows: i32, cols: i32) -> Result<Mat> {
    let (offset, stride) = plane_layout(data, frame, plane, rows as usize, cols as usize)?;
    Mat::new_rows_cols_with_data_unsafe(
        rows,
        cols,
        CV_8UC1,
        data.as_ptr().add(offset) as *mut _,
        stride,
    )
    .map_err(cv_err)
}

/// Offset and stride of plane `plane` of the I420 `frame` mapped as `data`, checked to hold
/// `rows` x `cols` bytes.
fn plane_layout(
    data: &[u8],
    frame: &Frame,
    plane: usize,
    rows: usize,
    cols: usize,
) -> Result<(usize, usize)> {
    let offset = frame.info.offset()[plane];
    let stride = frame.info.stride()[plane] as usize;
    if data.len() < offset + stride * (rows - 1) + cols {
        return Err(Error::layout(
            "preprocess",
            format!("frame buffer too small for plane {plane}"),
        ));
    }
    Ok((offset, stride))
}

fn cv_err(e: opencv::Error) -> Error {
    Error::opencv("preprocess", e)
}

/// Writes `frame` (I420) into `input` (`[1, H, W, 3]` u8 NHWC RGB at `spec`'s size).
///
/// `spec.format.resize` picks how: `rgb` converts the whole frame to RGB
/// (`COLOR_YUV2RGB_I420`, BT.601 limited range, corrected to the frame's colorimetry: see
/// [`crate::colorimetry`]) and resizes it with bilinear interpolation
/// (OpenCV `INTER_LINEAR`) straight into the tensor; `planes` resizes each plane into
/// `scratch` as an I420 image of the model size and converts only that. The golden script
/// (`tests/golden/ssd_reference.py --resize rgb|planes`) does the same with `cv2`. `spec` width
/// and height must be even.
///
/// # Errors
/// [`Error::Gst`] when the buffer cannot be mapped; [`Error::Layout`] when sizes do not fit;
/// [`Error::OpenCv`] when a resize fails.
fn resize_into(
    frame: &Frame,
    spec: &InputSpec,
    input: &mut [u8],
    scratch: &mut ResizeScratch,
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
        spec.format.resize,
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
    let plain = InputFormat {
        resize: format.resize,
        ..InputFormat::default()
    };
    if format == plain {
        return resize_into(frame, spec, input, &mut scratch.resize);
    }
    fill_converted(frame, spec, input, &mut scratch.rgb, &mut scratch.resize)
}

/// [`fill_input`] for letterboxed or f32 inputs: the RGB image is made in `work`, then copied
/// or scaled into `input`.
fn fill_converted(
    frame: &Frame,
    spec: &InputSpec,
    input: &mut [u8],
    work: &mut Vec<u8>,
    scratch: &mut ResizeScratch,
) -> Result<()> {
    let format = spec.format;
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
            format.resize,
            scratch,
        )?;
    } else {
        resize_rgb(
            frame,
            mw as i32,
            mh as i32,
            work,
            mw * 3,
            format.resize,
            scratch,
        )?;
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
/// `row_bytes` apart (`mw * 3` for a packed image, more for a region of a wider one), the way
/// `resize` says.
fn resize_rgb(
    frame: &Frame,
    mw: i32,
    mh: i32,
    input: &mut [u8],
    row_bytes: usize,
    resize: Resize,
    scratch: &mut ResizeScratch,
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
    // SAFETY: `input` holds `needed` bytes (checked above) and outlives the Mat.
    let mut dst = unsafe {
        Mat::new_rows_cols_with_data_unsafe(mh, mw, CV_8UC3, input.as_mut_ptr().cast(), row_bytes)
    }
    .map_err(cv_err)?;
    // A frame under 2x2 has no whole 4:2:0 block to convert: its planes are resized instead.
    let whole = frame.info.width() >= 2 && frame.info.height() >= 2;
    let colorimetry = Colorimetry::of(&frame.info);
    let full_range = colorimetry.full_range;
    match resize {
        Resize::Rgb if whole => resize_whole(frame, &map, (mw, mh), full_range, &mut dst, scratch),
        Resize::Rgb | Resize::Planes => resize_planes(
            frame,
            &map,
            (mw, mh),
            full_range,
            &mut dst,
            &mut scratch.yuv,
        ),
    }?;
    // A matrix other than BT.601 (HD video is BT.709): the model-size image is corrected.
    colorimetry.correct_rgb(&mut dst)
}

/// `rgb`: the whole frame converted to RGB in `scratch.whole`, then resized into `dst`.
///
/// A frame of odd width or height leaves its last column or row out (4:2:0 converts in 2x2
/// blocks; the frame is at least 2x2); planes that are not back to back (padded strides) are
/// copied together first, as are full-range planes, which are scaled to limited range there.
fn resize_whole(
    frame: &Frame,
    data: &[u8],
    (mw, mh): (i32, i32),
    full_range: bool,
    dst: &mut Mat,
    scratch: &mut ResizeScratch,
) -> Result<()> {
    let info = &frame.info;
    let (w, h) = (info.width() as usize & !1, info.height() as usize & !1);
    let (offsets, strides) = (info.offset(), info.stride());
    let y_len = w * h;
    let c_len = y_len / 4;
    let packed = strides[0] as usize == w
        && strides[1] as usize == w / 2
        && strides[2] as usize == w / 2
        && offsets[1] == offsets[0] + y_len
        && offsets[2] == offsets[1] + c_len
        && data.len() >= offsets[0] + y_len + 2 * c_len;
    let i420: &[u8] = if packed && !full_range {
        &data[offsets[0]..offsets[0] + y_len + 2 * c_len]
    } else {
        let yuv = &mut scratch.yuv;
        yuv.clear();
        if packed {
            yuv.extend_from_slice(&data[offsets[0]..offsets[0] + y_len + 2 * c_len]);
        } else {
            for (plane, rows, cols) in [(0, h, w), (1, h / 2, w / 2), (2, h / 2, w / 2)] {
                let (offset, stride) = plane_layout(data, frame, plane, rows, cols)?;
                for r in 0..rows {
                    let at = offset + r * stride;
                    yuv.extend_from_slice(&data[at..at + cols]);
                }
            }
        }
        if full_range {
            let (luma, chroma) = yuv.split_at_mut(y_len);
            colorimetry::limit_range(luma, chroma);
        }
        yuv
    };
    scratch.whole.resize(y_len * 3, 0);
    // SAFETY: `i420` and `scratch.whole` hold the sizes given and outlive the Mats, which are
    // read from (`src`) or written within their bounds by OpenCV (`rgb`).
    unsafe {
        let src = Mat::new_rows_cols_with_data_unsafe(
            (h + h / 2) as i32,
            w as i32,
            CV_8UC1,
            i420.as_ptr() as *mut _,
            w,
        )
        .map_err(cv_err)?;
        let mut rgb = Mat::new_rows_cols_with_data_unsafe(
            h as i32,
            w as i32,
            CV_8UC3,
            scratch.whole.as_mut_ptr().cast(),
            w * 3,
        )
        .map_err(cv_err)?;
        imgproc::cvt_color_def(&src, &mut rgb, imgproc::COLOR_YUV2RGB_I420).map_err(cv_err)?;
        imgproc::resize(
            &rgb,
            dst,
            Size::new(mw, mh),
            0.0,
            0.0,
            imgproc::INTER_LINEAR,
        )
        .map_err(cv_err)?;
    }
    Ok(())
}

/// `planes`: each I420 plane resized into `scratch` (an I420 image of the model size), which is
/// then converted into `dst` (full-range planes scaled to limited range first).
fn resize_planes(
    frame: &Frame,
    map: &[u8],
    (mw, mh): (i32, i32),
    full_range: bool,
    dst: &mut Mat,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    let (w, h) = (frame.info.width() as i32, frame.info.height() as i32);
    let (cw, ch) = ((w + 1) / 2, (h + 1) / 2);
    let (mcw, mch) = (mw / 2, mh / 2);
    // scratch: Y (mh x mw), then U and V (mch x mcw each), contiguous: an I420 image.
    let y_len = (mw * mh) as usize;
    let c_len = (mcw * mch) as usize;
    scratch.resize(y_len + 2 * c_len, 0);
    let base = scratch.as_mut_ptr();
    // SAFETY: the Mats borrow `map` and `scratch`, all alive for this function; the
    // three destination regions of `scratch` do not overlap.
    unsafe {
        let planes = [
            (0, h, w, mh, mw, 0),
            (1, ch, cw, mch, mcw, y_len),
            (2, ch, cw, mch, mcw, y_len + c_len),
        ];
        for (plane, rows, cols, drows, dcols, off) in planes {
            let src = plane_mat(map, frame, plane, rows, cols)?;
            let mut small = Mat::new_rows_cols_with_data_unsafe(
                drows,
                dcols,
                CV_8UC1,
                base.add(off).cast(),
                dcols as usize,
            )
            .map_err(cv_err)?;
            imgproc::resize(
                &src,
                &mut small,
                Size::new(dcols, drows),
                0.0,
                0.0,
                imgproc::INTER_LINEAR,
            )
            .map_err(cv_err)?;
        }
        if full_range {
            let (luma, chroma) = scratch.split_at_mut(y_len);
            colorimetry::limit_range(luma, chroma);
        }
        let yuv =
            Mat::new_rows_cols_with_data_unsafe(mh + mch, mw, CV_8UC1, base.cast(), mw as usize)
                .map_err(cv_err)?;
        imgproc::cvt_color_def(&yuv, dst, imgproc::COLOR_YUV2RGB_I420).map_err(cv_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
