//! Identify (face recognition pipelines): between postprocess and overlay, names each face
//! ([`Recognizer`]: align → embed → gallery → per-track vote).

use crate::error::Result;
use crate::face::recognizer::Recognizer;
use crate::frame::AnalyzedFrame;
use crate::pipeline::stage::{Emit, SourceId, Stage};

pub struct Identify<'a> {
    pub recognizer: &'a mut Recognizer,
    /// Source names (the cameras remembered unknown people were seen on).
    pub registry: &'a crate::pipeline::registry::Registry,
}

impl Stage for Identify<'_> {
    type In = AnalyzedFrame;
    type Out = AnalyzedFrame;

    fn process(&mut self, mut frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        let camera = self
            .registry
            .list
            .get(frame.frame.source_id)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        self.recognizer.identify(&mut frame, &camera)?;
        out.push(frame);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.recognizer.end_source(id);
        Ok(())
    }
}
