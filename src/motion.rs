//! Motion detection on the luma plane, Frigate's way: the frame's Y plane scaled down to
//! `frame_height` rows, contrast stretched (optional), masked, blurred, compared with a running
//! average background; differences above `threshold` grown into contours, and those larger than
//! `contour_area` (pixels of the small frame) are motion boxes. A frame where most of the
//! picture changes at once (a light switched, the camera's IR mode) resets the background and
//! reports no motion. Names and defaults follow Frigate's `motion` settings.
//!
//! Comparing with a running background rather than the previous frame matters for cameras
//! whose frames repeat (a 10 fps scene delivered at 30 fps): repeats are not "no motion".

pub use crate::config::motion::MotionConfig;
use crate::frame::BBox;
use opencv::core::{self, Mat, Point, Scalar, Size, Vector, CV_8UC1};
use opencv::imgproc;
use opencv::prelude::*;

/// One source's motion detector (its background and mask).
pub struct MotionDetector {
    config: MotionConfig,
    /// Running average of the blurred small frames (f32).
    background: Option<Mat>,
    /// 255 where motion counts, 0 under the mask; sized to the small frame.
    keep: Option<Mat>,
    size: Size,
    /// The last [`CONTRAST_HISTORY`] `(low, high)` percentile pairs (starting at `(0, 255)`):
    /// their mean is the stretch, so one frame's new object does not restretch the picture.
    contrast: Vec<(f64, f64)>,
    contrast_next: usize,
    /// A blurred frame taken every [`STAMP_FRAMES`] frames: where the picture still equals
    /// it, the scene is static there and the background catches up fast (a passing object's
    /// ghost fades in about a second instead of `1 / frame_alpha` frames).
    stamp: Option<Mat>,
    frames: u64,
}

/// Percentiles the contrast stretch maps to 0 and 255.
const CONTRAST_PERCENTILES: (f64, f64) = (0.04, 0.96);
/// Frames between two stamps of the static-scene check.
const STAMP_FRAMES: u64 = 10;
/// Background weight of a new frame where the scene is static.
const STATIC_ALPHA: f64 = 0.2;
/// Frames whose percentiles are averaged into the stretch (Frigate: 50).
const CONTRAST_HISTORY: usize = 50;

fn cv(e: opencv::Error) -> String {
    format!("motion: {e}")
}

/// How many times `width` x `height` halves exactly and keeps at least `rows` rows: OpenCV's
/// area resize by exactly 2 is vectorized, so halving first and area-resizing the small rest
/// costs ~0.16 ms for 1280x720 to 100 rows, against ~1.7 ms for one fractional area resize of
/// the full frame (measured here, one thread).
fn halvings(mut width: u32, mut height: u32, rows: u32) -> u32 {
    let mut n = 0;
    while width.is_multiple_of(2) && height.is_multiple_of(2) && height / 2 >= rows.max(1) {
        (width, height, n) = (width / 2, height / 2, n + 1);
    }
    n
}

/// Checks that `luma` holds a `width` x `height` plane with rows `stride` bytes apart.
fn check_plane(luma: &[u8], width: u32, height: u32, stride: usize) -> Result<(), String> {
    if width == 0 || height == 0 || stride < width as usize || luma.len() < stride * height as usize
    {
        return Err(format!(
            "motion: luma plane of {} bytes for {width}x{height}",
            luma.len()
        ));
    }
    Ok(())
}

/// `plane` (`width` x `height`) area-resized to `size`: halved while that keeps enough rows,
/// then the rest.
fn scale_down(plane: &Mat, width: u32, height: u32, size: Size) -> Result<Mat, String> {
    let mut owned: Option<Mat> = None;
    let (mut w, mut h) = (width, height);
    for _ in 0..halvings(width, height, size.height as u32) {
        (w, h) = (w / 2, h / 2);
        let mut half = Mat::default();
        let half_size = Size::new(w as i32, h as i32);
        let current = owned.as_ref().unwrap_or(plane);
        imgproc::resize(current, &mut half, half_size, 0.0, 0.0, imgproc::INTER_AREA)
            .map_err(cv)?;
        owned = Some(half);
    }
    let current = owned.as_ref().unwrap_or(plane);
    if Size::new(w as i32, h as i32) == size {
        return Ok(owned.unwrap_or_else(|| plane.clone()));
    }
    let mut small = Mat::default();
    imgproc::resize(current, &mut small, size, 0.0, 0.0, imgproc::INTER_AREA).map_err(cv)?;
    Ok(small)
}

impl MotionDetector {
    pub fn new(config: MotionConfig) -> Self {
        MotionDetector {
            config,
            background: None,
            keep: None,
            size: Size::default(),
            contrast: vec![(0.0, 255.0); CONTRAST_HISTORY],
            contrast_next: 0,
            stamp: None,
            frames: 0,
        }
    }

    /// Motion boxes (normalized to the frame) in a `width` x `height` luma plane whose rows
    /// are `stride` bytes apart.
    ///
    /// # Errors
    /// An OpenCV failure, or a plane smaller than `stride * height` bytes.
    pub fn detect(
        &mut self,
        luma: &[u8],
        width: u32,
        height: u32,
        stride: usize,
    ) -> Result<Vec<BBox>, String> {
        check_plane(luma, width, height, stride)?;
        // SAFETY: the Mat borrows `luma` for this call only; its size is checked above.
        let plane = unsafe {
            Mat::new_rows_cols_with_data_unsafe(
                height as i32,
                width as i32,
                CV_8UC1,
                luma.as_ptr() as *mut std::ffi::c_void,
                stride,
            )
        }
        .map_err(cv)?;
        let rows = self.config.frame_height.min(height) as i32;
        let cols = ((width as f64 * f64::from(rows) / f64::from(height)).round() as i32).max(1);
        let size = Size::new(cols, rows);
        if size != self.size {
            self.size = size;
            self.background = None;
            self.keep = Some(self.mask_image(size)?);
        }
        let small = scale_down(&plane, width, height, size)?;
        // The stretch is applied to the frame and the background alike (below), so a change
        // of stretch is never motion: only the threshold adapts to the picture's contrast.
        let stretch = if self.config.improve_contrast {
            Some(self.contrast_stretch(&small)?)
        } else {
            None
        };
        let mut blurred = Mat::default();
        imgproc::gaussian_blur_def(&small, &mut blurred, Size::new(3, 3), 0.0).map_err(cv)?;
        let Some(background) = &self.background else {
            let mut first = Mat::default();
            blurred
                .convert_to_def(&mut first, core::CV_32F)
                .map_err(cv)?;
            self.background = Some(first);
            return Ok(Vec::new());
        };
        let (scale, offset) = stretch.unwrap_or((1.0, 0.0));
        let mut reference = Mat::default();
        core::convert_scale_abs(background, &mut reference, scale, offset).map_err(cv)?;
        let mut current = Mat::default();
        core::convert_scale_abs(&blurred, &mut current, scale, offset).map_err(cv)?;
        let changed = self.changed(&current, &reference)?;
        let (boxes, moving_area) = self.moving_boxes(&changed, size)?;
        let (w, h) = (f64::from(size.width), f64::from(size.height));
        if moving_area > self.config.lightning_threshold * w * h {
            // The whole picture changed: start the background again from this frame.
            let background = self.background.as_mut().expect("checked above");
            blurred
                .convert_to_def(background, core::CV_32F)
                .map_err(cv)?;
            return Ok(Vec::new());
        }
        self.learn(&blurred, scale)?;
        if self.frames.is_multiple_of(STAMP_FRAMES) {
            self.stamp = Some(blurred.clone());
        }
        self.frames += 1;
        Ok(boxes)
    }

    /// The pixels where `current` differs from `reference` by more than the threshold, outside
    /// the mask, grown by one pixel (255; 0 elsewhere).
    fn changed(&self, current: &Mat, reference: &Mat) -> Result<Mat, String> {
        let mut delta = Mat::default();
        core::absdiff(current, reference, &mut delta).map_err(cv)?;
        let mut changed = Mat::default();
        imgproc::threshold(
            &delta,
            &mut changed,
            f64::from(self.config.threshold),
            255.0,
            imgproc::THRESH_BINARY,
        )
        .map_err(cv)?;
        if let Some(keep) = &self.keep {
            let mut masked = Mat::default();
            core::bitwise_and_def(&changed, keep, &mut masked).map_err(cv)?;
            changed = masked;
        }
        let mut grown = Mat::default();
        imgproc::dilate_def(&changed, &mut grown, &Mat::default()).map_err(cv)?;
        Ok(grown)
    }

    /// The bounding boxes (normalized) of the `changed` areas larger than `contour_area`, and
    /// their total area in pixels of `size`.
    fn moving_boxes(&self, changed: &Mat, size: Size) -> Result<(Vec<BBox>, f64), String> {
        let mut contours: Vector<Vector<Point>> = Vector::new();
        imgproc::find_contours_def(
            changed,
            &mut contours,
            imgproc::RETR_EXTERNAL,
            imgproc::CHAIN_APPROX_SIMPLE,
        )
        .map_err(cv)?;
        let (w, h) = (f64::from(size.width), f64::from(size.height));
        let mut boxes = Vec::new();
        let mut moving_area = 0.0;
        for contour in contours.iter() {
            let area = imgproc::contour_area_def(&contour).map_err(cv)?;
            if area <= f64::from(self.config.contour_area) {
                continue;
            }
            let r = imgproc::bounding_rect(&contour).map_err(cv)?;
            moving_area += f64::from(r.width * r.height);
            boxes.push(BBox {
                x_min: (f64::from(r.x) / w) as f32,
                y_min: (f64::from(r.y) / h) as f32,
                x_max: (f64::from(r.x + r.width) / w) as f32,
                y_max: (f64::from(r.y + r.height) / h) as f32,
            });
        }
        Ok((boxes, moving_area))
    }

    /// Blends `blurred` into the background at `frame_alpha`; where the picture has not
    /// changed since the last stamp (still for [`STAMP_FRAMES`] frames), at [`STATIC_ALPHA`]
    /// too, so a parked object fades into it. `scale` is the contrast stretch.
    fn learn(&mut self, blurred: &Mat, scale: f64) -> Result<(), String> {
        let background = self
            .background
            .as_mut()
            .expect("learned after the first frame");
        imgproc::accumulate_weighted_def(blurred, background, self.config.frame_alpha)
            .map_err(cv)?;
        let Some(stamp) = &self.stamp else {
            return Ok(());
        };
        let mut since = Mat::default();
        core::absdiff(blurred, stamp, &mut since).map_err(cv)?;
        let mut still = Mat::default();
        imgproc::threshold(
            &since,
            &mut still,
            f64::from(self.config.threshold) / 2.0 / scale.max(1e-6),
            255.0,
            imgproc::THRESH_BINARY_INV,
        )
        .map_err(cv)?;
        imgproc::accumulate_weighted(blurred, background, STATIC_ALPHA, &still).map_err(cv)
    }

    /// `(scale, offset)` mapping the mean 4th–96th percentiles of the last frames onto 0–255
    /// (a dim or hazy picture gets the contrast the threshold was chosen for); a single-color
    /// frame adds nothing.
    fn contrast_stretch(&mut self, small: &Mat) -> Result<(f64, f64), String> {
        let bytes = small.data_bytes().map_err(cv)?;
        let mut histogram = [0u32; 256];
        for &v in bytes {
            histogram[usize::from(v)] += 1;
        }
        let total = bytes.len() as f64;
        let percentile = |q: f64| {
            let mut seen = 0.0;
            for (v, &n) in histogram.iter().enumerate() {
                seen += f64::from(n);
                if seen >= q * total {
                    return v as f64;
                }
            }
            255.0
        };
        let (lo, hi) = (
            percentile(CONTRAST_PERCENTILES.0),
            percentile(CONTRAST_PERCENTILES.1),
        );
        if lo < hi {
            self.contrast[self.contrast_next] = (lo, hi);
            self.contrast_next = (self.contrast_next + 1) % CONTRAST_HISTORY;
        }
        let n = self.contrast.len() as f64;
        let lo = self.contrast.iter().map(|c| c.0).sum::<f64>() / n;
        let hi = self.contrast.iter().map(|c| c.1).sum::<f64>() / n;
        let scale = 255.0 / (hi - lo).max(1.0);
        Ok((scale, -lo * scale))
    }

    /// 255 everywhere but inside the mask polygons (0), at `size`.
    fn mask_image(&self, size: Size) -> Result<Mat, String> {
        let mut keep = Mat::new_size_with_default(size, CV_8UC1, Scalar::all(255.0)).map_err(cv)?;
        if self.config.mask.is_empty() {
            return Ok(keep);
        }
        let polygons: Vector<Vector<Point>> = self
            .config
            .mask
            .iter()
            .map(|polygon| {
                polygon
                    .iter()
                    .map(|[x, y]| {
                        Point::new(
                            (x * size.width as f32).round() as i32,
                            (y * size.height as f32).round() as i32,
                        )
                    })
                    .collect::<Vector<Point>>()
            })
            .collect();
        imgproc::fill_poly_def(&mut keep, &polygons, Scalar::all(0.0)).map_err(cv)?;
        Ok(keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halvings_keep_enough_rows() {
        assert_eq!(halvings(1280, 720, 100), 2); // 320x180
        assert_eq!(halvings(1920, 1080, 100), 3); // 240x135
        assert_eq!(halvings(640, 360, 100), 1);
        assert_eq!(halvings(320, 240, 100), 1);
        assert_eq!(halvings(178, 100, 100), 0);
        assert_eq!(halvings(97, 61, 100), 0);
    }

    const W: u32 = 320;
    const H: u32 = 240;

    /// A gray picture with deterministic noise (±`noise`), and a dark square at `square`.
    fn picture(seed: u32, noise: u8, square: Option<(u32, u32)>) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut out = vec![0u8; (W * H) as usize];
        for (i, px) in out.iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = if noise == 0 {
                0
            } else {
                (state % (2 * u32::from(noise) + 1)) as i32 - i32::from(noise)
            };
            let (x, y) = (i as u32 % W, i as u32 / W);
            // A gradient background so the contrast stretch has a range to work on.
            let base = 60 + (x * 100 / W) as i32;
            let v = match square {
                Some((sx, sy)) if (sx..sx + 40).contains(&x) && (sy..sy + 40).contains(&y) => 10,
                _ => base + n,
            };
            *px = v.clamp(0, 255) as u8;
        }
        out
    }

    fn run(detector: &mut MotionDetector, frames: impl Iterator<Item = Vec<u8>>) -> Vec<usize> {
        frames
            .map(|f| detector.detect(&f, W, H, W as usize).unwrap().len())
            .collect()
    }

    #[test]
    fn sensor_noise_is_not_motion_and_a_moving_square_is() {
        let mut d = MotionDetector::new(MotionConfig::default());
        let idle = run(&mut d, (0..30).map(|i| picture(i, 6, None)));
        assert!(idle.iter().all(|&n| n == 0), "noise: {idle:?}");
        let moving = run(
            &mut d,
            (0..20).map(|i| picture(100 + i, 6, Some((20 + i * 8, 100)))),
        );
        assert!(moving.iter().all(|&n| n >= 1), "square: {moving:?}");
    }

    #[test]
    fn a_mask_over_the_moving_area_suppresses_it() {
        let config = MotionConfig {
            mask: vec![vec![[0.0, 0.3], [1.0, 0.3], [1.0, 0.7], [0.0, 0.7]]],
            ..Default::default()
        };
        let mut d = MotionDetector::new(config);
        run(&mut d, (0..10).map(|i| picture(i, 6, None)));
        let masked = run(
            &mut d,
            (0..20).map(|i| picture(100 + i, 6, Some((20 + i * 8, 100)))),
        );
        assert!(masked.iter().all(|&n| n == 0), "masked: {masked:?}");
    }

    #[test]
    fn a_lighting_change_resets_the_background() {
        let mut d = MotionDetector::new(MotionConfig {
            improve_contrast: false,
            ..Default::default()
        });
        run(&mut d, (0..10).map(|i| picture(i, 2, None)));
        let bright: Vec<u8> = picture(50, 2, None)
            .iter()
            .map(|v| v.saturating_add(120))
            .collect();
        assert_eq!(d.detect(&bright, W, H, W as usize).unwrap().len(), 0);
        assert_eq!(
            d.detect(&bright, W, H, W as usize).unwrap().len(),
            0,
            "new background"
        );
    }
}
