//! Wiring: one thread per stage, joined by bounded crossbeam channels named after their edge.
//!
//! ```text
//! source ─decoded→ preprocess ─submitted→ infer ─inferred→ postprocess (+ tracker) ─detected→
//!     [identify ─identified→] [overlay ─rendered→] sink
//!                      ▲                     │
//!                      └──── free requests ──┘   (nireq requests; they move, never shared)
//! ```
//! With several sources, each has its own source thread and `decoded` edge; preprocess takes
//! their frames in turn ([`round_robin`]) and the stages after it carry `source_id` to per-source
//! trackers and sinks. EOS is the closing of a channel: when a source ends (EOS, `limit`, stop
//! flag) it drops its sender; once all have, every stage drains and drops its own, and the sink
//! finalizes the outputs. A stage
//! whose downstream closed stops quietly; the stage that failed reports the error.

pub mod metrics;
mod periodic;
mod progress;
pub mod round_robin;
pub mod source_stats;
pub mod stats;

use crate::adapters::Adapter;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::face::recognizer::Recognizer;
use crate::sink::Sinks;
use crate::source::{self, supervise, Playback, Source, SourceEnd};
use crate::{identify, infer, overlay, postprocess, preprocess, sink};
use crossbeam::channel::bounded;
use round_robin::RoundRobin;
use source_stats::{SourceStats, SourceSummary};
use stats::{DropOldest, Edge, StageStats, Summary};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Capacity of the edges between stages (frames). Small: frames are big, latency matters.
const EDGE_CAPACITY: usize = 4;
/// Capacity of the `decoded` edge for live sources: only the freshest frame waits for a free
/// infer request (older ones are dropped), which bounds end-to-end latency under overload.
const LIVE_DECODED_CAPACITY: usize = 1;

/// What to do with the sources.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Restart a file at EOS.
    pub looping: bool,
    /// Stop each source after this many frames.
    pub limit: Option<u64>,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// Reconnect policy for live sources.
    pub supervision: supervise::Supervision,
    /// Print a stats line (health, FPS, drops, end-to-end latency) this often; `None`: never.
    pub stats_interval: Option<std::time::Duration>,
    /// Track objects (ByteTrack): `(threshold, track_buffer)`; `None`: no track ids.
    pub track: Option<(f32, usize)>,
    /// Serve Prometheus metrics on this `HOST:PORT`.
    pub metrics: Option<String>,
}

/// One source of a run and its outputs (`sinks.source` is its name).
pub struct Input<'a> {
    pub source: Source,
    pub sinks: &'a mut Sinks,
}

/// Runs `source` through `engine` and `adapter` into `sinks` until EOS, `limit` or `stop`.
///
/// # Errors
/// As [`run_many`].
pub fn run(
    source: Source,
    engine: &mut Engine,
    adapter: &Adapter,
    sinks: &mut Sinks,
    recognizer: Option<&mut Recognizer>,
    options: &RunOptions,
    stop: &AtomicBool,
) -> Result<Summary> {
    let inputs = vec![Input { source, sinks }];
    run_many(inputs, engine, adapter, recognizer, options, stop)
}

/// Runs every input through one compiled model and one pool of `engine.nireq` requests until
/// all of them end (EOS, `limit`) or `stop`. Sources take turns for free requests
/// (round-robin); each source's frames stay in order and reach its own sinks.
///
/// # Errors
/// The first failure, after every source has ended and every output is finalized:
/// [`crate::Error::Input`] for a decode error (naming the input; the other sources run on),
/// [`crate::Error::Output`] for a sink failure, [`crate::Error::OpenVino`] for inference.
pub fn run_many(
    inputs: Vec<Input<'_>>,
    engine: &mut Engine,
    adapter: &Adapter,
    recognizer: Option<&mut Recognizer>,
    options: &RunOptions,
    stop: &AtomicBool,
) -> Result<Summary> {
    // OpenCV's own thread pool would compete with OpenVINO's inference threads for the same
    // cores; the images it works on here are small, so one thread each stage is faster.
    opencv::core::set_num_threads(1).map_err(|e| crate::Error::gst("OpenCV threads", e))?;
    let nireq = engine.nireq;
    let requests = engine.create_requests(nireq)?;
    let (free_tx, free_rx) = bounded(nireq);
    for r in requests {
        free_tx.send(r).expect("pool sized for nireq");
    }
    let (sources, mut sinks): (Vec<Source>, Vec<&mut Sinks>) =
        inputs.into_iter().map(|i| (i.source, i.sinks)).unzip();
    let progress = progress::bar(&sources, options);
    // Live sources drop the oldest decoded frame rather than wait (fresh results, bounded
    // latency); files block (every frame processed).
    let per_source: Vec<SourceStats> = sources
        .iter()
        .zip(&sinks)
        .map(|(src, sinks)| {
            let capacity = if src.live {
                LIVE_DECODED_CAPACITY
            } else {
                EDGE_CAPACITY
            };
            SourceStats::new(&sinks.source, &src.uri, capacity)
        })
        .collect();
    let (decoded_txs, decoded_rxs): (Vec<_>, Vec<_>) = per_source
        .iter()
        .map(|s| bounded(s.decoded.capacity))
        .unzip();
    let preprocess_done = AtomicBool::new(false);
    let lives: Vec<bool> = sources.iter().map(|s| s.live).collect();
    let drop_rxs: Vec<_> = decoded_rxs
        .iter()
        .zip(&lives)
        .map(|(rx, live)| live.then(|| rx.clone()))
        .collect();
    let (submitted_tx, submitted_rx) = bounded(nireq);
    let (inferred_tx, inferred_rx) = bounded(EDGE_CAPACITY);
    let draw = sinks.iter().any(|s| s.needs_pixels());
    let recognize = recognizer.is_some();
    // The optional stages splice themselves into the chain after postprocess.
    let (detected_tx, detected_rx) = bounded(EDGE_CAPACITY);
    let mut last_rx = detected_rx;
    let identify_io = recognizer.map(|r| {
        let (tx, rx) = bounded(EDGE_CAPACITY);
        (std::mem::replace(&mut last_rx, rx), tx, r)
    });
    let overlay_io = draw.then(|| {
        let (tx, rx) = bounded(EDGE_CAPACITY);
        (std::mem::replace(&mut last_rx, rx), tx)
    });
    let sink_rx = last_rx;
    // The shared edges after the per-source `decoded` ones.
    let edges = [
        Edge::new("submitted", nireq),
        Edge::new("inferred", EDGE_CAPACITY),
        Edge::new("detected", EDGE_CAPACITY),
        Edge::new("identified", EDGE_CAPACITY),
        Edge::new("rendered", EDGE_CAPACITY),
    ];
    let stages = [
        StageStats::new("preprocess"),
        StageStats::new("infer"),
        StageStats::new("postprocess"),
        StageStats::new("identify"),
        StageStats::new("overlay"),
        StageStats::new("sink"),
        StageStats::new("end-to-end"),
    ];
    // Track ids are per source: one tracker each.
    let trackers = sources
        .iter()
        .map(|_| {
            options
                .track
                .map(|(threshold, buffer)| crate::track::Tracker::new(threshold, buffer))
        })
        .collect();
    let output_names = adapter.output_names();
    let spec = engine.input.clone();
    let started = Instant::now();
    let finished = AtomicBool::new(false);
    let endpoint = options
        .metrics
        .as_deref()
        .map(metrics::Endpoint::bind)
        .transpose()?;
    let (device, execution_devices) = (engine.device.clone(), engine.execution_devices.clone());
    let compile_seconds = engine.compile_time.as_secs_f64();

    let (edges, stages, progress_ref, per_source) = (&edges, &stages, &progress, &per_source);
    let (preprocess_done, finished) = (&preprocess_done, &finished);
    let (spec, output_names) = (&spec, &output_names);
    let (source_results, results) = std::thread::scope(|s| {
        let srcs: Vec<_> = sources
            .into_iter()
            .zip(decoded_txs)
            .zip(drop_rxs)
            .enumerate()
            .map(|(source_id, ((source, decoded_tx), drop_rx))| {
                s.spawn(move || {
                    let playback = Playback {
                        source_id,
                        looping: options.looping,
                        limit: options.limit,
                        stall_timeout: None,
                    };
                    let oldest = drop_rx.as_ref().map(|rx| DropOldest {
                        rx,
                        consumer_done: preprocess_done,
                    });
                    let out = source::Output {
                        name: &per_source[source_id].name,
                        decoded_tx: &decoded_tx,
                        drop_oldest: oldest.as_ref(),
                        edge: &per_source[source_id].decoded,
                        stop,
                        health: &per_source[source_id].health,
                    };
                    let result = supervise::run(source, playback, &options.supervision, &out);
                    drop(decoded_tx); // EOS downstream
                    result
                })
            })
            .collect();
        let pre = s.spawn(move || {
            let result = preprocess::run(
                RoundRobin::new(decoded_rxs),
                free_rx,
                submitted_tx,
                spec,
                adapter.input_format(),
                &edges[0],
                &stages[0],
            );
            preprocess_done.store(true, Ordering::Relaxed);
            result
        });
        let inf = s.spawn(move || {
            infer::run(
                submitted_rx,
                free_tx,
                inferred_tx,
                output_names,
                spec.batch,
                &edges[1],
                &stages[1],
            )
        });
        let post = s.spawn(move || {
            let post = postprocess::Postprocess {
                adapter,
                input: spec,
                trackers,
            };
            post.run(inferred_rx, detected_tx, &edges[2], &stages[2])
        });
        let idn = identify_io.map(|(rx, tx, recognizer)| {
            s.spawn(move || identify::run(rx, tx, recognizer, &edges[3], &stages[3]))
        });
        let ovl =
            overlay_io.map(|(rx, tx)| s.spawn(move || overlay::run(rx, tx, &edges[4], &stages[4])));
        let sinks = &mut sinks;
        let snk = s.spawn(move || {
            sink::run(
                sink_rx,
                sinks,
                per_source,
                &stages[5],
                &stages[6],
                progress_ref,
            )
        });
        let periodic = options.stats_interval.map(|interval| {
            s.spawn(move || {
                periodic::Periodic {
                    sources: per_source,
                    interval,
                    done: finished,
                }
                .run()
            })
        });
        let scrape = endpoint.as_ref().map(|endpoint| {
            let (device, execution_devices) = (&device, &execution_devices);
            s.spawn(move || {
                let sources = metrics::Sources {
                    sources: per_source,
                    edges,
                    stages,
                    device,
                    execution_devices,
                    compile_seconds,
                    started,
                };
                endpoint.serve(&sources, finished)
            })
        });
        let joined = |h: std::thread::ScopedJoinHandle<'_, Result<()>>| {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        };
        let source_results: Vec<_> = srcs
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        let mut results = vec![joined(pre), joined(inf), joined(post)];
        if let Some(h) = idn {
            results.push(joined(h));
        }
        if let Some(h) = ovl {
            results.push(joined(h));
        }
        results.push(joined(snk));
        finished.store(true, Ordering::Relaxed);
        if let Some(h) = periodic {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        if let Some(h) = scrape {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        (source_results, results)
    });
    progress.finish_and_clear();

    let seconds = started.elapsed().as_secs_f64();
    let several = per_source.len() > 1;
    let mut reports = Vec::with_capacity(per_source.len());
    let mut first_error: Option<Error> = None;
    for (result, stats) in source_results.into_iter().zip(per_source) {
        match result {
            Ok(r) => reports.push(Some(r)),
            Err(e) => {
                if several {
                    tracing::error!(source = %stats.name, "source failed: {e}");
                }
                first_error.get_or_insert(e);
                reports.push(None);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    results.into_iter().collect::<Result<Vec<()>>>()?;
    let reports: Vec<_> = reports.into_iter().flatten().collect();
    let source_summaries: Vec<SourceSummary> = per_source
        .iter()
        .zip(&reports)
        .zip(&lives)
        .map(|((stats, r), &live)| SourceSummary::new(stats, r, live, seconds))
        .collect();
    let frames: u64 = per_source.iter().map(SourceStats::written).sum();
    Ok(Summary {
        frames,
        seconds,
        fps: frames as f64 / seconds.max(1e-9),
        nireq,
        device: engine.device.clone(),
        execution_devices: engine.execution_devices.clone(),
        stages: stages
            .iter()
            .filter(|s| (s.name != "overlay" || draw) && (s.name != "identify" || recognize))
            .map(StageStats::summary)
            .collect(),
        edges: std::iter::once(source_stats::decoded_edge(per_source))
            .chain(
                edges
                    .iter()
                    .filter(|e| {
                        (e.name != "rendered" || draw) && (e.name != "identified" || recognize)
                    })
                    .map(Into::into),
            )
            .collect(),
        interrupted: reports.iter().any(|r| r.report.end == SourceEnd::Stopped),
        damage: source_stats::combined_damage(&source_summaries),
        reconnects: reports.iter().map(|r| r.reconnects).sum(),
        health: source_stats::combined_health(&source_summaries),
        sources: source_summaries,
    })
}
