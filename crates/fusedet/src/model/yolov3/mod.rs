//! YOLOv3 with adaptively spatial feature fusion (ASFF; Liu, Huang and Wang, arXiv:1911.09516)
//! and its "strong baseline", as the reference code GOATmessi7/ASFF (= ruinmessi/ASFF) builds
//! them: `models/yolov3_asff.py` and `models/yolov3_baseline.py` (SPEC §1.3, §9).
//!
//! Both models keep the reference's module tree, so that a state dict saved by the reference
//! (`torch.save(model.state_dict())`, or wrapped as `{'model': ...}`) loads by name with no
//! conversion table ([`crate::import::asff`]):
//! - `module_list`: Darknet-53 (entries 0–10, [`darknet53`]), then the YOLOv3 neck with SPP
//!   and three DropBlock slots; in the baseline the three heads sit inside the list (entries
//!   19, 28, 37), each behind a CBL 3×3 that doubles the width;
//! - ASFF only: `level_{0,1,2}_fusion` ([`Asff`]) on the neck's three outputs
//!   (entries 17, 24, 32) and `level_{0,1,2}_header` ([`YoloV3Head`]).
//!
//! The heads (guided anchoring, anchor-free slot, deformable feature adaption, optional RFB)
//! are the same in both. DropBlock is the identity at inference; its schedule belongs to
//! training.
//!
//! `backbone = "mobilenetv2"` selects the reference's MobileNetV2 variant
//! (`models/yolov3_mobilev2.py`, with or without `ASFFmobile`): [`mobile`].

pub mod asff;
pub mod blocks;
pub mod head;
pub mod loss;
pub mod mobile;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use asff::{ASFF_IN_CHANNELS, ASFF_MOBILE_IN_CHANNELS, ASFF_OUT_CHANNELS, Asff, AsffOutput};
pub use blocks::{Cbl, CblActivation, DropBlock, ResBlock, RfbBlock, Spp, Upsample};
pub use head::{ANCHORS, FeatureAdaption, HeadOutput, N_SLOTS, YoloV3Head};
pub use mobile::{InvertedResidual, MobileLevel, SeqLayer, YoloV3Mobile};

use crate::error::ConfigError;

/// Output strides of the three levels, coarsest first (the order of the heads and outputs).
pub const STRIDES: [usize; 3] = [32, 16, 8];
/// Anchor masks of the three levels.
pub const ANCHOR_MASKS: [[usize; 3]; 3] = [[6, 7, 8], [3, 4, 5], [0, 1, 2]];
/// Head input widths of the three levels.
pub const HEAD_CHANNELS: [usize; 3] = [1024, 512, 256];

fn d_num_classes() -> usize {
    80
}
fn d_true() -> bool {
    true
}
fn d_width() -> f64 {
    1.0
}

/// Channels `c` of the full-width network scaled by `width`: rounded to a multiple of 8 (the
/// deformable convolutions' 4 offset groups and the RFB's 4 branches divide them), at least 8.
/// Width 1 keeps every channel count of the reference.
pub fn scale_channels(c: usize, width: f64) -> usize {
    (((c as f64 * width) / 8.0).round() as usize).max(1) * 8
}

/// The backbone of a YOLOv3 / ASFF model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum YoloV3Backbone {
    /// Darknet-53 (`models/yolov3_asff.py`, `models/yolov3_baseline.py`).
    #[default]
    #[serde(rename = "darknet53")]
    Darknet53,
    /// MobileNetV2 (`models/yolov3_mobilev2.py`, the reference's `BACKBONE: mobile`).
    #[serde(rename = "mobilenetv2")]
    MobileNetV2,
}

/// A YOLOv3 / ASFF recipe's model section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoloV3Spec {
    /// Number of classes (80 for COCO, 20 for VOC).
    #[serde(default = "d_num_classes")]
    pub num_classes: usize,
    /// `"darknet53"` (default) or `"mobilenetv2"`: the reference's MobileNetV2 variant, whose
    /// heads have no feature adaption (`sep`), whose RFB only halves `ASFFmobile`'s
    /// fusion-weight width, and which has no DropBlock schedule (`dropblock` must be false)
    /// and only width 1.
    #[serde(default)]
    pub backbone: YoloV3Backbone,
    /// ASFF fusion (`--asff`); the strong baseline when false.
    #[serde(default = "d_true")]
    pub asff: bool,
    /// RFB blocks in the heads' feature adaption (`--rfb`); with ASFF this also halves the
    /// fusion-weight width (16 → 8).
    #[serde(default)]
    pub rfb: bool,
    /// DropBlock in the three neck slots while training (`--dropblock`); no effect on
    /// inference.
    #[serde(default)]
    pub dropblock: bool,
    /// Multiplier on every channel count of Darknet-53, the neck, ASFF and the heads (rounded
    /// by [`scale_channels`]); 1 is the reference network, e.g. 0.25 a CPU-sized one. Only
    /// width 1 loads the reference's checkpoints.
    #[serde(default = "d_width")]
    pub width: f64,
    /// Initial weights for training (the reference's `main.py --checkpoint`): a PyTorch
    /// (`.pth` / `.pt`) or SafeTensors state dict with the reference's keys, loaded where the
    /// names match as its `load_state_dict(strict=False)` does (e.g. `darknet53_feature_mx.pth`,
    /// or a whole checkpoint to fine-tune), or a Darknet `.weights` file whose first 52
    /// convolutions are Darknet-53's (`darknet53.conv.74`, `darknet53.weights`, `yolov3.weights`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<std::path::PathBuf>,
}

impl Default for YoloV3Spec {
    fn default() -> Self {
        Self {
            num_classes: 80,
            backbone: YoloV3Backbone::Darknet53,
            asff: true,
            rfb: false,
            dropblock: false,
            width: 1.0,
            pretrained: None,
        }
    }
}

impl YoloV3Spec {
    /// Checks values serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.num_classes == 0 {
            return Err(ConfigError::invalid(
                "model.num_classes",
                "must be at least 1",
            ));
        }
        if !(self.width > 0.0 && self.width <= 4.0) {
            return Err(ConfigError::invalid("model.width", "must be in (0, 4]"));
        }
        if self.backbone == YoloV3Backbone::MobileNetV2 {
            if self.width != 1.0 {
                return Err(ConfigError::invalid(
                    "model.width",
                    "must be 1 with backbone = \"mobilenetv2\" (the MobileNetV2 variant is \
                     built at the reference's widths only)",
                ));
            }
            if self.dropblock {
                return Err(ConfigError::invalid(
                    "model.dropblock",
                    "must be false with backbone = \"mobilenetv2\" (the reference has no \
                     DropBlock schedule for its MobileNetV2 variant)",
                ));
            }
        }
        Ok(())
    }

    /// Builds the model with the reference's initialisation.
    ///
    /// # Panics
    /// With `backbone = "mobilenetv2"` and a width other than 1 (refused by
    /// [`YoloV3Spec::validate`]).
    pub fn init(&self, device: &Device) -> YoloV3 {
        if self.backbone == YoloV3Backbone::MobileNetV2 {
            assert!(
                self.width == 1.0,
                "the MobileNetV2 variant has width 1 only (YoloV3Spec::validate)"
            );
            return YoloV3::Mobile(YoloV3Mobile::new(
                self.num_classes,
                self.asff,
                self.rfb,
                device,
            ));
        }
        let ch = Channels(self.width);
        if self.asff {
            YoloV3::Asff(YoloV3Asff::build(self.num_classes, self.rfb, ch, device))
        } else {
            YoloV3::Baseline(YoloV3Baseline::build(
                self.num_classes,
                self.rfb,
                ch,
                device,
            ))
        }
    }
}

/// One entry of a `module_list`.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum YoloV3Layer {
    /// `add_conv`.
    Conv(Cbl),
    /// `resblock`.
    Res(ResBlock),
    /// `SPPLayer`.
    Spp(Spp),
    /// `DropBlock`.
    DropBlock(DropBlock),
    /// `upsample`.
    Upsample(Upsample),
    /// `YOLOv3Head` (baseline only).
    Head(YoloV3Head),
    /// MobileNetV2's `ConvBNReLU` (entries 0 and 18 of the MobileNetV2 variant).
    ConvBnRelu(Vec<SeqLayer>),
    /// MobileNetV2's `InvertedResidual` (entries 1–17 of the MobileNetV2 variant).
    InvertedResidual(InvertedResidual),
}

impl YoloV3Layer {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Conv(m) => m.forward(x),
            Self::Res(m) => m.forward(x),
            Self::Spp(m) => m.forward(x),
            Self::DropBlock(m) => m.forward(x),
            Self::Upsample(m) => m.forward(x),
            Self::ConvBnRelu(m) => mobile::forward_conv_bn_relu(m, x),
            Self::InvertedResidual(m) => m.forward(x),
            Self::Head(_) => unreachable!("heads are run by the model"),
        }
    }
}

/// The width multiplier applied to the reference's channel counts.
#[derive(Clone, Copy, Debug)]
struct Channels(f64);

impl Channels {
    const FULL: Self = Self(1.0);

    fn of(self, c: usize) -> usize {
        scale_channels(c, self.0)
    }

    fn conv(
        self,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        device: &Device,
    ) -> YoloV3Layer {
        YoloV3Layer::Conv(Cbl::new(self.of(cin), self.of(cout), k, stride, device))
    }

    /// A CBL (k × k, stride 1) on the concatenation of maps of (full-width) channels `parts`.
    fn conv_cat(self, parts: &[usize], cout: usize, k: usize, device: &Device) -> YoloV3Layer {
        let cin = parts.iter().map(|&p| self.of(p)).sum();
        YoloV3Layer::Conv(Cbl::new(cin, self.of(cout), k, 1, device))
    }

    fn res(self, ch: usize, nblocks: usize, shortcut: bool, device: &Device) -> YoloV3Layer {
        YoloV3Layer::Res(ResBlock::new(self.of(ch), nblocks, shortcut, device))
    }

    fn head(self, level: usize, num_classes: usize, rfb: bool, device: &Device) -> YoloV3Head {
        YoloV3Head::new(
            ANCHOR_MASKS[level],
            num_classes,
            STRIDES[level],
            self.of(HEAD_CHANNELS[level]),
            rfb,
            false,
            device,
        )
    }
}

pub(crate) fn dropblock() -> YoloV3Layer {
    YoloV3Layer::DropBlock(DropBlock::new(1, 1.0))
}

pub(crate) fn upsample() -> YoloV3Layer {
    YoloV3Layer::Upsample(Upsample::new(2))
}

/// Darknet-53 in the reference's PyTorch layout (`module_list` entries 0–10; SPEC §1.3): its
/// outputs at entries 6 (256 ch, stride 8), 8 (512 ch, stride 16) and 10 (1024 ch, stride 32)
/// feed the neck.
pub fn darknet53(device: &Device) -> Vec<YoloV3Layer> {
    darknet53_scaled(Channels::FULL, device)
}

fn darknet53_scaled(c: Channels, device: &Device) -> Vec<YoloV3Layer> {
    let conv = |cin, cout, k, s, d: &Device| c.conv(cin, cout, k, s, d);
    let res = |ch, n, sc, d: &Device| c.res(ch, n, sc, d);
    vec![
        YoloV3Layer::Conv(Cbl::new(3, c.of(32), 3, 1, device)),
        conv(32, 64, 3, 2, device),
        res(64, 1, true, device),
        conv(64, 128, 3, 2, device),
        res(128, 2, true, device),
        conv(128, 256, 3, 2, device),
        res(256, 8, true, device),
        conv(256, 512, 3, 2, device),
        res(512, 8, true, device),
        conv(512, 1024, 3, 2, device),
        res(1024, 4, true, device),
    ]
}

/// The neck entries 11–17 shared by both models: a plain residual pair, SPP, the DropBlock
/// slot of the stride-32 branch; entry 17 gives the 512-channel stride-32 route.
fn neck_top(c: Channels, device: &Device) -> Vec<YoloV3Layer> {
    let conv = |cin, cout, k, s, d: &Device| c.conv(cin, cout, k, s, d);
    let res = |ch, n, sc, d: &Device| c.res(ch, n, sc, d);
    vec![
        res(1024, 1, false, device),
        conv(1024, 512, 1, 1, device),
        YoloV3Layer::Spp(Spp {}),
        c.conv_cat(&[512; 4], 512, 1, device), // after SPP
        conv(512, 1024, 3, 1, device),
        dropblock(),
        conv(1024, 512, 1, 1, device),
    ]
}

/// How a `module_list` is run: after entry `i` the output is kept when `i` is in `routes`;
/// `concat` = (entry, route) concatenates a kept route after an entry; `restart` = (entry,
/// route) continues from a kept route after a head entry (baseline).
pub(crate) struct Wiring {
    routes: &'static [usize],
    concat: &'static [(usize, usize)],
    restart: &'static [(usize, usize)],
}

const ASFF_WIRING: Wiring = Wiring {
    routes: &[6, 8, 17, 24, 32],
    concat: &[(19, 1), (26, 0)],
    restart: &[],
};

const BASELINE_WIRING: Wiring = Wiring {
    routes: &[6, 8, 17, 26],
    concat: &[(21, 1), (30, 0)],
    restart: &[(19, 2), (28, 3)],
};

/// Runs a `module_list`; returns the kept routes and the head outputs met on the way.
pub(crate) fn run_list(
    layers: &[YoloV3Layer],
    wiring: &Wiring,
    mut x: Tensor<4>,
) -> (Vec<Tensor<4>>, Vec<HeadOutput>) {
    let mut routes: Vec<Tensor<4>> = Vec::new();
    let mut heads = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        if let YoloV3Layer::Head(h) = layer {
            heads.push(h.forward(x.clone()));
        } else {
            x = layer.forward(x);
        }
        if wiring.routes.contains(&i) {
            routes.push(x.clone());
        }
        if let Some(&(_, r)) = wiring.restart.iter().find(|(e, _)| *e == i) {
            x = routes[r].clone();
        }
        if let Some(&(_, r)) = wiring.concat.iter().find(|(e, _)| *e == i) {
            x = Tensor::cat(vec![x, routes[r].clone()], 1);
        }
    }
    (routes, heads)
}

/// YOLOv3 + ASFF (`models/yolov3_asff.py`).
#[derive(Module, Debug)]
pub struct YoloV3Asff {
    /// Darknet-53 + neck, entries 0–32.
    pub module_list: Vec<YoloV3Layer>,
    /// Fusion to stride 32.
    pub level_0_fusion: Asff,
    /// Head at stride 32 (anchors 6, 7, 8).
    pub level_0_header: YoloV3Head,
    /// Fusion to stride 16.
    pub level_1_fusion: Asff,
    /// Head at stride 16 (anchors 3, 4, 5).
    pub level_1_header: YoloV3Head,
    /// Fusion to stride 8.
    pub level_2_fusion: Asff,
    /// Head at stride 8 (anchors 0, 1, 2).
    pub level_2_header: YoloV3Head,
}

impl YoloV3Asff {
    /// `YOLOv3(num_classes, rfb=rfb, asff=True)`.
    pub fn new(num_classes: usize, rfb: bool, device: &Device) -> Self {
        Self::build(num_classes, rfb, Channels::FULL, device)
    }

    fn build(num_classes: usize, rfb: bool, c: Channels, device: &Device) -> Self {
        let conv = |cin, cout, k, s, d: &Device| c.conv(cin, cout, k, s, d);
        let res = |ch, n, sc, d: &Device| c.res(ch, n, sc, d);
        let mut module_list = darknet53_scaled(c, device);
        module_list.extend(neck_top(c, device));
        module_list.extend([
            conv(512, 256, 1, 1, device), // 18
            upsample(),                   // 19, + route 1
            c.conv_cat(&[256, 512], 256, 1, device),
            conv(256, 512, 3, 1, device),
            dropblock(), // 22
            res(512, 1, false, device),
            conv(512, 256, 1, 1, device), // 24: route, 256 ch @ 16
            conv(256, 128, 1, 1, device),
            upsample(), // 26, + route 0
            c.conv_cat(&[128, 256], 128, 1, device),
            conv(128, 256, 3, 1, device),
            dropblock(), // 29
            res(256, 1, false, device),
            conv(256, 128, 1, 1, device),
            conv(128, 256, 3, 1, device), // 32: route, 256 ch @ 8
        ]);
        let head = |l: usize| c.head(l, num_classes, rfb, device);
        let fusion = |l: usize| {
            Asff::with_channels(
                l,
                rfb,
                ASFF_IN_CHANNELS.map(|x| c.of(x)),
                ASFF_OUT_CHANNELS.map(|x| c.of(x)),
                device,
            )
        };
        Self {
            module_list,
            level_0_fusion: fusion(0),
            level_0_header: head(0),
            level_1_fusion: fusion(1),
            level_1_header: head(1),
            level_2_fusion: fusion(2),
            level_2_header: head(2),
        }
    }

    fn levels(&self) -> [(&Asff, &YoloV3Head); 3] {
        [
            (&self.level_0_fusion, &self.level_0_header),
            (&self.level_1_fusion, &self.level_1_header),
            (&self.level_2_fusion, &self.level_2_header),
        ]
    }
}

/// The YOLOv3 strong baseline (`models/yolov3_baseline.py`).
#[derive(Module, Debug)]
pub struct YoloV3Baseline {
    /// Darknet-53 + neck + heads, entries 0–37 (heads at 19, 28, 37).
    pub module_list: Vec<YoloV3Layer>,
}

impl YoloV3Baseline {
    /// `YOLOv3(num_classes, rfb=rfb)` of the baseline file.
    pub fn new(num_classes: usize, rfb: bool, device: &Device) -> Self {
        Self::build(num_classes, rfb, Channels::FULL, device)
    }

    fn build(num_classes: usize, rfb: bool, c: Channels, device: &Device) -> Self {
        let conv = |cin, cout, k, s, d: &Device| c.conv(cin, cout, k, s, d);
        let res = |ch, n, sc, d: &Device| c.res(ch, n, sc, d);
        let head = |l: usize| YoloV3Layer::Head(c.head(l, num_classes, rfb, device));
        let mut module_list = darknet53_scaled(c, device);
        module_list.extend(neck_top(c, device));
        module_list.extend([
            conv(512, 1024, 3, 1, device), // 18
            head(0),                       // 19, then back to route 2
            conv(512, 256, 1, 1, device),
            upsample(), // 21, + route 1
            c.conv_cat(&[256, 512], 256, 1, device),
            conv(256, 512, 3, 1, device),
            dropblock(), // 24
            res(512, 1, false, device),
            conv(512, 256, 1, 1, device), // 26: route 3
            conv(256, 512, 3, 1, device),
            head(1), // 28, then back to route 3
            conv(256, 128, 1, 1, device),
            upsample(), // 30, + route 0
            c.conv_cat(&[128, 256], 128, 1, device),
            conv(128, 256, 3, 1, device),
            dropblock(), // 33
            res(256, 1, false, device),
            conv(256, 128, 1, 1, device),
            conv(128, 256, 3, 1, device),
            head(2), // 37
        ]);
        Self { module_list }
    }

    fn heads(&self) -> Vec<&YoloV3Head> {
        self.module_list
            .iter()
            .filter_map(|l| match l {
                YoloV3Layer::Head(h) => Some(h),
                _ => None,
            })
            .collect()
    }
}

/// Everything one forward pass gives.
#[derive(Clone, Debug)]
pub struct YoloV3Output {
    /// Raw head outputs of the three levels (strides 32, 16, 8).
    pub levels: Vec<HeadOutput>,
    /// ASFF only: each level's fusion weights and fused-feature sums (`vis`).
    pub fusion: Option<Vec<AsffOutput>>,
}

/// The baseline or the ASFF model, on Darknet-53 or MobileNetV2.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum YoloV3 {
    /// The strong baseline.
    Baseline(YoloV3Baseline),
    /// YOLOv3 + ASFF.
    Asff(YoloV3Asff),
    /// The MobileNetV2 variant, with or without ASFF.
    Mobile(YoloV3Mobile),
}

impl YoloV3 {
    /// The three heads, coarsest first.
    pub fn heads(&self) -> Vec<&YoloV3Head> {
        match self {
            Self::Baseline(m) => m.heads(),
            Self::Asff(m) => m.levels().iter().map(|(_, h)| *h).collect(),
            Self::Mobile(m) => m.levels().iter().map(|(_, h)| *h).collect(),
        }
    }

    /// The backbone.
    pub fn backbone(&self) -> YoloV3Backbone {
        match self {
            Self::Baseline(_) | Self::Asff(_) => YoloV3Backbone::Darknet53,
            Self::Mobile(_) => YoloV3Backbone::MobileNetV2,
        }
    }

    /// Whether the levels are fused by ASFF (the output has [`YoloV3Output::fusion`]).
    pub fn has_fusion(&self) -> bool {
        match self {
            Self::Baseline(_) => false,
            Self::Asff(_) => true,
            Self::Mobile(m) => m.is_asff(),
        }
    }

    /// The `module_list` (Darknet-53 or MobileNetV2, + neck).
    pub fn module_list(&self) -> &[YoloV3Layer] {
        match self {
            Self::Baseline(m) => &m.module_list,
            Self::Asff(m) => &m.module_list,
            Self::Mobile(m) => &m.module_list,
        }
    }

    /// The `module_list`, mutably (weights loaded from files).
    pub fn module_list_mut(&mut self) -> &mut [YoloV3Layer] {
        match self {
            Self::Baseline(m) => &mut m.module_list,
            Self::Asff(m) => &mut m.module_list,
            Self::Mobile(m) => &mut m.module_list,
        }
    }

    /// The DropBlock slots (entries 16, 22, 29 with ASFF; 16, 24, 33 in the baseline; 24, 30,
    /// 37 on MobileNetV2), for the training schedule.
    pub fn dropblocks_mut(&mut self) -> Vec<&mut DropBlock> {
        let list = self.module_list_mut();
        list.iter_mut()
            .filter_map(|l| match l {
                YoloV3Layer::DropBlock(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    /// Raw outputs of the three heads (and the ASFF fusion weights).
    ///
    /// # Shapes
    /// - `x`: `[n, 3, s, s]`, `s` a multiple of 32 (the reference's heads assume square maps);
    /// - level `l` of the output: `[n, 4 (5 + C), s / stride_l, s / stride_l]`.
    ///
    /// # Panics
    /// If `x` is not square or its side is not a multiple of 32.
    pub fn forward(&self, x: Tensor<4>) -> YoloV3Output {
        let [_, _, h, w] = x.dims();
        assert!(
            h == w && h % 32 == 0,
            "YOLOv3 input {h}x{w}: square, side a multiple of 32"
        );
        match self {
            Self::Baseline(m) => {
                let (_, levels) = run_list(&m.module_list, &BASELINE_WIRING, x);
                YoloV3Output {
                    levels,
                    fusion: None,
                }
            }
            Self::Asff(m) => {
                let (routes, _) = run_list(&m.module_list, &ASFF_WIRING, x);
                let (mut levels, mut fusion) = (Vec::new(), Vec::new());
                for (asff, head) in m.levels() {
                    let f = asff.forward(routes[2].clone(), routes[3].clone(), routes[4].clone());
                    levels.push(head.forward(f.fused.clone()));
                    fusion.push(f);
                }
                YoloV3Output {
                    levels,
                    fusion: Some(fusion),
                }
            }
            Self::Mobile(m) => {
                let (levels, fusion) = m.forward(x);
                YoloV3Output { levels, fusion }
            }
        }
    }

    /// The reference model's eval output: every level decoded ([`YoloV3Head::decode`]) and
    /// concatenated, coarsest level first.
    ///
    /// # Shapes
    /// - output: `[n, 4 (h0 w0 + h1 w1 + h2 w2), 5 + C]`.
    pub fn decode(&self, out: &YoloV3Output) -> Tensor<3> {
        let parts = self
            .heads()
            .iter()
            .zip(&out.levels)
            .map(|(h, o)| h.decode(o))
            .collect();
        Tensor::cat(parts, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_reads_from_toml_with_defaults_and_refuses_foreign_keys() {
        let s: YoloV3Spec = toml::from_str("num_classes = 20\nrfb = true").unwrap();
        assert_eq!(
            s,
            YoloV3Spec {
                num_classes: 20,
                backbone: YoloV3Backbone::Darknet53,
                asff: true,
                rfb: true,
                dropblock: false,
                width: 1.0,
                pretrained: None,
            }
        );
        let again: YoloV3Spec = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(again, s);
        let err = toml::from_str::<YoloV3Spec>("depth = 0.5").unwrap_err();
        assert!(err.to_string().contains("depth"), "{err}");
        let zero = YoloV3Spec {
            num_classes: 0,
            ..YoloV3Spec::default()
        };
        assert!(
            zero.validate()
                .unwrap_err()
                .to_string()
                .contains("num_classes")
        );
    }

    #[test]
    fn the_mobilenet_v2_backbone_is_chosen_by_name_and_refuses_width_and_dropblock() {
        let s: YoloV3Spec = toml::from_str("backbone = \"mobilenetv2\"\nasff = false").unwrap();
        assert_eq!(s.backbone, YoloV3Backbone::MobileNetV2);
        assert!(s.validate().is_ok());
        let again: YoloV3Spec = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(again, s);
        assert_eq!(
            toml::from_str::<YoloV3Spec>("").unwrap().backbone,
            YoloV3Backbone::Darknet53
        );
        let err = toml::from_str::<YoloV3Spec>("backbone = \"mobilenet_v3\"").unwrap_err();
        assert!(err.to_string().contains("mobilenetv2"), "{err}");
        let cases = [
            ("width = 0.5", "model.width"),
            ("dropblock = true", "model.dropblock"),
        ];
        for (extra, key) in cases {
            let s: YoloV3Spec =
                toml::from_str(&format!("backbone = \"mobilenetv2\"\n{extra}")).unwrap();
            let err = s.validate().unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains("mobilenetv2"),
                "{extra}: {err}"
            );
            // The same keys are fine on Darknet-53.
            let d: YoloV3Spec = toml::from_str(extra).unwrap();
            assert!(d.validate().is_ok(), "{extra}");
        }
    }

    #[test]
    fn narrow_models_keep_the_output_layout() {
        for c in [32, 64, 128, 256, 512, 768, 1024, 2048] {
            assert_eq!(scale_channels(c, 1.0), c);
        }
        assert_eq!(scale_channels(32, 0.125), 8);
        assert_eq!(scale_channels(1024, 0.125), 128);
        let device = Device::default();
        for asff in [false, true] {
            let spec = YoloV3Spec {
                num_classes: 2,
                asff,
                rfb: asff,
                width: 0.125,
                ..YoloV3Spec::default()
            };
            let m = spec.init(&device);
            let out = m.forward(Tensor::zeros([1, 3, 64, 64], &device));
            let dims: Vec<[usize; 4]> = out.levels.iter().map(|l| l.raw.dims()).collect();
            assert_eq!(dims, [[1, 28, 2, 2], [1, 28, 4, 4], [1, 28, 8, 8]]);
            assert_eq!(m.decode(&out).dims(), [1, 4 * (4 + 16 + 64), 7]);
        }
    }

    #[test]
    fn both_models_have_three_heads_and_three_dropblock_slots() {
        let device = Device::default();
        for asff in [false, true] {
            let spec = YoloV3Spec {
                num_classes: 1,
                asff,
                ..YoloV3Spec::default()
            };
            let mut m = spec.init(&device);
            assert_eq!(matches!(m, YoloV3::Asff(_)), asff);
            let strides: Vec<usize> = m.heads().iter().map(|h| h.stride()).collect();
            assert_eq!(strides, STRIDES);
            assert_eq!(m.heads()[2].anchors(), [ANCHORS[0], ANCHORS[1], ANCHORS[2]]);
            assert_eq!(m.module_list().len(), if asff { 33 } else { 38 });
            let slots = m.dropblocks_mut();
            assert_eq!(slots.len(), 3);
            assert!(slots.iter().all(|d| d.params() == (1, 1.0)));
        }
    }
}
