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

use super::asff::{CheckpointReport, read_by_name};
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

/// torchvision ResNet key → model path: the DBNet backbone's renames
/// ([`crate::import::torchvision`]) with the whole-key ones moved under `backbone.`.
fn torchvision_keys() -> Vec<(String, String)> {
    super::torchvision::RESNET_KEYS
        .iter()
        .map(|&(from, to)| {
            let to = if from.starts_with('^') {
                format!("backbone.{to}")
            } else {
                to.to_string()
            };
            (from.to_string(), to)
        })
        .chain([(r"^module\.".to_string(), String::new())])
        .collect()
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
    let r = read_by_name(model, path, &DETECTOR_KEYS, true)?;
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
    let tv = torchvision_keys();
    let tv: Vec<(&str, &str)> = tv.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (keys, what): (&[(&str, &str)], &str) = match model.backbone {
        TbBackbone::SeResNet(_) => (&CADENE_KEYS, "a Cadene se_resnet50 state dict"),
        TbBackbone::ResNet(_) => (&tv, "a torchvision ResNet of this depth"),
    };
    let r = read_by_name(model, path, keys, true)?;
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
