//! SynthText (Gupta et al. 2016) ground truth `gt.mat`: `imnames` (cell of image paths),
//! `wordBB` (cell of 2×4×n word quads, or 2×4 for one word) and `txt` (cell of char arrays
//! whose whitespace-separated tokens are the words, in `wordBB` order).

use std::path::Path;

use super::mat::{self, MatValue};
use super::{DatasetError, TextInstance, TextSample};

/// Reads `gt.mat`; image paths are resolved against `images`.
pub fn read(path: &Path, images: &Path) -> Result<Vec<TextSample>, DatasetError> {
    let vars = mat::read(path)?;
    let layout = |reason: String| DatasetError::Layout {
        path: path.to_path_buf(),
        reason,
    };
    let cell = |name: &str| -> Result<&Vec<MatValue>, DatasetError> {
        match vars.iter().find(|(n, _)| n == name) {
            Some((_, MatValue::Cell { items, .. })) => Ok(items),
            _ => Err(layout(format!("no cell array `{name}`"))),
        }
    };
    let (names, boxes, texts) = (cell("imnames")?, cell("wordBB")?, cell("txt")?);
    if names.len() != boxes.len() || names.len() != texts.len() {
        return Err(layout(format!(
            "imnames/wordBB/txt have {}/{}/{} entries",
            names.len(),
            boxes.len(),
            texts.len()
        )));
    }
    let mut out = Vec::with_capacity(names.len());
    for i in 0..names.len() {
        let MatValue::Char(name) = &names[i] else {
            return Err(layout(format!("imnames[{i}] is not a string")));
        };
        let MatValue::Num { dims, data } = &boxes[i] else {
            return Err(layout(format!("wordBB[{i}] is not numeric")));
        };
        if dims.len() < 2 || dims[0] != 2 || dims[1] != 4 {
            return Err(layout(format!("wordBB[{i}] is {dims:?}, expected 2x4xN")));
        }
        let n = data.len() / 8;
        let words: Vec<String> = match &texts[i] {
            MatValue::Char(t) => t.split_whitespace().map(str::to_owned).collect(),
            MatValue::Cell { items, .. } => items
                .iter()
                .filter_map(|v| match v {
                    MatValue::Char(t) => Some(t.split_whitespace().map(str::to_owned)),
                    _ => None,
                })
                .flatten()
                .collect(),
            MatValue::Num { .. } => Vec::new(),
        };
        let instances = (0..n)
            .map(|w| {
                // Column-major 2x4xN: (coordinate c, corner k, word w) at c + 2k + 8w.
                let points = (0..4)
                    .map(|k| [data[2 * k + 8 * w], data[1 + 2 * k + 8 * w]])
                    .collect();
                let word = words.get(w).cloned().unwrap_or_default();
                TextInstance {
                    points,
                    text: word,
                    ignore: false,
                }
            })
            .collect();
        out.push(TextSample {
            image: images.join(name.trim()),
            instances,
        });
    }
    Ok(out)
}
