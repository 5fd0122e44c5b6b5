//! `/api/faces`: the face library of a face-recognition service ([`crate::face::library`]) —
//! people enrolled from uploaded photos, faces recognized in a photo, remembered unknown people
//! named or forgotten — applied to every running stream from its next frame. Images come as
//! the raw body (`image/jpeg`, `image/png`) or as the first part of a `multipart/form-data`
//! body, up to `[serve] max_image_bytes` (413 above). Face crops leave only through these
//! (authenticated) endpoints.

use super::api::{error, ErrorBody};
use super::Service;
use crate::face::library::{FaceLibrary, LibraryError, Person, RecognizedFace, Sample};
use crate::face::unknown::Unknown;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

type Shared = Arc<Service>;

/// A remembered unknown person, as `GET /api/faces/unknown` lists it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UnknownView {
    pub unknown_id: u64,
    /// Its face crops: `/api/faces/unknown/{unknown_id}/samples/{id}.jpg`.
    pub samples: Vec<UnknownSampleView>,
    /// RFC 3339, UTC.
    pub first_seen: String,
    pub last_seen: String,
    /// Streams it was seen on.
    pub cameras: Vec<String>,
    /// Appearances (tracks) matched to it.
    pub count: u64,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UnknownSampleView {
    pub id: String,
    pub url: String,
}

/// `{"name": "…"}`: a new name (PATCH) or the name an unknown person gets.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    pub name: String,
}

fn view(u: Unknown) -> UnknownView {
    let time = |ms: u64| {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
        humantime::format_rfc3339_seconds(t).to_string()
    };
    UnknownView {
        samples: u
            .samples
            .iter()
            .map(|s| UnknownSampleView {
                url: format!("/api/faces/unknown/{}/samples/{}.jpg", u.unknown_id, s.id),
                id: s.id.clone(),
            })
            .collect(),
        unknown_id: u.unknown_id,
        first_seen: time(u.first_seen),
        last_seen: time(u.last_seen),
        cameras: u.cameras.into_iter().collect(),
        count: u.count,
    }
}

fn failed(e: LibraryError) -> Response {
    let status = match &e {
        LibraryError::NotAnImage(_)
        | LibraryError::NoFace
        | LibraryError::SeveralFaces(_)
        | LibraryError::TooSmall(_)
        | LibraryError::BadName(_) => StatusCode::UNPROCESSABLE_ENTITY,
        LibraryError::NoPerson(_) | LibraryError::NoSample(..) | LibraryError::NoUnknown(_) => {
            StatusCode::NOT_FOUND
        }
        LibraryError::NameTaken(_) | LibraryError::NotRemembering => StatusCode::CONFLICT,
        LibraryError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

/// Runs `f` on the library off the async workers.
async fn with_library<T: Send + 'static>(
    service: &Service,
    f: impl FnOnce(&FaceLibrary) -> Result<T, LibraryError> + Send + 'static,
) -> Result<T, Response> {
    let Some(library) = service.faces.clone() else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "this service recognizes no faces: its pipeline file has no [recognize] table",
        ));
    };
    match tokio::task::spawn_blocking(move || f(&library)).await {
        Ok(r) => r.map_err(failed),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// The uploaded image: the raw body, or the first part of a multipart body.
async fn image(request: Request) -> Result<Bytes, Response> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    if !multipart {
        return Bytes::from_request(request, &())
            .await
            .map_err(|r| error(r.status(), r.body_text()));
    }
    let mut parts = Multipart::from_request(request, &())
        .await
        .map_err(|r| error(r.status(), r.body_text()))?;
    match parts.next_field().await {
        Ok(Some(field)) => field
            .bytes()
            .await
            .map_err(|e| error(e.status(), e.body_text())),
        Ok(None) => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the multipart body has no part",
        )),
        Err(e) => Err(error(e.status(), e.body_text())),
    }
}

fn json_name(
    bytes: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<String, Box<Response>> {
    super::api::json_body::<NameBody>(bytes).map(|b| b.name)
}

fn unknown_id(text: &str) -> Result<u64, Box<Response>> {
    text.parse().map_err(|_| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            format!("no remembered unknown person {text:?}"),
        ))
    })
}

/// The people of the gallery.
#[utoipa::path(get, path = "/api/faces", responses(
    (status = 200, description = "People, by name", body = [Person]),
    (status = 404, description = "No [recognize] table", body = ErrorBody),
))]
pub(super) async fn list(State(service): State<Shared>) -> Response {
    match with_library(&service, |l| Ok(l.people())).await {
        Ok(p) => Json(p).into_response(),
        Err(r) => r,
    }
}

/// Enroll a photo of `name`: exactly one face, at least 40 px.
#[utoipa::path(post, path = "/api/faces/{name}",
    params(("name" = String, Path, description = "The person (made when new)")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "JPEG or PNG, raw or as the first multipart part"),
    responses(
        (status = 201, description = "Enrolled", body = Sample),
        (status = 413, description = "Over [serve] max_image_bytes", body = ErrorBody),
        (status = 422, description = "Not an image, no face, several faces, face too small, bad name", body = ErrorBody),
    ))]
pub(super) async fn add(
    State(service): State<Shared>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let bytes = match image(request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match with_library(&service, move |l| l.add_sample(&name, &bytes)).await {
        Ok(s) => (StatusCode::CREATED, Json(s)).into_response(),
        Err(r) => r,
    }
}

/// Rename a person.
#[utoipa::path(patch, path = "/api/faces/{name}",
    params(("name" = String, Path, description = "The person")),
    request_body = NameBody,
    responses(
        (status = 204, description = "Renamed"),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 409, description = "The new name is taken", body = ErrorBody),
    ))]
pub(super) async fn rename(
    State(service): State<Shared>,
    Path(name): Path<String>,
    bytes: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let to = match json_name(bytes) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    match with_library(&service, move |l| l.rename(&name, &to)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// Delete a person and every sample of it.
#[utoipa::path(delete, path = "/api/faces/{name}",
    params(("name" = String, Path, description = "The person")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such person", body = ErrorBody)))]
pub(super) async fn remove(State(service): State<Shared>, Path(name): Path<String>) -> Response {
    match with_library(&service, move |l| l.delete_person(&name)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// A sample's aligned face crop (`GET …/{id}.jpg`).
#[utoipa::path(get, path = "/api/faces/{name}/samples/{id}",
    params(("name" = String, Path, description = "The person"), ("id" = String, Path, description = "The sample's id, with `.jpg`")),
    responses((status = 200, description = "JPEG", content_type = "image/jpeg"), (status = 404, description = "No such sample", body = ErrorBody)))]
pub(super) async fn sample(
    State(service): State<Shared>,
    Path((name, file)): Path<(String, String)>,
) -> Response {
    let id = file.strip_suffix(".jpg").unwrap_or(&file).to_string();
    match with_library(&service, move |l| l.sample_jpeg(&name, &id)).await {
        Ok(jpeg) => jpeg_response(jpeg),
        Err(r) => r,
    }
}

/// Delete one sample (`DELETE …/samples/{id}`).
#[utoipa::path(delete, path = "/api/faces/{name}/samples/{id}",
    params(("name" = String, Path, description = "The person"), ("id" = String, Path, description = "The sample")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such sample", body = ErrorBody)))]
pub(super) async fn remove_sample(
    State(service): State<Shared>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let id = id.strip_suffix(".jpg").unwrap_or(&id).to_string();
    match with_library(&service, move |l| l.delete_sample(&name, &id)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// Every face in a photo: box, name or `unknown`, similarity, `unknown_id`.
#[utoipa::path(post, path = "/api/faces/recognize",
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "JPEG or PNG, raw or as the first multipart part"),
    responses(
        (status = 200, description = "The faces", body = [RecognizedFace]),
        (status = 413, description = "Over [serve] max_image_bytes", body = ErrorBody),
        (status = 422, description = "Not an image", body = ErrorBody),
    ))]
pub(super) async fn recognize(State(service): State<Shared>, request: Request) -> Response {
    let bytes = match image(request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match with_library(&service, move |l| l.recognize(&bytes)).await {
        Ok(faces) => Json(faces).into_response(),
        Err(r) => r,
    }
}

/// The remembered unknown people, most recently seen first.
#[utoipa::path(get, path = "/api/faces/unknown", responses(
    (status = 200, description = "Unknown people", body = [UnknownView]),
))]
pub(super) async fn unknowns(State(service): State<Shared>) -> Response {
    let list = with_library(&service, |l| {
        Ok(l.unknowns.as_ref().map(|s| s.list()).unwrap_or_default())
    })
    .await;
    match list {
        Ok(l) => Json(l.into_iter().map(view).collect::<Vec<_>>()).into_response(),
        Err(r) => r,
    }
}

/// Name a remembered unknown person: its samples join the gallery as `name`.
#[utoipa::path(post, path = "/api/faces/unknown/{unknown_id}/name",
    params(("unknown_id" = u64, Path, description = "The unknown person")),
    request_body = NameBody,
    responses(
        (status = 201, description = "Named: the samples added", body = [Sample]),
        (status = 404, description = "No such unknown person", body = ErrorBody),
    ))]
pub(super) async fn name_unknown(
    State(service): State<Shared>,
    Path(id): Path<String>,
    bytes: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let (id, name) = match (unknown_id(&id), json_name(bytes)) {
        (Ok(i), Ok(n)) => (i, n),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    match with_library(&service, move |l| l.name_unknown(id, &name)).await {
        Ok(samples) => (StatusCode::CREATED, Json(samples)).into_response(),
        Err(r) => r,
    }
}

/// Forget a remembered unknown person (its samples are deleted).
#[utoipa::path(delete, path = "/api/faces/unknown/{unknown_id}",
    params(("unknown_id" = u64, Path, description = "The unknown person")),
    responses((status = 204, description = "Forgotten"), (status = 404, description = "No such unknown person", body = ErrorBody)))]
pub(super) async fn forget(State(service): State<Shared>, Path(id): Path<String>) -> Response {
    let id = match unknown_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    match with_library(&service, move |l| l.forget_unknown(id)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// A remembered unknown person's face crop.
#[utoipa::path(get, path = "/api/faces/unknown/{unknown_id}/samples/{id}",
    params(("unknown_id" = u64, Path, description = "The unknown person"), ("id" = String, Path, description = "The sample's id, with `.jpg`")),
    responses((status = 200, description = "JPEG", content_type = "image/jpeg"), (status = 404, description = "No such sample", body = ErrorBody)))]
pub(super) async fn unknown_sample(
    State(service): State<Shared>,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let id = match unknown_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let sample = file.strip_suffix(".jpg").unwrap_or(&file).to_string();
    let found = with_library(&service, move |l| {
        Ok(l.unknowns.as_ref().and_then(|s| s.sample(id, &sample)))
    })
    .await;
    match found {
        Ok(Some(jpeg)) => jpeg_response(jpeg),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no such sample of unknown person {id}"),
        ),
        Err(r) => r,
    }
}

fn jpeg_response(jpeg: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        jpeg,
    )
        .into_response()
}
