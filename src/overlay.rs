//! Overlay: draws boxes, labels, keypoints, track ids and names (and zones, lines and their
//! counts) on the frame in place with OpenCV (planar I420, and packed BGR/BGRx/BGRA/RGB/RGBx/RGBA for the `ovoverlay` element).

mod analytics;

use crate::colorimetry::Colorimetry;
use crate::error::{Error, Result};
use crate::frame::analytics::FrameAnalytics;
use crate::frame::{AnalyzedFrame, Detection};
use opencv::core::{Mat, Point, Rect, Scalar, CV_8UC1, CV_8UC3, CV_8UC4};
use opencv::imgproc;

pub(crate) const LINE_THICKNESS: i32 = 2;
/// Radius of a landmark dot (face keypoints), in pixels.
const KEYPOINT_RADIUS: i32 = 2;
pub(crate) const FONT_SCALE: f64 = 0.5;
pub(crate) const FONT: i32 = imgproc::FONT_HERSHEY_SIMPLEX;
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

/// Palette color `label_id` as `(Y, U, V)` in the frame's colorimetry (BT.601 or BT.709,
/// limited or full range), from RGB.
fn yuv_of(label_id: u32, colorimetry: &Colorimetry) -> [f64; 3] {
    let (r, g, b) = PALETTE[label_id as usize % PALETTE.len()];
    colorimetry.yuv_of_rgb([r, g, b])
}

/// Draws every detection of `frame` onto its pixels (planar I420), in place: boxes and label
/// backgrounds on all three planes (chroma at half resolution), text on the luma plane; with
/// analytics, zones (translucent), lines (with an arrow to their `in` side) and live counts.
///
/// The buffer is made writable first; that is free when nothing else holds it (appsink runs
/// with `enable-last-sample=false`), otherwise GStreamer copies it once.
pub fn draw(frame: &mut AnalyzedFrame) -> Result<()> {
    let info = frame.frame.info.clone();
    let analytics = frame.analytics.clone();
    draw_on(
        frame.frame.buffer.make_mut(),
        &info,
        &frame.detections,
        analytics.as_deref(),
    )?;
    frame.drawn = true;
    Ok(())
}

/// Draws `detections` (and `analytics`, when given) on `buffer` laid out as `info` (the
/// `ovoverlay` element): planar I420, or packed BGR, RGB, BGRx, BGRA, RGBx, RGBA.
///
/// # Errors
/// As [`draw`].
pub fn draw_on(
    buffer: &mut gstreamer::BufferRef,
    info: &gstreamer_video::VideoInfo,
    detections: &[Detection],
    analytics: Option<&FrameAnalytics>,
) -> Result<()> {
    if detections.is_empty() && analytics.is_none() {
        return Ok(());
    }
    let format = info.format();
    let packed = packed_layout(format);
    if format != gstreamer_video::VideoFormat::I420 && packed.is_none() {
        return Err(Error::layout(
            "overlay",
            format!("format {format:?}: I420, BGR, RGB, BGRx, BGRA, RGBx, RGBA only"),
        ));
    }
    let (w, h) = (info.width(), info.height());
    let mut map = buffer
        .map_writable()
        .map_err(|e| Error::gst("overlay: map frame writable", e))?;
    let cv = |e: opencv::Error| Error::opencv("overlay", e);
    // (rows, cols, Mat type, offset, stride) of each plane.
    let layout: Vec<(i32, i32, i32, usize, usize, usize)> = match packed {
        None => (0..3)
            .map(|p| {
                let (rows, cols) = if p == 0 {
                    (h, w)
                } else {
                    (h.div_ceil(2), w.div_ceil(2))
                };
                let (o, st) = (info.offset()[p], info.stride()[p] as usize);
                (rows as i32, cols as i32, CV_8UC1, o, st, 1)
            })
            .collect(),
        Some((_, bpp)) => {
            let typ = if bpp == 3 { CV_8UC3 } else { CV_8UC4 };
            let (o, st) = (info.offset()[0], info.stride()[0] as usize);
            vec![(h as i32, w as i32, typ, o, st, bpp as usize)]
        }
    };
    let mut planes = Vec::with_capacity(layout.len());
    for (rows, cols, typ, offset, stride, bpp) in layout {
        if map.len() < offset + stride * (rows as usize - 1) + cols as usize * bpp {
            return Err(Error::layout(
                "overlay",
                "frame buffer smaller than its caps",
            ));
        }
        // SAFETY: the Mats borrow disjoint planes of the mapped buffer, which outlives them.
        let mat = unsafe {
            Mat::new_rows_cols_with_data_unsafe(
                rows,
                cols,
                typ,
                map.as_mut_ptr().add(offset).cast(),
                stride,
            )
        }
        .map_err(cv)?;
        planes.push(mat);
    }
    let mut canvas = Canvas {
        planes,
        rgb_order: packed.map(|(rgb, _)| rgb),
        colorimetry: Colorimetry::of(info),
        w,
        h,
    };
    if let Some(a) = analytics {
        analytics::draw_zones(&mut canvas, a).map_err(cv)?;
    }
    for det in detections {
        let index = match (analytics, det.zones.first()) {
            (Some(a), Some(zone)) => analytics::zone_color(a, zone).unwrap_or(color_index(det)),
            _ => color_index(det),
        };
        draw_one(&mut canvas, index, det).map_err(cv)?;
    }
    if let Some(a) = analytics {
        analytics::draw_lines_and_counts(&mut canvas, a).map_err(cv)?;
    }
    Ok(())
}

/// The planes of one mapped frame and how to color them.
pub(crate) struct Canvas {
    /// I420: Y, U, V (chroma at half resolution); packed: the one plane.
    pub(crate) planes: Vec<Mat>,
    /// Packed formats: whether red comes first; `None` for I420.
    rgb_order: Option<bool>,
    /// I420: how the planes' values map to colours.
    colorimetry: Colorimetry,
    pub(crate) w: u32,
    pub(crate) h: u32,
}

impl Canvas {
    /// The value of palette color `index` for each plane.
    pub(crate) fn colors(&self, index: u32) -> Vec<Scalar> {
        let (r, g, b) = PALETTE[index as usize % PALETTE.len()];
        match self.rgb_order {
            None => yuv_of(index, &self.colorimetry).map(Scalar::all).to_vec(),
            Some(true) => vec![Scalar::new(r, g, b, 255.0)],
            Some(false) => vec![Scalar::new(b, g, r, 255.0)],
        }
    }

    /// Black text: luma 16 on limited-range I420, 0 on full range and on RGB.
    pub(crate) fn text_color(&self) -> Scalar {
        match self.rgb_order {
            None => Scalar::all(self.colorimetry.yuv_of_rgb([0.0; 3])[0]),
            Some(_) => Scalar::new(0.0, 0.0, 0.0, 255.0),
        }
    }

    /// Planar I420 (Y, U, V planes), not packed RGB.
    pub(crate) fn is_yuv(&self) -> bool {
        self.rgb_order.is_none()
    }

    /// The divisor of plane `i`'s coordinates (2 for I420 chroma).
    pub(crate) fn painted_scale(&self, i: usize) -> i32 {
        if i == 0 || self.rgb_order.is_some() {
            1
        } else {
            2
        }
    }

    /// Each plane with the value of palette color `index` on it, the divisor of its
    /// coordinates (2 for I420 chroma) and its line thickness.
    pub(crate) fn painted(
        &mut self,
        index: u32,
    ) -> impl Iterator<Item = (&mut Mat, Scalar, i32, i32)> {
        let colors = self.colors(index);
        let packed = self.rgb_order.is_some();
        self.planes
            .iter_mut()
            .zip(colors)
            .enumerate()
            .map(move |(i, (plane, color))| {
                let (scale, thickness) = if i == 0 || packed {
                    (1, LINE_THICKNESS)
                } else {
                    (2, 1)
                };
                (plane, color, scale, thickness)
            })
    }
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

/// Palette index of a detection: one color per track for tracked objects, else per class.
fn color_index(det: &Detection) -> u32 {
    det.track_id.map_or(det.label_id, |t| t as u32)
}

/// Draws `det` in palette color `index`: the box and label background on every plane (I420
/// chroma at half resolution), keypoints and the label text on the first.
fn draw_one(canvas: &mut Canvas, index: u32, det: &Detection) -> opencv::Result<()> {
    let (w, h) = (canvas.w, canvas.h);
    let colors = canvas.colors(index);
    let text_color = canvas.text_color();
    let (x, y, bw, bh) = det.bbox.to_pixels(w, h);
    let text = label_text(det);
    let mut baseline = 0;
    let size = imgproc::get_text_size(&text, FONT, FONT_SCALE, 1, &mut baseline)?;
    let label_bg = label_rect(x, y, size, baseline, (w as i32, h as i32));
    for (plane, color, scale, thickness) in canvas.painted(index) {
        let half = |r: Rect| Rect::new(r.x / scale, r.y / scale, r.width / scale, r.height / scale);
        imgproc::rectangle(
            plane,
            half(Rect::new(x, y, bw, bh)),
            color,
            thickness,
            imgproc::LINE_8,
            0,
        )?;
        imgproc::rectangle(
            plane,
            half(label_bg),
            color,
            imgproc::FILLED,
            imgproc::LINE_8,
            0,
        )?;
    }
    for kp in &det.keypoints {
        let center = Point::new((kp[0] * w as f32) as i32, (kp[1] * h as f32) as i32);
        imgproc::circle(
            &mut canvas.planes[0],
            center,
            KEYPOINT_RADIUS,
            colors[0],
            imgproc::FILLED,
            imgproc::LINE_8,
            0,
        )?;
    }
    imgproc::put_text(
        &mut canvas.planes[0],
        &text,
        Point::new(label_bg.x + 2, label_bg.y + size.height + 1),
        FONT,
        FONT_SCALE,
        text_color,
        1,
        imgproc::LINE_AA,
        false,
    )
}

/// The label's background for a box whose top-left corner is `(x, y)`: above the box, moved
/// inside the `frame` (width, height) where it would leave it (a box at the right edge keeps
/// its whole `person 79%`, not `person 7`).
fn label_rect(x: i32, y: i32, text: opencv::core::Size, baseline: i32, frame: (i32, i32)) -> Rect {
    let (width, height) = (text.width + 4, text.height + baseline + 2);
    let left = x.min(frame.0 - width).max(0);
    let top = (y - text.height - baseline).min(frame.1 - height).max(0);
    Rect::new(left, top, width, height)
}

/// `obama 0.71 #3` for a recognized face, `unknown #7 (track 3)` for a remembered unknown
/// person, `person 97% #3` for a tracked object; classifier attributes follow after `|`
/// (`face 98% #3 | male, age 52`).
fn label_text(det: &Detection) -> String {
    let text = identity_text(det);
    if det.attributes.is_empty() {
        return text;
    }
    let attributes: Vec<String> = (det.attributes.iter())
        .map(|a| match &a.value {
            crate::frame::AttributeValue::Value { value } => format!("{} {value:.0}", a.name),
            other => other.text(),
        })
        .filter(|t| !t.is_empty())
        .collect();
    format!("{text} | {}", attributes.join(", "))
}

fn identity_text(det: &Detection) -> String {
    let what = match &det.identity {
        Some(id) => match id.unknown_id {
            Some(u) => format!("{} #{u}", id.name),
            None => format!("{} {:.2}", id.name, id.similarity),
        },
        None => format!("{} {:.0}%", det.label, det.confidence * 100.0),
    };
    match det.track_id {
        Some(t)
            if det
                .identity
                .as_ref()
                .is_some_and(|i| i.unknown_id.is_some()) =>
        {
            format!("{what} (track {t})")
        }
        Some(t) => format!("{what} #{t}"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use opencv::core::{Rect, Size};

    #[test]
    fn a_label_stays_inside_the_frame() {
        let text = Size::new(80, 12);
        // Room above the box: there, at its left edge.
        assert_eq!(
            super::label_rect(100, 50, text, 4, (768, 576)),
            Rect::new(100, 34, 84, 18)
        );
        // At the right edge: moved left so all of it shows.
        assert_eq!(super::label_rect(740, 50, text, 4, (768, 576)).x, 768 - 84);
        // At the top and in the bottom-left corner.
        assert_eq!(
            super::label_rect(-5, 3, text, 4, (768, 576)),
            Rect::new(0, 0, 84, 18)
        );
        assert_eq!(super::label_rect(0, 600, text, 4, (768, 576)).y, 576 - 18);
    }
}
