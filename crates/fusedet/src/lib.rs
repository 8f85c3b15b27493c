//! fusedet: scene-text and object detectors built on multi-scale feature fusion, on Burn.
//!
//! The pipeline stages are public so each can be inspected: [`preprocess`] (image → tensor),
//! [`model`] (tensor → probability map), [`postprocess`] (map → polygons), tied together by
//! [`infer::TextDetector`]. Pretrained PP-OCR detectors are listed in [`zoo`] and imported by
//! [`import`].

pub mod augment;
pub mod data;
pub mod draw;
pub mod error;
pub mod import;
pub mod infer;
pub mod loss;
pub mod metric;
pub mod model;
pub mod postprocess;
pub mod preprocess;
pub mod rng;
pub mod synth;
pub mod targets;
pub mod train;
pub mod zoo;

pub use burn;
pub use error::{Error, Result};
pub use infer::{ImageDetections, TextDetector};
