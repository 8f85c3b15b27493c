//! Darknet networks (the YOLOv3 family: Darknet-53 / yolov3-tiny backbones, the YOLOv3 and
//! SPP necks and the `[yolo]` heads) as fusedet's own Burn modules, built layer for layer from
//! a parsed `.cfg` ([`crate::import::darknet::DarknetCfg`]) and loaded from a `.weights` file.
//!
//! Every `[convolutional]` becomes a [`DarknetConv`] (convolution, batch norm, activation);
//! `[route]`, `[shortcut]`, `[upsample]`, `[maxpool]` are computed in
//! [`DarknetNet::forward`] from the layer list, as Darknet's `forward_network` does. The
//! outputs are the raw inputs of the `[yolo]` layers, decoded by [`crate::postprocess::yolo`].
//!
//! Darknet's batch norm divides by `sqrt(var) + 1e-6` (`normalize_cpu`), not
//! `sqrt(var + eps)`; imported variances are stored as `(sqrt(var) + 1e-6)^2 - 1e-12` with
//! epsilon `1e-12`, which is the same map.

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, mish, relu, sigmoid, silu, softmax};

use crate::import::darknet::{
    Activation, ConvWeights, DarknetCfg, DarknetError, DarknetWeights, LayerKind, Yolo,
};
use crate::model::fused::upsample_nearest;

/// Darknet's batch-norm epsilon, folded into the imported variance (see the module doc).
const BN_EPSILON: f64 = 1e-12;

fn activate(x: Tensor<4>, a: Activation) -> Tensor<4> {
    match a {
        Activation::Leaky => leaky_relu(x, 0.1),
        Activation::Linear => x,
        Activation::Mish => mish(x),
        Activation::Swish => silu(x),
        Activation::Logistic => sigmoid(x),
        Activation::Relu => relu(x),
    }
}

/// One `[convolutional]` layer: convolution (bias only without batch norm), batch norm,
/// activation.
#[derive(Module, Debug)]
pub struct DarknetConv {
    /// The convolution.
    pub conv: Conv2d,
    /// Batch norm (`batch_normalize=1`).
    pub bn: Option<BatchNorm>,
    #[module(skip)]
    activation: Activation,
}

impl DarknetConv {
    /// # Shapes
    /// - `x`: `[n, c, h, w]` → `[n, filters, h', w']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        let y = match &self.bn {
            Some(bn) => bn.forward(y),
            None => y,
        };
        activate(y, self.activation)
    }

    fn load(&mut self, w: &ConvWeights, device: &Device) {
        let t1 = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
        self.conv.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(w.weight.clone(), w.weight_shape),
            device,
        ));
        if let Some(b) = &w.bias {
            self.conv.bias = Some(Param::from_tensor(t1(b)));
        }
        if let (Some(bn), Some(p)) = (&mut self.bn, &w.batch_norm) {
            let var: Vec<f32> = p
                .var
                .iter()
                .map(|&v| {
                    let s = f64::from(v.max(0.0)).sqrt() + 1e-6;
                    (s * s - BN_EPSILON) as f32
                })
                .collect();
            bn.gamma = Param::from_tensor(t1(&p.gamma));
            bn.beta = Param::from_tensor(t1(&p.beta));
            bn.running_mean = RunningState::new(t1(&p.mean));
            bn.running_var = RunningState::new(t1(&var));
            bn.epsilon = BN_EPSILON;
        }
    }
}

/// A `[yolo]` level's raw output with what decoding it needs.
#[derive(Clone, Debug)]
pub struct YoloOutput {
    /// `[n, anchors * (5 + classes), h, w]`, before any activation.
    pub raw: Tensor<4>,
    /// The level's `[yolo]` section (anchors, mask, classes, `scale_x_y`).
    pub layer: Yolo,
}

/// A Darknet network built from its cfg.
#[derive(Module, Debug)]
pub struct DarknetNet {
    /// One per `[convolutional]`, in cfg order.
    pub convs: Vec<DarknetConv>,
    /// One per `[maxpool]`, in cfg order.
    pools: Vec<MaxPool2d>,
    #[module(skip)]
    cfg: DarknetCfg,
    /// Layers whose output a later `[route]` / `[shortcut]` reads.
    #[module(skip)]
    kept: Vec<bool>,
}

impl DarknetNet {
    /// Builds the network of `cfg` with freshly initialised weights.
    pub fn new(cfg: &DarknetCfg, device: &Device) -> Self {
        let mut convs = Vec::new();
        let mut pools = Vec::new();
        let mut kept = vec![false; cfg.layers.len()];
        for l in &cfg.layers {
            match &l.kind {
                LayerKind::Convolutional(c) => {
                    let p = c.padding;
                    let conv = burn::nn::conv::Conv2dConfig::new(
                        [l.input[0], c.filters],
                        [c.size, c.size],
                    )
                    .with_stride([c.stride, c.stride])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .with_groups(c.groups)
                    .with_bias(!c.batch_normalize)
                    .init(device);
                    convs.push(DarknetConv {
                        conv,
                        bn: c
                            .batch_normalize
                            .then(|| BatchNormConfig::new(c.filters).init(device)),
                        activation: c.activation,
                    });
                }
                LayerKind::Maxpool {
                    size,
                    stride,
                    padding,
                } => {
                    let (a, b) = (padding / 2, padding - padding / 2);
                    pools.push(
                        MaxPool2dConfig::new([*size, *size])
                            .with_strides([*stride, *stride])
                            .with_padding(PaddingConfig2d::Explicit(a, a, b, b))
                            .init(),
                    );
                }
                LayerKind::Route { layers, .. } => {
                    for &r in layers {
                        kept[r] = true;
                    }
                }
                LayerKind::Shortcut { from, .. } => kept[*from] = true,
                _ => {}
            }
        }
        Self {
            convs,
            pools,
            cfg: cfg.clone(),
            kept,
        }
    }

    /// Builds the network of `cfg` and loads `weights` (read for the same cfg).
    pub fn from_weights(
        cfg: &DarknetCfg,
        weights: &DarknetWeights,
        device: &Device,
    ) -> Result<Self, DarknetError> {
        let mut net = Self::new(cfg, device);
        let mut convs = net.convs.iter_mut();
        for w in weights.layers.iter().flatten() {
            // `DarknetWeights::parse` checked the sizes against this cfg.
            if let Some(c) = convs.next() {
                c.load(w, device);
            }
        }
        Ok(net)
    }

    /// The cfg the network was built from.
    pub fn cfg(&self) -> &DarknetCfg {
        &self.cfg
    }

    /// Runs the network; returns the raw input of every `[yolo]` layer, in cfg order, and for
    /// a classifier (no `[yolo]`) the last layer's output with an empty `[yolo]` description.
    ///
    /// # Shapes
    /// - `x`: `[n, channels, height, width]` of the cfg (other sizes divisible by the total
    ///   stride also work).
    pub fn forward(&self, x: Tensor<4>) -> Vec<YoloOutput> {
        let mut saved: Vec<Option<Tensor<4>>> = vec![None; self.cfg.layers.len()];
        let mut outs = Vec::new();
        let (mut ci, mut pi) = (0, 0);
        let mut cur = x;
        for (i, l) in self.cfg.layers.iter().enumerate() {
            let saved_ref = &saved;
            let get = |j: usize| {
                saved_ref[j]
                    .clone()
                    .expect("a routed layer's output is kept")
            };
            cur = match &l.kind {
                LayerKind::Convolutional(_) => {
                    ci += 1;
                    self.convs[ci - 1].forward(cur)
                }
                LayerKind::Maxpool { .. } => {
                    pi += 1;
                    self.pools[pi - 1].forward(cur)
                }
                LayerKind::Upsample { stride } => upsample_nearest(cur, *stride),
                LayerKind::Shortcut { from, activation } => {
                    activate(cur.add(get(*from)), *activation)
                }
                LayerKind::Route {
                    layers,
                    groups,
                    group_id,
                } => {
                    let parts: Vec<Tensor<4>> = layers
                        .iter()
                        .map(|&r| {
                            let t = get(r);
                            if *groups == 1 {
                                return t;
                            }
                            let [n, c, h, w] = t.dims();
                            let g = c / groups;
                            t.slice([0..n, group_id * g..(group_id + 1) * g, 0..h, 0..w])
                        })
                        .collect();
                    if parts.len() == 1 {
                        parts.into_iter().next().expect("one part")
                    } else {
                        Tensor::cat(parts, 1)
                    }
                }
                LayerKind::Avgpool => {
                    let [n, c, h, w] = cur.dims();
                    cur.reshape([n, c, h * w]).mean_dim(2).reshape([n, c, 1, 1])
                }
                LayerKind::Softmax { .. } => softmax(cur, 1),
                LayerKind::Yolo(y) => {
                    outs.push(YoloOutput {
                        raw: cur.clone(),
                        layer: y.clone(),
                    });
                    cur
                }
            };
            if self.kept[i] {
                saved[i] = Some(cur.clone());
            }
        }
        if outs.is_empty() {
            outs.push(YoloOutput {
                raw: cur,
                layer: Yolo {
                    mask: Vec::new(),
                    anchors: Vec::new(),
                    classes: 0,
                    num: 0,
                    scale_x_y: 1.0,
                    ignore_thresh: 0.5,
                    truth_thresh: 1.0,
                    jitter: 0.0,
                    random: false,
                },
            });
        }
        outs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(text: &str) -> DarknetCfg {
        DarknetCfg::parse(text, Path::new("t.cfg")).unwrap()
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    /// The weights file of `cfg` with values 0, 1, 2, ... scaled by `s`, and the header.
    fn weights_bytes(cfg: &DarknetCfg, s: f32) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [0i32, 2, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&0u64.to_le_bytes());
        for i in 0..cfg.weight_count() {
            b.extend_from_slice(&((i % 7) as f32 * s + 0.5).to_le_bytes());
        }
        b
    }

    #[test]
    fn maxpool_pads_bottom_right_like_darknet() {
        // yolov3-tiny's size=2 stride=1 maxpool keeps the size and pads only after.
        let c = cfg("[net]\nwidth=3\nheight=3\nchannels=1\n[maxpool]\nsize=2\nstride=1\n");
        let net = DarknetNet::new(&c, &Device::default());
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![-1.0f32, -5.0, -3.0, -4.0, -2.0, -6.0, -7.0, -8.0, -9.0],
                [1, 1, 3, 3],
            ),
            &Device::default(),
        );
        let y = net.forward(x).remove(0).raw;
        assert_eq!(y.dims(), [1, 1, 3, 3]);
        // Out-of-image taps never win, even over negative values.
        assert_eq!(
            values(y),
            vec![-1.0, -2.0, -3.0, -2.0, -2.0, -6.0, -7.0, -8.0, -9.0]
        );
    }

    #[test]
    fn routes_shortcuts_and_groups_follow_the_cfg() {
        let text = "[net]\nwidth=4\nheight=4\nchannels=2\n\
            [convolutional]\nfilters=4\nsize=1\nstride=1\npad=0\nactivation=linear\n\
            [route]\nlayers=-1\ngroups=2\ngroup_id=1\n\
            [shortcut]\nfrom=-1\nactivation=leaky\n\
            [maxpool]\nsize=2\nstride=2\n\
            [upsample]\nstride=2\n\
            [route]\nlayers=-1,1\n";
        let c = cfg(text);
        let device = Device::default();
        let w = DarknetWeights::parse(&weights_bytes(&c, 1.0), &c, Path::new("t.weights")).unwrap();
        let net = DarknetNet::from_weights(&c, &w, &device).unwrap();
        let x = Tensor::<4>::random([1, 2, 4, 4], burn::tensor::Distribution::Default, &device);
        let y = net.forward(x.clone()).remove(0).raw;
        assert_eq!(y.dims(), [1, 4, 4, 4]);
        // By hand: the conv's second half of channels (layer 1), doubled by the shortcut, leaky;
        // pooled 2x2, upsampled, concatenated with layer 1.
        let conv = &net.convs[0].conv;
        let z = conv.forward(x);
        let half = z.slice([0..1, 2..4, 0..4, 0..4]);
        let half_again = half.clone();
        let s = leaky_relu(half.clone().add(half), 0.1);
        let pooled = burn::tensor::module::max_pool2d(
            s.clone(),
            burn::tensor::ops::MaxPoolOptions::new([2, 2]).with_stride([2, 2]),
        );
        let want = Tensor::cat(vec![upsample_nearest(pooled, 2), half_again], 1);
        let d = (y - want).abs().max().into_scalar::<f32>();
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn batch_norm_divides_by_sqrt_var_plus_1e6_as_darknet_does() {
        let text = "[net]\nwidth=1\nheight=1\nchannels=1\n\
            [convolutional]\nbatch_normalize=1\nfilters=1\nsize=1\nstride=1\npad=0\nactivation=linear\n";
        let c = cfg(text);
        let mut b = Vec::new();
        for v in [0i32, 2, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&0u64.to_le_bytes());
        // beta, gamma, mean, var, weight
        for v in [0.25f32, 2.0, 1.0, 4e-6, 3.0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let w = DarknetWeights::parse(&b, &c, Path::new("t.weights")).unwrap();
        let net = DarknetNet::from_weights(&c, &w, &Device::default()).unwrap();
        let x = Tensor::<4>::ones([1, 1, 1, 1], &Device::default());
        let y = values(net.forward(x).remove(0).raw)[0];
        let want = ((3.0f64 - 1.0) / ((4e-6f64).sqrt() + 1e-6) * 2.0 + 0.25) as f32;
        assert!((y - want).abs() <= want.abs() * 1e-5, "{y} vs {want}");
    }

    #[test]
    fn yolo_outputs_keep_their_layer_description() {
        let text = "[net]\nwidth=8\nheight=8\nchannels=3\n\
            [convolutional]\nfilters=14\nsize=1\nstride=2\npad=1\nactivation=linear\n\
            [yolo]\nmask=0,1\nanchors=1,2,3,4,5,6\nclasses=2\nnum=3\n\
            [route]\nlayers=-2\n\
            [upsample]\nstride=2\n\
            [yolo]\nmask=2\nanchors=1,2,3,4,5,6\nclasses=9\nnum=3\n";
        let net = DarknetNet::new(&cfg(text), &Device::default());
        let outs = net.forward(Tensor::zeros([2, 3, 8, 8], &Device::default()));
        assert_eq!(outs.len(), 2);
        assert_eq!(outs[0].raw.dims(), [2, 14, 4, 4]);
        assert_eq!(outs[0].layer.mask, vec![0, 1]);
        assert_eq!(outs[1].raw.dims(), [2, 14, 8, 8]);
        assert_eq!(outs[1].layer.classes, 9);
    }
}
