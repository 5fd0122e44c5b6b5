//! `[model]`: the model and how OpenVINO runs it.

use super::{default_true, DEFAULT_DEVICE};
use serde::Deserialize;
use std::path::PathBuf;

/// Largest `batch`: images per inference across sources.
pub const MAX_MODEL_BATCH: usize = 64;

/// `nireq`: a count, or measured (`auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nireq {
    Count(usize),
    Auto,
}

impl Nireq {
    /// The fixed count, if any.
    pub fn count(self) -> Option<usize> {
        match self {
            Nireq::Count(n) => Some(n),
            Nireq::Auto => None,
        }
    }
}

impl std::str::FromStr for Nireq {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Nireq::Auto);
        }
        s.parse::<usize>()
            .map(Nireq::Count)
            .map_err(|_| format!("`{s}`: expected a number of requests or `auto`"))
    }
}

impl<'de> Deserialize<'de> for Nireq {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(i64),
            Word(String),
        }
        let expected = "model.nireq: expected a positive number of requests or \"auto\"";
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom(expected))? {
            Raw::Count(n) if n > 0 => Ok(Nireq::Count(n as usize)),
            Raw::Count(n) => Err(serde::de::Error::custom(format!("{expected}, not {n}"))),
            Raw::Word(w) => w.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// OpenVINO performance hint (`PERFORMANCE_HINT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum Hint {
    Latency,
    #[default]
    Throughput,
}

impl std::str::FromStr for Hint {
    type Err = String;

    /// `latency` or `throughput` (any case).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "latency" => Ok(Hint::Latency),
            "throughput" => Ok(Hint::Throughput),
            _ => Err(format!("hint `{s}`: expected latency or throughput")),
        }
    }
}

impl Hint {
    /// The OpenVINO property value.
    pub fn as_ov(self) -> &'static str {
        match self {
            Hint::Latency => "LATENCY",
            Hint::Throughput => "THROUGHPUT",
        }
    }
}

/// How a frame is resized to the model input (`[model] resize`).
///
/// Measured on vtest.avi with COCO SSD-MobileNet-V2 INT8 against an OpenVINO-Python reference
/// that resizes RGB frames (`tests/golden/ssd_reference.py`, f32): `planes` found 94.6 % of the
/// reference's boxes, `rgb` all of them (see docs/benchmarks.md for the FPS cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum Resize {
    /// The whole frame is converted to RGB (as its colorimetry says: BT.601 or BT.709, limited
    /// or full range), then resized (bilinear): what the models were trained and calibrated on.
    /// The default.
    #[default]
    Rgb,
    /// Each I420 plane is resized (bilinear), then the model-size image is converted: less work
    /// for large frames, but colour edges are interpolated in YUV, so boxes near the threshold
    /// differ from the model's own preprocessing.
    Planes,
}

impl std::str::FromStr for Resize {
    type Err = String;

    /// `rgb` or `planes` (any case).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rgb" => Ok(Resize::Rgb),
            "planes" => Ok(Resize::Planes),
            _ => Err(format!("resize `{s}`: expected rgb or planes")),
        }
    }
}

/// Inference precision (`INFERENCE_PRECISION_HINT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum Precision {
    F32,
    F16,
    Bf16,
}

impl std::str::FromStr for Precision {
    type Err = String;

    /// `f32`, `f16` or `bf16` (any case).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!("precision `{s}`: expected f32, f16 or bf16")),
        }
    }
}

impl Precision {
    /// The OpenVINO property value.
    pub fn as_ov(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
        }
    }
}

/// The model and how OpenVINO runs it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ModelConfig {
    /// A manifest id (`models/manifest.toml`) or a path to a model file (.xml, .onnx, .pb, .tflite).
    pub model: String,
    /// Any OpenVINO device string: CPU, GPU, GPU.1, NPU, AUTO, HETERO:GPU,CPU.
    #[serde(default = "default_device")]
    pub device: String,
    /// Infer requests in flight: a number, or `"auto"` (a measured trial picks it, cached per
    /// model and device); default: the compiled model's OPTIMAL_NUMBER_OF_INFER_REQUESTS.
    #[serde(default)]
    pub nireq: Option<Nireq>,
    #[serde(default = "default_hint")]
    pub hint: Hint,
    /// Default: the device's own (bf16 on CPUs with AMX), except f32 on a CPU the plugin would
    /// run at bf16 without AMX, where f32 measured 1.2-1.7x faster.
    #[serde(default)]
    pub precision: Option<Precision>,
    /// `NUM_STREAMS`: a number, or `"auto"` (a measured trial over 1, 2, the cores and the
    /// device's choice picks it, cached per model and device); default: from the hint.
    #[serde(default)]
    pub nstreams: Option<String>,
    /// Compiled-model cache directory; default `~/.cache/ovstream/compiled`.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Set false to disable the compiled-model cache.
    #[serde(default = "default_true")]
    pub cache: bool,
    /// `[height, width]` to reshape the input to; default: from the manifest.
    #[serde(default)]
    pub input_size: Option<[u32; 2]>,
    /// Output decoder: `ssd` or `blazeface`; default: from the manifest, else `ssd`.
    #[serde(default)]
    pub adapter: Option<String>,
    /// How frames are resized to the input: `rgb` (convert, then resize: the models'
    /// own preprocessing) or `planes` (resize the I420 planes, then convert). Default `rgb`.
    #[serde(default)]
    pub resize: Resize,
    /// Images per inference, gathered across sources (cross-stream batching): the input is
    /// reshaped to `[batch, H, W, 3]`; a request takes the frames that are ready (up to
    /// `batch`) without waiting for more. Default 1: batch 1 with several requests in flight is
    /// faster on CPU and iGPU (`ovstream bench --batch N` measures it).
    #[serde(default = "default_batch")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = MAX_MODEL_BATCH)))]
    pub batch: usize,
    /// Any other OpenVINO property, set on the device before compiling (e.g.
    /// `{ NPU_TURBO = "YES", CACHE_MODE = "OPTIMIZE_SPEED" }`); each key must be one of the
    /// device's `SUPPORTED_PROPERTIES`. Values may be strings, numbers or booleans.
    #[serde(default, deserialize_with = "property_values")]
    #[cfg_attr(
        feature = "cli",
        schemars(with = "std::collections::BTreeMap<String, super::schema::PropertyValue>")
    )]
    pub properties: std::collections::BTreeMap<String, String>,
}

/// `[model] properties`: TOML strings, integers, floats and booleans as OpenVINO strings
/// (`true` → `YES`, as OpenVINO spells booleans).
fn property_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    use serde::de::Error as _;
    let raw = std::collections::BTreeMap::<String, toml::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => if b { "YES" } else { "NO" }.to_string(),
                other => {
                    return Err(D::Error::custom(format!(
                        "model.properties.{k}: expected a string, number or boolean, got {}",
                        other.type_str()
                    )))
                }
            };
            Ok((k, s))
        })
        .collect()
}

impl ModelConfig {
    /// `model` (manifest id or path) with every other setting at its default: CPU, throughput
    /// hint, OPTIMAL_NUMBER_OF_INFER_REQUESTS, the device's precision and streams, the
    /// compiled-model cache on, the manifest's input size and adapter, batch 1.
    pub fn new(model: impl Into<String>) -> Self {
        ModelConfig {
            model: model.into(),
            device: default_device(),
            nireq: None,
            hint: Hint::default(),
            precision: None,
            nstreams: None,
            cache_dir: None,
            cache: true,
            input_size: None,
            adapter: None,
            resize: Resize::default(),
            batch: default_batch(),
            properties: Default::default(),
        }
    }
}

fn default_batch() -> usize {
    1
}

fn default_device() -> String {
    DEFAULT_DEVICE.to_string()
}
fn default_hint() -> Hint {
    Hint::default()
}
