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
        // OpenCV 4.x computes the opposite corners directly (not as 2c - p).
        let p2 = (cx + a * h + b * w, cy - b * h + a * w);
        let p3 = (cx - a * h + b * w, cy + b * h + a * w);
        [p0, p1, p2, p3]
    }

    /// The shorter side.
    pub fn short_side(&self) -> f32 {
        self.size.0.min(self.size.1)
    }
}

/// Convex hull of integer-valued points as OpenCV's `convexHull(points, clockwise=true)`:
/// Sklansky's scan over the points sorted by (x, y, input index), collinear and repeated
/// vertices dropped, then cyclically shifted so that the input indices of the vertices run
/// monotonically where they can. The start vertex matters: it decides which of two
/// equal-area rectangles the rotating calipers keep.
pub fn convex_hull(points: &[(f32, f32)]) -> Vec<(f32, f32)> {
    convex_hull_oriented(points, true)
}

/// [`convex_hull`] with OpenCV's `clockwise` flag (`minAreaRect` asks for `false`).
pub fn convex_hull_oriented(points: &[(f32, f32)], clockwise: bool) -> Vec<(f32, f32)> {
    let pts: Vec<(i64, i64)> = points.iter().map(|p| (p.0 as i64, p.1 as i64)).collect();
    convex_hull_indices(&pts, clockwise)
        .into_iter()
        .map(|i| points[i])
        .collect()
}

/// OpenCV's `Sklansky_` over `order` (indices into `pts`, sorted), from `start` to `end`.
fn sklansky(
    pts: &[(i64, i64)],
    order: &[usize],
    start: usize,
    end: usize,
    stack: &mut [isize],
    nsign: i64,
    sign2: i64,
) -> usize {
    let p = |k: isize| pts[order[k as usize]];
    let (start, end) = (start as isize, end as isize);
    let incr: isize = if end > start { 1 } else { -1 };
    let (mut pprev, mut pcur) = (start, start + incr);
    let mut pnext = pcur + incr;
    if start == end || p(start) == p(end) {
        stack[0] = start;
        return 1;
    }
    stack[0] = pprev;
    stack[1] = pcur;
    stack[2] = pnext;
    let mut size = 3usize;
    let after_end = end + incr;
    while pnext != after_end {
        if p(pcur) == p(pnext) {
            pnext += incr;
            stack[size - 1] = pnext;
            continue;
        }
        let by = p(pnext).1 - p(pcur).1;
        if by.signum() != nsign {
            let (ax, ay) = (p(pcur).0 - p(pprev).0, p(pcur).1 - p(pprev).1);
            let bx = p(pnext).0 - p(pcur).0;
            let convexity = ay * bx - ax * by;
            if convexity.signum() == sign2 && (ax != 0 || ay != 0) {
                pprev = pcur;
                pcur = pnext;
                pnext += incr;
                stack[size] = pnext;
                size += 1;
            } else if pprev == start {
                pcur = pnext;
                stack[1] = pcur;
                pnext += incr;
                stack[2] = pnext;
            } else {
                stack[size - 2] = pnext;
                pcur = pprev;
                pprev = stack[size - 4];
                size -= 1;
            }
        } else {
            pnext += incr;
            stack[size - 1] = pnext;
        }
    }
    size - 1
}

/// Indices (into `pts`) of OpenCV's clockwise convex hull; see [`convex_hull`].
fn convex_hull_indices(pts: &[(i64, i64)], clockwise: bool) -> Vec<usize> {
    let total = pts.len();
    if total == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..total).collect();
    // The keys are unique (the index breaks ties): an unstable sort gives the same order.
    order.sort_unstable_by_key(|&a| (pts[a], a));
    let (mut miny, mut maxy) = (0usize, 0usize);
    for i in 1..total {
        let y = pts[order[i]].1;
        if pts[order[miny]].1 > y {
            miny = i;
        }
        if pts[order[maxy]].1 < y {
            maxy = i;
        }
    }
    let mut hull: Vec<usize> = Vec::new();
    if pts[order[0]] == pts[order[total - 1]] {
        return vec![order[0]];
    }
    let mut stack = vec![0isize; total + 2];
    let at = |stack: &[isize], k: usize| order[stack[k] as usize];
    // Upper half: one chain forwards, the other reversed (which first depends on `clockwise`).
    let tl = sklansky(pts, &order, 0, maxy, &mut stack, -1, 1);
    let tl_stack0: Vec<isize> = stack[..tl].to_vec();
    let tr = sklansky(pts, &order, total - 1, maxy, &mut stack[tl..], -1, -1);
    let tr_stack0: Vec<isize> = stack[tl..tl + tr].to_vec();
    let (tl_stack, tl, tr_stack, tr) = if clockwise {
        (tl_stack0, tl, tr_stack0, tr)
    } else {
        (tr_stack0, tr, tl_stack0, tl)
    };
    for i in 0..tl.saturating_sub(1) {
        hull.push(at(&tl_stack, i));
    }
    for i in (1..tr).rev() {
        hull.push(at(&tr_stack, i));
    }
    let stop: Option<isize> = if tr > 2 {
        Some(tr_stack[1])
    } else if tl > 2 {
        Some(tl_stack[tl - 2])
    } else {
        None
    };
    // Lower half, likewise.
    let bl = sklansky(pts, &order, 0, miny, &mut stack, 1, -1);
    let bl_stack0: Vec<isize> = stack[..bl].to_vec();
    let br = sklansky(pts, &order, total - 1, miny, &mut stack[bl..], 1, 1);
    let br_stack0: Vec<isize> = stack[bl..bl + br].to_vec();
    let (bl_stack, mut bl_n, br_stack, mut br_n) = if clockwise {
        (br_stack0, br, bl_stack0, bl)
    } else {
        (bl_stack0, bl, br_stack0, br)
    };
    if let Some(stop) = stop {
        let check = if bl_n > 2 {
            Some(bl_stack[1])
        } else if bl_n + br_n > 2 {
            Some(br_stack[2 - bl_n])
        } else {
            None
        };
        if let Some(check) = check
            && (check == stop || pts[order[check as usize]] == pts[order[stop as usize]])
        {
            // All points on one line: the lower half mirrors the upper one.
            bl_n = bl_n.min(2);
            br_n = br_n.min(2);
        }
    }
    for i in 0..bl_n.saturating_sub(1) {
        hull.push(at(&bl_stack, i));
    }
    for i in (1..br_n).rev() {
        hull.push(at(&br_stack, i));
    }
    let n = hull.len();
    if n >= 3 {
        // Cyclic shift making the input indices ascend or descend, where possible.
        let (mut min_i, mut max_i, mut lt) = (0usize, 0usize, 0usize);
        for i in 1..n {
            let idx = hull[i];
            lt += (hull[i - 1] < idx) as usize;
            if lt > 1 && lt + 2 <= i {
                break;
            }
            if idx < hull[min_i] {
                min_i = i;
            }
            if idx > hull[max_i] {
                max_i = i;
            }
        }
        let mmdist = max_i.abs_diff(min_i);
        if (mmdist == 1 || mmdist == n - 1) && (lt <= 1 || lt + 2 >= n) {
            let ascending = (max_i + 1) % n == min_i;
            let i0 = if ascending { min_i } else { max_i };
            if i0 > 0 {
                let mut shifted = Vec::with_capacity(n);
                let mut j = i0;
                let mut complete = true;
                for i in 0..n {
                    let cur = hull[j];
                    shifted.push(cur);
                    let next_j = if j + 1 < n { j + 1 } else { 0 };
                    if i + 1 < n && (ascending != (cur < hull[next_j])) {
                        complete = false;
                        break;
                    }
                    j = next_j;
                }
                if complete {
                    hull = shifted;
                }
            }
        }
    }
    hull
}

/// Minimum-area enclosing rectangle of integer-valued points, as OpenCV 4.x/5.x
/// `minAreaRect`: rotating calipers in `f32` over the counter-clockwise hull, the next caliper
/// edge chosen by the sign of a dot product, and the angle brought into `[-90, 0)` degrees by
/// quarter turns in double-precision radians (swapping width and height at each turn).
pub fn min_area_rect(points: &[(f32, f32)]) -> RotatedRect {
    let hull = convex_hull_oriented(points, false);
    let n = hull.len();
    let mut rect = RotatedRect::default();
    let angle_rad: f64;
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
            angle_rad = dy.atan2(dx);
        }
        _ => {
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
            angle_rad = o1y.atan2(o1x);
        }
    }
    let mut a = angle_rad;
    let half_pi = std::f64::consts::FRAC_PI_2;
    while a >= 0.0 {
        rect.size = (rect.size.1, rect.size.0);
        a -= half_pi;
    }
    while a < -half_pi {
        rect.size = (rect.size.1, rect.size.0);
        a += half_pi;
    }
    rect.angle = (a * 180.0 / std::f64::consts::PI) as f32;
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
    // (OpenCV also finds the hull's orientation here; the dot-product edge choice below no
    // longer reads it.)
    let (mut base_a, mut base_b): (f32, f32);
    let mut seq = [bottom, right, top, left];
    let mut minarea = f32::MAX;
    let mut best: (usize, f32, f32, f32, f32, usize) = (0, 0.0, 0.0, 0.0, 0.0, 0);
    // `a` lies to the right of (clockwise from) `b`: a rotated 90° clockwise points away from b.
    let is_right = |a: (f32, f32), b: (f32, f32)| a.1 * b.0 + (-a.0) * b.1 < 0.0;
    for _ in 0..n {
        let (v0, v1, v2, v3) = (vect[seq[0]], vect[seq[1]], vect[seq[2]], vect[seq[3]]);
        let rot = [v0, (v1.1, -v1.0), (-v2.0, -v2.1), (-v3.1, v3.0)];
        let mut main = 0usize;
        for i in 1..4 {
            if is_right(rot[i], rot[main]) {
                main = i;
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
