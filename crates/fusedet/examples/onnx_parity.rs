//! Map parity check used by `tools/check_real_data.sh`: runs an imported PP-OCR detector on a
//! raw f32 input tensor and compares with the onnxruntime map of the same tensor.
//!
//! Usage: `onnx_parity MODEL.onnx INPUT.f32 N,C,H,W REFERENCE.f32 [TOLERANCE]`; exits 1 when
//! the largest absolute difference exceeds the tolerance (default 1e-3).
use burn::prelude::*;
use fusedet::import::{LoadParams, ParamStream};
use fusedet::model::{DbNet, DbNetSpec};

fn read_f32(p: &str) -> Vec<f32> {
    std::fs::read(p)
        .unwrap_or_else(|e| panic!("{p}: {e}"))
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 5 {
        eprintln!("usage: onnx_parity MODEL.onnx INPUT.f32 N,C,H,W REFERENCE.f32 [TOLERANCE]");
        std::process::exit(2);
    }
    let tol: f32 = a
        .get(5)
        .map(|t| t.parse().expect("tolerance"))
        .unwrap_or(1e-3);
    let device = Device::default();
    let mut model = DbNet::new(&DbNetSpec::ppocr_mobile(), false, &device);
    let mut s = ParamStream::from_file(a[1].as_ref(), &device).expect("model");
    model.load_params(&mut s).expect("weights");
    // As `fusedet detect` runs it: normalisations folded into the convolutions.
    model.fold_for_inference();
    let shape: Vec<usize> = a[3].split(',').map(|v| v.parse().expect("shape")).collect();
    let data = TensorData::new(read_f32(&a[2]), [shape[0], shape[1], shape[2], shape[3]]);
    let x = Tensor::<4>::from_data(data, &device);
    let y: Vec<f32> = model.forward(x).into_data().try_to_vec().expect("output");
    let r = read_f32(&a[4]);
    assert_eq!(y.len(), r.len(), "map sizes differ");
    let max = y
        .iter()
        .zip(&r)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    let ok = max <= tol;
    println!(
        "{} values, max abs diff {max:.2e} ({})",
        y.len(),
        if ok { "ok" } else { "FAIL" }
    );
    if !ok {
        std::process::exit(1);
    }
}
