//! The only module that touches OpenVINO: load the runtime, read a model, reshape it to a static
//! input, add preprocessing (u8 NHWC tensor in, whatever the model wants inside), set device
//! properties, compile (with the compiled-model cache), and hand out infer requests.

pub mod fake;
mod input;
pub mod library;
mod peek;
mod properties;
mod request;

pub use input::{InputElement, InputFormat, InputSpec, Letterbox};
pub use peek::{peek, ModelShape};
mod cache_lock;
use properties::set_properties;
pub use properties::{device_properties, DeviceProperty};
pub use request::Request;

use crate::config::{Hint, Precision};
use crate::error::{Error, Result};
use openvino::{
    prepostprocess, CompiledModel, Core, DeviceType, ElementType, InferenceError, Layout,
    PartialShape, PropertyKey, RwPropertyKey, Tensor,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Used when the device does not report `OPTIMAL_NUMBER_OF_INFER_REQUESTS`.
const FALLBACK_NIREQ: usize = 2;

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
        if model.get_inputs_len().unwrap_or(0) != 1 {
            return Err(model_err("expected exactly one image input".into()));
        }
        let input_node = model
            .get_input_by_index(0)
            .map_err(|e| model_err(format!("input: {e}")))?;
        let input_name = input_node
            .get_name()
            .map_err(|e| model_err(format!("input name: {e}")))?;
        let partial = input_node
            .get_partial_shape()
            .map_err(|e| model_err(format!("input shape: {e}")))?;
        let layout = guess_layout(&partial).ok_or_else(|| {
            model_err(format!(
                "input `{input_name}` is not a 4-D image tensor (NHWC or NCHW with 3 channels)"
            ))
        })?;
        let [h, w] = match options.input_size {
            Some(size) => size.map(i64::from),
            None => static_hw(&partial, layout).ok_or_else(|| {
                model_err(format!(
                    "input `{input_name}` has a dynamic size; set model.input_size = [height, width]"
                ))
            })?,
        };
        let n = options.batch.max(1) as i64;
        let dims: [i64; 4] = if layout == "NHWC" {
            [n, h, w, 3]
        } else {
            [n, 3, h, w]
        };
        // Reshaping and preprocessing re-run shape inference over the whole graph (~70 ms
        // each for the TF-OD-API SSD): skip them when they would change nothing (a static IR
        // from `models/convert/to_ir.py` with a u8 NHWC input).
        let already_static = !partial.is_dynamic()
            && partial
                .get_dimensions()
                .iter()
                .zip(dims)
                .all(|(d, want)| d.get_min() == want);
        if !already_static {
            let shape = PartialShape::new_static(4, &dims).map_err(|e| model_err(e.to_string()))?;
            model.reshape_single_input(&shape).map_err(|e| {
                let from = if partial.is_dynamic() {
                    String::new()
                } else {
                    let own: Vec<i64> = partial
                        .get_dimensions()
                        .iter()
                        .map(|d| d.get_min())
                        .collect();
                    // models/fetch's IR of a TF-OD-API SSD has its resize loop cut out.
                    format!(" from its static {own:?} (it may take only that size)")
                };
                model_err(format!(
                    "cannot reshape input to {dims:?}{from}: {}",
                    ov_message(e)
                ))
            })?;
        }
        let wanted_element = match options.input_format.element {
            InputElement::U8 => ElementType::U8,
            InputElement::F32Symmetric | InputElement::F32 | InputElement::F32Unit => {
                ElementType::F32
            }
        };
        let preprocessing_is_noop =
            layout == "NHWC" && input_node.get_element_type().ok() == Some(wanted_element);
        let model = if preprocessing_is_noop {
            model
        } else {
            let ppp =
                prepostprocess::Pipeline::new(&model).map_err(|e| model_err(e.to_string()))?;
            let info = ppp
                .get_input_info_by_index(0)
                .map_err(|e| model_err(e.to_string()))?;
            let mut tensor_info = info
                .get_tensor_info()
                .map_err(|e| model_err(e.to_string()))?;
            let nhwc_u8 = Tensor::new(
                wanted_element,
                &openvino::Shape::new(&[n, h, w, 3]).map_err(|e| model_err(e.to_string()))?,
            )
            .map_err(|e| model_err(e.to_string()))?;
            tensor_info
                .set_from(&nhwc_u8)
                .map_err(|e| model_err(e.to_string()))?;
            tensor_info
                .set_layout(Layout::new("NHWC").map_err(|e| model_err(e.to_string()))?)
                .map_err(|e| model_err(e.to_string()))?;
            let mut model_info = info
                .get_model_info()
                .map_err(|e| model_err(e.to_string()))?;
            model_info
                .set_layout(Layout::new(layout).map_err(|e| model_err(e.to_string()))?)
                .map_err(|e| model_err(e.to_string()))?;
            ppp.build_new_model()
                .map_err(|e| model_err(format!("preprocessing: {}", ov_message(e))))?
        };

        let device = DeviceType::from(options.device.as_str());
        let lock = options
            .cache_dir
            .as_deref()
            .and_then(cache_lock::CacheLock::take);
        let compiled = core.compile_model(&model, device);
        drop(lock);
        let compiled = match compiled {
            Ok(c) => c,
            Err(e) => {
                // A device that is not here is the user's setting (exit 2), not the model's.
                if let Some(missing) = unavailable_device(&core, &options.device) {
                    return Err(Error::Config {
                        path: PathBuf::from(&options.device),
                        message: missing,
                    });
                }
                return Err(model_err(format!(
                    "cannot compile for device {}: {}",
                    options.device,
                    ov_message(e)
                )));
            }
        };
        let compile_time = started.elapsed();

        let execution_devices = compiled
            .get_property(&PropertyKey::Other("EXECUTION_DEVICES".into()))
            .map(|s| {
                s.trim_matches(|c| c == '[' || c == ']' || c == '"')
                    .to_string()
            })
            .unwrap_or_else(|_| options.device.clone());
        let precision = compiled
            .get_property(&PropertyKey::Rw(RwPropertyKey::HintInferencePrecision))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if let Some(asked) = properties::asked_precision(options) {
            if !precision.is_empty() && !precision.eq_ignore_ascii_case(&asked) {
                tracing::warn!(
                    "precision {asked} was asked; {} runs {precision} (it cannot run {asked})",
                    options.device
                );
            }
        }
        let optimal = compiled
            .get_property(&PropertyKey::OptimalNumberOfInferRequests)
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(FALLBACK_NIREQ);
        let nstreams = compiled
            .get_property(&PropertyKey::Rw(RwPropertyKey::NumStreams))
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        let mut outputs = output_specs(&compiled).map_err(|e| model_err(e.to_string()))?;
        for o in &mut outputs {
            match o.shape.first_mut() {
                Some(d) if *d == n => *d = 1,
                _ if n == 1 => {}
                _ => {
                    return Err(model_err(format!(
                        "batch {n}: output `{}` has shape {:?}, without a leading batch \
                         dimension; this model runs with batch = 1 only",
                        o.name, o.shape
                    )))
                }
            }
        }
        Ok(Engine {
            backend: Backend::OpenVino {
                compiled,
                _core: core,
            },
            model_path: model_path.to_path_buf(),
            device: options.device.clone(),
            input: InputSpec {
                name: input_name,
                height: h as usize,
                width: w as usize,
                format: options.input_format,
                batch: n as usize,
            },
            outputs,
            nireq: options.nireq.unwrap_or(optimal),
            nstreams,
            execution_devices,
            precision,
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

/// Which device of `device` (`GPU.1`, `AUTO:GPU,CPU`, `HETERO:GPU,CPU`) is not among the
/// available ones, in words; `None` when all are (or OpenVINO cannot list them).
fn unavailable_device(core: &Core, device: &str) -> Option<String> {
    let available: Vec<String> = core
        .available_devices()
        .ok()?
        .iter()
        .map(|d| d.as_ref().to_string())
        .collect();
    let wanted = device.split_once(':').map_or(device, |(_, list)| list);
    // `GPU` is here when `GPU.0` is; `GPU.1` only when `GPU.1` is.
    let is_here = |d: &str| {
        available
            .iter()
            .any(|a| a == d || a.split('.').next() == Some(d))
    };
    let meta = ["AUTO", "HETERO", "MULTI", "BATCH"];
    wanted
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !meta.contains(d))
        .find(|d| !is_here(d))
        .map(|d| {
            format!(
                "device {d} is not available here (available: {})",
                available.join(", ")
            )
        })
}

/// `NHWC` when the last dim is 3, `NCHW` when dim 1 is 3, else `None`.
fn guess_layout(shape: &PartialShape) -> Option<&'static str> {
    let dims = shape.get_dimensions();
    if dims.len() != 4 {
        return None;
    }
    let is3 = |d: &openvino::Dimension| !d.is_dynamic() && d.get_min() == 3;
    if is3(&dims[3]) {
        Some("NHWC")
    } else if is3(&dims[1]) {
        Some("NCHW")
    } else {
        None
    }
}

/// `[height, width]` of a static 4-D input.
fn static_hw(shape: &PartialShape, layout: &str) -> Option<[i64; 2]> {
    let dims = shape.get_dimensions();
    let (h, w) = if layout == "NHWC" {
        (&dims[1], &dims[2])
    } else {
        (&dims[2], &dims[3])
    };
    (!h.is_dynamic() && !w.is_dynamic()).then(|| [h.get_min(), w.get_min()])
}

fn output_specs(compiled: &CompiledModel) -> std::result::Result<Vec<OutputSpec>, InferenceError> {
    (0..compiled.get_output_size()?)
        .map(|i| {
            let node = compiled.get_output_by_index(i)?;
            Ok(OutputSpec {
                name: node.get_name()?,
                shape: node.get_shape()?.get_dimensions().to_vec(),
            })
        })
        .collect()
}

/// The OpenVINO error with its message (the C API's last error text), on one line.
fn ov_message(err: InferenceError) -> String {
    err.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
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
