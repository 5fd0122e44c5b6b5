//! The inference core, the same for the pipeline's stages, the `ovdetect` element, the
//! gallery's face finder, `nireq`/`nstreams` tuning and the benchmark: fill a request's input
//! from frames and start it ([`Inference::start`]), wait for it and read its outputs in the
//! adapter's order, one set per frame ([`Inference::collect`]), decode them into detections
//! ([`Inference::decode`]). Requests stay with their caller (they move, they are not shared):
//! the pipeline passes them from its preprocess to its infer stage, the element keeps them in
//! its FIFO. The input layout (size, element type, letterbox) is the model's [`InputSpec`].

use crate::adapters::Adapter;
use crate::engine::{Engine, InputSpec, Request};
use crate::error::{Error, Result};
use crate::frame::{Detection, Frame};
use crate::preprocess::{fill_input, Scratch};
use std::time::Instant;

/// The outputs of one inference for one frame: flat f32 tensors in the adapter's
/// [`Adapter::output_names`] order (a batched model's block for this frame).
pub type Outputs = Vec<Vec<f32>>;

/// A started request and its frames (one per image of the batch; fewer than `batch` when no
/// more were ready).
pub struct InFlight {
    pub frames: Vec<Frame>,
    pub request: Request,
    /// When inference was started (the infer stage's latency is measured from here).
    pub started: Instant,
}

/// A frame with the outputs of its inference.
pub struct Inferred {
    pub frame: Frame,
    /// `None`: not inferred (`frame.inferred` is false; the detection interval skipped it).
    pub outputs: Option<Outputs>,
}

/// One compiled model's input spec and the adapter that reads its outputs.
#[derive(Debug, Clone)]
pub struct Inference {
    spec: InputSpec,
    adapter: Adapter,
    output_names: Vec<String>,
}

impl Inference {
    /// The core for `engine`'s model decoded by `adapter`.
    pub fn new(engine: &Engine, adapter: &Adapter) -> Self {
        Inference {
            spec: engine.input.clone(),
            output_names: adapter.output_names(),
            adapter: adapter.clone(),
        }
    }

    /// The input as it is filled: `[batch, height, width, 3]`, element type, letterbox.
    pub fn spec(&self) -> &InputSpec {
        &self.spec
    }

    pub fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    /// Writes `frames` (at most `batch`) into `request`'s input, one image slot each, and
    /// starts it. Unused slots keep older pixels; their outputs are never read.
    ///
    /// # Errors
    /// [`Error::Gst`] when a frame cannot be mapped, [`Error::Layout`] when it does not fit;
    /// [`Error::OpenVino`] when the request cannot be started.
    pub fn start(
        &self,
        request: &mut Request,
        frames: &[Frame],
        scratch: &mut Scratch,
    ) -> Result<()> {
        self.fill(request, frames, scratch)?;
        request.start()
    }

    /// Writes `frames` into `request`'s input without starting it (see [`Self::start`]).
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn fill(
        &self,
        request: &mut Request,
        frames: &[Frame],
        scratch: &mut Scratch,
    ) -> Result<()> {
        if frames.len() > self.spec.batch {
            return Err(Error::layout(
                "preprocess",
                format!("{} frames for a batch of {}", frames.len(), self.spec.batch),
            ));
        }
        let size = self.spec.byte_size();
        let input = request.input_mut()?;
        for (frame, slot) in frames.iter().zip(input.chunks_exact_mut(size)) {
            fill_input(frame, &self.spec, slot, scratch)?;
        }
        Ok(())
    }

    /// Waits for `request` (started on `frames` images) and reads its outputs in the
    /// adapter's order, split per image: `frames` sets of [`Outputs`].
    ///
    /// # Errors
    /// [`Error::OpenVino`] when inference failed or an output is missing or not f32.
    pub fn collect(&self, request: &mut Request, frames: usize) -> Result<Vec<Outputs>> {
        request.wait()?;
        let mut batched: Outputs = vec![Vec::new(); self.output_names.len()];
        for (name, out) in self.output_names.iter().zip(batched.iter_mut()) {
            request.read_output(name, out)?;
        }
        let batch = self.spec.batch.max(1);
        if batch == 1 && frames == 1 {
            // The outputs are the frame's own: moved, not copied.
            return Ok(vec![batched]);
        }
        Ok((0..frames)
            .map(|k| {
                batched
                    .iter()
                    .map(|all| {
                        let block = all.len() / batch;
                        all[k * block..(k + 1) * block].to_vec()
                    })
                    .collect()
            })
            .collect())
    }

    /// Detections in `frame` from the outputs of one inference on it.
    pub fn decode(&self, outputs: &[Vec<f32>], frame: &Frame) -> Vec<Detection> {
        self.adapter.decode(
            outputs,
            (frame.info.width(), frame.info.height()),
            &self.spec,
        )
    }

    /// Start, collect and decode one frame on `request` (single images: enrollment).
    ///
    /// # Errors
    /// As [`Self::start`] and [`Self::collect`].
    pub fn detect(
        &self,
        request: &mut Request,
        frame: &Frame,
        scratch: &mut Scratch,
    ) -> Result<Vec<Detection>> {
        self.start(request, std::slice::from_ref(frame), scratch)?;
        let outputs = self.collect(request, 1)?;
        Ok(self.decode(&outputs[0], frame))
    }
}
