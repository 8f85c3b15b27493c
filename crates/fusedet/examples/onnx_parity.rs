//! Runs an imported PP-OCR detector on a raw f32 input and compares with a raw reference map.
//! Usage: onnx_parity MODEL.onnx INPUT.f32 N,C,H,W REFERENCE.f32
use burn::prelude::*;
use fusedet::import::{LoadParams, ParamStream};
use fusedet::model::PpOcrDetConfig;

fn read_f32(p: &str) -> Vec<f32> {
    std::fs::read(p)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let device = Device::default();
    let mut model = PpOcrDetConfig::new().init(&device);
    let mut s = ParamStream::from_file(a[1].as_ref(), &device).unwrap();
    model.load_params(&mut s).unwrap();
    let shape: Vec<usize> = a[3].split(',').map(|v| v.parse().unwrap()).collect();
    let x = Tensor::<4>::from_data(TensorData::new(read_f32(&a[2]), [shape[0], shape[1], shape[2], shape[3]]), &device);
    let t = std::time::Instant::now();
    let y: Vec<f32> = model.forward(x).into_data().to_vec().unwrap();
    eprintln!("forward {:?}", t.elapsed());
    let r = read_f32(&a[4]);
    let max = y.iter().zip(&r).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    println!("n={} max_abs_diff={max}", y.len());
}
