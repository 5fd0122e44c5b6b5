//! The assembly of one run: the request pool, every stage's thread and edge, the metrics
//! endpoint and the periodic stats, spawned and joined in one scope; then the summary.

use super::edges::{Edges, Stages};
use super::handle::{Context, Pipeline};
use super::plan::{self, Optional, Plan};
use super::registry::Registry;
use super::round_robin::RoundRobin;
use super::stage::{self, Outlet, Stage};
use super::stages::{
    analytics, classify, events, identify, infer, overlay, postprocess, preprocess, sink,
};
use super::{
    gate, metrics, periodic, summary, RunOptions, Secondary, Summary, DEFAULT_LOST_AFTER,
    EDGE_CAPACITY,
};
use crate::adapters::Adapter;
use crate::engine::Engine;
use crate::error::Result;
use crate::inference::Inference;
use crate::telemetry::{Edge, StageStats};
use crossbeam::channel::{bounded, unbounded, Receiver};
use indicatif::ProgressBar;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Instant;

#[allow(
    clippy::too_many_lines,
    reason = "every stage thread is spawned and joined in one scope, which the borrows of the \
              shared context, edges and stats need; read top to bottom it is the pipeline's diagram"
)]
pub(super) fn run_with<F>(
    engine: &mut Engine,
    adapter: &Adapter,
    secondary: Secondary<'_>,
    options: &RunOptions,
    stop: &AtomicBool,
    progress: ProgressBar,
    control: F,
) -> Result<Summary>
where
    F: FnOnce(&Pipeline<'_, '_>) -> Result<()>,
{
    // OpenCV's own thread pool would compete with OpenVINO's inference threads for the same
    // cores; the images it works on here are small, so one thread each stage is faster.
    opencv::core::set_num_threads(1).map_err(|e| crate::Error::opencv("set_num_threads", e))?;
    let nireq = engine.nireq;
    let (free_tx, free_rx) = bounded(nireq);
    for r in engine.create_requests(nireq)? {
        free_tx.send(r).expect("pool sized for nireq");
    }
    let inference = Inference::new(engine, adapter);
    let ctx = Context {
        registry: Registry::default(),
        options,
        stop,
        preprocess_done: AtomicBool::new(false),
    };
    let edges = Edges::new(nireq, EDGE_CAPACITY);
    let stages = Stages::new();
    let endpoint = match &options.metrics_endpoint {
        Some(e) => Some(std::sync::Arc::clone(e)),
        None => options
            .metrics
            .as_deref()
            .map(metrics::Endpoint::bind)
            .transpose()?
            .map(std::sync::Arc::new),
    };
    let (joins_tx, joins_rx) = unbounded();
    let (submitted_tx, submitted_rx) = bounded(nireq);
    let (inferred_tx, inferred_rx) = bounded(EDGE_CAPACITY);
    let (detected_tx, detected_rx) = bounded(EDGE_CAPACITY);
    // The optional stages between postprocess and sink, from the plan, in one loop.
    let plan = Plan::new(
        options,
        secondary.recognizer.is_some(),
        secondary.classifiers.is_some(),
    );
    let (links, sink_rx) = plan.chain(detected_rx, EDGE_CAPACITY);
    let facts = &RunFacts {
        device: engine.device.as_str(),
        execution_devices: engine.execution_devices.as_str(),
        compile_seconds: engine.compile_time.as_secs_f64(),
        started: Instant::now(),
    };
    let finished = AtomicBool::new(false);

    let sightings = gate::Sightings::default();
    let gate_sightings = sightings.clone();
    let (ctx, edges, stages, inference) = (&ctx, &edges, &stages, &inference);
    let plan_ref = &plan;
    let (progress_ref, finished_ref) = (&progress, &finished);
    let (control_result, results) = std::thread::scope(|s| {
        let pipeline = Pipeline {
            scope: s,
            ctx,
            joins: Mutex::new(Some(joins_tx)),
        };
        let pre = s.spawn(move || {
            let inlet = preprocess::Ready::new(
                free_rx,
                RoundRobin::joining(joins_rx),
                inference.spec().batch,
                options.gate().with_sightings(gate_sightings),
            );
            let stage = preprocess::Preprocess {
                inference,
                scratch: Default::default(),
            };
            let outlet = Outlet::Edge(submitted_tx, &edges.submitted);
            let result = stage::run(stage, inlet, outlet, &stages.preprocess);
            ctx.preprocess_done.store(true, Ordering::Relaxed);
            result
        });
        let inf = s.spawn(move || {
            let stage = infer::Infer {
                inference,
                free: free_tx,
            };
            let inlet = infer::Submitted(submitted_rx);
            let outlet = Outlet::Edge(inferred_tx, &edges.inferred);
            stage::run(stage, inlet, outlet, &stages.infer)
        });
        let post = spawn_stage(
            s,
            postprocess::Postprocess {
                inference,
                track: options.track,
                trackers: HashMap::new(),
                registry: &ctx.registry,
                filters: HashMap::new(),
                version: 0,
                last: HashMap::new(),
                skipping: options.gated(),
                sightings,
            },
            inferred_rx,
            Outlet::Edge(detected_tx, &edges.detected),
            &stages.postprocess,
        );
        let optional = spawn_optional(s, links, ctx, edges, stages, secondary);
        let snk = spawn_stage(
            s,
            sink::Sink {
                registry: &ctx.registry,
                end_to_end: &stages.end_to_end,
                progress: progress_ref,
                outputs: HashMap::new(),
            },
            sink_rx,
            Outlet::Nowhere,
            &stages.sink,
        );
        let periodic = options.stats_interval.map(|interval| {
            s.spawn(move || {
                periodic::Periodic {
                    sources: &ctx.registry.list,
                    interval,
                    done: finished_ref,
                }
                .run()
            })
        });
        let scrape = endpoint.as_ref().map(|endpoint| {
            s.spawn(move || {
                serve_metrics(endpoint, ctx, edges, stages, plan_ref, facts, finished_ref)
            })
        });
        let control_result = control(&pipeline);
        pipeline.close();
        let joined = |h: ScopedJoinHandle<'_, Result<()>>| {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        };
        let mut results = vec![joined(pre), joined(inf), joined(post)];
        results.extend(optional.into_iter().map(joined));
        results.push(joined(snk));
        finished_ref.store(true, Ordering::Relaxed);
        for h in periodic.into_iter().chain(scrape) {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        (control_result, results)
    });
    progress.finish_and_clear();
    summary::build(summary::Parts {
        registry: &ctx.registry,
        started: facts.started,
        results,
        control: control_result,
        stages: (stages.all().into_iter())
            .filter(|s| plan.has_stage(s.name))
            .collect(),
        edges: (edges.all().into_iter())
            .filter(|e| plan.has_edge(e.name))
            .collect(),
        nireq,
        device: facts.device.to_string(),
        execution_devices: facts.execution_devices.to_string(),
    })
}

/// What the metrics and the summary say about the run as a whole.
struct RunFacts<'a> {
    device: &'a str,
    execution_devices: &'a str,
    compile_seconds: f64,
    started: Instant,
}

/// Serves `endpoint`'s metrics requests until `finished`: the edges and stages this run has
/// (those of `plan`, as in the summary), every source of the registry.
fn serve_metrics(
    endpoint: &metrics::Endpoint,
    ctx: &Context<'_>,
    edges: &Edges,
    stages: &Stages,
    plan: &Plan,
    facts: &RunFacts<'_>,
    finished: &AtomicBool,
) {
    let shared: Vec<&Edge> = (edges.all().into_iter())
        .filter(|e| plan.has_edge(e.name))
        .collect();
    let all_stages: Vec<&StageStats> = (stages.all().into_iter())
        .filter(|st| plan.has_stage(st.name))
        .collect();
    let sources = metrics::Sources {
        sources: &ctx.registry.list,
        edges: &shared,
        stages: &all_stages,
        device: facts.device,
        execution_devices: facts.execution_devices,
        compile_seconds: facts.compile_seconds,
        started: facts.started,
        mqtt: &|| ctx.registry.mqtt().map(|m| m.stats()),
    };
    endpoint.serve(&sources, finished)
}

/// Spawns the optional stages of the plan, each reading the edge before it (see
/// [`Plan::chain`]); the recognizer goes to the identify stage, the classifiers to the
/// classify stage.
fn spawn_optional<'scope>(
    s: &'scope Scope<'scope, '_>,
    links: Vec<plan::Link>,
    ctx: &'scope Context<'scope>,
    edges: &'scope Edges,
    stages: &'scope Stages,
    secondary: Secondary<'scope>,
) -> Vec<ScopedJoinHandle<'scope, Result<()>>> {
    let Secondary {
        mut recognizer,
        mut classifiers,
    } = secondary;
    let options = ctx.options;
    let lost_after = options
        .track
        .map_or(DEFAULT_LOST_AFTER, |(_, buffer)| buffer as u64);
    let mut handles = Vec::with_capacity(links.len());
    for (stage, rx, tx) in links {
        let outlet = Outlet::Edge(tx, stage.edge(edges));
        let stats = stage.stats(stages);
        handles.push(match stage {
            Optional::Identify => {
                let recognizer = recognizer.take().expect("planned with a recognizer");
                let stage = identify::Identify {
                    recognizer,
                    registry: &ctx.registry,
                    names: HashMap::new(),
                };
                spawn_stage(s, stage, rx, outlet, stats)
            }
            Optional::Classify => {
                let classifiers = classifiers.take().expect("planned with classifiers");
                let stage = classify::Classify {
                    classifiers,
                    registry: &ctx.registry,
                    only: HashMap::new(),
                    version: 0,
                };
                spawn_stage(s, stage, rx, outlet, stats)
            }
            Optional::Analytics => {
                let stage = analytics::Analytics {
                    registry: &ctx.registry,
                    lost_after,
                    sources: HashMap::new(),
                    version: 0,
                };
                spawn_stage(s, stage, rx, outlet, stats)
            }
            Optional::Events => {
                let stage = events::Events {
                    registry: &ctx.registry,
                    lost_after,
                    alerts: std::sync::Arc::clone(&options.alerts),
                    sources: HashMap::new(),
                    scratch: Vec::new(),
                    alert_scratch: Vec::new(),
                };
                spawn_stage(s, stage, rx, outlet, stats)
            }
            Optional::Overlay => {
                let stage = overlay::Overlay {
                    sources: &ctx.registry.list,
                };
                spawn_stage(s, stage, rx, outlet, stats)
            }
        });
    }
    handles
}

/// Spawns `stage` on its own thread of `s`, reading `rx`.
fn spawn_stage<'scope, S>(
    s: &'scope Scope<'scope, '_>,
    stage: S,
    rx: Receiver<stage::Msg<S::In>>,
    outlet: Outlet<'scope, S::Out>,
    stats: &'scope StageStats,
) -> ScopedJoinHandle<'scope, Result<()>>
where
    S: Stage + 'scope,
{
    s.spawn(move || stage::run(stage, rx, outlet, stats))
}
