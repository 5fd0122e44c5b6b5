//! Where a classifier's input comes from in the frame: a face chip aligned like dlib's
//! `get_face_chip`, or the detected box with a margin.
//!
//! dlib cuts a chip with the similarity transform that maps its five landmarks onto the same
//! points of its mean face shape (`mean_face_shape_x/y`, the 68-point model's points 17–67 in
//! `[0, 1]`), put in the chip as `(padding + p) / (1 + 2·padding) × size`. BlazeFace gives other
//! points: eye centres and the mouth centre. They are matched here to the mean face's eye
//! centres (the mean of each eye's corners, points 36/39 and 42/45) and inner-lip centre (the mean
//! of points 62 and 66), least squares over the three. The differences from dlib's own chips
//! are measured in docs/classify.md.

use crate::config::classify::Crop;
use crate::frame::Detection;

/// dlib's mean face, the points matched to BlazeFace's keypoints 0 (the subject's right eye,
/// on the image's left), 1 (left eye) and 3 (mouth centre), in `[0, 1]` chip units before
/// padding.
const TEMPLATE: [[f64; 2]; 3] = [
    [(0.121737 + 0.334606) / 2.0, (0.216423 + 0.231733) / 2.0],
    [(0.645647 + 0.858516) / 2.0, (0.231733 + 0.216423) / 2.0],
    [0.490127, (0.785343 + 0.831803) / 2.0],
];
/// BlazeFace keypoint indices of [`TEMPLATE`]'s points.
const KEYPOINTS: [usize; 3] = [0, 1, 3];

/// The affine map (frame pixels → input pixels, row-major 2x3) that cuts `object`'s input of
/// `width` x `height` pixels from a `frame_w` x `frame_h` frame.
///
/// `Crop::FaceChip` needs BlazeFace's keypoints; an object without them is cut as a box.
pub fn input_map(
    object: &Detection,
    crop: Crop,
    padding: f64,
    frame: (f64, f64),
    input: (f64, f64),
) -> [[f64; 3]; 2] {
    let points: Option<Vec<[f64; 2]>> = KEYPOINTS
        .iter()
        .map(|&i| {
            let p = object.keypoints.get(i)?;
            Some([f64::from(p[0]) * frame.0, f64::from(p[1]) * frame.1])
        })
        .collect();
    match (crop, points) {
        (Crop::FaceChip, Some(points)) => {
            let target: Vec<[f64; 2]> = TEMPLATE
                .iter()
                .map(|t| {
                    [
                        (padding + t[0]) / (1.0 + 2.0 * padding) * input.0,
                        (padding + t[1]) / (1.0 + 2.0 * padding) * input.1,
                    ]
                })
                .collect();
            similarity(&points, &target)
        }
        _ => box_map(object, padding, frame, input),
    }
}

/// The box, `padding` × its size added on every side, stretched onto the input.
fn box_map(
    object: &Detection,
    padding: f64,
    frame: (f64, f64),
    input: (f64, f64),
) -> [[f64; 3]; 2] {
    let b = &object.bbox;
    let (x0, y0) = (f64::from(b.x_min) * frame.0, f64::from(b.y_min) * frame.1);
    let (w, h) = (
        (f64::from(b.x_max - b.x_min) * frame.0).max(1.0),
        (f64::from(b.y_max - b.y_min) * frame.1).max(1.0),
    );
    let (left, top) = (x0 - padding * w, y0 - padding * h);
    let (sx, sy) = (
        input.0 / (w * (1.0 + 2.0 * padding)),
        input.1 / (h * (1.0 + 2.0 * padding)),
    );
    [[sx, 0.0, -left * sx], [0.0, sy, -top * sy]]
}

/// The least-squares similarity transform (rotation, uniform scale, translation; no
/// reflection) taking `from` onto `to` (Umeyama's closed form in 2-D).
pub fn similarity(from: &[[f64; 2]], to: &[[f64; 2]]) -> [[f64; 3]; 2] {
    let n = from.len().min(to.len()).max(1) as f64;
    let mean = |ps: &[[f64; 2]]| {
        let (x, y) = ps.iter().fold((0.0, 0.0), |a, p| (a.0 + p[0], a.1 + p[1]));
        [x / n, y / n]
    };
    let (ms, md) = (mean(from), mean(to));
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for (s, d) in from.iter().zip(to) {
        let (sx, sy) = (s[0] - ms[0], s[1] - ms[1]);
        let (dx, dy) = (d[0] - md[0], d[1] - md[1]);
        dot += sx * dx + sy * dy;
        cross += sx * dy - sy * dx;
        norm += sx * sx + sy * sy;
    }
    let (a, b) = if norm > 0.0 {
        (dot / norm, cross / norm)
    } else {
        (1.0, 0.0)
    };
    [
        [a, -b, md[0] - (a * ms[0] - b * ms[1])],
        [b, a, md[1] - (b * ms[0] + a * ms[1])],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::BBox;

    fn apply(m: &[[f64; 3]; 2], p: [f64; 2]) -> [f64; 2] {
        [
            m[0][0] * p[0] + m[0][1] * p[1] + m[0][2],
            m[1][0] * p[0] + m[1][1] * p[1] + m[1][2],
        ]
    }

    #[test]
    fn a_rotated_scaled_face_lands_on_the_template() {
        // The template itself, rotated by 30°, scaled ×3 and moved: the fit undoes it exactly.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let from: Vec<[f64; 2]> = TEMPLATE
            .iter()
            .map(|t| {
                [
                    3.0 * (c * t[0] - s * t[1]) + 100.0,
                    3.0 * (s * t[0] + c * t[1]) + 50.0,
                ]
            })
            .collect();
        let m = similarity(&from, &TEMPLATE);
        for (f, t) in from.iter().zip(TEMPLATE) {
            let p = apply(&m, *f);
            assert!(
                (p[0] - t[0]).abs() < 1e-9 && (p[1] - t[1]).abs() < 1e-9,
                "{p:?} {t:?}"
            );
        }
    }

    #[test]
    fn a_face_chip_puts_the_eyes_where_dlib_puts_them_and_a_box_fills_the_input() {
        let face = Detection {
            bbox: BBox {
                x_min: 0.25,
                y_min: 0.25,
                x_max: 0.75,
                y_max: 0.75,
            },
            keypoints: vec![[0.4, 0.4], [0.6, 0.4], [0.5, 0.5], [0.5, 0.6]],
            ..Detection::default()
        };
        let m = input_map(&face, Crop::FaceChip, 0.2, (100.0, 100.0), (64.0, 64.0));
        let right_eye = apply(&m, [40.0, 40.0]);
        let left_eye = apply(&m, [60.0, 40.0]);
        // Level eyes stay level; they sit at dlib's eye rows inside the padded chip.
        assert!((right_eye[1] - left_eye[1]).abs() < 1e-3);
        let want_y = (0.2 + TEMPLATE[0][1]) / 1.4 * 64.0;
        assert!(
            (right_eye[1] - want_y).abs() < 2.0,
            "{right_eye:?} vs {want_y}"
        );
        assert!(right_eye[0] < left_eye[0]);
        let m = input_map(&face, Crop::Box, 0.0, (100.0, 100.0), (32.0, 32.0));
        assert_eq!(apply(&m, [25.0, 25.0]), [0.0, 0.0]);
        assert_eq!(apply(&m, [75.0, 75.0]), [32.0, 32.0]);
        // Without keypoints a face chip falls back to the box.
        let plain = Detection {
            keypoints: Vec::new(),
            ..face
        };
        assert_eq!(
            input_map(&plain, Crop::FaceChip, 0.0, (100.0, 100.0), (32.0, 32.0)),
            m
        );
    }
}
