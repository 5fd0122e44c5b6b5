//! Classify (`[[classify]]`): between identify and analytics, second-stage classifiers set
//! each object's attributes ([`Classifiers`]: crop → inference → smoothing per track). A
//! source's own filter may name the classifiers it runs (`serve`: a stream's `classify`).
//!
//! Each frame goes alone. Taking the frames waiting on the edge together (up to 8, so their
//! crops share the classifier's requests) was built and measured: on a 2-core CPU it was 1.13×
//! slower and used 1.19× the CPU (its parallel requests compete with detection for the same
//! cores; docs/classify.md). [`Classifiers::classify`] still takes a group, for devices
//! where that pays.

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

    fn process(&mut self, frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        let version = self.registry.filters_version();
        if version != self.version {
            self.version = version;
            self.only.clear();
        }
        let registry = self.registry;
        let only = (self.only.entry(frame.frame.source_id))
            .or_insert_with_key(|&id| registry.filter_of(id).and_then(|f| f.classify));
        let mut frames = [frame];
        self.classifiers.classify(&mut frames, &[only.as_deref()])?;
        let [frame] = frames;
        out.push(frame);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.classifiers.end_source(id);
        self.only.remove(&id);
        Ok(())
    }
}
