//! Events: tracked objects' `new` / `update` / `end` messages ([`crate::events`]) and the
//! analytics stage's zone and line events written to each source's event outputs (events
//! file, MQTT), with per-label counts and, when asked,
//! frame records on MQTT. `end` for every live track when its source ends (EOS, SIGINT,
//! removal). Frames pass through unchanged.

use crate::alerts::{AlertEvent, Alerts};
use crate::config::alerts::AlertConfig;
use crate::error::Result;
use crate::events::{Event, EventTracker};
use crate::frame::AnalyzedFrame;
use crate::pipeline::registry::Registry;
use crate::pipeline::stage::{Emit, SourceId, Stage};
use crate::sink::events::EventSinks;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Events<'a> {
    pub registry: &'a Registry,
    /// Frames without a track after which it has ended (the tracker's buffer).
    pub lost_after: u64,
    /// `[[alerts]]` rules (may be empty).
    pub alerts: Arc<[AlertConfig]>,
    /// Per source seen so far: its tracker, alerts and outputs (`None`: it has none).
    pub sources: HashMap<SourceId, Option<(EventTracker, Alerts, EventSinks)>>,
    pub scratch: Vec<Event>,
    pub alert_scratch: Vec<AlertEvent>,
}

impl Events<'_> {
    fn close(&mut self, id: SourceId) -> Result<()> {
        let Some(Some((mut tracker, _, mut sinks))) = self.sources.remove(&id) else {
            return Ok(());
        };
        self.scratch.clear();
        tracker.end_all(&mut self.scratch);
        let written = sinks.write(&self.scratch);
        written.and(sinks.finish())
    }
}

impl Stage for Events<'_> {
    type In = AnalyzedFrame;
    type Out = AnalyzedFrame;

    fn process(&mut self, mut frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        let id = frame.frame.source_id;
        let (registry, lost_after, rules) = (self.registry, self.lost_after, &self.alerts);
        let entry = self.sources.entry(id).or_insert_with(|| {
            registry
                .take_event_sinks(id)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    (
                        EventTracker::new(&s.source, lost_after),
                        Alerts::new(&s.source, Arc::clone(rules)),
                        s,
                    )
                })
        });
        if let Some((tracker, alerts, sinks)) = entry {
            self.scratch.clear();
            tracker.frame(&frame, &mut self.scratch);
            let written = sinks.write(&self.scratch);
            self.alert_scratch.clear();
            alerts.frame(&frame, &mut self.alert_scratch);
            let written = written.and_then(|()| sinks.write_alerts(&self.alert_scratch));
            frame
                .alerts
                .extend(self.alert_scratch.iter().map(|a| a.kind.clone()));
            let written = match &frame.analytics {
                Some(a) => written.and_then(|()| sinks.write_analytics(&a.events)),
                None => written,
            };
            sinks.thumbnails(&frame, &self.scratch, &self.alert_scratch);
            sinks.publish_frame(&frame);
            if let Err(e) = written {
                // This source's failure (an events file that cannot be written): it stops;
                // the other sources go on.
                self.registry.output_failed(id, e);
                if let Some(Some((_, _, mut sinks))) = self.sources.insert(id, None) {
                    let _ = sinks.finish();
                }
            }
        }
        out.push(frame);
        Ok(())
    }

    fn end_source(&mut self, id: SourceId) -> Result<()> {
        if let Err(e) = self.close(id) {
            tracing::error!(source = id, "events: {e}");
        }
        Ok(())
    }

    /// `end` for every track still live, then the MQTT publisher delivers what it holds.
    fn finish(&mut self) -> Result<()> {
        let ids: Vec<SourceId> = self.sources.keys().copied().collect();
        let mut result = Ok(());
        for id in ids {
            result = result.and(self.close(id));
        }
        for (_, mut sinks) in self.registry.take_all_event_sinks() {
            result = result.and(sinks.finish());
        }
        if let Some(mqtt) = self.registry.mqtt() {
            mqtt.shutdown();
        }
        result
    }
}
