//! DB training targets against MindOCR's `ShrinkBinaryMap` + `BorderMap` as reproduced with
//! pyclipper, shapely and OpenCV by `tools/make_target_fixtures.py`.
use std::path::PathBuf;

use fusedet::targets::{DbTargetConfig, make_db_targets};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    width: usize,
    height: usize,
    polys: Vec<Vec<[f64; 2]>>,
    ignore: Vec<bool>,
    ignore_out: Vec<bool>,
}

#[test]
fn targets_match_the_mindocr_reference() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/targets");
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert_eq!(cases.len(), 6);
    let mut report = Vec::new();
    let (mut binary_px, mut tmask_px) = (0, 0);
    for c in &cases {
        let n = c.width * c.height;
        let bytes = std::fs::read(dir.join(format!("{}.bin", c.name))).unwrap();
        assert_eq!(bytes.len(), 7 * n);
        let as_f32 = |k: usize| -> Vec<f32> {
            bytes[k * n..(k + 1) * n]
                .iter()
                .map(|&b| b as f32)
                .collect()
        };
        let (gt, mask, tmask) = (as_f32(0), as_f32(1), as_f32(2));
        let thresh: Vec<f32> = bytes[3 * n..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let t = make_db_targets(
            &c.polys,
            &c.ignore,
            c.width,
            c.height,
            &DbTargetConfig::default(),
        );
        let count = |a: &[f32], b: &[f32]| a.iter().zip(b).filter(|(x, y)| x != y).count();
        let max_diff = t
            .thresh_map
            .iter()
            .zip(&thresh)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let (d_gt, d_mask, d_tmask) = (
            count(&t.binary_map, &gt),
            count(&t.mask, &mask),
            count(&t.thresh_mask, &tmask),
        );
        binary_px += d_gt;
        tmask_px += d_tmask;
        eprintln!(
            "{}: binary {d_gt}, mask {d_mask}, thresh_mask {d_tmask} pixels differ; thresh max diff {max_diff:e}",
            c.name
        );
        if t.ignore != c.ignore_out || d_gt > 0 || d_mask > 0 || d_tmask > 0 || max_diff > 1e-6 {
            report.push(format!(
                "{}: ignore {:?} vs {:?}; pixels differing: binary {d_gt}, mask {d_mask}, \
                 thresh_mask {d_tmask}; thresh max diff {max_diff:e}",
                c.name, t.ignore, c.ignore_out
            ));
        }
    }
    assert!(
        report.is_empty(),
        "binary {binary_px} / thresh_mask {tmask_px} pixels differ in all:\n{}",
        report.join("\n")
    );
}
