//! Infer: waits on started requests oldest-first (so output keeps frame order with any
//! nireq), reads the outputs in the adapter's order, and returns each request to the free pool.

use crate::engine::Request;
use crate::error::Result;
use crate::frame::Frame;
use crate::inference::{InFlight, Inference, Inferred};
use crate::pipeline::stage::{Emit, Inlet, Msg, Stage};
use crossbeam::channel::{Receiver, Sender};

/// What preprocess hands on, in frame order: a started request, or a frame the detection
/// interval skips (it waits behind the requests started before it, so order holds).
pub enum Submission {
    Started(InFlight),
    Skipped(Frame),
}

/// Collects finished requests through the inference core.
pub struct Infer<'a> {
    pub inference: &'a Inference,
    /// The free pool (sized to hold every request, so a send never blocks).
    pub free: Sender<Request>,
}

impl Stage for Infer<'_> {
    type In = Submission;
    type Out = Inferred;

    fn process(&mut self, input: Submission, out: &mut Emit<Inferred>) -> Result<()> {
        let input = match input {
            Submission::Started(i) => i,
            Submission::Skipped(frame) => {
                out.push(Inferred {
                    frame,
                    outputs: None,
                });
                return Ok(());
            }
        };
        let InFlight {
            frames,
            mut request,
            started,
        } = input;
        let outputs = self.inference.collect(&mut request, frames.len());
        // A closed pool means preprocess is done, which is fine.
        let _ = self.free.send(request);
        for (frame, outputs) in frames.into_iter().zip(outputs?) {
            out.push(Inferred {
                frame,
                outputs: Some(outputs),
            });
        }
        out.set_latency(started.elapsed());
        Ok(())
    }
}

/// The `submitted` edge's receiving end. When the stage stops early (downstream closed), the
/// requests still in flight are waited for on drop, so none is freed mid-inference.
pub struct Submitted(pub Receiver<Msg<Submission>>);

impl Inlet<Submission> for Submitted {
    fn recv(&mut self) -> Option<Msg<Submission>> {
        self.0.recv().ok()
    }
}

impl Drop for Submitted {
    fn drop(&mut self) {
        while let Ok(msg) = self.0.try_recv() {
            if let Msg::Item(Submission::Started(mut rest)) = msg {
                let _ = rest.request.wait();
            }
        }
    }
}
