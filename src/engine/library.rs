//! Finds and loads the OpenVINO C library (`libopenvino_c.so[.N]`) before the first `Core`.
//!
//! Order: an explicit path (`--openvino-lib` / `OVSTREAM_OPENVINO_LIB`, a file or a folder), then
//! the project's `.venv` (PyPI wheel `openvino`, which ships only the versioned
//! `libopenvino_c.so.<N>`), then the system (`openvino-finder`: `OPENVINO_INSTALL_DIR`,
//! `LD_LIBRARY_PATH`, `/opt/intel/openvino`, …).

use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};

/// Environment variable naming the library file or its folder.
pub const LIB_ENV: &str = "OVSTREAM_OPENVINO_LIB";
const LIB_STEM: &str = "libopenvino_c.so";

static LOADED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Loads the OpenVINO C library once per process and returns the path it came from.
///
/// # Errors
/// [`Error::Library`] listing every place that was tried.
pub fn load(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut loaded = LOADED.lock();
    if let Some(path) = loaded.as_ref() {
        return Ok(path.clone());
    }
    let mut tried = Vec::new();
    let env = std::env::var_os(LIB_ENV).map(PathBuf::from);
    let explicit = explicit.map(Path::to_path_buf).or(env);
    let candidates: Vec<PathBuf> = match &explicit {
        Some(path) => vec![path.clone()],
        None => venv_roots().into_iter().map(|v| v.join(".venv")).collect(),
    };
    for candidate in &candidates {
        match resolve(candidate) {
            Some(lib) => {
                openvino_sys::library::load_from(&lib)
                    .map_err(|e| Error::Library(format!("{}: {e}", lib.display())))?;
                *loaded = Some(lib.clone());
                return Ok(lib);
            }
            None => tried.push(candidate.display().to_string()),
        }
    }
    if explicit.is_none() {
        if let Some(lib) = openvino_sys::library::find() {
            openvino_sys::library::load_from(&lib)
                .map_err(|e| Error::Library(format!("{}: {e}", lib.display())))?;
            *loaded = Some(lib.clone());
            return Ok(lib);
        }
        tried.push(
            "system (openvino-finder: OPENVINO_INSTALL_DIR, LD_LIBRARY_PATH, /opt/intel/openvino)"
                .into(),
        );
    }
    Err(Error::Library(format!(
        "{LIB_STEM}* not found; tried: {}. Run `make setup` (creates .venv with openvino==2026.4.1), \
         or pass --openvino-lib PATH / set {LIB_ENV}",
        tried.join(", ")
    )))
}

/// Folders that may hold the project's `.venv`: the working directory and its ancestors, the
/// executable's ancestors, and the folder this crate was built from.
fn venv_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let mut seen = std::collections::HashSet::new();
    roots.retain(|r| seen.insert(r.clone()));
    roots
}

/// A library file itself, a folder holding it, or a venv holding the `openvino` wheel.
fn resolve(candidate: &Path) -> Option<PathBuf> {
    if candidate.is_file() {
        return Some(candidate.to_path_buf());
    }
    if !candidate.is_dir() {
        return None;
    }
    let in_dir = |dir: &Path| -> Option<PathBuf> {
        let pattern = format!(
            "{}/{LIB_STEM}*",
            glob::Pattern::escape(&dir.to_string_lossy())
        );
        let mut found: Vec<PathBuf> = glob::glob(&pattern).ok()?.flatten().collect();
        found.sort();
        found.pop()
    };
    if let Some(lib) = in_dir(candidate) {
        return Some(lib);
    }
    let pattern = format!(
        "{}/lib/python3*/site-packages/openvino/libs",
        glob::Pattern::escape(&candidate.to_string_lossy())
    );
    glob::glob(&pattern)
        .ok()?
        .flatten()
        .find_map(|libs| in_dir(&libs))
}
