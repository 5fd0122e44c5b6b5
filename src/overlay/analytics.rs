//! Zones and lines on the overlay: zones as translucent polygons with an outline and a count
//! label, lines with an arrow to their `in` side and their `in`/`out` counts; objects inside a
//! zone take the zone's color (see [`zone_color`]).

use super::{Canvas, FONT, FONT_SCALE};
use crate::frame::analytics::FrameAnalytics;
use crate::geometry::Point as P;
use opencv::core::{Mat, Point, Rect, Vector};
use opencv::imgproc;
use opencv::prelude::*;

/// Opacity of a zone's fill.
const ZONE_ALPHA: f64 = 0.25;
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

/// Zones: translucent fill and outline on every plane.
pub(super) fn draw_zones(canvas: &mut Canvas, a: &FrameAnalytics) -> opencv::Result<()> {
    let (w, h) = (canvas.w, canvas.h);
    for (i, zone) in a.geometry.zones.iter().enumerate() {
        for (plane, color, scale, thickness) in canvas.painted(ZONE_COLOR_BASE + i as u32) {
            let pts: Vector<Point> = zone
                .polygon
                .iter()
                .map(|&q| to_px(q, w, h, scale))
                .collect();
            let bounds = imgproc::bounding_rect(&pts)?;
            let size = plane.size()?;
            let rect = bounds & Rect::new(0, 0, size.width, size.height);
            if rect.width > 0 && rect.height > 0 {
                // Blend only the zone's bounding box: fill a copy, mix it back.
                let mut roi = plane.roi_mut(rect)?;
                let mut filled = roi.try_clone()?;
                let shifted: Vector<Vector<Point>> =
                    Vector::from_iter([pts.iter().map(|q| q - rect.tl()).collect()]);
                imgproc::fill_poly(
                    &mut filled,
                    &shifted,
                    color,
                    imgproc::LINE_8,
                    0,
                    Point::default(),
                )?;
                let mut blended = Mat::default();
                opencv::core::add_weighted(
                    &roi,
                    1.0 - ZONE_ALPHA,
                    &filled,
                    ZONE_ALPHA,
                    0.0,
                    &mut blended,
                    -1,
                )?;
                blended.copy_to(&mut roi)?;
            }
            let outline: Vector<Vector<Point>> = Vector::from_iter([pts]);
            imgproc::polylines(plane, &outline, true, color, thickness, imgproc::LINE_8, 0)?;
        }
    }
    Ok(())
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
        imgproc::LINE_AA,
        false,
    )
}
