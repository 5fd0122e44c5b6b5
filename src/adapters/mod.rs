//! Model adapters: how a model's input is filled and its outputs decoded. One per model family.

pub mod blazeface;
pub mod ssd;
pub mod yolo;

use crate::engine::{InputElement, InputFormat, InputSpec, OutputSpec};
use crate::frame::Detection;
use blazeface::BlazeFaceAdapter;
use ssd::SsdAdapter;
use yolo::YoloAdapter;

/// Adapter names in `models/manifest.toml` and `[model] adapter`.
pub const SSD: &str = "ssd";
pub const BLAZEFACE: &str = "blazeface";
pub const YOLO: &str = "yolo";
/// Every detection adapter name.
pub const DETECTORS: [&str; 3] = [SSD, BLAZEFACE, YOLO];
/// Gray of Ultralytics' letterbox bars.
const YOLO_PAD: u8 = 114;

/// The detection adapters whose output layout fits `outputs` (of a model whose input is
/// `input` = `(height, width)` when known): the choice when neither the manifest, the model
/// file nor the user names one.
pub fn fitting(outputs: &[OutputSpec], input: Option<(i64, i64)>) -> Vec<&'static str> {
    let mut fit = Vec::new();
    let named = |n: &str| outputs.iter().any(|o| o.name == n);
    // TF-OD-API by shape too (a frozen graph's outputs may be read under other names):
    // boxes [N, K, 4], scores and classes [N, K], num_detections [N].
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
    if ssd::TF_OD_API_OUTPUTS.iter().all(|n| named(n))
        || tf_od_api_shapes
        || outputs
            .iter()
            .any(|o| o.shape.len() == 4 && o.shape[3] == 7)
    {
        fit.push(SSD);
    }
    let last = |v: i64| {
        outputs
            .iter()
            .any(|o| o.shape.len() == 3 && o.shape[2] == v)
    };
    if last(16) && last(1) {
        fit.push(BLAZEFACE);
    }
    if let Some(hw) = input {
        if outputs
            .iter()
            .any(|o| yolo::YoloLayout::of(&o.shape, hw).is_some())
        {
            fit.push(YOLO);
        }
    }
    fit
}

/// The input format an adapter name needs (known before the model is compiled).
pub fn input_format(adapter: &str) -> Option<InputFormat> {
    match adapter {
        SSD => Some(InputFormat::default()),
        BLAZEFACE => Some(InputFormat {
            element: InputElement::F32Symmetric,
            letterbox: true,
            pad: 0,
        }),
        YOLO => Some(InputFormat {
            element: InputElement::F32Unit,
            letterbox: true,
            pad: YOLO_PAD,
        }),
        _ => None,
    }
}

/// A detection adapter.
#[derive(Debug, Clone)]
pub enum Adapter {
    Ssd(SsdAdapter),
    BlazeFace(BlazeFaceAdapter),
    Yolo(YoloAdapter),
}

impl Adapter {
    /// Output tensor names, in the order `decode` takes them.
    pub fn output_names(&self) -> Vec<String> {
        match self {
            Adapter::Ssd(a) => a.output_names(),
            Adapter::BlazeFace(a) => a.output_names(),
            Adapter::Yolo(a) => a.output_names(),
        }
    }

    /// Detections in a `(width, height)` frame from the outputs of one inference on it.
    pub fn decode(
        &self,
        outputs: &[Vec<f32>],
        (width, height): (u32, u32),
        input: &InputSpec,
    ) -> Vec<Detection> {
        match self {
            Adapter::Ssd(a) => a.decode(outputs),
            Adapter::BlazeFace(a) => a.decode(outputs, &input.letterbox(width, height)),
            Adapter::Yolo(a) => a.decode(outputs, &input.letterbox(width, height)),
        }
    }

    /// The class names it reports (`label` of its detections).
    pub fn labels(&self) -> Vec<std::sync::Arc<str>> {
        match self {
            Adapter::Ssd(a) => a.labels(),
            Adapter::BlazeFace(a) => vec![a.label()],
            Adapter::Yolo(a) => a.labels(),
        }
    }

    pub fn input_format(&self) -> InputFormat {
        match self {
            Adapter::Ssd(_) => input_format(SSD),
            Adapter::BlazeFace(_) => input_format(BLAZEFACE),
            Adapter::Yolo(_) => input_format(YOLO),
        }
        .expect("known adapter")
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
