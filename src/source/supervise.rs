//! Supervision of live sources: a live source that errors, ends or stalls is torn down and
//! opened again with exponential backoff; frame numbers and timestamps continue (the
//! [`Cursor`] outlives each connection). Files run once: their end is the end.

use super::{Cursor, Output, Playback, Source, SourceEnd, SourceReport};
use crate::backoff::Backoff;
use crate::error::{Error, Result};
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Default time without a frame after which a live source counts as stalled.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// First reconnect delay; doubles up to [`DEFAULT_BACKOFF_MAX`].
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Streaming this long resets the backoff and the reconnect count.
pub const DEFAULT_HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// Granularity of the interruptible backoff sleep.
const SLEEP_STEP: Duration = Duration::from_millis(100);

/// Reconnect policy for live sources.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Supervision {
    pub stall_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub healthy_after: Duration,
    /// Give up after this many reconnects in a row; `None`: never.
    pub max_reconnects: Option<u32>,
}

impl Default for Supervision {
    fn default() -> Self {
        Supervision {
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            healthy_after: DEFAULT_HEALTHY_AFTER,
            max_reconnects: None,
        }
    }
}

/// Health of a source, logged on every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Starting,
    Streaming,
    Reconnecting,
    Failed,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Starting => "starting",
            Health::Streaming => "streaming",
            Health::Reconnecting => "reconnecting",
            Health::Failed => "failed",
        })
    }
}

impl Health {
    const ALL: [Health; 4] = [
        Health::Starting,
        Health::Streaming,
        Health::Reconnecting,
        Health::Failed,
    ];
}

/// A source's current health, readable from other threads (the periodic stats log, the
/// service's stream list): the state, reconnects so far, and why it last reconnected.
#[derive(Debug, Default)]
pub struct HealthCell {
    state: AtomicU8,
    reconnects: std::sync::atomic::AtomicU32,
    last_error: parking_lot::Mutex<Option<String>>,
}

impl HealthCell {
    pub fn get(&self) -> Health {
        Health::ALL[usize::from(self.state.load(Ordering::Relaxed)).min(Health::ALL.len() - 1)]
    }

    /// Reconnect attempts so far.
    pub fn reconnects(&self) -> u32 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Why the source last reconnected or failed (credentials redacted).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }

    pub(crate) fn set(&self, health: Health, why: &str) {
        self.state.store(health as u8, Ordering::Relaxed);
        if matches!(health, Health::Reconnecting | Health::Failed) && !why.is_empty() {
            *self.last_error.lock() = Some(crate::redact::redact(why));
        }
        if health == Health::Reconnecting {
            self.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a supervised run adds to the last connection's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisedReport {
    pub report: SourceReport,
    pub reconnects: u32,
    pub health: Health,
}

/// Records `next` and logs a change (every reconnect attempt too) as
/// `source NAME (URI): STATE (WHY)`.
fn set_health(source: &str, health: &mut Health, cell: &HealthCell, next: Health, why: &str) {
    cell.set(next, why);
    // Every reconnect attempt is logged, not only the change into that state.
    if *health != next || next == Health::Reconnecting {
        tracing::info!(source, from = %health, to = %next, "{why}");
        eprintln!(
            "source {source}: {next}{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            }
        );
        *health = next;
    }
}

/// Runs `first` (already opened); a live source is reopened from its URI whenever it errors,
/// ends or stalls, until `stop`, downstream closing, `limit`, or `max_reconnects` in a row.
///
/// # Errors
/// A file's error as it is; for a live source, the last error once `max_reconnects` is spent.
pub fn run(
    first: Source,
    playback: Playback,
    policy: &Supervision,
    out: &Output,
) -> Result<SupervisedReport> {
    let uri = first.uri.clone();
    let open_uri = first.open_uri().to_string();
    let label = format!("{} ({uri})", out.name);
    let live = first.live;
    let options = first.options;
    let tap = first.tap.clone();
    let mut health = Health::Starting;
    let mut cursor = Cursor::default();
    let mut playback = playback;
    if live {
        playback.stall_timeout = Some(policy.stall_timeout);
    }
    let mut next = Some(first);
    let mut reconnects = 0u32;
    let mut backoff = Backoff::new(policy.backoff_initial, policy.backoff_max);
    loop {
        let attempt = match next.take() {
            Some(source) => Ok(source),
            None => Source::open_tapped(&open_uri, &options, tap.clone()),
        };
        let started = Instant::now();
        let result = attempt.and_then(|source| {
            let mut streaming =
                || set_health(&label, &mut health, out.health, Health::Streaming, "");
            source.run(playback, &mut cursor, out, &mut streaming)
        });
        let why = match result {
            Ok(report) if !live || report.end != SourceEnd::Eos => {
                return Ok(SupervisedReport {
                    report,
                    reconnects,
                    health,
                });
            }
            Ok(_) => "end of stream".to_string(),
            Err(err) if !live => return Err(err),
            Err(err) => err.to_string(),
        };
        if started.elapsed() >= policy.healthy_after {
            reconnects = 0;
            backoff.reset();
        }
        if policy.max_reconnects.is_some_and(|m| reconnects >= m) {
            set_health(&label, &mut health, out.health, Health::Failed, &why);
            return Err(Error::Input {
                uri,
                message: format!("gave up after {reconnects} reconnect(s): {why}"),
            });
        }
        reconnects += 1;
        set_health(
            &label,
            &mut health,
            out.health,
            Health::Reconnecting,
            &format!("{why}; retry in {} s", backoff.peek().as_secs_f64()),
        );
        let ended = || out.remove.load(Ordering::Relaxed) || out.stop.load(Ordering::Relaxed);
        if !backoff.wait(SLEEP_STEP, ended) {
            let end = if out.remove.load(Ordering::Relaxed) {
                SourceEnd::Removed
            } else {
                SourceEnd::Stopped
            };
            return Ok(SupervisedReport {
                report: SourceReport {
                    end,
                    damage: Default::default(),
                },
                reconnects,
                health,
            });
        }
    }
}
