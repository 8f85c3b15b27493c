//! Polygon fill with OpenCV `fillPoly` semantics (8-connected, `shift` 0): the outline is
//! drawn with OpenCV's line iterator, then the interior is filled by its edge-list scanline
//! algorithm in 16.16 fixed point. A port of `CollectPolyEdges` + `FillEdgeCollection`, so
//! that DB's `box_score_fast` averages over exactly the pixels PaddleOCR averages over.

use crate::IntPoint;

const XY_SHIFT: u32 = 16;
const XY_ONE: i64 = 1 << XY_SHIFT;

/// Sets `mask[y * width + x] = value` for every pixel OpenCV's `fillPoly` would set for this
/// polygon (integer vertices, any winding, coordinates outside the mask clipped).
pub fn fill_polygon(mask: &mut [u8], width: usize, height: usize, poly: &[IntPoint], value: u8) {
    let n = poly.len();
    if n == 0 || width == 0 || height == 0 {
        return;
    }
    let (w, h) = (width as i64, height as i64);
    let mut edges: Vec<Edge> = Vec::with_capacity(n);
    let mut pt0 = (poly[n - 1].x << XY_SHIFT, poly[n - 1].y);
    for v in poly {
        let pt1 = (v.x << XY_SHIFT, v.y);
        let (mut pt0c, mut pt1c) = (pt0, pt1);
        let mut t0 = ((pt0.0 + (XY_ONE >> 1)) >> XY_SHIFT, pt0.1);
        let mut t1 = ((pt1.0 + (XY_ONE >> 1)) >> XY_SHIFT, pt1.1);
        draw_line(mask, width, height, t0, t1, value);
        let outside = |p: (i64, i64)| p.0 < 0 || p.0 >= w || p.1 < 0 || p.1 >= h;
        if outside(t0) || outside(t1) {
            clip_line(w, h, &mut t0, &mut t1);
            if t0.1 != t1.1 {
                pt0c = (t0.0 << XY_SHIFT, t0.1);
                pt1c = (t1.0 << XY_SHIFT, t1.1);
            }
        }
        if pt0.1 != pt1.1 {
            let dx = (pt1c.0 - pt0c.0) / (pt1c.1 - pt0c.1);
            edges.push(if pt0.1 < pt1.1 {
                Edge {
                    y0: pt0.1,
                    y1: pt1.1,
                    x: pt0c.0 + (pt0.1 - pt0c.1) * dx,
                    dx,
                }
            } else {
                Edge {
                    y0: pt1.1,
                    y1: pt0.1,
                    x: pt1c.0 + (pt1.1 - pt1c.1) * dx,
                    dx,
                }
            });
        }
        pt0 = pt1;
    }
    fill_edges(mask, width, height, edges, value);
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    y0: i64,
    y1: i64,
    /// Fixed-point x at the current scanline.
    x: i64,
    dx: i64,
}

/// OpenCV's `FillEdgeCollection` for 8-connected lines.
fn fill_edges(mask: &mut [u8], width: usize, height: usize, mut edges: Vec<Edge>, value: u8) {
    let total = edges.len();
    if total < 2 {
        return;
    }
    let (w, h) = (width as i64, height as i64);
    let (mut y_min, mut y_max) = (i64::MAX, i64::MIN);
    let (mut x_min, mut x_max) = (i64::MAX, -1i64);
    for e in &edges {
        let x1 = e.x + (e.y1 - e.y0) * e.dx;
        y_min = y_min.min(e.y0);
        y_max = y_max.max(e.y1);
        x_min = x_min.min(e.x).min(x1);
        x_max = x_max.max(e.x).max(x1);
    }
    if y_max < 0 || y_min >= h || x_max < 0 || x_min >= (w << XY_SHIFT) {
        return;
    }
    edges.sort_by(|a, b| a.y0.cmp(&b.y0).then(a.x.cmp(&b.x)).then(a.dx.cmp(&b.dx)));
    let y_max = y_max.min(h);
    let mut next = 0usize; // next edge not yet active
    let mut active: Vec<usize> = Vec::new();
    let starts_at = |edges: &[Edge], i: usize, y: i64| i < total && edges[i].y0 == y;
    let mut y = edges[0].y0;
    while y < y_max {
        let mut draw = false;
        let mut pos = 0usize;
        let mut prelast: Option<usize> = None;
        while pos < active.len() || starts_at(&edges, next, y) {
            if pos < active.len() && edges[active[pos]].y1 == y {
                active.remove(pos);
                continue;
            }
            let keep_prelast = prelast;
            let new_first = next < total && edges[next].y0 == y;
            if pos < active.len() && (!new_first || edges[active[pos]].x < edges[next].x) {
                prelast = Some(pos);
                pos += 1;
            } else if next < total {
                active.insert(pos, next);
                next += 1;
                prelast = Some(pos);
                pos += 1;
            } else {
                break;
            }
            if draw && let (Some(k), Some(p)) = (keep_prelast, prelast) {
                let (ek, ep) = (active[k], active[p]);
                if y >= 0 {
                    let (xk, xp) = (edges[ek].x, edges[ep].x);
                    let (x1, x2) = if xk > xp {
                        ((xp + XY_ONE - 1) >> XY_SHIFT, xk >> XY_SHIFT)
                    } else {
                        ((xk + XY_ONE - 1) >> XY_SHIFT, xp >> XY_SHIFT)
                    };
                    if x1 < w && x2 >= 0 {
                        let row = y as usize * width;
                        let (a, b) = (x1.max(0) as usize, x2.min(w - 1));
                        if b >= a as i64 {
                            mask[row + a..=row + b as usize].fill(value);
                        }
                    }
                }
                edges[ek].x += edges[ek].dx;
                edges[ep].x += edges[ep].dx;
            }
            draw = !draw;
        }
        // OpenCV bubble-sorts the active list by x (stable).
        active.sort_by_key(|&i| edges[i].x);
        y += 1;
    }
}

/// OpenCV's `clipLine` on 64-bit points: clips the segment to the image; `false` when it lies
/// outside (the points may still have been moved, as in OpenCV).
fn clip_line(w: i64, h: i64, p1: &mut (i64, i64), p2: &mut (i64, i64)) -> bool {
    let (right, bottom) = (w - 1, h - 1);
    let code = |p: (i64, i64)| {
        (p.0 < 0) as i32
            + (p.0 > right) as i32 * 2
            + (p.1 < 0) as i32 * 4
            + (p.1 > bottom) as i32 * 8
    };
    let (mut c1, mut c2) = (code(*p1), code(*p2));
    if (c1 & c2) == 0 && (c1 | c2) != 0 {
        if c1 & 12 != 0 {
            let a = if c1 < 8 { 0 } else { bottom };
            p1.0 += ((a - p1.1) as f64 * (p2.0 - p1.0) as f64 / (p2.1 - p1.1) as f64) as i64;
            p1.1 = a;
            c1 = (p1.0 < 0) as i32 + (p1.0 > right) as i32 * 2;
        }
        if c2 & 12 != 0 {
            let a = if c2 < 8 { 0 } else { bottom };
            p2.0 += ((a - p2.1) as f64 * (p2.0 - p1.0) as f64 / (p2.1 - p1.1) as f64) as i64;
            p2.1 = a;
            c2 = (p2.0 < 0) as i32 + (p2.0 > right) as i32 * 2;
        }
        if (c1 & c2) == 0 && (c1 | c2) != 0 {
            if c1 != 0 {
                let a = if c1 == 1 { 0 } else { right };
                p1.1 += ((a - p1.0) as f64 * (p2.1 - p1.1) as f64 / (p2.0 - p1.0) as f64) as i64;
                p1.0 = a;
                c1 = 0;
            }
            if c2 != 0 {
                let a = if c2 == 1 { 0 } else { right };
                p2.1 += ((a - p2.0) as f64 * (p2.1 - p1.1) as f64 / (p2.0 - p1.0) as f64) as i64;
                p2.0 = a;
                c2 = 0;
            }
        }
    }
    (c1 | c2) == 0
}

/// OpenCV's 8-connected `Line` (a `LineIterator` from left to right, clipped to the image).
fn draw_line(
    mask: &mut [u8],
    width: usize,
    height: usize,
    a: (i64, i64),
    b: (i64, i64),
    value: u8,
) {
    let (w, h) = (width as i64, height as i64);
    let (mut p1, mut p2) = (a, b);
    let inside = |p: (i64, i64)| p.0 >= 0 && p.0 < w && p.1 >= 0 && p.1 < h;
    let needs_clip = !inside(p1) || !inside(p2);
    if needs_clip && !clip_line(w, h, &mut p1, &mut p2) {
        return;
    }
    let (mut dx, mut dy) = (p2.0 - p1.0, p2.1 - p1.1);
    if dx < 0 {
        dx = -dx;
        dy = -dy;
        std::mem::swap(&mut p1, &mut p2);
    }
    let sy = if dy < 0 {
        dy = -dy;
        -1
    } else {
        1
    };
    let vert = dy > dx;
    let (major, minor) = if vert {
        std::mem::swap(&mut dx, &mut dy);
        ((0, sy), (1, 0))
    } else {
        ((1, 0), (0, sy))
    };
    let mut err = dx - (dy + dy);
    let mut p = p1;
    for _ in 0..=dx {
        if inside(p) {
            mask[p.1 as usize * width + p.0 as usize] = value;
        }
        let step_minor = err < 0;
        err += -(dy + dy) + if step_minor { dx + dx } else { 0 };
        p.0 += major.0 + if step_minor { minor.0 } else { 0 };
        p.1 += major.1 + if step_minor { minor.1 } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangle_fill_includes_its_border() {
        let mut m = vec![0u8; 10 * 10];
        let poly = [
            IntPoint::new(2, 2),
            IntPoint::new(5, 2),
            IntPoint::new(5, 4),
            IntPoint::new(2, 4),
        ];
        fill_polygon(&mut m, 10, 10, &poly, 1);
        assert_eq!(m.iter().map(|&v| v as usize).sum::<usize>(), 4 * 3);
        assert_eq!(m[2 * 10 + 2], 1);
        assert_eq!(m[4 * 10 + 5], 1);
        assert_eq!(m[5 * 10 + 5], 0);
    }

    #[test]
    fn out_of_bounds_vertices_are_clipped() {
        let mut m = vec![0u8; 4 * 4];
        let poly = [
            IntPoint::new(-5, -5),
            IntPoint::new(10, -5),
            IntPoint::new(10, 10),
            IntPoint::new(-5, 10),
        ];
        fill_polygon(&mut m, 4, 4, &poly, 1);
        assert!(m.iter().all(|&v| v == 1));
    }
}
