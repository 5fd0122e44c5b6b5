//! ovstream: real-time video analytics on OpenVINO and GStreamer.
//!
//! Stages (one thread each, bounded channels between them): GStreamer decode ([`source`]) →
//! preprocess into the infer request's tensor → async multi-request inference → decode
//! through a model adapter ([`adapters`]) + tracking ([`track`]) → face recognition
//! ([`face`]) → [`overlay`] → [`sink`]s (MP4, JSON lines, display, RTSP). [`pipeline`] runs
//! them with one stage loop; [`inference`] is the one inference core that the pipeline, the
//! GStreamer elements ([`element`]), the gallery and the benchmarks share; [`engine`] is the
//! only module that touches OpenVINO.
//!
//! Layers point one way (checked by `scripts/check_layers.py`): [`error`], [`frame`],
//! [`telemetry`], [`config`] at the bottom; [`engine`], [`adapters`], [`source`], [`sink`],
//! [`track`], [`preprocess`] above them; [`inference`], [`detector`], [`tune`], [`face`] next;
//! [`pipeline`], [`element`] and [`bench`] on top.

pub mod adapters;
pub mod alerts;
pub mod analytics;
pub mod backoff;
#[cfg(feature = "cli")]
pub mod bench;
pub mod classify;
pub mod colorimetry;
pub mod config;
pub mod detector;
pub mod element;
pub mod engine;
pub mod error;
pub mod events;
pub mod face;
pub mod frame;
pub mod geometry;
pub mod inference;
pub mod launch;
#[cfg(feature = "cli")]
pub mod live;
pub mod manifest;
pub mod model_info;
pub mod motion;
pub mod overlay;
#[cfg(feature = "cli")]
pub mod pipeline;
pub mod preprocess;
pub mod record;
pub mod redact;
#[cfg(feature = "cli")]
pub mod serve;
pub mod shard;
pub mod sink;
pub mod source;
pub mod telemetry;
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
