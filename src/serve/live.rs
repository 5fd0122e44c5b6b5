//! `/api/streams/{name}/live…`: the live view of a stream ([`crate::live`]) over plain HTTP —
//! fragmented MP4 for a browser's Media Source Extensions, MJPEG for an `<img>`, and what a
//! client needs to know to play them. Responses are chunked and end when the stream ends or
//! the viewer falls behind for `[serve] viewer_timeout`; every viewer counts toward `[serve]
//! max_viewers` (503 beyond).

use super::api::{error, refused, ErrorBody};
use super::streams::Refusal;
use super::Service;
use crate::live::{self, Chunk, Kind, Live, Track};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;
use tokio::sync::mpsc;

type Shared = Arc<Service>;

/// The live view's limits from `[serve]` (validated with the pipeline file).
pub(super) fn options(serve: &crate::config::ServeConfig) -> crate::live::LiveOptions {
    let defaults = crate::live::LiveOptions::default();
    crate::live::LiveOptions {
        max_viewers: serve.max_viewers.unwrap_or(defaults.max_viewers),
        viewer_timeout: serve
            .viewer_timeout
            .map_or(defaults.viewer_timeout, std::time::Duration::from_secs_f64),
    }
}

/// The stream's hub, or why there is none.
fn hub(service: &Service, name: &str) -> Result<Arc<Live>, Refusal> {
    let streams = service.streams.read();
    let entry = streams
        .get(name)
        .ok_or_else(|| Refusal::new(404, format!("no stream named {name}")))?;
    entry.live().ok_or_else(|| {
        Refusal::new(
            409,
            format!("stream {name} has not started (state: {})", entry.state()),
        )
    })
}

fn full(live: &Live, max: usize) -> Response {
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "stream {} has {max} viewers, the most [serve] max_viewers allows",
            live.name
        ),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    r
}

/// A chunked body from a viewer's queue; counts bytes and latency as they are handed over.
fn body(live: Arc<Live>, kind: Kind, rx: mpsc::Receiver<Chunk>) -> Body {
    let stream = futures_util::stream::unfold((rx, live), move |(mut rx, live)| async move {
        let chunk = rx.recv().await?;
        live.stats.sent(kind, chunk.bytes.len(), chunk.first_frame);
        Some((
            Ok::<Bytes, std::convert::Infallible>(chunk.bytes),
            (rx, live),
        ))
    });
    Body::from_stream(stream)
}

fn streaming(content_type: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // A viewer cut off for staying behind is closed, not kept alive.
            (header::CONNECTION, "close"),
        ],
        body,
    )
        .into_response()
}

/// Annotated fragmented MP4 (H.264): the init segment, then fragments from a keyframe on,
/// (`?raw=1`: the camera's own video — its H.264 packets copied, no re-encode, when it has
/// them; else the frames as decoded, encoded),
/// each at most 0.1 s long (a frame longer at low rates). Play it with `MediaSource` and the codecs of `…/live`.
#[utoipa::path(get, path = "/api/streams/{name}/live.mp4",
    params(
        ("name" = String, Path, description = "The stream's name"),
        ("raw" = Option<String>, Query, description = "`1`: the camera's own video (copied when it is H.264)"),
    ),
    responses(
        (status = 200, description = "Fragmented MP4, chunked, until the stream ends", content_type = "video/mp4"),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 409, description = "The stream has not started, or `raw` of a stream drawn on in place with nothing to copy", body = ErrorBody),
        (status = 503, description = "max_viewers reached", body = ErrorBody),
    ))]
pub(super) async fn mp4(
    State(service): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<Mp4Query>,
) -> Response {
    let live = match hub(&service, &name) {
        Ok(l) => l,
        Err(r) => return refused(r),
    };
    let raw = q.raw.as_deref().is_some_and(|v| v == "1" || v == "true");
    if raw && !live.copies() && draws_in_place(&service, &name) {
        return error(
            StatusCode::CONFLICT,
            format!(
                "stream {name} writes annotated video and has no H.264 to copy: its frames are \
                 drawn on, no raw frame is kept"
            ),
        );
    }
    let track = if raw { Track::Raw } else { Track::Annotated };
    match live.join_mp4(track) {
        Ok(rx) => streaming("video/mp4", body(Arc::clone(&live), Kind::Mp4, rx)),
        Err(live::Full(max)) => full(&live, max),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Mp4Query {
    raw: Option<String>,
}

/// Whether the stream's own outputs draw on its frames (then no undrawn frame exists).
fn draws_in_place(service: &Service, name: &str) -> bool {
    service
        .streams
        .read()
        .get(name)
        .and_then(|e| e.stats.as_ref().map(|s| s.draw))
        .unwrap_or(false)
}

#[derive(serde::Deserialize)]
pub(super) struct MjpegQuery {
    fps: Option<f64>,
    width: Option<u32>,
}

/// Annotated JPEG pictures as `multipart/x-mixed-replace` (an `<img>` shows it).
#[utoipa::path(get, path = "/api/streams/{name}/live.mjpeg",
    params(
        ("name" = String, Path, description = "The stream's name"),
        ("fps" = Option<f64>, Query, description = "Pictures per second (default 5, at most 30; never more than the stream has)"),
        ("width" = Option<u32>, Query, description = "Scaled to this width, aspect kept (16 to 3840)"),
    ),
    responses(
        (status = 200, description = "MJPEG, until the stream ends", content_type = "multipart/x-mixed-replace"),
        (status = 400, description = "fps or width out of range", body = ErrorBody),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 409, description = "The stream has not started", body = ErrorBody),
        (status = 503, description = "max_viewers reached", body = ErrorBody),
    ))]
pub(super) async fn mjpeg(
    State(service): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<MjpegQuery>,
) -> Response {
    let fps = q.fps.unwrap_or(live::DEFAULT_MJPEG_FPS);
    if !(fps > 0.0 && fps <= live::MAX_MJPEG_FPS) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "fps {fps}: expected above 0, at most {}",
                live::MAX_MJPEG_FPS
            ),
        );
    }
    if let Some(w) = q.width.filter(|w| !live::MJPEG_WIDTHS.contains(w)) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "width {w}: expected {} to {}",
                live::MJPEG_WIDTHS.start(),
                live::MJPEG_WIDTHS.end()
            ),
        );
    }
    let live = match hub(&service, &name) {
        Ok(l) => l,
        Err(r) => return refused(r),
    };
    match live.join_mjpeg(fps, q.width) {
        Ok(rx) => streaming(
            &format!(
                "multipart/x-mixed-replace; boundary={}",
                live::mjpeg::BOUNDARY
            ),
            body(Arc::clone(&live), Kind::Mjpeg, rx),
        ),
        Err(live::Full(max)) => full(&live, max),
    }
}

/// What a client needs to play a stream's live view.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LiveView {
    pub name: String,
    /// For `MediaSource.isTypeSupported` / `addSourceBuffer`: `video/mp4; codecs="avc1.42C01F"`
    /// (the running encoder's; before it ran, Constrained Baseline level 4.0).
    pub mime: String,
    /// The same for `?raw=1`, once its muxer ran (the camera's own profile when copied).
    pub raw_mime: Option<String>,
    /// `?raw=1` copies the camera's own H.264 (no re-encode); else it encodes the frames.
    pub raw_copied: bool,
    /// The annotated H.264 is the stream's MP4 output's (one encoder for the file, the viewers
    /// and RTSP); `encoding` is then about the live view's own encoder (never started).
    pub shared_encoder: bool,
    /// Viewers now, by kind (`mp4`, `mjpeg`), and the most allowed (all kinds together).
    pub viewers: Viewers,
    pub max_viewers: usize,
    /// The H.264 encoder runs (only while `live.mp4` has viewers or the RTSP mount clients).
    pub encoding: bool,
    /// Latency from a frame's result to its bytes on a socket, ms (`null` before any).
    pub latency_ms: Option<super::streams::Latency>,
    /// Fragments or pictures viewers missed (their queues were full).
    pub drops: u64,
    pub urls: Urls,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Viewers {
    pub mp4: usize,
    pub mjpeg: usize,
    /// RTSP media being fed (one per mount, shared by all its clients).
    pub rtsp: usize,
}

/// Paths of the stream's live views (relative to the API's origin).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Urls {
    pub mp4: String,
    /// The camera's own video.
    pub raw: String,
    pub mjpeg: String,
    pub snapshot: String,
    /// `rtsp://HOST:PORT/{name}` when `[serve] rtsp` re-streams it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtsp: Option<String>,
}

/// Codecs, viewer counts and URLs of the stream's live view.
#[utoipa::path(get, path = "/api/streams/{name}/live",
    params(("name" = String, Path, description = "The stream's name")),
    responses(
        (status = 200, description = "The live view", body = LiveView),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 409, description = "The stream has not started", body = ErrorBody),
    ))]
pub(super) async fn info(State(service): State<Shared>, Path(name): Path<String>) -> Response {
    let live = match hub(&service, &name) {
        Ok(l) => l,
        Err(r) => return refused(r),
    };
    let s = &live.stats;
    let base = format!("/api/streams/{name}");
    Json(LiveView {
        mime: format!(
            "video/mp4; codecs=\"{}\"",
            live.codecs(Track::Annotated)
                .as_deref()
                .unwrap_or(DEFAULT_CODECS)
        ),
        raw_mime: live
            .codecs(Track::Raw)
            .map(|c| format!("video/mp4; codecs=\"{c}\"")),
        raw_copied: live.copies(),
        shared_encoder: live.shares_encoder(),
        viewers: Viewers {
            mp4: s.viewers(Kind::Mp4),
            mjpeg: s.viewers(Kind::Mjpeg),
            rtsp: s.rtsp_media.load(std::sync::atomic::Ordering::Relaxed),
        },
        max_viewers: live.options.max_viewers,
        encoding: s.encoding.load(std::sync::atomic::Ordering::Relaxed),
        latency_ms: s
            .latency_ms()
            .map(|(p50, p99)| super::streams::Latency { p50, p99 }),
        drops: s.drops.load(std::sync::atomic::Ordering::Relaxed),
        urls: Urls {
            mp4: format!("{base}/live.mp4"),
            raw: format!("{base}/live.mp4?raw=1"),
            mjpeg: format!("{base}/live.mjpeg"),
            snapshot: format!("{base}/snapshot.jpg"),
            rtsp: live.rtsp_url(),
        },
        name,
    })
    .into_response()
}

/// Constrained Baseline, level 4.0: what the encoder makes up to 1080p30.
const DEFAULT_CODECS: &str = "avc1.42C028";
