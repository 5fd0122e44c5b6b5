//! Per-input options: RTSP transport and jitter-buffer latency (rtspsrc), camera caps (v4l2src).

use gstreamer as gst;
use gstreamer::prelude::*;

/// Default rtspsrc jitter-buffer latency in ms. rtspsrc's own default (2000 ms) adds two
/// seconds to every result; 200 ms absorbs LAN jitter and keeps results fresh.
pub const DEFAULT_RTSP_LATENCY_MS: u32 = 200;

/// RTSP lower transport (rtspsrc `protocols`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum RtspTransport {
    /// RTP interleaved in the RTSP TCP connection: passes NAT and firewalls, no packet loss.
    Tcp,
    /// RTP over UDP: lowest latency on a clean LAN.
    Udp,
    /// rtspsrc's default: UDP, falling back to TCP.
    Auto,
}

impl std::str::FromStr for RtspTransport {
    type Err = String;

    /// `tcp`, `udp` or `auto` (any case).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(RtspTransport::Tcp),
            "udp" => Ok(RtspTransport::Udp),
            "auto" => Ok(RtspTransport::Auto),
            _ => Err(format!("RTSP transport `{s}`: expected tcp, udp or auto")),
        }
    }
}

impl RtspTransport {
    /// The value of rtspsrc's `protocols` flags property.
    fn as_protocols(self) -> &'static str {
        match self {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
            RtspTransport::Auto => "tcp+udp-mcast+udp",
        }
    }
}

/// How to open an input; unused options are ignored for inputs they do not apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceOptions {
    /// `rtsp://` inputs: lower transport.
    pub rtsp_transport: RtspTransport,
    /// `rtsp://` inputs: jitter-buffer latency in ms.
    pub rtsp_latency_ms: u32,
    /// Cameras (`/dev/videoN`): requested frame width, height (pixels) and rate (frames/s).
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub framerate: Option<u32>,
    /// Files: play at the file's own frame rate and treat the input as live (drop the oldest
    /// frame when inference falls behind, never block the decoder): a file as a camera.
    pub realtime: bool,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            rtsp_transport: RtspTransport::Auto,
            rtsp_latency_ms: DEFAULT_RTSP_LATENCY_MS,
            width: None,
            height: None,
            framerate: None,
            realtime: false,
        }
    }
}

impl SourceOptions {
    /// Caps restricting what a camera delivers, raw or MJPEG (decodebin handles either);
    /// `None` when no size or rate is requested.
    pub(crate) fn camera_caps(&self) -> Option<String> {
        let mut fields = String::new();
        if let Some(w) = self.width {
            fields.push_str(&format!(",width={w}"));
        }
        if let Some(h) = self.height {
            fields.push_str(&format!(",height={h}"));
        }
        if let Some(f) = self.framerate {
            fields.push_str(&format!(",framerate={f}/1"));
        }
        (!fields.is_empty()).then(|| format!("video/x-raw{fields};image/jpeg{fields}"))
    }

    /// Applies the RTSP options to the element uridecodebin creates for the URI (its
    /// `source-setup` signal); other sources are left as they are.
    pub(crate) fn setup_source(&self, element: &gst::Element) {
        let is_rtspsrc = element
            .factory()
            .is_some_and(|f| f.name().as_str() == "rtspsrc");
        if !is_rtspsrc {
            return;
        }
        element.set_property_from_str("protocols", self.rtsp_transport.as_protocols());
        element.set_property("latency", self.rtsp_latency_ms);
        tracing::debug!(
            transport = ?self.rtsp_transport,
            latency_ms = self.rtsp_latency_ms,
            "rtspsrc configured"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_caps_offer_raw_and_mjpeg() {
        assert_eq!(SourceOptions::default().camera_caps(), None);
        let o = SourceOptions {
            width: Some(640),
            height: Some(480),
            framerate: Some(15),
            ..Default::default()
        };
        assert_eq!(
            o.camera_caps().unwrap(),
            "video/x-raw,width=640,height=480,framerate=15/1;\
             image/jpeg,width=640,height=480,framerate=15/1"
        );
    }

    #[test]
    fn rtsp_options_reach_rtspsrc() {
        crate::gst_init().unwrap();
        let src = gst::ElementFactory::make("rtspsrc").build().unwrap();
        let o = SourceOptions {
            rtsp_transport: RtspTransport::Tcp,
            rtsp_latency_ms: 50,
            ..Default::default()
        };
        o.setup_source(&src);
        assert_eq!(src.property::<u32>("latency"), 50);
        let protocols = src.property_value("protocols");
        let flags = gst::glib::FlagsValue::from_value(&protocols).unwrap();
        let names: Vec<_> = flags.1.iter().map(|f| f.nick()).collect();
        assert_eq!(names, vec!["tcp"]);
    }
}
