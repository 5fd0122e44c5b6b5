//! Wiring: one thread per stage, joined by bounded crossbeam channels named after their edge.
//!
//! ```text
//! source ─decoded→ preprocess ─submitted→ infer ─inferred→ postprocess (+ tracker) ─detected→
//!     [identify ─identified→] [overlay ─rendered→] sink
//!                      ▲                     │
//!                      └──── free requests ──┘   (nireq requests; they move, never shared)
//! ```
//! EOS is the closing of a channel: when the source ends (EOS, `limit`, stop flag) it drops its
//! sender, every stage drains and drops its own, and the sink finalizes the outputs. A stage
//! whose downstream closed stops quietly; the stage that failed reports the error.

pub mod metrics;
mod periodic;
pub mod stats;

use crate::adapters::Adapter;
use crate::engine::Engine;
use crate::error::Result;
use crate::face::recognizer::Recognizer;
use crate::sink::Sinks;
use crate::source::{self, supervise, Playback, Source, SourceEnd};
use crate::{identify, infer, overlay, postprocess, preprocess, sink};
use crossbeam::channel::bounded;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stats::{DropOldest, Edge, StageStats, Summary};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Capacity of the edges between stages (frames). Small: frames are big, latency matters.
const EDGE_CAPACITY: usize = 4;
/// Capacity of the `decoded` edge for live sources: only the freshest frame waits for a free
/// infer request (older ones are dropped), which bounds end-to-end latency under overload.
const LIVE_DECODED_CAPACITY: usize = 1;

/// What to do with one source.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Restart a file at EOS.
    pub looping: bool,
    /// Stop after this many frames.
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

/// Runs `source` through `engine` and `adapter` into `sinks` until EOS, `limit` or `stop`.
///
/// # Errors
/// The first stage failure: [`crate::Error::Input`] for a decode error (outputs are still
/// finalized with what was decoded), [`crate::Error::Output`] for a sink failure,
/// [`crate::Error::OpenVino`] for an inference failure.
pub fn run(
    source: Source,
    engine: &mut Engine,
    adapter: &Adapter,
    sinks: &mut Sinks,
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
    let decoded_capacity = if source.live {
        LIVE_DECODED_CAPACITY
    } else {
        EDGE_CAPACITY
    };
    let (decoded_tx, decoded_rx) = bounded(decoded_capacity);
    // Live sources drop the oldest decoded frame rather than wait (fresh results, bounded
    // latency); files block (every frame processed).
    let preprocess_done = AtomicBool::new(false);
    let drop_rx = source.live.then(|| decoded_rx.clone());
    let live = source.live;
    let (submitted_tx, submitted_rx) = bounded(nireq);
    let (inferred_tx, inferred_rx) = bounded(EDGE_CAPACITY);
    let draw = sinks.needs_pixels();
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
    let edges = [
        Edge::new("decoded", decoded_capacity),
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
    let tracker = options
        .track
        .map(|(threshold, buffer)| crate::track::Tracker::new(threshold, buffer));
    let progress = progress_bar(&source, options);
    let written = AtomicU64::new(0);
    let output_names = adapter.output_names();
    let spec = engine.input.clone();
    let started = Instant::now();
    let health = supervise::HealthCell::default();
    let finished = AtomicBool::new(false);
    let uri = source.uri.clone();
    let endpoint = options
        .metrics
        .as_deref()
        .map(metrics::Endpoint::bind)
        .transpose()?;
    let (device, execution_devices) = (engine.device.clone(), engine.execution_devices.clone());
    let compile_seconds = engine.compile_time.as_secs_f64();

    let (edges, stages, written, progress_ref) = (&edges, &stages, &written, &progress);
    let preprocess_done = &preprocess_done;
    let (health, finished, uri) = (&health, &finished, &uri);
    let (spec, output_names) = (&spec, &output_names);
    let (source_result, results) = std::thread::scope(|s| {
        let src = s.spawn(move || {
            let playback = Playback {
                source_id: 0,
                looping: options.looping,
                limit: options.limit,
                stall_timeout: None,
            };
            let oldest = drop_rx.as_ref().map(|rx| DropOldest {
                rx,
                consumer_done: preprocess_done,
            });
            let out = source::Output {
                decoded_tx: &decoded_tx,
                drop_oldest: oldest.as_ref(),
                edge: &edges[0],
                stop,
                health,
            };
            let result = supervise::run(source, playback, &options.supervision, &out);
            drop(decoded_tx); // EOS downstream
            result
        });
        let pre = s.spawn(move || {
            let result = preprocess::run(
                decoded_rx,
                free_rx,
                submitted_tx,
                spec,
                adapter.input_format(),
                &edges[1],
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
                &edges[2],
                &stages[1],
            )
        });
        let post = s.spawn(move || {
            let post = postprocess::Postprocess {
                adapter,
                input: spec,
                tracker,
            };
            post.run(inferred_rx, detected_tx, &edges[3], &stages[2])
        });
        let idn = identify_io.map(|(rx, tx, recognizer)| {
            s.spawn(move || identify::run(rx, tx, recognizer, &edges[4], &stages[3]))
        });
        let ovl =
            overlay_io.map(|(rx, tx)| s.spawn(move || overlay::run(rx, tx, &edges[5], &stages[4])));
        let snk = s.spawn(move || {
            sink::run(
                sink_rx,
                sinks,
                &stages[5],
                &stages[6],
                written,
                progress_ref,
            )
        });
        let periodic = options.stats_interval.map(|interval| {
            s.spawn(move || {
                periodic::Periodic {
                    uri,
                    interval,
                    health,
                    written,
                    edges,
                    end_to_end: &stages[6],
                    done: finished,
                }
                .run()
            })
        });
        let scrape = endpoint.as_ref().map(|endpoint| {
            let (device, execution_devices) = (&device, &execution_devices);
            s.spawn(move || {
                let sources = metrics::Sources {
                    source: uri,
                    written,
                    health,
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
        let source_result = src.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
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
        (source_result, results)
    });
    progress.finish_and_clear();

    let report = source_result?;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    let frames = written.load(Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
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
        edges: edges
            .iter()
            .filter(|e| (e.name != "rendered" || draw) && (e.name != "identified" || recognize))
            .map(Into::into)
            .collect(),
        interrupted: report.report.end == SourceEnd::Stopped,
        // A file that lost frames is an input error; a live stream that lost some on the
        // network is logged (warning) and keeps its exit code.
        damage: (!live && !report.report.damage.is_empty())
            .then(|| report.report.damage.describe()),
        reconnects: report.reconnects,
        health: report.health.to_string(),
    })
}

fn progress_bar(source: &Source, options: &RunOptions) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let from_duration = match (options.looping, source.duration, source.framerate()) {
        (false, Some(d), Some(fps)) => Some((d.seconds_f64() * fps).round() as u64),
        _ => None,
    };
    let len = match (options.limit, from_duration) {
        (Some(l), Some(d)) => Some(l.min(d)),
        (l, d) => l.or(d),
    };
    let fps = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.1} FPS", state.per_sec());
    };
    let template = match len {
        Some(_) => "{bar:40} {pos}/{len} frames  {fps}  eta {eta}",
        None => "{spinner} {pos} frames  {fps}",
    };
    let style = ProgressStyle::with_template(template)
        .expect("valid template")
        .with_key("fps", fps);
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    }
    .with_style(style);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}
