//! Wiring: one thread per stage, joined by bounded crossbeam channels named after their edge,
//! every stage run by the one loop of [`stage::run`].
//!
//! ```text
//! source ─decoded→ preprocess ─submitted→ infer ─inferred→ postprocess (+ tracker) ─detected→
//!     [identify ─identified→] [analytics ─analyzed→] [events ─evented→] [overlay ─rendered→] sink
//!                      ▲                     │
//!                      └──── free requests ──┘   (nireq requests; they move, never shared)
//! ```
//! Each source has its own thread and `decoded` edge; preprocess takes their frames in turn
//! ([`round_robin`]) and the stages after it carry `source_id` to per-source trackers and
//! sinks. Sources join and leave a running pipeline ([`Pipeline::add_source`],
//! [`Pipeline::remove_source`]): a source's end travels behind its last frame through every
//! stage ([`stage::Msg::End`]), and the sink finalizes its outputs when it arrives. EOS of the
//! whole pipeline is the closing of the channels: once no source can join and every source
//! has ended, each stage drains, finalizes and drops its sender. A stage whose downstream
//! closed stops quietly; the stage that failed reports the error.

mod assembly;
mod edges;
pub mod gate;
mod handle;
pub mod http;
mod http_conn;
pub mod metrics;
mod options;
mod output_metrics;
mod periodic;
mod plan;
mod progress;
mod registry;
pub mod round_robin;
pub mod source_stats;
pub mod stage;
pub mod stages;
mod summary;

pub use handle::{Pipeline, Play};
pub use options::{DetectFilter, Input, RunOptions};
pub use stage::SourceId;
pub use summary::Summary;

use crate::adapters::Adapter;
use crate::classify::Classifiers;
use crate::engine::Engine;
use crate::error::Result;
use crate::face::recognizer::Recognizer;
use crate::sink::Sinks;
use crate::source::Source;
use assembly::run_with;
use indicatif::ProgressBar;
use std::sync::atomic::AtomicBool;

/// Capacity of the edges between stages (frames). Small: frames are big, latency matters.
const EDGE_CAPACITY: usize = 4;
/// Capacity of the `decoded` edge for live sources: only the freshest frame waits for a free
/// infer request (older ones are dropped), which bounds end-to-end latency under overload.
const LIVE_DECODED_CAPACITY: usize = 1;
/// … when a gate (detection interval, motion mode) lets frames pass without a request: one
/// more frame of slack (a frame interval of latency) so a still camera's frames are not dropped
/// while the preprocess thread waits for a request for a moving one's.
const GATED_LIVE_DECODED_CAPACITY: usize = 2;
/// Frames without a track after which its `end` event is sent, when tracking is off.
const DEFAULT_LOST_AFTER: u64 = 30;

/// What runs on the detected objects after postprocess, each in a stage of its own: face
/// recognition (identify), then the `[[classify]]` classifiers (classify). Both optional.
#[derive(Default)]
pub struct Secondary<'a> {
    pub recognizer: Option<&'a mut Recognizer>,
    pub classifiers: Option<&'a mut Classifiers>,
}

impl<'a> Secondary<'a> {
    /// No secondary stage: detection only.
    pub fn none() -> Self {
        Secondary::default()
    }

    /// The recognizer and the classifiers a run has (either may be absent).
    pub fn new(
        recognizer: Option<&'a mut Recognizer>,
        classifiers: Option<&'a mut Classifiers>,
    ) -> Self {
        Secondary {
            recognizer,
            classifiers,
        }
    }
}

/// Runs `source` through `engine` and `adapter` into `sinks` until EOS, `limit` or `stop`.
///
/// # Errors
/// As [`run_many`].
pub fn run(
    source: Source,
    engine: &mut Engine,
    adapter: &Adapter,
    sinks: Sinks,
    secondary: Secondary<'_>,
    options: &RunOptions,
    stop: &AtomicBool,
) -> Result<Summary> {
    let inputs = vec![Input {
        source,
        sinks,
        analytics: None,
    }];
    run_many(inputs, engine, adapter, secondary, options, stop)
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
    inputs: Vec<Input>,
    engine: &mut Engine,
    adapter: &Adapter,
    secondary: Secondary<'_>,
    options: &RunOptions,
    stop: &AtomicBool,
) -> Result<Summary> {
    let nothing = |_: &Pipeline<'_, '_>, _: &[SourceId]| Ok(());
    run_many_with(inputs, engine, adapter, secondary, options, stop, nothing)
}

/// [`run_many`], then `control` on this thread with the running pipeline and the ids of the
/// inputs (in order) while they run: change their zones and lines there
/// ([`Pipeline::set_analytics`]), or add more sources. The run ends once `control` has
/// returned and every source has ended.
///
/// # Errors
/// As [`run_many`]; or `control`'s own error, once every source has ended.
pub fn run_many_with<F>(
    inputs: Vec<Input>,
    engine: &mut Engine,
    adapter: &Adapter,
    secondary: Secondary<'_>,
    options: &RunOptions,
    stop: &AtomicBool,
    control: F,
) -> Result<Summary>
where
    F: FnOnce(&Pipeline<'_, '_>, &[SourceId]) -> Result<()>,
{
    let sources: Vec<&Source> = inputs.iter().map(|i| &i.source).collect();
    let progress = progress::bar(&sources, options);
    let options = RunOptions {
        overlay: options.overlay || inputs.iter().any(|i| i.sinks.needs_pixels()),
        events: options.events || inputs.iter().any(|i| i.sinks.events.is_some()),
        analytics: options.analytics || inputs.iter().any(|i| i.analytics.is_some()),
        ..options.clone()
    };
    let play = |analytics| Play {
        looping: options.looping,
        limit: options.limit,
        analytics,
        ..Play::default()
    };
    run_with(
        engine,
        adapter,
        secondary,
        &options,
        stop,
        progress,
        |pipeline| {
            let mut ids = Vec::with_capacity(inputs.len());
            for Input {
                source,
                sinks,
                analytics,
            } in inputs
            {
                ids.push(pipeline.add_source_with(source, sinks, play(analytics))?);
            }
            control(pipeline, &ids)
        },
    )
}

/// Starts the pipeline with no source, runs `control` on this thread with its handle (add and
/// remove sources there, from other threads too: the handle is `Sync`), then waits until every
/// source has ended. Options apply to every source added.
///
/// # Errors
/// As [`run_many`]; or `control`'s own error, once every source has ended.
pub fn run_dynamic<F>(
    engine: &mut Engine,
    adapter: &Adapter,
    secondary: Secondary<'_>,
    options: &RunOptions,
    stop: &AtomicBool,
    control: F,
) -> Result<Summary>
where
    F: FnOnce(&Pipeline<'_, '_>) -> Result<()>,
{
    let progress = ProgressBar::hidden();
    run_with(engine, adapter, secondary, options, stop, progress, control)
}

#[cfg(test)]
mod seam_tests;
