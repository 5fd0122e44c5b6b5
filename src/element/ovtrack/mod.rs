//! `ovtrack`: ByteTrack ids on the ROI metas (`object_id` in the `detection` param), the same
//! tracker as the CLI ([`crate::track::Tracker`]).

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

glib::wrapper! {
    pub struct OvTrack(ObjectSubclass<imp::OvTrack>)
        @extends gstreamer_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `ovtrack` with `plugin`.
///
/// # Errors
/// When GStreamer refuses the registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "ovtrack",
        gst::Rank::NONE,
        OvTrack::static_type(),
    )
}
