//! `[[alerts]]`: a tracked object that keeps one label long enough becomes an alert event —
//! a `Fall` held for 2 s of stream time is the fall alarm elderly-care users want (a single
//! frame's `Fall` is not).
//!
//! ```toml
//! [[alerts]]
//! type = "fall"          # the event's `type` in the events file and on MQTT
//! label = "Fall"         # the class a track must carry …
//! min_duration = 2.0     # … for this many seconds of stream time
//! max_gap = 0.5          # seconds it may be missed (other label, not detected) within a run
//! attribute = "age<16"   # optional: only objects whose classifier attribute matches
//! ```
//! `attribute` compares a `[[classify]]` attribute: `name=label` / `name!=label` for labels
//! (a `multi` attribute matches when it has the label), `name<N`, `<=`, `>`, `>=` for values.

use super::MAX_SECONDS;
use serde::Deserialize;

/// Default seconds a label must be held.
pub const DEFAULT_MIN_DURATION: f64 = 2.0;
/// Default seconds of interruption a run survives.
pub const DEFAULT_MAX_GAP: f64 = 0.5;
/// Most `[[alerts]]` tables.
pub const MAX_ALERTS: usize = 32;
/// Event types the object events already use.
const RESERVED: [&str; 3] = ["new", "update", "end"];

/// One `[[alerts]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct AlertConfig {
    /// The event's `type`: `[a-z0-9_]{1,32}`, not `new`/`update`/`end`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The class name a track must carry (a label of the model).
    pub label: String,
    /// Seconds of stream time the label must be held.
    #[serde(default = "default_min_duration")]
    #[cfg_attr(feature = "cli", schemars(range(min = 0.0, max = crate::config::MAX_SECONDS)))]
    pub min_duration: f64,
    /// Seconds the label may be missing within one run.
    #[serde(default = "default_max_gap")]
    #[cfg_attr(feature = "cli", schemars(range(min = 0.0, max = crate::config::MAX_SECONDS)))]
    pub max_gap: f64,
    /// Only objects whose classifier attribute matches (`gender=female`, `age>=60`); a frame
    /// where it does not counts as missed.
    #[serde(default)]
    pub attribute: Option<String>,
}

/// How an `attribute` filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed `attribute` filter: `name`, how, and the label or number compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeFilter {
    pub name: String,
    pub compare: Compare,
    pub label: String,
    /// The right side as a number (needed by `<`, `<=`, `>`, `>=`).
    pub number: Option<f32>,
}

impl AttributeFilter {
    /// Parses `name=label`, `name!=label`, `name<N`, `name<=N`, `name>N`, `name>=N`.
    ///
    /// # Errors
    /// What is wrong with `text`.
    pub fn parse(text: &str) -> Result<Self, String> {
        const OPS: [(&str, Compare); 6] = [
            ("!=", Compare::Ne),
            ("<=", Compare::Le),
            (">=", Compare::Ge),
            ("=", Compare::Eq),
            ("<", Compare::Lt),
            (">", Compare::Gt),
        ];
        let (at, op, compare) = OPS
            .iter()
            .filter_map(|(op, c)| text.find(op).map(|at| (at, *op, *c)))
            .min_by_key(|(at, op, _)| (*at, usize::MAX - op.len()))
            .ok_or_else(|| {
                format!("{text:?}: use name=label, name!=label or name<N (<=, >, >=)")
            })?;
        let (name, label) = (text[..at].trim(), text[at + op.len()..].trim());
        if name.is_empty() || label.is_empty() {
            return Err(format!(
                "{text:?}: a name and a value on both sides of `{op}`"
            ));
        }
        let number = label.parse::<f32>().ok().filter(|n| n.is_finite());
        if !matches!(compare, Compare::Eq | Compare::Ne) && number.is_none() {
            return Err(format!("{text:?}: `{op}` compares numbers"));
        }
        Ok(AttributeFilter {
            name: name.to_string(),
            compare,
            label: label.to_string(),
            number,
        })
    }
}

impl AlertConfig {
    /// An alert of `kind` for `label` held [`DEFAULT_MIN_DURATION`] seconds.
    pub fn new(kind: impl Into<String>, label: impl Into<String>) -> Self {
        AlertConfig {
            kind: kind.into(),
            label: label.into(),
            min_duration: DEFAULT_MIN_DURATION,
            max_gap: DEFAULT_MAX_GAP,
            attribute: None,
        }
    }
}

fn default_min_duration() -> f64 {
    DEFAULT_MIN_DURATION
}
fn default_max_gap() -> f64 {
    DEFAULT_MAX_GAP
}

/// Checks every table.
///
/// # Errors
/// A message naming the alert and what is wrong.
pub fn validate(alerts: &[AlertConfig]) -> Result<(), String> {
    if alerts.len() > MAX_ALERTS {
        return Err(format!(
            "{} [[alerts]] tables: at most {MAX_ALERTS}",
            alerts.len()
        ));
    }
    for a in alerts {
        let name_ok = (1..=32).contains(&a.kind.len())
            && a.kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok || RESERVED.contains(&a.kind.as_str()) {
            return Err(format!(
                "alerts.type {:?}: use 1 to 32 of a-z 0-9 _, not new/update/end",
                a.kind
            ));
        }
        if a.label.trim().is_empty() {
            return Err(format!("alerts `{}`: label is empty", a.kind));
        }
        if !(a.min_duration >= 0.0 && a.min_duration <= MAX_SECONDS) {
            return Err(format!(
                "alerts `{}`: min_duration = {} is outside [0, {MAX_SECONDS}] s",
                a.kind, a.min_duration
            ));
        }
        if let Some(Err(e)) = a.attribute.as_deref().map(AttributeFilter::parse) {
            return Err(format!("alerts `{}`: attribute {e}", a.kind));
        }
        if !(a.max_gap >= 0.0 && a.max_gap <= MAX_SECONDS) {
            return Err(format!(
                "alerts `{}`: max_gap = {} is outside [0, {MAX_SECONDS}] s",
                a.kind, a.max_gap
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_filters_parse_and_bad_ones_say_why() {
        let f = AttributeFilter::parse("gender=female").unwrap();
        assert_eq!(
            (f.name.as_str(), f.compare, f.label.as_str()),
            ("gender", Compare::Eq, "female")
        );
        let f = AttributeFilter::parse("age >= 60").unwrap();
        assert_eq!(
            (f.name.as_str(), f.compare, f.number),
            ("age", Compare::Ge, Some(60.0))
        );
        assert_eq!(
            AttributeFilter::parse("age<16").unwrap().compare,
            Compare::Lt
        );
        assert_eq!(
            AttributeFilter::parse("gender!=male").unwrap().compare,
            Compare::Ne
        );
        assert!(AttributeFilter::parse("age>old")
            .unwrap_err()
            .contains("numbers"));
        assert!(AttributeFilter::parse("gender").is_err());
        assert!(AttributeFilter::parse("=male").is_err());
    }
}
