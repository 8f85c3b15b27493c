//! Backbones: an image batch in, four feature maps C2..C5 at strides 4, 8, 16, 32 out.
//!
//! [`BackboneSpec`] is the `[model.backbone]` table of a recipe (tagged by `type`; a key that
//! does not belong to the chosen type is refused); [`Backbone`] is the built module.

pub mod lcnet_v3;
pub mod mobilenet_v3;
pub mod resnet;

use std::path::PathBuf;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use lcnet_v3::{PpLcNetV3, PpLcNetV3Config};
pub use mobilenet_v3::{MobileNetLayout, MobileNetV3};
pub use resnet::{ResNet, ResNetDepth};

use crate::error::ImportError;
use crate::import::{LoadParams, ParamStream};

fn d_base_width() -> usize {
    64
}
fn d_mobilenet_scale() -> f64 {
    0.5
}
fn d_lcnet_scale() -> f64 {
    0.75
}

/// The `[model.backbone]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BackboneSpec {
    /// ResNet-18 (BasicBlock x [2, 2, 2, 2]).
    Resnet18 {
        /// Stem channels (64 standard; all stages scale with it).
        #[serde(default = "d_base_width")]
        base_width: usize,
        /// torchvision `resnet18` ImageNet weights (`.safetensors` or `.pth`), loaded when
        /// training starts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<PathBuf>,
    },
    /// ResNet-50 (Bottleneck x [3, 4, 6, 3]).
    Resnet50 {
        /// Stem channels (64 standard).
        #[serde(default = "d_base_width")]
        base_width: usize,
        /// torchvision `resnet50` ImageNet weights.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<PathBuf>,
    },
    /// MobileNetV3-Large.
    MobilenetV3 {
        /// Width multiplier (0.5 in MindOCR's recipe).
        #[serde(default = "d_mobilenet_scale")]
        scale: f64,
        /// Layer layout: `mindcv` (MindOCR) or `torchvision` (to load torchvision weights).
        #[serde(default)]
        layout: MobileNetLayout,
        /// torchvision `mobilenet_v3_large` ImageNet weights (needs `layout = "torchvision"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<PathBuf>,
    },
    /// PP-LCNetV3 (the PP-OCRv4/v5 mobile detectors' backbone).
    LcnetV3 {
        /// Width multiplier (0.75 in PP-OCRv4/v5 mobile).
        #[serde(default = "d_lcnet_scale")]
        scale: f64,
    },
}

impl Default for BackboneSpec {
    fn default() -> Self {
        Self::Resnet18 {
            base_width: 64,
            weights: None,
        }
    }
}

impl BackboneSpec {
    /// Channels of C2..C5.
    pub fn out_channels(&self) -> [usize; 4] {
        match self {
            Self::Resnet18 { base_width, .. } => ResNetDepth::R18.out_channels_width(*base_width),
            Self::Resnet50 { base_width, .. } => ResNetDepth::R50.out_channels_width(*base_width),
            Self::MobilenetV3 { scale, .. } => mobilenet_v3::out_channels(*scale),
            Self::LcnetV3 { scale } => PpLcNetV3Config::new().with_scale(*scale).out_channels(),
        }
    }

    /// ImageNet weights to load into the backbone, if any.
    pub fn weights(&self) -> Option<&PathBuf> {
        match self {
            Self::Resnet18 { weights, .. }
            | Self::Resnet50 { weights, .. }
            | Self::MobilenetV3 { weights, .. } => weights.as_ref(),
            Self::LcnetV3 { .. } => None,
        }
    }

    /// A problem with the values, as `(key, reason)`.
    pub fn check(&self) -> Option<(&'static str, String)> {
        match self {
            Self::Resnet18 { base_width, .. } | Self::Resnet50 { base_width, .. }
                if *base_width == 0 =>
            {
                Some(("base_width", "must be positive".into()))
            }
            Self::MobilenetV3 { scale, .. } | Self::LcnetV3 { scale }
                if !(*scale > 0.0 && *scale <= 4.0) =>
            {
                Some(("scale", format!("must be in (0, 4], not {scale}")))
            }
            _ => None,
        }
    }

    /// Builds the backbone with fresh weights.
    pub fn init(&self, device: &Device) -> Backbone {
        match self {
            Self::Resnet18 { base_width, .. } => {
                Backbone::ResNet(ResNetDepth::R18.init_width(*base_width, device))
            }
            Self::Resnet50 { base_width, .. } => {
                Backbone::ResNet(ResNetDepth::R50.init_width(*base_width, device))
            }
            Self::MobilenetV3 { scale, layout, .. } => {
                Backbone::MobileNetV3(MobileNetV3::new(*scale, *layout, device))
            }
            Self::LcnetV3 { scale } => {
                Backbone::LcNetV3(PpLcNetV3Config::new().with_scale(*scale).init(device))
            }
        }
    }
}

/// A built backbone.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per model
pub enum Backbone {
    /// ResNet-18 / 50.
    ResNet(ResNet),
    /// MobileNetV3-Large.
    MobileNetV3(MobileNetV3),
    /// PP-LCNetV3.
    LcNetV3(PpLcNetV3),
}

impl Backbone {
    /// Four feature maps at strides 4, 8, 16, 32.
    ///
    /// # Shapes
    /// - `x`: `[n, 3, H, W]` (multiples of 32) → C2..C5.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        match self {
            Self::ResNet(m) => m.forward(x),
            Self::MobileNetV3(m) => m.forward(x),
            Self::LcNetV3(m) => m.forward(x),
        }
    }
}

impl LoadParams for Backbone {
    /// Only PP-LCNetV3 comes from ONNX exports (PP-OCR); the others load torchvision weights by
    /// name ([`crate::import::torchvision`]).
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        match self {
            Self::LcNetV3(m) => m.load_params(s),
            _ => Err(s.unsupported(
                "backbone",
                "ONNX import reads PP-OCR models: the backbone must be `lcnet_v3`",
            )),
        }
    }
}
