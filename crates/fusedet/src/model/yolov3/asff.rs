//! Adaptively spatial feature fusion (Liu, Huang and Wang, "Learning Spatial Fusion for
//! Single-Shot Object Detection", arXiv:1911.09516), as `ASFF` in `models/network_blocks.py`
//! of GOATmessi7/ASFF (SPEC §9.1).
//!
//! Level `l` (0 = stride 32, the coarsest) brings the three YOLOv3 features
//! (512 ch @ 32, 256 ch @ 16, 256 ch @ 8) to its own resolution and `inter_dim = [512, 256,
//! 256][l]` channels:
//! - level 0: x0 as is; x1 through a stride-2 CBL 3×3; x2 through a 3×3 stride-2 max pool
//!   (padding 1) and a stride-2 CBL 3×3;
//! - level 1: x0 through a CBL 1×1 (`compress_level_0`) and ×2 nearest upsampling; x1 as is;
//!   x2 through a stride-2 CBL 3×3;
//! - level 2: x0 through `compress_level_0` and ×4 upsampling; x1 upsampled ×2 **without** a
//!   compress conv (its 256 channels already match); x2 as is.
//!
//! Each resized map gives `c` weight channels (a CBL 1×1; `c` = 16, 8 with RFB); a biased 1×1
//! conv of their concatenation gives 3 logits, softmax over the three is the per-pixel fusion
//! weight (`vis`), the weighted sum goes through the `expand` CBL 3×3 to `[1024, 512, 256][l]`
//! channels.
//!
//! `ASFFmobile` (the MobileNetV2 variant, [`Asff::mobile`]) is the same with ReLU6 units,
//! inputs of 512, 256 and 128 channels (`inter_dim = [512, 256, 128][l]`, outputs as above),
//! and at level 2 a `compress_level_1` CBL 1×1 (256 → 128) before x1's ×2 upsampling.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::blocks::{Cbl, CblActivation, conv2d_init};
use crate::model::fused::upsample_nearest;

/// Channels of the three inputs (level 0, 1, 2).
pub const ASFF_IN_CHANNELS: [usize; 3] = [512, 256, 256];
/// Channels of the three inputs of `ASFFmobile` (the MobileNetV2 variant).
pub const ASFF_MOBILE_IN_CHANNELS: [usize; 3] = [512, 256, 128];
/// Output channels of level 0, 1, 2 (the YOLOv3 head widths).
pub const ASFF_OUT_CHANNELS: [usize; 3] = [1024, 512, 256];

/// What one ASFF level gives.
#[derive(Clone, Debug)]
pub struct AsffOutput {
    /// The fused, expanded feature map `[n, [1024, 512, 256][l], h_l, w_l]`.
    pub fused: Tensor<4>,
    /// The fusion weights (`vis`): softmax over levels, `[n, 3, h_l, w_l]`.
    pub weights: Tensor<4>,
    /// The fused map before `expand`, summed over channels (the reference's `fuse_f`):
    /// `[n, h_l, w_l]`.
    pub fused_sum: Tensor<3>,
}

/// One ASFF level.
#[derive(Module, Debug)]
pub struct Asff {
    /// Level 0: x1 (256 ch) → 512 ch, stride 2.
    pub stride_level_1: Option<Cbl>,
    /// Levels 0, 1: x2 → inter_dim, stride 2 (after a max pool at level 0).
    pub stride_level_2: Option<Cbl>,
    /// Levels 1, 2: x0 (512 ch) → inter_dim, 1×1.
    pub compress_level_0: Option<Cbl>,
    /// `ASFFmobile` level 2 only: x1 (256 ch) → 128 ch, 1×1.
    pub compress_level_1: Option<Cbl>,
    /// inter_dim → output channels, 3×3.
    pub expand: Cbl,
    /// inter_dim → c, 1×1.
    pub weight_level_0: Cbl,
    /// inter_dim → c, 1×1.
    pub weight_level_1: Cbl,
    /// inter_dim → c, 1×1.
    pub weight_level_2: Cbl,
    /// 3 c → 3, 1×1 with bias.
    pub weight_levels: Conv2d,
    #[module(skip)]
    level: usize,
}

fn need(m: Option<&Cbl>) -> &Cbl {
    m.expect("built for this level")
}

impl Asff {
    /// `ASFF(level, rfb)`: fusion-weight width 8 with RFB, 16 without.
    ///
    /// # Panics
    /// If `level > 2`.
    pub fn new(level: usize, rfb: bool, device: &Device) -> Self {
        Self::with_channels(level, rfb, ASFF_IN_CHANNELS, ASFF_OUT_CHANNELS, device)
    }

    /// [`Asff::new`] for a narrowed network: input channels `inputs` (levels 0, 1, 2; levels 1
    /// and 2 equal, as level 2 upsamples level 1 without a compress conv) and expanded output
    /// channels `outputs` instead of [`ASFF_IN_CHANNELS`] and [`ASFF_OUT_CHANNELS`].
    ///
    /// # Panics
    /// If `level > 2`, or `inputs[1] != inputs[2]`.
    pub fn with_channels(
        level: usize,
        rfb: bool,
        inputs: [usize; 3],
        outputs: [usize; 3],
        device: &Device,
    ) -> Self {
        assert_eq!(
            inputs[1], inputs[2],
            "ASFF inputs 1 and 2 must have one width"
        );
        Self::build(level, rfb, inputs, outputs, CblActivation::Leaky, device)
    }

    /// `ASFFmobile(level, rfb)`: ReLU6 units, inputs [`ASFF_MOBILE_IN_CHANNELS`], outputs
    /// [`ASFF_OUT_CHANNELS`], and at level 2 `compress_level_1` (x1 → 128 channels before
    /// the upsampling); fusion-weight width 8 with RFB, 16 without.
    ///
    /// # Panics
    /// If `level > 2`.
    pub fn mobile(level: usize, rfb: bool, device: &Device) -> Self {
        Self::build(
            level,
            rfb,
            ASFF_MOBILE_IN_CHANNELS,
            ASFF_OUT_CHANNELS,
            CblActivation::Relu6,
            device,
        )
    }

    fn build(
        level: usize,
        rfb: bool,
        inputs: [usize; 3],
        outputs: [usize; 3],
        act: CblActivation,
        device: &Device,
    ) -> Self {
        assert!(level < 3, "ASFF level {level} (0, 1 or 2)");
        let inter = inputs[level];
        let c = if rfb { 8 } else { 16 };
        let cbl = |cin, cout, k, s| Cbl::with_activation(cin, cout, k, s, act, device);
        let some = |cin, cout, k, s| Some(cbl(cin, cout, k, s));
        let (stride_level_1, stride_level_2, compress_level_0) = match level {
            0 => (
                some(inputs[1], inter, 3, 2),
                some(inputs[2], inter, 3, 2),
                None,
            ),
            1 => (
                None,
                some(inputs[2], inter, 3, 2),
                some(inputs[0], inter, 1, 1),
            ),
            _ => (None, None, some(inputs[0], inter, 1, 1)),
        };
        // Level 2 upsamples x1 as it is when the widths match (ASFF), else through a 1x1
        // compress conv (ASFFmobile).
        let compress_level_1 =
            (level == 2 && inputs[1] != inter).then(|| cbl(inputs[1], inter, 1, 1));
        let weight_levels = conv2d_init(3 * c, 3, 1, 1, 0, 1, 1, true, act.initializer(), device);
        Self {
            stride_level_1,
            stride_level_2,
            compress_level_0,
            compress_level_1,
            expand: cbl(inter, outputs[level], 3, 1),
            weight_level_0: cbl(inter, c, 1, 1),
            weight_level_1: cbl(inter, c, 1, 1),
            weight_level_2: cbl(inter, c, 1, 1),
            weight_levels,
            level,
        }
    }

    /// The level (0, 1, 2).
    pub fn level(&self) -> usize {
        self.level
    }

    /// # Shapes
    /// - `x0`: `[n, 512, h, w]` (stride 32), `x1`: `[n, 256, 2h, 2w]`, `x2`: `[n, 256, 4h, 4w]`
    ///   (`[n, 128, 4h, 4w]` for `ASFFmobile`);
    /// - output: see [`AsffOutput`], at level `l` the resolution of `x_l`.
    pub fn forward(&self, x0: Tensor<4>, x1: Tensor<4>, x2: Tensor<4>) -> AsffOutput {
        let (r0, r1, r2) = match self.level {
            0 => {
                let pooled = MaxPool2dConfig::new([3, 3])
                    .with_strides([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init()
                    .forward(x2);
                (
                    x0,
                    need(self.stride_level_1.as_ref()).forward(x1),
                    need(self.stride_level_2.as_ref()).forward(pooled),
                )
            }
            1 => (
                upsample_nearest(need(self.compress_level_0.as_ref()).forward(x0), 2),
                x1,
                need(self.stride_level_2.as_ref()).forward(x2),
            ),
            _ => {
                let x1 = match &self.compress_level_1 {
                    Some(c) => c.forward(x1),
                    None => x1,
                };
                (
                    upsample_nearest(need(self.compress_level_0.as_ref()).forward(x0), 4),
                    upsample_nearest(x1, 2),
                    x2,
                )
            }
        };
        let v = Tensor::cat(
            vec![
                self.weight_level_0.forward(r0.clone()),
                self.weight_level_1.forward(r1.clone()),
                self.weight_level_2.forward(r2.clone()),
            ],
            1,
        );
        let weights = softmax(self.weight_levels.forward(v), 1);
        let [n, _, h, w] = weights.dims();
        let w_at = |i: usize| weights.clone().slice([0..n, i..i + 1, 0..h, 0..w]);
        let fused = r0 * w_at(0) + r1 * w_at(1) + r2 * w_at(2);
        let fused_sum = fused.clone().sum_dim(1).reshape([n, h, w]);
        AsffOutput {
            fused: self.expand.forward(fused),
            weights,
            fused_sum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_fuses_at_its_own_resolution_with_weights_summing_to_one() {
        let device = Device::default();
        // SPEC §11's shapes at a fifth of the size (19 → 5 keeps the odd side).
        let x0 = Tensor::<4>::random([2, 512, 5, 5], burn::tensor::Distribution::Default, &device);
        let x1 = Tensor::<4>::random(
            [2, 256, 10, 10],
            burn::tensor::Distribution::Default,
            &device,
        );
        let x2 = Tensor::<4>::random(
            [2, 256, 20, 20],
            burn::tensor::Distribution::Default,
            &device,
        );
        for (level, side) in [(0, 5), (1, 10), (2, 20)] {
            for rfb in [false, true] {
                let m = Asff::new(level, rfb, &device);
                let c = if rfb { 8 } else { 16 };
                assert_eq!(
                    m.weight_level_2.conv.weight.dims(),
                    [c, ASFF_IN_CHANNELS[level], 1, 1]
                );
                let out = m.forward(x0.clone(), x1.clone(), x2.clone());
                assert_eq!(out.fused.dims(), [2, ASFF_OUT_CHANNELS[level], side, side]);
                assert_eq!(out.weights.dims(), [2, 3, side, side]);
                assert_eq!(out.fused_sum.dims(), [2, side, side]);
                let total = out.weights.sum_dim(1).sub_scalar(1.0).abs().max();
                assert!(total.into_scalar::<f32>() < 1e-6);
            }
        }
        // Level 2 has no compress conv for x1 (SPEC §9.1 / the known point).
        let m = Asff::new(2, false, &device);
        assert!(m.compress_level_0.is_some() && m.stride_level_1.is_none());
        assert!(m.stride_level_2.is_none());
    }
}
