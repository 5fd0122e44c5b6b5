//! `ovdetect`'s properties: their specs, values and the pipeline config they stand for.

use crate::config::PipelineConfig;
use crate::element::{comma_list, string_property, string_value, HintProperty, PrecisionProperty};
use gstreamer::glib;
use gstreamer::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

const DEFAULT_MODEL: &str = "pedestrian-ssdlite";
const DEFAULT_DEVICE: &str = "CPU";
const DEFAULT_THRESHOLD: f32 = crate::config::DEFAULT_THRESHOLD;

/// The properties' values (in the element's `Mutex`; cloned when it starts).
#[derive(Debug, Clone)]
pub struct Settings {
    pub model: String,
    pub device: String,
    nireq: u32,
    hint: HintProperty,
    precision: PrecisionProperty,
    threshold: f32,
    labels: String,
    object_class: String,
    pub inference_interval: u32,
    cache_dir: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: DEFAULT_MODEL.into(),
            device: DEFAULT_DEVICE.into(),
            nireq: 0,
            hint: HintProperty::default(),
            precision: PrecisionProperty::default(),
            threshold: DEFAULT_THRESHOLD,
            labels: String::new(),
            object_class: String::new(),
            inference_interval: 1,
            cache_dir: String::new(),
        }
    }
}

impl Settings {
    /// The pipeline config these settings stand for, validated.
    ///
    /// # Errors
    /// The first problem [`PipelineConfig::validate`] finds, in words.
    pub fn config(&self) -> Result<PipelineConfig, String> {
        let settings = self;
        let mut c = PipelineConfig::new("ovdetect", settings.model.clone());
        c.model.device = settings.device.clone();
        c.model.nireq =
            (settings.nireq > 0).then_some(crate::config::Nireq::Count(settings.nireq as usize));
        c.model.hint = settings.hint.into();
        c.model.precision = settings.precision.into();
        if !settings.cache_dir.is_empty() {
            c.model.cache_dir = Some(PathBuf::from(&settings.cache_dir));
        }
        c.detect.threshold = settings.threshold;
        c.detect.threshold_given = settings.threshold != DEFAULT_THRESHOLD;
        if !settings.labels.is_empty() {
            c.detect.labels = Some(comma_list(&settings.labels));
        }
        c.detect.classes = comma_list(&settings.object_class);
        c.validate(Path::new("ovdetect"))
            .map_err(|e| e.to_string())?;
        Ok(c)
    }

    /// The element's properties: `model`, `device`, `nireq`, `hint`, `precision`,
    /// `threshold`, `labels`, `object-class`, `inference-interval`, `cache-dir`.
    pub fn specs() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let s = string_property;
            vec![
                s("model", "Manifest id (models/manifest.toml) or model file path", DEFAULT_MODEL),
                s("device", "OpenVINO device: CPU, GPU, GPU.1, NPU, AUTO, HETERO:GPU,CPU", DEFAULT_DEVICE),
                glib::ParamSpecUInt::builder("nireq")
                    .blurb("Infer requests in flight; 0 = OPTIMAL_NUMBER_OF_INFER_REQUESTS")
                    .maximum(64)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("hint", HintProperty::default())
                    .blurb("PERFORMANCE_HINT")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("precision", PrecisionProperty::default())
                    .blurb("INFERENCE_PRECISION_HINT")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecFloat::builder("threshold")
                    .blurb("Detection confidence threshold")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_THRESHOLD)
                    .mutable_ready()
                    .build(),
                s("labels", "Comma-separated class names (label id L is the L-th); empty = from the manifest", ""),
                s("object-class", "Keep only these comma-separated classes; empty keeps all", ""),
                glib::ParamSpecUInt::builder("inference-interval")
                    .blurb("Run inference on every Nth frame; the others get the last results")
                    .minimum(1)
                    .default_value(1)
                    .mutable_playing()
                    .build(),
                s("cache-dir", "Compiled-model cache folder; empty = ~/.cache/ovstream/compiled", ""),
            ]
        });
        PROPERTIES.as_ref()
    }

    /// Sets property `name` from `value` (its type checked by GObject before).
    pub fn set(&mut self, name: &str, value: &glib::Value) {
        let s = self;
        let text = || string_value(value);
        match name {
            "model" => s.model = text(),
            "device" => s.device = text(),
            "nireq" => s.nireq = value.get().expect("uint"),
            "hint" => s.hint = value.get().expect("hint enum"),
            "precision" => s.precision = value.get().expect("precision enum"),
            "threshold" => s.threshold = value.get().expect("float"),
            "labels" => s.labels = text(),
            "object-class" => s.object_class = text(),
            "inference-interval" => s.inference_interval = value.get().expect("uint"),
            "cache-dir" => s.cache_dir = text(),
            _ => unreachable!("unknown property"),
        }
    }

    /// Property `name`'s value.
    pub fn get(&self, name: &str) -> glib::Value {
        let s = self;
        match name {
            "model" => s.model.to_value(),
            "device" => s.device.to_value(),
            "nireq" => s.nireq.to_value(),
            "hint" => s.hint.to_value(),
            "precision" => s.precision.to_value(),
            "threshold" => s.threshold.to_value(),
            "labels" => s.labels.to_value(),
            "object-class" => s.object_class.to_value(),
            "inference-interval" => s.inference_interval.to_value(),
            "cache-dir" => s.cache_dir.to_value(),
            _ => unreachable!("unknown property"),
        }
    }
}
