//! The model-graph steps of [`Engine::load`](super::Engine::load), each one function: read the
//! image input, reshape it static, add the preprocessing that takes our u8/f32 NHWC tensor,
//! compile, read back what the compiled model reports, and its outputs per image.
//!
//! Every step's `Err` is the message of an [`Error::Model`] for the model file (the caller
//! adds the path), except [`compile`]'s, which is already an [`Error`] (a missing device is the
//! user's setting, not the model's).

use super::{cache_lock, properties, EngineOptions, InputElement, OutputSpec};
use crate::error::Error;
use openvino::{
    prepostprocess, CompiledModel, Core, DeviceType, ElementType, InferenceError, Layout, Model,
    PartialShape, PropertyKey, RwPropertyKey, Tensor,
};
use std::path::{Path, PathBuf};

/// Used when the device does not report `OPTIMAL_NUMBER_OF_INFER_REQUESTS`.
const FALLBACK_NIREQ: usize = 2;

/// A step's error: the message of an [`Error::Model`].
type Step<T> = std::result::Result<T, String>;

/// The model's one image input, and the static shape it will run with.
pub(super) struct ModelInput {
    /// Its tensor name.
    pub name: String,
    /// `NHWC` or `NCHW`, as [`guess_layout`] reads it.
    pub layout: &'static str,
    /// The model's own shape (dynamic dimensions included).
    partial: PartialShape,
    /// Its element type in the model (`None` when OpenVINO does not say).
    element: Option<ElementType>,
    /// Images per inference (N).
    pub batch: i64,
    pub height: i64,
    pub width: i64,
}

impl ModelInput {
    /// The input of `model`, at `options.input_size` (or the model's own static size) and
    /// `options.batch`.
    ///
    /// # Errors
    /// Not exactly one input; not a 4-D, 3-channel image; a dynamic size with no `input_size`.
    pub fn read(model: &Model, options: &EngineOptions) -> Step<ModelInput> {
        if model.get_inputs_len().unwrap_or(0) != 1 {
            return Err("expected exactly one image input".into());
        }
        let node = model
            .get_input_by_index(0)
            .map_err(|e| format!("input: {e}"))?;
        let name = node.get_name().map_err(|e| format!("input name: {e}"))?;
        let partial = node
            .get_partial_shape()
            .map_err(|e| format!("input shape: {e}"))?;
        let layout = guess_layout(&partial).ok_or_else(|| {
            format!("input `{name}` is not a 4-D image tensor (NHWC or NCHW with 3 channels)")
        })?;
        let [height, width] = match options.input_size {
            Some(size) => size.map(i64::from),
            None => static_hw(&partial, layout).ok_or_else(|| {
                format!("input `{name}` has a dynamic size; set model.input_size = [height, width]")
            })?,
        };
        Ok(ModelInput {
            name,
            layout,
            element: node.get_element_type().ok(),
            partial,
            batch: options.batch.max(1) as i64,
            height,
            width,
        })
    }

    /// The static shape it runs with, in its own layout.
    fn dims(&self) -> [i64; 4] {
        let (n, h, w) = (self.batch, self.height, self.width);
        if self.layout == "NHWC" {
            [n, h, w, 3]
        } else {
            [n, 3, h, w]
        }
    }
}

/// Reshapes `model`'s input to `input`'s static shape, unless it has it already: reshaping
/// and preprocessing re-run shape inference over the whole graph (~70 ms each for the
/// TF-OD-API SSD), so a static IR from `models/convert/to_ir.py` with a u8 NHWC input skips
/// both.
///
/// # Errors
/// OpenVINO's, naming the shapes (a static model may take only its own).
pub(super) fn reshape(model: &mut Model, input: &ModelInput) -> Step<()> {
    let dims = input.dims();
    let partial = &input.partial;
    let already_static = !partial.is_dynamic()
        && partial
            .get_dimensions()
            .iter()
            .zip(dims)
            .all(|(d, want)| d.get_min() == want);
    if already_static {
        return Ok(());
    }
    let shape = PartialShape::new_static(4, &dims).map_err(|e| e.to_string())?;
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
        format!("cannot reshape input to {dims:?}{from}: {}", ov_message(e))
    })
}

/// `model` taking an NHWC tensor of `element` (u8 or f32) in front of its own input layout
/// and type; `model` itself when it takes that already.
///
/// # Errors
/// OpenVINO's preprocessing errors.
pub(super) fn with_preprocessing(
    model: Model,
    input: &ModelInput,
    element: InputElement,
) -> Step<Model> {
    let wanted = match element {
        InputElement::U8 => ElementType::U8,
        InputElement::F32Symmetric | InputElement::F32 | InputElement::F32Unit => ElementType::F32,
    };
    if input.layout == "NHWC" && input.element == Some(wanted) {
        return Ok(model);
    }
    let text = |e: InferenceError| e.to_string();
    let ppp = prepostprocess::Pipeline::new(&model).map_err(text)?;
    let info = ppp.get_input_info_by_index(0).map_err(text)?;
    let mut tensor_info = info.get_tensor_info().map_err(text)?;
    let shape = openvino::Shape::new(&[input.batch, input.height, input.width, 3]).map_err(text)?;
    let nhwc = Tensor::new(wanted, &shape).map_err(text)?;
    tensor_info.set_from(&nhwc).map_err(text)?;
    tensor_info
        .set_layout(Layout::new("NHWC").map_err(text)?)
        .map_err(text)?;
    let mut model_info = info.get_model_info().map_err(text)?;
    model_info
        .set_layout(Layout::new(input.layout).map_err(text)?)
        .map_err(text)?;
    ppp.build_new_model()
        .map_err(|e| format!("preprocessing: {}", ov_message(e)))
}

/// Compiles `model` (read from `model_path`) for `options.device`, holding the compiled-model
/// cache's lock meanwhile.
///
/// # Errors
/// [`Error::Config`] naming the device when it is not here (the user's setting, exit 2);
/// otherwise [`Error::Model`] naming `model_path`, with OpenVINO's message.
pub(super) fn compile(
    core: &mut Core,
    model: &Model,
    model_path: &Path,
    options: &EngineOptions,
) -> crate::error::Result<CompiledModel> {
    let lock = options
        .cache_dir
        .as_deref()
        .and_then(cache_lock::CacheLock::take);
    let compiled = core.compile_model(model, DeviceType::from(options.device.as_str()));
    drop(lock);
    compiled.map_err(|e| match unavailable_device(core, &options.device) {
        Some(missing) => Error::Config {
            path: PathBuf::from(&options.device),
            message: missing,
        },
        None => Error::Model {
            path: model_path.to_path_buf(),
            message: format!(
                "cannot compile for device {}: {}",
                options.device,
                ov_message(e)
            ),
        },
    })
}

/// What a compiled model reports about how it runs.
pub(super) struct Reported {
    /// `EXECUTION_DEVICES`, unquoted (the device asked for when it does not say).
    pub execution_devices: String,
    /// `INFERENCE_PRECISION_HINT` (empty when the device does not say).
    pub precision: String,
    /// `OPTIMAL_NUMBER_OF_INFER_REQUESTS` ([`FALLBACK_NIREQ`] when it does not say).
    pub optimal_nireq: usize,
    /// `NUM_STREAMS`.
    pub nstreams: Option<usize>,
}

impl Reported {
    /// Reads them, and warns when the precision asked for is not the one running.
    pub fn of(compiled: &CompiledModel, options: &EngineOptions) -> Reported {
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
        let number = |key: PropertyKey| {
            compiled
                .get_property(&key)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
        };
        Reported {
            execution_devices,
            precision,
            optimal_nireq: number(PropertyKey::OptimalNumberOfInferRequests)
                .filter(|n| *n > 0)
                .unwrap_or(FALLBACK_NIREQ),
            nstreams: number(PropertyKey::Rw(RwPropertyKey::NumStreams)),
        }
    }
}

/// The compiled model's outputs, each with the shape of one image's block: a leading batch
/// dimension of `batch` reads as 1.
///
/// # Errors
/// OpenVINO's; with `batch > 1`, an output without a leading batch dimension.
pub(super) fn outputs_per_image(compiled: &CompiledModel, batch: i64) -> Step<Vec<OutputSpec>> {
    let mut outputs = output_specs(compiled).map_err(|e| e.to_string())?;
    for o in &mut outputs {
        match o.shape.first_mut() {
            Some(d) if *d == batch => *d = 1,
            _ if batch == 1 => {}
            _ => {
                return Err(format!(
                    "batch {batch}: output `{}` has shape {:?}, without a leading batch \
                     dimension; this model runs with batch = 1 only",
                    o.name, o.shape
                ))
            }
        }
    }
    Ok(outputs)
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
pub(super) fn guess_layout(shape: &PartialShape) -> Option<&'static str> {
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
pub(super) fn static_hw(shape: &PartialShape, layout: &str) -> Option<[i64; 2]> {
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
pub(super) fn ov_message(err: InferenceError) -> String {
    err.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
