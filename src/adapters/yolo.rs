//! YOLO output decoding: Ultralytics' anchor-free head and end-to-end (NMS-free) exports.
//!
//! **Anchor-free head** (YOLOv8, YOLOv9, YOLO11; Ultralytics `Detect` head, ONNX/IR export):
//! one output `[1, 4 + nc, N]` f32 — per candidate `cx, cy, w, h` in input pixels, then `nc`
//! class scores already through the sigmoid (no objectness). `N` is the number of grid cells
//! of strides 8, 16 and 32 (8400 for 640x640). Some exporters transpose it to `[1, N, 4 + nc]`;
//! both are read. Confidence is the best class score; NMS is per class (IoU, default 0.45, as
//! Ultralytics' `non_max_suppression` with `agnostic=False`).
//!
//! **End-to-end** (YOLOv10, Ultralytics `end2end`/NMS-free exports): one output `[1, N, 6]` —
//! `x1, y1, x2, y2` in input pixels, score, class id — already suppressed; `N` is the export's
//! `max_det` (300), not a grid size, which is how it is told from a transposed head with two
//! classes.
//!
//! The input is letterboxed (aspect kept, centered, gray 114 padding) RGB in `[0, 1]`, so boxes
//! are mapped back through [`Letterbox`]. Class ids are 0-based (`labels[id]`), as Ultralytics
//! numbers them.

use super::{iou, Adapter, Build, BuildError, Decode, Registration};
use crate::engine::{InputElement, InputFormat, InputSpec, Letterbox, OutputSpec};
use crate::frame::{BBox, Detection};
use std::sync::Arc;

/// Values before the class scores in a head row: `cx, cy, w, h`.
const BOX_VALUES: usize = 4;
/// Values per end-to-end row: `x1, y1, x2, y2, score, class`.
const END_TO_END_ROW: usize = 6;
/// Strides of the three detection scales of the anchor-free head.
const STRIDES: [i64; 3] = [8, 16, 32];
/// Default IoU above which a box of the same class is suppressed (`[detect] iou`; the value
/// Ultralytics' validation scripts of YOLOv5 used and Open Model Zoo's YOLO demos keep).
pub const DEFAULT_IOU: f32 = 0.45;
/// Candidates kept before NMS (Ultralytics' `max_nms`), and detections after (`max_det`).
const MAX_CANDIDATES: usize = 30_000;
const MAX_DETECTIONS: usize = 300;

/// Which YOLO output layout the model has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YoloLayout {
    /// `[1, 4 + nc, N]`.
    Head { classes: usize, candidates: usize },
    /// `[1, N, 4 + nc]`.
    HeadTransposed { classes: usize, candidates: usize },
    /// `[1, N, 6]`.
    EndToEnd { rows: usize },
}

/// Decodes YOLO outputs into [`Detection`]s.
#[derive(Debug, Clone)]
pub struct YoloAdapter {
    output: String,
    layout: YoloLayout,
    labels: Vec<Arc<str>>,
    threshold: f32,
    iou: f32,
    /// Class ids to keep; `None` keeps all.
    keep: Option<Vec<bool>>,
}

/// Grid cells of the anchor-free head for a `height` x `width` input.
pub fn head_candidates(height: i64, width: i64) -> i64 {
    STRIDES.iter().map(|s| (height / s) * (width / s)).sum()
}

impl YoloLayout {
    /// The layout of a `[1, a, b]` output of a model with a `height` x `width` input, if it is
    /// one of the YOLO layouts.
    pub fn of(shape: &[i64], (height, width): (i64, i64)) -> Option<YoloLayout> {
        let [1, a, b] = *shape else {
            return None;
        };
        let grid = head_candidates(height, width);
        let head = |features: i64, n: i64| {
            (features > BOX_VALUES as i64 && n == grid).then(|| {
                (
                    (features - BOX_VALUES as i64) as usize,
                    n as usize, // candidates
                )
            })
        };
        if let Some((classes, candidates)) = head(a, b) {
            return Some(YoloLayout::Head {
                classes,
                candidates,
            });
        }
        if let Some((classes, candidates)) = head(b, a) {
            return Some(YoloLayout::HeadTransposed {
                classes,
                candidates,
            });
        }
        (b == END_TO_END_ROW as i64 && a > 0).then_some(YoloLayout::EndToEnd { rows: a as usize })
    }

    /// Class scores per candidate (`None` for end-to-end: any id).
    pub fn classes(&self) -> Option<usize> {
        match *self {
            YoloLayout::Head { classes, .. } | YoloLayout::HeadTransposed { classes, .. } => {
                Some(classes)
            }
            YoloLayout::EndToEnd { .. } => None,
        }
    }
}

impl YoloAdapter {
    /// Picks the output and its layout.
    ///
    /// `input` is the model's `(height, width)`; `labels` must name every class the head scores
    /// (more is an error too: the model file and the labels disagree); `classes` filters by
    /// name.
    ///
    /// # Errors
    /// A message listing the model's outputs when none has a YOLO layout; a labels count that
    /// differs from the model's classes; a class filter naming an unknown class.
    pub fn new(
        outputs: &[OutputSpec],
        input: (i64, i64),
        labels: Vec<String>,
        threshold: f32,
        iou: f32,
        classes: &[String],
    ) -> Result<Self, String> {
        let found = outputs
            .iter()
            .find_map(|o| YoloLayout::of(&o.shape, input).map(|l| (o.name.clone(), l)));
        let Some((output, layout)) = found else {
            return Err(format!(
                "outputs match no YOLO layout (want [1, 4+nc, {n}], [1, {n}, 4+nc] or \
                 [1, N, 6]); model has: {}",
                describe(outputs),
                n = head_candidates(input.0, input.1)
            ));
        };
        if let Some(nc) = layout.classes() {
            if labels.len() != nc {
                return Err(format!(
                    "the model scores {nc} classes but {} labels were given ({labels:?})",
                    labels.len()
                ));
            }
        }
        let keep = if classes.is_empty() {
            None
        } else {
            let mut keep = vec![false; labels.len()];
            for class in classes {
                let pos = labels
                    .iter()
                    .position(|l| l == class)
                    .ok_or_else(|| crate::config::not_a_class("detect.classes", class, &labels))?;
                keep[pos] = true;
            }
            Some(keep)
        };
        Ok(YoloAdapter {
            output,
            layout,
            labels: labels.into_iter().map(Arc::from).collect(),
            threshold,
            iou,
            keep,
        })
    }

    pub fn layout(&self) -> YoloLayout {
        self.layout
    }

    /// Class names: class id `c` is `labels()[c]`.
    pub fn labels(&self) -> Vec<Arc<str>> {
        self.labels.clone()
    }

    /// The one output tensor to read.
    pub fn output_names(&self) -> Vec<String> {
        vec![self.output.clone()]
    }

    /// Detections with confidence ≥ threshold in a frame placed by `letterbox`, best first.
    ///
    /// `outputs[0]` holds the flat f32 data of the output, for one image.
    pub fn decode(&self, outputs: &[Vec<f32>], letterbox: &Letterbox) -> Vec<Detection> {
        let Some(data) = outputs.first() else {
            return Vec::new();
        };
        let mut candidates = match self.layout {
            YoloLayout::Head {
                classes,
                candidates,
            } => self.candidates(data, classes, candidates, |row, k| {
                data.get(k * candidates + row).copied().unwrap_or(0.0)
            }),
            YoloLayout::HeadTransposed {
                classes,
                candidates,
            } => {
                let stride = BOX_VALUES + classes;
                self.candidates(data, classes, candidates, |row, k| {
                    data.get(row * stride + k).copied().unwrap_or(0.0)
                })
            }
            YoloLayout::EndToEnd { rows } => data
                .chunks_exact(END_TO_END_ROW)
                .take(rows)
                .filter(|r| r[4] >= self.threshold && r[5] >= 0.0)
                .map(|r| Candidate {
                    corners: [r[0], r[1], r[2], r[3]],
                    score: r[4],
                    class: r[5].round() as usize,
                })
                .filter(|c| self.kept(c.class))
                .collect(),
        };
        if !matches!(self.layout, YoloLayout::EndToEnd { .. }) {
            candidates = nms_per_class(candidates, self.iou);
        } else {
            candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
        candidates.truncate(MAX_DETECTIONS);
        let side = letterbox.input as f32;
        candidates
            .into_iter()
            .map(|c| {
                let [x1, y1] = letterbox.frame_point(c.corners[0] / side, c.corners[1] / side);
                let [x2, y2] = letterbox.frame_point(c.corners[2] / side, c.corners[3] / side);
                Detection {
                    label_id: c.class as u32,
                    label: self
                        .labels
                        .get(c.class)
                        .filter(|l| !l.is_empty())
                        .cloned()
                        .unwrap_or_else(|| Arc::from(c.class.to_string())),
                    confidence: c.score,
                    bbox: BBox {
                        x_min: x1,
                        y_min: y1,
                        x_max: x2,
                        y_max: y2,
                    }
                    .clamped(),
                    ..Detection::default()
                }
            })
            .collect()
    }

    fn kept(&self, class: usize) -> bool {
        self.keep
            .as_ref()
            .is_none_or(|k| k.get(class).copied().unwrap_or(false))
    }

    /// Head candidates above the threshold: `value(row, k)` is feature `k` of candidate `row`.
    fn candidates(
        &self,
        data: &[f32],
        classes: usize,
        rows: usize,
        value: impl Fn(usize, usize) -> f32,
    ) -> Vec<Candidate> {
        if data.len() < rows * (BOX_VALUES + classes) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for row in 0..rows {
            let (class, score) = (0..classes)
                .map(|c| (c, value(row, BOX_VALUES + c)))
                .fold((0, f32::MIN), |best, s| if s.1 > best.1 { s } else { best });
            if score < self.threshold || !self.kept(class) {
                continue;
            }
            let (cx, cy, w, h) = (value(row, 0), value(row, 1), value(row, 2), value(row, 3));
            out.push(Candidate {
                corners: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                score,
                class,
            });
        }
        if out.len() > MAX_CANDIDATES {
            out.sort_by(|a, b| b.score.total_cmp(&a.score));
            out.truncate(MAX_CANDIDATES);
        }
        out
    }
}

/// `name [shape]` of each output, comma-separated.
pub fn describe(outputs: &[OutputSpec]) -> String {
    outputs
        .iter()
        .map(|o| format!("{} {:?} f32", o.name, o.shape))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A box before NMS, corners in input pixels.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    corners: [f32; 4],
    score: f32,
    class: usize,
}

/// Greedy NMS within each class: best first, a box whose IoU with a kept box of its class is
/// above `threshold` is dropped. Returns the kept boxes, best first.
fn nms_per_class(mut candidates: Vec<Candidate>, threshold: f32) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::new();
    for c in candidates {
        let overlaps = kept
            .iter()
            .any(|k| k.class == c.class && iou(&k.corners, &c.corners) > threshold);
        if !overlaps {
            kept.push(c);
            if kept.len() == MAX_DETECTIONS {
                break;
            }
        }
    }
    kept
}

/// Gray of Ultralytics' letterbox bars.
const YOLO_PAD: u8 = 114;

/// YOLO (Ultralytics v5/v8/v11 heads, end-to-end v10): f32 RGB input in [0, 1], letterboxed
/// with gray bars; NMS per class.
pub static REGISTRATION: Registration = Registration {
    name: super::YOLO,
    input_format: || InputFormat {
        element: InputElement::F32Unit,
        letterbox: true,
        pad: YOLO_PAD,
        ..InputFormat::default()
    },
    fits,
    build,
};

fn fits(outputs: &[OutputSpec], input: Option<(i64, i64)>) -> bool {
    input.is_some_and(|hw| {
        outputs
            .iter()
            .any(|o| YoloLayout::of(&o.shape, hw).is_some())
    })
}

/// Labels must name every class the head scores; without any, the class ids are the names.
fn build(b: &Build<'_>) -> Result<Adapter, BuildError> {
    let classes = b
        .outputs
        .iter()
        .find_map(|o| YoloLayout::of(&o.shape, b.input))
        .and_then(|l| l.classes());
    let labels = match classes {
        Some(nc) if b.labels.is_empty() => (0..nc).map(|c| c.to_string()).collect(),
        Some(nc) if b.labels.len() != nc => {
            return Err(BuildError::Config(format!(
                "the model scores {nc} classes but {} labels were given ({}); give one name \
                 per class, one per line (--labels FILE)",
                b.labels.len(),
                b.labels.join(", ")
            )))
        }
        _ => b.labels.clone(),
    };
    YoloAdapter::new(b.outputs, b.input, labels, b.threshold, b.iou, b.classes)
        .map(|a| Adapter::new(&REGISTRATION, a))
        .map_err(BuildError::Model)
}

impl Decode for YoloAdapter {
    fn output_names(&self) -> Vec<String> {
        YoloAdapter::output_names(self)
    }

    fn decode(
        &self,
        outputs: &[Vec<f32>],
        (w, h): (u32, u32),
        input: &InputSpec,
    ) -> Vec<Detection> {
        YoloAdapter::decode(self, outputs, &input.letterbox(w, h))
    }

    fn labels(&self) -> Vec<Arc<str>> {
        YoloAdapter::labels(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shape: &[i64]) -> OutputSpec {
        OutputSpec {
            name: "output0".into(),
            shape: shape.to_vec(),
        }
    }

    fn square() -> Letterbox {
        Letterbox::fit(640, 640, 640, 640)
    }

    #[test]
    fn layouts_are_told_apart_by_shape() {
        let input = (640, 640);
        assert_eq!(
            YoloLayout::of(&[1, 6, 8400], input),
            Some(YoloLayout::Head {
                classes: 2,
                candidates: 8400
            })
        );
        assert_eq!(
            YoloLayout::of(&[1, 8400, 84], input),
            Some(YoloLayout::HeadTransposed {
                classes: 80,
                candidates: 8400
            })
        );
        // Two classes transposed vs end-to-end: the grid size decides.
        assert!(matches!(
            YoloLayout::of(&[1, 8400, 6], input),
            Some(YoloLayout::HeadTransposed { classes: 2, .. })
        ));
        assert_eq!(
            YoloLayout::of(&[1, 300, 6], input),
            Some(YoloLayout::EndToEnd { rows: 300 })
        );
        assert_eq!(YoloLayout::of(&[1, 100, 7], input), None);
        assert_eq!(YoloLayout::of(&[1, 1, 100, 7], input), None);
        assert_eq!(head_candidates(320, 320), 2100);
    }

    #[test]
    fn head_boxes_get_per_class_nms_and_map_through_the_letterbox() {
        // [1, 6, 3] is not a real grid: build the adapter's layout by hand.
        let adapter = YoloAdapter {
            output: "output0".into(),
            layout: YoloLayout::Head {
                classes: 2,
                candidates: 3,
            },
            labels: vec![Arc::from("Normal"), Arc::from("Fall")],
            threshold: 0.5,
            iou: DEFAULT_IOU,
            keep: None,
        };
        // Channels first: cx row, cy row, w row, h row, class 0 row, class 1 row.
        // Candidates 0 and 1 overlap heavily (same class 1: one survives); candidate 2 is
        // the same place as 0 but class 0 (kept: NMS is per class).
        let data = vec![
            320.0, 322.0, 320.0, // cx
            320.0, 321.0, 320.0, // cy
            100.0, 100.0, 100.0, // w
            200.0, 200.0, 200.0, // h
            0.1, 0.2, 0.7, // Normal
            0.9, 0.8, 0.1, // Fall
        ];
        let lb = Letterbox::fit(768, 576, 640, 640); // 640x480 at y 80
        let d = adapter.decode(&[data], &lb);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(&*d[0].label, "Fall");
        assert_eq!(d[0].label_id, 1);
        assert!((d[0].confidence - 0.9).abs() < 1e-6);
        assert_eq!(&*d[1].label, "Normal");
        // x: (270..370)/640; y: (220..420 - 80)/480.
        let b = d[0].bbox;
        assert!((b.x_min - 270.0 / 640.0).abs() < 1e-5, "{b:?}");
        assert!((b.y_min - 140.0 / 480.0).abs() < 1e-5, "{b:?}");
        assert!((b.y_max - 340.0 / 480.0).abs() < 1e-5, "{b:?}");
    }

    #[test]
    fn transposed_and_end_to_end_rows_decode_the_same_box() {
        let mut t = YoloAdapter::new(
            &[spec(&[1, 8400, 6])],
            (640, 640),
            vec!["a".into(), "b".into()],
            0.5,
            DEFAULT_IOU,
            &[],
        )
        .unwrap();
        let mut data = vec![0.0; 8400 * 6];
        data[6 * 7..6 * 8].copy_from_slice(&[100.0, 100.0, 40.0, 20.0, 0.1, 0.95]);
        let d = t.decode(&[data], &square());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].label_id, 1);
        let e2e = YoloAdapter::new(
            &[spec(&[1, 300, 6])],
            (640, 640),
            vec!["a".into(), "b".into()],
            0.5,
            DEFAULT_IOU,
            &["b".into()],
        )
        .unwrap();
        let mut rows = vec![0.0; 300 * 6];
        rows[..6].copy_from_slice(&[80.0, 90.0, 120.0, 110.0, 0.95, 1.0]);
        rows[6..12].copy_from_slice(&[0.0, 0.0, 10.0, 10.0, 0.99, 0.0]); // class a: filtered
        let e = e2e.decode(&[rows], &square());
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].bbox, d[0].bbox);
        t.threshold = 0.99;
        assert!(t.decode(&[vec![0.0; 8400 * 6]], &square()).is_empty());
    }

    #[test]
    fn wrong_labels_and_outputs_are_named() {
        let e = YoloAdapter::new(
            &[spec(&[1, 6, 8400])],
            (640, 640),
            vec!["only".into()],
            0.5,
            DEFAULT_IOU,
            &[],
        )
        .unwrap_err();
        assert!(e.contains("2 classes but 1 labels"), "{e}");
        let e =
            YoloAdapter::new(&[spec(&[1, 10])], (640, 640), vec![], 0.5, 0.45, &[]).unwrap_err();
        assert!(e.contains("output0 [1, 10]"), "{e}");
    }
}
