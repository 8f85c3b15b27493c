//! Reads the parameters of an ONNX graph, in execution order, as a stream of typed records
//! (convolution, batch norm, scalar affine) that fusedet modules consume one by one.
//!
//! Nothing is generated per model: a module walks its own layers in forward order and takes
//! the next record of the right kind, checking every shape and, for convolutions, the stride,
//! groups, dilation, padding (`pads`, or what `auto_pad` amounts to) and output padding against
//! the Burn module's, so that a layer built differently from the graph is refused with the
//! node named instead of loaded to compute something else. Weights stored as initializers
//! (opset 14 exports) and as `Constant` nodes (opset 12 exports) are read alike; biases that an
//! exporter split into a separate `Add` of a per-channel constant (`[1, C, 1, 1]` or `[C, 1, 1]`)
//! are folded back into their convolution, and `Identity` nodes are looked through.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::module::RunningState;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::{Device, Tensor, TensorData};
use prost::Message;

use super::onnx_proto::{AttributeProto, ModelProto, NodeProto, TensorProto, data_type};
use crate::error::ImportError;

/// A float tensor read from the graph.
#[derive(Clone, Debug)]
pub struct OnnxTensor {
    /// Its name in the graph.
    pub name: String,
    /// Its shape.
    pub dims: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f32>,
}

/// One parameterised operation of the graph.
#[derive(Clone, Debug)]
pub enum ParamRecord {
    /// `Conv` or `ConvTranspose`.
    Conv {
        /// Node name (or its output's name).
        node: String,
        /// Weight tensor.
        weight: OnnxTensor,
        /// Bias, from the node or a following `Add`.
        bias: Option<OnnxTensor>,
        /// Strides.
        stride: [usize; 2],
        /// Groups.
        groups: usize,
        /// Padding (`pads` and `auto_pad`).
        padding: ConvPadding,
        /// Dilations.
        dilation: [usize; 2],
        /// `output_padding` of a `ConvTranspose` (zeros for `Conv`).
        output_padding: [usize; 2],
        /// True for `ConvTranspose`.
        transpose: bool,
    },
    /// `BatchNormalization`.
    BatchNorm {
        /// Node name.
        node: String,
        /// gamma, beta, running mean, running variance.
        params: [OnnxTensor; 4],
        /// Epsilon.
        epsilon: f64,
    },
    /// `Mul` by a scalar constant, optionally followed by `Add` of a scalar constant.
    Affine {
        /// Node name.
        node: String,
        /// The scale.
        scale: f32,
        /// The bias.
        bias: f32,
    },
}

/// How a `Conv` or `ConvTranspose` node pads its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConvPadding {
    /// Fixed amounts, `[top, left, bottom, right]`: the node's `pads` (whose ONNX order,
    /// `[x1_begin, x2_begin, x1_end, x2_end]`, is the same), zeros for `auto_pad = VALID`, or
    /// what `SAME_UPPER` / `SAME_LOWER` amount to when the stride is 1.
    Explicit([usize; 4]),
    /// `auto_pad = SAME_UPPER` with a stride above 1: the amounts depend on the input size, the
    /// odd one at the end, as Burn's `PaddingConfig2d::Same` pads an undilated kernel.
    SameUpper,
    /// Attributes the importer cannot reproduce, said in words (`SAME_LOWER` with stride 2,
    /// `output_shape`, `strides` of a 1-D convolution): loading this node fails.
    Unsupported(String),
}

impl ParamRecord {
    fn node(&self) -> &str {
        match self {
            ParamRecord::Conv { node, .. }
            | ParamRecord::BatchNorm { node, .. }
            | ParamRecord::Affine { node, .. } => node,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ParamRecord::Conv {
                transpose: false, ..
            } => "Conv",
            ParamRecord::Conv {
                transpose: true, ..
            } => "ConvTranspose",
            ParamRecord::BatchNorm { .. } => "BatchNormalization",
            ParamRecord::Affine { .. } => "Mul/Add affine",
        }
    }
}

/// The parameter records of one ONNX file, consumed in order.
#[derive(Debug)]
pub struct ParamStream {
    records: Vec<ParamRecord>,
    pos: usize,
    path: PathBuf,
    device: Device,
}

fn tensor_from_proto(t: &TensorProto) -> Option<OnnxTensor> {
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    // Checked: a product of garbage dims overflowed (found by fuzz/onnx).
    let numel = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    let dt = t.data_type.unwrap_or(0);
    let raw = t.raw_data.as_deref().unwrap_or(&[]);
    let data: Vec<f32> = match dt {
        data_type::FLOAT if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        data_type::FLOAT => t.float_data.clone(),
        data_type::DOUBLE if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        data_type::DOUBLE => t.double_data.iter().map(|&v| v as f32).collect(),
        data_type::INT64 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        data_type::INT64 => t.int64_data.iter().map(|&v| v as f32).collect(),
        data_type::INT32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f32)
            .collect(),
        data_type::INT32 => t.int32_data.iter().map(|&v| v as f32).collect(),
        _ => return None,
    };
    if data.len() != numel {
        return None;
    }
    Some(OnnxTensor {
        name: t.name.clone().unwrap_or_default(),
        dims,
        data,
    })
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute
        .iter()
        .find(|a| a.name.as_deref() == Some(name))
}

/// The fields of a [`ParamRecord::Conv`] once its kind is checked.
struct ConvRecord {
    node: String,
    weight: OnnxTensor,
    bias: Option<OnnxTensor>,
    stride: [usize; 2],
    groups: usize,
    padding: ConvPadding,
    dilation: [usize; 2],
    output_padding: [usize; 2],
}

/// The integer attribute `name` of `node` as `N` non-negative values (`default` when absent).
fn usize_attr<const N: usize>(
    node: &NodeProto,
    name: &str,
    default: [usize; N],
) -> Result<[usize; N], String> {
    let Some(a) = attr(node, name) else {
        return Ok(default);
    };
    let values: Vec<usize> = a
        .ints
        .iter()
        .map(|&v| usize::try_from(v))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("`{name}` {:?} has a negative value", a.ints))?;
    values
        .try_into()
        .map_err(|v: Vec<usize>| format!("`{name}` has {} values, expected {N}", v.len()))
}

/// The attributes of a `Conv` / `ConvTranspose` node.
struct ConvAttrs {
    stride: [usize; 2],
    groups: usize,
    padding: ConvPadding,
    dilation: [usize; 2],
    output_padding: [usize; 2],
}

/// Reads the attributes of a `Conv` / `ConvTranspose` node. What does not describe a 2-D
/// convolution fusedet can run (a 1-D node's strides, a negative group, `output_shape`) leaves
/// defaults and a [`ConvPadding::Unsupported`] that loading reports with the node's name.
fn conv_attrs(node: &NodeProto, transpose: bool, weight_dims: &[usize]) -> ConvAttrs {
    let read = || -> Result<ConvAttrs, String> {
        let kernel = match weight_dims {
            [_, _, kh, kw] => [*kh, *kw],
            _ => return Err(format!("a {}-D weight", weight_dims.len())),
        };
        let stride = usize_attr(node, "strides", [1, 1])?;
        let dilation = usize_attr(node, "dilations", [1, 1])?;
        let output_padding = usize_attr(node, "output_padding", [0, 0])?;
        let groups = attr(node, "group").and_then(|a| a.i).unwrap_or(1);
        let groups = usize::try_from(groups)
            .ok()
            .filter(|&g| g > 0)
            .ok_or_else(|| format!("group {groups}"))?;
        if transpose && attr(node, "output_shape").is_some() {
            return Err("ConvTranspose with output_shape".into());
        }
        Ok(ConvAttrs {
            stride,
            groups,
            padding: conv_padding(node, transpose, kernel, stride, dilation)?,
            dilation,
            output_padding,
        })
    };
    read().unwrap_or_else(|reason| ConvAttrs {
        stride: [1, 1],
        groups: 1,
        padding: ConvPadding::Unsupported(reason),
        dilation: [1, 1],
        output_padding: [0, 0],
    })
}

/// The padding of a `Conv` / `ConvTranspose` node from its `auto_pad` and `pads`.
fn conv_padding(
    node: &NodeProto,
    transpose: bool,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<ConvPadding, String> {
    let auto_pad = attr(node, "auto_pad")
        .and_then(|a| a.s.as_deref())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    let same = |upper: bool| {
        // ONNX: total = dilation * (kernel - 1) at stride 1; SAME_UPPER puts the odd one at
        // the end, SAME_LOWER at the beginning.
        let total = [0, 1].map(|i| dilation[i] * kernel[i].saturating_sub(1));
        let first = total.map(|t| if upper { t / 2 } else { t - t / 2 });
        [first[0], first[1], total[0] - first[0], total[1] - first[1]]
    };
    match auto_pad.as_str() {
        "" | "NOTSET" => Ok(ConvPadding::Explicit(usize_attr(node, "pads", [0; 4])?)),
        "VALID" => Ok(ConvPadding::Explicit([0; 4])),
        "SAME_UPPER" | "SAME_LOWER" if transpose => Ok(ConvPadding::Unsupported(format!(
            "ConvTranspose with auto_pad {auto_pad}"
        ))),
        "SAME_UPPER" | "SAME_LOWER" if stride == [1, 1] => {
            Ok(ConvPadding::Explicit(same(auto_pad == "SAME_UPPER")))
        }
        "SAME_UPPER" => Ok(ConvPadding::SameUpper),
        other => Ok(ConvPadding::Unsupported(format!(
            "auto_pad {other} with stride {stride:?}"
        ))),
    }
}

impl std::fmt::Display for ConvPadding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvPadding::Explicit(p) => write!(f, "{p:?} (top, left, bottom, right)"),
            ConvPadding::SameUpper => f.write_str("SAME_UPPER (input-size dependent)"),
            ConvPadding::Unsupported(what) => f.write_str(what),
        }
    }
}

/// `"name graph, module has module"` for each `(name, graph, module)` that differs, joined
/// by `"; "` (empty when all agree).
fn differences(fields: &[(&str, String, String)]) -> String {
    fields
        .iter()
        .filter(|(_, graph, module)| graph != module)
        .map(|(name, graph, module)| format!("{name} {graph}, module has {module}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// True when a constant of shape `dims`, added to an `[n, channels, h, w]` tensor with ONNX
/// (NumPy) broadcasting, adds one value per channel: `[1, channels, 1, 1]` once left-padded
/// with ones. A `[channels]` constant broadcasts along the width instead.
fn is_channel_bias(dims: &[usize], channels: usize) -> bool {
    dims.len() <= 4 && {
        let mut full = vec![1; 4 - dims.len()];
        full.extend_from_slice(dims);
        full == [1, channels, 1, 1]
    }
}

/// The padding Burn's `Conv2d` applies, as [`ConvPadding`].
fn module_padding(conv: &Conv2d) -> ConvPadding {
    match conv.padding {
        PaddingConfig2d::Valid => ConvPadding::Explicit([0; 4]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            ConvPadding::Explicit([top, left, bottom, right])
        }
        // Burn's `Same` pads `kernel - 1` in all (dilation aside), the odd one at the end; at
        // stride 1 that is independent of the input size.
        PaddingConfig2d::Same if conv.stride == [1, 1] => {
            let [kh, kw] = conv.kernel_size.map(|k| k.saturating_sub(1));
            ConvPadding::Explicit([kh / 2, kw / 2, kh - kh / 2, kw - kw / 2])
        }
        PaddingConfig2d::Same => ConvPadding::SameUpper,
    }
}

fn node_label(node: &NodeProto) -> String {
    match node.name.as_deref() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => node.output.first().cloned().unwrap_or_default(),
    }
}

impl ParamStream {
    /// Reads an ONNX file.
    pub fn from_file(path: &Path, device: &Device) -> Result<Self, ImportError> {
        let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path, device)
    }

    /// Reads ONNX bytes; `path` names them in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path, device: &Device) -> Result<Self, ImportError> {
        let format_err = |reason: String| ImportError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let model = ModelProto::decode(bytes).map_err(|e| format_err(e.to_string()))?;
        let graph = model
            .graph
            .ok_or_else(|| format_err("the model has no graph".into()))?;
        if graph.node.is_empty() {
            return Err(format_err("the graph has no nodes".into()));
        }
        let mut consts: HashMap<String, OnnxTensor> = HashMap::new();
        for t in &graph.initializer {
            if let Some(v) = tensor_from_proto(t) {
                consts.insert(v.name.clone(), v);
            }
        }
        let mut alias: HashMap<String, String> = HashMap::new();
        let resolve = |alias: &HashMap<String, String>, name: &str| {
            let mut cur = name.to_string();
            while let Some(n) = alias.get(&cur) {
                cur = n.clone();
            }
            cur
        };
        let mut records: Vec<ParamRecord> = Vec::new();
        // Value name → index of the record whose output it is (for folding following Adds).
        let mut producer: HashMap<String, usize> = HashMap::new();
        for node in &graph.node {
            let op = node.op_type.as_deref().unwrap_or("");
            let label = node_label(node);
            let const_of = |consts: &HashMap<String, OnnxTensor>, name: &str| {
                consts.get(&resolve(&alias, name)).cloned()
            };
            match op {
                "Constant" => {
                    if let (Some(out), Some(t)) = (
                        node.output.first(),
                        attr(node, "value").and_then(|a| a.t.as_ref()),
                    ) && let Some(mut v) = tensor_from_proto(t)
                    {
                        v.name = out.clone();
                        consts.insert(out.clone(), v);
                    }
                }
                "Identity" => {
                    if let (Some(i), Some(o)) = (node.input.first(), node.output.first()) {
                        alias.insert(o.clone(), i.clone());
                    }
                }
                "Conv" | "ConvTranspose" => {
                    let transpose = op == "ConvTranspose";
                    let weight = node
                        .input
                        .get(1)
                        .and_then(|w| const_of(&consts, w))
                        .ok_or_else(|| {
                            format_err(format!("{op} node `{label}` has no constant weight"))
                        })?;
                    let bias = node.input.get(2).and_then(|b| const_of(&consts, b));
                    let ConvAttrs {
                        stride,
                        groups,
                        padding,
                        dilation,
                        output_padding,
                    } = conv_attrs(node, transpose, &weight.dims);
                    records.push(ParamRecord::Conv {
                        node: label,
                        weight,
                        bias,
                        stride,
                        groups,
                        padding,
                        dilation,
                        output_padding,
                        transpose,
                    });
                    if let Some(o) = node.output.first() {
                        producer.insert(o.clone(), records.len() - 1);
                    }
                }
                "BatchNormalization" => {
                    let get = |i: usize| {
                        node.input
                            .get(i)
                            .and_then(|n| const_of(&consts, n))
                            .ok_or_else(|| {
                                format_err(format!(
                                    "BatchNormalization `{label}` input {i} is not constant"
                                ))
                            })
                    };
                    let params = [get(1)?, get(2)?, get(3)?, get(4)?];
                    let epsilon = attr(node, "epsilon").and_then(|a| a.f).unwrap_or(1e-5) as f64;
                    records.push(ParamRecord::BatchNorm {
                        node: label,
                        params,
                        epsilon,
                    });
                }
                "Mul" | "Add" if node.input.len() == 2 => {
                    let c0 = const_of(&consts, &node.input[0]);
                    let c1 = const_of(&consts, &node.input[1]);
                    let (konst, other) = match (c0, c1) {
                        (Some(c), None) => (c, &node.input[1]),
                        (None, Some(c)) => (c, &node.input[0]),
                        _ => continue,
                    };
                    let src = resolve(&alias, other);
                    let prev = producer.get(&src).copied();
                    let out = node.output.first().cloned().unwrap_or_default();
                    if op == "Mul" && konst.data.len() == 1 {
                        records.push(ParamRecord::Affine {
                            node: label,
                            scale: konst.data[0],
                            bias: f32::NAN,
                        });
                        producer.insert(out, records.len() - 1);
                    } else if op == "Add" {
                        match prev.map(|i| &mut records[i]) {
                            Some(ParamRecord::Conv {
                                weight,
                                bias: bias @ None,
                                transpose,
                                groups,
                                ..
                            }) => {
                                let out_ch = if *transpose {
                                    weight.dims.get(1).copied().unwrap_or(0) * *groups
                                } else {
                                    weight.dims.first().copied().unwrap_or(0)
                                };
                                if is_channel_bias(&konst.dims, out_ch) {
                                    *bias = Some(konst);
                                }
                            }
                            Some(ParamRecord::Affine { bias, .. })
                                if bias.is_nan() && konst.data.len() == 1 =>
                            {
                                *bias = konst.data[0];
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        for r in &mut records {
            if let ParamRecord::Affine { bias, .. } = r
                && bias.is_nan()
            {
                *bias = 0.0;
            }
        }
        Ok(Self {
            records,
            pos: 0,
            path: path.to_path_buf(),
            device: device.clone(),
        })
    }

    /// The records, in graph order.
    pub fn records(&self) -> &[ParamRecord] {
        &self.records
    }

    /// An error for a module that this graph cannot fill at all.
    pub fn unsupported(&self, module: &str, reason: &str) -> ImportError {
        self.mismatch("<graph>", module, reason.to_string())
    }

    fn mismatch(&self, node: &str, module: &str, reason: String) -> ImportError {
        ImportError::Mismatch {
            path: self.path.clone(),
            node: node.to_string(),
            module: module.to_string(),
            reason,
        }
    }

    fn next(&mut self, module: &str) -> Result<ParamRecord, ImportError> {
        let r = self.records.get(self.pos).cloned().ok_or_else(|| {
            self.mismatch(
                "<end of graph>",
                module,
                "the graph has fewer parameterised layers than the module".into(),
            )
        })?;
        self.pos += 1;
        Ok(r)
    }

    /// Fails unless every record was consumed.
    pub fn finish(&self) -> Result<(), ImportError> {
        match self.records.get(self.pos) {
            None => Ok(()),
            Some(r) => Err(self.mismatch(
                r.node(),
                "the model",
                format!(
                    "{} parameterised layers of the graph are left over after loading",
                    self.records.len() - self.pos
                ),
            )),
        }
    }

    fn tensor<const D: usize>(&self, t: &OnnxTensor, shape: [usize; D]) -> Tensor<D> {
        Tensor::from_data(TensorData::new(t.data.clone(), shape), &self.device)
    }

    /// The next record, which must be a `Conv` (or, with `transpose`, a `ConvTranspose`).
    fn next_conv(&mut self, module: &str, transpose: bool) -> Result<ConvRecord, ImportError> {
        let rec = self.next(module)?;
        match rec {
            ParamRecord::Conv {
                node,
                weight,
                bias,
                stride,
                groups,
                padding,
                dilation,
                output_padding,
                transpose: t,
            } if t == transpose => Ok(ConvRecord {
                node,
                weight,
                bias,
                stride,
                groups,
                padding,
                dilation,
                output_padding,
            }),
            other => {
                let expected = if transpose { "ConvTranspose" } else { "Conv" };
                Err(self.mismatch(
                    other.node(),
                    module,
                    format!("expected {expected}, found {}", other.kind()),
                ))
            }
        }
    }

    /// Loads the next `Conv` into `conv`.
    pub fn load_conv(&mut self, conv: &mut Conv2d, module: &str) -> Result<(), ImportError> {
        let ConvRecord {
            node,
            weight,
            bias,
            stride,
            groups,
            padding,
            dilation,
            ..
        } = self.next_conv(module, false)?;
        if let ConvPadding::Unsupported(what) = &padding {
            return Err(self.mismatch(&node, module, format!("cannot be imported: {what}")));
        }
        let shape: [usize; 4] = conv.weight.dims();
        if weight.dims != shape {
            return Err(self.mismatch(
                &node,
                module,
                format!("weight shape {:?}, module expects {:?}", weight.dims, shape),
            ));
        }
        let module_pad = module_padding(conv);
        let diffs = differences(&[
            (
                "stride",
                format!("{stride:?}"),
                format!("{:?}", conv.stride),
            ),
            ("groups", groups.to_string(), conv.groups.to_string()),
            (
                "dilation",
                format!("{dilation:?}"),
                format!("{:?}", conv.dilation),
            ),
            ("padding", padding.to_string(), module_pad.to_string()),
        ]);
        if !diffs.is_empty() {
            return Err(self.mismatch(&node, module, diffs));
        }
        if padding == ConvPadding::SameUpper && dilation != [1, 1] {
            return Err(self.mismatch(
                &node,
                module,
                format!(
                    "auto_pad SAME_UPPER with dilation {dilation:?}: Burn's Same padding \
                     ignores dilation"
                ),
            ));
        }
        conv.weight = Param::from_tensor(self.tensor(&weight, shape));
        conv.bias = self.load_bias(&node, module, bias, conv.bias.is_some(), shape[0])?;
        Ok(())
    }

    /// Loads the next `ConvTranspose` into `conv`.
    pub fn load_conv_transpose(
        &mut self,
        conv: &mut ConvTranspose2d,
        module: &str,
    ) -> Result<(), ImportError> {
        let ConvRecord {
            node,
            weight,
            bias,
            stride,
            groups,
            padding,
            dilation,
            output_padding,
        } = self.next_conv(module, true)?;
        let pads = match padding {
            ConvPadding::Explicit(p) => p,
            ConvPadding::SameUpper => {
                let what = "cannot be imported: ConvTranspose with auto_pad SAME_UPPER";
                return Err(self.mismatch(&node, module, what.into()));
            }
            ConvPadding::Unsupported(what) => {
                return Err(self.mismatch(&node, module, format!("cannot be imported: {what}")));
            }
        };
        let shape: [usize; 4] = conv.weight.dims();
        if weight.dims != shape {
            return Err(self.mismatch(
                &node,
                module,
                format!("weight shape {:?}, module expects {:?}", weight.dims, shape),
            ));
        }
        // Burn's ConvTranspose2d pads both sides of an axis alike.
        let [top, left, bottom, right] = pads;
        if top != bottom || left != right {
            return Err(self.mismatch(
                &node,
                module,
                format!(
                    "asymmetric pads {pads:?} ([top, left, bottom, right]): Burn's \
                     ConvTranspose2d pads both sides alike"
                ),
            ));
        }
        let diffs = differences(&[
            (
                "stride",
                format!("{stride:?}"),
                format!("{:?}", conv.stride),
            ),
            ("groups", groups.to_string(), conv.groups.to_string()),
            (
                "dilation",
                format!("{dilation:?}"),
                format!("{:?}", conv.dilation),
            ),
            (
                "padding",
                format!("{:?}", [top, left]),
                format!("{:?}", conv.padding),
            ),
            (
                "output_padding",
                format!("{output_padding:?}"),
                format!("{:?}", conv.padding_out),
            ),
        ]);
        if !diffs.is_empty() {
            return Err(self.mismatch(&node, module, diffs));
        }
        conv.weight = Param::from_tensor(self.tensor(&weight, shape));
        let out = shape[1] * conv.groups;
        conv.bias = self.load_bias(&node, module, bias, conv.bias.is_some(), out)?;
        Ok(())
    }

    fn load_bias(
        &self,
        node: &str,
        module: &str,
        bias: Option<OnnxTensor>,
        wants_bias: bool,
        out: usize,
    ) -> Result<Option<Param<Tensor<1>>>, ImportError> {
        match (bias, wants_bias) {
            (Some(b), true) if b.data.len() == out => {
                Ok(Some(Param::from_tensor(self.tensor(&b, [out]))))
            }
            (Some(b), true) => Err(self.mismatch(
                node,
                module,
                format!("bias has {} values, expected {out}", b.data.len()),
            )),
            (None, false) => Ok(None),
            (None, true) => Err(self.mismatch(node, module, "the graph has no bias".into())),
            (Some(_), false) => {
                Err(self.mismatch(node, module, "the graph has a bias the module lacks".into()))
            }
        }
    }

    /// Loads the next `BatchNormalization` into `bn`.
    pub fn load_batch_norm(&mut self, bn: &mut BatchNorm, module: &str) -> Result<(), ImportError> {
        let rec = self.next(module)?;
        let ParamRecord::BatchNorm {
            node,
            params,
            epsilon,
        } = rec
        else {
            return Err(self.mismatch(
                rec.node(),
                module,
                format!("expected BatchNormalization, found {}", rec.kind()),
            ));
        };
        let [c] = bn.gamma.dims();
        if params.iter().any(|p| p.data.len() != c) {
            return Err(self.mismatch(
                &node,
                module,
                format!("{} channels, module has {c}", params[0].data.len()),
            ));
        }
        bn.gamma = Param::from_tensor(self.tensor(&params[0], [c]));
        bn.beta = Param::from_tensor(self.tensor(&params[1], [c]));
        bn.running_mean = RunningState::new(self.tensor(&params[2], [c]));
        bn.running_var = RunningState::new(self.tensor(&params[3], [c]));
        bn.epsilon = epsilon;
        Ok(())
    }

    /// Takes the next scalar affine (`Mul` + `Add`), as `(scale, bias)`.
    pub fn next_affine(&mut self, module: &str) -> Result<(f32, f32), ImportError> {
        let rec = self.next(module)?;
        match rec {
            ParamRecord::Affine { scale, bias, .. } => Ok((scale, bias)),
            other => Err(self.mismatch(
                other.node(),
                module,
                format!("expected a scalar Mul/Add affine, found {}", other.kind()),
            )),
        }
    }

    /// The device tensors are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// A module that can take its parameters from a [`ParamStream`], in forward order.
pub trait LoadParams {
    /// Consumes this module's records.
    fn load_params(&mut self, stream: &mut ParamStream) -> Result<(), ImportError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initializer_dims_whose_product_overflows_are_not_a_tensor() {
        // Found by fuzz/onnx: the product of the dims overflowed before the length check.
        let t = TensorProto {
            dims: vec![1 << 40, 1 << 40],
            data_type: Some(data_type::FLOAT),
            float_data: vec![1.0],
            ..TensorProto::default()
        };
        assert!(tensor_from_proto(&t).is_none());
        let t = TensorProto {
            dims: vec![1, 2],
            ..t
        };
        assert!(tensor_from_proto(&t).is_none());
        let t = TensorProto {
            dims: vec![1, 1],
            ..t
        };
        assert_eq!(tensor_from_proto(&t).unwrap().data, vec![1.0]);
    }
}
