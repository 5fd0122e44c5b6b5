//! The schema's numeric ranges agree with what loading and [`PipelineConfig::problems`] accept:
//! every number key of the schema is set, one at a time, to values around its bounds and to
//! extremes, and the schema's verdict (type, `minimum`, `maximum`, `exclusiveMinimum`,
//! `exclusiveMaximum`) must equal the config's.
use super::super::PipelineConfig;
use serde_json::Value as Json;
use std::path::Path;

/// A file with every table the schema knows (but `[recognize]`, which forbids `model.batch >
/// 1`): each number key is probed in the first base whose prefix it starts with.
const EVERYTHING: &str = r#"
[source]
[model]
model = "pedestrian-ssdlite"
[detect]
[track]
[motion]
[output.mqtt]
url = "mqtt://127.0.0.1:1883"
[record]
dir = "clips"
[serve]
[[classify]]
model = "age-gender"
[[classify]]
model = "colour.onnx"
crop = "box"
padding = 0.1
scale = 58.4
mean = [1.0, 2.0, 3.0]
[[classify.outputs]]
name = "colour"
kind = "label"
labels = ["red", "blue"]
[[alerts]]
type = "fall"
label = "Fall"
[[analytics.zones]]
name = "lawn"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
loiter_seconds = 3.0
max_objects = 2
[[sources]]
input = "b.avi"
[sources.record]
dir = "clips-b"
[[sources.analytics.zones]]
name = "door"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
loiter_seconds = 3.0
max_objects = 2
"#;

const RECOGNIZE: &str =
    "[source]\ninput = \"a.avi\"\n[model]\nmodel = \"x\"\n[recognize]\ngallery = \"g\"\n";

const BASES: [(&str, &str); 2] = [("recognize", RECOGNIZE), ("", EVERYTHING)];

/// One step of a key's path: a table, or every table of an array of tables.
#[derive(Clone, Debug)]
enum Step {
    Table(String),
    Each(String),
}

/// A number key: its path, whether it is an integer, its bounds, and alternatives
/// (`anyOf` of bounds or `const`s without a type of their own) of which one must hold.
#[derive(Debug)]
struct NumberKey {
    path: Vec<Step>,
    integer: bool,
    bounds: Bounds,
    alternatives: Vec<Bounds>,
}

impl NumberKey {
    fn admits(&self, v: f64) -> bool {
        self.bounds.admits(v)
            && (self.alternatives.is_empty() || self.alternatives.iter().any(|b| b.admits(v)))
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Bounds {
    min: Option<f64>,
    max: Option<f64>,
    exclusive_min: Option<f64>,
    exclusive_max: Option<f64>,
}

impl Bounds {
    fn read(node: &Json, into: &mut Self) {
        // Nested layers all apply: the tighter bound wins.
        let get = |k: &str| node.get(k).and_then(Json::as_f64);
        let tighter =
            |old: Option<f64>, new: Option<f64>, pick: fn(f64, f64) -> f64| match (old, new) {
                (Some(a), Some(b)) => Some(pick(a, b)),
                (a, b) => a.or(b),
            };
        into.min = tighter(into.min, get("minimum").or(get("const")), f64::max);
        into.max = tighter(into.max, get("maximum").or(get("const")), f64::min);
        into.exclusive_min = tighter(into.exclusive_min, get("exclusiveMinimum"), f64::max);
        into.exclusive_max = tighter(into.exclusive_max, get("exclusiveMaximum"), f64::min);
    }

    fn admits(&self, v: f64) -> bool {
        self.min.is_none_or(|m| v >= m)
            && self.max.is_none_or(|m| v <= m)
            && self.exclusive_min.is_none_or(|m| v > m)
            && self.exclusive_max.is_none_or(|m| v < m)
    }
}

fn name(path: &[Step]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|s| match s {
            Step::Table(k) => k.clone(),
            Step::Each(k) => format!("{k}[]"),
        })
        .collect();
    parts.join(".")
}

fn resolve<'a>(root: &'a Json, node: &'a Json) -> &'a Json {
    match node.get("$ref").and_then(Json::as_str) {
        Some(r) => {
            let def = r.rsplit('/').next().unwrap();
            resolve(root, &root["$defs"][def])
        }
        None => node,
    }
}

fn types(node: &Json) -> Vec<&str> {
    match node.get("type") {
        Some(Json::String(t)) => vec![t.as_str()],
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Walks the schema: tables, arrays of tables and `Option`/`anyOf` wrappers; number keys are
/// collected with the bounds of every layer that wraps them. Arrays of numbers (points,
/// sizes) and maps (`model.properties`) are not keys.
fn walk(root: &Json, node: &Json, path: &[Step], bounds: Bounds, out: &mut Vec<NumberKey>) {
    let mut bounds = bounds;
    Bounds::read(node, &mut bounds); // beside a `$ref`
    let node = resolve(root, node);
    Bounds::read(node, &mut bounds);
    let mut alternatives = Vec::new();
    for branch in ["anyOf", "oneOf", "allOf"] {
        for b in node
            .get(branch)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if b.get("type").is_none() && b.get("$ref").is_none() {
                let mut alt = Bounds::default();
                Bounds::read(b, &mut alt);
                alternatives.push(alt);
            } else {
                walk(root, b, path, bounds, out);
            }
        }
    }
    let ts = types(node);
    if ts.contains(&"integer") || ts.contains(&"number") {
        out.push(NumberKey {
            path: path.to_vec(),
            integer: !ts.contains(&"number"),
            bounds,
            alternatives,
        });
    }
    if let Some(props) = node.get("properties").and_then(Json::as_object) {
        for (k, v) in props {
            let table_items = resolve(root, v)
                .get("items")
                .map(|i| resolve(root, i))
                .filter(|i| i.get("properties").is_some());
            let mut p = path.to_vec();
            match table_items {
                Some(items) => {
                    p.push(Step::Each(k.clone()));
                    walk(root, items, &p, Bounds::default(), out);
                }
                None => {
                    p.push(Step::Table(k.clone()));
                    walk(root, v, &p, Bounds::default(), out);
                }
            }
        }
    }
}

/// Sets `path` to `value` in `doc`: plain tables are made where missing; an array of tables
/// must be in the base (each of its tables that has the path's next array gets the value).
/// False when the base lacks it.
fn set(doc: &mut toml::Value, path: &[Step], value: &toml::Value) -> bool {
    let table = doc.as_table_mut().expect("a table");
    match path {
        [Step::Table(k)] => {
            table.insert(k.clone(), value.clone());
            true
        }
        [Step::Table(k), rest @ ..] => {
            let next = table
                .entry(k.clone())
                .or_insert_with(|| toml::Value::Table(toml::map::Map::new()));
            set(next, rest, value)
        }
        [Step::Each(k), rest @ ..] => match table.get_mut(k).and_then(|v| v.as_array_mut()) {
            // Every table, not only up to the first that takes it.
            Some(items) => {
                items
                    .iter_mut()
                    .map(|t| set(t, rest, value))
                    .filter(|b| *b)
                    .count()
                    > 0
            }
            None => false,
        },
        [] => false,
    }
}

/// Values to try: the bounds, just past them, and extremes.
fn probes(key: &NumberKey) -> Vec<f64> {
    let edges = std::iter::once(&key.bounds)
        .chain(&key.alternatives)
        .flat_map(|b| [b.min, b.max, b.exclusive_min, b.exclusive_max]);
    let mut out = vec![-1e9, -1.0, 0.0, 1.0, 2.0, 255.0, 256.0, 1e5, 86_400.0, 1e9];
    if key.integer {
        for e in edges.clone().flatten() {
            out.extend([e - 1.0, e, e + 1.0]);
        }
    } else {
        out.extend([-0.001, 0.001, 0.5, 1.001]);
        for e in edges.flatten() {
            let d = (e.abs() * 1e-3).max(1e-3);
            out.extend([e - d, e, e + d]);
        }
    }
    out.retain(|v| v.abs() <= 9.0e15);
    out
}

fn accepted(text: &str) -> Result<(), String> {
    let path = Path::new("probe.toml");
    let config = PipelineConfig::parse(text, path).map_err(|e| e.to_string())?;
    match config.problems(path).first() {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

#[test]
fn schema_ranges_agree_with_validation() {
    let schema: Json = serde_json::from_str(&super::pipeline_schema()).unwrap();
    let mut keys = Vec::new();
    walk(&schema, &schema, &[], Bounds::default(), &mut keys);
    assert!(keys.len() > 40, "found only {} number keys", keys.len());
    for (_, base) in BASES {
        accepted(base).unwrap_or_else(|e| panic!("the base is not valid: {e}\n{base}"));
    }
    let mut disagreements = Vec::new();
    for key in &keys {
        let key_name = name(&key.path);
        let (_, base) = BASES
            .iter()
            .find(|(prefix, _)| key_name.starts_with(prefix))
            .unwrap();
        for v in probes(key) {
            let value = if key.integer {
                toml::Value::Integer(v as i64)
            } else {
                toml::Value::Float(v)
            };
            let mut doc: toml::Value = toml::from_str(base).unwrap();
            assert!(
                set(&mut doc, &key.path, &value),
                "the base has no `{key_name}`: add an example of its table"
            );
            let text = toml::to_string(&doc).unwrap();
            let schema_says = key.admits(v);
            let config_says = accepted(&text);
            if schema_says != config_says.is_ok() {
                disagreements.push(format!(
                    "{key_name} = {value}: schema {}, config {config_says:?}",
                    if schema_says { "accepts" } else { "refuses" }
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
