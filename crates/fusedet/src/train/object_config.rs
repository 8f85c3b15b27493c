//! The `[objects]` section of a recipe ([`ObjectTrainConfig`]), apart from the training loop
//! of [`super::objects`] so that the run directory's reader ([`crate::run_dir`]) can name it
//! without depending on training.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::postprocess::yolo::YoloPostProcess;
use crate::rng::Rng;
const MULTISCALE: u64 = 0x4d53_4341_4c45;

fn d_input() -> usize {
    608
}
fn d_ignore() -> f64 {
    0.7
}
fn d_true() -> bool {
    true
}
fn d_min_side() -> f64 {
    6.0
}
fn d_mirror() -> f64 {
    0.5
}
fn d_max_labels() -> usize {
    50
}
fn d_every() -> usize {
    10
}
fn d_keep_prob() -> f64 {
    0.9
}
fn d_post() -> YoloPostProcess {
    YoloPostProcess {
        conf: 0.01,
        iou: 0.65,
        max_det: None,
    }
}
fn d_val_post() -> YoloPostProcess {
    YoloPostProcess {
        conf: 0.001,
        iou: 0.65,
        max_det: Some(100),
    }
}

/// The `[objects]` section of a recipe: what an object detector's training and inference
/// need beyond `[model]`, `[data]` and `[optim]` (ignored by text detectors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectTrainConfig {
    /// Square network input side (training, validation, `detect`); a multiple of 32.
    #[serde(default = "d_input")]
    pub input_size: usize,
    /// Multi-scale training: the training input side is `32 · U{lo..=hi}`, drawn anew every
    /// `multiscale_every` steps (the reference: `[10, 19]`, every 10), and `input_size` from
    /// step `multiscale_until` on (the reference: the last 10 epochs).
    #[serde(default)]
    pub multiscale: Option<[usize; 2]>,
    /// Steps between multi-scale draws.
    #[serde(default = "d_every")]
    pub multiscale_every: usize,
    /// Train at `input_size` from this step on.
    #[serde(default)]
    pub multiscale_until: Option<usize>,
    /// Predictions whose best IoU with a box exceeds this get no objectness loss.
    #[serde(default = "d_ignore")]
    pub ignore_threshold: f64,
    /// Class targets `1 − 1/C` and `1/C` (the reference's `LABAL_SMOOTH`).
    #[serde(default = "d_true")]
    pub label_smoothing: bool,
    /// Training boxes whose shorter side, after the resize, is not above this many pixels are
    /// dropped (the reference: 6).
    #[serde(default = "d_min_side")]
    pub min_box_side: f64,
    /// Probability of a horizontal mirror.
    #[serde(default = "d_mirror")]
    pub mirror: f64,
    /// SSD's photometric distortion (brightness, contrast, hue, saturation, each with
    /// probability 0.5; [`crate::augment::photometric_distort`]).
    #[serde(default)]
    pub photometric: bool,
    /// Mixup (the reference's `MIX`): each training image is blended with another one of the
    /// set, ratio λ ~ Beta(1.5, 1.5), its boxes weighing λ and the other's 1 − λ in the
    /// objectness loss ([`crate::object_augment::mixup`]).
    #[serde(default)]
    pub mixup: bool,
    /// No mixup from this optimizer step on (the reference: the last 30 epochs).
    #[serde(default)]
    pub mixup_until: Option<usize>,
    /// Probability of SSD's expand onto a canvas up to 4 times larger filled with the mean
    /// colour (the reference: 0.5; [`crate::object_augment::expand`]).
    #[serde(default)]
    pub expand: f64,
    /// SSD's IoU-constrained random crop (the reference: on;
    /// [`crate::object_augment::iou_crop`]).
    #[serde(default)]
    pub iou_crop: bool,
    /// Probability of the random affine warp: rotation ±10°, scale 0.9–1.1, translation ±10 %,
    /// shear ±2° (the reference: 0.5; [`crate::object_augment::affine`]).
    #[serde(default)]
    pub affine: f64,
    /// At most this many boxes per training image (the reference: 50).
    #[serde(default = "d_max_labels")]
    pub max_labels: usize,
    /// DropBlock schedule (`model.dropblock = true`): `[step, b32, b16, b8]` rows, each
    /// setting the block sizes of the stride-32, 16 and 8 slots from that step on (the
    /// reference: epoch 5 → 1, 3, 5; 80 → 3, 5, 7; 150 → 7, 7, 7).
    #[serde(default)]
    pub dropblock_schedule: Vec<[usize; 4]>,
    /// DropBlock keep probability.
    #[serde(default = "d_keep_prob")]
    pub dropblock_keep_prob: f64,
    /// Thresholds of `detect` on the run (score = objectness × class; the reference's demo:
    /// 0.01, per-class NMS 0.65).
    #[serde(default = "d_post")]
    pub postprocess: YoloPostProcess,
    /// Thresholds of validation (the reference's eval: 0.001, NMS 0.65; 100 per image).
    #[serde(default = "d_val_post")]
    pub val_postprocess: YoloPostProcess,
}

impl Default for ObjectTrainConfig {
    fn default() -> Self {
        Self {
            input_size: d_input(),
            multiscale: None,
            multiscale_every: d_every(),
            multiscale_until: None,
            ignore_threshold: d_ignore(),
            label_smoothing: true,
            min_box_side: d_min_side(),
            mirror: d_mirror(),
            photometric: false,
            mixup: false,
            mixup_until: None,
            expand: 0.0,
            iou_crop: false,
            affine: 0.0,
            max_labels: d_max_labels(),
            dropblock_schedule: Vec::new(),
            dropblock_keep_prob: d_keep_prob(),
            postprocess: d_post(),
            val_postprocess: d_val_post(),
        }
    }
}

impl ObjectTrainConfig {
    /// Checks values serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.input_size == 0 || !self.input_size.is_multiple_of(32) {
            return Err(ConfigError::invalid(
                "objects.input_size",
                "must be a positive multiple of 32",
            ));
        }
        for (key, p) in [
            ("objects.mirror", self.mirror),
            ("objects.expand", self.expand),
            ("objects.affine", self.affine),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(ConfigError::invalid(key, "must be a probability in [0, 1]"));
            }
        }
        if !(self.dropblock_keep_prob > 0.0 && self.dropblock_keep_prob <= 1.0) {
            return Err(ConfigError::invalid(
                "objects.dropblock_keep_prob",
                "must be in (0, 1]",
            ));
        }
        if self
            .dropblock_schedule
            .windows(2)
            .any(|w| w[0][0] >= w[1][0])
            || self.dropblock_schedule.iter().any(|r| r[1..].contains(&0))
        {
            return Err(ConfigError::invalid(
                "objects.dropblock_schedule",
                "rows [step, b32, b16, b8] with increasing steps and positive block sizes",
            ));
        }
        if let Some([lo, hi]) = self.multiscale
            && (lo == 0 || lo > hi || self.multiscale_every == 0)
        {
            return Err(ConfigError::invalid(
                "objects.multiscale",
                "[lo, hi] with 1 <= lo <= hi (sides 32 lo .. 32 hi), multiscale_every positive",
            ));
        }
        // DropBlock's γ = (1 − keep) W² / (b² (W − b + 1)²) must be a probability on each
        // level's map (W = input / stride) at the smallest training input.
        let smallest = self
            .multiscale
            .map_or(self.input_size, |[lo, _]| (32 * lo).min(self.input_size));
        for row in &self.dropblock_schedule {
            for (b, stride) in row[1..].iter().zip(crate::model::yolov3::STRIDES) {
                let (w, bf) = ((smallest / stride) as f64, *b as f64);
                let gamma =
                    (1.0 - self.dropblock_keep_prob) * w * w / (bf * bf * (w - bf + 1.0).powi(2));
                if bf > w || gamma > 1.0 {
                    return Err(ConfigError::invalid(
                        "objects.dropblock_schedule",
                        format!(
                            "block size {b} at step {} does not fit the {w}-wide stride-{stride} \
                             map of a {} input",
                            row[0], smallest
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The training input side at optimizer step `step` (a pure function of the seed and the
    /// step, so a resumed run draws the same sizes).
    pub fn input_at(&self, seed: u64, step: usize) -> usize {
        match self.multiscale {
            Some([lo, hi]) if self.multiscale_until.is_none_or(|u| step < u) => {
                let draw = (step / self.multiscale_every.max(1)) as u64;
                let mut rng = Rng::derive(seed, &[MULTISCALE, draw]);
                32 * rng.range(lo as i64, hi as i64 + 1) as usize
            }
            _ => self.input_size,
        }
    }

    /// Whether any of the reference's geometric augmentations or mixup is on (otherwise a
    /// sample is only distorted, resized and mirrored).
    pub fn ssd_augment(&self) -> bool {
        self.mixup || self.expand > 0.0 || self.iou_crop || self.affine > 0.0
    }

    /// Whether mixup applies at optimizer step `step`.
    pub fn mixup_at(&self, step: usize) -> bool {
        self.mixup && self.mixup_until.is_none_or(|u| step < u)
    }

    /// The DropBlock block sizes at `step` (none before the first row).
    pub fn dropblock_at(&self, step: usize) -> Option<[usize; 3]> {
        self.dropblock_schedule
            .iter()
            .rev()
            .find(|r| r[0] <= step)
            .map(|r| [r[1], r[2], r[3]])
    }
}
