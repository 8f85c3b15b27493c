//! TextBoxes++ inference post-processing (SPEC §10.5): sigmoid scores above `score_thresh`,
//! quads decoded from their anchors and clipped to the input, a cascade of rectangle NMS
//! (`pre_nms_thresh` on the quads' bounding boxes, top `pre_nms_top_k` by score) and quad NMS
//! (`nms_thresh`), then quads scaled back to the original image.
//!
//! Quad NMS overlap: `nms_overlap = "iou"` (default) is the true polygon IoU,
//! `intersection / (area A + area B − intersection)`; `"hull"` is the reference scripts'
//! (`nms_poly.py`, TextBoxes++ `nms.py`) intersection over the convex hull of both quads' eight
//! points, with their integer-truncated vertices and tie rule ([`nms_quads_reference`]).

use fusedet_geom::Point;
use fusedet_geom::iou::{intersection_area, polygon_iou};
use fusedet_geom::minrect::convex_hull;
use fusedet_geom::polygon::polygon_area;
use serde::{Deserialize, Serialize};

use crate::model::textboxes::coder::{Anchor, Regression, decode_quad, decode_rect};

/// Overlap measure of the quad NMS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuadOverlap {
    /// True polygon IoU.
    #[default]
    Iou,
    /// Intersection over the convex hull of both quads (the reference scripts).
    Hull,
}

/// `[model.postprocess]` of a TextBoxes++ recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TbPostProcess {
    /// Network input `[width, height]`: images are resized to it (not kept in proportion, as
    /// the reference).
    pub input_size: [usize; 2],
    /// Minimum text probability.
    pub score_thresh: f32,
    /// IoU of the rectangle pre-NMS (1 turns it off).
    pub pre_nms_thresh: f32,
    /// Candidates kept for the NMS, by score.
    pub pre_nms_top_k: usize,
    /// Overlap above which the quad NMS suppresses the lower-scored quad.
    pub nms_thresh: f32,
    /// Quad NMS overlap measure.
    pub nms_overlap: QuadOverlap,
    /// Detections kept per image.
    pub max_dets: usize,
}

impl Default for TbPostProcess {
    fn default() -> Self {
        Self {
            input_size: [1280, 1280],
            score_thresh: 0.4,
            pre_nms_thresh: 0.45,
            pre_nms_top_k: 1000,
            nms_thresh: 0.2,
            nms_overlap: QuadOverlap::Iou,
            max_dets: 300,
        }
    }
}

impl TbPostProcess {
    /// A problem with the values, as `(key, reason)`.
    pub fn check(&self) -> Option<(&'static str, String)> {
        let [w, h] = self.input_size;
        if w < 32 || h < 32 || w > 8192 || h > 8192 {
            return Some(("input_size", format!("{w} x {h}: each side in 32..=8192")));
        }
        for (k, v) in [
            ("score_thresh", self.score_thresh),
            ("pre_nms_thresh", self.pre_nms_thresh),
            ("nms_thresh", self.nms_thresh),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Some((k, format!("must be in [0, 1], not {v}")));
            }
        }
        (self.pre_nms_top_k == 0 || self.max_dets == 0).then(|| {
            (
                "max_dets",
                "pre_nms_top_k and max_dets must be positive".into(),
            )
        })
    }
}

/// One detected quad, in input pixels until scaled.
#[derive(Clone, Debug, PartialEq)]
pub struct QuadDetection {
    /// Vertices `x0, y0, …, x3, y3`.
    pub quad: [f32; 8],
    /// Text probability.
    pub score: f32,
}

fn pts(q: &[f32; 8]) -> Vec<Point> {
    (0..4)
        .map(|k| Point::new(q[2 * k] as f64, q[2 * k + 1] as f64))
        .collect()
}

fn rect_iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// The reference scripts' quad overlap: the intersection of the two quads' convex hulls over
/// the convex hull of all eight points.
pub fn hull_overlap(a: &[f32; 8], b: &[f32; 8]) -> f64 {
    let hull = |q: &[f32]| -> Vec<Point> {
        let p: Vec<(f32, f32)> = q.chunks(2).map(|c| (c[0], c[1])).collect();
        convex_hull(&p)
            .into_iter()
            .map(|(x, y)| Point::new(x as f64, y as f64))
            .collect()
    };
    let (ha, hb) = (hull(a), hull(b));
    let inter = intersection_area(&ha, &hb);
    if inter <= 0.0 {
        return 0.0;
    }
    let mut all = a.to_vec();
    all.extend_from_slice(b);
    let union = polygon_area(&hull(&all));
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Greedy NMS on quads by true polygon IoU: in order of score (stable on ties) keep a quad
/// unless a kept one overlaps it by more than `thresh`. Returns the kept indices.
pub fn nms_quads(dets: &[QuadDetection], thresh: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..dets.len()).collect();
    order.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score));
    let polys: Vec<Vec<Point>> = dets.iter().map(|d| pts(&d.quad)).collect();
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep
            .iter()
            .all(|&k| polygon_iou(&polys[k], &polys[i]) <= thresh)
        {
            keep.push(i);
        }
    }
    keep
}

/// The reference's `non_max_suppression_poly` (hull overlap on integer-truncated vertices;
/// on equal scores the larger quad survives): the keep flag of every detection.
pub fn nms_quads_reference(dets: &[QuadDetection], thresh: f64) -> Vec<bool> {
    let ints: Vec<[f32; 8]> = dets
        .iter()
        .map(|d| d.quad.map(|v| (v as i32) as f32))
        .collect();
    let area = |q: &[f32; 8]| {
        let p: Vec<(f32, f32)> = q.chunks(2).map(|c| (c[0], c[1])).collect();
        let h: Vec<Point> = convex_hull(&p)
            .into_iter()
            .map(|(x, y)| Point::new(x as f64, y as f64))
            .collect();
        polygon_area(&h)
    };
    let mut order: Vec<usize> = (0..dets.len()).collect();
    order.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score));
    let mut flag = vec![true; dets.len()];
    for (i, &ii) in order.iter().enumerate() {
        if !flag[ii] {
            continue;
        }
        for (j, &jj) in order.iter().enumerate() {
            if j == i || !flag[jj] {
                continue;
            }
            if hull_overlap(&ints[ii], &ints[jj]) > thresh {
                let (si, sj) = (dets[ii].score, dets[jj].score);
                if si > sj {
                    flag[jj] = false;
                }
                if si == sj {
                    if area(&ints[ii]) > area(&ints[jj]) {
                        flag[jj] = false;
                    } else {
                        flag[ii] = false;
                        break;
                    }
                }
            }
        }
    }
    flag
}

impl TbPostProcess {
    /// Detections of one image from its raw outputs (`loc`: `[anchors, reg]` row-major, `cls`:
    /// `[anchors]` logits) for `anchors` of the network input, in input pixels.
    pub fn run(
        &self,
        loc: &[f32],
        cls: &[f32],
        anchors: &[Anchor],
        reg: Regression,
    ) -> Vec<QuadDetection> {
        let r = reg.width();
        let [w, h] = self.input_size.map(|v| v as f32);
        let logit = (self.score_thresh / (1.0 - self.score_thresh)).ln();
        let mut cand: Vec<(usize, f32)> = cls
            .iter()
            .enumerate()
            .filter(|&(_, &x)| x > logit)
            .map(|(i, &x)| (i, 1.0 / (1.0 + (-x).exp())))
            .filter(|&(_, s)| s > self.score_thresh)
            .collect();
        cand.sort_by(|a, b| b.1.total_cmp(&a.1));
        cand.truncate(self.pre_nms_top_k);
        let mut dets = Vec::with_capacity(cand.len());
        let mut rects: Vec<[f32; 4]> = Vec::with_capacity(cand.len());
        for (i, score) in cand {
            let off = &loc[i * r..(i + 1) * r];
            let quad = decode_quad(&anchors[i], off, reg, w, h);
            let rect = decode_rect(&anchors[i], off, &quad, reg);
            if self.pre_nms_thresh < 1.0
                && rects
                    .iter()
                    .any(|&k| rect_iou(k, rect) > self.pre_nms_thresh)
            {
                continue;
            }
            rects.push(rect);
            dets.push(QuadDetection { quad, score });
        }
        let dets = match self.nms_overlap {
            QuadOverlap::Iou => nms_quads(&dets, self.nms_thresh as f64)
                .into_iter()
                .map(|i| dets[i].clone())
                .collect::<Vec<_>>(),
            QuadOverlap::Hull => {
                let flags = nms_quads_reference(&dets, self.nms_thresh as f64);
                dets.into_iter()
                    .zip(flags)
                    .filter_map(|(d, f)| f.then_some(d))
                    .collect()
            }
        };
        dets.into_iter().take(self.max_dets).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(x: f32, y: f32, w: f32, h: f32, score: f32) -> QuadDetection {
        QuadDetection {
            quad: [x, y, x + w, y, x + w, y + h, x, y + h],
            score,
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_quads() {
        let d = vec![
            q(0.0, 0.0, 10.0, 10.0, 0.8),
            q(1.0, 0.0, 10.0, 10.0, 0.9),
            q(50.0, 50.0, 10.0, 10.0, 0.5),
        ];
        assert_eq!(nms_quads(&d, 0.5), vec![1, 2]);
        assert_eq!(nms_quads_reference(&d, 0.5), vec![false, true, true]);
        // Equal scores: the reference keeps the larger quad.
        let t = vec![q(0.0, 0.0, 10.0, 10.0, 0.7), q(0.0, 0.0, 11.0, 10.0, 0.7)];
        assert_eq!(nms_quads_reference(&t, 0.5), vec![false, true]);
    }

    #[test]
    fn hull_overlap_is_below_iou_for_offset_quads() {
        let a = q(0.0, 0.0, 10.0, 10.0, 1.0).quad;
        let b = q(5.0, 5.0, 10.0, 10.0, 1.0).quad;
        let iou = polygon_iou(&pts(&a), &pts(&b));
        assert!((iou - 25.0 / 175.0).abs() < 1e-9);
        // Hull of both: the 15 × 15 square less two 5 × 5 / 2 corner triangles.
        assert!((hull_overlap(&a, &b) - 25.0 / 200.0).abs() < 1e-9);
        let c = q(0.0, 20.0, 10.0, 10.0, 1.0).quad;
        assert_eq!(hull_overlap(&a, &c), 0.0);
    }
}
