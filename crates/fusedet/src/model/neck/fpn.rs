//! DBFPN (MMOCR `FPNC`): 1x1 laterals, top-down nearest-neighbour sum, 3x3 smoothing to a
//! quarter of the width per level, upsampled to stride 4 and concatenated as [P5, P4, P3, P2];
//! with DBNet++'s [`Asf`] when `asf` is on. DBNet, arXiv:1911.08947.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::asf::Asf;
use crate::model::fused::upsample_nearest;
use crate::model::layers::{conv, conv_same_via_1x1};

/// DBFPN: 1x1 laterals to 256, top-down nearest-neighbour sum, 3x3 smoothing to 64 per level,
/// upsampled and concatenated as [P5, P4, P3, P2] (+ ASF for DBNet++).
#[derive(Module, Debug)]
pub struct DbFpn {
    lateral: Vec<Conv2d>,
    smooth: Vec<Conv2d>,
    asf: Option<Asf>,
}

impl DbFpn {
    /// Builds the neck for backbone channels `inputs` (C2..C5), `out` = 256 in all configs.
    pub fn new(inputs: [usize; 4], out: usize, use_asf: bool, device: &Device) -> Self {
        Self {
            lateral: inputs
                .iter()
                .map(|&c| conv(c, out, 1, 1, 1, false, device))
                .collect(),
            smooth: (0..4)
                .map(|_| conv(out, out / 4, 3, 1, 1, false, device))
                .collect(),
            asf: use_asf.then(|| Asf::new(out, 4, device)),
        }
    }

    /// # Shapes
    /// - C2..C5 → `[n, out, H/4, W/4]`.
    pub fn forward(&self, feats: Vec<Tensor<4>>) -> Tensor<4> {
        let mut l: Vec<Tensor<4>> = self
            .lateral
            .iter()
            .zip(feats)
            .map(|(c, f)| c.forward(f))
            .collect();
        for i in (0..3).rev() {
            let up = upsample_nearest(l[i + 1].clone(), 2);
            l[i] = l[i].clone().add(up);
        }
        let p: Vec<Tensor<4>> = self
            .smooth
            .iter()
            .zip(l)
            .enumerate()
            .map(|(i, (c, x))| upsample_nearest(conv_same_via_1x1(c, x), 1 << i))
            .collect();
        let levels = vec![p[3].clone(), p[2].clone(), p[1].clone(), p[0].clone()];
        let fused = Tensor::cat(levels.clone(), 1);
        match &self.asf {
            Some(asf) => asf.forward(fused, levels),
            None => fused,
        }
    }
}
