//! `[serve]`: what `ovstream serve` accepts over its API, and its live view and RTSP server.

use super::allowed;
#[cfg(feature = "cli")]
use super::schema;
use serde::Deserialize;
use std::path::PathBuf;

/// `[serve]`: what the service accepts over its API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ServeConfig {
    /// Folders whose files (and files below them) streams may read; default none: only
    /// `rtsp://`, `rtsps://`, `http(s)://`, `test://` and V4L2 cameras.
    #[serde(default)]
    pub media_roots: Vec<PathBuf>,
    /// Inputs the API may add: schemes (`"rtsp"`, `"test"`, `"file"`), hosts
    /// (`"rtsp://cam-door.local"`, `"rtsp://*.cams.local"`, `"http://nvr.local:8080"`) or
    /// address blocks (`"rtsp://192.168.1.0/24"`); a POSTed or restored input that matches
    /// none is refused (422). Default: every input the service can read (a stream's
    /// `last_error` then tells refused, 404 or not-HTTP apart for any address: a LAN scanner
    /// for anyone with the token). See [`allowed`].
    #[serde(default)]
    pub allowed_inputs: Option<Vec<String>>,
    /// The folder under which a stream's own `outputs` (given over the API) are written;
    /// default none: streams use the pipeline file's `[output]` only.
    #[serde(default)]
    pub output_root: Option<PathBuf>,
    /// `"K/N"`: run only the `[[sources]]` of shard K of N (rendezvous hashing of their names,
    /// see [`crate::shard`]); `--shard`, `OVSTREAM_SHARD` and `--shard-from-hostname` override.
    #[serde(default)]
    pub shard: Option<String>,
    /// `Host` names (`name` or `name:port`) the API answers to besides the address it is bound
    /// to (a reverse proxy's, a DNS name in front of it); any other is refused (403), so a web
    /// page cannot reach the API through DNS rebinding.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Most live viewers of one stream, all kinds together (`live.mp4`, `live.mjpeg`); one
    /// more gets 503. Default 16.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = MAX_VIEWERS)))]
    pub max_viewers: Option<usize>,
    /// Seconds a live viewer may stay behind (its queue full, its socket not taking bytes)
    /// before it is disconnected. Default 10.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(range(min = *VIEWER_TIMEOUTS.start(), max = *VIEWER_TIMEOUTS.end())))]
    pub viewer_timeout: Option<f64>,
    /// `HOST:PORT`: every stream is also served annotated at `rtsp://HOST:PORT/{name}` (from
    /// its one live encoder); a stream's `outputs.rtsp = false` leaves it out. Default none.
    #[serde(default)]
    pub rtsp: Option<String>,
    /// Largest image uploaded to `/api/faces` (bytes, or `"8 MiB"`); one more byte gets 413.
    /// Default 8 MiB, at most 64 MiB.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(with = "Option<schema::Bytes>"))]
    #[cfg_attr(feature = "cli", schemars(extend("minimum" = 1024, "maximum" = MAX_IMAGE_BYTES)))]
    pub max_image_bytes: Option<bytesize::ByteSize>,
}

/// Default and largest `[serve] max_image_bytes`.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 8 << 20;
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// Largest `[serve] max_viewers`.
pub const MAX_VIEWERS: usize = 1024;
/// Shortest and longest `[serve] viewer_timeout`, seconds.
pub const VIEWER_TIMEOUTS: std::ops::RangeInclusive<f64> = 1.0..=300.0;

impl ServeConfig {
    /// `max_image_bytes` in bytes.
    pub fn max_image_bytes(&self) -> usize {
        self.max_image_bytes
            .map_or(DEFAULT_MAX_IMAGE_BYTES, |b| b.as_u64()) as usize
    }

    /// Checks `max_viewers` (1 to [`MAX_VIEWERS`]), `viewer_timeout` ([`VIEWER_TIMEOUTS`]) and
    /// `max_image_bytes` (1 KiB to [`MAX_IMAGE_BYTES`]).
    ///
    /// # Errors
    /// The key and its allowed range.
    pub fn validate_live(&self) -> std::result::Result<(), String> {
        if let Some(entries) = &self.allowed_inputs {
            allowed::AllowedInputs::parse(entries)?;
        }
        if let Some(b) = self
            .max_image_bytes
            .filter(|b| !(1024..=MAX_IMAGE_BYTES).contains(&b.as_u64()))
        {
            return Err(format!(
                "serve.max_image_bytes = {} is outside 1 KiB..=64 MiB",
                b.as_u64()
            ));
        }
        if let Some(n) = self.max_viewers.filter(|n| !(1..=MAX_VIEWERS).contains(n)) {
            return Err(format!(
                "serve.max_viewers = {n} is outside 1..={MAX_VIEWERS}"
            ));
        }
        if let Some(t) = self.viewer_timeout.filter(|t| !VIEWER_TIMEOUTS.contains(t)) {
            return Err(format!(
                "serve.viewer_timeout = {t} is outside {}..={} seconds",
                VIEWER_TIMEOUTS.start(),
                VIEWER_TIMEOUTS.end()
            ));
        }
        Ok(())
    }

    /// The `shard` value, parsed.
    ///
    /// # Errors
    /// A value that is not `K/N` with `K < N`.
    pub fn shard(&self) -> std::result::Result<Option<crate::shard::Shard>, String> {
        self.shard
            .as_deref()
            .map(|s| s.parse().map_err(|e| format!("[serve] shard: {e}")))
            .transpose()
    }
}
