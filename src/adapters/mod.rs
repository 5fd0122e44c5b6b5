//! Model adapters: how a model's input is filled and its outputs decoded. One per model family.

pub mod blazeface;
pub mod ssd;

use crate::engine::InputSpec;
use crate::frame::Detection;
use blazeface::{BlazeFaceAdapter, Letterbox};
use ssd::SsdAdapter;

/// What the input tensor holds (set on the engine's preprocessing before compile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputElement {
    /// u8 RGB `0..=255` (OpenVINO converts to the model's type): TF-OD-API and Coral SSDs.
    #[default]
    U8,
    /// f32 RGB scaled to `[-1, 1]` (`v / 127.5 - 1`): MediaPipe models.
    F32Symmetric,
    /// f32 written by the caller as the model wants it (FaceNet's per-image prewhitening).
    F32,
}

/// How a frame becomes the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputFormat {
    pub element: InputElement,
    /// Keep the aspect ratio (centered, black bars) instead of stretching.
    pub letterbox: bool,
}

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
            Adapter::BlazeFace(a) => {
                let lb = Letterbox::fit(width, height, input.width as u32, input.height as u32);
                a.decode(outputs, &lb)
            }
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
