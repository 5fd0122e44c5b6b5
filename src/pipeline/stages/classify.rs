//! Classify (`[[classify]]`): between identify and analytics, second-stage classifiers set
//! each object's attributes ([`Classifiers`]: crop → batched inference → smoothing per track).
//! A source's own filter may name the classifiers it runs (`serve`: a stream's `classify`).

use crate::classify::Classifiers;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::pipeline::registry::Registry;
use crate::pipeline::stage::{Emit, SourceId, Stage};
use std::collections::HashMap;

pub struct Classify<'a> {
    pub classifiers: &'a mut Classifiers,
    pub registry: &'a Registry,
    /// Each source's classifier choice (`None`: all), read again when the registry's filter
    /// version changes.
    pub only: HashMap<SourceId, Option<Vec<String>>>,
    pub version: u64,
}

impl Stage for Classify<'_> {
    type In = AnalyzedFrame;
    type Out = AnalyzedFrame;

    fn process(&mut self, mut frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        let version = self.registry.filters_version();
        if version != self.version {
            self.version = version;
            self.only.clear();
        }
        let registry = self.registry;
        let only = self
            .only
            .entry(frame.frame.source_id)
            .or_insert_with_key(|&id| registry.filter_of(id).and_then(|f| f.classify));
        self.classifiers.classify(&mut frame, only.as_deref())?;
        out.push(frame);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.classifiers.end_source(id);
        self.only.remove(&id);
        Ok(())
    }
}
