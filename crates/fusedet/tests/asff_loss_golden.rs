//! Loss parity with the ASFF reference code: the training branch of `YOLOv3Head.forward`
//! (GOATmessi7/ASFF, run under PyTorch on the CPU by tools/make_asff_loss_fixtures.py) on the
//! raw training-mode head outputs of the seeded YOLOv3 + ASFF model (2 × 3 × 96 × 96, 3
//! classes), for three label batches: plain; mixup weights with label smoothing; with
//! anchor-free assignments, ignored predictions and two classes in one slot. Every term of
//! every level, and their sums over the levels, within 1e-4 relative.

use std::path::Path;

use fusedet::burn::prelude::*;
use fusedet::model::yolov3::loss::{AsffTarget, YoloV3LossConfig, YoloV3LossValues, head_loss};
use fusedet::model::yolov3::{ANCHOR_MASKS, HeadOutput, STRIDES, YoloV3Head};

#[derive(serde::Deserialize)]
struct Values {
    shape: Vec<usize>,
    values: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct Outputs {
    raw: Vec<Values>,
    guide: Vec<Values>,
}

#[derive(serde::Deserialize)]
struct Terms {
    loss: f64,
    anchor: f64,
    iou: f64,
    l1: f64,
    obj: f64,
    cls: f64,
}

#[derive(serde::Deserialize)]
struct Batch {
    name: String,
    label_smooth: bool,
    labels: Vec<Vec<Vec<f32>>>,
    assignments: Vec<[usize; 4]>,
    per_level: Vec<Terms>,
    total: Terms,
}

#[derive(serde::Deserialize)]
struct Fixture {
    num_classes: usize,
    ignore_thre: f64,
    outputs: Outputs,
    batches: Vec<Batch>,
}

fn tensor(v: &Values, device: &Device) -> Tensor<4> {
    let s: [usize; 4] = v.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(v.values.clone(), s), device)
}

fn targets(labels: &[Vec<Vec<f32>>]) -> Vec<Vec<AsffTarget>> {
    labels
        .iter()
        .map(|rows| {
            rows.iter()
                .map(|r| AsffTarget {
                    class: r[0] as usize,
                    cx: r[1],
                    cy: r[2],
                    w: r[3],
                    h: r[4],
                    weight: r.get(5).copied().unwrap_or(1.0),
                })
                .collect()
        })
        .collect()
}

/// (term, ours, reference) of one level or of the sum.
fn pairs(v: &YoloV3LossValues, r: &Terms) -> [(&'static str, f64, f64); 6] {
    [
        ("anchor", v.anchor, r.anchor),
        ("iou", v.iou, r.iou),
        ("l1", v.l1(), r.l1),
        ("obj", v.obj, r.obj),
        ("cls", v.cls, r.cls),
        ("total", v.total(), r.loss),
    ]
}

#[test]
fn every_loss_term_matches_the_reference_on_three_batches() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asff/loss.json");
    let fx: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let device = Device::default();
    let heads: Vec<YoloV3Head> = (0..3)
        .map(|l| {
            YoloV3Head::new(
                ANCHOR_MASKS[l],
                fx.num_classes,
                STRIDES[l],
                8,
                false,
                false,
                &device,
            )
        })
        .collect();
    let outs: Vec<HeadOutput> = (0..3)
        .map(|l| HeadOutput {
            raw: tensor(&fx.outputs.raw[l], &device),
            guide: tensor(&fx.outputs.guide[l], &device),
        })
        .collect();
    assert_eq!(fx.batches.len(), 3);
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    for batch in &fx.batches {
        let config = YoloV3LossConfig::new()
            .with_ignore_threshold(fx.ignore_thre)
            .with_label_smoothing(batch.label_smooth);
        let t = targets(&batch.labels);
        let mut sum = YoloV3LossValues::default();
        for (l, (head, out)) in heads.iter().zip(&outs).enumerate() {
            let v = head_loss(head, out, &t, &config).values();
            sum = sum + v;
            for (term, ours, reference) in pairs(&v, &batch.per_level[l]) {
                let rel = (ours - reference).abs() / reference.abs().max(1e-12);
                worst = worst.max(rel);
                eprintln!(
                    "{:12} level {l} {term:6} ours {ours:12.6} reference {reference:12.6} rel {rel:.1e}",
                    batch.name
                );
                if rel > 1e-4 {
                    failures.push(format!(
                        "{} level {l} {term}: {ours} vs {reference}",
                        batch.name
                    ));
                }
            }
        }
        for (term, ours, reference) in pairs(&sum, &batch.total) {
            let rel = (ours - reference).abs() / reference.abs().max(1e-12);
            worst = worst.max(rel);
            eprintln!(
                "{:12} sum     {term:6} ours {ours:12.6} reference {reference:12.6} rel {rel:.1e}",
                batch.name
            );
            if rel > 1e-4 {
                failures.push(format!("{} sum {term}: {ours} vs {reference}", batch.name));
            }
        }
    }
    eprintln!("worst relative difference {worst:.2e}");
    assert!(failures.is_empty(), "{failures:#?}");
    // The anchor-free batch does exercise the free slot.
    let free = &fx.batches[2];
    assert_eq!(free.name, "anchor_free");
    assert!(free.assignments.iter().filter(|a| a[3] == 3).count() >= 3);
}
