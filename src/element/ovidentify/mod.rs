//! `ovidentify`: names the faces among the ROI metas (align → FaceNet → gallery → per-track
//! vote), the CLI's recognizer ([`crate::face::recognizer::Recognizer`]); attaches an
//! `identity` param (`name`, `similarity`).

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

glib::wrapper! {
    pub struct OvIdentify(ObjectSubclass<imp::OvIdentify>)
        @extends gstreamer_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `ovidentify` with `plugin`.
///
/// # Errors
/// When GStreamer refuses the registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "ovidentify",
        gst::Rank::NONE,
        OvIdentify::static_type(),
    )
}
