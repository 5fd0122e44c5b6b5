//! Which frames go to inference: every `interval`-th frame of a source, and in `motion` mode
//! only those with motion, those within [`MOTION_HOLD_NS`] after motion (a tracked object that
//! just stopped is seen once more), and one every `max_idle` of stream time while the last
//! inferences found objects (objects that arrived and stay still: Frigate re-checks its
//! stationary objects the same way, and like Frigate an empty, still scene is not inferred at
//! all — see [`Sightings`]); of those, at most `[detect] fps` per second of stream time (the
//! motion detector then looks at that many frames a second too). The others are carried: they
//! keep the last inferred boxes.

use crate::config::{DetectMode, PipelineConfig};
use crate::frame::Frame;
use crate::motion::{MotionConfig, MotionDetector};
use crate::pipeline::stage::SourceId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

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

/// Inferences in a row that found nothing after which a source counts as empty: one missed
/// detection of an object that stays still does not end its idle checks.
pub const EMPTY_AFTER: u32 = 2;

/// Whether each source's last inferences found objects (detections after the filters and the
/// tracker), as the postprocess stage found them; the gate's idle check reads it, a few frames
/// later (the requests in flight). Cheap to clone: clones share one table (per source, the
/// inferences in a row that found nothing).
#[derive(Debug, Clone, Default)]
pub struct Sightings(Arc<Mutex<HashMap<SourceId, u32>>>);

impl Sightings {
    /// Records whether `id`'s latest inferred frame had objects.
    pub fn record(&self, id: SourceId, objects: bool) {
        let mut table = self.0.lock();
        let empty = table.entry(id).or_default();
        *empty = if objects { 0 } else { empty.saturating_add(1) };
    }

    /// Whether `id` may have objects in view: one of its last [`EMPTY_AFTER`] inferred frames
    /// had some, or none of its frames has come back from inference yet (unknown counts as
    /// yes).
    pub fn objects(&self, id: SourceId) -> bool {
        self.0
            .lock()
            .get(&id)
            .is_none_or(|&empty| empty < EMPTY_AFTER)
    }

    /// Forgets a source that ended.
    pub fn forget(&self, id: SourceId) {
        self.0.lock().remove(&id);
    }
}

/// Per-source state of the gate.
#[derive(Default)]
struct SourceGate {
    detector: Option<MotionDetector>,
    last_inferred: Option<u64>,
    last_motion: Option<u64>,
    /// `[detect] fps`: stream time from which the next frame is looked at, ns.
    next_due: Option<u64>,
}

/// Decides, frame by frame, which frames are inferred.
pub struct Gate {
    interval: u64,
    /// `[detect] fps` as the stream time between inferences, ns.
    period_ns: Option<u64>,
    motion: Option<MotionGate>,
    sources: HashMap<SourceId, SourceGate>,
    /// What the last inferences found (motion mode's idle check).
    sightings: Sightings,
}

/// A frame this much before its due time still counts as due (timestamps rounded to the
/// container's time base, e.g. 25 fps in 1/90000 s units), ns.
const DUE_TOLERANCE_NS: u64 = 2_000_000;

impl Gate {
    /// `interval`: infer every Nth frame (1: all); `fps`: at most this many inferences per
    /// second of stream time per source (`None`: no limit); `motion`: motion mode.
    pub fn new(interval: u64, fps: Option<f64>, motion: Option<MotionGate>) -> Self {
        Gate {
            interval: interval.max(1),
            period_ns: fps.filter(|f| *f > 0.0).map(|f| (1e9 / f) as u64),
            motion,
            sources: HashMap::new(),
            sightings: Sightings::default(),
        }
    }

    /// The gate, its idle check reading `sightings` (which the postprocess stage writes);
    /// without them every idle check infers.
    pub fn with_sightings(self, sightings: Sightings) -> Self {
        Gate { sightings, ..self }
    }

    /// Whether every frame goes to inference (no interval, no detect rate, no motion mode).
    pub fn passes_all(&self) -> bool {
        self.interval <= 1 && self.period_ns.is_none() && self.motion.is_none()
    }

    /// Whether `frame` goes to inference. A frame whose luma cannot be read for motion is
    /// inferred (never lose a frame to the gate), within the detect rate.
    /// Sets `frame.motion` to the motion boxes found.
    ///
    /// With a detect rate (`[detect] fps`), the gate looks at one frame per period of stream
    /// time and turns the others down first, so in motion mode the detector also runs at that
    /// rate, as Frigate's does at `detect.fps`: motion is found at most a period late, and an
    /// idle camera costs little more than its decoding.
    pub fn admits(&mut self, frame: &mut Frame) -> bool {
        if self.interval > 1 && !frame.seq.is_multiple_of(self.interval) {
            return false;
        }
        let ts = frame.pts;
        if let Some(period) = self.period_ns {
            let state = self.sources.entry(frame.source_id).or_default();
            // The next look is one period after this one's slot: the slots keep their grid
            // (7 fps from a 30 fps stream stays 7 on average), unless the stream fell more than
            // a period behind it (frames dropped) or went back in time (a new segment): then it
            // restarts here.
            let slot = match state.next_due {
                Some(due) if due > ts.saturating_add(2 * period) => ts,
                Some(due) if ts + DUE_TOLERANCE_NS < due => return false,
                Some(due) if ts < due + period => due,
                _ => ts,
            };
            state.next_due = Some(slot + period);
        }
        if !self.wanted(frame) {
            return false;
        }
        self.sources
            .entry(frame.source_id)
            .or_default()
            .last_inferred = Some(ts);
        true
    }

    /// Whether the interval and motion mode want `frame` inferred (before the detect rate).
    fn wanted(&mut self, frame: &mut Frame) -> bool {
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
        // Stream time that went back (a new segment) ends the hold of the old segment's motion
        // and starts the idle wait again here.
        let recent_motion = state
            .last_motion
            .is_some_and(|t| t <= ts && ts - t <= MOTION_HOLD_NS);
        // An idle check only while the last inferences found objects (they may have stopped):
        // an empty scene gets new objects only through motion.
        let idle = state.last_inferred.is_none_or(|t| {
            ts < t || (ts - t >= gate.max_idle_ns && self.sightings.objects(frame.source_id))
        });
        recent_motion || idle
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Admitted frames' numbers among `frames` frames at `fps` from `start` ns.
    fn admitted(gate: &mut Gate, fps: f64, start: u64, frames: u64) -> Vec<u64> {
        (0..frames)
            .filter(|&i| gate.admits(&mut Frame::blank(i, start + (i as f64 * 1e9 / fps) as u64)))
            .collect()
    }

    /// In motion mode, the detector looks at every frame, or with a detect rate at one frame
    /// per period: 3 s of a still 30 fps camera at `fps = 5` are 15 looks, not 90.
    #[test]
    fn with_a_detect_rate_motion_is_looked_for_at_that_rate() {
        let looks = |fps: Option<f64>| {
            let motion = MotionGate {
                config: MotionConfig::default(),
                max_idle_ns: 10_000_000_000,
            };
            let mut gate = Gate::new(1, fps, Some(motion));
            let mut inferred = Vec::new();
            let mut looked = 0;
            for i in 0..90u64 {
                let mut frame = Frame::blank(i, i * 1_000_000_000 / 30);
                if gate.admits(&mut frame) {
                    inferred.push(i);
                }
                looked += usize::from(frame.motion.is_some());
            }
            (looked, inferred)
        };
        // The first frame is inferred (nothing was yet); then the scene is still.
        assert_eq!(looks(None), (90, vec![0]));
        assert_eq!(looks(Some(5.0)), (15, vec![0]));
    }

    /// A still scene is inferred once every `max_idle`, also after its stream time went
    /// back (a new segment): not only once time has caught up with the last inference.
    #[test]
    fn the_idle_check_restarts_when_time_goes_back() {
        let motion = MotionGate {
            config: MotionConfig::default(),
            max_idle_ns: 1_000_000_000,
        };
        let mut gate = Gate::new(1, None, Some(motion));
        // 30 fps: frame 0, then one a second (frames 30 and 60).
        assert_eq!(admitted(&mut gate, 30.0, 0, 70), [0, 30, 60]);
        // Back to 0 s: inferred at once, then after a second again.
        assert_eq!(admitted(&mut gate, 30.0, 0, 40), [0, 30]);
    }

    /// The idle check follows what the last inferences found: while one of the last two had
    /// objects a still scene is inferred once every `max_idle`; once two in a row had none,
    /// only motion (or a new segment) brings inference back.
    #[test]
    fn a_still_empty_scene_gets_no_idle_checks() {
        let motion = MotionGate {
            config: MotionConfig::default(),
            max_idle_ns: 1_000_000_000,
        };
        let sightings = Sightings::default();
        let mut gate = Gate::new(1, None, Some(motion)).with_sightings(sightings.clone());
        // Nothing came back yet: checks as before.
        assert_eq!(admitted(&mut gate, 30.0, 0, 40), [0, 30]);
        // One inference without objects (a missed detection) keeps the checks, two end them.
        sightings.record(0, false);
        assert_eq!(admitted(&mut gate, 30.0, 2_000_000_000, 40), [0, 30]);
        sightings.record(0, false);
        assert_eq!(
            admitted(&mut gate, 30.0, 4_000_000_000, 90),
            Vec::<u64>::new()
        );
        sightings.record(0, true);
        assert_eq!(admitted(&mut gate, 30.0, 7_000_000_000, 40), [0, 30]);
        // A new segment (time went back) is looked at once, objects or not.
        sightings.record(0, false);
        sightings.record(0, false);
        assert_eq!(admitted(&mut gate, 30.0, 0, 40), [0]);
        // Another source is unknown, so checked.
        let mut other = Frame::blank(0, 9_000_000_000);
        other.source_id = 1;
        assert!(gate.admits(&mut other));
        sightings.forget(0);
        assert!(!sightings.0.lock().contains_key(&0));
    }

    #[test]
    fn a_detect_rate_keeps_its_grid_and_restarts_when_time_goes_back() {
        // 7 a second from 30 fps: slots every 142.9 ms, 21 over 3 s (not 6 a second).
        let mut gate = Gate::new(1, Some(7.0), None);
        assert!(!gate.passes_all());
        let first = admitted(&mut gate, 30.0, 0, 90);
        assert_eq!(first.len(), 21, "{first:?}");
        assert_eq!(&first[..4], &[0, 5, 9, 13]);
        // The stream starts over at 0 (a new segment): inferred at once, not in 3 s.
        let again = admitted(&mut gate, 30.0, 0, 10);
        assert_eq!(again, [0, 5, 9]);
        // 25 fps at 5 a second: every 5th frame, whatever the timestamps' rounding.
        let mut gate = Gate::new(1, Some(5.0), None);
        assert_eq!(admitted(&mut gate, 25.0, 1, 20), [0, 5, 10, 15]);
    }
}
