//! Checkpoints: the same bytes as a PyTorch `.pth` and a `.safetensors` file of torchvision
//! weights for a ResNet-18 backbone, and as a run directory's `.bpk` weights (burn-store).
#![no_main]
use std::sync::Mutex;
use std::sync::OnceLock;

use fusedet::import::torchvision::load_backbone;
use fusedet::model::{DbNet, DetModel};
use fusedet::run_dir::load_module;
use libfuzzer_sys::fuzz_target;

fn net() -> &'static Mutex<DbNet> {
    static NET: OnceLock<Mutex<DbNet>> = OnceLock::new();
    NET.get_or_init(|| Mutex::new(fusedet_fuzz::tiny_dbnet()))
}

fn model() -> &'static DetModel {
    static MODEL: OnceLock<DetModel> = OnceLock::new();
    MODEL.get_or_init(fusedet_fuzz::tiny_model)
}

fuzz_target!(|data: &[u8]| {
    let mut db = net().lock().unwrap_or_else(|e| e.into_inner());
    for name in ["weights.pth", "weights.safetensors"] {
        let p = fusedet_fuzz::put(name, data);
        let _ = load_backbone(&mut db.backbone, &p);
    }
    let p = fusedet_fuzz::put("model.bpk", data);
    let _ = load_module(model().clone(), &p);
});
