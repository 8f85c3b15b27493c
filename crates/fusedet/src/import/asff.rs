//! Checkpoints of the ASFF reference code (GOATmessi7/ASFF) loaded by name into
//! [`YoloV3`]: a PyTorch file holding the plain state dict its `main.py` saves
//! (`torch.save(model.module.state_dict())`), the same under a `'model'` key
//! (`{'model': state_dict, ...}`, other entries ignored) or with DataParallel's `module.` prefix,
//! or a SafeTensors file of the same keys. The model's parameter paths are the reference's keys
//! (only BatchNorm's `weight`/`bias` → `gamma`/`beta`, by `burn-store`'s PyTorch adapter);
//! `num_batches_tracked` is not used.

use std::path::Path;

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};

use crate::error::ImportError;
use crate::model::yolov3::YoloV3;

/// Prefixes stripped from checkpoint keys: the `{'model': ...}` wrapper, DataParallel.
const PREFIXES: [(&str, &str); 2] = [(r"^model\.", ""), (r"^module\.", "")];

/// What a checkpoint load did (by parameter path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointReport {
    /// Model parameters set from the checkpoint.
    pub applied: Vec<String>,
    /// Model parameters the checkpoint lacks (left as they were).
    pub missing: Vec<String>,
    /// Checkpoint tensors the model does not have (`num_batches_tracked` left out).
    pub unused: Vec<String>,
}

/// Loads a reference checkpoint (`.pth` / `.pt`, or `.safetensors`) into `model`; every
/// parameter of the model must be in it, with the model's shape.
pub fn load_checkpoint(model: &mut YoloV3, path: &Path) -> Result<CheckpointReport, ImportError> {
    let report = read_checkpoint(model, path)?;
    if !report.missing.is_empty() {
        let names: Vec<&str> = report.missing.iter().map(String::as_str).take(5).collect();
        return Err(ImportError::Weights {
            path: path.to_path_buf(),
            reason: format!(
                "not a checkpoint of this model (asff, rfb and num_classes must match): {} \
                 of {} tensors missing (e.g. {})",
                report.missing.len(),
                report.missing.len() + report.applied.len(),
                names.join(", ")
            ),
        });
    }
    Ok(report)
}

/// Loads what a checkpoint has for `model` (parameters it lacks keep their values, see
/// [`CheckpointReport::missing`]); a tensor whose shape differs from the model's is an error.
pub fn read_checkpoint(model: &mut YoloV3, path: &Path) -> Result<CheckpointReport, ImportError> {
    // Entries without parameters (SPP, upsample, DropBlock) leave gaps in `module_list`'s
    // indices: the indices are kept as they are.
    read_by_name(model, path, &PREFIXES, false)
}

/// Loads a `.pth` / `.pt` or `.safetensors` file into `model` by name: checkpoint keys are
/// renamed by `keys` (regex, replacement; in order), enum variant names are skipped, and with
/// `contiguous` the numeric indices under each prefix are renumbered 0, 1, ... (`nn.Sequential`
/// with parameter-free layers between). Parameters the file lacks keep their values.
pub(crate) fn read_by_name<M: ModuleSnapshot>(
    model: &mut M,
    path: &Path,
    keys: &[(&str, &str)],
    contiguous: bool,
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
            .map_indices_contiguous(contiguous)
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
            .map_indices_contiguous(contiguous)
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
