//! `ovclassify`: second-stage classification of the ROI metas (the CLI's `[[classify]]`,
//! [`crate::classify::Classifiers`]): each object of `object-class` is cut out, classified on
//! the classifier's own infer requests and smoothed per track; each attribute becomes a param
//! structure of its ROI meta named after it (`gender`: `label`, `label_id`, `confidence`;
//! `age`: `value`), as DL Streamer's `gvaclassify` attaches its results.

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

glib::wrapper! {
    pub struct OvClassify(ObjectSubclass<imp::OvClassify>)
        @extends gstreamer_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `ovclassify` with `plugin`.
///
/// # Errors
/// When GStreamer refuses the registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "ovclassify",
        gst::Rank::NONE,
        OvClassify::static_type(),
    )
}
