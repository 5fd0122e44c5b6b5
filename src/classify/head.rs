//! One model file of a classifier: compiled once with its own infer requests; crops go in
//! `batch` at a time, up to nireq requests in flight; each output tensor named by an attribute
//! comes back as one row per crop.

use crate::config::classify::AttributeSpec;
use crate::engine::{Engine, EngineOptions, InputElement, InputFormat, Request};
use crate::error::{Error, Result};
use opencv::core::Mat;
use opencv::prelude::*;
use std::path::Path;

/// Input normalization: `(RGB byte − mean[c]) / scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    pub mean: [f32; 3],
    pub scale: f32,
}

impl Normalize {
    /// Writes RGB u8 `bytes` into `out` (same length) as normalized f32.
    pub fn write(&self, bytes: &[u8], out: &mut [f32]) {
        for (px, o) in bytes.chunks_exact(3).zip(out.chunks_exact_mut(3)) {
            for c in 0..3 {
                o[c] = (f32::from(px[c]) - self.mean[c]) / self.scale;
            }
        }
    }
}

/// A compiled model file and the attribute outputs read from it.
pub struct Head {
    pub engine: Engine,
    requests: Vec<Request>,
    /// `(attribute index, output tensor name, values per crop)`.
    outputs: Vec<(usize, String, usize)>,
    /// Requests run so far.
    pub requests_run: u64,
}

impl Head {
    /// Compiles `path` and checks each attribute of `attributes` (`(index, spec, classes)`)
    /// against its outputs: the tensor exists (or is the only one) and has `classes` values.
    /// `key` names the `[[classify]]` table in errors.
    ///
    /// # Errors
    /// [`Error::Model`] when the file cannot be compiled; [`Error::Setting`] naming
    /// `{key}.outputs[i].tensor` or `.labels`/`.bins` when an attribute does not fit.
    pub fn load(
        path: &Path,
        options: &EngineOptions,
        attributes: &[(usize, &AttributeSpec, usize)],
        key: &str,
    ) -> Result<Head> {
        let mut options = options.clone();
        options.input_format = InputFormat {
            element: InputElement::F32,
            letterbox: false,
            pad: 0,
            ..InputFormat::default()
        };
        options.input_size = None;
        let mut engine = Engine::load(path, &options)?;
        let mut outputs = Vec::with_capacity(attributes.len());
        for &(i, spec, classes) in attributes {
            let at = |field: &str| format!("{key}.outputs[{i}].{field}");
            let names: Vec<&str> = engine.outputs.iter().map(|o| o.name.as_str()).collect();
            let output = match spec.tensor.as_deref() {
                Some(t) => engine.outputs.iter().find(|o| o.name == t).or_else(|| {
                    // Any of the tensor's names will do when the engine's first name differs.
                    engine
                        .has_output(t)
                        .then(|| &engine.outputs[0])
                        .filter(|_| names.len() == 1)
                }),
                None if engine.outputs.len() == 1 => engine.outputs.first(),
                None => {
                    return Err(Error::Setting {
                        key: at("tensor"),
                        message: format!(
                            "{} has several outputs {names:?}: name one",
                            path.display()
                        ),
                    })
                }
            };
            let Some(output) = output else {
                return Err(Error::Setting {
                    key: at("tensor"),
                    message: format!(
                        "`{}` is not an output of {} (outputs: {names:?})",
                        spec.tensor.as_deref().unwrap_or_default(),
                        path.display()
                    ),
                });
            };
            let values: i64 = output.shape.iter().skip(1).product::<i64>().max(1);
            if values as usize != classes {
                let field = match spec.kind {
                    crate::config::classify::AttributeKind::Value => "bins",
                    _ => "labels",
                };
                return Err(Error::Setting {
                    key: at(field),
                    message: format!(
                        "{classes} given, but output `{}` of {} has {values} classes (shape {:?})",
                        output.name,
                        path.display(),
                        output.shape
                    ),
                });
            }
            outputs.push((i, output.name.clone(), classes));
        }
        let requests = engine.create_requests(engine.nireq.max(1))?;
        Ok(Head {
            engine,
            requests,
            outputs,
            requests_run: 0,
        })
    }

    /// The indices of the attributes this model file computes.
    pub fn attributes(&self) -> Vec<usize> {
        self.outputs.iter().map(|o| o.0).collect()
    }

    /// Input `(width, height)` in pixels.
    pub fn input_size(&self) -> (i32, i32) {
        (
            self.engine.input.width as i32,
            self.engine.input.height as i32,
        )
    }

    /// Runs `crops` (RGB u8 of [`Self::input_size`]) through the model; `rows[crop][attribute]`
    /// gets each attribute's output row (only the attributes this head computes are written).
    ///
    /// # Errors
    /// OpenVINO failures; [`Error::Layout`] for a crop of another size.
    pub fn run(
        &mut self,
        crops: &[Mat],
        norm: Normalize,
        rows: &mut [Vec<Vec<f32>>],
    ) -> Result<()> {
        let batch = self.engine.input.batch.max(1);
        let per_crop = self.engine.input.width * self.engine.input.height * 3;
        let mut flat = Vec::new();
        let slots = batch * self.requests.len();
        for (group_index, group) in crops.chunks(slots).enumerate() {
            let chunks: Vec<&[Mat]> = group.chunks(batch).collect();
            for (chunk, req) in chunks.iter().zip(self.requests.iter_mut()) {
                let input = req.input_mut()?;
                // SAFETY: the tensor is f32 (InputElement::F32); OpenVINO aligns tensor memory.
                let (head, floats, tail) = unsafe { input.align_to_mut::<f32>() };
                if !head.is_empty() || !tail.is_empty() || floats.len() != per_crop * batch {
                    return Err(Error::layout(
                        "classifier",
                        "input tensor is not f32 of its shape",
                    ));
                }
                for (slot, crop) in floats.chunks_exact_mut(per_crop).enumerate() {
                    match chunk.get(slot) {
                        Some(m) => {
                            let bytes = m
                                .data_bytes()
                                .map_err(|e| Error::opencv("classifier crop", e))?;
                            if bytes.len() != per_crop {
                                return Err(Error::layout("classifier", "crop of the wrong size"));
                            }
                            norm.write(bytes, crop);
                        }
                        None => crop.fill(0.0),
                    }
                }
                req.start()?;
                self.requests_run += 1;
            }
            for (c, (chunk, req)) in chunks.iter().zip(self.requests.iter_mut()).enumerate() {
                req.wait()?;
                for &(attribute, ref tensor, values) in &self.outputs {
                    req.read_output(tensor, &mut flat)?;
                    for (slot, row) in flat.chunks_exact(values).take(chunk.len()).enumerate() {
                        let crop = group_index * slots + c * batch + slot;
                        rows[crop][attribute] = row.to_vec();
                    }
                }
            }
        }
        Ok(())
    }
}
