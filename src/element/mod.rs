//! GStreamer elements over the same core as the CLI (engine, adapters, sinks), registered by
//! the plugin `ovstream` (`libgstovstream.so`). Results travel as `GstVideoRegionOfInterestMeta`
//! with a `detection` param structure (`label_id`, `confidence`, `x_min`, `y_min`, `x_max`,
//! `y_max` normalized), the convention DL Streamer's elements use.

pub mod meta;
pub mod ovdetect;
pub mod ovidentify;
pub mod ovmetapublish;
pub mod ovoverlay;
pub mod ovtrack;
pub mod roifilter;

use gstreamer as gst;

/// An always-present `src` and `sink` pad template with the same `caps` (filters).
pub(crate) fn filter_templates(caps: &gst::Caps) -> Vec<gst::PadTemplate> {
    [gst::PadDirection::Src, gst::PadDirection::Sink]
        .into_iter()
        .map(|dir| {
            let name = if dir == gst::PadDirection::Src {
                "src"
            } else {
                "sink"
            };
            gst::PadTemplate::new(name, dir, gst::PadPresence::Always, caps).expect("pad template")
        })
        .collect()
}

/// Templates of the filters that read the pipeline's frame format: I420 in, I420 out
/// (`ovdetect`, `ovtrack`, `ovidentify`).
pub(crate) fn i420_templates() -> &'static [gst::PadTemplate] {
    static TEMPLATES: std::sync::LazyLock<Vec<gst::PadTemplate>> = std::sync::LazyLock::new(|| {
        let caps = gstreamer_video::VideoCapsBuilder::new()
            .format(gstreamer_video::VideoFormat::I420)
            .build();
        filter_templates(&caps)
    });
    TEMPLATES.as_ref()
}

/// Registers every element with `plugin`.
///
/// # Errors
/// When GStreamer refuses a registration.
pub fn register(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    ovdetect::register(plugin)?;
    ovidentify::register(plugin)?;
    ovmetapublish::register(plugin)?;
    ovoverlay::register(plugin)?;
    ovtrack::register(plugin)?;
    Ok(())
}
