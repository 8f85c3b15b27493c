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

/// A label line (or record) parsed on its own: its 1-based line number and the value, or what
/// is wrong with it.
pub(crate) type Parsed<T> = (usize, Result<T, DatasetError>);

/// The values of parsed lines, or the first line's error.
pub(crate) fn first_error<T>(lines: Vec<Parsed<T>>) -> Result<Vec<T>, DatasetError> {
    lines.into_iter().map(|(_, r)| r).collect()
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

    fn polygons(t: &TextInstance) -> Option<String> {
        polygon_problem(&t.points)
    }

    #[test]
    fn check_finds_every_bad_line_and_polygon_and_keeps_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let (images, gt) = (dir.path().join("images"), dir.path().join("gt"));
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(&gt).unwrap();
        for n in 1..=4 {
            std::fs::write(images.join(format!("img_{n}.jpg")), b"not read here").unwrap();
        }
        std::fs::write(gt.join("gt_img_1.txt"), "1,1,9,1,9,9,1,9,ok\n").unwrap();
        std::fs::write(
            gt.join("gt_img_2.txt"),
            "1,1,9,1,9,9,1,9,ok\n1,2,3\n5,5,5,5,5,5,7,7,###\n1,1,9,1,9,9,1,x,bad\n",
        )
        .unwrap();
        std::fs::write(gt.join("gt_img_4.txt"), "2,2,8,2,8,8,2,8,fine\n").unwrap();
        let all = check(TextFormat::Icdar15, &images, &gt, &polygons).unwrap();
        assert_eq!(all.len(), 4);
        assert!(all[0].is_ok() && all[3].is_ok());
        let bad = all[1].as_ref().unwrap_err();
        assert_eq!(
            bad.image.as_deref(),
            Some(images.join("img_2.jpg").as_path())
        );
        let msgs: Vec<String> = bad.problems.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(
            msgs[0].ends_with(
                "gt_img_2.txt:2: expected x1,y1,x2,y2,x3,y3,x4,y4[,transcription], found 3 fields"
            ),
            "{msgs:?}"
        );
        assert!(
            msgs[1].ends_with(
                "gt_img_2.txt:3: polygon with 2 distinct points (4 given); a text region needs 3"
            ),
            "{msgs:?}"
        );
        assert!(
            msgs[2].contains("gt_img_2.txt:4") && msgs[2].contains("y4"),
            "{msgs:?}"
        );
        let missing = all[2].as_ref().unwrap_err();
        assert!(
            missing.problems[0]
                .to_string()
                .contains("no ground truth for")
        );
        // `load` stops at the first problem, as before; without the polygon rule the
        // degenerate quad is read (the metric keeps such ground truth).
        let e = load(TextFormat::Icdar15, &images, &gt)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gt_img_2.txt:2"), "{e}");
        std::fs::write(gt.join("gt_img_2.txt"), "5,5,5,5,5,5,7,7,###\n").unwrap();
        std::fs::write(gt.join("gt_img_3.txt"), "").unwrap();
        assert_eq!(load(TextFormat::Icdar15, &images, &gt).unwrap().len(), 4);
    }

    #[test]
    fn check_of_a_paddle_file_names_line_and_instance() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.txt");
        std::fs::write(
            &p,
            "a.jpg\t[{\"transcription\": \"x\", \"points\": [[0,0],[4,0],[4,4]]}]\n\
             b.jpg\t[{\"transcription\": \"x\", \"points\": [[0,0],[4,0],[4,4]]}, \
             {\"transcription\": \"y\", \"points\": [[1,1],[1,1],[1,1],[1,1]]}]\n\
             c.jpg\tnot json\n",
        )
        .unwrap();
        let all = check(TextFormat::Paddle, dir.path(), &p, &polygons).unwrap();
        assert_eq!(all.len(), 3);
        assert!(all[0].is_ok());
        let b = all[1].as_ref().unwrap_err();
        assert_eq!(b.image.as_deref(), Some(dir.path().join("b.jpg").as_path()));
        let e = b.problems[0].to_string();
        assert!(e.ends_with("labels.txt:2: instance 1: polygon with 1 distinct point (4 given); a text region needs 3"), "{e}");
        let c = all[2].as_ref().unwrap_err();
        assert_eq!(c.image.as_deref(), Some(dir.path().join("c.jpg").as_path()));
        assert!(
            c.problems[0]
                .to_string()
                .contains("labels.txt:3: label JSON")
        );
    }

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
/// every image. The first problem (in dataset order) is the error; [`check`] finds them all.
pub fn load(
    format: TextFormat,
    images: &Path,
    labels: &Path,
) -> Result<Vec<TextSample>, DatasetError> {
    check(format, images, labels, &|_| None)?
        .into_iter()
        .map(|r| r.map_err(|rejected| rejected.problems.into_iter().next().expect("a problem")))
        .collect()
}

/// An image that [`check`] leaves out, and why.
#[derive(Debug)]
pub struct Rejected {
    /// The image (for a paddle line that does not parse, the path before its tab, if any).
    pub image: Option<PathBuf>,
    /// Its problems (at least one), each naming the file and, for text files, the line.
    pub problems: Vec<DatasetError>,
}

/// Why a polygon cannot be a training target: fewer than 3 distinct vertices.
pub fn polygon_problem(points: &[[f64; 2]]) -> Option<String> {
    let mut distinct: Vec<[f64; 2]> = Vec::with_capacity(points.len());
    for p in points {
        if !distinct.contains(p) {
            distinct.push(*p);
        }
    }
    (distinct.len() < 3).then(|| {
        format!(
            "polygon with {} distinct point{} ({} given); a text region needs 3",
            distinct.len(),
            if distinct.len() == 1 { "" } else { "s" },
            points.len()
        )
    })
}

/// Reads a dataset as [`load`] does without stopping at a problem: every label line is parsed,
/// every instance passed to `rule` (`Some(reason)` refuses it; e.g. [`polygon_problem`] of its
/// points), and each image of the dataset, in order, is either its sample or [`Rejected`] with
/// all its problems. Errors that leave nothing to read (the image directory, a whole paddle or
/// SynthText label file, no images at all) are the `Err`.
pub fn check(
    format: TextFormat,
    images: &Path,
    labels: &Path,
    rule: &dyn Fn(&TextInstance) -> Option<String>,
) -> Result<Vec<Result<TextSample, Rejected>>, DatasetError> {
    let judge = |sample: TextSample, bad: Vec<DatasetError>| {
        if bad.is_empty() {
            Ok(sample)
        } else {
            Err(Rejected {
                image: Some(sample.image),
                problems: bad,
            })
        }
    };
    let mut out = Vec::new();
    match format {
        TextFormat::Paddle => {
            let text = read_text(labels)?;
            let mut image_of = label_lines(&text).map(|(_, l)| l.split_once('\t').map(|(i, _)| i));
            for (n, r) in paddle::parse(labels, images)? {
                let image = image_of.next().flatten().map(|i| images.join(i));
                out.push(match r {
                    Err(e) => Err(Rejected {
                        image,
                        problems: vec![e],
                    }),
                    Ok(sample) => {
                        let bad = sample
                            .instances
                            .iter()
                            .enumerate()
                            .filter_map(|(k, t)| {
                                let why = rule(t)?;
                                Some(DatasetError::parse(
                                    labels,
                                    n,
                                    format!("instance {k}: {why}"),
                                ))
                            })
                            .collect();
                        judge(sample, bad)
                    }
                });
            }
        }
        TextFormat::Synthtext => {
            for sample in synthtext::read(labels, images)? {
                let bad = sample
                    .instances
                    .iter()
                    .enumerate()
                    .filter_map(|(k, t)| {
                        let why = rule(t)?;
                        Some(DatasetError::Layout {
                            path: labels.to_path_buf(),
                            reason: format!("{}: word {k}: {why}", sample.image.display()),
                        })
                    })
                    .collect();
                out.push(judge(sample, bad));
            }
        }
        _ => {
            for image in list_images(images)? {
                let label = label_file(format, &image, labels);
                let lines = if label.is_file() {
                    per_image_lines(format, &label)
                } else {
                    let what = if format == TextFormat::Icdar15 {
                        "ground truth"
                    } else {
                        "label file"
                    };
                    Err(DatasetError::Layout {
                        reason: format!("no {what} for {}", image.display()),
                        path: label.clone(),
                    })
                };
                let lines = match lines {
                    Ok(l) => l,
                    Err(e) => {
                        out.push(Err(Rejected {
                            image: Some(image),
                            problems: vec![e],
                        }));
                        continue;
                    }
                };
                let mut instances = Vec::with_capacity(lines.len());
                let mut bad = Vec::new();
                for (n, r) in lines {
                    let r = r.and_then(|t| match rule(&t) {
                        Some(why) if n == 0 => Err(DatasetError::Layout {
                            path: label.clone(),
                            reason: why,
                        }),
                        Some(why) => Err(DatasetError::parse(&label, n, why)),
                        None => Ok(t),
                    });
                    match r {
                        Ok(t) => instances.push(t),
                        Err(e) => bad.push(e),
                    }
                }
                out.push(judge(TextSample { image, instances }, bad));
            }
            if out.is_empty() {
                return Err(DatasetError::Layout {
                    path: images.to_path_buf(),
                    reason: "no images found".into(),
                });
            }
        }
    }
    Ok(out)
}

/// The label file of `image` in a per-image format.
fn label_file(format: TextFormat, image: &Path, labels: &Path) -> PathBuf {
    let stem = image
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    labels.join(match format {
        TextFormat::Icdar15 => icdar15::gt_name(image),
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
        TextFormat::Paddle | TextFormat::Synthtext => unreachable!("not a per-image format"),
    })
}

/// The instances of a per-image label file, line by line (line 0: a `.mat` file's, which has
/// no lines; its problems name the file only).
fn per_image_lines(
    format: TextFormat,
    label: &Path,
) -> Result<Vec<Parsed<TextInstance>>, DatasetError> {
    let whole = |v: Vec<TextInstance>| v.into_iter().map(|t| (0, Ok(t))).collect();
    Ok(match format {
        TextFormat::Icdar15 => icdar15::parse_gt(label)?,
        TextFormat::Mlt => mlt::parse_gt(label)?
            .into_iter()
            .map(|(n, r)| (n, r.map(|m| m.instance)))
            .collect(),
        TextFormat::Td500 => td500::parse_gt(label)?,
        TextFormat::Ctw1500 => ctw1500::parse_txt(label)?,
        TextFormat::Totaltext if label.extension().is_some_and(|e| e == "mat") => {
            whole(totaltext::read_mat(label)?)
        }
        TextFormat::Totaltext => totaltext::parse_gt(label)?,
        TextFormat::Paddle | TextFormat::Synthtext => unreachable!("not a per-image format"),
    })
}
