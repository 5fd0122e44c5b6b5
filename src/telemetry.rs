//! Telemetry shared by every layer: per-stage latency histograms, per-edge queue depth,
//! high-water marks and drops. The pipeline's end-of-run report is [`crate::pipeline::Summary`].

use crossbeam::channel::{Receiver, SendError, Sender, TrySendError};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Highest latency a histogram records, in µs (longer values are clamped to it).
const MAX_LATENCY_US: u64 = 60_000_000;

/// A bounded channel between two stages, named after the edge (`decoded`, `inferred`, …).
#[derive(Debug)]
pub struct Edge {
    pub name: &'static str,
    pub capacity: usize,
    high_water: AtomicUsize,
    /// Queue depth right after the last send.
    depth: AtomicUsize,
    drops: AtomicU64,
}

impl Edge {
    pub fn new(name: &'static str, capacity: usize) -> Self {
        Edge {
            name,
            capacity,
            high_water: AtomicUsize::new(0),
            depth: AtomicUsize::new(0),
            drops: AtomicU64::new(0),
        }
    }

    /// Sends (blocking while full: back-pressure) and records the queue depth.
    pub fn send<T>(&self, tx: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        tx.send(msg)?;
        self.record_depth(tx.len());
        Ok(())
    }

    /// Sends without ever blocking: when the queue is full, the oldest message is taken out
    /// and dropped (counted) to make room. For live sources, where waiting would only make
    /// every later frame staler. Fails when the consumer has finished (`oldest.consumer_done`)
    /// or the channel is disconnected.
    pub fn send_or_drop_oldest<T>(
        &self,
        tx: &Sender<T>,
        oldest: &DropOldest<'_, T>,
        mut msg: T,
    ) -> Result<(), SendError<T>> {
        loop {
            if oldest.consumer_done.load(Ordering::Relaxed) {
                return Err(SendError(msg));
            }
            match tx.try_send(msg) {
                Ok(()) => {
                    self.record_depth(tx.len());
                    return Ok(());
                }
                Err(TrySendError::Full(m)) => {
                    if oldest.rx.try_recv().is_ok() {
                        self.drops.fetch_add(1, Ordering::Relaxed);
                    }
                    msg = m;
                }
                Err(TrySendError::Disconnected(m)) => return Err(SendError(m)),
            }
        }
    }

    fn record_depth(&self, depth: usize) {
        self.depth.store(depth, Ordering::Relaxed);
        self.high_water.fetch_max(depth, Ordering::Relaxed);
    }

    /// Queue depth right after the last send (what the producer saw; a full queue here means
    /// the consumer is the bottleneck).
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Deepest the queue has been.
    pub fn high_water(&self) -> usize {
        self.high_water.load(Ordering::Relaxed)
    }

    /// Frames this edge dropped (live sources only; files never drop).
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }
}

/// What a producer needs to drop the oldest message of its edge: a receiver of the same
/// channel, and the flag the consumer raises when it stops (the producer's receiver would
/// otherwise keep the channel open forever).
pub struct DropOldest<'a, T> {
    pub rx: &'a Receiver<T>,
    pub consumer_done: &'a AtomicBool,
}

/// Latency histogram buckets: 0.5 ms doubling to ~4 s.
const BUCKET_START_S: f64 = 0.0005;
const BUCKETS: u16 = 14;

/// A stage latency histogram for the Prometheus endpoint, observed next to [`StageStats`].
pub fn latency_histogram() -> prometheus_client::metrics::histogram::Histogram {
    use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
    Histogram::new(exponential_buckets(BUCKET_START_S, 2.0, BUCKETS))
}

/// Latency of one stage per frame: over the whole run, and over the current window (the
/// periodic log's interval).
pub struct StageStats {
    pub name: &'static str,
    /// Whole run and current window; `None` once [`Self::freeze`]d.
    histograms: Mutex<Option<[Histogram<u64>; 2]>>,
    /// The whole run's summary, kept when the histograms were let go.
    frozen: std::sync::OnceLock<LatencySummary>,
    /// The same observations for the Prometheus endpoint (seconds, fixed buckets).
    exported: prometheus_client::metrics::histogram::Histogram,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

impl StageStats {
    pub fn new(name: &'static str) -> Self {
        StageStats {
            name,
            histograms: Mutex::new(Some([histogram(), histogram()])),
            frozen: std::sync::OnceLock::new(),
            exported: latency_histogram(),
        }
    }

    /// The Prometheus histogram of this stage (shared: observations keep arriving).
    pub fn histogram(&self) -> prometheus_client::metrics::histogram::Histogram {
        self.exported.clone()
    }

    /// Records one frame's time in this stage.
    pub fn record(&self, elapsed: Duration) {
        let us = (elapsed.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        for h in self.histograms.lock().iter_mut().flatten() {
            h.saturating_record(us);
        }
        self.exported.observe(elapsed.as_secs_f64());
    }

    /// Count and percentiles over the whole run.
    pub fn summary(&self) -> LatencySummary {
        match (self.frozen.get(), &*self.histograms.lock()) {
            (Some(s), _) => s.clone(),
            (None, Some(h)) => LatencySummary::of(self.name, &h[0]),
            (None, None) => LatencySummary::empty(self.name),
        }
    }

    /// Count and percentiles since the last call (the window starts anew).
    pub fn take_window(&self) -> LatencySummary {
        match &mut *self.histograms.lock() {
            Some(h) => {
                let summary = LatencySummary::of(self.name, &h[1]);
                h[1].reset();
                summary
            }
            None => LatencySummary::empty(self.name),
        }
    }

    /// Keeps the whole run's summary and lets the histograms go (a removed source's: each
    /// holds up to ~256 KiB of counts); later observations go to the Prometheus histogram only.
    pub fn freeze(&self) {
        let summary = self.summary();
        let _ = self.frozen.set(summary);
        self.histograms.lock().take();
    }
}

/// One stage's latency percentiles, in ms.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LatencySummary {
    pub name: &'static str,
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    fn empty(name: &'static str) -> Self {
        LatencySummary {
            name,
            count: 0,
            p50_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
        }
    }

    fn of(name: &'static str, h: &Histogram<u64>) -> Self {
        let ms = |q| h.value_at_quantile(q) as f64 / 1000.0;
        LatencySummary {
            name,
            count: h.len(),
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

/// One edge's queue summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EdgeSummary {
    pub name: &'static str,
    pub capacity: usize,
    pub high_water: usize,
    pub drops: u64,
}

impl From<&Edge> for EdgeSummary {
    fn from(e: &Edge) -> Self {
        EdgeSummary {
            name: e.name,
            capacity: e.capacity,
            high_water: e.high_water(),
            drops: e.drops(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_tracks_high_water_mark() {
        let (tx, rx) = crossbeam::channel::bounded(4);
        let edge = Edge::new("decoded", 4);
        for i in 0..3 {
            edge.send(&tx, i).unwrap();
        }
        rx.recv().unwrap();
        edge.send(&tx, 9).unwrap();
        assert_eq!(edge.high_water(), 3);
    }

    #[test]
    fn drop_oldest_never_blocks_and_keeps_the_newest() {
        let (tx, rx) = crossbeam::channel::bounded(3);
        let edge = Edge::new("decoded", 3);
        let done = AtomicBool::new(false);
        let oldest = DropOldest {
            rx: &rx,
            consumer_done: &done,
        };
        for i in 0..10 {
            edge.send_or_drop_oldest(&tx, &oldest, i).unwrap();
        }
        assert_eq!(edge.drops(), 7);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![7, 8, 9]);
        assert!(edge.high_water() <= 3);
        done.store(true, Ordering::Relaxed);
        assert!(edge.send_or_drop_oldest(&tx, &oldest, 10).is_err());
    }

    #[test]
    fn stage_percentiles_reflect_recorded_values() {
        let s = StageStats::new("infer");
        for ms in 1..=100 {
            s.record(Duration::from_millis(ms));
        }
        let sum = s.summary();
        assert_eq!(sum.count, 100);
        assert!((sum.p50_ms - 50.0).abs() < 1.0, "{sum:?}");
        assert!((sum.p95_ms - 95.0).abs() < 1.0, "{sum:?}");
        assert!((sum.p99_ms - 99.0).abs() < 1.0, "{sum:?}");
        assert_eq!(s.take_window().count, 100);
        s.record(Duration::from_millis(7));
        let window = s.take_window();
        assert_eq!(window.count, 1, "the window restarts");
        assert!((window.p99_ms - 7.0).abs() < 0.1, "{window:?}");
        assert_eq!(s.summary().count, 101, "the run total does not");
    }
}
