//! Polygon offsetting with the semantics of Clipper 6.4 `ClipperOffset` (as called through
//! pyclipper by DB, PaddleOCR, MindOCR and MMOCR): `JT_ROUND` joins, `ET_CLOSEDPOLYGON`,
//! arc tolerance 0.25, on an integer grid.
//!
//! Input coordinates are truncated toward zero (pyclipper's conversion), every emitted vertex
//! is rounded half away from zero (Clipper's `Round`). For a positive delta on a polygon whose
//! raw offset path is simple (every convex polygon, so every unclipped quadrilateral) the
//! result is that path with duplicate and collinear vertices removed, as Clipper's union
//! clean-up leaves it. Paths that loop over themselves (concave inputs) are cleaned with the
//! same positive-fill union, computed here by [`crate::iou`]'s polygon clipping.

use crate::IntPoint;
use crate::Point;

const ARC_TOLERANCE: f64 = 0.25;

fn clipper_round(v: f64) -> i64 {
    if v < 0.0 {
        (v - 0.5) as i64
    } else {
        (v + 0.5) as i64
    }
}

fn clipper_area(p: &[IntPoint]) -> f64 {
    let n = p.len();
    if n < 3 {
        return 0.0;
    }
    let mut a = 0.0;
    let mut j = n - 1;
    for i in 0..n {
        a += (p[j].x as f64 + p[i].x as f64) * (p[j].y as f64 - p[i].y as f64);
        j = i;
    }
    -a * 0.5
}

fn unit_normal(a: IntPoint, b: IntPoint) -> (f64, f64) {
    if a == b {
        return (0.0, 0.0);
    }
    let mut dx = (b.x - a.x) as f64;
    let mut dy = (b.y - a.y) as f64;
    let f = 1.0 / (dx * dx + dy * dy).sqrt();
    dx *= f;
    dy *= f;
    (dy, -dx)
}

/// Converts float vertices to Clipper's grid the way pyclipper does (truncation toward zero).
pub fn to_clipper_path(points: &[Point]) -> Vec<IntPoint> {
    points
        .iter()
        .map(|p| IntPoint::new(p.x as i64, p.y as i64))
        .collect()
}

/// The raw offset path of Clipper's `DoOffset` for one closed polygon (before the union
/// clean-up). Returns `None` when Clipper drops the path (fewer than 3 distinct vertices).
pub fn raw_offset_path(path: &[IntPoint], delta: f64) -> Option<Vec<IntPoint>> {
    // Strip duplicates (closing duplicates and consecutive ones).
    let mut hi = path.len().checked_sub(1)?;
    while hi > 0 && path[0] == path[hi] {
        hi -= 1;
    }
    let mut src: Vec<IntPoint> = vec![path[0]];
    for &p in &path[1..=hi] {
        if *src.last().expect("non-empty") != p {
            src.push(p);
        }
    }
    if src.len() < 3 {
        return None;
    }
    if clipper_area(&src) < 0.0 {
        src.reverse();
    }
    if delta.abs() < 1e-20 {
        return Some(src);
    }
    let y = if ARC_TOLERANCE > delta.abs() * ARC_TOLERANCE {
        delta.abs() * ARC_TOLERANCE
    } else {
        ARC_TOLERANCE
    };
    let mut steps = std::f64::consts::PI / (1.0 - y / delta.abs()).acos();
    if steps > delta.abs() * std::f64::consts::PI {
        steps = delta.abs() * std::f64::consts::PI;
    }
    let two_pi = 2.0 * std::f64::consts::PI;
    let mut sin = (two_pi / steps).sin();
    let cos = (two_pi / steps).cos();
    let steps_per_rad = steps / two_pi;
    if delta < 0.0 {
        sin = -sin;
    }
    let len = src.len();
    let normals: Vec<(f64, f64)> = (0..len)
        .map(|j| unit_normal(src[j], src[(j + 1) % len]))
        .collect();
    let mut out = Vec::with_capacity(len * 4);
    let at = |p: IntPoint, n: (f64, f64)| {
        IntPoint::new(
            clipper_round(p.x as f64 + n.0 * delta),
            clipper_round(p.y as f64 + n.1 * delta),
        )
    };
    let mut k = len - 1;
    for j in 0..len {
        let (nk, nj) = (normals[k], normals[j]);
        let mut sin_a = nk.0 * nj.1 - nj.0 * nk.1;
        let cos_a = nk.0 * nj.0 + nj.1 * nk.1;
        if (sin_a * delta).abs() < 1.0 {
            if cos_a > 0.0 {
                out.push(at(src[j], nk));
                k = j;
                continue;
            }
        } else {
            sin_a = sin_a.clamp(-1.0, 1.0);
        }
        if sin_a * delta < 0.0 {
            out.push(at(src[j], nk));
            out.push(src[j]);
            out.push(at(src[j], nj));
        } else {
            // Round join.
            let a = sin_a.atan2(nk.0 * nj.0 + nk.1 * nj.1);
            let n_steps = clipper_round(steps_per_rad * a.abs()).max(1);
            let (mut x, mut yv) = nk;
            for _ in 0..n_steps {
                out.push(at(src[j], (x, yv)));
                let x2 = x;
                x = x * cos - sin * yv;
                yv = x2 * sin + yv * cos;
            }
            out.push(at(src[j], nj));
        }
        k = j;
    }
    Some(out)
}

/// Removes consecutive duplicates and exactly collinear vertices of a closed integer path.
pub fn clean_path(path: &[IntPoint]) -> Vec<IntPoint> {
    let mut p: Vec<IntPoint> = path.to_vec();
    p.dedup();
    while p.len() > 1 && p.first() == p.last() {
        p.pop();
    }
    let mut changed = true;
    while changed && p.len() >= 3 {
        changed = false;
        let n = p.len();
        for i in 0..n {
            let a = p[(i + n - 1) % n];
            let b = p[i];
            let c = p[(i + 1) % n];
            let cross = (b.x - a.x) as i128 * (c.y - b.y) as i128
                - (b.y - a.y) as i128 * (c.x - b.x) as i128;
            if cross == 0 || a == b {
                p.remove(i);
                changed = true;
                break;
            }
        }
    }
    p
}

/// Offsets one closed polygon by `delta` pixels (positive grows it), as
/// `PyclipperOffset().AddPath(points, JT_ROUND, ET_CLOSEDPOLYGON); Execute(delta)`.
///
/// Returns the resulting polygons (empty when the polygon collapses; several when it splits).
pub fn offset_polygon(points: &[Point], delta: f64) -> Vec<Vec<IntPoint>> {
    let path = to_clipper_path(points);
    let Some(raw) = raw_offset_path(&path, delta) else {
        return Vec::new();
    };
    let pts: Vec<Point> = raw.iter().map(|p| p.to_point()).collect();
    if delta > 0.0 && crate::polygon::is_valid_polygon(&pts) {
        let cleaned = clean_path(&raw);
        return if cleaned.len() >= 3 {
            vec![cleaned]
        } else {
            Vec::new()
        };
    }
    // Clipper unions a grown path with the positive fill rule; a shrunk one with an enclosing
    // rectangle of opposite winding under the negative rule, keeping the holes: either way the
    // regions the raw path winds around positively (the loops a shrink leaves at convex
    // corners wind the other way and drop out).
    crate::iou::positive_fill_regions(&raw, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polygon::polygon_area;

    fn rect() -> Vec<Point> {
        vec![
            Point::new(0.0, 0.0),
            Point::new(100.0, 0.0),
            Point::new(100.0, 20.0),
            Point::new(0.0, 20.0),
        ]
    }

    fn bbox(p: &[IntPoint]) -> (i64, i64, i64, i64) {
        (
            p.iter().map(|q| q.x).min().unwrap(),
            p.iter().map(|q| q.y).min().unwrap(),
            p.iter().map(|q| q.x).max().unwrap(),
            p.iter().map(|q| q.y).max().unwrap(),
        )
    }

    #[test]
    fn grow_rectangle_matches_pyclipper_golden_vector() {
        // SPEC §4.2: offset +7 → 16 vertices, bbox [-7,107]x[-7,27], area 3826.
        let out = offset_polygon(&rect(), 7.0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 16);
        assert_eq!(bbox(&out[0]), (-7, -7, 107, 27));
        let pts: Vec<Point> = out[0].iter().map(|p| p.to_point()).collect();
        assert_eq!(polygon_area(&pts), 3826.0);
    }

    #[test]
    fn unclip_of_the_shrunk_box_matches_pyclipper() {
        // SPEC §4.2: (7,7)-(93,13) unclipped with d = 4.2065 → 12 vertices, bbox [3,97]x[3,17].
        let b = vec![
            Point::new(7.0, 7.0),
            Point::new(93.0, 7.0),
            Point::new(93.0, 13.0),
            Point::new(7.0, 13.0),
        ];
        let d = 516.0 * 1.5 / 184.0;
        let out = offset_polygon(&b, d);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 12);
        assert_eq!(bbox(&out[0]), (3, 3, 97, 17));
    }

    #[test]
    fn shrink_rectangle_matches_pyclipper_golden_vector() {
        // SPEC §4.2: offset -7 → one polygon with corners (7,7),(93,7),(93,13),(7,13).
        let out = offset_polygon(&rect(), -7.0);
        assert_eq!(out.len(), 1, "{out:?}");
        let mut c: Vec<(i64, i64)> = out[0].iter().map(|p| (p.x, p.y)).collect();
        c.sort();
        assert_eq!(c, vec![(7, 7), (7, 13), (93, 7), (93, 13)]);
        // Shrinking past half the short side collapses it.
        assert!(offset_polygon(&rect(), -11.0).is_empty());
    }

    #[test]
    fn truncation_toward_zero_before_offsetting() {
        assert_eq!(
            to_clipper_path(&[Point::new(0.7, 10.7), Point::new(-0.7, 99.999)]),
            vec![IntPoint::new(0, 10), IntPoint::new(0, 99)]
        );
    }

    #[test]
    fn degenerate_paths_give_nothing() {
        assert!(offset_polygon(&[Point::new(1.0, 1.0), Point::new(2.0, 2.0)], 3.0).is_empty());
        assert!(offset_polygon(&[], 3.0).is_empty());
    }
}
