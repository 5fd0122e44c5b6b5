//! Face recognition after detection: alignment ([`align`]), embeddings ([`embed`]), the
//! gallery ([`gallery`]) and per-track naming ([`recognizer`]).

pub mod align;
pub mod embed;
pub mod enroll;
pub mod gallery;
pub mod library;
pub mod recognizer;
pub mod thumb;
pub mod unknown;

use crate::config::PipelineConfig;
use crate::detector::{engine_options, Detector};
use crate::error::Result;
use embed::Embedder;
use gallery::{FaceFinder, Gallery, GalleryCell};
use recognizer::Recognizer;
use std::path::Path;
use std::sync::Arc;
use unknown::UnknownStore;

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
/// (new images embedded with `detector` and cached), threshold, re-identification interval;
/// unknown people remembered for the run (unless `remember_unknown = false`).
///
/// # Errors
/// Model errors; [`crate::Error::Config`] for an unreadable gallery folder.
pub fn recognizer_from_config(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
    detector: &mut Detector,
) -> Result<Option<Recognizer>> {
    recognizer_with_unknowns(config, openvino_lib, detector, None)
}

/// [`recognizer_from_config`] whose remembered unknown people are kept in `unknown_dir`
/// (restored from it; `None`: for the run only).
///
/// # Errors
/// As [`recognizer_from_config`]; [`crate::Error::Config`] for an unreadable unknown index.
pub fn recognizer_with_unknowns(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
    detector: &mut Detector,
    unknown_dir: Option<&Path>,
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
    let unknowns = r
        .remember_unknown
        .then(|| UnknownStore::open(unknown_dir, r.max_unknown).map(Arc::new))
        .transpose()?;
    Ok(Some(Recognizer::new(
        embedder,
        Arc::new(GalleryCell::new(gallery)),
        unknowns,
        r.threshold,
        r.reidentify_interval,
    )))
}

/// The library's enroller: one request of `detector`, and the embedding model compiled again
/// with one request of its own.
fn enroller(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
    detector: &mut Detector,
) -> Result<library::Enroller> {
    let mut one = config.clone();
    if let Some(r) = one.recognize.as_mut() {
        r.nireq = Some(1);
    }
    Ok(library::Enroller {
        finder: FaceFinder::new(detector)?,
        embedder: embedder_from_config(&one, openvino_lib)?,
    })
}

/// The face library of a service whose streams run `recognizer`: its gallery cell and unknown
/// store, and an enroller of its own (one request of `detector`, an embedding model with one
/// request) for uploads.
///
/// # Errors
/// Model errors.
pub fn library_for(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
    detector: &mut Detector,
    recognizer: &Recognizer,
) -> Result<library::FaceLibrary> {
    let enroller = enroller(config, openvino_lib, detector)?;
    Ok(library::FaceLibrary::new(
        recognizer.gallery.current().dir.clone(),
        Arc::clone(&recognizer.gallery),
        recognizer.unknowns.clone(),
        recognizer.threshold,
        enroller,
    ))
}

/// A face library on its own (the CLI's `gallery recognize|unknown`): the pipeline's face
/// detector and embedding model, the gallery folder, and the unknown people kept in
/// `unknown_dir`. The detector is returned beside it and must outlive it.
///
/// # Errors
/// [`crate::Error::Setting`] without a `[recognize]` table; model and folder errors.
pub fn open_library(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
    unknown_dir: &Path,
) -> Result<(Detector, library::FaceLibrary)> {
    let r = config
        .recognize
        .clone()
        .ok_or_else(|| crate::Error::Setting {
            key: "pipeline".into(),
            message: "no [recognize] table: face recognition needs one".into(),
        })?;
    let mut detector = Detector::from_config(config, openvino_lib)?;
    let mut enroller = enroller(config, openvino_lib, &mut detector)?;
    std::fs::create_dir_all(&r.gallery).map_err(|e| crate::Error::Config {
        path: r.gallery.clone(),
        message: format!("cannot create the gallery folder: {e}"),
    })?;
    let gallery = Gallery::load(&r.gallery, &mut enroller.finder, &mut enroller.embedder)?;
    let unknowns = Arc::new(UnknownStore::open(Some(unknown_dir), r.max_unknown)?);
    let library = library::FaceLibrary::new(
        r.gallery.clone(),
        Arc::new(GalleryCell::new(gallery)),
        Some(unknowns),
        r.threshold,
        enroller,
    );
    Ok((detector, library))
}
