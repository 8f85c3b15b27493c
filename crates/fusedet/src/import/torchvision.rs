//! ImageNet weights for the DBNet backbones in torchvision's layout, read by name from a
//! SafeTensors file or a PyTorch checkpoint through `burn-store` (PyTorch → Burn adapter:
//! BatchNorm `weight`/`bias` become `gamma`/`beta`). Keys are renamed from torchvision's
//! `resnet18`/`resnet50` state dict (`conv1`, `bn1`, `layerN.B.convK`, `layerN.B.bnK`,
//! `layerN.B.downsample.{0,1}`) and from `mobilenet_v3_large` (`features.N.block.J`, built with
//! `mobilenet_layout = "torchvision"`); the classifier and `num_batches_tracked` are not used.

use std::path::Path;

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};

use crate::error::ImportError;
use crate::model::backbone::{Backbone, MobileNetLayout};

/// torchvision → fusedet `ResNet` key renames, applied in order.
pub(crate) const RESNET_KEYS: [(&str, &str); 14] = [
    (r"^conv1\.", "stem."),
    (r"^bn1\.", "stem_bn."),
    (r"^layer1\.", "stages.0."),
    (r"^layer2\.", "stages.1."),
    (r"^layer3\.", "stages.2."),
    (r"^layer4\.", "stages.3."),
    (r"\.conv1\.", ".convs.0."),
    (r"\.conv2\.", ".convs.1."),
    (r"\.conv3\.", ".convs.2."),
    (r"\.bn1\.", ".bns.0."),
    (r"\.bn2\.", ".bns.1."),
    (r"\.bn3\.", ".bns.2."),
    (r"\.downsample\.0\.", ".down.0."),
    (r"\.downsample\.1\.", ".down.1."),
];

/// What a load did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadReport {
    /// Tensors loaded.
    pub applied: usize,
    /// Checkpoint tensors not used (the classifier, counters).
    pub unused: Vec<String>,
}

fn load_named<M: ModuleSnapshot>(
    net: &mut M,
    path: &Path,
    keys: &[(String, String)],
    what: &str,
) -> Result<LoadReport, ImportError> {
    let err = |reason: String| ImportError::Weights {
        path: path.to_path_buf(),
        reason,
    };
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let result = if is_safetensors {
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .allow_partial(true);
        for (from, to) in keys {
            store = store.with_key_remapping(from, to);
        }
        net.load_from(&mut store).map_err(|e| err(e.to_string()))?
    } else {
        let mut store = PytorchStore::from_file(path).allow_partial(true);
        for (from, to) in keys {
            store = store.with_key_remapping(from, to);
        }
        net.load_from(&mut store).map_err(|e| err(e.to_string()))?
    };
    if !result.errors.is_empty() {
        return Err(err(format!("{:?}", result.errors)));
    }
    if !result.missing.is_empty() {
        let names: Vec<&str> = result
            .missing
            .iter()
            .map(|m| m.0.as_str())
            .take(5)
            .collect();
        return Err(err(format!(
            "not a torchvision {what} of this shape: {} backbone tensors missing (e.g. {})",
            result.missing.len(),
            names.join(", ")
        )));
    }
    Ok(LoadReport {
        applied: result.applied.len(),
        unused: result.unused,
    })
}

/// Loads torchvision ImageNet weights into a ResNet or MobileNetV3 backbone.
pub fn load_backbone(backbone: &mut Backbone, path: &Path) -> Result<LoadReport, ImportError> {
    let err = |reason: &str| ImportError::Weights {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    match backbone {
        Backbone::ResNet(r) => {
            let keys: Vec<(String, String)> = RESNET_KEYS
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            load_named(r, path, &keys, "ResNet")
        }
        Backbone::MobileNetV3(m) => {
            if m.layout() != MobileNetLayout::Torchvision {
                return Err(err(
                    "torchvision MobileNetV3 weights need model.backbone.layout = \"torchvision\" \
                     (MindOCR's layout has an extra expansion conv in the first block)",
                ));
            }
            let keys = m.torchvision_keys();
            load_named(m, path, &keys, "MobileNetV3-Large")
        }
        Backbone::LcNetV3(_) => Err(err(
            "torchvision weights apply to `resnet18`, `resnet50` and `mobilenet_v3` backbones",
        )),
    }
}
