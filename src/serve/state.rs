//! The state file: the streams kept across restarts, written atomically.

use super::streams::StreamSpec;
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
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let text = serde_json::to_string_pretty(&StateFile {
        streams: streams.to_vec(),
    })
    .expect("streams serialize");
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
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
}
