//! Preprocessing against OpenCV (fixtures from `tools/make_preprocess_fixtures.py`): the
//! INTER_LINEAR resize and the JPEG decoder must give OpenCV's pixels exactly, since one level
//! of difference moves PP-OCR detections near `box_thresh`.
use std::path::PathBuf;

use fusedet::preprocess::{load_image, resize_bilinear};
use image::RgbImage;
use serde::Deserialize;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/preprocess")
}

#[derive(Deserialize)]
struct ResizeCase {
    width: u32,
    height: u32,
    dest_width: u32,
    dest_height: u32,
    rgb: Vec<u8>,
    resized_rgb: Vec<u8>,
}

#[test]
fn resize_matches_opencv_inter_linear_exactly() {
    let cases: Vec<ResizeCase> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("resize.json")).unwrap())
            .unwrap();
    assert_eq!(cases.len(), 8);
    for c in cases {
        let img = RgbImage::from_raw(c.width, c.height, c.rgb).unwrap();
        let out = resize_bilinear(&img, c.dest_width, c.dest_height);
        let differ = out
            .as_raw()
            .iter()
            .zip(&c.resized_rgb)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differ, 0,
            "{}x{} -> {}x{}: {differ} values differ from cv2.resize",
            c.width, c.height, c.dest_width, c.dest_height
        );
    }
}

#[derive(Deserialize)]
struct JpegCase {
    file: String,
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

#[test]
fn jpeg_decoding_matches_cv2_imread_exactly() {
    let cases: Vec<JpegCase> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("jpeg.json")).unwrap())
            .unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        let img = load_image(&fixtures().join(&c.file)).unwrap();
        assert_eq!(
            (img.width(), img.height()),
            (c.width, c.height),
            "{}",
            c.file
        );
        let differ = img
            .as_raw()
            .iter()
            .zip(&c.rgb)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differ, 0,
            "{}: {differ} values differ from cv2.imread",
            c.file
        );
    }
}
