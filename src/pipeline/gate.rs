//! Which frames go to inference: every `interval`-th frame of a source, and in `motion` mode
//! only those with motion, those within [`MOTION_HOLD_NS`] after motion (a tracked object that
//! just stopped is seen once more), and one every `max_idle` of stream time (objects that
//! arrived and stay still). The others are carried: they keep the last inferred boxes.

use crate::config::{DetectMode, PipelineConfig};
use crate::frame::Frame;
use crate::motion::{MotionConfig, MotionDetector};
use crate::pipeline::stage::SourceId;
use std::collections::HashMap;

/// Stream time after the last motion during which frames are still inferred, ns.
pub const MOTION_HOLD_NS: u64 = 500_000_000;

/// `[detect] mode = "motion"` settings.
#[derive(Debug, Clone)]
pub struct MotionGate {
    pub config: MotionConfig,
    /// Longest stream time without an inference, ns.
    pub max_idle_ns: u64,
}

impl MotionGate {
    /// The gate `config` asks for: `[detect] mode = "motion"`, or no mode and a `live` input
    /// (cameras watch mostly empty scenes); `None` for `always`.
    pub fn for_config(config: &PipelineConfig, live: bool) -> Option<MotionGate> {
        let mode = config.detect.mode.unwrap_or(if live {
            DetectMode::Motion
        } else {
            DetectMode::Always
        });
        (mode == DetectMode::Motion).then(|| MotionGate {
            config: config.motion.clone(),
            max_idle_ns: (config.detect.max_idle_seconds * 1e9) as u64,
        })
    }
}

/// Per-source state of the gate.
#[derive(Default)]
struct SourceGate {
    detector: Option<MotionDetector>,
    last_inferred: Option<u64>,
    last_motion: Option<u64>,
}

/// Decides, frame by frame, which frames are inferred.
pub struct Gate {
    interval: u64,
    motion: Option<MotionGate>,
    sources: HashMap<SourceId, SourceGate>,
}

impl Gate {
    pub fn new(interval: u64, motion: Option<MotionGate>) -> Self {
        Gate {
            interval: interval.max(1),
            motion,
            sources: HashMap::new(),
        }
    }

    /// Whether every frame goes to inference (no interval, no motion mode).
    pub fn passes_all(&self) -> bool {
        self.interval <= 1 && self.motion.is_none()
    }

    /// Whether `frame` goes to inference. A frame whose luma cannot be read for motion is
    /// inferred (never lose a frame to the gate).
    /// Sets `frame.motion` to the motion boxes found.
    pub fn admits(&mut self, frame: &mut Frame) -> bool {
        if self.interval > 1 && !frame.seq.is_multiple_of(self.interval) {
            return false;
        }
        let Some(gate) = &self.motion else {
            return true;
        };
        let state = self.sources.entry(frame.source_id).or_default();
        let detector = state
            .detector
            .get_or_insert_with(|| MotionDetector::new(gate.config.clone()));
        let moving = match luma_motion(detector, frame) {
            Ok(boxes) => {
                let moving = !boxes.is_empty();
                frame.motion = Some(boxes);
                moving
            }
            Err(e) => {
                tracing::debug!(source = frame.source_id, "motion: {e}");
                true
            }
        };
        let ts = frame.pts;
        if moving {
            state.last_motion = Some(ts);
        }
        let recent_motion = state
            .last_motion
            .is_some_and(|t| ts.saturating_sub(t) <= MOTION_HOLD_NS);
        let idle = state
            .last_inferred
            .is_none_or(|t| ts.saturating_sub(t) >= gate.max_idle_ns);
        let admit = recent_motion || idle;
        if admit {
            state.last_inferred = Some(ts);
        }
        admit
    }

    /// Forgets a source that ended.
    pub fn end_source(&mut self, id: SourceId) {
        self.sources.remove(&id);
    }
}

/// Motion boxes of `frame` from its Y plane.
fn luma_motion(
    detector: &mut MotionDetector,
    frame: &Frame,
) -> Result<Vec<crate::frame::BBox>, String> {
    let map = frame
        .buffer
        .map_readable()
        .map_err(|e| format!("map: {e}"))?;
    let info = &frame.info;
    let (offset, stride) = (info.offset()[0], info.stride()[0] as usize);
    let plane = map.get(offset..).ok_or("no luma plane")?;
    detector.detect(plane, info.width(), info.height(), stride)
}
