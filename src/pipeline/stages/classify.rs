//! Classify (`[[classify]]`): between identify and analytics, second-stage classifiers set
//! each object's attributes ([`Classifiers`]: crop → batched inference → smoothing per track).

use crate::classify::Classifiers;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::pipeline::stage::{Emit, SourceId, Stage};

pub struct Classify<'a> {
    pub classifiers: &'a mut Classifiers,
}

impl Stage for Classify<'_> {
    type In = AnalyzedFrame;
    type Out = AnalyzedFrame;

    fn process(&mut self, mut frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        self.classifiers.classify(&mut frame)?;
        out.push(frame);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.classifiers.end_source(id);
        Ok(())
    }
}
