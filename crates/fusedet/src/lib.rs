//! fusedet: scene-text and object detectors built on multi-scale feature fusion, on Burn.
//!
//! [`Detector::from_pretrained`] loads a model by zoo name, ONNX file or training run and
//! detects in images. The pipeline stages are public so each can be inspected: [`preprocess`]
//! (image → tensor), [`model`] (backbone / neck / head → maps), [`postprocess`] (maps →
//! polygons), all returning the one results type of [`detection`]. Pretrained detectors are
//! listed in [`zoo`] and imported by [`import`]; [`train`] writes run directories that
//! [`run_dir`] reads back.

pub mod augment;
pub mod data;
pub mod detection;
pub mod draw;
pub mod error;
pub mod fsutil;
pub mod import;
pub mod infer;
pub mod loss;
pub mod metric;
pub mod model;
pub mod object;
pub mod object_augment;
pub mod postprocess;
pub mod preprocess;
pub mod profile;
pub mod quad;
pub mod rng;
pub mod run_dir;
pub mod synth;
pub mod synth_objects;
pub mod targets;
pub mod train;
pub mod zoo;

pub use burn;
pub use detection::{Detection, ImageDetections, Shape};
pub use error::{Error, Result};
pub use infer::{Detector, ObjectDetector, TextDetector};
pub use quad::QuadDetector;
