//! Cross-site and DNS-rebinding defence of `/api/*` (a page in the operator's browser must not
//! drive the API, token or not):
//!
//! - `Host` must name the address the API is bound to — an IP literal of it (any IP when it is
//!   bound to every interface), `localhost` when it is bound to loopback — or one of `[serve]
//!   allowed_hosts`; a DNS name that resolves to us (rebinding) is refused with 403.
//! - An `Origin` other than the page's own (the `Host` it talks to) or an allowed host: 403.
//! - A body on POST/PUT/PATCH must be `application/json`: 415 (a form or `text/plain` post is
//!   what a foreign page can send without a CORS preflight); image uploads to `/api/faces/…`
//!   may also be `image/jpeg`, `image/png`, `application/octet-stream` or multipart.

use super::api::error;
use super::Service;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Body types an image upload to `/api/faces/…` may have besides JSON. `multipart/form-data`
/// is one a foreign page can send without a preflight: such a request carries its `Origin`,
/// refused above, and needs the token.
const IMAGE_BODIES: [&str; 4] = [
    "image/jpeg",
    "image/png",
    "application/octet-stream",
    "multipart/form-data",
];

/// `host[:port]` split; IPv6 literals keep no brackets.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (authority, None),
    }
}

/// Whether `entry` of `allowed_hosts` names `authority` (`host` matches any port).
fn listed(authority: &str, allowed: &[String]) -> bool {
    let (host, _) = split_authority(authority);
    allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(authority) || a.eq_ignore_ascii_case(host))
}

/// Whether a `Host` header names the API's own address.
pub(super) fn host_allowed(authority: &str, bound: SocketAddr, allowed: &[String]) -> bool {
    if listed(authority, allowed) {
        return true;
    }
    let (host, _) = split_authority(authority);
    if host.eq_ignore_ascii_case("localhost") {
        return bound.ip().is_loopback();
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => {
            bound.ip().is_unspecified()
                || ip == bound.ip()
                || (bound.ip().is_loopback() && ip.is_loopback())
        }
        Err(_) => false,
    }
}

/// Whether an `Origin` (`scheme://authority`) is the page's own (`host`) or allowed.
fn origin_allowed(origin: &str, host: &str, allowed: &[String]) -> bool {
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    authority.eq_ignore_ascii_case(host) || listed(authority, allowed)
}

/// Refuses cross-site requests and foreign `Host`s before anything else runs.
pub(super) async fn same_site(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text(header::HOST).unwrap_or("");
    if !host_allowed(host, service.api_addr, &service.allowed_hosts) {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "Host {host:?} does not name this service ({}); add it to [serve] allowed_hosts",
                service.api_addr
            ),
        );
    }
    if let Some(origin) = text(header::ORIGIN).filter(|o| *o != "null") {
        if !origin_allowed(origin, host, &service.allowed_hosts) {
            return error(
                StatusCode::FORBIDDEN,
                format!("cross-site request from {origin:?} refused"),
            );
        }
    }
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|l| l.as_bytes() != b"0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    let media = text(header::CONTENT_TYPE)
        .and_then(|t| t.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let image_upload =
        request.uri().path().starts_with("/api/faces/") && IMAGE_BODIES.contains(&media.as_str());
    if writes && has_body && media != "application/json" && !image_upload {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be Content-Type: application/json (image uploads to /api/faces: \
             image/jpeg, image/png or multipart/form-data)",
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_must_name_the_bound_address() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let none: [String; 0] = [];
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:8080",
            "[::1]:8080",
        ] {
            assert!(host_allowed(ok, lo, &none), "{ok}");
        }
        for bad in ["evil.example", "evil.example:8080", "10.0.0.5:8080", ""] {
            assert!(!host_allowed(bad, lo, &none), "{bad}");
        }
        assert!(host_allowed("10.0.0.5:8080", any, &none));
        assert!(!host_allowed("localhost:8080", any, &none));
        assert!(!host_allowed("cams.lan:8080", any, &none));
        assert!(host_allowed("cams.lan:8080", any, &["cams.lan".into()]));
        assert!(origin_allowed(
            "http://127.0.0.1:8080",
            "127.0.0.1:8080",
            &none
        ));
        assert!(!origin_allowed(
            "http://127.0.0.1:3000",
            "127.0.0.1:8080",
            &none
        ));
        assert!(!origin_allowed(
            "https://evil.example",
            "127.0.0.1:8080",
            &none
        ));
    }
}
