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
//!
//! Around the metric: [`map_categories`] pairs an object detector's classes with the ground
//! truth's category ids (by name, else Darknet's 80 -> 91 [`DARKNET_COCO_IDS`]),
//! [`coco_results`] turns [`Detection`]s into COCO results, and [`CocoGt::from_objects`] makes
//! the ground truth of a YOLO or VOC [`ObjectDataset`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::data::objects::ObjectDataset;
use crate::data::read_text;
use crate::detection::{Detection, Shape};
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
    /// The image file, relative to the image directory (COCO's `file_name`); how a detector's
    /// output on a file finds its image id. Not needed to score a results json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
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
        self.category_ap_over(0..N_IOU)
    }

    /// AP at one IoU threshold (index `t` into [`iou_thresholds`]: 0 is 0.50, 5 is 0.75) of
    /// each category, all areas, 100 detections; `None` where the category has no
    /// non-ignored GT. The mean of the `Some`s is `stats.ap50` for `t = 0`.
    pub fn category_ap_at(&self, t: usize) -> Vec<Option<f64>> {
        self.category_ap_over(t..t + 1)
    }

    fn category_ap_over(&self, ts: std::ops::Range<usize>) -> Vec<Option<f64>> {
        (0..self.category_ids.len())
            .map(|k| {
                let v: Vec<f64> = ts
                    .clone()
                    .flat_map(|t| (0..N_REC).map(move |r| (t, r)))
                    .map(|(t, r)| self.precision_at(t, r, k, 0, 2))
                    .filter(|&p| p > -1.0)
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
    }

    /// The precision-recall curve COCOeval keeps for category `k` at IoU threshold index `t`
    /// (all areas, 100 detections): the interpolated precision at each of the 101
    /// [`recall_thresholds`]. `None` where the category has no non-ignored GT.
    pub fn pr_curve(&self, t: usize, k: usize) -> Option<Vec<f64>> {
        let v: Vec<f64> = (0..N_REC)
            .map(|r| self.precision_at(t, r, k, 0, 2))
            .collect();
        v.iter().all(|&p| p > -1.0).then_some(v)
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
/// A value of the wrong kind is reported with its place, e.g.
/// `instances.json: annotations[3].bbox: expected 4 numbers [x, y, w, h], found [1,2,3]`.
pub fn read_coco_gt(path: &Path) -> Result<CocoGt, DatasetError> {
    read_checked(path, "COCO json", &GT_SCHEMA)
}

/// Reads a COCO results json: a list of `{image_id, category_id, bbox, score}`. Errors name
/// the entry and field, as [`read_coco_gt`]'s.
pub fn read_coco_results(path: &Path) -> Result<Vec<CocoDetection>, DatasetError> {
    read_checked(path, "COCO results json", &RESULTS_SCHEMA)
}

/// What a json value must be (the types of [`CocoGt`] and [`CocoDetection`]).
#[derive(Clone, Copy)]
enum Kind {
    /// An integer (`i64`).
    Int,
    /// A number.
    Num,
    /// `[x, y, w, h]`.
    Box4,
    /// 0/1 or a bool.
    Flag,
    /// A string.
    Text,
    /// A string or null.
    TextOrNull,
}

/// A field of an object: name, kind, required.
type Field = (&'static str, Kind, bool);

/// A json document: the top-level lists (`""` for a document that is itself the list),
/// whether each is required, and the fields of their entries.
type Schema = [(&'static str, bool, &'static [Field])];

const GT_SCHEMA: [(&str, bool, &[Field]); 3] = [
    (
        "images",
        true,
        &[
            ("id", Kind::Int, true),
            ("file_name", Kind::TextOrNull, false),
        ],
    ),
    (
        "annotations",
        false,
        &[
            ("id", Kind::Int, true),
            ("image_id", Kind::Int, true),
            ("category_id", Kind::Int, true),
            ("bbox", Kind::Box4, true),
            ("area", Kind::Num, true),
            ("iscrowd", Kind::Flag, false),
        ],
    ),
    (
        "categories",
        true,
        &[("id", Kind::Int, true), ("name", Kind::Text, false)],
    ),
];

const RESULTS_SCHEMA: [(&str, bool, &[Field]); 1] = [(
    "",
    true,
    &[
        ("image_id", Kind::Int, true),
        ("category_id", Kind::Int, true),
        ("bbox", Kind::Box4, true),
        ("score", Kind::Num, true),
    ],
)];

/// Parses `path` as `T`; where the json is well formed but does not fit, the message names
/// the first entry and field that does not (found by walking `schema`).
fn read_checked<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    schema: &Schema,
) -> Result<T, DatasetError> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| {
        let place = (e.classify() == serde_json::error::Category::Data)
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten()
            .and_then(|v| find_misfit(&v, schema));
        match place {
            Some(reason) => DatasetError::Layout {
                path: path.to_path_buf(),
                reason,
            },
            None => DatasetError::parse(path, e.line(), format!("{what}: {e}")),
        }
    })
}

/// The first value of `doc` that does not fit `schema`, as `list[i].field: what is wrong`.
fn find_misfit(doc: &Value, schema: &Schema) -> Option<String> {
    let short = |v: &Value| {
        let s = v.to_string();
        if s.chars().count() > 40 {
            format!("{}...", s.chars().take(40).collect::<String>())
        } else {
            s
        }
    };
    for &(list, required, fields) in schema {
        let items = if list.is_empty() {
            Some(doc)
        } else if let Some(obj) = doc.as_object() {
            obj.get(list)
        } else {
            return Some(format!("expected a json object, found {}", short(doc)));
        };
        let items = match items {
            None if required => return Some(format!("no `{list}` list")),
            None => continue,
            Some(v) => v,
        };
        let name = if list.is_empty() { "results" } else { list };
        let Some(items) = items.as_array() else {
            return Some(format!("{name}: expected a list, found {}", short(items)));
        };
        for (i, item) in items.iter().enumerate() {
            let Some(obj) = item.as_object() else {
                return Some(format!(
                    "{name}[{i}]: expected an object, found {}",
                    short(item)
                ));
            };
            for &(field, kind, needed) in fields {
                let Some(v) = obj.get(field) else {
                    if needed {
                        return Some(format!("{name}[{i}]: missing field `{field}`"));
                    }
                    continue;
                };
                let ok = match kind {
                    Kind::Int => v.as_i64().is_some(),
                    Kind::Num => v.is_number(),
                    Kind::Box4 => v
                        .as_array()
                        .is_some_and(|b| b.len() == 4 && b.iter().all(Value::is_number)),
                    Kind::Flag => v.as_i64().is_some() || v.is_boolean(),
                    Kind::Text => v.is_string(),
                    Kind::TextOrNull => v.is_string() || v.is_null(),
                };
                if !ok {
                    let expected = match kind {
                        Kind::Int => "an integer",
                        Kind::Num => "a number",
                        Kind::Box4 => "4 numbers [x, y, w, h]",
                        Kind::Flag => "0, 1 or a bool",
                        Kind::Text | Kind::TextOrNull => "a string",
                    };
                    return Some(format!(
                        "{name}[{i}].{field}: expected {expected}, found {}",
                        short(v)
                    ));
                }
            }
        }
    }
    None
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

/// Darknet's `coco_ids` (pjreddie/darknet `src/detector.c`): the COCO category id of each of
/// the 80 classes of `coco.names`, in class order. COCO's ids run 1..=90 with gaps (91 in
/// the paper's numbering, 80 used).
pub const DARKNET_COCO_IDS: [i64; 80] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
    31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
    56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
    85, 86, 87, 88, 89, 90,
];

/// How [`map_categories`] paired a model's classes with the ground truth's categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryRule {
    /// Every class name is the name of exactly one GT category.
    ByName,
    /// 80 classes in the order of Darknet's `coco.names`, mapped by [`DARKNET_COCO_IDS`].
    DarknetCocoIds,
}

/// The GT category id of each model class.
#[derive(Clone, Debug, PartialEq)]
pub struct CategoryMap {
    /// Category id by class index.
    pub category_ids: Vec<i64>,
    /// How they were found.
    pub rule: CategoryRule,
}

/// Pairs a model's classes (names by class index) with the ground truth's categories:
/// 1. by name, when every class name is the (exact) name of exactly one GT category;
/// 2. else, for a model with 80 classes, by Darknet's 80 -> 91 table [`DARKNET_COCO_IDS`]
///    (Darknet's `coco.names` says `motorbike`, `aeroplane`, `sofa`, ... where COCO says
///    `motorcycle`, `airplane`, `couch`), provided every GT category id is one of the table's,
///    i.e. the ground truth numbers its categories as COCO does;
/// 3. else an error saying which class has no category and why the table does not apply.
pub fn map_categories(
    classes: &[String],
    categories: &[CocoGtCategory],
) -> Result<CategoryMap, CocoEvalError> {
    if classes.is_empty() {
        return Err(CocoEvalError::CategoryMapping(
            "the model has no classes".into(),
        ));
    }
    let by_name: Vec<Option<i64>> = classes
        .iter()
        .map(|c| {
            let mut ids = categories.iter().filter(|g| &g.name == c).map(|g| g.id);
            match (ids.next(), ids.next()) {
                (Some(id), None) => Some(id),
                _ => None,
            }
        })
        .collect();
    if let Some(ids) = by_name.iter().copied().collect::<Option<Vec<i64>>>() {
        return Ok(CategoryMap {
            category_ids: ids,
            rule: CategoryRule::ByName,
        });
    }
    let (k, name) = by_name
        .iter()
        .zip(classes)
        .enumerate()
        .find(|(_, (id, _))| id.is_none())
        .map(|(k, (_, c))| (k, c))
        .expect("one class has no single category");
    let n_same = categories.iter().filter(|g| &g.name == name).count();
    let why = if n_same > 1 {
        format!("{n_same} ground-truth categories are named `{name}`")
    } else {
        format!("class {k} `{name}` is not a category name of the ground truth")
    };
    if classes.len() != DARKNET_COCO_IDS.len() {
        return Err(CocoEvalError::CategoryMapping(format!(
            "cannot map the model's {} classes to the ground truth's {} categories: {why}, and \
             Darknet's 80 -> 91 coco_ids table is only for models with 80 classes",
            classes.len(),
            categories.len()
        )));
    }
    if let Some(g) = categories
        .iter()
        .find(|g| !DARKNET_COCO_IDS.contains(&g.id))
    {
        return Err(CocoEvalError::CategoryMapping(format!(
            "cannot map the model's 80 classes to the ground truth's categories: {why}, and \
             Darknet's 80 -> 91 coco_ids table does not apply: category id {} (`{}`) is not a \
             COCO category id",
            g.id, g.name
        )));
    }
    Ok(CategoryMap {
        category_ids: DARKNET_COCO_IDS.to_vec(),
        rule: CategoryRule::DarknetCocoIds,
    })
}

/// An object detector's output on one image as COCO results: a box `[x1, y1, x2, y2]` becomes
/// `bbox = [x1, y1, x2 - x1, y2 - y1]`, `class_id` becomes its category through `map`, the
/// score is kept. Errors: a polygon (a text detection), no `class_id` or one outside the
/// map, a coordinate or score that is not finite.
pub fn coco_results(
    image_id: i64,
    detections: &[Detection],
    map: &CategoryMap,
) -> Result<Vec<CocoDetection>, CocoEvalError> {
    detections
        .iter()
        .enumerate()
        .map(|(index, d)| {
            let bad = |reason: String| CocoEvalError::BadDetection {
                image_id,
                index,
                reason,
            };
            let Shape::Box([x1, y1, x2, y2]) = d.shape else {
                return Err(bad("a polygon (text detection), not an object box".into()));
            };
            let class = d.class_id.ok_or_else(|| bad("no class_id".into()))?;
            let category_id = *map.category_ids.get(class).ok_or_else(|| {
                bad(format!(
                    "class_id {class} is not one of the model's {} classes",
                    map.category_ids.len()
                ))
            })?;
            let bbox = [x1, y1, x2 - x1, y2 - y1];
            if !bbox.iter().all(|v| v.is_finite()) || !d.score.is_finite() {
                return Err(bad(format!(
                    "box {:?} or score {} is not finite",
                    [x1, y1, x2, y2],
                    d.score
                )));
            }
            Ok(CocoDetection {
                image_id,
                category_id,
                bbox,
                score: d.score,
            })
        })
        .collect()
}

impl CocoGt {
    /// The ground truth of an [`ObjectDataset`] (YOLO labels, VOC xml), numbered as
    /// `fusedet convert --to coco` (`data::objects::write_coco`) numbers it: image ids 1.. in
    /// sample order with `file_name` relative to `images_root`, category ids 1..=N in class
    /// order, annotation ids 1..; `bbox = [x_min, y_min, x_max - x_min, y_max - y_min]`,
    /// `area = w * h`, `iscrowd` from `crowd` (VOC's `difficult`).
    pub fn from_objects(ds: &ObjectDataset, images_root: &Path) -> Self {
        let mut images = Vec::with_capacity(ds.samples.len());
        let mut annotations = Vec::new();
        for (i, s) in ds.samples.iter().enumerate() {
            let file = s
                .image
                .strip_prefix(images_root)
                .unwrap_or(&s.image)
                .to_string_lossy()
                .replace('\\', "/");
            let image_id = i as i64 + 1;
            images.push(CocoGtImage {
                id: image_id,
                file_name: Some(file),
            });
            for b in &s.boxes {
                let [x0, y0, x1, y1] = b.bbox;
                annotations.push(CocoGtAnnotation {
                    id: annotations.len() as i64 + 1,
                    image_id,
                    category_id: b.class as i64 + 1,
                    bbox: [x0, y0, x1 - x0, y1 - y0],
                    area: (x1 - x0) * (y1 - y0),
                    iscrowd: b.crowd,
                });
            }
        }
        let categories = ds
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| CocoGtCategory {
                id: i as i64 + 1,
                name: n.clone(),
            })
            .collect();
        Self {
            images,
            annotations,
            categories,
        }
    }
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
            images: vec![
                CocoGtImage {
                    id: 1,
                    file_name: None,
                },
                CocoGtImage {
                    id: 2,
                    file_name: None,
                },
            ],
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

    fn cats(names: &[(i64, &str)]) -> Vec<CocoGtCategory> {
        names
            .iter()
            .map(|&(id, n)| CocoGtCategory { id, name: n.into() })
            .collect()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn darknet_coco_ids_are_the_documented_ranges() {
        let mut want: Vec<i64> = Vec::new();
        for (a, b) in [
            (1, 11),
            (13, 25),
            (27, 28),
            (31, 44),
            (46, 65),
            (67, 67),
            (70, 70),
        ] {
            want.extend(a..=b);
        }
        want.extend(72..=82);
        want.extend(84..=90);
        assert_eq!(DARKNET_COCO_IDS.to_vec(), want);
    }

    #[test]
    fn category_mapping_cases() {
        struct Case {
            what: &'static str,
            classes: Vec<String>,
            gt: Vec<CocoGtCategory>,
            want: Result<(Vec<i64>, CategoryRule), &'static [&'static str]>,
        }
        let coco_gt: Vec<CocoGtCategory> = DARKNET_COCO_IDS
            .iter()
            .map(|&id| CocoGtCategory {
                id,
                name: format!("coco{id}"),
            })
            .collect();
        let darknet_names: Vec<String> = (0..80).map(|k| format!("dn{k}")).collect();
        let mut renamed = darknet_names.clone();
        renamed[3] = "coco4".into(); // some names match, not all: still the table
        let cases = vec![
            Case {
                what: "names in another order than the ids",
                classes: names(&["dog", "cat"]),
                gt: cats(&[(1, "cat"), (7, "dog"), (9, "bird")]),
                want: Ok((vec![7, 1], CategoryRule::ByName)),
            },
            Case {
                what: "80 names that all match: by name, not the table",
                classes: (0..80)
                    .map(|k| format!("coco{}", DARKNET_COCO_IDS[79 - k]))
                    .collect(),
                gt: coco_gt.clone(),
                want: Ok((
                    DARKNET_COCO_IDS.iter().rev().copied().collect(),
                    CategoryRule::ByName,
                )),
            },
            Case {
                what: "80 Darknet names, COCO ids",
                classes: darknet_names.clone(),
                gt: coco_gt.clone(),
                want: Ok((DARKNET_COCO_IDS.to_vec(), CategoryRule::DarknetCocoIds)),
            },
            Case {
                what: "80 classes, a few names matching",
                classes: renamed,
                gt: coco_gt.clone(),
                want: Ok((DARKNET_COCO_IDS.to_vec(), CategoryRule::DarknetCocoIds)),
            },
            Case {
                what: "80 classes, a subset of COCO's categories in the GT",
                classes: darknet_names.clone(),
                gt: cats(&[(1, "person"), (90, "toothbrush")]),
                want: Ok((DARKNET_COCO_IDS.to_vec(), CategoryRule::DarknetCocoIds)),
            },
            Case {
                what: "80 classes, GT ids 1..=80 (not COCO's)",
                classes: darknet_names.clone(),
                gt: (1..=80)
                    .map(|i| CocoGtCategory {
                        id: i,
                        name: format!("x{i}"),
                    })
                    .collect(),
                want: Err(&[
                    "class 0 `dn0`",
                    "category id 12 (`x12`) is not a COCO category id",
                ]),
            },
            Case {
                what: "3 classes, one unknown",
                classes: names(&["cat", "zebra", "dog"]),
                gt: cats(&[(1, "cat"), (2, "dog")]),
                want: Err(&[
                    "model's 3 classes",
                    "class 1 `zebra`",
                    "only for models with 80 classes",
                ]),
            },
            Case {
                what: "a name shared by two categories",
                classes: names(&["cat"]),
                gt: cats(&[(1, "cat"), (2, "cat")]),
                want: Err(&["2 ground-truth categories are named `cat`"]),
            },
            Case {
                what: "no classes",
                classes: vec![],
                gt: cats(&[(1, "cat")]),
                want: Err(&["no classes"]),
            },
        ];
        let mut failures = Vec::new();
        for c in &cases {
            let got = map_categories(&c.classes, &c.gt);
            match (&got, &c.want) {
                (Ok(m), Ok((ids, rule))) if &m.category_ids == ids && m.rule == *rule => {}
                (Err(e), Err(parts)) if parts.iter().all(|p| e.to_string().contains(p)) => {}
                _ => failures.push(format!("{}: got {:?}", c.what, got.map(|m| m.rule))),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    fn obj(b: [f64; 4], score: f64, class_id: Option<usize>) -> Detection {
        Detection {
            shape: Shape::Box(b),
            score,
            class_id,
            class: None,
        }
    }

    #[test]
    fn detections_become_coco_results_or_a_named_error() {
        let map = CategoryMap {
            category_ids: vec![5, 9],
            rule: CategoryRule::ByName,
        };
        let r = coco_results(42, &[obj([10.0, 20.0, 15.5, 60.0], 0.75, Some(1))], &map).unwrap();
        assert_eq!(
            r,
            vec![CocoDetection {
                image_id: 42,
                category_id: 9,
                bbox: [10.0, 20.0, 5.5, 40.0],
                score: 0.75
            }]
        );
        let ok = obj([0.0, 0.0, 1.0, 1.0], 0.5, Some(0));
        for (bad, what) in [
            (obj([0.0, 0.0, 1.0, 1.0], 0.5, None), "no class_id"),
            (
                obj([0.0, 0.0, 1.0, 1.0], 0.5, Some(2)),
                "class_id 2 is not one of the model's 2",
            ),
            (obj([0.0, f64::NAN, 1.0, 1.0], 0.5, Some(0)), "not finite"),
            (Detection::polygon(vec![[0.0, 0.0]; 4], 0.5), "polygon"),
        ] {
            let e = coco_results(3, &[ok.clone(), bad], &map)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("image_id 3, detection 1") && e.contains(what),
                "{e}"
            );
        }
    }

    #[test]
    fn objects_ground_truth_is_what_convert_writes() {
        use crate::data::objects::{ObjectBox, ObjectSample, write_coco};
        let root = Path::new("/data/images");
        let ds = ObjectDataset {
            names: names(&["cat", "dog"]),
            samples: vec![
                ObjectSample {
                    image: root.join("a.jpg"),
                    width: 100,
                    height: 80,
                    boxes: vec![
                        ObjectBox {
                            class: 1,
                            bbox: [1.5, 2.0, 11.5, 22.0],
                            crowd: false,
                        },
                        ObjectBox {
                            class: 0,
                            bbox: [0.0, 0.0, 5.0, 5.0],
                            crowd: true,
                        },
                    ],
                },
                ObjectSample {
                    image: root.join("sub/b.png"),
                    width: 10,
                    height: 10,
                    boxes: vec![],
                },
            ],
        };
        let gt = CocoGt::from_objects(&ds, root);
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("gt.json");
        write_coco(&ds, &json, root).unwrap();
        assert_eq!(read_coco_gt(&json).unwrap(), gt);
        assert_eq!(gt.images[1].file_name.as_deref(), Some("sub/b.png"));
        assert_eq!(gt.annotations[0].bbox, [1.5, 2.0, 10.0, 20.0]);
        assert_eq!(gt.annotations[0].category_id, 2);
        assert_eq!(gt.annotations[0].area, 200.0);
    }

    #[test]
    fn json_that_does_not_fit_names_the_entry_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        let gt_cases = [
            (
                r#"{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,1,1]}]}"#,
                "annotations[0]: missing field `area`",
            ),
            (
                r#"{"images":[{"id":1},{"id":"2"}],"categories":[]}"#,
                "images[1].id: expected an integer, found \"2\"",
            ),
            (
                r#"{"images":[{"id":1}],"categories":[],"annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,1],"area":1}]}"#,
                "annotations[0].bbox: expected 4 numbers [x, y, w, h], found [0,0,1]",
            ),
            (r#"{"images":[{"id":1}]}"#, "no `categories` list"),
            (r#"[1, 2]"#, "expected a json object"),
        ];
        for (text, want) in gt_cases {
            std::fs::write(&p, text).unwrap();
            let e = read_coco_gt(&p).unwrap_err().to_string();
            assert!(e.contains("x.json: ") && e.contains(want), "{text}: {e}");
        }
        let res_cases = [
            (
                r#"[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":0.5},{"image_id":1,"category_id":1,"bbox":[0,0,1,1]}]"#,
                "results[1]: missing field `score`",
            ),
            (
                r#"[{"image_id":1.5,"category_id":1,"bbox":[0,0,1,1],"score":0.5}]"#,
                "results[0].image_id: expected an integer, found 1.5",
            ),
            (r#"{"image_id":1}"#, "results: expected a list"),
        ];
        for (text, want) in res_cases {
            std::fs::write(&p, text).unwrap();
            let e = read_coco_results(&p).unwrap_err().to_string();
            assert!(e.contains("x.json: ") && e.contains(want), "{text}: {e}");
        }
        // Not json at all: the parser's line.
        std::fs::write(&p, "[\n{\"image_id\": }]").unwrap();
        let e = read_coco_results(&p).unwrap_err().to_string();
        assert!(e.contains("x.json:2"), "{e}");
    }

    #[test]
    fn pr_curves_average_to_the_stats() {
        let b = [10.0, 10.0, 50.0, 40.0];
        let gt = gt_with(vec![
            ann(1, b, false),
            ann(2, [100.0, 100.0, 30.0, 30.0], false),
        ]);
        let e = coco_evaluate(&gt, &[det(b, 0.9), det([300.0, 0.0, 9.0, 9.0], 0.8)]).unwrap();
        let c = e.pr_curve(0, 0).unwrap();
        assert_eq!(c.len(), 101);
        let mean = c.iter().sum::<f64>() / 101.0;
        assert!((mean - e.stats.ap50).abs() < 1e-12);
        assert_eq!(e.category_ap_at(0)[0], Some(mean));
    }
}
