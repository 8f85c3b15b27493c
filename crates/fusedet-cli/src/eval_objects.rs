//! `fusedet eval --format coco|yolo|voc`: object detection scored as pycocotools' `COCOeval`
//! (bbox) scores it, plus Pascal VOC AP (11-point and all-point) for `--format voc`.
//!
//! Ground truth: a COCO instances json (`--labels instances.json`), a YOLO dataset (`--labels
//! DATASET.yaml`, labels in the `labels` directory beside `--images`, or `--labels DIR --names
//! DATASET.yaml`) or VOC xml (`--labels Annotations/`, optional `--names` for the class
//! order). YOLO and VOC become COCO ground truth in memory exactly as `fusedet convert --to
//! coco` writes it (`CocoGt::from_objects`): image ids 1.. in file-name order, category ids
//! 1..=N in class order.
//!
//! Detections: a COCO results json (`--predictions`), or an object detector run over the
//! images through [`run_objects`]; [`object_detector`] is where the model is built (the
//! seam: see its comment).
//!
//! Outputs: the 12 COCOeval numbers printed as pycocotools prints them; `--json`: the summary
//! (`stats`, `map`, `map50`, `map75`, per-class AP, and for VOC `ap_voc07` and `ap`);
//! `--out DIR`: `results.json` (when a model ran), `per_class_ap.csv`, `pr_curve.png`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use fusedet::Detection;
use fusedet::data::objects::{self, ObjectDataset};
use fusedet::metric::coco::{
    self, CategoryMap, CategoryRule, CocoDetection, CocoEvaluation, CocoGt,
};
use fusedet::metric::voc::{self, VocApMethod, VocDetection, VocGtBox};
use fusedet::zoo;
use image::{Rgb, RgbImage};
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::args::{EvalArgs, ObjectFormat};
use crate::detect::{progress, save_png};

/// The ground truth being evaluated.
pub struct ObjectGt {
    /// Its format.
    pub format: ObjectFormat,
    /// What COCOeval scores (the images left by `--skip` / `--limit`).
    pub coco: CocoGt,
    /// The image file of each `coco.images` entry; `None` where the json has no `file_name`.
    pub files: Vec<Option<PathBuf>>,
    /// For VOC: the dataset, its samples in `coco.images` order (VOC AP needs `difficult`).
    pub voc: Option<ObjectDataset>,
    /// The image ids of the whole annotation file, before `--skip` / `--limit`.
    all_image_ids: HashSet<i64>,
    /// The annotation file or directory, for messages.
    pub labels: PathBuf,
}

/// An object detector on a batch of image files: one list of detections per file, in order;
/// each a `Shape::Box([x1, y1, x2, y2])` in original pixels with `score` and `class_id:
/// Some(index into the model's classes)`.
pub type DetectFn<'a> = dyn FnMut(&[PathBuf]) -> Result<Vec<Vec<Detection>>> + 'a;

/// The entry point from `eval::run` for the object formats.
pub fn run(a: &EvalArgs, format: ObjectFormat) -> Result<()> {
    if a.sweep {
        bail!(
            "--sweep is for the text formats (MMOCR's box-score sweep), not --format {}",
            format.name()
        );
    }
    let gt = load_gt(a, format)?;
    match &a.predictions {
        Some(path) => {
            let results = coco::read_coco_results(path)?;
            let results = gt.keep_evaluated(results);
            score(a, &gt, &results, None).with_context(|| format!("scoring {}", path.display()))
        }
        None => {
            let (classes, mut detect) = object_detector(a, format)?;
            run_objects(a, &gt, &classes, &mut *detect)
        }
    }
}

/// Builds the object detector named by `a.detector.model` with the evaluation defaults
/// (Darknet's `detector valid`: threshold 0.005, NMS 0.45; each overridable) and returns its
/// class names (by class index) and a closure detecting in a batch of image files (see
/// [`DetectFn`]), which [`run`] hands to [`run_objects`].
fn object_detector(
    a: &EvalArgs,
    format: ObjectFormat,
) -> Result<(Vec<String>, Box<DetectFn<'static>>)> {
    // A zoo text model is refused before it is fetched or loaded.
    let zoo_text = zoo::find(&a.detector.model).is_ok_and(|m| m.family != zoo::Family::Darknet);
    let det = if zoo_text {
        None
    } else {
        Some(a.detector.build_for(true)?)
    };
    let Some(det) = det.filter(|d| d.object().is_some()) else {
        bail!(
            "--format {} evaluates object detectors; `{}` is a text detector (text formats: \
             icdar15, paddle, ...)",
            format.name(),
            a.detector.model
        );
    };
    let names = det.object().map(|o| o.names.clone()).unwrap_or_default();
    let batch = a.detector.batch_size;
    let input = a.detector.input.clone();
    let quiet = indicatif::ProgressBar::hidden();
    Ok((
        names,
        Box::new(move |files: &[PathBuf]| {
            let imgs = files
                .iter()
                .map(|f| input.load(f, &quiet).map(|(img, _)| img))
                .collect::<Result<Vec<_>, String>>()
                .map_err(anyhow::Error::msg)?;
            let refs: Vec<&RgbImage> = imgs.iter().collect();
            Ok(det.detect_batch(&refs, batch)?)
        }),
    ))
}

/// Runs an object detector over the ground truth's images and scores its detections.
///
/// `classes` are the model's class names by class index; they are paired with the ground
/// truth's categories by `fusedet::metric::coco::map_categories` (by name, else Darknet's
/// 80 -> 91 table for an 80-class model, else an error). `detect` is called with batches of
/// at most `--batch-size` image files, in ground-truth order, and must return one list per
/// file (see [`DetectFn`]). Image ids come from the annotation file by `file_name`.
pub fn run_objects(
    a: &EvalArgs,
    gt: &ObjectGt,
    classes: &[String],
    detect: &mut DetectFn<'_>,
) -> Result<()> {
    let map = coco::map_categories(classes, &gt.coco.categories)
        .with_context(|| format!("pairing the model's classes with {}", gt.labels.display()))?;
    let mut files = Vec::with_capacity(gt.files.len());
    for (im, f) in gt.coco.images.iter().zip(&gt.files) {
        let Some(f) = f else {
            bail!(
                "{}: image id {} has no file_name, so no detector can run on it",
                gt.labels.display(),
                im.id
            );
        };
        if !f.is_file() {
            bail!(
                "{}: image id {} is {}, which does not exist",
                gt.labels.display(),
                im.id,
                f.display()
            );
        }
        files.push(f.clone());
    }
    let bar = progress(files.len())?;
    let batch = a.detector.batch_size.max(1);
    let mut results = Vec::new();
    for (c, chunk) in files.chunks(batch).enumerate() {
        let dets = detect(chunk)?;
        if dets.len() != chunk.len() {
            bail!(
                "the detector returned {} lists for {} images",
                dets.len(),
                chunk.len()
            );
        }
        for (j, (d, f)) in dets.iter().zip(chunk).enumerate() {
            let id = gt.coco.images[c * batch + j].id;
            results.extend(
                coco::coco_results(id, d, &map)
                    .with_context(|| format!("detections on {}", f.display()))?,
            );
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    score(a, gt, &results, Some(&map))
}

/// Reads the ground truth of `--format` and cuts it to `--skip` / `--limit`.
pub fn load_gt(a: &EvalArgs, format: ObjectFormat) -> Result<ObjectGt> {
    let names = match &a.names {
        Some(p) => Some(objects::read_yolo_names(p)?),
        None => None,
    };
    let (coco, files, voc) = match format {
        ObjectFormat::Coco => {
            if names.is_some() {
                bail!("--names is for --format yolo|voc: a COCO json names its categories");
            }
            let gt = coco::read_coco_gt(&a.labels)?;
            let files = gt
                .images
                .iter()
                .map(|i| i.file_name.as_ref().map(|f| a.images.join(f)))
                .collect();
            (gt, files, None)
        }
        ObjectFormat::Yolo => {
            let (labels, names) = if a.labels.is_dir() {
                let Some(names) = names else {
                    bail!(
                        "--format yolo with a label directory needs --names DATASET.yaml for the class names"
                    );
                };
                (a.labels.clone(), names)
            } else {
                if names.is_some() {
                    bail!(
                        "--format yolo: give the class names once, in --labels DATASET.yaml or --names"
                    );
                }
                let names = objects::read_yolo_names(&a.labels)?;
                (yolo_label_dir(&a.images)?, names)
            };
            let ds = objects::read_yolo(&a.images, &labels, names)?;
            let files = ds.samples.iter().map(|s| Some(s.image.clone())).collect();
            (CocoGt::from_objects(&ds, &a.images), files, None)
        }
        ObjectFormat::Voc => {
            let ds = objects::read_voc(&a.images, &a.labels, names)?;
            let files = ds.samples.iter().map(|s| Some(s.image.clone())).collect();
            (CocoGt::from_objects(&ds, &a.images), files, Some(ds))
        }
    };
    let mut gt = ObjectGt {
        format,
        all_image_ids: coco.images.iter().map(|i| i.id).collect(),
        coco,
        files,
        voc,
        labels: a.labels.clone(),
    };
    if gt.coco.images.is_empty() {
        bail!("{}: no images", gt.labels.display());
    }
    let n = gt.coco.images.len();
    let (lo, hi) = (
        a.skip.min(n),
        a.skip.saturating_add(a.limit.unwrap_or(usize::MAX)).min(n),
    );
    if lo == hi {
        bail!("no images left after --skip {} (of {n})", a.skip);
    }
    if (lo, hi) != (0, n) {
        gt.coco.images = gt.coco.images[lo..hi].to_vec();
        gt.files = gt.files[lo..hi].to_vec();
        if let Some(ds) = &mut gt.voc {
            ds.samples = ds.samples[lo..hi].to_vec();
        }
        let kept: HashSet<i64> = gt.coco.images.iter().map(|i| i.id).collect();
        gt.coco.annotations.retain(|x| kept.contains(&x.image_id));
    }
    Ok(gt)
}

/// Ultralytics' rule: the labels of `.../images/<x>` are in `.../labels/<x>` (the last
/// `images` component of the path).
fn yolo_label_dir(images: &Path) -> Result<PathBuf> {
    let parts: Vec<Component> = images.components().collect();
    let Some(k) = parts.iter().rposition(|c| c.as_os_str() == "images") else {
        bail!(
            "--format yolo: {} has no `images` component, so its `labels` directory is unknown \
             (YOLO keeps .../images/X beside .../labels/X): pass --labels LABEL_DIR --names DATASET.yaml",
            images.display()
        );
    };
    let mut out = PathBuf::new();
    for (i, c) in parts.iter().enumerate() {
        out.push(if i == k {
            "labels".as_ref()
        } else {
            c.as_os_str()
        });
    }
    if !out.is_dir() {
        bail!(
            "--format yolo: the label directory {} (beside {}) does not exist",
            out.display(),
            images.display()
        );
    }
    Ok(out)
}

impl ObjectGt {
    /// The results on the evaluated images; those on images that `--skip` / `--limit` left out
    /// are dropped (with a note), those on images the annotation file does not have are kept,
    /// so that scoring refuses them as pycocotools does.
    fn keep_evaluated(&self, mut results: Vec<CocoDetection>) -> Vec<CocoDetection> {
        let kept: HashSet<i64> = self.coco.images.iter().map(|i| i.id).collect();
        let before = results.len();
        results.retain(|r| kept.contains(&r.image_id) || !self.all_image_ids.contains(&r.image_id));
        if results.len() < before {
            eprintln!(
                "note: {} results on images left out by --skip/--limit are not scored",
                before - results.len()
            );
        }
        results
    }
}

/// Prints and writes everything about one scored result set.
fn score(
    a: &EvalArgs,
    gt: &ObjectGt,
    results: &[CocoDetection],
    map: Option<&CategoryMap>,
) -> Result<()> {
    let ev = coco::coco_evaluate(&gt.coco, results)?;
    let known: HashSet<i64> = gt.coco.categories.iter().map(|c| c.id).collect();
    let unknown: BTreeSet<i64> = results
        .iter()
        .map(|r| r.category_id)
        .filter(|c| !known.contains(c))
        .collect();
    if !unknown.is_empty() {
        let n = results
            .iter()
            .filter(|r| !known.contains(&r.category_id))
            .count();
        let ids: Vec<String> = unknown.iter().take(10).map(|c| c.to_string()).collect();
        eprintln!(
            "note: {n} results have category ids that are not categories of the ground truth \
             ({}{}): not scored, as pycocotools does",
            ids.join(", "),
            if unknown.len() > 10 { ", ..." } else { "" }
        );
    }
    let rows = class_rows(gt, &ev, results);
    let s = ev.stats.to_array();
    let crowd = gt.coco.annotations.iter().filter(|x| x.iscrowd).count();
    println!(
        "images {}  ground-truth boxes {} ({crowd} crowd{})  results {}  categories {}{}",
        gt.coco.images.len(),
        gt.coco.annotations.len(),
        if gt.format == ObjectFormat::Voc {
            " = VOC difficult"
        } else {
            ""
        },
        results.len(),
        gt.coco.categories.len(),
        match map.map(|m| m.rule) {
            Some(CategoryRule::ByName) => "  (model classes paired by name)",
            Some(CategoryRule::DarknetCocoIds) => "  (model classes paired by Darknet's coco_ids)",
            None => "",
        }
    );
    print!("{}", pycocotools_summary(&s));
    let voc = gt.voc.as_ref().map(|_| voc_summary(&rows));
    if let Some((ap07, ap)) = &voc {
        println!(
            "VOC AP @ IoU > 0.5 (py-faster-rcnn voc_eval), mean over {} classes: 11-point (VOC2007) {}  all-point (VOC2010+) {}",
            rows.iter().filter(|r| r.ap_voc.is_some()).count(),
            fmt_opt(ap07.mean, 4),
            fmt_opt(ap.mean, 4)
        );
    }
    if let Some(path) = &a.json {
        let summary = Summary {
            format: gt.format,
            images: gt.coco.images.len(),
            gt_boxes: gt.coco.annotations.len() - crowd,
            crowd,
            results: results.len(),
            model: a.predictions.is_none().then_some(a.detector.model.as_str()),
            predictions: a.predictions.as_ref().map(|p| p.display().to_string()),
            category_rule: map.map(|m| m.rule),
            stats: s,
            map: s[0],
            map50: s[1],
            map75: s[2],
            per_class: &rows,
            ap_voc07: voc.as_ref().map(|v| &v.0),
            ap: voc.as_ref().map(|v| &v.1),
        };
        zoo::write_atomic(path, serde_json::to_string_pretty(&summary)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let mut wrote = Vec::new();
        if a.predictions.is_none() {
            let p = out.join("results.json");
            zoo::write_atomic(&p, serde_json::to_string(results)?.as_bytes())
                .with_context(|| format!("writing {}", p.display()))?;
            wrote.push("results.json");
        }
        let p = out.join("per_class_ap.csv");
        zoo::write_atomic(&p, &per_class_csv(&rows, gt.voc.is_some())?)
            .with_context(|| format!("writing {}", p.display()))?;
        wrote.push("per_class_ap.csv");
        save_png(&pr_curve_png(&ev, &rows, s[1]), &out.join("pr_curve.png"))?;
        wrote.push("pr_curve.png");
        eprintln!("wrote {} in {}", wrote.join(", "), out.display());
    }
    Ok(())
}

/// The 12 lines of pycocotools' `COCOeval.summarize()`, formatted as it formats them.
pub fn pycocotools_summary(s: &[f64; 12]) -> String {
    let lines = [
        ("Average Precision", "(AP)", "0.50:0.95", "all", 100),
        ("Average Precision", "(AP)", "0.50", "all", 100),
        ("Average Precision", "(AP)", "0.75", "all", 100),
        ("Average Precision", "(AP)", "0.50:0.95", "small", 100),
        ("Average Precision", "(AP)", "0.50:0.95", "medium", 100),
        ("Average Precision", "(AP)", "0.50:0.95", "large", 100),
        ("Average Recall", "(AR)", "0.50:0.95", "all", 1),
        ("Average Recall", "(AR)", "0.50:0.95", "all", 10),
        ("Average Recall", "(AR)", "0.50:0.95", "all", 100),
        ("Average Recall", "(AR)", "0.50:0.95", "small", 100),
        ("Average Recall", "(AR)", "0.50:0.95", "medium", 100),
        ("Average Recall", "(AR)", "0.50:0.95", "large", 100),
    ];
    let mut out = String::new();
    for ((title, kind, iou, area, md), v) in lines.iter().zip(s) {
        out.push_str(&format!(
            " {title:<18} {kind} @[ IoU={iou:<9} | area={area:>6} | maxDets={md:>3} ] = {v:.3}\n"
        ));
    }
    out
}

/// One category's numbers.
#[derive(Serialize)]
struct ClassRow {
    class: String,
    category_id: i64,
    /// AP @ IoU 0.50:0.95 (COCOeval, all areas, 100 detections); `None`: no GT.
    ap: Option<f64>,
    /// AP @ IoU 0.50.
    ap50: Option<f64>,
    /// Non-crowd (for VOC: non-difficult) GT boxes.
    gt: usize,
    /// VOC 11-point AP.
    #[serde(skip_serializing_if = "Option::is_none")]
    ap_voc07: Option<f64>,
    /// VOC all-point AP.
    #[serde(skip_serializing_if = "Option::is_none")]
    ap_voc: Option<f64>,
}

fn class_rows(gt: &ObjectGt, ev: &CocoEvaluation, results: &[CocoDetection]) -> Vec<ClassRow> {
    let names: HashMap<i64, &str> = gt
        .coco
        .categories
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let ap = ev.category_ap();
    let ap50 = ev.category_ap_at(0);
    let mut rows: Vec<ClassRow> = ev
        .category_ids
        .iter()
        .enumerate()
        .map(|(k, &id)| ClassRow {
            class: names.get(&id).copied().unwrap_or_default().to_string(),
            category_id: id,
            ap: ap[k],
            ap50: ap50[k],
            gt: gt
                .coco
                .annotations
                .iter()
                .filter(|x| x.category_id == id && !x.iscrowd)
                .count(),
            ap_voc07: None,
            ap_voc: None,
        })
        .collect();
    if let Some(ds) = &gt.voc {
        // Category id c + 1 is class c (`CocoGt::from_objects`); image id i + 1 is sample i
        // of the whole dataset, so index by id, not by position.
        let index: HashMap<i64, usize> = gt
            .coco
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.id, i))
            .collect();
        for row in &mut rows {
            let class = (row.category_id - 1) as usize;
            let gts: Vec<VocGtBox> = ds
                .samples
                .iter()
                .enumerate()
                .flat_map(|(i, s)| {
                    s.boxes
                        .iter()
                        .filter(|b| b.class == class)
                        .map(move |b| VocGtBox {
                            image: i,
                            bbox: b.bbox,
                            difficult: b.crowd,
                        })
                })
                .collect();
            let dets: Vec<VocDetection> = results
                .iter()
                .filter(|r| r.category_id == row.category_id)
                .filter_map(|r| {
                    let [x, y, w, h] = r.bbox;
                    Some(VocDetection {
                        image: *index.get(&r.image_id)?,
                        bbox: [x, y, x + w, y + h],
                        score: r.score,
                    })
                })
                .collect();
            if let Some(v) = voc::voc_eval(&gts, &dets, 0.5, VocApMethod::AllPoint) {
                row.ap_voc = Some(v.ap);
                row.ap_voc07 = Some(voc::voc_ap(
                    &v.recall,
                    &v.precision,
                    VocApMethod::ElevenPoint,
                ));
            }
        }
    }
    rows
}

/// A VOC AP: the mean over the classes with positives, and each class's.
#[derive(Serialize)]
struct VocAp {
    mean: Option<f64>,
    per_class: NamedValues,
}

/// `{"name": value, ...}` in the given order.
struct NamedValues(Vec<(String, Option<f64>)>);

impl Serialize for NamedValues {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

fn mean(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = v.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// (11-point, all-point).
fn voc_summary(rows: &[ClassRow]) -> (VocAp, VocAp) {
    let make = |f: fn(&ClassRow) -> Option<f64>| VocAp {
        mean: mean(rows.iter().map(f)),
        per_class: NamedValues(rows.iter().map(|r| (r.class.clone(), f(r))).collect()),
    };
    (make(|r| r.ap_voc07), make(|r| r.ap_voc))
}

#[derive(Serialize)]
struct Summary<'a> {
    format: ObjectFormat,
    images: usize,
    gt_boxes: usize,
    crowd: usize,
    results: usize,
    model: Option<&'a str>,
    predictions: Option<String>,
    category_rule: Option<CategoryRule>,
    /// COCOeval's 12 numbers.
    stats: [f64; 12],
    map: f64,
    map50: f64,
    map75: f64,
    per_class: &'a [ClassRow],
    #[serde(skip_serializing_if = "Option::is_none")]
    ap_voc07: Option<&'a VocAp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ap: Option<&'a VocAp>,
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_default()
}

fn per_class_csv(rows: &[ClassRow], voc: bool) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["class", "category_id", "ap", "ap50", "gt"];
    if voc {
        header.extend(["ap_voc07", "ap_voc"]);
    }
    w.write_record(&header)?;
    for r in rows {
        let mut rec = vec![
            r.class.clone(),
            r.category_id.to_string(),
            fmt_opt(r.ap, 6),
            fmt_opt(r.ap50, 6),
            r.gt.to_string(),
        ];
        if voc {
            rec.extend([fmt_opt(r.ap_voc07, 6), fmt_opt(r.ap_voc, 6)]);
        }
        w.write_record(&rec)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Colours of the per-class curves.
const PALETTE: [[u8; 3]; 5] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
];

/// Precision against recall at IoU 0.50 (area all, 100 detections; COCOeval's interpolated
/// precision at its 101 recall thresholds): the mean over categories (its average is
/// `map50`) and the categories with the most GT boxes, up to five.
fn pr_curve_png(ev: &CocoEvaluation, rows: &[ClassRow], map50: f64) -> RgbImage {
    let (w, h) = (1000u32, 600u32);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let (l, r, t, b) = (70.0, 640.0, 60.0, 540.0);
    let to_px = |x: f64, y: f64| [l + (r - l) * x, b - (b - t) * y];
    let grey = Rgb([220, 220, 220]);
    let black = [0, 0, 0];
    use fusedet::draw::{draw_polygon, draw_text, text_width};
    for i in 0..=5 {
        let v = i as f64 / 5.0;
        let label = format!("{v:.1}");
        let [x, _] = to_px(v, 0.0);
        let [_, y] = to_px(0.0, v);
        if i > 0 {
            draw_polygon(&mut img, &[to_px(v, 0.0), to_px(v, 1.0)], grey, 1);
            draw_polygon(&mut img, &[to_px(0.0, v), to_px(1.0, v)], grey, 1);
        }
        let tw = text_width(&label, 13.0);
        draw_text(
            &mut img,
            &label,
            x as f32 - tw / 2.0,
            b as f32 + 6.0,
            13.0,
            black,
        );
        draw_text(
            &mut img,
            &label,
            l as f32 - tw - 6.0,
            y as f32 - 8.0,
            13.0,
            black,
        );
    }
    draw_polygon(&mut img, &[to_px(0.0, 0.0), to_px(1.0, 0.0)], Rgb(black), 2);
    draw_polygon(&mut img, &[to_px(0.0, 0.0), to_px(0.0, 1.0)], Rgb(black), 2);
    let xl = "recall";
    draw_text(
        &mut img,
        xl,
        ((l + r) / 2.0) as f32 - text_width(xl, 15.0) / 2.0,
        b as f32 + 26.0,
        15.0,
        black,
    );
    draw_text(
        &mut img,
        "precision",
        l as f32 - 40.0,
        t as f32 - 24.0,
        15.0,
        black,
    );
    draw_text(
        &mut img,
        "Precision-recall at IoU 0.50 (area all, maxDets 100)",
        l as f32,
        10.0,
        18.0,
        black,
    );

    let mut curves: Vec<(String, [u8; 3], u32, Vec<f64>)> = Vec::new();
    let per: Vec<Option<Vec<f64>>> = (0..ev.category_ids.len())
        .map(|k| ev.pr_curve(0, k))
        .collect();
    let valid: Vec<&Vec<f64>> = per.iter().flatten().collect();
    if !valid.is_empty() {
        let mean: Vec<f64> = (0..valid[0].len())
            .map(|i| valid.iter().map(|c| c[i]).sum::<f64>() / valid.len() as f64)
            .collect();
        curves.push((
            format!("mean of {} classes: AP50 {map50:.3}", valid.len()),
            black,
            4,
            mean,
        ));
    }
    let mut order: Vec<usize> = (0..rows.len()).filter(|&k| per[k].is_some()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(rows[k].gt));
    for (n, &k) in order.iter().take(PALETTE.len()).enumerate() {
        let name: String = rows[k].class.chars().take(16).collect();
        curves.push((
            format!(
                "{name}: AP50 {:.3} ({} GT)",
                rows[k].ap50.unwrap_or(0.0),
                rows[k].gt
            ),
            PALETTE[n],
            2,
            per[k].clone().unwrap_or_default(),
        ));
    }
    // Per-class curves first, the mean on top; each ends where its precision drops to 0 for
    // good (past its largest recall), not along the axis.
    for (_, color, thick, c) in curves.iter().rev() {
        let last = c.len().saturating_sub(1).max(1) as f64;
        let end = c.iter().rposition(|&p| p > 0.0).map_or(0, |i| i + 1);
        let pts: Vec<[f64; 2]> = c
            .iter()
            .enumerate()
            .take(end + 1)
            .map(|(i, &p)| to_px(i as f64 / last, p))
            .collect();
        for s in pts.windows(2) {
            draw_polygon(&mut img, s, Rgb(*color), *thick);
        }
    }
    let (lx, mut ly) = (r as f32 + 24.0, t as f32);
    for (label, color, thick, _) in &curves {
        draw_polygon(
            &mut img,
            &[
                [lx as f64, ly as f64 + 8.0],
                [lx as f64 + 24.0, ly as f64 + 8.0],
            ],
            Rgb(*color),
            *thick,
        );
        draw_text(&mut img, label, lx + 30.0, ly, 13.0, *color);
        ly += 22.0;
    }
    if curves.is_empty() {
        draw_text(
            &mut img,
            "no category has ground truth",
            l as f32 + 20.0,
            t as f32 + 20.0,
            15.0,
            black,
        );
    }
    img
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use fusedet::Shape;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        eval: EvalArgs,
    }

    fn args(v: &[&str]) -> EvalArgs {
        let mut all = vec!["eval"];
        all.extend(v);
        Cli::try_parse_from(all).unwrap().eval
    }

    /// Two images with a box each, category ids `ids`, names `cat`, `dog`.
    fn dataset(dir: &Path, ids: [i64; 2]) -> PathBuf {
        for f in ["a.png", "b.png"] {
            RgbImage::new(100, 80).save(dir.join(f)).unwrap();
        }
        let g = dir.join("instances.json");
        std::fs::write(
            &g,
            format!(
                r#"{{"images": [{{"id": 5, "file_name": "a.png"}}, {{"id": 6, "file_name": "b.png"}}],
                "categories": [{{"id": {}, "name": "cat"}}, {{"id": {}, "name": "dog"}}],
                "annotations": [
                  {{"id": 1, "image_id": 5, "category_id": {}, "bbox": [10, 10, 40, 30], "area": 1200}},
                  {{"id": 2, "image_id": 6, "category_id": {}, "bbox": [5, 5, 60, 60], "area": 3600}}]}}"#,
                ids[0], ids[1], ids[0], ids[1]
            ),
        )
        .unwrap();
        g
    }

    fn obj(b: [f64; 4], class_id: usize) -> Detection {
        Detection {
            shape: Shape::Box(b),
            score: 0.9,
            class_id: Some(class_id),
            class: None,
        }
    }

    /// A fake detector: for `a.png` the cat box as class `cat`, for `b.png` the dog box as
    /// class `dog`, each by its index in `classes`; records the batches it saw.
    fn fake<'a>(
        classes: &'a [String],
        batches: &'a mut Vec<usize>,
    ) -> impl FnMut(&[PathBuf]) -> Result<Vec<Vec<Detection>>> + 'a {
        let idx = |n: &str| classes.iter().position(|c| c == n).unwrap();
        let (cat, dog) = (idx("cat"), idx("dog"));
        move |files: &[PathBuf]| {
            batches.push(files.len());
            Ok(files
                .iter()
                .map(|f| match f.file_name().unwrap().to_str().unwrap() {
                    "a.png" => vec![obj([10.0, 10.0, 50.0, 40.0], cat)],
                    _ => vec![obj([5.0, 5.0, 65.0, 65.0], dog)],
                })
                .collect())
        }
    }

    fn run_fake(ids: [i64; 2], classes: Vec<String>) -> Result<(Value, Value)> {
        let dir = tempfile::tempdir().unwrap();
        let g = dataset(dir.path(), ids);
        let (json, out) = (dir.path().join("s.json"), dir.path().join("out"));
        let a = args(&[
            "--format",
            "coco",
            "--images",
            dir.path().to_str().unwrap(),
            "--labels",
            g.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--batch-size",
            "1",
        ]);
        let EvalFormat::Objects(format) = a.format else {
            panic!("coco is an object format")
        };
        let gt = load_gt(&a, format)?;
        let mut batches = Vec::new();
        run_objects(&a, &gt, &classes, &mut fake(&classes, &mut batches))?;
        assert_eq!(batches, vec![1, 1]);
        let summary: Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json"))?)?;
        assert!(out.join("per_class_ap.csv").is_file() && out.join("pr_curve.png").is_file());
        Ok((summary, results))
    }

    use crate::args::EvalFormat;
    use serde_json::Value;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_model_paired_by_name_gets_image_and_category_ids_from_the_ground_truth() {
        let (summary, results) = run_fake([3, 7], strings(&["dog", "cat"])).unwrap();
        assert_eq!(summary["category_rule"], "by_name");
        assert!(
            (summary["map"].as_f64().unwrap() - 1.0).abs() < 1e-12,
            "{summary}"
        );
        assert_eq!(
            results,
            serde_json::json!([
                {"image_id": 5, "category_id": 3, "bbox": [10.0, 10.0, 40.0, 30.0], "score": 0.9},
                {"image_id": 6, "category_id": 7, "bbox": [5.0, 5.0, 60.0, 60.0], "score": 0.9}
            ])
        );
    }

    #[test]
    fn an_80_class_model_with_other_names_is_paired_by_darknets_table() {
        // Not every class name is a GT category name: Darknet's table, where class 16 is
        // COCO category 18 and class 79 is category 90.
        let mut classes: Vec<String> = (0..80).map(|k| format!("class{k}")).collect();
        classes[16] = "cat".into();
        classes[79] = "dog".into();
        let (summary, results) = run_fake([18, 90], classes).unwrap();
        assert_eq!(summary["category_rule"], "darknet_coco_ids");
        assert!(
            (summary["map"].as_f64().unwrap() - 1.0).abs() < 1e-12,
            "{summary}"
        );
        assert_eq!(results[0]["category_id"], 18);
        assert_eq!(results[1]["category_id"], 90);
    }

    #[test]
    fn a_model_whose_classes_cannot_be_paired_is_refused() {
        let e = run_fake([1, 2], strings(&["cat", "dog", "zebra"])).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("instances.json") && msg.contains("class 2 `zebra`"),
            "{msg}"
        );
    }

    #[test]
    fn a_detector_that_returns_too_few_lists_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let g = dataset(dir.path(), [1, 2]);
        let a = args(&[
            "--format",
            "coco",
            "--images",
            dir.path().to_str().unwrap(),
            "--labels",
            g.to_str().unwrap(),
        ]);
        let gt = load_gt(&a, ObjectFormat::Coco).unwrap();
        let mut det = |_: &[PathBuf]| -> Result<Vec<Vec<Detection>>> { Ok(vec![]) };
        let e = run_objects(&a, &gt, &strings(&["cat", "dog"]), &mut det).unwrap_err();
        assert!(e.to_string().contains("0 lists for 2 images"), "{e}");
    }

    #[test]
    fn the_summary_prints_as_pycocotools_prints_it() {
        let s = pycocotools_summary(&[
            0.5, 0.75, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.125,
        ]);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.500"
        );
        assert_eq!(
            lines[2],
            " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = -1.000"
        );
        assert_eq!(
            lines[6],
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.000"
        );
        assert_eq!(
            lines[11],
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.125"
        );
    }

    #[test]
    fn yolo_labels_are_found_beside_the_images() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images/val");
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(dir.path().join("labels/val")).unwrap();
        assert_eq!(
            yolo_label_dir(&images).unwrap(),
            dir.path().join("labels/val")
        );
        let e = yolo_label_dir(&dir.path().join("images/test")).unwrap_err();
        assert!(e.to_string().contains("labels/test"), "{e}");
    }
}
