//! Reads the parameters of an ONNX graph, in execution order, as a stream of typed records
//! (convolution, batch norm, scalar affine) that fusedet modules consume one by one.
//!
//! Nothing is generated per model: a module walks its own layers in forward order and takes
//! the next record of the right kind, checking every shape. Weights stored as initializers
//! (opset 14 exports) and as `Constant` nodes (opset 12 exports) are read alike; biases that an
//! exporter split into a separate `Add` are folded back into their convolution, and
//! `Identity` nodes are looked through.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
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
    let numel: usize = dims.iter().product();
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
                    let weight = node
                        .input
                        .get(1)
                        .and_then(|w| const_of(&consts, w))
                        .ok_or_else(|| {
                            format_err(format!("{op} node `{label}` has no constant weight"))
                        })?;
                    let bias = node.input.get(2).and_then(|b| const_of(&consts, b));
                    let strides = attr(node, "strides").map(|a| a.ints.clone());
                    let stride = match strides.as_deref() {
                        Some([a, b]) => [*a as usize, *b as usize],
                        _ => [1, 1],
                    };
                    let groups = attr(node, "group").and_then(|a| a.i).unwrap_or(1) as usize;
                    records.push(ParamRecord::Conv {
                        node: label,
                        weight,
                        bias,
                        stride,
                        groups,
                        transpose: op == "ConvTranspose",
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
                                if konst.data.len() == out_ch {
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
                transpose: t,
            } if t == transpose => Ok(ConvRecord {
                node,
                weight,
                bias,
                stride,
                groups,
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
        } = self.next_conv(module, false)?;
        let shape: [usize; 4] = conv.weight.dims();
        if weight.dims != shape {
            return Err(self.mismatch(
                &node,
                module,
                format!("weight shape {:?}, module expects {:?}", weight.dims, shape),
            ));
        }
        if stride != conv.stride || groups != conv.groups {
            return Err(self.mismatch(
                &node,
                module,
                format!(
                    "stride {:?} groups {groups}, module has stride {:?} groups {}",
                    stride, conv.stride, conv.groups
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
            ..
        } = self.next_conv(module, true)?;
        let shape: [usize; 4] = conv.weight.dims();
        if weight.dims != shape || stride != conv.stride {
            return Err(self.mismatch(
                &node,
                module,
                format!(
                    "weight {:?} stride {:?}, module expects {:?} stride {:?}",
                    weight.dims, stride, shape, conv.stride
                ),
            ));
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
