//! End-to-end checks of the `fusedet` binary that need no model weights.

mod common;
use common::fusedet;

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

/// A two-image ICDAR 2015-style dataset made in code.
fn tiny_icdar15(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (images, gt) = (dir.join("images"), dir.join("gt"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&gt).unwrap();
    for n in [1, 2] {
        image::RgbImage::new(64, 48)
            .save(images.join(format!("img_{n}.jpg")))
            .unwrap();
    }
    std::fs::write(
        gt.join("gt_img_1.txt"),
        "\u{feff}1,1,21,1,21,11,1,11,Hello, world\r\n30,30,50,30,50,40,30,40,###\r\n",
    )
    .unwrap();
    std::fs::write(gt.join("gt_img_2.txt"), "5,5,25,5,25,15,5,15,two\r\n").unwrap();
    (images, gt)
}

#[test]
fn eval_scores_submission_files_and_writes_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    // A comma and a quote in the path: per_image.csv must still have one field per column.
    let dir = tmp.path().join("set \"a\", b");
    let (images, gt) = tiny_icdar15(&dir);
    let dir = dir.as_path();
    let res = dir.join("res");
    std::fs::create_dir_all(&res).unwrap();
    // img_1: the word found, plus one box inside the ### region (ignored); img_2: a miss and
    // a false positive.
    std::fs::write(
        res.join("res_img_1.txt"),
        "1,1,21,1,21,11,1,11\r\n31,30,50,30,50,40,31,40\r\n",
    )
    .unwrap();
    std::fs::write(res.join("res_img_2.txt"), "40,40,60,40,60,46,40,46\r\n").unwrap();
    let summary = dir.join("summary.json");
    let out = dir.join("out");
    let (rc, stdout, err) = fusedet(
        &[
            "eval",
            "--images",
            images.to_str().unwrap(),
            "--labels",
            gt.to_str().unwrap(),
            "--predictions",
            res.to_str().unwrap(),
            "--json",
            summary.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        dir,
    );
    assert_eq!(rc, 0, "{err}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["matched"], 1);
    assert_eq!(s["gt_care"], 2);
    assert_eq!(s["det_care"], 2);
    assert_eq!(s["hmean"], 0.5);
    assert!(stdout.contains("hmean 0.5000"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("per_image.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let row = csv.lines().nth(1).unwrap();
    assert!(
        row.starts_with('"') && row.contains("\"\"a\"\", b"),
        "{csv}"
    );
    assert!(
        row.ends_with("img_1.jpg\",1,1,1,1.0000,1.0000,1.0000"),
        "{csv}"
    );
    assert!(out.join("report/index.html").is_file());
    assert!(out.join("report/img_2.png").is_file());
}

#[test]
fn convert_round_trips_icdar15_through_paddle() {
    let dir = tempfile::tempdir().unwrap();
    let (images, gt) = tiny_icdar15(dir.path());
    let labels = dir.path().join("det_gt.txt");
    let back = dir.path().join("back");
    let run = |args: &[&str]| {
        let (rc, _, err) = fusedet(args, dir.path());
        assert_eq!(rc, 0, "{err}");
    };
    run(&[
        "convert",
        "--from",
        "icdar15",
        "--to",
        "paddle",
        "--images",
        images.to_str().unwrap(),
        "--labels",
        gt.to_str().unwrap(),
        "--output",
        labels.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&labels).unwrap();
    assert!(
        text.starts_with("img_1.jpg\t[{\"transcription\":\"Hello, world\""),
        "{text}"
    );
    run(&[
        "convert",
        "--from",
        "paddle",
        "--to",
        "icdar15",
        "--images",
        images.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--output",
        back.to_str().unwrap(),
    ]);
    for n in [1, 2] {
        let a = std::fs::read_to_string(gt.join(format!("gt_img_{n}.txt"))).unwrap();
        let b = std::fs::read_to_string(back.join(format!("gt_img_{n}.txt"))).unwrap();
        assert_eq!(a.trim_start_matches('\u{feff}'), b);
    }
}

#[test]
fn a_malformed_label_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (images, gt) = tiny_icdar15(dir.path());
    std::fs::write(
        gt.join("gt_img_2.txt"),
        "5,5,25,5,25,15,5,15,ok\r\n5,5,x,5\r\n",
    )
    .unwrap();
    let (rc, _, err) = fusedet(
        &[
            "eval",
            "--images",
            images.to_str().unwrap(),
            "--labels",
            gt.to_str().unwrap(),
            "--predictions",
            dir.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(rc, 1);
    assert!(
        err.contains("gt_img_2.txt:2") && !err.contains("panicked"),
        "{err}"
    );
}
