//! Shared pieces of the fuzz targets: a per-process scratch directory (the readers take file
//! paths, so each input is written to a file first), a tiny PNG, tiny models, and a panic hook
//! that stays quiet for the panics fusedet catches on purpose.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fusedet::burn::prelude::Device;
use fusedet::model::{BackboneSpec, DbNet, DbNetSpec, DetModel, NeckSpec};

/// The scratch directory of this process (in /dev/shm when there is one), with `images/img.png`
/// (an 8x6 PNG), `labels/` and `annotations/` made once.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("fusedet-fuzz-{}", std::process::id()));
        for sub in ["images", "labels", "annotations"] {
            std::fs::create_dir_all(dir.join(sub)).expect("scratch directory");
        }
        let img =
            image::RgbImage::from_fn(8, 6, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 7]));
        img.save(dir.join("images/img.png")).expect("scratch image");
        dir
    })
}

/// Writes `data` to `scratch()/rel` and returns the path.
pub fn put(rel: &str, data: &[u8]) -> PathBuf {
    let p = scratch().join(rel);
    std::fs::write(&p, data).expect("scratch write");
    p
}

/// Restores a printing panic hook that skips panics raised inside `crates` (their panics are
/// caught and turned into errors by fusedet: libjpeg's fatal errors unwind through mozjpeg).
/// libfuzzer-sys's own hook aborts on every panic, caught or not; a panic that reaches the
/// fuzz target still aborts (libfuzzer-sys checks `catch_unwind` around the target).
pub fn quiet_caught_panics(crates: &'static [&'static str]) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _aborting = std::panic::take_hook();
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file()).unwrap_or("");
            if !crates.iter().any(|c| file.contains(c)) {
                default(info);
            }
        }));
    });
}

/// The CPU device.
pub fn device() -> Device {
    Device::default()
}

/// A DBNet with a ResNet-18 backbone at base width 4 (the layout of the repository's
/// `resnet18_w4_torchvision.pth` fixture) and a 16-channel FPN: fast enough to run per input.
pub fn tiny_dbnet() -> DbNet {
    let spec = DbNetSpec {
        backbone: BackboneSpec::Resnet18 {
            base_width: 4,
            weights: None,
        },
        neck: NeckSpec::Fpnc {
            channels: 16,
            asf: false,
        },
        ..DbNetSpec::default()
    };
    DbNet::new(&spec, false, &device())
}

/// [`tiny_dbnet`] as the model type of run directories.
pub fn tiny_model() -> DetModel {
    DetModel::Db(tiny_dbnet())
}
