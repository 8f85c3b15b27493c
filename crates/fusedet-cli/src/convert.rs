//! `fusedet convert`: between annotation formats (text regions, or object boxes).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use fusedet::data::{self, TextFormat, icdar15, objects, paddle};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Source format: icdar15 | paddle | mlt | td500 | ctw1500 | totaltext | synthtext (text), or
    /// coco | yolo | voc (objects).
    #[arg(long)]
    pub from: String,
    /// Target format: paddle | icdar15 (text), coco | yolo (objects).
    #[arg(long)]
    pub to: String,
    /// Image directory (for `paddle`: the data root).
    #[arg(long)]
    pub images: PathBuf,
    /// Source labels: a directory, or the label file for `paddle` / the json for `coco`.
    #[arg(long)]
    pub labels: PathBuf,
    /// Output: a file for `paddle` and `coco`, a directory for `icdar15` and `yolo`.
    #[arg(long)]
    pub output: PathBuf,
    /// For `--to paddle` / `--to coco`: image paths relative to this root (default: `--images`).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// For `--from yolo`: the dataset yaml with the class names; for `--from voc`: optional.
    #[arg(long)]
    pub names: Option<PathBuf>,
}

const OBJECT_FORMATS: [&str; 3] = ["coco", "yolo", "voc"];

pub fn run(a: ConvertArgs) -> Result<()> {
    let root = a.root.clone().unwrap_or_else(|| a.images.clone());
    if OBJECT_FORMATS.contains(&a.from.as_str()) {
        let names = match &a.names {
            Some(p) => Some(objects::read_yolo_names(p)?),
            None => None,
        };
        let ds = match a.from.as_str() {
            "coco" => objects::read_coco(&a.labels, &a.images)?,
            "yolo" => {
                let Some(names) = names else {
                    bail!("--from yolo needs --names DATASET.yaml for the class names");
                };
                objects::read_yolo(&a.images, &a.labels, names)?
            }
            _ => objects::read_voc(&a.images, &a.labels, names)?,
        };
        let boxes: usize = ds.samples.iter().map(|s| s.boxes.len()).sum();
        match a.to.as_str() {
            "coco" => objects::write_coco(&ds, &a.output, &root)?,
            "yolo" => objects::write_yolo(&ds, &a.output)?,
            other => bail!("objects convert to coco|yolo, not `{other}`"),
        }
        eprintln!(
            "wrote {} ({} images, {boxes} boxes, {} classes)",
            a.output.display(),
            ds.samples.len(),
            ds.names.len()
        );
        return Ok(());
    }
    let from: TextFormat = a.from.parse().map_err(anyhow::Error::msg)?;
    let samples = data::load(from, &a.images, &a.labels)?;
    let regions: usize = samples.iter().map(|s| s.instances.len()).sum();
    match a.to.as_str() {
        "paddle" | "mindocr" => {
            paddle::write(&samples, &a.output, &root)?;
            eprintln!(
                "wrote {} ({} images, {regions} regions)",
                a.output.display(),
                samples.len()
            );
        }
        "icdar15" | "icdar2015" => {
            let files = icdar15::write_dataset(&samples, &a.output)?;
            eprintln!(
                "wrote {} gt_*.txt files ({regions} regions) in {}",
                files.len(),
                a.output.display()
            );
        }
        other => bail!("text regions convert to paddle|icdar15, not `{other}`"),
    }
    Ok(())
}
