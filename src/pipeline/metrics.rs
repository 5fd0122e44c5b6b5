//! Prometheus text endpoint (`--metrics 127.0.0.1:9464`): per-source frames, FPS, drops,
//! health; per-stage latency histograms (seconds); per-edge queue depth, high water and drops; the
//! inference device and model compile time. Rendered in one place (`Endpoint::serve`, encoded
//! with `prometheus-client`) by a thread of the run, and handed either to a plain HTTP listener
//! of its own (`run --metrics`; any request path answers the metrics) or, in `serve`, straight
//! to the API server's `/metrics` handler through a channel ([`Endpoint::in_process`]): no
//! second server, no loopback hop.

pub use super::http::{Scraper, SCRAPE_TIMEOUT};
use super::output_metrics::{LiveMetrics, RecordMetrics};
use super::source_stats::SourceList;
use crate::error::{Error, Result};
use crate::sink::mqtt::MqttStats;
use crate::source::supervise::Health;
use crate::telemetry::{Edge, StageStats};
use crossbeam::channel::{bounded, Receiver, Sender};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Scrape requests waiting at once; more wait for a free place (bounded in time).
const MAX_WAITING: usize = 16;

/// How often the render loop checks for the end of the run.
const POLL: Duration = Duration::from_millis(50);

type Labels = Vec<(String, String)>;

/// What the endpoint reads, all shared with the running stages.
pub struct Sources<'a> {
    pub sources: &'a SourceList,
    /// The shared edges (each source's `decoded` edge is in `sources`).
    pub edges: &'a [&'a Edge],
    pub stages: &'a [&'a StageStats],
    pub device: &'a str,
    pub execution_devices: &'a str,
    pub compile_seconds: f64,
    pub started: Instant,
    /// The MQTT publisher's counters, once a source publishes.
    pub mqtt: &'a (dyn Fn() -> Option<std::sync::Arc<MqttStats>> + Sync),
}

/// Where a run's metrics are asked for: its own HTTP server (`run --metrics`), or another
/// server of the process (`serve`'s API). Either way the requests reach the render loop of
/// [`Endpoint::serve`] through one channel.
#[derive(Debug)]
pub struct Endpoint {
    requests: Receiver<Sender<String>>,
    /// The address its own server listens on (`None` in process).
    pub addr: Option<SocketAddr>,
    /// Its own server, stopped with the endpoint.
    _server: Option<super::http::HttpServer>,
}

impl Endpoint {
    /// Binds `addr` (`HOST:PORT`).
    ///
    /// # Errors
    /// [`Error::Listen`] naming the address when it cannot be parsed or bound.
    pub fn bind(addr: &str) -> Result<Endpoint> {
        let err = |source| Error::Listen {
            what: "metrics",
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(err)?;
        let addr = listener.local_addr().map_err(err)?;
        let (mut endpoint, scraper) = Endpoint::in_process();
        endpoint._server = Some(super::http::metrics_server(listener, scraper)?);
        endpoint.addr = Some(addr);
        crate::sink::warn_if_unauthenticated("--metrics", &addr.ip().to_string());
        eprintln!("metrics at http://{addr}/metrics");
        Ok(endpoint)
    }

    /// An endpoint answered through the returned [`Scraper`] (by another HTTP server of this
    /// process, such as `serve`'s API) instead of a listener.
    pub fn in_process() -> (Endpoint, Scraper) {
        let (tx, rx) = bounded(MAX_WAITING);
        let endpoint = Endpoint {
            requests: rx,
            addr: None,
            _server: None,
        };
        (endpoint, Scraper::new(tx))
    }

    /// Answers scrapes until `done`.
    #[allow(
        clippy::too_many_lines,
        reason = "one registration per metric family, with its help text: the list of metrics"
    )]
    pub fn serve(&self, sources: &Sources, done: &AtomicBool) {
        let frames = Family::<Labels, Counter>::default();
        let fps = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let health = Family::<Labels, Gauge>::default();
        let edge_drops = Family::<Labels, Counter>::default();
        let edge_high = Family::<Labels, Gauge>::default();
        let edge_depth = Family::<Labels, Gauge>::default();
        let compile = Gauge::<f64, AtomicU64>::default();
        let mut registry = Registry::with_prefix("ovstream");
        registry.register("frames", "Frames written by the sinks", frames.clone());
        let skipped = Family::<Labels, Counter>::default();
        registry.register(
            "frames_skipped",
            "Frames not inferred (detection interval): they carry the last inferred boxes",
            skipped.clone(),
        );
        registry.register("fps", "Frames per second since the start", fps.clone());
        registry.register(
            "source_health",
            "1 for the source's current health state",
            health.clone(),
        );
        registry.register(
            "queue_drops",
            "Frames dropped by an edge (live sources)",
            edge_drops.clone(),
        );
        registry.register(
            "queue_high_water",
            "Deepest an edge's queue has been",
            edge_high.clone(),
        );
        registry.register(
            "queue_depth",
            "Frames in an edge's queue right after its last send",
            edge_depth.clone(),
        );
        registry.register(
            "model_compile_seconds",
            "Read + reshape + compile time of the model",
            compile.clone(),
        );
        registry.register(
            "inference",
            "Where inference runs",
            Info::new(vec![
                ("device".to_string(), sources.device.to_string()),
                (
                    "execution_devices".to_string(),
                    sources.execution_devices.to_string(),
                ),
            ]),
        );
        for s in sources.stages {
            registry
                .sub_registry_with_label(("stage".into(), s.name.into()))
                .register(
                    "stage_latency_seconds",
                    "Per-frame time in a stage",
                    s.histogram(),
                );
        }
        let mqtt_messages = Family::<Labels, Counter>::default();
        let mqtt_connected = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        let mqtt_queue = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register(
            "mqtt_messages",
            "MQTT messages by state: published (acknowledged), dropped (queue full) or oversized \
             (over max_packet_size, never sent)",
            mqtt_messages.clone(),
        );
        registry.register(
            "mqtt_connected",
            "1 while connected to the MQTT broker",
            mqtt_connected.clone(),
        );
        registry.register(
            "mqtt_queue_depth",
            "MQTT messages waiting (queued, or sent and not yet acknowledged)",
            mqtt_queue.clone(),
        );
        let crossings = Family::<Labels, Counter>::default();
        let zone_objects = Family::<Labels, Gauge>::default();
        let zone_events = Family::<Labels, Counter>::default();
        registry.register(
            "line_crossings",
            "Objects that crossed a line, by direction (in, out) and label",
            crossings.clone(),
        );
        registry.register(
            "zone_objects",
            "Objects inside a zone now, by label",
            zone_objects.clone(),
        );
        registry.register(
            "zone_events",
            "Zone events by type (zone_enter, zone_exit, loitering, crowding)",
            zone_events.clone(),
        );
        let mut recordings = RecordMetrics::register(&mut registry);
        let mut live = LiveMetrics::register(&mut registry);
        // Counter values already added, per label set (the totals are absolute).
        let mut analytics_seen: std::collections::HashMap<Labels, u64> = Default::default();
        let mut mqtt_seen = [0u64; 3];
        compile.set(sources.compile_seconds);
        let mut frames_seen: Vec<u64> = Vec::new();
        let mut removed_seen = 0;
        let mut skipped_seen: Vec<u64> = Vec::new();
        let mut decoded_drops_seen: Vec<u64> = Vec::new();
        let mut drops_seen = vec![0u64; sources.edges.len()];
        // Refreshes the counters and gauges from the live stats and encodes them (one scrape
        // at a time: the requests of every server reach this loop through one channel).
        let mut render = move || -> Option<String> {
            // Refresh the counters and gauges from the live stats.
            let elapsed = sources.started.elapsed().as_secs_f64().max(1e-9);
            let list = sources.sources.snapshot();
            // A source was removed: every per-source series goes, and the others come back
            // in this render with their whole totals (the same values: no counter reset).
            let removed = list.iter().filter(|s| s.removed()).count();
            if removed != removed_seen {
                removed_seen = removed;
                for f in [&frames, &skipped, &edge_drops, &crossings, &zone_events] {
                    f.clear();
                }
                for f in [&health, &edge_high, &edge_depth, &zone_objects] {
                    f.clear();
                }
                fps.clear();
                frames_seen.clear();
                skipped_seen.clear();
                decoded_drops_seen.clear();
                drops_seen.fill(0);
                analytics_seen.clear();
                recordings.reset();
                live.reset();
            }
            frames_seen.resize(list.len(), 0);
            skipped_seen.resize(list.len(), 0);
            decoded_drops_seen.resize(list.len(), 0);
            for (i, s) in list.iter().enumerate().filter(|(_, s)| !s.removed()) {
                let source: &Labels = &vec![("source".to_string(), s.name.clone())];
                let written = s.written();
                frames
                    .get_or_create(source)
                    .inc_by(written - frames_seen[i]);
                frames_seen[i] = written;
                let n = s.skipped.load(std::sync::atomic::Ordering::Relaxed);
                skipped
                    .get_or_create(source)
                    .inc_by(n.saturating_sub(skipped_seen[i]));
                skipped_seen[i] = n;
                fps.get_or_create(source).set(written as f64 / elapsed);
                let now = s.health.get();
                for state in [
                    Health::Starting,
                    Health::Streaming,
                    Health::Reconnecting,
                    Health::Failed,
                ] {
                    let mut l = source.clone();
                    l.push(("state".into(), state.to_string()));
                    health.get_or_create(&l).set(i64::from(state == now));
                }
                let mut l = vec![("edge".to_string(), "decoded".to_string())];
                l.extend(source.iter().cloned());
                let d = s.decoded.drops();
                edge_drops
                    .get_or_create(&l)
                    .inc_by(d - decoded_drops_seen[i]);
                decoded_drops_seen[i] = d;
                edge_high
                    .get_or_create(&l)
                    .set(s.decoded.high_water() as i64);
                edge_depth.get_or_create(&l).set(s.decoded.depth() as i64);
                let totals = s.analytics.lock().clone();
                let label = |k: &str, v: &str| (k.to_string(), v.to_string());
                let mut add = |family: &Family<Labels, Counter>, l: Labels, total: u64| {
                    let seen = analytics_seen.entry(l.clone()).or_default();
                    family.get_or_create(&l).inc_by(total.saturating_sub(*seen));
                    *seen = (*seen).max(total);
                };
                for ((line, direction, what), n) in &totals.crossings {
                    let mut l = source.clone();
                    l.extend([
                        label("line", line),
                        label("direction", direction),
                        label("label", what),
                    ]);
                    add(&crossings, l, *n);
                }
                for ((zone, kind), n) in &totals.zone_events {
                    let mut l = source.clone();
                    l.extend([label("zone", zone), label("type", kind)]);
                    add(&zone_events, l, *n);
                }
                for ((zone, what), n) in &totals.zone_objects {
                    let mut l = source.clone();
                    l.extend([label("zone", zone), label("label", what)]);
                    zone_objects.get_or_create(&l).set(i64::from(*n));
                }
            }
            recordings.refresh(&list);
            live.refresh(&list);
            for (e, seen) in sources.edges.iter().zip(drops_seen.iter_mut()) {
                let l = vec![("edge".to_string(), e.name.to_string())];
                let d = e.drops();
                edge_drops.get_or_create(&l).inc_by(d - *seen);
                *seen = d;
                edge_high.get_or_create(&l).set(e.high_water() as i64);
                edge_depth.get_or_create(&l).set(e.depth() as i64);
            }
            if let Some(m) = (sources.mqtt)() {
                for (i, (state, v)) in [
                    ("published", m.published.load(Ordering::Relaxed)),
                    ("dropped", m.dropped.load(Ordering::Relaxed)),
                    ("oversized", m.oversized.load(Ordering::Relaxed)),
                ]
                .into_iter()
                .enumerate()
                {
                    let l = vec![("state".to_string(), state.to_string())];
                    mqtt_messages.get_or_create(&l).inc_by(v - mqtt_seen[i]);
                    mqtt_seen[i] = v;
                }
                mqtt_connected.set(i64::from(m.connected.load(Ordering::Relaxed)));
                mqtt_queue.set(m.queued.load(Ordering::Relaxed) as i64);
            }
            let mut body = String::new();
            encode(&mut body, &registry).ok()?;
            Some(body)
        };
        while !done.load(Ordering::Relaxed) {
            if let Ok(reply) = self.requests.recv_timeout(POLL) {
                if let Some(text) = render() {
                    let _ = reply.try_send(text);
                }
            }
        }
    }
}
