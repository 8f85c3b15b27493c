//! `HmeanIou` against the independent shapely implementation in `tools/hmean_iou.py`
//! (fixtures from `tools/make_metric_fixtures.py`): per-image counts must be identical.
use std::path::PathBuf;

use fusedet::data::TextInstance;
use fusedet::metric::{MatchMode, Scores, evaluate_image};
use serde::Deserialize;

#[derive(Deserialize)]
struct Gt {
    points: Vec<[f64; 2]>,
    ignore: bool,
}

#[derive(Deserialize)]
struct Expected {
    gt_care: usize,
    det_care: usize,
    matched: usize,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    gt: Vec<Gt>,
    dets: Vec<Vec<[f64; 2]>>,
    expected: Expected,
    expected_mindocr: Expected,
}

#[test]
fn per_image_counts_match_the_shapely_reference() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/metric/cases.json");
    let cases: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(cases.len(), 133);
    let mut failures = Vec::new();
    let mut ours = Vec::new();
    let (mut m, mut g, mut d) = (0, 0, 0);
    for c in &cases {
        let gt: Vec<TextInstance> =
            c.gt.iter()
                .map(|x| TextInstance {
                    points: x.points.clone(),
                    text: String::new(),
                    ignore: x.ignore,
                })
                .collect();
        let r = evaluate_image(&gt, &c.dets, MatchMode::Icdar2015, 0.5);
        let e = &c.expected;
        if (r.gt_care, r.det_care, r.matched) != (e.gt_care, e.det_care, e.matched) {
            failures.push(format!(
                "{}: fusedet (gt {}, det {}, matched {}), reference (gt {}, det {}, matched {})",
                c.name, r.gt_care, r.det_care, r.matched, e.gt_care, e.det_care, e.matched
            ));
        }
        (m, g, d) = (m + e.matched, g + e.gt_care, d + e.det_care);
        ours.push(r);
        let r = evaluate_image(&gt, &c.dets, MatchMode::MindOcr, 0.5);
        let e = &c.expected_mindocr;
        if (r.gt_care, r.det_care, r.matched) != (e.gt_care, e.det_care, e.matched) {
            failures.push(format!(
                "{} (mindocr mode): fusedet (gt {}, det {}, matched {})",
                c.name, r.gt_care, r.det_care, r.matched
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let s = Scores::combine(&ours);
    assert_eq!(s, Scores::from_totals(m, g, d));
    assert!(s.matched > 200 && s.hmean > 0.3 && s.hmean < 0.95, "{s:?}");
}
