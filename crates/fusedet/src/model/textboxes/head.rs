//! The TextBoxes++ head on RetinaNet's shared subnets: per branch 4 × (3×3 conv + ReLU) and a
//! final **3×5** convolution (padding 1, 2: a wide receptive field for long words), applied with
//! the same weights to every pyramid level. Classification gives `A · K` logits per position,
//! regression `A · 8` (or `A · 12`) offsets. Initialisation as RetinaNet: weights N(0, 0.01),
//! biases 0, the classification bias `-ln((1 - π) / π)` so that every anchor starts at
//! probability π. With `gn`, a GroupNorm (32 groups) follows each hidden convolution (MMDetection's
//! `norm_cfg = dict(type='GN')` RetinaNet head).

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Initializer};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// The two branches.
#[derive(Module, Debug)]
pub struct TbHead {
    /// Regression branch (reference key `loc_head.{0,2,4,6,8}`).
    pub loc_head: Vec<Conv2d>,
    /// Classification branch (reference key `cls_head.{0,2,4,6,8}`).
    pub cls_head: Vec<Conv2d>,
    /// GroupNorms after the regression branch's hidden convolutions (empty without `gn`).
    pub loc_norms: Vec<GroupNorm>,
    /// GroupNorms after the classification branch's hidden convolutions.
    pub cls_norms: Vec<GroupNorm>,
}

/// Groups of the head's GroupNorms.
pub const GN_GROUPS: usize = 32;

fn branch(c: usize, convs: usize, out: usize, device: &Device) -> Vec<Conv2d> {
    let init = Initializer::Normal {
        mean: 0.0,
        std: 0.01,
    };
    let mut v: Vec<Conv2d> = (0..convs)
        .map(|_| {
            Conv2dConfig::new([c, c], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(init.clone())
                .init(device)
        })
        .collect();
    v.push(
        Conv2dConfig::new([c, out], [3, 5])
            .with_padding(PaddingConfig2d::Explicit(1, 2, 1, 2))
            .with_initializer(init)
            .init(device),
    );
    for c in &mut v {
        if let Some(b) = &c.bias {
            c.bias = Some(Param::from_tensor(b.val().zeros_like()));
        }
    }
    v
}

impl TbHead {
    /// `convs` hidden convolutions of `channels` (each followed by a GroupNorm when `gn`);
    /// `anchors` per position, `classes` logits and `reg` offsets per anchor; classification
    /// prior `prior`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        channels: usize,
        convs: usize,
        anchors: usize,
        classes: usize,
        reg: usize,
        prior: f64,
        gn: bool,
        device: &Device,
    ) -> Self {
        let loc_head = branch(channels, convs, anchors * reg, device);
        let mut cls_head = branch(channels, convs, anchors * classes, device);
        if let Some(last) = cls_head.last_mut() {
            let bias = -((1.0 - prior) / prior).ln();
            let n = anchors * classes;
            last.bias = Some(Param::from_tensor(Tensor::full([n], bias, device)));
        }
        let norms = || -> Vec<GroupNorm> {
            if gn {
                (0..convs)
                    .map(|_| GroupNormConfig::new(GN_GROUPS, channels).init(device))
                    .collect()
            } else {
                Vec::new()
            }
        };
        Self {
            loc_head,
            cls_head,
            loc_norms: norms(),
            cls_norms: norms(),
        }
    }

    fn run(convs: &[Conv2d], norms: &[GroupNorm], x: Tensor<4>, width: usize) -> Tensor<3> {
        let last = convs.len() - 1;
        let mut y = x;
        for (i, c) in convs.iter().enumerate() {
            y = c.forward(y);
            if let Some(n) = norms.get(i) {
                y = n.forward(y);
            }
            if i < last {
                y = relu(y);
            }
        }
        let [n, ch, h, w] = y.dims();
        y.permute([0, 2, 3, 1])
            .reshape([n, h * w * ch / width, width])
    }

    /// # Shapes
    /// - `levels`: P2..P7 `[n, c, h_l, w_l]` → (`[n, A_total, reg]`, `[n, A_total, classes]`),
    ///   anchors ordered level, row, column, anchor (see [`super::coder::AnchorSpec::anchors`]).
    pub fn forward(
        &self,
        levels: &[Tensor<4>],
        reg: usize,
        classes: usize,
    ) -> (Tensor<3>, Tensor<3>) {
        let (mut locs, mut clss) = (Vec::new(), Vec::new());
        for p in levels {
            locs.push(Self::run(&self.loc_head, &self.loc_norms, p.clone(), reg));
            clss.push(Self::run(
                &self.cls_head,
                &self.cls_norms,
                p.clone(),
                classes,
            ));
        }
        (Tensor::cat(locs, 1), Tensor::cat(clss, 1))
    }
}
