//! Detector models: backbones, necks and heads.

pub mod dbnet;
pub mod detector;
pub mod layers;
pub mod mobilenet;
pub mod params;
pub mod ppocr;
pub mod torchvision;

pub use dbnet::{DbNet, DbNetConfig, ResNetDepth};
pub use detector::{Arch, Backbone, DetModel, ModelSpec};
pub use ppocr::{PpOcrDet, PpOcrDetConfig};
