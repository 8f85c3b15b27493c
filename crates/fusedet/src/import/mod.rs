//! Weight import into fusedet's own modules: PP-OCR detection models from ONNX files
//! ([`onnx`]), torchvision ImageNet backbones from SafeTensors / PyTorch files by name
//! ([`torchvision`]), checkpoints of the ASFF reference code into the YOLOv3 / ASFF models
//! ([`asff`]).

pub mod asff;
pub mod darknet;
pub mod onnx;
pub mod onnx_proto;
pub mod textboxes;
pub mod torchvision;

pub use onnx::{LoadParams, ParamStream};
