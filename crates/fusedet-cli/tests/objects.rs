//! `fusedet detect` with a Darknet object detector: a small cfg + weights made here (no
//! download), its JSON, overlays, YOLO labels, and the errors for bad models and misplaced
//! options.

use std::path::{Path, PathBuf};

mod common;
use common::fusedet;

const CFG: &str = "[net]\nwidth=64\nheight=64\nchannels=3\n\
    [convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=leaky\n\
    [maxpool]\nsize=2\nstride=2\n\
    [convolutional]\nfilters=14\nsize=1\nstride=1\npad=1\nactivation=linear\n\
    [yolo]\nmask=0,1\nanchors=10,14,23,27\nclasses=2\nnum=2\n";

/// Float values of the model's weights file.
const FLOATS: usize = 8 * 4 + 8 * 3 * 9 + 14 + 14 * 8;

/// Writes m.cfg, m.weights (with `floats` values; the objectness bias is large so that every
/// cell detects) and m.names; returns the cfg path.
fn model(dir: &Path, floats: usize) -> PathBuf {
    std::fs::write(dir.join("m.cfg"), CFG).unwrap();
    let mut vals = vec![0.1f32; FLOATS];
    // BN of the first conv: beta 0, gamma 1, mean 0, var 1.
    vals[..8].fill(0.0);
    vals[8..16].fill(1.0);
    vals[16..24].fill(0.0);
    vals[24..32].fill(1.0);
    // Biases of the last conv: per anchor x, y, w, h, obj, cat, dog.
    let bias = 32 + 8 * 3 * 9;
    vals[bias..bias + 14].copy_from_slice(&[
        0.0, 0.0, 0.0, 0.0, 6.0, 3.0, -3.0, 0.0, 0.0, 0.0, 0.0, -6.0, 0.0, 0.0,
    ]);
    vals[bias + 14..].fill(0.0);
    let b = common::darknet_weights(vals.into_iter().take(floats));
    std::fs::write(dir.join("m.weights"), b).unwrap();
    std::fs::write(dir.join("m.names"), "cat\ndog\n").unwrap();
    dir.join("m.cfg")
}

#[test]
fn detect_writes_boxes_with_classes_overlays_and_yolo_labels() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = model(dir.path(), FLOATS);
    let img = dir.path().join("street.png");
    image::RgbImage::from_pixel(96, 64, image::Rgb([90, 120, 200]))
        .save(&img)
        .unwrap();
    let (json, overlay, labels) = (
        dir.path().join("r.json"),
        dir.path().join("ov"),
        dir.path().join("labels"),
    );
    let (rc, out, err) = fusedet(
        &[
            "detect",
            "--model",
            cfg.to_str().unwrap(),
            img.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--overlay",
            overlay.to_str().unwrap(),
            "--save-txt",
            labels.to_str().unwrap(),
            "--max-det",
            "5",
        ],
        dir.path(),
    );
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("5 objects") && out.contains("cat"), "{out}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let dets = v[0]["detections"].as_array().unwrap();
    assert_eq!(dets.len(), 5);
    let mut last = f64::INFINITY;
    for d in dets {
        let b: Vec<f64> = serde_json::from_value(d["box"].clone()).unwrap();
        assert!(0.0 <= b[0] && b[0] < b[2] && b[2] <= 96.0, "{d}");
        assert!(0.0 <= b[1] && b[1] < b[3] && b[3] <= 64.0, "{d}");
        assert_eq!(d["class_id"], 0);
        assert_eq!(d["class"], "cat");
        let s = d["score"].as_f64().unwrap();
        assert!(s > 0.25 && s <= last, "{d}");
        last = s;
        assert!(d.get("points").is_none());
    }
    assert!(overlay.join("street.png").is_file());
    let txt = std::fs::read_to_string(labels.join("street.txt")).unwrap();
    assert_eq!(txt.lines().count(), 5);
    let first: Vec<f64> = txt
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .skip(1)
        .map(|t| t.parse().unwrap())
        .collect();
    let b: Vec<f64> = serde_json::from_value(dets[0]["box"].clone()).unwrap();
    assert!((first[0] - (b[0] + b[2]) / 192.0).abs() < 1e-5, "{txt}");
    assert!((first[3] - (b[3] - b[1]) / 64.0).abs() < 1e-5, "{txt}");
    assert!((first[4] - dets[0]["score"].as_f64().unwrap()).abs() < 1e-5);
    // A higher threshold keeps fewer; --imgsz must be a multiple of 32.
    let (rc, out, _) = fusedet(
        &[
            "detect",
            "--model",
            cfg.to_str().unwrap(),
            img.to_str().unwrap(),
            "--conf",
            "0.99",
        ],
        dir.path(),
    );
    assert_eq!(rc, 0);
    assert!(out.contains(": 0 objects"), "{out}");
    let (rc, _, err) = fusedet(
        &[
            "detect",
            "--model",
            cfg.to_str().unwrap(),
            img.to_str().unwrap(),
            "--imgsz",
            "100",
        ],
        dir.path(),
    );
    assert_eq!(rc, 1);
    assert!(err.contains("multiple of 32"), "{err}");
}

#[test]
fn bad_models_and_misplaced_options_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.png");
    image::RgbImage::new(40, 40).save(&img).unwrap();
    let cfg = model(dir.path(), FLOATS - 3);
    let run = |args: &[&str]| {
        let mut all = vec![
            "detect",
            "--model",
            cfg.to_str().unwrap(),
            img.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        fusedet(&all, dir.path())
    };
    // Truncated weights: expected and found counts, the file named.
    let (rc, _, err) = run(&[]);
    assert_eq!(rc, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("m.weights") && err.contains(&format!("{FLOATS} floats expected")),
        "{err}"
    );
    model(dir.path(), FLOATS);
    // Text options on an object model and object options on a text model.
    let (rc, _, err) = run(&["--box-thresh", "0.5"]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("--box-thresh applies to text detectors"),
        "{err}"
    );
    let (rc, _, err) = fusedet(
        &[
            "detect",
            "--no-fetch",
            "--conf",
            "0.3",
            img.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(rc, 1);
    assert!(
        err.contains("fusedet models fetch") || err.contains("--conf"),
        "{err}"
    );
    // Wrong class count in the names file; a bad cfg line.
    std::fs::write(dir.path().join("m.names"), "cat\n").unwrap();
    let (rc, _, err) = run(&[]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("m.names") && err.contains("1 class names for a network with 2 classes"),
        "{err}"
    );
    std::fs::write(dir.path().join("m.names"), "cat\ndog\n").unwrap();
    std::fs::write(
        dir.path().join("m.cfg"),
        CFG.replace("size=3", "size=three"),
    )
    .unwrap();
    let (rc, _, err) = run(&[]);
    assert_eq!(rc, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("m.cfg:8") && err.contains("three"), "{err}");
    // Weights missing beside the cfg.
    std::fs::write(dir.path().join("m.cfg"), CFG).unwrap();
    std::fs::remove_file(dir.path().join("m.weights")).unwrap();
    let (rc, _, err) = run(&[]);
    assert_eq!(rc, 1);
    assert!(err.contains("m.weights"), "{err}");
}

#[test]
fn eval_runs_the_model_and_scores_its_own_results_json() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = model(dir.path(), FLOATS);
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for name in ["a.png", "b.png"] {
        image::RgbImage::from_pixel(64, 64, image::Rgb([90, 120, 200]))
            .save(images.join(name))
            .unwrap();
    }
    // Ground truth: one "cat" per image where the model's best boxes are, one "dog".
    let det_json = dir.path().join("d.json");
    let (rc, _, err) = fusedet(
        &[
            "detect",
            "--model",
            cfg.to_str().unwrap(),
            images.to_str().unwrap(),
            "--max-det",
            "1",
            "--json",
            det_json.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(rc, 0, "{err}");
    let d: serde_json::Value = serde_json::from_slice(&std::fs::read(&det_json).unwrap()).unwrap();
    let b: Vec<f64> = serde_json::from_value(d[0]["detections"][0]["box"].clone()).unwrap();
    let gt = serde_json::json!({
        "images": [
            {"id": 7, "file_name": "a.png", "width": 64, "height": 64},
            {"id": 8, "file_name": "b.png", "width": 64, "height": 64}
        ],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": 100.0, "iscrowd": 0},
            {"id": 2, "image_id": 8, "category_id": 2, "bbox": [10, 10, 20, 20], "area": 400.0, "iscrowd": 0}
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    });
    let ann = dir.path().join("instances.json");
    std::fs::write(&ann, gt.to_string()).unwrap();
    let (out_dir, summary) = (dir.path().join("ev"), dir.path().join("summary.json"));
    let (rc, _, err) = fusedet(
        &[
            "eval",
            "--model",
            cfg.to_str().unwrap(),
            "--format",
            "coco",
            "--images",
            images.to_str().unwrap(),
            "--labels",
            ann.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
            summary.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(rc, 0, "{err}");
    let res: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("results.json")).unwrap()).unwrap();
    let res = res.as_array().unwrap();
    // Evaluation thresholds (0.005): the weak "dog" probability (~0.047) is kept too; ids come
    // from the annotation file and the class names.
    assert!(res.iter().any(|r| r["category_id"] == 2), "no dog results");
    assert!(res.iter().all(|r| r["image_id"] == 7 || r["image_id"] == 8));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["stats"].as_array().unwrap().len(), 12);
    // The cat box is found exactly with the top score in image 7; the dog is never found.
    let ap50 = s["map50"].as_f64().unwrap();
    assert!(ap50 > 0.4 && ap50 < 0.6, "{s}");
    assert!(out_dir.join("per_class_ap.csv").is_file() && out_dir.join("pr_curve.png").is_file());
}
