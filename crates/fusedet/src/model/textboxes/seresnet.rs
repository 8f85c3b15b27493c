//! SE-ResNet-50 (Hu et al., arXiv:1709.01507) in the Cadene `pretrainedmodels` layout the
//! TextBoxes++ reference uses: the stride sits on the first 1×1 convolution of a bottleneck, the
//! squeeze-excite block (reduction 16) scales the residual branch before the addition, and the
//! stem's 3×3/2 max-pool uses `ceil_mode`. Parameter paths are Cadene's (`layer0.conv1` →
//! `conv1`, `layer0.bn1` → `bn1`, `layerN.B.{conv1..3, bn1..3, se_module.fc1/fc2,
//! downsample.0/1}`), so Cadene's `se_resnet50` state dict loads by name
//! ([`crate::import::textboxes`]).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::model::layers::conv;

/// Squeeze-and-excitation: global average pool, 1×1 down, ReLU, 1×1 up, sigmoid, scale.
#[derive(Module, Debug)]
pub struct SeModule {
    /// Reduction convolution (`c → c / r`, with bias).
    pub fc1: Conv2d,
    /// Expansion convolution (`c / r → c`, with bias).
    pub fc2: Conv2d,
}

impl SeModule {
    fn new(c: usize, reduction: usize, device: &Device) -> Self {
        let mid = (c / reduction).max(1);
        Self {
            fc1: conv(c, mid, 1, 1, 1, true, device),
            fc2: conv(mid, c, 1, 1, 1, true, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let s = x.clone().mean_dim(2).mean_dim(3);
        let s = sigmoid(self.fc2.forward(relu(self.fc1.forward(s))));
        x.mul(s)
    }
}

/// The SE bottleneck (stride on `conv1`).
#[derive(Module, Debug)]
pub struct SeBottleneck {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    bn3: BatchNorm,
    se_module: SeModule,
    downsample: Option<(Conv2d, BatchNorm)>,
}

impl SeBottleneck {
    fn new(cin: usize, planes: usize, stride: usize, device: &Device) -> Self {
        let cout = planes * 4;
        let downsample = (stride != 1 || cin != cout).then(|| {
            (
                conv(cin, cout, 1, stride, 1, false, device),
                BatchNormConfig::new(cout).init(device),
            )
        });
        Self {
            conv1: conv(cin, planes, 1, stride, 1, false, device),
            bn1: BatchNormConfig::new(planes).init(device),
            conv2: conv(planes, planes, 3, 1, 1, false, device),
            bn2: BatchNormConfig::new(planes).init(device),
            conv3: conv(planes, cout, 1, 1, 1, false, device),
            bn3: BatchNormConfig::new(cout).init(device),
            se_module: SeModule::new(cout, 16, device),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let residual = match &self.downsample {
            Some((c, bn)) => bn.forward(c.forward(x.clone())),
            None => x.clone(),
        };
        let y = relu(self.bn1.forward(self.conv1.forward(x)));
        let y = relu(self.bn2.forward(self.conv2.forward(y)));
        let y = self.bn3.forward(self.conv3.forward(y));
        relu(self.se_module.forward(y).add(residual))
    }
}

/// SE-ResNet-50 returning C2..C5 (256, 512, 1024, 2048 channels at `base_width` 64).
#[derive(Module, Debug)]
pub struct SeResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    pool: MaxPool2d,
    layer1: Vec<SeBottleneck>,
    layer2: Vec<SeBottleneck>,
    layer3: Vec<SeBottleneck>,
    layer4: Vec<SeBottleneck>,
}

impl SeResNet {
    /// SE-ResNet-50 ([3, 4, 6, 3] bottlenecks) with `base` stem channels (64 standard).
    pub fn new(base: usize, device: &Device) -> Self {
        let mut cin = base;
        let mut layers = Vec::new();
        for (s, n) in [3usize, 4, 6, 3].into_iter().enumerate() {
            let planes = base << s;
            let layer: Vec<SeBottleneck> = (0..n)
                .map(|b| {
                    let stride = if b == 0 && s > 0 { 2 } else { 1 };
                    let blk = SeBottleneck::new(cin, planes, stride, device);
                    cin = planes * 4;
                    blk
                })
                .collect();
            layers.push(layer);
        }
        let mut it = layers.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Self {
            conv1: Conv2dConfig::new([3, base], [7, 7])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
                .with_bias(false)
                .init(device),
            bn1: BatchNormConfig::new(base).init(device),
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_ceil_mode(true)
                .init(),
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
        }
    }

    /// Channels of C2..C5 for `base` stem channels.
    pub fn out_channels(base: usize) -> [usize; 4] {
        [base * 4, base * 8, base * 16, base * 32]
    }

    /// # Shapes
    /// - `x`: `[n, 3, H, W]` → C2..C5 at strides 4, 8, 16, 32 (sizes rounded up).
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self
            .pool
            .forward(relu(self.bn1.forward(self.conv1.forward(x))));
        let mut out = Vec::with_capacity(4);
        for layer in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            for b in layer {
                x = b.forward(x);
            }
            out.push(x.clone());
        }
        out
    }
}
