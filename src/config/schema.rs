//! The pipeline file's JSON Schema (`ovstream config schema`), derived from the config types
//! with schemars; this file holds the schemas of the values serde reads in its own way.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

/// The JSON Schema of a pipeline file (`[source]`, `[model]`, … with each key's doc comment,
/// type and default), as a pretty-printed JSON document.
pub fn pipeline_schema() -> String {
    let schema = schemars::schema_for!(super::PipelineConfig);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}

/// A size in bytes: a number, or text such as `"8 MiB"`, `"20GB"`.
pub struct Bytes;

impl JsonSchema for Bytes {
    fn schema_name() -> Cow<'static, str> {
        "Bytes".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size in bytes: a number, or text such as \"8 MiB\" or \"20GB\".",
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^\\s*[0-9.]+\\s*[A-Za-z]*\\s*$"}
            ]
        })
    }
}

/// An OpenVINO property value: text, a number or a boolean (`true` is sent as `YES`).
pub struct PropertyValue;

impl JsonSchema for PropertyValue {
    fn schema_name() -> Cow<'static, str> {
        "PropertyValue".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": ["string", "number", "boolean"]})
    }
}

impl JsonSchema for super::Nireq {
    fn schema_name() -> Cow<'static, str> {
        "Nireq".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Infer requests in flight, or \"auto\" to measure the best.",
            "anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]
        })
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
