//! Face recognition after detection: alignment ([`align`]), embeddings ([`embed`]), the
//! gallery ([`gallery`]) and per-track naming ([`recognizer`]).

pub mod align;
pub mod embed;
pub mod enroll;
pub mod gallery;
pub mod recognizer;

use crate::config::PipelineConfig;
use crate::detector::{engine_options, Detector};
use crate::error::Result;
use embed::Embedder;
use gallery::{FaceFinder, Gallery};
use recognizer::Recognizer;
use std::path::Path;

/// The embedding model of `config.recognize` (its own nireq; device etc. from `[model]`).
///
/// # Errors
/// [`crate::Error::Config`] without a `[recognize]` table; model errors.
pub fn embedder_from_config(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
) -> Result<Embedder> {
    let r = config
        .recognize
        .as_ref()
        .ok_or_else(|| crate::Error::Setting {
            key: "pipeline".into(),
            message:
                "no [recognize] table (face recognition needs an embedding model and a gallery)"
                    .into(),
        })?;
    let mut options = engine_options(config, openvino_lib);
    options.nireq = r.nireq;
    options.batch = 1; // one face per request; `[model] batch` is the detector's
    Embedder::load(&r.model, &options)
}

/// The recognizer for `config` when it has a `[recognize]` table: embedder, gallery loaded
/// (new images embedded with `detector` and cached), threshold, re-identification interval.
///
/// # Errors
/// Model errors; [`crate::Error::Config`] for an unreadable gallery folder.
pub fn recognizer_from_config(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
    detector: &mut Detector,
) -> Result<Option<Recognizer>> {
    let Some(r) = &config.recognize else {
        return Ok(None);
    };
    let mut embedder = embedder_from_config(config, openvino_lib)?;
    if !r.gallery.exists() {
        std::fs::create_dir_all(&r.gallery).map_err(|e| crate::Error::Config {
            path: r.gallery.clone(),
            message: format!("cannot create the gallery folder: {e}"),
        })?;
    }
    let gallery = Gallery::load(&r.gallery, &mut FaceFinder::new(detector)?, &mut embedder)?;
    Ok(Some(Recognizer::new(
        embedder,
        gallery,
        r.threshold,
        r.reidentify_interval,
    )))
}
