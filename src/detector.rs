//! From a pipeline config to a compiled detection model and the adapter that decodes it.

use crate::adapters::blazeface::BlazeFaceAdapter;
use crate::adapters::ssd::SsdAdapter;
use crate::adapters::{self, Adapter};
use crate::config::PipelineConfig;
use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::manifest::{read_labels, FetchState, Manifest};
use std::path::{Path, PathBuf};

/// A compiled detection model and the adapter that decodes its outputs.
pub struct Detector {
    pub engine: Engine,
    pub adapter: Adapter,
    /// Manifest id, or the path as given.
    pub model: String,
}

/// Where a model comes from after resolving the config's `model.model`.
pub(crate) struct ResolvedModel {
    pub path: PathBuf,
    pub labels: Vec<String>,
    pub input_size: Option<[u32; 2]>,
    /// Adapter name from the manifest.
    pub adapter: Option<String>,
}

impl Detector {
    /// Resolves the model (manifest id or path), compiles it and picks its adapter.
    ///
    /// # Errors
    /// [`Error::Model`] for a model that is missing, not fetched, fails its checksum, fails to
    /// compile or has outputs no adapter understands; [`Error::Config`] for labels/classes.
    pub fn from_config(config: &PipelineConfig, openvino_lib: Option<&Path>) -> Result<Detector> {
        let resolved = resolve_model(&config.model.model)?;
        let labels = match (&config.detect.labels_file, &config.detect.labels) {
            (Some(file), _) => read_labels(file)?,
            (None, Some(list)) => list.clone(),
            (None, None) => resolved.labels,
        };
        let m = &config.model;
        let adapter_name = m
            .adapter
            .clone()
            .or(resolved.adapter.clone())
            .unwrap_or_else(|| adapters::SSD.to_string());
        let format = adapters::input_format(&adapter_name).ok_or_else(|| Error::Model {
            path: resolved.path.clone(),
            message: format!(
                "adapter `{adapter_name}` cannot detect (known: {}, {})",
                adapters::SSD,
                adapters::BLAZEFACE
            ),
        })?;
        let mut options = EngineOptions {
            input_size: m.input_size.or(resolved.input_size),
            input_format: format,
            ..engine_options(config, openvino_lib)
        };
        if options
            .nstreams
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(crate::tune::AUTO))
        {
            let n = crate::tune::pick_nstreams(&resolved.path, &options)?;
            options.nstreams = Some(n.to_string());
        }
        let mut engine = Engine::load(&resolved.path, &options)?;
        if m.nireq == Some(crate::config::Nireq::Auto) {
            engine.nireq = crate::tune::pick_nireq(&mut engine, m.hint)?;
        }
        let adapter = match adapter_name.as_str() {
            adapters::BLAZEFACE => {
                let outputs: Vec<(String, Vec<i64>)> = engine
                    .outputs
                    .iter()
                    .map(|o| (o.name.clone(), o.shape.clone()))
                    .collect();
                BlazeFaceAdapter::new(&outputs, engine.input.width as u32, config.detect.threshold)
                    .map(Adapter::BlazeFace)
            }
            _ => SsdAdapter::new(
                &engine.outputs,
                |name| engine.has_output(name),
                labels,
                config.detect.threshold,
                &config.detect.classes,
            )
            .map(Adapter::Ssd),
        }
        .map_err(|message| Error::Model {
            path: resolved.path.clone(),
            message,
        })?;
        tracing::info!(
            model = %m.model,
            device = %m.device,
            execution_devices = %engine.execution_devices,
            nireq = engine.nireq,
            compile_ms = engine.compile_time.as_millis() as u64,
            "model ready"
        );
        Ok(Detector {
            engine,
            adapter,
            model: m.model.clone(),
        })
    }
}

/// Device, hint, precision, streams, nireq, cache and library from `[model]`; the input size
/// and element are the model's own (set them per model).
pub fn engine_options(config: &PipelineConfig, openvino_lib: Option<&Path>) -> EngineOptions {
    let m = &config.model;
    EngineOptions {
        device: m.device.clone(),
        hint: m.hint,
        precision: m.precision,
        nstreams: m.nstreams.clone(),
        nireq: m.nireq.and_then(crate::config::Nireq::count),
        cache_dir: m.cache.then(|| {
            m.cache_dir
                .clone()
                .unwrap_or_else(crate::config::default_cache_dir)
        }),
        input_size: None,
        openvino_lib: openvino_lib.map(Path::to_path_buf),
        input_format: Default::default(),
        batch: m.batch,
    }
}

/// A manifest id or a model file path → the file and what the manifest says about it.
pub(crate) fn resolve_model(name: &str) -> Result<ResolvedModel> {
    let as_path = Path::new(name);
    let looks_like_path = as_path.extension().is_some() || name.contains('/');
    if !looks_like_path {
        let manifest = Manifest::load(&Manifest::default_dir())?;
        if let Some(entry) = manifest.get(name) {
            let path = manifest.path_of(entry);
            return match manifest.fetch_state(entry) {
                FetchState::Ok => Ok(ResolvedModel {
                    path,
                    labels: manifest.labels_of(entry)?,
                    input_size: Some(entry.input),
                    adapter: Some(entry.adapter.clone()),
                }),
                FetchState::Missing => Err(Error::Model {
                    path,
                    message: format!("model `{name}` is not fetched; run models/fetch"),
                }),
                FetchState::ChecksumMismatch { actual } => Err(Error::Model {
                    path,
                    message: format!(
                        "checksum mismatch: expected sha256 {}, got {actual}; run models/fetch",
                        entry.sha256
                    ),
                }),
            };
        }
        let known: Vec<&str> = manifest.models.iter().map(|m| m.id.as_str()).collect();
        return Err(Error::Model {
            path: as_path.to_path_buf(),
            message: format!("neither a file nor a manifest id (known ids: {known:?})"),
        });
    }
    Ok(ResolvedModel {
        path: as_path.to_path_buf(),
        labels: Vec::new(),
        input_size: None,
        adapter: None,
    })
}
