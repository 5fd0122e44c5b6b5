//! The model manifest (`models/manifest.toml`): which models exist, where `models/fetch` puts
//! them, their checksums, adapter, input size and labels.

use crate::error::{Error, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One model entry of the manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    #[serde(default)]
    pub description: String,
    /// `pypi`, `deb` or `npm`.
    pub source: String,
    pub package: String,
    pub version: String,
    pub package_sha256: String,
    #[serde(default)]
    pub sdist: bool,
    /// Path of the model file inside the package.
    pub file: String,
    /// sha256 of the model file.
    pub sha256: String,
    /// Postprocess adapter name, e.g. `ssd`.
    pub adapter: String,
    /// `[height, width]` the input is reshaped to.
    pub input: [u32; 2],
    /// Class names; label id L (1-based) is `labels[L-1]`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Precision of the stored weights (FP32, FP16, INT8).
    #[serde(default)]
    pub precision: String,
    #[serde(default)]
    pub license: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    model: Vec<ModelEntry>,
}

/// The parsed manifest and the folder it lives in.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub dir: PathBuf,
    pub models: Vec<ModelEntry>,
}

/// Whether a fetched model file is present and matches its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchState {
    Missing,
    Ok,
    ChecksumMismatch { actual: String },
}

impl Manifest {
    /// The models folder: `$OVSTREAM_MODELS`, else `./models` when it has a manifest, else the
    /// folder this crate was built from.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("OVSTREAM_MODELS") {
            return PathBuf::from(dir);
        }
        let local = PathBuf::from("models");
        if local.join("manifest.toml").exists() {
            return local;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
    }

    /// Loads `<dir>/manifest.toml`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the manifest when it is missing or malformed.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Config {
            path: path.clone(),
            message: format!("cannot read model manifest: {e}"),
        })?;
        let file: ManifestFile = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(Manifest {
            dir: dir.to_path_buf(),
            models: file.model,
        })
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Where `models/fetch` puts the entry's file.
    pub fn path_of(&self, entry: &ModelEntry) -> PathBuf {
        let name = Path::new(&entry.file)
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(&entry.file));
        self.dir.join(&entry.id).join(name)
    }

    /// Checks the fetched file of `entry` against its sha256.
    pub fn fetch_state(&self, entry: &ModelEntry) -> FetchState {
        let path = self.path_of(entry);
        match sha256_file(&path) {
            Err(_) => FetchState::Missing,
            Ok(actual) if actual == entry.sha256 => FetchState::Ok,
            Ok(actual) => FetchState::ChecksumMismatch { actual },
        }
    }
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_manifest_parses_and_names_pedestrian_model() {
        let m = Manifest::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models")).unwrap();
        let e = m
            .get("pedestrian-ssdlite")
            .expect("pedestrian-ssdlite entry");
        assert_eq!(e.adapter, "ssd");
        assert_eq!(e.input, [300, 300]);
        assert_eq!(e.labels, vec!["person".to_string()]);
        assert!(m
            .path_of(e)
            .ends_with("pedestrian-ssdlite/frozen_inference_graph.pb"));
    }
}
