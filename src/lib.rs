//! ovstream: real-time video analytics on OpenVINO and GStreamer.
//!
//! Stages (one thread each, bounded channels between them): GStreamer decode ([`source`]) →
//! [`preprocess`] into the infer request's tensor → async multi-request [`infer`] →
//! [`postprocess`] through a model adapter ([`adapters`]) → [`overlay`] → [`sink`]s
//! (MP4, JSON lines, display). [`pipeline`] wires them; [`engine`] is the only module that
//! touches OpenVINO.

pub mod adapters;
pub mod bench;
pub mod config;
pub mod detector;
pub mod element;
pub mod engine;
pub mod error;
pub mod face;
pub mod frame;
pub mod identify;
pub mod infer;
pub mod manifest;
pub mod overlay;
pub mod pipeline;
pub mod postprocess;
pub mod preprocess;
pub mod sink;
pub mod source;
pub mod streams;
pub mod track;
pub mod tune;

pub use error::{Error, Result};

/// Initializes GStreamer once (idempotent).
///
/// # Errors
/// [`Error::Gst`] when GStreamer cannot start (e.g. a broken plugin registry).
pub fn gst_init() -> Result<()> {
    gstreamer::init().map_err(|e| Error::gst("init", e))
}

fn plugin_init(plugin: &gstreamer::Plugin) -> std::result::Result<(), gstreamer::glib::BoolError> {
    element::register(plugin)
}

gstreamer::plugin_define!(
    ovstream,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("BUILD_REL_DATE")
);
