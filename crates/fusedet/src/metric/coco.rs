//! COCO bounding-box AP and AR, computed as pycocotools' `COCOeval` (iouType `"bbox"`) computes
//! them: `evaluate` (per image and category matching), `accumulate` (101-point interpolated
//! precision) and `summarize` (the 12 `stats`). Mirrors `pycocotools/cocoeval.py` and `bbIou` in
//! `common/maskApi.c` (cocodataset/cocoapi, pycocotools 2.0.x).
//!
//! Semantics kept from the reference, including its quirks:
//! * IoU of boxes `[x, y, w, h]` without the "+1" pixel convention; for a crowd GT the union is
//!   the detection's area (`w * h`), so IoU = intersection / detection area.
//! * A GT is ignored when it is a crowd (`iscrowd`) or its `area` field is outside the area
//!   range (bounds inclusive). A json `ignore` key has no effect: `COCOeval._prepare` overwrites
//!   it with `iscrowd`.
//! * Detections per image and category are sorted by score, highest first, stably (numpy's
//!   mergesort), and cut to the largest `maxDets` (100); the smaller ones (1, 10) take the first
//!   detections of those matches. A detection's area is `w * h`; an unmatched detection outside
//!   the area range is ignored.
//! * Greedy matching per IoU threshold: each detection takes the still-free GT with the highest
//!   IoU ≥ the threshold (ties: the first in order), non-ignored GTs before ignored ones, crowd
//!   GTs can be taken many times; a detection matched to an ignored GT is ignored.
//! * A match is recorded by the GT's annotation `id`, and an `id` of 0 reads as "unmatched"
//!   (so such a GT never yields a true positive): give GTs non-zero ids as COCO does.
//! * Categories are the ground truth's; detections of other categories are dropped silently;
//!   a detection on an image that is not in the ground truth is an error (pycocotools' `loadRes`
//!   asserts). Categories without any non-ignored GT count as -1 and are left out of the means;
//!   a statistic with nothing to average is -1.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::data::read_text;
use crate::error::DatasetError;

/// COCO ground truth: the parts of an instances json that bbox evaluation reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CocoGt {
    /// The images; every one is evaluated, with or without annotations.
    pub images: Vec<CocoGtImage>,
    /// The boxes, in file order (the order breaks IoU ties, as in pycocotools).
    #[serde(default)]
    pub annotations: Vec<CocoGtAnnotation>,
    /// The categories evaluated.
    pub categories: Vec<CocoGtCategory>,
}

/// An image of [`CocoGt`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoGtImage {
    /// COCO image id.
    pub id: i64,
}

/// A category of [`CocoGt`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoGtCategory {
    /// COCO category id (1..=90 for COCO's 80 classes).
    pub id: i64,
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// A ground-truth box of [`CocoGt`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoGtAnnotation {
    /// Annotation id; non-zero (see the module notes).
    pub id: i64,
    /// The image it belongs to.
    pub image_id: i64,
    /// Its category.
    pub category_id: i64,
    /// `[x, y, width, height]` in pixels.
    pub bbox: [f64; 4],
    /// The `area` field (the segment's area in COCO), which decides small / medium / large.
    pub area: f64,
    /// A crowd region: ignored, and matched by intersection over the detection's area.
    /// Absent in the json: not a crowd (pycocotools would fail on such a file).
    #[serde(default, deserialize_with = "bool_from_int")]
    pub iscrowd: bool,
}

/// One detection, as in a COCO results json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoDetection {
    /// The image.
    pub image_id: i64,
    /// The category.
    pub category_id: i64,
    /// `[x, y, width, height]` in pixels.
    pub bbox: [f64; 4],
    /// Confidence; higher first.
    pub score: f64,
}

/// The 12 numbers of `COCOeval.stats`, in their order. -1 where nothing could be averaged.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoStats {
    /// AP @ IoU 0.50:0.95, all areas, 100 detections.
    pub ap: f64,
    /// AP @ IoU 0.50.
    pub ap50: f64,
    /// AP @ IoU 0.75.
    pub ap75: f64,
    /// AP for small objects (area < 32²).
    pub ap_small: f64,
    /// AP for medium objects (32² to 96²).
    pub ap_medium: f64,
    /// AP for large objects (> 96²).
    pub ap_large: f64,
    /// AR with 1 detection per image.
    pub ar1: f64,
    /// AR with 10 detections per image.
    pub ar10: f64,
    /// AR with 100 detections per image.
    pub ar100: f64,
    /// AR for small objects.
    pub ar_small: f64,
    /// AR for medium objects.
    pub ar_medium: f64,
    /// AR for large objects.
    pub ar_large: f64,
}

impl CocoStats {
    /// The numbers in `COCOeval.stats` order.
    pub fn to_array(&self) -> [f64; 12] {
        [
            self.ap,
            self.ap50,
            self.ap75,
            self.ap_small,
            self.ap_medium,
            self.ap_large,
            self.ar1,
            self.ar10,
            self.ar100,
            self.ar_small,
            self.ar_medium,
            self.ar_large,
        ]
    }
}

/// The accumulated evaluation (`COCOeval.eval`) and its summary.
#[derive(Clone, Debug, PartialEq)]
pub struct CocoEvaluation {
    /// The summary numbers.
    pub stats: CocoStats,
    /// Category ids, sorted: the `K` axis.
    pub category_ids: Vec<i64>,
    /// Interpolated precision, `[T=10, R=101, K, A=4, M=3]` row-major; -1 where a category has
    /// no non-ignored GT.
    pub precision: Vec<f64>,
    /// Maximum recall, `[T=10, K, A=4, M=3]` row-major; -1 as for `precision`.
    pub recall: Vec<f64>,
}

impl CocoEvaluation {
    /// Precision at IoU threshold index `t`, recall threshold `r`, category `k`, area range `a`
    /// (all, small, medium, large) and `maxDets` index `m` (1, 10, 100).
    pub fn precision_at(&self, t: usize, r: usize, k: usize, a: usize, m: usize) -> f64 {
        let kk = self.category_ids.len();
        self.precision[(((t * N_REC + r) * kk + k) * N_AREA + a) * N_MAXDET + m]
    }

    /// AP @ IoU 0.50:0.95 (all areas, 100 detections) of each category, in `category_ids`
    /// order; `None` where the category has no non-ignored GT.
    pub fn category_ap(&self) -> Vec<Option<f64>> {
        (0..self.category_ids.len())
            .map(|k| {
                let v: Vec<f64> = (0..N_IOU)
                    .flat_map(|t| (0..N_REC).map(move |r| (t, r)))
                    .map(|(t, r)| self.precision_at(t, r, k, 0, 2))
                    .filter(|&p| p > -1.0)
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
    }
}

pub use crate::error::CocoEvalError;

const N_IOU: usize = 10;
const N_REC: usize = 101;
const N_AREA: usize = 4;
const N_MAXDET: usize = 3;

/// `maxDets`, as in pycocotools.
pub const MAX_DETS: [usize; 3] = [1, 10, 100];

/// Area ranges all, small, medium, large (`areaRng`), bounds inclusive.
pub const AREA_RANGES: [[f64; 2]; 4] =
    [[0.0, 1e10], [0.0, 1024.0], [1024.0, 9216.0], [9216.0, 1e10]];

/// numpy's `linspace(start, stop, num)`: `i * step + start`, the last one exactly `stop`.
fn linspace<const N: usize>(start: f64, stop: f64) -> [f64; N] {
    let step = (stop - start) / (N - 1) as f64;
    let mut v = [0.0; N];
    for (i, x) in v.iter_mut().enumerate() {
        *x = i as f64 * step + start;
    }
    v[N - 1] = stop;
    v
}

/// IoU thresholds 0.50:0.05:0.95 as `np.linspace(.5, 0.95, 10)` computes them.
pub fn iou_thresholds() -> [f64; 10] {
    linspace::<N_IOU>(0.5, 0.95)
}

/// Recall thresholds 0:0.01:1 as `np.linspace(.0, 1.00, 101)` computes them.
pub fn recall_thresholds() -> [f64; 101] {
    linspace::<N_REC>(0.0, 1.0)
}

/// IoU of a detection and a GT box, both `[x, y, w, h]`, as pycocotools' `bbIou`: no "+1",
/// and for a crowd GT the union is the detection's area.
pub fn bbox_iou(dt: [f64; 4], gt: [f64; 4], crowd: bool) -> f64 {
    let ga = gt[2] * gt[3];
    let da = dt[2] * dt[3];
    let w = (dt[2] + dt[0]).min(gt[2] + gt[0]) - dt[0].max(gt[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (dt[3] + dt[1]).min(gt[3] + gt[1]) - dt[1].max(gt[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let u = if crowd { da } else { da + ga - i };
    i / u
}

/// Reads a COCO instances json (images, annotations with `area` and `iscrowd`, categories).
pub fn read_coco_gt(path: &Path) -> Result<CocoGt, DatasetError> {
    let text = read_text(path)?;
    serde_json::from_str(&text)
        .map_err(|e| DatasetError::parse(path, e.line(), format!("COCO json: {e}")))
}

/// Reads a COCO results json: a list of `{image_id, category_id, bbox, score}`.
pub fn read_coco_results(path: &Path) -> Result<Vec<CocoDetection>, DatasetError> {
    let text = read_text(path)?;
    serde_json::from_str(&text)
        .map_err(|e| DatasetError::parse(path, e.line(), format!("COCO results json: {e}")))
}

/// Orders by score, highest first; NaN last (numpy sorts NaN keys last).
fn by_score_desc(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        (x, y) => x.cmp(&y),
    }
}

/// `evaluateImg` for one image, category and area range.
struct ImageEval {
    /// Scores, sorted, at most 100.
    scores: Vec<f64>,
    /// `dtMatches != 0`, `[T][D]`.
    matched: Vec<Vec<bool>>,
    /// `dtIgnore`, `[T][D]`.
    ignored: Vec<Vec<bool>>,
    /// GTs not ignored.
    n_gt: usize,
}

fn evaluate_image(
    gts: &[&CocoGtAnnotation],
    dts: &[&CocoDetection],
    ious: &[Vec<f64>],
    area: [f64; 2],
    thresholds: &[f64; N_IOU],
) -> ImageEval {
    let outside = |a: f64| a < area[0] || a > area[1];
    let gt_ignore: Vec<bool> = gts.iter().map(|g| g.iscrowd || outside(g.area)).collect();
    // gtind: non-ignored first, stably.
    let mut order: Vec<usize> = (0..gts.len()).collect();
    order.sort_by_key(|&g| gt_ignore[g]);
    let d = dts.len();
    let mut matched = vec![vec![false; d]; N_IOU];
    let mut ignored = vec![vec![false; d]; N_IOU];
    if !gts.is_empty() && d > 0 {
        for (ti, &t) in thresholds.iter().enumerate() {
            let mut gt_taken = vec![false; gts.len()];
            for di in 0..d {
                let mut best = t.min(1.0 - 1e-10);
                let mut m: Option<usize> = None;
                for (gi, &g) in order.iter().enumerate() {
                    if gt_taken[gi] && !gts[g].iscrowd {
                        continue;
                    }
                    if let Some(mi) = m
                        && !gt_ignore[order[mi]]
                        && gt_ignore[g]
                    {
                        break;
                    }
                    if ious[di][g] < best {
                        continue;
                    }
                    best = ious[di][g];
                    m = Some(gi);
                }
                if let Some(mi) = m {
                    let g = order[mi];
                    ignored[ti][di] = gt_ignore[g];
                    matched[ti][di] = gts[g].id != 0;
                    gt_taken[mi] = true;
                }
            }
        }
    }
    for di in 0..d {
        let a = dts[di].bbox[2] * dts[di].bbox[3];
        if outside(a) {
            for ti in 0..N_IOU {
                if !matched[ti][di] {
                    ignored[ti][di] = true;
                }
            }
        }
    }
    ImageEval {
        scores: dts.iter().map(|x| x.score).collect(),
        matched,
        ignored,
        n_gt: gt_ignore.iter().filter(|&&i| !i).count(),
    }
}

/// Runs `COCOeval(gt, dt, "bbox")`: `evaluate()`, `accumulate()`, `summarize()`.
pub fn coco_evaluate(
    gt: &CocoGt,
    detections: &[CocoDetection],
) -> Result<CocoEvaluation, CocoEvalError> {
    let mut img_ids: Vec<i64> = gt.images.iter().map(|i| i.id).collect();
    img_ids.sort_unstable();
    img_ids.dedup();
    let mut cat_ids: Vec<i64> = gt.categories.iter().map(|c| c.id).collect();
    cat_ids.sort_unstable();
    cat_ids.dedup();
    let img_ix: HashMap<i64, usize> = img_ids.iter().enumerate().map(|(i, &x)| (x, i)).collect();
    let cat_ix: HashMap<i64, usize> = cat_ids.iter().enumerate().map(|(i, &x)| (x, i)).collect();
    let (n_img, n_cat) = (img_ids.len(), cat_ids.len());

    let mut gts: Vec<Vec<&CocoGtAnnotation>> = vec![Vec::new(); n_img * n_cat];
    for a in &gt.annotations {
        if let (Some(&i), Some(&k)) = (img_ix.get(&a.image_id), cat_ix.get(&a.category_id)) {
            gts[i * n_cat + k].push(a);
        }
    }
    let mut dts: Vec<Vec<&CocoDetection>> = vec![Vec::new(); n_img * n_cat];
    for (index, d) in detections.iter().enumerate() {
        let Some(&i) = img_ix.get(&d.image_id) else {
            return Err(CocoEvalError::UnknownImage {
                index,
                image_id: d.image_id,
            });
        };
        if let Some(&k) = cat_ix.get(&d.category_id) {
            dts[i * n_cat + k].push(d);
        }
    }

    let thresholds = iou_thresholds();
    let max_det = MAX_DETS[N_MAXDET - 1];
    // evals[(k * A + a) * I + i], None where the image has neither GT nor detections.
    let mut evals: Vec<Option<ImageEval>> = Vec::with_capacity(n_cat * N_AREA * n_img);
    evals.resize_with(n_cat * N_AREA * n_img, || None);
    for i in 0..n_img {
        for k in 0..n_cat {
            let g = &gts[i * n_cat + k];
            let mut d = dts[i * n_cat + k].clone();
            if g.is_empty() && d.is_empty() {
                continue;
            }
            d.sort_by(|a, b| by_score_desc(a.score, b.score));
            d.truncate(max_det);
            let ious: Vec<Vec<f64>> = d
                .iter()
                .map(|dd| {
                    g.iter()
                        .map(|gg| bbox_iou(dd.bbox, gg.bbox, gg.iscrowd))
                        .collect()
                })
                .collect();
            for (a, &area) in AREA_RANGES.iter().enumerate() {
                evals[(k * N_AREA + a) * n_img + i] =
                    Some(evaluate_image(g, &d, &ious, area, &thresholds));
            }
        }
    }

    let rec_thr = recall_thresholds();
    let mut precision = vec![-1.0; N_IOU * N_REC * n_cat * N_AREA * N_MAXDET];
    let mut recall = vec![-1.0; N_IOU * n_cat * N_AREA * N_MAXDET];
    for k in 0..n_cat {
        for a in 0..N_AREA {
            let e: Vec<&ImageEval> = evals[(k * N_AREA + a) * n_img..(k * N_AREA + a + 1) * n_img]
                .iter()
                .flatten()
                .collect();
            if e.is_empty() {
                continue;
            }
            let n_gt: usize = e.iter().map(|x| x.n_gt).sum();
            if n_gt == 0 {
                continue;
            }
            for (m, &md) in MAX_DETS.iter().enumerate() {
                // (score, image, detection) in concatenation order, then a stable sort.
                let mut all: Vec<(f64, usize, usize)> = e
                    .iter()
                    .enumerate()
                    .flat_map(|(ei, x)| {
                        x.scores
                            .iter()
                            .take(md)
                            .enumerate()
                            .map(move |(di, &s)| (s, ei, di))
                    })
                    .collect();
                all.sort_by(|x, y| by_score_desc(x.0, y.0));
                let nd = all.len();
                for t in 0..N_IOU {
                    let (mut tp, mut fp) = (0usize, 0usize);
                    let mut rc = Vec::with_capacity(nd);
                    let mut pr = Vec::with_capacity(nd);
                    for &(_, ei, di) in &all {
                        if !e[ei].ignored[t][di] {
                            if e[ei].matched[t][di] {
                                tp += 1;
                            } else {
                                fp += 1;
                            }
                        }
                        let (tpf, fpf) = (tp as f64, fp as f64);
                        rc.push(tpf / n_gt as f64);
                        pr.push(tpf / (fpf + tpf + f64::EPSILON));
                    }
                    recall[((t * n_cat + k) * N_AREA + a) * N_MAXDET + m] =
                        rc.last().copied().unwrap_or(0.0);
                    for i in (1..nd).rev() {
                        if pr[i] > pr[i - 1] {
                            pr[i - 1] = pr[i];
                        }
                    }
                    for (r, &thr) in rec_thr.iter().enumerate() {
                        let pi = rc.partition_point(|&x| x < thr);
                        let q = if pi < nd { pr[pi] } else { 0.0 };
                        precision[(((t * N_REC + r) * n_cat + k) * N_AREA + a) * N_MAXDET + m] = q;
                    }
                }
            }
        }
    }

    let mean_valid = |v: &mut dyn Iterator<Item = f64>| {
        let (mut s, mut n) = (0.0, 0usize);
        for x in v.filter(|&x| x > -1.0) {
            s += x;
            n += 1;
        }
        if n == 0 { -1.0 } else { s / n as f64 }
    };
    let t_of = |thr: f64| -> Vec<usize> {
        thresholds
            .iter()
            .enumerate()
            .filter(|(_, x)| **x == thr)
            .map(|(i, _)| i)
            .collect()
    };
    let all_t: Vec<usize> = (0..N_IOU).collect();
    let ap = |ts: &[usize], a: usize, m: usize| {
        mean_valid(&mut ts.iter().flat_map(|&t| {
            let precision = &precision;
            (0..N_REC).flat_map(move |r| {
                (0..n_cat).map(move |k| {
                    precision[(((t * N_REC + r) * n_cat + k) * N_AREA + a) * N_MAXDET + m]
                })
            })
        }))
    };
    let ar = |a: usize, m: usize| {
        mean_valid(
            &mut (0..N_IOU)
                .flat_map(|t| (0..n_cat).map(move |k| (t, k)))
                .map(|(t, k)| recall[((t * n_cat + k) * N_AREA + a) * N_MAXDET + m]),
        )
    };
    let stats = CocoStats {
        ap: ap(&all_t, 0, 2),
        ap50: ap(&t_of(0.5), 0, 2),
        ap75: ap(&t_of(0.75), 0, 2),
        ap_small: ap(&all_t, 1, 2),
        ap_medium: ap(&all_t, 2, 2),
        ap_large: ap(&all_t, 3, 2),
        ar1: ar(0, 0),
        ar10: ar(0, 1),
        ar100: ar(0, 2),
        ar_small: ar(1, 2),
        ar_medium: ar(2, 2),
        ar_large: ar(3, 2),
    };
    Ok(CocoEvaluation {
        stats,
        category_ids: cat_ids,
        precision,
        recall,
    })
}

/// `iscrowd` as 0/1 (COCO) or a json bool.
fn bool_from_int<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrBool {
        Int(i64),
        Bool(bool),
    }
    Ok(match IntOrBool::deserialize(d)? {
        IntOrBool::Int(i) => i != 0,
        IntOrBool::Bool(b) => b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gt_with(anns: Vec<CocoGtAnnotation>) -> CocoGt {
        CocoGt {
            images: vec![CocoGtImage { id: 1 }, CocoGtImage { id: 2 }],
            annotations: anns,
            categories: vec![CocoGtCategory {
                id: 1,
                name: "a".into(),
            }],
        }
    }

    fn ann(id: i64, bbox: [f64; 4], crowd: bool) -> CocoGtAnnotation {
        CocoGtAnnotation {
            id,
            image_id: 1,
            category_id: 1,
            bbox,
            area: bbox[2] * bbox[3],
            iscrowd: crowd,
        }
    }

    fn det(bbox: [f64; 4], score: f64) -> CocoDetection {
        CocoDetection {
            image_id: 1,
            category_id: 1,
            bbox,
            score,
        }
    }

    #[test]
    fn crowd_iou_is_intersection_over_detection_area() {
        let g = [0.0, 0.0, 100.0, 100.0];
        let d = [50.0, 50.0, 100.0, 100.0];
        assert_eq!(bbox_iou(d, g, true), 0.25);
        assert_eq!(bbox_iou(d, g, false), 2500.0 / 17500.0);
        assert_eq!(bbox_iou([200.0, 0.0, 5.0, 5.0], g, false), 0.0);
    }

    #[test]
    fn perfect_detections_score_one_and_no_gt_scores_minus_one() {
        let b = [10.0, 10.0, 50.0, 40.0];
        let e = coco_evaluate(&gt_with(vec![ann(1, b, false)]), &[det(b, 0.9)]).unwrap();
        let s = e.stats;
        // Precision is tp / (tp + fp + eps): one true positive gives 1 - 1e-16, as in numpy.
        for v in [s.ap, s.ap50, s.ap75, s.ap_medium, s.ar100] {
            assert!((v - 1.0).abs() < 1e-12, "{v}");
        }
        // No small or large GT: -1, as pycocotools.
        assert_eq!((s.ap_small, s.ap_large, s.ar_small), (-1.0, -1.0, -1.0));
        assert!((e.category_ap()[0].unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_gt_with_id_zero_never_yields_a_true_positive() {
        let b = [10.0, 10.0, 50.0, 40.0];
        let e = coco_evaluate(&gt_with(vec![ann(0, b, false)]), &[det(b, 0.9)]).unwrap();
        assert_eq!(e.stats.ap, 0.0);
    }

    #[test]
    fn detections_on_unknown_images_are_refused() {
        let mut d = det([0.0, 0.0, 1.0, 1.0], 0.5);
        d.image_id = 7;
        let err = coco_evaluate(&gt_with(vec![]), &[d]).unwrap_err();
        assert!(matches!(
            err,
            CocoEvalError::UnknownImage { image_id: 7, .. }
        ));
    }

    #[test]
    fn iscrowd_reads_as_int_or_bool_and_defaults_to_false() {
        let j = r#"{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[
            {"id":1,"image_id":1,"category_id":1,"bbox":[0,0,1,1],"area":1,"iscrowd":1},
            {"id":2,"image_id":1,"category_id":1,"bbox":[0,0,1,1],"area":1,"iscrowd":false},
            {"id":3,"image_id":1,"category_id":1,"bbox":[0,0,1,1],"area":1}]}"#;
        let g: CocoGt = serde_json::from_str(j).unwrap();
        let c: Vec<bool> = g.annotations.iter().map(|a| a.iscrowd).collect();
        assert_eq!(c, vec![true, false, false]);
    }
}
