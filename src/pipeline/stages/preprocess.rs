//! Preprocess: a free infer request and the next frame(s) → the frames written into the
//! request's input tensor, inference started. Requests come from the free pool, so at most
//! `nireq` requests are in flight.

use crate::engine::Request;
use crate::error::Result;
use crate::frame::Frame;
use crate::inference::{InFlight, Inference};
use crate::pipeline::gate::Gate;
use crate::pipeline::round_robin::RoundRobin;
use crate::pipeline::stage::{Emit, Inlet, Msg, Stage};
use crate::pipeline::stages::infer::Submission;
use crate::preprocess::Scratch;
use crossbeam::channel::Receiver;
use std::time::Instant;

/// The stage's inlet: a free request first, then the frame, so a frame never waits here for a
/// request while fresher ones arrive behind it (live sources keep only the newest in
/// `decoded`). With `batch` > 1 a request takes the next frame (waiting for it) plus whatever
/// frames are ready then, in turn across sources, up to `batch`; it never waits to fill one.
///
/// Frames the [`Gate`] does not admit (detection interval, motion mode) pass as
/// [`Work::Skip`] (no request used: it stays spare).
pub struct Ready {
    pub free: Receiver<Request>,
    pub decoded: RoundRobin<Frame>,
    pub batch: usize,
    pub gate: Gate,
    /// A request taken before a source's end or a skipped frame was the next message.
    pub spare: Option<Request>,
    /// A skipped frame met while a batch was gathered: the next message.
    pub held: Option<Frame>,
}

/// What the preprocess stage gets: a request and the frames to infer, or a frame to skip.
pub enum Work {
    Infer(Request, Vec<Frame>),
    Skip(Frame),
}

impl Ready {
    fn skips(&mut self, frame: &Frame) -> bool {
        !self.gate.admits(frame)
    }
}

impl Inlet<Work> for Ready {
    fn recv(&mut self) -> Option<Msg<Work>> {
        let request = match self.spare.take() {
            Some(r) => r,
            None => self.free.recv().ok()?, // the infer stage is gone
        };
        let next = match self.held.take() {
            Some(frame) => Msg::Item(frame),
            None => self.decoded.recv()?,
        };
        match next {
            Msg::End(id) => {
                self.spare = Some(request);
                self.gate.end_source(id);
                Some(Msg::End(id))
            }
            Msg::Item(mut first) if self.skips(&first) => {
                self.spare = Some(request);
                first.inferred = false;
                Some(Msg::Item(Work::Skip(first)))
            }
            Msg::Item(first) => {
                let mut frames = Vec::with_capacity(self.batch);
                frames.push(first);
                while frames.len() < self.batch {
                    match self.decoded.try_recv() {
                        Some(frame) if self.skips(&frame) => {
                            self.held = Some(frame);
                            break;
                        }
                        Some(frame) => frames.push(frame),
                        None => break,
                    }
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
