//! Face embeddings with FaceNet: aligned 160x160 crops in, `[512]` L2-normalized vectors out,
//! on a compiled model with its own pool of infer requests (faces of one frame run in parallel,
//! up to nireq at a time).
//!
//! Model (manifest id `facenet`): input `input:0` `[1, 160, 160, 3]` f32 RGB prewhitened
//! ([`super::align::prewhiten`]); output `embeddings:0` `[1, 512]` (FaceNet L2-normalizes
//! inside; normalized again here so any embedding model works with cosine similarity).

use super::align::{prewhiten, RgbFrame};
use crate::engine::{Engine, EngineOptions, Request};
use crate::engine::{InputElement, InputFormat};
use crate::error::{Error, Result};
use crate::frame::Detection;

/// An embedding: unit-length f32 vector (`[512]` for FaceNet).
pub type Embedding = Vec<f32>;

/// A compiled embedding model and its requests.
pub struct Embedder {
    pub engine: Engine,
    requests: Vec<Request>,
    output: String,
    /// Manifest id or path, and the model file's identity for the gallery cache.
    pub model: String,
}

impl Embedder {
    /// Compiles `model` (manifest id or path) with `options` (the input element is set here).
    ///
    /// # Errors
    /// [`Error::Model`] for a missing model or one without a single `[1, D]` output.
    pub fn load(model: &str, options: &EngineOptions) -> Result<Embedder> {
        let resolved = crate::detector::resolve_model(model)?;
        let mut options = options.clone();
        options.input_format = InputFormat {
            element: InputElement::F32,
            letterbox: false,
            pad: 0,
            ..InputFormat::default()
        };
        options.input_size = options.input_size.or(resolved.input_size);
        let mut engine = Engine::load(&resolved.path, &options)?;
        let output = match engine.outputs.as_slice() {
            [o] if o.shape.len() == 2 && o.shape[1] > 0 => o.name.clone(),
            other => {
                return Err(Error::Model {
                    path: resolved.path.clone(),
                    message: format!(
                        "an embedding model has one [1, D] output, this has {other:?}"
                    ),
                })
            }
        };
        let requests = engine.create_requests(engine.nireq.max(1))?;
        tracing::info!(model, nireq = requests.len(), "embedding model ready");
        Ok(Embedder {
            engine,
            requests,
            output,
            model: model.to_string(),
        })
    }

    /// Square input side in pixels.
    pub fn side(&self) -> i32 {
        self.engine.input.width as i32
    }

    /// Embeds each face of `faces` (aligned from `rgb`), in order.
    ///
    /// # Errors
    /// OpenCV or OpenVINO failures.
    pub fn embed(&mut self, rgb: &RgbFrame, faces: &[&Detection]) -> Result<Vec<Embedding>> {
        let side = self.side();
        let mut out = Vec::with_capacity(faces.len());
        for chunk in faces.chunks(self.requests.len()) {
            for (face, req) in chunk.iter().zip(self.requests.iter_mut()) {
                let crop = rgb.aligned(face, side)?;
                let input = req.input_mut()?;
                // SAFETY: the tensor is f32 (InputElement::F32); OpenVINO aligns tensor memory.
                let (head, floats, tail) = unsafe { input.align_to_mut::<f32>() };
                if !head.is_empty() || !tail.is_empty() {
                    return Err(Error::layout("embedding", "input tensor not f32-aligned"));
                }
                prewhiten(&crop, floats)?;
                req.start()?;
            }
            for req in self.requests.iter_mut().take(chunk.len()) {
                req.wait()?;
                let mut v = Vec::new();
                req.read_output(&self.output, &mut v)?;
                normalize(&mut v);
                out.push(v);
            }
        }
        Ok(out)
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two unit vectors (their dot product), in `[-1, 1]`.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
