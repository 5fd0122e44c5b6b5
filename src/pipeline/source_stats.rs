//! Per-source counters of a multi-source run, shared by the sources, the sink stage, the stats
//! line and the metrics endpoint.

use super::stats::{Edge, LatencySummary, StageStats};
use crate::source::supervise::HealthCell;
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
