//! Per-source counters of a multi-source run, shared by the sources, the sink stage, the stats
//! line and the metrics endpoint.

use crate::frame::analytics::FrameAnalytics;
use crate::source::supervise::{HealthCell, SupervisedReport};
use crate::telemetry::{Edge, EdgeSummary, LatencySummary, StageStats};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One source's live counters.
pub struct SourceStats {
    /// Unique name: JSON `"source"`, metric label, `{name}` in output paths.
    pub name: String,
    pub uri: String,
    /// The source's own `decoded` edge (live sources drop their oldest frames here).
    pub decoded: Edge,
    /// Frames written by the sink stage.
    pub written: AtomicU64,
    /// Frames the detection interval passed without inference.
    pub skipped: AtomicU64,
    pub health: HealthCell,
    pub end_to_end: StageStats,
    /// Wall time between consecutive written frames (the pacing a viewer sees).
    pub frame_gap: StageStats,
    last_written: parking_lot::Mutex<Option<std::time::Instant>>,
    /// Its outputs show pixels (MP4, display, RTSP): the overlay draws on its frames.
    pub draw: bool,
    /// Its outputs are finalized (it ended, or was removed).
    pub ended: std::sync::atomic::AtomicBool,
    /// It was removed (see [`Self::release`]).
    removed: std::sync::atomic::AtomicBool,
    /// Zone and line totals (the analytics stage; empty without analytics).
    pub analytics: parking_lot::Mutex<AnalyticsTotals>,
    /// Keep the last written frame in `latest` (the service's snapshots; off by default).
    pub keep_latest: std::sync::atomic::AtomicBool,
    pub latest: parking_lot::Mutex<Option<crate::frame::AnalyzedFrame>>,
    /// Its recorder's counters (clips, bytes, errors), when it records.
    pub record: Option<Arc<crate::record::RecordStats>>,
    /// Its live view (the service's streams), for the metrics.
    pub live: parking_lot::Mutex<Option<Arc<crate::live::Live>>>,
}

/// One source's zone and line totals, as the metrics report them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalyticsTotals {
    /// Crossings so far: `(line, direction, label)` → count.
    pub crossings: BTreeMap<(Arc<str>, &'static str, Arc<str>), u64>,
    /// Objects inside now: `(zone, label)` → count (0 kept once a label has been seen).
    pub zone_objects: BTreeMap<(Arc<str>, Arc<str>), u32>,
    /// Zone events so far: `(zone, type)` → count.
    pub zone_events: BTreeMap<(Arc<str>, &'static str), u64>,
}

impl AnalyticsTotals {
    /// Takes one frame's results.
    pub fn add(&mut self, frame: &FrameAnalytics) {
        let g = &frame.geometry;
        for ((line, label), c) in &frame.line_counts_by_label {
            let name = &g.lines[*line].name;
            for (direction, n) in [("in", c.inward), ("out", c.outward)] {
                self.crossings
                    .insert((name.clone(), direction, label.clone()), n);
            }
        }
        for v in self.zone_objects.values_mut() {
            *v = 0;
        }
        for (zone, counts) in g.zones.iter().zip(&frame.zone_counts) {
            for (label, n) in counts {
                self.zone_objects
                    .insert((zone.name.clone(), label.clone()), *n);
            }
        }
        for e in &frame.events {
            if let Some(zone) = &e.zone {
                *self
                    .zone_events
                    .entry((zone.clone(), e.kind.as_str()))
                    .or_default() += 1;
            }
        }
    }
}

impl SourceStats {
    pub fn new(name: &str, uri: &str, decoded_capacity: usize, draw: bool) -> Self {
        SourceStats {
            name: name.to_string(),
            uri: uri.to_string(),
            decoded: Edge::new("decoded", decoded_capacity),
            written: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            health: HealthCell::default(),
            end_to_end: StageStats::new("end-to-end"),
            frame_gap: StageStats::new("frame gap"),
            last_written: Default::default(),
            draw,
            ended: Default::default(),
            analytics: Default::default(),
            keep_latest: Default::default(),
            removed: Default::default(),
            latest: Default::default(),
            record: None,
            live: Default::default(),
        }
    }

    /// Lets go of what a removed source holds beyond its counters: its last frame (whose
    /// buffer keeps the decoder's buffer pool, with its memory and file descriptors, alive)
    /// and its live view; its metric series go at the next scrape.
    pub fn release(&self) {
        self.removed.store(true, Ordering::Relaxed);
        self.keep_latest.store(false, Ordering::Relaxed);
        self.latest.lock().take();
        self.live.lock().take();
        self.end_to_end.freeze();
        self.frame_gap.freeze();
    }

    /// It was removed (a dynamic pipeline's source): the metrics no longer report it.
    pub fn removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Counts one frame written by the sink now, and the gap since the one before.
    pub fn record_written(&self) {
        let now = std::time::Instant::now();
        if let Some(last) = self.last_written.lock().replace(now) {
            self.frame_gap.record(now - last);
        }
        self.written.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every source a pipeline has had, by id (sources join at run time; a removed one stays, so
/// ids stay indexes), shared with the stats line, the metrics endpoint and the overlay.
#[derive(Default)]
pub struct SourceList(RwLock<Vec<Arc<SourceStats>>>);

impl SourceList {
    /// Adds `stats`; returns its id.
    pub fn push(&self, stats: Arc<SourceStats>) -> usize {
        let mut list = self.0.write();
        list.push(stats);
        list.len() - 1
    }

    pub fn get(&self, id: usize) -> Option<Arc<SourceStats>> {
        self.0.read().get(id).cloned()
    }

    /// The sources now, by id.
    pub fn snapshot(&self) -> Vec<Arc<SourceStats>> {
        self.0.read().clone()
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
    /// Frames not inferred (`[detect] interval`): they carry the last inferred detections.
    pub skipped: u64,
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
            skipped: stats.skipped.load(Ordering::Relaxed),
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
pub fn decoded_edge(sources: &[Arc<SourceStats>]) -> EdgeSummary {
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
