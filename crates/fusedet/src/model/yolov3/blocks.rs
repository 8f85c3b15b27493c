//! The building blocks of the ASFF reference's YOLOv3 (`models/network_blocks.py` of
//! GOATmessi7/ASFF): `add_conv`, `resblock`, `SPPLayer`, `upsample`, `DropBlock` and
//! `RFBblock`. Field names are the reference's attribute names, so that its state-dict keys
//! (`conv.weight`, `batch_norm.running_var`, `module_list.0.1.conv.weight`,
//! `branch_2.2.bias`, ...) are the Burn parameter paths.
//!
//! Darknet's cfg-built [`crate::model::darknet::DarknetConv`] computes the same conv → batch
//! norm → leaky unit but names its parts after Darknet's file layout (and folds Darknet's
//! batch-norm epsilon into the variance), so these blocks are separate.

use std::sync::OnceLock;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::leaky_relu;

use crate::model::fused::upsample_nearest;

/// The activation of an [`Cbl`] unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CblActivation {
    /// LeakyReLU(0.1) (`leaky=True`, every Darknet-53 / ASFF unit).
    Leaky,
    /// ReLU6 (`leaky=False`, the MobileNetV2 variant).
    Relu6,
}

impl CblActivation {
    /// The initialisation of the model whose units these are: [`reference_initializer`] for
    /// Darknet-53 / ASFF, [`mobile_initializer`] for the MobileNetV2 variant.
    pub fn initializer(self) -> Initializer {
        match self {
            Self::Leaky => reference_initializer(),
            Self::Relu6 => mobile_initializer(),
        }
    }
}

/// The reference's weight initialisation (`init_yolo` in `main.py`): Kaiming-normal fan-in
/// with negative slope 0.1 for every `nn.Conv2d`.
pub fn reference_initializer() -> Initializer {
    Initializer::KaimingNormal {
        gain: (2.0f64 / (1.0 + 0.1 * 0.1)).sqrt(),
        fan_out_only: false,
    }
}

/// The reference's initialisation of the MobileNetV2 variant (`init_yolo` with
/// `backbone == 'mobile'`): Kaiming-normal fan-in with negative slope 0 for every `nn.Conv2d`.
pub fn mobile_initializer() -> Initializer {
    Initializer::KaimingNormal {
        gain: 2.0f64.sqrt(),
        fan_out_only: false,
    }
}

/// An `nn.Conv2d` initialised as the reference does (`init_yolo`: Kaiming-normal weights,
/// zero bias).
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    conv2d_init(
        cin,
        cout,
        k,
        stride,
        padding,
        dilation,
        groups,
        bias,
        reference_initializer(),
        device,
    )
}

/// [`conv2d`] with the weights drawn by `initializer` (zero bias).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_init(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
    bias: bool,
    initializer: Initializer,
    device: &Device,
) -> Conv2d {
    let mut conv = Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_dilation([dilation, dilation])
        .with_groups(groups)
        .with_bias(false)
        .with_initializer(initializer)
        .init(device);
    if bias {
        conv.bias = Some(Param::from_tensor(Tensor::zeros([cout], device)));
    }
    conv
}

/// `add_conv`: conv `k × k` (stride `s`, padding `(k − 1) / 2`, no bias) → BatchNorm2d →
/// LeakyReLU(0.1) or ReLU6 (the MobileNetV2 variant's units, initialised as that variant:
/// [`mobile_initializer`]).
#[derive(Module, Debug)]
pub struct Cbl {
    /// The convolution (`conv.weight`).
    pub conv: Conv2d,
    /// The batch norm (`batch_norm.{weight,bias,running_mean,running_var}`).
    pub batch_norm: BatchNorm,
    #[module(skip)]
    activation: CblActivation,
}

impl Cbl {
    /// `add_conv(cin, cout, k, stride)` with LeakyReLU(0.1).
    pub fn new(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Self {
        Self::with_activation(cin, cout, k, stride, CblActivation::Leaky, device)
    }

    /// `add_conv(cin, cout, k, stride, leaky)`.
    pub fn with_activation(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        activation: CblActivation,
        device: &Device,
    ) -> Self {
        let init = activation.initializer();
        Self {
            conv: conv2d_init(cin, cout, k, stride, (k - 1) / 2, 1, 1, false, init, device),
            batch_norm: BatchNormConfig::new(cout).init(device),
            activation,
        }
    }

    /// # Shapes
    /// - `x`: `[n, cin, h, w]` → `[n, cout, ceil(h / stride), ceil(w / stride)]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.batch_norm.forward(self.conv.forward(x));
        match self.activation {
            CblActivation::Leaky => leaky_relu(y, 0.1),
            CblActivation::Relu6 => y.clamp(0.0, 6.0),
        }
    }
}

/// `resblock(ch, nblocks, shortcut)`: `nblocks` times [CBL 1×1 ch → ch/2, CBL 3×3 ch/2 → ch],
/// each added to its input when `shortcut`.
#[derive(Module, Debug)]
pub struct ResBlock {
    /// `module_list.<block>.<0|1>`.
    pub module_list: Vec<Vec<Cbl>>,
    #[module(skip)]
    shortcut: bool,
}

impl ResBlock {
    /// `resblock(ch, nblocks, shortcut)`.
    pub fn new(ch: usize, nblocks: usize, shortcut: bool, device: &Device) -> Self {
        let module_list = (0..nblocks)
            .map(|_| {
                vec![
                    Cbl::new(ch, ch / 2, 1, 1, device),
                    Cbl::new(ch / 2, ch, 3, 1, device),
                ]
            })
            .collect();
        Self {
            module_list,
            shortcut,
        }
    }

    /// `ressepblock(ch, out_ch, in_ch, shortcut)` of the MobileNetV2 variant: one unit
    /// [CBL 1×1 ch → in_ch, CBL 3×3 in_ch → out_ch], ReLU6 (added to its input when
    /// `shortcut`, which needs `out_ch == ch`).
    pub fn sep(ch: usize, out_ch: usize, in_ch: usize, shortcut: bool, device: &Device) -> Self {
        let act = CblActivation::Relu6;
        Self {
            module_list: vec![vec![
                Cbl::with_activation(ch, in_ch, 1, 1, act, device),
                Cbl::with_activation(in_ch, out_ch, 3, 1, act, device),
            ]],
            shortcut,
        }
    }

    /// # Shapes
    /// - `x`: `[n, ch, h, w]` → same.
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for unit in &self.module_list {
            let mut h = x.clone();
            for cbl in unit {
                h = cbl.forward(h);
            }
            x = if self.shortcut { x + h } else { h };
        }
        x
    }
}

/// `SPPLayer`: the input concatenated with its 5×5, 9×9 and 13×13 stride-1 max pools (padding
/// 2, 4, 6, i.e. −∞ outside).
#[derive(Module, Debug)]
pub struct Spp {}

impl Spp {
    /// # Shapes
    /// - `x`: `[n, c, h, w]` → `[n, 4 c, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut parts = vec![x.clone()];
        for k in [5, 9, 13] {
            let p = k / 2;
            let pool = MaxPool2dConfig::new([k, k])
                .with_strides([1, 1])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init();
            parts.push(pool.forward(x.clone()));
        }
        Tensor::cat(parts, 1)
    }
}

/// `upsample(scale_factor, mode='nearest')`.
#[derive(Module, Debug)]
pub struct Upsample {
    #[module(skip)]
    scale_factor: usize,
}

impl Upsample {
    /// Nearest-neighbour upsampling by `scale_factor`.
    pub fn new(scale_factor: usize) -> Self {
        Self { scale_factor }
    }

    /// # Shapes
    /// - `x`: `[n, c, h, w]` → `[n, c, h · s, w · s]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        upsample_nearest(x, self.scale_factor)
    }
}

/// `DropBlock(block_size, keep_prob)` (Ghiasi et al., arXiv:1810.12890) as the reference
/// computes it: the identity unless training (an autodiff device) with `keep_prob < 1`; else
/// seeds ~ Bernoulli(γ) everywhere, each seed's `block_size²` square zeroed (a stride-1 max pool
/// of the seeds), the kept values rescaled by `numel / kept`. γ = (1 − keep_prob) · W² /
/// (block_size² · (W − block_size + 1)²) is computed from the width `W` of the **first** input
/// after construction or [`DropBlock::reset`] and kept (the reference caches it; with
/// multi-scale training later inputs of other widths reuse it).
#[derive(Module, Debug)]
pub struct DropBlock {
    #[module(skip)]
    block_size: usize,
    #[module(skip)]
    keep_prob: f64,
    #[module(skip)]
    gamma: OnceLock<f64>,
}

impl DropBlock {
    /// `DropBlock(block_size, keep_prob)`; the model's slots start as `(1, 1.0)`, off.
    pub fn new(block_size: usize, keep_prob: f64) -> Self {
        Self {
            block_size,
            keep_prob,
            gamma: OnceLock::new(),
        }
    }

    /// `reset(block_size, keep_prob)`: new parameters, γ recomputed on the next input.
    pub fn reset(&mut self, block_size: usize, keep_prob: f64) {
        *self = Self::new(block_size, keep_prob);
    }

    /// `(block_size, keep_prob)`.
    pub fn params(&self) -> (usize, f64) {
        (self.block_size, self.keep_prob)
    }

    /// The cached γ, once an input has been seen in training.
    pub fn gamma(&self) -> Option<f64> {
        self.gamma.get().copied()
    }

    fn gamma_for(&self, width: usize) -> f64 {
        *self.gamma.get_or_init(|| {
            let (w, b) = (width as f64, self.block_size as f64);
            (1.0 - self.keep_prob) * w * w / (b * b * (w - b + 1.0).powi(2))
        })
    }

    /// # Shapes
    /// - `x`: `[n, c, h, w]` → same.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if !x.device().is_autodiff() || self.keep_prob >= 1.0 {
            return x;
        }
        let [_, _, _, w] = x.dims();
        let gamma = self.gamma_for(w);
        let seeds = Tensor::<4>::random(x.shape(), Distribution::Bernoulli(gamma), &x.device());
        let p = self.block_size / 2;
        let pool = MaxPool2dConfig::new([self.block_size, self.block_size])
            .with_strides([1, 1])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init();
        let mask = pool.forward(seeds).neg().add_scalar(1.0).detach();
        let numel = mask.shape().num_elements() as f64;
        let kept = mask.clone().sum();
        let scale = kept.recip().mul_scalar(numel).reshape([1, 1, 1, 1]);
        x.mul(mask).mul(scale)
    }
}

/// `RFBblock(in_ch, residual=False)` (receptive field block, Liu et al., arXiv:1711.07767):
/// four branches of `in_ch / 4` channels, concatenated; plain biased convolutions with no
/// normalisation or activation in between:
/// - `branch_0`: 1×1;
/// - `branch_1`: 1×1, 3×3;
/// - `branch_2`: 1×1, 3×3, 3×3 dilation 2;
/// - `branch_3`: 1×1, 5×5, 3×3 dilation 3.
#[derive(Module, Debug)]
pub struct RfbBlock {
    /// `branch_0.0`.
    pub branch_0: Vec<Conv2d>,
    /// `branch_1.{0,1}`.
    pub branch_1: Vec<Conv2d>,
    /// `branch_2.{0,1,2}`.
    pub branch_2: Vec<Conv2d>,
    /// `branch_3.{0,1,2}`.
    pub branch_3: Vec<Conv2d>,
    #[module(skip)]
    residual: bool,
}

impl RfbBlock {
    /// `RFBblock(in_ch, residual)`.
    pub fn new(in_ch: usize, residual: bool, device: &Device) -> Self {
        let c = in_ch / 4;
        let one = || conv2d(in_ch, c, 1, 1, 0, 1, 1, true, device);
        Self {
            branch_0: vec![one()],
            branch_1: vec![one(), conv2d(c, c, 3, 1, 1, 1, 1, true, device)],
            branch_2: vec![
                one(),
                conv2d(c, c, 3, 1, 1, 1, 1, true, device),
                conv2d(c, c, 3, 1, 2, 2, 1, true, device),
            ],
            branch_3: vec![
                one(),
                conv2d(c, c, 5, 1, 2, 1, 1, true, device),
                conv2d(c, c, 3, 1, 3, 3, 1, true, device),
            ],
            residual,
        }
    }

    /// # Shapes
    /// - `x`: `[n, in_ch, h, w]` → same.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let run = |branch: &[Conv2d]| branch.iter().fold(x.clone(), |h, conv| conv.forward(h));
        let out = Tensor::cat(
            vec![
                run(&self.branch_0),
                run(&self.branch_1),
                run(&self.branch_2),
                run(&self.branch_3),
            ],
            1,
        );
        if self.residual { out + x } else { out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spp_concatenates_the_input_and_three_pools_padded_with_minus_infinity() {
        let device = Device::default();
        // All negative: zero padding would leak zeros into the pools at the border.
        let x = Tensor::<4>::random([1, 2, 4, 4], Distribution::Uniform(-3.0, -1.0), &device);
        let y = Spp {}.forward(x.clone());
        assert_eq!(y.dims(), [1, 8, 4, 4]);
        assert!(y.clone().max().into_scalar::<f32>() < -1.0);
        // The 13x13 pool covers the whole 4x4 map: each channel's maximum everywhere.
        let big = y.slice([0..1, 6..8, 0..4, 0..4]);
        let m = x.max_dim(3).max_dim(2);
        assert!(big.sub(m).abs().max().into_scalar::<f32>() == 0.0);
    }

    #[test]
    fn dropblock_is_the_identity_outside_training_and_keeps_the_first_gamma() {
        let device = Device::default();
        let x = Tensor::<4>::ones([2, 3, 16, 16], &device);
        let mut d = DropBlock::new(3, 0.9);
        assert_eq!(
            d.forward(x.clone()).sub(x).abs().max().into_scalar::<f32>(),
            0.0
        );
        assert_eq!(d.gamma(), None);

        let ad = device.clone().autodiff();
        let y = d.forward(Tensor::<4>::ones([2, 3, 16, 16], &ad));
        let g = 0.1 * 256.0 / (9.0 * 14.0f64.powi(2));
        assert!((d.gamma().unwrap() - g).abs() < 1e-12);
        // Dropped to 0, the rest scaled so that the mean stays 1.
        let v = y.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let kept: Vec<f32> = v.iter().copied().filter(|&a| a != 0.0).collect();
        assert!(kept.len() < v.len(), "nothing dropped");
        let mean = v.iter().map(|&a| f64::from(a)).sum::<f64>() / v.len() as f64;
        assert!((mean - 1.0).abs() < 1e-5, "{mean}");
        // A later input of another width reuses γ; reset forgets it.
        d.forward(Tensor::<4>::ones([1, 1, 8, 8], &ad));
        assert!((d.gamma().unwrap() - g).abs() < 1e-12);
        d.reset(5, 0.9);
        assert_eq!((d.params(), d.gamma()), ((5, 0.9), None));
        // keep_prob 1 (the model's default slot) is off.
        let off = DropBlock::new(1, 1.0);
        off.forward(Tensor::<4>::ones([1, 1, 8, 8], &ad));
        assert_eq!(off.gamma(), None);
    }

    #[test]
    fn resblock_adds_its_units_only_with_shortcut() {
        let device = Device::default();
        let x = Tensor::<4>::random([1, 8, 5, 5], Distribution::Default, &device);
        let with = ResBlock::new(8, 2, true, &device);
        let mut without = ResBlock::new(8, 2, false, &device);
        without.module_list = with.module_list.clone();
        let mut expected = x.clone();
        for unit in &with.module_list {
            let h = unit[1].forward(unit[0].forward(expected.clone()));
            expected = expected + h;
        }
        let d = with.forward(x.clone()).sub(expected).abs().max();
        assert!(d.into_scalar::<f32>() < 1e-5);
        let y = without.forward(x);
        assert_eq!(y.dims(), [1, 8, 5, 5]);
    }

    #[test]
    fn rfb_branches_keep_the_width_and_the_size() {
        let device = Device::default();
        let rfb = RfbBlock::new(16, false, &device);
        assert_eq!(rfb.branch_3[1].weight.dims(), [4, 4, 5, 5]);
        assert_eq!(rfb.branch_2[2].dilation, [2, 2]);
        let y = rfb.forward(Tensor::<4>::zeros([1, 16, 7, 7], &device));
        assert_eq!(y.dims(), [1, 16, 7, 7]);
    }
}
