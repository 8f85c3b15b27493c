//! The ICDAR 2015 metric against the official ICDAR 2015 Challenge 4 script, and the MindOCR
//! mode against `tools/hmean_iou.py` (this project's shapely version of MindOCR's rules).
//! Fixtures from `tools/make_metric_fixtures.py`: per-image counts, per-image scores and
//! dataset scores must be identical, degenerate and self-intersecting polygons included.
use std::path::PathBuf;

use fusedet::data::TextInstance;
use fusedet::metric::{ImageCounts, MatchMode, SWEEP_THRESHOLDS, Scores, evaluate_image, sweep};
use serde::Deserialize;

#[derive(Deserialize)]
struct Gt {
    points: Vec<[f64; 2]>,
    ignore: bool,
}

#[derive(Deserialize)]
struct Counts {
    gt_care: usize,
    det_care: usize,
    matched: usize,
    #[serde(default)]
    dropped: usize,
    #[serde(default)]
    precision: f64,
    #[serde(default)]
    recall: f64,
    #[serde(default)]
    hmean: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    gt: Vec<Gt>,
    dets: Vec<Vec<[f64; 2]>>,
    official: Counts,
    mindocr: Counts,
    clean: bool,
}

#[derive(Deserialize)]
struct Method {
    precision: f64,
    recall: f64,
    hmean: f64,
}

#[derive(Deserialize)]
struct SweepImage {
    gt: Vec<Gt>,
    dets: Vec<(Vec<[f64; 2]>, f64)>,
}

#[derive(Deserialize)]
struct SweepRow {
    threshold: f64,
    precision: f64,
    recall: f64,
    hmean: f64,
    matched: usize,
    gt_care: usize,
    det_care: usize,
}

#[derive(Deserialize)]
struct PolygonCase {
    name: String,
    gt: Vec<Gt>,
    dets: Vec<Vec<[f64; 2]>>,
    expected: Counts,
}

#[derive(Deserialize)]
struct Fixture {
    official: Method,
    cases: Vec<Case>,
    sweep_images: Vec<SweepImage>,
    sweep: Vec<SweepRow>,
    polygons: Vec<PolygonCase>,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/metric/cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn instances(gt: &[Gt]) -> Vec<TextInstance> {
    gt.iter()
        .map(|x| TextInstance {
            points: x.points.clone(),
            text: String::new(),
            ignore: x.ignore,
        })
        .collect()
}

fn counts(r: &ImageCounts) -> (usize, usize, usize) {
    (r.gt_care, r.det_care, r.matched)
}

#[test]
fn icdar2015_mode_equals_the_official_script() {
    let f = fixture();
    assert_eq!(f.cases.len(), 191);
    let mut failures = Vec::new();
    let mut ours = Vec::new();
    for c in &f.cases {
        let r = evaluate_image(&instances(&c.gt), &c.dets, MatchMode::Icdar2015, 0.5);
        let e = &c.official;
        if counts(&r) != (e.gt_care, e.det_care, e.matched) {
            failures.push(format!(
                "{}: fusedet (gt {}, det {}, matched {}), official (gt {}, det {}, matched {})",
                c.name, r.gt_care, r.det_care, r.matched, e.gt_care, e.det_care, e.matched
            ));
        } else if r.sample_scores() != (e.precision, e.recall, e.hmean) {
            failures.push(format!(
                "{}: per-image scores {:?}, official ({}, {}, {})",
                c.name,
                r.sample_scores(),
                e.precision,
                e.recall,
                e.hmean
            ));
        }
        ours.push(r);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let s = Scores::combine(&ours);
    let o = &f.official;
    assert_eq!(
        (s.precision, s.recall, s.hmean),
        (o.precision, o.recall, o.hmean)
    );
    // The fixture exercises what it should: degenerate cases that DB's rules would skip.
    assert!(f.cases.iter().filter(|c| !c.clean).count() > 40);
}

#[test]
fn mindocr_mode_equals_its_reference_and_differs_from_the_official_only_as_documented() {
    let f = fixture();
    let mut failures = Vec::new();
    let mut agreeing = 0;
    for c in &f.cases {
        let gt = instances(&c.gt);
        let r = evaluate_image(&gt, &c.dets, MatchMode::MindOcr, 0.5);
        let e = &c.mindocr;
        if counts(&r) != (e.gt_care, e.det_care, e.matched) {
            failures.push(format!(
                "{}: fusedet mindocr (gt {}, det {}, matched {}), reference (gt {}, det {}, matched {})",
                c.name, r.gt_care, r.det_care, r.matched, e.gt_care, e.det_care, e.matched
            ));
        }
        // On valid simple polygons the only difference is the dropped second detections.
        if c.clean {
            let o = &c.official;
            if e.dropped == 0 {
                agreeing += 1;
                if counts(&r) != (o.gt_care, o.det_care, o.matched) {
                    failures.push(format!("{}: mindocr should equal official", c.name));
                }
            } else if (r.gt_care, r.det_care + e.dropped) != (o.gt_care, o.det_care) {
                failures.push(format!("{}: mindocr differs beyond drops", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(agreeing > 80, "{agreeing}");
}

#[test]
fn sweep_equals_the_official_script_on_score_filtered_detections() {
    let f = fixture();
    let gt: Vec<Vec<TextInstance>> = f.sweep_images.iter().map(|i| instances(&i.gt)).collect();
    let dets: Vec<Vec<(Vec<[f64; 2]>, f64)>> =
        f.sweep_images.iter().map(|i| i.dets.clone()).collect();
    let rows = sweep(&gt, &dets, &SWEEP_THRESHOLDS, MatchMode::Icdar2015);
    assert_eq!(rows.len(), f.sweep.len());
    for ((t, s), e) in rows.iter().zip(&f.sweep) {
        assert_eq!(*t, e.threshold);
        assert_eq!(
            (
                s.matched,
                s.gt_care,
                s.det_care,
                s.precision,
                s.recall,
                s.hmean
            ),
            (
                e.matched,
                e.gt_care,
                e.det_care,
                e.precision,
                e.recall,
                e.hmean
            ),
            "threshold {t}"
        );
    }
}

#[test]
fn simple_curved_polygons_score_as_the_shapely_version_of_the_rules() {
    // The official script reads quads only; on valid simple polygons its rules and DB's agree.
    for c in fixture().polygons {
        let r = evaluate_image(&instances(&c.gt), &c.dets, MatchMode::Icdar2015, 0.5);
        let e = &c.expected;
        assert_eq!(counts(&r), (e.gt_care, e.det_care, e.matched), "{}", c.name);
    }
}
