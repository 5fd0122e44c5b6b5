//! Which Debian package provides a missing GStreamer decoder, from the caps GStreamer names in
//! its "missing plug-in" error (`Missing decoder: DivX MPEG-4 Version 3 (video/x-divx, …)`),
//! and how the decoders are set up.

use gstreamer as gst;
use gstreamer::prelude::*;

/// Media types decoded by FFmpeg's GStreamer wrapper (`avdec_*`).
const LIBAV: &[&str] = &[
    "video/x-h264",
    "video/x-h265",
    "video/x-divx",
    "video/x-msmpeg",
    "video/x-xvid",
    "video/mpeg",
    "video/x-wmv",
    "video/x-h263",
    "video/x-flash-video",
    "video/x-prores",
    "video/x-gst-av-",
];
/// Media types with decoders in gstreamer1.0-plugins-good (vpx, jpeg, png).
const GOOD: &[&str] = &["video/x-vp8", "video/x-vp9", "image/jpeg", "image/png"];
/// Media types with decoders in gstreamer1.0-plugins-bad (dav1d/aom, openh264 …).
const BAD: &[&str] = &["video/x-av1"];
/// Media types with decoders in gstreamer1.0-plugins-base.
const BASE: &[&str] = &["video/x-theora"];

/// The Debian package to install for the decoder a GStreamer missing-plug-in `debug` text
/// names, or a general hint when the media type is not known here.
pub fn debian_package_hint(debug: &str) -> String {
    let media = debug
        .split_once('(')
        .map(|(_, rest)| rest.split([',', ')']).next().unwrap_or("").trim())
        .unwrap_or("");
    let package = [
        (LIBAV, "gstreamer1.0-libav"),
        (GOOD, "gstreamer1.0-plugins-good"),
        (BAD, "gstreamer1.0-plugins-bad"),
        (BASE, "gstreamer1.0-plugins-base"),
    ]
    .into_iter()
    .find(|(types, _)| !media.is_empty() && types.iter().any(|t| media.starts_with(t)))
    .map(|(_, p)| p);
    match package {
        Some(p) => format!("the Debian package `{p}` provides a decoder for {media}"),
        None => "install the GStreamer plugin packages (gstreamer1.0-libav, \
                 gstreamer1.0-plugins-good/-bad/-ugly)"
            .to_string(),
    }
}

/// One decoding thread per stream: libav's decoders (`avdec_*`) default to one thread per core
/// with frame threading, which on a box running many streams oversubscribes the cores (each
/// stream's threads compete with inference) and holds frames back (frame threading delays
/// output by one frame per thread). Streams are the parallelism here, not slices of a frame.
pub(super) fn single_threaded_decoder(element: &gst::Element) {
    let is_libav = element
        .factory()
        .is_some_and(|f| f.name().starts_with("avdec_"));
    if is_libav && element.find_property("max-threads").is_some() {
        element.set_property("max-threads", 1i32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libav_decoders_get_one_thread() {
        crate::gst_init().unwrap();
        let h264 = gst::ElementFactory::make("avdec_h264").build().unwrap();
        assert_eq!(h264.property::<i32>("max-threads"), 0);
        single_threaded_decoder(&h264);
        assert_eq!(h264.property::<i32>("max-threads"), 1);
        // Other elements are left alone.
        let queue = gst::ElementFactory::make("queue").build().unwrap();
        single_threaded_decoder(&queue);
    }

    #[test]
    fn known_media_types_name_their_package() {
        let divx = "Missing decoder: DivX MPEG-4 Version 3 (video/x-divx, divxversion=(int)3)";
        assert!(debian_package_hint(divx).contains("gstreamer1.0-libav"));
        assert!(debian_package_hint("Missing decoder: VP9 (video/x-vp9)").contains("-good"));
        assert!(debian_package_hint("Missing decoder: AV1 (video/x-av1, a=1)").contains("-bad"));
    }

    #[test]
    fn unknown_media_types_get_the_general_hint() {
        assert!(debian_package_hint("Missing decoder: X (video/x-new)").contains("libav"));
        assert!(debian_package_hint("no caps here").contains("plugins-good"));
    }
}
