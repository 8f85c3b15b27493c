//! DBNet and DBNet++ for training (SPEC §1.1, §1.2, §2, §3): ResNet-18/50 or MobileNetV3 backbone, DBFPN neck with
//! optional Adaptive Scale Fusion (DBNet++), and the two-branch DB head with differentiable
//! binarisation. Liao et al., arXiv:1911.08947 and arXiv:2202.10304.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use super::layers::upsample_nearest;
use super::ppocr::{DbHead, DbHeadConfig};

fn conv(cin: usize, cout: usize, k: usize, stride: usize, bias: bool, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
        .with_bias(bias)
        .init(device)
}

/// Which ResNet.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ResNetDepth {
    /// ResNet-18 (BasicBlock ×[2,2,2,2]).
    R18,
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
                    conv(cin, width, 1, 1, false, device),
                    conv(width, width, 3, stride, false, device),
                    conv(width, width * 4, 1, 1, false, device),
                ],
                width * 4,
            )
        } else {
            (
                vec![
                    conv(cin, width, 3, stride, false, device),
                    conv(width, width, 3, 1, false, device),
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
                conv(cin, cout, 1, stride, false, device),
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
            Self::R18 => 1,
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
            stem: conv(3, base, 7, 2, false, device),
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

/// DBNet++'s Adaptive Scale Fusion (MindOCR/DB form: 64-channel inner width, channel,
/// spatial and scale attention; attentions are added, the scale weights multiply each level).
#[derive(Module, Debug)]
pub struct Asf {
    reduce: Conv2d,
    channel1: Conv2d,
    channel2: Conv2d,
    spatial1: Conv2d,
    spatial2: Conv2d,
    scale: Conv2d,
}

impl Asf {
    fn new(channels: usize, levels: usize, device: &Device) -> Self {
        let inner = channels / levels;
        Self {
            reduce: conv(channels, inner, 3, 1, true, device),
            channel1: conv(inner, inner / 4, 1, 1, false, device),
            channel2: conv(inner / 4, inner, 1, 1, false, device),
            spatial1: conv(1, 1, 3, 1, false, device),
            spatial2: conv(1, 1, 1, 1, false, device),
            scale: conv(inner, levels, 1, 1, false, device),
        }
    }

    /// `levels` in concat order; returns the re-weighted concat.
    fn forward(&self, fused: Tensor<4>, levels: Vec<Tensor<4>>) -> Tensor<4> {
        let r = self.reduce.forward(fused);
        let [n, c, _, _] = r.dims();
        let g = r.clone().mean_dim(3).mean_dim(2).reshape([n, c, 1, 1]);
        let a_c = sigmoid(self.channel2.forward(relu(self.channel1.forward(g))));
        let r = r.add(a_c);
        let m = r.clone().mean_dim(1);
        let a_s = sigmoid(self.spatial2.forward(relu(self.spatial1.forward(m))));
        let a = sigmoid(self.scale.forward(r.add(a_s)));
        let [n, k, h, w] = a.dims();
        let weighted: Vec<Tensor<4>> = levels
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.mul(a.clone().slice([0..n, i..i + 1, 0..h, 0..w])))
            .collect();
        debug_assert_eq!(weighted.len(), k);
        Tensor::cat(weighted, 1)
    }
}

/// DBFPN: 1x1 laterals to 256, top-down nearest-neighbour sum, 3x3 smoothing to 64 per level,
/// upsampled and concatenated as [P5, P4, P3, P2] (+ ASF for DBNet++).
#[derive(Module, Debug)]
pub struct DbFpn {
    lateral: Vec<Conv2d>,
    smooth: Vec<Conv2d>,
    asf: Option<Asf>,
}

impl DbFpn {
    /// Builds the neck for backbone channels `inputs` (C2..C5), `out` = 256 in all configs.
    pub fn new(inputs: [usize; 4], out: usize, use_asf: bool, device: &Device) -> Self {
        Self {
            lateral: inputs
                .iter()
                .map(|&c| conv(c, out, 1, 1, false, device))
                .collect(),
            smooth: (0..4)
                .map(|_| conv(out, out / 4, 3, 1, false, device))
                .collect(),
            asf: use_asf.then(|| Asf::new(out, 4, device)),
        }
    }

    /// # Shapes
    /// - C2..C5 → `[n, out, H/4, W/4]`.
    pub fn forward(&self, feats: Vec<Tensor<4>>) -> Tensor<4> {
        let mut l: Vec<Tensor<4>> = self
            .lateral
            .iter()
            .zip(feats)
            .map(|(c, f)| c.forward(f))
            .collect();
        for i in (0..3).rev() {
            let up = upsample_nearest(l[i + 1].clone(), 2);
            l[i] = l[i].clone().add(up);
        }
        let p: Vec<Tensor<4>> = self
            .smooth
            .iter()
            .zip(l)
            .enumerate()
            .map(|(i, (c, x))| upsample_nearest(c.forward(x), 1 << i))
            .collect();
        let levels = vec![p[3].clone(), p[2].clone(), p[1].clone(), p[0].clone()];
        let fused = Tensor::cat(levels.clone(), 1);
        match &self.asf {
            Some(asf) => asf.forward(fused, levels),
            None => fused,
        }
    }
}

/// The backbone of a [`DbNet`].
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum BackboneNet {
    /// ResNet-18 / 50.
    ResNet(ResNet),
    /// MobileNetV3-Large.
    MobileNet(super::mobilenet::MobileNetV3),
}

impl BackboneNet {
    /// Four feature maps at strides 4, 8, 16, 32.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        match self {
            Self::ResNet(m) => m.forward(x),
            Self::MobileNet(m) => m.forward(x),
        }
    }
}

/// Configuration of [`DbNet`].
#[derive(Config, Debug)]
pub struct DbNetConfig {
    /// Backbone.
    #[config(default = "ResNetDepth::R18")]
    pub backbone: ResNetDepth,
    /// Use MobileNetV3-Large with this width multiplier instead of the ResNet.
    #[config(default = "None")]
    pub mobilenet_scale: Option<f64>,
    /// Layer layout of the MobileNetV3.
    #[config(default = "super::mobilenet::MobileNetLayout::Mindcv")]
    pub mobilenet_layout: super::mobilenet::MobileNetLayout,
    /// Stem channels of the backbone (64 in the standard ResNets).
    #[config(default = 64)]
    pub base_width: usize,
    /// Neck width.
    #[config(default = 256)]
    pub neck_channels: usize,
    /// DBNet++ Adaptive Scale Fusion.
    #[config(default = false)]
    pub use_asf: bool,
    /// k of the differentiable binarisation `sigmoid(k (P - T))`.
    #[config(default = 50.0)]
    pub k: f64,
}

/// DBNet / DBNet++ with a ResNet backbone.
#[derive(Module, Debug)]
pub struct DbNet {
    /// Backbone.
    pub backbone: BackboneNet,
    /// Neck.
    pub neck: DbFpn,
    /// Probability branch.
    pub binarize: DbHead,
    /// Threshold branch.
    pub thresh: DbHead,
    k: f64,
}

impl DbNetConfig {
    /// Builds the model with fresh weights.
    pub fn init(&self, device: &Device) -> DbNet {
        DbNet {
            backbone: match self.mobilenet_scale {
                Some(a) => BackboneNet::MobileNet(super::mobilenet::MobileNetV3::new(
                    a,
                    self.mobilenet_layout,
                    device,
                )),
                None => BackboneNet::ResNet(self.backbone.init_width(self.base_width, device)),
            },
            neck: DbFpn::new(
                match self.mobilenet_scale {
                    Some(a) => super::mobilenet::out_channels(a),
                    None => self.backbone.out_channels_width(self.base_width),
                },
                self.neck_channels,
                self.use_asf,
                device,
            ),
            binarize: DbHeadConfig::new(self.neck_channels).init(device),
            thresh: DbHeadConfig::new(self.neck_channels).init(device),
            k: self.k,
        }
    }
}

impl DbNet {
    /// Inference: the probability map.
    ///
    /// # Shapes
    /// - `x`: `[n, 3, H, W]` → `[n, 1, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.binarize
            .forward(self.neck.forward(self.backbone.forward(x)))
    }

    /// Training: probability, threshold and approximate binary maps and the probability
    /// logits as channels 0, 1, 2, 3.
    ///
    /// # Shapes
    /// - `x`: `[n, 3, H, W]` → `[n, 4, H, W]`.
    pub fn forward_train(&self, x: Tensor<4>) -> Tensor<4> {
        let f = self.neck.forward(self.backbone.forward(x));
        let z = self.binarize.forward_logits(f.clone());
        let p = sigmoid(z.clone());
        let t = self.thresh.forward(f);
        let b = sigmoid(p.clone().sub(t.clone()).mul_scalar(self.k));
        Tensor::cat(vec![p, t, b, z], 1)
    }
}

impl crate::infer::ProbabilityModel for DbNet {
    fn probability(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_stages_have_the_spec_channels_and_strides() {
        let device = Device::default();
        for depth in [ResNetDepth::R18, ResNetDepth::R50] {
            let feats = depth
                .init(&device)
                .forward(Tensor::<4>::zeros([1, 3, 64, 96], &device));
            let dims: Vec<[usize; 4]> = feats.iter().map(|f| f.dims()).collect();
            let c = depth.out_channels();
            assert_eq!(
                dims,
                vec![
                    [1, c[0], 16, 24],
                    [1, c[1], 8, 12],
                    [1, c[2], 4, 6],
                    [1, c[3], 2, 3]
                ]
            );
        }
    }

    #[test]
    fn dbnet_and_dbnetpp_give_full_resolution_maps_at_640() {
        // SPEC §11: DBFPN output 256x160x160; head P, T, B of 1x640x640 (and P's logits).
        let device = Device::default();
        for use_asf in [false, true] {
            let m = DbNetConfig::new().with_use_asf(use_asf).init(&device);
            let x = Tensor::<4>::zeros([1, 3, 640, 640], &device);
            let f = m.neck.forward(m.backbone.forward(x.clone()));
            assert_eq!(f.dims(), [1, 256, 160, 160]);
            let y = m.forward_train(x);
            assert_eq!(y.dims(), [1, 4, 640, 640]);
            let maps: Vec<f32> = y
                .clone()
                .slice([0..1, 0..3])
                .into_data()
                .try_to_vec()
                .unwrap();
            assert!(maps.iter().all(|p| (0.0..=1.0).contains(p)));
            let p = y.clone().slice([0..1, 0..1]);
            let z = y.slice([0..1, 3..4]);
            let diff = (sigmoid(z) - p).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-6, "channel 3 is not P's logit ({diff})");
        }
    }
}
