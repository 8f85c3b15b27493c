//! `fusedet train`: the DBNet training loop (SPEC §5, §6) — a TOML recipe, augmented batches
//! from worker threads, DB loss, SGD or Adam with warm-up and polynomial decay, gradient
//! accumulation, EMA, validation with the ICDAR 2015 metric, atomic checkpoints that resume
//! bit-for-bit, `metrics.csv` and a curve PNG.
//!
//! The run directory's layout and its reading for inference live in [`crate::run_dir`].

pub mod data;
pub mod object_config;
pub mod objects;
pub mod plot;
pub mod textboxes;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    AdamConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer, MultiGradientsParams,
    SgdConfig,
};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::augment::AugmentConfig;
use crate::error::{ConfigError, Error, TrainError};
use crate::fsutil::write_atomic;
use crate::infer::TextDetector;
use crate::loss::{DbLossConfig, db_loss};
use crate::metric::{ImageCounts, MatchMode, Scores, evaluate_image};
use crate::model::params::{copy_values, ema_decay, ema_update};
use crate::model::textboxes::TextBoxesSpec;
use crate::model::{DetModel, ModelSpec};
use crate::postprocess::db::DbPostProcess;
use crate::preprocess::PreprocessConfig;
use crate::run_dir::{
    self, fresh_tmp, io_err, load_module, rec_err, save_module, save_weights, swap_dir,
};
use crate::targets::DbTargetConfig;
pub use data::{DataSource, Dataset, SampleMaker};
pub use objects::{ObjectMetricsRow, ObjectSet, ObjectTrainConfig};
pub use textboxes::{TbMetricsRow, TbTrainConfig};

/// Which optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimKind {
    /// SGD with momentum (MindOCR's DBNet recipes), no dampening, no Nesterov.
    #[default]
    Sgd,
    /// Adam (PaddleOCR's PP-OCR det recipes).
    Adam,
}

/// The learning-rate decay after warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// Polynomial to 0 at `steps` (MindOCR, PaddleOCR).
    #[default]
    Poly,
    /// Constant, then a half cosine to `min_lr` (the ASFF reference).
    Cosine,
    /// Multiplied by `gamma` at each of `milestones` (the TextBoxes++ reference).
    Step,
}

/// The `[optim]` section: optimizer, schedule, batch, EMA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Optimizer.
    pub optimizer: OptimKind,
    /// Peak learning rate.
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay on all parameters (MindOCR `filter_bias_and_bn: false`).
    pub weight_decay: f64,
    /// Warm-up from 0 over this many steps.
    pub warmup_steps: usize,
    /// Shape of the warm-up: `lr · (step / warmup_steps)^warmup_power` (1: linear; 4: the
    /// YOLOv3 burn-in).
    pub warmup_power: f64,
    /// Total optimizer steps; the polynomial decay reaches 0 here.
    pub steps: usize,
    /// The decay after warm-up.
    pub decay: Decay,
    /// Power of the polynomial decay.
    pub power: f64,
    /// Cosine: the peak rate is held until this step (at least the end of the warm-up).
    pub hold_until: usize,
    /// Cosine: the rate reaches `min_lr` at this step (0: at `steps`) and stays there.
    pub decay_until: usize,
    /// Cosine: the floor.
    pub min_lr: f64,
    /// Step: the steps at which the rate is multiplied by `gamma`.
    pub milestones: Vec<usize>,
    /// Step: the factor.
    pub gamma: f64,
    /// Images per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step (gradient accumulation).
    pub accumulate: usize,
    /// Keep an exponential moving average of the weights (used for validation and export).
    pub ema: bool,
    /// EMA decay.
    pub ema_decay: f64,
    /// EMA warm-up constant: decay_t = decay · (1 − exp(−t / ramp)).
    pub ema_ramp: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            optimizer: OptimKind::Sgd,
            lr: 0.007,
            momentum: 0.9,
            weight_decay: 1e-4,
            warmup_steps: 0,
            warmup_power: 1.0,
            steps: 1000,
            decay: Decay::Poly,
            power: 0.9,
            hold_until: 0,
            decay_until: 0,
            min_lr: 0.0,
            milestones: Vec::new(),
            gamma: 0.1,
            batch_size: 8,
            accumulate: 1,
            ema: false,
            ema_decay: 0.9999,
            ema_ramp: 2000.0,
        }
    }
}

impl OptimConfig {
    /// Learning rate for optimizer step `step` (0-based): warm-up from 0
    /// (`lr · (step / warmup)^warmup_power`), then either `lr · (1 − (step − warmup) / (steps
    /// − warmup))^power` (poly) or `lr` until `hold_until`, a half cosine down to `min_lr` at
    /// `decay_until`, and `min_lr` after (cosine: the ASFF reference's schedule, per step).
    pub fn learning_rate(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step as f64 / self.warmup_steps as f64).powf(self.warmup_power);
        }
        match self.decay {
            Decay::Step => {
                let passed = self.milestones.iter().filter(|&&m| step >= m).count();
                self.lr * self.gamma.powi(passed as i32)
            }
            Decay::Poly => {
                let span = self.steps.saturating_sub(self.warmup_steps).max(1) as f64;
                let t = ((step - self.warmup_steps) as f64 / span).min(1.0);
                self.lr * (1.0 - t).powf(self.power)
            }
            Decay::Cosine => {
                let start = self.hold_until.max(self.warmup_steps);
                let end = if self.decay_until == 0 {
                    self.steps
                } else {
                    self.decay_until
                };
                if step < start {
                    self.lr
                } else if step >= end {
                    self.min_lr
                } else {
                    let t = (step - start) as f64 / (end - start) as f64;
                    self.min_lr
                        + 0.5 * (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
                }
            }
        }
    }

    fn build(&self) -> ModuleOptimizer {
        let wd =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.optimizer {
            OptimKind::Sgd => SgdConfig::new()
                .with_momentum((self.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0)
                }))
                .with_weight_decay(wd)
                .init(),
            OptimKind::Adam => AdamConfig::new().with_weight_decay(wd).init(),
        }
    }
}

/// The `[data]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Training images.
    pub train: DataSource,
    /// Validation images (scored with the ICDAR 2015 protocol).
    pub val: Option<DataSource>,
    /// Augmentation.
    #[serde(default)]
    pub augment: AugmentConfig,
    /// Micro-batches prepared ahead of the model.
    #[serde(default = "default_prefetch")]
    pub prefetch: usize,
    /// Train without the images whose labels or pixels have problems (listed in the run
    /// directory's `skipped.txt`) instead of stopping before the first step with the list.
    #[serde(default)]
    pub skip_bad: bool,
}

fn default_prefetch() -> usize {
    2
}

/// The `[run]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Seed of weights, data order and augmentation.
    pub seed: u64,
    /// Validate every this many steps (0: only at the end).
    pub val_every: usize,
    /// Checkpoint every this many steps (and at the end).
    pub checkpoint_every: usize,
    /// Checkpoints kept.
    pub keep_checkpoints: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            val_every: 0,
            checkpoint_every: 100,
            keep_checkpoints: 2,
        }
    }
}

/// A whole training recipe (MMOCR-style sections).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Backbone, neck and head.
    pub model: ModelSpec,
    /// Loss weights.
    #[serde(default)]
    pub loss: DbLossConfig,
    /// Label generation.
    #[serde(default)]
    pub targets: DbTargetConfig,
    /// Post-processing for validation and for `detect`/`eval` on the run.
    #[serde(default)]
    pub postprocess: DbPostProcess,
    /// Test-time resize for validation and for `detect`/`eval` on the run.
    #[serde(default)]
    pub eval: PreprocessConfig,
    /// Data.
    pub data: DataConfig,
    /// Optimizer and schedule.
    #[serde(default)]
    pub optim: OptimConfig,
    /// Seed, validation and checkpoint cadence.
    #[serde(default)]
    pub run: RunConfig,
    /// Object detectors (`arch = "yolov3"`): input size, loss, augmentation, post-processing.
    #[serde(default)]
    pub objects: ObjectTrainConfig,
    /// TextBoxes++ (`arch = "textboxes"`): training input sizes and augmentation.
    #[serde(default)]
    pub textboxes: TbTrainConfig,
}

impl TrainConfig {
    /// Parses a recipe; errors name the file and the offending key.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate().map_err(|e| e.in_file(path))?;
        Ok(cfg)
    }

    /// Parses a recipe from TOML text (errors name `<recipe>` as the file).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<recipe>"),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.model.validate()?;
        let o = &self.optim;
        let bad = |k: &str, m: &str| Err(ConfigError::invalid(k, m));
        for (k, v) in [
            ("optim.batch_size", o.batch_size),
            ("optim.accumulate", o.accumulate),
            ("optim.steps", o.steps),
        ] {
            if v == 0 {
                return bad(k, "must be positive");
            }
        }
        if o.lr.is_nan() || o.lr <= 0.0 || !o.lr.is_finite() {
            return bad("optim.lr", "must be a positive number");
        }
        if !(o.milestones.is_sorted() && o.gamma > 0.0 && o.gamma.is_finite()) {
            return bad(
                "optim.milestones",
                "step decay needs ascending milestones and a positive gamma",
            );
        }
        if self.model.is_objects() != self.data.train.is_objects() {
            return bad(
                "data.train.kind",
                if self.model.is_objects() {
                    "a YOLOv3 model trains on object data (yolo, coco, voc, synth_objects)"
                } else {
                    "a text detector trains on text data (files, synth)"
                },
            );
        }
        if let Some(v) = &self.data.val
            && v.is_objects() != self.model.is_objects()
        {
            return bad(
                "data.val.kind",
                "must be the same kind of data as data.train",
            );
        }
        if self.model.is_objects() {
            self.objects.validate()?;
        }
        if matches!(self.model, ModelSpec::Textboxes(_)) {
            self.textboxes.validate()?;
        }
        if !self.data.augment.crop_size.is_multiple_of(32) || self.data.augment.crop_size == 0 {
            return bad(
                "data.augment.crop_size",
                "must be a positive multiple of 32",
            );
        }
        Ok(())
    }

    /// The recipe as TOML (what the run directory stores).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a config serialises")
    }
}

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsRow {
    /// Optimizer step (1-based: the number of steps done).
    pub step: usize,
    /// Total loss.
    pub loss: f64,
    /// Probability-map BCE.
    pub loss_prob: f64,
    /// Threshold-map L1.
    pub loss_thresh: f64,
    /// Binary-map dice.
    pub loss_binary: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Training throughput.
    pub img_per_s: f64,
    /// Wall-clock seconds of training so far (across resumes; validation included).
    pub elapsed_s: f64,
    /// Validation scores, on validation steps.
    pub val: Option<Scores>,
}

/// A row of a run's `metrics.csv` (one type per detector family).
trait CsvRow: Sized {
    /// The header line.
    const HEADER: &'static str;
    /// The row as a CSV line.
    fn csv(&self) -> String;
    /// A CSV line back (None for a line of another layout).
    fn parse(line: &str) -> Option<Self>;
    /// The row's optimizer step.
    fn step(&self) -> usize;
}

/// Writes `out/metrics.csv` atomically.
fn write_rows<R: CsvRow>(out: &Path, rows: &[R]) -> Result<(), Error> {
    let mut s = String::from(R::HEADER);
    s.push('\n');
    for r in rows {
        s.push_str(&r.csv());
        s.push('\n');
    }
    let p = out.join("metrics.csv");
    write_atomic(&p, s.as_bytes()).map_err(|e| Error::io(&p, e))
}

/// Reads the rows of a `metrics.csv`.
fn read_rows<R: CsvRow>(path: &Path) -> Result<Vec<R>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text.lines().skip(1).filter_map(R::parse).collect())
}

impl CsvRow for MetricsRow {
    const HEADER: &'static str = "step,loss,loss_prob,loss_thresh,loss_binary,lr,img_per_s,elapsed_s,val_precision,val_recall,val_hmean";

    fn step(&self) -> usize {
        self.step
    }

    fn csv(&self) -> String {
        let mut s = format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.8},{:.3},{:.1}",
            self.step,
            self.loss,
            self.loss_prob,
            self.loss_thresh,
            self.loss_binary,
            self.lr,
            self.img_per_s,
            self.elapsed_s
        );
        match &self.val {
            Some(v) => write!(s, ",{:.6},{:.6},{:.6}", v.precision, v.recall, v.hmean).unwrap(),
            None => s.push_str(",,,"),
        }
        s
    }

    fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 11 {
            return None;
        }
        let num = |i: usize| f[i].parse::<f64>().ok();
        let val = match (num(8), num(9), num(10)) {
            (Some(p), Some(r), Some(h)) => Some(Scores {
                precision: p,
                recall: r,
                hmean: h,
                matched: 0,
                gt_care: 0,
                det_care: 0,
            }),
            _ => None,
        };
        Some(Self {
            step: f[0].parse().ok()?,
            loss: num(1)?,
            loss_prob: num(2)?,
            loss_thresh: num(3)?,
            loss_binary: num(4)?,
            lr: num(5)?,
            img_per_s: num(6)?,
            elapsed_s: num(7)?,
            val,
        })
    }
}

/// What the loop reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// Training starts (or resumes) at `step` of `total`.
    Started {
        /// First step to run.
        step: usize,
        /// Last step.
        total: usize,
        /// Whether a checkpoint was loaded.
        resumed: bool,
    },
    /// A step finished.
    Step(&'a MetricsRow),
    /// A step of an object detector finished.
    ObjectStep(&'a ObjectMetricsRow),
    /// A step of a TextBoxes++ detector finished.
    QuadStep(&'a TbMetricsRow),
    /// A checkpoint was written.
    Checkpoint(&'a Path),
    /// The data was checked before the first step (see [`Dataset::open_checked`]).
    DataChecked {
        /// Images checked (training and validation; generated data is not).
        images: usize,
        /// Images left out for their problems (`data.skip_bad`); 0 when none.
        skipped: usize,
        /// Problems found.
        problems: usize,
        /// Where they are listed, when there are any.
        list: Option<&'a Path>,
    },
    /// A checkpoint failed its checksums and was passed over when resuming.
    SkippedCheckpoint {
        /// The checkpoint directory.
        dir: &'a Path,
        /// Why.
        error: &'a crate::error::CheckpointError,
    },
    /// Validation ran.
    Validated {
        /// Step.
        step: usize,
        /// Scores.
        scores: &'a Scores,
        /// Whether it is the best so far (saved to `weights/best.bpk`).
        best: bool,
    },
    /// Validation of an object detector ran (COCO bbox metrics).
    ObjectValidated {
        /// Step.
        step: usize,
        /// The 12 COCOeval numbers.
        stats: &'a crate::metric::coco::CocoStats,
        /// Whether its AP is the best so far (saved to `weights/best.bpk`).
        best: bool,
    },
}

/// Options of one invocation (not part of the recipe).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Run directory.
    pub out: PathBuf,
    /// Continue from the run directory's latest checkpoint.
    pub resume: bool,
    /// Stop after this step (the schedule still follows `optim.steps`).
    pub max_steps: Option<usize>,
    /// Devices (autodiff is added); more than one trains data-parallel, the batch split
    /// evenly between them. The first holds the model and runs validation.
    pub devices: Vec<Device>,
}

/// What a run ended with.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps done.
    pub steps: usize,
    /// Last training loss.
    pub last_loss: f64,
    /// Best validation scores and their step.
    pub best: Option<(usize, Scores)>,
    /// Object detectors: the best validation COCO AP (0.5:0.95) and AP50, and their step.
    pub best_ap: Option<(usize, f64, f64)>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct RunState {
    step: usize,
    /// The best validation score: hmean for text, COCO AP for objects.
    best_hmean: Option<f64>,
    best_step: Option<usize>,
    seed: u64,
    #[serde(default)]
    elapsed_s: f64,
    /// SHA-256 of the checkpoint's files (checked before resuming from it).
    #[serde(default)]
    files: std::collections::BTreeMap<String, String>,
}

/// Scores a model on a dataset with the ICDAR 2015 protocol.
pub fn validate(
    model: DetModel,
    device: &Device,
    dataset: &Dataset,
    eval: &PreprocessConfig,
    post: &DbPostProcess,
) -> Result<(Scores, Vec<ImageCounts>), Error> {
    let mut det = TextDetector::new(model, device.clone());
    det.preprocess = eval.clone();
    det.postprocess = post.clone();
    let mut per = Vec::with_capacity(dataset.len());
    for i in 0..dataset.len() {
        let (img, gt, _) = dataset.get(i)?;
        let polys: Vec<Vec<[f64; 2]>> = det.detect(&img)?.iter().map(|d| d.points()).collect();
        per.push(evaluate_image(&gt, &polys, MatchMode::Icdar2015, 0.5));
    }
    Ok((Scores::combine(&per), per))
}

fn tensor4(v: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Reads `metrics.csv` rows.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsRow>, Error> {
    read_rows(path)
}

/// Draws `curves.png` from the rows.
pub fn write_curves(out: &Path, rows: &[MetricsRow], title: &str) -> Result<(), Error> {
    use plot::Series;
    let pick = |f: fn(&MetricsRow) -> f64| rows.iter().map(|r| (r.step as f64, f(r))).collect();
    let series = [
        Series {
            name: "loss",
            color: [20, 20, 20],
            points: pick(|r| r.loss),
            right_axis: false,
        },
        Series {
            name: "5*bce",
            color: [200, 40, 40],
            points: pick(|r| 5.0 * r.loss_prob),
            right_axis: false,
        },
        Series {
            name: "10*l1",
            color: [220, 140, 0],
            points: pick(|r| 10.0 * r.loss_thresh),
            right_axis: false,
        },
        Series {
            name: "dice",
            color: [40, 80, 220],
            points: pick(|r| r.loss_binary),
            right_axis: false,
        },
        Series {
            name: "val hmean (right)",
            color: [0, 150, 0],
            points: rows
                .iter()
                .filter_map(|r| r.val.as_ref().map(|v| (r.step as f64, v.hmean)))
                .collect(),
            right_axis: true,
        },
    ];
    plot::save_png(out, title, &series)
}

/// Loss of samples `from..from + n` of a batch, scaled by `1 / share`, and its four parts
/// (already divided by `share`).
fn chunk_loss(
    model: &DetModel,
    b: &data::Batch,
    from: usize,
    n: usize,
    share: usize,
    cfg: &TrainConfig,
    device: &Device,
) -> (Tensor<1>, [f64; 4]) {
    let s = b.size;
    let img = b.images[from * 3 * s * s..(from + n) * 3 * s * s].to_vec();
    let x = tensor4(img, [n, 3, s, s], device);
    let [g, m, tm, tk] = std::array::from_fn(|k| {
        let t = b.targets[k][from * s * s..(from + n) * s * s].to_vec();
        tensor4(t, [n, 1, s, s], device)
    });
    let l = db_loss(model.forward_train(x), g, m, tm, tk, &cfg.loss);
    let parts = [&l.total, &l.prob, &l.thresh, &l.binary]
        .map(|t| t.clone().into_scalar::<f32>() as f64 / share as f64);
    let loss = if share > 1 {
        l.total.div_scalar(share as f64)
    } else {
        l.total
    };
    (loss, parts)
}

/// The loader's next micro-batch.
fn next_batch(
    rx: &std::sync::mpsc::Receiver<Result<data::Batch, Error>>,
) -> Result<data::Batch, Error> {
    rx.recv()
        .map_err(|_| TrainError::Loader("its thread ended".into()))?
}

fn add_parts(acc: &mut [f64; 4], p: [f64; 4]) {
    for (a, v) in acc.iter_mut().zip(p) {
        *a += v;
    }
}

fn check_finite(loss: f64, step: usize) -> Result<(), Error> {
    if loss.is_finite() {
        Ok(())
    } else {
        Err(TrainError::NonFinite {
            step: step + 1,
            loss,
        }
        .into())
    }
}

/// Problems listed in a [`TrainError::BadData`].
const LISTED_PROBLEMS: usize = 20;

/// The file listing the images `data.skip_bad` left out, in the run directory.
pub const SKIPPED: &str = "skipped.txt";

/// Opens and checks the training and validation data (before anything else is built): stops
/// with the problems listed, or with `data.skip_bad` leaves their images out and lists them
/// in `out/skipped.txt`.
fn open_data(
    cfg: &TrainConfig,
    out: &Path,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(Dataset, Option<Dataset>), Error> {
    let (train_set, mut check) = Dataset::open_checked(&cfg.data.train)?;
    let val = match &cfg.data.val {
        Some(v) => {
            let (set, c) = Dataset::open_checked(v)?;
            check.images += c.images;
            check.skipped += c.skipped;
            check.problems.extend(c.problems);
            Some(set)
        }
        None => None,
    };
    let empty = [(Some(&train_set), "data.train"), (val.as_ref(), "data.val")]
        .into_iter()
        .find(|(set, _)| set.is_some_and(Dataset::is_empty))
        .map(|(_, key)| key);
    settle_problems(cfg, out, check, empty, on_event)?;
    Ok((train_set, val))
}

/// Acts on what the data check found: nothing (a list from an earlier invocation is removed),
/// or the problems, which stop training unless `data.skip_bad` (then they are listed in
/// `out/skipped.txt` and training goes on without their images, unless `empty` names a set
/// with no image left).
fn settle_problems(
    cfg: &TrainConfig,
    out: &Path,
    check: data::DataCheck,
    empty: Option<&str>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(), Error> {
    let problems = check.problems;
    let list = out.join(SKIPPED);
    if problems.is_empty() {
        // A list from an earlier invocation no longer applies.
        let _ = std::fs::remove_file(&list);
        on_event(Event::DataChecked {
            images: check.images,
            skipped: 0,
            problems: 0,
            list: None,
        });
        return Ok(());
    }
    if !cfg.data.skip_bad {
        return Err(TrainError::BadData {
            count: problems.len(),
            listed: problems.iter().take(LISTED_PROBLEMS).cloned().collect(),
        }
        .into());
    }
    let mut text = problems.join("\n");
    text.push('\n');
    write_atomic(&list, text.as_bytes()).map_err(io_err(&list))?;
    on_event(Event::DataChecked {
        images: check.images,
        skipped: check.skipped,
        problems: problems.len(),
        list: Some(&list),
    });
    if let Some(key) = empty {
        return Err(ConfigError::invalid(
            key,
            format!(
                "every image has a problem ({} listed in {})",
                problems.len(),
                list.display()
            ),
        )
        .into());
    }
    Ok(())
}
/// [`DetModel::build`] for training, plus the whole-detector weights of an earlier run when
/// a TextBoxes++ `model.pretrained` names a run directory (its best weights) or a `.bpk` file
/// (fine-tuning a model trained here; the architecture must be the same).
pub fn build_model(
    spec: &ModelSpec,
    device: &Device,
    load_pretrained: bool,
) -> Result<DetModel, Error> {
    let model = DetModel::build(spec, device, load_pretrained)?;
    let ModelSpec::Textboxes(s) = spec else {
        return Ok(model);
    };
    match &s.pretrained {
        Some(p) if load_pretrained && TextBoxesSpec::is_fusedet_weights(p) => {
            let w = if p.is_dir() {
                run_dir::weights(p)?
            } else {
                p.clone()
            };
            run_dir::verify_weights(&w)?;
            Ok(load_module(model, &w)?)
        }
        _ => Ok(model),
    }
}

/// Where a run starts: a new model, optimizer, EMA and state, or with `--resume` those of the
/// latest checkpoint that verifies (skipped ones reported), with the metrics rows up to its
/// step (read from the run's metrics.csv).
struct Start<R> {
    model: DetModel,
    optim: ModuleOptimizer,
    ema: Option<DetModel>,
    state: RunState,
    rows: Vec<R>,
    resumed: bool,
}

#[allow(clippy::too_many_arguments)]
fn start_or_resume<R: CsvRow>(
    cfg: &TrainConfig,
    opts: &TrainOptions,
    out: &Path,
    ad: &Device,
    seed: u64,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Start<R>, Error> {
    let latest = if opts.resume {
        let (good, skipped) = run_dir::latest_good_checkpoint(out);
        for (dir, error) in &skipped {
            on_event(Event::SkippedCheckpoint { dir, error });
        }
        good
    } else {
        None
    };
    let mut model = build_model(&cfg.model, ad, latest.is_none())?;
    let mut optim = cfg.optim.build();
    let mut ema = cfg.optim.ema.then(|| model.valid());
    let mut state = RunState {
        seed,
        ..RunState::default()
    };
    let mut rows = Vec::new();
    if let Some((_, dir)) = &latest {
        model = load_module(model, &dir.join("model.bpk"))?;
        let op = dir.join("optim.bpk");
        optim = optim.load(&op).map_err(rec_err(&op))?;
        if let Some(e) = ema.take() {
            ema = Some(load_module(e, &dir.join("ema.bpk"))?);
        }
        let sp = dir.join("state.json");
        let text = std::fs::read_to_string(&sp).map_err(io_err(&sp))?;
        state = serde_json::from_str(&text).map_err(|e| TrainError::Resume {
            path: sp.clone(),
            reason: e.to_string(),
        })?;
        let mp = out.join("metrics.csv");
        if mp.is_file() {
            rows = read_rows(&mp)?;
            rows.retain(|r: &R| r.step() <= state.step);
        }
    } else if opts.resume {
        return Err(TrainError::Resume {
            path: out.to_path_buf(),
            reason: "nothing to resume (no checkpoints/step-*/ that verifies)".into(),
        }
        .into());
    }
    Ok(Start {
        model,
        optim,
        ema,
        state,
        rows,
        resumed: latest.is_some(),
    })
}

/// Writes checkpoint `checkpoints/step-N` (N = `state.step`: model, optimizer, EMA and
/// `state.json` with their checksums, built aside and renamed whole), then `inference` as
/// `weights/last.bpk`, and keeps the newest `keep` checkpoints. Returns its directory.
fn write_checkpoint(
    out: &Path,
    model: &DetModel,
    optim: &ModuleOptimizer,
    ema: Option<&DetModel>,
    inference: &DetModel,
    state: &mut RunState,
    keep: usize,
) -> Result<PathBuf, Error> {
    let name = format!("step-{:08}", state.step);
    let ck = out.join("checkpoints");
    let tmp = fresh_tmp(&ck, &name)?;
    save_module(model, &tmp.join("model.bpk"))?;
    let op = tmp.join("optim.bpk");
    optim.save(&op).map_err(rec_err(&op))?;
    if let Some(e) = ema {
        save_module(e, &tmp.join("ema.bpk"))?;
    }
    let files: &[&str] = if ema.is_some() {
        &["model.bpk", "optim.bpk", "ema.bpk"]
    } else {
        &["model.bpk", "optim.bpk"]
    };
    state.files = run_dir::checksums(&tmp, files)?;
    let sp = tmp.join("state.json");
    let js = serde_json::to_string_pretty(&state).expect("state serialises");
    write_atomic(&sp, js.as_bytes()).map_err(io_err(&sp))?;
    let dst = ck.join(&name);
    swap_dir(&tmp, &dst)?;
    save_weights(inference, out, run_dir::LAST)?;
    let all = run_dir::checkpoints(out);
    for (_, p) in all.iter().take(all.len().saturating_sub(keep.max(1))) {
        let _ = std::fs::remove_dir_all(p);
    }
    Ok(dst)
}

impl RunConfig {
    /// Whether step `done` (1-based) validates: every `val_every` steps, and the last step.
    fn val_due(&self, done: usize, last: bool) -> bool {
        (self.val_every > 0 && done.is_multiple_of(self.val_every)) || last
    }

    /// Whether step `done` writes a checkpoint: every `checkpoint_every` steps, and the last.
    fn checkpoint_due(&self, done: usize, last: bool) -> bool {
        (self.checkpoint_every > 0 && done.is_multiple_of(self.checkpoint_every)) || last
    }
}

/// Keeps the best validation score so far: when `score` beats `best` (or there is none yet),
/// records step `done`, saves `model` as `weights/best.bpk` and `info` beside it. Returns
/// whether it did.
fn keep_best(
    out: &Path,
    best: &mut Option<(usize, f64)>,
    done: usize,
    score: f64,
    model: &DetModel,
    info: serde_json::Value,
) -> Result<bool, Error> {
    if best.is_some_and(|(_, b)| score <= b) {
        return Ok(false);
    }
    *best = Some((done, score));
    save_weights(model, out, run_dir::BEST)?;
    let p = out.join(run_dir::BEST_INFO);
    write_atomic(&p, info.to_string().as_bytes()).map_err(io_err(&p))?;
    Ok(true)
}

/// The run's state at step `done` (`elapsed_s` of training, the best score and its step) into
/// `state`, then [`write_checkpoint`], reported as [`Event::Checkpoint`].
#[allow(clippy::too_many_arguments)]
fn checkpoint_step(
    out: &Path,
    cfg: &TrainConfig,
    state: &mut RunState,
    (done, elapsed_s): (usize, f64),
    best: Option<(usize, f64)>,
    (model, optim, ema): (&DetModel, &ModuleOptimizer, Option<&DetModel>),
    inference: &DetModel,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(), Error> {
    state.step = done;
    state.elapsed_s = elapsed_s;
    state.best_step = best.map(|b| b.0);
    state.best_hmean = best.map(|b| b.1);
    let dst = write_checkpoint(
        out,
        model,
        optim,
        ema,
        inference,
        state,
        cfg.run.keep_checkpoints,
    )?;
    on_event(Event::Checkpoint(&dst));
    Ok(())
}

/// Runs (or resumes) training as the recipe says, reporting through `on_event`.
pub fn train(
    cfg: &TrainConfig,
    opts: &TrainOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TrainSummary, Error> {
    cfg.validate()?;
    if cfg.model.is_objects() {
        return objects::train(cfg, opts, on_event);
    }
    if matches!(cfg.model, ModelSpec::Textboxes(_)) {
        return textboxes::train(cfg, opts, on_event);
    }
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let cfg_path = out.join(run_dir::CONFIG);
    write_atomic(&cfg_path, cfg.to_toml().as_bytes()).map_err(io_err(&cfg_path))?;

    let (train_set, val_set) = open_data(cfg, out, on_event)?;

    let plain = opts.devices.first().cloned().unwrap_or_default();
    let ad = plain.clone().autodiff();
    let replicas: Vec<Device> = if opts.devices.len() > 1 {
        opts.devices.iter().map(|d| d.clone().autodiff()).collect()
    } else {
        vec![ad.clone()]
    };
    if !cfg.optim.batch_size.is_multiple_of(replicas.len()) {
        return Err(ConfigError::invalid(
            "optim.batch_size",
            format!(
                "{} does not split evenly over {} devices",
                cfg.optim.batch_size,
                replicas.len()
            ),
        )
        .into());
    }
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
    let train_set = Arc::new(train_set);
    let maker = SampleMaker {
        dataset: train_set,
        augment: cfg.data.augment.clone(),
        targets: cfg.targets.clone(),
        norm: cfg.eval.clone(),
        seed,
    };
    let (bs, acc_n) = (o.batch_size, o.accumulate);
    let rx = maker.spawn(start * acc_n, total * acc_n, bs, cfg.data.prefetch);
    let mut last_loss = f64::NAN;
    let mut best = state.best_step.zip(state.best_hmean);
    let clock = Instant::now();
    let elapsed0 = state.elapsed_s;

    for step in start..total {
        let t0 = Instant::now();
        let mut parts = [0f64; 4];
        let lr = o.learning_rate(step);
        if replicas.len() == 1 {
            let mut accum = GradientsAccumulator::<DetModel>::new();
            let mut single = None;
            for _ in 0..acc_n {
                let b = next_batch(&rx)?;
                let (loss, p) = chunk_loss(&model, &b, 0, bs, acc_n, cfg, &ad);
                add_parts(&mut parts, p);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                if acc_n == 1 {
                    single = Some(grads);
                } else {
                    accum.accumulate(&model, grads);
                }
            }
            check_finite(parts[0], step)?;
            let grads = single.unwrap_or_else(|| accum.grads());
            model = optim.step(lr, model, grads);
        } else {
            // Data parallel (Burn's multi-device optimizer step): every device runs its share of
            // each micro-batch on a fork of the model; the optimizer sums the gradients.
            let nd = replicas.len();
            let per = bs / nd;
            let mut accums: Vec<GradientsAccumulator<DetModel>> =
                (0..nd).map(|_| GradientsAccumulator::new()).collect();
            let mut first = None;
            for _ in 0..acc_n {
                let b = next_batch(&rx)?;
                let forks: Vec<DetModel> = replicas.iter().map(|d| model.clone().fork(d)).collect();
                for (i, (fork, acc)) in forks.iter().zip(&mut accums).enumerate() {
                    let dev = &replicas[i];
                    let (loss, p) = chunk_loss(fork, &b, i * per, per, acc_n * nd, cfg, dev);
                    add_parts(&mut parts, p);
                    acc.accumulate(fork, GradientsParams::from_grads(loss.backward(), fork));
                }
                first = forks.into_iter().next();
            }
            check_finite(parts[0], step)?;
            // BatchNorm running statistics come from the first device (as DDP broadcasts
            // rank 0's buffers).
            if let Some(f) = first {
                model = copy_values(&f.fork(&ad), model);
            }
            let grads = MultiGradientsParams {
                grads: accums
                    .iter_mut()
                    .zip(&replicas)
                    .map(|(a, d)| (a.grads(), d.clone()))
                    .collect(),
            };
            model = optim.step_multi(lr, model, grads);
        }
        if let Some(e) = ema.take() {
            ema = Some(ema_update(
                e,
                &model.valid(),
                ema_decay(o.ema_decay, o.ema_ramp, step + 1),
            ));
        }
        let done = step + 1;
        last_loss = parts[0];
        let mut row = MetricsRow {
            step: done,
            loss: parts[0],
            loss_prob: parts[1],
            loss_thresh: parts[2],
            loss_binary: parts[3],
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
            let (scores, _) = validate(eval_model(), &plain, vs, &cfg.eval, &cfg.postprocess)?;
            let info = serde_json::json!({"step": done, "scores": &scores});
            let is_best = keep_best(out, &mut best, done, scores.hmean, &eval_model(), info)?;
            on_event(Event::Validated {
                step: done,
                scores: &scores,
                best: is_best,
            });
            row.val = Some(scores);
        }
        row.elapsed_s = elapsed0 + clock.elapsed().as_secs_f64();
        on_event(Event::Step(&row));
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
            write_curves(out, &rows, &format!("fusedet train: {}", out.display()))?;
        }
    }
    write_rows(out, &rows)?;
    let best_scores = best.and_then(|(s, _)| {
        rows.iter()
            .find(|r| r.step == s)
            .and_then(|r| r.val)
            .map(|v| (s, v))
    });
    Ok(TrainSummary {
        steps: total,
        last_loss,
        best: best_scores,
        best_ap: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_polynomially() {
        let o = OptimConfig {
            lr: 0.007,
            warmup_steps: 150,
            steps: 60_000,
            ..OptimConfig::default()
        };
        assert_eq!(o.learning_rate(0), 0.0);
        assert!((o.learning_rate(75) - 0.0035).abs() < 1e-12);
        assert!((o.learning_rate(150) - 0.007).abs() < 1e-12);
        let mid = 150 + (60_000 - 150) / 2;
        assert!((o.learning_rate(mid) - 0.007 * 0.5f64.powf(0.9)).abs() < 1e-9);
        assert_eq!(o.learning_rate(60_000), 0.0);
    }

    #[test]
    fn cosine_schedule_burns_in_holds_and_decays_to_the_floor() {
        let o = OptimConfig {
            lr: 1e-3,
            warmup_steps: 100,
            warmup_power: 4.0,
            decay: Decay::Cosine,
            hold_until: 400,
            decay_until: 2400,
            min_lr: 1e-5,
            steps: 3000,
            ..OptimConfig::default()
        };
        assert_eq!(o.learning_rate(0), 0.0);
        assert!((o.learning_rate(50) - 1e-3 / 16.0).abs() < 1e-15);
        assert_eq!(o.learning_rate(100), 1e-3);
        assert_eq!(o.learning_rate(399), 1e-3);
        assert_eq!(o.learning_rate(400), 1e-3);
        let mid = o.learning_rate(1400);
        assert!((mid - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-12, "{mid}");
        assert!(o.learning_rate(2399) > 1e-5 && o.learning_rate(2399) < 1.0001e-5);
        assert_eq!(o.learning_rate(2400), 1e-5);
        assert_eq!(o.learning_rate(2999), 1e-5);
        let end_at_steps = OptimConfig {
            decay_until: 0,
            ..o
        };
        assert_eq!(end_at_steps.learning_rate(3000), 1e-5);
        assert!(end_at_steps.learning_rate(2400) > 1e-5);
    }

    #[test]
    fn step_schedule_drops_at_each_milestone() {
        let o = OptimConfig {
            lr: 1e-3,
            warmup_steps: 10,
            decay: Decay::Step,
            milestones: vec![100, 200],
            ..OptimConfig::default()
        };
        assert!((o.learning_rate(5) - 5e-4).abs() < 1e-15);
        assert_eq!(o.learning_rate(10), 1e-3);
        assert_eq!(o.learning_rate(99), 1e-3);
        assert!((o.learning_rate(100) - 1e-4).abs() < 1e-15);
        assert!((o.learning_rate(250) - 1e-5).abs() < 1e-15);
    }

    #[test]
    fn metrics_rows_round_trip_through_csv() {
        let r = MetricsRow {
            step: 12,
            loss: 3.5,
            loss_prob: 0.25,
            loss_thresh: 0.125,
            loss_binary: 0.5,
            lr: 0.007,
            img_per_s: 4.5,
            elapsed_s: 10.5,
            val: None,
        };
        assert_eq!(MetricsRow::parse(&r.csv()), Some(r.clone()));
        let v = MetricsRow {
            val: Some(Scores::from_totals(8, 10, 9)),
            ..r
        };
        let back = MetricsRow::parse(&v.csv()).unwrap();
        assert!((back.val.unwrap().hmean - v.val.unwrap().hmean).abs() < 1e-6);
    }

    #[test]
    fn recipe_errors_name_the_key() {
        let base = "[model]\narch = \"dbnet\"\n[data.train]\nkind = \"synth\"\ncount = 4\n";
        assert!(TrainConfig::from_toml(base).is_ok());
        let e = TrainConfig::from_toml(&format!("{base}[optim]\nlearning_rate = 1\n")).unwrap_err();
        assert!(e.to_string().contains("learning_rate"), "{e}");
        let e = TrainConfig::from_toml(&format!("{base}[optim]\nbatch_size = 0\n")).unwrap_err();
        assert!(e.to_string().contains("batch_size"), "{e}");
        let e =
            TrainConfig::from_toml("[model]\narch = \"dbnet\"\n[data.train]\nkind = \"folder\"\n")
                .unwrap_err();
        assert!(e.to_string().contains("folder"), "{e}");
    }
}
