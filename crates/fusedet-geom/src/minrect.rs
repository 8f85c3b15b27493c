//! Convex hull, minimum-area rotated rectangle and the corner order used by DB.
//!
//! The rectangle is computed as OpenCV's `minAreaRect` does (rotating calipers over the hull,
//! in `f32`), and its corners as `boxPoints` does, so that corners that land a hair below an
//! integer do so here too: the Clipper offset downstream truncates them.

use crate::Point;

/// A rotated rectangle as OpenCV's `RotatedRect`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct RotatedRect {
    /// Centre (x, y).
    pub center: (f32, f32),
    /// Width and height.
    pub size: (f32, f32),
    /// Angle in degrees.
    pub angle: f32,
}

impl RotatedRect {
    /// The four corners, as OpenCV's `RotatedRect::points` (`cv2.boxPoints`), in `f32`.
    pub fn corners(&self) -> [(f32, f32); 4] {
        let angle = (self.angle as f64) * std::f64::consts::PI / 180.0;
        let b = (angle.cos() as f32) * 0.5;
        let a = (angle.sin() as f32) * 0.5;
        let (cx, cy) = self.center;
        let (w, h) = self.size;
        let p0 = (cx - a * h - b * w, cy + b * h - a * w);
        let p1 = (cx + a * h - b * w, cy - b * h - a * w);
        let p2 = (2.0 * cx - p0.0, 2.0 * cy - p0.1);
        let p3 = (2.0 * cx - p1.0, 2.0 * cy - p1.1);
        [p0, p1, p2, p3]
    }

    /// The shorter side.
    pub fn short_side(&self) -> f32 {
        self.size.0.min(self.size.1)
    }
}

/// Convex hull of integer-valued points, clockwise on screen, starting from the right-most
/// (then lowest on screen) point, without collinear vertices.
pub fn convex_hull(points: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut pts: Vec<(f32, f32)> = points.to_vec();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| {
        (a.0 as f64 - o.0 as f64) * (b.1 as f64 - o.1 as f64)
            - (a.1 as f64 - o.1 as f64) * (b.0 as f64 - o.0 as f64)
    };
    // Andrew's monotone chain; in y-down axes a positive cross product turns clockwise.
    let mut lower: Vec<(f32, f32)> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<(f32, f32)> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    // `lower` runs left to right along the top of the screen (smallest y), `upper` right to
    // left along the bottom: together counter-clockwise on screen. Reverse for clockwise and
    // rotate to start at the right-most, bottom-most point.
    let mut hull: Vec<(f32, f32)> = lower.into_iter().chain(upper).collect();
    hull.reverse();
    if hull.len() < 3 {
        return hull;
    }
    let start = (0..hull.len())
        .max_by(|&i, &j| {
            hull[i]
                .0
                .total_cmp(&hull[j].0)
                .then(hull[i].1.total_cmp(&hull[j].1))
        })
        .unwrap_or(0);
    hull.rotate_left(start);
    hull
}

/// Minimum-area enclosing rectangle of a point set (OpenCV `minAreaRect`).
pub fn min_area_rect(points: &[(f32, f32)]) -> RotatedRect {
    let hull = convex_hull(points);
    let n = hull.len();
    let mut rect = RotatedRect::default();
    match n {
        0 => return rect,
        1 => {
            rect.center = hull[0];
            return rect;
        }
        2 => {
            rect.center = ((hull[0].0 + hull[1].0) * 0.5, (hull[0].1 + hull[1].1) * 0.5);
            let dx = (hull[1].0 - hull[0].0) as f64;
            let dy = (hull[1].1 - hull[0].1) as f64;
            rect.size = ((dx * dx + dy * dy).sqrt() as f32, 0.0);
            rect.angle = (dy.atan2(dx) * 180.0 / std::f64::consts::PI) as f32;
            return rect;
        }
        _ => {}
    }
    let out = rotating_calipers(&hull);
    rect.center = (
        out[0].0 + (out[1].0 + out[2].0) * 0.5,
        out[0].1 + (out[1].1 + out[2].1) * 0.5,
    );
    let (o1x, o1y) = (out[1].0 as f64, out[1].1 as f64);
    let (o2x, o2y) = (out[2].0 as f64, out[2].1 as f64);
    rect.size = (
        (o1x * o1x + o1y * o1y).sqrt() as f32,
        (o2x * o2x + o2y * o2y).sqrt() as f32,
    );
    rect.angle = ((o1y.atan2(o1x)) * 180.0 / std::f64::consts::PI) as f32;
    rect
}

/// OpenCV's rotating calipers (`CALIPERS_MINAREARECT`): returns the corner point and the two
/// side vectors of the minimum-area rectangle.
fn rotating_calipers(points: &[(f32, f32)]) -> [(f32, f32); 3] {
    let n = points.len();
    let mut vect = vec![(0f32, 0f32); n];
    let mut inv_len = vec![0f32; n];
    let (mut left, mut bottom, mut right, mut top) = (0usize, 0usize, 0usize, 0usize);
    let mut pt0 = points[0];
    let (mut left_x, mut right_x, mut top_y, mut bottom_y) = (pt0.0, pt0.0, pt0.1, pt0.1);
    for i in 0..n {
        if pt0.0 < left_x {
            left_x = pt0.0;
            left = i;
        }
        if pt0.0 > right_x {
            right_x = pt0.0;
            right = i;
        }
        if pt0.1 > top_y {
            top_y = pt0.1;
            top = i;
        }
        if pt0.1 < bottom_y {
            bottom_y = pt0.1;
            bottom = i;
        }
        let pt = points[if i + 1 < n { i + 1 } else { 0 }];
        let dx = pt.0 as f64 - pt0.0 as f64;
        let dy = pt.1 as f64 - pt0.1 as f64;
        vect[i] = (dx as f32, dy as f32);
        inv_len[i] = (1.0 / (dx * dx + dy * dy).sqrt()) as f32;
        pt0 = pt;
    }
    let mut orientation = 0f32;
    {
        let (mut ax, mut ay) = (vect[n - 1].0 as f64, vect[n - 1].1 as f64);
        for v in &vect {
            let (bx, by) = (v.0 as f64, v.1 as f64);
            let convexity = ax * by - ay * bx;
            if convexity != 0.0 {
                orientation = if convexity > 0.0 { 1.0 } else { -1.0 };
                break;
            }
            ax = bx;
            ay = by;
        }
    }
    let mut base_a = orientation;
    let mut base_b = 0f32;
    let mut seq = [bottom, right, top, left];
    let mut minarea = f32::MAX;
    let mut best: (usize, f32, f32, f32, f32, usize) = (0, 0.0, 0.0, 0.0, 0.0, 0);
    for _ in 0..n {
        let dp = [
            base_a * vect[seq[0]].0 + base_b * vect[seq[0]].1,
            -base_b * vect[seq[1]].0 + base_a * vect[seq[1]].1,
            -base_a * vect[seq[2]].0 - base_b * vect[seq[2]].1,
            base_b * vect[seq[3]].0 - base_a * vect[seq[3]].1,
        ];
        let mut maxcos = dp[0] * inv_len[seq[0]];
        let mut main = 0usize;
        for i in 1..4 {
            let c = dp[i] * inv_len[seq[i]];
            if c > maxcos {
                main = i;
                maxcos = c;
            }
        }
        let pindex = seq[main];
        let lead_x = vect[pindex].0 * inv_len[pindex];
        let lead_y = vect[pindex].1 * inv_len[pindex];
        (base_a, base_b) = match main {
            0 => (lead_x, lead_y),
            1 => (lead_y, -lead_x),
            2 => (-lead_x, -lead_y),
            _ => (-lead_y, lead_x),
        };
        seq[main] += 1;
        if seq[main] == n {
            seq[main] = 0;
        }
        let dx = points[seq[1]].0 - points[seq[3]].0;
        let dy = points[seq[1]].1 - points[seq[3]].1;
        let width = dx * base_a + dy * base_b;
        let dx = points[seq[2]].0 - points[seq[0]].0;
        let dy = points[seq[2]].1 - points[seq[0]].1;
        let height = -dx * base_b + dy * base_a;
        let area = width * height;
        if area <= minarea {
            minarea = area;
            best = (seq[3], base_a, width, base_b, height, seq[0]);
        }
    }
    let (li, a1, w, b1, h, bi) = best;
    let (a2, b2) = (-b1, a1);
    let c1 = a1 * points[li].0 + points[li].1 * b1;
    let c2 = a2 * points[bi].0 + points[bi].1 * b2;
    let idet = 1.0 / (a1 * b2 - a2 * b1);
    let px = (c1 * b2 - c2 * b1) * idet;
    let py = (a1 * c2 - a2 * c1) * idet;
    [(px, py), (a1 * w, b1 * w), (a2 * h, b2 * h)]
}

/// The ordered box of DB's `get_mini_boxes`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MiniBox {
    /// Corners `[top-left, top-right, bottom-right, bottom-left]`, clockwise on screen.
    pub corners: [Point; 4],
    /// The rectangle's shorter side.
    pub short_side: f64,
}

/// `get_mini_boxes` of DB / PaddleOCR / MindOCR: the min-area rectangle of `points` with its
/// corners sorted by x (stably), the left pair split by y into top-left / bottom-left and the
/// right pair into top-right / bottom-right.
pub fn get_mini_box(points: &[(f32, f32)]) -> MiniBox {
    let rect = min_area_rect(points);
    let mut c = rect.corners();
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (i1, i4) = if c[1].1 > c[0].1 { (0, 1) } else { (1, 0) };
    let (i2, i3) = if c[3].1 > c[2].1 { (2, 3) } else { (3, 2) };
    let p = |i: usize| Point::new(c[i].0 as f64, c[i].1 as f64);
    MiniBox {
        corners: [p(i1), p(i2), p(i3), p(i4)],
        short_side: rect.short_side() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn axis_aligned_box_from_clipper_golden_vector() {
        // SPEC §4.2: the unclipped box (7,7)-(93,13) has bbox [3,97]x[3,17]; its min-area rect
        // is 94x14 centred at (50,10).
        let pts = [
            (3.0, 7.0),
            (7.0, 3.0),
            (93.0, 3.0),
            (97.0, 7.0),
            (97.0, 13.0),
            (93.0, 17.0),
            (7.0, 17.0),
            (3.0, 13.0),
        ];
        let r = min_area_rect(&pts);
        assert_eq!(r.center, (50.0, 10.0));
        let (w, h) = r.size;
        assert_eq!((w.max(h), w.min(h)), (94.0, 14.0));
        let b = get_mini_box(&pts);
        assert_eq!(b.short_side, 14.0);
        let c: Vec<(f64, f64)> = b.corners.iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(c, vec![(3.0, 3.0), (97.0, 3.0), (97.0, 17.0), (3.0, 17.0)]);
    }

    #[test]
    fn rotated_square_corner_order_is_clockwise_from_top_left() {
        let pts = [(10.0, 0.0), (20.0, 10.0), (10.0, 20.0), (0.0, 10.0)];
        let b = get_mini_box(&pts);
        assert!((b.short_side - 200f64.sqrt()).abs() < 1e-4);
        let area = crate::polygon::signed_area(&b.corners);
        assert!(area > 0.0, "clockwise on screen");
    }

    proptest! {
        #[test]
        fn min_area_rect_contains_all_points(
            raw in proptest::collection::vec((0i32..200, 0i32..200), 3..40)
        ) {
            let pts: Vec<(f32, f32)> = raw.iter().map(|&(x, y)| (x as f32, y as f32)).collect();
            let hull = convex_hull(&pts);
            prop_assume!(hull.len() >= 3);
            let r = min_area_rect(&pts);
            let c = r.corners();
            let corners: Vec<Point> = c.iter().map(|p| Point::new(p.0 as f64, p.1 as f64)).collect();
            let hull_area = crate::polygon::polygon_area(
                &hull.iter().map(|p| Point::new(p.0 as f64, p.1 as f64)).collect::<Vec<_>>());
            let rect_area = (r.size.0 as f64) * (r.size.1 as f64);
            prop_assert!(rect_area + 1e-2 >= hull_area);
            for p in &pts {
                // Inside (or on) every edge, with a float tolerance.
                let s = crate::polygon::signed_area(&corners).signum();
                for i in 0..4 {
                    let a = corners[i];
                    let b = corners[(i + 1) % 4];
                    let cr = (b.x - a.x) * (p.1 as f64 - a.y) - (b.y - a.y) * (p.0 as f64 - a.x);
                    let len = (b.x - a.x).hypot(b.y - a.y).max(1e-9);
                    prop_assert!(cr * s / len >= -1e-2, "point {:?} outside rect {:?}", p, corners);
                }
            }
        }
    }
}
