//! `ovdetect`: object detection on raw I420 video with OpenVINO, several infer requests in
//! flight; results as ROI metas (see [`super::meta`]).

mod imp;
mod settings;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

glib::wrapper! {
    pub struct OvDetect(ObjectSubclass<imp::OvDetect>) @extends gst::Element, gst::Object;
}

/// Registers `ovdetect` with `plugin`.
///
/// # Errors
/// When GStreamer refuses the registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "ovdetect",
        gst::Rank::NONE,
        OvDetect::static_type(),
    )
}
