//! Identify (face recognition pipelines): between postprocess and overlay, names each face
//! ([`Recognizer`]: align → embed → gallery → per-track vote).

use crate::error::Result;
use crate::face::recognizer::Recognizer;
use crate::frame::AnalyzedFrame;
use crate::pipeline::stage::{Emit, SourceId, Stage};
use std::collections::HashMap;

pub struct Identify<'a> {
    pub recognizer: &'a mut Recognizer,
    /// Source names (the cameras remembered unknown people were seen on).
    pub registry: &'a crate::pipeline::registry::Registry,
    /// Each source's name, looked up on its first frame.
    pub names: HashMap<SourceId, String>,
}

impl Stage for Identify<'_> {
    type In = AnalyzedFrame;
    type Out = AnalyzedFrame;

    fn process(&mut self, mut frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        let registry = self.registry;
        let camera = self
            .names
            .entry(frame.frame.source_id)
            .or_insert_with_key(|&id| {
                registry
                    .list
                    .get(id)
                    .map(|s| s.name.clone())
                    .unwrap_or_default()
            });
        self.recognizer.identify(&mut frame, camera)?;
        out.push(frame);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.recognizer.end_source(id);
        self.names.remove(&id);
        Ok(())
    }
}
