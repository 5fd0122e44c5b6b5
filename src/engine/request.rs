//! An infer request and its input tensor: the unit that moves between the preprocess and
//! infer stages.

use crate::error::{Error, Result};
use openvino::{InferRequest, InferenceErrorKind, Tensor};

/// A blocking wait is done in slices of this many ms (a timeout is `RESULT_NOT_READY`).
const WAIT_SLICE_MS: i64 = 1000;

/// One infer request with its input tensor. Owned by one stage at a time (it moves, it is not
/// shared): preprocess writes the input and starts it, infer waits and reads the outputs.
pub struct Request {
    req: InferRequest,
    input: Tensor,
}

impl Request {
    pub(crate) fn new(req: InferRequest, input: Tensor) -> Self {
        Request { req, input }
    }

    /// The input tensor's raw bytes: `[batch, H, W, 3]` NHWC RGB, u8 or f32 as the
    /// [`crate::engine::InputSpec`] the model was compiled with says (f32 is native-endian).
    pub fn input_mut(&mut self) -> Result<&mut [u8]> {
        self.input
            .get_raw_data_mut()
            .map_err(|e| Error::openvino("input tensor data", e))
    }

    /// Starts inference asynchronously.
    pub fn start(&mut self) -> Result<()> {
        self.req
            .infer_async()
            .map_err(|e| Error::openvino("start_async", e))
    }

    /// Blocks until the started inference completes.
    pub fn wait(&mut self) -> Result<()> {
        loop {
            match self.req.wait(WAIT_SLICE_MS) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind == InferenceErrorKind::ResultNotReady => continue,
                Err(e) => return Err(Error::openvino("wait", e)),
            }
        }
    }

    /// Runs inference synchronously.
    pub fn infer(&mut self) -> Result<()> {
        self.req.infer().map_err(|e| Error::openvino("infer", e))
    }

    /// Copies the f32 output tensor `name` into `into` (cleared first).
    ///
    /// # Errors
    /// [`Error::OpenVino`] when there is no such output or it is not f32.
    pub fn read_output(&self, name: &str, into: &mut Vec<f32>) -> Result<()> {
        let tensor = self
            .req
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
