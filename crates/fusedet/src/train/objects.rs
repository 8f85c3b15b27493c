//! `fusedet train` for object detectors (`arch = "yolov3"`: the YOLOv3 baseline and ASFF,
//! SPEC §9.4): object data (YOLO txt, COCO json, VOC xml or the synthetic shapes), the
//! reference's loss with each term logged, SGD with the `(t/T)^4` burn-in and cosine decay
//! ([`super::OptimConfig`]), the DropBlock schedule, EMA, COCO-AP validation, and the same run
//! directory (checkpoints with checksums, `--resume`, `weights/`) as text detectors, plus
//! `names.txt` so that the run directory works as a model for `detect` and `eval`.
//!
//! Each sample: SSD's photometric distortion (optional), the reference's plain square resize
//! (Darknet's bilinear stretch, as inference does) to the step's input side (fixed, or drawn
//! every few steps for multi-scale training), a horizontal mirror, ImageNet normalisation; with
//! `objects.mixup`, `expand`, `iou_crop` or `affine` on, the reference's whole `TrainTransform`
//! order instead ([`crate::object_augment`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use image::RgbImage;

use super::data::{DataCheck, DataSource, sample_index, spawn_loader};
pub use super::object_config::ObjectTrainConfig;
use super::{
    CsvRow, Event, Start, TrainConfig, TrainOptions, TrainSummary, check_finite, checkpoint_step,
    keep_best, plot, read_rows, settle_problems, start_or_resume, write_rows,
};
use crate::data::objects::{ObjectBox, ObjectDataset, ObjectSample};
use crate::error::{ConfigError, Error, TrainError};
use crate::fsutil::write_atomic;
use crate::metric::coco::{CocoDetection, CocoGt, CocoStats, coco_evaluate};
use crate::model::DetModel;
use crate::model::params::{ema_decay, ema_update};
use crate::model::yolov3::loss::{AsffTarget, YoloV3LossConfig, YoloV3LossValues, yolov3_loss};
use crate::object::{ObjectDetector, normalize_imagenet};
use crate::postprocess::yolo::letterbox;
use crate::preprocess::{LoadOptions, load_image, load_image_checked};
use crate::rng::Rng;
use crate::run_dir::{self, io_err};
use crate::synth_objects::SynthObjects;

const AUG: u64 = 0x4f42_4a41_5547;
const MIXUP: u64 = 0x004d_4958_5550;

/// An object dataset for training or validation.
pub enum ObjectSet {
    /// Files with their boxes (images decoded when used).
    Files(ObjectDataset),
    /// The synthetic shapes, generated when used.
    Synth(SynthObjects, usize),
}

impl ObjectSet {
    /// Opens an object source; `key` (`data.train`, `data.val`) names it in errors.
    pub fn open(src: &DataSource, key: &str) -> Result<Self, Error> {
        let pick = |mut ds: ObjectDataset, skip: usize, limit: Option<usize>, path: &Path| {
            ds.samples = ds
                .samples
                .into_iter()
                .skip(skip)
                .take(limit.unwrap_or(usize::MAX))
                .collect();
            if ds.samples.is_empty() {
                return Err(Error::from(crate::error::DatasetError::Layout {
                    path: path.to_path_buf(),
                    reason: format!("no images left after skip {skip} / limit {limit:?}"),
                }));
            }
            Ok(Self::Files(ds))
        };
        use crate::data::objects::{read_coco, read_voc, read_yolo, read_yolo_names};
        match src {
            DataSource::Yolo {
                images,
                labels,
                names,
                skip,
                limit,
            } => {
                let yaml = names.extension().is_some_and(|e| e == "yaml" || e == "yml");
                let names = if yaml {
                    read_yolo_names(names)?
                } else {
                    read_name_lines(names)?
                };
                pick(read_yolo(images, labels, names)?, *skip, *limit, images)
            }
            DataSource::Coco {
                json,
                images,
                skip,
                limit,
            } => pick(read_coco(json, images)?, *skip, *limit, json),
            DataSource::Voc {
                images,
                annotations,
                names,
                skip,
                limit,
            } => {
                let names = names.as_deref().map(read_name_lines).transpose()?;
                pick(read_voc(images, annotations, names)?, *skip, *limit, images)
            }
            DataSource::SynthObjects { count, synth } => {
                if *count == 0 {
                    return Err(
                        ConfigError::invalid(format!("{key}.count"), "must be positive").into(),
                    );
                }
                Ok(Self::Synth(SynthObjects::new(synth.clone()), *count))
            }
            DataSource::Files { .. } | DataSource::Synth { .. } => Err(ConfigError::invalid(
                format!("{key}.kind"),
                "text data cannot train an object detector",
            )
            .into()),
        }
    }

    /// [`ObjectSet::open`], then every image of a file dataset decoded (on all cores; a
    /// damaged JPEG that decodes anyway counts as a problem too). Returns the images without
    /// problems, and what was found (nothing for generated data).
    pub fn open_checked(src: &DataSource, key: &str) -> Result<(Self, DataCheck), Error> {
        use rayon::prelude::*;
        let set = Self::open(src, key)?;
        let Self::Files(mut ds) = set else {
            return Ok((set, DataCheck::default()));
        };
        let opts = LoadOptions::default();
        let problems: Vec<Option<Vec<String>>> = ds
            .samples
            .par_iter()
            .map(|s| match load_image_checked(&s.image, &opts) {
                Err(e) => Some(vec![e.to_string()]),
                Ok(l) if !l.warnings.is_empty() => Some(
                    l.warnings
                        .iter()
                        .map(|w| format!("{}: {w}", s.image.display()))
                        .collect(),
                ),
                Ok(_) => None,
            })
            .collect();
        let mut check = DataCheck {
            images: ds.samples.len(),
            ..DataCheck::default()
        };
        let mut keep = problems.iter().map(Option::is_none);
        for p in problems.iter().flatten() {
            check.skipped += 1;
            check.problems.extend(p.iter().cloned());
        }
        ds.samples.retain(|_| keep.next().unwrap_or(true));
        Ok((Self::Files(ds), check))
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        match self {
            Self::Files(ds) => ds.samples.len(),
            Self::Synth(_, n) => *n,
        }
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Class names.
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Files(ds) => ds.names.clone(),
            Self::Synth(g, _) => g.names(),
        }
    }

    /// Image `i` and its boxes.
    pub fn get(&self, i: usize) -> Result<(RgbImage, Vec<ObjectBox>), Error> {
        match self {
            Self::Files(ds) => {
                let s = &ds.samples[i];
                Ok((load_image(&s.image)?, s.boxes.clone()))
            }
            Self::Synth(g, _) => Ok(g.sample(i as u64)),
        }
    }
}

/// A `.names` file: one class per line, blank lines ignored.
fn read_name_lines(path: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// A micro-batch: `n` images `[n, 3, s, s]` (normalised) and their boxes in input pixels.
pub struct ObjectBatch {
    /// Values.
    pub images: Vec<f32>,
    /// Boxes per image.
    pub targets: Vec<Vec<AsffTarget>>,
    /// Images.
    pub n: usize,
    /// Side.
    pub size: usize,
}

/// Makes training samples: which image and how it is augmented depend only on the seed and
/// the sample's position in the run (as [`super::SampleMaker`]).
#[derive(Clone)]
pub struct ObjectSampleMaker {
    /// The data.
    pub dataset: Arc<ObjectSet>,
    /// Input size, mirror, box filter.
    pub config: ObjectTrainConfig,
    /// Run seed.
    pub seed: u64,
    /// Micro-batches per optimizer step (micro-batch `m` belongs to step `m / accumulate`,
    /// whose input size it takes).
    pub accumulate: usize,
}

impl ObjectSampleMaker {
    /// Sample at position `g` at input side `s` in optimizer step `step`: the normalised input
    /// `3 × s × s` and its boxes.
    pub fn make(
        &self,
        g: usize,
        s: usize,
        step: usize,
    ) -> Result<(Vec<f32>, Vec<AsffTarget>), Error> {
        let idx = sample_index(self.seed, self.dataset.len(), g);
        let (mut img, boxes) = self.dataset.get(idx)?;
        let mut rng = Rng::derive(self.seed, &[AUG, g as u64]);
        let mirror = rng.chance(self.config.mirror);
        if self.config.ssd_augment() {
            return self.make_ssd(idx, img, &boxes, g, s, step, mirror, &mut rng);
        }
        if self.config.photometric {
            crate::augment::photometric_distort(&mut img, &mut rng);
        }
        let mut data = letterbox(&img, s, s, false).data;
        if mirror {
            for row in data.chunks_exact_mut(s) {
                row.reverse();
            }
        }
        normalize_imagenet(&mut data);
        let sx = s as f64 / f64::from(img.width());
        let sy = s as f64 / f64::from(img.height());
        let targets = boxes
            .iter()
            .filter(|b| !b.crowd)
            .filter_map(|b| {
                let [x0, y0, x1, y1] = b.bbox;
                let (mut x0, mut x1) = (x0.max(0.0) * sx, x1.min(img.width().into()) * sx);
                let (y0, y1) = (y0.max(0.0) * sy, y1.min(img.height().into()) * sy);
                if mirror {
                    (x0, x1) = (s as f64 - x1, s as f64 - x0);
                }
                let (w, h) = (x1 - x0, y1 - y0);
                (w.min(h) > self.config.min_box_side).then_some(AsffTarget {
                    class: b.class,
                    cx: ((x0 + x1) / 2.0) as f32,
                    cy: ((y0 + y1) / 2.0) as f32,
                    w: w as f32,
                    h: h as f32,
                    weight: 1.0,
                })
            })
            .take(self.config.max_labels)
            .collect();
        Ok((data, targets))
    }

    /// The reference's `MixupDetection` + `TrainTransform` path ([`crate::object_augment`]):
    /// mixup, photometric distortion, expand, IoU crop, mirror, affine, resize, box filter,
    /// and the un-augmented image with all its boxes when no box is left.
    #[allow(clippy::too_many_arguments)]
    fn make_ssd(
        &self,
        idx: usize,
        img: RgbImage,
        boxes: &[ObjectBox],
        g: usize,
        s: usize,
        step: usize,
        mirror: bool,
        rng: &mut Rng,
    ) -> Result<(Vec<f32>, Vec<AsffTarget>), Error> {
        use crate::object_augment as oa;
        let c = &self.config;
        let to_aug = |img: &RgbImage, boxes: &[ObjectBox]| -> Vec<oa::AugBox> {
            let (w, h) = (f64::from(img.width()), f64::from(img.height()));
            boxes
                .iter()
                .filter(|b| !b.crowd)
                .map(|b| oa::AugBox {
                    bbox: [
                        b.bbox[0].max(0.0),
                        b.bbox[1].max(0.0),
                        b.bbox[2].min(w),
                        b.bbox[3].min(h),
                    ],
                    class: b.class,
                    weight: 1.0,
                })
                .filter(|b| b.bbox[2] > b.bbox[0] && b.bbox[3] > b.bbox[1])
                .collect()
        };
        let mut aug = to_aug(&img, boxes);
        let mut img = img;
        let n = self.dataset.len();
        if c.mixup_at(step) && n > 1 {
            let mut mr = Rng::derive(self.seed, &[MIXUP, g as u64]);
            let lambda = oa::sample_beta(&mut mr, 1.5, 1.5).clamp(0.0, 1.0);
            if lambda < 1.0 {
                let other = mr.index(n - 1);
                let other = if other >= idx { other + 1 } else { other };
                let (img2, boxes2) = self.dataset.get(other)?;
                let aug2 = to_aug(&img2, &boxes2);
                (img, aug) = oa::mixup(&img, &aug, &img2, &aug2, lambda);
            }
        }
        let (orig, orig_boxes) = (img.clone(), aug.clone());
        let resized = |img: &RgbImage, boxes: &[oa::AugBox]| -> (Vec<f32>, Vec<AsffTarget>) {
            let mut data = letterbox(img, s, s, false).data;
            normalize_imagenet(&mut data);
            let sx = s as f64 / f64::from(img.width());
            let sy = s as f64 / f64::from(img.height());
            let targets = boxes
                .iter()
                .map(|b| {
                    let [x0, y0, x1, y1] = b.bbox;
                    AsffTarget {
                        class: b.class,
                        cx: ((x0 + x1) / 2.0 * sx) as f32,
                        cy: ((y0 + y1) / 2.0 * sy) as f32,
                        w: ((x1 - x0) * sx) as f32,
                        h: ((y1 - y0) * sy) as f32,
                        weight: b.weight as f32,
                    }
                })
                .collect();
            (data, targets)
        };
        if aug.is_empty() {
            return Ok(resized(&img, &aug));
        }
        if c.photometric {
            crate::augment::photometric_distort(&mut img, rng);
        }
        if c.expand > 0.0 {
            (img, aug) = oa::expand(&img, &aug, oa::EXPAND_FILL, c.expand, rng);
        }
        if c.iou_crop {
            (img, aug) = oa::iou_crop(&img, &aug, rng);
        }
        if mirror {
            oa::mirror(&mut img, &mut aug);
        }
        if c.affine > 0.0 && rng.chance(c.affine) {
            let p = oa::AffineParams::draw(rng, img.width(), img.height());
            (img, aug) = oa::affine(&img, &aug, &p, oa::AFFINE_FILL);
        }
        let (data, targets) = resized(&img, &aug);
        let targets: Vec<AsffTarget> = targets
            .into_iter()
            .filter(|t| f64::from(t.w.min(t.h)) > c.min_box_side)
            .take(c.max_labels)
            .collect();
        if targets.is_empty() {
            let (data, mut targets) = resized(&orig, &orig_boxes);
            targets.truncate(c.max_labels);
            return Ok((data, targets));
        }
        Ok((data, targets))
    }

    /// Micro-batch `m` of `batch` samples.
    pub fn batch(&self, m: usize, batch: usize) -> Result<ObjectBatch, Error> {
        use rayon::prelude::*;
        let size = self.config.input_at(self.seed, m / self.accumulate.max(1));
        let samples: Vec<(Vec<f32>, Vec<AsffTarget>)> = (m * batch..(m + 1) * batch)
            .into_par_iter()
            .map(|g| self.make(g, size, m / self.accumulate.max(1)))
            .collect::<Result<_, _>>()?;
        let mut images = Vec::with_capacity(batch * 3 * size * size);
        let mut targets = Vec::with_capacity(batch);
        for (img, t) in samples {
            images.extend_from_slice(&img);
            targets.push(t);
        }
        Ok(ObjectBatch {
            images,
            targets,
            n: batch,
            size,
        })
    }
}

/// One row of an object detector's `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectMetricsRow {
    /// Optimizer step (1-based).
    pub step: usize,
    /// Total loss.
    pub loss: f64,
    /// The loss terms (guided-anchor, IoU, xy, wh, objectness, class).
    pub terms: YoloV3LossValues,
    /// Learning rate used.
    pub lr: f64,
    /// Training throughput.
    pub img_per_s: f64,
    /// Wall-clock seconds of training so far (across resumes).
    pub elapsed_s: f64,
    /// Validation COCO AP (0.5:0.95) and AP50, on validation steps.
    pub val: Option<(f64, f64)>,
}

impl CsvRow for ObjectMetricsRow {
    const HEADER: &'static str = "step,loss,loss_anchor,loss_iou,loss_xy,loss_wh,loss_obj,loss_cls,lr,img_per_s,elapsed_s,val_ap,val_ap50";

    fn step(&self) -> usize {
        self.step
    }

    fn csv(&self) -> String {
        let t = &self.terms;
        let mut s = format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.8},{:.3},{:.1}",
            self.step,
            self.loss,
            t.anchor,
            t.iou,
            t.xy,
            t.wh,
            t.obj,
            t.cls,
            self.lr,
            self.img_per_s,
            self.elapsed_s
        );
        match self.val {
            Some((ap, ap50)) => s.push_str(&format!(",{ap:.6},{ap50:.6}")),
            None => s.push_str(",,"),
        }
        s
    }

    fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 13 {
            return None;
        }
        let num = |i: usize| f[i].parse::<f64>().ok();
        Some(Self {
            step: f[0].parse().ok()?,
            loss: num(1)?,
            terms: YoloV3LossValues {
                anchor: num(2)?,
                iou: num(3)?,
                xy: num(4)?,
                wh: num(5)?,
                obj: num(6)?,
                cls: num(7)?,
            },
            lr: num(8)?,
            img_per_s: num(9)?,
            elapsed_s: num(10)?,
            val: num(11).zip(num(12)),
        })
    }
}

/// Reads an object detector's `metrics.csv`.
pub fn read_object_metrics(path: &Path) -> Result<Vec<ObjectMetricsRow>, Error> {
    read_rows(path)
}

fn write_object_curves(out: &Path, rows: &[ObjectMetricsRow]) -> Result<(), Error> {
    use plot::Series;
    let pick =
        |f: fn(&ObjectMetricsRow) -> f64| rows.iter().map(|r| (r.step as f64, f(r))).collect();
    let series = |name, color, points| Series {
        name,
        color,
        points,
        right_axis: false,
    };
    let mut all = vec![
        series("loss", [20, 20, 20], pick(|r| r.loss)),
        series("anchor", [150, 0, 150], pick(|r| r.terms.anchor)),
        series("iou", [200, 40, 40], pick(|r| r.terms.iou)),
        series("xy+wh", [220, 140, 0], pick(|r| r.terms.l1())),
        series("obj", [40, 80, 220], pick(|r| r.terms.obj)),
        series("cls", [0, 150, 150], pick(|r| r.terms.cls)),
    ];
    all.push(Series {
        name: "val AP50 (right)",
        color: [0, 150, 0],
        points: rows
            .iter()
            .filter_map(|r| r.val.map(|v| (r.step as f64, v.1)))
            .collect(),
        right_axis: true,
    });
    plot::save_png(out, &format!("fusedet train: {}", out.display()), &all)
}

/// Scores a YOLOv3 / ASFF model on an object dataset with COCO's bbox AP.
pub fn validate_objects(
    det: &ObjectDetector,
    set: &ObjectSet,
) -> Result<crate::metric::coco::CocoEvaluation, Error> {
    let mut samples = Vec::with_capacity(set.len());
    let mut dets = Vec::new();
    for i in 0..set.len() {
        let (img, boxes) = set.get(i)?;
        let image_id = i as i64 + 1;
        for d in det.detect(&img)? {
            let (crate::Shape::Box([x1, y1, x2, y2]), Some(c)) = (&d.shape, d.class_id) else {
                continue;
            };
            dets.push(CocoDetection {
                image_id,
                category_id: c as i64 + 1,
                bbox: [*x1, *y1, x2 - x1, y2 - y1],
                score: d.score,
            });
        }
        samples.push(ObjectSample {
            image: PathBuf::from(format!("{i:06}")),
            width: img.width(),
            height: img.height(),
            boxes,
        });
    }
    let ds = ObjectDataset {
        names: set.names(),
        samples,
    };
    let gt = CocoGt::from_objects(&ds, Path::new(""));
    Ok(coco_evaluate(&gt, &dets)?)
}

pub use crate::run_dir::NAMES;

fn batch_loss(
    model: &DetModel,
    b: &ObjectBatch,
    share: usize,
    loss_cfg: &YoloV3LossConfig,
    device: &Device,
) -> (Tensor<1>, YoloV3LossValues) {
    let s = b.size;
    let x = Tensor::<4>::from_data(TensorData::new(b.images.clone(), [b.n, 3, s, s]), device);
    let m = model.yolo().expect("an object detector");
    let out = m.forward(x);
    let l = yolov3_loss(m, &out, &b.targets, loss_cfg);
    let v = l.sum.values();
    let k = share as f64;
    let v = YoloV3LossValues {
        anchor: v.anchor / k,
        iou: v.iou / k,
        xy: v.xy / k,
        wh: v.wh / k,
        obj: v.obj / k,
        cls: v.cls / k,
    };
    let total = l.sum.total();
    let total = if share > 1 {
        total.div_scalar(k)
    } else {
        total
    };
    (total, v)
}

/// [`super::train`] for `arch = "yolov3"`.
pub(super) fn train(
    cfg: &TrainConfig,
    opts: &TrainOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TrainSummary, Error> {
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let cfg_path = out.join(run_dir::CONFIG);
    write_atomic(&cfg_path, cfg.to_toml().as_bytes()).map_err(io_err(&cfg_path))?;
    let oc = &cfg.objects;
    let (train_set, mut check) = ObjectSet::open_checked(&cfg.data.train, "data.train")?;
    let val_set = match &cfg.data.val {
        Some(v) => {
            let (set, c) = ObjectSet::open_checked(v, "data.val")?;
            check.images += c.images;
            check.skipped += c.skipped;
            check.problems.extend(c.problems);
            Some(set)
        }
        None => None,
    };
    let empty = [
        (Some(&train_set), "data.train"),
        (val_set.as_ref(), "data.val"),
    ]
    .into_iter()
    .find(|(set, _)| set.is_some_and(ObjectSet::is_empty))
    .map(|(_, key)| key);
    settle_problems(cfg, out, check, empty, on_event)?;
    let names = train_set.names();
    let crate::model::ModelSpec::Yolov3(spec) = &cfg.model else {
        unreachable!("called for object detectors")
    };
    if spec.num_classes != names.len() {
        return Err(ConfigError::invalid(
            "model.num_classes",
            format!(
                "{} but the training data has {} classes ({})",
                spec.num_classes,
                names.len(),
                names.join(", ")
            ),
        )
        .into());
    }
    let names_path = out.join(NAMES);
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    write_atomic(&names_path, text.as_bytes()).map_err(io_err(&names_path))?;

    if opts.devices.len() > 1 {
        return Err(TrainError::Device {
            name: format!("{} devices", opts.devices.len()),
            reason: "YOLOv3 training runs on one device".into(),
        }
        .into());
    }
    let plain = opts.devices.first().cloned().unwrap_or_default();
    let ad = plain.clone().autodiff();
    let seed = cfg.run.seed;
    plain.seed(seed);
    ad.seed(seed);
    let Start {
        mut model,
        mut optim,
        mut ema,
        mut state,
        mut rows,
        resumed,
    } = start_or_resume(cfg, opts, out, &ad, seed, on_event)?;

    let o = &cfg.optim;
    let total = opts.max_steps.unwrap_or(o.steps).min(o.steps);
    let start = state.step;
    on_event(Event::Started {
        step: start,
        total,
        resumed,
    });
    let maker = ObjectSampleMaker {
        dataset: Arc::new(train_set),
        config: oc.clone(),
        seed,
        accumulate: o.accumulate,
    };
    let (bs, acc_n) = (o.batch_size, o.accumulate);
    let rx = spawn_loader(start * acc_n..total * acc_n, cfg.data.prefetch, move |m| {
        maker.batch(m, bs)
    });
    let loss_cfg = YoloV3LossConfig::new()
        .with_ignore_threshold(oc.ignore_threshold)
        .with_label_smoothing(oc.label_smoothing);
    let mut last_loss = f64::NAN;
    let mut best = state.best_step.zip(state.best_hmean);
    let mut best_ap50 = None;
    let clock = Instant::now();
    let elapsed0 = state.elapsed_s;
    let mut dropblock = None;

    for step in start..total {
        let t0 = Instant::now();
        if spec.dropblock {
            let want = oc.dropblock_at(step);
            if want != dropblock {
                dropblock = want;
                let m = model.yolo_mut().expect("an object detector");
                for (slot, b) in m.dropblocks_mut().into_iter().zip(want.unwrap_or([1; 3])) {
                    let keep = if want.is_some() {
                        oc.dropblock_keep_prob
                    } else {
                        1.0
                    };
                    slot.reset(b, keep);
                }
            }
        }
        let lr = o.learning_rate(step);
        let mut terms = YoloV3LossValues::default();
        let mut accum = GradientsAccumulator::<DetModel>::new();
        let mut single = None;
        for _ in 0..acc_n {
            let b = rx
                .recv()
                .map_err(|_| TrainError::Loader("its thread ended".into()))??;
            let (loss, v) = batch_loss(&model, &b, acc_n, &loss_cfg, &ad);
            terms = terms + v;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            if acc_n == 1 {
                single = Some(grads);
            } else {
                accum.accumulate(&model, grads);
            }
        }
        let loss = terms.total();
        check_finite(loss, step)?;
        let grads = single.unwrap_or_else(|| accum.grads());
        model = optim.step(lr, model, grads);
        if let Some(e) = ema.take() {
            ema = Some(ema_update(
                e,
                &model.valid(),
                ema_decay(o.ema_decay, o.ema_ramp, step + 1),
            ));
        }
        let done = step + 1;
        last_loss = loss;
        let mut row = ObjectMetricsRow {
            step: done,
            loss,
            terms,
            lr,
            img_per_s: (bs * acc_n) as f64 / t0.elapsed().as_secs_f64(),
            elapsed_s: 0.0,
            val: None,
        };
        let last = done == total;
        let eval_model = || ema.clone().unwrap_or_else(|| model.valid());
        if let Some(vs) = &val_set
            && cfg.run.val_due(done, last)
        {
            let DetModel::Yolo(m) = eval_model() else {
                unreachable!("an object detector")
            };
            let det = ObjectDetector::from_yolov3(
                m,
                names.clone(),
                oc.input_size,
                [oc.postprocess.clone(), oc.val_postprocess.clone()],
                &plain,
            );
            let stats: CocoStats = validate_objects(&det, vs)?.stats;
            let info = serde_json::json!({"step": done, "stats": &stats});
            let is_best = keep_best(out, &mut best, done, stats.ap, &eval_model(), info)?;
            if is_best {
                best_ap50 = Some(stats.ap50);
            }
            on_event(Event::ObjectValidated {
                step: done,
                stats: &stats,
                best: is_best,
            });
            row.val = Some((stats.ap, stats.ap50));
        }
        row.elapsed_s = elapsed0 + clock.elapsed().as_secs_f64();
        on_event(Event::ObjectStep(&row));
        let row_elapsed = row.elapsed_s;
        rows.push(row);
        if cfg.run.checkpoint_due(done, last) {
            write_rows(out, &rows)?;
            checkpoint_step(
                out,
                cfg,
                &mut state,
                (done, row_elapsed),
                best,
                (&model, &optim, ema.as_ref()),
                &eval_model(),
                on_event,
            )?;
            write_object_curves(out, &rows)?;
        }
    }
    write_rows(out, &rows)?;
    let best_ap = best.map(|(s, ap)| {
        let ap50 = best_ap50
            .or_else(|| {
                rows.iter()
                    .find(|r| r.step == s)
                    .and_then(|r| r.val.map(|v| v.1))
            })
            .unwrap_or(f64::NAN);
        (s, ap, ap50)
    });
    Ok(TrainSummary {
        steps: total,
        last_loss,
        best: None,
        best_ap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_metrics_rows_round_trip_through_csv() {
        let r = ObjectMetricsRow {
            step: 3,
            loss: 12.5,
            terms: YoloV3LossValues {
                anchor: 1.0,
                iou: 2.0,
                xy: 3.0,
                wh: 4.0,
                obj: 2.25,
                cls: 0.25,
            },
            lr: 1e-3,
            img_per_s: 2.0,
            elapsed_s: 4.5,
            val: None,
        };
        assert_eq!(ObjectMetricsRow::parse(&r.csv()), Some(r.clone()));
        let v = ObjectMetricsRow {
            val: Some((0.25, 0.5)),
            ..r
        };
        assert_eq!(ObjectMetricsRow::parse(&v.csv()), Some(v));
    }

    #[test]
    fn dropblock_schedule_applies_from_each_row_on() {
        let c = ObjectTrainConfig {
            dropblock_schedule: vec![[5, 1, 3, 5], [80, 3, 5, 7], [150, 7, 7, 7]],
            ..ObjectTrainConfig::default()
        };
        assert!(c.validate().is_ok());
        // 7 does not fit the 2-wide stride-32 map of a 64 input.
        let small = ObjectTrainConfig {
            input_size: 64,
            ..c.clone()
        };
        let e = small.validate().unwrap_err().to_string();
        assert!(
            e.contains("dropblock_schedule") && e.contains("stride-32"),
            "{e}"
        );
        assert_eq!(c.dropblock_at(4), None);
        assert_eq!(c.dropblock_at(5), Some([1, 3, 5]));
        assert_eq!(c.dropblock_at(149), Some([3, 5, 7]));
        assert_eq!(c.dropblock_at(10_000), Some([7, 7, 7]));
        let bad = ObjectTrainConfig {
            dropblock_schedule: vec![[80, 3, 5, 7], [5, 1, 3, 5]],
            ..c
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("dropblock")
        );
    }

    #[test]
    fn multiscale_sizes_change_every_few_steps_then_settle() {
        let c = ObjectTrainConfig {
            input_size: 608,
            multiscale: Some([10, 19]),
            multiscale_every: 10,
            multiscale_until: Some(100),
            ..ObjectTrainConfig::default()
        };
        assert!(c.validate().is_ok());
        let sizes: Vec<usize> = (0..100).map(|s| c.input_at(5, s)).collect();
        assert!(
            sizes
                .iter()
                .all(|&s| (320..=608).contains(&s) && s % 32 == 0)
        );
        for chunk in sizes.chunks(10) {
            assert!(chunk.iter().all(|&s| s == chunk[0]));
        }
        let mut distinct = sizes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() >= 4, "{distinct:?}");
        assert_eq!(c.input_at(5, 100), 608);
        assert_eq!(c.input_at(5, 12), sizes[12]);
        let bad = ObjectTrainConfig {
            multiscale: Some([19, 10]),
            ..c
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("multiscale")
        );
    }

    /// A sample maker over `count` generated 128 x 96 images of `min_size`-60 px shapes.
    fn synth_maker(
        count: usize,
        min_size: f64,
        config: ObjectTrainConfig,
        seed: u64,
    ) -> ObjectSampleMaker {
        let set = ObjectSet::Synth(
            SynthObjects::new(crate::synth_objects::SynthObjectsConfig {
                width: 128,
                height: 96,
                min_size,
                max_size: 60.0,
                ..Default::default()
            }),
            count,
        );
        ObjectSampleMaker {
            dataset: Arc::new(set),
            config,
            seed,
            accumulate: 1,
        }
    }

    #[test]
    fn samples_keep_boxes_through_resize_and_mirror() {
        let config = ObjectTrainConfig {
            input_size: 64,
            mirror: 0.5,
            min_box_side: 0.0,
            ..ObjectTrainConfig::default()
        };
        let maker = synth_maker(4, 20.0, config, 3);
        let b = maker.batch(0, 4).unwrap();
        assert_eq!(b.images.len(), 4 * 3 * 64 * 64);
        assert_eq!(b.targets.len(), 4);
        for (g, t) in b.targets.iter().enumerate() {
            let idx = sample_index(3, 4, g);
            let (_, boxes) = maker.dataset.get(idx).unwrap();
            assert_eq!(t.len(), boxes.len());
            for (a, o) in t.iter().zip(&boxes) {
                assert_eq!(a.class, o.class);
                let w = (o.bbox[2] - o.bbox[0]) * 64.0 / 128.0;
                assert!((f64::from(a.w) - w).abs() < 1e-4);
                assert!(a.cx > 0.0 && a.cx < 64.0 && a.cy > 0.0 && a.cy < 64.0);
            }
        }
        // Same position, same sample.
        assert_eq!(maker.make(2, 64, 0).unwrap(), maker.make(2, 64, 0).unwrap());
    }

    #[test]
    fn reference_augmented_samples_are_reproducible_and_keep_boxes_inside() {
        let config = ObjectTrainConfig {
            input_size: 64,
            min_box_side: 2.0,
            photometric: true,
            mixup: true,
            mixup_until: Some(5),
            expand: 0.5,
            iou_crop: true,
            affine: 0.5,
            ..ObjectTrainConfig::default()
        };
        let maker = synth_maker(6, 16.0, config, 9);
        let mut mixed = 0;
        for g in 0..16 {
            let (data, t) = maker.make(g, 64, 0).unwrap();
            assert_eq!(data.len(), 3 * 64 * 64);
            assert!(!t.is_empty(), "sample {g}: no boxes");
            for b in &t {
                assert!(
                    b.cx >= 0.0 && b.cx <= 64.0 && b.cy >= 0.0 && b.cy <= 64.0,
                    "{b:?}"
                );
                assert!(
                    b.w > 0.0 && b.h > 0.0 && b.w <= 64.0 && b.h <= 64.0,
                    "{b:?}"
                );
                assert!(b.weight > 0.0 && b.weight <= 1.0, "{b:?}");
            }
            mixed += usize::from(t.iter().any(|b| b.weight < 1.0));
            assert_eq!((data, t), maker.make(g, 64, 0).unwrap());
            // From `mixup_until` on, every box weighs 1.
            let (_, t) = maker.make(g, 64, 5).unwrap();
            assert!(t.iter().all(|b| b.weight == 1.0));
        }
        assert!(mixed >= 12, "{mixed} of 16 samples mixed");
        // Off, the plain path is unchanged: the first test's samples are made by it.
        assert!(!ObjectTrainConfig::default().ssd_augment());
    }
}
