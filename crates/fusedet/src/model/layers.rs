//! Small building blocks shared by the models.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;

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
    let [cout, cin, kh, kw] = conv.weight.dims();
    let p = kh / 2;
    let same = conv.padding == PaddingConfig2d::Explicit(p, p, p, p);
    if kh != kw || kh == 1 || kh % 2 == 0 || conv.stride != [1, 1] || conv.groups != 1 {
        return conv.forward(x);
    }
    if conv.dilation != [1, 1] || !same {
        return conv.forward(x);
    }
    let [n, _, h, w] = x.dims();
    let xp = x.pad((p, p, p, p), burn::tensor::ops::PadMode::Constant(0.0));
    // [cout, cin, ky, kx] -> [ky, kx, cout, cin]: output channel (ky * k + kx) * cout + o.
    let w1 = conv
        .weight
        .val()
        .permute([2, 3, 0, 1])
        .reshape([kh * kw * cout, cin, 1, 1]);
    let y = burn::tensor::module::conv2d(
        xp,
        w1,
        None,
        burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
    );
    let mut acc: Option<Tensor<4>> = None;
    for ky in 0..kh {
        for kx in 0..kw {
            let c0 = (ky * kw + kx) * cout;
            let s = y
                .clone()
                .slice([0..n, c0..c0 + cout, ky..ky + h, kx..kx + w]);
            acc = Some(match acc {
                None => s,
                Some(a) => a.add(s),
            });
        }
    }
    let out = acc.expect("k >= 3");
    match &conv.bias {
        Some(b) => out.add(b.val().reshape([1, cout, 1, 1])),
        None => out,
    }
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

    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → same.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let s = self.scale.val().reshape([1, 1, 1, 1]);
        let b = self.bias.val().reshape([1, 1, 1, 1]);
        x.mul(s).add(b)
    }
}

/// Nearest-neighbour upsampling by an integer factor (ONNX `Resize` nearest, asymmetric,
/// floor).
///
/// # Shapes
/// - `x`: `[n, c, h, w]` → `[n, c, h * factor, w * factor]`.
pub fn upsample_nearest(x: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1])
        .repeat_dim(3, factor)
        .repeat_dim(5, factor)
        .reshape([n, c, h * factor, w * factor])
}

#[cfg(test)]
mod tests {
    use super::*;

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
