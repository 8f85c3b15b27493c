//! Text-detection metric. [`hmean_iou`]: the ICDAR 2015 IoU protocol (as DB's
//! `DetectionIoUEvaluator` and the official RRC script), a MindOCR-compatible variant, and
//! MMOCR's sweep over score thresholds. SPEC §8.1.

use fusedet_geom::Point;
use fusedet_geom::iou::{intersection_area, polygon_iou};
use fusedet_geom::polygon::{is_valid_polygon, polygon_area};
use serde::{Deserialize, Serialize};

use crate::data::TextInstance;

/// How detections are matched to ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// DB's evaluator and the official RRC script: one-to-one greedy matching in index order.
    #[default]
    Icdar2015,
    /// MindOCR's `DetMetric`: a detection matching an already matched ground truth is dropped
    /// (neither a true nor a false positive).
    MindOcr,
}

impl std::str::FromStr for MatchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "icdar2015" => Ok(Self::Icdar2015),
            "mindocr" => Ok(Self::MindOcr),
            _ => Err(format!("mode must be icdar2015|mindocr, not `{s}`")),
        }
    }
}

/// Per-image counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageCounts {
    /// Valid ground-truth regions that are not don't-care.
    pub gt_care: usize,
    /// Valid detections not discarded as don't-care.
    pub det_care: usize,
    /// One-to-one matches.
    pub matched: usize,
    /// For each input ground-truth region: matched (`Some(det index)`), or `None`.
    pub gt_match: Vec<Option<usize>>,
    /// For each input detection: `true` when it counts against precision (valid, not don't
    /// care, not matched).
    pub false_positive: Vec<bool>,
}

impl ImageCounts {
    /// The image's own hmean (1 when it has neither text nor detections).
    pub fn hmean(&self) -> f64 {
        Scores::from_totals(self.matched, self.gt_care, self.det_care).hmean
    }
}

/// Precision, recall and hmean over a dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// matched / detections cared for.
    pub precision: f64,
    /// matched / ground truth cared for.
    pub recall: f64,
    /// Harmonic mean.
    pub hmean: f64,
    /// Matches.
    pub matched: usize,
    /// Ground-truth regions cared for.
    pub gt_care: usize,
    /// Detections cared for.
    pub det_care: usize,
}

impl Scores {
    /// Scores from totals, with DB's conventions (0 when a denominator is 0).
    pub fn from_totals(matched: usize, gt_care: usize, det_care: usize) -> Self {
        let recall = if gt_care == 0 {
            0.0
        } else {
            matched as f64 / gt_care as f64
        };
        let precision = if det_care == 0 {
            0.0
        } else {
            matched as f64 / det_care as f64
        };
        let hmean = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * recall * precision / (recall + precision)
        };
        Self {
            precision,
            recall,
            hmean,
            matched,
            gt_care,
            det_care,
        }
    }

    /// Sums image counts.
    pub fn combine<'a>(images: impl IntoIterator<Item = &'a ImageCounts>) -> Self {
        let (mut m, mut g, mut d) = (0, 0, 0);
        for c in images {
            m += c.matched;
            g += c.gt_care;
            d += c.det_care;
        }
        Self::from_totals(m, g, d)
    }
}

fn to_points(p: &[[f64; 2]]) -> Vec<Point> {
    p.iter().map(|q| Point::new(q[0], q[1])).collect()
}

/// Evaluates one image: `gt` with don't-care flags, `dets` as polygons.
///
/// 1. Invalid or non-simple polygons (either side) are skipped.
/// 2. A detection is don't care when more than half of its area lies in one don't-care
///    ground-truth region.
/// 3. Greedy one-to-one matching in index order at IoU > `iou_thresh` (0.5 in the protocol).
pub fn evaluate_image(
    gt: &[TextInstance],
    dets: &[Vec<[f64; 2]>],
    mode: MatchMode,
    iou_thresh: f64,
) -> ImageCounts {
    let gt_polys: Vec<Option<Vec<Point>>> = gt
        .iter()
        .map(|g| Some(to_points(&g.points)).filter(|p| is_valid_polygon(p)))
        .collect();
    let det_polys: Vec<Option<Vec<Point>>> = dets
        .iter()
        .map(|d| Some(to_points(d)).filter(|p| is_valid_polygon(p)))
        .collect();
    let gt_dont_care: Vec<bool> = gt.iter().map(|g| g.ignore).collect();
    let mut det_dont_care = vec![false; dets.len()];
    for (j, d) in det_polys.iter().enumerate() {
        let Some(d) = d else { continue };
        let area = polygon_area(d);
        for (i, g) in gt_polys.iter().enumerate() {
            let Some(g) = g else { continue };
            if !gt_dont_care[i] {
                continue;
            }
            let precision = if area == 0.0 {
                0.0
            } else {
                intersection_area(g, d) / area
            };
            if precision > 0.5 {
                det_dont_care[j] = true;
                break;
            }
        }
    }
    let mut gt_match: Vec<Option<usize>> = vec![None; gt.len()];
    let mut det_taken = vec![false; dets.len()];
    let mut dropped = 0usize;
    let mut matched = 0usize;
    for (i, g) in gt_polys.iter().enumerate() {
        let Some(g) = g else { continue };
        if gt_dont_care[i] {
            continue;
        }
        for (j, d) in det_polys.iter().enumerate() {
            let Some(d) = d else { continue };
            if det_taken[j] || det_dont_care[j] {
                continue;
            }
            let already = gt_match[i].is_some();
            if already && mode == MatchMode::Icdar2015 {
                break;
            }
            if polygon_iou(g, d) > iou_thresh {
                det_taken[j] = true;
                if already {
                    dropped += 1;
                } else {
                    gt_match[i] = Some(j);
                    matched += 1;
                }
            }
        }
    }
    let gt_care = gt_polys
        .iter()
        .zip(&gt_dont_care)
        .filter(|(p, dc)| p.is_some() && !**dc)
        .count();
    let det_valid = det_polys.iter().filter(|p| p.is_some()).count();
    let det_dc = det_polys
        .iter()
        .zip(&det_dont_care)
        .filter(|(p, dc)| p.is_some() && **dc)
        .count();
    let false_positive = (0..dets.len())
        .map(|j| {
            let dropped_by_mindocr = mode == MatchMode::MindOcr && det_taken[j];
            let counted = det_polys[j].is_some() && !det_dont_care[j];
            counted && !gt_match.contains(&Some(j)) && !dropped_by_mindocr
        })
        .collect();
    ImageCounts {
        gt_care,
        det_care: det_valid - det_dc - dropped,
        matched,
        gt_match,
        false_positive,
    }
}

/// Scores a dataset: `gt[i]` against `dets[i]`.
pub fn hmean_iou(
    gt: &[Vec<TextInstance>],
    dets: &[Vec<Vec<[f64; 2]>>],
    mode: MatchMode,
) -> (Scores, Vec<ImageCounts>) {
    assert_eq!(gt.len(), dets.len(), "one detection list per image");
    let per: Vec<ImageCounts> = gt
        .iter()
        .zip(dets)
        .map(|(g, d)| evaluate_image(g, d, mode, 0.5))
        .collect();
    (Scores::combine(&per), per)
}

/// Detections of one image with their scores.
pub type ScoredPolygons = Vec<(Vec<[f64; 2]>, f64)>;

/// MMOCR's score-threshold sweep: scores at each threshold (detections with `score >= t`
/// kept), thresholds 0.3, 0.4, ..., 0.8 by default.
pub fn sweep(
    gt: &[Vec<TextInstance>],
    dets: &[ScoredPolygons],
    thresholds: &[f64],
    mode: MatchMode,
) -> Vec<(f64, Scores)> {
    thresholds
        .iter()
        .map(|&t| {
            let kept: Vec<Vec<Vec<[f64; 2]>>> = dets
                .iter()
                .map(|d| {
                    d.iter()
                        .filter(|(_, s)| *s >= t)
                        .map(|(p, _)| p.clone())
                        .collect()
                })
                .collect();
            (t, hmean_iou(gt, &kept, mode).0)
        })
        .collect()
}

/// MMOCR's default thresholds.
pub const SWEEP_THRESHOLDS: [f64; 6] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8];

#[cfg(test)]
mod tests {
    use super::*;

    fn quad(x: f64, y: f64, w: f64, h: f64) -> Vec<[f64; 2]> {
        vec![[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
    }

    fn gt(p: Vec<[f64; 2]>, t: &str) -> TextInstance {
        TextInstance::new(p, t)
    }

    #[test]
    fn perfect_match_scores_one() {
        let g = vec![vec![
            gt(quad(0., 0., 10., 5.), "a"),
            gt(quad(20., 0., 10., 5.), "b"),
        ]];
        let d = vec![vec![quad(20., 0., 10., 5.), quad(0., 0., 10., 5.)]];
        let (s, _) = hmean_iou(&g, &d, MatchMode::Icdar2015);
        assert_eq!((s.precision, s.recall, s.hmean), (1.0, 1.0, 1.0));
    }

    #[test]
    fn detection_mostly_inside_dont_care_is_not_counted() {
        let g = vec![vec![
            gt(quad(0., 0., 10., 10.), "###"),
            gt(quad(50., 0., 10., 10.), "x"),
        ]];
        // 60% inside the ### region: discarded; 40% inside: a false positive.
        let d = vec![vec![quad(4., 0., 10., 10.), quad(-6., 20., 10., 10.)]];
        let (s, per) = hmean_iou(&g, &d, MatchMode::Icdar2015);
        assert_eq!((s.matched, s.gt_care, s.det_care), (0, 1, 1));
        assert_eq!(per[0].false_positive, vec![false, true]);
        let d = vec![vec![quad(6., 0., 10., 10.)]];
        let (s, _) = hmean_iou(&g, &d, MatchMode::Icdar2015);
        assert_eq!(s.det_care, 1, "40% inside is cared for");
    }

    #[test]
    fn two_detections_on_one_gt_official_vs_mindocr() {
        let g = vec![vec![gt(quad(0., 0., 10., 10.), "a")]];
        let d = vec![vec![quad(0., 0., 10., 10.), quad(0.5, 0., 10., 10.)]];
        let (s, _) = hmean_iou(&g, &d, MatchMode::Icdar2015);
        assert_eq!((s.matched, s.det_care), (1, 2), "1 TP + 1 FP");
        let (s, _) = hmean_iou(&g, &d, MatchMode::MindOcr);
        assert_eq!((s.matched, s.det_care), (1, 1), "1 TP + 0 FP");
    }

    #[test]
    fn invalid_polygons_are_skipped_and_empty_sets_score_zero() {
        let bow = vec![[0., 0.], [10., 10.], [10., 0.], [0., 10.]];
        let g = vec![vec![gt(bow.clone(), "a"), gt(quad(0., 0., 5., 5.), "b")]];
        let d = vec![vec![bow, quad(0., 0., 5., 5.)]];
        let (s, _) = hmean_iou(&g, &d, MatchMode::Icdar2015);
        assert_eq!((s.matched, s.gt_care, s.det_care), (1, 1, 1));
        let (s, _) = hmean_iou(&[vec![]], &[vec![]], MatchMode::Icdar2015);
        assert_eq!(s.hmean, 0.0);
    }

    #[test]
    fn iou_must_exceed_one_half() {
        // IoU exactly 0.5: 10x10 against 10x20 containing it.
        let g = vec![vec![gt(quad(0., 0., 10., 20.), "a")]];
        let (s, _) = hmean_iou(&g, &[vec![quad(0., 0., 10., 10.)]], MatchMode::Icdar2015);
        assert_eq!(s.matched, 0);
    }

    #[test]
    fn sweep_filters_by_score() {
        let g = vec![vec![gt(quad(0., 0., 10., 10.), "a")]];
        let d = vec![vec![
            (quad(0., 0., 10., 10.), 0.55),
            (quad(30., 0., 10., 10.), 0.35),
        ]];
        let r = sweep(&g, &d, &SWEEP_THRESHOLDS, MatchMode::Icdar2015);
        assert_eq!(r[0].1.det_care, 2);
        assert_eq!(r[1].1.det_care, 1);
        assert_eq!(r[3].1.det_care, 0);
    }
}
