//! COCO bbox AP/AR against pycocotools' COCOeval and VOC AP against py-faster-rcnn's voc_eval,
//! on the fixtures written by tools/make_coco_fixtures.py.

use std::path::{Path, PathBuf};

use fusedet::metric::coco::{
    AREA_RANGES, CocoDetection, CocoGt, MAX_DETS, coco_evaluate, iou_thresholds, read_coco_gt,
    read_coco_results, recall_thresholds,
};
use fusedet::metric::voc::{VocApMethod, VocDetection, VocGtBox, voc_ap, voc_eval};
use serde::Deserialize;

const TOL: f64 = 1e-6;

fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

#[derive(Deserialize)]
struct CocoCase {
    note: String,
    gt: CocoGt,
    results: Vec<CocoDetection>,
    stats: [f64; 12],
}

#[test]
fn coco_stats_match_pycocotools_on_every_fixture() {
    let mut failures = Vec::new();
    let mut n = 0;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures("coco"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "params.json"))
        .collect();
    paths.sort();
    for path in paths {
        let case: CocoCase = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ours = coco_evaluate(&case.gt, &case.results)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .stats
            .to_array();
        n += 1;
        for (i, (a, b)) in ours.iter().zip(&case.stats).enumerate() {
            if (a - b).abs() > TOL {
                failures.push(format!(
                    "{} ({}): stats[{i}] = {a}, pycocotools {b}",
                    path.display(),
                    case.note
                ));
            }
        }
    }
    assert!(n >= 12, "only {n} fixtures found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn coco_json_readers_read_the_fixture_files() {
    // The fixtures' gt and results objects, written to files as COCO's own layout.
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures("coco/areas.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (g, r) = (dir.path().join("gt.json"), dir.path().join("res.json"));
    std::fs::write(&g, case["gt"].to_string()).unwrap();
    std::fs::write(&r, case["results"].to_string()).unwrap();
    let gt = read_coco_gt(&g).unwrap();
    let res = read_coco_results(&r).unwrap();
    let stats = coco_evaluate(&gt, &res).unwrap().stats.to_array();
    for (a, b) in stats.iter().zip(case["stats"].as_array().unwrap()) {
        assert!((a - b.as_f64().unwrap()).abs() <= TOL);
    }
    std::fs::write(&g, "{\"images\": [}").unwrap();
    let err = read_coco_gt(&g).unwrap_err().to_string();
    assert!(err.contains("gt.json:1"), "{err}");
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Params {
    iouThrs: Vec<f64>,
    recThrs: Vec<f64>,
    maxDets: Vec<usize>,
    areaRng: Vec<[f64; 2]>,
}

#[test]
fn thresholds_are_bit_identical_to_pycocotools_params() {
    let p: Params =
        serde_json::from_str(&std::fs::read_to_string(fixtures("coco/params.json")).unwrap())
            .unwrap();
    assert_eq!(p.iouThrs, iou_thresholds().to_vec());
    assert_eq!(p.recThrs, recall_thresholds().to_vec());
    assert_eq!(p.maxDets, MAX_DETS.to_vec());
    assert_eq!(p.areaRng, AREA_RANGES.to_vec());
}

#[derive(Deserialize)]
struct VocFile {
    cases: Vec<VocCase>,
}

#[derive(Deserialize)]
struct VocCase {
    gts: Vec<VocGtJson>,
    detections: Vec<VocDetJson>,
    ap_all_point: f64,
    ap_11_point: f64,
    recall: Vec<f64>,
    precision: Vec<f64>,
}

#[derive(Deserialize)]
struct VocGtJson {
    image: usize,
    bbox: [f64; 4],
    difficult: bool,
}

#[derive(Deserialize)]
struct VocDetJson {
    image: usize,
    bbox: [f64; 4],
    score: f64,
}

#[test]
fn voc_ap_matches_voc_eval() {
    let f: VocFile =
        serde_json::from_str(&std::fs::read_to_string(fixtures("voc/voc_eval.json")).unwrap())
            .unwrap();
    assert!(!f.cases.is_empty());
    let mut failures = Vec::new();
    for (i, c) in f.cases.iter().enumerate() {
        let gts: Vec<VocGtBox> = c
            .gts
            .iter()
            .map(|g| VocGtBox {
                image: g.image,
                bbox: g.bbox,
                difficult: g.difficult,
            })
            .collect();
        let dets: Vec<VocDetection> = c
            .detections
            .iter()
            .map(|d| VocDetection {
                image: d.image,
                bbox: d.bbox,
                score: d.score,
            })
            .collect();
        let r = voc_eval(&gts, &dets, 0.5, VocApMethod::AllPoint).expect("positives");
        let ap07 = voc_ap(&r.recall, &r.precision, VocApMethod::ElevenPoint);
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= TOL)
        };
        if (r.ap - c.ap_all_point).abs() > TOL {
            failures.push(format!("case {i}: AP {} vs {}", r.ap, c.ap_all_point));
        }
        if (ap07 - c.ap_11_point).abs() > TOL {
            failures.push(format!("case {i}: AP07 {ap07} vs {}", c.ap_11_point));
        }
        if !close(&r.recall, &c.recall) || !close(&r.precision, &c.precision) {
            failures.push(format!("case {i}: precision/recall curves differ"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Deserialize)]
struct DarknetRef {
    stats: [f64; 12],
    results: Vec<CocoDetection>,
}

/// Darknet's own yolov3-tiny detections on COCO128 (tools/make_darknet_reference.py), scored
/// against COCO128's json (the ground truth of the coco128 fixture): pycocotools' numbers.
#[test]
fn darknet_reference_detections_score_as_pycocotools_scores_them() {
    let dk: DarknetRef = serde_json::from_str(
        &std::fs::read_to_string(fixtures("darknet/yolov3_tiny_coco128_train2017.json")).unwrap(),
    )
    .unwrap();
    let gt: CocoCase =
        serde_json::from_str(&std::fs::read_to_string(fixtures("coco/coco128.json")).unwrap())
            .unwrap();
    let ours = coco_evaluate(&gt.gt, &dk.results).unwrap().stats.to_array();
    for (i, (a, b)) in ours.iter().zip(&dk.stats).enumerate() {
        assert!((a - b).abs() <= TOL, "stats[{i}] = {a}, pycocotools {b}");
    }
}
