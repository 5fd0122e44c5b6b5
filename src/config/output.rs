//! `[output]`: the sinks; `[output.mqtt]`: where and how events (and optionally frame records)
//! are published.

use crate::error::{Error, Result};
use crate::redact::redact;
use serde::Deserialize;
use std::path::PathBuf;

/// Default MQTT topic prefix.
pub const DEFAULT_TOPIC_PREFIX: &str = "ovstream";
/// Default number of messages held while the broker is unreachable.
pub const DEFAULT_MQTT_QUEUE: usize = 100_000;
/// Largest queue accepted (each message is a few hundred bytes).
pub const MAX_MQTT_QUEUE: usize = 10_000_000;

/// Sinks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct OutputConfig {
    /// Annotated H.264 MP4.
    #[serde(default)]
    pub mp4: Option<PathBuf>,
    /// Not a key: `serve` sets it so a stream's JSON lines files are added to, not truncated
    /// (a restarted or re-added stream keeps its earlier lines).
    #[serde(skip)]
    #[cfg_attr(feature = "cli", schemars(skip))]
    pub append: bool,
    /// JSON lines, one per frame; `-` for stdout.
    #[serde(default)]
    pub metadata: Option<String>,
    /// Show the annotated video (autovideosink).
    #[serde(default)]
    pub display: bool,
    /// Serve the annotated video at this `rtsp://HOST:PORT/PATH` (H.264, any number of clients).
    #[serde(default)]
    pub rtsp: Option<String>,
    /// Object events (`new`/`update`/`end` per track), one JSON object per line; `{name}`
    /// makes a file per source.
    #[serde(default)]
    pub events: Option<String>,
    /// Publish events (and optionally frame records) to an MQTT broker.
    #[serde(default)]
    pub mqtt: Option<MqttConfig>,
    /// Seconds between stats lines (health, FPS, drops, end-to-end latency); 0 turns them
    /// off. Default: 10 for live sources, off for files (they have a progress bar).
    #[serde(default)]
    #[cfg_attr(
        feature = "cli",
        schemars(extend("anyOf" = [
            {"const": 0},
            {"minimum": super::MIN_STATS_INTERVAL, "maximum": super::MAX_SECONDS}
        ]))
    )]
    pub stats_interval: Option<f64>,
}

impl OutputConfig {
    /// The stats-line interval for a source that is `live` or not.
    pub fn stats_interval(&self, live: bool) -> Option<std::time::Duration> {
        match self.stats_interval {
            Some(s) if s > 0.0 => Some(std::time::Duration::from_secs_f64(s)),
            Some(_) => None,
            None => live.then_some(crate::config::DEFAULT_STATS_INTERVAL),
        }
    }
}

/// `[output.mqtt]`, or `--mqtt URL --mqtt-qos N`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct MqttConfig {
    /// `mqtt://[user[:password]@]host[:port][/prefix]` or `mqtts://…` (TLS).
    pub url: String,
    /// 0, 1 (default) or 2.
    #[serde(default = "default_qos")]
    #[cfg_attr(feature = "cli", schemars(range(max = 2)))]
    pub qos: u8,
    /// Topic prefix (default `ovstream`, or the URL's path).
    #[serde(default)]
    pub topic_prefix: Option<String>,
    /// Default `ovstream-<hostname>-<pid>`.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// The name of an environment variable that holds the password (never the password).
    #[serde(default)]
    pub password_env: Option<String>,
    /// TLS: CA certificate (PEM), client certificate and PKCS#8 key (PEM).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Keep-alive in seconds (default 30).
    #[serde(default = "default_keep_alive")]
    pub keep_alive: u64,
    /// Also publish each frame's JSON record on `{prefix}/{source}/frames`.
    #[serde(default)]
    pub frames: bool,
    /// Messages held while the broker is unreachable; beyond it the oldest are dropped.
    #[serde(default = "default_queue")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = MAX_MQTT_QUEUE)))]
    pub queue: usize,
    /// `serve`: publish Home Assistant MQTT discovery configs (retained, under
    /// `homeassistant/…/config`) for each stream — a camera fed with the annotated JPEG on
    /// `{prefix}/{source}/snapshot`, a sensor per label count, binary sensors for motion and
    /// each zone's occupancy — and clear them when the stream is removed.
    #[serde(default)]
    pub home_assistant: bool,
    /// Seconds between the JPEGs on `{prefix}/{source}/snapshot` (with `home_assistant`;
    /// 0.5 to 3600, default 2).
    #[serde(default = "default_snapshot_interval")]
    #[cfg_attr(feature = "cli", schemars(range(min = *SNAPSHOT_INTERVALS.start(), max = *SNAPSHOT_INTERVALS.end())))]
    pub snapshot_interval: f64,
    /// Largest MQTT packet sent or received (`"1MiB"`, bytes); a bigger message is dropped
    /// (counted, logged), never sent. Default 1 MiB (a 1080p snapshot fits; rumqttc's own
    /// default, 10 KiB, made a bigger one jam the queue in a reconnect loop).
    #[serde(default = "default_max_packet_size")]
    #[cfg_attr(feature = "cli", schemars(with = "super::schema::Bytes"))]
    #[cfg_attr(feature = "cli", schemars(extend("minimum" = *MQTT_MAX_PACKETS.start(), "maximum" = *MQTT_MAX_PACKETS.end())))]
    pub max_packet_size: bytesize::ByteSize,
    /// QoS 1/2 messages sent and not yet acknowledged, at most (1 to 65535, default 20). Keep
    /// it at or below the broker's limit: mosquitto's `max_inflight_messages` is 20, and
    /// mosquitto 2.0 answers an MQTT 3.1.1 QoS 2 PUBLISH beyond it as if accepted, then drops it.
    #[serde(default = "default_max_inflight")]
    #[cfg_attr(feature = "cli", schemars(range(min = 1, max = 65535)))]
    pub max_inflight: u32,
}

/// Default `max_inflight`: mosquitto's default `max_inflight_messages`.
pub const DEFAULT_MQTT_MAX_INFLIGHT: u32 = 20;

fn default_max_inflight() -> u32 {
    DEFAULT_MQTT_MAX_INFLIGHT
}

/// Default and allowed `max_packet_size` (MQTT allows up to 256 MiB).
pub const DEFAULT_MQTT_MAX_PACKET: u64 = 1 << 20;
pub const MQTT_MAX_PACKETS: std::ops::RangeInclusive<u64> = 1024..=(256 << 20);
/// Longest `topic_prefix`, bytes.
pub const MAX_TOPIC_PREFIX: usize = 128;

fn default_max_packet_size() -> bytesize::ByteSize {
    bytesize::ByteSize::b(DEFAULT_MQTT_MAX_PACKET)
}

/// Default seconds between Home Assistant camera snapshots.
pub const DEFAULT_SNAPSHOT_INTERVAL: f64 = 2.0;
/// Allowed `snapshot_interval`, seconds.
pub const SNAPSHOT_INTERVALS: std::ops::RangeInclusive<f64> = 0.5..=3600.0;

fn default_snapshot_interval() -> f64 {
    DEFAULT_SNAPSHOT_INTERVAL
}

fn default_qos() -> u8 {
    1
}
fn default_keep_alive() -> u64 {
    30
}
fn default_queue() -> usize {
    DEFAULT_MQTT_QUEUE
}

/// Where an [`MqttConfig`] connects.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttTarget {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub prefix: String,
    /// The URL with its password as `***`, for logs.
    pub redacted: String,
}

impl MqttConfig {
    /// A config for `url` with every other setting at its default.
    pub fn new(url: impl Into<String>) -> Self {
        MqttConfig {
            url: url.into(),
            qos: default_qos(),
            topic_prefix: None,
            client_id: None,
            username: None,
            password_env: None,
            ca: None,
            cert: None,
            key: None,
            keep_alive: default_keep_alive(),
            frames: false,
            queue: default_queue(),
            home_assistant: false,
            snapshot_interval: DEFAULT_SNAPSHOT_INTERVAL,
            max_packet_size: default_max_packet_size(),
            max_inflight: DEFAULT_MQTT_MAX_INFLIGHT,
        }
    }

    /// `ovstream-<hostname>-<pid>` unless set.
    pub fn client_id(&self) -> String {
        self.client_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "host".into());
            format!("ovstream-{host}-{}", std::process::id())
        })
    }

    /// Checks the settings beside the URL: QoS, queue, packet size, in-flight window,
    /// snapshot interval, TLS files.
    ///
    /// # Errors
    /// The first setting out of range, in words.
    fn check_settings(&self) -> std::result::Result<(), String> {
        if self.qos > 2 {
            return Err(format!("qos {}: expected 0, 1 or 2", self.qos));
        }
        if self.queue == 0 || self.queue > MAX_MQTT_QUEUE {
            return Err(format!(
                "queue {}: expected 1 to {MAX_MQTT_QUEUE}",
                self.queue
            ));
        }
        if !MQTT_MAX_PACKETS.contains(&self.max_packet_size.as_u64()) {
            return Err(format!(
                "max_packet_size {}: expected 1 KiB to 256 MiB",
                self.max_packet_size
            ));
        }
        if !(1..=65535).contains(&self.max_inflight) {
            return Err(format!(
                "max_inflight {}: expected 1 to 65535",
                self.max_inflight
            ));
        }
        if !SNAPSHOT_INTERVALS.contains(&self.snapshot_interval) {
            return Err(format!(
                "snapshot_interval {}: expected {} to {} seconds",
                self.snapshot_interval,
                SNAPSHOT_INTERVALS.start(),
                SNAPSHOT_INTERVALS.end()
            ));
        }
        for (name, file) in [("ca", &self.ca), ("cert", &self.cert), ("key", &self.key)] {
            if let Some(f) = file.as_ref().filter(|f| !f.is_file()) {
                return Err(format!("{name} {}: no such file", f.display()));
            }
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err("cert and key go together".into());
        }
        Ok(())
    }

    /// Parses the URL and applies `username`, `password_env` and `topic_prefix`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the problem: unknown scheme, unparsable URL, no host, a QoS or
    /// queue out of range, a password environment variable that is not set, a TLS file that
    /// does not exist.
    pub fn target(&self) -> Result<MqttTarget> {
        let err = |message: String| Error::Setting {
            key: "[output.mqtt]".into(),
            message,
        };
        let url = url::Url::parse(&self.url)
            .map_err(|e| err(format!("url `{}`: {e}", redact(&self.url))))?;
        let tls = match url.scheme() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            other => {
                return Err(err(format!(
                    "url `{}`: scheme `{other}`: expected mqtt:// or mqtts://",
                    redact(&self.url)
                )))
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| err(format!("url `{}`: no host", redact(&self.url))))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        self.check_settings().map_err(err)?;
        let decode = |s: &str| {
            percent_decode(s).map_err(|m| err(format!("url `{}`: {m}", redact(&self.url))))
        };
        let mut username = (!url.username().is_empty())
            .then(|| decode(url.username()))
            .transpose()?;
        let mut password = url.password().map(decode).transpose()?;
        if let Some(u) = &self.username {
            username = Some(u.clone());
        }
        if let Some(var) = &self.password_env {
            password = Some(std::env::var(var).map_err(|_| {
                err(format!(
                    "password_env: environment variable `{var}` is not set"
                ))
            })?);
        }
        if url.fragment().is_some() || url.query().is_some() {
            return Err(err(format!(
                "url `{}`: `#` or `?` after the host: a topic prefix has no wildcards and a \
                 broker URL no query",
                redact(&self.url)
            )));
        }
        if url.port() == Some(0) {
            return Err(err(format!("url `{}`: port 0", redact(&self.url))));
        }
        // The topic as written (UTF-8), not as the URL encodes it (`caf%C3%A9`).
        let path = decode(url.path())?;
        let path = path.trim_matches('/');
        let prefix = self
            .topic_prefix
            .clone()
            .or_else(|| (!path.is_empty()).then(|| path.to_string()))
            .unwrap_or_else(|| DEFAULT_TOPIC_PREFIX.to_string());
        if prefix.is_empty() || prefix.contains(['#', '+']) || prefix.len() > MAX_TOPIC_PREFIX {
            return Err(err(format!(
                "topic prefix `{prefix}`: no wildcards, not empty, at most {MAX_TOPIC_PREFIX} bytes"
            )));
        }
        Ok(MqttTarget {
            port: url.port().unwrap_or(if tls { 8883 } else { 1883 }),
            host,
            tls,
            username,
            password,
            prefix,
            redacted: redact(&self.url),
        })
    }
}

fn percent_decode(s: &str) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("bad percent escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad percent escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "userinfo is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_prefixes_are_topics_as_written_and_wildcards_or_port_0_are_refused() {
        let at = |url: &str| MqttConfig::new(url).target();
        assert_eq!(at("mqtt://h/caf%C3%A9/a b").unwrap().prefix, "café/a b");
        for url in ["mqtt://h/a#b", "mqtt://h/a?x=1", "mqtt://h:0/a"] {
            assert!(at(url).is_err(), "{url}");
        }
    }

    #[test]
    fn packet_size_and_prefix_are_bounded() {
        let mut c = MqttConfig::new("mqtt://127.0.0.1:1883");
        assert_eq!(c.max_packet_size.as_u64(), DEFAULT_MQTT_MAX_PACKET);
        c.max_packet_size = bytesize::ByteSize::b(100);
        assert!(c
            .target()
            .unwrap_err()
            .to_string()
            .contains("max_packet_size"));
        c.max_packet_size = bytesize::ByteSize::mib(1);
        c.topic_prefix = Some("p".repeat(MAX_TOPIC_PREFIX + 1));
        assert!(c.target().unwrap_err().to_string().contains("at most"));
    }

    #[test]
    fn urls_give_host_port_tls_credentials_and_prefix() {
        let t = MqttConfig::new("mqtts://bob:s3cr%40t@broker.local:8884/site/a")
            .target()
            .unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("broker.local", 8884, true)
        );
        assert_eq!(t.username.as_deref(), Some("bob"));
        assert_eq!(t.password.as_deref(), Some("s3cr@t"));
        assert_eq!(t.prefix, "site/a");
        assert_eq!(t.redacted, "mqtts://bob:***@broker.local:8884/site/a");
        let d = MqttConfig::new("mqtt://127.0.0.1").target().unwrap();
        assert_eq!(
            (d.port, d.prefix.as_str(), d.tls),
            (1883, "ovstream", false)
        );
    }

    #[test]
    fn bad_urls_and_values_are_config_errors_without_the_password() {
        for (url, want) in [
            ("http://host", "scheme `http`"),
            ("mqtt://", "no host"),
            ("not a url", "url `not a url`"),
        ] {
            let e = MqttConfig::new(url).target().unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
        }
        let mut c = MqttConfig::new("mqtt://u:hunter2@h");
        c.qos = 3;
        let e = c.target().unwrap_err().to_string();
        assert!(e.contains("qos 3") && !e.contains("hunter2"), "{e}");
        let mut c = MqttConfig::new("mqtt://h");
        c.ca = Some("/nonexistent/ca.pem".into());
        assert!(c
            .target()
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/ca.pem"));
    }
}
