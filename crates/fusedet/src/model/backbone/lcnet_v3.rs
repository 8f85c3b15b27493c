//! PP-LCNetV3 backbone in detection mode (PaddleOCR `ppocr/modeling/backbones/rec_lcnetv3.py`,
//! `PPLCNetV3(det=True)` after re-parameterisation): the backbone of the PP-OCRv4 and PP-OCRv5
//! mobile detectors. Weights come from PaddleOCR's ONNX exports through
//! [`crate::import::ParamStream`]: every layer takes the next record of the graph, in the
//! graph's execution order.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::activation::{hard_sigmoid, hard_swish, relu};

use crate::error::ImportError;
use crate::import::{LoadParams, ParamStream};
use crate::model::fused;
use crate::model::layers::{Affine, conv, conv_forward, fold_bn_into_conv, make_divisible};
use crate::profile;

/// Configuration of [`PpLcNetV3`].
#[derive(Config, Debug)]
pub struct PpLcNetV3Config {
    /// Width multiplier.
    #[config(default = 0.75)]
    pub scale: f64,
}

/// One block of the table: (kernel, in, out, stride, squeeze-excite).
type BlockSpec = (usize, usize, usize, usize, bool);

/// Block table of `PPLCNetV3` for detection.
const DET_STAGES: [&[BlockSpec]; 5] = [
    &[(3, 16, 32, 1, false)],
    &[(3, 32, 64, 2, false), (3, 64, 64, 1, false)],
    &[(3, 64, 128, 2, false), (3, 128, 128, 1, false)],
    &[
        (3, 128, 256, 2, false),
        (5, 256, 256, 1, false),
        (5, 256, 256, 1, false),
        (5, 256, 256, 1, false),
        (5, 256, 256, 1, false),
    ],
    &[
        (5, 256, 512, 2, true),
        (5, 512, 512, 1, true),
        (5, 512, 512, 1, false),
        (5, 512, 512, 1, false),
    ],
];

/// Output widths of the detection feature convs before scaling.
const DET_OUT: [f64; 4] = [16.0, 24.0, 56.0, 480.0];

/// Hard-swish followed by a learnable affine (`Act` in PaddleOCR).
#[derive(Module, Debug)]
pub struct HardSwishAffine {
    /// The affine after the activation.
    pub lab: Affine,
}

/// A re-parameterised conv: conv (with bias) → affine → optional activation
/// (`LearnableRepLayer` after `rep()`; stride-2 layers have no activation).
#[derive(Module, Debug)]
pub struct RepConv {
    /// The fused convolution.
    pub conv: Conv2d,
    /// Learnable affine.
    pub lab: Affine,
    /// Activation (absent for stride 2).
    pub act: Option<HardSwishAffine>,
    /// `lab` is folded into `conv` (inference).
    #[module(skip)]
    folded: bool,
    /// The activation affine's two scalars, read once when folding (inference).
    #[module(skip)]
    act_affine: Option<(f32, f32)>,
}

impl RepConv {
    fn new(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        groups: usize,
        device: &Device,
    ) -> Self {
        Self {
            conv: conv(cin, cout, k, stride, groups, true, device),
            lab: Affine::new(device),
            act: (stride != 2).then(|| HardSwishAffine {
                lab: Affine::new(device),
            }),
            folded: false,
            act_affine: None,
        }
    }

    fn fold_for_inference(&mut self) {
        if !self.folded {
            self.lab.fold_into(&mut self.conv);
            self.act_affine = self.act.as_ref().map(|a| a.lab.values());
            self.folded = true;
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv_forward(&self.conv, x);
        if self.folded {
            return match self.act_affine {
                Some((a, b)) => {
                    profile::time("hard-swish + affine", || fused::hard_swish_affine(x, a, b))
                }
                None => x,
            };
        }
        let x = self.lab.forward(x);
        match &self.act {
            Some(act) => act.lab.forward(hard_swish(x)),
            None => x,
        }
    }
}

impl LoadParams for RepConv {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        s.load_conv(&mut self.conv, "PPLCNetV3 rep conv")?;
        let device = s.device().clone();
        let (a, b) = s.next_affine("PPLCNetV3 rep conv affine")?;
        self.lab.set(a, b, &device);
        if let Some(act) = &mut self.act {
            let (a, b) = s.next_affine("PPLCNetV3 activation affine")?;
            act.lab.set(a, b, &device);
        }
        Ok(())
    }
}

/// Squeeze-and-excitation: avg-pool → 1x1 conv (c/4) → ReLU → 1x1 conv → hard-sigmoid → scale.
#[derive(Module, Debug)]
pub struct SqueezeExcite {
    /// Reduction conv.
    pub conv1: Conv2d,
    /// Expansion conv.
    pub conv2: Conv2d,
    /// Hard-sigmoid slope (1/6 in the backbone, 0.2 in the neck).
    pub slope: f64,
}

impl SqueezeExcite {
    /// A block over `c` channels with hard-sigmoid slope `slope`.
    pub fn new(c: usize, slope: f64, device: &Device) -> Self {
        Self {
            conv1: conv(c, c / 4, 1, 1, 1, true, device),
            conv2: conv(c / 4, c, 1, 1, 1, true, device),
            slope,
        }
    }

    /// # Shapes
    /// - `x`: `[n, c, h, w]` → the same, channels re-weighted.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let a = self.channel_weights(&x);
        fused::scale_channels(x, a, false)
    }

    /// `x + forward(x)` (the RSE layer's shortcut) in one pass on flex.
    pub fn forward_residual(&self, x: Tensor<4>) -> Tensor<4> {
        let a = self.channel_weights(&x);
        fused::scale_channels(x, a, true)
    }

    /// The per-channel weights `[n, c, 1, 1]`: pool, reduce, ReLU, expand, hard-sigmoid.
    fn channel_weights(&self, x: &Tensor<4>) -> Tensor<4> {
        let [n, c, _, _] = x.dims();
        let pooled = x.clone().mean_dim(3).mean_dim(2).reshape([n, c, 1, 1]);
        let a = relu(self.conv1.forward(pooled));
        hard_sigmoid(self.conv2.forward(a), self.slope, 0.5)
    }
}

impl LoadParams for SqueezeExcite {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        s.load_conv(&mut self.conv1, "squeeze-excite conv1")?;
        s.load_conv(&mut self.conv2, "squeeze-excite conv2")
    }
}

/// `LCNetV3Block`: depthwise rep conv → optional SE → pointwise rep conv.
#[derive(Module, Debug)]
pub struct LcNetV3Block {
    /// Depthwise conv.
    pub dw: RepConv,
    /// Squeeze-excite.
    pub se: Option<SqueezeExcite>,
    /// Pointwise conv.
    pub pw: RepConv,
}

impl LoadParams for LcNetV3Block {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        self.dw.load_params(s)?;
        if let Some(se) = &mut self.se {
            se.load_params(s)?;
        }
        self.pw.load_params(s)
    }
}

/// PP-LCNetV3 backbone in detection mode.
#[derive(Module, Debug)]
pub struct PpLcNetV3 {
    /// Stem conv (3x3, stride 2, no bias).
    pub conv1: Conv2d,
    /// Stem batch norm.
    pub bn1: BatchNorm,
    /// Stages 2..6.
    pub stages: Vec<Vec<LcNetV3Block>>,
    /// 1x1 convs producing the four detection features.
    pub out_convs: Vec<Conv2d>,
    /// `bn1` and the rep convs' first affines are folded into the convolutions (inference).
    #[module(skip)]
    folded: bool,
}

impl PpLcNetV3Config {
    /// Output channels of the four features (C2..C5).
    pub fn out_channels(&self) -> [usize; 4] {
        DET_OUT.map(|c| (c * self.scale) as usize)
    }

    /// Builds the backbone.
    pub fn init(&self, device: &Device) -> PpLcNetV3 {
        let md = |v: usize| make_divisible(v as f64 * self.scale, 16);
        let stem = md(16);
        let stages = DET_STAGES
            .iter()
            .map(|blocks| {
                blocks
                    .iter()
                    .map(|&(k, cin, cout, s, se)| {
                        let (cin, cout) = (md(cin), md(cout));
                        LcNetV3Block {
                            dw: RepConv::new(cin, cin, k, s, cin, device),
                            se: se.then(|| SqueezeExcite::new(cin, 1.0 / 6.0, device)),
                            pw: RepConv::new(cin, cout, 1, 1, 1, device),
                        }
                    })
                    .collect()
            })
            .collect();
        let feat_in = [md(64), md(128), md(256), md(512)];
        let outs = self.out_channels();
        PpLcNetV3 {
            conv1: conv(3, stem, 3, 2, 1, false, device),
            bn1: BatchNormConfig::new(stem).init(device),
            stages,
            out_convs: (0..4)
                .map(|i| conv(feat_in[i], outs[i], 1, 1, 1, true, device))
                .collect(),
            folded: false,
        }
    }
}

impl PpLcNetV3 {
    /// Folds the stem batch norm and every rep conv's affine into the preceding convolutions,
    /// for inference: the same outputs (to float rounding) in fewer passes over the
    /// activations. Training must not fold (it would train other parameters).
    pub fn fold_for_inference(&mut self) {
        if self.folded {
            return;
        }
        fold_bn_into_conv(&mut self.conv1, &self.bn1);
        for b in self.stages.iter_mut().flatten() {
            b.dw.fold_for_inference();
            b.pw.fold_for_inference();
        }
        self.folded = true;
    }

    /// # Shapes
    /// - `x`: `[n, 3, H, W]` (H, W multiples of 32) → four features at strides 4, 8, 16, 32.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = conv_forward(&self.conv1, x);
        if !self.folded {
            x = self.bn1.forward(x);
        }
        let mut feats = Vec::with_capacity(4);
        for (i, stage) in self.stages.iter().enumerate() {
            for block in stage {
                x = block.dw.forward(x);
                if let Some(se) = &block.se {
                    x = profile::time("squeeze-excite", || se.forward(x));
                }
                x = block.pw.forward(x);
            }
            if i >= 1 {
                feats.push(x.clone());
            }
        }
        feats
            .into_iter()
            .zip(&self.out_convs)
            .map(|(f, c)| conv_forward(c, f))
            .collect()
    }
}

impl LoadParams for PpLcNetV3 {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        s.load_conv(&mut self.conv1, "PPLCNetV3 stem conv")?;
        s.load_batch_norm(&mut self.bn1, "PPLCNetV3 stem batch norm")?;
        for block in self.stages.iter_mut().flatten() {
            block.load_params(s)?;
        }
        for c in &mut self.out_convs {
            s.load_conv(c, "PPLCNetV3 detection output conv")?;
        }
        Ok(())
    }
}
