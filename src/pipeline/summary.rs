//! What a pipeline run reports at the end.

use super::registry::Registry;
use super::source_stats::{combined_damage, combined_health, decoded_edge, SourceSummary};
use crate::error::{Error, Result};
use crate::source::SourceEnd;
use crate::telemetry::{Edge, EdgeSummary, LatencySummary, StageStats};
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What a pipeline run reports at the end.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub frames: u64,
    pub seconds: f64,
    pub fps: f64,
    pub nireq: usize,
    pub device: String,
    pub execution_devices: String,
    pub stages: Vec<LatencySummary>,
    pub edges: Vec<EdgeSummary>,
    pub interrupted: bool,
    /// Decode problems that lost frames without stopping the stream (see `source::Damage`).
    pub damage: Option<String>,
    /// Times a live source was reopened, and its health at the end.
    pub reconnects: u32,
    pub health: String,
    /// MQTT delivery, when the run published.
    pub mqtt: Option<MqttSummary>,
    /// Per source, in input order (one entry for a single input).
    pub sources: Vec<SourceSummary>,
}

/// What the MQTT publisher delivered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MqttSummary {
    /// Acknowledged by the broker (QoS ≥ 1) or written (QoS 0).
    pub published: u64,
    /// Dropped from a full queue while the broker was unreachable.
    pub dropped: u64,
    pub reconnects: u64,
    /// Not delivered when the run ended.
    pub undelivered: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} frames in {:.2} s: {:.1} FPS; inference on {} (device {}, nireq {}){}",
            self.frames,
            self.seconds,
            self.fps,
            self.execution_devices,
            self.device,
            self.nireq,
            if self.interrupted {
                "; interrupted"
            } else {
                ""
            }
        )?;
        let skipped: u64 = self.sources.iter().map(|s| s.skipped).sum();
        if skipped > 0 {
            writeln!(
                f,
                "  detection interval: {} frame(s) inferred, {skipped} carried the last boxes",
                self.frames.saturating_sub(skipped)
            )?;
        }
        if self.reconnects > 0 {
            writeln!(
                f,
                "  source: {} reconnect(s), {} at the end",
                self.reconnects, self.health
            )?;
        }
        writeln!(
            f,
            "  stage latency (ms)      p50      p95      p99   frames"
        )?;
        for s in &self.stages {
            writeln!(
                f,
                "    {:<18} {:>8.2} {:>8.2} {:>8.2} {:>8}",
                s.name, s.p50_ms, s.p95_ms, s.p99_ms, s.count
            )?;
        }
        if self.sources.len() > 1 {
            writeln!(
                f,
                "  source                 frames      FPS  e2e p50  e2e p99  drops"
            )?;
            for s in &self.sources {
                writeln!(
                    f,
                    "    {:<18} {:>8} {:>8.1} {:>8.2} {:>8.2} {:>6}",
                    s.name, s.frames, s.fps, s.end_to_end.p50_ms, s.end_to_end.p99_ms, s.drops
                )?;
            }
        }
        if let Some(m) = &self.mqtt {
            writeln!(
                f,
                "  mqtt: {} published, {} dropped (queue full), {} reconnect(s), {} undelivered",
                m.published, m.dropped, m.reconnects, m.undelivered
            )?;
        }
        write!(f, "  queues (high water / capacity, drops):")?;
        for e in &self.edges {
            write!(f, " {} {}/{} {}", e.name, e.high_water, e.capacity, e.drops)?;
        }
        Ok(())
    }
}

/// What [`build`] reads at the end of a run.
pub(super) struct Parts<'a> {
    pub registry: &'a Registry,
    pub started: Instant,
    /// Each stage's result, in pipeline order.
    pub results: Vec<Result<()>>,
    /// The result of the run's control closure.
    pub control: Result<()>,
    pub stages: Vec<&'a StageStats>,
    pub edges: Vec<&'a Edge>,
    pub nireq: usize,
    pub device: String,
    pub execution_devices: String,
}

/// The run's summary, or its first failure: a source's (logged per source when there are
/// several), a stage's, the control closure's, or a removed source's outputs'.
pub(super) fn build(parts: Parts<'_>) -> Result<Summary> {
    let seconds = parts.started.elapsed().as_secs_f64();
    let list = parts.registry.list.snapshot();
    let slots = parts.registry.take_slots();
    let several = list.len() > 1;
    let mut first_error: Option<Error> = None;
    let mut sources = Vec::with_capacity(slots.len());
    let mut reports = Vec::with_capacity(slots.len());
    for (stats, slot) in list.iter().zip(slots) {
        match slot.report {
            Some(Ok(report)) => {
                let ran = slot.ended.map_or(seconds, |end| {
                    end.duration_since(slot.started).as_secs_f64()
                });
                sources.push(SourceSummary::new(stats, &report, slot.live, ran));
                reports.push(report);
            }
            Some(Err(e)) => {
                if several {
                    tracing::error!(source = %stats.name, "source failed: {e}");
                }
                first_error.get_or_insert(e);
            }
            None => {} // its failure was reported by `remove_source`
        }
        if let Some(e) = slot.failure {
            first_error.get_or_insert(e);
        }
        if let Some(Err(e)) = slot.outputs {
            first_error.get_or_insert(e);
        }
    }
    let stage_error = parts.results.into_iter().find_map(Result::err);
    if let Some(e) = first_error.or(stage_error) {
        return Err(e);
    }
    parts.control?;
    let frames: u64 = list.iter().map(|s| s.written()).sum();
    Ok(Summary {
        frames,
        seconds,
        fps: frames as f64 / seconds.max(1e-9),
        nireq: parts.nireq,
        device: parts.device,
        execution_devices: parts.execution_devices,
        stages: parts.stages.iter().map(|s| s.summary()).collect(),
        edges: std::iter::once(decoded_edge(&list))
            .chain(parts.edges.iter().map(|e| EdgeSummary::from(*e)))
            .collect(),
        interrupted: reports.iter().any(|r| r.report.end == SourceEnd::Stopped),
        damage: combined_damage(&sources),
        reconnects: reports.iter().map(|r| r.reconnects).sum(),
        health: combined_health(&sources),
        mqtt: parts.registry.mqtt().map(|m| {
            let s = m.stats();
            MqttSummary {
                published: s.published.load(Ordering::Relaxed),
                dropped: s.dropped.load(Ordering::Relaxed),
                reconnects: s.reconnects.load(Ordering::Relaxed),
                undelivered: s.queued.load(Ordering::Relaxed),
            }
        }),
        sources,
    })
}
