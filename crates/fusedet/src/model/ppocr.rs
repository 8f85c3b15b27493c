//! PP-OCR mobile text detector: PP-LCNetV3 backbone + RSE-FPN neck + DB head.
//!
//! Mirrors PaddleOCR `ppocr/modeling/backbones/rec_lcnetv3.py` (`PPLCNetV3`, `det=True`, after
//! re-parameterisation), `ppocr/modeling/necks/db_fpn.py` (`RSEFPN`) and
//! `ppocr/modeling/heads/det_db_head.py` (`DBHead`), the architecture of the PP-OCRv4 and
//! PP-OCRv5 mobile detection models. DBNet: Liao et al., arXiv:1911.08947.
//!
//! Weights come from PaddleOCR's ONNX exports through [`crate::import::ParamStream`]: every
//! layer takes the next record of the graph, in the graph's execution order.

use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::activation::{hard_sigmoid, hard_swish, relu, sigmoid};

use super::layers::{Affine, conv, make_divisible, upsample_nearest};
use crate::error::ImportError;
use crate::import::{LoadParams, ParamStream};

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
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.lab.forward(self.conv.forward(x));
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
    fn new(c: usize, slope: f64, device: &Device) -> Self {
        Self {
            conv1: conv(c, c / 4, 1, 1, 1, true, device),
            conv2: conv(c / 4, c, 1, 1, 1, true, device),
            slope,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, _, _] = x.dims();
        let pooled = x.clone().mean_dim(3).mean_dim(2).reshape([n, c, 1, 1]);
        let a = relu(self.conv1.forward(pooled));
        let a = hard_sigmoid(self.conv2.forward(a), self.slope, 0.5);
        x.mul(a)
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
        }
    }
}

impl PpLcNetV3 {
    /// # Shapes
    /// - `x`: `[n, 3, H, W]` (H, W multiples of 32) → four features at strides 4, 8, 16, 32.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self.bn1.forward(self.conv1.forward(x));
        let mut feats = Vec::with_capacity(4);
        for (i, stage) in self.stages.iter().enumerate() {
            for block in stage {
                x = block.dw.forward(x);
                if let Some(se) = &block.se {
                    x = se.forward(x);
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
            .map(|(f, c)| c.forward(f))
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

/// `RSELayer`: conv (no bias) → SE, with a residual around the SE.
#[derive(Module, Debug)]
pub struct RseLayer {
    /// The conv.
    pub conv: Conv2d,
    /// Squeeze-excite (slope 0.2).
    pub se: SqueezeExcite,
    /// Residual connection.
    pub shortcut: bool,
}

impl RseLayer {
    fn new(cin: usize, cout: usize, k: usize, shortcut: bool, device: &Device) -> Self {
        Self {
            conv: conv(cin, cout, k, 1, 1, false, device),
            se: SqueezeExcite::new(cout, 0.2, device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv.forward(x);
        if self.shortcut {
            x.clone().add(self.se.forward(x))
        } else {
            self.se.forward(x)
        }
    }
}

impl LoadParams for RseLayer {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        s.load_conv(&mut self.conv, "RSE-FPN conv")?;
        self.se.load_params(s)
    }
}

/// Configuration of [`RseFpn`].
#[derive(Config, Debug)]
pub struct RseFpnConfig {
    /// Channels of C2..C5.
    pub in_channels: [usize; 4],
    /// Fused width (the concatenation of four `out_channels / 4` maps).
    #[config(default = 96)]
    pub out_channels: usize,
    /// Residual connections in the RSE layers.
    #[config(default = true)]
    pub shortcut: bool,
}

/// RSE-FPN neck: top-down FPN with residual squeeze-excite layers; the four levels are
/// upsampled to stride 4 and concatenated as `[P5, P4, P3, P2]`.
#[derive(Module, Debug)]
pub struct RseFpn {
    /// Lateral layers (1x1), for C2..C5.
    pub ins_conv: Vec<RseLayer>,
    /// Output layers (3x3, `out_channels / 4`), for P2..P5.
    pub inp_conv: Vec<RseLayer>,
}

impl RseFpnConfig {
    /// Builds the neck.
    pub fn init(&self, device: &Device) -> RseFpn {
        RseFpn {
            ins_conv: self
                .in_channels
                .iter()
                .map(|&c| RseLayer::new(c, self.out_channels, 1, self.shortcut, device))
                .collect(),
            inp_conv: (0..4)
                .map(|_| {
                    RseLayer::new(
                        self.out_channels,
                        self.out_channels / 4,
                        3,
                        self.shortcut,
                        device,
                    )
                })
                .collect(),
        }
    }
}

impl RseFpn {
    /// # Shapes
    /// - `feats`: C2..C5 at strides 4..32 → `[n, out_channels, H/4, W/4]`.
    ///
    /// # Panics
    /// Panics unless there are four features.
    pub fn forward(&self, feats: Vec<Tensor<4>>) -> Tensor<4> {
        let [c2, c3, c4, c5]: [Tensor<4>; 4] = feats.try_into().expect("four features");
        let in5 = self.ins_conv[3].forward(c5);
        let in4 = self.ins_conv[2].forward(c4);
        let in3 = self.ins_conv[1].forward(c3);
        let in2 = self.ins_conv[0].forward(c2);
        let out4 = in4.add(upsample_nearest(in5.clone(), 2));
        let out3 = in3.add(upsample_nearest(out4.clone(), 2));
        let out2 = in2.add(upsample_nearest(out3.clone(), 2));
        let p5 = upsample_nearest(self.inp_conv[3].forward(in5), 8);
        let p4 = upsample_nearest(self.inp_conv[2].forward(out4), 4);
        let p3 = upsample_nearest(self.inp_conv[1].forward(out3), 2);
        let p2 = self.inp_conv[0].forward(out2);
        Tensor::cat(vec![p5, p4, p3, p2], 1)
    }
}

impl LoadParams for RseFpn {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        for l in self.ins_conv.iter_mut().rev() {
            l.load_params(s)?;
        }
        for l in self.inp_conv.iter_mut().rev() {
            l.load_params(s)?;
        }
        Ok(())
    }
}

/// Configuration of [`DbHead`].
#[derive(Config, Debug)]
pub struct DbHeadConfig {
    /// Input channels (the neck's width).
    pub in_channels: usize,
    /// Amplification factor k of the differentiable binarisation, sigmoid(k (P - T)).
    #[config(default = 50.0)]
    pub k: f64,
}

/// The probability branch of the DB head: conv3x3 → BN → ReLU → deconv 2x → BN → ReLU →
/// deconv 2x → sigmoid.
#[derive(Module, Debug)]
pub struct DbHead {
    /// 3x3 conv to `in/4`.
    pub conv1: Conv2d,
    /// BN after conv1.
    pub bn1: BatchNorm,
    /// First 2x deconvolution.
    pub conv2: ConvTranspose2d,
    /// BN after conv2.
    pub bn2: BatchNorm,
    /// Second 2x deconvolution to one channel.
    pub conv3: ConvTranspose2d,
}

impl DbHeadConfig {
    /// Builds the head.
    pub fn init(&self, device: &Device) -> DbHead {
        let mid = self.in_channels / 4;
        DbHead {
            conv1: conv(self.in_channels, mid, 3, 1, 1, false, device),
            bn1: BatchNormConfig::new(mid).init(device),
            conv2: ConvTranspose2dConfig::new([mid, mid], [2, 2])
                .with_stride([2, 2])
                .init(device),
            bn2: BatchNormConfig::new(mid).init(device),
            conv3: ConvTranspose2dConfig::new([mid, 1], [2, 2])
                .with_stride([2, 2])
                .init(device),
        }
    }
}

impl DbHead {
    /// # Shapes
    /// - `x`: `[n, in_channels, H/4, W/4]` → probability map `[n, 1, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        sigmoid(self.forward_logits(x))
    }

    /// The map before the sigmoid (training computes the BCE from it).
    pub fn forward_logits(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let x = relu(self.bn2.forward(self.conv2.forward(x)));
        self.conv3.forward(x)
    }
}

impl LoadParams for DbHead {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        s.load_conv(&mut self.conv1, "DB head conv1")?;
        s.load_batch_norm(&mut self.bn1, "DB head bn1")?;
        s.load_conv_transpose(&mut self.conv2, "DB head conv2")?;
        s.load_batch_norm(&mut self.bn2, "DB head bn2")?;
        s.load_conv_transpose(&mut self.conv3, "DB head conv3")
    }
}

/// Configuration of the whole PP-OCR mobile detector.
#[derive(Config, Debug)]
pub struct PpOcrDetConfig {
    /// Backbone.
    #[config(default = "PpLcNetV3Config::new()")]
    pub backbone: PpLcNetV3Config,
    /// Neck width.
    #[config(default = 96)]
    pub neck_channels: usize,
}

/// PP-OCR mobile detector (PP-OCRv4 / PP-OCRv5 mobile det).
#[derive(Module, Debug)]
pub struct PpOcrDet {
    /// Backbone.
    pub backbone: PpLcNetV3,
    /// Neck.
    pub neck: RseFpn,
    /// Head (the probability branch).
    pub head: DbHead,
    /// Threshold branch, present only for training (PP-OCR's inference exports drop it;
    /// [`PpOcrDet::with_thresh_branch`] adds one initialised from the probability branch).
    pub thresh: Option<DbHead>,
}

impl PpOcrDetConfig {
    /// Builds the detector with fresh weights.
    pub fn init(&self, device: &Device) -> PpOcrDet {
        PpOcrDet {
            backbone: self.backbone.init(device),
            neck: RseFpnConfig::new(self.backbone.out_channels())
                .with_out_channels(self.neck_channels)
                .init(device),
            head: DbHeadConfig::new(self.neck_channels).init(device),
            thresh: None,
        }
    }
}

impl PpOcrDet {
    /// Adds a freshly initialised threshold branch for training (PaddleOCR's inference exports
    /// do not carry theirs). A copy of the probability branch was tried first: its saturated
    /// outputs make T ≈ P, so B̂ = sigmoid(k(P − T)) ≈ 0.5 everywhere and the dice and L1 terms
    /// pulled the shared features apart (ICDAR 2015 801-1000 hmean fell from 0.434 to 0.223).
    pub fn with_thresh_branch(mut self, neck_channels: usize, device: &Device) -> Self {
        if self.thresh.is_none() {
            self.thresh = Some(DbHeadConfig::new(neck_channels).init(device));
        }
        self
    }

    /// Training: probability, threshold and approximate binary (`sigmoid(k (P - T))`) maps and
    /// the probability logits as channels 0, 1, 2, 3.
    ///
    /// # Panics
    /// Without a threshold branch ([`PpOcrDet::with_thresh_branch`]).
    ///
    /// # Shapes
    /// - `x`: `[n, 3, H, W]` → `[n, 4, H, W]`.
    pub fn forward_train(&self, x: Tensor<4>, k: f64) -> Tensor<4> {
        let thresh = self
            .thresh
            .as_ref()
            .expect("PpOcrDet::forward_train needs a threshold branch");
        let f = self.neck.forward(self.backbone.forward(x));
        let z = self.head.forward_logits(f.clone());
        let p = sigmoid(z.clone());
        let t = thresh.forward(f);
        let b = sigmoid(p.clone().sub(t.clone()).mul_scalar(k));
        Tensor::cat(vec![p, t, b, z], 1)
    }

    /// # Shapes
    /// - `x`: normalised BGR image `[n, 3, H, W]`, H and W multiples of 32 → probability map
    ///   `[n, 1, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.head
            .forward(self.neck.forward(self.backbone.forward(x)))
    }
}

impl LoadParams for PpOcrDet {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        self.backbone.load_params(s)?;
        self.neck.load_params(s)?;
        self.head.load_params(s)?;
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_paddle() {
        assert_eq!(make_divisible(12.0, 16), 16);
        assert_eq!(make_divisible(24.0, 16), 32);
        assert_eq!(make_divisible(48.0, 16), 48);
        assert_eq!(make_divisible(384.0, 16), 384);
    }

    #[test]
    fn output_is_a_full_resolution_probability_map() {
        let device = Device::default();
        let model = PpOcrDetConfig::new().init(&device);
        let x = Tensor::<4>::zeros([1, 3, 64, 96], &device);
        let y = model.forward(x);
        assert_eq!(y.dims(), [1, 1, 64, 96]);
        let v: Vec<f32> = y.into_data().try_to_vec().unwrap();
        assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
    }
}
