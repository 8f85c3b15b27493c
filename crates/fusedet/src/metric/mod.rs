//! Detection metrics, each a pure function over annotations and detections, separate from the
//! dataset plumbing: [`hmean_iou`] (the ICDAR 2015 IoU protocol, its MindOCR variant and MMOCR's
//! score sweep).

pub mod coco;
pub mod hmean_iou;
pub mod voc;

pub use hmean_iou::*;
