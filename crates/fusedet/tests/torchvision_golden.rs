//! torchvision-layout ResNet-18 and MobileNetV3-Large weights (SafeTensors and PyTorch zip
//! checkpoints, made by tools/make_torchvision_fixture.py without torch) loaded by name into the
//! DBNet backbone: the feature maps must equal those of the script's NumPy models (BatchNorm in
//! eval mode) on the same input.

use std::path::Path;

use fusedet::burn::prelude::*;
use fusedet::import::torchvision::load_backbone;
use fusedet::model::backbone::MobileNetLayout;
use fusedet::model::{BackboneSpec, DbNet, DbNetSpec, NeckSpec};

#[derive(serde::Deserialize)]
struct Feature {
    shape: Vec<usize>,
    values: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct Fixture {
    input: Vec<f32>,
    features: Vec<Feature>,
}

#[test]
fn torchvision_resnet18_safetensors_reproduce_the_reference_features() {
    check("resnet18_w4_torchvision.safetensors");
}

#[test]
fn torchvision_resnet18_pytorch_checkpoint_reproduces_the_reference_features() {
    check("resnet18_w4_torchvision.pth");
}

#[test]
fn torchvision_mobilenetv3_safetensors_reproduce_the_reference_features() {
    check_mobilenet("mobilenetv3_w01_torchvision.safetensors");
}

#[test]
fn torchvision_mobilenetv3_pytorch_checkpoint_reproduces_the_reference_features() {
    check_mobilenet("mobilenetv3_w01_torchvision.pth");
}

#[test]
fn torchvision_mobilenetv3_weights_need_the_torchvision_layout() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let spec = spec(
        BackboneSpec::MobilenetV3 {
            scale: 0.1,
            layout: MobileNetLayout::Mindcv,
            weights: None,
        },
        16,
    );
    let mut model = DbNet::new(&spec, false, &Device::default());
    let err = load_backbone(
        &mut model.backbone,
        &dir.join("mobilenetv3_w01_torchvision.safetensors"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("mobilenetv3_w01_torchvision.safetensors") && err.contains("torchvision"),
        "{err}"
    );
}

fn check_mobilenet(file: &str) {
    let spec = spec(
        BackboneSpec::MobilenetV3 {
            scale: 0.1,
            layout: MobileNetLayout::Torchvision,
            weights: None,
        },
        16,
    );
    // At width 0.1, 11 of the 15 blocks expand (exp != in after rounding): stem + 11
    // expansions + 15 depthwise + 15 projections + last = 43 convs (x1) and BatchNorms (x4),
    // plus 8 SE pairs (weight and bias, x4): 43 + 172 + 32 = 247.
    let features = "mobilenetv3_w01_features.json";
    compare(file, features, &spec, 247, "classifier");
}

fn check(file: &str) {
    let spec = spec(
        BackboneSpec::Resnet18 {
            base_width: 4,
            weights: None,
        },
        16,
    );
    // 20 convs + 20 BatchNorms x 4 tensors = 100 backbone tensors; fc and the counters unused.
    compare(file, "resnet18_w4_features.json", &spec, 100, "fc");
}

fn spec(backbone: BackboneSpec, channels: usize) -> DbNetSpec {
    DbNetSpec {
        backbone,
        neck: NeckSpec::Fpnc {
            channels,
            asf: false,
        },
        ..DbNetSpec::default()
    }
}

fn compare(file: &str, features: &str, spec: &DbNetSpec, tensors: usize, head: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fx: Fixture =
        serde_json::from_str(&std::fs::read_to_string(dir.join(features)).unwrap()).unwrap();
    let device = Device::default();
    let mut db = DbNet::new(spec, false, &device);
    let report = load_backbone(&mut db.backbone, &dir.join(file)).unwrap();
    assert_eq!(report.applied, tensors, "{report:?}");
    assert!(report.unused.iter().any(|u| u.contains(head)), "{report:?}");
    let x = Tensor::<4>::from_data(TensorData::new(fx.input.clone(), [1, 3, 32, 32]), &device);
    let feats = db.backbone.forward(x);
    assert_eq!(feats.len(), 4);
    for (i, (got, want)) in feats.into_iter().zip(&fx.features).enumerate() {
        assert_eq!(got.dims().to_vec(), want.shape, "feature {i}");
        let got: Vec<f32> = got.into_data().try_to_vec().unwrap();
        let scale = want
            .values
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            .max(1.0);
        let worst = got
            .iter()
            .zip(&want.values)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= 1e-4 * scale,
            "feature {i}: max abs diff {worst} (scale {scale})"
        );
    }
}

#[test]
fn a_checkpoint_of_another_shape_is_refused_with_its_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let device = Device::default();
    // Width 8 does not fit a width-4 checkpoint.
    let spec = spec(
        BackboneSpec::Resnet18 {
            base_width: 8,
            weights: None,
        },
        32,
    );
    let mut model = DbNet::new(&spec, false, &device);
    let path = dir.join("resnet18_w4_torchvision.safetensors");
    let err = load_backbone(&mut model.backbone, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("resnet18_w4_torchvision.safetensors"), "{err}");
}
