//! Text-detection datasets: one reader (and writer) module per annotation format, all giving
//! [`TextSample`]s, and errors that name the file and line.
//!
//! | module | format |
//! |---|---|
//! | [`icdar15`] | ICDAR 2015 `gt_img_N.txt` (BOM, CRLF, commas in transcriptions, `###`) and `res_img_N.txt` submissions |
//! | [`paddle`] | MindOCR / PaddleOCR det labels `path\t[{"transcription", "points"}]` |
//! | [`mlt`] | ICDAR MLT 2017 `x1,y1,...,x4,y4,script,transcription` |
//! | [`td500`] | MSRA-TD500 `.gt` rotated rectangles |
//! | [`ctw1500`] | SCUT-CTW1500 14-point txt (`x1,y1,...,####text`) |
//! | [`totaltext`] | Total-Text legacy txt `x: [[...]], y: [[...]], ornt: ..., transcriptions: ...` and `.mat` (`polygt`) |
//! | [`synthtext`] | SynthText `gt.mat` (`imnames`, `wordBB`, `txt`) |
//! | [`mat`] | MATLAB level-5 MAT files (numeric, char and cell arrays; compressed or not) |
//! | [`objects`] | object detection: COCO instances json, YOLO txt with the dataset yaml's names |

pub mod ctw1500;
pub mod icdar15;
pub mod mat;
pub mod mlt;
pub mod objects;
pub mod paddle;
pub mod synthtext;
pub mod td500;
pub mod totaltext;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::error::DatasetError;

/// One annotated text region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextInstance {
    /// Polygon vertices in image pixels (4 for quads, more for curved text).
    pub points: Vec<[f64; 2]>,
    /// Transcription (`###` in the source for don't-care regions).
    pub text: String,
    /// Don't care: excluded from training losses and from evaluation in both directions.
    pub ignore: bool,
}

impl TextInstance {
    /// An instance whose `ignore` flag follows the ICDAR convention (`###` = don't care).
    pub fn new(points: Vec<[f64; 2]>, text: impl Into<String>) -> Self {
        let text = text.into();
        let ignore = text == "###";
        Self {
            points,
            text,
            ignore,
        }
    }
}

/// One image and its annotations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextSample {
    /// The image file.
    pub image: PathBuf,
    /// Its text regions.
    pub instances: Vec<TextInstance>,
}

/// Reads a text file as UTF-8, dropping a leading BOM.
pub(crate) fn read_text(path: &Path) -> Result<String, DatasetError> {
    let bytes = std::fs::read(path).map_err(|e| DatasetError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        DatasetError::parse(path, line, "not valid UTF-8")
    })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text))
}

/// Parses a number, naming the field on error.
pub(crate) fn parse_num(
    s: &str,
    path: &Path,
    line: usize,
    what: &str,
) -> Result<f64, DatasetError> {
    let t = s.trim();
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| DatasetError::parse(path, line, format!("{what}: `{t}` is not a number")))
}

/// The non-blank lines of a label file with their 1-based numbers, CR stripped.
pub(crate) fn label_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// Splits `x1,y1,...,x4,y4,<rest>` (the ICDAR family): the quad and the `rest` fields (the
/// last one keeps its commas). `min_rest` rest fields are required; `layout` names the
/// expected line in the error.
pub(crate) fn split_quad_line<'a>(
    line: &'a str,
    rest: usize,
    min_rest: usize,
    path: &Path,
    n: usize,
    layout: &str,
) -> Result<(Vec<[f64; 2]>, Vec<&'a str>), DatasetError> {
    let f: Vec<&str> = line.splitn(8 + rest, ',').collect();
    if f.len() < 8 + min_rest {
        return Err(DatasetError::parse(
            path,
            n,
            format!("expected {layout}, found {} fields", f.len()),
        ));
    }
    let mut c = Vec::with_capacity(8);
    for (k, v) in f[..8].iter().enumerate() {
        let what = format!("{}{}", if k % 2 == 0 { "x" } else { "y" }, k / 2 + 1);
        c.push(parse_num(v, path, n, &what)?);
    }
    Ok((pairs(&c), f[8..].to_vec()))
}

/// Pairs `[x, y]` from a flat coordinate list.
pub(crate) fn pairs(v: &[f64]) -> Vec<[f64; 2]> {
    v.chunks_exact(2).map(|c| [c[0], c[1]]).collect()
}

/// File extensions (lower case) taken for images when a directory is listed.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "gif", "pgm", "ppm", "pbm", "pnm",
];

/// Image files ([`IMAGE_EXTENSIONS`], any case) in a directory, sorted by name.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DatasetError::io(dir, e))? {
        let p = entry.map_err(|e| DatasetError::io(dir, e))?.path();
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        if ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
            out.push(p);
        }
    }
    out.sort_by_key(|p| natural_key(p));
    Ok(out)
}

/// Sort key putting `img_2` before `img_10`.
pub(crate) fn natural_key(p: &Path) -> Vec<(String, u64)> {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let mut out = Vec::new();
    let mut text = String::new();
    let mut num = String::new();
    for ch in name.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
        } else {
            if !num.is_empty() {
                out.push((std::mem::take(&mut text), num.parse().unwrap_or(u64::MAX)));
                num.clear();
            }
            text.push(ch);
        }
    }
    out.push((text, num.parse().unwrap_or(0)));
    out
}

/// [`crate::fsutil::write_atomic`] (temporary file beside it, then a rename), creating the
/// parent directory first and naming the file on error.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(|e| DatasetError::io(d, e))?;
    }
    crate::fsutil::write_atomic(path, bytes).map_err(|e| DatasetError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_puts_2_before_10() {
        let mut v = vec![
            PathBuf::from("img_10.jpg"),
            PathBuf::from("img_2.jpg"),
            PathBuf::from("img_1.jpg"),
        ];
        v.sort_by_key(|p| natural_key(p));
        assert_eq!(
            v,
            vec![
                PathBuf::from("img_1.jpg"),
                PathBuf::from("img_2.jpg"),
                PathBuf::from("img_10.jpg")
            ]
        );
    }
}

/// The text-detection annotation formats fusedet reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextFormat {
    /// ICDAR 2015: `images/img_N.jpg` + `labels/gt_img_N.txt`.
    Icdar15,
    /// MindOCR / PaddleOCR label file; `images` is the data root the paths are relative to.
    Paddle,
    /// ICDAR 2017 MLT: `gt_<stem>.txt` with a script column.
    Mlt,
    /// MSRA-TD500: `<stem>.gt` beside or apart from the images.
    Td500,
    /// SCUT-CTW1500 txt: `<stem>.txt`.
    Ctw1500,
    /// Total-Text: `poly_gt_<stem>.txt` (legacy txt) or `poly_gt_<stem>.mat`.
    Totaltext,
    /// SynthText: `labels` is `gt.mat`, `images` the image root.
    Synthtext,
}

impl std::str::FromStr for TextFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "icdar15" | "icdar2015" | "ic15" => Self::Icdar15,
            "paddle" | "mindocr" => Self::Paddle,
            "mlt" | "mlt2017" => Self::Mlt,
            "td500" | "msra-td500" => Self::Td500,
            "ctw1500" => Self::Ctw1500,
            "totaltext" | "total-text" => Self::Totaltext,
            "synthtext" => Self::Synthtext,
            _ => {
                return Err(format!(
                    "format must be icdar15|paddle|mlt|td500|ctw1500|totaltext|synthtext, not `{s}`"
                ));
            }
        })
    }
}

/// Reads a dataset: `images` is the image directory (for `paddle`, the data root), `labels`
/// the label directory (for `paddle`, the label file). Per-image formats need a label file for
/// every image.
pub fn load(
    format: TextFormat,
    images: &Path,
    labels: &Path,
) -> Result<Vec<TextSample>, DatasetError> {
    if format == TextFormat::Paddle {
        return paddle::read(labels, images);
    }
    if format == TextFormat::Icdar15 {
        return icdar15::read_dataset(images, labels);
    }
    if format == TextFormat::Synthtext {
        return synthtext::read(labels, images);
    }
    let mut out = Vec::new();
    for image in list_images(images)? {
        let stem = image
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let label = labels.join(match format {
            TextFormat::Mlt => format!("gt_{stem}.txt"),
            TextFormat::Td500 => format!("{stem}.gt"),
            TextFormat::Ctw1500 => format!("{stem}.txt"),
            TextFormat::Totaltext => {
                let txt = format!("poly_gt_{stem}.txt");
                if labels.join(&txt).is_file() {
                    txt
                } else {
                    format!("poly_gt_{stem}.mat")
                }
            }
            TextFormat::Icdar15 | TextFormat::Paddle | TextFormat::Synthtext => unreachable!(),
        });
        if !label.is_file() {
            return Err(DatasetError::Layout {
                path: label,
                reason: format!("no label file for {}", image.display()),
            });
        }
        let instances = match format {
            TextFormat::Mlt => mlt::read_gt(&label)?
                .into_iter()
                .map(|m| m.instance)
                .collect(),
            TextFormat::Td500 => td500::read_gt(&label)?,
            TextFormat::Ctw1500 => ctw1500::read_txt(&label)?,
            TextFormat::Totaltext if label.extension().is_some_and(|e| e == "mat") => {
                totaltext::read_mat(&label)?
            }
            TextFormat::Totaltext => totaltext::read_gt(&label)?,
            TextFormat::Icdar15 | TextFormat::Paddle | TextFormat::Synthtext => unreachable!(),
        };
        out.push(TextSample { image, instances });
    }
    if out.is_empty() {
        return Err(DatasetError::Layout {
            path: images.to_path_buf(),
            reason: "no images found".into(),
        });
    }
    Ok(out)
}
