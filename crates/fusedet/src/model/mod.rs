//! Detector models, MMOCR-style: a detector is a backbone + a neck + a head, each chosen by a
//! tagged table of the recipe's `[model]` section.
//!
//! - [`backbone`]: ResNet-18/50, MobileNetV3-Large, PP-LCNetV3;
//! - [`neck`]: DBFPN (`fpnc`, with DBNet++'s ASF), RSE-FPN;
//! - [`head`]: the DB head (probability + threshold branches);
//! - [`darknet`]: Darknet networks (YOLOv3, yolov3-tiny, SPP, Darknet-53) from their cfg;
//! - [`dbnet`]: DBNet / DBNet++ / PP-OCR mobile det assembled from those;
//! - [`deform`]: a deformable convolution as tensor ops (fast backward on flex);
//! - [`detector`]: [`ModelSpec`] and [`DetModel`], one type for every family;
//! - [`fused`]: one-pass kernels for the element-wise chains, on the flex CPU backend;
//! - [`textboxes`]: RetinaNet + TextBoxes++ (SE-ResNet-50 / ResNet, FPN P2-P7, quad head);
//! - [`yolov3`]: YOLOv3 + ASFF and its strong baseline in the ASFF reference's PyTorch layout
//!   (standalone for now: not yet a [`ModelSpec`] family).

pub mod backbone;
pub mod darknet;
pub mod dbnet;
pub mod deform;
pub mod detector;
pub mod fused;
pub mod head;
pub mod layers;
pub mod neck;
pub mod params;
pub mod textboxes;
pub mod yolov3;

pub use backbone::{Backbone, BackboneSpec};
pub use dbnet::{DbHeadSpec, DbNet, DbNetSpec};
pub use detector::{DetModel, ModelSpec};
pub use head::{DbHead, DbMaps};
pub use neck::{Neck, NeckSpec};
