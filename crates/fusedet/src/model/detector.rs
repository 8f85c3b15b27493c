//! One type for every trainable text detector, built from a serialisable [`ModelSpec`] (the
//! `[model]` section of a training config, MMOCR's backbone / neck / head split).

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::dbnet::{DbNet, DbNetConfig, ResNetDepth};
pub use super::mobilenet::MobileNetLayout;
use super::ppocr::{PpOcrDet, PpOcrDetConfig};
use crate::error::Error;
use crate::import::{LoadParams, ParamStream};

/// Architecture family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// DBNet / DBNet++ (`use_asf`) with a ResNet backbone.
    #[default]
    Dbnet,
    /// PP-OCR mobile detector (PP-LCNetV3 + RSE-FPN + DB head), for fine-tuning imported
    /// PP-OCRv4/v5 weights.
    Ppocr,
}

/// Backbone of a DBNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backbone {
    /// ResNet-18.
    #[default]
    Resnet18,
    /// ResNet-50.
    Resnet50,
    /// MobileNetV3-Large (width multiplier `scale`).
    Mobilenetv3,
}

/// The `[model]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSpec {
    /// Family.
    pub arch: Arch,
    /// DBNet backbone.
    pub backbone: Backbone,
    /// Stem channels of the ResNet (64 standard; smaller for quick runs).
    pub base_width: usize,
    /// Width multiplier of MobileNetV3 (0.5 in MindOCR's recipe).
    pub scale: f64,
    /// MobileNetV3 layer layout: `mindcv` (MindOCR's recipe) or `torchvision` (to load
    /// torchvision's `mobilenet_v3_large` weights through `backbone_weights`).
    pub mobilenet_layout: MobileNetLayout,
    /// Neck width (DBNet 256; PP-OCR 96).
    pub neck_channels: Option<usize>,
    /// DBNet++ Adaptive Scale Fusion.
    pub use_asf: bool,
    /// k of the differentiable binarisation.
    pub k: f64,
    /// Initial weights: a model name from `fusedet models list` or a PP-OCR ONNX file
    /// (`arch = "ppocr"` only). Fresh weights when absent.
    pub pretrained: Option<String>,
    /// ImageNet backbone weights in torchvision's layout (`resnet18`/`resnet50` state dict),
    /// a `.safetensors` file or a PyTorch checkpoint; loaded when training starts.
    pub backbone_weights: Option<std::path::PathBuf>,
    /// Keep every batch norm in inference mode while training (MMCV's `norm_eval`): the
    /// running statistics stay as loaded and normalise each batch, γ and β still learn. For
    /// fine-tuning pretrained weights on small batches.
    pub norm_eval: bool,
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            arch: Arch::Dbnet,
            backbone: Backbone::Resnet18,
            base_width: 64,
            scale: 0.5,
            mobilenet_layout: MobileNetLayout::Mindcv,
            neck_channels: None,
            use_asf: false,
            k: 50.0,
            pretrained: None,
            backbone_weights: None,
            norm_eval: false,
        }
    }
}

impl ModelSpec {
    /// The neck width in effect.
    pub fn neck(&self) -> usize {
        self.neck_channels.unwrap_or(match self.arch {
            Arch::Dbnet => 256,
            Arch::Ppocr => 96,
        })
    }

    /// Checks the combination.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.neck().is_multiple_of(16) || self.neck() == 0 {
            return Err(Error::Config(format!(
                "model.neck_channels must be a positive multiple of 16, not {}",
                self.neck()
            )));
        }
        if self.base_width == 0 {
            return Err(Error::Config("model.base_width must be positive".into()));
        }
        if self.arch == Arch::Dbnet && self.pretrained.is_some() {
            return Err(Error::Config(
                "model.pretrained: only PP-OCR weights can be imported (arch = \"ppocr\")".into(),
            ));
        }
        Ok(())
    }
}

/// Turns every batch norm's training flag off (Burn keeps flags out of records, so this is
/// applied on each build, resume included).
struct NormEval;

impl burn::module::ModuleMapper for NormEval {
    fn map_flag(
        &mut self,
        flag: burn::module::Param<burn::module::Flag>,
    ) -> burn::module::Param<burn::module::Flag> {
        flag.with_value(false)
    }
}

/// A trainable text detector.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per run; boxing would complicate the derive
pub enum DetModel {
    /// DBNet / DBNet++.
    Db(DbNet),
    /// PP-OCR mobile.
    PpOcr(PpOcrDet),
}

impl DetModel {
    /// Builds the model of `spec`; imports `spec.pretrained` when `load_pretrained`.
    pub fn build(spec: &ModelSpec, device: &Device, load_pretrained: bool) -> Result<Self, Error> {
        spec.validate()?;
        let mut model = match spec.arch {
            Arch::Dbnet => Self::Db(
                DbNetConfig::new()
                    .with_backbone(match spec.backbone {
                        Backbone::Resnet50 => ResNetDepth::R50,
                        _ => ResNetDepth::R18,
                    })
                    .with_mobilenet_scale(
                        (spec.backbone == Backbone::Mobilenetv3).then_some(spec.scale),
                    )
                    .with_mobilenet_layout(spec.mobilenet_layout)
                    .with_base_width(spec.base_width)
                    .with_neck_channels(spec.neck())
                    .with_use_asf(spec.use_asf)
                    .with_k(spec.k)
                    .init(device),
            ),
            Arch::Ppocr => {
                let mut m = PpOcrDetConfig::new()
                    .with_neck_channels(spec.neck())
                    .init(device);
                if let (true, Some(name)) = (load_pretrained, &spec.pretrained) {
                    let path = if Path::new(name).is_file() {
                        Path::new(name).to_path_buf()
                    } else {
                        crate::zoo::find(name)?.local()?
                    };
                    let mut stream = ParamStream::from_file(&path, device)?;
                    m.load_params(&mut stream)?;
                }
                Self::PpOcr(m.with_thresh_branch(spec.neck(), device))
            }
        };
        if let (true, Some(w)) = (load_pretrained, &spec.backbone_weights) {
            super::torchvision::load_backbone(&mut model, w)?;
        }
        if spec.norm_eval {
            model = model.map(&mut NormEval);
        }
        Ok(model)
    }

    /// Inference: the probability map `[n, 1, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Db(m) => m.forward(x),
            Self::PpOcr(m) => m.forward(x),
        }
    }

    /// Training: P, T, B̂ and P's logits as channels 0, 1, 2, 3.
    pub fn forward_train(&self, x: Tensor<4>, k: f64) -> Tensor<4> {
        match self {
            Self::Db(m) => m.forward_train(x),
            Self::PpOcr(m) => m.forward_train(x, k),
        }
    }
}

impl crate::infer::ProbabilityModel for DetModel {
    fn probability(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_build_models_with_three_training_maps() {
        let device = Device::default();
        let specs = [
            ModelSpec {
                base_width: 8,
                neck_channels: Some(32),
                ..ModelSpec::default()
            },
            ModelSpec {
                arch: Arch::Ppocr,
                ..ModelSpec::default()
            },
            ModelSpec {
                backbone: Backbone::Mobilenetv3,
                ..ModelSpec::default()
            },
        ];
        for spec in specs {
            let m = DetModel::build(&spec, &device, false).unwrap();
            let y = m.forward_train(Tensor::<4>::zeros([1, 3, 64, 64], &device), spec.k);
            assert_eq!(y.dims(), [1, 4, 64, 64]);
            assert_eq!(
                m.forward(Tensor::zeros([1, 3, 64, 64], &device)).dims(),
                [1, 1, 64, 64]
            );
        }
        let bad = ModelSpec {
            neck_channels: Some(30),
            ..ModelSpec::default()
        };
        assert!(DetModel::build(&bad, &device, false).is_err());
    }

    #[test]
    fn norm_eval_keeps_running_statistics_while_training() {
        let device = Device::default().autodiff();
        let x = Tensor::<4>::random(
            [2, 3, 64, 64],
            burn::tensor::Distribution::Normal(3.0, 2.0),
            &device,
        );
        for norm_eval in [false, true] {
            let spec = ModelSpec {
                base_width: 8,
                neck_channels: Some(32),
                norm_eval,
                ..ModelSpec::default()
            };
            let m = DetModel::build(&spec, &device, false).unwrap();
            let DetModel::Db(db) = &m else { unreachable!() };
            let mean = || {
                db.binarize
                    .bn1
                    .running_mean
                    .value_sync()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            };
            let before = mean();
            let train = m.forward_train(x.clone(), spec.k).slice([0..2, 0..1]);
            let after = mean();
            let infer = m.valid().forward(x.clone().inner());
            let diff = (train.inner() - infer).abs().max().into_scalar::<f32>();
            if norm_eval {
                assert_eq!(before, after, "running mean moved under norm_eval");
                assert!(diff < 1e-5, "train and inference forward differ by {diff}");
            } else {
                assert_ne!(before, after, "batch statistics were not tracked");
                assert!(diff > 1e-3, "train forward used running statistics");
            }
        }
    }

    #[test]
    fn spec_reads_from_toml_with_defaults() {
        let spec: ModelSpec =
            toml::from_str("arch = \"dbnet\"\nbackbone = \"resnet50\"\nuse_asf = true").unwrap();
        assert_eq!(spec.backbone, Backbone::Resnet50);
        assert!(spec.use_asf && spec.k == 50.0 && spec.neck() == 256);
        let err = toml::from_str::<ModelSpec>("backbone = \"resnet34\"").unwrap_err();
        assert!(err.to_string().contains("resnet34"), "{err}");
    }
}
