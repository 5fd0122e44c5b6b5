//! What a `[[classify]]` table names: a manifest `[[classifier]]` (its files checked) or a
//! model file, with the table's own keys over the manifest's.

use crate::config::classify::{AttributeSpec, ClassifyConfig, Crop};
use crate::error::{Error, Result};
use crate::manifest::{FetchState, Manifest};
use std::path::{Path, PathBuf};

/// What a `[[classify]]` table resolves to: its files and how they are read.
pub(super) struct Resolved {
    pub(super) files: Vec<PathBuf>,
    pub(super) object_class: Option<Vec<String>>,
    pub(super) crop: Crop,
    pub(super) padding: f32,
    pub(super) mean: [f32; 3],
    pub(super) scale: f32,
    pub(super) outputs: Vec<AttributeSpec>,
}

/// Resolves `config.model` (manifest `[[classifier]]` id or file) and merges the table's own
/// keys over the manifest's.
pub(super) fn resolve(config: &ClassifyConfig, key: &str) -> Result<Resolved> {
    let setting = |field: &str, message: String| Error::Setting {
        key: format!("{key}.{field}"),
        message,
    };
    let as_path = Path::new(&config.model);
    if !crate::manifest::is_model_path(&config.model) {
        let manifest = Manifest::load(&Manifest::default_dir())?;
        let Some(entry) = manifest.classifier(&config.model) else {
            let known: Vec<&str> = manifest.classifiers.iter().map(|c| c.id.as_str()).collect();
            return Err(setting(
                "model",
                format!(
                    "`{}` is neither a model file nor a classifier id (known ids: {known:?})",
                    config.model
                ),
            ));
        };
        let files: Vec<PathBuf> = (entry.files.iter())
            .map(|f| manifest.classifier_file(entry, f))
            .collect();
        match manifest.classifier_state(entry) {
            FetchState::Ok => {}
            FetchState::Missing => {
                return Err(Error::Model {
                    path: files[0].clone(),
                    message: format!("classifier `{}` is not fetched; run models/fetch", entry.id),
                })
            }
            FetchState::ChecksumMismatch { actual } => {
                return Err(Error::Model {
                    path: files[0].clone(),
                    message: format!("checksum mismatch (got {actual}); run models/fetch"),
                })
            }
        }
        let manifest_classes = (!entry.object_class.is_empty()).then(|| entry.object_class.clone());
        return Ok(Resolved {
            files,
            object_class: config.object_class.clone().or(manifest_classes),
            crop: config.crop.unwrap_or(entry.crop),
            padding: config.padding.or(entry.padding).unwrap_or(0.0),
            mean: config.mean.or(entry.mean).unwrap_or([0.0; 3]),
            scale: config.scale.or(entry.scale).unwrap_or(1.0),
            outputs: match config.outputs.is_empty() {
                true => entry.outputs.clone(),
                false => config.outputs.clone(),
            },
        });
    }
    if !as_path.is_file() {
        return Err(Error::Model {
            path: as_path.to_path_buf(),
            message: "file not found".into(),
        });
    }
    if config.outputs.is_empty() {
        return Err(setting(
            "outputs",
            "a model file needs [[classify.outputs]] (name, tensor, kind, labels or bins)".into(),
        ));
    }
    let dir = as_path.parent().unwrap_or(Path::new("."));
    let mut files = vec![as_path.to_path_buf()];
    for o in &config.outputs {
        if let Some(f) = &o.model_file {
            let p = dir.join(f);
            if !files.contains(&p) {
                files.push(p);
            }
        }
    }
    Ok(Resolved {
        files,
        object_class: config.object_class.clone(),
        crop: config.crop.unwrap_or(Crop::Box),
        padding: config.padding.unwrap_or(0.0),
        mean: config.mean.unwrap_or([0.0; 3]),
        scale: config.scale.unwrap_or(1.0),
        outputs: config.outputs.clone(),
    })
}
