//! The OpenAPI 3 description served at `/api/openapi.json`, written out by hand beside the
//! routes it describes ([`super::api`]); a test checks that every route is in it.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn name_parameter() -> Value {
    json!({"name": "name", "in": "path", "required": true,
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}})
}

/// The document.
pub fn document() -> Value {
    let stream = json!({"$ref": "#/components/schemas/Stream"});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "ovstream serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Streams (cameras, files under media roots) added, changed and removed while one compiled model serves them all."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}}},
                "Zone": {"type": "object", "description": "An [[analytics.zones]] table", "required": ["name", "polygon"],
                         "properties": {"name": {"type": "string"},
                                        "polygon": {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}},
                                        "classes": {"type": "array", "items": {"type": "string"}},
                                        "inertia": {"type": "integer"}, "loiter_seconds": {"type": "number"},
                                        "max_objects": {"type": "integer"},
                                        "point": {"type": "string", "enum": ["bottom_center", "center"]},
                                        "units": {"type": "string", "enum": ["normalized", "pixels"]}}},
                "Line": {"type": "object", "description": "An [[analytics.lines]] table", "required": ["name", "points"],
                         "properties": {"name": {"type": "string"},
                                        "points": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}, "minItems": 2, "maxItems": 2},
                                        "in": {"type": "array", "items": {"type": "number"}},
                                        "classes": {"type": "array", "items": {"type": "string"}},
                                        "point": {"type": "string", "enum": ["bottom_center", "center"]},
                                        "units": {"type": "string", "enum": ["normalized", "pixels"]}}},
                "NewStream": {"type": "object", "required": ["name", "input"],
                              "properties": {"name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                                             "input": {"type": "string", "description": "rtsp://, rtsps://, http(s)://, test://, /dev/videoN, or a file under [serve] media_roots"},
                                             "zones": {"type": "array", "items": {"$ref": "#/components/schemas/Zone"}},
                                             "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                                             "threshold": {"type": "number", "description": "At least the pipeline file's threshold"},
                                             "classes": {"type": "array", "items": {"type": "string"}},
                                             "outputs": {"$ref": "#/components/schemas/Outputs"}}},
                "Outputs": {"type": "object", "description": "This stream's files instead of [output]'s, relative to [serve] output_root; {name} is the stream's name",
                            "properties": {"mp4": {"type": "string"}, "metadata": {"type": "string"}, "events": {"type": "string"}}},
                "StreamPatch": {"type": "object",
                                "properties": {"zones": {"type": "array", "items": {"$ref": "#/components/schemas/Zone"}},
                                               "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                                               "threshold": {"type": "number"},
                                               "classes": {"type": "array", "items": {"type": "string"}}}},
                "Stream": {"type": "object",
                           "properties": {"name": {"type": "string"}, "input": {"type": "string"},
                                          "state": {"type": "string", "enum": ["starting", "streaming", "reconnecting", "failed", "finished"]},
                                          "frames": {"type": "integer"}, "fps": {"type": "number"},
                                          "drops": {"type": "integer"}, "reconnects": {"type": "integer"},
                                          "latency_ms": {"type": "object", "properties": {"p50": {"type": "number"}, "p99": {"type": "number"}}},
                                          "frame_gap_ms": {"type": "object", "description": "Wall time between consecutive results", "properties": {"p50": {"type": "number"}, "p99": {"type": "number"}, "max": {"type": "number"}}},
                                          "last_error": {"type": "string", "nullable": true},
                                          "model": {"type": "string"},
                                          "zones": {"type": "array", "items": {"$ref": "#/components/schemas/Zone"}},
                                          "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                                          "threshold": {"type": "number"},
                                          "classes": {"type": "array", "items": {"type": "string"}},
                                          "outputs": {"$ref": "#/components/schemas/Outputs"}}}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/streams": {
                "get": {"summary": "Every stream", "responses": {
                    "200": {"description": "The streams", "content": {"application/json": {"schema": {"type": "array", "items": stream}}}},
                    "401": error_response("Missing or wrong token")}},
                "post": {"summary": "Add a stream",
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewStream"}}}},
                         "responses": {
                    "201": {"description": "Added (it opens in the background)", "content": {"application/json": {"schema": stream}}},
                    "400": error_response("Malformed JSON"),
                    "401": error_response("Missing or wrong token"),
                    "409": error_response("The name exists"),
                    "413": error_response("Body over 64 KiB"),
                    "422": error_response("Invalid name, input or geometry")}}
            },
            "/api/streams/{name}": {
                "parameters": [name_parameter()],
                "get": {"summary": "One stream", "responses": {
                    "200": {"description": "The stream", "content": {"application/json": {"schema": stream}}},
                    "404": error_response("No such stream")}},
                "patch": {"summary": "Change zones and lines while it runs",
                          "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StreamPatch"}}}},
                          "responses": {
                    "200": {"description": "Changed", "content": {"application/json": {"schema": stream}}},
                    "404": error_response("No such stream"),
                    "422": error_response("Invalid geometry")}},
                "delete": {"summary": "Stop it and finalize its outputs", "responses": {
                    "204": {"description": "Removed; its outputs are finalized"},
                    "404": error_response("No such stream")}}
            },
            "/api/streams/{name}/snapshot.jpg": {
                "parameters": [name_parameter(),
                               {"name": "raw", "in": "query", "schema": {"type": "string", "enum": ["1"]}}],
                "get": {"summary": "The last frame as JPEG, annotated unless raw=1", "responses": {
                    "200": {"description": "JPEG", "content": {"image/jpeg": {}}},
                    "404": error_response("No such stream"),
                    "409": error_response("No frame yet, or no raw frame kept")}}
            },
            "/api/events": {
                "get": {"summary": "The most recent events, newest first",
                        "parameters": [{"name": "source", "in": "query", "schema": {"type": "string"}},
                                       {"name": "type", "in": "query", "schema": {"type": "string"}},
                                       {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": super::MAX_EVENTS}}],
                        "responses": {"200": {"description": "Events (object and analytics events, as in the events file)",
                                              "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}}}
            },
            "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
            "/healthz": {"get": {"summary": "200 while the process serves", "security": [], "responses": {"200": {"description": "Alive"}}}},
            "/readyz": {"get": {"summary": "200 when the model is compiled and no stream is starting", "security": [],
                                "responses": {"200": {"description": "Ready"}, "503": error_response("Not ready")}}},
            "/metrics": {"get": {"summary": "Prometheus text (as --metrics)", "security": [], "responses": {"200": {"description": "OpenMetrics text"}}}}
        }
    })
}

#[cfg(test)]
mod tests {
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
