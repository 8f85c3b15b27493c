//! The counter-based generator of the reference fixture scripts (tools/make_asff_fixtures.py,
//! tools/make_textboxes_fixtures.py): weights and inputs are drawn, not stored, from
//! `splitmix64(fnv1a64(seed:key) + i)`; a fixture stores each tensor's key, shape, range and sum.

#![allow(dead_code)]

use std::path::Path;

#[derive(serde::Deserialize)]
pub struct Drawn {
    pub key: String,
    pub shape: Vec<usize>,
    pub lo: f64,
    pub hi: f64,
    #[serde(default)]
    pub sum: f64,
}

#[derive(serde::Deserialize)]
pub struct Values {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

fn fnv1a64(text: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `lo + (hi - lo) * u` (f64, rounded to f32), `u` = the top 53 bits of
/// `splitmix64(fnv1a64(seed:key) + i)` over 2^53.
pub fn draw(seed: &str, d: &Drawn) -> Vec<f32> {
    let n: usize = d.shape.iter().product();
    let base = fnv1a64(&format!("{seed}:{}", d.key));
    (0..n as u64)
        .map(|i| {
            let u = (splitmix64(base.wrapping_add(i)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            (d.lo + (d.hi - d.lo) * u) as f32
        })
        .collect()
}

/// Every drawn parameter as a SafeTensors file (keys as in the reference's state dict);
/// checks each tensor's sum against the one the script recorded.
pub fn write_safetensors(seed: &str, params: &[Drawn], path: &Path) {
    let values: Vec<Vec<f32>> = params
        .iter()
        .map(|p| {
            let v = draw(seed, p);
            let sum: f64 = v.iter().map(|&x| f64::from(x)).sum();
            assert!(
                p.sum.is_nan() || (sum - p.sum).abs() <= 1e-9 * p.sum.abs().max(1.0) + 1e-6,
                "{}: drawn sum {sum}, reference {}: the generators differ",
                p.key,
                p.sum
            );
            v
        })
        .collect();
    write_values(params, &values, path);
}

/// `values[i]` under `params[i].key` with its shape, as a SafeTensors file.
pub fn write_values(params: &[Drawn], values: &[Vec<f32>], path: &Path) {
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (p, v) in params.iter().zip(values) {
        let start = data.len();
        for x in v {
            data.extend_from_slice(&x.to_le_bytes());
        }
        header.insert(
            p.key.clone(),
            serde_json::json!({"dtype": "F32", "shape": p.shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut h = serde_json::to_vec(&header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend(h);
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}
