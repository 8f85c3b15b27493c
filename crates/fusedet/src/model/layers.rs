//! Small building blocks shared by the models.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;

use crate::model::fused;
use crate::profile;

/// `make_divisible` of PaddleOCR and mindcv (MobileNet channel rounding): the nearest
/// multiple of `divisor`, at least `divisor`, never below 90% of `v`.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = d.max(((v + d / 2.0) / d).floor() * d);
    if new_v < 0.9 * v {
        new_v += d;
    }
    new_v as usize
}

/// A `k × k` convolution with "same" padding (`k / 2` on every side).
pub fn conv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
        .with_groups(groups)
        .with_bias(bias)
        .init(device)
}

/// `conv.forward(x)`, timed under its kind when profiling ([`crate::profile::conv_kind`]).
///
/// On flex, a strided convolution of at most [`IM2COL_MAX_COLUMNS`] columns (`cin · k²`, a
/// stem's 3 × 3 × 3) runs as [`fused::im2col`] and one 1×1 convolution: flex's own path for it
/// took 37 ms of PP-OCRv4's 228 ms at 736×1280 (`bench --profile`).
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [cout, cin_g, k, kw] = conv.weight.dims();
    let kind = profile::conv_kind(k, conv.stride[0], conv.groups, cin_g * conv.groups);
    profile::time(kind, || {
        let p = k / 2;
        let im2col = k == kw
            && k > 1
            && conv.stride[0] > 1
            && conv.stride[0] == conv.stride[1]
            && conv.groups == 1
            && conv.dilation == [1, 1]
            && conv.padding == PaddingConfig2d::Explicit(p, p, p, p)
            && cin_g * k * k <= IM2COL_MAX_COLUMNS
            && fused::on_flex(&x)
            && fused::on_flex(&conv.weight.val());
        if !im2col {
            return conv.forward(x);
        }
        match fused::im2col(x, k, conv.stride[0], p) {
            Ok(cols) => burn::tensor::module::conv2d(
                cols,
                conv.weight.val().reshape([cout, cin_g * k * k, 1, 1]),
                conv.bias.as_ref().map(|b| b.val()),
                burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            ),
            Err(x) => conv.forward(x),
        }
    })
}

/// The most columns (`cin · k²`) [`conv_forward`] gathers for a strided convolution.
pub const IM2COL_MAX_COLUMNS: usize = 64;

/// `conv.forward(x)` for a stride-1 `k × k` convolution with "same" padding (`k / 2`), groups
/// 1, dilation 1, computed as one 1×1 convolution with `k² · cout` outputs on the zero-padded
/// input followed by the sum of the `k²` shifted `cout`-channel slices; other convolutions go
/// to `conv.forward`. Same result to float rounding (the sum runs in another order), in plain
/// tensor ops (any backend, autodiff included).
///
/// Why: Burn's flex CPU backend runs 1×1 convolutions as one large GEMM but other kernels
/// through per-512-pixel im2col tiles; for PP-OCR's 3×3 96→24 convolutions at 184×320 that
/// path took 205 ms where the 1×1 form takes about a third (docs/performance.md).
pub fn conv_same_via_1x1(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv_same_act(conv, x, fused::Act::Identity)
}

/// [`conv_same_via_1x1`] followed by a ReLU (fused into the sum on flex).
pub fn conv_same_via_1x1_relu(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv_same_act(conv, x, fused::Act::Relu)
}

// The shifted sum's `Err` hands its input back (a 256-byte tensor), once per layer.
#[allow(clippy::result_large_err)]
fn conv_same_act(conv: &Conv2d, x: Tensor<4>, act: fused::Act) -> Tensor<4> {
    let [cout, cin, kh, kw] = conv.weight.dims();
    let p = kh / 2;
    let same = conv.padding == PaddingConfig2d::Explicit(p, p, p, p);
    let direct = kh != kw || kh == 1 || kh % 2 == 0 || conv.stride != [1, 1] || conv.groups != 1;
    if direct || conv.dilation != [1, 1] || !same {
        let y = conv_forward(conv, x);
        return match act {
            fused::Act::Identity => y,
            _ => profile::time(act.kind(), || fused::activate(y, act)),
        };
    }
    let [n, _, h, w] = x.dims();
    // [cout, cin, ky, kx] -> [ky, kx, cout, cin]: output channel (ky * k + kx) * cout + o.
    let w1 = conv
        .weight
        .val()
        .permute([2, 3, 0, 1])
        .reshape([kh * kw * cout, cin, 1, 1]);
    let opts = burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    if fused::on_flex(&x) && fused::on_flex(&w1) {
        // Inference on flex: the 1×1 of the unpadded input and one fused pass for the sum.
        let bias = conv.bias.as_ref().map(|b| fused::values(b.val()));
        let y = profile::time("conv kxk same: 1x1 GEMM", || {
            burn::tensor::module::conv2d(x, w1, None, opts)
        });
        let sum = profile::time("conv kxk same: shifted sum", || {
            fused::shifted_sum(y, kh, cout, bias.as_deref(), act)
        });
        match sum {
            Ok(out) => return out,
            Err(_) => unreachable!("a flex input gives a flex 1x1 output"),
        }
    }
    let xp = x.pad((p, p, p, p), burn::tensor::ops::PadMode::Constant(0.0));
    let y = burn::tensor::module::conv2d(xp, w1, None, opts);
    let out = fused::shifted_slices_sum(y, kh, cout, [n, h, w]);
    let out = match &conv.bias {
        Some(b) => out.add(b.val().reshape([1, cout, 1, 1])),
        None => out,
    };
    act.tensor(out)
}

/// Per-channel `(scale, shift)` of an inference-mode batch norm: `y = x * scale + shift`.
fn bn_affine(bn: &burn::nn::BatchNorm) -> (Tensor<1>, Tensor<1>) {
    let scale = bn
        .gamma
        .val()
        .div(bn.running_var.value().add_scalar(bn.epsilon).sqrt());
    let shift = bn
        .beta
        .val()
        .sub(bn.running_mean.value().mul(scale.clone()));
    (scale, shift)
}

/// Folds an inference-mode batch norm that follows `conv` into the convolution's weight and
/// bias (the batch norm must then be skipped): `w' = w · s`, `b' = b · s + t` per output
/// channel, with `s = γ / sqrt(var + ε)`, `t = β − mean · s`.
pub fn fold_bn_into_conv(conv: &mut Conv2d, bn: &burn::nn::BatchNorm) {
    let (scale, shift) = bn_affine(bn);
    let cout = scale.dims()[0];
    let w = conv
        .weight
        .val()
        .mul(scale.clone().reshape([cout, 1, 1, 1]));
    let b = match &conv.bias {
        Some(b) => b.val().mul(scale).add(shift),
        None => shift,
    };
    conv.weight = Param::from_tensor(w);
    conv.bias = Some(Param::from_tensor(b));
}

/// [`fold_bn_into_conv`] for a transposed convolution (weight `[in, out / groups, k, k]`).
pub fn fold_bn_into_conv_transpose(
    conv: &mut burn::nn::conv::ConvTranspose2d,
    bn: &burn::nn::BatchNorm,
) {
    let (scale, shift) = bn_affine(bn);
    let cout = scale.dims()[0];
    let w = conv
        .weight
        .val()
        .mul(scale.clone().reshape([1, cout, 1, 1]));
    let b = match &conv.bias {
        Some(b) => b.val().mul(scale).add(shift),
        None => shift,
    };
    conv.weight = Param::from_tensor(w);
    conv.bias = Some(Param::from_tensor(b));
}

/// `x * scale + bias` with two learnable scalars (PaddleOCR's `LearnableAffineBlock`).
#[derive(Module, Debug)]
pub struct Affine {
    /// Scale, shape `[1]`.
    pub scale: Param<Tensor<1>>,
    /// Bias, shape `[1]`.
    pub bias: Param<Tensor<1>>,
}

impl Affine {
    /// Identity affine (scale 1, bias 0).
    pub fn new(device: &Device) -> Self {
        Self {
            scale: Param::from_tensor(Tensor::ones([1], device)),
            bias: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// Sets both scalars.
    pub fn set(&mut self, scale: f32, bias: f32, device: &Device) {
        self.scale =
            Param::from_tensor(Tensor::from_data(TensorData::new(vec![scale], [1]), device));
        self.bias = Param::from_tensor(Tensor::from_data(TensorData::new(vec![bias], [1]), device));
    }

    /// The two scalars.
    pub fn values(&self) -> (f32, f32) {
        (
            self.scale.val().into_scalar::<f32>(),
            self.bias.val().into_scalar::<f32>(),
        )
    }

    /// Folds this affine, applied after `conv`, into the convolution: `w' = w · a`,
    /// `b' = b · a + c` (the affine must then be skipped).
    pub fn fold_into(&self, conv: &mut Conv2d) {
        let (a, c) = self.values();
        let cout = conv.weight.dims()[0];
        let device = conv.weight.device();
        conv.weight = Param::from_tensor(conv.weight.val().mul_scalar(a));
        let b = match &conv.bias {
            Some(b) => b.val().mul_scalar(a).add_scalar(c),
            None => Tensor::<1>::full([cout], c, &device),
        };
        conv.bias = Some(Param::from_tensor(b));
    }

    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → same.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let s = self.scale.val().reshape([1, 1, 1, 1]);
        let b = self.bias.val().reshape([1, 1, 1, 1]);
        x.mul(s).add(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_batch_norms_and_affines_give_the_same_outputs() {
        use burn::module::RunningState;
        let device = Device::default();
        let r = |n: usize, lo: f32| {
            Tensor::<1>::random(
                [n],
                burn::tensor::Distribution::Uniform(lo.into(), 2.0),
                &device,
            )
        };
        let x = Tensor::<4>::random(
            [2, 4, 6, 5],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        for bias in [false, true] {
            let mut c = conv(4, 3, 3, 1, 1, bias, &device);
            let mut bn = burn::nn::BatchNormConfig::new(3).init(&device);
            bn.gamma = Param::from_tensor(r(3, -1.0));
            bn.beta = Param::from_tensor(r(3, -1.0));
            bn.running_mean = RunningState::new(r(3, -1.0));
            bn.running_var = RunningState::new(r(3, 0.1));
            let want = bn.forward(c.forward(x.clone()));
            fold_bn_into_conv(&mut c, &bn);
            let d = (c.forward(x.clone()) - want)
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(d < 1e-5, "{d}");
            let mut a = Affine::new(&device);
            a.set(-0.7, 0.3, &device);
            let want = a.forward(c.forward(x.clone()));
            a.fold_into(&mut c);
            let d = (c.forward(x.clone()) - want)
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(d < 1e-5, "{d}");
        }
        let mut ct = burn::nn::conv::ConvTranspose2dConfig::new([4, 3], [2, 2])
            .with_stride([2, 2])
            .init(&device);
        let mut bn = burn::nn::BatchNormConfig::new(3).init(&device);
        bn.gamma = Param::from_tensor(r(3, -1.0));
        bn.running_var = RunningState::new(r(3, 0.1));
        let want = bn.forward(ct.forward(x.clone()));
        fold_bn_into_conv_transpose(&mut ct, &bn);
        let d = (ct.forward(x) - want).abs().max().into_scalar::<f32>();
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn same_convolutions_via_1x1_equal_the_direct_ones() {
        let device = Device::default();
        for (cin, cout, k, bias) in [(5, 3, 3, true), (4, 6, 5, false), (8, 2, 3, false)] {
            let c = conv(cin, cout, k, 1, 1, bias, &device);
            let x = Tensor::<4>::random(
                [2, cin, 7, 9],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            );
            let d = (conv_same_via_1x1(&c, x.clone()) - c.forward(x))
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(d < 1e-5, "cin {cin} cout {cout} k {k}: {d}");
        }
        // Strided, grouped and 1x1 convolutions take the direct path.
        for c in [
            conv(4, 4, 3, 2, 1, false, &device),
            conv(4, 4, 3, 1, 4, false, &device),
        ] {
            let x = Tensor::<4>::ones([1, 4, 8, 8], &device);
            let y = conv_same_via_1x1(&c, x.clone());
            assert_eq!(y.dims(), c.forward(x).dims());
        }
    }
}
