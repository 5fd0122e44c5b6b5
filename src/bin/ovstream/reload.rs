//! Hot reload of the analytics tables in `ovstream run`: the pipeline file is re-read when it
//! changes (modification time or size, checked every [`POLL`]) or on SIGHUP, and each source's
//! zones and lines are replaced in the running pipeline — decode and inference go on, lines
//! that keep their name keep their counts. A file that no longer loads is reported and the
//! running tables stay.

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
