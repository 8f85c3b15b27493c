//! RetinaNet's feature pyramid (Lin et al., arXiv:1708.02002) as the TextBoxes++ reference
//! builds it (`fpn.py`): 1×1 laterals on C5..C2 (C5..C3 without P2), top-down bilinear
//! upsampling to the lateral's exact size (`align_corners = false`) plus the lateral, a 3×3
//! smoothing convolution after each merge (not on P5), `P6 = conv3×3/2(C5)`,
//! `P7 = conv3×3/2(ReLU(P6))`. Parameter names are the reference's.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::model::layers::conv;

/// The pyramid P2..P7 (or P3..P7).
#[derive(Module, Debug)]
pub struct RetinaFpn {
    conv6: Conv2d,
    conv7: Conv2d,
    latlayer1: Conv2d,
    latlayer2: Conv2d,
    latlayer3: Conv2d,
    latlayer4: Option<Conv2d>,
    toplayer1: Conv2d,
    toplayer2: Conv2d,
    toplayer3: Option<Conv2d>,
}

/// Bilinear resize of `x` to `y`'s size plus `y` (the reference's `_upsample_add`).
fn upsample_add(x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = y.dims();
    let up = burn::tensor::module::interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size([h, w]),
    );
    up.add(y)
}

impl RetinaFpn {
    /// A pyramid of `channels` wide levels on backbone channels C2..C5; P2 when `p2`.
    pub fn new(inputs: [usize; 4], channels: usize, p2: bool, device: &Device) -> Self {
        let c = channels;
        Self {
            conv6: conv(inputs[3], c, 3, 2, 1, true, device),
            conv7: conv(c, c, 3, 2, 1, true, device),
            latlayer1: conv(inputs[3], c, 1, 1, 1, true, device),
            latlayer2: conv(inputs[2], c, 1, 1, 1, true, device),
            latlayer3: conv(inputs[1], c, 1, 1, 1, true, device),
            latlayer4: p2.then(|| conv(inputs[0], c, 1, 1, 1, true, device)),
            toplayer1: conv(c, c, 3, 1, 1, true, device),
            toplayer2: conv(c, c, 3, 1, 1, true, device),
            toplayer3: p2.then(|| conv(c, c, 3, 1, 1, true, device)),
        }
    }

    /// Whether the pyramid starts at P2.
    pub fn has_p2(&self) -> bool {
        self.latlayer4.is_some()
    }

    /// # Shapes
    /// - C2..C5 → P2..P7 (P3..P7 without P2), each `[n, channels, ·, ·]`.
    pub fn forward(&self, feats: Vec<Tensor<4>>) -> Vec<Tensor<4>> {
        let [c2, c3, c4, c5]: [Tensor<4>; 4] = feats.try_into().expect("C2..C5");
        let p6 = self.conv6.forward(c5.clone());
        let p7 = self.conv7.forward(relu(p6.clone()));
        let p5 = self.latlayer1.forward(c5);
        let p4 = self
            .toplayer1
            .forward(upsample_add(p5.clone(), self.latlayer2.forward(c4)));
        let p3 = self
            .toplayer2
            .forward(upsample_add(p4.clone(), self.latlayer3.forward(c3)));
        let mut out = Vec::with_capacity(6);
        if let (Some(lat), Some(top)) = (&self.latlayer4, &self.toplayer3) {
            out.push(top.forward(upsample_add(p3.clone(), lat.forward(c2))));
        }
        out.extend([p3, p4, p5, p6, p7]);
        out
    }
}
