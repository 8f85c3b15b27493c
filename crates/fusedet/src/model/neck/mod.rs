//! Necks: C2..C5 in, one fused stride-4 feature map out.
//!
//! [`NeckSpec`] is the `[model.neck]` table of a recipe (tagged by `type`); [`Neck`] is the
//! built module.

pub mod asf;
pub mod fpn;
pub mod rse_fpn;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use asf::Asf;
pub use fpn::DbFpn;
pub use rse_fpn::{RseFpn, RseFpnConfig};

use crate::error::ImportError;
use crate::import::{LoadParams, ParamStream};

fn d_fpnc_channels() -> usize {
    256
}
fn d_rse_channels() -> usize {
    96
}
fn d_true() -> bool {
    true
}

/// The `[model.neck]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum NeckSpec {
    /// DBFPN (MMOCR `FPNC`), with DBNet++'s Adaptive Scale Fusion when `asf`.
    Fpnc {
        /// Output width (256 in DBNet).
        #[serde(default = "d_fpnc_channels")]
        channels: usize,
        /// DBNet++ Adaptive Scale Fusion.
        #[serde(default)]
        asf: bool,
    },
    /// RSE-FPN (PP-OCRv4/v5 mobile).
    RseFpn {
        /// Output width (96 in PP-OCR mobile).
        #[serde(default = "d_rse_channels")]
        channels: usize,
        /// Residual connections around the squeeze-excite layers.
        #[serde(default = "d_true")]
        shortcut: bool,
    },
}

impl Default for NeckSpec {
    fn default() -> Self {
        Self::Fpnc {
            channels: 256,
            asf: false,
        }
    }
}

impl NeckSpec {
    /// Width of the fused output.
    pub fn out_channels(&self) -> usize {
        match self {
            Self::Fpnc { channels, .. } | Self::RseFpn { channels, .. } => *channels,
        }
    }

    /// A problem with the values, as `(key, reason)`.
    pub fn check(&self) -> Option<(&'static str, String)> {
        let c = self.out_channels();
        (c == 0 || !c.is_multiple_of(16)).then(|| {
            (
                "channels",
                format!("must be a positive multiple of 16, not {c}"),
            )
        })
    }

    /// Builds the neck for backbone channels `inputs` with fresh weights.
    pub fn init(&self, inputs: [usize; 4], device: &Device) -> Neck {
        match self {
            Self::Fpnc { channels, asf } => Neck::Fpnc(DbFpn::new(inputs, *channels, *asf, device)),
            Self::RseFpn { channels, shortcut } => Neck::RseFpn(
                RseFpnConfig::new(inputs)
                    .with_out_channels(*channels)
                    .with_shortcut(*shortcut)
                    .init(device),
            ),
        }
    }
}

/// A built neck.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per model
pub enum Neck {
    /// DBFPN (+ ASF).
    Fpnc(DbFpn),
    /// RSE-FPN.
    RseFpn(RseFpn),
}

impl Neck {
    /// # Shapes
    /// - C2..C5 → `[n, channels, H/4, W/4]`.
    pub fn forward(&self, feats: Vec<Tensor<4>>) -> Tensor<4> {
        match self {
            Self::Fpnc(m) => m.forward(feats),
            Self::RseFpn(m) => m.forward(feats),
        }
    }
}

impl LoadParams for Neck {
    /// Only RSE-FPN comes from ONNX exports (PP-OCR).
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        match self {
            Self::RseFpn(m) => m.load_params(s),
            Self::Fpnc(_) => Err(s.unsupported(
                "neck",
                "ONNX import reads PP-OCR models: the neck must be `rse_fpn`",
            )),
        }
    }
}
