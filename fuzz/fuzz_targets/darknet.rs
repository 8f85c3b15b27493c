//! Darknet `.cfg` + `.weights`: the input is the cfg text, a 0 byte, then the weights bytes.
//! A cfg that parses and needs at most 2^20 weights is loaded with the weights and the network
//! built from both.
#![no_main]
use std::path::Path;

use fusedet::import::darknet::{DarknetCfg, DarknetWeights};
use fusedet::model::darknet::DarknetNet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cfg, weights) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(cfg) else {
        return;
    };
    let Ok(cfg) = DarknetCfg::parse(text, Path::new("fuzz.cfg")) else {
        return;
    };
    if cfg.weight_count() > 1 << 20 {
        return;
    }
    let Ok(w) = DarknetWeights::parse(weights, &cfg, Path::new("fuzz.weights")) else {
        return;
    };
    let _ = DarknetNet::from_weights(&cfg, &w, &fusedet_fuzz::device());
});
