//! The run directory of `fusedet train`, readable without the training loop:
//!
//! ```text
//! RUN/
//!   config.toml                  the recipe as run (rebuilds the exact model)
//!   weights/last.bpk             inference weights (EMA when kept) at the last checkpoint
//!   weights/best.bpk, best.json  the best validation so far, and its step and scores
//!   checkpoints/step-NNNNNNNN/   model, optimizer, EMA and state.json: what --resume reads
//!   metrics.csv, curves.png
//!   names.txt                    object detectors: the class names, one per line
//! ```
//!
//! Every file is written to a temporary name and renamed into place; checkpoint directories
//! are built as `.step-N.tmp` and renamed whole. Each checkpoint's `state.json` carries the
//! SHA-256 of its files and each weights file has a `.sha256` beside it, so a file cut short
//! or with a flipped byte (a copy interrupted by a power loss, a bad disk) is detected:
//! `--resume` falls back to the newest checkpoint that verifies, and inference refuses a
//! corrupt weights file by name. Runs without `--out` go to
//! `runs/<task>/<name>`, `<name>2`, `<name>3`, ... as ultralytics numbers them.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{CheckpointError, ConfigError, Error};
use crate::model::{DetModel, ModelSpec};
use crate::postprocess::db::DbPostProcess;
use crate::preprocess::PreprocessConfig;

/// The recipe file in a run directory.
pub const CONFIG: &str = "config.toml";
/// Inference weights of the last checkpoint.
pub const LAST: &str = "weights/last.bpk";
/// Inference weights of the best validation.
pub const BEST: &str = "weights/best.bpk";
/// Step and scores of [`BEST`].
pub const BEST_INFO: &str = "weights/best.json";

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn rec_err(
    path: &Path,
) -> impl FnOnce(burn::store::RecordError) -> CheckpointError + '_ {
    move |e| CheckpointError::Record {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Whether `dir` looks like a fusedet run directory.
pub fn is_run_dir(dir: &Path) -> bool {
    dir.join(CONFIG).is_file()
}

/// `root/name`, or `root/name2`, `root/name3`, ... : the first that does not exist yet.
pub fn next_run_dir(root: &Path, name: &str) -> PathBuf {
    let first = root.join(name);
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|i| root.join(format!("{name}{i}")))
        .find(|p| !p.exists())
        .expect("some run name is free")
}

/// The checkpoint directories, oldest first, with their steps.
pub fn checkpoints(run: &Path) -> Vec<(usize, PathBuf)> {
    let mut v: Vec<(usize, PathBuf)> = std::fs::read_dir(run.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let step = name.strip_prefix("step-")?.parse().ok()?;
            e.path()
                .join("state.json")
                .is_file()
                .then(|| (step, e.path()))
        })
        .collect();
    v.sort();
    v
}

/// Replaces directory `dst` by the complete directory `tmp` (rename is atomic; the old one is
/// moved aside first and removed after).
pub(crate) fn swap_dir(tmp: &Path, dst: &Path) -> Result<(), CheckpointError> {
    let old = dst.with_extension("old");
    if dst.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dst, &old).map_err(io_err(dst))?;
    }
    std::fs::rename(tmp, dst).map_err(io_err(dst))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// An empty temporary directory `parent/.name.tmp`.
pub(crate) fn fresh_tmp(parent: &Path, name: &str) -> Result<PathBuf, CheckpointError> {
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let tmp = parent.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
    Ok(tmp)
}

/// Saves a model's record to `path` (not atomic by itself: see [`save_weights`]).
pub(crate) fn save_module(m: &DetModel, path: &Path) -> Result<(), CheckpointError> {
    m.clone().into_record().save(path).map_err(rec_err(path))
}

/// Loads a record saved by [`save_module`] into `m`.
pub fn load_module(m: DetModel, path: &Path) -> Result<DetModel, CheckpointError> {
    let rec = ModuleRecord::load(path).map_err(rec_err(path))?;
    m.try_load_record(rec).map_err(rec_err(path))
}

/// Hex SHA-256 of a file.
pub fn file_sha256(path: &Path) -> Result<String, CheckpointError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn checksum_path(weights: &Path) -> PathBuf {
    let mut name = weights.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    weights.with_file_name(name)
}

/// Saves inference weights to `run/rel` atomically, with their SHA-256 beside them.
pub(crate) fn save_weights(m: &DetModel, run: &Path, rel: &str) -> Result<(), CheckpointError> {
    let dst = run.join(rel);
    let dir = dst.parent().expect("weights live in a directory");
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let tmp = dir.join(format!(
        ".{}.tmp.bpk",
        dst.file_stem().and_then(|s| s.to_str()).unwrap_or("w")
    ));
    save_module(m, &tmp)?;
    let sum = file_sha256(&tmp)?;
    let sp = checksum_path(&dst);
    crate::fsutil::write_atomic(&sp, format!("{sum}\n").as_bytes()).map_err(io_err(&sp))?;
    std::fs::rename(&tmp, &dst).map_err(io_err(&dst))
}

/// Checks a weights file against the `.sha256` beside it.
pub fn verify_weights(path: &Path) -> Result<(), CheckpointError> {
    let sp = checksum_path(path);
    let want = std::fs::read_to_string(&sp).map_err(|e| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("its checksum {} cannot be read ({e})", sp.display()),
    })?;
    let got = file_sha256(path)?;
    if want.trim() != got {
        return Err(CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason: "SHA-256 does not match the one written with it (cut short or altered)".into(),
        });
    }
    Ok(())
}

/// The SHA-256 of each file of a checkpoint directory, for its `state.json`.
pub(crate) fn checksums(
    dir: &Path,
    files: &[&str],
) -> Result<std::collections::BTreeMap<String, String>, CheckpointError> {
    files
        .iter()
        .map(|f| Ok((f.to_string(), file_sha256(&dir.join(f))?)))
        .collect()
}

/// Checks a checkpoint directory: its `state.json` parses and every file it lists has the
/// SHA-256 it lists.
pub fn verify_checkpoint(dir: &Path) -> Result<(), CheckpointError> {
    let sp = dir.join("state.json");
    let text = std::fs::read_to_string(&sp).map_err(io_err(&sp))?;
    let corrupt = |path: PathBuf, reason: String| CheckpointError::Corrupt { path, reason };
    let state: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| corrupt(sp.clone(), format!("not valid JSON ({e})")))?;
    let files = state
        .get("files")
        .and_then(|f| f.as_object())
        .ok_or_else(|| corrupt(sp.clone(), "no `files` checksums".into()))?;
    if !files.contains_key("model.bpk") {
        return Err(corrupt(
            sp.clone(),
            "`files` does not list model.bpk".into(),
        ));
    }
    for (name, want) in files {
        let p = dir.join(name);
        if !p.is_file() {
            return Err(corrupt(p, "missing".into()));
        }
        if want.as_str() != Some(file_sha256(&p)?.as_str()) {
            return Err(corrupt(
                p,
                "SHA-256 does not match state.json (cut short or altered)".into(),
            ));
        }
    }
    Ok(())
}

/// Checkpoints passed over, with why.
pub type Skipped = Vec<(PathBuf, CheckpointError)>;

/// The newest checkpoint that verifies, and each newer one that did not (with why).
pub fn latest_good_checkpoint(run: &Path) -> (Option<(usize, PathBuf)>, Skipped) {
    let mut skipped = Vec::new();
    for (step, dir) in checkpoints(run).into_iter().rev() {
        match verify_checkpoint(&dir) {
            Ok(()) => return (Some((step, dir)), skipped),
            Err(e) => skipped.push((dir, e)),
        }
    }
    (None, skipped)
}

/// The weights `detect`/`eval` use: `weights/best.bpk` when validation ran, else
/// `weights/last.bpk`.
pub fn weights(run: &Path) -> Result<PathBuf, CheckpointError> {
    [BEST, LAST]
        .iter()
        .map(|rel| run.join(rel))
        .find(|p| p.is_file())
        .ok_or_else(|| CheckpointError::Layout {
            path: run.to_path_buf(),
            reason: format!("no trained weights ({BEST} and {LAST} are missing)"),
        })
}

/// What inference needs from a run's recipe: the model and the test-time settings (the other
/// sections belong to training and are not read here).
#[derive(Clone, Debug, Deserialize)]
pub struct InferenceRecipe {
    /// `[model]`.
    pub model: ModelSpec,
    /// `[postprocess]`.
    #[serde(default)]
    pub postprocess: DbPostProcess,
    /// `[eval]`: the test-time resize.
    #[serde(default)]
    pub eval: PreprocessConfig,
    /// `[objects]`: an object detector's input size and thresholds.
    #[serde(default)]
    pub objects: crate::train::object_config::ObjectTrainConfig,
}

/// The file of class names in a run directory of an object detector.
pub const NAMES: &str = "names.txt";

/// An object detector's class names, `names.txt` in its run directory (one per line); `count`
/// is the model's class count (`class0`, ... when the file is missing).
pub fn read_names(run: &Path, count: usize) -> Result<Vec<String>, Error> {
    let path = run.join(NAMES);
    if !path.is_file() {
        return Ok((0..count).map(|i| format!("class{i}")).collect());
    }
    Ok(crate::object::read_names(&path, count)?)
}

/// Reads a run's recipe for inference.
pub fn read_recipe(run: &Path) -> Result<InferenceRecipe, Error> {
    let path = run.join(CONFIG);
    if !path.is_file() {
        return Err(CheckpointError::Layout {
            path: run.to_path_buf(),
            reason: format!("not a fusedet run directory (no {CONFIG})"),
        }
        .into());
    }
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
        path: path.clone(),
        source,
    })?;
    let recipe: InferenceRecipe = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.clone(),
        message: e.to_string(),
    })?;
    recipe.model.validate().map_err(|e| e.in_file(&path))?;
    Ok(recipe)
}

/// Rebuilds a run's model (inference mode, trained weights) and its test-time settings.
pub fn load(run: &Path, device: &Device) -> Result<(DetModel, InferenceRecipe), Error> {
    let recipe = read_recipe(run)?;
    let w = weights(run)?;
    verify_weights(&w)?;
    let model = DetModel::build(&recipe.model, device, false)?;
    Ok((load_module(model, &w)?, recipe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_count_up_like_ultralytics() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_run_dir(dir.path(), "exp"), dir.path().join("exp"));
        std::fs::create_dir(dir.path().join("exp")).unwrap();
        assert_eq!(next_run_dir(dir.path(), "exp"), dir.path().join("exp2"));
        std::fs::create_dir(dir.path().join("exp2")).unwrap();
        assert_eq!(next_run_dir(dir.path(), "exp"), dir.path().join("exp3"));
    }

    #[test]
    fn checkpoints_verify_and_the_newest_good_one_is_chosen() {
        let run = tempfile::tempdir().unwrap();
        for step in [4usize, 8] {
            let dir = run.path().join(format!("checkpoints/step-{step:08}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("model.bpk"), format!("weights {step}")).unwrap();
            std::fs::write(dir.join("optim.bpk"), format!("optim {step}")).unwrap();
            let files = checksums(&dir, &["model.bpk", "optim.bpk"]).unwrap();
            let state = serde_json::json!({"step": step, "files": files});
            std::fs::write(dir.join("state.json"), state.to_string()).unwrap();
        }
        let (good, skipped) = latest_good_checkpoint(run.path());
        assert_eq!(good.unwrap().0, 8);
        assert!(skipped.is_empty());
        // Cut short.
        let newest = run.path().join("checkpoints/step-00000008");
        std::fs::write(newest.join("optim.bpk"), "opt").unwrap();
        let (good, skipped) = latest_good_checkpoint(run.path());
        assert_eq!(good.unwrap().0, 4);
        let why = skipped[0].1.to_string();
        assert!(
            why.contains("optim.bpk") && why.contains("corrupt"),
            "{why}"
        );
        // No checksums at all (or a state.json that does not parse): not trusted.
        std::fs::write(newest.join("state.json"), "{\"step\": 8}").unwrap();
        assert_eq!(latest_good_checkpoint(run.path()).0.unwrap().0, 4);
        std::fs::write(newest.join("state.json"), "{\"step\": 8, \"fi").unwrap();
        assert_eq!(latest_good_checkpoint(run.path()).0.unwrap().0, 4);
        std::fs::remove_file(run.path().join("checkpoints/step-00000004/model.bpk")).unwrap();
        let (good, skipped) = latest_good_checkpoint(run.path());
        assert!(good.is_none() && skipped.len() == 2);
    }

    #[test]
    fn a_directory_without_weights_or_recipe_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path(), &Device::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a fusedet run directory"), "{e}");
        std::fs::write(dir.path().join(CONFIG), "[model]\narch = \"dbnet\"\n").unwrap();
        let e = load(dir.path(), &Device::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no trained weights"), "{e}");
        std::fs::write(
            dir.path().join(CONFIG),
            "[model]\narch = \"dbnet\"\nk = 3\n",
        )
        .unwrap();
        let e = load(dir.path(), &Device::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.toml") && e.contains('k'), "{e}");
    }
}
