//! OpenCV's `approxPolyDP` for closed integer contours: Douglas–Peucker from two
//! approximately farthest points, iterative with an explicit stack, then OpenCV's clean-up
//! pass that drops vertices on almost straight runs. A port, so that `box_type=poly` gives
//! PaddleOCR's vertices.

use crate::IntPoint;

/// Simplifies a closed contour with tolerance `epsilon` (OpenCV `approxPolyDP(c, eps, true)`).
pub fn approx_poly_closed(src: &[IntPoint], epsilon: f64) -> Vec<IntPoint> {
    let count = src.len();
    if count == 0 {
        return Vec::new();
    }
    let eps = epsilon * epsilon;
    let mut dst: Vec<IntPoint> = Vec::with_capacity(count);
    let mut stack: Vec<(usize, usize)> = Vec::new();
    // 1. Two approximately farthest points.
    let mut right_start = 0usize;
    let mut pos = 0usize;
    let mut start_pt = src[0];
    let mut le_eps = false;
    for _ in 0..3 {
        let mut max_dist = 0f64;
        pos = (pos + right_start) % count;
        start_pt = src[pos];
        pos = (pos + 1) % count;
        for j in 1..count {
            let pt = src[pos];
            pos = (pos + 1) % count;
            let (dx, dy) = ((pt.x - start_pt.x) as f64, (pt.y - start_pt.y) as f64);
            let dist = dx * dx + dy * dy;
            if dist > max_dist {
                max_dist = dist;
                right_start = j;
            }
        }
        le_eps = max_dist <= eps;
    }
    // 2. The stack holds (start, end) slices.
    if !le_eps {
        let slice_start = pos % count;
        let right_end = slice_start;
        let slice_end = (right_start + slice_start) % count;
        stack.push((slice_end, right_end));
        stack.push((slice_start, slice_end));
    } else {
        dst.push(start_pt);
    }
    // 3. Douglas–Peucker.
    while let Some((s_start, s_end)) = stack.pop() {
        let end_pt = src[s_end];
        let mut pos = s_start;
        let start_pt = src[pos];
        pos = (pos + 1) % count;
        let mut split = 0usize;
        let le_eps = if pos != s_end {
            let (dx, dy) = (
                (end_pt.x - start_pt.x) as f64,
                (end_pt.y - start_pt.y) as f64,
            );
            let segment_len_2 = dx * dx + dy * dy;
            // Squared distance to the segment (not the line) times the squared segment length,
            // as OpenCV 5 (the opencv-python 5.0.0.93 of the fixtures) computes it.
            let mut max_dist_2 = 0f64;
            while pos != s_end {
                let pt = src[pos];
                pos = (pos + 1) % count;
                let (sx, sy) = (pt.x - start_pt.x, pt.y - start_pt.y);
                let projection = sx as f64 * dx + sy as f64 * dy;
                let dist_2 = if projection < 0.0 {
                    (sx * sx + sy * sy) as f64 * segment_len_2
                } else if projection > segment_len_2 {
                    let (ex, ey) = (pt.x - end_pt.x, pt.y - end_pt.y);
                    (ex * ex + ey * ey) as f64 * segment_len_2
                } else {
                    let d = sy as f64 * dx - sx as f64 * dy;
                    d * d
                };
                if dist_2 > max_dist_2 {
                    max_dist_2 = dist_2;
                    split = (pos + count - 1) % count;
                }
            }
            max_dist_2 <= eps * segment_len_2
        } else {
            true
        };
        if le_eps {
            dst.push(start_pt);
        } else {
            stack.push((split, s_end));
            stack.push((s_start, split));
        }
    }
    // 4. Clean-up: drop points on [almost] straight lines.
    let count = dst.len();
    let mut new_count = count;
    let mut pos = count - 1;
    let read = |pos: &mut usize, dst: &[IntPoint]| {
        let p = dst[*pos];
        *pos += 1;
        if *pos >= count {
            *pos = 0;
        }
        p
    };
    let mut start_pt = read(&mut pos, &dst);
    let mut wpos = pos;
    let mut pt = read(&mut pos, &dst);
    let mut i = 0usize;
    while i < count && new_count > 2 {
        let end_pt = read(&mut pos, &dst);
        let (dx, dy) = (
            (end_pt.x - start_pt.x) as f64,
            (end_pt.y - start_pt.y) as f64,
        );
        let dist = ((pt.x - start_pt.x) as f64 * dy - (pt.y - start_pt.y) as f64 * dx).abs();
        let inner = (pt.x - start_pt.x) as f64 * (end_pt.x - pt.x) as f64
            + (pt.y - start_pt.y) as f64 * (end_pt.y - pt.y) as f64;
        if dist * dist <= 0.5 * eps * (dx * dx + dy * dy) && dx != 0.0 && dy != 0.0 && inner >= 0.0
        {
            new_count -= 1;
            start_pt = end_pt;
            dst[wpos] = end_pt;
            wpos += 1;
            if wpos >= count {
                wpos = 0;
            }
            pt = read(&mut pos, &dst);
            i += 2;
            continue;
        }
        start_pt = pt;
        dst[wpos] = pt;
        wpos += 1;
        if wpos >= count {
            wpos = 0;
        }
        pt = end_pt;
        i += 1;
    }
    dst.truncate(new_count);
    dst
}

/// Perimeter of a closed integer contour (OpenCV `arcLength(curve, true)`).
///
/// As OpenCV: from the last vertex round to it, each segment's length in `f32`, summed in `f64`.
pub fn arc_length_closed(points: &[IntPoint]) -> f64 {
    let Some(&last) = points.last() else {
        return 0.0;
    };
    let mut prev = last;
    let mut perimeter = 0f64;
    for &p in points {
        let (dx, dy) = ((p.x - prev.x) as f32, (p.y - prev.y) as f32);
        perimeter += (dx * dx + dy * dy).sqrt() as f64;
        prev = p;
    }
    perimeter
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
