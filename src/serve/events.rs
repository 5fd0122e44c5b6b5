//! `GET /api/events` (the most recent events of every stream, newest first) and each event's
//! thumbnail ([`crate::sink::thumbnails`]): an event that has one carries its URL in
//! `"thumbnail"`.

use super::api::{error, ErrorBody};
use super::Service;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

type Shared = Arc<Service>;

/// Default `limit` of `GET /api/events` (at most [`super::MAX_EVENTS`]).
const DEFAULT_EVENTS: usize = 100;

#[derive(serde::Deserialize)]
pub(super) struct EventsQuery {
    source: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<usize>,
}

/// The most recent events (object and analytics events, as in the events file), newest
/// first; each with a thumbnail has `"thumbnail": "/api/events/{event_id}/thumbnail.jpg"`.
#[utoipa::path(get, path = "/api/events",
    params(
        ("source" = Option<String>, Query, description = "Only this stream's"),
        ("type" = Option<String>, Query, description = "Only this type (`new`, `end`, `zone_enter`, …)"),
        ("limit" = Option<usize>, Query, description = "At most this many (default 100, at most 1000)"),
    ),
    responses((status = 200, description = "Events", body = [Object])))]
pub(super) async fn list(State(service): State<Shared>, Query(q): Query<EventsQuery>) -> Response {
    let limit = q.limit.unwrap_or(DEFAULT_EVENTS).min(super::MAX_EVENTS);
    let mut events = service.events.recent(limit, |e| {
        q.source.as_deref().is_none_or(|s| e["source"] == s)
            && q.kind.as_deref().is_none_or(|t| e["type"] == t)
    });
    let thumbnails = &service.events.thumbnails;
    for e in &mut events {
        let Some(id) = e["event_id"].as_str().filter(|id| thumbnails.contains(id)) else {
            continue;
        };
        let id = percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC);
        let url = format!("/api/events/{id}/thumbnail.jpg");
        e["thumbnail"] = url.into();
    }
    Json(events).into_response()
}

/// The event's object as it looked at its clearest (its track's best-scoring crop so far), or
/// the whole frame for an event without an object; kept for the most recent events (32 MiB).
#[utoipa::path(get, path = "/api/events/{event_id}/thumbnail.jpg",
    params(("event_id" = String, Path, description = "The event's `event_id`")),
    responses(
        (status = 200, description = "JPEG", content_type = "image/jpeg"),
        (status = 404, description = "No thumbnail for that event (none made, or dropped)", body = ErrorBody),
    ))]
pub(super) async fn thumbnail(
    State(service): State<Shared>,
    Path(event_id): Path<String>,
) -> Response {
    let Some(thumb) = service.events.thumbnails.get(&event_id) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no thumbnail for event {event_id}"),
        );
    };
    // Encoding takes a few ms of CPU: off the async workers.
    match tokio::task::spawn_blocking(move || thumb.jpeg()).await {
        Ok(Ok(jpeg)) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            jpeg,
        )
            .into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
