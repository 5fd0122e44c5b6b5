//! The named edges and stages of a pipeline (no indices): their queue and latency stats.

use crate::telemetry::{Edge, StageStats};

/// The shared edges after the per-source `decoded` ones.
pub(super) struct Edges {
    pub(super) submitted: Edge,
    pub(super) inferred: Edge,
    pub(super) detected: Edge,
    pub(super) identified: Edge,
    pub(super) classified: Edge,
    pub(super) analyzed: Edge,
    pub(super) evented: Edge,
    pub(super) rendered: Edge,
}

/// Per-frame latency of every stage, and end to end.
pub(super) struct Stages {
    pub(super) preprocess: StageStats,
    pub(super) infer: StageStats,
    pub(super) postprocess: StageStats,
    pub(super) identify: StageStats,
    pub(super) classify: StageStats,
    pub(super) analytics: StageStats,
    pub(super) events: StageStats,
    pub(super) overlay: StageStats,
    pub(super) sink: StageStats,
    pub(super) end_to_end: StageStats,
}

impl Edges {
    /// `submitted` holds `nireq` requests; the others `capacity` frames.
    pub(super) fn new(nireq: usize, capacity: usize) -> Self {
        Edges {
            submitted: Edge::new("submitted", nireq),
            inferred: Edge::new("inferred", capacity),
            detected: Edge::new("detected", capacity),
            identified: Edge::new("identified", capacity),
            classified: Edge::new("classified", capacity),
            analyzed: Edge::new("analyzed", capacity),
            evented: Edge::new("evented", capacity),
            rendered: Edge::new("rendered", capacity),
        }
    }

    /// Every shared edge, in pipeline order.
    pub(super) fn all(&self) -> [&Edge; 8] {
        [
            &self.submitted,
            &self.inferred,
            &self.detected,
            &self.identified,
            &self.classified,
            &self.analyzed,
            &self.evented,
            &self.rendered,
        ]
    }
}

impl Stages {
    /// Every stage, in pipeline order, then end to end.
    pub(super) fn all(&self) -> [&StageStats; 10] {
        [
            &self.preprocess,
            &self.infer,
            &self.postprocess,
            &self.identify,
            &self.classify,
            &self.analytics,
            &self.events,
            &self.overlay,
            &self.sink,
            &self.end_to_end,
        ]
    }

    pub(super) fn new() -> Self {
        Stages {
            preprocess: StageStats::new("preprocess"),
            infer: StageStats::new("infer"),
            postprocess: StageStats::new("postprocess"),
            identify: StageStats::new("identify"),
            classify: StageStats::new("classify"),
            analytics: StageStats::new("analytics"),
            events: StageStats::new("events"),
            overlay: StageStats::new("overlay"),
            sink: StageStats::new("sink"),
            end_to_end: StageStats::new("end-to-end"),
        }
    }
}
