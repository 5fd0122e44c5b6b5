//! Assembly as data: which stages a run has, in order, with the edge after each. The chain of
//! optional stages between postprocess and sink is built from this list in one loop
//! ([`Plan::chain`]); the summary, the metrics and the queue table keep the stages and edges
//! the list names ([`Plan::has_stage`], [`Plan::has_edge`]), so a stage added here shows up
//! everywhere.

use super::edges::{Edges, Stages};
use super::RunOptions;
use crate::frame::AnalyzedFrame;
use crate::telemetry::{Edge, StageStats};
use crossbeam::channel::{bounded, Receiver, Sender};

/// A stage that runs only when a run needs it, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Optional {
    /// Face recognition on tracked faces (a recognizer is given).
    Identify,
    /// Second-stage classifiers on the objects (`[[classify]]`).
    Classify,
    /// Zones and lines (`RunOptions::analytics`).
    Analytics,
    /// Object events to files and MQTT (`RunOptions::events`).
    Events,
    /// Boxes drawn on the frames (`RunOptions::overlay`).
    Overlay,
}

/// Every optional stage, in the order frames pass them.
const ORDER: [Optional; 5] = [
    Optional::Identify,
    Optional::Classify,
    Optional::Analytics,
    Optional::Events,
    Optional::Overlay,
];

/// The stages every run has, before and after the optional ones.
const FIXED_STAGES: [&str; 5] = ["preprocess", "infer", "postprocess", "sink", "end-to-end"];
/// The edges every run has (the per-source `decoded` edges aside).
const FIXED_EDGES: [&str; 3] = ["submitted", "inferred", "detected"];

impl Optional {
    /// Its name in the summary and the metrics.
    pub(super) fn stage_name(self) -> &'static str {
        match self {
            Optional::Identify => "identify",
            Optional::Classify => "classify",
            Optional::Analytics => "analytics",
            Optional::Events => "events",
            Optional::Overlay => "overlay",
        }
    }

    /// The name of the edge it writes to.
    pub(super) fn edge_name(self) -> &'static str {
        match self {
            Optional::Identify => "identified",
            Optional::Classify => "classified",
            Optional::Analytics => "analyzed",
            Optional::Events => "evented",
            Optional::Overlay => "rendered",
        }
    }

    /// Its latency stats.
    pub(super) fn stats(self, stages: &Stages) -> &StageStats {
        match self {
            Optional::Identify => &stages.identify,
            Optional::Classify => &stages.classify,
            Optional::Analytics => &stages.analytics,
            Optional::Events => &stages.events,
            Optional::Overlay => &stages.overlay,
        }
    }

    /// The queue stats of the edge it writes to.
    pub(super) fn edge(self, edges: &Edges) -> &Edge {
        match self {
            Optional::Identify => &edges.identified,
            Optional::Classify => &edges.classified,
            Optional::Analytics => &edges.analyzed,
            Optional::Events => &edges.evented,
            Optional::Overlay => &edges.rendered,
        }
    }
}

/// The optional stages one run has, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) optional: Vec<Optional>,
}

/// One optional stage with its input and the sender of the edge after it.
pub(super) type Link = (
    Optional,
    Receiver<super::stage::Msg<AnalyzedFrame>>,
    Sender<super::stage::Msg<AnalyzedFrame>>,
);

impl Plan {
    /// The stages `options` ask for; `recognize`: a recognizer is given; `classify`:
    /// classifiers are.
    pub(super) fn new(options: &RunOptions, recognize: bool, classify: bool) -> Plan {
        let wanted = |o: &Optional| match o {
            Optional::Identify => recognize,
            Optional::Classify => classify,
            Optional::Analytics => options.analytics,
            Optional::Events => options.events,
            Optional::Overlay => options.overlay,
        };
        Plan {
            optional: ORDER.into_iter().filter(wanted).collect(),
        }
    }

    /// Whether the run has the stage called `name`.
    pub(super) fn has_stage(&self, name: &str) -> bool {
        FIXED_STAGES.contains(&name) || self.optional.iter().any(|o| o.stage_name() == name)
    }

    /// Whether the run has the edge called `name`.
    pub(super) fn has_edge(&self, name: &str) -> bool {
        FIXED_EDGES.contains(&name) || self.optional.iter().any(|o| o.edge_name() == name)
    }

    /// The edges between the optional stages, made in one loop: each stage with the receiver
    /// it reads (the previous one's output, `detected` for the first) and the sender of its
    /// own edge; returns them and the receiver the sink reads.
    pub(super) fn chain(
        &self,
        detected: Receiver<super::stage::Msg<AnalyzedFrame>>,
        capacity: usize,
    ) -> (Vec<Link>, Receiver<super::stage::Msg<AnalyzedFrame>>) {
        let mut last = detected;
        let mut links = Vec::with_capacity(self.optional.len());
        for &stage in &self.optional {
            let (tx, rx) = bounded(capacity);
            links.push((stage, std::mem::replace(&mut last, rx), tx));
        }
        (links, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_has_the_stages_its_options_ask_for_in_order() {
        let options = RunOptions {
            overlay: true,
            analytics: true,
            ..RunOptions::default()
        };
        let plan = Plan::new(&options, true, false);
        assert_eq!(
            plan.optional,
            [Optional::Identify, Optional::Analytics, Optional::Overlay]
        );
        assert!(plan.has_stage("infer") && plan.has_stage("overlay"));
        assert!(!plan.has_stage("events") && !plan.has_edge("evented"));
        assert!(plan.has_edge("rendered") && plan.has_edge("detected"));
        let (detected_tx, detected_rx) = bounded(1);
        let (links, sink_rx) = plan.chain(detected_rx, 4);
        assert_eq!(links.len(), 3);
        // A frame's end sent into `detected` comes out of the first stage's input.
        detected_tx.send(super::super::stage::Msg::End(7)).unwrap();
        assert!(matches!(
            links[0].1.try_recv(),
            Ok(super::super::stage::Msg::End(7))
        ));
        drop(links);
        assert!(
            sink_rx.recv().is_err(),
            "the last edge closes with the chain"
        );
    }
}
