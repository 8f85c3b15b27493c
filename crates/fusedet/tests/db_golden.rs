//! DB post-processing against PaddleOCR's `DBPostProcess` + `TextDetector` box filtering on
//! synthetic and real probability maps (fixtures from `tools/make_db_fixtures.py`).
use std::path::PathBuf;

use fusedet::postprocess::db::{DbPostProcess, Detection, ProbMap, is_simple_quad};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    map: String,
    dest_width: usize,
    dest_height: usize,
    options: serde_json::Value,
    detections: Vec<Detection>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db")
}

/// Equal vertex sequences, start vertex included, for quads and polygons alike (fusedet's
/// offset reproduces Clipper's union, which picks a polygon's start vertex); a quad may differ
/// only by fusedet's documented refusal of PaddleOCR's bow-tie reorders.
fn same_ring(a: &[[f64; 2]], b: &[[f64; 2]]) -> bool {
    if a.len() == 4 {
        return a == b || kept_own_order(a, b);
    }
    a == b
}

/// fusedet's documented difference (`filter_quads`): where PaddleOCR's corner reordering
/// makes a bow-tie, fusedet prints the same four corners in DBPostProcess's order, a simple
/// quad. (`tests/corner_sweep.rs` checks that order corner for corner.)
fn kept_own_order(ours: &[[f64; 2]], paddle: &[[f64; 2]]) -> bool {
    let mut a = ours.to_vec();
    let mut b = paddle.to_vec();
    a.sort_by(|p, q| p.partial_cmp(q).unwrap());
    b.sort_by(|p, q| p.partial_cmp(q).unwrap());
    !is_simple_quad(paddle) && is_simple_quad(ours) && a == b
}

#[test]
fn db_postprocess_matches_paddleocr_on_every_fixture() {
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap())
            .unwrap();
    assert_eq!(cases.len(), 72);
    let mut failures = Vec::new();
    let mut poly_failures = Vec::new();
    let mut compared = 0;
    for case in &cases {
        let img = image::open(fixtures().join(&case.map)).unwrap().to_luma8();
        let data: Vec<f32> = img.as_raw().iter().map(|&b| b as f32 / 255.0).collect();
        let post: DbPostProcess = serde_json::from_value(case.options.clone()).unwrap();
        let map = ProbMap {
            data: &data,
            width: img.width() as usize,
            height: img.height() as usize,
        };
        let ours = post.run(map, case.dest_width, case.dest_height);
        let is_poly = case.options.get("box_type").and_then(|v| v.as_str()) == Some("poly");
        let failures = if is_poly {
            &mut poly_failures
        } else {
            &mut failures
        };
        let what = format!(
            "{} -> {}x{} {}",
            case.map, case.dest_width, case.dest_height, case.options
        );
        if ours.len() != case.detections.len() {
            failures.push(format!(
                "{what}: {} detections, PaddleOCR {}",
                ours.len(),
                case.detections.len()
            ));
            continue;
        }
        for (i, (o, r)) in ours.iter().zip(&case.detections).enumerate() {
            compared += 1;
            if !same_ring(&o.points, &r.points) || (o.score - r.score).abs() > 1e-6 {
                failures.push(format!(
                    "{what} #{i}: {:?} score {:.7}, PaddleOCR {:?} score {:.7}",
                    o.points, o.score, r.points, r.score
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 370, "only {compared} detections compared");
    // Poly boxes are reported apart so that a regression says which mode broke.
    assert!(
        poly_failures.is_empty(),
        "poly mode: {} differences from PaddleOCR:\n{}",
        poly_failures.len(),
        poly_failures.join("\n")
    );
}

/// `--box-type poly` on curved text lines (arcs, sine-shaped bands, rings, touching arcs):
/// every polygon identical to PaddleOCR's, start vertex included, and every score within 1e-6.
/// Fixtures from `tools/make_db_curved_fixtures.py`.
#[test]
fn poly_mode_matches_paddleocr_on_curved_text() {
    let cases: Vec<Case> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("curved_cases.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cases.len(), 64);
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in &cases {
        let img = image::open(fixtures().join(&case.map)).unwrap().to_luma8();
        let data: Vec<f32> = img.as_raw().iter().map(|&b| b as f32 / 255.0).collect();
        let post: DbPostProcess = serde_json::from_value(case.options.clone()).unwrap();
        let map = ProbMap {
            data: &data,
            width: img.width() as usize,
            height: img.height() as usize,
        };
        let ours = post.run(map, case.dest_width, case.dest_height);
        let what = format!(
            "{} -> {}x{} {}",
            case.map, case.dest_width, case.dest_height, case.options
        );
        if ours.len() != case.detections.len() {
            failures.push(format!(
                "{what}: {} detections, PaddleOCR {}",
                ours.len(),
                case.detections.len()
            ));
            continue;
        }
        for (i, (o, r)) in ours.iter().zip(&case.detections).enumerate() {
            compared += 1;
            if o.points != r.points || (o.score - r.score).abs() > 1e-6 {
                failures.push(format!(
                    "{what} #{i}: {:?} score {:.7}, PaddleOCR {:?} score {:.7}",
                    o.points, o.score, r.points, r.score
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 150, "only {compared} polygons compared");
}
