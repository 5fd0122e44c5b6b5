//! Inputs by URI: file paths become `file://` URIs; `test://` is the live test pattern.

use crate::error::{Error, Result};
use gstreamer as gst;
use std::path::Path;

/// Live test pattern scheme: `test://?pattern=ball&fps=30&width=640&height=480` (every key
/// optional), `videotestsrc is-live=true`: the camera stand-in for demos and tests.
pub const TEST_SCHEME: &str = "test://";
/// Largest `test://` picture (8K UHD) and frame rate: a 16000x16000 pattern took a gigabyte.
/// The width and height also bound every decoded frame of any input (larger is refused).
pub const MAX_TEST_WIDTH: u32 = 7680;
pub const MAX_TEST_HEIGHT: u32 = 4320;
pub const MAX_TEST_FPS: u32 = 1000;

/// The source elements for a `test://` URI's query (after the scheme).
pub(crate) fn test_pattern_head(query: &str) -> std::result::Result<String, String> {
    let (mut pattern, mut fps, mut width, mut height) = ("ball".to_string(), 30u32, 640u32, 480u32);
    for pair in query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |max: u32| {
            value
                .parse::<u32>()
                .ok()
                .filter(|v| (1..=max).contains(v))
                .ok_or_else(|| format!("`{key}` must be an integer from 1 to {max}, got `{value}`"))
        };
        match key {
            "pattern"
                if !value.is_empty()
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                pattern = value.to_string()
            }
            "pattern" => return Err(format!("bad pattern `{value}`")),
            "fps" => fps = number(MAX_TEST_FPS)?,
            "width" => width = number(MAX_TEST_WIDTH)?,
            "height" => height = number(MAX_TEST_HEIGHT)?,
            other => {
                return Err(format!(
                    "unknown key `{other}` (known: pattern, fps, width, height)"
                ))
            }
        }
    }
    Ok(format!(
        "videotestsrc is-live=true pattern={pattern} ! \
         video/x-raw,width={width},height={height},framerate={fps}/1"
    ))
}

/// Camera scheme: `v4l2:///dev/video0`; a bare `/dev/videoN` path means the same.
pub const V4L2_SCHEME: &str = "v4l2://";
/// Device paths taken as cameras without the scheme.
const V4L2_DEVICE_PREFIX: &str = "/dev/video";

/// The source elements for a `v4l2://` URI's device path; `caps` restricts size and rate.
/// decodebin takes raw or MJPEG, whichever the camera negotiates.
pub(crate) fn camera_head(device: &str, caps: Option<&str>) -> std::result::Result<String, String> {
    check_device(device)?;
    let filter = caps.map_or(String::new(), |c| format!(" ! capsfilter caps=\"{c}\""));
    Ok(format!("v4l2src name=camera{filter} ! decodebin"))
}

/// Whether `path` is `/dev/videoN` (N digits).
fn is_video_node(path: &str) -> bool {
    path.strip_prefix(V4L2_DEVICE_PREFIX)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The camera device `device` names: `/dev/videoN`, or a link to one (`/dev/v4l/by-id/…`),
/// resolved. Anything else (`/dev/video../../etc/passwd`, a file) is refused before GStreamer
/// sees it.
///
/// # Errors
/// A message naming the path and what is expected.
pub(crate) fn check_device(device: &str) -> std::result::Result<String, String> {
    let bad = || format!("expected a camera device such as v4l2:///dev/video0, got `{device}`");
    if is_video_node(device) {
        return Ok(device.to_string());
    }
    let real = Path::new(device).canonicalize().map_err(|_| bad())?;
    real.to_str()
        .filter(|r| is_video_node(r))
        .map(str::to_string)
        .ok_or_else(bad)
}

/// Turns a path or URI into a URI; a path must exist. `/dev/videoN` becomes `v4l2:///dev/videoN`.
///
/// # Errors
/// [`Error::Input`] when a path does not exist or is not a file.
pub fn input_uri(input: &str) -> Result<String> {
    let has_scheme = input.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if has_scheme {
        return Ok(input.to_string());
    }
    if input.starts_with(V4L2_DEVICE_PREFIX) {
        return Ok(format!("{V4L2_SCHEME}{input}"));
    }
    let path = Path::new(input);
    if !path.is_file() {
        return Err(Error::Input {
            uri: input.to_string(),
            message: if path.exists() {
                "not a regular file".into()
            } else {
                "no such file".into()
            },
        });
    }
    let abs = path.canonicalize().map_err(|e| Error::Input {
        uri: input.to_string(),
        message: e.to_string(),
    })?;
    gst::glib::filename_to_uri(&abs, None)
        .map(|u| u.to_string())
        .map_err(|e| Error::Input {
            uri: input.to_string(),
            message: e.to_string(),
        })
}

/// How long the reachability probe of a network input waits.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Why the server of a network `uri` (`rtsp`, `rtsps`, `http`, `https`) cannot be reached — a
/// refused connection, no route, an unknown host — or `None` when it can (or the URI is not a
/// network one). GStreamer often reports these only as "Internal data stream error".
pub fn network_unreachable(uri: &str) -> Option<String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let (scheme, rest) = uri.split_once("://")?;
    let default_port = match scheme {
        "rtsp" | "rtspt" | "rtspu" => 554,
        "rtsps" => 322,
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h, p),
            Err(_) => (host_port, default_port),
        },
        _ => (host_port, default_port),
    };
    let host = host.trim_matches(|c| c == '[' || c == ']');
    let addrs: Vec<_> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => return Some(format!("cannot resolve host {host}: {e}")),
    };
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, PROBE_TIMEOUT) {
            Ok(_) => return None,
            Err(e) => last = Some(e),
        }
    }
    last.map(|e| format!("cannot connect to {host}:{port}: {e}"))
}

/// Checks what can be checked of `input` without opening it: its credential references (see
/// [`super::secrets`]: well-formed, allowed, readable now), the URI syntax and, for
/// `test://`, its query keys, and for a camera, that it is `/dev/videoN` (the service refuses
/// such input at once rather than retrying it).
///
/// # Errors
/// [`crate::Error::Input`] naming the input and what is wrong.
pub fn check_syntax(input: &str) -> crate::error::Result<()> {
    super::secrets::check(input)?;
    let uri = input_uri(input)?;
    let bad = |message| crate::Error::Input {
        uri: crate::redact::redact(&uri),
        message,
    };
    if let Some(query) = uri.strip_prefix(TEST_SCHEME) {
        test_pattern_head(query).map_err(bad)?;
    } else if let Some(device) = uri.strip_prefix(V4L2_SCHEME) {
        check_device(device).map_err(bad)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_head_sets_caps_and_rejects_odd_devices() {
        let head = camera_head("/dev/video0", Some("video/x-raw,width=640")).unwrap();
        assert!(
            head.starts_with("v4l2src name=camera ! capsfilter"),
            "{head}"
        );
        assert!(head.ends_with("! decodebin"), "{head}");
        assert!(camera_head("video0", None).is_err());
        assert!(camera_head("/dev/video0 ! fakesrc", None).is_err());
        for bad in [
            "/dev/video../../etc/passwd",
            "/etc/passwd",
            "/dev/video",
            "/dev/null",
        ] {
            assert!(camera_head(bad, None).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("cam");
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        assert!(
            check_device(link.to_str().unwrap()).is_err(),
            "a link to a file"
        );
    }

    #[test]
    fn test_pattern_defaults_and_overrides() {
        let head = test_pattern_head("").unwrap();
        assert!(
            head.contains("pattern=ball") && head.contains("framerate=30/1"),
            "{head}"
        );
        let head = test_pattern_head("?pattern=smpte&fps=5&width=320&height=240").unwrap();
        assert!(
            head.contains("pattern=smpte") && head.contains("width=320,height=240"),
            "{head}"
        );
        assert!(test_pattern_head("?fps=0").is_err());
        assert!(test_pattern_head("?width=7680&height=4320&fps=1000").is_ok());
        let huge = test_pattern_head("?width=16000&height=16000").unwrap_err();
        assert!(huge.contains("1 to 7680"), "{huge}");
        assert!(test_pattern_head("?height=4321").is_err());
        assert!(test_pattern_head("?fps=1001").is_err());
        assert!(test_pattern_head("?colour=red")
            .unwrap_err()
            .contains("colour"));
        assert!(test_pattern_head("?pattern=a b").is_err());
    }

    #[test]
    fn uris_pass_through_and_missing_paths_fail() {
        assert_eq!(
            input_uri("rtsp://127.0.0.1:8554/cam").unwrap(),
            "rtsp://127.0.0.1:8554/cam"
        );
        assert_eq!(input_uri("test://?fps=5").unwrap(), "test://?fps=5");
        assert_eq!(input_uri("/dev/video2").unwrap(), "v4l2:///dev/video2");
        let err = input_uri("/no/such/file.mp4").unwrap_err().to_string();
        assert!(
            err.contains("/no/such/file.mp4") && err.contains("no such file"),
            "{err}"
        );
    }
}
