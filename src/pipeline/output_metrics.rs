//! The outputs' metrics, refreshed by the render loop of [`super::metrics`] from each source's
//! counters: the recorder's (`ovstream_clips_total`, …) and the live view's
//! (`ovstream_viewers`, …).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

type Labels = Vec<(String, String)>;

/// Adds to `family` what `total` (an absolute count) gained since the last call.
fn add_total(
    seen: &mut HashMap<Labels, u64>,
    family: &Family<Labels, Counter>,
    l: Labels,
    total: u64,
) {
    let was = seen.entry(l.clone()).or_default();
    family.get_or_create(&l).inc_by(total.saturating_sub(*was));
    *was = (*was).max(total);
}

/// The recorders' metrics: `ovstream_clips_total{source}`, `ovstream_record_bytes`,
/// `ovstream_record_errors_total{source,cause}` (`cause`: `write`, `disk_full`, `overflow`);
/// with a record input, `ovstream_record_input_up{source}` (1 streaming, 0 reconnecting) and
/// `ovstream_record_input_reconnects_total{source}`.
pub(super) struct RecordMetrics {
    clips: Family<Labels, Counter>,
    bytes: Gauge,
    ring: Family<Labels, Gauge>,
    errors: Family<Labels, Counter>,
    input_up: Family<Labels, Gauge>,
    input_reconnects: Family<Labels, Counter>,
    /// Values already added, per label set (the recorders' counters are absolute).
    seen: HashMap<Labels, u64>,
    /// The same for `input_reconnects` (its labels are those of `clips`).
    seen_inputs: HashMap<Labels, u64>,
}

impl RecordMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let m = RecordMetrics {
            clips: Family::default(),
            bytes: Gauge::default(),
            ring: Family::default(),
            errors: Family::default(),
            input_up: Family::default(),
            input_reconnects: Family::default(),
            seen: Default::default(),
            seen_inputs: Default::default(),
        };
        registry.register("clips", "Event clips written", m.clips.clone());
        registry.register(
            "record_bytes",
            "Bytes of the event clips this process wrote",
            m.bytes.clone(),
        );
        registry.register(
            "record_ring_bytes",
            "Bytes of encoded video held for pre-capture",
            m.ring.clone(),
        );
        registry.register(
            "record_errors",
            "Recording errors by cause: write (a clip failed), disk_full (no clip started: \
             under min_free), overflow (packets a clip lost to a full ring)",
            m.errors.clone(),
        );
        registry.register(
            "record_input_up",
            "1 while the record input (the camera's main stream) streams, 0 while it reconnects",
            m.input_up.clone(),
        );
        registry.register(
            "record_input_reconnects",
            "Reconnects of the record input (the camera's main stream)",
            m.input_reconnects.clone(),
        );
        m
    }

    /// Drops every series (a source was removed); the next refresh adds the others' again
    /// with their whole totals.
    pub(super) fn reset(&mut self) {
        self.clips.clear();
        self.ring.clear();
        self.errors.clear();
        self.input_up.clear();
        self.input_reconnects.clear();
        self.seen.clear();
        self.seen_inputs.clear();
    }

    pub(super) fn refresh(&mut self, list: &[Arc<super::source_stats::SourceStats>]) {
        let mut bytes = 0;
        for s in list.iter().filter(|s| !s.removed()) {
            let Some(r) = &s.record else { continue };
            bytes += r.bytes.load(Ordering::Relaxed);
            let source = ("source".to_string(), s.name.clone());
            let held = r.ring_bytes.load(Ordering::Relaxed);
            self.ring
                .get_or_create(&vec![source.clone()])
                .set(held as i64);
            add_total(
                &mut self.seen,
                &self.clips,
                vec![source.clone()],
                r.clips.load(Ordering::Relaxed),
            );
            for (cause, n) in [
                ("write", &r.write_errors),
                ("disk_full", &r.disk_full),
                ("overflow", &r.overflow),
            ] {
                let l = vec![source.clone(), ("cause".to_string(), cause.to_string())];
                add_total(&mut self.seen, &self.errors, l, n.load(Ordering::Relaxed));
            }
            if let Some(input) = r.input.get() {
                let up = input.get() == crate::source::supervise::Health::Streaming;
                let l = vec![source.clone()];
                self.input_up.get_or_create(&l).set(i64::from(up));
                let total = u64::from(input.reconnects());
                add_total(&mut self.seen_inputs, &self.input_reconnects, l, total);
            }
        }
        self.bytes.set(bytes as i64);
    }
}

/// The live views' metrics: `ovstream_viewers{source,kind}`,
/// `ovstream_live_bytes_total{source,kind}`, `ovstream_viewer_drops_total{source}`,
/// `ovstream_live_encoding{source}` (1 while the stream's H.264 encoder runs).
pub(super) struct LiveMetrics {
    viewers: Family<Labels, Gauge>,
    bytes: Family<Labels, Counter>,
    drops: Family<Labels, Counter>,
    encoding: Family<Labels, Gauge>,
    seen: HashMap<Labels, u64>,
}

impl LiveMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let m = LiveMetrics {
            viewers: Family::default(),
            bytes: Family::default(),
            drops: Family::default(),
            encoding: Family::default(),
            seen: HashMap::new(),
        };
        registry.register(
            "viewers",
            "Live viewers now, by kind (mp4, mjpeg; rtsp: the mount's shared media)",
            m.viewers.clone(),
        );
        registry.register(
            "live_bytes",
            "Bytes sent to live viewers, by kind",
            m.bytes.clone(),
        );
        registry.register(
            "viewer_drops",
            "Fragments or pictures live viewers missed (their queues were full)",
            m.drops.clone(),
        );
        registry.register(
            "live_encoding",
            "1 while the stream's live H.264 encoder runs (it has live.mp4 viewers)",
            m.encoding.clone(),
        );
        m
    }

    /// Drops every series (a source was removed); see [`RecordMetrics::reset`].
    pub(super) fn reset(&mut self) {
        self.viewers.clear();
        self.bytes.clear();
        self.drops.clear();
        self.encoding.clear();
        self.seen.clear();
    }

    pub(super) fn refresh(&mut self, list: &[Arc<super::source_stats::SourceStats>]) {
        for s in list {
            let Some(live) = s.live.lock().clone() else {
                continue;
            };
            let st = &live.stats;
            let source = ("source".to_string(), s.name.clone());
            for kind in crate::live::Kind::ALL {
                let l = vec![
                    source.clone(),
                    ("kind".to_string(), kind.as_str().to_string()),
                ];
                self.viewers.get_or_create(&l).set(st.viewers(kind) as i64);
                add_total(&mut self.seen, &self.bytes, l, st.bytes(kind));
            }
            let l = vec![source];
            add_total(
                &mut self.seen,
                &self.drops,
                l.clone(),
                st.drops.load(Ordering::Relaxed),
            );
            self.encoding
                .get_or_create(&l)
                .set(i64::from(st.encoding.load(Ordering::Relaxed)));
        }
    }
}
