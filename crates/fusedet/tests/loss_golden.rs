//! DB losses against NumPy reimplementations of DB's PyTorch losses
//! (`tools/make_loss_fixtures.py`).
use std::path::PathBuf;

use fusedet::burn::prelude::*;
use fusedet::loss::{DbLossConfig, db_loss};
use fusedet::model::DbMaps;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    shape: [usize; 3],
    out: Vec<f32>,
    gt: Vec<f32>,
    mask: Vec<f32>,
    thresh_map: Vec<f32>,
    thresh_mask: Vec<f32>,
    prob: f64,
    thresh: f64,
    binary: f64,
    total: f64,
    logits: Vec<f32>,
    prob_logits: f64,
}

#[test]
fn db_loss_terms_match_the_reference() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/loss/cases.json");
    let cases: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(cases.len(), 6);
    let device = Device::default();
    for (i, c) in cases.into_iter().enumerate() {
        let [n, h, w] = c.shape;
        let t = |v: Vec<f32>, ch: usize| {
            Tensor::<4>::from_data(TensorData::new(v, [n, ch, h, w]), &device)
        };
        let out = t(c.out, 3);
        let [_, _, oh, ow] = out.dims();
        let ch = |k: usize| out.clone().slice([0..n, k..k + 1, 0..oh, 0..ow]);
        let maps = DbMaps {
            prob: ch(0),
            thresh: ch(1),
            binary: ch(2),
            logits: None,
        };
        let parts = db_loss(
            maps.clone(),
            t(c.gt.clone(), 1),
            t(c.mask.clone(), 1),
            t(c.thresh_map.clone(), 1),
            t(c.thresh_mask.clone(), 1),
            &DbLossConfig::default(),
        );
        // The same maps with the probability logits: the BCE comes from the logits (PyTorch's
        // binary_cross_entropy_with_logits), the other terms are unchanged.
        let with_logits = db_loss(
            DbMaps {
                logits: Some(t(c.logits, 1)),
                ..maps
            },
            t(c.gt, 1),
            t(c.mask, 1),
            t(c.thresh_map, 1),
            t(c.thresh_mask, 1),
            &DbLossConfig::default(),
        );
        let v = |x: Tensor<1>| x.into_scalar::<f32>() as f64;
        for (name, ours, theirs) in [
            ("prob", v(parts.prob), c.prob),
            ("thresh", v(parts.thresh), c.thresh),
            ("binary", v(parts.binary), c.binary),
            ("total", v(parts.total), c.total),
            ("prob from logits", v(with_logits.prob), c.prob_logits),
            ("thresh (with logits)", v(with_logits.thresh), c.thresh),
            (
                "total (with logits)",
                v(with_logits.total),
                5.0 * c.prob_logits + 10.0 * c.thresh + c.binary,
            ),
        ] {
            assert!(
                (ours - theirs).abs() <= 1e-5 * theirs.abs().max(1.0),
                "case {i} {name}: fusedet {ours}, reference {theirs}"
            );
        }
    }
}
