//! Polygon offsetting bit-exact with Clipper 6.4.2's `ClipperOffset` as pyclipper 1.4.0 runs it
//! for DB, PaddleOCR, MindOCR and MMOCR: `JT_ROUND` joins, `ET_CLOSEDPOLYGON`, miter limit 2.0
//! (unused by round joins), arc tolerance 0.25, on Clipper's integer grid.
//!
//! Input coordinates are truncated toward zero (pyclipper's conversion); every emitted vertex
//! is rounded half away from zero (Clipper's `Round`). [`raw_offset_path`] is `DoOffset`;
//! [`offset_path`] resolves it as `ClipperOffset::Execute` does, with the safe-Rust port of
//! Clipper's Vatti sweep in `crate::clipper`: a positive-fill union for a positive delta, a
//! negative-fill union inside an enclosing rectangle (reversed, rectangle dropped) otherwise.
//! Output paths, their start vertex and direction are Clipper's.
//!
//! # Why a port
//! Measured 2026-11-30 on `tests/fixtures/offset.json` (912 pyclipper offsets of concave,
//! curved, thin, collinear, self-touching and degenerate polygons, both signs of delta) and
//! `benches/offset.rs` (2 shared cores; old and new binaries run alternately six times, best
//! median per workload, µs for the whole workload):
//!
//! | implementation | identical to pyclipper, vertex for vertex | unclip_quads | unclip_curved | shrink_curved |
//! |---|---|---|---|---|
//! | before: own `DoOffset` + `i_overlay` union | 103 of 912 | 4424 | 47 790 | 27 862 |
//! | this port (`crate::clipper`) | **912 of 912** | 4360 (1.01x) | 13 817 (3.5x) | 13 895 (2.0x) |
//! | `clipper-sys` 0.8.0 (C++ Clipper 6.4.2, tried outside the workspace) | 708 of 912 (787 same vertex sets) | | | |
//!
//! On the fixture inputs `clipper-sys` also took 1.5x the port's time. Its `offset` runs an
//! even-odd clean-up of the input before offsetting and returns a PolyTree (outer contours,
//! then holes; negative offsets not reversed), so neither its start vertices nor its path
//! order are pyclipper's; calling it needs `unsafe` FFI, which `#![forbid(unsafe_code)]`
//! rules out here, and every build needs a C++ compiler. `geo-clipper` wraps the same
//! function; `clipper2` bundles Clipper2, whose offsetting is a different algorithm.
//!
//! The old path also differed from Clipper in `OffsetPoint` (it advanced the previous-edge
//! index past skipped, nearly collinear vertices) and kept `i_overlay`'s vertices where the
//! raw path crosses itself.

use crate::clipper::{Clipper, FillRule, path_area, round};
use crate::{IntPoint, Point};

/// pyclipper's default `arc_tolerance` (also Clipper's `def_arc_tolerance`).
const ARC_TOLERANCE: f64 = 0.25;

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

/// The raw offset path of Clipper's `DoOffset` for one closed polygon, before the union
/// clean-up (`AddPath`'s duplicate removal, `FixOrientations`, then `OffsetPoint` with round
/// joins at every vertex). Returns `None` when Clipper drops the path (fewer than 3 distinct
/// vertices).
pub fn raw_offset_path(path: &[IntPoint], delta: f64) -> Option<Vec<IntPoint>> {
    // ClipperOffset::AddPath(etClosedPolygon): strip closing and consecutive duplicates.
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
    // FixOrientations: the only closed path holds the lowest vertex.
    if path_area(&src) < 0.0 {
        src.reverse();
    }
    if delta.abs() < 1e-20 {
        return Some(src);
    }
    let abs = delta.abs();
    let y = if ARC_TOLERANCE > abs * 0.25 {
        abs * 0.25
    } else {
        ARC_TOLERANCE
    };
    let mut steps = std::f64::consts::PI / (1.0 - y / abs).acos();
    if steps > abs * std::f64::consts::PI {
        steps = abs * std::f64::consts::PI;
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
            round(p.x as f64 + n.0 * delta),
            round(p.y as f64 + n.1 * delta),
        )
    };
    // OffsetPoint(j, k, jtRound). Clipper leaves k unchanged when it skips a nearly
    // collinear vertex, so the next vertex is offset along the same normal.
    let mut k = len - 1;
    for j in 0..len {
        let (nk, nj) = (normals[k], normals[j]);
        let mut sin_a = nk.0 * nj.1 - nj.0 * nk.1;
        if (sin_a * delta).abs() < 1.0 {
            let cos_a = nk.0 * nj.0 + nj.1 * nk.1;
            if cos_a > 0.0 {
                out.push(at(src[j], nk));
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
            // DoRound.
            let a = sin_a.atan2(nk.0 * nj.0 + nk.1 * nj.1);
            let n_steps = (round(steps_per_rad * a.abs()) as i32).max(1);
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

/// Offsets one closed integer path by `delta` pixels, as Clipper 6.4.2's
/// `ClipperOffset(2.0, 0.25)`, `AddPath(path, jtRound, etClosedPolygon)`, `Execute(paths,
/// delta)`: the raw offset path resolved by a union under the positive fill rule (grow), or
/// under the negative rule inside an enclosing rectangle whose outline is then dropped
/// (shrink). Paths come out in Clipper's order, vertices in its order and start.
pub fn offset_path(path: &[IntPoint], delta: f64) -> Vec<Vec<IntPoint>> {
    let raw = raw_offset_path(path, delta);
    let mut clipper = Clipper::with_capacity(raw.as_ref().map_or(0, Vec::len) + 4);
    if let Some(raw) = raw {
        clipper.add_path(&raw);
    }
    if delta > 0.0 {
        return clipper.union(FillRule::Positive, false);
    }
    let (left, top, right, bottom) = clipper.bounds();
    let outer = [
        IntPoint::new(left - 10, bottom + 10),
        IntPoint::new(right + 10, bottom + 10),
        IntPoint::new(right + 10, top - 10),
        IntPoint::new(left - 10, top - 10),
    ];
    clipper.add_path(&outer);
    let mut out = clipper.union(FillRule::Negative, true);
    if !out.is_empty() {
        out.remove(0);
    }
    out
}

/// Offsets one closed polygon by `delta` pixels (positive grows it), as
/// `PyclipperOffset().AddPath(points, JT_ROUND, ET_CLOSEDPOLYGON); Execute(delta)`: float
/// vertices are truncated toward zero, then [`offset_path`].
///
/// Returns the resulting polygons (empty when the polygon collapses; several when it splits).
pub fn offset_polygon(points: &[Point], delta: f64) -> Vec<Vec<IntPoint>> {
    offset_path(&to_clipper_path(points), delta)
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
    fn offsetting_a_concave_polygon_removes_the_join_loops() {
        // An L shape: its concave vertex makes Clipper's raw path loop back over itself.
        let l = vec![
            Point::new(0.0, 0.0),
            Point::new(20.0, 0.0),
            Point::new(20.0, 10.0),
            Point::new(10.0, 10.0),
            Point::new(10.0, 20.0),
            Point::new(0.0, 20.0),
        ];
        let raw = raw_offset_path(&to_clipper_path(&l), 2.0).unwrap();
        assert!(raw.contains(&IntPoint::new(10, 10)));
        let out = offset_polygon(&l, 2.0);
        assert_eq!(out.len(), 1);
        let pts: Vec<Point> = out[0].iter().map(|p| p.to_point()).collect();
        assert!(crate::polygon::is_valid_polygon(&pts));
        let a = polygon_area(&pts);
        // Area grows by about perimeter * d + pi * d^2 (minus the concave corner's d^2).
        assert!((a - (300.0 + 80.0 * 2.0 + 3.0 * 4.0)).abs() < 8.0, "{a}");
        assert!(!out[0].contains(&IntPoint::new(10, 10)));
    }

    #[test]
    fn degenerate_paths_give_nothing() {
        assert!(offset_polygon(&[Point::new(1.0, 1.0), Point::new(2.0, 2.0)], 3.0).is_empty());
        assert!(offset_polygon(&[], 3.0).is_empty());
    }
}
