//! Detector models: backbones, necks and heads.

pub mod layers;
pub mod ppocr;

pub use ppocr::{PpOcrDet, PpOcrDetConfig};
