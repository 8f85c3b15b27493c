//! MobileNetV3-Large backbone for DBNet (SPEC §1.2; MindOCR `det_mobilenet.py` on mindcv's
//! `mobilenet_v3.py`): width multiplier α (0.5 in `db_mobilenetv3_icdar15`), every block with
//! an expansion conv (`always_expand`), SE "V2" (avg-pool → 1x1 reduce → ReLU → 1x1 expand →
//! hard-sigmoid), features after blocks 2, 5, 11 and the final 1x1 conv (strides 4, 8, 16, 32).
//! Howard et al., arXiv:1905.02244.
//!
//! [`MobileNetLayout::Torchvision`] builds torchvision's `mobilenet_v3_large` instead (no
//! expansion conv where exp == in, BatchNorm eps 1e-3), so its ImageNet weights load by name.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::activation::{hard_sigmoid, hard_swish, relu};

use crate::model::layers::{conv, make_divisible};

/// MobileNetV3-Large blocks: (kernel, expansion, out, squeeze-excite, hard-swish, stride).
const LARGE: [(usize, usize, usize, bool, bool, usize); 15] = [
    (3, 16, 16, false, false, 1),
    (3, 64, 24, false, false, 2),
    (3, 72, 24, false, false, 1),
    (5, 72, 40, true, false, 2),
    (5, 120, 40, true, false, 1),
    (5, 120, 40, true, false, 1),
    (3, 240, 80, false, true, 2),
    (3, 200, 80, false, true, 1),
    (3, 184, 80, false, true, 1),
    (3, 184, 80, false, true, 1),
    (3, 480, 112, true, true, 1),
    (3, 672, 112, true, true, 1),
    (5, 672, 160, true, true, 2),
    (5, 960, 160, true, true, 1),
    (5, 960, 160, true, true, 1),
];

/// Blocks after which a feature map is taken (features indices 5, 8, 14).
const TAPS: [usize; 3] = [2, 5, 11];

/// Which published MobileNetV3-Large the layers follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MobileNetLayout {
    /// MindOCR / mindcv (`always_expand: True`, BatchNorm eps 1e-5).
    #[default]
    Mindcv,
    /// torchvision (`features.N.block.J`; expansion only where exp != in, eps 1e-3).
    Torchvision,
}

/// Squeeze-and-excite (mindcv `SqueezeExciteV2`).
#[derive(Module, Debug)]
pub struct SqueezeExcite {
    reduce: Conv2d,
    expand: Conv2d,
}

impl SqueezeExcite {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, _, _] = x.dims();
        let g = x.clone().mean_dim(3).mean_dim(2).reshape([n, c, 1, 1]);
        let a = self.expand.forward(relu(self.reduce.forward(g)));
        x.mul(hard_sigmoid(a, 1.0 / 6.0, 0.5))
    }
}

/// Inverted residual block.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    /// 1x1 expansion conv and its BatchNorm (absent where torchvision has none).
    expand: Option<(Conv2d, BatchNorm)>,
    depthwise: Conv2d,
    depthwise_bn: BatchNorm,
    se: Option<SqueezeExcite>,
    project: Conv2d,
    project_bn: BatchNorm,
    hswish: bool,
    residual: bool,
}

impl InvertedResidual {
    fn act(&self, x: Tensor<4>) -> Tensor<4> {
        if self.hswish { hard_swish(x) } else { relu(x) }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = match &self.expand {
            Some((conv, bn)) => self.act(bn.forward(conv.forward(x.clone()))),
            None => x.clone(),
        };
        let mut y = self.act(self.depthwise_bn.forward(self.depthwise.forward(y)));
        if let Some(se) = &self.se {
            y = se.forward(y);
        }
        let y = self.project_bn.forward(self.project.forward(y));
        if self.residual { y.add(x) } else { y }
    }
}

/// The backbone.
#[derive(Module, Debug)]
pub struct MobileNetV3 {
    stem: Conv2d,
    stem_bn: BatchNorm,
    blocks: Vec<InvertedResidual>,
    last: Conv2d,
    last_bn: BatchNorm,
}

/// Channels of the four feature maps for width `alpha` ([16, 24, 56, 480] at 0.5).
pub fn out_channels(alpha: f64) -> [usize; 4] {
    let ch = |v: usize| make_divisible(v as f64 * alpha, 8);
    let last = ch(LARGE[14].2);
    [
        ch(LARGE[TAPS[0]].2),
        ch(LARGE[TAPS[1]].2),
        ch(LARGE[TAPS[2]].2),
        last * 6,
    ]
}

impl MobileNetV3 {
    /// MobileNetV3-Large with width multiplier `alpha`, fresh weights.
    pub fn new(alpha: f64, layout: MobileNetLayout, device: &Device) -> Self {
        let ch = |v: usize| make_divisible(v as f64 * alpha, 8);
        let eps = match layout {
            MobileNetLayout::Mindcv => 1e-5,
            MobileNetLayout::Torchvision => 1e-3,
        };
        let bn = |c: usize| BatchNormConfig::new(c).with_epsilon(eps).init(device);
        let stem_c = ch(16);
        let mut cin = stem_c;
        let mut blocks = Vec::new();
        for &(k, exp, out, se, hs, stride) in &LARGE {
            let (e, o) = (ch(exp), ch(out));
            let expand = layout == MobileNetLayout::Mindcv || e != cin;
            blocks.push(InvertedResidual {
                expand: expand.then(|| (conv(cin, e, 1, 1, 1, false, device), bn(e))),
                depthwise: conv(e, e, k, stride, e, false, device),
                depthwise_bn: bn(e),
                se: se.then(|| {
                    let r = make_divisible(e as f64 / 4.0, 8);
                    SqueezeExcite {
                        reduce: conv(e, r, 1, 1, 1, true, device),
                        expand: conv(r, e, 1, 1, 1, true, device),
                    }
                }),
                project: conv(e, o, 1, 1, 1, false, device),
                project_bn: bn(o),
                hswish: hs,
                residual: stride == 1 && cin == o,
            });
            cin = o;
        }
        Self {
            stem: conv(3, stem_c, 3, 2, 1, false, device),
            stem_bn: bn(stem_c),
            blocks,
            last: conv(cin, cin * 6, 1, 1, 1, false, device),
            last_bn: bn(cin * 6),
        }
    }

    /// The layout the layers were built in.
    pub fn layout(&self) -> MobileNetLayout {
        match self.blocks.first().map(|b| b.expand.is_some()) {
            Some(true) => MobileNetLayout::Mindcv,
            _ => MobileNetLayout::Torchvision,
        }
    }

    /// Key renames from torchvision's `mobilenet_v3_large` state dict to these fields
    /// (regex, replacement), for the layout actually built.
    pub fn torchvision_keys(&self) -> Vec<(String, String)> {
        let mut keys = vec![
            (r"^features\.0\.0\.".to_string(), "stem.".to_string()),
            (r"^features\.0\.1\.".to_string(), "stem_bn.".to_string()),
        ];
        let last = self.blocks.len() + 1;
        keys.push((format!(r"^features\.{last}\.0\."), "last.".into()));
        keys.push((format!(r"^features\.{last}\.1\."), "last_bn.".into()));
        for (i, b) in self.blocks.iter().enumerate() {
            let from = |j: usize, tail: &str| format!(r"^features\.{}\.block\.{j}\.{tail}", i + 1);
            let to = |field: &str| format!("blocks.{i}.{field}.");
            let mut j = 0;
            if b.expand.is_some() {
                keys.push((from(j, r"0\."), to("expand.0")));
                keys.push((from(j, r"1\."), to("expand.1")));
                j += 1;
            }
            keys.push((from(j, r"0\."), to("depthwise")));
            keys.push((from(j, r"1\."), to("depthwise_bn")));
            j += 1;
            if b.se.is_some() {
                keys.push((from(j, r"fc1\."), to("se.reduce")));
                keys.push((from(j, r"fc2\."), to("se.expand")));
                j += 1;
            }
            keys.push((from(j, r"0\."), to("project")));
            keys.push((from(j, r"1\."), to("project_bn")));
        }
        keys
    }

    /// # Shapes
    /// - `x`: `[n, 3, H, W]` (multiples of 32) → four maps at strides 4, 8, 16, 32.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = hard_swish(self.stem_bn.forward(self.stem.forward(x)));
        let mut out = Vec::with_capacity(4);
        for (i, b) in self.blocks.iter().enumerate() {
            x = b.forward(x);
            if TAPS.contains(&i) {
                out.push(x.clone());
            }
        }
        out.push(hard_swish(self.last_bn.forward(self.last.forward(x))));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_follow_the_spec() {
        assert_eq!(out_channels(0.5), [16, 24, 56, 480]);
        assert_eq!(out_channels(1.0), [24, 40, 112, 960]);
        assert_eq!(make_divisible(8.0, 8), 8);
        assert_eq!(make_divisible(36.0, 8), 40);
        assert_eq!(make_divisible(60.0, 8), 64);
    }

    #[test]
    fn features_have_strides_4_to_32() {
        let device = Device::default();
        let m = MobileNetV3::new(0.5, MobileNetLayout::Mindcv, &device);
        let f = m.forward(Tensor::zeros([1, 3, 64, 96], &device));
        let dims: Vec<[usize; 4]> = f.iter().map(|t| t.dims()).collect();
        assert_eq!(
            dims,
            vec![
                [1, 16, 16, 24],
                [1, 24, 8, 12],
                [1, 56, 4, 6],
                [1, 480, 2, 3]
            ]
        );
    }
}
