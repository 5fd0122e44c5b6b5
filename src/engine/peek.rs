//! What a model file declares before it is compiled: its outputs (name, shape, element type)
//! and its input size. Used to pick an adapter from the output shapes, and to list the outputs
//! in the error when none fits.

use super::graph::{guess_layout, ov_message, static_hw};
use super::{library, OutputSpec};
use crate::error::{Error, Result};
use openvino::Core;
use std::path::Path;

/// A model's interface as read from its file (dynamic dimensions are `-1`).
#[derive(Debug, Clone)]
pub struct ModelShape {
    pub outputs: Vec<OutputSpec>,
    /// Element type of each output, as OpenVINO names it (`f32`, `f16`, `i64`, …).
    pub output_types: Vec<String>,
    /// `(height, width)` of the image input when static.
    pub input_hw: Option<(i64, i64)>,
}

impl ModelShape {
    /// `name [shape] type` of each output, comma-separated.
    pub fn describe_outputs(&self) -> String {
        self.outputs
            .iter()
            .zip(&self.output_types)
            .map(|(o, t)| format!("{} {:?} {t}", o.name, o.shape))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads `path` (no compile) and reports its interface.
///
/// # Errors
/// [`Error::Library`] when OpenVINO cannot be loaded; [`Error::Model`] naming `path` when it is
/// missing or unreadable.
pub fn peek(path: &Path, openvino_lib: Option<&Path>) -> Result<ModelShape> {
    library::load(openvino_lib)?;
    let err = |message: String| Error::Model {
        path: path.to_path_buf(),
        message,
    };
    if let Some(what) = super::not_a_file(path) {
        return Err(err(what));
    }
    let mut core = Core::new().map_err(|e| Error::Library(e.to_string()))?;
    let model = core
        .read_model_from_file(&path.to_string_lossy(), "")
        .map_err(|e| err(format!("cannot read model: {}", ov_message(e))))?;
    let dims = |shape: &openvino::PartialShape| -> Vec<i64> {
        shape
            .get_dimensions()
            .iter()
            .map(|d| if d.is_dynamic() { -1 } else { d.get_min() })
            .collect()
    };
    let n = model.get_outputs_len().map_err(|e| err(e.to_string()))?;
    let mut outputs = Vec::with_capacity(n);
    let mut output_types = Vec::with_capacity(n);
    for i in 0..n {
        let node = model
            .get_output_by_index(i)
            .map_err(|e| err(e.to_string()))?;
        let shape = node.get_partial_shape().map_err(|e| err(e.to_string()))?;
        outputs.push(OutputSpec {
            name: node.get_name().unwrap_or_else(|_| format!("output {i}")),
            shape: dims(&shape),
        });
        output_types.push(
            node.get_element_type()
                .map(|t| format!("{t}").to_lowercase())
                .unwrap_or_else(|_| "?".into()),
        );
    }
    let input_hw = model.get_input_by_index(0).ok().and_then(|node| {
        let shape = node.get_partial_shape().ok()?;
        let layout = guess_layout(&shape)?;
        static_hw(&shape, layout).map(|[h, w]| (h, w))
    });
    Ok(ModelShape {
        outputs,
        output_types,
        input_hw,
    })
}
