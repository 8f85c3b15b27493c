//! Weight import into fusedet's own modules: PP-OCR detection models from ONNX files
//! ([`onnx`]), torchvision ImageNet backbones from SafeTensors / PyTorch files by name
//! ([`torchvision`]).

pub mod darknet;
pub mod onnx;
pub mod onnx_proto;
pub mod torchvision;

pub use onnx::{LoadParams, ParamStream};
