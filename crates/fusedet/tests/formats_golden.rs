//! Image formats a user may hand to fusedet, against OpenCV's `imread` (fixtures and expected
//! pixels from `tools/make_format_fixtures.py`): GIF (first frame), PNM, 16-bit TIFF and PNG,
//! WebP with alpha, CMYK JPEG, and JPEGs with each EXIF orientation. Every file is checked and
//! every mismatch reported.
use std::path::PathBuf;

use fusedet::preprocess::load_image;
use serde::Deserialize;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

#[derive(Deserialize)]
struct Case {
    file: String,
    width: u32,
    height: u32,
    /// Largest difference allowed per value (0 for every file so far).
    tolerance: u8,
    note: String,
    rgb: Vec<u8>,
}

#[test]
fn every_format_decodes_to_opencvs_pixels() {
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("formats.json")).unwrap())
            .unwrap();
    assert_eq!(cases.len(), 22);
    let mut failures = Vec::new();
    for c in &cases {
        let img = match load_image(&fixtures().join(&c.file)) {
            Ok(i) => i,
            Err(e) => {
                failures.push(format!("{} ({}): {e}", c.file, c.note));
                continue;
            }
        };
        if img.dimensions() != (c.width, c.height) {
            failures.push(format!(
                "{} ({}): {}x{}, OpenCV {}x{}",
                c.file,
                c.note,
                img.width(),
                img.height(),
                c.width,
                c.height
            ));
            continue;
        }
        let diffs: Vec<u8> = img
            .as_raw()
            .iter()
            .zip(&c.rgb)
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        let worst = diffs.iter().copied().max().unwrap_or(0);
        if worst > c.tolerance {
            let n = diffs.iter().filter(|&&d| d > c.tolerance).count();
            failures.push(format!(
                "{} ({}): {n} of {} values differ from cv2.imread by more than {} (up to {worst})",
                c.file,
                c.note,
                diffs.len(),
                c.tolerance
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
