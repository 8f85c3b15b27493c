//! fusedet's ONNX weight importer (`import/onnx.rs`) on the tiny graphs of
//! `tools/make_onnx_fixture.py`: the same layers built in Burn and loaded through
//! [`ParamStream`] must reproduce onnxruntime's output of every parameterised layer, and a
//! module that differs from the graph (padding, pad order, stride, dilation, groups, output
//! padding) must be refused with the node named.

use std::path::{Path, PathBuf};

use fusedet::burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use fusedet::burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use fusedet::burn::tensor::activation::relu;
use fusedet::burn::tensor::{Device, Tensor, TensorData};
use fusedet::error::ImportError;
use fusedet::import::onnx::{ConvPadding, ParamRecord};
use fusedet::import::onnx_proto::{AttributeProto, ModelProto};
use fusedet::import::{LoadParams, ParamStream};
use prost::Message;

#[derive(serde::Deserialize)]
struct Array {
    shape: Vec<usize>,
    values: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct Output {
    name: String,
    shape: Vec<usize>,
    values: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct Fixture {
    input: Array,
    outputs: Vec<Output>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx")
}

fn layers_onnx() -> PathBuf {
    fixture_dir().join("layers.onnx")
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(fixture_dir().join("layers.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn conv(cin: usize, cout: usize, k: [usize; 2]) -> Conv2dConfig {
    Conv2dConfig::new([cin, cout], k)
}

fn conv_t(cin: usize, cout: usize, k: usize) -> ConvTranspose2dConfig {
    ConvTranspose2dConfig::new([cin, cout], [k, k])
}

/// The chain of `layers.onnx`, layer for layer (see tools/make_onnx_fixture.py).
struct Layers {
    conv_pads_1_2: Conv2d,
    bn_a: BatchNorm,
    conv_same_upper_s2_g4: Conv2d,
    conv_s2_g2_asym_nobias: Conv2d,
    conv_dw_d2: Conv2d,
    affine: (f32, f32),
    convt_k2_s2: ConvTranspose2d,
    bn_b: BatchNorm,
    convt_k4_s2_p1_g2: ConvTranspose2d,
    convt_k3_s2_p1_op1_d3: ConvTranspose2d,
}

impl Layers {
    fn new(device: &Device) -> Self {
        Self {
            conv_pads_1_2: conv(4, 8, [3, 5])
                .with_padding(PaddingConfig2d::Explicit(1, 2, 1, 2))
                .init(device),
            bn_a: BatchNormConfig::new(8).init(device),
            conv_same_upper_s2_g4: conv(8, 8, [3, 3])
                .with_stride([2, 2])
                .with_groups(4)
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            conv_s2_g2_asym_nobias: conv(8, 8, [3, 3])
                .with_stride([2, 2])
                .with_groups(2)
                .with_padding(PaddingConfig2d::Explicit(0, 1, 1, 0))
                .with_bias(false)
                .init(device),
            conv_dw_d2: conv(8, 8, [3, 3])
                .with_groups(8)
                .with_dilation([2, 2])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            affine: (f32::NAN, f32::NAN),
            convt_k2_s2: conv_t(8, 4, 2).with_stride([2, 2]).init(device),
            bn_b: BatchNormConfig::new(4).init(device),
            convt_k4_s2_p1_g2: conv_t(4, 4, 4)
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_groups(2)
                .init(device),
            convt_k3_s2_p1_op1_d3: conv_t(4, 2, 3)
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([1, 1])
                .with_dilation([3, 3])
                .init(device),
        }
    }

    /// The output of every parameterised layer, named as in the graph.
    fn forward(&self, x: Tensor<4>) -> Vec<(&'static str, Tensor<4>)> {
        let mut out = Vec::new();
        let mut keep = |name, t: Tensor<4>| {
            out.push((name, t.clone()));
            t
        };
        let x = keep("conv_pads_1_2", self.conv_pads_1_2.forward(x));
        let x = relu(keep("bn_a", self.bn_a.forward(x)));
        let x = keep(
            "conv_same_upper_s2_g4",
            self.conv_same_upper_s2_g4.forward(x),
        );
        let x = keep(
            "conv_s2_g2_asym_nobias",
            self.conv_s2_g2_asym_nobias.forward(x),
        );
        let x = keep("conv_dw_d2", self.conv_dw_d2.forward(x));
        let (scale, bias) = self.affine;
        let x = keep("affine", x.mul_scalar(scale).add_scalar(bias));
        let x = keep("convt_k2_s2", self.convt_k2_s2.forward(x));
        let x = relu(keep("bn_b", self.bn_b.forward(x)));
        let x = keep("convt_k4_s2_p1_g2", self.convt_k4_s2_p1_g2.forward(x));
        keep(
            "convt_k3_s2_p1_op1_d3",
            self.convt_k3_s2_p1_op1_d3.forward(x),
        );
        out
    }
}

impl LoadParams for Layers {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        s.load_conv(&mut self.conv_pads_1_2, "conv_pads_1_2")?;
        s.load_batch_norm(&mut self.bn_a, "bn_a")?;
        s.load_conv(&mut self.conv_same_upper_s2_g4, "conv_same_upper_s2_g4")?;
        s.load_conv(&mut self.conv_s2_g2_asym_nobias, "conv_s2_g2_asym_nobias")?;
        s.load_conv(&mut self.conv_dw_d2, "conv_dw_d2")?;
        self.affine = s.next_affine("affine")?;
        s.load_conv_transpose(&mut self.convt_k2_s2, "convt_k2_s2")?;
        s.load_batch_norm(&mut self.bn_b, "bn_b")?;
        s.load_conv_transpose(&mut self.convt_k4_s2_p1_g2, "convt_k4_s2_p1_g2")?;
        s.load_conv_transpose(&mut self.convt_k3_s2_p1_op1_d3, "convt_k3_s2_p1_op1_d3")
    }
}

/// Loads `layers` from `stream` and checks every layer output against onnxruntime's
/// (max abs diff <= 1e-5 of the layer's largest magnitude, at least 1).
fn load_and_compare(mut layers: Layers, mut stream: ParamStream, device: &Device) {
    layers.load_params(&mut stream).unwrap();
    stream.finish().unwrap();
    let fx = fixture();
    let shape: [usize; 4] = fx.input.shape.clone().try_into().unwrap();
    let x = Tensor::<4>::from_data(TensorData::new(fx.input.values.clone(), shape), device);
    let got = layers.forward(x);
    assert_eq!(got.len(), fx.outputs.len());
    let mut failures = Vec::new();
    for ((name, t), want) in got.into_iter().zip(&fx.outputs) {
        assert_eq!(name, want.name);
        if t.dims().to_vec() != want.shape {
            failures.push(format!(
                "{name}: shape {:?}, want {:?}",
                t.dims(),
                want.shape
            ));
            continue;
        }
        let got: Vec<f32> = t.into_data().try_to_vec().unwrap();
        let scale = want.values.iter().fold(1f32, |m, v| m.max(v.abs()));
        let worst = got
            .iter()
            .zip(&want.values)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name}: max abs diff {worst:e} (scale {scale})");
        if worst > 1e-5 * scale {
            failures.push(format!("{name}: max abs diff {worst} (scale {scale})"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn onnx_layers_reproduce_onnxruntime() {
    let device = Device::default();
    let stream = ParamStream::from_file(&layers_onnx(), &device).unwrap();
    load_and_compare(Layers::new(&device), stream, &device);
}

#[test]
fn burn_same_padding_at_stride_1_loads_explicit_pads_of_half_the_kernel() {
    // k = [3, 5] at stride 1: Burn's Same pads [1, 2, 1, 2], what the graph says.
    let device = Device::default();
    let mut layers = Layers::new(&device);
    layers.conv_pads_1_2.padding = PaddingConfig2d::Same;
    let stream = ParamStream::from_file(&layers_onnx(), &device).unwrap();
    load_and_compare(layers, stream, &device);
}

#[test]
fn pads_dilations_and_output_padding_are_read_in_onnx_order() {
    let device = Device::default();
    let stream = ParamStream::from_file(&layers_onnx(), &device).unwrap();
    let convs: Vec<_> = stream
        .records()
        .iter()
        .filter_map(|r| match r {
            ParamRecord::Conv {
                node,
                padding,
                dilation,
                output_padding,
                groups,
                ..
            } => Some((
                node.as_str(),
                padding.clone(),
                *dilation,
                *output_padding,
                *groups,
            )),
            _ => None,
        })
        .collect();
    let explicit = ConvPadding::Explicit;
    assert_eq!(
        convs,
        [
            ("conv_pads_1_2", explicit([1, 2, 1, 2]), [1, 1], [0, 0], 1),
            (
                "conv_same_upper_s2_g4",
                ConvPadding::SameUpper,
                [1, 1],
                [0, 0],
                4
            ),
            (
                "conv_s2_g2_asym_nobias",
                explicit([0, 1, 1, 0]),
                [1, 1],
                [0, 0],
                2
            ),
            ("conv_dw_d2", explicit([2, 2, 2, 2]), [2, 2], [0, 0], 8),
            ("convt_k2_s2", explicit([0; 4]), [1, 1], [0, 0], 1),
            ("convt_k4_s2_p1_g2", explicit([1; 4]), [1, 1], [0, 0], 2),
            ("convt_k3_s2_p1_op1_d3", explicit([1; 4]), [3, 3], [1, 1], 1),
        ]
    );
}

/// A module that differs from the graph in one layer.
struct Case {
    what: &'static str,
    change: fn(&mut Layers, &Device),
    node: &'static str,
    reason: &'static str,
}

#[test]
fn a_module_that_differs_from_the_graph_is_refused_naming_the_node() {
    let cases = [
        Case {
            what: "pads 1/1 where the graph pads 1 (height) / 2 (width)",
            change: |l, _| l.conv_pads_1_2.padding = PaddingConfig2d::Explicit(1, 1, 1, 1),
            node: "conv_pads_1_2",
            reason: "padding",
        },
        Case {
            what: "asymmetric pads in another order ([top, bottom, left, right])",
            change: |l, _| l.conv_s2_g2_asym_nobias.padding = PaddingConfig2d::Explicit(0, 1, 0, 1),
            node: "conv_s2_g2_asym_nobias",
            reason: "padding",
        },
        Case {
            what: "explicit pads where the graph has SAME_UPPER at stride 2",
            change: |l, _| l.conv_same_upper_s2_g4.padding = PaddingConfig2d::Explicit(0, 1, 1, 1),
            node: "conv_same_upper_s2_g4",
            reason: "SAME_UPPER",
        },
        Case {
            what: "stride 1 where the graph has 2",
            change: |l, _| l.conv_same_upper_s2_g4.stride = [1, 1],
            node: "conv_same_upper_s2_g4",
            reason: "stride",
        },
        Case {
            what: "no dilation where the graph dilates by 2",
            change: |l, d| {
                l.conv_dw_d2 = conv(8, 8, [3, 3])
                    .with_groups(8)
                    .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                    .init(d)
            },
            node: "conv_dw_d2",
            reason: "dilation",
        },
        Case {
            // 4 -> 8 in one group has the weight shape [8, 4, 3, 3] of 8 -> 8 in two groups.
            what: "one group where the graph has two (same weight shape)",
            change: |l, d| {
                l.conv_s2_g2_asym_nobias = conv(4, 8, [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(0, 1, 1, 0))
                    .with_bias(false)
                    .init(d)
            },
            node: "conv_s2_g2_asym_nobias",
            reason: "groups",
        },
        Case {
            // 4 -> 2 in one group has the weight shape [4, 2, 4, 4] of 4 -> 4 in two groups.
            what: "ConvTranspose in one group where the graph has two (same weight shape)",
            change: |l, d| {
                l.convt_k4_s2_p1_g2 = conv_t(4, 2, 4)
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(d)
            },
            node: "convt_k4_s2_p1_g2",
            reason: "groups",
        },
        Case {
            what: "ConvTranspose without the graph's pad 1",
            change: |l, _| l.convt_k4_s2_p1_g2.padding = [0, 0],
            node: "convt_k4_s2_p1_g2",
            reason: "padding",
        },
        Case {
            what: "ConvTranspose without the graph's output_padding",
            change: |l, _| l.convt_k3_s2_p1_op1_d3.padding_out = [0, 0],
            node: "convt_k3_s2_p1_op1_d3",
            reason: "output_padding",
        },
        Case {
            what: "ConvTranspose without the graph's dilation",
            change: |l, _| l.convt_k3_s2_p1_op1_d3.dilation = [1, 1],
            node: "convt_k3_s2_p1_op1_d3",
            reason: "dilation",
        },
        Case {
            what: "a bias the graph lacks",
            change: |l, d| {
                l.conv_s2_g2_asym_nobias = conv(8, 8, [3, 3])
                    .with_stride([2, 2])
                    .with_groups(2)
                    .with_padding(PaddingConfig2d::Explicit(0, 1, 1, 0))
                    .init(d)
            },
            node: "conv_s2_g2_asym_nobias",
            reason: "no bias",
        },
    ];
    let device = Device::default();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let mut layers = Layers::new(&device);
            (case.change)(&mut layers, &device);
            let mut stream = ParamStream::from_file(&layers_onnx(), &device).unwrap();
            let failure = match layers.load_params(&mut stream) {
                Err(ImportError::Mismatch { node, reason, .. })
                    if node == case.node && reason.contains(case.reason) =>
                {
                    return None;
                }
                Err(other) => format!("{other}"),
                Ok(()) => "loaded".into(),
            };
            Some(format!(
                "{}: want node `{}` and `{}`, got {failure}",
                case.what, case.node, case.reason
            ))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `layers.onnx` with the attribute `name` of node `node` replaced (or removed, for `None`).
fn edited_layers(edits: &[(&str, &str, Option<AttributeProto>)]) -> Vec<u8> {
    let bytes = std::fs::read(layers_onnx()).unwrap();
    let mut model = ModelProto::decode(bytes.as_slice()).unwrap();
    let graph = model.graph.as_mut().unwrap();
    for (node, name, value) in edits {
        let n = graph
            .node
            .iter_mut()
            .find(|n| n.name.as_deref() == Some(*node))
            .unwrap();
        n.attribute.retain(|a| a.name.as_deref() != Some(*name));
        n.attribute.extend(value.clone());
    }
    model.encode_to_vec()
}

fn ints(name: &str, v: &[i64]) -> Option<AttributeProto> {
    Some(AttributeProto {
        name: Some(name.into()),
        ints: v.to_vec(),
        r#type: Some(7),
        ..AttributeProto::default()
    })
}

fn string(name: &str, v: &str) -> Option<AttributeProto> {
    Some(AttributeProto {
        name: Some(name.into()),
        s: Some(v.as_bytes().to_vec()),
        r#type: Some(3),
        ..AttributeProto::default()
    })
}

#[test]
fn auto_pad_at_stride_1_becomes_explicit_pads_of_the_dilated_kernel() {
    // SAME_UPPER at stride 1 pads dilation * (kernel - 1) in all: [1, 2, 1, 2] for the 3x5
    // kernel, [2, 2, 2, 2] for the 3x3 kernel dilated by 2: what the explicit pads were.
    let bytes = edited_layers(&[
        ("conv_pads_1_2", "pads", None),
        (
            "conv_pads_1_2",
            "auto_pad",
            string("auto_pad", "SAME_UPPER"),
        ),
        ("conv_dw_d2", "pads", None),
        ("conv_dw_d2", "auto_pad", string("auto_pad", "SAME_LOWER")),
    ]);
    let device = Device::default();
    let stream = ParamStream::from_bytes(&bytes, &layers_onnx(), &device).unwrap();
    load_and_compare(Layers::new(&device), stream, &device);
}

#[test]
fn unsupported_conv_attributes_are_refused_naming_the_node() {
    let group = |g: i64| {
        Some(AttributeProto {
            name: Some("group".into()),
            i: Some(g),
            r#type: Some(2),
            ..AttributeProto::default()
        })
    };
    let cases: [(&str, &str, Option<AttributeProto>, &str); 6] = [
        (
            "conv_same_upper_s2_g4",
            "auto_pad",
            string("auto_pad", "SAME_LOWER"),
            "cannot be imported: auto_pad SAME_LOWER with stride [2, 2]",
        ),
        (
            "convt_k2_s2",
            "auto_pad",
            string("auto_pad", "SAME_UPPER"),
            "cannot be imported: ConvTranspose with auto_pad SAME_UPPER",
        ),
        (
            "convt_k3_s2_p1_op1_d3",
            "output_shape",
            ints("output_shape", &[20, 20]),
            "cannot be imported: ConvTranspose with output_shape",
        ),
        (
            "conv_pads_1_2",
            "strides",
            ints("strides", &[1]),
            "cannot be imported: `strides` has 1 values, expected 2",
        ),
        (
            "conv_s2_g2_asym_nobias",
            "group",
            group(0),
            "cannot be imported: group 0",
        ),
        (
            "convt_k4_s2_p1_g2",
            "pads",
            ints("pads", &[1, 1, 2, 2]),
            "asymmetric pads [1, 1, 2, 2]",
        ),
    ];
    let device = Device::default();
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(node, name, value, reason)| {
            let bytes = edited_layers(&[(node, name, value)]);
            let mut stream = ParamStream::from_bytes(&bytes, &layers_onnx(), &device).unwrap();
            match Layers::new(&device).load_params(&mut stream) {
                Err(ImportError::Mismatch {
                    node: n, reason: r, ..
                }) if n == node && r.contains(reason) => None,
                other => Some(format!("{node} {name}: got {other:?}")),
            }
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_truncated_onnx_file_is_a_format_error_naming_the_file() {
    let bytes = std::fs::read(layers_onnx()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.onnx");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = ParamStream::from_file(&path, &Device::default()).unwrap_err();
    assert!(
        matches!(&err, ImportError::Format { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("truncated.onnx"), "{err}");
}

#[test]
fn finish_fails_while_records_are_left_over() {
    let device = Device::default();
    let mut layers = Layers::new(&device);
    let mut stream = ParamStream::from_file(&layers_onnx(), &device).unwrap();
    stream
        .load_conv(&mut layers.conv_pads_1_2, "conv_pads_1_2")
        .unwrap();
    stream.load_batch_norm(&mut layers.bn_a, "bn_a").unwrap();
    match stream.finish() {
        Err(ImportError::Mismatch { node, reason, .. }) => {
            assert_eq!(node, "conv_same_upper_s2_g4");
            assert!(reason.contains("8 parameterised layers"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_module_with_more_layers_than_the_graph_runs_out_at_the_end_of_the_graph() {
    let device = Device::default();
    let mut layers = Layers::new(&device);
    let mut stream = ParamStream::from_file(&layers_onnx(), &device).unwrap();
    layers.load_params(&mut stream).unwrap();
    let mut extra = conv(2, 2, [1, 1]).init(&device);
    match stream.load_conv(&mut extra, "extra conv") {
        Err(ImportError::Mismatch { node, .. }) => assert_eq!(node, "<end of graph>"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_per_width_add_after_a_conv_is_not_folded_into_its_bias() {
    // `conv` (2 -> 3, no bias) + Add of a [3] constant: broadcasting adds it along the width
    // of [1, 3, 3, 3], so it is no channel bias; the importer used to fold any constant with
    // as many values as channels.
    let device = Device::default();
    let path = fixture_dir().join("add_not_a_bias.onnx");
    let mut stream = ParamStream::from_file(&path, &device).unwrap();
    assert!(
        matches!(stream.records(), [ParamRecord::Conv { bias: None, .. }]),
        "{:?}",
        stream.records()
    );
    let mut c = conv(2, 3, [1, 1]).with_bias(false).init(&device);
    stream.load_conv(&mut c, "conv").unwrap();
    stream.finish().unwrap();
}

#[test]
fn same_upper_at_stride_2_with_dilation_is_refused_as_burn_same_ignores_dilation() {
    // Graph and module agree (stride 2, dilation 2, SAME_UPPER / Same), but Burn's Same pads
    // for the undilated kernel: the outputs would differ.
    let bytes = edited_layers(&[(
        "conv_same_upper_s2_g4",
        "dilations",
        ints("dilations", &[2, 2]),
    )]);
    let device = Device::default();
    let mut layers = Layers::new(&device);
    layers.conv_same_upper_s2_g4.dilation = [2, 2];
    let mut stream = ParamStream::from_bytes(&bytes, &layers_onnx(), &device).unwrap();
    match layers.load_params(&mut stream) {
        Err(ImportError::Mismatch { node, reason, .. }) => {
            assert_eq!(node, "conv_same_upper_s2_g4");
            assert!(reason.contains("ignores dilation"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
