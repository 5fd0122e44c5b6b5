//! Model adapters: how a model's input is filled and its outputs decoded, one per model family
//! (DL Streamer's converters). Each lives in its own file and declares a [`Registration`]
//! there; [`REGISTRY`] lists them — adding an adapter is its file plus one line here. The
//! detector picks one by name (manifest, model file, `--adapter`) or, when none is named, the
//! one whose [`Registration::fits`] accepts the model's outputs; an unknown name is an error
//! listing [`names`], never a silent fallback.

pub mod blazeface;
pub mod ssd;
pub mod yolo;

use crate::engine::{InputFormat, InputSpec, OutputSpec};
use crate::frame::Detection;
use std::sync::Arc;

/// Adapter names in `models/manifest.toml` and `[model] adapter`.
pub const SSD: &str = "ssd";
pub const BLAZEFACE: &str = "blazeface";
pub const YOLO: &str = "yolo";

/// Every registered detection adapter, in the order a shape guess lists them.
pub static REGISTRY: [&Registration; 3] = [
    &ssd::REGISTRATION,
    &blazeface::REGISTRATION,
    &yolo::REGISTRATION,
];

/// Whether a model with these outputs and input `(height, width)` (when known) has a layout.
pub type Fits = fn(&[OutputSpec], Option<(i64, i64)>) -> bool;

/// What the detector needs to know of an adapter before and after compiling a model.
pub struct Registration {
    /// `[model] adapter`, `--adapter`, the manifest's `adapter`.
    pub name: &'static str,
    /// How frames become its input (element type, letterbox, bar value): known before the
    /// model is compiled, since preprocessing is compiled into it.
    pub input_format: fn() -> InputFormat,
    /// Whether a model with these outputs (and input `(height, width)`, when known) has its
    /// layout: the choice when nobody names an adapter.
    pub fits: Fits,
    /// The adapter for a compiled model.
    pub build: fn(&Build<'_>) -> Result<Adapter, BuildError>,
}

/// What [`Registration::build`] gets: the compiled model's outputs and input size, and the
/// detection settings.
pub struct Build<'a> {
    pub outputs: &'a [OutputSpec],
    /// Whether the model has a tensor with this name (any alias).
    pub has_output: &'a dyn Fn(&str) -> bool,
    /// Model input `(height, width)` in pixels.
    pub input: (i64, i64),
    /// Class names (for SSD label id L is `labels[L-1]`; for YOLO class i is `labels[i]`).
    pub labels: Vec<String>,
    /// Confidence below which detections are dropped, in [0, 1].
    pub threshold: f32,
    /// NMS IoU threshold in (0, 1] (adapters that run NMS).
    pub iou: f32,
    /// Keep only these class names; empty keeps all.
    pub classes: &'a [String],
}

/// Why an adapter cannot be built for a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The settings do not fit the model (e.g. a labels count that differs from its classes).
    Config(String),
    /// The model's outputs are not this adapter's layout.
    Model(String),
}

/// The registration named `name`.
pub fn find(name: &str) -> Option<&'static Registration> {
    REGISTRY.iter().copied().find(|r| r.name == name)
}

/// Every registered adapter name.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|r| r.name).collect()
}

/// The detection adapters whose output layout fits `outputs` (of a model whose input is
/// `input` = `(height, width)` when known): the choice when neither the manifest, the model
/// file nor the user names one.
pub fn fitting(outputs: &[OutputSpec], input: Option<(i64, i64)>) -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|r| (r.fits)(outputs, input))
        .map(|r| r.name)
        .collect()
}

/// The input format an adapter name needs (known before the model is compiled).
pub fn input_format(adapter: &str) -> Option<InputFormat> {
    find(adapter).map(|r| (r.input_format)())
}

/// Decodes one model family's outputs into detections.
pub trait Decode: std::fmt::Debug + Send + Sync {
    /// Output tensor names, in the order [`Self::decode`] takes them.
    fn output_names(&self) -> Vec<String>;
    /// Detections in a `(width, height)` frame from the outputs of one inference on it
    /// (`outputs[i]` is the flat f32 data of `output_names()[i]`), boxes normalized to [0, 1].
    fn decode(&self, outputs: &[Vec<f32>], frame: (u32, u32), input: &InputSpec) -> Vec<Detection>;
    /// The class names it reports (`label` of its detections).
    fn labels(&self) -> Vec<Arc<str>>;
}

/// A detection adapter: a registered family's decoder for one compiled model.
#[derive(Debug, Clone)]
pub struct Adapter {
    name: &'static str,
    input_format: InputFormat,
    decoder: Arc<dyn Decode>,
}

impl Adapter {
    /// Wraps `decoder` as the adapter registered as `registration`.
    pub fn new(registration: &Registration, decoder: impl Decode + 'static) -> Adapter {
        Adapter {
            name: registration.name,
            input_format: (registration.input_format)(),
            decoder: Arc::new(decoder),
        }
    }

    /// Its registered name (`ssd`, `yolo`, …).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Output tensor names, in the order `decode` takes them.
    pub fn output_names(&self) -> Vec<String> {
        self.decoder.output_names()
    }

    /// Detections in a `(width, height)` frame from the outputs of one inference on it.
    pub fn decode(
        &self,
        outputs: &[Vec<f32>],
        frame: (u32, u32),
        input: &InputSpec,
    ) -> Vec<Detection> {
        self.decoder.decode(outputs, frame, input)
    }

    /// The class names it reports (`label` of its detections).
    pub fn labels(&self) -> Vec<Arc<str>> {
        self.decoder.labels()
    }

    pub fn input_format(&self) -> InputFormat {
        self.input_format
    }
}

/// Intersection over union of two `[x_min, y_min, x_max, y_max]` boxes (any one unit); 0 for
/// boxes without area. The NMS of the YOLO and BlazeFace adapters.
pub(crate) fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(name: &str, shape: &[i64]) -> OutputSpec {
        OutputSpec {
            name: name.into(),
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        let names = names();
        assert_eq!(names, vec![SSD, BLAZEFACE, YOLO]);
        for n in &names {
            assert_eq!(find(n).map(|r| r.name), Some(*n));
            assert!(input_format(n).is_some());
        }
        assert!(find("nosuch").is_none());
    }

    #[test]
    fn each_family_fits_its_own_outputs_only() {
        let ssd = [out("detection_out", &[1, 1, 100, 7])];
        let blazeface = [
            out("regressors", &[1, 896, 16]),
            out("scores", &[1, 896, 1]),
        ];
        let yolo = [out("output0", &[1, 6, 8400])];
        assert_eq!(fitting(&ssd, Some((300, 300))), vec![SSD]);
        assert_eq!(fitting(&blazeface, Some((128, 128))), vec![BLAZEFACE]);
        assert_eq!(fitting(&yolo, Some((640, 640))), vec![YOLO]);
        assert!(fitting(&yolo, None).is_empty(), "YOLO needs the input size");
        assert!(fitting(&[out("logits", &[1, 3])], Some((64, 64))).is_empty());
    }

    #[test]
    fn a_yolo_labels_count_that_differs_is_a_settings_error() {
        let outputs = [out("output0", &[1, 6, 8400])];
        let b = Build {
            outputs: &outputs,
            has_output: &|n| n == "output0",
            input: (640, 640),
            labels: vec!["one".into(), "two".into(), "three".into()],
            threshold: 0.5,
            iou: 0.45,
            classes: &[],
        };
        let err = (yolo::REGISTRATION.build)(&b).unwrap_err();
        assert!(
            matches!(&err, BuildError::Config(m) if m.contains("2 classes")),
            "{err:?}"
        );
        let built = (yolo::REGISTRATION.build)(&Build {
            labels: Vec::new(),
            ..b
        })
        .unwrap();
        assert_eq!(built.name(), YOLO);
        assert_eq!(built.labels().len(), 2);
        let err = (ssd::REGISTRATION.build)(&Build {
            labels: Vec::new(),
            ..b
        })
        .unwrap_err();
        assert!(matches!(err, BuildError::Model(_)), "{err:?}");
    }
}
