//! From a pipeline config to a compiled detection model and the adapter that decodes it.

use crate::adapters::yolo;
use crate::adapters::{self, Adapter, BuildError};
use crate::config::PipelineConfig;
use crate::engine::{Engine, EngineOptions, InputFormat};
use crate::error::{Error, Result};
use crate::manifest::{read_labels, FetchState, Manifest};
use crate::model_info::ModelInfo;
use std::path::{Path, PathBuf};

/// A compiled detection model and the adapter that decodes its outputs.
pub struct Detector {
    pub engine: Engine,
    pub adapter: Adapter,
    /// Manifest id, or the path as given.
    pub model: String,
}

/// Where a model comes from after resolving the config's `model.model`.
pub struct ResolvedModel {
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
        let config_err = |message: String| Error::Config {
            path: resolved.path.clone(),
            message,
        };
        // The model file's own settings (IR rt_info), below the manifest and the user's.
        let info = ModelInfo::read(&resolved.path).map_err(config_err)?;
        let labels = match (&config.detect.labels_file, &config.detect.labels) {
            (Some(file), _) => read_labels(file)?,
            (None, Some(list)) => list.clone(),
            (None, None) if !resolved.labels.is_empty() => resolved.labels,
            (None, None) => info.labels.clone().unwrap_or_default(),
        };
        let m = &config.model;
        let from_info = info.adapter().map_err(config_err)?.map(String::from);
        let adapter_name = match m.adapter.clone().or(resolved.adapter.clone()).or(from_info) {
            Some(name) => name,
            None => guess_adapter(&resolved.path, config, openvino_lib)?,
        };
        let registration = adapters::find(&adapter_name).ok_or_else(|| {
            config_err(format!(
                "adapter `{adapter_name}` is not registered (registered: {})",
                adapters::names().join(", ")
            ))
        })?;
        let format = InputFormat {
            resize: m.resize,
            ..(registration.input_format)()
        };
        info.check_input(&adapter_name, &format)
            .map_err(config_err)?;
        let threshold = match info.confidence_threshold {
            Some(t) if !config.detect.threshold_given => t,
            _ => config.detect.threshold,
        };
        let iou = config
            .detect
            .iou
            .or(info.iou_threshold)
            .unwrap_or(yolo::DEFAULT_IOU);
        let options = EngineOptions {
            input_size: m.input_size.or(resolved.input_size),
            input_format: format,
            ..engine_options(config, openvino_lib)
        };
        let engine = compile_tuned(&resolved.path, options, m)?;
        let build = adapters::Build {
            outputs: &engine.outputs,
            has_output: &|name| engine.has_output(name),
            input: (engine.input.height as i64, engine.input.width as i64),
            labels,
            threshold,
            iou,
            classes: &config.detect.classes,
        };
        let adapter = (registration.build)(&build).map_err(|e| match e {
            BuildError::Config(message) => Error::Config {
                path: resolved.path.clone(),
                message,
            },
            BuildError::Model(message) => Error::Model {
                path: resolved.path.clone(),
                message,
            },
        })?;
        check_classes(config, &adapter, &resolved.path)?;
        tracing::info!(
            model = %m.model,
            device = %m.device,
            execution_devices = %engine.execution_devices,
            precision = %engine.precision,
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

/// The model at `path` compiled with `options`, its `NUM_STREAMS` and nireq measured first
/// where `m` asks for `AUTO` (see [`crate::tune`]).
///
/// # Errors
/// As [`Engine::load`].
fn compile_tuned(
    path: &Path,
    mut options: EngineOptions,
    m: &crate::config::ModelConfig,
) -> Result<Engine> {
    if (options.nstreams.as_deref()).is_some_and(|s| s.eq_ignore_ascii_case(crate::tune::AUTO)) {
        let n = crate::tune::pick_nstreams(path, &options)?;
        options.nstreams = Some(n.to_string());
    }
    let mut engine = Engine::load(path, &options)?;
    if m.nireq == Some(crate::config::Nireq::Auto) {
        engine.nireq = crate::tune::pick_nireq(&mut engine, m.hint)?;
    }
    Ok(engine)
}

/// Checks that every class the alerts, zones and lines name (top-level and per source) is one
/// of `adapter`'s labels: one the model lacks would never match.
///
/// # Errors
/// [`Error::Config`] naming the model at `path` for an alert; [`Error::Setting`] `analytics`
/// for a zone or line.
fn check_classes(config: &PipelineConfig, adapter: &Adapter, path: &Path) -> Result<()> {
    let labels = adapter.labels();
    let label_names: Vec<&str> = labels.iter().map(|l| &**l).collect();
    if let Some(a) = (config.alerts.iter()).find(|a| !label_names.contains(&a.label.as_str())) {
        return Err(Error::Config {
            path: path.to_path_buf(),
            message: format!(
                "alerts `{}`: label {:?} is not a class of the model ({})",
                a.kind,
                a.label,
                label_names.join(", ")
            ),
        });
    }
    let mut analytics = std::iter::once(&config.analytics)
        .chain(config.sources.iter().filter_map(|s| s.analytics.as_ref()));
    match analytics.find_map(|a| a.unknown_class(&label_names)) {
        Some(message) => Err(Error::Setting {
            key: "analytics".into(),
            message,
        }),
        None => Ok(()),
    }
}

/// The one detection adapter whose layout fits the model's outputs.
///
/// # Errors
/// [`Error::Config`] listing the outputs (name, shape, type) and the adapters that could fit,
/// when none or several do.
fn guess_adapter(
    path: &Path,
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
) -> Result<String> {
    let shape = crate::engine::peek(path, openvino_lib)?;
    let input = config
        .model
        .input_size
        .map(|[h, w]| (i64::from(h), i64::from(w)))
        .or(shape.input_hw);
    match adapters::fitting(&shape.outputs, input).as_slice() {
        [one] => {
            tracing::info!(model = %path.display(), adapter = one, "adapter chosen from the output shapes");
            Ok(one.to_string())
        }
        fits => Err(Error::Config {
            path: path.to_path_buf(),
            message: format!(
                "cannot tell which adapter decodes this model: its outputs are {}; {}; \
                 set --adapter ({}) or [model] adapter",
                shape.describe_outputs(),
                if fits.is_empty() {
                    "no adapter fits them".to_string()
                } else {
                    format!("these fit: {}", fits.join(", "))
                },
                adapters::names().join(", ")
            ),
        }),
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
        properties: m
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// A manifest id or a model file path → the file and what the manifest says about it.
pub fn resolve_model(name: &str) -> Result<ResolvedModel> {
    let as_path = Path::new(name);
    let looks_like_path = crate::manifest::is_model_path(name);
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
