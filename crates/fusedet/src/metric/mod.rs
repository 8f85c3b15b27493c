//! Detection metrics, each a pure function over annotations and detections, separate from the
//! dataset plumbing: [`hmean_iou`] (the ICDAR 2015 protocol exactly as the official script, its
//! MindOCR variant and MMOCR's score sweep), [`coco`] (pycocotools' COCOeval for boxes) and
//! [`voc`] (Pascal VOC AP, 11-point and all-point).

pub mod coco;
pub mod hmean_iou;
pub mod voc;

pub use hmean_iou::*;
