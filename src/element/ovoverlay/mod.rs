//! `ovoverlay`: draws the ROI metas (box, label or identity, track id, keypoints) on I420, BGR,
//! BGRx/BGRA or RGB/RGBx/RGBA frames in place, with the CLI's overlay ([`crate::overlay::draw_on`]).

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

glib::wrapper! {
    pub struct OvOverlay(ObjectSubclass<imp::OvOverlay>)
        @extends gstreamer_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `ovoverlay` with `plugin`.
///
/// # Errors
/// When GStreamer refuses the registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "ovoverlay",
        gst::Rank::NONE,
        OvOverlay::static_type(),
    )
}
