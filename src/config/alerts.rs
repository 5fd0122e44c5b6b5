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
//! ```

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
pub struct AlertConfig {
    /// The event's `type`: `[a-z0-9_]{1,32}`, not `new`/`update`/`end`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The class name a track must carry (a label of the model).
    pub label: String,
    /// Seconds of stream time the label must be held.
    #[serde(default = "default_min_duration")]
    pub min_duration: f64,
    /// Seconds the label may be missing within one run.
    #[serde(default = "default_max_gap")]
    pub max_gap: f64,
}

impl AlertConfig {
    /// An alert of `kind` for `label` held [`DEFAULT_MIN_DURATION`] seconds.
    pub fn new(kind: impl Into<String>, label: impl Into<String>) -> Self {
        AlertConfig {
            kind: kind.into(),
            label: label.into(),
            min_duration: DEFAULT_MIN_DURATION,
            max_gap: DEFAULT_MAX_GAP,
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
        if !(a.max_gap >= 0.0 && a.max_gap <= MAX_SECONDS) {
            return Err(format!(
                "alerts `{}`: max_gap = {} is outside [0, {MAX_SECONDS}] s",
                a.kind, a.max_gap
            ));
        }
    }
    Ok(())
}
