//! DBNet++'s Adaptive Scale Fusion (Liao et al., arXiv:2202.10304; MindOCR/DB form: inner width
//! `channels / levels`, channel, spatial and scale attention; attentions are added, the scale
//! weights multiply each level).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::model::layers::conv;

#[derive(Module, Debug)]
pub struct Asf {
    reduce: Conv2d,
    channel1: Conv2d,
    channel2: Conv2d,
    spatial1: Conv2d,
    spatial2: Conv2d,
    scale: Conv2d,
}

impl Asf {
    pub fn new(channels: usize, levels: usize, device: &Device) -> Self {
        let inner = channels / levels;
        Self {
            reduce: conv(channels, inner, 3, 1, 1, true, device),
            channel1: conv(inner, inner / 4, 1, 1, 1, false, device),
            channel2: conv(inner / 4, inner, 1, 1, 1, false, device),
            spatial1: conv(1, 1, 3, 1, 1, false, device),
            spatial2: conv(1, 1, 1, 1, 1, false, device),
            scale: conv(inner, levels, 1, 1, 1, false, device),
        }
    }

    /// `levels` in concat order; returns the re-weighted concat.
    pub fn forward(&self, fused: Tensor<4>, levels: Vec<Tensor<4>>) -> Tensor<4> {
        let r = self.reduce.forward(fused);
        let [n, c, _, _] = r.dims();
        let g = r.clone().mean_dim(3).mean_dim(2).reshape([n, c, 1, 1]);
        let a_c = sigmoid(self.channel2.forward(relu(self.channel1.forward(g))));
        let r = r.add(a_c);
        let m = r.clone().mean_dim(1);
        let a_s = sigmoid(self.spatial2.forward(relu(self.spatial1.forward(m))));
        let a = sigmoid(self.scale.forward(r.add(a_s)));
        let [n, k, h, w] = a.dims();
        let weighted: Vec<Tensor<4>> = levels
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.mul(a.clone().slice([0..n, i..i + 1, 0..h, 0..w])))
            .collect();
        debug_assert_eq!(weighted.len(), k);
        Tensor::cat(weighted, 1)
    }
}
