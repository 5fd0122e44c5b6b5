//! Plane geometry on points `[x, y]` (image coordinates: x right, y down), for zones and
//! lines: orientation, segment intersection, point in polygon, simple-polygon check.
//! Pure math with no imports, at the bottom of the layers (config validates with it, the
//! analytics stage runs it per frame).

/// A point `[x, y]`.
pub type Point = [f32; 2];

/// `(b - a) × (c - a)`: positive when `c` is clockwise of `a → b` on screen (y down), negative
/// when counter-clockwise, 0 when the three are collinear.
pub fn cross(a: Point, b: Point, c: Point) -> f32 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/// Signed distance of `p` from the infinite line through `a → b` (same sign as
/// [`cross`]`(a, b, p)`); 0 for a zero-length line.
pub fn signed_distance(a: Point, b: Point, p: Point) -> f32 {
    let len = length([b[0] - a[0], b[1] - a[1]]);
    if len == 0.0 {
        0.0
    } else {
        cross(a, b, p) / len
    }
}

/// Length of the vector `v`.
pub fn length(v: Point) -> f32 {
    v[0].hypot(v[1])
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

/// Whether `p`, collinear with `a → b`, lies within the segment's bounding box.
fn on_segment(a: Point, b: Point, p: Point) -> bool {
    p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

/// Whether the closed segments `p1 p2` and `q1 q2` share a point (touching counts).
pub fn segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    let d1 = sign(cross(q1, q2, p1));
    let d2 = sign(cross(q1, q2, p2));
    let d3 = sign(cross(p1, p2, q1));
    let d4 = sign(cross(p1, p2, q2));
    if d1 * d2 < 0 && d3 * d4 < 0 {
        return true;
    }
    (d1 == 0 && on_segment(q1, q2, p1))
        || (d2 == 0 && on_segment(q1, q2, p2))
        || (d3 == 0 && on_segment(p1, p2, q1))
        || (d4 == 0 && on_segment(p1, p2, q2))
}

/// Whether `p` is inside `polygon` (even-odd rule; ray casting). Points exactly on an edge
/// may go either way.
pub fn point_in_polygon(polygon: &[Point], p: Point) -> bool {
    let mut inside = false;
    let n = polygon.len();
    for i in 0..n {
        let (a, b) = (polygon[i], polygon[(i + n - 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// Why `polygon` is not a simple polygon (`None` when it is): fewer than 3 points, a repeated
/// point, all points on one line, or two edges that cross or touch (other than neighbours at
/// their shared corner).
pub fn polygon_problem(polygon: &[Point]) -> Option<String> {
    let n = polygon.len();
    if n < 3 {
        return Some(format!("has {n} point(s); at least 3 are needed"));
    }
    for i in 0..n {
        for j in i + 1..n {
            if polygon[i] == polygon[j] {
                return Some(format!("points {} and {} are the same", i + 1, j + 1));
            }
        }
    }
    if (2..n).all(|i| cross(polygon[0], polygon[1], polygon[i]) == 0.0) {
        return Some("all points lie on one line".into());
    }
    let edge = |i: usize| (polygon[i], polygon[(i + 1) % n]);
    for i in 0..n {
        for j in i + 1..n {
            let adjacent = j == i + 1 || (i == 0 && j == n - 1);
            let ((a, b), (c, d)) = (edge(i), edge(j));
            let crosses = if adjacent {
                // Neighbours share one corner; they only overlap if they fold back on each other.
                let (shared, other_i, other_j) = if j == i + 1 { (b, a, d) } else { (a, b, c) };
                cross(shared, other_i, other_j) == 0.0
                    && (other_j[0] - shared[0]) * (other_i[0] - shared[0])
                        + (other_j[1] - shared[1]) * (other_i[1] - shared[1])
                        > 0.0
            } else {
                segments_intersect(a, b, c, d)
            };
            if crosses {
                return Some(format!(
                    "is self-intersecting: edge {}–{} crosses edge {}–{}",
                    i + 1,
                    (i + 1) % n + 1,
                    j + 1,
                    (j + 1) % n + 1
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARE: [Point; 4] = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]];

    #[test]
    fn inside_and_outside_a_square_and_a_concave_polygon() {
        assert!(point_in_polygon(&SQUARE, [0.3, 0.3]));
        assert!(!point_in_polygon(&SQUARE, [0.6, 0.3]));
        assert!(!point_in_polygon(&SQUARE, [0.3, 0.05]));
        // A "U": the notch is outside.
        let u = [
            [0.0, 0.0],
            [0.3, 0.0],
            [0.3, 1.0],
            [0.7, 1.0],
            [0.7, 0.0],
            [1.0, 0.0],
            [1.0, 1.2],
            [0.0, 1.2],
        ];
        assert!(!point_in_polygon(&u, [0.5, 0.5]));
        assert!(point_in_polygon(&u, [0.1, 0.5]));
        assert!(point_in_polygon(&u, [0.5, 1.1]));
    }

    #[test]
    fn segments_cross_touch_or_miss() {
        assert!(segments_intersect(
            [0.0, 0.0],
            [1.0, 1.0],
            [0.0, 1.0],
            [1.0, 0.0]
        ));
        assert!(segments_intersect(
            [0.0, 0.0],
            [0.5, 0.5],
            [0.5, 0.5],
            [1.0, 0.0]
        ));
        // Crosses the infinite line but not the segment.
        assert!(!segments_intersect(
            [0.0, 0.5],
            [1.0, 0.5],
            [0.5, 0.0],
            [0.5, 0.4]
        ));
        assert!(!segments_intersect(
            [0.0, 0.0],
            [1.0, 0.0],
            [0.0, 0.1],
            [1.0, 0.1]
        ));
    }

    #[test]
    fn side_and_distance_follow_screen_orientation() {
        // Line pointing down the screen: clockwise of it (positive) is the left half (x < 0.5).
        let (a, b) = ([0.5, 0.0], [0.5, 1.0]);
        assert!(cross(a, b, [0.2, 0.5]) > 0.0);
        assert!((signed_distance(a, b, [0.2, 0.5]) - 0.3).abs() < 1e-6);
        assert!(signed_distance(a, b, [0.7, 0.5]) < 0.0);
    }

    #[test]
    fn problems_of_polygons_are_named() {
        assert!(polygon_problem(&SQUARE).is_none());
        assert!(polygon_problem(&SQUARE[..2])
            .unwrap()
            .contains("at least 3"));
        let bowtie = [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]];
        assert!(polygon_problem(&bowtie)
            .unwrap()
            .contains("self-intersecting"));
        let flat = [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]];
        assert!(polygon_problem(&flat).unwrap().contains("one line"));
        let repeated = [[0.1, 0.1], [0.5, 0.1], [0.1, 0.1], [0.1, 0.5]];
        assert!(polygon_problem(&repeated).unwrap().contains("same"));
        // An edge folding back onto its neighbour.
        let spike = [[0.1, 0.1], [0.5, 0.1], [0.3, 0.1], [0.3, 0.5]];
        assert!(polygon_problem(&spike).is_some());
    }
}
