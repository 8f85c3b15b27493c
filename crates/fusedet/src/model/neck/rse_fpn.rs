//! RSE-FPN neck of the PP-OCR mobile detectors (PaddleOCR `ppocr/modeling/necks/db_fpn.py`,
//! `RSEFPN`).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::error::ImportError;
use crate::import::{LoadParams, ParamStream};
use crate::model::backbone::lcnet_v3::SqueezeExcite;
use crate::model::fused;
use crate::model::layers::{conv, conv_same_via_1x1};
use crate::profile;

/// `RSELayer`: conv (no bias) → SE, with a residual around the SE.
#[derive(Module, Debug)]
pub struct RseLayer {
    /// The conv.
    pub conv: Conv2d,
    /// Squeeze-excite (slope 0.2).
    pub se: SqueezeExcite,
    /// Residual connection.
    pub shortcut: bool,
}

impl RseLayer {
    fn new(cin: usize, cout: usize, k: usize, shortcut: bool, device: &Device) -> Self {
        Self {
            conv: conv(cin, cout, k, 1, 1, false, device),
            se: SqueezeExcite::new(cout, 0.2, device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv_same_via_1x1(&self.conv, x);
        profile::time("squeeze-excite", || {
            if self.shortcut {
                self.se.forward_residual(x)
            } else {
                self.se.forward(x)
            }
        })
    }
}

impl LoadParams for RseLayer {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        s.load_conv(&mut self.conv, "RSE-FPN conv")?;
        self.se.load_params(s)
    }
}

/// Configuration of [`RseFpn`].
#[derive(Config, Debug)]
pub struct RseFpnConfig {
    /// Channels of C2..C5.
    pub in_channels: [usize; 4],
    /// Fused width (the concatenation of four `out_channels / 4` maps).
    #[config(default = 96)]
    pub out_channels: usize,
    /// Residual connections in the RSE layers.
    #[config(default = true)]
    pub shortcut: bool,
}

/// RSE-FPN neck: top-down FPN with residual squeeze-excite layers; the four levels are
/// upsampled to stride 4 and concatenated as `[P5, P4, P3, P2]`.
#[derive(Module, Debug)]
pub struct RseFpn {
    /// Lateral layers (1x1), for C2..C5.
    pub ins_conv: Vec<RseLayer>,
    /// Output layers (3x3, `out_channels / 4`), for P2..P5.
    pub inp_conv: Vec<RseLayer>,
}

impl RseFpnConfig {
    /// Builds the neck.
    pub fn init(&self, device: &Device) -> RseFpn {
        RseFpn {
            ins_conv: self
                .in_channels
                .iter()
                .map(|&c| RseLayer::new(c, self.out_channels, 1, self.shortcut, device))
                .collect(),
            inp_conv: (0..4)
                .map(|_| {
                    RseLayer::new(
                        self.out_channels,
                        self.out_channels / 4,
                        3,
                        self.shortcut,
                        device,
                    )
                })
                .collect(),
        }
    }
}

impl RseFpn {
    /// # Shapes
    /// - `feats`: C2..C5 at strides 4..32 → `[n, out_channels, H/4, W/4]`.
    ///
    /// # Panics
    /// Panics unless there are four features.
    pub fn forward(&self, feats: Vec<Tensor<4>>) -> Tensor<4> {
        let [c2, c3, c4, c5]: [Tensor<4>; 4] = feats.try_into().expect("four features");
        let in5 = self.ins_conv[3].forward(c5);
        let in4 = self.ins_conv[2].forward(c4);
        let in3 = self.ins_conv[1].forward(c3);
        let in2 = self.ins_conv[0].forward(c2);
        let up_add = |a, b| profile::time("upsample + add", || fused::add_upsampled(a, b, 2));
        let out4 = up_add(in4, in5.clone());
        let out3 = up_add(in3, out4.clone());
        let out2 = up_add(in2, out3.clone());
        let p5 = self.inp_conv[3].forward(in5);
        let p4 = self.inp_conv[2].forward(out4);
        let p3 = self.inp_conv[1].forward(out3);
        let p2 = self.inp_conv[0].forward(out2);
        profile::time("upsample + concat", || {
            fused::cat_upsampled(vec![(p5, 8), (p4, 4), (p3, 2), (p2, 1)])
        })
    }
}

impl LoadParams for RseFpn {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        for l in self.ins_conv.iter_mut().rev() {
            l.load_params(s)?;
        }
        for l in self.inp_conv.iter_mut().rev() {
            l.load_params(s)?;
        }
        Ok(())
    }
}
