//! `fusedet train` for `arch = "textboxes"` (RetinaNet + TextBoxes++, SPEC §10): text data
//! (the files kinds or `synth`), the reference's augmentation (SSD photometric distortion, a
//! random crop that keeps text whole, a square resize to the step's input size: fixed or drawn
//! from `multiscale`), anchors matched and encoded per sample ([`coder::encode`]), focal +
//! smooth-L1 loss with both terms logged, validation with the ICDAR 2015 protocol, and the same
//! run directory (checkpoints with checksums, `--resume`, `weights/`) as the other families.
//!
//! The crop (the reference's `RandomSampleCropPoly`): a window of 0.1-1 of each side with
//! aspect `h / w` in [0.5, 2] that covers at least one text region by more than 90%; regions
//! it covers by more than 90% stay text, regions it cuts become don't-care (their anchors are
//! ignored rather than taught as background), regions outside it are dropped. The
//! reference's rotation (`rotate`, `max_angle`; black fill where the reference fills with the
//! mean colour) comes before the crop, with the same rule for regions it moves out of the
//! image.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Dataset, sample_index, spawn_loader};
use super::{
    CsvRow, Event, Start, TrainConfig, TrainOptions, TrainSummary, check_finite, checkpoint_step,
    keep_best, open_data, plot, read_rows, start_or_resume, write_rows,
};
use crate::data::TextInstance;
use crate::error::{ConfigError, Error, TrainError};
use crate::fsutil::write_atomic;
use crate::metric::{MatchMode, Scores, evaluate_image};
use crate::model::params::{ema_decay, ema_update};
use crate::model::textboxes::coder::{self, Targets};
use crate::model::textboxes::{TextBoxes, TextBoxesSpec};
use crate::model::{DetModel, ModelSpec};
use crate::object::normalize_imagenet;
use crate::postprocess::yolo::letterbox;
use crate::quad::QuadDetector;
use crate::rng::Rng;
use crate::run_dir::{self, io_err};

const AUG: u64 = 0x5442_4155_4721;

/// The `[textboxes]` section of a recipe: training input and augmentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TbTrainConfig {
    /// Square training input side (multiple of 32).
    pub input_size: usize,
    /// Sides to draw from for multi-scale training (the reference: 608..960 then 960..1280 in
    /// steps of 32); empty for `input_size` only.
    pub multiscale: Vec<usize>,
    /// Steps between draws of the multi-scale side.
    pub multiscale_every: usize,
    /// Probability of a random crop (the reference: 5 of its 6 crop modes).
    pub crop: f64,
    /// Smallest crop side, as a fraction of the image side.
    pub crop_min: f64,
    /// SSD photometric distortion.
    pub photometric: bool,
    /// Probability of a rotation about the image centre (the reference: 1/3), before the crop.
    pub rotate: f64,
    /// Largest rotation, degrees either way (the reference: 90), drawn in whole degrees.
    pub max_angle: f64,
    /// Text regions kept per image (the first ones).
    pub max_quads: usize,
}

impl Default for TbTrainConfig {
    fn default() -> Self {
        Self {
            input_size: 768,
            multiscale: Vec::new(),
            multiscale_every: 1,
            crop: 5.0 / 6.0,
            crop_min: 0.1,
            photometric: true,
            rotate: 0.0,
            max_angle: 90.0,
            max_quads: 300,
        }
    }
}

impl TbTrainConfig {
    /// Checks values serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |k: &str, m: String| Err(ConfigError::invalid(format!("textboxes.{k}"), m));
        for &s in std::iter::once(&self.input_size).chain(&self.multiscale) {
            if s < 64 || !s.is_multiple_of(32) {
                return bad(
                    "input_size",
                    format!("{s}: sides must be multiples of 32, at least 64"),
                );
            }
        }
        if self.multiscale_every == 0 {
            return bad("multiscale_every", "must be positive".into());
        }
        for (k, p) in [("crop", self.crop), ("rotate", self.rotate)] {
            if !(0.0..=1.0).contains(&p) {
                return bad(k, format!("a probability, not {p}"));
            }
        }
        if !(0.0..=180.0).contains(&self.max_angle) {
            return bad(
                "max_angle",
                format!("degrees in [0, 180], not {}", self.max_angle),
            );
        }
        if !(self.crop_min > 0.0 && self.crop_min <= 1.0) {
            return bad(
                "crop_min",
                format!("must be in (0, 1], not {}", self.crop_min),
            );
        }
        if self.max_quads == 0 {
            return bad("max_quads", "must be positive".into());
        }
        Ok(())
    }

    /// Input side of optimizer step `step`.
    pub fn input_at(&self, seed: u64, step: usize) -> usize {
        if self.multiscale.is_empty() {
            return self.input_size;
        }
        let slot = (step / self.multiscale_every) as u64;
        let mut rng = Rng::derive(seed, &[AUG, 1, slot]);
        self.multiscale[rng.index(self.multiscale.len())]
    }
}

/// A text region as a quad (a polygon of other than 4 points becomes its minimum-area
/// rectangle) and its don't-care flag.
fn quad_of(t: &TextInstance) -> [f32; 8] {
    let p = &t.points;
    if p.len() == 4 {
        return std::array::from_fn(|i| p[i / 2][i % 2] as f32);
    }
    let pts: Vec<(f32, f32)> = p.iter().map(|v| (v[0] as f32, v[1] as f32)).collect();
    let c = fusedet_geom::minrect::min_area_rect(&pts).corners();
    std::array::from_fn(|i| if i % 2 == 0 { c[i / 2].0 } else { c[i / 2].1 })
}

fn bounds(q: &[f32; 8]) -> [f32; 4] {
    let xs = [q[0], q[2], q[4], q[6]];
    let ys = [q[1], q[3], q[5], q[7]];
    let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
    let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
    [min(xs), min(ys), max(xs), max(ys)]
}

/// Fraction of `b`'s area inside the window `r` (both `x1, y1, x2, y2`).
fn coverage(b: [f32; 4], r: [f32; 4]) -> f32 {
    let w = (b[2].min(r[2]) - b[0].max(r[0])).max(0.0);
    let h = (b[3].min(r[3]) - b[1].max(r[1])).max(0.0);
    let area = (b[2] - b[0]) * (b[3] - b[1]);
    if area > 0.0 { w * h / area } else { 0.0 }
}

/// A sample's quads in input pixels with their don't-care flags.
pub type Quads = Vec<([f32; 8], bool)>;

/// A micro-batch: `n` images `[n, 3, s, s]` (normalised) and their encoded targets.
pub struct TbBatch {
    /// Values.
    pub images: Vec<f32>,
    /// Targets per image.
    pub targets: Vec<Targets>,
    /// Images.
    pub n: usize,
    /// Side.
    pub size: usize,
}

/// Makes training samples: which image and how it is augmented depend only on the seed and
/// the sample's position in the run.
#[derive(Clone)]
pub struct TbSampleMaker {
    /// The data.
    pub dataset: Arc<Dataset>,
    /// Augmentation and input sizes.
    pub config: TbTrainConfig,
    /// Anchors, matching, regression.
    pub spec: TextBoxesSpec,
    /// Run seed.
    pub seed: u64,
    /// Micro-batches per optimizer step.
    pub accumulate: usize,
}

impl TbSampleMaker {
    /// Sample at position `g` at input side `s`: the normalised input `3 × s × s`, its quads
    /// in input pixels with their don't-care flags.
    pub fn sample(&self, g: usize, s: usize) -> Result<(Vec<f32>, Quads), Error> {
        let idx = sample_index(self.seed, self.dataset.len(), g);
        let (mut img, mut inst, _) = self.dataset.get(idx)?;
        let mut rng = Rng::derive(self.seed, &[AUG, g as u64]);
        if self.config.photometric {
            crate::augment::photometric_distort(&mut img, &mut rng);
        }
        inst.truncate(self.config.max_quads);
        if rng.chance(self.config.rotate) {
            let a = self.config.max_angle.floor();
            let angle = rng.range(-(a as i64), a as i64) as f64;
            img = crate::augment::rotate(&img, &mut inst, angle);
        }
        let frame = [0.0, 0.0, img.width() as f32, img.height() as f32];
        // Regions rotated (partly) out of the image: don't-care, or dropped when all out.
        let mut quads: Quads = inst
            .iter()
            .map(|t| (quad_of(t), t.ignore))
            .filter_map(|(q, ign)| {
                let c = coverage(bounds(&q), frame);
                (c > 0.0).then_some((q, ign || c <= 0.9))
            })
            .collect();
        if rng.chance(self.config.crop) && quads.iter().any(|q| !q.1) {
            let (w, h) = (img.width() as f64, img.height() as f64);
            let lo = self.config.crop_min;
            for _ in 0..50 {
                let cw = rng.uniform(lo * w, w);
                let ch = rng.uniform(lo * h, h);
                if !(0.5..=2.0).contains(&(ch / cw)) {
                    continue;
                }
                let left = rng.uniform(0.0, w - cw).floor();
                let top = rng.uniform(0.0, h - ch).floor();
                let (cw, ch) = (cw.floor().max(1.0), ch.floor().max(1.0));
                let r = [
                    left as f32,
                    top as f32,
                    (left + cw) as f32,
                    (top + ch) as f32,
                ];
                let inside = quads
                    .iter()
                    .filter(|(q, ign)| !ign && coverage(bounds(q), r) > 0.9)
                    .count();
                if inside == 0 {
                    continue;
                }
                img =
                    image::imageops::crop_imm(&img, left as u32, top as u32, cw as u32, ch as u32)
                        .to_image();
                quads = quads
                    .into_iter()
                    .filter_map(|(q, ign)| {
                        let c = coverage(bounds(&q), r);
                        let shifted: [f32; 8] =
                            std::array::from_fn(|i| q[i] - if i % 2 == 0 { r[0] } else { r[1] });
                        (c > 0.0).then_some((shifted, ign || c <= 0.9))
                    })
                    .collect();
                break;
            }
        }
        let sx = s as f32 / img.width() as f32;
        let sy = s as f32 / img.height() as f32;
        let mut data = letterbox(&img, s, s, false).data;
        normalize_imagenet(&mut data);
        for (q, _) in &mut quads {
            for (i, v) in q.iter_mut().enumerate() {
                *v *= if i % 2 == 0 { sx } else { sy };
            }
        }
        Ok((data, quads))
    }

    /// Micro-batch `m` of `batch` samples, encoded.
    pub fn batch(&self, m: usize, batch: usize) -> Result<TbBatch, Error> {
        use rayon::prelude::*;
        let size = self.config.input_at(self.seed, m / self.accumulate.max(1));
        let anchors = self.spec.anchors.anchors(size, size);
        let reg = self.spec.regression();
        let samples: Vec<(Vec<f32>, Targets)> = (m * batch..(m + 1) * batch)
            .into_par_iter()
            .map(|g| {
                let (img, quads) = self.sample(g, size)?;
                let (q, ign): (Vec<[f32; 8]>, Vec<bool>) = quads.into_iter().unzip();
                Ok((
                    img,
                    coder::encode(&anchors, &q, &ign, &self.spec.matching, reg),
                ))
            })
            .collect::<Result<_, Error>>()?;
        let mut images = Vec::with_capacity(batch * 3 * size * size);
        let mut targets = Vec::with_capacity(batch);
        for (img, t) in samples {
            images.extend_from_slice(&img);
            targets.push(t);
        }
        Ok(TbBatch {
            images,
            targets,
            n: batch,
            size,
        })
    }
}

/// One row of a TextBoxes++ run's `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct TbMetricsRow {
    /// Optimizer step (1-based).
    pub step: usize,
    /// Total loss.
    pub loss: f64,
    /// Classification (focal) term.
    pub loss_cls: f64,
    /// Regression (smooth L1) term.
    pub loss_loc: f64,
    /// Positive anchors per image.
    pub positives: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Training throughput.
    pub img_per_s: f64,
    /// Wall-clock seconds of training so far (across resumes).
    pub elapsed_s: f64,
    /// Validation precision, recall and hmean (ICDAR 2015), on validation steps.
    pub val: Option<(f64, f64, f64)>,
}

impl CsvRow for TbMetricsRow {
    const HEADER: &'static str = "step,loss,loss_cls,loss_loc,positives,lr,img_per_s,elapsed_s,val_precision,val_recall,val_hmean";

    fn step(&self) -> usize {
        self.step
    }

    fn csv(&self) -> String {
        let mut s = format!(
            "{},{:.6},{:.6},{:.6},{:.2},{:.8},{:.3},{:.1}",
            self.step,
            self.loss,
            self.loss_cls,
            self.loss_loc,
            self.positives,
            self.lr,
            self.img_per_s,
            self.elapsed_s
        );
        match self.val {
            Some((p, r, h)) => s.push_str(&format!(",{p:.6},{r:.6},{h:.6}")),
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
        Some(Self {
            step: f[0].parse().ok()?,
            loss: num(1)?,
            loss_cls: num(2)?,
            loss_loc: num(3)?,
            positives: num(4)?,
            lr: num(5)?,
            img_per_s: num(6)?,
            elapsed_s: num(7)?,
            val: match (num(8), num(9), num(10)) {
                (Some(p), Some(r), Some(h)) => Some((p, r, h)),
                _ => None,
            },
        })
    }
}

/// Reads a TextBoxes++ run's `metrics.csv`.
pub fn read_tb_metrics(path: &Path) -> Result<Vec<TbMetricsRow>, Error> {
    read_rows(path)
}

fn write_tb_curves(out: &Path, rows: &[TbMetricsRow]) -> Result<(), Error> {
    use plot::Series;
    let pick = |f: fn(&TbMetricsRow) -> f64| rows.iter().map(|r| (r.step as f64, f(r))).collect();
    let series = |name, color, points| Series {
        name,
        color,
        points,
        right_axis: false,
    };
    let all = vec![
        series("loss", [20, 20, 20], pick(|r| r.loss)),
        series("focal", [200, 40, 40], pick(|r| r.loss_cls)),
        series("smooth L1", [40, 80, 220], pick(|r| r.loss_loc)),
        Series {
            name: "val hmean (right)",
            color: [0, 150, 0],
            points: rows
                .iter()
                .filter_map(|r| r.val.map(|v| (r.step as f64, v.2)))
                .collect(),
            right_axis: true,
        },
    ];
    plot::save_png(out, &format!("fusedet train: {}", out.display()), &all)
}

/// Scores a TextBoxes++ detector on a text dataset with the ICDAR 2015 protocol.
pub fn validate_quads(det: &QuadDetector, set: &Dataset) -> Result<Scores, Error> {
    let mut per = Vec::with_capacity(set.len());
    for i in 0..set.len() {
        let (img, gt, _) = set.get(i)?;
        let polys: Vec<Vec<[f64; 2]>> = det.detect(&img)?.iter().map(|d| d.points()).collect();
        per.push(evaluate_image(&gt, &polys, MatchMode::Icdar2015, 0.5));
    }
    Ok(Scores::combine(&per))
}

fn tb(m: &DetModel) -> &TextBoxes {
    m.textboxes().expect("a TextBoxes++ model")
}

/// [`super::train`] for `arch = "textboxes"`.
pub(super) fn train(
    cfg: &TrainConfig,
    opts: &TrainOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TrainSummary, Error> {
    let ModelSpec::Textboxes(spec) = &cfg.model else {
        unreachable!("called for TextBoxes++")
    };
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let cfg_path = out.join(run_dir::CONFIG);
    write_atomic(&cfg_path, cfg.to_toml().as_bytes()).map_err(io_err(&cfg_path))?;
    let (train_set, val_set) = open_data(cfg, out, on_event)?;
    if opts.devices.len() > 1 {
        return Err(TrainError::Device {
            name: format!("{} devices", opts.devices.len()),
            reason: "TextBoxes++ training runs on one device".into(),
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
    let maker = TbSampleMaker {
        dataset: Arc::new(train_set),
        config: cfg.textboxes.clone(),
        spec: spec.clone(),
        seed,
        accumulate: o.accumulate,
    };
    let (bs, acc_n) = (o.batch_size, o.accumulate);
    let rx = spawn_loader(start * acc_n..total * acc_n, cfg.data.prefetch, move |m| {
        maker.batch(m, bs)
    });
    let mut last_loss = f64::NAN;
    let mut best = state.best_step.zip(state.best_hmean);
    let mut best_scores = None;
    let clock = Instant::now();
    let elapsed0 = state.elapsed_s;

    for step in start..total {
        let t0 = Instant::now();
        let lr = o.learning_rate(step);
        let (mut cls, mut loc, mut pos) = (0f64, 0f64, 0usize);
        let mut accum = GradientsAccumulator::<DetModel>::new();
        let mut single = None;
        for _ in 0..acc_n {
            let b = rx
                .recv()
                .map_err(|_| TrainError::Loader("its thread ended".into()))??;
            let s = b.size;
            let x = Tensor::<4>::from_data(TensorData::new(b.images, [b.n, 3, s, s]), &ad);
            let y = tb(&model).forward(x);
            let l = spec.loss.loss(y.loc, y.cls, &b.targets);
            let k = acc_n as f64;
            cls += f64::from(l.cls.clone().into_scalar::<f32>()) / k;
            loc += f64::from(l.loc.clone().into_scalar::<f32>()) / k;
            pos += l.positives;
            let total_loss = if acc_n > 1 {
                l.total.div_scalar(k)
            } else {
                l.total
            };
            let grads = GradientsParams::from_grads(total_loss.backward(), &model);
            if acc_n == 1 {
                single = Some(grads);
            } else {
                accum.accumulate(&model, grads);
            }
        }
        let loss = cls + loc;
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
        let mut row = TbMetricsRow {
            step: done,
            loss,
            loss_cls: cls,
            loss_loc: loc,
            positives: pos as f64 / (bs * acc_n) as f64,
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
            let DetModel::Tb(m) = eval_model() else {
                unreachable!("a TextBoxes++ model")
            };
            let det = QuadDetector::new(m, spec.clone(), plain.clone());
            let scores = validate_quads(&det, vs)?;
            let info = serde_json::json!({"step": done, "scores": &scores});
            let is_best = keep_best(out, &mut best, done, scores.hmean, &eval_model(), info)?;
            if is_best {
                best_scores = Some((done, scores));
            }
            on_event(Event::Validated {
                step: done,
                scores: &scores,
                best: is_best,
            });
            row.val = Some((scores.precision, scores.recall, scores.hmean));
        }
        row.elapsed_s = elapsed0 + clock.elapsed().as_secs_f64();
        on_event(Event::QuadStep(&row));
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
            write_tb_curves(out, &rows)?;
        }
    }
    write_rows(out, &rows)?;
    let best = best_scores.or_else(|| {
        let (s, _) = best?;
        let (p, r, h) = rows.iter().find(|r| r.step == s)?.val?;
        Some((
            s,
            Scores {
                precision: p,
                recall: r,
                hmean: h,
                matched: 0,
                gt_care: 0,
                det_care: 0,
            },
        ))
    });
    Ok(TrainSummary {
        steps: total,
        last_loss,
        best,
        best_ap: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_rows_round_trip_through_csv() {
        let r = TbMetricsRow {
            step: 3,
            loss: 1.5,
            loss_cls: 1.25,
            loss_loc: 0.25,
            positives: 12.5,
            lr: 1e-3,
            img_per_s: 2.0,
            elapsed_s: 4.5,
            val: None,
        };
        assert_eq!(TbMetricsRow::parse(&r.csv()), Some(r.clone()));
        let v = TbMetricsRow {
            val: Some((0.5, 0.25, 0.375)),
            ..r
        };
        assert_eq!(TbMetricsRow::parse(&v.csv()), Some(v));
    }

    #[test]
    fn crops_keep_whole_text_and_mark_cut_text_dont_care() {
        let cfg = crate::synth::SynthConfig {
            width: 160,
            height: 120,
            ..Default::default()
        };
        let set = Dataset::Synth(Arc::new(crate::synth::Synth::new(cfg)), 6);
        let maker = TbSampleMaker {
            dataset: Arc::new(set),
            config: TbTrainConfig {
                input_size: 64,
                crop: 1.0,
                photometric: false,
                ..TbTrainConfig::default()
            },
            spec: TextBoxesSpec::default(),
            seed: 11,
            accumulate: 1,
        };
        let mut cropped = 0;
        for g in 0..12 {
            let (img, quads) = maker.sample(g, 64).unwrap();
            assert_eq!(img.len(), 3 * 64 * 64);
            // At least one whole text region survives every crop.
            assert!(quads.iter().any(|(_, ign)| !ign), "sample {g}");
            for (q, ign) in &quads {
                let b = bounds(q);
                if !ign {
                    // Whole regions lie (almost) inside the input.
                    assert!(coverage(b, [0.0, 0.0, 64.0, 64.0]) > 0.9, "{q:?}");
                }
            }
            let idx = sample_index(11, 6, g);
            let (_, inst, _) = maker.dataset.get(idx).unwrap();
            cropped += usize::from(quads.len() != inst.len() || quads.iter().any(|q| q.1));
        }
        assert!(cropped > 0, "no crop changed the regions");
        // Same position, same sample.
        assert_eq!(maker.sample(5, 64).unwrap(), maker.sample(5, 64).unwrap());
        // Rotated samples: whole regions stay inside the input, the quads turned with the image.
        let turned = TbSampleMaker {
            config: TbTrainConfig {
                crop: 0.0,
                rotate: 1.0,
                max_angle: 60.0,
                ..maker.config.clone()
            },
            ..maker.clone()
        };
        let plain = TbSampleMaker {
            config: TbTrainConfig {
                crop: 0.0,
                ..maker.config.clone()
            },
            ..maker.clone()
        };
        let mut moved = 0;
        for g in 0..6 {
            let (_, quads) = turned.sample(g, 64).unwrap();
            for (q, ign) in &quads {
                assert!(
                    *ign || coverage(bounds(q), [0.0, 0.0, 64.0, 64.0]) > 0.9,
                    "{q:?}"
                );
            }
            moved += usize::from(quads != plain.sample(g, 64).unwrap().1);
        }
        assert!(moved >= 4, "{moved} of 6 samples rotated");
        let b = maker.batch(0, 2).unwrap();
        assert_eq!(b.targets.len(), 2);
        assert_eq!(
            b.targets[0].labels.len(),
            TextBoxesSpec::default().anchors.anchors(64, 64).len()
        );
    }
}
