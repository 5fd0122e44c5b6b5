//! The only module that touches OpenVINO: load the runtime, read a model, reshape it to a static
//! input, add preprocessing (u8 NHWC tensor in, whatever the model wants inside), set device
//! properties, compile (with the compiled-model cache), and hand out infer requests.

pub mod fake;
mod graph;
mod input;
pub mod library;
mod peek;
mod properties;
mod request;

pub use input::{InputElement, InputFormat, InputSpec, Letterbox};
pub use peek::{peek, ModelShape};
mod cache_lock;
use graph::{ov_message, ModelInput};
use properties::set_properties;
pub use properties::{device_properties, DeviceProperty};
pub use request::Request;

use crate::config::{Hint, Precision};
use crate::error::{Error, Result};
use openvino::{CompiledModel, Core, DeviceType, PropertyKey};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How to compile a model.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Any OpenVINO device string (CPU, GPU.1, AUTO, HETERO:GPU,CPU), passed through.
    pub device: String,
    pub hint: Hint,
    pub precision: Option<Precision>,
    /// `NUM_STREAMS` ("AUTO" or a number).
    pub nstreams: Option<String>,
    /// Requests in flight; `None` = OPTIMAL_NUMBER_OF_INFER_REQUESTS.
    pub nireq: Option<usize>,
    /// Compiled-model cache folder; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// `[height, width]` of the static input the model is reshaped to; `None` keeps the model's
    /// own (which must then be static).
    pub input_size: Option<[u32; 2]>,
    /// OpenVINO C library file or folder (see [`library::load`]).
    pub openvino_lib: Option<PathBuf>,
    /// What callers write into the input tensor: element type, stretch or letterbox.
    pub input_format: InputFormat,
    /// Images per inference (the input's N). 1 is the usual best (a few requests in flight
    /// beat big batches); more only pays on devices that gain from it.
    pub batch: usize,
    /// Other OpenVINO properties (`KEY`, `VALUE`), set on the device before compiling after
    /// the ones above; each key is checked against the device's `SUPPORTED_PROPERTIES`.
    pub properties: Vec<(String, String)>,
}

impl Default for EngineOptions {
    /// CPU, throughput hint, the device's precision and streams, OPTIMAL_NUMBER_OF_INFER_REQUESTS,
    /// no compiled-model cache, the model's own static input, u8 stretched, batch 1.
    fn default() -> Self {
        EngineOptions {
            device: crate::config::DEFAULT_DEVICE.to_string(),
            hint: Hint::default(),
            precision: None,
            nstreams: None,
            nireq: None,
            cache_dir: None,
            input_size: None,
            openvino_lib: None,
            input_format: InputFormat::default(),
            batch: 1,
            properties: Vec::new(),
        }
    }
}

/// One model output: its tensor name and static shape for one image (a batched model's
/// leading `N` reads as 1; the tensor holds `batch` such blocks, back to back).
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub name: String,
    pub shape: Vec<i64>,
}

/// What runs the inferences: OpenVINO, or the test seam's [`fake::FakeModel`].
enum Backend {
    OpenVino {
        compiled: CompiledModel,
        _core: Core,
    },
    Fake(std::sync::Arc<fake::Clock>),
}

/// A compiled model and what the pipeline needs to know about it.
pub struct Engine {
    backend: Backend,
    pub model_path: PathBuf,
    pub device: String,
    pub input: InputSpec,
    pub outputs: Vec<OutputSpec>,
    /// Requests the pipeline keeps in flight.
    pub nireq: usize,
    /// `NUM_STREAMS` the compiled model runs with (`None` when the device does not say).
    pub nstreams: Option<usize>,
    /// `EXECUTION_DEVICES`: where inference really runs (e.g. `CPU` under `AUTO`).
    pub execution_devices: String,
    /// `INFERENCE_PRECISION_HINT` the compiled model runs at (`f32`, `bf16`, …; empty when the
    /// device does not say).
    pub precision: String,
    /// Wall time of read + reshape + compile (a cache hit makes it short).
    pub compile_time: Duration,
}

impl Engine {
    /// Loads, reshapes and compiles the model at `model_path`.
    ///
    /// # Errors
    /// [`Error::Library`] when OpenVINO cannot be loaded; [`Error::Model`] naming `model_path`
    /// when it is missing, unreadable, has no 4-D image input, or fails to compile;
    /// [`Error::Config`] when the device rejects a property.
    pub fn load(model_path: &Path, options: &EngineOptions) -> Result<Engine> {
        library::load(options.openvino_lib.as_deref())?;
        let model_err = |message: String| Error::Model {
            path: model_path.to_path_buf(),
            message,
        };
        if let Some(what) = not_a_file(model_path) {
            return Err(model_err(what));
        }
        let started = Instant::now();
        let mut core = Core::new().map_err(|e| Error::Library(e.to_string()))?;
        set_properties(&mut core, options)?;

        let path_str = model_path.to_string_lossy();
        let mut model = core
            .read_model_from_file(&path_str, "")
            .map_err(|e| model_err(format!("cannot read model: {}", ov_message(e))))?;
        let input = ModelInput::read(&model, options).map_err(model_err)?;
        graph::reshape(&mut model, &input).map_err(model_err)?;
        let model = graph::with_preprocessing(model, &input, options.input_format.element)
            .map_err(model_err)?;
        let compiled = graph::compile(&mut core, &model, model_path, options)?;
        let compile_time = started.elapsed();
        let reported = graph::Reported::of(&compiled, options);
        let outputs = graph::outputs_per_image(&compiled, input.batch).map_err(model_err)?;
        Ok(Engine {
            backend: Backend::OpenVino {
                compiled,
                _core: core,
            },
            model_path: model_path.to_path_buf(),
            device: options.device.clone(),
            input: InputSpec {
                name: input.name,
                height: input.height as usize,
                width: input.width as usize,
                format: options.input_format,
                batch: input.batch as usize,
            },
            outputs,
            nireq: options.nireq.unwrap_or(reported.optimal_nireq),
            nstreams: reported.nstreams,
            execution_devices: reported.execution_devices,
            precision: reported.precision,
            compile_time,
        })
    }

    /// Whether the compiled model has an output with this tensor name (any of its names).
    pub fn has_output(&self, name: &str) -> bool {
        match &self.backend {
            Backend::OpenVino { compiled, .. } => compiled.get_output_by_name(name).is_ok(),
            Backend::Fake(_) => self.outputs.iter().any(|o| o.name == name),
        }
    }

    /// Creates `n` infer requests with their input tensors ready to be written.
    pub fn create_requests(&mut self, n: usize) -> Result<Vec<Request>> {
        let compiled = match &mut self.backend {
            Backend::OpenVino { compiled, .. } => compiled,
            Backend::Fake(clock) => {
                let bytes = self.input.byte_size();
                return Ok((0..n)
                    .map(|_| Request::fake(clock.request(bytes)))
                    .collect());
            }
        };
        (0..n)
            .map(|_| {
                let req = compiled
                    .create_infer_request()
                    .map_err(|e| Error::openvino("create_infer_request", e))?;
                let input = req
                    .get_input_tensor()
                    .map_err(|e| Error::openvino("get_input_tensor", e))?;
                Ok(Request::new(req, input))
            })
            .collect()
    }
}

/// Lists available devices with their FULL_DEVICE_NAME.
pub fn devices(openvino_lib: Option<&Path>) -> Result<Vec<(String, String)>> {
    each_device(openvino_lib, |core, d| {
        core.get_property(d, &PropertyKey::DeviceFullName)
            .unwrap_or_default()
    })
}

/// `(name, what(core, device))` for each available device.
///
/// # Errors
/// [`Error::Library`] when OpenVINO cannot be loaded; the OpenVINO error listing devices.
fn each_device<T>(
    openvino_lib: Option<&Path>,
    what: impl Fn(&Core, &DeviceType) -> T,
) -> Result<Vec<(String, T)>> {
    library::load(openvino_lib)?;
    let core = Core::new().map_err(|e| Error::Library(e.to_string()))?;
    let devices = core
        .available_devices()
        .map_err(|e| Error::openvino("available_devices", e))?;
    Ok(devices
        .iter()
        .map(|d| (d.as_ref().to_string(), what(&core, d)))
        .collect())
}

/// The OpenVINO runtime version string (after [`library::load`]).
pub fn runtime_version() -> String {
    openvino::version().build_number
}

/// Why `path` is not a model file to read (`None`: it is a regular file): not found, a folder,
/// a FIFO, a device or a socket.
pub fn not_a_file(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let kind = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some("file not found".into()),
        Err(e) => return Some(format!("cannot read it: {e}")),
        Ok(m) if m.is_file() => return None,
        Ok(m) if m.is_dir() => "a folder",
        Ok(m) if m.file_type().is_fifo() => "a FIFO (named pipe)",
        Ok(m) if m.file_type().is_socket() => "a socket",
        Ok(m) if m.file_type().is_char_device() || m.file_type().is_block_device() => "a device",
        Ok(_) => "something other than a file",
    };
    Some(format!(
        "is {kind}, not a model file (.xml, .onnx, .tflite, .pb)"
    ))
}
