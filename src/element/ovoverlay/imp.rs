//! `ovoverlay` implementation: an in-place transform drawing with the CLI overlay, on I420 or
//! packed BGR/BGRx/BGRA/RGB/RGBx/RGBA frames.

use crate::element::roifilter::{self, RoiStep};
use crate::frame::Detection;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::sync::{LazyLock, Mutex};

#[derive(Default)]
struct DrawStep;

impl RoiStep for DrawStep {
    fn apply(
        &mut self,
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
        detections: &mut Vec<Detection>,
    ) -> Result<bool, String> {
        let analytics = crate::element::meta::read_analytics(buffer);
        crate::overlay::draw_on(buffer, info, detections, analytics.as_ref())
            .map_err(|e| e.to_string())?;
        Ok(false)
    }
}

#[derive(Default)]
pub struct OvOverlay {
    step: Mutex<DrawStep>,
    info: Mutex<Option<gst_video::VideoInfo>>,
}

#[glib::object_subclass]
impl ObjectSubclass for OvOverlay {
    const NAME: &'static str = "OvOverlay";
    type Type = super::OvOverlay;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for OvOverlay {}

impl GstObjectImpl for OvOverlay {}

impl ElementImpl for OvOverlay {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream overlay",
                "Filter/Analyzer/Video",
                "Draws the ROI metas (box, label or identity, track id, keypoints) in place on I420, BGR, \
RGB, BGRx, BGRA, RGBx or RGBA frames. Example: gst-launch-1.0 filesrc \
location=samples/vtest.avi ! decodebin ! videoconvert ! ovdetect ! ovoverlay ! x264enc ! \
mp4mux ! filesink location=out.mp4",
                "ovstream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            use gst_video::VideoFormat as F;
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list([F::I420, F::Bgr, F::Bgrx, F::Bgra, F::Rgb, F::Rgbx, F::Rgba])
                .build();
            crate::element::filter_templates(&caps)
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for OvOverlay {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        *self.info.lock().unwrap() = Some(roifilter::info_from_caps(incaps)?);
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        match roifilter::transform(&self.step, &self.info, buf) {
            Ok(()) => Ok(gst::FlowSuccess::Ok),
            Err(Ok(e)) => {
                gst::element_imp_error!(self, gst::LibraryError::Failed, ["ovoverlay: {e}"]);
                Err(gst::FlowError::Error)
            }
            Err(Err(flow)) => Err(flow),
        }
    }
}
