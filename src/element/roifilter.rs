//! What the in-place ROI elements (`ovtrack`, `ovoverlay`) share: the step each applies to one
//! buffer's detections, read from and written back to its ROI metas.

use crate::frame::Detection;
use gstreamer as gst;
use gstreamer_video as gst_video;
use std::sync::LazyLock;

/// Debug category of the ROI elements.
pub static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "ovroi",
        gst::DebugColorFlags::empty(),
        Some("ovstream ROI elements (ovtrack, ovoverlay)"),
    )
});

/// One element's work on a buffer.
pub trait RoiStep: Send + Default + 'static {
    /// Updates `detections` (and, for overlays, the pixels of `buffer`); returns whether the
    /// metas must be rewritten.
    fn apply(
        &mut self,
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
        detections: &mut Vec<Detection>,
    ) -> Result<bool, String>;
}

/// Reads the ROI metas of `buffer`, runs `step`, writes the metas back when it changed them.
pub fn process<S: RoiStep>(
    step: &mut S,
    buffer: &mut gst::BufferRef,
    info: &gst_video::VideoInfo,
) -> Result<(), String> {
    let (w, h) = (info.width(), info.height());
    let mut detections = super::meta::read(buffer, w, h);
    if step.apply(buffer, info, &mut detections)? {
        super::meta::replace(buffer, &detections, w, h);
    }
    Ok(())
}

/// The video info of negotiated caps (for `set_caps`).
///
/// # Errors
/// A loggable error for caps that are not raw video.
pub fn info_from_caps(incaps: &gst::Caps) -> Result<gst_video::VideoInfo, gst::LoggableError> {
    gst_video::VideoInfo::from_caps(incaps)
        .map_err(|_| gst::loggable_error!(CAT, "not raw video caps: {incaps}"))
}

/// `transform_ip` of a ROI element: `step` on `buf` with the negotiated `info`.
///
/// # Errors
/// `NotNegotiated` before caps; `Err(Ok(message))` when the step fails (the caller posts it).
pub fn transform<S: RoiStep>(
    step: &std::sync::Mutex<S>,
    info: &std::sync::Mutex<Option<gst_video::VideoInfo>>,
    buf: &mut gst::BufferRef,
) -> Result<(), Result<String, gst::FlowError>> {
    let info = info
        .lock()
        .unwrap()
        .clone()
        .ok_or(Err(gst::FlowError::NotNegotiated))?;
    process(&mut *step.lock().unwrap(), buf, &info).map_err(Ok)
}
