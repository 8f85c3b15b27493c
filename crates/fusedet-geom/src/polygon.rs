//! Polygon measures with shapely's semantics: area, perimeter, orientation, validity.

use crate::Point;

/// Signed area by the shoelace formula: positive when the vertices run counter-clockwise in
/// y-up axes (clockwise on screen, with y down). Computed as GEOS (shapely) does, relative to
/// the first x, so that DB's unclip distance `area * ratio / length` matches to the bit: a
/// distance of 4.5 against 4.4999999 moves an offset vertex by a pixel.
pub fn signed_area(points: &[Point]) -> f64 {
    let n = points.len();
    if n < 3 {
        return 0.0;
    }
    let x0 = points[0].x;
    let mut sum = 0.0;
    for i in 1..n {
        let x = points[i].x - x0;
        let y1 = points[(i + 1) % n].y;
        let y2 = points[i - 1].y;
        sum += x * (y2 - y1);
    }
    -sum / 2.0
}

/// Absolute area (shapely `Polygon.area`).
pub fn polygon_area(points: &[Point]) -> f64 {
    signed_area(points).abs()
}

/// Perimeter of the closed polygon, as shapely's `Polygon.length` (GEOS) sums it.
pub fn polygon_perimeter(points: &[Point]) -> f64 {
    let n = points.len();
    if n < 2 {
        return 0.0;
    }
    (0..n)
        .map(|i| {
            let a = points[i];
            let b = points[(i + 1) % n];
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            (dx * dx + dy * dy).sqrt()
        })
        .sum()
}

/// Whether the vertices run clockwise on screen (y down), i.e. the ICDAR orientation.
pub fn is_clockwise_on_screen(points: &[Point]) -> bool {
    signed_area(points) > 0.0
}

fn orient(a: Point, b: Point, c: Point) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn on_segment(a: Point, b: Point, p: Point) -> bool {
    p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
}

/// Whether segments `a1-a2` and `b1-b2` share any point.
pub fn segments_intersect(a1: Point, a2: Point, b1: Point, b2: Point) -> bool {
    let d1 = orient(b1, b2, a1);
    let d2 = orient(b1, b2, a2);
    let d3 = orient(a1, a2, b1);
    let d4 = orient(a1, a2, b2);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on_segment(b1, b2, a1))
        || (d2 == 0.0 && on_segment(b1, b2, a2))
        || (d3 == 0.0 && on_segment(a1, a2, b1))
        || (d4 == 0.0 && on_segment(a1, a2, b2))
}

/// Whether the polygon is a valid simple polygon in shapely's sense: at least three vertices,
/// finite coordinates, non-zero area and no two non-adjacent edges touching.
pub fn is_valid_polygon(points: &[Point]) -> bool {
    // Repeated consecutive vertices are allowed (shapely drops them).
    let mut dedup: Vec<Point> = Vec::with_capacity(points.len());
    for &p in points {
        if dedup.last() != Some(&p) {
            dedup.push(p);
        }
    }
    while dedup.len() > 1 && dedup.first() == dedup.last() {
        dedup.pop();
    }
    let points = &dedup[..];
    let n = points.len();
    if n < 3 || points.iter().any(|p| !p.x.is_finite() || !p.y.is_finite()) {
        return false;
    }
    if polygon_area(points) == 0.0 {
        return false;
    }
    for i in 0..n {
        let a1 = points[i];
        let a2 = points[(i + 1) % n];
        for j in (i + 1)..n {
            // Skip adjacent edges (they share a vertex by construction).
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            let b1 = points[j];
            let b2 = points[(j + 1) % n];
            if segments_intersect(a1, a2, b1, b2) {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(w: f64, h: f64) -> Vec<Point> {
        vec![
            Point::new(0.0, 0.0),
            Point::new(w, 0.0),
            Point::new(w, h),
            Point::new(0.0, h),
        ]
    }

    #[test]
    fn rectangle_area_and_perimeter() {
        let r = rect(100.0, 20.0);
        assert_eq!(polygon_area(&r), 2000.0);
        assert_eq!(polygon_perimeter(&r), 240.0);
        assert!(is_clockwise_on_screen(&r));
        let mut rev = r.clone();
        rev.reverse();
        assert!(!is_clockwise_on_screen(&rev));
        assert_eq!(polygon_area(&rev), 2000.0);
    }

    #[test]
    fn bow_tie_is_invalid_and_rectangle_is_valid() {
        assert!(is_valid_polygon(&rect(3.0, 2.0)));
        let bow = vec![
            Point::new(0.0, 0.0),
            Point::new(10.0, 10.0),
            Point::new(10.0, 0.0),
            Point::new(0.0, 10.0),
        ];
        assert!(!is_valid_polygon(&bow));
        let flat = vec![
            Point::new(0.0, 0.0),
            Point::new(5.0, 0.0),
            Point::new(10.0, 0.0),
        ];
        assert!(!is_valid_polygon(&flat));
    }
}
