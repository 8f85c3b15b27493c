//! Loads a checkpoint written by the ASFF reference code (`torch.save` of a state dict, plain
//! or as `{'model': ...}`) into fusedet's YOLOv3 / ASFF model and compares its forward pass
//! with the reference outputs of a fixture made by tools/make_asff_fixtures.py; for
//! tools/check_asff_checkpoint.sh (the full-width checkpoints are ~100–350 MB, too big for
//! the repository's tests).
//!
//! Usage: `asff_parity FIXTURE_DIR VARIANT CHECKPOINT` (VARIANT: baseline, asff, asff_rfb,
//! mobile, mobile_asff).
//! Prints one line `VARIANT CHECKPOINT tensors N raw R guide G decoded_rel D vis V` and exits
//! non-zero when a raw head output differs by more than 1e-4.

#[path = "../tests/asff_fixture/mod.rs"]
mod asff_fixture;

use std::path::Path;

use fusedet::burn::prelude::*;
use fusedet::import::asff::load_checkpoint;

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        a.len() == 4,
        "usage: asff_parity FIXTURE_DIR VARIANT CHECKPOINT"
    );
    let fx = asff_fixture::read_from(Path::new(&a[1]), &a[2]);
    let device = Device::default();
    let mut model = fx.spec().init(&device);
    let report = load_checkpoint(&mut model, Path::new(&a[3]))?;
    anyhow::ensure!(
        report.unused.is_empty(),
        "unused checkpoint tensors: {:?}",
        report.unused
    );
    let p = asff_fixture::compare(&fx, &model, &device);
    println!(
        "{} {} tensors {} raw {:.3e} guide {:.3e} decoded_rel {:.3e} vis {:.3e}",
        a[2],
        a[3],
        report.applied.len(),
        p.raw,
        p.guide,
        p.decoded_rel,
        p.vis
    );
    anyhow::ensure!(p.raw <= 1e-4 && p.guide <= 1e-4, "outputs differ: {p:?}");
    Ok(())
}
