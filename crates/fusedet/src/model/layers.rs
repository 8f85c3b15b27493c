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
