//! Model adapters: how a model's input is filled and its outputs decoded. One per model family.

pub mod blazeface;
pub mod ssd;

use crate::engine::{InputElement, InputFormat, InputSpec};
use crate::frame::Detection;
use blazeface::BlazeFaceAdapter;
use ssd::SsdAdapter;

/// Adapter names in `models/manifest.toml` and `[model] adapter`.
pub const SSD: &str = "ssd";
pub const BLAZEFACE: &str = "blazeface";

/// The input format an adapter name needs (known before the model is compiled).
pub fn input_format(adapter: &str) -> Option<InputFormat> {
    match adapter {
        SSD => Some(InputFormat::default()),
        BLAZEFACE => Some(InputFormat {
            element: InputElement::F32Symmetric,
            letterbox: true,
        }),
        _ => None,
    }
}

/// A detection adapter.
#[derive(Debug, Clone)]
pub enum Adapter {
    Ssd(SsdAdapter),
    BlazeFace(BlazeFaceAdapter),
}

impl Adapter {
    /// Output tensor names, in the order `decode` takes them.
    pub fn output_names(&self) -> Vec<String> {
        match self {
            Adapter::Ssd(a) => a.output_names(),
            Adapter::BlazeFace(a) => a.output_names(),
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
        }
    }

    /// The class names it reports (`label` of its detections).
    pub fn labels(&self) -> Vec<std::sync::Arc<str>> {
        match self {
            Adapter::Ssd(a) => a.labels(),
            Adapter::BlazeFace(a) => vec![a.label()],
        }
    }

    pub fn input_format(&self) -> InputFormat {
        match self {
            Adapter::Ssd(_) => input_format(SSD),
            Adapter::BlazeFace(_) => input_format(BLAZEFACE),
        }
        .expect("known adapter")
    }
}
