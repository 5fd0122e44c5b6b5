//! `[serve] allowed_inputs`: which inputs the service's API may add. Without it any scheme the
//! service reads is accepted — and a stream's `last_error` (refused, 404, not HTTP…) then tells
//! anyone with the token what answers on the LAN. With it, an input must match one entry:
//!
//! - `"rtsp"`, `"http"`, `"file"`, `"test"`, `"v4l2"`: that scheme, any host (a file still has to
//!   be under `media_roots`);
//! - `"rtsp://cam-door.local"`, `"rtsp://*.cams.local"`, `"rtsp://192.168.1.0/24"`,
//!   `"rtsp://[fd00::]/8"`, `"http://nvr.local:8080"`: that scheme and host (a name, a
//!   `*.` suffix, an address or a CIDR block; case-insensitive), and the port when the entry
//!   gives one (an input without a port has its scheme's default: 554 for RTSP, 80 for HTTP).
//!
//! The pipeline file's own `[[sources]]` are the operator's and are not checked.

use std::net::IpAddr;

/// Most entries in `allowed_inputs`.
pub const MAX_ENTRIES: usize = 256;

/// The parsed `allowed_inputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedInputs {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    scheme: String,
    host: Option<HostPattern>,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    Name(String),
    Suffix(String),
    Net(IpAddr, u8),
}

impl AllowedInputs {
    /// Parses the entries.
    ///
    /// # Errors
    /// A message naming the entry that is not `scheme`, `scheme://host[:port]` or
    /// `scheme://address/prefix`.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        if entries.len() > MAX_ENTRIES {
            return Err(format!(
                "serve.allowed_inputs: {} entries (at most {MAX_ENTRIES})",
                entries.len()
            ));
        }
        let entries = entries
            .iter()
            .map(|e| Entry::parse(e).map_err(|m| format!("serve.allowed_inputs: {e:?}: {m}")))
            .collect::<Result<_, _>>()?;
        Ok(AllowedInputs { entries })
    }

    /// Whether `input` (a URI, a file path or a `/dev/videoN` device) matches an entry.
    ///
    /// # Errors
    /// A message saying that `[serve] allowed_inputs` does not allow it (the input itself is
    /// not repeated: it may hold a password).
    pub fn check(&self, input: &str) -> Result<(), String> {
        let (scheme, url) = match input.split_once("://") {
            Some((scheme, _)) => (scheme.to_ascii_lowercase(), url::Url::parse(input).ok()),
            None if input.starts_with("/dev/video") => ("v4l2".into(), None),
            None => ("file".into(), None),
        };
        let host = url.as_ref().and_then(|u| u.host());
        let port = url
            .as_ref()
            .and_then(|u| u.port().or_else(|| port_default(&scheme)));
        let allowed = self.entries.iter().any(|e| {
            e.scheme == scheme
                && (e.host.as_ref()).is_none_or(|h| host.as_ref().is_some_and(|x| h.matches(x)))
                && e.port.is_none_or(|p| port == Some(p))
        });
        match allowed {
            true => Ok(()),
            false => Err(format!(
                "input not allowed by [serve] allowed_inputs ({scheme}:// to that host is not \
                 listed)"
            )),
        }
    }
}

/// The scheme's default port.
fn port_default(scheme: &str) -> Option<u16> {
    match scheme {
        "rtsp" => Some(554),
        "rtsps" => Some(322),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl Entry {
    fn parse(text: &str) -> Result<Entry, String> {
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once("://") else {
            return match is_scheme(text) {
                true => Ok(Entry {
                    scheme: text.to_ascii_lowercase(),
                    host: None,
                    port: None,
                }),
                false => Err("expected a scheme (`rtsp`) or `scheme://host[:port]`".into()),
            };
        };
        if !is_scheme(scheme) {
            return Err(format!("`{scheme}` is not a scheme"));
        }
        let scheme = scheme.to_ascii_lowercase();
        if let Some((address, prefix)) = rest.split_once('/') {
            let address = address.trim_start_matches('[').trim_end_matches(']');
            let ip: IpAddr = address.parse().map_err(|_| {
                format!("`{address}` is not an address (a CIDR block is ADDRESS/BITS)")
            })?;
            let bits = if ip.is_ipv4() { 32 } else { 128 };
            let prefix: u8 =
                prefix.parse().ok().filter(|p| *p <= bits).ok_or_else(|| {
                    format!("`/{prefix}`: expected a prefix length from 0 to {bits}")
                })?;
            let host = Some(HostPattern::Net(ip, prefix));
            return Ok(Entry {
                scheme,
                host,
                port: None,
            });
        }
        // `host`, `host:port`, `[v6]`, `[v6]:port`; an unbracketed v6 address has no port.
        let (host, port) = match rest.strip_prefix('[') {
            Some(inner) => {
                let (h, after) = inner.split_once(']').ok_or("`[` without its `]`")?;
                match after {
                    "" => (h, None),
                    _ => (h, Some(after.strip_prefix(':').ok_or("junk after `]`")?)),
                }
            }
            None => match rest.split_once(':') {
                Some((h, p)) if !p.contains(':') => (h, Some(p)),
                _ => (rest, None),
            },
        };
        let port = port
            .map(|p| p.parse::<u16>().map_err(|_| format!("`{p}` is not a port")))
            .transpose()?;
        let host = host.to_ascii_lowercase();
        let pattern = if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{suffix}"))
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            HostPattern::Net(ip, if ip.is_ipv4() { 32 } else { 128 })
        } else if !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            HostPattern::Name(host)
        } else {
            return Err(format!(
                "`{host}` is not a host name, `*.suffix` or address"
            ));
        };
        Ok(Entry {
            scheme,
            host: Some(pattern),
            port,
        })
    }
}

fn is_scheme(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

impl HostPattern {
    fn matches(&self, host: &url::Host<&str>) -> bool {
        let ip = match host {
            url::Host::Domain(d) => {
                let d = d.to_ascii_lowercase();
                return match self {
                    HostPattern::Name(n) => *n == d,
                    HostPattern::Suffix(s) => d.ends_with(s.as_str()),
                    HostPattern::Net(..) => d.parse::<IpAddr>().is_ok_and(|ip| self.contains(ip)),
                };
            }
            url::Host::Ipv4(a) => IpAddr::V4(*a),
            url::Host::Ipv6(a) => IpAddr::V6(*a),
        };
        self.contains(ip)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let HostPattern::Net(net, prefix) = self else {
            return false;
        };
        match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AllowedInputs;

    fn allowed(entries: &[&str]) -> AllowedInputs {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        AllowedInputs::parse(&entries).unwrap()
    }

    #[test]
    fn inputs_match_schemes_hosts_blocks_and_ports() {
        let a = allowed(&[
            "test",
            "rtsp://192.168.1.0/24",
            "rtsp://*.cams.local",
            "http://nvr.local:8080",
            "rtsp://[fd00::]/8",
        ]);
        for ok in [
            "test://?pattern=ball",
            "rtsp://admin:pw@192.168.1.20/stream1",
            "rtsp://192.168.1.20:8554/x",
            "rtsp://door.cams.local/live",
            "RTSP://Door.Cams.Local/live",
            "http://nvr.local:8080/cam.mjpg",
            "rtsp://[fd12::1]/x",
        ] {
            assert!(a.check(ok).is_ok(), "{ok}");
        }
        for refused in [
            "rtsp://192.168.2.1/x",
            "rtsp://cams.local/x",
            "rtsp://evilcams.local/x",
            "http://nvr.local/cam.mjpg",
            "http://nvr.local:8081/",
            "http://192.168.1.20/",
            "/srv/media/a.mp4",
            "/dev/video0",
            "rtsp://[fe80::1]/x",
        ] {
            let e = a.check(refused).unwrap_err();
            assert!(
                e.contains("allowed_inputs") && !e.contains("pw"),
                "{refused}: {e}"
            );
        }
        let files = allowed(&["file", "v4l2"]);
        assert!(files.check("/srv/media/a.mp4").is_ok());
        assert!(files.check("file:///srv/media/a.mp4").is_ok());
        assert!(files.check("/dev/video0").is_ok());
        assert!(files.check("rtsp://cam/x").is_err());
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "",
            "rtsp://",
            "rtsp://10.0.0.0/33",
            "rtsp://a b",
            "1tp",
            "rtsp://h:99999",
            "rtsp://x/8",
        ] {
            let e = AllowedInputs::parse(&[bad.to_string()]).unwrap_err();
            assert!(e.contains("allowed_inputs"), "{bad}: {e}");
        }
    }
}
