//! `ovanalytics`: zones and lines on tracked ROI metas (after `ovtrack`), the same analytics
//! as the CLI ([`crate::analytics::Analytics`]). Each object's `detection` param gets the
//! `zones` it is in; each buffer the frame's counts and events
//! ([`crate::element::meta::ANALYTICS_META`], drawn by `ovoverlay`, written by
//! `ovmetapublish`); each event is posted as an element message named `ovanalytics` with the
//! event's JSON keys as fields (and the whole event in `json`).

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

glib::wrapper! {
    pub struct OvAnalytics(ObjectSubclass<imp::OvAnalytics>)
        @extends gstreamer_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `ovanalytics` with `plugin`.
///
/// # Errors
/// When GStreamer refuses the registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "ovanalytics",
        gst::Rank::NONE,
        OvAnalytics::static_type(),
    )
}
