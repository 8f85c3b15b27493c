//! torchvision-layout ResNet weights (SafeTensors and a PyTorch zip checkpoint, made by tools/make_torchvision_fixture.py
//! without torch) loaded by name into the DBNet backbone: the feature maps must equal those of
//! the script's NumPy ResNet (BatchNorm in eval mode) on the same input.

use std::path::Path;

use fusedet::burn::prelude::*;
use fusedet::model::torchvision::load_backbone;
use fusedet::model::{DetModel, ModelSpec};

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

fn check(file: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fx: Fixture = serde_json::from_str(
        &std::fs::read_to_string(dir.join("resnet18_w4_features.json")).unwrap(),
    )
    .unwrap();
    let device = Device::default();
    let spec = ModelSpec {
        base_width: 4,
        neck_channels: Some(16),
        ..ModelSpec::default()
    };
    let mut model = DetModel::build(&spec, &device, false).unwrap();
    let report = load_backbone(&mut model, &dir.join(file)).unwrap();
    // 20 convs + 20 BatchNorms x 4 tensors = 100 backbone tensors; fc and the counters unused.
    assert_eq!(report.applied, 100, "{report:?}");
    assert!(report.unused.iter().any(|u| u.contains("fc")), "{report:?}");
    let DetModel::Db(db) = &model else { panic!() };
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
    let spec = ModelSpec {
        base_width: 8,
        neck_channels: Some(32),
        ..ModelSpec::default()
    };
    let mut model = DetModel::build(&spec, &device, false).unwrap();
    let path = dir.join("resnet18_w4_torchvision.safetensors");
    let err = load_backbone(&mut model, &path).unwrap_err().to_string();
    assert!(err.contains("resnet18_w4_torchvision.safetensors"), "{err}");
}
