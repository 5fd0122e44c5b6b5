//! The test seam: a stand-in for a compiled model that needs no OpenVINO and no model file.
//! Each request "infers" for a set delay (plus a jitter that changes from one start to the
//! next, so a later request can finish before an earlier one) and answers in SSD
//! DetectionOutput layout `[1, 1, batch, 7]`: one box per image, label id 1, whose confidence
//! encodes the mean of that image's input bytes ([`FakeModel::confidence`]), so a result that
//! reached the wrong frame shows. The pipeline's scheduling — order with any nireq,
//! end-of-source through every stage, drop-oldest, sources added and removed, gating, outputs
//! finalized — is tested in-process with it in milliseconds; real models keep their own tests.

use super::{Engine, InputFormat, InputSpec, OutputSpec};
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fake model's one output tensor.
pub const OUTPUT: &str = "detection_out";
/// Values of a DetectionOutput row: image id, label id, confidence, x_min, y_min, x_max, y_max.
const ROW: usize = 7;
/// The box every image gets, input-normalized `[x_min, y_min, x_max, y_max]`.
pub const BOX: [f32; 4] = [0.25, 0.25, 0.75, 0.75];
/// Jitter steps: start k waits `delay + jitter × ((k × 7) mod STEPS) / (STEPS − 1)`.
const STEPS: u64 = 4;

/// What the fake model looks like and how slow it is.
#[derive(Debug, Clone)]
pub struct FakeModel {
    /// Input `(height, width)` in pixels; u8 NHWC RGB, stretched.
    pub input: (usize, usize),
    /// Images per inference.
    pub batch: usize,
    /// Requests the pipeline keeps in flight.
    pub nireq: usize,
    /// Time each inference takes at least.
    pub delay: Duration,
    /// Up to this much more, varying from start to start.
    pub jitter: Duration,
}

impl Default for FakeModel {
    /// 64x64, batch 1, nireq 2, 2 ms + up to 3 ms.
    fn default() -> Self {
        FakeModel {
            input: (64, 64),
            batch: 1,
            nireq: 2,
            delay: Duration::from_millis(2),
            jitter: Duration::from_millis(3),
        }
    }
}

impl FakeModel {
    /// The confidence the fake gives an image whose input bytes average `mean` (0–255): in
    /// [0.5, 1.0), above the default threshold.
    pub fn confidence(mean: f32) -> f32 {
        0.5 + mean / 512.0
    }

    /// An [`Engine`] running this fake (device `FAKE`).
    pub fn engine(&self) -> Engine {
        Engine {
            backend: super::Backend::Fake(Arc::new(Clock {
                model: self.clone(),
                starts: AtomicU64::new(0),
            })),
            model_path: "fake".into(),
            device: "FAKE".into(),
            input: InputSpec {
                name: "image".into(),
                height: self.input.0,
                width: self.input.1,
                format: InputFormat::default(),
                batch: self.batch.max(1),
            },
            outputs: vec![OutputSpec {
                name: OUTPUT.into(),
                shape: vec![1, 1, 1, ROW as i64],
            }],
            nireq: self.nireq.max(1),
            nstreams: None,
            execution_devices: "FAKE".into(),
            precision: String::new(),
            compile_time: Duration::ZERO,
        }
    }
}

/// The model and a count of starts (for the jitter), shared by its requests.
#[derive(Debug)]
pub(super) struct Clock {
    model: FakeModel,
    starts: AtomicU64,
}

impl Clock {
    pub(super) fn request(self: &Arc<Self>, image_bytes: usize) -> FakeRequest {
        FakeRequest {
            clock: Arc::clone(self),
            input: vec![0; image_bytes * self.model.batch.max(1)],
            image_bytes,
            output: Vec::new(),
            done_at: None,
        }
    }
}

/// One fake infer request: its input bytes and, once started, its output and finish time.
#[derive(Debug)]
pub(crate) struct FakeRequest {
    clock: Arc<Clock>,
    input: Vec<u8>,
    image_bytes: usize,
    output: Vec<f32>,
    done_at: Option<Instant>,
}

impl FakeRequest {
    pub(super) fn input_mut(&mut self) -> &mut [u8] {
        &mut self.input
    }

    /// Computes the answer from the input now (so a later write cannot change it) and sets
    /// when it is ready.
    pub(super) fn start(&mut self) {
        let m = &self.clock.model;
        let k = self.clock.starts.fetch_add(1, Ordering::Relaxed);
        let step = (k * 7) % STEPS;
        let extra = m.jitter.mul_f64(step as f64 / (STEPS - 1) as f64);
        self.output.clear();
        for (image, bytes) in self.input.chunks(self.image_bytes.max(1)).enumerate() {
            let sum: u64 = bytes.iter().map(|&b| u64::from(b)).sum();
            let mean = sum as f32 / bytes.len().max(1) as f32;
            let row = [image as f32, 1.0, FakeModel::confidence(mean)];
            self.output.extend_from_slice(&row);
            self.output.extend_from_slice(&BOX);
        }
        self.done_at = Some(Instant::now() + m.delay + extra);
    }

    pub(super) fn wait(&mut self) -> Result<()> {
        let done_at = self
            .done_at
            .ok_or_else(|| Error::layout("fake request", "waited on before it was started"))?;
        if let Some(left) = done_at.checked_duration_since(Instant::now()) {
            std::thread::sleep(left);
        }
        Ok(())
    }

    pub(super) fn read_output(&self, name: &str, into: &mut Vec<f32>) -> Result<()> {
        if name != OUTPUT {
            return Err(Error::layout(
                "fake request",
                format!("no output `{name}` (only `{OUTPUT}`)"),
            ));
        }
        into.clear();
        into.extend_from_slice(&self.output);
        Ok(())
    }
}
