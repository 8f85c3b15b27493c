//! Detector models: backbones, necks and heads.

pub mod ppocr;
pub mod layers;

pub use ppocr::{PpOcrDet, PpOcrDetConfig};
