//! Checkpoints of the ASFF reference code (GOATmessi7/ASFF) loaded by name into
//! [`YoloV3`]: a PyTorch file holding the plain state dict its `main.py` saves
//! (`torch.save(model.module.state_dict())`), the same under a `'model'` key
//! (`{'model': state_dict, ...}`, other entries ignored) or with DataParallel's `module.` prefix,
//! or a SafeTensors file of the same keys. The model's parameter paths are the reference's keys
//! (only BatchNorm's `weight`/`bias` → `gamma`/`beta`, by `burn-store`'s PyTorch adapter);
//! `num_batches_tracked` is not used.

use std::path::Path;

use burn::module::{Param, RunningState};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};

use crate::error::{Error, ImportError};
use crate::model::yolov3::blocks::Cbl;
use crate::model::yolov3::{YoloV3, YoloV3Backbone, YoloV3Layer};

/// Convolutions of Darknet-53 (`module_list` entries 0–10 of both reference models).
pub const DARKNET53_CONVS: usize = 52;

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

/// Initial weights for training (`YoloV3Spec::pretrained`): a Darknet `.weights` file through
/// [`load_darknet_backbone`] unless the name ends in `.pth`, `.pt` or `.safetensors`, which
/// are loaded by name where they match, as the reference's `load_state_dict(strict=False)`
/// (at least one tensor must match); returns how many layers (Darknet) or tensors were loaded.
pub fn load_pretrained(model: &mut YoloV3, path: &Path) -> Result<usize, Error> {
    let named = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "pth" | "pt" | "safetensors"));
    if !named {
        return load_darknet_backbone(model, path);
    }
    let report = read_checkpoint(model, path)?;
    if report.applied.is_empty() {
        return Err(ImportError::Weights {
            path: path.to_path_buf(),
            reason: format!(
                "none of its {} tensors is a parameter of this model (keys as the reference's \
                 state dict, e.g. module_list.0.conv.weight)",
                report.unused.len()
            ),
        }
        .into());
    }
    Ok(report.applied.len())
}

/// Loads Darknet-53 (`module_list` entries 0–10: [`DARKNET53_CONVS`] convolution + batch
/// norm layers) from the start of a Darknet `.weights` file, in Darknet's order (per layer:
/// batch-norm shift, scale, rolling mean, rolling variance, then the kernel): what Darknet's
/// `darknet53.conv.74` holds, and the first layers of `darknet53.weights` or `yolov3.weights`
/// (the rest of a longer file is ignored, as Darknet's `load_weights_upto`); refused for the
/// MobileNetV2 variant. Darknet's files are of the full-width network: the model's `width`
/// must be 1 for them (a file does not record shapes; a narrower model reads the wrong
/// values). Returns the layers loaded.
pub fn load_darknet_backbone(model: &mut YoloV3, path: &Path) -> Result<usize, Error> {
    if model.backbone() != YoloV3Backbone::Darknet53 {
        return Err(ImportError::Weights {
            path: path.to_path_buf(),
            reason: "a Darknet .weights file holds Darknet-53, and this model's backbone is \
                     MobileNetV2 (give a .pth / .safetensors state dict with the reference's \
                     keys)"
                .into(),
        }
        .into());
    }
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (_, _, header) = crate::import::darknet::weights_header(&bytes, path)?;
    let body = &bytes[header..];
    let mut cbls: Vec<&mut Cbl> = Vec::with_capacity(DARKNET53_CONVS);
    for layer in model.module_list_mut().iter_mut().take(11) {
        match layer {
            YoloV3Layer::Conv(c) => cbls.push(c),
            YoloV3Layer::Res(r) => cbls.extend(r.module_list.iter_mut().flatten()),
            _ => {}
        }
    }
    let total: usize = cbls.iter().map(|c| cbl_len(c)).sum();
    let found = body.len() / 4;
    let mut pos = 0usize;
    for (i, cbl) in cbls.into_iter().enumerate() {
        let n = cbl_len(cbl);
        if pos + n > found {
            return Err(ImportError::Weights {
                path: path.to_path_buf(),
                reason: format!(
                    "ends in convolution {} of Darknet-53's {DARKNET53_CONVS} ({found} values \
                     after the {header}-byte header, Darknet-53 needs {total})",
                    i + 1
                ),
            }
            .into());
        }
        let values: Vec<f32> = body[pos * 4..(pos + n) * 4]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        set_cbl(cbl, &values);
        pos += n;
    }
    Ok(DARKNET53_CONVS)
}

/// Values of one CBL in a `.weights` file: 4 per output channel, then the kernel.
fn cbl_len(c: &Cbl) -> usize {
    let d = c.conv.weight.dims();
    4 * d[0] + d.iter().product::<usize>()
}

fn set_cbl(c: &mut Cbl, v: &[f32]) {
    let d = c.conv.weight.dims();
    let n = d[0];
    let device = c.conv.weight.val().device();
    let t1 = |s: &[f32]| Tensor::<1>::from_data(TensorData::new(s.to_vec(), [n]), &device);
    let bn = &mut c.batch_norm;
    bn.beta = Param::from_tensor(t1(&v[..n]));
    bn.gamma = Param::from_tensor(t1(&v[n..2 * n]));
    bn.running_mean = RunningState::new(t1(&v[2 * n..3 * n]));
    bn.running_var = RunningState::new(t1(&v[3 * n..4 * n]));
    c.conv.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(v[4 * n..].to_vec(), d),
        &device,
    ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::yolov3::YoloV3Spec;

    fn narrow() -> YoloV3 {
        YoloV3Spec {
            num_classes: 1,
            width: 0.125,
            ..YoloV3Spec::default()
        }
        .init(&Device::default())
    }

    /// A `.weights` file (v0.2: 20-byte header) whose layer `i` holds `i · 100000 + j`, `j`
    /// counting its values, with `extra` values after Darknet-53.
    fn weights_file(model: &YoloV3, extra: usize, cut: Option<usize>) -> Vec<u8> {
        let mut v: Vec<f32> = Vec::new();
        let mut layer = 0;
        for l in model.module_list().iter().take(11) {
            let cbls: Vec<&Cbl> = match l {
                YoloV3Layer::Conv(c) => vec![c],
                YoloV3Layer::Res(r) => r.module_list.iter().flatten().collect(),
                _ => vec![],
            };
            for c in cbls {
                v.extend((0..cbl_len(c)).map(|j| (layer * 100_000 + j) as f32));
                layer += 1;
            }
        }
        assert_eq!(layer, DARKNET53_CONVS);
        v.extend((0..extra).map(|j| -(j as f32)));
        if let Some(n) = cut {
            v.truncate(n);
        }
        let mut bytes: Vec<u8> = [0i32, 2, 0].iter().flat_map(|x| x.to_le_bytes()).collect();
        bytes.extend(7u64.to_le_bytes());
        bytes.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        bytes
    }

    fn vec1(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn flat4(t: Tensor<4>) -> Vec<f32> {
        let n = t.shape().num_elements();
        vec1(t.reshape([n]))
    }

    #[test]
    fn darknet53_is_read_from_a_weights_file_in_darknets_layer_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("darknet53.conv.74");
        let mut model = narrow();
        let neck_before = match &model.module_list()[12] {
            YoloV3Layer::Conv(c) => flat4(c.conv.weight.val()),
            _ => unreachable!(),
        };
        // A longer file (yolov3.weights-like) is read up to Darknet-53.
        std::fs::write(&path, weights_file(&model, 1000, None)).unwrap();
        assert_eq!(load_pretrained(&mut model, &path).unwrap(), DARKNET53_CONVS);
        let YoloV3Layer::Conv(first) = &model.module_list()[0] else {
            unreachable!()
        };
        let n = 8; // 32 channels at width 1/8
        let seq = |layer: usize, from: usize, len: usize| -> Vec<f32> {
            (from..from + len)
                .map(|j| (layer * 100_000 + j) as f32)
                .collect()
        };
        assert_eq!(vec1(first.batch_norm.beta.val()), seq(0, 0, n));
        assert_eq!(vec1(first.batch_norm.gamma.val()), seq(0, n, n));
        assert_eq!(
            vec1(first.batch_norm.running_mean.value()),
            seq(0, 2 * n, n)
        );
        assert_eq!(vec1(first.batch_norm.running_var.value()), seq(0, 3 * n, n));
        assert_eq!(flat4(first.conv.weight.val()), seq(0, 4 * n, n * 3 * 9));
        // The last residual unit's 3x3 conv is layer 51.
        let YoloV3Layer::Res(last) = &model.module_list()[10] else {
            unreachable!()
        };
        let c = &last.module_list[3][1];
        let d = c.conv.weight.dims();
        assert_eq!(
            flat4(c.conv.weight.val()),
            seq(51, 4 * d[0], d.iter().product())
        );
        // The neck is left as initialised.
        let YoloV3Layer::Conv(neck) = &model.module_list()[12] else {
            unreachable!()
        };
        assert_eq!(flat4(neck.conv.weight.val()), neck_before);
    }

    #[test]
    fn a_short_weights_file_names_the_convolution_it_ends_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.weights");
        let mut model = narrow();
        let full = weights_file(&model, 0, None);
        let floats = (full.len() - 20) / 4;
        std::fs::write(&path, weights_file(&model, 0, Some(floats - 1))).unwrap();
        let err = load_pretrained(&mut model, &path).unwrap_err().to_string();
        assert!(
            err.contains("short.weights") && err.contains("convolution 52 of"),
            "{err}"
        );
        std::fs::write(&path, [1u8, 2, 3]).unwrap();
        let err = load_pretrained(&mut model, &path).unwrap_err().to_string();
        assert!(err.contains("short.weights"), "{err}");
        // Darknet-53's layers are not the MobileNetV2 variant's.
        std::fs::write(&path, &full).unwrap();
        let mut mobile = YoloV3Spec {
            num_classes: 1,
            backbone: crate::model::yolov3::YoloV3Backbone::MobileNetV2,
            ..YoloV3Spec::default()
        }
        .init(&Device::default());
        let err = load_pretrained(&mut mobile, &path).unwrap_err().to_string();
        assert!(
            err.contains("short.weights") && err.contains("MobileNetV2"),
            "{err}"
        );
        let missing = dir.path().join("none.weights");
        let err = load_pretrained(&mut model, &missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.weights"), "{err}");
    }
}
