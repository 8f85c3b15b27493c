//! TextBoxes++ against the reference PyTorch code (qjadud1994/Text_Detector), fixtures made by
//! tools/make_textboxes_fixtures.py: anchors, encoded targets of five ICDAR 2015 training images,
//! the SE-ResNet-50 RetinaNet's outputs for drawn weights, the loss on three batches, decoding
//! and the reference's quad NMS.

mod drawn;

use std::path::{Path, PathBuf};

use drawn::{Drawn, Values, draw};
use fusedet::burn::prelude::*;
use fusedet::model::textboxes::coder::{self, Anchor, AnchorSpec, MatchSpec, Regression};
use fusedet::model::textboxes::{ClsLoss, TbBackbone, TbLossSpec, TextBoxesSpec, VertexOrder};
use fusedet::postprocess::textboxes::{
    QuadDetection, hull_overlap, nms_quads, nms_quads_reference,
};
use serde::Deserialize;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/textboxes")
}

fn read<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let p = dir().join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

#[derive(Deserialize)]
struct Generator {
    seed: String,
}

fn quads(v: &Values) -> Vec<[f32; 8]> {
    v.values.chunks(8).map(|c| c.try_into().unwrap()).collect()
}

fn keep_order() -> MatchSpec {
    MatchSpec {
        vertex_order: VertexOrder::Keep,
        ..MatchSpec::default()
    }
}

fn indices_of(labels: &[i8], l: i8) -> Vec<usize> {
    (0..labels.len()).filter(|&i| labels[i] == l).collect()
}

#[derive(Deserialize)]
struct AnchorCase {
    input_size: [usize; 2],
    num_anchors: usize,
    xy: Values,
    sum_xywh: f64,
}

#[derive(Deserialize)]
struct AnchorFixture {
    anchor_wh_table: Values,
    cases: Vec<AnchorCase>,
}

#[test]
fn anchors_are_the_references_bit_for_bit() {
    let fx: AnchorFixture = read("anchors.json");
    let spec = AnchorSpec::default();
    for c in &fx.cases {
        let [w, h] = c.input_size;
        let a = spec.anchors(w, h);
        assert_eq!(a.len(), c.num_anchors, "{w}x{h}");
        let sizes = spec.map_sizes(w, h);
        let mut level_of = Vec::new();
        for (l, [fh, fw]) in sizes.iter().enumerate() {
            level_of.extend(std::iter::repeat_n(l, fh * fw * 14));
        }
        let mut sum = 0f64;
        for (i, an) in a.iter().enumerate() {
            assert_eq!(an.cx, c.xy.values[2 * i], "{w}x{h} anchor {i} x");
            assert_eq!(an.cy, c.xy.values[2 * i + 1], "{w}x{h} anchor {i} y");
            let t = (level_of[i] * 7 + i % 7) * 2;
            assert_eq!(an.w, fx.anchor_wh_table.values[t], "{w}x{h} anchor {i} w");
            assert_eq!(
                an.h,
                fx.anchor_wh_table.values[t + 1],
                "{w}x{h} anchor {i} h"
            );
            sum += [an.cx, an.cy, an.w, an.h]
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>();
        }
        assert!(
            (sum - c.sum_xywh).abs() < 1e-9 * c.sum_xywh.abs(),
            "{sum} vs {}",
            c.sum_xywh
        );
    }
}

#[derive(Deserialize)]
struct Counts {
    positive: usize,
    ignored: usize,
    background: usize,
}

#[derive(Deserialize)]
struct TargetImage {
    name: String,
    skipped_by_reference: bool,
    #[serde(default)]
    quads: Option<Values>,
    #[serde(default)]
    counts: Option<Counts>,
    #[serde(default)]
    positive_indices: Vec<usize>,
    #[serde(default)]
    ignored_indices: Vec<usize>,
    #[serde(default)]
    positive_matched_gt: Vec<usize>,
    #[serde(default)]
    positive_loc_targets: Option<Values>,
    #[serde(default)]
    loc_targets_sum: f64,
    #[serde(default)]
    loc_targets_abs_sum: f64,
    #[serde(default)]
    loc_targets_weighted_sum: f64,
}

#[derive(Deserialize)]
struct TargetFixture {
    input_size: [usize; 2],
    num_anchors: usize,
    images: Vec<TargetImage>,
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1.0)
}

#[test]
fn encoded_targets_of_icdar_images_are_the_references() {
    let fx: TargetFixture = read("targets.json");
    let [w, h] = fx.input_size;
    let anchors = AnchorSpec::default().anchors(w, h);
    assert_eq!(anchors.len(), fx.num_anchors);
    let mut encoded = 0;
    for im in fx.images.iter().filter(|i| !i.skipped_by_reference) {
        let q = quads(im.quads.as_ref().unwrap());
        let t = coder::encode(
            &anchors,
            &q,
            &vec![false; q.len()],
            &keep_order(),
            Regression::Quad,
        );
        let c = im.counts.as_ref().unwrap();
        let pos = indices_of(&t.labels, 1);
        let ign = indices_of(&t.labels, -1);
        assert_eq!(pos, im.positive_indices, "{}: positive anchors", im.name);
        assert_eq!(ign, im.ignored_indices, "{}: ignored anchors", im.name);
        assert_eq!(
            (pos.len(), ign.len(), indices_of(&t.labels, 0).len()),
            (c.positive, c.ignored, c.background),
            "{}",
            im.name
        );
        let want = &im.positive_loc_targets.as_ref().unwrap().values;
        for (r, &i) in pos.iter().enumerate() {
            assert_eq!(
                &t.offsets[i * 8..i * 8 + 8],
                &want[r * 8..r * 8 + 8],
                "{}: anchor {i} (matched {})",
                im.name,
                im.positive_matched_gt[r]
            );
        }
        // Every anchor is encoded against its best ground truth, background included.
        let (mut s, mut a, mut ws) = (0f64, 0f64, 0f64);
        for row in t.offsets.chunks(8) {
            for (k, &v) in row.iter().enumerate() {
                s += f64::from(v);
                a += f64::from(v).abs();
                ws += f64::from(v) * (k + 1) as f64;
            }
        }
        assert!(
            close(s, im.loc_targets_sum, 1e-9),
            "{}: {s} vs {}",
            im.name,
            im.loc_targets_sum
        );
        assert!(close(a, im.loc_targets_abs_sum, 1e-9), "{}", im.name);
        assert!(close(ws, im.loc_targets_weighted_sum, 1e-9), "{}", im.name);
        encoded += 1;
    }
    assert_eq!(encoded, 6, "5 images + the reordered copy");

    // The default clockwise-from-top-left order makes the annotation order irrelevant.
    let by_name = |n: &str| fx.images.iter().find(|i| i.name == n).unwrap();
    let cw = MatchSpec::default();
    let enc = |n: &str| {
        let q = quads(by_name(n).quads.as_ref().unwrap());
        coder::encode(&anchors, &q, &vec![false; q.len()], &cw, Regression::Quad)
    };
    assert_eq!(enc("img_1"), enc("img_1_reordered"));
}

#[derive(Deserialize)]
struct ForwardOutputs {
    num_anchors: usize,
    row_indices: Vec<usize>,
    loc_preds: Values,
    cls_preds: Values,
    loc_preds_sum: f64,
    cls_preds_sum: f64,
}

#[derive(Deserialize)]
struct ForwardFixture {
    generator: Generator,
    input: Drawn,
    params: Vec<Drawn>,
    outputs: ForwardOutputs,
}

#[test]
fn se_resnet50_retinanet_outputs_match_the_reference() {
    let fx: ForwardFixture = read("forward.json");
    let device = Device::default();
    let spec = TextBoxesSpec::default();
    let mut model = spec.init(&device);
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = tmp.path().join("retinanet.safetensors");
    drawn::write_safetensors(&fx.generator.seed, &fx.params, &ckpt);
    let report = fusedet::import::textboxes::load_checkpoint(&mut model, &ckpt).unwrap();
    assert!(report.unused.is_empty(), "unused: {:?}", report.unused);
    let x = draw(&fx.generator.seed, &fx.input);
    let s: [usize; 4] = fx.input.shape.clone().try_into().unwrap();
    let out = model.forward(Tensor::from_data(TensorData::new(x, s), &device));
    let loc: Vec<f32> = out.loc.into_data().try_to_vec().unwrap();
    let cls: Vec<f32> = out.cls.into_data().try_to_vec().unwrap();
    assert_eq!(cls.len(), fx.outputs.num_anchors);
    let mut worst = 0f32;
    for (r, &i) in fx.outputs.row_indices.iter().enumerate() {
        for k in 0..8 {
            worst = worst.max((loc[i * 8 + k] - fx.outputs.loc_preds.values[r * 8 + k]).abs());
        }
        worst = worst.max((cls[i] - fx.outputs.cls_preds.values[r]).abs());
    }
    assert!(worst <= 1e-4, "max |diff| {worst} over the stored rows");
    let sum = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>();
    assert!((sum(&loc) - fx.outputs.loc_preds_sum).abs() < 1e-4 * loc.len() as f64);
    assert!((sum(&cls) - fx.outputs.cls_preds_sum).abs() < 1e-4 * cls.len() as f64);
    eprintln!("TextBoxes++ forward parity: max |diff| {worst:.2e}");
}

#[derive(Deserialize)]
struct LossImage {
    quads: Values,
    counts: Counts,
    positive_indices: Vec<usize>,
    ignored_indices: Vec<usize>,
}

#[derive(Deserialize)]
struct LossValues {
    loc_loss: f64,
    cls_loss_focal_alt: f64,
    cls_loss_focal: f64,
}

#[derive(Deserialize)]
struct LossCase {
    name: String,
    images: Vec<LossImage>,
    loc_preds: Drawn,
    cls_preds: Drawn,
    num_pos: usize,
    float64: LossValues,
}

#[derive(Deserialize)]
struct LossFixture {
    generator: Generator,
    input_size: [usize; 2],
    cases: Vec<LossCase>,
}

#[test]
fn loss_terms_match_the_reference_on_three_batches() {
    let fx: LossFixture = read("loss.json");
    let device = Device::default();
    let [w, h] = fx.input_size;
    let anchors = AnchorSpec::default().anchors(w, h);
    for c in &fx.cases {
        let targets: Vec<_> = c
            .images
            .iter()
            .map(|im| {
                let q = quads(&im.quads);
                let t = coder::encode(
                    &anchors,
                    &q,
                    &vec![false; q.len()],
                    &keep_order(),
                    Regression::Quad,
                );
                assert_eq!(indices_of(&t.labels, 1), im.positive_indices, "{}", c.name);
                assert_eq!(indices_of(&t.labels, -1), im.ignored_indices, "{}", c.name);
                assert_eq!(t.positives(), im.counts.positive);
                let _ = im.counts.ignored + im.counts.background;
                t
            })
            .collect();
        let tensor = |d: &Drawn| {
            let s: [usize; 3] = d.shape.clone().try_into().unwrap();
            Tensor::<3>::from_data(TensorData::new(draw(&fx.generator.seed, d), s), &device)
        };
        for (kind, want) in [
            (ClsLoss::Focal, c.float64.cls_loss_focal),
            (ClsLoss::FocalAlt, c.float64.cls_loss_focal_alt),
        ] {
            let spec = TbLossSpec {
                cls: kind,
                ..TbLossSpec::default()
            };
            let l = spec.loss(tensor(&c.loc_preds), tensor(&c.cls_preds), &targets);
            assert_eq!(l.positives, c.num_pos, "{}", c.name);
            let loc = f64::from(l.loc.into_scalar::<f32>());
            let cls = f64::from(l.cls.into_scalar::<f32>());
            let rel = |g: f64, w: f64| (g - w).abs() / w.abs();
            assert!(
                rel(loc, c.float64.loc_loss) < 1e-4,
                "{} loc {loc} vs {}",
                c.name,
                c.float64.loc_loss
            );
            assert!(rel(cls, want) < 1e-4, "{} {kind:?} {cls} vs {want}", c.name);
        }
    }
}

#[derive(Deserialize)]
struct NmsResult {
    thresh: f64,
    reference_hull_keep: Vec<bool>,
    greedy_true_iou_keep: Vec<bool>,
}

#[derive(Deserialize)]
struct NmsCase {
    name: String,
    quads: Values,
    scores: Values,
    results: Vec<NmsResult>,
}

#[derive(Deserialize)]
struct Pairwise {
    case: String,
    hull_iou_int: Vec<Vec<f64>>,
    true_iou: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
struct NmsFixture {
    cases: Vec<NmsCase>,
    pairwise: Pairwise,
}

fn dets(c: &NmsCase) -> Vec<QuadDetection> {
    quads(&c.quads)
        .into_iter()
        .zip(&c.scores.values)
        .map(|(quad, &score)| QuadDetection { quad, score })
        .collect()
}

#[test]
fn quad_nms_keeps_what_the_reference_keeps() {
    let fx: NmsFixture = read("nms.json");
    for c in &fx.cases {
        let d = dets(c);
        for r in &c.results {
            assert_eq!(
                nms_quads_reference(&d, r.thresh),
                r.reference_hull_keep,
                "{} hull {}",
                c.name,
                r.thresh
            );
            let mut keep = vec![false; d.len()];
            for i in nms_quads(&d, r.thresh) {
                keep[i] = true;
            }
            assert_eq!(keep, r.greedy_true_iou_keep, "{} iou {}", c.name, r.thresh);
        }
    }
    let c = fx
        .cases
        .iter()
        .find(|c| c.name == fx.pairwise.case)
        .unwrap();
    let q = quads(&c.quads);
    let pts = |q: &[f32; 8]| -> Vec<fusedet_geom::Point> {
        (0..4)
            .map(|k| fusedet_geom::Point::new(q[2 * k] as f64, q[2 * k + 1] as f64))
            .collect()
    };
    for i in 0..q.len() {
        for j in 0..q.len() {
            if i == j {
                continue;
            }
            let ints = |q: &[f32; 8]| q.map(|v| (v as i32) as f32);
            let hull = hull_overlap(&ints(&q[i]), &ints(&q[j]));
            assert!(
                (hull - fx.pairwise.hull_iou_int[i][j]).abs() < 1e-9,
                "hull {i} {j}"
            );
            let iou = fusedet_geom::iou::polygon_iou(&pts(&q[i]), &pts(&q[j]));
            assert!(
                (iou - fx.pairwise.true_iou[i][j]).abs() < 1e-6,
                "iou {i} {j}: {iou}"
            );
        }
    }
}

#[derive(Deserialize)]
struct EndToEnd {
    candidate_indices: Vec<usize>,
    keep: Vec<bool>,
    nms_thresh: f64,
}

#[derive(Deserialize)]
struct DecodeFixture {
    generator: Generator,
    input_size: [usize; 2],
    loc_preds: Drawn,
    cls_preds: Drawn,
    row_indices: Vec<usize>,
    quads: Values,
    scores: Values,
    end_to_end: EndToEnd,
}

#[test]
fn decoding_matches_the_reference() {
    let fx: DecodeFixture = read("decode.json");
    let [w, h] = fx.input_size;
    let anchors: Vec<Anchor> = AnchorSpec::default().anchors(w, h);
    let loc = draw(&fx.generator.seed, &fx.loc_preds);
    let cls = draw(&fx.generator.seed, &fx.cls_preds);
    // The reference clamps y to the width as well (encoder.decode): clip to a w × w frame here.
    let decode = |i: usize| {
        coder::decode_quad(
            &anchors[i],
            &loc[i * 8..i * 8 + 8],
            Regression::Quad,
            w as f32,
            w as f32,
        )
    };
    for (r, &i) in fx.row_indices.iter().enumerate() {
        let q = decode(i);
        let want = &fx.quads.values[r * 8..r * 8 + 8];
        for (k, (&got, &want)) in q.iter().zip(want).enumerate() {
            assert!(
                (got - want).abs() <= 1e-4,
                "anchor {i} coord {k}: {got} vs {want}"
            );
        }
        let s = 1.0 / (1.0 + (-cls[i]).exp());
        assert!((s - fx.scores.values[r]).abs() < 1e-6);
    }
    // The reference's NMS over its score-thresholded candidates.
    let d: Vec<QuadDetection> = fx
        .end_to_end
        .candidate_indices
        .iter()
        .map(|&i| QuadDetection {
            quad: decode(i),
            score: 1.0 / (1.0 + (-cls[i]).exp()),
        })
        .collect();
    assert_eq!(
        nms_quads_reference(&d, fx.end_to_end.nms_thresh),
        fx.end_to_end.keep
    );
    let _ = h;
}

fn backbone_features(m: &fusedet::model::textboxes::TextBoxes, x: Tensor<4>) -> Vec<Vec<f32>> {
    let feats = match &m.backbone {
        TbBackbone::SeResNet(b) => b.forward(x),
        TbBackbone::ResNet(b) => b.forward(x),
    };
    feats
        .into_iter()
        .map(|f| f.into_data().try_to_vec().unwrap())
        .collect()
}

#[test]
fn cadene_se_resnet50_keys_load_into_the_backbone() {
    // The reference's backbone keys without the `fpn.` prefix are Cadene's `se_resnet50`
    // state dict (plus its classifier, unused).
    let fx: ForwardFixture = read("forward.json");
    let device = Device::default();
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("retinanet.safetensors");
    drawn::write_safetensors(&fx.generator.seed, &fx.params, &full);
    let mut reference = TextBoxesSpec::default().init(&device);
    fusedet::import::textboxes::load_checkpoint(&mut reference, &full).unwrap();

    let mut cadene: Vec<Drawn> = fx
        .params
        .iter()
        .filter(|p| p.key.starts_with("fpn.layer"))
        .map(|p| Drawn {
            key: p.key.trim_start_matches("fpn.").to_string(),
            shape: p.shape.clone(),
            lo: p.lo,
            hi: p.hi,
            sum: p.sum,
        })
        .collect();
    // Drawn under their own keys: the values differ from the detector's but are not used.
    let n_backbone = cadene.len();
    cadene.push(Drawn {
        key: "last_linear.weight".into(),
        shape: vec![10, 2048],
        lo: -0.1,
        hi: 0.1,
        sum: f64::NAN,
    });
    let path = tmp.path().join("se_resnet50.safetensors");
    // `write_safetensors` checks sums: draw with the fixture's keys renamed after the fact.
    let renamed: Vec<Drawn> = cadene
        .iter()
        .map(|d| Drawn {
            key: if d.key == "last_linear.weight" {
                d.key.clone()
            } else {
                format!("fpn.{}", d.key)
            },
            shape: d.shape.clone(),
            lo: d.lo,
            hi: d.hi,
            sum: d.sum,
        })
        .collect();
    let values: Vec<Vec<f32>> = renamed
        .iter()
        .map(|d| draw(&fx.generator.seed, d))
        .collect();
    drawn::write_values(&cadene, &values, &path);
    let mut model = TextBoxesSpec::default().init(&device);
    let report = fusedet::import::textboxes::load_backbone(&mut model, &path).unwrap();
    assert!(report.missing.is_empty());
    assert_eq!(report.unused, vec!["last_linear.weight".to_string()]);
    // Every backbone tensor but the BatchNorm counters.
    let counters = cadene
        .iter()
        .filter(|d| d.key.ends_with("num_batches_tracked"))
        .count();
    assert_eq!(report.applied.len(), n_backbone - counters);
    let x = Tensor::<4>::from_data(
        TensorData::new(draw(&fx.generator.seed, &fx.input), [1, 3, 64, 96]),
        &device,
    );
    assert_eq!(
        backbone_features(&model, x.clone()),
        backbone_features(&reference, x)
    );
}

#[test]
fn torchvision_resnet18_weights_load_into_the_backbone() {
    #[derive(Deserialize)]
    struct Feature {
        values: Vec<f32>,
    }
    #[derive(Deserialize)]
    struct Features {
        input: Vec<f32>,
        features: Vec<Feature>,
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fx: Features = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("resnet18_w4_features.json")).unwrap(),
    )
    .unwrap();
    let device = Device::default();
    let spec = TextBoxesSpec {
        backbone: fusedet::model::textboxes::TbBackboneSpec::Resnet18 {
            base_width: 4,
            weights: None,
        },
        ..TextBoxesSpec::default()
    };
    let mut model = spec.init(&device);
    let report = fusedet::import::textboxes::load_backbone(
        &mut model,
        &fixtures.join("resnet18_w4_torchvision.safetensors"),
    )
    .unwrap();
    assert_eq!(report.applied.len(), 100, "{report:?}");
    let x = Tensor::<4>::from_data(TensorData::new(fx.input, [1, 3, 32, 32]), &device);
    for (got, want) in backbone_features(&model, x).iter().zip(&fx.features) {
        let worst = got
            .iter()
            .zip(&want.values)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "{worst}");
    }
}
