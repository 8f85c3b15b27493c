//! Detector models, MMOCR-style: a detector is a backbone + a neck + a head, each chosen by a
//! tagged table of the recipe's `[model]` section.
//!
//! - [`backbone`]: ResNet-18/50, MobileNetV3-Large, PP-LCNetV3;
//! - [`neck`]: DBFPN (`fpnc`, with DBNet++'s ASF), RSE-FPN;
//! - [`head`]: the DB head (probability + threshold branches);
//! - [`darknet`]: Darknet networks (YOLOv3, yolov3-tiny, SPP, Darknet-53) from their cfg;
//! - [`dbnet`]: DBNet / DBNet++ / PP-OCR mobile det assembled from those;
//! - [`detector`]: [`ModelSpec`] and [`DetModel`], one type for every family.

pub mod backbone;
pub mod darknet;
pub mod dbnet;
pub mod detector;
pub mod head;
pub mod layers;
pub mod neck;
pub mod params;

pub use backbone::{Backbone, BackboneSpec};
pub use dbnet::{DbHeadSpec, DbNet, DbNetSpec};
pub use detector::{DetModel, ModelSpec};
pub use head::{DbHead, DbMaps};
pub use neck::{Neck, NeckSpec};
