//! `/api/clips`: the event recordings of every stream ([`crate::record`]), listed from their
//! sidecars; the MP4 with HTTP Range (206, so a browser's `<video>` can seek) and the
//! thumbnail served by `tower-http`'s `ServeFile`. Ids are checked before any file-system
//! access: no path from the client reaches it.

use super::api::{error, ErrorBody};
use super::Service;
use crate::record::library::{self, ClipSummary, Filter, DEFAULT_LIMIT};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;
use tower::ServiceExt;

type Shared = Arc<Service>;

#[derive(serde::Deserialize)]
pub(super) struct ClipQuery {
    source: Option<String>,
    since: Option<String>,
    until: Option<String>,
    label: Option<String>,
    limit: Option<usize>,
}

/// The finished clips, newest first.
#[utoipa::path(get, path = "/api/clips",
    params(
        ("source" = Option<String>, Query, description = "Only this stream's"),
        ("since" = Option<String>, Query, description = "RFC 3339: clips ending at or after it"),
        ("until" = Option<String>, Query, description = "RFC 3339: clips starting at or before it"),
        ("label" = Option<String>, Query, description = "Only clips this label or event type triggered"),
        ("limit" = Option<usize>, Query, description = "At most this many (default 100, at most 1000)"),
    ),
    responses(
        (status = 200, description = "Clips", body = [ClipSummary]),
        (status = 400, description = "A time that is not RFC 3339", body = ErrorBody),
    ))]
pub(super) async fn list(State(service): State<Shared>, Query(q): Query<ClipQuery>) -> Response {
    let time = |key: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| humantime::parse_rfc3339_weak(t).map_err(|e| format!("{key} {t:?}: {e}")))
            .transpose()
    };
    let (since, until) = match (time("since", &q.since), time("until", &q.until)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(m), _) | (_, Err(m)) => return error(StatusCode::BAD_REQUEST, m),
    };
    let filter = Filter {
        source: q.source,
        since,
        until,
        label: q.label,
        limit: q.limit.unwrap_or(DEFAULT_LIMIT),
    };
    let dirs = service.clip_dirs();
    match tokio::task::spawn_blocking(move || library::list(&dirs, &filter)).await {
        Ok(clips) => Json(clips).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The clip's MP4 and whether it is finished (has its sidecar).
async fn locate(service: &Service, id: &str) -> Result<std::path::PathBuf, Response> {
    if !crate::record::valid_clip_id(id) {
        return Err(error(StatusCode::NOT_FOUND, format!("no clip {id:?}")));
    }
    let dirs = service.clip_dirs();
    let wanted = id.to_string();
    tokio::task::spawn_blocking(move || library::find(&dirs, &wanted))
        .await
        .ok()
        .flatten()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no clip {id:?}")))
}

/// `{id}`: the sidecar; `{id}.mp4`: the video; `{id}.jpg`: the thumbnail.
pub(super) async fn get_one(
    State(service): State<Shared>,
    Path(file): Path<String>,
    request: Request,
) -> Response {
    if let Some(id) = file.strip_suffix(".mp4") {
        return video(service, id, request).await;
    }
    if let Some(id) = file.strip_suffix(".jpg") {
        return thumbnail(service, id, request).await;
    }
    sidecar(State(service), Path(file)).await
}

/// The clip's sidecar: times, triggers, the events and objects inside.
#[utoipa::path(get, path = "/api/clips/{id}",
    params(("id" = String, Path, description = "The clip id (`{source}-{unix_ms}`)")),
    responses(
        (status = 200, description = "The sidecar", body = Object),
        (status = 404, description = "No such clip", body = ErrorBody),
        (status = 409, description = "Still being recorded", body = ErrorBody),
    ))]
pub(super) async fn sidecar(State(service): State<Shared>, Path(id): Path<String>) -> Response {
    let mp4 = match locate(&service, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match library::sidecar(&mp4) {
        Some(s) => Json(s).into_response(),
        None => error(StatusCode::CONFLICT, format!("clip {id} is being recorded")),
    }
}

/// Serves `path` with `ServeFile` (Range, conditional requests, content type).
async fn serve_file(path: std::path::PathBuf, request: Request) -> Response {
    match tower_http::services::ServeFile::new(path)
        .oneshot(request)
        .await
    {
        Ok(r) => r.map(axum::body::Body::new).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The clip's MP4; `Range: bytes=…` gives 206 with that part.
#[utoipa::path(get, path = "/api/clips/{id}.mp4",
    params(("id" = String, Path, description = "The clip id")),
    responses(
        (status = 200, description = "The MP4", content_type = "video/mp4"),
        (status = 206, description = "The requested range", content_type = "video/mp4"),
        (status = 404, description = "No such clip", body = ErrorBody),
        (status = 416, description = "A range outside the file"),
    ))]
pub(super) async fn video(service: Shared, id: &str, request: Request) -> Response {
    match locate(&service, id).await {
        Ok(mp4) => serve_file(mp4, request).await,
        Err(r) => r,
    }
}

/// The clip's thumbnail: the trigger's best-scoring frame, annotated.
#[utoipa::path(get, path = "/api/clips/{id}.jpg",
    params(("id" = String, Path, description = "The clip id")),
    responses(
        (status = 200, description = "JPEG", content_type = "image/jpeg"),
        (status = 404, description = "No such clip or no thumbnail yet", body = ErrorBody),
    ))]
pub(super) async fn thumbnail(service: Shared, id: &str, request: Request) -> Response {
    let jpg = match locate(&service, id).await {
        Ok(mp4) => mp4.with_extension("jpg"),
        Err(r) => return r,
    };
    if !jpg.is_file() {
        return error(StatusCode::NOT_FOUND, format!("clip {id} has no thumbnail"));
    }
    serve_file(jpg, request).await
}

/// Deletes a finished clip (its MP4, sidecar and thumbnail).
#[utoipa::path(delete, path = "/api/clips/{id}",
    params(("id" = String, Path, description = "The clip id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such clip", body = ErrorBody),
        (status = 409, description = "Still being recorded", body = ErrorBody),
    ))]
pub(super) async fn remove(State(service): State<Shared>, Path(id): Path<String>) -> Response {
    let mp4 = match locate(&service, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if library::sidecar(&mp4).is_none() {
        return error(StatusCode::CONFLICT, format!("clip {id} is being recorded"));
    }
    match crate::record::retention::delete(&mp4) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("clip {id}: {e}")),
    }
}
