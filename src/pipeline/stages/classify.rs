//! Classify (`[[classify]]`): between identify and analytics, second-stage classifiers set
//! each object's attributes ([`Classifiers`]: crop → inference → smoothing per track). The
//! frames waiting on its edge are taken together ([`Gather`]): their crops, from every source,
//! share the classifier's requests. A source's own filter may name the classifiers it runs
//! (`serve`: a stream's `classify`).

use crate::classify::Classifiers;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::pipeline::registry::Registry;
use crate::pipeline::stage::{Emit, Inlet, Msg, SourceId, Stage};
use crossbeam::channel::Receiver;
use std::collections::HashMap;

/// Most frames classified together.
pub const MAX_GROUP: usize = 8;

pub struct Classify<'a> {
    pub classifiers: &'a mut Classifiers,
    pub registry: &'a Registry,
    /// Each source's classifier choice (`None`: all), read again when the registry's filter
    /// version changes.
    pub only: HashMap<SourceId, Option<Vec<String>>>,
    pub version: u64,
}

impl Stage for Classify<'_> {
    type In = Vec<AnalyzedFrame>;
    type Out = AnalyzedFrame;

    fn process(
        &mut self,
        mut frames: Vec<AnalyzedFrame>,
        out: &mut Emit<AnalyzedFrame>,
    ) -> Result<()> {
        let version = self.registry.filters_version();
        if version != self.version {
            self.version = version;
            self.only.clear();
        }
        let registry = self.registry;
        for f in &frames {
            self.only
                .entry(f.frame.source_id)
                .or_insert_with_key(|&id| registry.filter_of(id).and_then(|f| f.classify));
        }
        let only: Vec<Option<&[String]>> = (frames.iter())
            .map(|f| self.only.get(&f.frame.source_id).and_then(|o| o.as_deref()))
            .collect();
        self.classifiers.classify(&mut frames, &only)?;
        for f in frames {
            out.push(f);
        }
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.classifiers.end_source(id);
        self.only.remove(&id);
        Ok(())
    }
}

/// The classify stage's inlet: the next frame and the frames already waiting behind it (up to
/// [`MAX_GROUP`]); a source's end closes a group and comes next, so order is kept.
pub struct Gather {
    pub rx: Receiver<Msg<AnalyzedFrame>>,
    pub held: Option<Msg<AnalyzedFrame>>,
}

impl Inlet<Vec<AnalyzedFrame>> for Gather {
    fn recv(&mut self) -> Option<Msg<Vec<AnalyzedFrame>>> {
        let first = match self.held.take() {
            Some(msg) => msg,
            None => self.rx.recv().ok()?,
        };
        let mut group = match first {
            Msg::End(id) => return Some(Msg::End(id)),
            Msg::Item(frame) => vec![frame],
        };
        while group.len() < MAX_GROUP {
            match self.rx.try_recv() {
                Ok(Msg::Item(frame)) => group.push(frame),
                Ok(end) => {
                    self.held = Some(end);
                    break;
                }
                Err(_) => break,
            }
        }
        Some(Msg::Item(group))
    }
}
