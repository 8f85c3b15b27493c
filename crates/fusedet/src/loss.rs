//! DB losses (SPEC §5, DB's `L1BalanceCELoss`): balanced binary cross-entropy with 3:1 hard
//! negative mining on the probability map, dice loss on the approximate binary map, masked L1
//! on the threshold map; total `5·L_s + 10·L_t + L_b`.

use crate::model::head::DbMaps;
use burn::prelude::*;

/// Loss weights and the negative:positive ratio.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DbLossConfig {
    /// α, weight of the probability-map loss.
    pub bce_scale: f64,
    /// β, weight of the threshold-map loss.
    pub l1_scale: f64,
    /// Hard negatives kept per positive.
    pub negative_ratio: f64,
}

impl Default for DbLossConfig {
    fn default() -> Self {
        Self {
            bce_scale: 5.0,
            l1_scale: 10.0,
            negative_ratio: 3.0,
        }
    }
}

const EPS: f64 = 1e-6;

fn flat<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    let n: usize = t.dims().iter().product();
    t.reshape([n])
}

/// Balanced BCE with OHEM over the whole batch: every positive (`gt·mask`) and the
/// `min(negatives, ratio·positives)` negatives (`(1-gt)·mask`) with the largest loss, averaged.
/// `log` is clamped at -100 as PyTorch's BCE does. Ties at the k-th largest negative loss share
/// its weight, so the value equals a top-k sum exactly.
pub fn balanced_bce(pred: Tensor<4>, gt: Tensor<4>, mask: Tensor<4>, ratio: f64) -> Tensor<1> {
    let gt = flat(gt);
    let log_p = clamped_log(flat(pred.clone()));
    let log_1mp = clamped_log(flat(pred).neg().add_scalar(1.0));
    let loss = gt
        .clone()
        .mul(log_p)
        .add(gt.clone().neg().add_scalar(1.0).mul(log_1mp))
        .neg();
    ohem_mean(loss, gt, flat(mask), ratio)
}

/// [`balanced_bce`] computed from the logits `z` of the probability map (P = σ(z)):
/// `softplus(z) − g·z`, the same values wherever PyTorch's clamped log is not hit, and a
/// gradient `σ(z) − g` that stays alive where σ(z) rounds to exactly 0 or 1. The imported
/// PP-OCR detectors are that saturated on the gaps between the words of a text line; on
/// probabilities their BCE gradient there is zero, so fine-tuning could never split lines.
pub fn balanced_bce_with_logits(
    logits: Tensor<4>,
    gt: Tensor<4>,
    mask: Tensor<4>,
    ratio: f64,
) -> Tensor<1> {
    let (z, gt) = (flat(logits), flat(gt));
    // softplus(z) = max(z, 0) + ln(1 + e^{-|z|}), stable for any z.
    let softplus = z
        .clone()
        .clamp_min(0.0)
        .add(z.clone().abs().neg().exp().add_scalar(1.0).log());
    let loss = softplus.sub(gt.clone().mul(z));
    ohem_mean(loss, gt, flat(mask), ratio)
}

/// Mean of the per-pixel `loss` over every positive and the `min(negatives, ratio·positives)`
/// hardest negatives.
fn ohem_mean(loss: Tensor<1>, gt: Tensor<1>, mask: Tensor<1>, ratio: f64) -> Tensor<1> {
    let device = loss.device();
    let pos = gt.clone().mul(mask.clone());
    let neg = gt.neg().add_scalar(1.0).mul(mask);
    let n_pos = pos.clone().sum().into_scalar::<f32>() as f64;
    let n_neg_avail = neg.clone().sum().into_scalar::<f32>() as f64;
    let n_neg = n_neg_avail.min((n_pos * ratio).floor());
    let neg_loss = loss.clone().mul(neg);
    // Host-side top-k weights: 1 above the k-th largest, shared weight at ties.
    let values: Vec<f32> = neg_loss
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let k = n_neg as usize;
    let weights = topk_weights(&values, k);
    let w = Tensor::<1>::from_data(TensorData::new(weights, [values.len()]), &device);
    let total = loss.mul(pos).sum().add(neg_loss.mul(w).sum());
    total.div_scalar(n_pos + n_neg + EPS)
}

/// Smallest argument whose `log` gradient `1/x` is finite in f32.
const SAFE_LOG_MIN: f32 = f32::MIN_POSITIVE * 1.5;

/// `max(log x, -100)` with a finite gradient everywhere: below [`SAFE_LOG_MIN`] (log ≈ -87)
/// the value is the clamp, -100, with zero gradient. A plain clamp after `log` gives
/// `0 · ∞ = NaN` gradients where a saturated model outputs exactly 0 or 1 (the imported
/// PP-OCR weights do).
fn clamped_log(x: Tensor<1>) -> Tensor<1> {
    let ok = x.clone().greater_equal_elem(SAFE_LOG_MIN);
    let safe = x.ones_like().mask_where(ok.clone(), x);
    safe.log()
        .clamp_min(-100.0)
        .mask_fill(ok.bool_not(), -100.0)
}

/// Weights selecting the `k` largest values (ties at the boundary share the remainder).
fn topk_weights(values: &[f32], k: usize) -> Vec<f32> {
    if k == 0 || values.is_empty() {
        return vec![0.0; values.len()];
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k = k.min(sorted.len());
    let thr = sorted[k - 1];
    let above = values.iter().filter(|&&v| v > thr).count();
    let equal = values.iter().filter(|&&v| v == thr).count();
    let share = (k - above) as f32 / equal.max(1) as f32;
    values
        .iter()
        .map(|&v| {
            if v > thr {
                1.0
            } else if v == thr {
                share
            } else {
                0.0
            }
        })
        .collect()
}

/// Dice loss `1 - 2·Σ(p·g·m) / (Σ(p·m) + Σ(g·m) + eps)`.
pub fn dice(pred: Tensor<4>, gt: Tensor<4>, mask: Tensor<4>) -> Tensor<1> {
    let (pred, gt, mask) = (flat(pred), flat(gt), flat(mask));
    let inter = pred.clone().mul(gt.clone()).mul(mask.clone()).sum();
    let union = pred
        .mul(mask.clone())
        .sum()
        .add(gt.mul(mask).sum())
        .add_scalar(EPS);
    inter.mul_scalar(2.0).div(union).neg().add_scalar(1.0)
}

/// Masked L1 `Σ|p - g|·m / (Σm + eps)`.
pub fn masked_l1(pred: Tensor<4>, gt: Tensor<4>, mask: Tensor<4>) -> Tensor<1> {
    let (pred, gt, mask) = (flat(pred), flat(gt), flat(mask));
    let denom = mask.clone().sum().add_scalar(EPS);
    pred.sub(gt).abs().mul(mask).sum().div(denom)
}

/// The three loss terms and their weighted total.
#[derive(Clone, Debug)]
pub struct DbLossParts {
    /// `α·L_s + β·L_t + L_b`.
    pub total: Tensor<1>,
    /// Probability-map loss (balanced BCE).
    pub prob: Tensor<1>,
    /// Threshold-map loss (masked L1).
    pub thresh: Tensor<1>,
    /// Binary-map loss (dice).
    pub binary: Tensor<1>,
}

/// DB's loss on the head's maps (each `[n, 1, h, w]`: probability, threshold, binary, and the
/// probability logits when present, whose BCE is then taken through
/// [`balanced_bce_with_logits`]) against the targets of [`crate::targets`] (each `[n, 1, h, w]`).
pub fn db_loss(
    maps: DbMaps,
    gt: Tensor<4>,
    mask: Tensor<4>,
    thresh_map: Tensor<4>,
    thresh_mask: Tensor<4>,
    cfg: &DbLossConfig,
) -> DbLossParts {
    let (thr, bin) = (maps.thresh, maps.binary);
    let prob = match maps.logits {
        Some(logits) => {
            balanced_bce_with_logits(logits, gt.clone(), mask.clone(), cfg.negative_ratio)
        }
        None => balanced_bce(maps.prob, gt.clone(), mask.clone(), cfg.negative_ratio),
    };
    let thresh = masked_l1(thr, thresh_map, thresh_mask);
    let binary = dice(bin, gt, mask);
    let total = prob
        .clone()
        .mul_scalar(cfg.bce_scale)
        .add(thresh.clone().mul_scalar(cfg.l1_scale))
        .add(binary.clone());
    DbLossParts {
        total,
        prob,
        thresh,
        binary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2x2 map.
    fn map(v: [f32; 4], device: &Device) -> Tensor<4> {
        Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 1, 2, 2]), device)
    }

    #[test]
    fn saturated_predictions_give_finite_gradients() {
        let device = Device::default().autodiff();
        let p = map([0.0, 1.0, 0.3, 1e-40], &device).require_grad();
        let gt = map([1.0, 0.0, 1.0, 0.0], &device);
        let mask = Tensor::<4>::ones([1, 1, 2, 2], &device);
        let loss = balanced_bce(p.clone(), gt, mask, 3.0);
        // Two positives: 100 (p = 0) + -ln 0.3; two negatives: 100 (p = 1) + ~0.
        let v = loss.clone().into_scalar::<f32>();
        assert!((v - (200.0 - 0.3f32.ln()) / 4.0).abs() < 1e-3, "{v}");
        let g = p.grad(&loss.backward()).unwrap();
        let g: Vec<f32> = g.into_data().try_to_vec().unwrap();
        assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
        assert!(g[2] < 0.0, "the unsaturated positive is pushed up: {g:?}");
    }

    #[test]
    fn logits_keep_the_gradient_alive_where_the_probability_saturates() {
        let device = Device::default().autodiff();
        // A text-line gap the model is sure about (z = 30, σ = 1.0 in f32) but is background,
        // and a positive at z = -30.
        let z = map([30.0, -30.0, 0.5, -2.0], &device).require_grad();
        let gt = map([0.0, 1.0, 1.0, 0.0], &device);
        let mask = Tensor::<4>::ones([1, 1, 2, 2], &device);
        let loss = balanced_bce_with_logits(z.clone(), gt.clone(), mask.clone(), 3.0);
        // softplus(30) + softplus(30) + softplus(-0.5) + softplus(-2), over 4 pixels.
        let sp = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
        let want = (2.0 * sp(30.0) + sp(-0.5) + sp(-2.0)) / 4.0;
        let v = loss.clone().into_scalar::<f32>() as f64;
        assert!((v - want).abs() < 1e-4, "{v} vs {want}");
        let g: Vec<f32> = z
            .grad(&loss.backward())
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        // d/dz = (σ(z) − g) / 4: +1/4 at the saturated gap, −1/4 at the saturated positive.
        assert!(
            (g[0] - 0.25).abs() < 1e-5 && (g[1] + 0.25).abs() < 1e-5,
            "{g:?}"
        );
        // On the probabilities the gap (σ(30) = 1.0 exactly in f32) gets no gradient at all.
        let p = burn::tensor::activation::sigmoid(z.detach()).into_data();
        let p = Tensor::<4>::from_data(p, &device).require_grad();
        let loss = balanced_bce(p.clone(), gt, mask, 3.0);
        let g: Vec<f32> = p
            .grad(&loss.backward())
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(g[0], 0.0, "{g:?}");
    }

    #[test]
    fn topk_weights_share_ties() {
        let w = topk_weights(&[0.5, 0.9, 0.5, 0.1, 0.5], 3);
        assert_eq!(w[1], 1.0);
        assert!((w[0] - 2.0 / 3.0).abs() < 1e-6 && (w[2] - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(w[3], 0.0);
        assert_eq!(topk_weights(&[1.0, 2.0], 0), vec![0.0, 0.0]);
    }
}
