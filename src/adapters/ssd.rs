//! SSD output decoding, for the two layouts SSD models ship with.
//!
//! **TF Object Detection API export** (frozen graphs such as `pedestrian-ssdlite`), outputs by
//! tensor name:
//! - `detection_boxes:0`: `[1, N, 4]` f32, normalized `[ymin, xmin, ymax, xmax]`
//! - `detection_scores:0`: `[1, N]` f32 in `[0, 1]`, sorted descending
//! - `detection_classes:0`: `[1, N]` f32 class ids, 1-based (0 = background)
//! - `num_detections:0`: `[1]` f32, valid rows of the above
//!
//! **OpenVINO `DetectionOutput`** (Open Model Zoo SSD IRs, converted TFLite SSDs): one output
//! `[1, 1, N, 7]` f32, rows `[image_id, label, confidence, x_min, y_min, x_max, y_max]` with
//! normalized coordinates; a row with `image_id < 0` ends the list.
//!
//! Both already contain NMS, so decoding is thresholding, label lookup and class filtering.

use super::{Adapter, Build, BuildError, Decode, Registration};
use crate::engine::{InputFormat, InputSpec, OutputSpec};
use crate::frame::{BBox, Detection};
use std::collections::HashSet;
use std::sync::Arc;

/// Tensor names of the TF-OD-API export, in the order [`SsdAdapter::output_names`] lists them.
pub const TF_OD_API_OUTPUTS: [&str; 4] = [
    "detection_boxes:0",
    "detection_scores:0",
    "detection_classes:0",
    "num_detections:0",
];
/// Values per `DetectionOutput` row.
const DETECTION_OUTPUT_ROW: usize = 7;

/// Which output layout the model has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsdLayout {
    TfOdApi,
    /// The output's tensor name.
    DetectionOutput(String),
}

/// Decodes SSD outputs into [`Detection`]s.
#[derive(Debug, Clone)]
pub struct SsdAdapter {
    layout: SsdLayout,
    labels: Vec<Arc<str>>,
    threshold: f32,
    /// Class ids to keep; `None` keeps all.
    keep: Option<HashSet<u32>>,
}

impl SsdAdapter {
    /// Class names, label id L is `labels()[L-1]`.
    pub fn labels(&self) -> Vec<Arc<str>> {
        self.labels.clone()
    }

    /// Picks the layout from the model's outputs.
    ///
    /// `has_output(name)` tells whether the model has a tensor with that name (any alias).
    /// `classes` filters by label name; each must be in `labels`.
    ///
    /// # Errors
    /// A message listing the model's outputs when neither layout matches, or naming an unknown
    /// class in `classes`.
    pub fn new(
        outputs: &[OutputSpec],
        has_output: impl Fn(&str) -> bool,
        labels: Vec<String>,
        threshold: f32,
        classes: &[String],
    ) -> Result<Self, String> {
        let layout = if TF_OD_API_OUTPUTS.iter().all(|n| has_output(n)) {
            SsdLayout::TfOdApi
        } else if let Some(out) = outputs
            .iter()
            .find(|o| o.shape.len() == 4 && o.shape[3] == DETECTION_OUTPUT_ROW as i64)
        {
            SsdLayout::DetectionOutput(out.name.clone())
        } else {
            let found: Vec<String> = outputs
                .iter()
                .map(|o| format!("{} {:?}", o.name, o.shape))
                .collect();
            return Err(format!(
                "outputs match no SSD layout (want TF-OD-API {TF_OD_API_OUTPUTS:?} or \
                 DetectionOutput [1,1,N,7]); model has: {}",
                found.join(", ")
            ));
        };
        let keep = if classes.is_empty() {
            None
        } else {
            let mut ids = HashSet::new();
            for class in classes {
                let pos = labels
                    .iter()
                    .position(|l| l == class)
                    .ok_or_else(|| crate::config::not_a_class("detect.classes", class, &labels))?;
                ids.insert(pos as u32 + 1);
            }
            Some(ids)
        };
        Ok(SsdAdapter {
            layout,
            labels: labels.into_iter().map(Arc::from).collect(),
            threshold,
            keep,
        })
    }

    pub fn layout(&self) -> &SsdLayout {
        &self.layout
    }

    /// Output tensor names to read, in the order [`decode`](Self::decode) expects them.
    pub fn output_names(&self) -> Vec<String> {
        match &self.layout {
            SsdLayout::TfOdApi => TF_OD_API_OUTPUTS.iter().map(|s| s.to_string()).collect(),
            SsdLayout::DetectionOutput(name) => vec![name.clone()],
        }
    }

    /// Detections with confidence ≥ threshold and a kept class, in model order.
    ///
    /// `outputs[i]` holds the flat f32 data of `output_names()[i]`.
    pub fn decode(&self, outputs: &[Vec<f32>]) -> Vec<Detection> {
        let mut detections = Vec::new();
        match &self.layout {
            SsdLayout::TfOdApi => {
                let [boxes, scores, classes, num] = outputs else {
                    return detections;
                };
                let n = num.first().map_or(0, |n| *n as usize);
                let n = n.min(scores.len()).min(classes.len()).min(boxes.len() / 4);
                for i in 0..n {
                    let b = &boxes[i * 4..i * 4 + 4];
                    let bbox = BBox {
                        y_min: b[0],
                        x_min: b[1],
                        y_max: b[2],
                        x_max: b[3],
                    };
                    self.push(&mut detections, classes[i], scores[i], bbox);
                }
            }
            SsdLayout::DetectionOutput(_) => {
                let Some(rows) = outputs.first() else {
                    return detections;
                };
                for row in rows.chunks_exact(DETECTION_OUTPUT_ROW) {
                    if row[0] < 0.0 {
                        break;
                    }
                    let bbox = BBox {
                        x_min: row[3],
                        y_min: row[4],
                        x_max: row[5],
                        y_max: row[6],
                    };
                    self.push(&mut detections, row[1], row[2], bbox);
                }
            }
        }
        detections
    }

    fn push(&self, into: &mut Vec<Detection>, class: f32, confidence: f32, bbox: BBox) {
        if confidence < self.threshold || class < 0.0 {
            return;
        }
        let label_id = class.round() as u32;
        if self.keep.as_ref().is_some_and(|k| !k.contains(&label_id)) {
            return;
        }
        let label = label_id
            .checked_sub(1)
            .and_then(|i| self.labels.get(i as usize))
            .filter(|l| !l.is_empty())
            .cloned()
            .unwrap_or_else(|| Arc::from(label_id.to_string()));
        into.push(Detection {
            label_id,
            label,
            confidence,
            bbox: bbox.clamped(),
            ..Detection::default()
        });
    }
}

/// The SSD family: TF-OD-API outputs (by name, or by shape: boxes `[N, K, 4]`, scores and
/// classes `[N, K]`, count `[N]`) or OpenVINO's DetectionOutput `[1, 1, N, 7]`; u8 RGB input,
/// stretched.
pub static REGISTRATION: Registration = Registration {
    name: super::SSD,
    input_format: InputFormat::default,
    fits,
    build,
};

fn fits(outputs: &[OutputSpec], _input: Option<(i64, i64)>) -> bool {
    let named = |n: &str| outputs.iter().any(|o| o.name == n);
    // TF-OD-API by shape too (a frozen graph's outputs may be read under other names).
    let tf_od_api_shapes = outputs.iter().any(|b| {
        b.shape.len() == 3 && b.shape[2] == 4 && {
            let k = b.shape[1];
            outputs
                .iter()
                .filter(|o| o.shape.len() == 2 && o.shape[1] == k)
                .count()
                == 2
                && outputs.iter().any(|o| o.shape.len() == 1)
        }
    });
    TF_OD_API_OUTPUTS.iter().all(|n| named(n))
        || tf_od_api_shapes
        || outputs
            .iter()
            .any(|o| o.shape.len() == 4 && o.shape[3] == DETECTION_OUTPUT_ROW as i64)
}

fn build(b: &Build<'_>) -> Result<Adapter, BuildError> {
    SsdAdapter::new(
        b.outputs,
        b.has_output,
        b.labels.clone(),
        b.threshold,
        b.classes,
    )
    .map(|a| Adapter::new(&REGISTRATION, a))
    .map_err(BuildError::Model)
}

impl Decode for SsdAdapter {
    fn output_names(&self) -> Vec<String> {
        SsdAdapter::output_names(self)
    }

    fn decode(
        &self,
        outputs: &[Vec<f32>],
        _frame: (u32, u32),
        _input: &InputSpec,
    ) -> Vec<Detection> {
        SsdAdapter::decode(self, outputs)
    }

    fn labels(&self) -> Vec<Arc<str>> {
        SsdAdapter::labels(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[i64]) -> OutputSpec {
        OutputSpec {
            name: name.into(),
            shape: shape.to_vec(),
        }
    }

    fn coco() -> Vec<String> {
        ["person", "bicycle", "car"].map(String::from).to_vec()
    }

    #[test]
    fn detection_output_rows_decode_until_terminator() {
        let outs = [spec("detection_out", &[1, 1, 4, 7])];
        let a = SsdAdapter::new(&outs, |_| false, coco(), 0.5, &[]).unwrap();
        assert_eq!(
            a.layout(),
            &SsdLayout::DetectionOutput("detection_out".into())
        );
        #[rustfmt::skip]
        let rows = vec![
            0.0, 3.0, 0.9, 0.1, 0.2, 0.3, 0.4,   // car, kept
            0.0, 1.0, 0.4, 0.0, 0.0, 1.0, 1.0,   // below threshold
            0.0, 1.0, 0.8, -0.1, 0.5, 0.6, 1.2,  // person, clamped
            -1.0, 1.0, 0.99, 0.0, 0.0, 1.0, 1.0, // terminator: ignored and stops
        ];
        let d = a.decode(&[rows]);
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].label_id, &*d[0].label, d[0].confidence),
            (3, "car", 0.9)
        );
        assert_eq!(
            d[0].bbox,
            BBox {
                x_min: 0.1,
                y_min: 0.2,
                x_max: 0.3,
                y_max: 0.4
            }
        );
        assert_eq!(&*d[1].label, "person");
        assert_eq!(d[1].bbox.x_min, 0.0);
        assert_eq!(d[1].bbox.y_max, 1.0);
    }

    #[test]
    fn detection_output_class_filter_and_unknown_label() {
        let outs = [spec("out", &[1, 1, 2, 7])];
        let a = SsdAdapter::new(&outs, |_| false, coco(), 0.3, &["car".into()]).unwrap();
        #[rustfmt::skip]
        let rows = vec![
            0.0, 1.0, 0.9, 0.1, 0.1, 0.2, 0.2,
            0.0, 3.0, 0.8, 0.1, 0.1, 0.2, 0.2,
        ];
        let d = a.decode(&[rows]);
        assert_eq!(d.len(), 1);
        assert_eq!(&*d[0].label, "car");

        let b = SsdAdapter::new(&outs, |_| false, vec![], 0.3, &[]).unwrap();
        let d = b.decode(&[vec![0.0, 17.0, 0.9, 0.1, 0.1, 0.2, 0.2]]);
        assert_eq!(&*d[0].label, "17");
        assert!(SsdAdapter::new(&outs, |_| false, coco(), 0.3, &["dog".into()]).is_err());
    }

    #[test]
    fn tf_od_api_decodes_yx_order_and_num_detections() {
        let a = SsdAdapter::new(
            &[],
            |n| TF_OD_API_OUTPUTS.contains(&n),
            vec!["person".into()],
            0.5,
            &[],
        )
        .unwrap();
        assert_eq!(a.layout(), &SsdLayout::TfOdApi);
        let boxes = vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.6, 0.0, 0.0, 1.0, 1.0];
        let scores = vec![0.9, 0.7, 0.95];
        let classes = vec![1.0, 1.0, 1.0];
        let num = vec![2.0]; // third row is padding even though its score is high
        let d = a.decode(&[boxes, scores, classes, num]);
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].bbox,
            BBox {
                x_min: 0.2,
                y_min: 0.1,
                x_max: 0.4,
                y_max: 0.3
            }
        );
        assert_eq!(d[1].confidence, 0.7);
    }

    #[test]
    fn unknown_outputs_are_rejected_with_their_names() {
        let err = SsdAdapter::new(&[spec("logits", &[1, 1000])], |_| false, vec![], 0.5, &[])
            .unwrap_err();
        assert!(err.contains("logits"), "{err}");
    }
}
