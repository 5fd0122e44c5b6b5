//! Finds and loads the OpenVINO C library (`libopenvino_c.so[.N]`) before the first `Core`.
//!
//! Order: an explicit path (`--openvino-lib` / `OVSTREAM_OPENVINO_LIB`, a file or a folder), then
//! the `.venv` of the executable's own project tree (the folders above the executable, and the
//! folder this crate was built from; PyPI wheel `openvino`, which ships only the versioned
//! `libopenvino_c.so.<N>`), then the system (`openvino-finder`: `OPENVINO_INSTALL_DIR`,
//! `LD_LIBRARY_PATH`, `/opt/intel/openvino`, …). Never the working directory or its
//! ancestors: a library planted in a writable parent folder (a shared temporary directory)
//! would run its code in our process. Before loading, the file is checked for the OpenVINO C
//! API's symbols, so a wrong file is a clear error, not a crash at the first call.

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
                load_checked(&lib)?;
                *loaded = Some(lib.clone());
                return Ok(lib);
            }
            None => tried.push(candidate.display().to_string()),
        }
    }
    if explicit.is_none() {
        if let Some(lib) = openvino_sys::library::find() {
            load_checked(&lib)?;
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

/// C API functions every caller needs; a file without them is not the OpenVINO C library.
const REQUIRED_SYMBOLS: [&str; 4] = [
    "ov_get_openvino_version",
    "ov_core_create",
    "ov_core_read_model",
    "ov_core_compile_model",
];

/// Checks that `lib` is the OpenVINO C library (it opens and has [`REQUIRED_SYMBOLS`]), then
/// loads it for `openvino-sys`.
fn load_checked(lib: &Path) -> Result<()> {
    use std::ffi::{CStr, CString};
    let bad = |what: String| Error::Library(format!("{}: {what}", lib.display()));
    let c_path = CString::new(lib.as_os_str().as_encoded_bytes())
        .map_err(|_| bad("path contains a NUL byte".into()))?;
    // SAFETY: dlopen/dlsym/dlerror with valid C strings; the handle stays open (the same
    // library openvino-sys loads next, reference-counted by the loader).
    unsafe {
        let handle = libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if handle.is_null() {
            let why = libc::dlerror();
            let why = if why.is_null() {
                "cannot be loaded".to_string()
            } else {
                CStr::from_ptr(why).to_string_lossy().into_owned()
            };
            return Err(bad(why));
        }
        for symbol in REQUIRED_SYMBOLS {
            let name = CString::new(symbol).expect("no NUL in symbol names");
            if libc::dlsym(handle, name.as_ptr()).is_null() {
                libc::dlclose(handle);
                return Err(bad(format!(
                    "not the OpenVINO C library: symbol `{symbol}` is missing"
                )));
            }
        }
    }
    openvino_sys::library::load_from(lib).map_err(|e| bad(e.to_string()))?;
    tracing::debug!(path = %lib.display(), "OpenVINO C library loaded");
    Ok(())
}

/// The project's `.venv` Python (where the OpenVINO wheel lives), found as the library is: next
/// to the executable's project tree or the tree it was built from; `None` without one.
pub fn venv_python() -> Option<PathBuf> {
    venv_roots()
        .into_iter()
        .map(|r| r.join(".venv/bin/python"))
        .find(|p| p.is_file())
}

/// Folders that may hold the project's `.venv`: the executable's ancestors and the folder this
/// crate was built from (never the working directory's: see the module docs).
fn venv_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
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
