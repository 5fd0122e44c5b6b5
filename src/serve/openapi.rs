//! The OpenAPI 3 description served at `/api/openapi.json`, generated (utoipa) from the
//! handlers' `#[utoipa::path]` attributes in [`super::api`] and the request and response types
//! they name (their doc comments become the descriptions), so it cannot drift from the code; a
//! test checks that every route is in it.

use super::{api, clips, console, events, faces, live};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ovstream serve",
        description = "Streams (cameras, files under media roots) added, changed and removed \
                       while one compiled model serves them all."
    ),
    paths(
        api::list,
        api::add,
        api::one,
        api::patch,
        api::remove,
        api::snapshot,
        live::info,
        live::mp4,
        live::mjpeg,
        events::list,
        events::thumbnail,
        clips::list,
        clips::sidecar,
        clips::video,
        clips::thumbnail,
        clips::remove,
        faces::list,
        faces::add,
        faces::rename,
        faces::remove,
        faces::sample,
        faces::remove_sample,
        faces::recognize,
        faces::unknowns,
        faces::name_unknown,
        faces::forget,
        faces::unknown_sample,
        console::index,
        console::asset,
        console::state,
        console::login,
        console::logout,
        api::openapi,
        api::healthz,
        api::ready,
        api::metrics
    ),
    modifiers(&Bearer),
    security(("bearer" = []))
)]
struct ApiDoc;

/// `Authorization: Bearer <token>` on `/api/*` (when the service has a token).
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document, as JSON.
pub fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
}

#[cfg(test)]
mod tests {
    /// The schemas come from the Rust types: their fields and doc comments are there.
    #[test]
    fn bodies_are_described_from_their_types() {
        let doc = super::document();
        let schemas = &doc["components"]["schemas"];
        for name in [
            "StreamSpec",
            "StreamView",
            "StreamPatch",
            "ZoneConfig",
            "LineConfig",
        ] {
            assert!(schemas.get(name).is_some(), "{name} missing: {schemas}");
        }
        let spec = &schemas["StreamSpec"];
        assert!(spec["required"]
            .as_array()
            .unwrap()
            .contains(&"input".into()));
        assert!(spec["properties"]["zones"].is_object(), "{spec}");
        assert!(schemas["ZoneConfig"]["properties"]["polygon"]["items"]["type"] == "array");
        let bearer = &doc["components"]["securitySchemes"]["bearer"];
        assert_eq!(bearer["scheme"], "bearer", "{doc}");
        let post = &doc["paths"]["/api/streams"]["post"];
        assert!(post["responses"].get("409").is_some(), "{post}");
        assert_eq!(
            doc["paths"]["/healthz"]["get"]["security"],
            serde_json::json!([{}])
        );
    }

    #[test]
    fn every_route_is_described() {
        let doc = super::document();
        let source = include_str!("api.rs");
        let routes: Vec<&str> = source
            .match_indices(".route(")
            .filter_map(|(i, _)| source[i..].split('"').nth(1))
            .collect();
        assert!(routes.len() >= 8, "{routes:?}");
        for r in routes {
            assert!(
                doc["paths"].get(r).is_some(),
                "{r} is not in the OpenAPI document"
            );
        }
    }
}
