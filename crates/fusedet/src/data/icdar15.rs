//! ICDAR 2015 incidental text: `gt_img_N.txt` ground truth (`x1,y1,...,x4,y4,transcription`,
//! UTF-8 with a BOM, CRLF, the transcription being everything after the 8th comma) and
//! `res_img_N.txt` submissions (`x1,y1,...,x4,y4` integers, clockwise on screen).

use std::path::{Path, PathBuf};

use super::{
    DatasetError, Parsed, TextFormat, TextInstance, TextSample, first_error, label_lines,
    read_text, split_quad_line, write_atomic,
};

/// Reads one ground-truth file.
pub fn read_gt(path: &Path) -> Result<Vec<TextInstance>, DatasetError> {
    first_error(parse_gt(path)?)
}

/// Every line of a ground-truth file, each parsed on its own.
pub(crate) fn parse_gt(path: &Path) -> Result<Vec<Parsed<TextInstance>>, DatasetError> {
    let text = read_text(path)?;
    let layout = "x1,y1,x2,y2,x3,y3,x4,y4[,transcription]";
    Ok(label_lines(&text)
        .map(|(n, line)| {
            let r = split_quad_line(line, 1, 0, path, n, layout).map(|(points, rest)| {
                TextInstance::new(points, rest.first().copied().unwrap_or(""))
            });
            (n, r)
        })
        .collect())
}

/// Reads one `res_img_N.txt` submission file (8 coordinates per line, optional confidence or
/// transcription after them are ignored).
pub fn read_result(path: &Path) -> Result<Vec<Vec<[f64; 2]>>, DatasetError> {
    Ok(read_gt(path)?.into_iter().map(|t| t.points).collect())
}

/// The ground-truth file name of an image: `img_12.jpg` → `gt_img_12.txt`.
pub fn gt_name(image: &Path) -> String {
    let stem = image
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    format!("gt_{stem}.txt")
}

/// The submission file name of an image: `img_12.jpg` → `res_img_12.txt`.
pub fn result_name(image: &Path) -> String {
    let stem = image
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    format!("res_{stem}.txt")
}

/// Reads a dataset laid out as ICDAR 2015: every image in `images` with its `gt_<stem>.txt`
/// in `labels`. An image without a label file is an error (it would count as text-free).
pub fn read_dataset(images: &Path, labels: &Path) -> Result<Vec<TextSample>, DatasetError> {
    super::load(TextFormat::Icdar15, images, labels)
}

/// Formats ground truth lines (`x1,...,y4,transcription`, CRLF); coordinates are rounded to
/// integers as in the official files. Polygons that are not quads are written with all their
/// vertices (readers of the official format expect 4).
pub fn format_gt(instances: &[TextInstance]) -> String {
    let mut s = String::new();
    for t in instances {
        for p in &t.points {
            s.push_str(&format!("{},{},", p[0].round() as i64, p[1].round() as i64));
        }
        s.push_str(if t.ignore && t.text.is_empty() {
            "###"
        } else {
            &t.text
        });
        s.push_str("\r\n");
    }
    s
}

/// Formats a submission: one `x1,y1,...,x4,y4` line per quad, integers, clockwise on screen
/// (the official script rejects counter-clockwise quads, so those are reversed).
pub fn format_result(polys: &[Vec<[f64; 2]>]) -> String {
    let mut s = String::new();
    for p in polys {
        let mut pts: Vec<[i64; 2]> = p
            .iter()
            .map(|q| [q[0].round() as i64, q[1].round() as i64])
            .collect();
        // The RRC script's test: sum of (x2 - x1) * (y2 + y1) must be <= 0.
        let orient: i64 = (0..pts.len())
            .map(|i| {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                (b[0] - a[0]) * (b[1] + a[1])
            })
            .sum();
        if orient > 0 {
            pts.reverse();
        }
        let line: Vec<String> = pts
            .iter()
            .flat_map(|q| [q[0].to_string(), q[1].to_string()])
            .collect();
        s.push_str(&line.join(","));
        s.push_str("\r\n");
    }
    s
}

/// Writes the ground truth of every sample as `labels/gt_<stem>.txt` (atomically).
pub fn write_dataset(samples: &[TextSample], labels: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let mut written = Vec::new();
    for s in samples {
        let path = labels.join(gt_name(&s.image));
        write_atomic(&path, format_gt(&s.instances).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_crlf_commas_and_dont_care_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gt_img_1.txt");
        std::fs::write(
            &p,
            "\u{feff}377,117,463,117,465,130,378,130,Genaxis Theatre\r\n\
             493,115,519,115,519,131,493,131,[06]\r\n\
             374,155,409,155,409,170,374,170,###\r\n\
             1,2,3,4,5,6,7,8,a,b,,c\r\n",
        )
        .unwrap();
        let gt = read_gt(&p).unwrap();
        assert_eq!(gt.len(), 4);
        assert_eq!(gt[0].points[0], [377.0, 117.0]);
        assert_eq!(gt[0].text, "Genaxis Theatre");
        assert!(!gt[0].ignore);
        assert!(gt[2].ignore);
        assert_eq!(gt[3].text, "a,b,,c");
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gt_img_2.txt");
        std::fs::write(&p, "1,2,3,4,5,6,7,8,ok\r\n1,2,3,x,5,6,7,8,bad\r\n").unwrap();
        let e = read_gt(&p).unwrap_err().to_string();
        assert!(e.contains("gt_img_2.txt:2"), "{e}");
        assert!(e.contains("y2"), "{e}");
        std::fs::write(&p, "1,2,3\r\n").unwrap();
        let e = read_gt(&p).unwrap_err().to_string();
        assert!(
            e.contains("gt_img_2.txt:1") && e.contains("3 fields"),
            "{e}"
        );
    }

    #[test]
    fn results_are_written_clockwise_as_integers() {
        let ccw = vec![[0.0, 0.0], [0.0, 10.0], [10.4, 10.0], [10.0, 0.0]];
        let s = format_result(&[ccw]);
        assert_eq!(s, "10,0,10,10,0,10,0,0\r\n");
    }

    #[test]
    fn gt_round_trips() {
        let inst = vec![
            TextInstance::new(vec![[1.0, 2.0], [3.0, 2.0], [3.0, 4.0], [1.0, 4.0]], "a,b"),
            TextInstance::new(vec![[5.0, 6.0], [7.0, 6.0], [7.0, 8.0], [5.0, 8.0]], "###"),
        ];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gt_x.txt");
        std::fs::write(&p, format_gt(&inst)).unwrap();
        assert_eq!(read_gt(&p).unwrap(), inst);
    }
}
