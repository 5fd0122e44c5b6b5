//! Preprocess: a free infer request and the next frame(s) → the frames written into the
//! request's input tensor, inference started. Requests come from the free pool, so at most
//! `nireq` requests are in flight.

use crate::engine::Request;
use crate::error::Result;
use crate::frame::Frame;
use crate::inference::{InFlight, Inference};
use crate::pipeline::round_robin::RoundRobin;
use crate::pipeline::stage::{Emit, Inlet, Msg, Stage};
use crate::preprocess::Scratch;
use crossbeam::channel::Receiver;
use std::time::Instant;

/// The stage's inlet: a free request first, then the frame, so a frame never waits here for a
/// request while fresher ones arrive behind it (live sources keep only the newest in
/// `decoded`). With `batch` > 1 a request takes the next frame (waiting for it) plus whatever
/// frames are ready then, in turn across sources, up to `batch`; it never waits to fill one.
pub struct Ready {
    pub free: Receiver<Request>,
    pub decoded: RoundRobin<Frame>,
    pub batch: usize,
    /// A request taken before a source's end was the next message.
    pub spare: Option<Request>,
}

impl Inlet<(Request, Vec<Frame>)> for Ready {
    fn recv(&mut self) -> Option<Msg<(Request, Vec<Frame>)>> {
        let request = match self.spare.take() {
            Some(r) => r,
            None => self.free.recv().ok()?, // the infer stage is gone
        };
        match self.decoded.recv()? {
            Msg::End(id) => {
                self.spare = Some(request);
                Some(Msg::End(id))
            }
            Msg::Item(first) => {
                let mut frames = Vec::with_capacity(self.batch);
                frames.push(first);
                while frames.len() < self.batch {
                    match self.decoded.try_recv() {
                        Some(frame) => frames.push(frame),
                        None => break,
                    }
                }
                Some(Msg::Item((request, frames)))
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
    type In = (Request, Vec<Frame>);
    type Out = InFlight;

    fn process(&mut self, (mut request, frames): Self::In, out: &mut Emit<InFlight>) -> Result<()> {
        self.inference
            .start(&mut request, &frames, &mut self.scratch)?;
        out.count_frames(frames.len());
        out.push(InFlight {
            frames,
            request,
            started: Instant::now(),
        });
        Ok(())
    }
}
