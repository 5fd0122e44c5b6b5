//! Per-source counters of a multi-source run, shared by the sources, the sink stage, the stats
//! line and the metrics endpoint.

use super::stats::{Edge, EdgeSummary, LatencySummary, StageStats};
use crate::source::supervise::{HealthCell, SupervisedReport};
use std::sync::atomic::{AtomicU64, Ordering};

/// One source's live counters.
pub struct SourceStats {
    /// Unique name: JSON `"source"`, metric label, `{name}` in output paths.
    pub name: String,
    pub uri: String,
    /// The source's own `decoded` edge (live sources drop their oldest frames here).
    pub decoded: Edge,
    /// Frames written by the sink stage.
    pub written: AtomicU64,
    pub health: HealthCell,
    pub end_to_end: StageStats,
}

impl SourceStats {
    pub fn new(name: &str, uri: &str, decoded_capacity: usize) -> Self {
        SourceStats {
            name: name.to_string(),
            uri: uri.to_string(),
            decoded: Edge::new("decoded", decoded_capacity),
            written: AtomicU64::new(0),
            health: HealthCell::default(),
            end_to_end: StageStats::new("end-to-end"),
        }
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

/// What one source reports at the end of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceSummary {
    pub name: String,
    pub uri: String,
    pub frames: u64,
    /// Frames per second over the whole run.
    pub fps: f64,
    pub end_to_end: LatencySummary,
    /// Frames dropped on the `decoded` edge (live sources under overload).
    pub drops: u64,
    pub reconnects: u32,
    pub health: String,
    /// Decode problems that lost frames (see `source::Damage`).
    pub damage: Option<String>,
}

impl SourceSummary {
    /// The summary of a source that ran for `seconds` and ended with `report`.
    pub fn new(stats: &SourceStats, report: &SupervisedReport, live: bool, seconds: f64) -> Self {
        SourceSummary {
            name: stats.name.clone(),
            uri: stats.uri.clone(),
            frames: stats.written(),
            fps: stats.written() as f64 / seconds.max(1e-9),
            end_to_end: stats.end_to_end.summary(),
            drops: stats.decoded.drops(),
            reconnects: report.reconnects,
            health: report.health.to_string(),
            // A file that lost frames is an input error; a live stream that lost some on the
            // network is logged (warning) and keeps its exit code.
            damage: (!live && !report.report.damage.is_empty())
                .then(|| report.report.damage.describe()),
        }
    }
}

/// Every source's damage, prefixed with its name when there are several; `None` when none.
pub fn combined_damage(sources: &[SourceSummary]) -> Option<String> {
    let several = sources.len() > 1;
    let all: Vec<String> = sources
        .iter()
        .filter_map(|s| {
            let d = s.damage.as_ref()?;
            Some(if several {
                format!("{}: {d}", s.name)
            } else {
                d.clone()
            })
        })
        .collect();
    (!all.is_empty()).then(|| all.join("; "))
}

/// Every source's health at the end (`streaming`; `door streaming, yard failed`).
pub fn combined_health(sources: &[SourceSummary]) -> String {
    let several = sources.len() > 1;
    sources
        .iter()
        .map(|s| {
            if several {
                format!("{} {}", s.name, s.health)
            } else {
                s.health.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sources' `decoded` edges as one: the deepest queue, all drops.
pub fn decoded_edge(sources: &[SourceStats]) -> EdgeSummary {
    EdgeSummary {
        name: "decoded",
        capacity: sources
            .iter()
            .map(|s| s.decoded.capacity)
            .max()
            .unwrap_or(0),
        high_water: sources
            .iter()
            .map(|s| s.decoded.high_water())
            .max()
            .unwrap_or(0),
        drops: sources.iter().map(|s| s.decoded.drops()).sum(),
    }
}
