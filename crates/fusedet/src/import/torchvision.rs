//! ImageNet weights for the DBNet backbones in torchvision's layout, read by name from a
//! SafeTensors file or a PyTorch checkpoint through `burn-store` (PyTorch → Burn adapter:
//! BatchNorm `weight`/`bias` become `gamma`/`beta`). Keys are renamed from torchvision's
//! `resnet18`/`resnet50` state dict (`conv1`, `bn1`, `layerN.B.convK`, `layerN.B.bnK`,
//! `layerN.B.downsample.{0,1}`) and from `mobilenet_v3_large` (`features.N.block.J`, built with
//! `mobilenet_layout = "torchvision"`); the classifier and `num_batches_tracked` are not used.

use std::path::Path;

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};

use super::dbnet::BackboneNet;
use super::detector::DetModel;
use super::mobilenet::MobileNetLayout;
use crate::error::Error;

/// torchvision → fusedet `ResNet` key renames, applied in order.
const RESNET_KEYS: [(&str, &str); 14] = [
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
) -> Result<LoadReport, Error> {
    let err = |e: String| Error::Config(format!("{}: {e}", path.display()));
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

/// Loads torchvision ImageNet weights into the model's ResNet backbone.
pub fn load_backbone(model: &mut DetModel, path: &Path) -> Result<LoadReport, Error> {
    match model {
        DetModel::Db(db) => match &mut db.backbone {
            BackboneNet::ResNet(r) => {
                let keys: Vec<(String, String)> = RESNET_KEYS
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect();
                load_named(r, path, &keys, "ResNet")
            }
            BackboneNet::MobileNet(m) => {
                if m.layout() != MobileNetLayout::Torchvision {
                    return Err(Error::Config(format!(
                        "{}: torchvision MobileNetV3 weights need model.mobilenet_layout = \"torchvision\" \
                         (MindOCR's layout has an extra expansion conv in the first block)",
                        path.display()
                    )));
                }
                let keys = m.torchvision_keys();
                load_named(m, path, &keys, "MobileNetV3-Large")
            }
        },
        DetModel::PpOcr(_) => Err(Error::Config(format!(
            "{}: backbone weights apply to DBNet models (arch = \"dbnet\")",
            path.display()
        ))),
    }
}
