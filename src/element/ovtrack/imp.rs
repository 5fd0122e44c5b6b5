//! `ovtrack` implementation: an in-place transform; the tracker is created in `start()`.

use crate::element::roifilter::{self, RoiStep};
use crate::frame::Detection;
use crate::track::Tracker;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::sync::{LazyLock, Mutex};

const DEFAULT_THRESHOLD: f32 = crate::config::DEFAULT_THRESHOLD;
const DEFAULT_TRACK_BUFFER: u32 = crate::config::DEFAULT_TRACK_BUFFER as u32;

#[derive(Debug, Clone, Copy)]
struct Settings {
    threshold: f32,
    track_buffer: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threshold: DEFAULT_THRESHOLD,
            track_buffer: DEFAULT_TRACK_BUFFER,
        }
    }
}

#[derive(Default)]
struct TrackStep {
    tracker: Option<Tracker>,
}

impl RoiStep for TrackStep {
    fn apply(
        &mut self,
        _buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
        detections: &mut Vec<Detection>,
    ) -> Result<bool, String> {
        let tracker = self.tracker.as_mut().ok_or("not started")?;
        tracker.update(detections, info.width(), info.height());
        Ok(true)
    }
}

#[derive(Default)]
pub struct OvTrack {
    settings: Mutex<Settings>,
    step: Mutex<TrackStep>,
    info: Mutex<Option<gst_video::VideoInfo>>,
}

#[glib::object_subclass]
impl ObjectSubclass for OvTrack {
    const NAME: &'static str = "OvTrack";
    type Type = super::OvTrack;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for OvTrack {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecFloat::builder("threshold")
                    .blurb("Score from which a detection may start a track (high-confidence pass)")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_THRESHOLD)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("track-buffer")
                    .blurb("Frames a lost track is kept for re-association")
                    .minimum(1)
                    .default_value(DEFAULT_TRACK_BUFFER)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "threshold" => s.threshold = value.get().expect("float"),
            "track-buffer" => s.track_buffer = value.get().expect("uint"),
            _ => unreachable!("unknown property"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "threshold" => s.threshold.to_value(),
            "track-buffer" => s.track_buffer.to_value(),
            _ => unreachable!("unknown property"),
        }
    }
}

impl GstObjectImpl for OvTrack {}

impl ElementImpl for OvTrack {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream tracker",
                "Filter/Analyzer/Video",
                "Assigns ByteTrack ids (object_id) to the ROI metas of each frame. Example: gst-launch-1.0 \
filesrc location=samples/vtest.avi ! decodebin ! videoconvert ! ovdetect ! ovtrack ! \
ovoverlay ! videoconvert ! autovideosink",
                "ovstream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        crate::element::i420_templates()
    }
}

impl BaseTransformImpl for OvTrack {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = *self.settings.lock().unwrap();
        self.step.lock().unwrap().tracker =
            Some(Tracker::new(s.threshold, s.track_buffer as usize));
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        *self.info.lock().unwrap() = Some(roifilter::info_from_caps(incaps)?);
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        match roifilter::transform(&self.step, &self.info, buf) {
            Ok(()) => Ok(gst::FlowSuccess::Ok),
            Err(Ok(e)) => {
                gst::element_imp_error!(self, gst::LibraryError::Failed, ["ovtrack: {e}"]);
                Err(gst::FlowError::Error)
            }
            Err(Err(flow)) => Err(flow),
        }
    }
}
