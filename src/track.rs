//! Object tracking: stable ids across frames with ByteTrack (the `trackforge` crate; Kalman
//! filter + two-stage IoU association, low-score detections recover occluded tracks).

use crate::frame::Detection;
use std::collections::HashMap;
use trackforge::trackers::byte_track::ByteTrack;

/// IoU distance (1 - IoU) up to which a track and a detection match in the first stage
/// (ByteTrack's reference value).
const MATCH_THRESH: f32 = 0.8;

/// When a track is lost, counted in tracker updates (inferred frames): ByteTrack keeps a lost
/// track for `track_buffer` updates and may match it once more on the update after, under the
/// same id, so a track is lost only after **more than** that many updates without it. Frames
/// that carry boxes between inferences are not updates. Used by events and analytics alike.
#[derive(Debug, Clone, Copy)]
pub struct TrackClock {
    buffer: u64,
    updates: u64,
}

impl TrackClock {
    /// A clock for a tracker with `track_buffer` (at least 1).
    pub fn new(track_buffer: u64) -> Self {
        TrackClock {
            buffer: track_buffer.max(1),
            updates: 0,
        }
    }

    /// Counts a frame (an update when `inferred`); returns the time a track seen on it gets.
    pub fn frame(&mut self, inferred: bool) -> u64 {
        if inferred {
            self.updates += 1;
        }
        self.updates
    }

    /// Whether a track last seen at `seen` (from [`Self::frame`]) is lost by now.
    pub fn is_lost(&self, seen: u64) -> bool {
        self.updates - seen > self.buffer
    }
}

/// A ByteTrack tracker for one source.
pub struct Tracker {
    inner: ByteTrack,
}

impl Tracker {
    /// `threshold`: score from which a detection counts as high confidence and may start a
    /// track (the detector's threshold); `track_buffer`: frames a lost track is kept.
    pub fn new(threshold: f32, track_buffer: usize) -> Self {
        Tracker {
            inner: ByteTrack::new(threshold, track_buffer, MATCH_THRESH, threshold),
        }
    }

    /// Sets `track_id` on the detections of one frame (`width` x `height` pixels) that belong to
    /// a confirmed track; the others keep `None`. Call once per frame, in frame order.
    pub fn update(&mut self, detections: &mut [Detection], width: u32, height: u32) {
        let (w, h) = (width as f32, height as f32);
        let input = detections
            .iter()
            .map(|d| {
                let b = &d.bbox;
                let tlwh = [
                    b.x_min * w,
                    b.y_min * h,
                    (b.x_max - b.x_min) * w,
                    (b.y_max - b.y_min) * h,
                ];
                (tlwh, d.confidence, i64::from(d.label_id))
            })
            .collect();
        for d in detections.iter_mut() {
            d.track_id = None;
        }
        for track in self.inner.update(input) {
            if let Some(d) = track.det_ind.and_then(|i| detections.get_mut(i)) {
                d.track_id = Some(track.track_id);
            }
        }
    }
}

/// Longest stream time a box is moved ahead of its last observation, ns: past it the box
/// stays where that much time took it (a track that vanished is not flung across the frame).
pub const MAX_PREDICT_NS: u64 = 1_000_000_000;

/// Weight of the newest velocity against the running one (exponential smoothing).
const VELOCITY_WEIGHT: f64 = 0.5;

/// Where a tracked box was last observed and how fast its center moves.
#[derive(Debug, Clone, Copy)]
struct Motion {
    /// Center, normalized to the frame.
    cx: f64,
    cy: f64,
    /// Stream time of the observation, ns.
    at: u64,
    /// Center velocity, frame widths/heights per ns; `None` until seen on two frames.
    velocity: Option<(f64, f64)>,
}

/// Constant-velocity prediction of tracked boxes on the frames between inferences (the
/// tracker's predict step, in stream time): ByteTrack's Kalman state advances only when a frame
/// is inferred, so this keeps each track's center velocity from its last observations and
/// moves the carried boxes along it. Boxes without a track id, or seen once, stay put.
#[derive(Debug, Default)]
pub struct Predictor {
    tracks: HashMap<u64, Motion>,
}

impl Predictor {
    /// Records the tracked boxes of an inferred frame at stream time `at` (ns); tracks not in
    /// it are forgotten.
    pub fn observe(&mut self, detections: &[Detection], at: u64) {
        let mut next = HashMap::with_capacity(detections.len());
        for d in detections {
            let Some(id) = d.track_id else { continue };
            let (cx, cy) = center(d);
            let velocity = self.tracks.get(&id).and_then(|m| {
                let dt = at.checked_sub(m.at).filter(|dt| *dt > 0)? as f64;
                let v = ((cx - m.cx) / dt, (cy - m.cy) / dt);
                Some(match m.velocity {
                    Some((vx, vy)) => (
                        vx + VELOCITY_WEIGHT * (v.0 - vx),
                        vy + VELOCITY_WEIGHT * (v.1 - vy),
                    ),
                    None => v,
                })
            });
            next.insert(
                id,
                Motion {
                    cx,
                    cy,
                    at,
                    velocity,
                },
            );
        }
        self.tracks = next;
    }

    /// `detections` (the last observed ones) moved to stream time `at` (ns): each tracked box
    /// shifted by its velocity times the time since it was seen (at most
    /// [`MAX_PREDICT_NS`]), kept inside the frame with its size.
    pub fn predict(&self, detections: &[Detection], at: u64) -> Vec<Detection> {
        let mut out = detections.to_vec();
        for d in &mut out {
            let Some(m) = d.track_id.and_then(|id| self.tracks.get(&id)) else {
                continue;
            };
            let Some((vx, vy)) = m.velocity else { continue };
            let dt = at.saturating_sub(m.at).min(MAX_PREDICT_NS) as f64;
            let b = &mut d.bbox;
            let shift = |lo: &mut f32, hi: &mut f32, by: f64| {
                let by = (by as f32).clamp(-*lo, 1.0 - *hi);
                *lo += by;
                *hi += by;
            };
            shift(&mut b.x_min, &mut b.x_max, vx * dt);
            shift(&mut b.y_min, &mut b.y_max, vy * dt);
            for k in &mut d.keypoints {
                k[0] = (k[0] + (vx * dt) as f32).clamp(0.0, 1.0);
                k[1] = (k[1] + (vy * dt) as f32).clamp(0.0, 1.0);
            }
        }
        out
    }
}

fn center(d: &Detection) -> (f64, f64) {
    let b = &d.bbox;
    (
        f64::from(b.x_min + b.x_max) / 2.0,
        f64::from(b.y_min + b.y_max) / 2.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::BBox;

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            label_id: 1,
            confidence: score,
            bbox: BBox {
                x_min: x,
                y_min: 0.2,
                x_max: x + 0.1,
                y_max: 0.4,
            },
            ..Detection::default()
        }
    }

    #[test]
    fn ids_follow_moving_objects_and_new_objects_get_new_ids() {
        let mut t = Tracker::new(0.5, 30);
        let mut first = None;
        for i in 0..10 {
            let x = 0.1 + i as f32 * 0.005;
            let mut dets = vec![det(x, 0.9), det(0.7 - i as f32 * 0.005, 0.8)];
            t.update(&mut dets, 640, 480);
            let ids: Vec<_> = dets.iter().map(|d| d.track_id).collect();
            assert!(ids.iter().all(Option::is_some), "frame {i}: {ids:?}");
            assert_ne!(ids[0], ids[1]);
            match first {
                None => first = Some(ids),
                Some(ref f) => assert_eq!(f, &ids, "frame {i}"),
            }
        }
        // A box far from both is a new object.
        let mut dets = vec![det(0.45, 0.9)];
        t.update(&mut dets, 640, 480);
        let first = first.unwrap();
        assert!(dets[0].track_id.is_some() && !first.contains(&dets[0].track_id));
    }

    #[test]
    fn carried_boxes_move_along_the_track_and_stop_at_the_edge() {
        let mut p = Predictor::default();
        let tracked = |x: f32, id: Option<u64>| Detection {
            track_id: id,
            ..det(x, 0.9)
        };
        // Seen at x 0.10 then 0.20, 100 ms apart: 1 frame width per second.
        p.observe(&[tracked(0.1, Some(7)), tracked(0.5, None)], 0);
        let once = p.predict(&[tracked(0.1, Some(7))], 50_000_000);
        assert_eq!(once[0].bbox.x_min, 0.1, "one observation: no velocity yet");
        p.observe(&[tracked(0.2, Some(7)), tracked(0.5, None)], 100_000_000);
        let later = p.predict(&[tracked(0.2, Some(7)), tracked(0.5, None)], 150_000_000);
        assert!(
            (later[0].bbox.x_min - 0.25).abs() < 1e-4,
            "{:?}",
            later[0].bbox
        );
        assert!(
            (later[0].bbox.x_max - 0.35).abs() < 1e-4,
            "{:?}",
            later[0].bbox
        );
        assert_eq!(later[0].bbox.y_min, 0.2);
        assert_eq!(later[1].bbox.x_min, 0.5, "untracked boxes stay");
        // Far ahead: at most MAX_PREDICT_NS of motion, and the box stays inside the frame.
        let far = p.predict(&[tracked(0.2, Some(7))], 10_000_000_000);
        assert!((far[0].bbox.x_max - 1.0).abs() < 1e-6, "{:?}", far[0].bbox);
        assert!((far[0].bbox.x_min - 0.9).abs() < 1e-4, "{:?}", far[0].bbox);
        // A track missing from the next inferred frame is forgotten.
        p.observe(&[], 200_000_000);
        let gone = p.predict(&[tracked(0.2, Some(7))], 250_000_000);
        assert_eq!(gone[0].bbox.x_min, 0.2);
    }
}
