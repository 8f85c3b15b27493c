//! Total-Text legacy txt ground truth (`poly_gt_imgN.txt`):
//! `x: [[x1 x2 ...]], y: [[y1 y2 ...]], ornt: [u'c'], transcriptions: [u'word']`, one instance
//! per record, a record possibly wrapped over several lines; `#` = don't care.

use std::path::Path;

use super::{DatasetError, Parsed, TextInstance, first_error, parse_num, read_text};

fn numbers_in(s: &str, path: &Path, line: usize, what: &str) -> Result<Vec<f64>, DatasetError> {
    let inner = s
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(',')
        .trim_end_matches(']');
    inner
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|t| !t.is_empty())
        .map(|t| parse_num(t, path, line, what))
        .collect()
}

/// Reads one ground-truth file.
pub fn read_gt(path: &Path) -> Result<Vec<TextInstance>, DatasetError> {
    first_error(parse_gt(path)?)
}

/// Every record of a ground-truth file (numbered by its first line), each parsed on its own.
pub(crate) fn parse_gt(path: &Path) -> Result<Vec<Parsed<TextInstance>>, DatasetError> {
    let text = read_text(path)?;
    // Join wrapped records: a record starts with `x:`.
    let mut records: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        if l.starts_with("x:") || records.is_empty() {
            records.push((i + 1, l.to_string()));
        } else if let Some(last) = records.last_mut() {
            last.1.push(' ');
            last.1.push_str(l);
        }
    }
    Ok(records
        .into_iter()
        .map(|(line, rec)| (line, parse_record(&rec, path, line)))
        .collect())
}

fn parse_record(rec: &str, path: &Path, line: usize) -> Result<TextInstance, DatasetError> {
    let find = |key: &str| rec.find(key);
    let (Some(xs), Some(ys), Some(tr)) = (find("x:"), find("y:"), find("transcriptions:")) else {
        return Err(DatasetError::parse(
            path,
            line,
            "expected `x: [[...]], y: [[...]], ..., transcriptions: [...]`",
        ));
    };
    let ornt = find("ornt:").unwrap_or(tr);
    if !(xs < ys && ys < ornt.min(tr)) {
        return Err(DatasetError::parse(path, line, "fields out of order"));
    }
    let x = numbers_in(&rec[xs + 2..ys], path, line, "x")?;
    let y = numbers_in(&rec[ys + 2..ornt.min(tr)], path, line, "y")?;
    if x.len() != y.len() || x.len() < 3 {
        return Err(DatasetError::parse(
            path,
            line,
            format!(
                "{} x and {} y values: need equal counts of at least 3",
                x.len(),
                y.len()
            ),
        ));
    }
    let t = rec[tr + "transcriptions:".len()..].trim();
    let t = t.trim_start_matches('[').trim_end_matches(']');
    let t = t
        .trim_start_matches('u')
        .trim_matches(|c| c == '\'' || c == '"');
    let points = x.iter().zip(&y).map(|(&a, &b)| [a, b]).collect();
    let word = if t == "#" { "###" } else { t };
    Ok(TextInstance::new(points, word))
}

/// Reads a Total-Text `.mat` ground-truth file: the cell array `polygt`, one row per region
/// with columns `x:`, x coordinates, `y:`, y coordinates, transcription, orientation
/// (`#` transcription = don't care).
pub fn read_mat(path: &Path) -> Result<Vec<TextInstance>, DatasetError> {
    use super::mat::{self, MatValue};
    let vars = mat::read(path)?;
    let layout = |reason: String| DatasetError::Layout {
        path: path.to_path_buf(),
        reason,
    };
    let Some((_, MatValue::Cell { dims, items })) = vars.iter().find(|(n, _)| n == "polygt") else {
        return Err(layout("no cell array `polygt`".into()));
    };
    let (rows, cols) = (
        dims.first().copied().unwrap_or(0),
        dims.get(1).copied().unwrap_or(0),
    );
    if rows > 0 && cols < 5 {
        return Err(layout(format!(
            "`polygt` is {rows}x{cols}, expected at least 5 columns"
        )));
    }
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let at = |j: usize| &items[j * rows + i];
        let nums = |j: usize| match at(j) {
            MatValue::Num { data, .. } => Ok(data.clone()),
            _ => Err(layout(format!(
                "polygt row {}: column {} is not numeric",
                i + 1,
                j + 1
            ))),
        };
        let (x, y) = (nums(1)?, nums(3)?);
        if x.len() != y.len() || x.len() < 3 {
            return Err(layout(format!(
                "polygt row {}: {} x and {} y values",
                i + 1,
                x.len(),
                y.len()
            )));
        }
        let text = match at(4) {
            MatValue::Char(s) => s.clone(),
            _ => String::new(),
        };
        let word = if text == "#" || text.is_empty() {
            "###"
        } else {
            text.as_str()
        };
        out.push(TextInstance::new(
            x.iter().zip(&y).map(|(&a, &b)| [a, b]).collect(),
            word,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_records_and_dont_care() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("poly_gt_img11.txt");
        std::fs::write(
            &p,
            "x: [[115 503 494 115]], y: [[322 346 426 404]], ornt: [u'm'], transcriptions: [u'nauGHTY']\n\
             x: [[734 1058 1061 744 745\n 740]], y: [[360 369 449 430 400 380]], ornt: [u'c'], transcriptions: [u'#']\n",
        )
        .unwrap();
        let g = read_gt(&p).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].text, "nauGHTY");
        assert_eq!(g[0].points[1], [503.0, 346.0]);
        assert_eq!(g[1].points.len(), 6);
        assert!(g[1].ignore);
        std::fs::write(
            &p,
            "x: [[1 2 3]], y: [[1 2]], ornt: [u'c'], transcriptions: [u'a']\n",
        )
        .unwrap();
        let e = read_gt(&p).unwrap_err().to_string();
        assert!(e.contains("poly_gt_img11.txt:1"), "{e}");
    }
}
