//! Face alignment for FaceNet: rotate so the eyes are level, crop the face with a margin,
//! resize to the embedding model's input (160x160), prewhiten.
//!
//! Eyes are BlazeFace keypoints 0 (the subject's right eye, on the image's left) and 1. The crop
//! is a square of `CROP_MARGIN` × the larger box side, centered on the box, in the rotated
//! frame (OpenCV `warpAffine`, bilinear, black outside the frame). Prewhitening is FaceNet's
//! training normalization: `(x - mean) / max(std, 1/sqrt(N))` over all `N` RGB values.

use crate::colorimetry::Colorimetry;
use crate::error::{Error, Result};
use crate::frame::{Detection, Frame};
use opencv::core::{Mat, Point2f, Scalar, Size, BORDER_CONSTANT, CV_8UC1, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;

/// Side of the square crop relative to the larger side of the detected box.
pub const CROP_MARGIN: f32 = 1.25;

fn cv_err(e: opencv::Error) -> Error {
    Error::opencv("face alignment", e)
}

/// An RGB copy of an I420 frame, made once per frame that has faces.
pub struct RgbFrame {
    /// Converted with BT.601's matrix; crops and warps are corrected to `colorimetry`'s.
    mat: Mat,
    colorimetry: Colorimetry,
    width: u32,
    height: u32,
}

impl RgbFrame {
    /// Converts `frame` (I420) to RGB: BT.601 (`COLOR_YUV2RGB_I420`, video range 16–235), or
    /// the JPEG formula (`COLOR_YCrCb2RGB`, 0–255) when the caps say full range (JPEG stills,
    /// MJPEG cameras) — read as video range they would come out ~16 % too contrasty. Another
    /// matrix than BT.601's (BT.709: HD video) is applied to what is cut out of it
    /// ([`Self::crop`], [`Self::warp`]; see [`crate::colorimetry`]).
    ///
    /// # Errors
    /// [`Error::Gst`] when the buffer cannot be mapped; [`Error::Layout`] when it is not I420 of
    /// its caps' size.
    pub fn from_frame(frame: &Frame) -> Result<RgbFrame> {
        // cvtColor needs even sizes: an odd last row or column is left out.
        let (w, h) = (frame.info.width() & !1, frame.info.height() & !1);
        if w == 0 || h == 0 {
            return Err(Error::layout("face alignment", "empty frame"));
        }
        let map = frame
            .buffer
            .map_readable()
            .map_err(|e| Error::gst("map frame", e))?;
        // Pack the three planes contiguously (strides may pad rows).
        let (cw, ch) = (w as usize / 2, h as usize / 2);
        let mut packed = Vec::with_capacity(w as usize * h as usize * 3 / 2);
        for (plane, rows, cols) in [(0, h as usize, w as usize), (1, ch, cw), (2, ch, cw)] {
            let (offset, stride) = (
                frame.info.offset()[plane],
                frame.info.stride()[plane] as usize,
            );
            for r in 0..rows {
                let start = offset + r * stride;
                let row = map.get(start..start + cols).ok_or_else(|| {
                    Error::layout("face alignment", "frame smaller than its caps")
                })?;
                packed.extend_from_slice(row);
            }
        }
        let yuv = Mat::from_slice(&packed)
            .and_then(|m| m.reshape(1, h as i32 * 3 / 2).map(|m| m.try_clone()))
            .and_then(|m| m)
            .map_err(cv_err)?;
        debug_assert_eq!(yuv.typ(), CV_8UC1);
        let full_range =
            frame.info.colorimetry().range() == gstreamer_video::VideoColorRange::Range0_255;
        let rgb = match full_range {
            true => full_range_rgb(&yuv, w as i32, h as i32)?,
            false => {
                let mut rgb = Mat::default();
                imgproc::cvt_color_def(&yuv, &mut rgb, imgproc::COLOR_YUV2RGB_I420)
                    .map_err(cv_err)?;
                rgb
            }
        };
        Ok(RgbFrame {
            mat: rgb,
            colorimetry: Colorimetry::of(&frame.info),
            width: w,
            height: h,
        })
    }

    /// The aligned `side` x `side` RGB u8 crop of `face` (what the embedding model sees).
    ///
    /// # Errors
    /// [`Error::OpenCv`] on an OpenCV failure.
    pub fn aligned(&self, face: &Detection, side: i32) -> Result<Mat> {
        self.crop(face, side, CROP_MARGIN)
    }

    /// The `side` x `side` RGB u8 crop of `face`, eyes levelled, `margin` × the larger box
    /// side wide (thumbnails and remembered samples use a looser one than the model).
    ///
    /// # Errors
    /// [`Error::OpenCv`] on an OpenCV failure.
    pub fn crop(&self, face: &Detection, side: i32, margin: f32) -> Result<Mat> {
        let (w, h) = (self.width as f32, self.height as f32);
        let b = &face.bbox;
        let center = Point2f::new((b.x_min + b.x_max) / 2.0 * w, (b.y_min + b.y_max) / 2.0 * h);
        let box_side = ((b.x_max - b.x_min) * w)
            .max((b.y_max - b.y_min) * h)
            .max(1.0);
        let angle = match face.keypoints.as_slice() {
            [right, left, ..] => ((left[1] - right[1]) * h).atan2((left[0] - right[0]) * w),
            _ => 0.0,
        };
        let scale = side as f32 / (box_side * margin);
        // Rotate about the box center by the eye angle (OpenCV angles are counter-clockwise
        // in degrees with y down, so the eye line's angle levels it), scale, then move the
        // center to the middle of the crop.
        let mut m = imgproc::get_rotation_matrix_2d(
            center,
            f64::from(angle.to_degrees()),
            f64::from(scale),
        )
        .map_err(cv_err)?;
        *m.at_2d_mut::<f64>(0, 2).map_err(cv_err)? += f64::from(side as f32 / 2.0 - center.x);
        *m.at_2d_mut::<f64>(1, 2).map_err(cv_err)? += f64::from(side as f32 / 2.0 - center.y);
        let mut out = Mat::default();
        imgproc::warp_affine(
            &self.mat,
            &mut out,
            &m,
            Size::new(side, side),
            imgproc::INTER_LINEAR,
            BORDER_CONSTANT,
            Scalar::all(0.0),
        )
        .map_err(cv_err)?;
        debug_assert_eq!(out.typ(), CV_8UC3);
        self.colorimetry.correct_rgb(&mut out)?;
        Ok(out)
    }
}

/// RGB of a packed full-range I420 image (`w` x `h`): chroma upsampled bilinearly, then
/// `COLOR_YCrCb2RGB` (the JPEG/JFIF conversion).
fn full_range_rgb(yuv: &Mat, w: i32, h: i32) -> Result<Mat> {
    let bytes = yuv.data_bytes().map_err(cv_err)?;
    let (luma, chroma) = bytes.split_at((w * h) as usize);
    let quarter = (w / 2 * (h / 2)) as usize;
    let plane = |data: &[u8], rows: i32| -> Result<Mat> {
        Mat::from_slice(data)
            .and_then(|m| m.reshape(1, rows).map(|m| m.try_clone()))
            .and_then(|m| m)
            .map_err(cv_err)
    };
    let y = plane(luma, h)?;
    let mut channels = opencv::core::Vector::<Mat>::new();
    channels.push(y);
    // YCrCb order: V (Cr) before U (Cb).
    for data in [&chroma[quarter..2 * quarter], &chroma[..quarter]] {
        let small = plane(data, h / 2)?;
        let mut full = Mat::default();
        imgproc::resize(
            &small,
            &mut full,
            Size::new(w, h),
            0.0,
            0.0,
            imgproc::INTER_LINEAR,
        )
        .map_err(cv_err)?;
        channels.push(full);
    }
    let mut ycrcb = Mat::default();
    opencv::core::merge(&channels, &mut ycrcb).map_err(cv_err)?;
    let mut rgb = Mat::default();
    imgproc::cvt_color_def(&ycrcb, &mut rgb, imgproc::COLOR_YCrCb2RGB).map_err(cv_err)?;
    Ok(rgb)
}

/// Largest factor a warp shrinks by in one step; beyond it the source region is halved with
/// a Gaussian pyramid first (OpenCV `pyrDown`, the 5-tap filter of dlib's `pyramid_down<2>`),
/// as dlib's `extract_image_chip` does, so small chips are not aliased.
const MAX_WARP_SHRINK: f64 = 2.0;
/// Pixels kept around a chip's source region before the pyramid (the filter's reach).
const PYRAMID_MARGIN: f64 = 4.0;

impl RgbFrame {
    /// Width and height in pixels (even: an odd last row or column is left out).
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The `width` x `height` RGB u8 image that the affine map `m` (frame pixels → output
    /// pixels, row-major 2x3) cuts out of the frame; bilinear, black outside the frame. A map
    /// that shrinks more than 2× first halves the region it reads with a Gaussian pyramid
    /// (as dlib cuts face chips).
    ///
    /// # Errors
    /// [`Error::OpenCv`] on an OpenCV failure.
    pub fn warp(&self, m: [[f64; 3]; 2], width: i32, height: i32) -> Result<Mat> {
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        let shrink = 1.0 / det.abs().sqrt().max(1e-9);
        let mut levels = 0;
        while shrink / f64::from(1 << levels) > MAX_WARP_SHRINK && levels < 8 {
            levels += 1;
        }
        let (source, map) = match levels {
            0 => (None, m),
            _ => match self.pyramid(m, det, width, height, levels)? {
                Some((mat, map)) => (Some(mat), map),
                // The chip lies outside the frame: all black either way.
                None => (None, m),
            },
        };
        let mat = Mat::from_slice_2d(&map).map_err(cv_err)?;
        let mut out = Mat::default();
        imgproc::warp_affine(
            source.as_ref().unwrap_or(&self.mat),
            &mut out,
            &mat,
            Size::new(width, height),
            imgproc::INTER_LINEAR,
            BORDER_CONSTANT,
            Scalar::all(0.0),
        )
        .map_err(cv_err)?;
        self.colorimetry.correct_rgb(&mut out)?;
        Ok(out)
    }

    /// The frame region that map `m` reads for a `width` x `height` output, halved `levels`
    /// times, and the map from it to the output; `None` when the region is outside the frame.
    fn pyramid(
        &self,
        m: [[f64; 3]; 2],
        det: f64,
        width: i32,
        height: i32,
        levels: u32,
    ) -> Result<Option<(Mat, [[f64; 3]; 2])>> {
        // Inverse of m's linear part, to find where the output's corners come from.
        let inv = [
            [m[1][1] / det, -m[0][1] / det],
            [-m[1][0] / det, m[0][0] / det],
        ];
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (u, v) in [
            (0.0, 0.0),
            (f64::from(width), 0.0),
            (0.0, f64::from(height)),
        ]
        .into_iter()
        .chain([(f64::from(width), f64::from(height))])
        {
            let (du, dv) = (u - m[0][2], v - m[1][2]);
            let (x, y) = (
                inv[0][0] * du + inv[0][1] * dv,
                inv[1][0] * du + inv[1][1] * dv,
            );
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let (fw, fh) = (f64::from(self.width), f64::from(self.height));
        let left = (x0 - PYRAMID_MARGIN).floor().clamp(0.0, fw);
        let top = (y0 - PYRAMID_MARGIN).floor().clamp(0.0, fh);
        let right = (x1 + PYRAMID_MARGIN).ceil().clamp(0.0, fw);
        let bottom = (y1 + PYRAMID_MARGIN).ceil().clamp(0.0, fh);
        if right - left < 2.0 || bottom - top < 2.0 {
            return Ok(None);
        }
        let rect = opencv::core::Rect::new(
            left as i32,
            top as i32,
            (right - left) as i32,
            (bottom - top) as i32,
        );
        // The first level reads the frame's region in place (no copy of it; it is at least
        // 2x2, checked above, and `levels` at least 1).
        let mut region = Mat::default();
        let view = Mat::roi(&self.mat, rect).map_err(cv_err)?;
        imgproc::pyr_down_def(&view, &mut region).map_err(cv_err)?;
        for _ in 1..levels {
            if region.cols() < 2 || region.rows() < 2 {
                break;
            }
            let mut half = Mat::default();
            imgproc::pyr_down_def(&region, &mut half).map_err(cv_err)?;
            region = half;
        }
        // A pixel q of the halved region is frame pixel (left, top) + 2^levels · q.
        let k = f64::from(1u32 << levels);
        let map = [
            [
                m[0][0] * k,
                m[0][1] * k,
                m[0][2] + m[0][0] * left + m[0][1] * top,
            ],
            [
                m[1][0] * k,
                m[1][1] * k,
                m[1][2] + m[1][0] * left + m[1][1] * top,
            ],
        ];
        Ok(Some((region, map)))
    }
}

/// FaceNet prewhitening of an RGB u8 image into `out` (f32, same element count).
///
/// # Errors
/// [`Error::Layout`] when the sizes differ; [`Error::OpenCv`] when the Mat is not continuous.
pub fn prewhiten(rgb: &Mat, out: &mut [f32]) -> Result<()> {
    let data = rgb.data_bytes().map_err(cv_err)?;
    if data.len() != out.len() {
        return Err(Error::layout(
            "face alignment",
            format!("crop has {} values, input wants {}", data.len(), out.len()),
        ));
    }
    let n = data.len() as f64;
    let mean = data.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = data
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt().max(1.0 / n.sqrt());
    for (o, &v) in out.iter_mut().zip(data) {
        *o = ((f64::from(v) - mean) / std) as f32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prewhitened_values_have_zero_mean_unit_std() {
        let values: Vec<u8> = (0..160 * 160 * 3).map(|i| (i * 7 % 256) as u8).collect();
        let mat = Mat::from_slice(&values).unwrap().try_clone().unwrap();
        let mut out = vec![0.0; values.len()];
        prewhiten(&mat, &mut out).unwrap();
        let n = out.len() as f32;
        let mean = out.iter().sum::<f32>() / n;
        let std = (out.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!(
            mean.abs() < 1e-3 && (std - 1.0).abs() < 1e-3,
            "{mean} {std}"
        );
        // A flat image does not divide by zero.
        let flat = Mat::from_slice(&[9u8; 12]).unwrap().try_clone().unwrap();
        let mut out = vec![1.0; 12];
        prewhiten(&flat, &mut out).unwrap();
        assert!(out.iter().all(|v| *v == 0.0));
    }

    /// A crop of a BT.709 frame (HD video) has BT.709's colour, not BT.601's reading of it.
    #[test]
    fn crops_of_a_bt709_frame_have_its_colours() {
        let crop_centre = |colorimetry: &str| {
            let frame = Frame::solid((110, 100, 190), colorimetry);
            let face = Detection {
                bbox: crate::frame::BBox {
                    x_min: 0.3,
                    y_min: 0.3,
                    x_max: 0.7,
                    y_max: 0.7,
                },
                ..Detection::default()
            };
            let crop = RgbFrame::from_frame(&frame)
                .unwrap()
                .crop(&face, 16, 1.0)
                .unwrap();
            let px = *crop.at_2d::<opencv::core::Vec3b>(8, 8).unwrap();
            [px[0], px[1], px[2]].map(f64::from)
        };
        // R, G, B of (110, 100, 190) by each standard's formula (limited range).
        let bt601 = [208.4, 70.0, 53.0];
        let bt709 = [220.6, 82.4, 50.3];
        for (caps, want) in [("bt601", bt601), ("bt709", bt709)] {
            let got = crop_centre(caps);
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 2.0, "{caps}: {got:?} vs {want:?}");
            }
        }
    }
}
