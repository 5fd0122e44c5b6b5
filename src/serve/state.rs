//! The state file: the streams kept across restarts, written atomically.

use super::entry::Entry;
use super::streams::StreamSpec;
use super::Service;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The streams kept across restarts: `{"streams": [StreamSpec…]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    streams: Vec<StreamSpec>,
}

/// Reads the state file (a missing one is no streams).
///
/// # Errors
/// A message naming the file when it exists but cannot be read or parsed.
pub fn load_state(path: &Path) -> Result<Vec<StreamSpec>, String> {
    match crate::config::read_capped(path, crate::config::MAX_TEXT_FILE_BYTES) {
        Ok(text) => serde_json::from_str::<StateFile>(&text)
            .map(|s| s.streams)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the state file atomically (a temporary file beside it, then a rename).
///
/// # Errors
/// The I/O error, naming the file.
pub fn save_state(path: &Path, streams: &[StreamSpec]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // A folder made here is the owner's only (0700); an existing one is left as it is.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    let text = serde_json::to_string_pretty(&StateFile {
        streams: streams.to_vec(),
    })
    .expect("streams serialize");
    // It holds the inputs' URLs, camera passwords included: readable by the owner only.
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// Restores the state file's streams: one with a pipeline-file source's name (saved by an
/// older version) gives way to the file's; each other is checked as a POST is
/// ([`Service::restore`]).
pub(super) fn restore_all(
    service: &Service,
    restored: Vec<StreamSpec>,
    file_names: &std::collections::BTreeSet<String>,
) {
    for spec in restored {
        if file_names.contains(&spec.name) {
            tracing::info!(
                "stream {} of the state file is a pipeline-file source: the file's is run",
                spec.name
            );
            continue;
        }
        service.restore(spec);
    }
}

impl Service {
    /// Writes the streams added over the API to the state file (the pipeline file's own come
    /// from the file at each start).
    ///
    /// # Errors
    /// What failed, with the file's path.
    pub(super) fn save_streams(&self) -> Result<(), String> {
        let _writing = self.state_lock.lock();
        let specs: Vec<StreamSpec> = (self.streams.read().values())
            .filter(|e| !e.from_file)
            .map(|e| e.spec.clone())
            .collect();
        save_state(&self.state_file, &specs)
    }

    /// Restores a stream of the state file: checked exactly as a POST is; one that fails is
    /// listed as `failed` with why in `last_error`, never started, and kept in the state file
    /// (until it is deleted), so nothing a user added is lost to a check.
    fn restore(&self, spec: StreamSpec) {
        let refused = match self.check(&spec) {
            Ok(()) => match self.add_from(spec.clone(), super::Origin::State) {
                Ok(_) => return,
                Err(r) => r,
            },
            Err(r) => r,
        };
        let name = spec.name.clone();
        tracing::error!(
            "stream {name} of the state file not started: {}",
            refused.message
        );
        self.streams.write().entry(name).or_insert_with(|| Entry {
            failed: true,
            last_error: Some(format!(
                "restored from the state file but refused: {}",
                refused.message
            )),
            ..Entry::new(spec)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::streams::spec;
    use super::*;

    #[test]
    fn the_state_file_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/streams.json");
        assert_eq!(load_state(&path).unwrap(), vec![]);
        let streams = vec![spec("a", "test://"), spec("b", "rtsp://cam/1")];
        save_state(&path, &streams).unwrap();
        assert_eq!(load_state(&path).unwrap(), streams);
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left");
    }

    #[test]
    fn the_state_file_is_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("new/streams.json");
        save_state(&path, &[spec("cam", "rtsp://admin:hunter2@cam/1")]).unwrap();
        assert_eq!(mode(&path), 0o600, "credentials at rest");
        assert_eq!(mode(path.parent().unwrap()), 0o700, "a folder made for it");
        assert_eq!(mode(dir.path()), 0o755, "an existing folder is left alone");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        save_state(&path, &[]).unwrap();
        assert_eq!(mode(&path), 0o600, "rewritten 0600");
    }
}
