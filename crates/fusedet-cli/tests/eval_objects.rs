//! `fusedet eval --format coco|yolo|voc --predictions`: the binary's numbers against
//! pycocotools' (and py-faster-rcnn's voc_eval) on the fixtures of
//! tools/make_coco_fixtures.py, datasets written in code, and its errors.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::fusedet;

const TOL: f64 = 1e-6;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fusedet/tests/fixtures")
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `fusedet eval` with `args` plus `--json`, returns the summary.
fn eval_summary(dir: &Path, args: &[&str]) -> Value {
    let summary = dir.join("summary.json");
    let mut all: Vec<&str> = vec!["eval"];
    all.extend(args);
    all.extend(["--json", s(&summary)]);
    let (rc, out, err) = fusedet(&all, dir);
    assert_eq!(rc, 0, "{args:?}\n{out}\n{err}");
    read_json(&summary)
}

/// Differences from `want` beyond TOL, as messages.
fn compare(what: &str, got: &[f64], want: &[f64]) -> Vec<String> {
    assert_eq!(got.len(), want.len(), "{what}");
    got.iter()
        .zip(want)
        .enumerate()
        .filter(|(_, (a, b))| (*a - *b).abs() > TOL)
        .map(|(i, (a, b))| format!("{what}: stats[{i}] = {a}, pycocotools {b}"))
        .collect()
}

#[test]
fn coco_predictions_give_pycocotools_stats_on_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures().join("coco"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "params.json"))
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    for path in &paths {
        let case = read_json(path);
        let (g, r) = (dir.path().join("gt.json"), dir.path().join("res.json"));
        std::fs::write(&g, case["gt"].to_string()).unwrap();
        std::fs::write(&r, case["results"].to_string()).unwrap();
        let sm = eval_summary(
            dir.path(),
            &[
                "--format",
                "coco",
                "--images",
                s(dir.path()),
                "--labels",
                s(&g),
                "--predictions",
                s(&r),
            ],
        );
        let name = path.file_name().unwrap().to_string_lossy();
        let stats = floats(&sm["stats"]);
        failures.extend(compare(&name, &stats, &floats(&case["stats"])));
        assert_eq!(
            [&sm["map"], &sm["map50"], &sm["map75"]].map(|v| v.as_f64().unwrap()),
            [stats[0], stats[1], stats[2]]
        );
    }
    assert!(paths.len() >= 14, "only {} fixtures", paths.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Darknet's own yolov3-tiny results on COCO128 (tools/make_darknet_reference.py), scored
/// against COCO128's json: pycocotools' numbers, and the outputs an evaluation writes.
#[test]
fn darknet_results_on_coco128_score_as_pycocotools_and_write_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let dk = read_json(&fixtures().join("darknet/yolov3_tiny_coco128_train2017.json"));
    let gt = read_json(&fixtures().join("coco/coco128.json"));
    let (g, r, out) = (
        dir.path().join("instances.json"),
        dir.path().join("res.json"),
        dir.path().join("out"),
    );
    std::fs::write(&g, gt["gt"].to_string()).unwrap();
    std::fs::write(&r, dk["results"].to_string()).unwrap();
    let summary = dir.path().join("summary.json");
    let (rc, stdout, err) = fusedet(
        &[
            "eval",
            "--format",
            "coco",
            "--images",
            s(dir.path()),
            "--labels",
            s(&g),
            "--predictions",
            s(&r),
            "--json",
            s(&summary),
            "--out",
            s(&out),
        ],
        dir.path(),
    );
    assert_eq!(rc, 0, "{err}");
    let sm = read_json(&summary);
    let f = compare("darknet", &floats(&sm["stats"]), &floats(&dk["stats"]));
    assert!(f.is_empty(), "{}", f.join("\n"));
    // pycocotools' own print-out of stats[0] and stats[8].
    assert!(
        stdout.contains(
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.139\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.208\n"
        ),
        "{stdout}"
    );
    // per_class_ap.csv: one row per category; its AP50 column averages to map50.
    let csv = std::fs::read_to_string(out.join("per_class_ap.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("class,category_id,ap,ap50,gt"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 80);
    assert_eq!(rows[0][..2], ["person", "1"]);
    let ap50: Vec<f64> = rows.iter().filter_map(|r| r[3].parse().ok()).collect();
    let mean = ap50.iter().sum::<f64>() / ap50.len() as f64;
    assert!(
        (mean - sm["map50"].as_f64().unwrap()).abs() < 1e-5,
        "{mean}"
    );
    assert_eq!(sm["per_class"].as_array().unwrap().len(), 80);
    let png = image::open(out.join("pr_curve.png")).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (1000, 600));
    // With --predictions the results are the input: no results.json.
    assert!(!out.join("results.json").exists());
}

/// The `dataset` of an objects_*.json fixture: PNG images of the given sizes.
fn write_images(case: &Value, images: &Path) -> Vec<Value> {
    std::fs::create_dir_all(images).unwrap();
    let samples = case["dataset"]["samples"].as_array().unwrap().clone();
    for smp in &samples {
        let (w, h) = (
            smp["width"].as_u64().unwrap(),
            smp["height"].as_u64().unwrap(),
        );
        image::RgbImage::new(w as u32, h as u32)
            .save(images.join(smp["file_name"].as_str().unwrap()))
            .unwrap();
    }
    samples
}

fn stem(smp: &Value) -> String {
    smp["file_name"]
        .as_str()
        .unwrap()
        .trim_end_matches(".png")
        .to_string()
}

#[test]
fn yolo_dataset_scores_as_pycocotools_scores_its_coco_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let case = read_json(&fixtures().join("coco/objects_yolo.json"));
    let root = dir.path().join("set");
    let images = root.join("images/val");
    let labels = root.join("labels/val");
    std::fs::create_dir_all(&labels).unwrap();
    for smp in write_images(&case, &images) {
        let (w, h) = (
            smp["width"].as_f64().unwrap(),
            smp["height"].as_f64().unwrap(),
        );
        let mut text = String::new();
        for b in smp["boxes"].as_array().unwrap() {
            let v = floats(b);
            text.push_str(&format!(
                "{} {} {} {} {}\n",
                v[0],
                (v[1] + v[3]) / 2.0 / w,
                (v[2] + v[4]) / 2.0 / h,
                (v[3] - v[1]) / w,
                (v[4] - v[2]) / h
            ));
        }
        std::fs::write(labels.join(format!("{}.txt", stem(&smp))), text).unwrap();
    }
    let yaml = root.join("data.yaml");
    std::fs::write(
        &yaml,
        "path: .\nval: images/val\nnames:\n  0: bird\n  1: cat\n  2: dog\n",
    )
    .unwrap();
    let res = dir.path().join("res.json");
    std::fs::write(&res, case["results"].to_string()).unwrap();
    let want = floats(&case["stats"]);
    // The yaml (labels beside the images), and a label directory with --names.
    for extra in [
        vec!["--labels", s(&yaml)],
        vec!["--labels", s(&labels), "--names", s(&yaml)],
    ] {
        let mut args = vec!["--format", "yolo", "--images", s(&images)];
        args.extend(&extra);
        args.extend(["--predictions", s(&res)]);
        let sm = eval_summary(dir.path(), &args);
        let f = compare("yolo", &floats(&sm["stats"]), &want);
        assert!(f.is_empty(), "{extra:?}: {}", f.join("\n"));
        assert_eq!(sm["format"], "yolo");
        assert_eq!(sm["per_class"][2]["class"], "dog");
        assert_eq!(sm["per_class"][2]["category_id"], 3);
    }
    // No `images` component to find the labels from.
    let flat = dir.path().join("flat");
    write_images(&case, &flat);
    let (rc, _, err) = fusedet(
        &[
            "eval",
            "--format",
            "yolo",
            "--images",
            s(&flat),
            "--labels",
            s(&yaml),
            "--predictions",
            s(&res),
        ],
        dir.path(),
    );
    assert_eq!(rc, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("no `images` component") && err.contains("--names"),
        "{err}"
    );
}

#[test]
fn voc_dataset_gives_pycocotools_stats_and_voc_eval_ap() {
    let dir = tempfile::tempdir().unwrap();
    let case = read_json(&fixtures().join("coco/objects_voc.json"));
    let images = dir.path().join("JPEGImages");
    let ann = dir.path().join("Annotations");
    std::fs::create_dir_all(&ann).unwrap();
    let names = case["dataset"]["names"].as_array().unwrap().clone();
    for smp in write_images(&case, &images) {
        let mut xml = format!(
            "<annotation>\n<filename>{}</filename>\n<size><width>{}</width><height>{}</height><depth>3</depth></size>\n",
            smp["file_name"].as_str().unwrap(),
            smp["width"],
            smp["height"]
        );
        for b in smp["boxes"].as_array().unwrap() {
            let v: Vec<i64> = b
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect();
            xml.push_str(&format!(
                "<object><name>{}</name><difficult>{}</difficult><bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox></object>\n",
                names[v[0] as usize].as_str().unwrap(),
                v[5],
                v[1],
                v[2],
                v[3],
                v[4]
            ));
        }
        xml.push_str("</annotation>\n");
        std::fs::write(ann.join(format!("{}.xml", stem(&smp))), xml).unwrap();
    }
    let res = dir.path().join("res.json");
    std::fs::write(&res, case["results"].to_string()).unwrap();
    let out = dir.path().join("out");
    let sm = eval_summary(
        dir.path(),
        &[
            "--format",
            "voc",
            "--images",
            s(&images),
            "--labels",
            s(&ann),
            "--predictions",
            s(&res),
            "--out",
            s(&out),
        ],
    );
    let mut f = compare("voc", &floats(&sm["stats"]), &floats(&case["stats"]));
    let (mut m07, mut m) = (0.0, 0.0);
    let refs = case["voc"].as_array().unwrap();
    for r in refs {
        let class = r["class"].as_str().unwrap();
        for (key, rkey) in [("ap_voc07", "ap_11_point"), ("ap", "ap_all_point")] {
            let got = sm[key]["per_class"][class].as_f64().unwrap();
            let want = r[rkey].as_f64().unwrap();
            if (got - want).abs() > TOL {
                f.push(format!("{class} {key}: {got}, voc_eval {want}"));
            }
        }
        m07 += r["ap_11_point"].as_f64().unwrap() / refs.len() as f64;
        m += r["ap_all_point"].as_f64().unwrap() / refs.len() as f64;
    }
    assert!((sm["ap_voc07"]["mean"].as_f64().unwrap() - m07).abs() <= TOL);
    assert!((sm["ap"]["mean"].as_f64().unwrap() - m).abs() <= TOL);
    assert!(f.is_empty(), "{}", f.join("\n"));
    let csv = std::fs::read_to_string(out.join("per_class_ap.csv")).unwrap();
    assert!(
        csv.starts_with("class,category_id,ap,ap50,gt,ap_voc07,ap_voc\nbird,1,"),
        "{csv}"
    );
}

/// Writes a tiny COCO set: two images, categories 1 `cat` and 3 `dog`.
fn tiny_coco(dir: &Path) -> PathBuf {
    let g = dir.join("instances.json");
    std::fs::write(
        &g,
        r#"{"images": [{"id": 4, "file_name": "a.jpg"}, {"id": 9, "file_name": "b.jpg"}],
            "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}],
            "annotations": [
              {"id": 1, "image_id": 4, "category_id": 1, "bbox": [10, 10, 40, 30], "area": 1200, "iscrowd": 0},
              {"id": 2, "image_id": 9, "category_id": 3, "bbox": [5, 5, 60, 60], "area": 3600, "iscrowd": 0}]}"#,
    )
    .unwrap();
    g
}

#[test]
fn bad_files_give_one_line_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let g = tiny_coco(dir.path());
    let res = dir.path().join("res.json");
    let run = |labels: &Path| {
        fusedet(
            &[
                "eval",
                "--format",
                "coco",
                "--images",
                s(dir.path()),
                "--labels",
                s(labels),
                "--predictions",
                s(&res),
            ],
            dir.path(),
        )
    };
    let ok = r#"{"image_id": 4, "category_id": 1, "bbox": [10, 10, 40, 30], "score": 0.9}"#;
    for (text, want) in [
        (
            format!(
                r#"[{ok}, {{"image_id": 9, "category_id": 3, "bbox": [1, 2, 3], "score": 0.5}}]"#
            ),
            vec!["res.json", "results[1].bbox", "4 numbers"],
        ),
        (
            format!(r#"[{ok}, {{"image_id": 9, "category_id": 3, "bbox": [1, 2, 3, 4]}}]"#),
            vec!["res.json", "results[1]", "missing field `score`"],
        ),
        (
            format!(
                r#"[{ok}, {{"image_id": "9", "category_id": 3, "bbox": [1, 2, 3, 4], "score": 1}}]"#
            ),
            vec!["res.json", "results[1].image_id", "an integer"],
        ),
        (
            format!(
                r#"[{ok}, {{"image_id": 77, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 1}}]"#
            ),
            vec!["res.json", "detection 1", "image_id 77"],
        ),
        (format!("[{ok},\n{{\"image_id\": }}]"), vec!["res.json:2"]),
    ] {
        std::fs::write(&res, &text).unwrap();
        let (rc, _, err) = run(&g);
        assert_eq!(rc, 1, "{text}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            want.iter().all(|w| err.contains(w)) && !err.contains("panicked"),
            "{text}: {err}"
        );
    }
    // The ground truth: an annotation without `area`.
    std::fs::write(&res, format!("[{ok}]")).unwrap();
    let bad = dir.path().join("bad_instances.json");
    let text = std::fs::read_to_string(&g)
        .unwrap()
        .replace(r#""area": 3600, "#, "");
    std::fs::write(&bad, text).unwrap();
    let (rc, _, err) = run(&bad);
    assert_eq!(rc, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad_instances.json") && err.contains("annotations[1]: missing field `area`"),
        "{err}"
    );
}

#[test]
fn without_predictions_a_text_model_is_refused_before_it_is_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let g = tiny_coco(dir.path());
    let (rc, _, err) = fusedet(
        &[
            "eval",
            "--format",
            "coco",
            "--images",
            s(dir.path()),
            "--labels",
            s(&g),
        ],
        dir.path(),
    );
    assert_eq!(rc, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("evaluates object detectors")
            && err.contains("`ppocr-v4-det` is a text detector"),
        "{err}"
    );
    // Nothing was downloaded into the model cache.
    assert!(!dir.path().join("models/ppocr-v4-det").exists());
}

#[test]
fn skip_and_limit_cut_the_images_and_their_results() {
    let dir = tempfile::tempdir().unwrap();
    let g = tiny_coco(dir.path());
    let res = dir.path().join("res.json");
    // Image 4: a perfect cat; image 9: a dog missed (a box elsewhere).
    std::fs::write(
        &res,
        r#"[{"image_id": 4, "category_id": 1, "bbox": [10, 10, 40, 30], "score": 0.9},
            {"image_id": 9, "category_id": 3, "bbox": [100, 100, 5, 5], "score": 0.8}]"#,
    )
    .unwrap();
    let base = [
        "--format",
        "coco",
        "--images",
        s(dir.path()),
        "--labels",
        s(&g),
        "--predictions",
        s(&res),
    ];
    let all = eval_summary(dir.path(), &base);
    assert_eq!(all["images"], 2);
    assert!((all["map"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{all}");
    let mut first = base.to_vec();
    first.extend(["--limit", "1"]);
    let one = eval_summary(dir.path(), &first);
    assert_eq!(one["images"], 1);
    assert_eq!(one["results"], 1);
    assert!((one["map"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{one}");
    // The dog has no GT left: category 3 is -1, left out of the mean.
    assert!(one["per_class"][1]["ap"].is_null());
}

#[test]
fn text_formats_are_unchanged_and_unknown_formats_list_both_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let (rc, _, err) = fusedet(
        &[
            "eval", "--format", "pascal", "--images", "x", "--labels", "y",
        ],
        dir.path(),
    );
    assert_ne!(rc, 0);
    assert!(
        err.contains("icdar15|") && err.contains("coco|yolo|voc"),
        "{err}"
    );
}
