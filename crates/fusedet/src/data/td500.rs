//! MSRA-TD500: `IMG_NNNN.gt` lines `index difficult x y w h theta`: a rectangle of size w×h
//! whose top-left corner is (x, y) before rotating by `theta` radians about its centre;
//! `difficult = 1` regions are don't care.

use std::path::Path;

use super::{DatasetError, Parsed, TextInstance, first_error, parse_num, read_text};

/// The four corners (clockwise on screen from the top-left) of a TD500 rectangle.
pub fn corners(x: f64, y: f64, w: f64, h: f64, theta: f64) -> Vec<[f64; 2]> {
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (s, c) = theta.sin_cos();
    [(-w, -h), (w, -h), (w, h), (-w, h)]
        .iter()
        .map(|&(dx, dy)| {
            let (dx, dy) = (dx / 2.0, dy / 2.0);
            [cx + dx * c - dy * s, cy + dx * s + dy * c]
        })
        .collect()
}

/// Reads one `.gt` file.
pub fn read_gt(path: &Path) -> Result<Vec<TextInstance>, DatasetError> {
    first_error(parse_gt(path)?)
}

/// Every line of a `.gt` file, each parsed on its own.
pub(crate) fn parse_gt(path: &Path) -> Result<Vec<Parsed<TextInstance>>, DatasetError> {
    let text = read_text(path)?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, raw)| !raw.trim().is_empty())
        .map(|(i, raw)| (i + 1, parse_line(raw, path, i + 1)))
        .collect())
}

fn parse_line(raw: &str, path: &Path, n: usize) -> Result<TextInstance, DatasetError> {
    let f: Vec<&str> = raw.split_whitespace().collect();
    if f.len() != 7 {
        return Err(DatasetError::parse(
            path,
            n,
            format!(
                "expected `index difficult x y w h theta`, found {} fields",
                f.len()
            ),
        ));
    }
    let names = ["index", "difficult", "x", "y", "w", "h", "theta"];
    let mut v = [0f64; 7];
    for k in 0..7 {
        v[k] = parse_num(f[k], path, n, names[k])?;
    }
    let difficult = v[1] != 0.0;
    let mut t = TextInstance::new(corners(v[2], v[3], v[4], v[5], v[6]), "");
    t.ignore = difficult;
    if difficult {
        t.text = "###".into();
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrotated_rectangle_and_difficult_flag() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("IMG_0059.gt");
        std::fs::write(&p, "0 0 10 20 30 8 0\n1 1 0 0 10 10 1.5707963267948966\n").unwrap();
        let g = read_gt(&p).unwrap();
        assert_eq!(
            g[0].points,
            vec![[10.0, 20.0], [40.0, 20.0], [40.0, 28.0], [10.0, 28.0]]
        );
        assert!(!g[0].ignore && g[1].ignore);
        // 90 degrees about the centre (5, 5): the top-left corner goes to the top-right.
        assert!((g[1].points[0][0] - 10.0).abs() < 1e-9 && g[1].points[0][1].abs() < 1e-9);
        std::fs::write(&p, "0 0 10 20 30 8\n").unwrap();
        assert!(
            read_gt(&p)
                .unwrap_err()
                .to_string()
                .contains("IMG_0059.gt:1")
        );
    }
}
