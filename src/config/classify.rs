//! `[[classify]]`: second-stage classifiers run on the crops of detected objects (age and
//! gender on faces, a vehicle's color…), their outputs becoming object attributes.
//!
//! ```toml
//! [[classify]]
//! model = "age-gender"         # a manifest `[[classifier]]` id, or a model file
//! object_class = ["face"]      # detector labels it runs on (default: the manifest's, or all)
//! min_size = 32                # px, boxes with a shorter side are skipped (counted)
//! reclassify_interval = 15     # frames between classifications of a track; 0 = once
//! smoothing = 5                # results kept per track: majority label / mean value
//! ```
//! A model file needs `[[classify.outputs]]` (`name`, `tensor`, `kind`, `labels` / `bins`);
//! a manifest id brings its own (given ones replace them).

use serde::Deserialize;

/// Default shorter box side (pixels) below which an object is not classified.
pub const DEFAULT_MIN_SIZE: u32 = 32;
/// Default frames between two classifications of one track.
pub const DEFAULT_RECLASSIFY_INTERVAL: i64 = 15;
/// Default results kept per track and attribute (majority label, mean value).
pub const DEFAULT_SMOOTHING: usize = 5;
/// Largest `reclassify_interval` (a day at 30 fps would already be silly).
pub const MAX_RECLASSIFY_INTERVAL: i64 = 100_000;
/// Largest `smoothing`, `batch` and `nireq`.
pub const MAX_SMOOTHING: usize = 100;
pub const MAX_BATCH: usize = 64;
pub const MAX_NIREQ: usize = 64;
/// Largest `min_size` (px): no frame has a shorter side above it.
pub const MAX_MIN_SIZE: u32 = 8192;

/// How the classifier's input is cut from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum Crop {
    /// A face chip: the similarity transform that puts the face's eyes and mouth where dlib's
    /// mean face has them (with `padding`), as dlib's `get_face_chip` cuts them. Needs the
    /// detector's face keypoints (BlazeFace); without them the box is used.
    FaceChip,
    /// The detected box, `padding` × its size added on every side, stretched to the input.
    Box,
}

/// What a classifier looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum Region {
    /// Each detected object of `object_class` (DL Streamer's `inference-region=roi-list`).
    #[default]
    Roi,
    /// The whole frame; its attributes go on the frame (`frame_attributes`).
    FullFrame,
}

/// How one output tensor row becomes an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum AttributeKind {
    /// The most probable class: `label`, `label_id`, `confidence` (below `min_confidence`:
    /// no attribute).
    Label,
    /// The expectation over `bins` (e.g. the age over 81 one-year bins): `value`.
    Value,
    /// Independent classes (sigmoid per class): every label at or above `min_confidence`.
    Multi,
}

/// `[[classify.outputs]]`: one attribute from one output tensor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct AttributeSpec {
    /// The attribute's name in JSON, events and the overlay (`gender`, `age`).
    pub name: String,
    /// The model file that computes it (a file name beside the classifier's others); default:
    /// the classifier's only model file.
    #[serde(default)]
    pub model_file: Option<String>,
    /// Output tensor name; default: the model's only output.
    #[serde(default)]
    pub tensor: Option<String>,
    pub kind: AttributeKind,
    /// Class names (`label`, `multi`): as many as the tensor has values.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The value of each class (`value`): as many as the tensor has values.
    #[serde(default)]
    pub bins: Vec<f32>,
    /// Below it a `label` result is dropped and a `multi` class left out; default 0.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = 0.0, max = 1.0)))]
    pub min_confidence: f32,
    /// The tensor holds logits: softmax (`label`, `value`) or sigmoid (`multi`) them first.
    #[serde(default)]
    pub logits: bool,
}

/// One `[[classify]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ClassifyConfig {
    /// A manifest `[[classifier]]` id, or the path of a model file (`.onnx`, `.xml`).
    pub model: String,
    /// Detector labels it runs on; default: the manifest's, else every object.
    #[serde(default)]
    pub object_class: Option<Vec<String>>,
    #[serde(default)]
    pub region: Region,
    /// Shorter box side in pixels below which an object is skipped (counted).
    #[serde(default = "default_min_size")]
    #[cfg_attr(feature = "cli", schemars(range(max = MAX_MIN_SIZE)))]
    pub min_size: u32,
    /// Frames between classifications of a tracked object; 0: once per track. Untracked
    /// objects are classified on every frame.
    #[serde(default = "default_reclassify_interval")]
    #[cfg_attr(feature = "cli", schemars(range(min = 0, max = MAX_RECLASSIFY_INTERVAL)))]
    pub reclassify_interval: i64,
    /// Results kept per track and attribute (majority label, mean value).
    #[serde(default = "default_smoothing")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = MAX_SMOOTHING)))]
    pub smoothing: usize,
    /// Infer requests per model file; default the device's optimal number.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = MAX_NIREQ)))]
    pub nireq: Option<usize>,
    /// Crops per request (the model's N); default 1.
    #[serde(default = "default_batch")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = MAX_BATCH)))]
    pub batch: usize,
    /// Default: the manifest's, else `box`.
    #[serde(default)]
    pub crop: Option<Crop>,
    /// Margin around the face or box (fraction of its size); default the manifest's, else 0.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = 0.0, max = 4.0)))]
    pub padding: Option<f32>,
    /// Input = (RGB byte − mean) / scale; default the manifest's, else 0 and 1.
    #[serde(default)]
    pub mean: Option<[f32; 3]>,
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(extend("exclusiveMinimum" = 0.0)))]
    pub scale: Option<f32>,
    /// The attributes; default the manifest's.
    #[serde(default)]
    pub outputs: Vec<AttributeSpec>,
}

fn default_min_size() -> u32 {
    DEFAULT_MIN_SIZE
}
fn default_reclassify_interval() -> i64 {
    DEFAULT_RECLASSIFY_INTERVAL
}
fn default_smoothing() -> usize {
    DEFAULT_SMOOTHING
}
fn default_batch() -> usize {
    1
}

impl ClassifyConfig {
    /// A classifier with every setting at its default.
    pub fn new(model: impl Into<String>) -> Self {
        ClassifyConfig {
            model: model.into(),
            object_class: None,
            region: Region::Roi,
            min_size: DEFAULT_MIN_SIZE,
            reclassify_interval: DEFAULT_RECLASSIFY_INTERVAL,
            smoothing: DEFAULT_SMOOTHING,
            nireq: None,
            batch: 1,
            crop: None,
            padding: None,
            mean: None,
            scale: None,
            outputs: Vec::new(),
        }
    }

    /// Checks the values that need no model; `key` is the table's name in messages
    /// (`classify[0]`).
    ///
    /// # Errors
    /// The offending key and why.
    pub fn validate(&self, key: &str) -> Result<(), (String, String)> {
        let bad = |k: &str, m: String| Err((format!("{key}.{k}"), m));
        if self.model.trim().is_empty() {
            return bad("model", "empty".into());
        }
        if !(0..=MAX_RECLASSIFY_INTERVAL).contains(&self.reclassify_interval) {
            return bad(
                "reclassify_interval",
                format!(
                    "{} is outside 0..={MAX_RECLASSIFY_INTERVAL} (0: once per track)",
                    self.reclassify_interval
                ),
            );
        }
        if !(1..=MAX_SMOOTHING).contains(&self.smoothing) {
            return bad(
                "smoothing",
                format!("{} is outside 1..={MAX_SMOOTHING}", self.smoothing),
            );
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return bad(
                "batch",
                format!("{} is outside 1..={MAX_BATCH}", self.batch),
            );
        }
        if let Some(n) = self.nireq.filter(|n| !(1..=MAX_NIREQ).contains(n)) {
            return bad("nireq", format!("{n} is outside 1..={MAX_NIREQ}"));
        }
        if self.min_size > MAX_MIN_SIZE {
            return bad(
                "min_size",
                format!("{} px is larger than any frame", self.min_size),
            );
        }
        if let Some(p) = self.padding.filter(|p| !(0.0..=4.0).contains(p)) {
            return bad("padding", format!("{p} is outside 0..=4"));
        }
        if let Some(s) = self.scale.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return bad("scale", format!("{s} must be a positive number"));
        }
        validate_outputs(&self.outputs, &format!("{key}.outputs"))
    }
}

/// Checks attribute specs without the model: unique names, labels or bins where the kind needs
/// them, confidences in [0, 1]. `key` prefixes the messages (`classify[0].outputs`).
///
/// # Errors
/// The offending key and why.
pub fn validate_outputs(outputs: &[AttributeSpec], key: &str) -> Result<(), (String, String)> {
    for (i, o) in outputs.iter().enumerate() {
        let k = |field: &str| format!("{key}[{i}].{field}");
        let name_ok = !o.name.is_empty()
            && o.name.len() <= 64
            && o.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err((
                k("name"),
                format!("{:?}: use 1 to 64 of a-z A-Z 0-9 _ -", o.name),
            ));
        }
        if outputs[..i].iter().any(|p| p.name == o.name) {
            return Err((k("name"), format!("`{}` is given twice", o.name)));
        }
        match o.kind {
            AttributeKind::Label | AttributeKind::Multi if o.labels.is_empty() => {
                return Err((
                    k("labels"),
                    "a label or multi output needs its class names".into(),
                ))
            }
            AttributeKind::Value if o.bins.is_empty() => {
                return Err((
                    k("bins"),
                    "a value output needs the value of each class".into(),
                ))
            }
            _ => {}
        }
        if !(0.0..=1.0).contains(&o.min_confidence) {
            return Err((
                k("min_confidence"),
                format!("{} is outside 0..=1", o.min_confidence),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ClassifyConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_and_bad_values_name_their_key() {
        let c = parse("model = \"age-gender\"");
        assert_eq!(c, ClassifyConfig::new("age-gender"));
        assert!(c.validate("classify[0]").is_ok());
        let c = parse("model = \"age-gender\"\nreclassify_interval = -1");
        let (key, message) = c.validate("classify[0]").unwrap_err();
        assert_eq!(key, "classify[0].reclassify_interval");
        assert!(message.contains("-1"), "{message}");
        let c = parse("model = \"x.onnx\"\n[[outputs]]\nname = \"color\"\nkind = \"label\"");
        assert_eq!(
            c.validate("classify[1]").unwrap_err().0,
            "classify[1].outputs[0].labels"
        );
        let c = parse(
            "model = \"x.onnx\"\n[[outputs]]\nname = \"a\"\nkind = \"value\"\nbins = [1.0]\n\
             [[outputs]]\nname = \"a\"\nkind = \"value\"\nbins = [2.0]",
        );
        assert_eq!(
            c.validate("classify[0]").unwrap_err().0,
            "classify[0].outputs[1].name"
        );
        assert!(toml::from_str::<ClassifyConfig>("model = \"m\"\nkind = \"label\"").is_err());
    }
}
