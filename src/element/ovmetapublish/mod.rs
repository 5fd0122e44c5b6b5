//! `ovmetapublish`: writes the CLI's JSON lines (one per buffer) from the ROI metas.

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

glib::wrapper! {
    pub struct OvMetaPublish(ObjectSubclass<imp::OvMetaPublish>)
        @extends gstreamer_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `ovmetapublish` with `plugin`.
///
/// # Errors
/// When GStreamer refuses the registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "ovmetapublish",
        gst::Rank::NONE,
        OvMetaPublish::static_type(),
    )
}
