//! One output row of a classifier → one attribute value, by the output's `kind`.

use crate::config::classify::{AttributeKind, AttributeSpec};
use crate::frame::AttributeValue;
use std::sync::Arc;

/// How one attribute is read from its tensor row (labels interned once).
#[derive(Debug, Clone)]
pub struct Decoder {
    pub name: Arc<str>,
    pub kind: AttributeKind,
    pub labels: Vec<Arc<str>>,
    pub bins: Vec<f32>,
    pub min_confidence: f32,
    pub logits: bool,
}

impl Decoder {
    pub fn new(spec: &AttributeSpec) -> Self {
        Decoder {
            name: Arc::from(spec.name.as_str()),
            kind: spec.kind,
            labels: spec.labels.iter().map(|l| Arc::from(l.as_str())).collect(),
            bins: spec.bins.clone(),
            min_confidence: spec.min_confidence,
            logits: spec.logits,
        }
    }

    /// Values the row must have (labels or bins).
    pub fn classes(&self) -> usize {
        match self.kind {
            AttributeKind::Value => self.bins.len(),
            AttributeKind::Label | AttributeKind::Multi => self.labels.len(),
        }
    }

    /// The attribute of `row` (`classes()` values); `None` when a label is below
    /// `min_confidence`.
    pub fn decode(&self, row: &[f32]) -> Option<AttributeValue> {
        match self.kind {
            AttributeKind::Label => {
                let p = self.probabilities(row);
                let (id, &confidence) = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
                (confidence >= self.min_confidence).then(|| AttributeValue::Label {
                    label: Arc::clone(&self.labels[id]),
                    label_id: id as u32,
                    confidence,
                })
            }
            AttributeKind::Value => {
                let p = self.probabilities(row);
                let total: f32 = p.iter().sum();
                let value = p.iter().zip(&self.bins).map(|(p, v)| p * v).sum::<f32>();
                Some(AttributeValue::Value {
                    value: if total > 0.0 { value / total } else { 0.0 },
                })
            }
            AttributeKind::Multi => {
                let (mut labels, mut confidences) = (Vec::new(), Vec::new());
                for (label, &v) in self.labels.iter().zip(row) {
                    let p = if self.logits { sigmoid(v) } else { v };
                    if p >= self.min_confidence {
                        labels.push(Arc::clone(label));
                        confidences.push(p);
                    }
                }
                Some(AttributeValue::Multi {
                    labels,
                    confidences,
                })
            }
        }
    }

    /// The row as probabilities (softmax when it holds logits).
    fn probabilities(&self, row: &[f32]) -> Vec<f32> {
        if !self.logits {
            return row.to_vec();
        }
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        exp.into_iter().map(|e| e / sum).collect()
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: AttributeKind) -> AttributeSpec {
        AttributeSpec {
            name: "a".into(),
            model_file: None,
            tensor: None,
            kind,
            labels: vec!["female".into(), "male".into()],
            bins: vec![10.0, 20.0],
            min_confidence: 0.0,
            logits: false,
        }
    }

    #[test]
    fn labels_values_and_multi_labels() {
        let d = Decoder::new(&spec(AttributeKind::Label));
        assert_eq!(
            d.decode(&[0.2, 0.8]),
            Some(AttributeValue::Label {
                label: "male".into(),
                label_id: 1,
                confidence: 0.8
            })
        );
        let strict = Decoder {
            min_confidence: 0.9,
            ..d.clone()
        };
        assert_eq!(strict.decode(&[0.2, 0.8]), None);
        let logits = Decoder { logits: true, ..d };
        match logits.decode(&[0.0, 0.0]) {
            Some(AttributeValue::Label { confidence, .. }) => {
                assert!((confidence - 0.5).abs() < 1e-6)
            }
            other => panic!("{other:?}"),
        }
        let v = Decoder::new(&spec(AttributeKind::Value));
        assert_eq!(
            v.decode(&[0.25, 0.75]),
            Some(AttributeValue::Value { value: 17.5 })
        );
        let m = Decoder {
            min_confidence: 0.5,
            ..Decoder::new(&spec(AttributeKind::Multi))
        };
        assert_eq!(
            m.decode(&[0.7, 0.4]),
            Some(AttributeValue::Multi {
                labels: vec!["female".into()],
                confidences: vec![0.7]
            })
        );
    }
}
