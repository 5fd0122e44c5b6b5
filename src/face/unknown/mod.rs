//! Remembered unknown people: faces that match nobody in the gallery, grouped into identities
//! with a stable `unknown_id` across appearances and cameras, so that a visitor seen on Monday
//! is `unknown #7` again on Tuesday and can be named with one call.
//!
//! A track that the gallery calls [`crate::frame::UNKNOWN`] collects the embeddings of its good
//! frames (face at least [`MIN_FACE_PX`] on its shorter side); after [`MIN_GOOD_FRAMES`] of
//! them it is matched against the remembered unknowns ([`UnknownStore::assign`]): the score of
//! an unknown is the mean, over the track's embeddings, of the best cosine similarity to the
//! unknown's embeddings; at or above the gallery's threshold (`[recognize] threshold`, the same
//! calibration: one person ≥ 0.73, two people ≤ 0.48 on the sample photos) the track joins it,
//! else a new `unknown_id` is made. Each unknown keeps its last [`MAX_EMBEDDINGS`] embeddings and
//! up to [`MAX_SAMPLES`] face crops (JPEG, one per appearance); at most `max` unknowns are kept,
//! the least recently seen evicted first.
//!
//! Storage (when the store has a folder; `ovstream serve`: `<state folder>/unknown/`):
//! `unknown.json` (ids, times, cameras, counts: small, rewritten at most every few seconds),
//! `<unknown_id>/embeddings.json` (written when that person's embeddings change) and
//! `<unknown_id>/<sample>.jpg`; files written atomically, mode 0600. Without a folder
//! (`ovstream run`) ids last for the run.

use super::embed::{cosine, Embedding};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use storage::{io, load_embeddings, Index};
pub use storage::{write_atomic, write_private};

mod storage;

/// Good frames a track needs before it gets an `unknown_id`.
pub const MIN_GOOD_FRAMES: usize = 3;
/// A face smaller than this (pixels, shorter box side) is too small to remember or enroll.
pub const MIN_FACE_PX: f32 = 40.0;
/// Default number of unknown people kept (`[recognize] max_unknown`).
pub use crate::config::DEFAULT_MAX_UNKNOWN;
/// Embeddings kept per unknown (the most recent).
pub const MAX_EMBEDDINGS: usize = 8;
/// Face crops kept per unknown (one per appearance, the first ones).
pub const MAX_SAMPLES: usize = 4;
/// The index file inside the store's folder.
pub const INDEX_FILE: &str = "unknown.json";
/// One face crop of an unknown person, with the embedding made from the same frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnknownSample {
    /// 12 hex digits of the JPEG's sha256 (its file is `<unknown_id>/<id>.jpg`).
    pub id: String,
    /// Kept in the person's `embeddings.json`, not the index.
    #[serde(skip)]
    pub embedding: Embedding,
}

/// A person taken out of the store, with its samples' JPEGs.
pub type Taken = (Unknown, Vec<(UnknownSample, Vec<u8>)>);

/// One remembered unknown person.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unknown {
    pub unknown_id: u64,
    /// Unix time in ms.
    pub first_seen: u64,
    pub last_seen: u64,
    /// Names of the streams it was seen on.
    pub cameras: BTreeSet<String>,
    /// Appearances (tracks) that were matched to it.
    pub count: u64,
    /// Its most recent embeddings (unit vectors), at most [`MAX_EMBEDDINGS`]; kept in the
    /// person's `embeddings.json`, not the index.
    #[serde(skip)]
    pub embeddings: Vec<Embedding>,
    pub samples: Vec<UnknownSample>,
}

impl Unknown {
    /// Mean over `track` of the best cosine similarity to this person's embeddings.
    fn score<E: AsRef<[f32]>>(&self, track: &[E]) -> f32 {
        if track.is_empty() || self.embeddings.is_empty() {
            return -1.0;
        }
        let total: f32 = track
            .iter()
            .map(|t| {
                self.embeddings
                    .iter()
                    .map(|e| cosine(e, t.as_ref()))
                    .fold(-1.0, f32::max)
            })
            .sum();
        total / track.len() as f32
    }

    fn remember(&mut self, embedding: &[f32]) {
        if self.embeddings.len() == MAX_EMBEDDINGS {
            self.embeddings.remove(0);
        }
        self.embeddings.push(embedding.to_vec());
    }
}

struct Inner {
    index: Index,
    /// The index changed since it was last written.
    dirty: bool,
    /// People whose embeddings changed since their file was last written.
    changed: BTreeSet<u64>,
    saved: Instant,
}

/// The remembered unknown people, shared by the recognizer (every stream) and the API.
pub struct UnknownStore {
    dir: Option<PathBuf>,
    max: usize,
    inner: Mutex<Inner>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl UnknownStore {
    /// The store kept in `dir` (created; its index loaded when present), or in memory only.
    ///
    /// # Errors
    /// [`Error::Config`] naming the index when it cannot be read or parsed;
    /// [`Error::Output`] when `dir` cannot be created.
    pub fn open(dir: Option<&Path>, max: usize) -> Result<UnknownStore> {
        let mut index = Index {
            next_id: 1,
            ..Index::default()
        };
        if let Some(dir) = dir {
            // Faces of people who never agreed to be kept: readable by this user only.
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(dir)
                .and_then(|()| {
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                })
                .map_err(io(dir))?;
            let path = dir.join(INDEX_FILE);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    index = serde_json::from_slice(&bytes).map_err(|e| Error::Config {
                        path: path.clone(),
                        message: format!("remembered unknown faces: {e}"),
                    })?;
                    let highest = index.people.keys().max().copied().unwrap_or(0);
                    index.next_id = index.next_id.max(highest + 1);
                    load_embeddings(dir, &mut index);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::Config {
                        path,
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(UnknownStore {
            dir: dir.map(Path::to_path_buf),
            max: max.max(1),
            inner: Mutex::new(Inner {
                index,
                dirty: false,
                changed: BTreeSet::new(),
                saved: Instant::now(),
            }),
        })
    }

    /// The folder the store is kept in (`None`: memory only).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Matches a track's embeddings (its good frames) against the remembered unknowns:
    /// joins the best one at or above `threshold`, else makes a new one. `crop` gives the
    /// JPEG of the face (asked for only while the person has fewer than [`MAX_SAMPLES`]).
    /// Returns the `unknown_id`.
    pub fn assign(
        &self,
        track: &[Embedding],
        threshold: f32,
        camera: &str,
        crop: impl FnOnce() -> Option<Vec<u8>>,
    ) -> u64 {
        let now = now_ms();
        let mut inner = self.inner.lock();
        let best = inner
            .index
            .people
            .values()
            .map(|u| (u.unknown_id, u.score(track)))
            .filter(|(_, s)| *s >= threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let id = match best {
            Some((id, _)) => id,
            None => {
                let id = inner.index.next_id;
                inner.index.next_id += 1;
                inner.index.people.insert(
                    id,
                    Unknown {
                        unknown_id: id,
                        first_seen: now,
                        last_seen: now,
                        cameras: BTreeSet::new(),
                        count: 0,
                        embeddings: Vec::new(),
                        samples: Vec::new(),
                    },
                );
                tracing::info!(
                    unknown_id = id,
                    camera,
                    "a new unknown person is remembered"
                );
                id
            }
        };
        let person = inner.index.people.get_mut(&id).expect("just found or made");
        person.last_seen = now;
        person.count += 1;
        person.cameras.insert(camera.to_string());
        for e in track {
            person.remember(e);
        }
        let wants_sample = self.dir.is_some() && person.samples.len() < MAX_SAMPLES;
        inner.changed.insert(id);
        self.evict(&mut inner);
        inner.dirty = true;
        if !wants_sample {
            self.save_locked(&mut inner, true);
            return id;
        }
        // The crop is encoded and written without the lock (the API reads the store meanwhile).
        drop(inner);
        let embedding = track.last().cloned().unwrap_or_default();
        let sample = crop().and_then(|jpeg| self.write_sample(id, &jpeg, embedding));
        let mut inner = self.inner.lock();
        match (sample, inner.index.people.get_mut(&id)) {
            (Some(sample), Some(person)) if person.samples.len() < MAX_SAMPLES => {
                person.samples.push(sample);
            }
            (Some(sample), _) => {
                // Named, forgotten or full meanwhile: the file is not wanted.
                if let Some(path) = self.sample_path(id, &sample.id) {
                    let _ = std::fs::remove_file(&path);
                    if !inner.index.people.contains_key(&id) {
                        let _ = path.parent().map(std::fs::remove_dir); // only when empty
                    }
                }
            }
            (None, _) => {}
        }
        self.save_locked(&mut inner, true);
        id
    }

    /// A remembered person was seen again (a re-identification of its track); `false` when
    /// `unknown_id` is no longer remembered (named or forgotten meanwhile).
    pub fn seen(&self, unknown_id: u64, embedding: Option<&[f32]>) -> bool {
        let mut inner = self.inner.lock();
        let Some(person) = inner.index.people.get_mut(&unknown_id) else {
            return false;
        };
        person.last_seen = now_ms();
        if let Some(e) = embedding {
            person.remember(e);
            inner.changed.insert(unknown_id);
        }
        inner.dirty = true;
        self.save_locked(&mut inner, false);
        true
    }

    /// The best remembered match of one embedding at or above `threshold`.
    pub fn best_match(&self, embedding: &[f32], threshold: f32) -> Option<(u64, f32)> {
        let track = [embedding];
        self.inner
            .lock()
            .index
            .people
            .values()
            .map(|u| (u.unknown_id, u.score(&track)))
            .filter(|(_, s)| *s >= threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Every remembered person, most recently seen first.
    pub fn list(&self) -> Vec<Unknown> {
        let mut all: Vec<Unknown> = self.inner.lock().index.people.values().cloned().collect();
        all.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(a.unknown_id.cmp(&b.unknown_id))
        });
        all
    }

    /// The JPEG of sample `sample` of `unknown_id`.
    pub fn sample(&self, unknown_id: u64, sample: &str) -> Option<Vec<u8>> {
        let inner = self.inner.lock();
        let person = inner.index.people.get(&unknown_id)?;
        person.samples.iter().find(|s| s.id == sample)?;
        std::fs::read(self.sample_path(unknown_id, sample)?).ok()
    }

    /// Removes `unknown_id` and returns it with its samples' JPEGs (for naming it).
    pub fn take(&self, unknown_id: u64) -> Option<Taken> {
        self.remove(unknown_id, true)
    }

    /// Forgets `unknown_id` and deletes its samples; whether it was remembered.
    pub fn forget(&self, unknown_id: u64) -> bool {
        self.remove(unknown_id, false).is_some()
    }

    /// Removes `unknown_id` (its files deleted, the index saved), reading its samples' JPEGs
    /// first when `read`.
    fn remove(&self, unknown_id: u64, read: bool) -> Option<Taken> {
        let mut inner = self.inner.lock();
        let person = inner.index.people.remove(&unknown_id)?;
        let samples = person
            .samples
            .iter()
            .filter(|_| read)
            .filter_map(|s| {
                let path = self.sample_path(unknown_id, &s.id)?;
                Some((s.clone(), std::fs::read(path).ok()?))
            })
            .collect();
        self.remove_files(unknown_id);
        inner.dirty = true;
        self.save_locked(&mut inner, true);
        Some((person, samples))
    }

    /// Writes the index if anything changed since the last write.
    pub fn flush(&self) {
        let mut inner = self.inner.lock();
        self.save_locked(&mut inner, true);
    }

    /// Drops the least recently seen people over `max`.
    fn evict(&self, inner: &mut Inner) {
        while inner.index.people.len() > self.max {
            let Some(oldest) = inner
                .index
                .people
                .values()
                .min_by_key(|u| (u.last_seen, u.unknown_id))
                .map(|u| u.unknown_id)
            else {
                break;
            };
            inner.index.people.remove(&oldest);
            self.remove_files(oldest);
        }
    }
}

impl Drop for UnknownStore {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn unit(v: &[f32]) -> Embedding {
        let mut v = v.to_vec();
        super::super::embed::normalize(&mut v);
        v
    }

    #[test]
    fn one_person_keeps_its_id_and_another_gets_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = UnknownStore::open(Some(dir.path()), 10).unwrap();
        let x = vec![unit(&[1.0, 0.1, 0.0]), unit(&[1.0, 0.0, 0.1])];
        let y = vec![unit(&[0.0, 1.0, 0.1])];
        let jpeg = || Some(b"jpeg".to_vec());
        let a = store.assign(&x, 0.6, "door", jpeg);
        let b = store.assign(&y, 0.6, "yard", jpeg);
        let c = store.assign(&[unit(&[0.9, 0.1, 0.1])], 0.6, "yard", jpeg);
        assert_ne!(a, b);
        assert_eq!(a, c);
        let list = store.list();
        let xa = list.iter().find(|u| u.unknown_id == a).unwrap();
        assert_eq!(xa.count, 2);
        assert_eq!(xa.cameras.len(), 2);
        assert_eq!(xa.samples.len(), 2);
        // Restored from the folder.
        drop(store);
        let store = UnknownStore::open(Some(dir.path()), 10).unwrap();
        assert_eq!(store.list().len(), 2);
        let again = store.best_match(&unit(&[1.0, 0.05, 0.05]), 0.6);
        assert_eq!(again.map(|m| m.0), Some(a), "embeddings restored");
        let (person, samples) = store.take(a).unwrap();
        assert_eq!(person.unknown_id, a);
        assert_eq!(samples.len(), 2);
        assert!(!dir.path().join(a.to_string()).exists());
        // Ids are not reused.
        assert!(store.assign(&[unit(&[0.0, 0.0, 1.0])], 0.6, "door", jpeg) > b);
    }

    #[test]
    fn the_least_recently_seen_is_evicted() {
        let store = UnknownStore::open(None, 2).unwrap();
        let none = || None;
        let a = store.assign(&[unit(&[1.0, 0.0, 0.0])], 0.9, "c", none);
        std::thread::sleep(Duration::from_millis(2));
        let b = store.assign(&[unit(&[0.0, 1.0, 0.0])], 0.9, "c", none);
        std::thread::sleep(Duration::from_millis(2));
        store.seen(a, None);
        std::thread::sleep(Duration::from_millis(2));
        let c = store.assign(&[unit(&[0.0, 0.0, 1.0])], 0.9, "c", none);
        let ids: Vec<u64> = store.list().iter().map(|u| u.unknown_id).collect();
        assert!(
            ids.contains(&a) && ids.contains(&c) && !ids.contains(&b),
            "{ids:?}"
        );
    }
}
