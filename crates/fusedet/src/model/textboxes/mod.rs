//! RetinaNet + TextBoxes++ (Liao et al., arXiv:1801.02765; Lin et al., arXiv:1708.02002): an
//! anchor-based quadrilateral text detector, in the layout of the public PyTorch reference
//! (qjadud1994/Text_Detector, SPEC §10 and §13).
//!
//! - [`seresnet`]: SE-ResNet-50 (Cadene layout); plain ResNet-18/34/50 come from
//!   [`crate::model::backbone::resnet`];
//! - [`fpn`]: the RetinaNet pyramid P2..P7 (or P3..P7);
//! - [`head`]: the shared head with TextBoxes++' 3×5 final convolutions;
//! - [`coder`]: anchors, matching, quad encoding and decoding;
//! - [`loss`]: focal loss (or the reference's `focal_loss_alt`) + smooth L1.
//!
//! [`TextBoxesSpec`] is the `[model]` section of a recipe with `arch = "textboxes"`.

pub mod coder;
pub mod fpn;
pub mod head;
pub mod loss;
pub mod seresnet;

use std::path::PathBuf;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use coder::{AnchorOffset, AnchorSpec, MatchSpec, Regression, VertexOrder};
pub use fpn::RetinaFpn;
pub use head::TbHead;
pub use loss::{ClsLoss, TbLossSpec};
pub use seresnet::SeResNet;

use crate::error::ConfigError;
use crate::model::backbone::{ResNet, ResNetDepth};
use crate::postprocess::textboxes::TbPostProcess;

fn d_base_width() -> usize {
    64
}
fn d_channels() -> usize {
    256
}
fn d_true() -> bool {
    true
}
fn d_convs() -> usize {
    4
}
fn d_prior() -> f64 {
    0.01
}

/// `[model.backbone]` of a TextBoxes++ recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TbBackboneSpec {
    /// SE-ResNet-50, Cadene layout (the reference).
    SeResnet50 {
        /// Stem channels (64 standard; all stages scale with it).
        #[serde(default = "d_base_width")]
        base_width: usize,
        /// Cadene `se_resnet50` ImageNet state dict (`.pth` / `.safetensors`), loaded when
        /// training starts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<PathBuf>,
    },
    /// ResNet-18 (torchvision layout).
    Resnet18 {
        /// Stem channels.
        #[serde(default = "d_base_width")]
        base_width: usize,
        /// torchvision `resnet18` weights.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<PathBuf>,
    },
    /// ResNet-34 (torchvision layout).
    Resnet34 {
        /// Stem channels.
        #[serde(default = "d_base_width")]
        base_width: usize,
        /// torchvision `resnet34` weights.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<PathBuf>,
    },
    /// ResNet-50 (torchvision layout).
    Resnet50 {
        /// Stem channels.
        #[serde(default = "d_base_width")]
        base_width: usize,
        /// torchvision `resnet50` weights.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<PathBuf>,
    },
}

impl Default for TbBackboneSpec {
    fn default() -> Self {
        Self::SeResnet50 {
            base_width: 64,
            weights: None,
        }
    }
}

impl TbBackboneSpec {
    fn base_width(&self) -> usize {
        match self {
            Self::SeResnet50 { base_width, .. }
            | Self::Resnet18 { base_width, .. }
            | Self::Resnet34 { base_width, .. }
            | Self::Resnet50 { base_width, .. } => *base_width,
        }
    }

    /// ImageNet weights to load, if any.
    pub fn weights(&self) -> Option<&PathBuf> {
        match self {
            Self::SeResnet50 { weights, .. }
            | Self::Resnet18 { weights, .. }
            | Self::Resnet34 { weights, .. }
            | Self::Resnet50 { weights, .. } => weights.as_ref(),
        }
    }

    fn depth(&self) -> Option<ResNetDepth> {
        match self {
            Self::SeResnet50 { .. } => None,
            Self::Resnet18 { .. } => Some(ResNetDepth::R18),
            Self::Resnet34 { .. } => Some(ResNetDepth::R34),
            Self::Resnet50 { .. } => Some(ResNetDepth::R50),
        }
    }

    /// Channels of C2..C5.
    pub fn out_channels(&self) -> [usize; 4] {
        match self.depth() {
            None => SeResNet::out_channels(self.base_width()),
            Some(d) => d.out_channels_width(self.base_width()),
        }
    }

    fn init(&self, device: &Device) -> TbBackbone {
        match self.depth() {
            None => TbBackbone::SeResNet(SeResNet::new(self.base_width(), device)),
            Some(d) => TbBackbone::ResNet(d.init_width(self.base_width(), device)),
        }
    }
}

/// `[model.neck]`: the RetinaNet pyramid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TbNeckSpec {
    /// FPN P2..P7 (`p2 = true`, the reference) or P3..P7.
    Fpn {
        /// Width of every level.
        #[serde(default = "d_channels")]
        channels: usize,
        /// Start at P2 (stride 4).
        #[serde(default = "d_true")]
        p2: bool,
    },
}

impl Default for TbNeckSpec {
    fn default() -> Self {
        Self::Fpn {
            channels: 256,
            p2: true,
        }
    }
}

/// `[model.head]`: the TextBoxes++ head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TbHeadSpec {
    /// Shared RetinaNet subnets with 3×5 final convolutions.
    Textboxes {
        /// Hidden 3×3 convolutions per branch.
        #[serde(default = "d_convs")]
        convs: usize,
        /// `"8"` (vertex offsets, the reference) or `"4+8"` (rectangle + vertices, the paper).
        #[serde(default)]
        regression: Regression,
        /// Initial text probability of every anchor (classification bias prior).
        #[serde(default = "d_prior")]
        prior: f64,
        /// A GroupNorm (32 groups) after each hidden convolution (MMDetection's GN head).
        #[serde(default)]
        gn: bool,
    },
}

impl Default for TbHeadSpec {
    fn default() -> Self {
        Self::Textboxes {
            convs: 4,
            regression: Regression::Quad,
            prior: 0.01,
            gn: false,
        }
    }
}

/// The `[model]` section with `arch = "textboxes"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextBoxesSpec {
    /// `[model.backbone]`.
    pub backbone: TbBackboneSpec,
    /// `[model.neck]`.
    pub neck: TbNeckSpec,
    /// `[model.head]`.
    pub head: TbHeadSpec,
    /// `[model.anchors]`.
    pub anchors: AnchorSpec,
    /// `[model.matching]`: anchor labels and target encoding.
    pub matching: MatchSpec,
    /// `[model.loss]`.
    pub loss: TbLossSpec,
    /// `[model.postprocess]`: input size, score threshold, NMS.
    pub postprocess: TbPostProcess,
    /// Weights of the whole detector to start from: a `fusedet train` run directory (its best
    /// weights) or `.bpk` file of the same architecture, or a checkpoint of the reference code
    /// (`{'net': state_dict}` or a plain state dict, `.pth` / `.safetensors`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<PathBuf>,
    /// Batch norms stay in inference mode while training (the reference's `freeze_bn`).
    pub norm_eval: bool,
}

impl Default for TextBoxesSpec {
    fn default() -> Self {
        Self {
            backbone: TbBackboneSpec::default(),
            neck: TbNeckSpec::default(),
            head: TbHeadSpec::default(),
            anchors: AnchorSpec::default(),
            matching: MatchSpec::default(),
            loss: TbLossSpec::default(),
            postprocess: TbPostProcess::default(),
            pretrained: None,
            norm_eval: true,
        }
    }
}

impl TextBoxesSpec {
    /// Whether `model.pretrained` names weights written by `fusedet train` (a run directory or
    /// a `.bpk` file) rather than a reference checkpoint.
    pub fn is_fusedet_weights(p: &std::path::Path) -> bool {
        p.is_dir() || p.extension().is_some_and(|e| e == "bpk")
    }

    /// The regression layout.
    pub fn regression(&self) -> Regression {
        let TbHeadSpec::Textboxes { regression, .. } = &self.head;
        *regression
    }

    /// Checks values serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |k: &str, r: String| Err(ConfigError::invalid(format!("model.{k}"), r));
        if self.backbone.base_width() == 0 {
            return bad("backbone.base_width", "must be positive".into());
        }
        let TbNeckSpec::Fpn { channels, p2 } = &self.neck;
        if *channels == 0 {
            return bad("neck.channels", "must be positive".into());
        }
        let TbHeadSpec::Textboxes { prior, gn, .. } = &self.head;
        if !(*prior > 0.0 && *prior < 1.0) {
            return bad("head.prior", format!("must be in (0, 1), not {prior}"));
        }
        if *gn && !channels.is_multiple_of(head::GN_GROUPS) {
            return bad(
                "head.gn",
                format!(
                    "GroupNorm's {} groups need neck.channels a multiple of {}, not {channels}",
                    head::GN_GROUPS,
                    head::GN_GROUPS
                ),
            );
        }
        if let Some((k, r)) = self.anchors.check() {
            return bad(&format!("anchors.{k}"), r);
        }
        let (first, levels) = if *p2 { (2, 6) } else { (3, 5) };
        if self.anchors.first_level != first || self.anchors.levels() != levels {
            return bad(
                "anchors.sizes",
                format!(
                    "the pyramid has {levels} levels from P{first} (neck.p2 = {p2}): give \
                     {levels} sizes and first_level = {first}, not {} from P{}",
                    self.anchors.levels(),
                    self.anchors.first_level
                ),
            );
        }
        let m = &self.matching;
        if !(0.0 < m.neg_iou && m.neg_iou <= m.pos_iou && m.pos_iou <= 1.0) {
            return bad(
                "matching.pos_iou",
                format!(
                    "need 0 < neg_iou ({}) <= pos_iou ({}) <= 1",
                    m.neg_iou, m.pos_iou
                ),
            );
        }
        if let Some((k, r)) = self.loss.check() {
            return bad(&format!("loss.{k}"), r);
        }
        if let Some((k, r)) = self.postprocess.check() {
            return bad(&format!("postprocess.{k}"), r);
        }
        Ok(())
    }

    /// Builds the detector with fresh weights.
    pub fn init(&self, device: &Device) -> TextBoxes {
        let TbNeckSpec::Fpn { channels, p2 } = &self.neck;
        let TbHeadSpec::Textboxes {
            convs,
            regression,
            prior,
            gn,
        } = &self.head;
        TextBoxes {
            backbone: self.backbone.init(device),
            neck: RetinaFpn::new(self.backbone.out_channels(), *channels, *p2, device),
            head: TbHead::new(
                *channels,
                *convs,
                self.anchors.per_cell(),
                1,
                regression.width(),
                *prior,
                *gn,
                device,
            ),
            reg: regression.width(),
        }
    }
}

/// The backbone of a TextBoxes++ detector.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum TbBackbone {
    /// SE-ResNet-50.
    SeResNet(SeResNet),
    /// Plain ResNet (torchvision layout).
    ResNet(ResNet),
}

/// RetinaNet + TextBoxes++.
#[derive(Module, Debug)]
pub struct TextBoxes {
    /// C2..C5.
    pub backbone: TbBackbone,
    /// P2..P7.
    pub neck: RetinaFpn,
    /// Shared head.
    pub head: TbHead,
    /// Offsets per anchor (8 or 12).
    pub reg: usize,
}

/// Raw outputs: offsets `[n, anchors, 8 | 12]` and text logits `[n, anchors, 1]`.
#[derive(Clone, Debug)]
pub struct TbOutput {
    /// Regression.
    pub loc: Tensor<3>,
    /// Classification logits.
    pub cls: Tensor<3>,
}

impl TextBoxes {
    /// The pyramid levels (for diagnosis).
    pub fn features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let c = match &self.backbone {
            TbBackbone::SeResNet(m) => m.forward(x),
            TbBackbone::ResNet(m) => m.forward(x),
        };
        self.neck.forward(c)
    }

    /// # Shapes
    /// - `x`: `[n, 3, H, W]` → offsets `[n, A, reg]`, logits `[n, A, 1]` with `A` the anchor count
    ///   of [`AnchorSpec::anchors`] for `W × H`.
    pub fn forward(&self, x: Tensor<4>) -> TbOutput {
        let levels = self.features(x);
        let (loc, cls) = self.head.forward(&levels, self.reg, 1);
        TbOutput { loc, cls }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> TextBoxesSpec {
        TextBoxesSpec {
            backbone: TbBackboneSpec::Resnet18 {
                base_width: 8,
                weights: None,
            },
            neck: TbNeckSpec::Fpn {
                channels: 16,
                p2: true,
            },
            ..TextBoxesSpec::default()
        }
    }

    #[test]
    fn outputs_cover_every_anchor() {
        let device = Device::default();
        for (spec, reg) in [
            (small(), 8),
            (
                TextBoxesSpec {
                    head: TbHeadSpec::Textboxes {
                        convs: 1,
                        regression: Regression::RectQuad,
                        prior: 0.01,
                        gn: true,
                    },
                    neck: TbNeckSpec::Fpn {
                        channels: 32,
                        p2: false,
                    },
                    anchors: AnchorSpec {
                        sizes: vec![32.0, 64.0, 128.0, 256.0, 512.0],
                        first_level: 3,
                        ..AnchorSpec::default()
                    },
                    ..small()
                },
                12,
            ),
            (
                TextBoxesSpec {
                    backbone: TbBackboneSpec::SeResnet50 {
                        base_width: 4,
                        weights: None,
                    },
                    ..small()
                },
                8,
            ),
        ] {
            spec.validate().unwrap();
            let m = spec.init(&device);
            let out = m.forward(Tensor::zeros([2, 3, 72, 100], &device));
            let a = spec.anchors.anchors(100, 72).len();
            assert_eq!(out.loc.dims(), [2, a, reg]);
            assert_eq!(out.cls.dims(), [2, a, 1]);
            // The prior: every anchor starts at probability 0.01 on a blank image.
            let p = burn::tensor::activation::sigmoid(out.cls)
                .mean()
                .into_scalar::<f32>();
            assert!((p - 0.01).abs() < 2e-3, "{p}");
        }
    }

    #[test]
    fn spec_reads_from_toml_and_refuses_mismatched_levels() {
        let s: TextBoxesSpec = toml::from_str(
            "[backbone]\ntype = \"resnet34\"\n[neck]\ntype = \"fpn\"\nchannels = 64\n\
             [head]\ntype = \"textboxes\"\nregression = \"4+8\"\n[anchors]\noffset = \"vertical\"",
        )
        .unwrap();
        assert_eq!(s.regression(), Regression::RectQuad);
        assert_eq!(s.anchors.offset, AnchorOffset::Vertical);
        s.validate().unwrap();
        let again: TextBoxesSpec = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(again, s);
        let p3 = TextBoxesSpec {
            neck: TbNeckSpec::Fpn {
                channels: 64,
                p2: false,
            },
            ..s
        };
        let e = p3.validate().unwrap_err().to_string();
        assert!(e.contains("model.anchors.sizes"), "{e}");
        let e = toml::from_str::<TextBoxesSpec>("[head]\ntype = \"textboxes\"\nregression = \"6\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains('6'), "{e}");
    }
}
