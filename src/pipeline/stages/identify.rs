//! Identify (face recognition pipelines): between postprocess and overlay, names each face
//! ([`Recognizer`]: align → embed → gallery → per-track vote).

use crate::error::Result;
use crate::face::recognizer::Recognizer;
use crate::frame::AnalyzedFrame;
use crate::pipeline::stage::{Emit, SourceId, Stage};

pub struct Identify<'a> {
    pub recognizer: &'a mut Recognizer,
}

impl Stage for Identify<'_> {
    type In = AnalyzedFrame;
    type Out = AnalyzedFrame;

    fn process(&mut self, mut frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        self.recognizer.identify(&mut frame)?;
        out.push(frame);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.recognizer.end_source(id);
        Ok(())
    }
}
