//! End-to-end checks of the `fusedet` binary that need no model weights.

use std::process::Command;

fn fusedet(args: &[&str], home: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fusedet"))
        .args(args)
        .env("FUSEDET_HOME", home)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_model_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.png");
    image::RgbImage::new(8, 8).save(&img).unwrap();
    let (rc, _, err) = fusedet(
        &[
            "detect",
            "--model",
            "/nonexistent/model.onnx",
            img.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(rc, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("/nonexistent/model.onnx") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn model_not_downloaded_without_fetch_says_how_to_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.png");
    image::RgbImage::new(8, 8).save(&img).unwrap();
    let (rc, _, err) = fusedet(&["detect", "--no-fetch", img.to_str().unwrap()], dir.path());
    assert_eq!(rc, 1);
    assert!(err.contains("fusedet models fetch ppocr-v4-det"), "{err}");
}

#[test]
fn a_file_that_is_not_onnx_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("bad.onnx");
    std::fs::write(&model, b"\xff\xff\xff garbage").unwrap();
    let img = dir.path().join("a.png");
    image::RgbImage::new(8, 8).save(&img).unwrap();
    let (rc, _, err) = fusedet(
        &[
            "detect",
            "--model",
            model.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(rc, 1);
    assert!(
        err.contains("bad.onnx") && err.contains("not an ONNX model"),
        "{err}"
    );
}

#[test]
fn unknown_option_values_are_rejected_with_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let (rc, _, err) = fusedet(&["detect", "--box-type", "circle", "x.png"], dir.path());
    assert_ne!(rc, 0);
    assert!(err.contains("quad|poly"), "{err}");
}

#[test]
fn models_list_names_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (rc, out, _) = fusedet(&["models", "list"], dir.path());
    assert_eq!(rc, 0);
    assert!(
        out.contains("ppocr-v4-det") && out.contains("not downloaded"),
        "{out}"
    );
}
