//! The store's files: `unknown.json` (the index), `<unknown_id>/embeddings.json` and
//! `<unknown_id>/<sample>.jpg`, each written atomically with mode 0600.

use super::{Inner, Unknown, UnknownSample, UnknownStore, INDEX_FILE};
use crate::error::Error;
use crate::face::embed::Embedding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Least time between two writes of the index for `last_seen` updates alone.
const SAVE_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Index {
    pub next_id: u64,
    pub people: BTreeMap<u64, Unknown>,
}

/// `<unknown_id>/embeddings.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PersonFile {
    embeddings: Vec<Embedding>,
    /// sample id → the embedding of the frame it was cut from
    samples: BTreeMap<String, Embedding>,
}

/// A person's embeddings file.
const PERSON_FILE: &str = "embeddings.json";

pub(super) fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl UnknownStore {
    pub(super) fn sample_path(&self, unknown_id: u64, sample: &str) -> Option<PathBuf> {
        Some(
            self.dir
                .as_ref()?
                .join(unknown_id.to_string())
                .join(format!("{sample}.jpg")),
        )
    }

    pub(super) fn write_sample(
        &self,
        unknown_id: u64,
        jpeg: &[u8],
        embedding: Embedding,
    ) -> Option<UnknownSample> {
        use sha2::{Digest, Sha256};
        let id = format!("{:x}", Sha256::digest(jpeg))[..12].to_string();
        if let Some(path) = self.sample_path(unknown_id, &id) {
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| write_private(&path, jpeg));
            if let Err(e) = written {
                tracing::warn!(path = %path.display(), "unknown face sample not written: {e}");
                return None;
            }
        }
        Some(UnknownSample { id, embedding })
    }

    pub(super) fn remove_files(&self, unknown_id: u64) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir.join(unknown_id.to_string()));
        }
    }

    /// Writes the index (atomically: a temporary file renamed over it) when dirty and either
    /// `now` or [`SAVE_INTERVAL`] has passed since the last write. Failures are logged: the
    /// store goes on in memory.
    pub(super) fn save_locked(&self, inner: &mut Inner, now: bool) {
        let Some(dir) = &self.dir else {
            inner.dirty = false;
            inner.changed.clear();
            return;
        };
        if !inner.dirty || (!now && inner.saved.elapsed() < SAVE_INTERVAL) {
            return;
        }
        for id in std::mem::take(&mut inner.changed) {
            let Some(person) = inner.index.people.get(&id) else {
                continue;
            };
            let file = PersonFile {
                embeddings: person.embeddings.clone(),
                samples: person
                    .samples
                    .iter()
                    .map(|s| (s.id.clone(), s.embedding.clone()))
                    .collect(),
            };
            let folder = dir.join(id.to_string());
            let path = folder.join(PERSON_FILE);
            let json = serde_json::to_vec(&file).unwrap_or_default();
            let written =
                std::fs::create_dir_all(&folder).and_then(|()| write_private(&path, &json));
            if let Err(e) = written {
                tracing::warn!(path = %path.display(), "unknown face embeddings not saved: {e}");
            }
        }
        let path = dir.join(INDEX_FILE);
        match write_private(&path, &serde_json::to_vec(&inner.index).unwrap_or_default()) {
            Ok(()) => {
                inner.dirty = false;
                inner.saved = Instant::now();
            }
            Err(e) => tracing::warn!(path = %path.display(), "unknown faces not saved: {e}"),
        }
    }
}

/// Reads each person's embeddings file; a person without one (lost, unreadable) cannot be
/// matched and is dropped with a warning.
pub(super) fn load_embeddings(dir: &Path, index: &mut Index) {
    index.people.retain(|id, person| {
        let path = dir.join(id.to_string()).join(PERSON_FILE);
        let file: Option<PersonFile> = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(mut file) = file.filter(|f| !f.embeddings.is_empty()) else {
            tracing::warn!(path = %path.display(), "remembered unknown person {id} has no embeddings: forgotten");
            return false;
        };
        person.embeddings = file.embeddings;
        for s in &mut person.samples {
            s.embedding = file.samples.remove(&s.id).unwrap_or_default();
        }
        true
    });
}

/// Writes `bytes` to `path` through a temporary file in the same folder, mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, bytes, 0o600)
}

/// Writes `bytes` to `path` through a temporary file (`<path>.tmp`, created with `mode`)
/// renamed over it: a reader sees the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
