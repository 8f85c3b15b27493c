//! DB training targets (SPEC §4, MindOCR's `ShrinkBinaryMap` + `BorderMap`): the shrunk text
//! (probability) map with its loss mask, and the threshold (border) map with its mask.

use fusedet_geom::fill::fill_polygon;
use fusedet_geom::offset::offset_polygon;
use fusedet_geom::polygon::{polygon_area, polygon_perimeter};
use fusedet_geom::{IntPoint, Point};
use serde::{Deserialize, Serialize};

/// Label-generation parameters (MindOCR defaults for ICDAR 2015).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DbTargetConfig {
    /// Regions whose axis-aligned extent is smaller than this (either side) are ignored.
    pub min_text_size: f64,
    /// Shrink ratio r: offset distance = area (1 - r²) / perimeter (0.4; 0.55 for curved text).
    pub shrink_ratio: f64,
    /// Threshold map value far from any border.
    pub thresh_min: f32,
    /// Threshold map value on a border.
    pub thresh_max: f32,
}

impl Default for DbTargetConfig {
    fn default() -> Self {
        Self {
            min_text_size: 8.0,
            shrink_ratio: 0.4,
            thresh_min: 0.3,
            thresh_max: 0.7,
        }
    }
}

/// The four target maps of one image, row-major `height × width`.
#[derive(Clone, Debug, PartialEq)]
pub struct DbTargets {
    /// 1 inside shrunk text regions.
    pub binary_map: Vec<f32>,
    /// 0 over ignored regions, 1 elsewhere (probability and binary losses).
    pub mask: Vec<f32>,
    /// Threshold map in `[thresh_min, thresh_max]`.
    pub thresh_map: Vec<f32>,
    /// 1 inside dilated text regions (threshold loss).
    pub thresh_mask: Vec<f32>,
    /// Per input polygon: ignored (given, too small, or collapsed by shrinking).
    pub ignore: Vec<bool>,
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

fn to_points(p: &[[f64; 2]]) -> Vec<Point> {
    p.iter().map(|q| Point::new(q[0], q[1])).collect()
}

/// `np.array(p).astype(np.int32)`: truncation toward zero.
fn truncated(p: &[[f64; 2]]) -> Vec<IntPoint> {
    p.iter()
        .map(|q| IntPoint::new(q[0] as i64, q[1] as i64))
        .collect()
}

fn fill_f32(map: &mut [f32], w: usize, h: usize, poly: &[IntPoint], value: f32) {
    let mut m = vec![0u8; w * h];
    fill_polygon(&mut m, w, h, poly, 1);
    for (d, s) in map.iter_mut().zip(&m) {
        if *s != 0 {
            *d = value;
        }
    }
}

/// Makes the targets for `polys` (image pixels, after augmentation) on a `width × height`
/// canvas; `ignore[i]` marks don't-care regions.
pub fn make_db_targets(
    polys: &[Vec<[f64; 2]>],
    ignore: &[bool],
    width: usize,
    height: usize,
    cfg: &DbTargetConfig,
) -> DbTargets {
    let (w, h) = (width, height);
    let mut binary_map = vec![0f32; w * h];
    let mut mask = vec![1f32; w * h];
    let mut ignore: Vec<bool> = (0..polys.len())
        .map(|i| ignore.get(i).copied().unwrap_or(false))
        .collect();
    let coef = 1.0 - cfg.shrink_ratio * cfg.shrink_ratio;
    for (i, p) in polys.iter().enumerate() {
        let extent = |k: usize| {
            let (lo, hi) = p
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), q| {
                    (lo.min(q[k]), hi.max(q[k]))
                });
            hi - lo
        };
        let min_side = extent(0).min(extent(1));
        if ignore[i] || p.len() < 3 || min_side < cfg.min_text_size {
            fill_f32(&mut mask, w, h, &truncated(p), 0.0);
            ignore[i] = true;
            continue;
        }
        let pts = to_points(p);
        let perimeter = polygon_perimeter(&pts);
        let shrunk = if perimeter > 0.0 {
            offset_polygon(&pts, -coef * polygon_area(&pts) / perimeter)
        } else {
            Vec::new()
        };
        match shrunk.first() {
            Some(s) => fill_f32(&mut binary_map, w, h, s, 1.0),
            None => {
                fill_f32(&mut mask, w, h, &truncated(p), 0.0);
                ignore[i] = true;
            }
        }
    }
    let mut canvas = vec![0f32; w * h];
    let mut thresh_mask = vec![0f32; w * h];
    for (p, &ig) in polys.iter().zip(&ignore) {
        if !ig {
            draw_border(p, &mut canvas, &mut thresh_mask, w, h, coef);
        }
    }
    let span = cfg.thresh_max - cfg.thresh_min;
    let thresh_map = canvas.iter().map(|v| v * span + cfg.thresh_min).collect();
    DbTargets {
        binary_map,
        mask,
        thresh_map,
        thresh_mask,
        ignore,
        width,
        height,
    }
}

/// The references' distance from `(x, y)` to the edge `p1-p2`: the distance to the line, or to
/// the nearer endpoint when the angle at the point is not obtuse (`cos >= 0`).
fn edge_distance(x: f64, y: f64, p1: [f64; 2], p2: [f64; 2]) -> f64 {
    let a = (x - p1[0]).powi(2) + (y - p1[1]).powi(2);
    let b = (x - p2[0]).powi(2) + (y - p2[1]).powi(2);
    let c = (p1[0] - p2[0]).powi(2) + (p1[1] - p2[1]).powi(2);
    let cos = (a + b - c) / (2.0 * (a * b).sqrt());
    if cos >= 0.0 {
        return a.min(b).sqrt();
    }
    let mut sin_sq = 1.0 - cos * cos;
    if sin_sq.is_nan() {
        sin_sq = 0.0;
    }
    (a * b * sin_sq / c).sqrt()
}

fn draw_border(
    p: &[[f64; 2]],
    canvas: &mut [f32],
    tmask: &mut [f32],
    w: usize,
    h: usize,
    coef: f64,
) {
    let pts = to_points(p);
    let area = polygon_area(&pts);
    if area <= 0.0 {
        return;
    }
    let d = area * coef / polygon_perimeter(&pts);
    let padded = offset_polygon(&pts, d);
    let Some(padded) = padded.first() else {
        return;
    };
    fill_f32(tmask, w, h, padded, 1.0);
    let xmin = padded.iter().map(|q| q.x).min().unwrap_or(0);
    let xmax = padded.iter().map(|q| q.x).max().unwrap_or(0);
    let ymin = padded.iter().map(|q| q.y).min().unwrap_or(0);
    let ymax = padded.iter().map(|q| q.y).max().unwrap_or(0);
    let local: Vec<[f64; 2]> = p
        .iter()
        .map(|q| [q[0] - xmin as f64, q[1] - ymin as f64])
        .collect();
    let (wi, hi) = (w as i64, h as i64);
    let x0 = xmin.max(0).min(wi - 1);
    let x1 = xmax.max(0).min(wi - 1);
    let y0 = ymin.max(0).min(hi - 1);
    let y1 = ymax.max(0).min(hi - 1);
    let n = local.len();
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (u, v) = ((x - xmin) as f64, (y - ymin) as f64);
            let mut dmin = f32::INFINITY;
            for i in 0..n {
                let dist = edge_distance(u, v, local[i], local[(i + 1) % n]) / d;
                // NumPy: clip to [0, 1] in f64, stored as f32; NaN propagates through min.
                let c = if dist.is_nan() {
                    f32::NAN
                } else {
                    dist.clamp(0.0, 1.0) as f32
                };
                dmin = if c.is_nan() || dmin.is_nan() {
                    f32::NAN
                } else {
                    dmin.min(c)
                };
            }
            let idx = y as usize * w + x as usize;
            let val = 1.0 - dmin;
            // np.fmax ignores NaN.
            if !val.is_nan() && (canvas[idx].is_nan() || val > canvas[idx]) {
                canvas[idx] = val;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangle_golden_values_from_the_spec() {
        // SPEC §4.4: the 100x20 rectangle (D = 7).
        let rect = vec![[10.0, 10.0], [110.0, 10.0], [110.0, 30.0], [10.0, 30.0]];
        let t = make_db_targets(&[rect], &[false], 130, 50, &DbTargetConfig::default());
        let at = |x: usize, y: usize| t.thresh_map[y * 130 + x];
        assert!((at(60, 20) - 0.3).abs() < 1e-6, "centre");
        assert!((at(60, 10) - 0.7).abs() < 1e-6, "edge");
        assert!((at(60, 3) - 0.3).abs() < 1e-6, "D outside");
        // shrunk by 7: (17,17)-(103,23)
        assert_eq!(t.binary_map[20 * 130 + 60], 1.0);
        assert_eq!(t.binary_map[15 * 130 + 60], 0.0);
        assert!(t.mask.iter().all(|&m| m == 1.0));
    }

    #[test]
    fn small_and_dont_care_regions_are_masked_out() {
        let small = vec![[5.0, 5.0], [30.0, 5.0], [30.0, 11.0], [5.0, 11.0]];
        let big = vec![[5.0, 20.0], [40.0, 20.0], [40.0, 35.0], [5.0, 35.0]];
        let t = make_db_targets(
            &[small, big],
            &[false, true],
            50,
            40,
            &DbTargetConfig::default(),
        );
        assert_eq!(t.ignore, vec![true, true]);
        assert_eq!(t.mask[8 * 50 + 10], 0.0);
        assert_eq!(t.mask[25 * 50 + 10], 0.0);
        assert!(t.binary_map.iter().all(|&v| v == 0.0));
        assert!(t.thresh_mask.iter().all(|&v| v == 0.0));
    }
}
