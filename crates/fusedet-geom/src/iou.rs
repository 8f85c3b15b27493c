//! Polygon intersection, union and IoU (shapely's areas).
//!
//! Convex pairs (quadrilateral text boxes) are clipped exactly with Sutherland–Hodgman;
//! other pairs go through `i_overlay`'s boolean operations.

use crate::Point;
use crate::polygon::{polygon_area, signed_area};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::float::single::SingleFloatOverlay;

/// Whether a polygon is convex (collinear vertices allowed), in either orientation.
pub fn is_convex(points: &[Point]) -> bool {
    let n = points.len();
    if n < 3 {
        return false;
    }
    let mut sign = 0.0f64;
    for i in 0..n {
        let a = points[i];
        let b = points[(i + 1) % n];
        let c = points[(i + 2) % n];
        let cr = (b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x);
        if cr != 0.0 {
            if sign != 0.0 && cr.signum() != sign {
                return false;
            }
            sign = cr.signum();
        }
    }
    sign != 0.0
}

fn ccw(points: &[Point]) -> Vec<Point> {
    let mut p = points.to_vec();
    if signed_area(&p) < 0.0 {
        p.reverse();
    }
    p
}

/// Intersection of two convex polygons (Sutherland–Hodgman).
pub fn convex_intersection(subject: &[Point], clip: &[Point]) -> Vec<Point> {
    let clip = ccw(clip);
    let mut output = ccw(subject);
    let n = clip.len();
    for i in 0..n {
        if output.is_empty() {
            break;
        }
        let a = clip[i];
        let b = clip[(i + 1) % n];
        let inside = |p: Point| (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) >= 0.0;
        let input = std::mem::take(&mut output);
        let m = input.len();
        for j in 0..m {
            let cur = input[j];
            let prev = input[(j + m - 1) % m];
            let (ci, pi) = (inside(cur), inside(prev));
            if ci {
                if !pi {
                    output.push(line_intersection(prev, cur, a, b));
                }
                output.push(cur);
            } else if pi {
                output.push(line_intersection(prev, cur, a, b));
            }
        }
    }
    output
}

fn line_intersection(p1: Point, p2: Point, a: Point, b: Point) -> Point {
    let (dx1, dy1) = (p2.x - p1.x, p2.y - p1.y);
    let (dx2, dy2) = (b.x - a.x, b.y - a.y);
    let denom = dx1 * dy2 - dy1 * dx2;
    if denom == 0.0 {
        return p2;
    }
    let t = ((a.x - p1.x) * dy2 - (a.y - p1.y) * dx2) / denom;
    Point::new(p1.x + t * dx1, p1.y + t * dy1)
}

fn to_contour(points: &[Point]) -> Vec<[f64; 2]> {
    points.iter().map(|p| [p.x, p.y]).collect()
}

fn shapes_area(shapes: &[Vec<Vec<[f64; 2]>>]) -> f64 {
    shapes
        .iter()
        .map(|shape| {
            shape
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pts: Vec<Point> = c.iter().map(|p| Point::new(p[0], p[1])).collect();
                    let a = polygon_area(&pts);
                    if i == 0 { a } else { -a }
                })
                .sum::<f64>()
        })
        .sum()
}

/// Area of the intersection of two simple polygons.
pub fn intersection_area(a: &[Point], b: &[Point]) -> f64 {
    if a.len() < 3 || b.len() < 3 {
        return 0.0;
    }
    if is_convex(a) && is_convex(b) {
        return polygon_area(&convex_intersection(a, b));
    }
    let shapes = to_contour(a).overlay(&to_contour(b), OverlayRule::Intersect, FillRule::NonZero);
    shapes_area(&shapes)
}

/// Intersection over union of two simple polygons, in `[0, 1]` (0 when the union is empty).
pub fn polygon_iou(a: &[Point], b: &[Point]) -> f64 {
    let inter = intersection_area(a, b);
    let union = polygon_area(a) + polygon_area(b) - inter;
    if union <= 0.0 {
        0.0
    } else {
        (inter / union).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sq(x: f64, y: f64, s: f64) -> Vec<Point> {
        vec![
            Point::new(x, y),
            Point::new(x + s, y),
            Point::new(x + s, y + s),
            Point::new(x, y + s),
        ]
    }

    #[test]
    fn overlapping_squares() {
        let a = sq(0.0, 0.0, 10.0);
        let b = sq(5.0, 0.0, 10.0);
        assert_eq!(intersection_area(&a, &b), 50.0);
        assert!((polygon_iou(&a, &b) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(polygon_iou(&a, &a), 1.0);
        assert_eq!(polygon_iou(&a, &sq(20.0, 20.0, 1.0)), 0.0);
    }

    #[test]
    fn concave_polygons_use_the_general_path() {
        // An L shape (area 75) against a square covering its corner.
        let l = vec![
            Point::new(0.0, 0.0),
            Point::new(10.0, 0.0),
            Point::new(10.0, 5.0),
            Point::new(5.0, 5.0),
            Point::new(5.0, 10.0),
            Point::new(0.0, 10.0),
        ];
        assert!(!is_convex(&l));
        let inter = intersection_area(&l, &sq(0.0, 0.0, 10.0));
        assert!((inter - 75.0).abs() < 1e-6, "{inter}");
    }

    proptest! {
        #[test]
        fn iou_is_symmetric_and_in_unit_interval(
            x1 in -20.0f64..20.0, y1 in -20.0f64..20.0, s1 in 0.5f64..30.0,
            x2 in -20.0f64..20.0, y2 in -20.0f64..20.0, s2 in 0.5f64..30.0,
        ) {
            let a = sq(x1, y1, s1);
            let b = sq(x2, y2, s2);
            let ab = polygon_iou(&a, &b);
            let ba = polygon_iou(&b, &a);
            prop_assert!((0.0..=1.0).contains(&ab));
            prop_assert!((ab - ba).abs() < 1e-9);
            // Axis-aligned squares: compare with the closed form.
            let ix = ((x1 + s1).min(x2 + s2) - x1.max(x2)).max(0.0);
            let iy = ((y1 + s1).min(y2 + s2) - y1.max(y2)).max(0.0);
            let inter = ix * iy;
            let expect = inter / (s1 * s1 + s2 * s2 - inter);
            prop_assert!((ab - expect).abs() < 1e-9);
        }
    }
}
