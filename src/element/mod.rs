//! GStreamer elements over the same core as the CLI (engine, adapters, sinks), registered by
//! the plugin `ovstream` (`libgstovstream.so`). Results travel as `GstVideoRegionOfInterestMeta`
//! with a `detection` param structure (`label_id`, `confidence`, `x_min`, `y_min`, `x_max`,
//! `y_max` normalized), the convention DL Streamer's elements use.

pub mod labels;
pub mod meta;
pub mod ovanalytics;
pub mod ovclassify;
pub mod ovdetect;
pub mod ovidentify;
pub mod ovmetapublish;
pub mod ovoverlay;
pub mod ovtrack;
pub mod roifilter;

use crate::config::{Hint, Precision};
use gstreamer as gst;
use gstreamer::glib;

/// `hint` property of the inference elements: OpenVINO's PERFORMANCE_HINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[enum_type(name = "GstOvstreamHint")]
pub enum HintProperty {
    #[enum_value(name = "LATENCY: lowest latency per frame", nick = "latency")]
    Latency,
    #[default]
    #[enum_value(name = "THROUGHPUT: most frames per second", nick = "throughput")]
    Throughput,
}

impl From<HintProperty> for Hint {
    fn from(h: HintProperty) -> Hint {
        match h {
            HintProperty::Latency => Hint::Latency,
            HintProperty::Throughput => Hint::Throughput,
        }
    }
}

/// `precision` property of the inference elements: OpenVINO's INFERENCE_PRECISION_HINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[enum_type(name = "GstOvstreamPrecision")]
pub enum PrecisionProperty {
    #[default]
    #[enum_value(
        name = "The device's own (bf16 on CPUs with AMX; f32 on CPUs with AVX512-BF16 but no AMX)",
        nick = "default"
    )]
    Default,
    #[enum_value(name = "f32", nick = "f32")]
    F32,
    #[enum_value(name = "f16", nick = "f16")]
    F16,
    #[enum_value(name = "bf16", nick = "bf16")]
    Bf16,
}

impl From<PrecisionProperty> for Option<Precision> {
    fn from(p: PrecisionProperty) -> Option<Precision> {
        match p {
            PrecisionProperty::Default => None,
            PrecisionProperty::F32 => Some(Precision::F32),
            PrecisionProperty::F16 => Some(Precision::F16),
            PrecisionProperty::Bf16 => Some(Precision::Bf16),
        }
    }
}

/// A string property of an element, settable up to READY, with its `blurb` and `default`.
pub(crate) fn string_property(name: &str, blurb: &str, default: &str) -> glib::ParamSpec {
    use gstreamer::prelude::*;
    glib::ParamSpecString::builder(name)
        .blurb(blurb)
        .default_value(Some(default))
        .mutable_ready()
        .build()
}

/// A string property's new value; `""` for NULL.
pub(crate) fn string_value(value: &glib::Value) -> String {
    value
        .get::<Option<String>>()
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A comma-separated property value as a list (blanks trimmed, empty items dropped).
pub(crate) fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

/// An always-present `src` and `sink` pad template with the same `caps` (filters).
pub(crate) fn filter_templates(caps: &gst::Caps) -> Vec<gst::PadTemplate> {
    [gst::PadDirection::Src, gst::PadDirection::Sink]
        .into_iter()
        .map(|dir| {
            let name = if dir == gst::PadDirection::Src {
                "src"
            } else {
                "sink"
            };
            gst::PadTemplate::new(name, dir, gst::PadPresence::Always, caps).expect("pad template")
        })
        .collect()
}

/// Templates of the filters that read the pipeline's frame format: I420 in, I420 out
/// (`ovdetect`, `ovtrack`, `ovidentify`, `ovclassify`).
pub(crate) fn i420_templates() -> &'static [gst::PadTemplate] {
    static TEMPLATES: std::sync::LazyLock<Vec<gst::PadTemplate>> = std::sync::LazyLock::new(|| {
        let caps = gstreamer_video::VideoCapsBuilder::new()
            .format(gstreamer_video::VideoFormat::I420)
            .build();
        filter_templates(&caps)
    });
    TEMPLATES.as_ref()
}

/// Registers every element with `plugin`.
///
/// # Errors
/// When GStreamer refuses a registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    meta::register_analytics_meta();
    ovanalytics::register(plugin)?;
    ovclassify::register(plugin)?;
    ovdetect::register(plugin)?;
    ovidentify::register(plugin)?;
    ovmetapublish::register(plugin)?;
    ovoverlay::register(plugin)?;
    ovtrack::register(plugin)?;
    Ok(())
}
