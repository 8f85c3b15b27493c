//! MindOCR / PaddleOCR detection labels: one line per image,
//! `<image path relative to the data root>\t<JSON list of {"transcription", "points"}>`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    DatasetError, Parsed, TextInstance, TextSample, first_error, label_lines, read_text,
    write_atomic,
};

#[derive(Serialize, Deserialize)]
struct Entry {
    transcription: String,
    points: Vec<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    difficult: Option<bool>,
}

/// Reads a label file; image paths are resolved against `data_root`.
pub fn read(path: &Path, data_root: &Path) -> Result<Vec<TextSample>, DatasetError> {
    first_error(parse(path, data_root)?)
}

/// Every line (one image) of a label file, each parsed on its own.
pub(crate) fn parse(
    path: &Path,
    data_root: &Path,
) -> Result<Vec<Parsed<TextSample>>, DatasetError> {
    let text = read_text(path)?;
    Ok(label_lines(&text)
        .map(|(n, line)| (n, parse_line(line, path, n, data_root)))
        .collect())
}

fn parse_line(
    line: &str,
    path: &Path,
    n: usize,
    data_root: &Path,
) -> Result<TextSample, DatasetError> {
    let (img, json) = line.split_once('\t').ok_or_else(|| {
        DatasetError::parse(
            path,
            n,
            "expected `<image path>\\t<JSON list>` (no tab found)",
        )
    })?;
    let entries: Vec<Entry> = serde_json::from_str(json).map_err(|e| {
        DatasetError::parse(
            path,
            n,
            format!("label JSON: {e} (column {} after the tab)", e.column()),
        )
    })?;
    let mut instances = Vec::with_capacity(entries.len());
    for (k, e) in entries.into_iter().enumerate() {
        let mut points = Vec::with_capacity(e.points.len());
        for (j, p) in e.points.iter().enumerate() {
            let xy: Option<Vec<f64>> = p.iter().map(|v| v.as_f64()).collect();
            match xy.as_deref() {
                Some([x, y]) if x.is_finite() && y.is_finite() => points.push([*x, *y]),
                _ => {
                    return Err(DatasetError::parse(
                        path,
                        n,
                        format!("instance {k}, point {j}: expected [x, y] numbers"),
                    ));
                }
            }
        }
        if points.len() < 3 {
            return Err(DatasetError::parse(
                path,
                n,
                format!("instance {k}: {} points, a polygon needs 3", points.len()),
            ));
        }
        let mut inst = TextInstance::new(points, e.transcription);
        inst.ignore |= e.difficult.unwrap_or(false);
        instances.push(inst);
    }
    Ok(TextSample {
        image: data_root.join(img),
        instances,
    })
}

fn num(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Value::from(v)
    }
}

/// Formats samples as label lines, image paths relative to `data_root` where possible.
pub fn format(samples: &[TextSample], data_root: &Path) -> String {
    let mut s = String::new();
    for sample in samples {
        let rel: PathBuf = sample
            .image
            .strip_prefix(data_root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| sample.image.clone());
        let entries: Vec<Entry> = sample
            .instances
            .iter()
            .map(|t| Entry {
                transcription: if t.ignore && t.text.is_empty() {
                    "###".into()
                } else {
                    t.text.clone()
                },
                points: t
                    .points
                    .iter()
                    .map(|p| vec![num(p[0]), num(p[1])])
                    .collect(),
                difficult: None,
            })
            .collect();
        s.push_str(&rel.to_string_lossy().replace('\\', "/"));
        s.push('\t');
        s.push_str(&serde_json::to_string(&entries).expect("labels serialise"));
        s.push('\n');
    }
    s
}

/// Writes a label file atomically.
pub fn write(samples: &[TextSample], path: &Path, data_root: &Path) -> Result<(), DatasetError> {
    write_atomic(path, format(samples, data_root).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mindocr_lines_with_unicode_and_dont_care() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("det_gt.txt");
        std::fs::write(
            &p,
            "train/img_1.jpg\t[{\"transcription\": \"Genaxis Théâtre\", \"points\": [[377, 117], [463, 117], [465, 130], [378, 130]]}, {\"transcription\": \"###\", \"points\": [[1.5, 2], [3, 2], [3, 4]]}]\n",
        )
        .unwrap();
        let s = read(&p, Path::new("/data")).unwrap();
        assert_eq!(s[0].image, Path::new("/data/train/img_1.jpg"));
        assert_eq!(s[0].instances[0].text, "Genaxis Théâtre");
        assert!(s[0].instances[1].ignore);
        assert_eq!(s[0].instances[1].points[0], [1.5, 2.0]);
        // and back
        let again = format(&s, Path::new("/data"));
        std::fs::write(&p, &again).unwrap();
        assert_eq!(read(&p, Path::new("/data")).unwrap(), s);
        assert!(again.contains("Théâtre"), "non-ASCII kept as is: {again}");
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.txt");
        std::fs::write(&p, "a.jpg\t[]\nb.jpg [{}]\n").unwrap();
        let e = read(&p, dir.path()).unwrap_err().to_string();
        assert!(e.contains("labels.txt:2") && e.contains("no tab"), "{e}");
        std::fs::write(
            &p,
            "a.jpg\t[{\"transcription\": \"x\", \"points\": [[1, 2], [3]]}]\n",
        )
        .unwrap();
        let e = read(&p, dir.path()).unwrap_err().to_string();
        assert!(e.contains("labels.txt:1") && e.contains("point 1"), "{e}");
        std::fs::write(
            &p,
            "a.jpg\t[{\"transcription\": \"x\", \"points\": [[1, 2]\n",
        )
        .unwrap();
        let e = read(&p, dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("labels.txt:1") && e.contains("label JSON"),
            "{e}"
        );
    }
}
