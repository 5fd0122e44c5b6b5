//! Analytics: each source's tracked objects against its zones and lines ([`crate::analytics`]);
//! results onto the frame (counts, events; each object's `zones`) and into the source's
//! metrics totals. A source's zones and lines can change while it runs
//! ([`crate::pipeline::Pipeline::set_analytics`]): picked up at its next frame, counts kept for
//! lines that keep their name.

use crate::analytics::Analytics as SourceAnalytics;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::pipeline::registry::Registry;
use crate::pipeline::stage::{Emit, SourceId, Stage};
use std::collections::HashMap;

pub struct Analytics<'a> {
    pub registry: &'a Registry,
    /// Frames without a track after which it is lost (the tracker's buffer).
    pub lost_after: u64,
    /// Per source seen so far: its analytics (`None`: it has no zones or lines).
    pub sources: HashMap<SourceId, Option<SourceAnalytics>>,
    /// The registry's analytics version the sources were last checked against.
    pub version: u64,
}

/// The analytics of source `id` with `config`, under the source's name.
fn start(
    registry: &Registry,
    id: SourceId,
    config: std::sync::Arc<crate::config::AnalyticsConfig>,
    lost_after: u64,
) -> SourceAnalytics {
    let name = registry.list.get(id).map(|s| s.name.clone());
    SourceAnalytics::new(name.as_deref().unwrap_or(""), config, lost_after)
}

impl Analytics<'_> {
    /// Applies configuration changes made since the last frame.
    fn refresh(&mut self) {
        let version = self.registry.analytics_version();
        if version == self.version {
            return;
        }
        self.version = version;
        for (&id, state) in &mut self.sources {
            let config = self.registry.analytics_of(id);
            match (state.as_mut(), config) {
                (Some(a), Some(c)) if a.config() != &c => a.reload(c),
                (Some(_), Some(_)) => {}
                (None, Some(c)) => *state = Some(start(self.registry, id, c, self.lost_after)),
                (_, None) => *state = None,
            }
        }
    }
}

impl Stage for Analytics<'_> {
    type In = AnalyzedFrame;
    type Out = AnalyzedFrame;

    fn process(&mut self, mut frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        self.refresh();
        let id = frame.frame.source_id;
        let (registry, lost_after) = (self.registry, self.lost_after);
        let state = self.sources.entry(id).or_insert_with(|| {
            let config = registry.analytics_of(id)?;
            Some(start(registry, id, config, lost_after))
        });
        if let Some(analytics) = state {
            analytics.frame(&mut frame);
            if let (Some(result), Some(stats)) = (&frame.analytics, registry.list.get(id)) {
                stats.analytics.lock().add(result);
            }
        }
        out.push(frame);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        self.sources.remove(&id);
        Ok(())
    }
}
