//! Zones and lines on the overlay: zones as translucent polygons with an outline and a count
//! label, lines with an arrow to their `in` side and their `in`/`out` counts; objects inside a
//! zone take the zone's color (see [`zone_color`]).

use super::{Canvas, FONT, FONT_SCALE};
use crate::frame::analytics::{FrameAnalytics, Geometry, ZoneShape};
use crate::geometry::Point as P;
use opencv::core::{Mat, Point, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use std::cell::RefCell;

/// Opacity of a zone's fill.
const ZONE_ALPHA: f64 = 0.35;
/// Palette offset of zone and line colors (after the first class colors).
const ZONE_COLOR_BASE: u32 = 3;
/// Length of a line's `in` arrow, in pixels.
const ARROW_LENGTH: f32 = 40.0;

/// Palette index of the zone named `zone`.
pub(super) fn zone_color(a: &FrameAnalytics, zone: &str) -> Option<u32> {
    a.geometry
        .zones
        .iter()
        .position(|z| &*z.name == zone)
        .map(|i| ZONE_COLOR_BASE + i as u32)
}

fn to_px(p: P, w: u32, h: u32, scale: i32) -> Point {
    Point::new(
        (p[0] * w as f32).round() as i32 / scale,
        (p[1] * h as f32).round() as i32 / scale,
    )
}

/// A zone's pixels on one plane: its bounding box (clipped to the plane) and a mask of it,
/// row-major, 0xFF inside, 0 outside.
struct PlaneMask {
    rect: Rect,
    mask: Vec<u8>,
}

/// Zone masks per (geometry, frame size): zones are static, so the polygons are rasterized
/// once, not per frame.
type MaskCache = Vec<(Geometry, (u32, u32), Vec<Vec<PlaneMask>>)>;

/// Most geometries (sources) whose masks the overlay thread keeps.
const MASK_CACHE_ENTRIES: usize = 16;

thread_local! {
    static MASKS: RefCell<MaskCache> = const { RefCell::new(Vec::new()) };
}

/// Rasterizes `zone` on a plane of `size` whose coordinates are divided by `scale`.
fn rasterize(
    zone: &ZoneShape,
    w: u32,
    h: u32,
    scale: i32,
    size: Size,
) -> opencv::Result<PlaneMask> {
    let pts: Vector<Point> = zone
        .polygon
        .iter()
        .map(|&q| to_px(q, w, h, scale))
        .collect();
    let rect = imgproc::bounding_rect(&pts)? & Rect::new(0, 0, size.width, size.height);
    if rect.width <= 0 || rect.height <= 0 {
        return Ok(PlaneMask {
            rect: Rect::default(),
            mask: Vec::new(),
        });
    }
    let mut mat = Mat::zeros(rect.height, rect.width, opencv::core::CV_8UC1)?.to_mat()?;
    let shifted: Vector<Vector<Point>> =
        Vector::from_iter([pts.iter().map(|q| q - rect.tl()).collect()]);
    imgproc::fill_poly(
        &mut mat,
        &shifted,
        Scalar::all(255.0),
        imgproc::LINE_8,
        0,
        Point::default(),
    )?;
    Ok(PlaneMask {
        rect,
        mask: mat.data_bytes()?.to_vec(),
    })
}

/// Mixes `color` into the masked pixels of `plane` at [`ZONE_ALPHA`].
fn tint(plane: &mut Mat, m: &PlaneMask, color: Scalar) -> opencv::Result<()> {
    let channels = plane.channels() as usize;
    let alpha = (ZONE_ALPHA * 256.0) as u32;
    let c: Vec<u32> = (0..channels)
        .map(|i| color[i].clamp(0.0, 255.0) as u32)
        .collect();
    let (x0, width) = (m.rect.x as usize, m.rect.width as usize);
    if width == 0 {
        return Ok(());
    }
    // One FFI call for the plane's origin and row step, not one per row.
    let (origin, step) = (
        plane.ptr_mut(m.rect.y)?,
        plane.step1(0)? * plane.elem_size1(),
    );
    for row in 0..m.rect.height as usize {
        // SAFETY: rows y..y+height of the plane exist and each has at least (x0 + width)
        // pixels of `channels` bytes (the rect is clipped to the plane).
        let pixels = unsafe {
            std::slice::from_raw_parts_mut(origin.add(row * step + x0 * channels), width * channels)
        };
        let mask = &m.mask[row * width..][..width];
        if channels == 1 {
            // Branch-free in 16 bits so it vectorizes (I420 planes, the common case):
            // v·(256−α) + c·α ≤ 255·256 fits.
            let (keep, add) = ((256 - alpha) as u16, (c[0] * alpha) as u16);
            for (v, &inside) in pixels.iter_mut().zip(mask) {
                let mixed = ((u16::from(*v) * keep + add) >> 8) as u8;
                // `inside` is 0 or 0xFF: take `mixed` where it is set.
                *v ^= (*v ^ mixed) & inside;
            }
            continue;
        }
        for (px, &inside) in pixels.chunks_exact_mut(channels).zip(mask) {
            if inside != 0 {
                for (v, &c) in px.iter_mut().zip(&c) {
                    *v = ((u32::from(*v) * (256 - alpha) + c * alpha) >> 8) as u8;
                }
            }
        }
    }
    Ok(())
}

/// Zones: translucent fill and outline on every plane.
pub(super) fn draw_zones(canvas: &mut Canvas, a: &FrameAnalytics) -> opencv::Result<()> {
    let (w, h) = (canvas.w, canvas.h);
    MASKS.with_borrow_mut(|cache| -> opencv::Result<()> {
        let found = cache
            .iter()
            .position(|(g, size, _)| *size == (w, h) && *g == *a.geometry);
        let index = match found {
            Some(i) => i,
            None => {
                let mut zones = Vec::with_capacity(a.geometry.zones.len());
                for zone in &a.geometry.zones {
                    let mut planes = Vec::with_capacity(canvas.planes.len());
                    for (i, plane) in canvas.planes.iter().enumerate() {
                        let scale = canvas.painted_scale(i);
                        planes.push(rasterize(zone, w, h, scale, plane.size()?)?);
                    }
                    zones.push(planes);
                }
                if cache.len() >= MASK_CACHE_ENTRIES {
                    cache.remove(0);
                }
                cache.push(((*a.geometry).clone(), (w, h), zones));
                cache.len() - 1
            }
        };
        let masks = &cache[index].2;
        let yuv = canvas.is_yuv();
        for (i, zone) in a.geometry.zones.iter().enumerate() {
            for (p, (plane, color, scale, _)) in
                canvas.painted(ZONE_COLOR_BASE + i as u32).enumerate()
            {
                // I420: the chroma planes only (a color wash that keeps the scene's
                // brightness, at a third of the pixels).
                if !(yuv && p == 0) {
                    tint(plane, &masks[i][p], color)?;
                }
                let pts: Vector<Point> = zone
                    .polygon
                    .iter()
                    .map(|&q| to_px(q, w, h, scale))
                    .collect();
                let outline: Vector<Vector<Point>> = Vector::from_iter([pts]);
                // One pixel wide: a thick polyline costs as much as the fill.
                imgproc::polylines(plane, &outline, true, color, 1, imgproc::LINE_8, 0)?;
            }
        }
        Ok(())
    })
}

/// Lines with their `in` arrows, then the count labels of zones and lines.
pub(super) fn draw_lines_and_counts(canvas: &mut Canvas, a: &FrameAnalytics) -> opencv::Result<()> {
    let (w, h) = (canvas.w, canvas.h);
    let mut labels = Vec::new();
    for (i, line) in a.geometry.lines.iter().enumerate() {
        let index = ZONE_COLOR_BASE + (a.geometry.zones.len() + i) as u32;
        let mid = [
            (line.from[0] + line.to[0]) / 2.0,
            (line.from[1] + line.to[1]) / 2.0,
        ];
        // The normal in pixels (normalized coordinates stretch with the frame's aspect).
        let n = [line.in_normal[0] * w as f32, line.in_normal[1] * h as f32];
        let len = n[0].hypot(n[1]).max(f32::MIN_POSITIVE);
        let tip = [
            mid[0] + n[0] / len * ARROW_LENGTH / w as f32,
            mid[1] + n[1] / len * ARROW_LENGTH / h as f32,
        ];
        for (plane, color, scale, thickness) in canvas.painted(index) {
            let px = |q| to_px(q, w, h, scale);
            imgproc::line(
                plane,
                px(line.from),
                px(line.to),
                color,
                thickness,
                imgproc::LINE_8,
                0,
            )?;
            imgproc::arrowed_line(
                plane,
                px(mid),
                px(tip),
                color,
                thickness,
                imgproc::LINE_8,
                0,
                0.3,
            )?;
        }
        let c = a.line_counts.get(i).copied().unwrap_or_default();
        let text = format!("{} in {} out {}", line.name, c.inward, c.outward);
        // Near the first point, clear of the arrow in the middle.
        let at = [
            line.from[0] + 0.1 * (line.to[0] - line.from[0]),
            line.from[1] + 0.1 * (line.to[1] - line.from[1]),
        ];
        labels.push((index, to_px(at, w, h, 1), text));
    }
    for (i, zone) in a.geometry.zones.iter().enumerate() {
        let inside: u32 = a.zone_counts.get(i).map_or(0, |c| c.values().sum());
        // Label at the top-left-most corner.
        let corner = zone
            .polygon
            .iter()
            .copied()
            .min_by(|p, q| (p[0] + p[1]).total_cmp(&(q[0] + q[1])))
            .unwrap_or_default();
        let text = format!("{}: {inside}", zone.name);
        labels.push((ZONE_COLOR_BASE + i as u32, to_px(corner, w, h, 1), text));
    }
    for (index, at, text) in labels {
        label(canvas, index, at, &text)?;
    }
    Ok(())
}

/// `text` on a background of palette color `index`, its top-left corner at `at` (clamped into
/// the frame).
fn label(canvas: &mut Canvas, index: u32, at: Point, text: &str) -> opencv::Result<()> {
    let text_color = canvas.text_color();
    let mut baseline = 0;
    let size = imgproc::get_text_size(text, FONT, FONT_SCALE, 1, &mut baseline)?;
    let (bw, bh) = (size.width + 4, size.height + baseline + 2);
    let x = at.x.clamp(0, (canvas.w as i32 - bw).max(0));
    let y = at.y.clamp(0, (canvas.h as i32 - bh).max(0));
    for (plane, color, scale, _) in canvas.painted(index) {
        let r = Rect::new(x / scale, y / scale, bw / scale, bh / scale);
        imgproc::rectangle(plane, r, color, imgproc::FILLED, imgproc::LINE_8, 0)?;
    }
    imgproc::put_text(
        &mut canvas.planes[0],
        text,
        Point::new(x + 2, y + size.height + 1),
        FONT,
        FONT_SCALE,
        text_color,
        1,
        imgproc::LINE_8,
        false,
    )
}
