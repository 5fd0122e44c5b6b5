//! The one stage loop: a stage is its per-frame work ([`Stage::process`]); [`run`] owns the
//! channels, the timing, the stats and the shutdown, the same for every stage.
//!
//! What flows on an edge is a [`Msg`]: a frame (or a request in flight, between preprocess and
//! infer), or the end of one source. A source's end travels behind its last frame through every
//! stage, so each stage can drop that source's state in order (trackers, votes) and the sink
//! can finalize that source's outputs while the others run on. The whole pipeline ends when
//! the first stage's inlet ends: every stage then drains, calls [`Stage::finish`] and closes
//! its outgoing edge.

use crate::error::Result;
use crate::telemetry::{Edge, StageStats};
use crossbeam::channel::{Receiver, Sender};
use std::time::{Duration, Instant};

/// Index of a source in the pipeline (stable for its lifetime; never reused in one run).
pub type SourceId = usize;

/// What moves on an edge.
pub enum Msg<T> {
    /// One unit of work (a frame, or a started request with its frames).
    Item(T),
    /// The source ended: everything it sent is ahead of this on the edge.
    End(SourceId),
}

/// What one call of [`Stage::process`] produced.
pub struct Emit<T> {
    items: Vec<T>,
    latency: Option<Duration>,
    frames: Option<usize>,
}

impl<T> Emit<T> {
    fn new() -> Self {
        Emit {
            items: Vec::new(),
            latency: None,
            frames: None,
        }
    }

    /// Sends `item` downstream (after `process` returns, in push order).
    pub fn push(&mut self, item: T) {
        self.items.push(item);
    }

    /// Records `latency` per item instead of the time `process` took (the infer stage
    /// reports each request's start-to-result time).
    pub fn set_latency(&mut self, latency: Duration) {
        self.latency = Some(latency);
    }

    /// The outputs carry `frames` frames (a batched request): the stage's time is counted
    /// once per frame, shared among them.
    pub fn count_frames(&mut self, frames: usize) {
        self.frames = Some(frames);
    }
}

/// A stage's per-frame work. The loop around it is [`run`].
pub trait Stage: Send {
    type In: Send;
    type Out: Send;
    /// Turns one input into zero or more outputs (pushed on `out`).
    ///
    /// # Errors
    /// Stops the stage; the pipeline reports the error after every output is finalized.
    fn process(&mut self, input: Self::In, out: &mut Emit<Self::Out>) -> Result<()>;
    /// Source `id` ended; its last frame has passed this stage.
    fn end_source(&mut self, _id: SourceId) -> Result<()> {
        Ok(())
    }
    /// The last input has passed (or a later stage stopped): finalize.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Where a stage's inputs come from.
pub trait Inlet<T> {
    /// The next message; `None` when the edge has closed and is drained.
    fn recv(&mut self) -> Option<Msg<T>>;
}

impl<T> Inlet<T> for Receiver<Msg<T>> {
    fn recv(&mut self) -> Option<Msg<T>> {
        Receiver::recv(self).ok()
    }
}

/// Where a stage's outputs go: the next edge, or nowhere (the sink).
pub enum Outlet<'a, T> {
    Edge(Sender<Msg<T>>, &'a Edge),
    Nowhere,
}

impl<T> Outlet<'_, T> {
    /// `false` when downstream has gone (it failed or finished early).
    fn send(&self, msg: Msg<T>) -> bool {
        match self {
            Outlet::Edge(tx, edge) => edge.send(tx, msg).is_ok(),
            Outlet::Nowhere => true,
        }
    }
}

/// Runs `stage` until `inlet` ends or downstream closes; each output frame is counted in
/// `stats` (the time `process` took, shared among its frames, or the latency it set; a call
/// with no output counts once). A stage whose
/// downstream closed stops quietly; the one that failed reports the error. `finish` runs
/// either way.
pub fn run<S: Stage>(
    mut stage: S,
    mut inlet: impl Inlet<S::In>,
    outlet: Outlet<'_, S::Out>,
    stats: &StageStats,
) -> Result<()> {
    let mut out = Emit::new();
    let result = (|| {
        while let Some(msg) = inlet.recv() {
            let input = match msg {
                Msg::Item(input) => input,
                Msg::End(id) => {
                    stage.end_source(id)?;
                    if !outlet.send(Msg::End(id)) {
                        return Ok(());
                    }
                    continue;
                }
            };
            let t0 = Instant::now();
            stage.process(input, &mut out)?;
            let n = out.frames.take().unwrap_or(out.items.len()).max(1);
            let each = out.latency.take().unwrap_or(t0.elapsed() / n as u32);
            for _ in 0..n {
                stats.record(each);
            }
            for item in out.items.drain(..) {
                if !outlet.send(Msg::Item(item)) {
                    return Ok(());
                }
            }
        }
        Ok(())
    })();
    let finished = stage.finish();
    result.and(finished)
}
