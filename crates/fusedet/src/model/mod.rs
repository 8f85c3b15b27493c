//! Detector models: backbones, necks and heads.

pub mod dbnet;
pub mod layers;
pub mod ppocr;

pub use dbnet::{DbNet, DbNetConfig, ResNetDepth};
pub use ppocr::{PpOcrDet, PpOcrDetConfig};
