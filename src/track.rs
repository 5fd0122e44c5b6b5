//! Object tracking: stable ids across frames with ByteTrack (the `trackforge` crate; Kalman
//! filter + two-stage IoU association, low-score detections recover occluded tracks).

use crate::frame::Detection;
use trackforge::trackers::byte_track::ByteTrack;

/// IoU distance (1 - IoU) up to which a track and a detection match in the first stage
/// (ByteTrack's reference value).
const MATCH_THRESH: f32 = 0.8;

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
}
