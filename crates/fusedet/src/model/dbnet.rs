//! DBNet, DBNet++ and the PP-OCR mobile detectors as one model: backbone + neck + DB head
//! (MMOCR's decomposition). DBNet: Liao et al., arXiv:1911.08947; DBNet++: arXiv:2202.10304.
//!
//! - DBNet: ResNet-18/50 or MobileNetV3 + `fpnc` + DB head;
//! - DBNet++: the same with `asf = true` in the neck;
//! - PP-OCRv4/v5 mobile det: PP-LCNetV3 + RSE-FPN + DB head ([`DbNetSpec::ppocr_mobile`]),
//!   whose weights are imported from PaddleOCR's ONNX exports.

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::backbone::{Backbone, BackboneSpec};
use super::head::{DbHead, DbMaps};
use super::neck::{Neck, NeckSpec};
use crate::error::{ConfigError, ImportError};
use crate::import::{LoadParams, ParamStream};

/// The `[model.head]` table of a DBNet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbHeadSpec {
    /// k of the differentiable binarisation `sigmoid(k (P − T))`.
    pub k: f64,
}

impl Default for DbHeadSpec {
    fn default() -> Self {
        Self { k: 50.0 }
    }
}

/// A DBNet recipe's `[model]` section (with `arch = "dbnet"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DbNetSpec {
    /// `[model.backbone]`.
    pub backbone: BackboneSpec,
    /// `[model.neck]`.
    pub neck: NeckSpec,
    /// `[model.head]`.
    pub head: DbHeadSpec,
    /// Initial weights of the whole detector: a model name from `fusedet models list` or a
    /// PP-OCR ONNX file (needs `lcnet_v3` + `rse_fpn`). Fresh weights when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<String>,
    /// Keep every batch norm in inference mode while training (MMCV's `norm_eval`): the
    /// running statistics stay as loaded, γ and β still learn. For fine-tuning pretrained
    /// weights on small batches.
    pub norm_eval: bool,
}

impl DbNetSpec {
    /// PP-OCRv4 / PP-OCRv5 mobile det: PP-LCNetV3 x0.75 + RSE-FPN 96 + DB head.
    pub fn ppocr_mobile() -> Self {
        Self {
            backbone: BackboneSpec::LcnetV3 { scale: 0.75 },
            neck: NeckSpec::RseFpn {
                channels: 96,
                shortcut: true,
            },
            ..Self::default()
        }
    }

    /// Checks values serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some((key, reason)) = self.backbone.check() {
            return Err(ConfigError::invalid(
                format!("model.backbone.{key}"),
                reason,
            ));
        }
        if let Some((key, reason)) = self.neck.check() {
            return Err(ConfigError::invalid(format!("model.neck.{key}"), reason));
        }
        if !(self.head.k > 0.0 && self.head.k.is_finite()) {
            return Err(ConfigError::invalid("model.head.k", "must be positive"));
        }
        let ppocr = matches!(self.backbone, BackboneSpec::LcnetV3 { .. })
            && matches!(self.neck, NeckSpec::RseFpn { .. });
        if self.pretrained.is_some() && !ppocr {
            return Err(ConfigError::invalid(
                "model.pretrained",
                "imports PP-OCR detectors: it needs backbone `lcnet_v3` and neck `rse_fpn` \
                 (ImageNet backbone weights go in model.backbone.weights)",
            ));
        }
        Ok(())
    }
}

/// A DB-family detector.
#[derive(Module, Debug)]
pub struct DbNet {
    /// Backbone.
    pub backbone: Backbone,
    /// Neck.
    pub neck: Neck,
    /// Head.
    pub head: DbHead,
}

impl DbNet {
    /// Builds the model with fresh weights; `with_thresh` adds the threshold branch (training).
    pub fn new(spec: &DbNetSpec, with_thresh: bool, device: &Device) -> Self {
        let backbone = spec.backbone.init(device);
        let neck = spec.neck.init(spec.backbone.out_channels(), device);
        let head = DbHead::new(spec.neck.out_channels(), spec.head.k, with_thresh, device);
        Self {
            backbone,
            neck,
            head,
        }
    }

    /// Folds batch norms and affines into the preceding convolutions where the layers allow
    /// (PP-LCNetV3's stem and rep convs, the DB head), for inference only: the maps stay equal
    /// to float rounding and take fewer passes over the activations.
    pub fn fold_for_inference(&mut self) {
        if let crate::model::Backbone::LcNetV3(b) = &mut self.backbone {
            b.fold_for_inference();
        }
        self.head.binarize.fold_for_inference();
    }

    /// Inference: the probability map.
    ///
    /// # Shapes
    /// - `x`: normalised image `[n, 3, H, W]`, H and W multiples of 32 → `[n, 1, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.head
            .forward(self.neck.forward(self.backbone.forward(x)))
    }

    /// Training: P, T, B̂ and P's logits.
    ///
    /// # Panics
    /// Without a threshold branch.
    ///
    /// # Shapes
    /// - `x`: `[n, 3, H, W]` → four `[n, 1, H, W]` maps.
    pub fn forward_train(&self, x: Tensor<4>) -> DbMaps {
        self.head
            .forward_train(self.neck.forward(self.backbone.forward(x)))
    }
}

impl LoadParams for DbNet {
    /// A PaddleOCR ONNX export: backbone, neck and the probability branch, in graph order.
    fn load_params(&mut self, s: &mut ParamStream) -> Result<(), ImportError> {
        self.backbone.load_params(s)?;
        self.neck.load_params(s)?;
        self.head.load_params(s)?;
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::backbone::ResNetDepth;
    use burn::tensor::activation::sigmoid;

    #[test]
    fn resnet_stages_have_the_spec_channels_and_strides() {
        let device = Device::default();
        for depth in [ResNetDepth::R18, ResNetDepth::R50] {
            let feats = depth
                .init(&device)
                .forward(Tensor::<4>::zeros([1, 3, 64, 96], &device));
            let dims: Vec<[usize; 4]> = feats.iter().map(|f| f.dims()).collect();
            let c = depth.out_channels();
            assert_eq!(
                dims,
                vec![
                    [1, c[0], 16, 24],
                    [1, c[1], 8, 12],
                    [1, c[2], 4, 6],
                    [1, c[3], 2, 3]
                ]
            );
        }
    }

    #[test]
    fn dbnet_and_dbnetpp_give_full_resolution_maps_at_640() {
        // SPEC §11: DBFPN output 256x160x160; head P, T, B of 1x640x640 (and P's logits).
        let device = Device::default();
        for asf in [false, true] {
            let spec = DbNetSpec {
                neck: NeckSpec::Fpnc { channels: 256, asf },
                ..DbNetSpec::default()
            };
            let m = DbNet::new(&spec, true, &device);
            let x = Tensor::<4>::zeros([1, 3, 640, 640], &device);
            let f = m.neck.forward(m.backbone.forward(x.clone()));
            assert_eq!(f.dims(), [1, 256, 160, 160]);
            let y = m.forward_train(x);
            for t in [&y.prob, &y.thresh, &y.binary] {
                assert_eq!(t.dims(), [1, 1, 640, 640]);
                let v: Vec<f32> = t.clone().into_data().try_to_vec().unwrap();
                assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
            }
            let z = y.logits.expect("DBNet keeps P's logits");
            let diff = (sigmoid(z) - y.prob).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-6, "logits are not P's ({diff})");
        }
    }

    #[test]
    fn ppocr_mobile_gives_a_full_resolution_probability_map() {
        let device = Device::default();
        let model = DbNet::new(&DbNetSpec::ppocr_mobile(), false, &device);
        assert!(model.head.thresh.is_none());
        let y = model.forward(Tensor::<4>::zeros([1, 3, 64, 96], &device));
        assert_eq!(y.dims(), [1, 1, 64, 96]);
        let v: Vec<f32> = y.into_data().try_to_vec().unwrap();
        assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
    }
}
