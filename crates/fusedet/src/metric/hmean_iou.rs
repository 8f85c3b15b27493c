//! Text-detection metric. [`hmean_iou`]: the ICDAR 2015 IoU protocol exactly as the official
//! RRC Challenge 4 script computes it (degenerate and self-intersecting polygons included, see
//! [`evaluate_image`]), a MindOCR-compatible variant (DB's `DetectionIoUEvaluator` rules), and
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
    /// The official ICDAR 2015 script: Polygon-library areas on integer coordinates, every
    /// polygon kept, one-to-one greedy matching in index order.
    #[default]
    Icdar2015,
    /// MindOCR's `DetMetric` (DB's `DetectionIoUEvaluator` rules): invalid polygons skipped,
    /// and a detection matching an already matched ground truth is dropped (neither a true nor
    /// a false positive).
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
    /// The image's own (precision, recall, hmean) as the official script reports a sample:
    /// without ground truth to care for, recall is 1 and precision is 1 when no detection is
    /// cared for either, else 0.
    pub fn sample_scores(&self) -> (f64, f64, f64) {
        let (precision, recall) = if self.gt_care == 0 {
            (if self.det_care > 0 { 0.0 } else { 1.0 }, 1.0)
        } else {
            let s = Scores::from_totals(self.matched, self.gt_care, self.det_care);
            (s.precision, s.recall)
        };
        let hmean = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        (precision, recall, hmean)
    }

    /// The image's own hmean (official per-sample rule: 1 with neither text nor detections).
    pub fn hmean(&self) -> f64 {
        self.sample_scores().2
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

/// A polygon as the official script builds it: coordinates truncated to integers (Python's
/// `int()`, toward zero), vertices kept as given.
fn to_int_polygon(p: &[[f64; 2]]) -> Vec<[f64; 2]> {
    p.iter().map(|q| [q[0].trunc(), q[1].trunc()]).collect()
}

/// The Polygon library's `area()` of one contour: half the absolute shoelace sum of the
/// vertices as given. A self-intersecting contour's lobes cancel (a symmetric bow-tie has
/// area 0); exact for integer coordinates below 2^25.
fn plg_area(p: &[[f64; 2]]) -> f64 {
    let n = p.len();
    if n == 0 {
        return 0.0;
    }
    let mut a = 0.0;
    for i in 0..n {
        let (u, v) = (p[i], p[(i + 1) % n]);
        a += (u[0] + v[0]) * (v[1] - u[1]);
    }
    0.5 * a.abs()
}

/// The area of `p & q` as the Polygon library (GPC) gives it: the region inside both, each
/// polygon's inside taken by the even-odd rule, so a bow-tie covers both of its lobes and a
/// repeated corner or a zero-area polygon covers nothing. Computed by vertical slabs: between
/// consecutive x of all vertices and edge crossings no edge crosses another, so the covered
/// length of a vertical line is linear in x and its value at the slab's middle gives the area.
fn even_odd_intersection_area(p: &[[f64; 2]], q: &[[f64; 2]]) -> f64 {
    let range = |r: &[[f64; 2]], k: usize| {
        r.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v[k]), hi.max(v[k]))
            })
    };
    let (px, py, qx, qy) = (range(p, 0), range(p, 1), range(q, 0), range(q, 1));
    let (x0, x1) = (px.0.max(qx.0), px.1.min(qx.1));
    if p.len() < 3 || q.len() < 3 || x0 >= x1 || py.0.max(qy.0) >= py.1.min(qy.1) {
        return 0.0;
    }
    // Non-vertical edges, left end first: (xa, ya, xb, yb, polygon).
    let mut edges: Vec<([f64; 4], usize)> = Vec::new();
    for (k, r) in [p, q].into_iter().enumerate() {
        for i in 0..r.len() {
            let (u, v) = (r[i], r[(i + 1) % r.len()]);
            if u[0] != v[0] {
                let e = if u[0] < v[0] {
                    [u[0], u[1], v[0], v[1]]
                } else {
                    [v[0], v[1], u[0], u[1]]
                };
                edges.push((e, k));
            }
        }
    }
    let mut xs: Vec<f64> = edges.iter().flat_map(|(e, _)| [e[0], e[2]]).collect();
    for i in 0..edges.len() {
        for j in (i + 1)..edges.len() {
            let (a, b) = (edges[i].0, edges[j].0);
            let (lo, hi) = (a[0].max(b[0]), a[2].min(b[2]));
            if lo >= hi {
                continue;
            }
            // Difference of the two lines' y, linear in x: crosses zero inside (lo, hi)?
            let y = |e: [f64; 4], x: f64| e[1] + (e[3] - e[1]) * (x - e[0]) / (e[2] - e[0]);
            let (d0, d1) = (y(a, lo) - y(b, lo), y(a, hi) - y(b, hi));
            if (d0 < 0.0 && d1 > 0.0) || (d0 > 0.0 && d1 < 0.0) {
                xs.push(lo + (hi - lo) * d0 / (d0 - d1));
            }
        }
    }
    xs.retain(|&x| x >= x0 && x <= x1);
    xs.push(x0);
    xs.push(x1);
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut area = 0.0;
    let mut ys: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for w in xs.windows(2) {
        let (xa, xb) = (w[0], w[1]);
        let xm = 0.5 * (xa + xb);
        for (k, v) in ys.iter_mut().enumerate() {
            v.clear();
            v.extend(
                edges
                    .iter()
                    .filter(|(e, kk)| *kk == k && e[0] <= xa && e[2] >= xb)
                    .map(|(e, _)| e[1] + (e[3] - e[1]) * (xm - e[0]) / (e[2] - e[0])),
            );
            v.sort_by(f64::total_cmp);
        }
        // Even-odd: the inside is between the 1st and 2nd crossing, the 3rd and 4th, ...
        let mut len = 0.0;
        for a in ys[0].chunks_exact(2) {
            for b in ys[1].chunks_exact(2) {
                len += (a[1].min(b[1]) - a[0].max(b[0])).max(0.0);
            }
        }
        area += len * (xb - xa);
    }
    area
}

/// Evaluates one image: `gt` with don't-care flags, `dets` as polygons.
///
/// [`MatchMode::Icdar2015`] does exactly what the official ICDAR 2015 Challenge 4 script
/// (`script.py` with the `Polygon` library, checked against it by
/// `tools/make_metric_fixtures.py`) does:
/// 1. Coordinates are truncated to integers (`int()`); every polygon is kept as given, whatever
///    its shape: degenerate, self-intersecting, with repeated corners, outside the image.
///    Every ground-truth region counts unless its transcription is `###`.
/// 2. Areas are the Polygon library's: half the absolute shoelace sum of the vertices as given,
///    so the lobes of a self-intersecting polygon cancel (a symmetric bow-tie has area 0).
///    Intersections are GPC's: the common part of the two polygons' even-odd insides (a
///    bow-tie covers both lobes; a zero-area polygon covers nothing).
/// 3. A detection is don't care when its intersection with a don't-care region, divided by its
///    own area (0 when that area is 0), exceeds 0.5 for some don't-care region: a zero-area
///    detection is always cared for.
/// 4. IoU = intersection / (area(det) + area(gt) − intersection), 0 when that union is 0; it
///    can leave [0, 1] for self-intersecting polygons (and then matches as it falls).
/// 5. Greedy one-to-one matching in index order at IoU > `iou_thresh` (0.5 in the protocol).
///
/// The official script also refuses whole submissions with counter-clockwise quads or
/// non-integer coordinates, and reads only quads; fusedet scores those with the same rules
/// (orientation does not change Polygon areas or intersections; n-gons are measured the
/// same way).
///
/// [`MatchMode::MindOcr`] keeps the rules of DB's `DetectionIoUEvaluator` as MindOCR's
/// `DetMetric` uses them: float coordinates, polygons that are not valid simple polygons
/// (shapely) skipped on both sides, shapely areas, and a detection matching an already matched
/// ground truth dropped (neither a true nor a false positive).
pub fn evaluate_image(
    gt: &[TextInstance],
    dets: &[Vec<[f64; 2]>],
    mode: MatchMode,
    iou_thresh: f64,
) -> ImageCounts {
    match mode {
        MatchMode::Icdar2015 => evaluate_official(gt, dets, iou_thresh),
        MatchMode::MindOcr => evaluate_mindocr(gt, dets, iou_thresh),
    }
}

fn evaluate_official(gt: &[TextInstance], dets: &[Vec<[f64; 2]>], iou_thresh: f64) -> ImageCounts {
    let gt_polys: Vec<Vec<[f64; 2]>> = gt.iter().map(|g| to_int_polygon(&g.points)).collect();
    let det_polys: Vec<Vec<[f64; 2]>> = dets.iter().map(|d| to_int_polygon(d)).collect();
    let gt_area: Vec<f64> = gt_polys.iter().map(|p| plg_area(p)).collect();
    let det_area: Vec<f64> = det_polys.iter().map(|p| plg_area(p)).collect();
    let det_dont_care: Vec<bool> = det_polys
        .iter()
        .zip(&det_area)
        .map(|(d, &area)| {
            gt.iter().zip(&gt_polys).any(|(g, gp)| {
                g.ignore && {
                    let inter = even_odd_intersection_area(gp, d);
                    let precision = if area == 0.0 { 0.0 } else { inter / area };
                    precision > 0.5
                }
            })
        })
        .collect();
    let mut gt_match: Vec<Option<usize>> = vec![None; gt.len()];
    let mut det_taken = vec![false; dets.len()];
    let mut matched = 0usize;
    for (i, g) in gt_polys.iter().enumerate() {
        if gt[i].ignore {
            continue;
        }
        for (j, d) in det_polys.iter().enumerate() {
            if gt_match[i].is_some() || det_taken[j] || det_dont_care[j] {
                continue;
            }
            let inter = even_odd_intersection_area(d, g);
            let union = det_area[j] + gt_area[i] - inter;
            let iou = if union == 0.0 { 0.0 } else { inter / union };
            if iou > iou_thresh {
                det_taken[j] = true;
                gt_match[i] = Some(j);
                matched += 1;
            }
        }
    }
    ImageCounts {
        gt_care: gt.iter().filter(|g| !g.ignore).count(),
        det_care: det_dont_care.iter().filter(|&&dc| !dc).count(),
        matched,
        gt_match,
        false_positive: (0..dets.len())
            .map(|j| !det_dont_care[j] && !det_taken[j])
            .collect(),
    }
}

fn evaluate_mindocr(gt: &[TextInstance], dets: &[Vec<[f64; 2]>], iou_thresh: f64) -> ImageCounts {
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
            if polygon_iou(g, d) > iou_thresh {
                det_taken[j] = true;
                if gt_match[i].is_some() {
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
            // Matched and dropped detections are both taken.
            det_polys[j].is_some() && !det_dont_care[j] && !det_taken[j]
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
    fn bow_ties_count_officially_and_are_skipped_by_mindocr() {
        // The bow-tie's lobes cancel (area 0) but it covers both: its intersection with the
        // 5x5 square is 12.5, the union 0 + 25 - 12.5, so the official IoU is 1.
        let bow = vec![[0., 0.], [10., 10.], [10., 0.], [0., 10.]];
        assert_eq!(plg_area(&bow), 0.0);
        assert_eq!(
            even_odd_intersection_area(&bow, &quad(0., 0., 10., 10.)),
            50.0
        );
        let g = vec![vec![gt(bow.clone(), "a"), gt(quad(0., 0., 5., 5.), "b")]];
        let d = vec![vec![bow, quad(0., 0., 5., 5.)]];
        let (s, _) = hmean_iou(&g, &d, MatchMode::Icdar2015);
        assert_eq!((s.matched, s.gt_care, s.det_care), (2, 2, 2));
        let (s, _) = hmean_iou(&g, &d, MatchMode::MindOcr);
        assert_eq!((s.matched, s.gt_care, s.det_care), (1, 1, 1));
        let (s, _) = hmean_iou(&[vec![]], &[vec![]], MatchMode::Icdar2015);
        assert_eq!(s.hmean, 0.0);
    }

    #[test]
    fn even_odd_area_of_a_pentagram_leaves_out_its_centre() {
        // Polygon3 (GPC): area() 44 (signed lobes), intersection with a covering square
        // 23.55099009900991 (the five points without the doubly wound centre).
        let star = vec![[0., 3.], [10., 3.], [2., 10.], [5., 0.], [8., 10.]];
        assert_eq!(plg_area(&star), 44.0);
        let inter = even_odd_intersection_area(&star, &quad(-1., -1., 12., 12.));
        assert!((inter - 23.55099009900991).abs() < 1e-9, "{inter}");
    }

    #[test]
    fn coordinates_are_truncated_toward_zero() {
        assert_eq!(
            to_int_polygon(&[[1.9, -1.9], [-0.5, 2.5]]),
            vec![[1.0, -1.0], [-0.0, 2.0]]
        );
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
