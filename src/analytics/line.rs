//! One line's state for one source: which side each track is on, and the crossings so far.
//!
//! A crossing counts when a track's test point moves to the other side *through the segment*
//! (not the infinite line beyond its ends). Hysteresis: after a counted crossing, a crossing
//! back only counts once the point is [`HYSTERESIS`] past the line, so a track jittering on
//! the line counts once.

use crate::config::analytics::{LineConfig, TestPoint};
use crate::frame::analytics::{Direction, LineCounts, LineShape};
use crate::geometry::{self, Point};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Distance past the line (normalized units: 0.01 is 1% of the frame width across a vertical
/// line, of its height across a horizontal one) a point must reach before a reverse crossing
/// counts.
pub const HYSTERESIS: f32 = 0.01;

#[derive(Debug, Clone, Copy)]
struct Side {
    /// The point last observed.
    prev: Point,
    /// The side the track counts as being on (`1`, `-1`; `0` until it leaves the line).
    side: i8,
    /// It went through the segment to the other side but not yet [`HYSTERESIS`] past it.
    pending: bool,
    /// It has crossed (counted) at least once.
    crossed: bool,
}

pub struct Line {
    pub shape: LineShape,
    /// Sign of the signed distance on the `in` side.
    in_side: i8,
    classes: Option<HashSet<String>>,
    pub point: TestPoint,
    tracks: HashMap<u64, Side>,
    pub counts: LineCounts,
    pub by_label: BTreeMap<Arc<str>, LineCounts>,
}

fn sign(v: f32) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

impl Line {
    /// The line of `config` in a `width` x `height` frame.
    pub fn new(config: &LineConfig, width: u32, height: u32) -> Line {
        let norm = |p| config.units.normalize(p, width, height);
        let (from, to) = (norm(config.points[0]), norm(config.points[1]));
        // `in` is a direction on screen; in pixel units it is scaled like the points.
        let v = norm(config.in_vector());
        let in_side = sign(geometry::cross(from, to, [from[0] + v[0], from[1] + v[1]]));
        // The unit normal of the line on the `in` side.
        let d = [to[0] - from[0], to[1] - from[1]];
        let len = geometry::length(d).max(f32::MIN_POSITIVE);
        let cw = [-d[1] / len, d[0] / len];
        let in_normal = if in_side > 0 { cw } else { [-cw[0], -cw[1]] };
        Line {
            shape: LineShape {
                name: config.name.as_str().into(),
                from,
                to,
                in_normal,
            },
            in_side,
            classes: config.classes.as_ref().map(|c| c.iter().cloned().collect()),
            point: config.point,
            tracks: HashMap::new(),
            counts: LineCounts::default(),
            by_label: BTreeMap::new(),
        }
    }

    /// Carries counts and track sides over from the line of the same name before a reload.
    pub fn keep_state(&mut self, old: Line) {
        self.counts = old.counts;
        self.by_label = old.by_label;
        self.tracks = old.tracks;
    }

    pub fn applies_to(&self, label: &str) -> bool {
        self.classes.as_ref().is_none_or(|c| c.contains(label))
    }

    /// Track `id` (`label`) has its test point at `p`; the direction when this is a crossing.
    pub fn observe(&mut self, id: u64, label: &Arc<str>, p: Point) -> Option<Direction> {
        let (a, b) = (self.shape.from, self.shape.to);
        let d = geometry::signed_distance(a, b, p);
        let s = sign(d);
        let Some(t) = self.tracks.get_mut(&id) else {
            self.tracks.insert(
                id,
                Side {
                    prev: p,
                    side: s,
                    pending: false,
                    crossed: false,
                },
            );
            return None;
        };
        let prev = std::mem::replace(&mut t.prev, p);
        if s == 0 || s == t.side {
            if s == t.side {
                t.pending = false;
            }
            return None;
        }
        if t.side == 0 {
            // It started on the line; now it has a side.
            t.side = s;
            return None;
        }
        let through = t.pending || geometry::segments_intersect(prev, p, a, b);
        let far = d.abs() >= HYSTERESIS;
        if through && (far || !t.crossed) {
            t.side = s;
            t.pending = false;
            t.crossed = true;
            let direction = if s == self.in_side {
                Direction::In
            } else {
                Direction::Out
            };
            let bump = |c: &mut LineCounts| match direction {
                Direction::In => c.inward += 1,
                Direction::Out => c.outward += 1,
            };
            bump(&mut self.counts);
            bump(self.by_label.entry(label.clone()).or_default());
            Some(direction)
        } else if through {
            t.pending = true;
            None
        } else {
            if far {
                // Went around an end of the segment: it is on the other side, uncounted.
                t.side = s;
                t.pending = false;
            }
            None
        }
    }

    /// Forgets track `id` (lost).
    pub fn lost(&mut self, id: u64) {
        self.tracks.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door() -> Line {
        // Vertical line down the middle; `in` is to the right.
        let mut c = LineConfig::new("door", [0.5, 0.1], [0.5, 0.9]);
        c.in_direction = Some([1.0, 0.0]);
        Line::new(&c, 640, 480)
    }

    fn walk(line: &mut Line, xs: &[f32], y: f32) -> Vec<(usize, Direction)> {
        let label: Arc<str> = "person".into();
        xs.iter()
            .enumerate()
            .filter_map(|(i, &x)| line.observe(1, &label, [x, y]).map(|d| (i, d)))
            .collect()
    }

    #[test]
    fn crossing_counts_once_per_direction_at_the_geometric_frame() {
        let mut l = door();
        // 0.485 at i = 6, 0.515 at i = 7: 1.5% past the line, beyond the hysteresis.
        let xs: Vec<f32> = (0..20).map(|i| 0.305 + 0.03 * i as f32).collect();
        assert_eq!(walk(&mut l, &xs, 0.5), [(7, Direction::In)]);
        let back: Vec<f32> = xs.iter().rev().copied().collect();
        assert_eq!(walk(&mut l, &back, 0.5), [(13, Direction::Out)]);
        assert_eq!(
            l.counts,
            LineCounts {
                inward: 1,
                outward: 1
            }
        );
        assert_eq!(l.by_label[&Arc::<str>::from("person")].inward, 1);
    }

    #[test]
    fn jitter_on_the_line_counts_once() {
        let mut l = door();
        let mut xs = vec![0.40, 0.45, 0.49];
        for i in 0..30 {
            xs.push(if i % 2 == 0 { 0.503 } else { 0.497 });
        }
        xs.extend([0.52, 0.56, 0.60]);
        assert_eq!(walk(&mut l, &xs, 0.5), [(3, Direction::In)]);
    }

    #[test]
    fn passing_beyond_the_segment_end_is_not_a_crossing() {
        let mut l = door();
        let xs: Vec<f32> = (0..20).map(|i| 0.305 + 0.03 * i as f32).collect();
        assert!(
            walk(&mut l, &xs, 0.95).is_empty(),
            "below the segment's end"
        );
        // Now on the right, uncounted; walking back through the segment is an `out`.
        let back: Vec<f32> = xs.iter().rev().copied().collect();
        assert_eq!(walk(&mut l, &back, 0.5), [(13, Direction::Out)]);
    }

    #[test]
    fn a_slow_reverse_crossing_counts_once_it_is_far_enough() {
        let mut l = door();
        assert_eq!(walk(&mut l, &[0.45, 0.55], 0.5), [(1, Direction::In)]);
        // Back through the line by 0.5% only: pending; then 2% past: counted there.
        assert!(walk(&mut l, &[0.495], 0.5).is_empty());
        assert_eq!(walk(&mut l, &[0.48], 0.5), [(0, Direction::Out)]);
    }

    #[test]
    fn the_default_in_direction_is_clockwise_of_the_line() {
        let mut l = Line::new(&LineConfig::new("d", [0.5, 0.0], [0.5, 1.0]), 640, 480);
        // Down the screen turned clockwise points left: moving left is `in`.
        assert_eq!(walk(&mut l, &[0.6, 0.4], 0.5), [(1, Direction::In)]);
        assert_eq!(l.shape.in_normal, [-1.0, 0.0]);
    }
}
