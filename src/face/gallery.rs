//! The face gallery: a folder `<gallery>/<name>/*.jpg|jpeg|png`, several images per person.
//!
//! Each image must show exactly one face (detected with the pipeline's face detector); others
//! are skipped with a warning naming the file. Embeddings are cached in
//! `<gallery>/.embeddings.json`, keyed by the image's sha256 and the embedding model, so
//! start-up does not recompute them. Matching is top-1 cosine similarity against every
//! gallery image; below the threshold a face is [`UNKNOWN`].

use super::align::RgbFrame;
use super::embed::{cosine, Embedder, Embedding};
use crate::detector::Detector;
use crate::engine::Request;
use crate::error::{Error, Result};
use crate::frame::{Detection, Frame, Identity, UNKNOWN};
use crate::inference::Inference;
use crate::preprocess::Scratch;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Cache file inside the gallery folder.
pub const CACHE_FILE: &str = ".embeddings.json";
/// Image extensions the gallery reads (lowercase).
const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// One enrolled image.
#[derive(Debug, Clone)]
pub struct GalleryEntry {
    pub name: Arc<str>,
    pub image: PathBuf,
    /// sha256 of the image file, hex: its first 12 digits are the sample's id in the API.
    pub sha256: String,
    pub embedding: Embedding,
}

/// The gallery every stream matches against, swapped whole when it changes (enrollment over the
/// API, naming an unknown person): readers take the current [`Arc<Gallery>`] and see a change
/// by its [`GalleryCell::generation`].
#[derive(Debug, Default)]
pub struct GalleryCell {
    current: parking_lot::RwLock<Arc<Gallery>>,
    generation: std::sync::atomic::AtomicU64,
}

impl GalleryCell {
    pub fn new(gallery: Gallery) -> Self {
        GalleryCell {
            current: parking_lot::RwLock::new(Arc::new(gallery)),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The gallery now.
    pub fn current(&self) -> Arc<Gallery> {
        Arc::clone(&self.current.read())
    }

    /// Bumped by every [`GalleryCell::replace`].
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Makes `gallery` the one every stream matches against from its next frame.
    pub fn replace(&self, gallery: Gallery) {
        *self.current.write() = Arc::new(gallery);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Enrolled faces.
#[derive(Debug, Clone, Default)]
pub struct Gallery {
    pub dir: PathBuf,
    pub entries: Vec<GalleryEntry>,
    /// Images left out, with the reason (no face, several faces, undecodable).
    pub skipped: Vec<(PathBuf, String)>,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Cache {
    model: String,
    /// image sha256 → embedding
    embeddings: BTreeMap<String, Embedding>,
}

/// Face detection on single frames (enrollment): the pipeline's detector with one request.
pub struct FaceFinder {
    inference: Inference,
    request: Request,
    scratch: Scratch,
}

impl FaceFinder {
    pub fn new(detector: &mut Detector) -> Result<Self> {
        let request = detector.engine.create_requests(1)?.remove(0);
        Ok(FaceFinder {
            inference: Inference::new(&detector.engine, &detector.adapter),
            request,
            scratch: Scratch::default(),
        })
    }

    /// Faces in `frame`, best first.
    pub fn find(&mut self, frame: &Frame) -> Result<Vec<Detection>> {
        self.inference
            .detect(&mut self.request, frame, &mut self.scratch)
    }
}

/// `(name, image)` for every image under `dir`, sorted.
///
/// # Errors
/// [`Error::Config`] when `dir` cannot be read.
pub fn list_images(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let err = |e: std::io::Error| Error::Config {
        path: dir.to_path_buf(),
        message: format!("gallery folder: {e}"),
    };
    let mut out = Vec::new();
    for person in std::fs::read_dir(dir).map_err(err)? {
        let person = person.map_err(err)?.path();
        let Some(name) = person.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !person.is_dir() || name.starts_with('.') {
            continue;
        }
        for image in std::fs::read_dir(&person).map_err(err)? {
            let image = image.map_err(err)?.path();
            // Hidden files: uploads still being written.
            if image
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let ext = image
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
                out.push((name.to_string(), image));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `name` can be a person's folder in the gallery: not blank or padded, no leading `.`
/// (hidden), no `/` or `\\`, no control characters.
pub fn usable_person_name(name: &str) -> bool {
    !name.is_empty()
        && name == name.trim()
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// The cache in `path` if it was made with `model`, else an empty one for it.
fn read_cache(path: &Path, model: &str) -> Cache {
    let mut cache: Cache = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|c: &Cache| c.model == model)
        .unwrap_or_default();
    cache.model = model.to_string();
    cache
}

/// Writes the cache atomically (a temporary file renamed over it).
fn write_cache(path: &Path, cache: &Cache) -> Result<()> {
    let json = serde_json::to_vec(cache).expect("the cache serializes");
    super::unknown::write_private(path, &json).map_err(|e| Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Adds `(image sha256, embedding)` pairs made with `model` to the cache of the gallery in
/// `dir` (images whose embedding is already known: named unknown people, API uploads).
///
/// # Errors
/// [`Error::Output`] when the cache cannot be written.
pub fn cache_embeddings(dir: &Path, model: &str, items: &[(String, Embedding)]) -> Result<()> {
    let path = dir.join(CACHE_FILE);
    let mut cache = read_cache(&path, model);
    for (sha, e) in items {
        cache.embeddings.insert(sha.clone(), e.clone());
    }
    write_cache(&path, &cache)
}

/// sha256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::Input {
        uri: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// The one face in `frame`, or why there is none.
pub fn single_face(faces: Vec<Detection>) -> std::result::Result<Detection, String> {
    match faces.len() {
        1 => Ok(faces.into_iter().next().expect("one face")),
        0 => Err("no face found".into()),
        n => Err(format!("{n} faces found (one per gallery image)")),
    }
}

impl Gallery {
    /// Loads `dir`, embedding images not in the cache (and updating it).
    ///
    /// # Errors
    /// [`Error::Config`] for an unreadable folder; model failures.
    pub fn load(dir: &Path, finder: &mut FaceFinder, embedder: &mut Embedder) -> Result<Gallery> {
        let cache_path = dir.join(CACHE_FILE);
        let mut cache = read_cache(&cache_path, &embedder.model);
        let mut gallery = Gallery {
            dir: dir.to_path_buf(),
            ..Gallery::default()
        };
        let mut computed = 0;
        for (name, image) in list_images(dir)? {
            let sha = sha256_file(&image)?;
            let embedding = match cache.embeddings.get(&sha) {
                Some(e) => e.clone(),
                None => match embed_image(&image, finder, embedder)? {
                    Ok(e) => {
                        computed += 1;
                        cache.embeddings.insert(sha.clone(), e.clone());
                        e
                    }
                    Err(why) => {
                        tracing::warn!(image = %image.display(), "gallery image skipped: {why}");
                        eprintln!("warning: gallery image {} skipped: {why}", image.display());
                        gallery.skipped.push((image, why));
                        continue;
                    }
                },
            };
            gallery.entries.push(GalleryEntry {
                name: Arc::from(name.as_str()),
                image,
                sha256: sha,
                embedding,
            });
        }
        if computed > 0 {
            write_cache(&cache_path, &cache)?;
        }
        tracing::info!(
            dir = %dir.display(),
            images = gallery.entries.len(),
            computed,
            "gallery loaded"
        );
        Ok(gallery)
    }

    /// Names in the gallery, sorted, each once.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self.entries.iter().map(|e| Arc::clone(&e.name)).collect();
        names.dedup();
        names
    }

    /// Top-1 match: the name of the most similar gallery image, or [`UNKNOWN`] (with the best
    /// similarity) when it is below `threshold` or the gallery is empty.
    pub fn identify(&self, embedding: &[f32], threshold: f32) -> Identity {
        let best = self
            .entries
            .iter()
            .map(|e| (e, cosine(&e.embedding, embedding)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((e, s)) if s >= threshold => Identity {
                name: Arc::clone(&e.name),
                similarity: s,
                unknown_id: None,
            },
            Some((_, s)) => Identity {
                name: Arc::from(UNKNOWN),
                similarity: s,
                unknown_id: None,
            },
            None => Identity {
                name: Arc::from(UNKNOWN),
                similarity: 0.0,
                unknown_id: None,
            },
        }
    }
}

/// Decodes `image`, finds its single face and embeds it; `Ok(Err(why))` when it is skipped.
pub fn embed_image(
    image: &Path,
    finder: &mut FaceFinder,
    embedder: &mut Embedder,
) -> Result<std::result::Result<Embedding, String>> {
    let frame = match crate::source::first_frame(&image.display().to_string()) {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("cannot decode: {e}"))),
    };
    let face = match single_face(finder.find(&frame)?) {
        Ok(f) => f,
        Err(why) => return Ok(Err(why)),
    };
    let rgb = RgbFrame::from_frame(&frame)?;
    Ok(Ok(embedder.embed(&rgb, &[&face])?.remove(0)))
}
