//! Weight import: PP-OCR detection models from ONNX files, loaded into fusedet's own modules.

pub mod darknet;
pub mod onnx;
pub mod onnx_proto;

pub use onnx::{LoadParams, ParamStream};
