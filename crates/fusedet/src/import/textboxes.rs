//! Weights for [`TextBoxes`] loaded by name through `burn-store` (PyTorch → Burn adapter:
//! BatchNorm `weight`/`bias` become `gamma`/`beta`; `num_batches_tracked` is not used):
//!
//! - [`load_checkpoint`]: a whole detector saved by the TextBoxes++ reference code
//!   (qjadud1994/Text_Detector `train.py`: `{'net': state_dict, ...}`, a plain state dict, or
//!   DataParallel's `module.` prefix), `.pth` or `.safetensors` of the same keys: `fpn.layer0`
//!   → `backbone`, `fpn.layerN` → `backbone.layerN`, the other `fpn.*` → `neck.*`,
//!   `loc_head` / `cls_head` → `head.*` (their `nn.Sequential` indices 0, 2, 4, 6, 8 renumbered
//!   0..4);
//! - [`load_backbone`]: ImageNet weights for the backbone alone: Cadene's `se_resnet50`
//!   (`layer0.conv1`, `layerN.B.se_module.fc1`, …; `last_linear` unused) or torchvision's
//!   `resnet18` / `resnet34` / `resnet50`.

use std::path::Path;

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};

use super::asff::CheckpointReport;
use crate::error::ImportError;
use crate::model::textboxes::{TbBackbone, TextBoxes};

/// Reference checkpoint key → model path, applied in order.
const DETECTOR_KEYS: [(&str, &str); 7] = [
    (r"^net\.", ""),
    (r"^module\.", ""),
    (r"^fpn\.layer0\.", "backbone."),
    (r"^fpn\.(layer[1-4])\.", "backbone.$1."),
    (r"^fpn\.", "neck."),
    (r"^loc_head\.", "head.loc_head."),
    (r"^cls_head\.", "head.cls_head."),
];

/// Cadene `se_resnet50` key → model path.
const CADENE_KEYS: [(&str, &str); 3] = [
    (r"^module\.", ""),
    (r"^layer0\.", "backbone."),
    (r"^(layer[1-4])\.", "backbone.$1."),
];

/// torchvision ResNet key → model path (the backbone's own names, see
/// [`crate::import::torchvision`]).
const TORCHVISION_KEYS: [(&str, &str); 15] = [
    (r"^conv1\.", "backbone.stem."),
    (r"^bn1\.", "backbone.stem_bn."),
    (r"^layer1\.", "backbone.stages.0."),
    (r"^layer2\.", "backbone.stages.1."),
    (r"^layer3\.", "backbone.stages.2."),
    (r"^layer4\.", "backbone.stages.3."),
    (r"\.conv1\.", ".convs.0."),
    (r"\.conv2\.", ".convs.1."),
    (r"\.conv3\.", ".convs.2."),
    (r"\.bn1\.", ".bns.0."),
    (r"\.bn2\.", ".bns.1."),
    (r"\.bn3\.", ".bns.2."),
    (r"\.downsample\.0\.", ".down.0."),
    (r"\.downsample\.1\.", ".down.1."),
    (r"^module\.", ""),
];

fn read(
    model: &mut TextBoxes,
    path: &Path,
    keys: &[(&str, &str)],
) -> Result<CheckpointReport, ImportError> {
    let err = |reason: String| ImportError::Weights {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(err("no such checkpoint file".into()));
    }
    let result = if path.extension().is_some_and(|e| e == "safetensors") {
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .skip_enum_variants(true)
            .map_indices_contiguous(true)
            .allow_partial(true);
        for (from, to) in keys {
            store = store.with_key_remapping(*from, *to);
        }
        model
            .load_from(&mut store)
            .map_err(|e| err(e.to_string()))?
    } else {
        let mut store = PytorchStore::from_file(path)
            .skip_enum_variants(true)
            .map_indices_contiguous(true)
            .allow_partial(true);
        for (from, to) in keys {
            store = store.with_key_remapping(*from, *to);
        }
        model
            .load_from(&mut store)
            .map_err(|e| err(e.to_string()))?
    };
    if !result.errors.is_empty() {
        return Err(err(format!("{:?}", result.errors)));
    }
    Ok(CheckpointReport {
        applied: result.applied,
        missing: result.missing.into_iter().map(|m| m.0).collect(),
        unused: result
            .unused
            .into_iter()
            .filter(|k| !k.ends_with("num_batches_tracked"))
            .collect(),
    })
}

fn missing_error(path: &Path, r: &CheckpointReport, what: &str) -> ImportError {
    let names: Vec<&str> = r.missing.iter().map(String::as_str).take(5).collect();
    ImportError::Weights {
        path: path.to_path_buf(),
        reason: format!(
            "not {what}: {} of {} tensors missing (e.g. {})",
            r.missing.len(),
            r.missing.len() + r.applied.len(),
            names.join(", ")
        ),
    }
}

/// Loads a whole-detector checkpoint of the reference code; every parameter of the model must
/// be in it, with the model's shape.
pub fn load_checkpoint(
    model: &mut TextBoxes,
    path: &Path,
) -> Result<CheckpointReport, ImportError> {
    let r = read(model, path, &DETECTOR_KEYS)?;
    if !r.missing.is_empty() {
        return Err(missing_error(
            path,
            &r,
            "a TextBoxes++ checkpoint of this model (backbone, neck.channels, neck.p2 and \
             head.regression must match)",
        ));
    }
    Ok(r)
}

/// Loads ImageNet weights into the backbone: Cadene `se_resnet50` for `se_resnet50`,
/// torchvision `resnetNN` for the plain ResNets. Every backbone parameter must be in the file.
pub fn load_backbone(model: &mut TextBoxes, path: &Path) -> Result<CheckpointReport, ImportError> {
    let (keys, what): (&[(&str, &str)], &str) = match model.backbone {
        TbBackbone::SeResNet(_) => (&CADENE_KEYS, "a Cadene se_resnet50 state dict"),
        TbBackbone::ResNet(_) => (&TORCHVISION_KEYS, "a torchvision ResNet of this depth"),
    };
    let r = read(model, path, keys)?;
    let missing: Vec<String> = r
        .missing
        .iter()
        .filter(|k| k.starts_with("backbone."))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let r = CheckpointReport { missing, ..r };
        return Err(missing_error(path, &r, what));
    }
    Ok(CheckpointReport {
        missing: Vec::new(),
        ..r
    })
}
