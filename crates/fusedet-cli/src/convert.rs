//! `fusedet convert`: between text-detection annotation formats.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use fusedet::data::{self, TextFormat, icdar15, paddle};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Source format: icdar15 | paddle | mlt | td500 | ctw1500 | totaltext.
    #[arg(long)]
    pub from: TextFormat,
    /// Target format: paddle | icdar15.
    #[arg(long)]
    pub to: TextFormat,
    /// Image directory (for `paddle`: the data root).
    #[arg(long)]
    pub images: PathBuf,
    /// Source labels (directory, or the label file for `paddle`).
    #[arg(long)]
    pub labels: PathBuf,
    /// Output: a label file for `paddle`, a directory for `icdar15`.
    #[arg(long)]
    pub output: PathBuf,
    /// For `--to paddle`: write image paths relative to this root (default: `--images`).
    #[arg(long)]
    pub root: Option<PathBuf>,
}

pub fn run(a: ConvertArgs) -> Result<()> {
    let samples = data::load(a.from, &a.images, &a.labels)?;
    let regions: usize = samples.iter().map(|s| s.instances.len()).sum();
    match a.to {
        TextFormat::Paddle => {
            let root = a.root.clone().unwrap_or_else(|| a.images.clone());
            paddle::write(&samples, &a.output, &root)?;
            eprintln!(
                "wrote {} ({} images, {regions} regions)",
                a.output.display(),
                samples.len()
            );
        }
        TextFormat::Icdar15 => {
            let files = icdar15::write_dataset(&samples, &a.output)?;
            eprintln!(
                "wrote {} gt_*.txt files ({regions} regions) in {}",
                files.len(),
                a.output.display()
            );
        }
        other => bail!("converting to {other:?} is not supported; use --to paddle or --to icdar15"),
    }
    Ok(())
}
