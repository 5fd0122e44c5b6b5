//! The face library: the gallery and the remembered unknown people managed while streams run
//! (`ovstream serve`'s `/api/faces`, `ovstream gallery recognize|unknown`).
//!
//! The gallery folder stays the storage (`<gallery>/<name>/<hash>.jpg|png`, content-hash names,
//! written through a temporary file and renamed; embeddings in its cache), so the CLI and the
//! API see the same people. Every change builds a new [`Gallery`] and swaps it into the shared
//! [`GalleryCell`]: running streams match against it from their next frame, with no restart.
//! Changes are serialized by the one [`Enroller`] (face detector + embedding model, one request
//! each) that checks and embeds uploaded images.

use super::align::RgbFrame;
use super::embed::Embedder;
use super::gallery::{self, single_face, FaceFinder, Gallery, GalleryCell};
use super::unknown::{write_atomic, UnknownStore, MIN_FACE_PX};
use crate::frame::{Detection, UNKNOWN};
use parking_lot::Mutex;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Mode of gallery images (as `ovstream gallery add` leaves them).
const IMAGE_MODE: u32 = 0o644;
/// Longest person name (characters).
pub const MAX_NAME_CHARS: usize = 64;
/// Names that would shadow the API's own paths (`/api/faces/unknown`, `/api/faces/recognize`).
const RESERVED_NAMES: [&str; 2] = [UNKNOWN, "recognize"];

/// Why a library call did nothing (each maps to one HTTP status in the API).
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("not an image: {0}")]
    NotAnImage(String),
    #[error("no face found in the image")]
    NoFace,
    #[error("{0} faces found (a sample must show exactly one)")]
    SeveralFaces(usize),
    #[error("the face is {0:.0} px, smaller than {MIN_FACE_PX} px")]
    TooSmall(f32),
    #[error("`{0}` is not a usable person name (1 to 64 characters, no `/`, `\\`, control characters, leading `.` or padding; not `unknown` or `recognize`)")]
    BadName(String),
    #[error("no person named {0}")]
    NoPerson(String),
    #[error("no sample {1} of {0}")]
    NoSample(String, String),
    #[error("a person named {0} exists")]
    NameTaken(String),
    #[error("no remembered unknown person {0}")]
    NoUnknown(u64),
    #[error("unknown people are not remembered here ([recognize] remember_unknown = false)")]
    NotRemembering,
    #[error(transparent)]
    Failed(#[from] crate::Error),
}

type Result<T> = std::result::Result<T, LibraryError>;

/// One gallery image of a person.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
pub struct Sample {
    /// The first 12 hex digits of the image's sha256.
    pub id: String,
    /// Its aligned face crop: `/api/faces/{name}/samples/{id}.jpg`.
    pub url: String,
    /// When the file was added (RFC 3339, UTC).
    pub added: String,
}

/// One person of the gallery.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
pub struct Person {
    pub name: String,
    pub samples: Vec<Sample>,
    /// Embeddings the matcher uses for this person (one per usable sample).
    pub embedding_count: usize,
}

/// One face found by [`FaceLibrary::recognize`].
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
pub struct RecognizedFace {
    /// `[x_min, y_min, x_max, y_max]` in pixels of the image.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Gallery name, or `unknown`.
    pub name: String,
    /// Cosine similarity to the best gallery sample, in `[-1, 1]`.
    pub similarity: f32,
    /// The remembered unknown person it matches, if any (only for `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_id: Option<u64>,
}

/// The face detector and embedding model the library checks and embeds images with.
pub struct Enroller {
    pub finder: FaceFinder,
    pub embedder: Embedder,
}

/// The gallery and remembered unknowns, shared with every stream's recognizer.
pub struct FaceLibrary {
    pub dir: PathBuf,
    pub gallery: Arc<GalleryCell>,
    pub unknowns: Option<Arc<UnknownStore>>,
    /// `[recognize] threshold`: the gallery's (and the unknowns') match threshold.
    pub threshold: f32,
    enroller: Mutex<Enroller>,
}

/// `/api/faces/{name}/samples/{id}.jpg`, the name percent-encoded.
pub fn sample_url(name: &str, id: &str) -> String {
    let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("/api/faces/{name}/samples/{id}.jpg")
}

/// Checks a person name given over the API or the CLI.
///
/// # Errors
/// [`LibraryError::BadName`].
pub fn check_name(name: &str) -> Result<()> {
    let bad = !gallery::usable_person_name(name)
        || name.chars().count() > MAX_NAME_CHARS
        || RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name));
    if bad {
        return Err(LibraryError::BadName(name.chars().take(80).collect()));
    }
    Ok(())
}

/// `jpg` or `png` from the first bytes.
fn image_kind(bytes: &[u8]) -> Result<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("jpg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("png")
    } else {
        Err(LibraryError::NotAnImage(
            "neither JPEG nor PNG (by its first bytes)".into(),
        ))
    }
}

fn io_error(path: &Path, e: std::io::Error) -> LibraryError {
    LibraryError::Failed(crate::Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// A fresh hidden file name in `dir` (an upload is written there to be decoded).
fn scratch_path(dir: &Path, ext: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".upload-{}-{n}.{ext}", std::process::id()))
}

fn rfc3339(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

impl FaceLibrary {
    pub fn new(
        dir: PathBuf,
        gallery: Arc<GalleryCell>,
        unknowns: Option<Arc<UnknownStore>>,
        threshold: f32,
        enroller: Enroller,
    ) -> Self {
        FaceLibrary {
            dir,
            gallery,
            unknowns,
            threshold,
            enroller: Mutex::new(enroller),
        }
    }

    /// Every person, by name.
    pub fn people(&self) -> Vec<Person> {
        let gallery = self.gallery.current();
        let mut people: Vec<Person> = Vec::new();
        for e in &gallery.entries {
            let id = e.sha256[..12].to_string();
            let added = std::fs::metadata(&e.image)
                .and_then(|m| m.modified())
                .map(rfc3339)
                .unwrap_or_default();
            let sample = Sample {
                url: sample_url(&e.name, &id),
                id,
                added,
            };
            match people.last_mut() {
                Some(p) if *p.name == *e.name => {
                    p.samples.push(sample);
                    p.embedding_count += 1;
                }
                _ => people.push(Person {
                    name: e.name.to_string(),
                    samples: vec![sample],
                    embedding_count: 1,
                }),
            }
        }
        people
    }

    /// Decodes `bytes` (JPEG or PNG) into a frame.
    fn decode(&self, bytes: &[u8]) -> Result<(crate::frame::Frame, &'static str)> {
        let ext = image_kind(bytes)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let path = scratch_path(&self.dir, ext);
        std::fs::write(&path, bytes).map_err(|e| io_error(&path, e))?;
        let frame = crate::source::first_frame(&path.display().to_string());
        let _ = std::fs::remove_file(&path);
        let frame =
            frame.map_err(|e| LibraryError::NotAnImage(format!("cannot decode it: {e}")))?;
        Ok((frame, ext))
    }

    /// Adds the image `bytes` (JPEG or PNG showing exactly one face of at least
    /// [`MIN_FACE_PX`]) to person `name` (made when new); every stream sees it from its next
    /// frame. Returns the sample (an image already enrolled for `name` is not added twice).
    ///
    /// # Errors
    /// [`LibraryError::BadName`], [`LibraryError::NotAnImage`], [`LibraryError::NoFace`],
    /// [`LibraryError::SeveralFaces`], [`LibraryError::TooSmall`]; file and model failures.
    pub fn add_sample(&self, name: &str, bytes: &[u8]) -> Result<Sample> {
        check_name(name)?;
        let mut enroller = self.enroller.lock();
        let (frame, ext) = self.decode(bytes)?;
        let face = one_face(&mut enroller, &frame)?;
        let rgb = RgbFrame::from_frame(&frame)?;
        let embedding = enroller.embedder.embed(&rgb, &[&face])?.remove(0);
        let sha = gallery::sha256_hex(bytes);
        let id = sha[..12].to_string();
        let person = self.dir.join(name);
        std::fs::create_dir_all(&person).map_err(|e| io_error(&person, e))?;
        let dest = person.join(format!("{id}.{ext}"));
        let model = enroller.embedder.model.clone();
        gallery::cache_embeddings(&self.dir, &model, &[(sha, embedding)])?;
        if !dest.exists() {
            write_atomic(&dest, bytes, IMAGE_MODE).map_err(|e| io_error(&dest, e))?;
        }
        self.reload(&mut enroller)?;
        tracing::info!(name, sample = id, "face sample enrolled");
        Ok(Sample {
            url: sample_url(name, &id),
            id,
            added: rfc3339(std::time::SystemTime::now()),
        })
    }

    /// Renames person `from` to `to`.
    ///
    /// # Errors
    /// [`LibraryError::NoPerson`], [`LibraryError::NameTaken`], [`LibraryError::BadName`].
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        check_name(to)?;
        let mut enroller = self.enroller.lock();
        let (old, new) = (self.person_dir(from)?, self.dir.join(to));
        if new.exists() {
            return Err(LibraryError::NameTaken(to.to_string()));
        }
        std::fs::rename(&old, &new).map_err(|e| io_error(&old, e))?;
        self.reload(&mut enroller)
    }

    /// Deletes person `name` and every sample of it.
    ///
    /// # Errors
    /// [`LibraryError::NoPerson`]; file failures.
    pub fn delete_person(&self, name: &str) -> Result<()> {
        let mut enroller = self.enroller.lock();
        let dir = self.person_dir(name)?;
        std::fs::remove_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        self.reload(&mut enroller)
    }

    /// Deletes sample `id` of person `name` (the person goes with its last sample).
    ///
    /// # Errors
    /// [`LibraryError::NoPerson`], [`LibraryError::NoSample`]; file failures.
    pub fn delete_sample(&self, name: &str, id: &str) -> Result<()> {
        let mut enroller = self.enroller.lock();
        let image = self.sample_file(name, id)?;
        std::fs::remove_file(&image).map_err(|e| io_error(&image, e))?;
        let dir = self.dir.join(name);
        let _ = std::fs::remove_dir(&dir); // only when empty
        self.reload(&mut enroller)
    }

    /// The aligned face crop of sample `id` of `name` (what the embedding model sees), JPEG.
    ///
    /// # Errors
    /// [`LibraryError::NoPerson`], [`LibraryError::NoSample`]; decode or model failures.
    pub fn sample_jpeg(&self, name: &str, id: &str) -> Result<Vec<u8>> {
        let image = self.sample_file(name, id)?;
        let bytes = std::fs::read(&image).map_err(|e| io_error(&image, e))?;
        let mut enroller = self.enroller.lock();
        let (frame, _) = self.decode(&bytes)?;
        let faces = enroller.finder.find(&frame)?;
        let face = single_face(faces).map_err(|_| LibraryError::NoFace)?;
        let side = enroller.embedder.side();
        let crop = RgbFrame::from_frame(&frame)?.aligned(&face, side & !3)?;
        Ok(super::thumb::jpeg(&crop)?)
    }

    /// Every face in the image `bytes`: its box, gallery name or `unknown` with the similarity,
    /// and the remembered unknown person it matches.
    ///
    /// # Errors
    /// [`LibraryError::NotAnImage`]; model failures.
    pub fn recognize(&self, bytes: &[u8]) -> Result<Vec<RecognizedFace>> {
        let mut enroller = self.enroller.lock();
        let (frame, _) = self.decode(bytes)?;
        let faces = enroller.finder.find(&frame)?;
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let rgb = RgbFrame::from_frame(&frame)?;
        let refs: Vec<&Detection> = faces.iter().collect();
        let embeddings = enroller.embedder.embed(&rgb, &refs)?;
        let gallery = self.gallery.current();
        let (w, h) = (frame.info.width() as f32, frame.info.height() as f32);
        Ok(faces
            .iter()
            .zip(&embeddings)
            .map(|(d, e)| {
                let id = gallery.identify(e, self.threshold);
                let unknown_id = (&*id.name == UNKNOWN)
                    .then(|| self.unknowns.as_ref()?.best_match(e, self.threshold))
                    .flatten()
                    .map(|(u, _)| u);
                let b = &d.bbox;
                RecognizedFace {
                    bbox: [b.x_min * w, b.y_min * h, b.x_max * w, b.y_max * h],
                    name: id.name.to_string(),
                    similarity: id.similarity,
                    unknown_id,
                }
            })
            .collect())
    }

    /// Names remembered unknown person `unknown_id`: its samples join the gallery as `name`
    /// (a new person or an existing one) and it is no longer remembered as unknown. Returns
    /// the samples added.
    ///
    /// # Errors
    /// [`LibraryError::NotRemembering`], [`LibraryError::NoUnknown`], [`LibraryError::BadName`];
    /// file failures.
    pub fn name_unknown(&self, unknown_id: u64, name: &str) -> Result<Vec<Sample>> {
        check_name(name)?;
        let store = self.unknowns.as_ref().ok_or(LibraryError::NotRemembering)?;
        let mut enroller = self.enroller.lock();
        let (_, samples) = store
            .take(unknown_id)
            .ok_or(LibraryError::NoUnknown(unknown_id))?;
        let person = self.dir.join(name);
        std::fs::create_dir_all(&person).map_err(|e| io_error(&person, e))?;
        let mut cached = Vec::new();
        let mut added = Vec::new();
        for (sample, jpeg) in &samples {
            let sha = gallery::sha256_hex(jpeg);
            let id = sha[..12].to_string();
            let dest = person.join(format!("{id}.jpg"));
            write_atomic(&dest, jpeg, IMAGE_MODE).map_err(|e| io_error(&dest, e))?;
            cached.push((sha, sample.embedding.clone()));
            added.push(Sample {
                url: sample_url(name, &id),
                id,
                added: rfc3339(std::time::SystemTime::now()),
            });
        }
        let model = enroller.embedder.model.clone();
        gallery::cache_embeddings(&self.dir, &model, &cached)?;
        self.reload(&mut enroller)?;
        tracing::info!(
            unknown_id,
            name,
            samples = added.len(),
            "unknown person named"
        );
        Ok(added)
    }

    /// Forgets remembered unknown person `unknown_id` (its samples are deleted).
    ///
    /// # Errors
    /// [`LibraryError::NotRemembering`], [`LibraryError::NoUnknown`].
    pub fn forget_unknown(&self, unknown_id: u64) -> Result<()> {
        let store = self.unknowns.as_ref().ok_or(LibraryError::NotRemembering)?;
        if !store.forget(unknown_id) {
            return Err(LibraryError::NoUnknown(unknown_id));
        }
        Ok(())
    }

    fn person_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.dir.join(name);
        if check_name(name).is_err() || !dir.is_dir() {
            return Err(LibraryError::NoPerson(name.to_string()));
        }
        Ok(dir)
    }

    /// The image file of sample `id` of `name`.
    fn sample_file(&self, name: &str, id: &str) -> Result<PathBuf> {
        self.person_dir(name)?;
        self.gallery
            .current()
            .entries
            .iter()
            .find(|e| *e.name == *name && e.sha256.starts_with(id) && id.len() == 12)
            .map(|e| e.image.clone())
            .ok_or_else(|| LibraryError::NoSample(name.to_string(), id.to_string()))
    }

    /// Loads the folder again (new images embedded, the rest from the cache) and swaps it in.
    fn reload(&self, enroller: &mut Enroller) -> Result<()> {
        let Enroller { finder, embedder } = enroller;
        let gallery = Gallery::load(&self.dir, finder, embedder)?;
        self.gallery.replace(gallery);
        Ok(())
    }
}

/// The one face of `frame`, at least [`MIN_FACE_PX`] on its shorter side.
fn one_face(enroller: &mut Enroller, frame: &crate::frame::Frame) -> Result<Detection> {
    let faces = enroller.finder.find(frame)?;
    let face = match faces.len() {
        0 => return Err(LibraryError::NoFace),
        1 => faces.into_iter().next().expect("one face"),
        n => return Err(LibraryError::SeveralFaces(n)),
    };
    let b = &face.bbox;
    let side = ((b.x_max - b.x_min) * frame.info.width() as f32)
        .min((b.y_max - b.y_min) * frame.info.height() as f32);
    if side < MIN_FACE_PX {
        return Err(LibraryError::TooSmall(side));
    }
    Ok(face)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_folders_and_not_routes() {
        for ok in ["alice", "José Ramírez", "o'brien", "x-1_2"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            " bob",
            "bob ",
            ".hidden",
            "a/b",
            "a\\b",
            "tab\t",
            "unknown",
            "Recognize",
            &long,
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            sample_url("José R", "abc"),
            "/api/faces/Jos%C3%A9%20R/samples/abc.jpg"
        );
        assert!(matches!(
            image_kind(b"hello"),
            Err(LibraryError::NotAnImage(_))
        ));
        assert_eq!(image_kind(b"\x89PNG\r\n\x1a\n....").unwrap(), "png");
    }
}
