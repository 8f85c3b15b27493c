//! ResNet-18 / ResNet-50 backbones returning C2..C5 (He et al., arXiv:1512.03385), in the
//! layout of torchvision's `resnet18` / `resnet50` (their ImageNet weights load by name through
//! [`crate::import::torchvision`]), with an optional narrower stem (`base_width`) for quick
//! CPU runs.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::model::layers::conv;

/// Which ResNet.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ResNetDepth {
    /// ResNet-18 (BasicBlock ×[2,2,2,2]).
    R18,
    /// ResNet-34 (BasicBlock ×[3,4,6,3]).
    R34,
    /// ResNet-50 (Bottleneck ×[3,4,6,3]).
    R50,
}

/// A residual block (basic or bottleneck).
#[derive(Module, Debug)]
pub struct ResBlock {
    convs: Vec<Conv2d>,
    bns: Vec<BatchNorm>,
    down: Option<(Conv2d, BatchNorm)>,
}

impl ResBlock {
    fn new(cin: usize, width: usize, stride: usize, bottleneck: bool, device: &Device) -> Self {
        let (convs, cout) = if bottleneck {
            (
                vec![
                    conv(cin, width, 1, 1, 1, false, device),
                    conv(width, width, 3, stride, 1, false, device),
                    conv(width, width * 4, 1, 1, 1, false, device),
                ],
                width * 4,
            )
        } else {
            (
                vec![
                    conv(cin, width, 3, stride, 1, false, device),
                    conv(width, width, 3, 1, 1, false, device),
                ],
                width,
            )
        };
        let bns = convs
            .iter()
            .map(|c| BatchNormConfig::new(c.weight.dims()[0]).init(device))
            .collect();
        let down = (stride != 1 || cin != cout).then(|| {
            (
                conv(cin, cout, 1, stride, 1, false, device),
                BatchNormConfig::new(cout).init(device),
            )
        });
        Self { convs, bns, down }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.down {
            Some((c, bn)) => bn.forward(c.forward(x.clone())),
            None => x.clone(),
        };
        let last = self.convs.len() - 1;
        let mut y = x;
        for (i, (c, bn)) in self.convs.iter().zip(&self.bns).enumerate() {
            y = bn.forward(c.forward(y));
            if i < last {
                y = relu(y);
            }
        }
        relu(y.add(shortcut))
    }
}

/// ResNet backbone returning C2..C5.
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    stem_bn: BatchNorm,
    pool: MaxPool2d,
    stages: Vec<Vec<ResBlock>>,
}

impl ResNetDepth {
    /// Channels of C2..C5.
    pub fn out_channels(self) -> [usize; 4] {
        self.out_channels_width(64)
    }

    /// Channels of C2..C5 with `base` stem channels (64 in the standard nets).
    pub fn out_channels_width(self, base: usize) -> [usize; 4] {
        let m = match self {
            Self::R18 | Self::R34 => 1,
            Self::R50 => 4,
        };
        [base * m, base * 2 * m, base * 4 * m, base * 8 * m]
    }

    /// Builds the backbone with fresh weights.
    pub fn init(self, device: &Device) -> ResNet {
        self.init_width(64, device)
    }

    /// Builds a backbone with `base` stem channels instead of 64 (all stages scale with it): a
    /// slimmer ResNet for small data and quick CPU runs.
    pub fn init_width(self, base: usize, device: &Device) -> ResNet {
        let (blocks, bottleneck) = match self {
            Self::R18 => ([2, 2, 2, 2], false),
            Self::R34 => ([3, 4, 6, 3], false),
            Self::R50 => ([3, 4, 6, 3], true),
        };
        let mut cin = base;
        let mut stages = Vec::new();
        for (s, (&n, width)) in blocks
            .iter()
            .zip([base, base * 2, base * 4, base * 8])
            .enumerate()
        {
            let mut stage = Vec::new();
            for b in 0..n {
                let stride = if b == 0 && s > 0 { 2 } else { 1 };
                stage.push(ResBlock::new(cin, width, stride, bottleneck, device));
                cin = if bottleneck { width * 4 } else { width };
            }
            stages.push(stage);
        }
        ResNet {
            stem: conv(3, base, 7, 2, 1, false, device),
            stem_bn: BatchNormConfig::new(base).init(device),
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            stages,
        }
    }
}

impl ResNet {
    /// # Shapes
    /// - `x`: `[n, 3, H, W]` (multiples of 32) → C2..C5 at strides 4, 8, 16, 32.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self
            .pool
            .forward(relu(self.stem_bn.forward(self.stem.forward(x))));
        let mut out = Vec::with_capacity(4);
        for stage in &self.stages {
            for block in stage {
                x = block.forward(x);
            }
            out.push(x.clone());
        }
        out
    }
}
