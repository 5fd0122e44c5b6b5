//! Hot reload of the analytics tables in `ovstream run`: the pipeline file is re-read when it
//! changes (modification time or size, checked every [`POLL`]) or on SIGHUP, and each source's
//! zones and lines are replaced in the running pipeline — decode and inference go on, lines
//! that keep their name keep their counts. A file that no longer loads is reported and the
//! running tables stay; edits outside the analytics tables are named as waiting for a restart.

use crate::{load_config, Overrides};
use ovstream::config::AnalyticsConfig;
use ovstream::pipeline::{Pipeline, SourceId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often the pipeline file's stamp is checked.
const POLL: Duration = Duration::from_millis(250);

/// Modification time and size of the file (`None` when it cannot be read).
pub fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Watches the pipeline file of `overrides` and `hup` (raised on SIGHUP) until every source of
/// `pipeline` has ended; `current[i]` is what source `ids[i]` (named `names[i]`) runs with now,
/// read from the file when its stamp was `loaded` (taken before the model compiled, so an edit
/// made while it compiled is picked up at once).
///
/// # Errors
/// None today (the signature matches the pipeline's control hook).
pub fn watch(
    pipeline: &Pipeline<'_, '_>,
    ids: &[SourceId],
    names: &[String],
    overrides: &Overrides,
    mut current: Vec<Option<Arc<AnalyticsConfig>>>,
    loaded: Option<(SystemTime, u64)>,
    hup: &AtomicBool,
) -> ovstream::Result<()> {
    let path = overrides.pipeline.as_path();
    let mut last = loaded;
    let mut settings = other_settings(path);
    while !pipeline.all_ended() {
        std::thread::sleep(POLL);
        let now = stamp(path);
        let signaled = hup.swap(false, Ordering::SeqCst);
        if now == last && !signaled {
            continue;
        }
        last = now;
        let config = match load_config(overrides) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("analytics not reloaded (the running zones and lines stay): {e}");
                continue;
            }
        };
        let now_settings = other_settings(path);
        let changed = changed_tables(&settings, &now_settings);
        if !changed.is_empty() {
            eprintln!(
                "{}: edits to {} apply at the next start (only the analytics tables reload)",
                path.display(),
                changed.join(", ")
            );
            settings = now_settings;
        }
        for ((&id, name), running) in ids.iter().zip(names).zip(current.iter_mut()) {
            let new = config.analytics_for(name);
            if new == *running {
                continue;
            }
            match pipeline.set_analytics(id, new.clone()) {
                Ok(()) => {
                    let (z, l) = new
                        .as_ref()
                        .map_or((0, 0), |a| (a.zones.len(), a.lines.len()));
                    eprintln!(
                        "analytics reloaded from {} for {name}: {z} zone(s), {l} line(s)",
                        path.display()
                    );
                    *running = new;
                }
                Err(e) => eprintln!("analytics not reloaded for {name}: {e}"),
            }
        }
    }
    Ok(())
}

/// The file's tables other than the analytics ones (`[analytics]`, `analytics` of each
/// `[[sources]]`), as parsed TOML (empty when it does not parse).
fn other_settings(path: &std::path::Path) -> toml::Table {
    let text = ovstream::config::read_capped(path, ovstream::config::MAX_TEXT_FILE_BYTES)
        .unwrap_or_default();
    let mut table: toml::Table = text.parse().unwrap_or_default();
    table.remove("analytics");
    if let Some(toml::Value::Array(sources)) = table.get_mut("sources") {
        for s in sources.iter_mut().filter_map(toml::Value::as_table_mut) {
            s.remove("analytics");
        }
    }
    table
}

/// The top-level keys whose value differs between `before` and `after`, sorted.
fn changed_tables(before: &toml::Table, after: &toml::Table) -> Vec<String> {
    let mut keys: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("[{k}]"))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_edits_outside_the_analytics_tables_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        let read = |text: &str| {
            std::fs::write(&file, text).unwrap();
            other_settings(&file)
        };
        let zone = "[[analytics.zones]]\nname = \"z\"\n[[sources]]\ninput = \"a\"\n";
        let a = read(&format!("[detect]\nthreshold = 0.5\n{zone}"));
        let moved = read(&format!(
            "[detect]\nthreshold = 0.5\n{zone}[[sources.analytics.lines]]\nname = \"l\"\n"
        ));
        assert!(
            changed_tables(&a, &moved).is_empty(),
            "analytics edits reload"
        );
        let b = read(&format!(
            "[detect]\nthreshold = 0.6\n[output]\nmp4 = \"o.mp4\"\n{zone}"
        ));
        assert_eq!(changed_tables(&a, &b), ["[detect]", "[output]"]);
    }
}
