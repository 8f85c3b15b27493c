//! Darknet networks: the `.cfg` layer list and the `.weights` file of pjreddie/darknet (the
//! YOLOv3 family: yolov3, yolov3-tiny, yolov3-spp, darknet53), read into plain data with every
//! layer's output shape, for building and loading fusedet modules. Mirrors `src/parser.c`
//! (`read_cfg`, `parse_*`, `load_weights_upto`, `load_convolutional_weights`) at commit
//! 61c9d02e, the version Debian's `darknet` package ships, plus the AlexeyAB options that
//! YOLOv4-era cfgs add to these sections (`mish`/`swish`, `scale_x_y`, route `groups`).
//!
//! Layer semantics a module builder needs (all from the reference):
//! * `[convolutional]`: `pad=1` means padding `size / 2`, else the `padding` option (default
//!   0); output `(h + 2 * padding - size) / stride + 1`; bias only without batch norm (with
//!   it, the file's "biases" are the batch-norm beta); default activation `logistic`.
//! * `[maxpool]`: padding defaults to `size - 1` in total, `padding / 2` of it before (top/left),
//!   out-of-image taps never win; output `(h + padding - size) / stride + 1`. So yolov3-tiny's
//!   `size=2 stride=1` keeps 13×13 (one extra row/column at the bottom/right); SPP's
//!   `size=5/9/13 stride=1` pads 2/4/6 on each side.
//! * `[route]`: concatenation along channels of `layers` (negative = relative to this layer);
//!   with `groups=G group_id=i` each input contributes its i-th of G channel slices.
//! * `[shortcut]`: previous layer + layer `from` (same shape here), then `activation`
//!   (default linear).
//! * `[upsample]`: nearest neighbour ×`stride` (default 2).
//! * `[yolo]`: the input has `len(mask) * (classes + 5)` channels; `anchors` are `num` (w, h)
//!   pairs in input pixels, `mask` picks this level's.
//!
//! Weights: `major, minor, revision` (i32), then `seen` as u64 when `major * 10 + minor >= 2`
//! (and both < 1000), else u32; then per convolutional layer, in order: `filters` biases (or
//! batch-norm beta), with batch norm `filters` scales (gamma), rolling means and rolling
//! variances, then the `filters × channels/groups × size × size` weights (PyTorch's OIHW
//! order). All little-endian f32.

use std::collections::BTreeMap;
use std::path::Path;

pub use crate::error::DarknetError;

/// Activation of a convolutional or shortcut layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Activation {
    /// `leaky`: LeakyReLU with slope 0.1.
    Leaky,
    /// `linear`: identity.
    Linear,
    /// `mish`: x·tanh(softplus(x)).
    Mish,
    /// `swish`: x·sigmoid(x).
    Swish,
    /// `logistic`: sigmoid.
    Logistic,
    /// `relu`.
    Relu,
}

impl Activation {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "leaky" => Self::Leaky,
            "linear" => Self::Linear,
            "mish" => Self::Mish,
            "swish" => Self::Swish,
            "logistic" => Self::Logistic,
            "relu" => Self::Relu,
            _ => return None,
        })
    }
}

/// A `[convolutional]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Convolutional {
    /// Output channels.
    pub filters: usize,
    /// Kernel size (square).
    pub size: usize,
    /// Stride.
    pub stride: usize,
    /// Padding on each side (`size / 2` when `pad=1`).
    pub padding: usize,
    /// Channel groups.
    pub groups: usize,
    /// Batch norm after the convolution (then no bias).
    pub batch_normalize: bool,
    /// Activation.
    pub activation: Activation,
}

/// A `[yolo]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Yolo {
    /// Indices into `anchors` used by this level.
    pub mask: Vec<usize>,
    /// All anchors, (w, h) in input pixels.
    pub anchors: Vec<[f32; 2]>,
    /// Classes.
    pub classes: usize,
    /// Number of anchors in `anchors` (`num`).
    pub num: usize,
    /// AlexeyAB's grid-sensitivity factor (1 = plain YOLOv3).
    pub scale_x_y: f32,
    /// Training: IoU above which a non-assigned prediction's objectness is not penalised.
    pub ignore_thresh: f32,
    /// Training: IoU above which a prediction is also assigned.
    pub truth_thresh: f32,
    /// Training: box jitter.
    pub jitter: f32,
    /// Training: multi-scale.
    pub random: bool,
}

/// One layer of the network.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LayerKind {
    /// `[convolutional]` / `[conv]`.
    Convolutional(Convolutional),
    /// `[shortcut]`: adds the output of layer `from` (absolute index).
    Shortcut {
        /// Absolute layer index.
        from: usize,
        /// Activation after the sum.
        activation: Activation,
    },
    /// `[route]`: channel concatenation of `layers` (absolute indices).
    Route {
        /// Absolute layer indices.
        layers: Vec<usize>,
        /// Channel groups per input (1 = whole input).
        groups: usize,
        /// Which group is taken.
        group_id: usize,
    },
    /// `[upsample]`: nearest neighbour.
    Upsample {
        /// Factor.
        stride: usize,
    },
    /// `[maxpool]` / `[max]`.
    Maxpool {
        /// Window.
        size: usize,
        /// Stride.
        stride: usize,
        /// Total padding (`padding / 2` before).
        padding: usize,
    },
    /// `[avgpool]` / `[avg]`: global average pooling.
    Avgpool,
    /// `[softmax]` / `[soft]` over channels.
    Softmax {
        /// Softmax groups.
        groups: usize,
    },
    /// `[yolo]`.
    Yolo(Yolo),
}

/// A tensor shape `[channels, height, width]`.
pub type Shape = [usize; 3];

/// A layer with where it came from and its shapes.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// What it computes.
    pub kind: LayerKind,
    /// 1-based line of its section header.
    pub line: usize,
    /// Input shape (the previous layer's output, or the network input).
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
}

/// A parsed `.cfg`.
#[derive(Clone, Debug, PartialEq)]
pub struct DarknetCfg {
    /// Network input `[channels, height, width]` from `[net]`.
    pub input: Shape,
    /// All `[net]` options as written (training settings included).
    pub net: BTreeMap<String, String>,
    /// The layers, indexed as Darknet indexes them (route/shortcut indices refer to these).
    pub layers: Vec<Layer>,
}

struct Section {
    name: String,
    line: usize,
    options: Vec<(String, String, usize)>,
}

impl Section {
    fn get(&self, key: &str) -> Option<(&str, usize)> {
        self.options
            .iter()
            .rev()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, l)| (v.as_str(), *l))
    }
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, line: usize, reason: impl Into<String>) -> DarknetError {
        DarknetError::Cfg {
            path: self.path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }

    fn int(&self, s: &Section, key: &str, default: Option<i64>) -> Result<i64, DarknetError> {
        match s.get(key) {
            Some((v, l)) => {
                let n = v.parse::<i64>().map_err(|_| {
                    self.err(l, format!("[{}] {key}: `{v}` is not an integer", s.name))
                })?;
                // Found by fuzz/darknet: huge sizes overflowed the shape and weight arithmetic.
                if n.abs() > MAX_CFG_INT {
                    return Err(self.err(
                        l,
                        format!(
                            "[{}] {key}: {n} is out of range (at most {MAX_CFG_INT})",
                            s.name
                        ),
                    ));
                }
                Ok(n)
            }
            None => default.ok_or_else(|| self.err(s.line, format!("[{}] needs `{key}`", s.name))),
        }
    }

    fn uint(&self, s: &Section, key: &str, default: Option<i64>) -> Result<usize, DarknetError> {
        let v = self.int(s, key, default)?;
        usize::try_from(v).map_err(|_| {
            let l = s.get(key).map_or(s.line, |x| x.1);
            self.err(l, format!("[{}] {key}: {v} is negative", s.name))
        })
    }

    fn positive(&self, s: &Section, key: &str, default: i64) -> Result<usize, DarknetError> {
        let v = self.uint(s, key, Some(default))?;
        if v == 0 {
            let l = s.get(key).map_or(s.line, |x| x.1);
            return Err(self.err(l, format!("[{}] {key} must be at least 1", s.name)));
        }
        Ok(v)
    }

    fn float(&self, s: &Section, key: &str, default: f32) -> Result<f32, DarknetError> {
        match s.get(key) {
            Some((v, l)) => v
                .parse::<f32>()
                .map_err(|_| self.err(l, format!("[{}] {key}: `{v}` is not a number", s.name))),
            None => Ok(default),
        }
    }

    fn activation(&self, s: &Section, default: Activation) -> Result<Activation, DarknetError> {
        match s.get("activation") {
            Some((v, l)) => Activation::parse(v).ok_or_else(|| {
                self.err(l, format!("[{}] activation `{v}` is not supported", s.name))
            }),
            None => Ok(default),
        }
    }

    /// A comma-separated list of layer indices, negative ones relative to `index`.
    fn layer_refs(&self, s: &Section, key: &str, index: usize) -> Result<Vec<usize>, DarknetError> {
        let (v, l) = s
            .get(key)
            .ok_or_else(|| self.err(s.line, format!("[{}] needs `{key}`", s.name)))?;
        v.split(',')
            .map(|t| {
                let i: i64 = t.parse().map_err(|_| {
                    self.err(l, format!("[{}] {key}: `{t}` is not a layer index", s.name))
                })?;
                let abs = if i < 0 { index as i64 + i } else { i };
                if abs < 0 || abs >= index as i64 {
                    return Err(self.err(
                        l,
                        format!(
                            "[{}] {key}: layer {i} resolves to {abs}, not one of the {index} \
                             layers before this one",
                            s.name
                        ),
                    ));
                }
                Ok(abs as usize)
            })
            .collect()
    }
}

/// Splits the cfg text into sections as Darknet's `read_cfg` does: whitespace removed from
/// every line, `#` / `;` lines and blank lines skipped, `key=value` options.
fn sections(text: &str, ctx: &Ctx) -> Result<Vec<Section>, DarknetError> {
    let mut out: Vec<Section> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if s.is_empty() || s.starts_with('#') || s.starts_with(';') {
            continue;
        }
        if s.starts_with('[') {
            if !s.ends_with(']') || s.len() < 3 {
                return Err(ctx.err(line, format!("bad section header `{}`", raw.trim())));
            }
            out.push(Section {
                name: s[1..s.len() - 1].to_string(),
                line,
                options: Vec::new(),
            });
            continue;
        }
        let Some((k, v)) = s.split_once('=') else {
            return Err(ctx.err(
                line,
                format!("expected `key=value`, found `{}`", raw.trim()),
            ));
        };
        if k.is_empty() || v.is_empty() {
            return Err(ctx.err(
                line,
                format!("expected `key=value`, found `{}`", raw.trim()),
            ));
        }
        let Some(sec) = out.last_mut() else {
            return Err(ctx.err(line, "option before the first [section]"));
        };
        sec.options.push((k.to_string(), v.to_string(), line));
    }
    Ok(out)
}

/// The largest integer a cfg option may hold (and the largest side of a layer's output):
/// Darknet's own cfgs stay below 10^5 (`filters`, `classes`, `width`...).
pub const MAX_CFG_INT: i64 = 1 << 20;

/// The most anchors a `[yolo]` layer may have (`num`); Darknet's own cfgs have 6 or 9.
pub const MAX_YOLO_ANCHORS: usize = 4096;

impl DarknetCfg {
    /// Reads and parses a `.cfg` file.
    pub fn read(path: &Path) -> Result<Self, DarknetError> {
        let text = std::fs::read_to_string(path).map_err(|source| DarknetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses cfg text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, DarknetError> {
        let ctx = Ctx { path };
        let secs = sections(text, &ctx)?;
        let Some(first) = secs.first() else {
            return Err(ctx.err(1, "no sections"));
        };
        if first.name != "net" && first.name != "network" {
            return Err(ctx.err(
                first.line,
                format!("the first section must be [net], found [{}]", first.name),
            ));
        }
        let input = [
            ctx.positive(first, "channels", 0)?,
            ctx.positive(first, "height", 0)?,
            ctx.positive(first, "width", 0)?,
        ];
        let net = first
            .options
            .iter()
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect();
        let mut layers: Vec<Layer> = Vec::new();
        for s in &secs[1..] {
            let index = layers.len();
            let prev = layers.last().map_or(input, |l| l.output);
            let [c, h, w] = prev;
            let (kind, output) = match s.name.as_str() {
                "convolutional" | "conv" => {
                    let filters = ctx.positive(s, "filters", 1)?;
                    let size = ctx.positive(s, "size", 1)?;
                    let stride = ctx.positive(s, "stride", 1)?;
                    let groups = ctx.positive(s, "groups", 1)?;
                    let padding = if ctx.int(s, "pad", Some(0))? != 0 {
                        size / 2
                    } else {
                        ctx.uint(s, "padding", Some(0))?
                    };
                    if c % groups != 0 || filters % groups != 0 {
                        return Err(ctx.err(
                            s.line,
                            format!("[{}] groups={groups} does not divide {c} input channels and {filters} filters", s.name),
                        ));
                    }
                    if h + 2 * padding < size || w + 2 * padding < size {
                        return Err(ctx.err(
                            s.line,
                            format!(
                                "[{}] kernel {size} larger than its padded {h}x{w} input",
                                s.name
                            ),
                        ));
                    }
                    let out = [
                        filters,
                        (h + 2 * padding - size) / stride + 1,
                        (w + 2 * padding - size) / stride + 1,
                    ];
                    let conv = Convolutional {
                        filters,
                        size,
                        stride,
                        padding,
                        groups,
                        batch_normalize: ctx.int(s, "batch_normalize", Some(0))? != 0,
                        activation: ctx.activation(s, Activation::Logistic)?,
                    };
                    (LayerKind::Convolutional(conv), out)
                }
                "shortcut" => {
                    let from = ctx.layer_refs(s, "from", index)?;
                    if from.len() != 1 {
                        return Err(ctx.err(s.line, "[shortcut] takes one `from` layer"));
                    }
                    let other = layers[from[0]].output;
                    if other != prev {
                        return Err(ctx.err(
                            s.line,
                            format!(
                                "[shortcut] adds layer {} of shape {other:?} to {prev:?}",
                                from[0]
                            ),
                        ));
                    }
                    let activation = ctx.activation(s, Activation::Linear)?;
                    (
                        LayerKind::Shortcut {
                            from: from[0],
                            activation,
                        },
                        prev,
                    )
                }
                "route" => {
                    let refs = ctx.layer_refs(s, "layers", index)?;
                    let groups = ctx.positive(s, "groups", 1)?;
                    let group_id = ctx.uint(s, "group_id", Some(0))?;
                    if group_id >= groups {
                        return Err(ctx.err(
                            s.line,
                            format!("[route] group_id {group_id} with {groups} groups"),
                        ));
                    }
                    let [_, h0, w0] = layers[refs[0]].output;
                    let mut ch = 0;
                    for &r in &refs {
                        let [cr, hr, wr] = layers[r].output;
                        if (hr, wr) != (h0, w0) {
                            return Err(ctx.err(
                                s.line,
                                format!(
                                    "[route] layer {r} is {hr}x{wr}, layer {} is {h0}x{w0}",
                                    refs[0]
                                ),
                            ));
                        }
                        if cr % groups != 0 {
                            return Err(ctx.err(
                                s.line,
                                format!("[route] groups={groups} does not divide the {cr} channels of layer {r}"),
                            ));
                        }
                        ch += cr / groups;
                    }
                    (
                        LayerKind::Route {
                            layers: refs,
                            groups,
                            group_id,
                        },
                        [ch, h0, w0],
                    )
                }
                "upsample" => {
                    let stride = ctx.positive(s, "stride", 2)?;
                    // Bounded: h, w and stride are at most MAX_CFG_INT (checked below).
                    (LayerKind::Upsample { stride }, [c, h * stride, w * stride])
                }
                "maxpool" | "max" => {
                    let stride = ctx.positive(s, "stride", 1)?;
                    let size = ctx.positive(s, "size", stride as i64)?;
                    let padding = ctx.uint(s, "padding", Some(size as i64 - 1))?;
                    if h + padding < size || w + padding < size {
                        return Err(ctx.err(
                            s.line,
                            format!(
                                "[{}] window {size} larger than its padded {h}x{w} input",
                                s.name
                            ),
                        ));
                    }
                    let out = [
                        c,
                        (h + padding - size) / stride + 1,
                        (w + padding - size) / stride + 1,
                    ];
                    (
                        LayerKind::Maxpool {
                            size,
                            stride,
                            padding,
                        },
                        out,
                    )
                }
                "avgpool" | "avg" => (LayerKind::Avgpool, [c, 1, 1]),
                "softmax" | "soft" => (
                    LayerKind::Softmax {
                        groups: ctx.positive(s, "groups", 1)?,
                    },
                    prev,
                ),
                "yolo" => {
                    let classes = ctx.uint(s, "classes", Some(20))?;
                    let num = ctx.positive(s, "num", 1)?;
                    if num > MAX_YOLO_ANCHORS {
                        // Found by fuzz/darknet: the default mask `0..num` was allocated first.
                        let l = s.get("num").map_or(s.line, |x| x.1);
                        return Err(ctx.err(
                            l,
                            format!("[yolo] num={num}: more than {MAX_YOLO_ANCHORS} anchors"),
                        ));
                    }
                    let mask = match s.get("mask") {
                        Some((v, l)) => v
                            .split(',')
                            .map(|t| {
                                t.parse::<usize>()
                                    .ok()
                                    .filter(|&m| m < num)
                                    .ok_or_else(|| {
                                        ctx.err(l, format!("[yolo] mask `{t}` is not an anchor index below num={num}"))
                                    })
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                        None => (0..num).collect(),
                    };
                    let anchors = match s.get("anchors") {
                        Some((v, l)) => {
                            let vals = v
                                .split(',')
                                .map(|t| {
                                    t.parse::<f32>().map_err(|_| {
                                        ctx.err(l, format!("[yolo] anchor `{t}` is not a number"))
                                    })
                                })
                                .collect::<Result<Vec<_>, _>>()?;
                            if vals.len() != 2 * num {
                                return Err(ctx.err(
                                    l,
                                    format!(
                                        "[yolo] {} anchor numbers for num={num} (w,h) pairs",
                                        vals.len()
                                    ),
                                ));
                            }
                            vals.chunks(2).map(|p| [p[0], p[1]]).collect()
                        }
                        None => vec![[0.5, 0.5]; num],
                    };
                    let want = classes
                        .checked_add(5)
                        .and_then(|k| k.checked_mul(mask.len()));
                    if want != Some(c) {
                        let want = want.map_or("more than usize::MAX".into(), |w| w.to_string());
                        return Err(ctx.err(
                            s.line,
                            format!(
                                "[yolo] input has {c} channels, {} anchors x ({classes} classes + 5) = {want} expected",
                                mask.len()
                            ),
                        ));
                    }
                    let y = Yolo {
                        mask,
                        anchors,
                        classes,
                        num,
                        scale_x_y: ctx.float(s, "scale_x_y", 1.0)?,
                        ignore_thresh: ctx.float(s, "ignore_thresh", 0.5)?,
                        truth_thresh: ctx.float(s, "truth_thresh", 1.0)?,
                        jitter: ctx.float(s, "jitter", 0.2)?,
                        random: ctx.int(s, "random", Some(0))? != 0,
                    };
                    (LayerKind::Yolo(y), prev)
                }
                other => {
                    return Err(ctx.err(s.line, format!("unknown section [{other}]")));
                }
            };
            if output[1..].iter().any(|&d| d > MAX_CFG_INT as usize) {
                return Err(ctx.err(
                    s.line,
                    format!(
                        "[{}] gives a {}x{} output: more than {MAX_CFG_INT} pixels a side",
                        s.name, output[1], output[2]
                    ),
                ));
            }
            if output.contains(&0) {
                return Err(ctx.err(
                    s.line,
                    format!("[{}] gives an empty output {output:?}", s.name),
                ));
            }
            layers.push(Layer {
                kind,
                line: s.line,
                input: prev,
                output,
            });
        }
        Ok(Self { input, net, layers })
    }

    /// The f32 values a `.weights` file holds for this network after its header.
    pub fn weight_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| match &l.kind {
                LayerKind::Convolutional(c) => conv_len(c, l.input[0]),
                _ => 0,
            })
            .fold(0usize, usize::saturating_add)
    }
}

fn conv_len(c: &Convolutional, in_ch: usize) -> usize {
    let per = if c.batch_normalize { 4 } else { 1 };
    // Saturating: concatenated routes can make `in_ch` large; a saturated count simply never
    // matches a weights file.
    (per * c.filters).saturating_add(
        c.filters
            .saturating_mul(in_ch / c.groups)
            .saturating_mul(c.size * c.size),
    )
}

/// Batch-norm parameters of a convolution.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormWeights {
    /// Scale (gamma).
    pub gamma: Vec<f32>,
    /// Shift (beta): what Darknet stores as the layer's biases.
    pub beta: Vec<f32>,
    /// Rolling mean.
    pub mean: Vec<f32>,
    /// Rolling variance.
    pub var: Vec<f32>,
}

/// Parameters of one `[convolutional]` layer.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvWeights {
    /// Kernel, `[filters, channels / groups, size, size]` row-major.
    pub weight: Vec<f32>,
    /// Its shape.
    pub weight_shape: [usize; 4],
    /// Bias, for a convolution without batch norm.
    pub bias: Option<Vec<f32>>,
    /// Batch norm, when `batch_normalize=1`.
    pub batch_norm: Option<BatchNormWeights>,
}

/// A `.weights` file split by layer.
#[derive(Clone, Debug, PartialEq)]
pub struct DarknetWeights {
    /// Format version `major, minor, revision`.
    pub version: [i32; 3],
    /// Images seen in training.
    pub seen: u64,
    /// Per cfg layer: the convolution's parameters, `None` for layers without weights.
    pub layers: Vec<Option<ConvWeights>>,
}

/// The header of a `.weights` file: `(version, seen, header bytes)` (`seen` is a u64 when
/// `major * 10 + minor >= 2`, else a u32); `path` only names the source in errors.
pub fn weights_header(bytes: &[u8], path: &Path) -> Result<([i32; 3], u64, usize), DarknetError> {
    let i32_at = |o: usize| i32::from_le_bytes(bytes[o..o + 4].try_into().unwrap_or([0; 4]));
    let short = || DarknetError::WeightsHeader {
        path: path.to_path_buf(),
        len: bytes.len(),
    };
    if bytes.len() < 16 {
        return Err(short());
    }
    let version = [i32_at(0), i32_at(4), i32_at(8)];
    let [major, minor, _] = version;
    // In i64: `major * 10` of a garbage header overflowed i32 (found by fuzz/darknet).
    let wide = i64::from(major) * 10 + i64::from(minor) >= 2 && major < 1000 && minor < 1000;
    if !wide {
        return Ok((version, i32_at(12) as u32 as u64, 16));
    }
    if bytes.len() < 20 {
        return Err(short());
    }
    let seen = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or([0; 8]));
    Ok((version, seen, 20))
}

impl DarknetWeights {
    /// Reads a `.weights` file for `cfg`.
    pub fn read(path: &Path, cfg: &DarknetCfg) -> Result<Self, DarknetError> {
        let bytes = std::fs::read(path).map_err(|source| DarknetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes, cfg, path)
    }

    /// Parses the bytes of a `.weights` file; `path` only names the source in errors. The file
    /// must hold exactly the values `cfg` needs (Darknet itself ignores a longer file).
    pub fn parse(bytes: &[u8], cfg: &DarknetCfg, path: &Path) -> Result<Self, DarknetError> {
        let (version, seen, header) = weights_header(bytes, path)?;
        let body = &bytes[header..];
        let found = body.len() / 4;
        let expected = cfg.weight_count();
        let size_error = |detail: String| DarknetError::WeightsSize {
            path: path.to_path_buf(),
            header,
            expected,
            found,
            detail,
        };
        if found != expected || !body.len().is_multiple_of(4) {
            let detail = if found < expected {
                let mut acc = 0;
                let mut at = String::new();
                for (i, l) in cfg.layers.iter().enumerate() {
                    if let LayerKind::Convolutional(c) = &l.kind {
                        acc += conv_len(c, l.input[0]);
                        if acc > found {
                            at = format!(
                                " (runs out in layer {i}, the [convolutional] on cfg line {})",
                                l.line
                            );
                            break;
                        }
                    }
                }
                at
            } else if !body.len().is_multiple_of(4) {
                format!(" (and {} stray bytes)", body.len() % 4)
            } else {
                String::new()
            };
            return Err(size_error(detail));
        }
        let mut pos = 0usize;
        let mut take = |n: usize| -> Vec<f32> {
            let v = body[pos * 4..(pos + n) * 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            pos += n;
            v
        };
        let layers = cfg
            .layers
            .iter()
            .map(|l| match &l.kind {
                LayerKind::Convolutional(c) => {
                    let n = c.filters;
                    let first = take(n);
                    let batch_norm = c.batch_normalize.then(|| {
                        let gamma = take(n);
                        let mean = take(n);
                        let var = take(n);
                        BatchNormWeights {
                            gamma,
                            beta: first.clone(),
                            mean,
                            var,
                        }
                    });
                    let shape = [n, l.input[0] / c.groups, c.size, c.size];
                    let weight = take(shape.iter().product());
                    Some(ConvWeights {
                        weight,
                        weight_shape: shape,
                        bias: (!c.batch_normalize).then_some(first),
                        batch_norm,
                    })
                }
                _ => None,
            })
            .collect();
        Ok(Self {
            version,
            seen,
            layers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A yolov3-tiny-like head on a 32x32 input: conv, maxpool (both quirks), route, upsample,
    /// shortcut, yolo.
    const TINY: &str = "\
[net]
# comment
batch=1
width = 32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=8
size=3
stride=1
pad=1
activation=mish

[maxpool]
size=2
stride=1

[convolutional]
batch_normalize=1
filters=8
size=1
stride=1
pad=1
activation=swish

[shortcut]
from=-3
activation=linear

[convolutional]
size=1
stride=1
pad=1
filters=14
activation=linear

[yolo]
mask = 0,1
anchors = 10,14,  23,27,  37,58
classes=2
num=3
scale_x_y = 1.05

[route]
layers = -4

[upsample]
stride=2

[route]
layers = -1, 0

[route]
layers=-1
groups=2
group_id=1
";

    fn p() -> &'static Path {
        Path::new("tiny.cfg")
    }

    #[test]
    fn shapes_follow_darknet_arithmetic() {
        let cfg = DarknetCfg::parse(TINY, p()).unwrap();
        let shapes: Vec<Shape> = cfg.layers.iter().map(|l| l.output).collect();
        assert_eq!(
            shapes,
            vec![
                [4, 32, 32],
                [4, 16, 16],
                [8, 16, 16],
                [8, 16, 16], // size-2 stride-1 maxpool keeps the size
                [8, 16, 16],
                [8, 16, 16],
                [14, 16, 16],
                [14, 16, 16],
                [8, 16, 16],
                [8, 32, 32],
                [12, 32, 32],
                [6, 32, 32],
            ]
        );
        assert_eq!(cfg.input, [3, 32, 32]);
        assert_eq!(cfg.net["width"], "32");
        match &cfg.layers[7].kind {
            LayerKind::Yolo(y) => {
                assert_eq!(y.mask, vec![0, 1]);
                assert_eq!(y.anchors, vec![[10.0, 14.0], [23.0, 27.0], [37.0, 58.0]]);
                assert_eq!((y.classes, y.num, y.scale_x_y), (2, 3, 1.05));
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(
            cfg.layers[5].kind,
            LayerKind::Shortcut {
                from: 2,
                activation: Activation::Linear
            }
        );
        assert_eq!(
            cfg.layers[3].kind,
            LayerKind::Maxpool {
                size: 2,
                stride: 1,
                padding: 1
            }
        );
        match &cfg.layers[2].kind {
            LayerKind::Convolutional(c) => {
                assert_eq!(
                    (c.padding, c.batch_normalize, c.activation),
                    (1, false, Activation::Mish)
                );
            }
            k => panic!("{k:?}"),
        }
    }

    fn err_of(text: &str) -> String {
        DarknetCfg::parse(text, p()).unwrap_err().to_string()
    }

    #[test]
    fn cfg_errors_name_file_and_line() {
        let net = "[net]\nwidth=8\nheight=8\nchannels=3\n";
        let e = err_of(&format!("{net}[convolutional]\nfilters 4\n"));
        assert!(e.starts_with("tiny.cfg:6: expected `key=value`"), "{e}");
        let e = err_of(&format!("{net}[lstm]\n"));
        assert!(e.starts_with("tiny.cfg:5: unknown section [lstm]"), "{e}");
        let e = err_of(&format!("{net}[convolutional]\nactivation=gelu\n"));
        assert!(e.starts_with("tiny.cfg:6:") && e.contains("gelu"), "{e}");
        let e = err_of(&format!("{net}[convolutional]\nfilters=x\n"));
        assert!(e.starts_with("tiny.cfg:6:") && e.contains("`x`"), "{e}");
        let e = err_of(&format!("{net}[route]\nlayers=-3\n"));
        assert!(
            e.starts_with("tiny.cfg:6:") && e.contains("resolves to -3"),
            "{e}"
        );
        let e = err_of(&format!(
            "{net}[convolutional]\nfilters=10\n[yolo]\nmask=0,1\nnum=3\nclasses=2\n"
        ));
        assert!(
            e.starts_with("tiny.cfg:7:") && e.contains("14 expected"),
            "{e}"
        );
        let e = err_of("[convolutional]\nfilters=1\n");
        assert!(
            e.starts_with("tiny.cfg:1: the first section must be [net]"),
            "{e}"
        );
        let e = err_of("width=3\n");
        assert!(e.starts_with("tiny.cfg:1: option before"), "{e}");
    }

    /// A weights file for `cfg` with values 0, 1, 2, ... after the header.
    fn weights_file(cfg: &DarknetCfg, version: [i32; 3], extra: isize) -> Vec<u8> {
        let mut b = Vec::new();
        for v in version {
            b.extend_from_slice(&v.to_le_bytes());
        }
        if version[0] * 10 + version[1] >= 2 {
            b.extend_from_slice(&123_456_789_012u64.to_le_bytes());
        } else {
            b.extend_from_slice(&77u32.to_le_bytes());
        }
        let n = (cfg.weight_count() as isize + extra) as usize;
        for i in 0..n {
            b.extend_from_slice(&(i as f32).to_le_bytes());
        }
        b
    }

    #[test]
    fn weights_split_per_layer_in_darknet_order() {
        let cfg = DarknetCfg::parse(TINY, p()).unwrap();
        // conv0: 4*4 + 4*3*9; conv2: 8 + 8*4*9; conv4: 4*8 + 8*8; conv6: 14 + 14*8.
        let want = (16 + 108) + (8 + 288) + (32 + 64) + (14 + 112);
        assert_eq!(cfg.weight_count(), want);
        let w = DarknetWeights::parse(&weights_file(&cfg, [0, 2, 0], 0), &cfg, p()).unwrap();
        assert_eq!((w.version, w.seen), ([0, 2, 0], 123_456_789_012));
        let c0 = w.layers[0].as_ref().unwrap();
        let bn = c0.batch_norm.as_ref().unwrap();
        assert_eq!(bn.beta, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(bn.gamma, vec![4.0, 5.0, 6.0, 7.0]);
        assert_eq!(bn.mean[0], 8.0);
        assert_eq!(bn.var[3], 15.0);
        assert_eq!(c0.weight_shape, [4, 3, 3, 3]);
        assert_eq!((c0.weight[0], c0.weight.len()), (16.0, 108));
        assert!(c0.bias.is_none());
        assert!(w.layers[1].is_none());
        let c2 = w.layers[2].as_ref().unwrap();
        assert_eq!(c2.bias.as_ref().unwrap()[0], 124.0);
        assert_eq!(c2.weight[0], 132.0);
        assert!(c2.batch_norm.is_none());
        // Old header: 32-bit seen.
        let w = DarknetWeights::parse(&weights_file(&cfg, [0, 1, 0], 0), &cfg, p()).unwrap();
        assert_eq!(w.seen, 77);
        assert_eq!(
            w.layers[0]
                .as_ref()
                .unwrap()
                .batch_norm
                .as_ref()
                .unwrap()
                .beta[1],
            1.0
        );
    }

    #[test]
    fn weights_size_errors_give_expected_and_found() {
        let cfg = DarknetCfg::parse(TINY, p()).unwrap();
        let n = cfg.weight_count();
        let e = DarknetWeights::parse(&weights_file(&cfg, [0, 2, 0], -200), &cfg, p())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{n} floats expected"))
                && e.contains(&format!("{} found", n - 200))
                && e.contains("cfg line"),
            "{e}"
        );
        let e = DarknetWeights::parse(&weights_file(&cfg, [0, 2, 0], 3), &cfg, p())
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("{} found", n + 3)), "{e}");
        let e = DarknetWeights::parse(&[0u8; 10], &cfg, p())
            .unwrap_err()
            .to_string();
        assert!(e.contains("header truncated"), "{e}");
    }

    #[test]
    fn a_garbage_weights_header_major_times_ten_does_not_overflow() {
        // Found by fuzz/darknet: `major * 10 + minor` overflowed i32 on a garbage header.
        let cfg = DarknetCfg::parse(TINY, p()).unwrap();
        let mut b = weights_file(&cfg, [0, 2, 0], 0);
        b[..4].copy_from_slice(&i32::MAX.to_le_bytes());
        // major >= 1000: the old 16-byte header, so the body is 4 bytes longer than the cfg's.
        let e = DarknetWeights::parse(&b, &cfg, p())
            .unwrap_err()
            .to_string();
        assert!(e.contains("floats expected"), "{e}");
        b[..4].copy_from_slice(&(i32::MAX / 9).to_le_bytes());
        assert!(DarknetWeights::parse(&b, &cfg, p()).is_err());
    }

    #[test]
    fn a_yolo_num_of_thousands_is_an_error_not_an_allocation() {
        // Found by fuzz/darknet: `num` anchors were allocated (the default mask) unchecked.
        let cfg = TINY.replace("num=3", "num=5000");
        assert!(cfg.contains("num=5000"));
        let e = DarknetCfg::parse(&cfg, p()).unwrap_err().to_string();
        assert!(e.contains("more than 4096 anchors"), "{e}");
    }

    #[test]
    fn huge_cfg_integers_are_out_of_range_not_an_overflow() {
        // Found by fuzz/darknet: sizes near i64::MAX overflowed the shape arithmetic.
        let cfg = TINY.replace("classes=2", "classes=9223372036854775000");
        let e = DarknetCfg::parse(&cfg, p()).unwrap_err().to_string();
        assert!(
            e.contains("classes: 9223372036854775000 is out of range"),
            "{e}"
        );
        let cfg = TINY.replace("filters=14", "filters=-2000000");
        let e = DarknetCfg::parse(&cfg, p()).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        // Upsampling within the range of each option, past it as an output side.
        let net = "[net]\nwidth=1024\nheight=1024\nchannels=3\n";
        let cfg = format!("{net}[upsample]\nstride=1024\n[upsample]\nstride=1024\n");
        let e = DarknetCfg::parse(&cfg, p()).unwrap_err().to_string();
        assert!(
            e.contains("1048576x1048576 output") || e.contains("pixels a side"),
            "{e}"
        );
    }
}
