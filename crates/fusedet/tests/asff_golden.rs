//! Forward parity with the ASFF reference code (GOATmessi7/ASFF, run under PyTorch on the CPU
//! by tools/make_asff_fixtures.py): the YOLOv3 baseline, YOLOv3 + ASFF and YOLOv3 + ASFF + RFB,
//! and the MobileNetV2 variant without and with ASFF (`ASFFmobile`), at full width on a
//! 2 × 3 × 96 × 96 input with 3 classes. The weights are drawn by the
//! script's generator, written here as a SafeTensors state dict under the reference's keys and
//! loaded by name; the raw head outputs must match within 1e-4. A `{'model': ...}` checkpoint
//! written by `torch.save` loads by name too.

mod asff_fixture;

use std::collections::BTreeMap;

use fusedet::burn::prelude::*;
use fusedet::burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
use fusedet::import::asff::{load_checkpoint, read_checkpoint};
use fusedet::model::yolov3::{YoloV3, YoloV3Spec};

fn parity(variant: &str) {
    let fx = asff_fixture::read(variant);
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{variant}.safetensors"));
    fx.write_safetensors(&path);
    let mut model = fx.spec().init(&device);
    let report = load_checkpoint(&mut model, &path).unwrap();
    assert_eq!(
        report.applied.len(),
        fx.params.len(),
        "{variant}: tensors loaded"
    );
    assert!(
        report.unused.is_empty(),
        "{variant}: unused {:?}",
        report.unused
    );
    let p = asff_fixture::compare(&fx, &model, &device);
    eprintln!("{variant}: {p:?}");
    assert!(
        p.raw <= 1e-4,
        "{variant}: raw head outputs differ by {}",
        p.raw
    );
    assert!(p.guide <= 1e-4, "{variant}: guides differ by {}", p.guide);
    assert!(
        p.decoded_rel <= 1e-4,
        "{variant}: decoded outputs differ by {} (relative)",
        p.decoded_rel
    );
    assert!(
        p.vis <= 1e-5,
        "{variant}: fusion weights differ by {}",
        p.vis
    );
    assert!(
        p.fused_sum_rel <= 1e-4,
        "{variant}: fused sums differ by {} (relative)",
        p.fused_sum_rel
    );
}

#[test]
fn baseline_reproduces_the_reference_head_outputs() {
    parity("baseline");
}

#[test]
fn asff_reproduces_the_reference_head_outputs_and_fusion_weights() {
    parity("asff");
}

#[test]
fn asff_rfb_reproduces_the_reference_head_outputs_and_fusion_weights() {
    parity("asff_rfb");
}

#[test]
fn mobilenet_v2_reproduces_the_reference_head_outputs() {
    parity("mobile");
}

#[test]
fn mobilenet_v2_asff_reproduces_the_reference_head_outputs_and_fusion_weights() {
    parity("mobile_asff");
}

#[derive(serde::Deserialize)]
struct Key {
    key: String,
    shape: Vec<usize>,
}

#[test]
fn parameter_paths_are_the_reference_state_dict_keys() {
    let path = asff_fixture::dir().join("keys.json");
    let keys: BTreeMap<String, Vec<Key>> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let device = Device::default();
    for (variant, keys) in keys {
        let spec = asff_fixture::spec_of(&variant, 3);
        let want: BTreeMap<String, Vec<usize>> = keys
            .into_iter()
            .filter(|k| !k.key.ends_with("num_batches_tracked"))
            .map(|k| (k.key, k.shape))
            .collect();
        let model = spec.init(&device);
        let got: BTreeMap<String, Vec<usize>> = model
            .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
            .into_iter()
            .map(|t| (t.name.clone(), t.shape.to_vec()))
            .collect();
        let only_ref: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        let only_ours: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        assert!(
            only_ref.is_empty() && only_ours.is_empty(),
            "{variant}: only in the reference {only_ref:?}, only here {only_ours:?}"
        );
        assert_eq!(got, want, "{variant}: shapes");
    }
}

#[test]
fn a_wrapped_torch_save_checkpoint_loads_by_name() {
    // {'model': a few tensors of the ASFF model's state dict, 'epoch': 3}, by torch.save.
    let path = asff_fixture::dir().join("state_dict_subset.pth");
    let fx = asff_fixture::read("asff");
    let device = Device::default();
    let mut model = fx.spec().init(&device);
    let report = read_checkpoint(&mut model, &path).unwrap();
    // level_2_fusion.weight_level_{0,1,2} (conv + 4 batch-norm tensors each), weight_levels
    // (weight, bias) and, per head, guide_wh and Feature_adaption.conv_offset (weight, bias).
    assert_eq!(report.applied.len(), 3 * 5 + 2 + 3 * 4, "{report:?}");
    assert!(report.unused.is_empty(), "{:?}", report.unused);
    let YoloV3::Asff(m) = &model else {
        unreachable!()
    };
    let drawn = |key: &str| {
        let d = fx.params.iter().find(|p| p.key == key).unwrap();
        fx.draw(d)
    };
    let got = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
    let flat = |t: Tensor<4>| {
        let n = t.shape().num_elements();
        got(t.reshape([n]))
    };
    let fusion = &m.level_2_fusion;
    assert_eq!(
        flat(fusion.weight_levels.weight.val()),
        drawn("level_2_fusion.weight_levels.weight")
    );
    assert_eq!(
        got(fusion.weight_level_1.batch_norm.gamma.val()),
        drawn("level_2_fusion.weight_level_1.batch_norm.weight")
    );
    assert_eq!(
        got(fusion.weight_level_1.batch_norm.running_var.value()),
        drawn("level_2_fusion.weight_level_1.batch_norm.running_var")
    );
    let offsets = m
        .level_0_header
        .Feature_adaption
        .conv_offset
        .as_ref()
        .unwrap();
    assert_eq!(
        flat(offsets.weight.val()),
        drawn("level_0_header.Feature_adaption.conv_offset.weight")
    );
    // As `model.pretrained` (the reference's `load_state_dict(strict=False)`) it loads the
    // same tensors.
    let mut model = fx.spec().init(&device);
    assert_eq!(
        fusedet::import::asff::load_pretrained(&mut model, &path).unwrap(),
        3 * 5 + 2 + 3 * 4
    );
    // The strict loader names what is missing.
    let mut model = fx.spec().init(&device);
    let err = load_checkpoint(&mut model, &path).unwrap_err().to_string();
    assert!(
        err.contains("state_dict_subset.pth") && err.contains("tensors missing"),
        "{err}"
    );
}

#[test]
fn a_checkpoint_of_another_variant_is_refused() {
    // The baseline's keys in an ASFF model: module_list.18 is a 3x3 512 -> 1024 conv there,
    // a 1x1 512 -> 256 conv here.
    let fx = asff_fixture::read("baseline");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baseline.safetensors");
    fx.write_safetensors(&path);
    let device = Device::default();
    let mut model = YoloV3Spec {
        num_classes: 3,
        ..YoloV3Spec::default()
    }
    .init(&device);
    let err = load_checkpoint(&mut model, &path).unwrap_err().to_string();
    assert!(err.contains("module_list.18"), "{err}");
}
