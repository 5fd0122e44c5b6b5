//! Overlay stage: draws boxes and labels on the frame in place with OpenCV.

use crate::error::{Error, Result};
use crate::frame::{AnalyzedFrame, Detection};
use crate::pipeline::stats::{Edge, StageStats};
use crossbeam::channel::{Receiver, Sender};
use opencv::core::{Mat, Point, Rect, Scalar, CV_8UC3};
use opencv::imgproc;
use std::time::Instant;

const LINE_THICKNESS: i32 = 2;
const FONT_SCALE: f64 = 0.5;
const FONT: i32 = imgproc::FONT_HERSHEY_SIMPLEX;
/// Per-class colors (RGB, the frame's channel order), picked by label id.
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

fn color_of(label_id: u32) -> Scalar {
    let (r, g, b) = PALETTE[label_id as usize % PALETTE.len()];
    Scalar::new(r, g, b, 0.0)
}

/// Draws every detection of `frame` onto its pixels (packed RGB), in place.
///
/// The buffer is made writable first; that is free when nothing else holds it (appsink runs
/// with `enable-last-sample=false`), otherwise GStreamer copies it once.
pub fn draw(frame: &mut AnalyzedFrame) -> Result<()> {
    if frame.detections.is_empty() {
        return Ok(());
    }
    let (w, h) = (frame.frame.info.width(), frame.frame.info.height());
    let stride = frame.frame.info.stride()[0] as usize;
    let buffer = frame.frame.buffer.make_mut();
    let mut map = buffer
        .map_writable()
        .map_err(|e| Error::gst("overlay: map frame writable", e))?;
    let cv = |e: opencv::Error| Error::gst("overlay (OpenCV)", e);
    // SAFETY: the Mat borrows the mapped buffer, which outlives it.
    let mut mat = unsafe {
        Mat::new_rows_cols_with_data_unsafe(
            h as i32,
            w as i32,
            CV_8UC3,
            map.as_mut_ptr().cast(),
            stride,
        )
    }
    .map_err(cv)?;
    for det in &frame.detections {
        draw_one(&mut mat, det, w, h).map_err(cv)?;
    }
    Ok(())
}

fn draw_one(mat: &mut Mat, det: &Detection, w: u32, h: u32) -> opencv::Result<()> {
    let color = color_of(det.label_id);
    let (x, y, bw, bh) = det.bbox.to_pixels(w, h);
    imgproc::rectangle(
        mat,
        Rect::new(x, y, bw, bh),
        color,
        LINE_THICKNESS,
        imgproc::LINE_8,
        0,
    )?;
    let text = format!("{} {:.0}%", det.label, det.confidence * 100.0);
    let mut baseline = 0;
    let size = imgproc::get_text_size(&text, FONT, FONT_SCALE, 1, &mut baseline)?;
    let top = (y - size.height - baseline).max(0);
    imgproc::rectangle(
        mat,
        Rect::new(x, top, size.width + 4, size.height + baseline + 2),
        color,
        imgproc::FILLED,
        imgproc::LINE_8,
        0,
    )?;
    imgproc::put_text(
        mat,
        &text,
        Point::new(x + 2, top + size.height + 1),
        FONT,
        FONT_SCALE,
        Scalar::new(0.0, 0.0, 0.0, 0.0),
        1,
        imgproc::LINE_AA,
        false,
    )
}

/// Runs the stage until `detected_rx` closes or downstream closes.
pub fn run(
    detected_rx: Receiver<AnalyzedFrame>,
    rendered_tx: Sender<AnalyzedFrame>,
    edge: &Edge,
    stats: &StageStats,
) -> Result<()> {
    for mut frame in detected_rx {
        let t0 = Instant::now();
        draw(&mut frame)?;
        stats.record(t0.elapsed());
        if edge.send(&rendered_tx, frame).is_err() {
            break;
        }
    }
    Ok(())
}
