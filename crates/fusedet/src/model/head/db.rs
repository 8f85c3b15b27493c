//! The DB head (DBNet, Liao et al., arXiv:1911.08947; PaddleOCR
//! `ppocr/modeling/heads/det_db_head.py`, MMOCR `DBHead`): a probability branch and a threshold
//! branch of the same shape over the neck's stride-4 features, and the differentiable
//! binarisation B̂ = sigmoid(k (P − T)) used in training. The head owns its loss
//! ([`crate::loss::db_loss`] over [`DbMaps`]) and its post-processor
//! ([`crate::postprocess::db::DbPostProcess`]).

use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::error::ImportError;
use crate::import::{LoadParams, ParamStream};
use crate::model::fused;
use crate::model::layers::{
    conv, conv_same_via_1x1, conv_same_via_1x1_relu, fold_bn_into_conv, fold_bn_into_conv_transpose,
};
use crate::profile;

/// Configuration of [`DbBranch`].
#[derive(Config, Debug)]
pub struct DbBranchConfig {
    /// Input channels (the neck's width).
    pub in_channels: usize,
    /// Amplification factor k of the differentiable binarisation, sigmoid(k (P - T)).
    #[config(default = 50.0)]
    pub k: f64,
}

/// One branch of the DB head: conv3x3 → BN → ReLU → deconv 2x → BN → ReLU →
/// deconv 2x → sigmoid.
#[derive(Module, Debug)]
pub struct DbBranch {
    /// 3x3 conv to `in/4`.
    pub conv1: Conv2d,
    /// BN after conv1.
    pub bn1: BatchNorm,
    /// First 2x deconvolution.
    pub conv2: ConvTranspose2d,
    /// BN after conv2.
    pub bn2: BatchNorm,
    /// Second 2x deconvolution to one channel.
    pub conv3: ConvTranspose2d,
    /// `bn1` / `bn2` are folded into `conv1` / `conv2` (inference).
    #[module(skip)]
    folded: bool,
}

impl DbBranchConfig {
    /// Builds the head.
    pub fn init(&self, device: &Device) -> DbBranch {
        let mid = self.in_channels / 4;
        DbBranch {
            conv1: conv(self.in_channels, mid, 3, 1, 1, false, device),
            bn1: BatchNormConfig::new(mid).init(device),
            conv2: ConvTranspose2dConfig::new([mid, mid], [2, 2])
                .with_stride([2, 2])
                .init(device),
            bn2: BatchNormConfig::new(mid).init(device),
            conv3: ConvTranspose2dConfig::new([mid, 1], [2, 2])
                .with_stride([2, 2])
                .init(device),
            folded: false,
        }
    }
}

impl DbBranch {
    /// # Shapes
    /// - `x`: `[n, in_channels, H/4, W/4]` → probability map `[n, 1, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.folded {
            // Inference: the sigmoid in the last upsampling's pass.
            return self.forward_folded(x, fused::Act::Sigmoid);
        }
        let z = self.forward_logits(x);
        profile::time("sigmoid", || fused::activate(z, fused::Act::Sigmoid))
    }

    /// The map before the sigmoid (training computes the BCE from it).
    pub fn forward_logits(&self, x: Tensor<4>) -> Tensor<4> {
        if self.folded {
            return self.forward_folded(x, fused::Act::Identity);
        }
        let x = conv_same_via_1x1(&self.conv1, x);
        let x = relu(self.bn1.forward(x));
        let x = self.conv2.forward(x);
        let x = relu(self.bn2.forward(x));
        self.conv3.forward(x)
    }

    /// The branch with its batch norms folded, `last` applied in the last layer's pass.
    fn forward_folded(&self, x: Tensor<4>, last: fused::Act) -> Tensor<4> {
        let x = conv_same_via_1x1_relu(&self.conv1, x);
        profile::time("conv transpose 2x2", || {
            let x = fused::conv_transpose(&self.conv2, x, fused::Act::Relu);
            fused::conv_transpose(&self.conv3, x, last)
        })
    }

    /// Folds both batch norms into the preceding convolutions, for inference (same outputs
    /// to float rounding, fewer passes).
    pub fn fold_for_inference(&mut self) {
        if !self.folded {
            fold_bn_into_conv(&mut self.conv1, &self.bn1);
            fold_bn_into_conv_transpose(&mut self.conv2, &self.bn2);
            self.folded = true;
        }
    }
}

impl LoadParams for DbBranch {
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        s.load_conv(&mut self.conv1, "DB head conv1")?;
        s.load_batch_norm(&mut self.bn1, "DB head bn1")?;
        s.load_conv_transpose(&mut self.conv2, "DB head conv2")?;
        s.load_batch_norm(&mut self.bn2, "DB head bn2")?;
        s.load_conv_transpose(&mut self.conv3, "DB head conv3")
    }
}

/// The maps of a training forward pass.
#[derive(Clone, Debug)]
pub struct DbMaps {
    /// Probability map P, `[n, 1, H, W]`.
    pub prob: Tensor<4>,
    /// Threshold map T, `[n, 1, H, W]`.
    pub thresh: Tensor<4>,
    /// Approximate binary map B̂ = sigmoid(k (P − T)), `[n, 1, H, W]`.
    pub binary: Tensor<4>,
    /// P before the sigmoid, `[n, 1, H, W]`, when the model has it: the loss then takes the
    /// BCE from the logits (saturated probabilities have no BCE gradient).
    pub logits: Option<Tensor<4>>,
}

/// The DB head: probability branch, threshold branch (training only; PaddleOCR's inference
/// exports drop it) and the amplification `k`.
#[derive(Module, Debug)]
pub struct DbHead {
    /// Probability branch.
    pub binarize: DbBranch,
    /// Threshold branch.
    pub thresh: Option<DbBranch>,
    k: f64,
}

impl DbHead {
    /// A head over `in_channels` features; `with_thresh` adds the threshold branch.
    pub fn new(in_channels: usize, k: f64, with_thresh: bool, device: &Device) -> Self {
        Self {
            binarize: DbBranchConfig::new(in_channels).init(device),
            thresh: with_thresh.then(|| DbBranchConfig::new(in_channels).init(device)),
            k,
        }
    }

    /// Adds a freshly initialised threshold branch if there is none (imported PP-OCR models
    /// have none). A copy of the probability branch was tried first: its saturated outputs make
    /// T ≈ P, so B̂ ≈ 0.5 everywhere and the dice and L1 terms pulled the shared features apart
    /// (ICDAR 2015 801-1000 hmean fell from 0.434 to 0.223).
    pub fn with_thresh_branch(mut self, device: &Device) -> Self {
        if self.thresh.is_none() {
            let c = self.binarize.conv1.weight.dims()[1];
            self.thresh = Some(DbBranchConfig::new(c).init(device));
        }
        self
    }

    /// k of the differentiable binarisation.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// Inference: the probability map.
    ///
    /// # Shapes
    /// - `x`: `[n, C, H/4, W/4]` → `[n, 1, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.binarize.forward(x)
    }

    /// Training: P, T, B̂ and P's logits.
    ///
    /// # Panics
    /// Without a threshold branch ([`DbHead::with_thresh_branch`]).
    pub fn forward_train(&self, x: Tensor<4>) -> DbMaps {
        let thresh = self
            .thresh
            .as_ref()
            .expect("DbHead::forward_train needs a threshold branch");
        let z = self.binarize.forward_logits(x.clone());
        let p = sigmoid(z.clone());
        let t = thresh.forward(x);
        let b = sigmoid(p.clone().sub(t.clone()).mul_scalar(self.k));
        DbMaps {
            prob: p,
            thresh: t,
            binary: b,
            logits: Some(z),
        }
    }
}

impl LoadParams for DbHead {
    /// The probability branch (what PaddleOCR's inference exports carry).
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        self.binarize.load_params(s)
    }
}
