//! `[source]` and `[[sources]]`: where frames come from.

use crate::source::{RtspTransport, SourceOptions};
use serde::Deserialize;

/// One `[[sources]]` entry: an input and the name its outputs and metrics carry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct NamedSource {
    /// Letters, digits, `.`, `_`, `-`; default: the file stem or host
    /// ([`crate::config::names::default_name`]), made unique with `-2`, `-3`, …
    #[serde(default)]
    pub name: Option<String>,
    /// File path or URI, as `[source] input`.
    pub input: String,
    /// This source's zones and lines (`[[sources.analytics.zones]]`, …); replaces the
    /// top-level `[analytics]` for it.
    #[serde(default)]
    pub analytics: Option<crate::config::AnalyticsConfig>,
    /// This source's event recordings (`[sources.record]`); replaces the top-level `[record]`
    /// for it.
    #[serde(default)]
    pub record: Option<crate::config::RecordConfig>,
    /// The camera's main stream, recorded while `input` (its substream) is detected on, as
    /// `[source] record_input`.
    #[serde(default)]
    pub record_input: Option<String>,
}

/// Where frames come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct SourceConfig {
    /// File path or URI (`file://`, `rtsp://`, `http(s)://`, `test://`, `/dev/videoN`); empty
    /// when the inputs are given as `[[sources]]`.
    #[serde(default)]
    pub input: String,
    /// Restart a file at EOS.
    #[serde(default, rename = "loop")]
    pub looping: bool,
    /// Stop after this many frames.
    #[serde(default)]
    pub limit: Option<u64>,
    /// Live sources: seconds without a frame before the source is restarted (default 5).
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(max = super::MAX_SECONDS), extend("exclusiveMinimum" = 0.0)))]
    pub stall_timeout: Option<f64>,
    /// Live sources: give up after this many reconnects in a row (default: never).
    #[serde(default)]
    pub max_reconnects: Option<u32>,
    /// `rtsp://` inputs: `tcp`, `udp` or `auto` (UDP, falling back to TCP; the default).
    #[serde(default)]
    pub rtsp_transport: Option<RtspTransport>,
    /// `rtsp://` inputs: jitter-buffer latency in ms (default 200).
    #[serde(default)]
    pub rtsp_latency: Option<u32>,
    /// Cameras: requested frame width and height in pixels, and frame rate (frames/s).
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = 1)))]
    pub width: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = 1)))]
    pub height: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = 1)))]
    pub framerate: Option<u32>,
    /// Files: read at their own frame rate and treated as live (drop-oldest, never
    /// blocking), so a file stands in for a camera; with `loop` it runs until stopped.
    #[serde(default)]
    pub realtime: bool,
    /// The camera's main stream (file path or URI, as `input`), recorded while `input` — its
    /// lower-resolution substream — is detected on: `[record]` clips are cut from its own
    /// H.264/H.265 packets (parsed, never decoded), matched to the detections by time on the
    /// system clock (Frigate's `record` role). Needs `[record]` (not `annotated`) and a live
    /// `input` (a camera, `rtsp://`, or `realtime = true`); `--input` on the command line
    /// drops it. Reconnected like a live source; it never gives up.
    #[serde(default)]
    pub record_input: Option<String>,
}

/// Whether `input` is a live input by its form: a network stream, a camera, a test pattern.
fn live_form(input: &str) -> bool {
    [
        "rtsp://",
        "rtsps://",
        "http://",
        "https://",
        "test://",
        "v4l2://",
        "/dev/video",
    ]
    .iter()
    .any(|p| input.starts_with(p))
}

/// What is wrong with source `name`'s `record_input`, if anything: it must parse, and it
/// needs recordings (`record`, the ones that apply to the source) that copy packets, and a
/// live `input` (or `realtime`: files played at their rate).
pub fn record_input_problem(
    name: &str,
    input: &str,
    record_input: &str,
    record: Option<&crate::config::RecordConfig>,
    realtime: bool,
) -> Option<String> {
    if let Err(e) = crate::source::check_syntax(record_input) {
        return Some(format!("{name}: record_input: {e}"));
    }
    match record {
        None => Some(format!(
            "{name}: record_input needs recordings: add [record] (or [sources.record])"
        )),
        Some(r) if r.annotated => Some(format!(
            "{name}: record_input records the camera's own packets, [record] annotated = true \
             encodes the detected frames: choose one"
        )),
        Some(_) if !(realtime || live_form(input)) => Some(format!(
            "{name}: record_input needs a live input (a camera, rtsp://…, or `realtime = true` \
             for a file): a file decoded as fast as it goes has no clock time to match"
        )),
        Some(_) => None,
    }
}

impl SourceConfig {
    /// How its live inputs are reconnected (`stall_timeout`, `max_reconnects`; the rest
    /// default).
    pub fn supervision(&self) -> crate::source::supervise::Supervision {
        use crate::source::supervise;
        supervise::Supervision {
            stall_timeout: self.stall_timeout.map_or(
                supervise::DEFAULT_STALL_TIMEOUT,
                std::time::Duration::from_secs_f64,
            ),
            max_reconnects: self.max_reconnects,
            ..supervise::Supervision::default()
        }
    }

    /// The options [`crate::source::Source::open`] takes.
    pub fn options(&self) -> SourceOptions {
        let defaults = SourceOptions::default();
        SourceOptions {
            rtsp_transport: self.rtsp_transport.unwrap_or(defaults.rtsp_transport),
            rtsp_latency_ms: self.rtsp_latency.unwrap_or(defaults.rtsp_latency_ms),
            width: self.width,
            height: self.height,
            framerate: self.framerate,
            realtime: self.realtime,
        }
    }
}
