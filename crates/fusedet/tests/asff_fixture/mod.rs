//! The fixtures of tools/make_asff_fixtures.py: their generator (weights and input are drawn,
//! not stored), a SafeTensors writer for a drawn state dict, and the comparison of a forward
//! pass with the reference's outputs. Shared by tests/asff_golden.rs and the `asff_parity`
//! example.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use fusedet::burn::prelude::*;

#[path = "../drawn/mod.rs"]
mod drawn;
pub use drawn::{Drawn, Values, draw};
use fusedet::model::yolov3::{YoloV3, YoloV3Backbone, YoloV3Spec};

#[derive(serde::Deserialize)]
pub struct Outputs {
    pub raw: Vec<Values>,
    pub guide: Vec<Values>,
    pub decoded: Values,
    #[serde(default)]
    pub vis: Vec<Values>,
    #[serde(default)]
    pub fused_sum: Vec<Values>,
}

#[derive(serde::Deserialize)]
pub struct Generator {
    pub seed: String,
}

#[derive(serde::Deserialize)]
pub struct Fixture {
    pub generator: Generator,
    pub variant: String,
    pub num_classes: usize,
    pub input: Drawn,
    pub params: Vec<Drawn>,
    pub outputs: Outputs,
}

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asff")
}

pub fn read(variant: &str) -> Fixture {
    read_from(&dir(), variant)
}

pub fn read_from(dir: &Path, variant: &str) -> Fixture {
    let path = dir.join(format!("{variant}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The model of a fixture variant (`baseline`, `asff`, `asff_rfb`, `mobile`, `mobile_asff`,
/// `mobile_asff_rfb`).
pub fn spec_of(variant: &str, num_classes: usize) -> YoloV3Spec {
    let (backbone, rest) = match variant.strip_prefix("mobile") {
        Some(rest) => (YoloV3Backbone::MobileNetV2, rest.trim_start_matches('_')),
        None => (YoloV3Backbone::Darknet53, variant),
    };
    assert!(
        matches!(rest, "" | "baseline" | "asff" | "asff_rfb"),
        "unknown fixture variant {variant}"
    );
    YoloV3Spec {
        num_classes,
        backbone,
        asff: rest.starts_with("asff"),
        rfb: rest.ends_with("rfb"),
        dropblock: false,
        width: 1.0,
        pretrained: None,
    }
}

impl Fixture {
    pub fn spec(&self) -> YoloV3Spec {
        spec_of(&self.variant, self.num_classes)
    }

    pub fn draw(&self, d: &Drawn) -> Vec<f32> {
        draw(&self.generator.seed, d)
    }

    pub fn input(&self, device: &Device) -> Tensor<4> {
        let v = self.draw(&self.input);
        let s: [usize; 4] = self.input.shape.clone().try_into().unwrap();
        Tensor::from_data(TensorData::new(v, s), device)
    }

    /// Every drawn parameter as a SafeTensors file (keys as in the reference's state dict);
    /// checks each tensor's sum against the one the script recorded.
    pub fn write_safetensors(&self, path: &Path) {
        drawn::write_safetensors(&self.generator.seed, &self.params, path);
    }
}

fn values<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let shape = t.dims().to_vec();
    (
        shape,
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(),
    )
}

/// `max |a − b|` and `max |a − b| / max(1, |b|)`, after checking the shapes.
fn diff<const D: usize>(what: &str, got: Tensor<D>, want: &Values) -> (f64, f64) {
    let (shape, v) = values(got);
    assert_eq!(shape, want.shape, "{what}: shape");
    v.iter()
        .zip(&want.values)
        .fold((0.0f64, 0.0f64), |(a, r), (&x, &y)| {
            let d = f64::from((x - y).abs());
            (a.max(d), r.max(d / f64::from(y.abs()).max(1.0)))
        })
}

/// The largest differences of one model's forward pass from the reference's.
#[derive(Debug, Default)]
pub struct Parity {
    /// Raw head outputs (`conv`), all levels: max abs.
    pub raw: f64,
    /// Guides (`guide_wh`), all levels: max abs.
    pub guide: f64,
    /// Decoded eval output: max abs / max(1, |reference|).
    pub decoded_rel: f64,
    /// Decoded eval output: max abs (pixel-sized values, up to ~10^3).
    pub decoded_abs: f64,
    /// ASFF fusion weights (`vis`), all levels: max abs.
    pub vis: f64,
    /// ASFF fused-feature sums, all levels: max abs / max(1, |reference|).
    pub fused_sum_rel: f64,
}

/// Runs `model` on the fixture's input and compares.
pub fn compare(fx: &Fixture, model: &YoloV3, device: &Device) -> Parity {
    let out = model.forward(fx.input(device));
    let mut p = Parity::default();
    for (l, level) in out.levels.iter().enumerate() {
        p.raw = p
            .raw
            .max(diff(&format!("raw {l}"), level.raw.clone(), &fx.outputs.raw[l]).0);
        p.guide = p.guide.max(
            diff(
                &format!("guide {l}"),
                level.guide.clone(),
                &fx.outputs.guide[l],
            )
            .0,
        );
    }
    (p.decoded_abs, p.decoded_rel) = diff("decoded", model.decode(&out), &fx.outputs.decoded);
    if let Some(fusion) = &out.fusion {
        assert_eq!(fusion.len(), fx.outputs.vis.len());
        for (l, f) in fusion.iter().enumerate() {
            p.vis = p
                .vis
                .max(diff(&format!("vis {l}"), f.weights.clone(), &fx.outputs.vis[l]).0);
            p.fused_sum_rel = p.fused_sum_rel.max(
                diff(
                    &format!("fused_sum {l}"),
                    f.fused_sum.clone(),
                    &fx.outputs.fused_sum[l],
                )
                .1,
            );
        }
    } else {
        assert!(fx.outputs.vis.is_empty(), "the baseline has no fusion");
    }
    p
}
