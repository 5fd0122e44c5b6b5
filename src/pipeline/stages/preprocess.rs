//! Preprocess: a free infer request and the next frame(s) → the frames written into the
//! request's input tensor, inference started. Requests come from the free pool, so at most
//! `nireq` requests are in flight.

use crate::engine::Request;
use crate::error::Result;
use crate::frame::Frame;
use crate::inference::{InFlight, Inference};
use crate::pipeline::gate::Gate;
use crate::pipeline::round_robin::{Next, RoundRobin};
use crate::pipeline::stage::{Emit, Inlet, Msg, Stage};
use crate::pipeline::stages::infer::Submission;
use crate::preprocess::Scratch;
use crossbeam::channel::{Receiver, TryRecvError};
use std::time::Instant;

/// The stage's inlet: a free request first, then the frame, so a frame never waits here for a
/// request while fresher ones arrive behind it (live sources keep only the newest in
/// `decoded`). With `batch` > 1 a request takes the next frame (waiting for it) plus whatever
/// frames are ready then, in turn across sources, up to `batch`; it never waits to fill one.
///
/// Frames the [`Gate`] does not admit (detection interval, motion mode) pass as
/// [`Work::Skip`] and need no request: while every request is busy, such frames keep flowing
/// (a camera whose scene is still never waits for one whose scene moves); the first frame the
/// gate admits then waits here for the next free request.
pub struct Ready {
    pub free: Receiver<Request>,
    pub decoded: RoundRobin<Frame>,
    pub batch: usize,
    pub gate: Gate,
    /// A request taken before a source's end or a skipped frame was the next message.
    pub spare: Option<Request>,
    /// A skipped frame met while a batch was gathered: the next message.
    pub held: Option<Frame>,
    /// A frame the gate admitted while no request was free: the next request's first frame.
    pub admitted: Option<Frame>,
}

/// What the preprocess stage gets: a request and the frames to infer, or a frame to skip.
pub enum Work {
    Infer(Request, Vec<Frame>),
    Skip(Frame),
}

impl Ready {
    /// Ready to take `decoded` frames, `batch` a request, from the `free` requests, as `gate`
    /// admits them.
    pub fn new(
        free: Receiver<Request>,
        decoded: RoundRobin<Frame>,
        batch: usize,
        gate: Gate,
    ) -> Self {
        Ready {
            free,
            decoded,
            batch,
            gate,
            spare: None,
            held: None,
            admitted: None,
        }
    }

    /// Asks the gate (once per frame); a frame it turns down is marked `inferred: false`.
    fn skips(&mut self, frame: &mut Frame) -> bool {
        let skip = !self.gate.admits(frame);
        if skip {
            frame.inferred = false;
        }
        skip
    }

    /// A free request; while there is none, frames the gate turns down and sources' ends pass
    /// (`Err`), and the first frame it admits is kept in `admitted`. `None`: the infer stage
    /// or every source is gone.
    fn request_or_pass(&mut self) -> Option<Result<Request, Msg<Work>>> {
        loop {
            match self.free.try_recv() {
                Ok(request) => return Some(Ok(request)),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            if self.admitted.is_some() {
                return self.free.recv().ok().map(Ok);
            }
            match self.decoded.recv_or(Some(&self.free)) {
                Next::Other => continue,
                Next::Done => return None,
                Next::Msg(Msg::End(id)) => {
                    self.gate.end_source(id);
                    return Some(Err(Msg::End(id)));
                }
                Next::Msg(Msg::Item(mut frame)) => {
                    if self.skips(&mut frame) {
                        return Some(Err(Msg::Item(Work::Skip(frame))));
                    }
                    self.admitted = Some(frame);
                }
            }
        }
    }
}

impl Inlet<Work> for Ready {
    fn recv(&mut self) -> Option<Msg<Work>> {
        if let Some(frame) = self.held.take() {
            // The gate already turned it down: it is not asked twice.
            return Some(Msg::Item(Work::Skip(frame)));
        }
        let request = match self.spare.take() {
            Some(r) => r,
            // Without a gate every frame needs a request: wait for one first.
            None if self.gate.passes_all() => self.free.recv().ok()?, // the infer stage is gone
            None => match self.request_or_pass()? {
                Ok(request) => request,
                Err(msg) => return Some(msg),
            },
        };
        let (next, asked) = match self.admitted.take() {
            Some(frame) => (Msg::Item(frame), true),
            None => (self.decoded.recv()?, false),
        };
        match next {
            Msg::End(id) => {
                self.spare = Some(request);
                self.gate.end_source(id);
                Some(Msg::End(id))
            }
            Msg::Item(mut first) => {
                if !asked && self.skips(&mut first) {
                    self.spare = Some(request);
                    return Some(Msg::Item(Work::Skip(first)));
                }
                let mut frames = Vec::with_capacity(self.batch);
                frames.push(first);
                while frames.len() < self.batch {
                    let Some(mut frame) = self.decoded.try_recv() else {
                        break;
                    };
                    if self.skips(&mut frame) {
                        self.held = Some(frame);
                        break;
                    }
                    frames.push(frame);
                }
                Some(Msg::Item(Work::Infer(request, frames)))
            }
        }
    }
}

/// Fills and starts requests through the inference core.
pub struct Preprocess<'a> {
    pub inference: &'a Inference,
    pub scratch: Scratch,
}

impl Stage for Preprocess<'_> {
    type In = Work;
    type Out = Submission;

    fn process(&mut self, work: Work, out: &mut Emit<Submission>) -> Result<()> {
        let (mut request, frames) = match work {
            Work::Infer(request, frames) => (request, frames),
            Work::Skip(frame) => {
                out.push(Submission::Skipped(frame));
                return Ok(());
            }
        };
        self.inference
            .start(&mut request, &frames, &mut self.scratch)?;
        out.count_frames(frames.len());
        out.push(Submission::Started(InFlight {
            frames,
            request,
            started: Instant::now(),
        }));
        Ok(())
    }
}
