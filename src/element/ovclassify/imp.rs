//! `ovclassify` implementation: an in-place transform; the classifier compiles in `start()`
//! (an unknown model fails READY→PAUSED with a message naming it).

use crate::classify::Classifiers;
use crate::config::classify::{ClassifyConfig, DEFAULT_MIN_SIZE, DEFAULT_RECLASSIFY_INTERVAL};
use crate::element::{
    comma_list, meta, roifilter, string_property, string_value, PrecisionProperty,
};
use crate::engine::EngineOptions;
use crate::frame::{AnalyzedFrame, Frame};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::sync::{LazyLock, Mutex};

const DEFAULT_MODEL: &str = "age-gender";

#[derive(Debug, Clone)]
struct Settings {
    model: String,
    object_class: String,
    reclassify_interval: u32,
    min_size: u32,
    device: String,
    nireq: u32,
    precision: PrecisionProperty,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: DEFAULT_MODEL.into(),
            object_class: String::new(),
            reclassify_interval: DEFAULT_RECLASSIFY_INTERVAL as u32,
            min_size: DEFAULT_MIN_SIZE,
            device: crate::config::DEFAULT_DEVICE.into(),
            nireq: 0,
            precision: PrecisionProperty::default(),
        }
    }
}

struct State {
    classifiers: Classifiers,
    info: Option<gst_video::VideoInfo>,
    seq: u64,
}

#[derive(Default)]
pub struct OvClassify {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl OvClassify {
    fn load(s: &Settings) -> Result<Classifiers, String> {
        let classes = comma_list(&s.object_class);
        let config = ClassifyConfig {
            object_class: (!classes.is_empty()).then_some(classes),
            min_size: s.min_size,
            reclassify_interval: i64::from(s.reclassify_interval),
            nireq: (s.nireq > 0).then_some(s.nireq as usize),
            ..ClassifyConfig::new(s.model.clone())
        };
        let options = EngineOptions {
            device: s.device.clone(),
            precision: s.precision.into(),
            ..EngineOptions::default()
        };
        Classifiers::build(&[config], &options)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no classifier".to_string())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for OvClassify {
    const NAME: &'static str = "OvClassify";
    type Type = super::OvClassify;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for OvClassify {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> =
            LazyLock::new(|| {
                let s = string_property;
                let u = |name: &str, blurb: &str, max: u32, default: u32| {
                    glib::ParamSpecUInt::builder(name)
                        .blurb(blurb)
                        .maximum(max)
                        .default_value(default)
                        .mutable_ready()
                        .build()
                };
                vec![
                s(
                    "model",
                    "Classifier: a manifest [[classifier]] id (age-gender)",
                    DEFAULT_MODEL,
                ),
                s(
                    "object-class",
                    "ROI types (labels) to classify, comma-separated (default: the classifier's)",
                    "",
                ),
                u(
                    "reclassify-interval",
                    "Frames between classifications of a tracked object (0: once per track)",
                    crate::config::classify::MAX_RECLASSIFY_INTERVAL as u32,
                    DEFAULT_RECLASSIFY_INTERVAL as u32,
                ),
                u(
                    "min-size",
                    "Objects whose shorter side is below this many pixels are skipped",
                    8192,
                    DEFAULT_MIN_SIZE,
                ),
                s("device", "OpenVINO device", crate::config::DEFAULT_DEVICE),
                u(
                    "nireq",
                    "Infer requests per model file (0: the device's optimal number)",
                    crate::config::classify::MAX_NIREQ as u32,
                    0,
                ),
                glib::ParamSpecEnum::builder_with_default("precision", PrecisionProperty::default())
                    .blurb("INFERENCE_PRECISION_HINT")
                    .mutable_ready()
                    .build(),
            ]
            });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let text = || string_value(value);
        match pspec.name() {
            "model" => s.model = text(),
            "object-class" => s.object_class = text(),
            "reclassify-interval" => s.reclassify_interval = value.get().expect("uint"),
            "min-size" => s.min_size = value.get().expect("uint"),
            "device" => s.device = text(),
            "nireq" => s.nireq = value.get().expect("uint"),
            "precision" => s.precision = value.get().expect("precision enum"),
            _ => unreachable!("unknown property"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "model" => s.model.to_value(),
            "object-class" => s.object_class.to_value(),
            "reclassify-interval" => s.reclassify_interval.to_value(),
            "min-size" => s.min_size.to_value(),
            "device" => s.device.to_value(),
            "nireq" => s.nireq.to_value(),
            "precision" => s.precision.to_value(),
            _ => unreachable!("unknown property"),
        }
    }
}

impl GstObjectImpl for OvClassify {}

impl ElementImpl for OvClassify {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream object classification",
                "Filter/Analyzer/Video",
                "Classifies ROIs with a second-stage model (age and gender of faces) and attaches \
each attribute as a ROI param named after it (label, label_id, confidence / value, frames_ago). \
Example: gst-launch-1.0 filesrc location=samples/carphone.mp4 ! decodebin ! videoconvert ! \
ovdetect model=blazeface-full ! ovtrack ! ovclassify model=age-gender ! ovoverlay ! \
videoconvert ! autovideosink",
                "ovstream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        crate::element::i420_templates()
    }
}

impl BaseTransformImpl for OvClassify {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let classifiers = Self::load(&s)
            .map_err(|m| gst::error_msg!(gst::LibraryError::Init, ["ovclassify: {m}"]))?;
        *self.state.lock().unwrap() = Some(State {
            classifiers,
            info: None,
            seq: 0,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(roifilter::CAT, "bad caps {incaps}"))?;
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.info = Some(info);
        }
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let (w, h) = (info.width(), info.height());
        let detections = meta::read(buf, w, h);
        if detections.is_empty() {
            state.seq += 1;
            return Ok(gst::FlowSuccess::Ok);
        }
        let frame = Frame::from_buffer(buf.to_owned(), info, 0, state.seq);
        let mut frame = AnalyzedFrame::new(frame, detections);
        state.seq += 1;
        if let Err(e) = state.classifiers.classify_one(&mut frame) {
            gst::element_imp_error!(self, gst::LibraryError::Failed, ["ovclassify: {e}"]);
            return Err(gst::FlowError::Error);
        }
        meta::replace(buf, &frame.detections, w, h);
        Ok(gst::FlowSuccess::Ok)
    }
}
