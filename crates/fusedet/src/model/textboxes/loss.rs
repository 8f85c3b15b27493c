//! The TextBoxes++ / RetinaNet loss (SPEC §10.4): sigmoid focal loss over every anchor that is
//! not ignored plus smooth L1 (β = 1) over the positive anchors' offsets, both divided by the
//! number of positive anchors in the batch.
//!
//! - `cls = "focal"` (default): FL = −α_t (1 − p_t)^γ log p_t, α 0.25, γ 2 (the paper; the
//!   reference's `focal_loss`, `binary_cross_entropy_with_logits` weighted by
//!   `α_t (1 − p_t)^γ`);
//! - `cls = "focal_alt"`: the reference's default `focal_loss_alt`,
//!   `−α_t log σ(2 x_t + 1) / 2` with `x_t = ±x`;
//! - `loc_weight` multiplies the smooth-L1 sum (0.5 in the reference: "TextBoxes++ has 8-loc
//!   offset").

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softplus};
use serde::{Deserialize, Serialize};

use super::coder::Targets;

/// The classification loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClsLoss {
    /// The focal loss of the paper.
    #[default]
    Focal,
    /// The reference's `focal_loss_alt` approximation.
    FocalAlt,
}

/// `[model.loss]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TbLossSpec {
    /// Classification loss.
    pub cls: ClsLoss,
    /// Focal α (weight of positives).
    pub alpha: f64,
    /// Focal γ (`focal` only).
    pub gamma: f64,
    /// Weight of the regression term.
    pub loc_weight: f64,
}

impl Default for TbLossSpec {
    fn default() -> Self {
        Self {
            cls: ClsLoss::Focal,
            alpha: 0.25,
            gamma: 2.0,
            loc_weight: 0.5,
        }
    }
}

impl TbLossSpec {
    /// A problem with the values, as `(key, reason)`.
    pub fn check(&self) -> Option<(&'static str, String)> {
        if !(0.0..=1.0).contains(&self.alpha) {
            return Some(("alpha", format!("must be in [0, 1], not {}", self.alpha)));
        }
        if !(self.gamma >= 0.0 && self.gamma.is_finite()) {
            return Some(("gamma", format!("must be >= 0, not {}", self.gamma)));
        }
        (!(self.loc_weight >= 0.0 && self.loc_weight.is_finite())).then(|| {
            (
                "loc_weight",
                format!("must be >= 0, not {}", self.loc_weight),
            )
        })
    }
}

/// The loss of a batch, with its two terms.
#[derive(Clone, Debug)]
pub struct TbLoss {
    /// `loc + cls`.
    pub total: Tensor<1>,
    /// Regression term (weighted, divided by the positives).
    pub loc: Tensor<1>,
    /// Classification term (divided by the positives).
    pub cls: Tensor<1>,
    /// Positive anchors in the batch.
    pub positives: usize,
}

/// `log(1 + exp(x))`, stable both ways.
fn softplus1(x: Tensor<3>) -> Tensor<3> {
    softplus(x, 1.0)
}

impl TbLossSpec {
    /// The loss of predictions `loc [n, A, R]`, `cls [n, A, 1]` against one [`Targets`] per
    /// image. With no positive anchor in the batch the sums are divided by 1.
    pub fn loss(&self, loc: Tensor<3>, cls: Tensor<3>, targets: &[Targets]) -> TbLoss {
        let device = loc.device();
        let [n, a, r] = loc.dims();
        let mut pos = Vec::with_capacity(n * a);
        let mut valid = Vec::with_capacity(n * a);
        let mut offsets = Vec::with_capacity(n * a * r);
        for t in targets {
            pos.extend(t.labels.iter().map(|&l| f32::from(l > 0)));
            valid.extend(t.labels.iter().map(|&l| f32::from(l >= 0)));
            offsets.extend_from_slice(&t.offsets);
        }
        let positives = pos.iter().filter(|&&p| p > 0.0).count();
        let norm = positives.max(1) as f64;
        let pos = Tensor::<3>::from_data(TensorData::new(pos, [n, a, 1]), &device);
        let valid = Tensor::<3>::from_data(TensorData::new(valid, [n, a, 1]), &device);
        let offsets = Tensor::<3>::from_data(TensorData::new(offsets, [n, a, r]), &device);

        // Smooth L1, β = 1: 0.5 d² where |d| < 1, |d| − 0.5 elsewhere.
        let d = loc.sub(offsets).abs();
        let small = d.clone().lower_elem(1.0).float();
        let sl1 = small
            .clone()
            .mul(d.clone().powi_scalar(2).mul_scalar(0.5))
            .add(small.neg().add_scalar(1.0).mul(d.sub_scalar(0.5)));
        let loc_loss = sl1
            .mul(pos.clone())
            .sum()
            .mul_scalar(self.loc_weight / norm);

        let t = pos;
        let alpha_t = t
            .clone()
            .mul_scalar(2.0 * self.alpha - 1.0)
            .add_scalar(1.0 - self.alpha);
        let per = match self.cls {
            ClsLoss::Focal => {
                let p = sigmoid(cls.clone());
                // p_t = p where t = 1, 1 − p elsewhere.
                let pt = p
                    .clone()
                    .mul(t.clone())
                    .add(p.neg().add_scalar(1.0).mul(t.clone().neg().add_scalar(1.0)));
                let w = alpha_t.mul(pt.neg().add_scalar(1.0).powf_scalar(self.gamma));
                // BCE with logits: max(x, 0) − x t + log(1 + exp(−|x|)) = softplus(x) − x t.
                let bce = softplus1(cls.clone()).sub(cls.mul(t));
                w.mul(bce)
            }
            ClsLoss::FocalAlt => {
                // x_t = x (2t − 1); −log σ(2 x_t + 1) = softplus(−(2 x_t + 1)).
                let xt = cls.mul(t.mul_scalar(2.0).sub_scalar(1.0));
                let z = xt.mul_scalar(2.0).add_scalar(1.0);
                alpha_t.mul(softplus1(z.neg())).mul_scalar(0.5)
            }
        };
        let cls_loss = per.mul(valid).sum().div_scalar(norm);
        TbLoss {
            total: loc_loss.clone().add(cls_loss.clone()),
            loc: loc_loss,
            cls: cls_loss,
            positives,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<Targets> {
        vec![Targets {
            labels: vec![1, 0, -1, 0],
            offsets: vec![
                0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, //
                9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, //
                9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, //
                9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0,
            ],
        }]
    }

    #[test]
    fn terms_match_their_formulas() {
        let device = Device::default();
        let loc = Tensor::<3>::zeros([1, 4, 8], &device);
        let logits = [0.5f32, -1.0, 3.0, 2.0];
        let cls = Tensor::<3>::from_data(TensorData::new(logits.to_vec(), [1, 4, 1]), &device);
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        for kind in [ClsLoss::Focal, ClsLoss::FocalAlt] {
            let spec = TbLossSpec {
                cls: kind,
                ..TbLossSpec::default()
            };
            let l = spec.loss(loc.clone(), cls.clone(), &targets());
            assert_eq!(l.positives, 1);
            // 0.5·(0.125 + 0.125 + 1.5) · 0.5 (loc_weight).
            let loc_v = l.loc.into_scalar::<f32>() as f64;
            assert!((loc_v - 0.875).abs() < 1e-6, "{loc_v}");
            let mut want = 0.0;
            for (i, t) in [1.0, 0.0, -1.0, 0.0].into_iter().enumerate() {
                if t < 0.0 {
                    continue;
                }
                let x = logits[i] as f64;
                let at = if t > 0.0 { 0.25 } else { 0.75 };
                want += match kind {
                    ClsLoss::Focal => {
                        let p = sig(x);
                        let pt = if t > 0.0 { p } else { 1.0 - p };
                        -at * (1.0 - pt).powi(2) * pt.ln()
                    }
                    ClsLoss::FocalAlt => {
                        let xt = if t > 0.0 { x } else { -x };
                        -at * sig(2.0 * xt + 1.0).ln() / 2.0
                    }
                };
            }
            let got = l.cls.into_scalar::<f32>() as f64;
            assert!(
                (got - want).abs() < 1e-6 * want.max(1.0),
                "{kind:?}: {got} vs {want}"
            );
        }
    }
}
