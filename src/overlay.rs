//! Overlay: draws boxes, labels, keypoints, track ids and names on the frame in place with
//! OpenCV (planar I420, and packed BGR/BGRx/BGRA/RGB/RGBx/RGBA for the `ovoverlay` element).

use crate::error::{Error, Result};
use crate::frame::{AnalyzedFrame, Detection};
use opencv::core::{Mat, Point, Rect, Scalar, CV_8UC1};
use opencv::imgproc;

const LINE_THICKNESS: i32 = 2;
/// Radius of a landmark dot (face keypoints), in pixels.
const KEYPOINT_RADIUS: i32 = 2;
const FONT_SCALE: f64 = 0.5;
const FONT: i32 = imgproc::FONT_HERSHEY_SIMPLEX;
/// Per-class colors (RGB), picked by label id; drawn as their YUV equivalents.
const PALETTE: [(f64, f64, f64); 8] = [
    (0.0, 255.0, 0.0),
    (255.0, 64.0, 64.0),
    (64.0, 128.0, 255.0),
    (255.0, 200.0, 0.0),
    (255.0, 0.0, 255.0),
    (0.0, 255.0, 255.0),
    (255.0, 128.0, 0.0),
    (160.0, 100.0, 255.0),
];

/// A color as BT.601 limited-range `(Y, U, V)`, from RGB.
fn yuv_of(label_id: u32) -> [f64; 3] {
    let (r, g, b) = PALETTE[label_id as usize % PALETTE.len()];
    [
        16.0 + 0.257 * r + 0.504 * g + 0.098 * b,
        128.0 - 0.148 * r - 0.291 * g + 0.439 * b,
        128.0 + 0.439 * r - 0.368 * g - 0.071 * b,
    ]
}

/// Luma of the label text (black).
const TEXT_LUMA: f64 = 16.0;

/// Draws every detection of `frame` onto its pixels (planar I420), in place: boxes and label
/// backgrounds on all three planes (chroma at half resolution), text on the luma plane.
///
/// The buffer is made writable first; that is free when nothing else holds it (appsink runs
/// with `enable-last-sample=false`), otherwise GStreamer copies it once.
pub fn draw(frame: &mut AnalyzedFrame) -> Result<()> {
    let info = frame.frame.info.clone();
    draw_on(frame.frame.buffer.make_mut(), &info, &frame.detections)
}

/// Draws `detections` on `buffer` laid out as `info` (the `ovoverlay` element): planar I420,
/// or packed BGR, RGB, BGRx, BGRA, RGBx, RGBA.
///
/// # Errors
/// As [`draw`].
pub fn draw_on(
    buffer: &mut gstreamer::BufferRef,
    info: &gstreamer_video::VideoInfo,
    detections: &[Detection],
) -> Result<()> {
    if detections.is_empty() {
        return Ok(());
    }
    if info.format() != gstreamer_video::VideoFormat::I420 {
        return draw_packed(buffer, info, detections);
    }
    let (w, h) = (info.width(), info.height());
    let offsets: [usize; 3] = std::array::from_fn(|p| info.offset()[p]);
    let strides: [usize; 3] = std::array::from_fn(|p| info.stride()[p] as usize);
    let mut map = buffer
        .map_writable()
        .map_err(|e| Error::gst("overlay: map frame writable", e))?;
    let cv = |e: opencv::Error| Error::gst("overlay (OpenCV)", e);
    let dims = [
        (h as i32, w as i32),
        (h.div_ceil(2) as i32, w.div_ceil(2) as i32),
        (h.div_ceil(2) as i32, w.div_ceil(2) as i32),
    ];
    let mut planes = Vec::with_capacity(3);
    for (plane, (rows, cols)) in dims.into_iter().enumerate() {
        let (offset, stride) = (offsets[plane], strides[plane]);
        if map.len() < offset + stride * (rows as usize - 1) + cols as usize {
            return Err(Error::gst("overlay", "frame buffer smaller than its caps"));
        }
        // SAFETY: the Mats borrow disjoint planes of the mapped buffer, which outlives them.
        let mat = unsafe {
            Mat::new_rows_cols_with_data_unsafe(
                rows,
                cols,
                CV_8UC1,
                map.as_mut_ptr().add(offset).cast(),
                stride,
            )
        }
        .map_err(cv)?;
        planes.push(mat);
    }
    for det in detections {
        let colors = yuv_of(color_index(det)).map(Scalar::all);
        draw_one(&mut planes, &colors, Scalar::all(TEXT_LUMA), det, w, h).map_err(cv)?;
    }
    Ok(())
}

/// Packed RGB formats `draw_on` takes besides I420, with whether red comes first and the
/// bytes per pixel.
fn packed_layout(format: gstreamer_video::VideoFormat) -> Option<(bool, i32)> {
    use gstreamer_video::VideoFormat as F;
    match format {
        F::Bgr => Some((false, 3)),
        F::Rgb => Some((true, 3)),
        F::Bgrx | F::Bgra => Some((false, 4)),
        F::Rgbx | F::Rgba => Some((true, 4)),
        _ => None,
    }
}

/// Draws on BGR, RGB, BGRx/BGRA or RGBx/RGBA frames (one packed plane).
fn draw_packed(
    buffer: &mut gstreamer::BufferRef,
    info: &gstreamer_video::VideoInfo,
    detections: &[Detection],
) -> Result<()> {
    let (rgb_order, bpp) = packed_layout(info.format()).ok_or_else(|| {
        Error::gst(
            "overlay",
            format!(
                "format {:?}: I420, BGR, RGB, BGRx, BGRA, RGBx, RGBA only",
                info.format()
            ),
        )
    })?;
    let (w, h) = (info.width(), info.height());
    let (offset, stride) = (info.offset()[0], info.stride()[0] as usize);
    let mut map = buffer
        .map_writable()
        .map_err(|e| Error::gst("overlay: map frame writable", e))?;
    if map.len() < offset + stride * (h as usize - 1) + w as usize * bpp as usize {
        return Err(Error::gst("overlay", "frame buffer smaller than its caps"));
    }
    let cv = |e: opencv::Error| Error::gst("overlay (OpenCV)", e);
    let typ = if bpp == 3 {
        opencv::core::CV_8UC3
    } else {
        opencv::core::CV_8UC4
    };
    // SAFETY: the Mat borrows the mapped buffer, which outlives it.
    let mat = unsafe {
        Mat::new_rows_cols_with_data_unsafe(
            h as i32,
            w as i32,
            typ,
            map.as_mut_ptr().add(offset).cast(),
            stride,
        )
    }
    .map_err(cv)?;
    let mut planes = [mat];
    for det in detections {
        let (r, g, b) = PALETTE[color_index(det) as usize % PALETTE.len()];
        let color = if rgb_order {
            Scalar::new(r, g, b, 255.0)
        } else {
            Scalar::new(b, g, r, 255.0)
        };
        let text_color = Scalar::new(0.0, 0.0, 0.0, 255.0);
        draw_one(&mut planes, &[color], text_color, det, w, h).map_err(cv)?;
    }
    Ok(())
}

/// Palette index of a detection: one color per track for tracked objects, else per class.
fn color_index(det: &Detection) -> u32 {
    det.track_id.map_or(det.label_id, |t| t as u32)
}

/// Draws `det` on `planes`: plane 0 at full resolution, further planes (I420 chroma) at half;
/// `colors[i]` is the value for plane `i`; the label text goes on plane 0 in `text_color`.
fn draw_one(
    planes: &mut [Mat],
    colors: &[Scalar],
    text_color: Scalar,
    det: &Detection,
    w: u32,
    h: u32,
) -> opencv::Result<()> {
    let (x, y, bw, bh) = det.bbox.to_pixels(w, h);
    let text = label_text(det);
    let mut baseline = 0;
    let size = imgproc::get_text_size(&text, FONT, FONT_SCALE, 1, &mut baseline)?;
    let top = (y - size.height - baseline).max(0);
    let label_bg = Rect::new(x, top, size.width + 4, size.height + baseline + 2);
    for (i, (plane, &value)) in planes.iter_mut().zip(colors).enumerate() {
        let (scale, thickness) = if i == 0 { (1, LINE_THICKNESS) } else { (2, 1) };
        let half = |r: Rect| Rect::new(r.x / scale, r.y / scale, r.width / scale, r.height / scale);
        imgproc::rectangle(
            plane,
            half(Rect::new(x, y, bw, bh)),
            value,
            thickness,
            imgproc::LINE_8,
            0,
        )?;
        imgproc::rectangle(
            plane,
            half(label_bg),
            value,
            imgproc::FILLED,
            imgproc::LINE_8,
            0,
        )?;
    }
    for kp in &det.keypoints {
        let center = Point::new((kp[0] * w as f32) as i32, (kp[1] * h as f32) as i32);
        imgproc::circle(
            &mut planes[0],
            center,
            KEYPOINT_RADIUS,
            colors[0],
            imgproc::FILLED,
            imgproc::LINE_8,
            0,
        )?;
    }
    imgproc::put_text(
        &mut planes[0],
        &text,
        Point::new(x + 2, top + size.height + 1),
        FONT,
        FONT_SCALE,
        text_color,
        1,
        imgproc::LINE_AA,
        false,
    )
}

/// `obama 0.71 #3` for a recognized face, `person 97% #3` for a tracked object.
fn label_text(det: &Detection) -> String {
    let what = match &det.identity {
        Some(id) => format!("{} {:.2}", id.name, id.similarity),
        None => format!("{} {:.0}%", det.label, det.confidence * 100.0),
    };
    match det.track_id {
        Some(t) => format!("{what} #{t}"),
        None => what,
    }
}
