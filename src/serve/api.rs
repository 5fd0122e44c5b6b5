//! The HTTP API (axum): JSON in and out, errors as `{"error": "…"}` with the status that
//! says why. `/api/*` needs `Authorization: Bearer <token>` when the service has a token
//! (compared in constant time; the console's session cookie does for `GET`); `/healthz`,
//! `/readyz`, `/metrics`, `/api/login` and the console's static files stay open. Cross-site
//! requests and foreign `Host`s are refused before that ([`super::guard`]). Bodies over
//! [`MAX_BODY`] are refused (413); every request has [`REQUEST_TIMEOUT`].
//!
//! | method | path | does |
//! |---|---|---|
//! | GET | `/api/streams` | every stream ([`super::streams::StreamView`]) |
//! | POST | `/api/streams` | add `{"name", "input", "zones"?, "lines"?, "threshold"?, "classes"?}` → 201 |
//! | GET | `/api/streams/{name}` | one stream |
//! | PATCH | `/api/streams/{name}` | `{"zones"?, "lines"?, "threshold"?, "classes"?}` live, decode untouched |
//! | DELETE | `/api/streams/{name}` | stop it, finalize its outputs → 204 |
//! | GET | `/api/streams/{name}/snapshot.jpg` | its last frame, annotated (`?raw=1`: as decoded) |
//! | GET | `/api/streams/{name}/live.mp4` | annotated fragmented MP4 (H.264) for MSE, chunked |
//! | GET | `/api/streams/{name}/live.mjpeg?fps=&width=` | annotated MJPEG (`multipart/x-mixed-replace`) |
//! | GET | `/api/streams/{name}/live` | codecs, viewers and URLs of its live view |
//! | GET | `/api/events?source=&type=&limit=` | the most recent events, newest first |
//! | GET | `/api/events/{event_id}/thumbnail.jpg` | the event's object, cropped ([`super::events`]) |
//! | GET | `/api/clips?source=&since=&until=&label=&limit=` | event recordings, newest first |
//! | GET | `/api/clips/{id}` (`.mp4`, `.jpg`) | a clip's sidecar, video (HTTP Range), thumbnail |
//! | DELETE | `/api/clips/{id}` | delete a finished clip → 204 |
//! | GET | `/api/faces` | the gallery's people and their samples ([`super::faces`]) |
//! | POST/PATCH/DELETE | `/api/faces/{name}` | enroll a photo (201), rename, delete |
//! | GET/DELETE | `/api/faces/{name}/samples/{id}(.jpg)` | a sample's aligned crop, delete it |
//! | POST | `/api/faces/recognize` | every face in a photo: name or `unknown`, `unknown_id` |
//! | GET | `/api/faces/unknown` | remembered unknown people |
//! | POST | `/api/faces/unknown/{unknown_id}/name` | `{"name"}`: its samples join the gallery |
//! | DELETE | `/api/faces/unknown/{unknown_id}` | forget it |
//! | GET/POST/DELETE | `/api/login` | sign-in state; sign in with the token (session cookie); sign out |
//! | GET | `/`, `/console/{file}` | the web console ([`super::console`]) |
//! | GET | `/api/openapi.json` | an OpenAPI 3 description of this API |
//! | GET | `/healthz`, `/readyz`, `/metrics` | liveness, readiness, Prometheus text |

use super::control::Command;
use super::streams::StreamView;
use super::streams::{Refusal, StreamPatch, StreamSpec};
use super::Service;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body (64 KiB).
pub const MAX_BODY: usize = 64 * 1024;
/// Longest any request may take (a DELETE waits for the stream's outputs to be finalized).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type Shared = Arc<Service>;

/// The body of every error response.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, naming the field, file or stream.
    pub error: String,
}

/// The API's routes over `service`.
pub fn router(service: Shared) -> Router {
    // Image uploads (`/api/faces`) have their own limit.
    let images = DefaultBodyLimit::max(service.max_image_bytes);
    let api = Router::new()
        .route("/api/streams", get(list).post(add))
        .route("/api/streams/{name}", get(one).patch(patch).delete(remove))
        .route("/api/streams/{name}/snapshot.jpg", get(snapshot))
        .route("/api/streams/{name}/live", get(super::live::info))
        .route("/api/streams/{name}/live.mp4", get(super::live::mp4))
        .route("/api/streams/{name}/live.mjpeg", get(super::live::mjpeg))
        .route("/api/events", get(super::events::list))
        .route(
            "/api/events/{event_id}/thumbnail.jpg",
            get(super::events::thumbnail),
        )
        .route("/api/clips", get(super::clips::list))
        .route(
            "/api/clips/{id}",
            get(super::clips::get_one).delete(super::clips::remove),
        )
        .route("/api/faces", get(super::faces::list))
        .route(
            "/api/faces/recognize",
            post(super::faces::recognize).layer(images),
        )
        .route("/api/faces/unknown", get(super::faces::unknowns))
        .route(
            "/api/faces/unknown/{unknown_id}",
            delete(super::faces::forget),
        )
        .route(
            "/api/faces/unknown/{unknown_id}/name",
            post(super::faces::name_unknown),
        )
        .route(
            "/api/faces/unknown/{unknown_id}/samples/{id}",
            get(super::faces::unknown_sample),
        )
        .route(
            "/api/faces/{name}",
            post(super::faces::add)
                .layer(images)
                .patch(super::faces::rename)
                .delete(super::faces::remove),
        )
        .route(
            "/api/faces/{name}/samples/{id}",
            get(super::faces::sample).delete(super::faces::remove_sample),
        )
        .route("/api/openapi.json", get(openapi))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&service),
            authorize,
        ))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&service),
            super::guard::same_site,
        ));
    // Signing in needs no token (it is how the console gets its cookie), but the same-site
    // checks.
    let login = Router::new()
        .route(
            "/api/login",
            get(super::console::state)
                .post(super::console::login)
                .delete(super::console::logout),
        )
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&service),
            super::guard::same_site,
        ));
    Router::new()
        .merge(api)
        .merge(login)
        .route("/", get(super::console::index))
        .route("/console/{file}", get(super::console::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(timeout))
        .with_state(service)
}

/// 200 while the process serves.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "Alive")))]
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: message.into(),
    };
    (status, Json(body)).into_response()
}

pub(super) fn refused(r: Refusal) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, r.message)
}

/// Every error is `{"error": …}`: axum's own answers (405, a query or path that does not
/// parse, a body over the limit) come as plain text or empty, and are rewritten here.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let reason = status.canonical_reason().unwrap_or("error");
    let message = match text.trim() {
        "" => reason.to_string(),
        t => t.chars().take(500).collect(),
    };
    let mut json = error(status, message);
    // Keep what the status needs (`Allow` of a 405, `WWW-Authenticate`, `Retry-After`).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

async fn timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(StatusCode::GATEWAY_TIMEOUT, "the request took too long"),
    }
}

/// Equal without an early exit (no timing leak of how much of a token matched).
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

/// The bearer token, or (for `GET`/`HEAD` only: what `<video>` and `<img>` fetch) the console's
/// session cookie.
async fn authorize(
    State(service): State<Shared>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &service.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let reads = matches!(*request.method(), Method::GET | Method::HEAD);
        let session = reads
            && super::console::session_cookie(&headers)
                .is_some_and(|id| service.sessions.valid(id));
        if !session && !same(given.as_bytes(), token.as_bytes()) {
            let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("header"));
            return r;
        }
    }
    next.run(request).await
}

/// The JSON body as `T`: 413 over the limit, 400 when it is not JSON, 422 when it is JSON of
/// the wrong shape.
pub(super) fn json_body<T: DeserializeOwned>(
    bytes: Result<Bytes, BytesRejection>,
) -> Result<T, Box<Response>> {
    let bytes = bytes.map_err(|r| {
        let status = r.status();
        Box::new(error(status, r.body_text()))
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        use serde_json::error::Category;
        Box::new(match e.classify() {
            Category::Data => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            _ => error(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")),
        })
    })
}

/// Every stream.
#[utoipa::path(get, path = "/api/streams", responses(
    (status = 200, description = "The streams", body = [StreamView]),
    (status = 401, description = "Missing or wrong token", body = ErrorBody),
))]
pub(super) async fn list(State(service): State<Shared>) -> Response {
    Json(service.list()).into_response()
}

/// One stream.
#[utoipa::path(get, path = "/api/streams/{name}", params(("name" = String, Path, description = "The stream's name, `[A-Za-z0-9_-]{1,64}`")), responses(
    (status = 200, description = "The stream", body = StreamView),
    (status = 404, description = "No such stream", body = ErrorBody),
))]
pub(super) async fn one(State(service): State<Shared>, Path(name): Path<String>) -> Response {
    match service.get(&name) {
        Some(v) => Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no stream named {name}")),
    }
}

/// Add a stream; it opens in the background.
#[utoipa::path(post, path = "/api/streams", request_body = StreamSpec, responses(
    (status = 201, description = "Added (it opens in the background)", body = StreamView),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 401, description = "Missing or wrong token", body = ErrorBody),
    (status = 409, description = "The name or an output file is taken", body = ErrorBody),
    (status = 413, description = "Body over 64 KiB", body = ErrorBody),
    (status = 422, description = "Invalid name, input, geometry or outputs", body = ErrorBody),
    (status = 503, description = "The state file could not be written: not added", body = ErrorBody),
))]
pub(super) async fn add(
    State(service): State<Shared>,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    let spec: StreamSpec = match json_body(bytes) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Err(r) = service.check(&spec) {
        return refused(r);
    }
    match service.add(spec) {
        Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
        Err(r) => refused(r),
    }
}

/// Change zones, lines, threshold or classes while it runs (decode untouched).
#[utoipa::path(patch, path = "/api/streams/{name}", params(("name" = String, Path, description = "The stream's name, `[A-Za-z0-9_-]{1,64}`")), request_body = StreamPatch,
    responses(
        (status = 200, description = "Changed", body = StreamView),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 422, description = "Invalid geometry or filter", body = ErrorBody),
    ))]
pub(super) async fn patch(
    State(service): State<Shared>,
    Path(name): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    let patch: StreamPatch = match json_body(bytes) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    service.send(Command::Patch(name.clone(), patch, tx));
    match rx.await {
        Ok(Ok(_)) => match service.get(&name) {
            Some(v) => Json(v).into_response(),
            None => error(StatusCode::NOT_FOUND, format!("no stream named {name}")),
        },
        Ok(Err(r)) => refused(r),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the service is stopping"),
    }
}

/// Stop it and finalize its outputs.
#[utoipa::path(delete, path = "/api/streams/{name}", params(("name" = String, Path, description = "The stream's name, `[A-Za-z0-9_-]{1,64}`")), responses(
    (status = 204, description = "Removed; its outputs are finalized"),
    (status = 404, description = "No such stream", body = ErrorBody),
))]
pub(super) async fn remove(State(service): State<Shared>, Path(name): Path<String>) -> Response {
    let (tx, rx) = tokio::sync::oneshot::channel();
    service.send(Command::Remove(name, tx));
    match rx.await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(r)) => refused(r),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the service is stopping"),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct SnapshotQuery {
    #[serde(default)]
    raw: Option<String>,
}

/// The last frame as JPEG, annotated unless `raw=1`.
#[utoipa::path(get, path = "/api/streams/{name}/snapshot.jpg",
    params(
        ("name" = String, Path, description = "The stream's name"),
        ("raw" = Option<String>, Query, description = "`1`: the frame as decoded"),
    ),
    responses(
        (status = 200, description = "JPEG", content_type = "image/jpeg"),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 409, description = "No frame yet, or no raw frame kept", body = ErrorBody),
    ))]
pub(super) async fn snapshot(
    State(service): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<SnapshotQuery>,
) -> Response {
    let raw = q.raw.as_deref().is_some_and(|v| v == "1" || v == "true");
    // Encoding takes a few ms of CPU: off the async workers.
    let result = tokio::task::spawn_blocking(move || service.snapshot(&name, raw)).await;
    match result {
        Ok(Ok(jpeg)) => ([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response(),
        Ok(Err(r)) => refused(r),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// This document (OpenAPI 3, generated from the handlers and their body types).
#[utoipa::path(get, path = "/api/openapi.json", responses((status = 200, description = "OpenAPI 3")))]
pub(super) async fn openapi(State(service): State<Shared>) -> Response {
    Json(service.openapi.as_ref()).into_response()
}

/// 200 when the model is compiled and no stream is starting.
#[utoipa::path(get, path = "/readyz", security(()), responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Not ready", body = ErrorBody),
))]
pub(super) async fn ready(State(service): State<Shared>) -> Response {
    if service.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the model is compiling or a stream is starting",
        )
    }
}

/// The pipeline's Prometheus text, rendered by the pipeline on request (no second server).
/// Prometheus text, as `run --metrics` serves it.
#[utoipa::path(get, path = "/metrics", security(()), responses(
    (status = 200, description = "OpenMetrics text"),
    (status = 503, description = "The pipeline does not answer", body = ErrorBody),
))]
pub(super) async fn metrics(State(service): State<Shared>) -> Response {
    crate::pipeline::http::respond(service.metrics.clone()).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(super::same(b"s3cret", b"s3cret"));
        assert!(!super::same(b"s3cret", b"s3creT"));
        assert!(!super::same(b"s3cre", b"s3cret"));
        assert!(!super::same(b"", b"x"));
    }
}
