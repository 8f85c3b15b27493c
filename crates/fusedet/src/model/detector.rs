//! One type for every trainable detector, built from a serialisable [`ModelSpec`] (the `[model]`
//! section of a recipe, tagged by `arch`; each family's keys are its own, and a key that does
//! not apply to the chosen architecture is refused).

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::dbnet::{DbNet, DbNetSpec};
use super::head::DbMaps;
use super::textboxes::{TextBoxes, TextBoxesSpec};
use super::yolov3::{YoloV3, YoloV3Spec};
use crate::error::{ConfigError, Error};
use crate::import::{LoadParams, ParamStream};

/// The `[model]` section: one variant per detector family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "lowercase")]
pub enum ModelSpec {
    /// DBNet / DBNet++ / PP-OCR mobile det (backbone + neck + DB head).
    Dbnet(DbNetSpec),
    /// YOLOv3 / ASFF object detector (Darknet-53 + neck + guided-anchoring heads).
    Yolov3(YoloV3Spec),
    /// RetinaNet + TextBoxes++ quadrilateral text detector.
    Textboxes(TextBoxesSpec),
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self::Dbnet(DbNetSpec::default())
    }
}

impl ModelSpec {
    /// Checks values serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Dbnet(s) => s.validate(),
            Self::Yolov3(s) => s.validate(),
            Self::Textboxes(s) => s.validate(),
        }
    }

    /// Whether the model detects objects (boxes with classes) rather than text.
    pub fn is_objects(&self) -> bool {
        matches!(self, Self::Yolov3(_))
    }

    /// Whether batch norms stay in inference mode while training.
    pub fn norm_eval(&self) -> bool {
        match self {
            Self::Dbnet(s) => s.norm_eval,
            Self::Yolov3(_) => false,
            Self::Textboxes(s) => s.norm_eval,
        }
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

/// A trainable detector.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DetModel {
    /// DBNet family.
    Db(DbNet),
    /// YOLOv3 / ASFF.
    Yolo(YoloV3),
    /// RetinaNet + TextBoxes++.
    Tb(TextBoxes),
}

impl DetModel {
    /// Builds the model of `spec` for training; imports `pretrained` and the backbone weights
    /// when `load_pretrained`.
    pub fn build(spec: &ModelSpec, device: &Device, load_pretrained: bool) -> Result<Self, Error> {
        spec.validate()?;
        let mut model = match spec {
            ModelSpec::Dbnet(s) => {
                let mut m = DbNet::new(s, false, device);
                if let (true, Some(name)) = (load_pretrained, &s.pretrained) {
                    let path = if Path::new(name).is_file() {
                        Path::new(name).to_path_buf()
                    } else {
                        crate::zoo::find(name)?.local()?
                    };
                    let mut stream = ParamStream::from_file(&path, device)?;
                    m.load_params(&mut stream)?;
                }
                if let (true, Some(w)) = (load_pretrained, s.backbone.weights()) {
                    crate::import::torchvision::load_backbone(&mut m.backbone, w)?;
                }
                m.head = m.head.with_thresh_branch(device);
                Self::Db(m)
            }
            ModelSpec::Yolov3(s) => {
                let mut m = s.init(device);
                if let (true, Some(p)) = (load_pretrained, &s.pretrained) {
                    crate::import::asff::load_pretrained(&mut m, p)?;
                }
                Self::Yolo(m)
            }
            ModelSpec::Textboxes(s) => {
                let mut m = s.init(device);
                if let (true, Some(w)) = (load_pretrained, s.backbone.weights()) {
                    crate::import::textboxes::load_backbone(&mut m, w)?;
                }
                // A fusedet run (or its `.bpk`) is loaded by the training loop
                // (`train::build_model`), which reads run directories.
                if let (true, Some(p)) = (load_pretrained, &s.pretrained)
                    && !TextBoxesSpec::is_fusedet_weights(p)
                {
                    crate::import::textboxes::load_checkpoint(&mut m, p)?;
                }
                Self::Tb(m)
            }
        };
        if spec.norm_eval() {
            model = model.map(&mut NormEval);
        }
        Ok(model)
    }

    /// Folds normalisations into convolutions for inference (see [`DbNet::fold_for_inference`]).
    pub fn fold_for_inference(&mut self) {
        match self {
            Self::Db(m) => m.fold_for_inference(),
            Self::Yolo(_) | Self::Tb(_) => {}
        }
    }

    /// Inference: the probability map `[n, 1, H, W]`.
    ///
    /// # Panics
    /// On an object detector (see [`DetModel::yolo`]).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Db(m) => m.forward(x),
            Self::Yolo(_) => panic!("a YOLOv3 model has no probability map"),
            Self::Tb(_) => panic!("a TextBoxes++ model has no probability map"),
        }
    }

    /// Training outputs.
    ///
    /// # Panics
    /// On an object detector (see [`DetModel::yolo`]).
    pub fn forward_train(&self, x: Tensor<4>) -> DbMaps {
        match self {
            Self::Db(m) => m.forward_train(x),
            Self::Yolo(_) => panic!("a YOLOv3 model has no DB maps"),
            Self::Tb(_) => panic!("a TextBoxes++ model has no DB maps"),
        }
    }

    /// The YOLOv3 / ASFF model, if this is one.
    pub fn yolo(&self) -> Option<&YoloV3> {
        match self {
            Self::Yolo(m) => Some(m),
            Self::Db(_) | Self::Tb(_) => None,
        }
    }

    /// The TextBoxes++ model, if this is one.
    pub fn textboxes(&self) -> Option<&TextBoxes> {
        match self {
            Self::Tb(m) => Some(m),
            Self::Db(_) | Self::Yolo(_) => None,
        }
    }

    /// The YOLOv3 / ASFF model, mutably, if this is one.
    pub fn yolo_mut(&mut self) -> Option<&mut YoloV3> {
        match self {
            Self::Yolo(m) => Some(m),
            Self::Db(_) | Self::Tb(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::backbone::BackboneSpec;
    use crate::model::neck::NeckSpec;

    fn small() -> DbNetSpec {
        DbNetSpec {
            backbone: BackboneSpec::Resnet18 {
                base_width: 8,
                weights: None,
            },
            neck: NeckSpec::Fpnc {
                channels: 32,
                asf: false,
            },
            ..DbNetSpec::default()
        }
    }

    #[test]
    fn specs_build_models_with_training_maps() {
        let device = Device::default();
        let specs = [
            small(),
            DbNetSpec::ppocr_mobile(),
            DbNetSpec {
                backbone: BackboneSpec::MobilenetV3 {
                    scale: 0.5,
                    layout: Default::default(),
                    weights: None,
                },
                ..DbNetSpec::default()
            },
        ];
        for spec in specs {
            let m = DetModel::build(&ModelSpec::Dbnet(spec), &device, false).unwrap();
            let y = m.forward_train(Tensor::<4>::zeros([1, 3, 64, 64], &device));
            assert_eq!(y.binary.dims(), [1, 1, 64, 64]);
            assert_eq!(
                m.forward(Tensor::zeros([1, 3, 64, 64], &device)).dims(),
                [1, 1, 64, 64]
            );
        }
        let bad = DbNetSpec {
            neck: NeckSpec::Fpnc {
                channels: 30,
                asf: false,
            },
            ..small()
        };
        let e = DetModel::build(&ModelSpec::Dbnet(bad), &device, false).unwrap_err();
        assert!(e.to_string().contains("model.neck.channels"), "{e}");
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
            let spec = ModelSpec::Dbnet(DbNetSpec {
                norm_eval,
                ..small()
            });
            let m = DetModel::build(&spec, &device, false).unwrap();
            let DetModel::Db(db) = &m else {
                unreachable!("a DBNet spec builds a DBNet")
            };
            let mean = || {
                db.head
                    .binarize
                    .bn1
                    .running_mean
                    .value_sync()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            };
            let before = mean();
            let train = m.forward_train(x.clone()).prob;
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
    fn spec_reads_from_toml_with_defaults_and_refuses_foreign_keys() {
        let spec: ModelSpec = toml::from_str(
            "arch = \"dbnet\"\n[backbone]\ntype = \"resnet50\"\n[neck]\ntype = \"fpnc\"\nasf = true",
        )
        .unwrap();
        let ModelSpec::Dbnet(s) = &spec else {
            panic!("arch = dbnet")
        };
        assert_eq!(
            s.backbone,
            BackboneSpec::Resnet50 {
                base_width: 64,
                weights: None
            }
        );
        assert_eq!(
            s.neck,
            NeckSpec::Fpnc {
                channels: 256,
                asf: true
            }
        );
        assert_eq!(s.head.k, 50.0);
        // The written form reads back to the same spec.
        let again: ModelSpec = toml::from_str(&toml::to_string(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
        for (text, key) in [
            (
                "arch = \"dbnet\"\n[backbone]\ntype = \"resnet34\"",
                "resnet34",
            ),
            // `scale` belongs to MobileNetV3 / LCNetV3, not to a ResNet.
            (
                "arch = \"dbnet\"\n[backbone]\ntype = \"resnet18\"\nscale = 0.5",
                "scale",
            ),
            // `asf` belongs to the FPNC neck, not to RSE-FPN.
            (
                "arch = \"dbnet\"\n[neck]\ntype = \"rse_fpn\"\nasf = true",
                "asf",
            ),
            ("arch = \"dbnet\"\nuse_asf = true", "use_asf"),
            ("arch = \"yolo9\"", "yolo9"),
        ] {
            let err = toml::from_str::<ModelSpec>(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }
}
