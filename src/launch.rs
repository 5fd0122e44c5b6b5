//! The pipelines the outputs run beside the source (encoders, muxers, JPEG converters): a
//! GStreamer launch description fed by an `appsrc` named `src` and drained by an `appsink`
//! named `out`, made in one place ([`app_pipeline`]).

use crate::error::{Error, Result};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// A pipeline with its `src` and `out` ends.
pub struct AppPipeline {
    pub pipeline: gst::Pipeline,
    pub src: gst_app::AppSrc,
    pub out: gst_app::AppSink,
}

/// Parses `description` (which names an `appsrc name=src` and an `appsink name=out`); `what`
/// names it in errors. The pipeline is left in `NULL`.
///
/// # Errors
/// [`Error::Gst`] when the description does not parse (a missing element) or lacks either end.
pub fn app_pipeline(description: &str, what: &str) -> Result<AppPipeline> {
    let pipeline = gst::parse::launch(description)
        .map_err(|e| Error::gst(what, e))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| Error::gst(what, "not a pipeline"))?;
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| Error::gst(what, "no appsrc named src"))?;
    let out = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| Error::gst(what, "no appsink named out"))?;
    Ok(AppPipeline { pipeline, src, out })
}
