//! Ramer–Douglas–Peucker simplification of closed contours (OpenCV `approxPolyDP` with
//! `closed = true`).

use crate::IntPoint;

fn dist_to_line(p: IntPoint, a: IntPoint, b: IntPoint) -> f64 {
    let (dx, dy) = ((b.x - a.x) as f64, (b.y - a.y) as f64);
    let len = (dx * dx + dy * dy).sqrt();
    if len == 0.0 {
        return ((p.x - a.x) as f64).hypot((p.y - a.y) as f64);
    }
    ((p.x - a.x) as f64 * dy - (p.y - a.y) as f64 * dx).abs() / len
}

fn rdp(points: &[IntPoint], eps: f64, keep: &mut [bool], lo: usize, hi: usize) {
    if hi <= lo + 1 {
        return;
    }
    let (mut best, mut best_d) = (lo, -1.0);
    for i in (lo + 1)..hi {
        let d = dist_to_line(points[i], points[lo], points[hi]);
        if d > best_d {
            best_d = d;
            best = i;
        }
    }
    if best_d > eps {
        keep[best] = true;
        rdp(points, eps, keep, lo, best);
        rdp(points, eps, keep, best, hi);
    }
}

/// Simplifies a closed contour with tolerance `epsilon`.
///
/// As OpenCV does for closed curves, the contour is split at the vertex farthest from the
/// first one, and each half is simplified with Douglas–Peucker.
pub fn approx_poly_closed(points: &[IntPoint], epsilon: f64) -> Vec<IntPoint> {
    let n = points.len();
    if n <= 2 {
        return points.to_vec();
    }
    let d2 = |a: IntPoint, b: IntPoint| {
        let (dx, dy) = ((a.x - b.x) as f64, (a.y - b.y) as f64);
        dx * dx + dy * dy
    };
    let far = (1..n)
        .max_by(|&i, &j| d2(points[i], points[0]).total_cmp(&d2(points[j], points[0])))
        .unwrap_or(0);
    let mut ring: Vec<IntPoint> = points.to_vec();
    ring.push(points[0]);
    let mut keep = vec![false; n + 1];
    keep[0] = true;
    keep[far] = true;
    rdp(&ring, epsilon, &mut keep, 0, far);
    rdp(&ring, epsilon, &mut keep, far, n);
    (0..n).filter(|&i| keep[i]).map(|i| ring[i]).collect()
}

/// Perimeter of a closed integer contour (OpenCV `arcLength(curve, true)`).
pub fn arc_length_closed(points: &[IntPoint]) -> f64 {
    let pts: Vec<crate::Point> = points.iter().map(|p| p.to_point()).collect();
    crate::polygon::polygon_perimeter(&pts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collinear_points_are_dropped() {
        let pts: Vec<IntPoint> = [(0, 0), (5, 0), (10, 0), (10, 5), (10, 10), (0, 10)]
            .iter()
            .map(|&(x, y)| IntPoint::new(x, y))
            .collect();
        let s = approx_poly_closed(&pts, 0.5);
        assert_eq!(s.len(), 4);
        assert_eq!(arc_length_closed(&pts), 40.0);
    }
}
