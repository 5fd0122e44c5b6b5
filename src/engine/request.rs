//! An infer request and its input tensor: the unit that moves between the preprocess and
//! infer stages.

use crate::error::{Error, Result};
use openvino::{InferRequest, InferenceErrorKind, Tensor};

/// A blocking wait is done in slices of this many ms (a timeout is `RESULT_NOT_READY`).
const WAIT_SLICE_MS: i64 = 1000;

/// One infer request with its input tensor. Owned by one stage at a time (it moves, it is not
/// shared): preprocess writes the input and starts it, infer waits and reads the outputs.
pub struct Request(Inner);

enum Inner {
    OpenVino { req: InferRequest, input: Tensor },
    Fake(super::fake::FakeRequest),
}

impl Request {
    pub(crate) fn new(req: InferRequest, input: Tensor) -> Self {
        Request(Inner::OpenVino { req, input })
    }

    pub(super) fn fake(req: super::fake::FakeRequest) -> Self {
        Request(Inner::Fake(req))
    }

    /// The input tensor's raw bytes: `[batch, H, W, 3]` NHWC RGB, u8 or f32 as the
    /// [`crate::engine::InputSpec`] the model was compiled with says (f32 is native-endian).
    pub fn input_mut(&mut self) -> Result<&mut [u8]> {
        match &mut self.0 {
            Inner::OpenVino { input, .. } => input
                .get_raw_data_mut()
                .map_err(|e| Error::openvino("input tensor data", e)),
            Inner::Fake(f) => Ok(f.input_mut()),
        }
    }

    /// Starts inference asynchronously.
    pub fn start(&mut self) -> Result<()> {
        match &mut self.0 {
            Inner::OpenVino { req, .. } => req
                .infer_async()
                .map_err(|e| Error::openvino("start_async", e)),
            Inner::Fake(f) => {
                f.start();
                Ok(())
            }
        }
    }

    /// Blocks until the started inference completes.
    pub fn wait(&mut self) -> Result<()> {
        let req = match &mut self.0 {
            Inner::OpenVino { req, .. } => req,
            Inner::Fake(f) => return f.wait(),
        };
        loop {
            match req.wait(WAIT_SLICE_MS) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind == InferenceErrorKind::ResultNotReady => continue,
                Err(e) => return Err(Error::openvino("wait", e)),
            }
        }
    }

    /// Runs inference synchronously.
    pub fn infer(&mut self) -> Result<()> {
        match &mut self.0 {
            Inner::OpenVino { req, .. } => req.infer().map_err(|e| Error::openvino("infer", e)),
            Inner::Fake(f) => {
                f.start();
                f.wait()
            }
        }
    }

    /// Copies the f32 output tensor `name` into `into` (cleared first).
    ///
    /// # Errors
    /// [`Error::OpenVino`] when there is no such output or it is not f32.
    pub fn read_output(&self, name: &str, into: &mut Vec<f32>) -> Result<()> {
        let req = match &self.0 {
            Inner::OpenVino { req, .. } => req,
            Inner::Fake(f) => return f.read_output(name, into),
        };
        let tensor = req
            .get_tensor(name)
            .map_err(|e| Error::openvino(format!("output `{name}`"), e))?;
        let data = tensor
            .get_data::<f32>()
            .map_err(|e| Error::openvino(format!("output `{name}` as f32"), e))?;
        into.clear();
        into.extend_from_slice(data);
        Ok(())
    }
}
