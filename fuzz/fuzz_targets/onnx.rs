//! ONNX import: the protobuf reader and parameter stream, then a DBNet built from the file as
//! `fusedet detect --model FILE.onnx` does.
#![no_main]
use fusedet::TextDetector;
use fusedet::import::ParamStream;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let device = fusedet_fuzz::device();
    let p = fusedet_fuzz::put("model.onnx", data);
    let _ = ParamStream::from_bytes(data, &p, &device);
    let _ = TextDetector::from_onnx(&p, &device);
});
