//! `ovidentify` implementation: an in-place transform; models and gallery load in `start()`
//! (a bad gallery or model fails READY→PAUSED with a message naming it).

use crate::config::{PipelineConfig, RecognizeConfig};
use crate::detector::Detector;
use crate::element::{meta, roifilter, string_property, string_value};
use crate::face::recognizer::Recognizer;
use crate::frame::{AnalyzedFrame, Frame};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::path::Path;
use std::sync::{LazyLock, Mutex};

const DEFAULT_MODEL: &str = "facenet";
const DEFAULT_DETECTOR: &str = "blazeface-full";
const DEFAULT_CLASS: &str = "face";

#[derive(Debug, Clone)]
struct Settings {
    gallery: String,
    model: String,
    detector: String,
    device: String,
    threshold: f32,
    reidentify_interval: u32,
    object_class: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            gallery: String::new(),
            model: DEFAULT_MODEL.into(),
            detector: DEFAULT_DETECTOR.into(),
            device: crate::config::DEFAULT_DEVICE.into(),
            threshold: crate::config::DEFAULT_SIMILARITY,
            reidentify_interval: crate::config::DEFAULT_REIDENTIFY_INTERVAL,
            object_class: DEFAULT_CLASS.into(),
        }
    }
}

struct State {
    recognizer: Recognizer,
    info: Option<gst_video::VideoInfo>,
    seq: u64,
    class: String,
}

#[derive(Default)]
pub struct OvIdentify {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl OvIdentify {
    fn load(s: &Settings) -> Result<Recognizer, String> {
        if s.gallery.is_empty() {
            return Err("set gallery=<folder>".into());
        }
        let mut c = PipelineConfig::new("ovidentify", s.detector.clone());
        c.model.device = s.device.clone();
        let r = c.recognize.insert(RecognizeConfig::new(&s.gallery));
        r.model = s.model.clone();
        r.threshold = s.threshold;
        r.reidentify_interval = s.reidentify_interval;
        c.validate(Path::new("ovidentify"))
            .map_err(|e| e.to_string())?;
        let mut detector = Detector::from_config(&c, None).map_err(|e| e.to_string())?;
        crate::face::recognizer_from_config(&c, None, &mut detector)
            .map_err(|e| format!("gallery {}: {e}", s.gallery))?
            .ok_or_else(|| "no recognizer".to_string())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for OvIdentify {
    const NAME: &'static str = "OvIdentify";
    type Type = super::OvIdentify;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for OvIdentify {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let s = string_property;
            vec![
                s("gallery", "Gallery folder: <gallery>/<name>/*.jpg|png", ""),
                s(
                    "model",
                    "Embedding model: manifest id or path",
                    DEFAULT_MODEL,
                ),
                s(
                    "detector",
                    "Face detector used to enroll the gallery images",
                    DEFAULT_DETECTOR,
                ),
                s("device", "OpenVINO device", crate::config::DEFAULT_DEVICE),
                s(
                    "object-class",
                    "ROI type (label) of the regions to identify",
                    DEFAULT_CLASS,
                ),
                glib::ParamSpecFloat::builder("threshold")
                    .blurb("Cosine similarity below which a face is unknown")
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(crate::config::DEFAULT_SIMILARITY)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("reidentify-interval")
                    .blurb("A tracked face is identified on its first frames, then every N frames")
                    .minimum(1)
                    .default_value(crate::config::DEFAULT_REIDENTIFY_INTERVAL)
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
            "gallery" => s.gallery = text(),
            "model" => s.model = text(),
            "detector" => s.detector = text(),
            "device" => s.device = text(),
            "object-class" => s.object_class = text(),
            "threshold" => s.threshold = value.get().expect("float"),
            "reidentify-interval" => s.reidentify_interval = value.get().expect("uint"),
            _ => unreachable!("unknown property"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "gallery" => s.gallery.to_value(),
            "model" => s.model.to_value(),
            "detector" => s.detector.to_value(),
            "device" => s.device.to_value(),
            "object-class" => s.object_class.to_value(),
            "threshold" => s.threshold.to_value(),
            "reidentify-interval" => s.reidentify_interval.to_value(),
            _ => unreachable!("unknown property"),
        }
    }
}

impl GstObjectImpl for OvIdentify {}

impl ElementImpl for OvIdentify {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream face identification",
                "Filter/Analyzer/Video",
                "Names face ROIs against a gallery (FaceNet embeddings, cosine similarity, per-track vote). \
Example: gst-launch-1.0 filesrc location=samples/carphone.mp4 ! decodebin ! videoconvert ! \
ovdetect model=blazeface-full ! ovtrack ! ovidentify gallery=gallery ! ovoverlay ! \
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

impl BaseTransformImpl for OvIdentify {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let recognizer = Self::load(&s)
            .map_err(|m| gst::error_msg!(gst::LibraryError::Init, ["ovidentify: {m}"]))?;
        *self.state.lock().unwrap() = Some(State {
            recognizer,
            info: None,
            seq: 0,
            class: s.object_class,
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
        let all = meta::read(buf, w, h);
        let (faces, others): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|d| *d.label == *state.class);
        let frame = Frame::from_buffer(buf.to_owned(), info, 0, state.seq);
        let mut frame = AnalyzedFrame::new(frame, faces);
        state.seq += 1;
        if let Err(e) = state.recognizer.identify(&mut frame, &self.obj().name()) {
            gst::element_imp_error!(self, gst::LibraryError::Failed, ["ovidentify: {e}"]);
            return Err(gst::FlowError::Error);
        }
        let mut detections = frame.detections;
        detections.extend(others);
        meta::replace(buf, &detections, w, h);
        Ok(gst::FlowSuccess::Ok)
    }
}
