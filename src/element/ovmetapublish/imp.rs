//! `ovmetapublish` implementation: an in-place passthrough transform that serializes the ROI
//! metas of each buffer with the CLI's JSON-lines writer ([`crate::sink::jsonl::JsonlSink`]).

use crate::element::meta;
use crate::sink::jsonl::JsonlSink;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "ovmetapublish",
        gst::DebugColorFlags::empty(),
        Some("ovstream JSON-lines metadata"),
    )
});

const DEFAULT_FILE_PATH: &str = "-";

#[derive(Debug, Clone)]
struct Settings {
    file_path: String,
    source: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            file_path: DEFAULT_FILE_PATH.into(),
            source: String::new(),
        }
    }
}

struct State {
    sink: JsonlSink,
    info: Option<gst_video::VideoInfo>,
    seq: u64,
}

#[derive(Default)]
pub struct OvMetaPublish {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for OvMetaPublish {
    const NAME: &'static str = "OvMetaPublish";
    type Type = super::OvMetaPublish;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for OvMetaPublish {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("file-path")
                    .nick("File path")
                    .blurb("JSON-lines output file; - for stdout")
                    .default_value(Some(DEFAULT_FILE_PATH))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("source")
                    .nick("Source")
                    .blurb("Value of each line's \"source\" field (e.g. the input URI)")
                    .default_value(Some(""))
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let v = value
            .get::<Option<String>>()
            .ok()
            .flatten()
            .unwrap_or_default();
        match pspec.name() {
            "file-path" => s.file_path = v,
            "source" => s.source = v,
            _ => unreachable!("unknown property"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "file-path" => s.file_path.to_value(),
            "source" => s.source.to_value(),
            _ => unreachable!("unknown property"),
        }
    }
}

impl GstObjectImpl for OvMetaPublish {}

impl ElementImpl for OvMetaPublish {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream metadata publisher",
                "Filter/Metadata/Video",
                "Writes ROI metas as JSON lines, one per buffer (same format as ovstream --metadata). \
Example: gst-launch-1.0 filesrc location=samples/vtest.avi ! decodebin ! videoconvert ! \
ovdetect ! ovtrack ! ovmetapublish file-path=out.jsonl ! fakesink",
                "ovstream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::builder("video/x-raw").build();
            crate::element::filter_templates(&caps)
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for OvMetaPublish {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let path = self.settings.lock().unwrap().file_path.clone();
        let sink = JsonlSink::create(&path)
            .map_err(|e| gst::error_msg!(gst::ResourceError::OpenWrite, ["{e}"]))?;
        *self.state.lock().unwrap() = Some(State {
            sink,
            info: None,
            seq: 0,
        });
        gst::debug!(CAT, imp = self, "writing {path}");
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(mut state) = self.state.lock().unwrap().take() {
            state
                .sink
                .finish()
                .map_err(|e| gst::error_msg!(gst::ResourceError::Write, ["{e}"]))?;
        }
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "not raw video caps: {incaps}"))?;
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.info = Some(info);
        }
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.publish(buf)
    }

    fn transform_ip_passthrough(
        &self,
        buf: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.publish(buf)
    }
}

impl OvMetaPublish {
    fn publish(&self, buf: &gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let source = self.settings.lock().unwrap().source.clone();
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
        let size = (info.width(), info.height());
        let detections = meta::read(buf, size.0, size.1);
        let pts = buf.pts().map_or(0, |p| p.nseconds());
        let written = state
            .sink
            .write_record(state.seq, pts, size, &detections, &source);
        state.seq += 1;
        if let Err(e) = written {
            gst::element_imp_error!(self, gst::ResourceError::Write, ["ovmetapublish: {e}"]);
            return Err(gst::FlowError::Error);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
