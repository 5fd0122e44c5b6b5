//! The operator's web console at `/`: static ES modules and a stylesheet embedded in the binary
//! at build time (no CDN, nothing fetched from elsewhere), served with a strict
//! Content-Security-Policy (no inline script or style, no `eval`); the page talks only to
//! `/api/*`.
//!
//! Signing in: `POST /api/login {"token"}` checks the API token and sets an `HttpOnly`,
//! `SameSite=Strict` session cookie (random, 12 h, at most [`MAX_SESSIONS`]); the page also keeps
//! the token in `sessionStorage` and sends it as the bearer header. The cookie is accepted for
//! `GET`/`HEAD` only — what a `<video>` or `<img>` element fetches (clips, crops, MJPEG) — so a
//! state-changing request always needs the bearer header and a cookie alone cannot forge one.
//! `GET /api/login` says whether a token is needed and whether this browser is signed in;
//! `DELETE /api/login` signs out.

use super::api::{error, ErrorBody};
use super::Service;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "ovstream_session";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at once (the oldest is dropped for a new one).
pub const MAX_SESSIONS: usize = 64;
/// A wrong token is answered after this long (slows guessing).
const WRONG_TOKEN_DELAY: Duration = Duration::from_millis(250);

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console's files: path under `/console/`, content type, bytes.
const ASSETS: [(&str, &str, &str); 8] = [
    ("app.js", "text/javascript", include_str!("console/app.js")),
    ("dom.js", "text/javascript", include_str!("console/dom.js")),
    (
        "live.js",
        "text/javascript",
        include_str!("console/live.js"),
    ),
    (
        "cameras.js",
        "text/javascript",
        include_str!("console/cameras.js"),
    ),
    (
        "editor.js",
        "text/javascript",
        include_str!("console/editor.js"),
    ),
    (
        "review.js",
        "text/javascript",
        include_str!("console/review.js"),
    ),
    (
        "faces.js",
        "text/javascript",
        include_str!("console/faces.js"),
    ),
    ("style.css", "text/css", include_str!("console/style.css")),
];
const INDEX: &str = include_str!("console/index.html");

/// Signed-in browsers: session id → when it was made.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Instant>>);

impl Sessions {
    /// A new session id (256 random bits from the kernel, hex).
    fn open(&self) -> std::io::Result<String> {
        use std::io::Read;
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut all = self.0.lock();
        all.retain(|_, made| made.elapsed() < SESSION_TTL);
        if all.len() >= MAX_SESSIONS {
            if let Some(oldest) = all.iter().min_by_key(|(_, m)| **m).map(|(k, _)| k.clone()) {
                all.remove(&oldest);
            }
        }
        all.insert(id.clone(), Instant::now());
        Ok(id)
    }

    /// Whether `id` is a live session.
    pub fn valid(&self, id: &str) -> bool {
        self.0
            .lock()
            .get(id)
            .is_some_and(|made| made.elapsed() < SESSION_TTL)
    }

    fn close(&self, id: &str) {
        self.0.lock().remove(id);
    }
}

/// The session id in a request's `Cookie` header.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

fn secure_headers(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 6] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ]
}

/// The web console (HTML; its scripts and stylesheet under `/console/`).
#[utoipa::path(get, path = "/", security(()), responses((status = 200, description = "The console page", content_type = "text/html")))]
pub(super) async fn index() -> Response {
    (secure_headers("text/html; charset=utf-8"), INDEX).into_response()
}

/// One of the console's scripts or its stylesheet.
#[utoipa::path(get, path = "/console/{file}", security(()),
    params(("file" = String, Path, description = "`app.js`, `style.css`, …")),
    responses((status = 200, description = "The file"), (status = 404, description = "No such file", body = ErrorBody)))]
pub(super) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (secure_headers(kind), *body).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such console file"),
    }
}

/// Whether this service needs a token, and whether the caller is signed in.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LoginState {
    pub token_required: bool,
    pub signed_in: bool,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The API token (as in `--api-token-file`).
    pub token: String,
}

/// Whether a token is needed and whether this browser's session cookie is live.
#[utoipa::path(get, path = "/api/login", security(()), responses(
    (status = 200, description = "Sign-in state", body = LoginState),
))]
pub(super) async fn state(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    let signed_in = service.token.is_none()
        || session_cookie(&headers).is_some_and(|id| service.sessions.valid(id));
    Json(LoginState {
        token_required: service.token.is_some(),
        signed_in,
    })
    .into_response()
}

/// Sign in with the API token: sets the session cookie.
#[utoipa::path(post, path = "/api/login", security(()), request_body = Login, responses(
    (status = 204, description = "Signed in (Set-Cookie)"),
    (status = 401, description = "Wrong token", body = ErrorBody),
))]
pub(super) async fn login(
    State(service): State<Arc<Service>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    let login: Login = match super::api::json_body(bytes) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let Some(token) = &service.token else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if !super::api::same(login.token.as_bytes(), token.as_bytes()) {
        tokio::time::sleep(WRONG_TOKEN_DELAY).await;
        return error(StatusCode::UNAUTHORIZED, "wrong token");
    }
    let id = match service.sessions.open() {
        Ok(id) => id,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let cookie = format!(
        "{COOKIE}={id}; Path=/api; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// Sign out: the session ends and the cookie is cleared.
#[utoipa::path(delete, path = "/api/login", security(()), responses(
    (status = 204, description = "Signed out"),
))]
pub(super) async fn logout(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        service.sessions.close(id);
    }
    let cookie = format!("{COOKIE}=; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_bounded_and_read_from_the_cookie() {
        let s = Sessions::default();
        let a = s.open().unwrap();
        let b = s.open().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(s.valid(&a) && !s.valid("nope"));
        for _ in 0..MAX_SESSIONS {
            s.open().unwrap();
        }
        assert!(!s.valid(&a), "the oldest went");
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "x=1; ovstream_session=abc; y=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        assert!(!CSP.contains("unsafe"));
        for (name, _, body) in ASSETS {
            let body = body.replace("'http://www.w3.org/2000/svg'", ""); // a namespace name
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "{name}"
            );
            assert!(
                !body.contains("innerHTML") && !body.contains("eval("),
                "{name}"
            );
        }
        assert!(!INDEX.contains("<script>") && !INDEX.contains("style="));
    }
}
