//! The YOLOv3 / ASFF training loss (SPEC §9.3): the training branch of `YOLOv3Head.forward`
//! in `models/yolov3_head.py` of GOATmessi7/ASFF, with `IOUloss` / `IOUWH_loss` of
//! `models/utils_loss.py` and `bboxes_iou` of `utils/utils.py`.
//!
//! Per level and image, in the reference's order:
//! 1. each box's best anchor among all 9 by the IoU of centred shapes; boxes whose best anchor
//!    is not one of this level's three are skipped here;
//! 2. every prediction (all 4 slots) whose IoU with some box of its image exceeds the ignore
//!    threshold (0.7) gets no objectness loss;
//! 3. each box (in label order, a later one overwriting an earlier one in the same cell) goes
//!    to the cell `(⌊cx / stride⌋, ⌊cy / stride⌋)`, to the anchor-free slot when the IoU of its
//!    shape with that slot's guided anchor beats its best anchor's IoU, else to its anchor's
//!    slot; the guided anchors of both its anchor's slot and the free slot learn its shape.
//!
//! Terms, each summed and divided by the batch size:
//! - `anchor`: `1 − IoU²` of the guided anchors (centred) with the box shapes;
//! - `iou`: `(2 − w h / img²) · (1 − IoU²)` of the decoded boxes with the boxes;
//! - `xy`: `(2 − w h / img²) · BCE(t_xy, offset in the cell)`;
//! - `wh`: `(2 − w h / img²) · |t_wh − ln(box / guided anchor + 1e-12)|`;
//! - `obj`: BCE of the objectness logit with 1 at assigned slots and 0 elsewhere, weighted 0 at
//!   ignored predictions and by the box's mixup weight at assigned slots;
//! - `cls`: BCE of the class logits at assigned slots; with label smoothing the targets are
//!   `1 − 1/C` for the class and `1/C` for the others, as the reference sets them.
//!
//! As in the reference, gradients reach the guide (`guide_wh`) through the anchor loss, the
//! decoded box sizes of the IoU loss, and the `wh` target `ln(box / guided anchor)` (the
//! reference writes it into its target tensor without detaching); the assignment itself
//! uses values only.

use burn::prelude::*;

use super::head::{HeadOutput, N_SLOTS, YoloV3Head};
use super::{YoloV3, YoloV3Output};

/// One ground-truth box of an image, in input pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AsffTarget {
    /// Class index.
    pub class: usize,
    /// Centre x.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
    /// The mixup weight of the image the box comes from (1 without mixup): the objectness
    /// target's weight at the box's slot.
    pub weight: f32,
}

/// Loss settings.
#[derive(Config, Debug, PartialEq)]
pub struct YoloV3LossConfig {
    /// Predictions whose best IoU with a box exceeds this get no objectness loss.
    #[config(default = 0.7)]
    pub ignore_threshold: f64,
    /// Class targets `1 − 1/C` and `1/C` instead of 1 and 0 (the reference's `label_smooth`).
    #[config(default = false)]
    pub label_smoothing: bool,
}

/// The loss terms, each already divided by the batch size.
#[derive(Clone, Debug)]
pub struct YoloV3LossTerms {
    /// `1 − IoU²` of the guided anchors.
    pub anchor: Tensor<1>,
    /// Weighted `1 − IoU²` of the decoded boxes.
    pub iou: Tensor<1>,
    /// Weighted BCE of the centre offsets.
    pub xy: Tensor<1>,
    /// Weighted L1 of the log sizes.
    pub wh: Tensor<1>,
    /// Objectness BCE.
    pub obj: Tensor<1>,
    /// Class BCE.
    pub cls: Tensor<1>,
}

/// [`YoloV3LossTerms`] as numbers, for logging.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct YoloV3LossValues {
    /// See [`YoloV3LossTerms::anchor`].
    pub anchor: f64,
    /// See [`YoloV3LossTerms::iou`].
    pub iou: f64,
    /// See [`YoloV3LossTerms::xy`].
    pub xy: f64,
    /// See [`YoloV3LossTerms::wh`].
    pub wh: f64,
    /// See [`YoloV3LossTerms::obj`].
    pub obj: f64,
    /// See [`YoloV3LossTerms::cls`].
    pub cls: f64,
}

impl YoloV3LossValues {
    /// `xy + wh`, the reference's `loss_l1`.
    pub fn l1(&self) -> f64 {
        self.xy + self.wh
    }

    /// The sum of all terms, the reference's `loss`.
    pub fn total(&self) -> f64 {
        self.anchor + self.iou + self.l1() + self.obj + self.cls
    }
}

impl YoloV3LossTerms {
    fn zeros(device: &Device) -> Self {
        let z = || Tensor::<1>::zeros([1], device);
        Self {
            anchor: z(),
            iou: z(),
            xy: z(),
            wh: z(),
            obj: z(),
            cls: z(),
        }
    }

    /// `xy + wh`, the reference's `loss_l1`.
    pub fn l1(&self) -> Tensor<1> {
        self.xy.clone().add(self.wh.clone())
    }

    /// The sum of all terms, the reference's `loss` (what training back-propagates).
    pub fn total(&self) -> Tensor<1> {
        self.anchor
            .clone()
            .add(self.iou.clone())
            .add(self.l1())
            .add(self.obj.clone())
            .add(self.cls.clone())
    }

    /// The values (reads every term back from the device).
    pub fn values(&self) -> YoloV3LossValues {
        let v = |t: &Tensor<1>| t.clone().into_scalar::<f32>() as f64;
        YoloV3LossValues {
            anchor: v(&self.anchor),
            iou: v(&self.iou),
            xy: v(&self.xy),
            wh: v(&self.wh),
            obj: v(&self.obj),
            cls: v(&self.cls),
        }
    }
}

/// Term-wise sum.
impl std::ops::Add for YoloV3LossTerms {
    type Output = Self;

    fn add(self, o: Self) -> Self {
        Self {
            anchor: self.anchor.add(o.anchor),
            iou: self.iou.add(o.iou),
            xy: self.xy.add(o.xy),
            wh: self.wh.add(o.wh),
            obj: self.obj.add(o.obj),
            cls: self.cls.add(o.cls),
        }
    }
}

/// Term-wise sum.
impl std::ops::Add for YoloV3LossValues {
    type Output = Self;

    fn add(self, o: Self) -> Self {
        Self {
            anchor: self.anchor + o.anchor,
            iou: self.iou + o.iou,
            xy: self.xy + o.xy,
            wh: self.wh + o.wh,
            obj: self.obj + o.obj,
            cls: self.cls + o.cls,
        }
    }
}

/// The loss of the whole model: per level (coarsest first) and summed.
#[derive(Clone, Debug)]
pub struct YoloV3Loss {
    /// One entry per head.
    pub levels: Vec<YoloV3LossTerms>,
    /// The term-wise sum over the levels.
    pub sum: YoloV3LossTerms,
}

/// [`head_loss`] of every level, and their sum.
///
/// # Panics
/// As [`head_loss`]; if `out` does not have one entry per head.
pub fn yolov3_loss(
    model: &YoloV3,
    out: &YoloV3Output,
    targets: &[Vec<AsffTarget>],
    config: &YoloV3LossConfig,
) -> YoloV3Loss {
    let heads = model.heads();
    assert_eq!(heads.len(), out.levels.len(), "one output per head");
    let levels: Vec<_> = heads
        .iter()
        .zip(&out.levels)
        .map(|(h, o)| head_loss(h, o, targets, config))
        .collect();
    let mut sum = levels[0].clone();
    for l in &levels[1..] {
        sum = sum + l.clone();
    }
    YoloV3Loss { levels, sum }
}

/// Centred-box or general `bboxes_iou(xyxy=False)` in f32, as the reference computes it.
fn iou_cxcywh(a: [f32; 4], b: [f32; 4]) -> f32 {
    let mut inter = 1.0f32;
    for k in 0..2 {
        let tl = (a[k] - a[k + 2] / 2.0).max(b[k] - b[k + 2] / 2.0);
        let br = (a[k] + a[k + 2] / 2.0).min(b[k] + b[k + 2] / 2.0);
        inter *= if tl < br { br - tl } else { 0.0 };
    }
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Everything the assignment decides, per cell `(b, slot, j, i)` (row-major).
struct Assignment {
    /// Objectness weight (0 where ignored; the mixup weight at assigned slots).
    obj_weight: Vec<f32>,
    /// Objectness target.
    obj_target: Vec<f32>,
    /// Cells whose guided anchor learns a box shape, with that shape `(w, h)`.
    anchor_cells: Vec<(usize, [f32; 2])>,
    /// Assigned cells: index, column, row, the box of the IoU loss, the size of the box
    /// assigned there, weight `2 − wh/img²`, the offset targets and the class targets.
    coord_cells: Vec<CoordCell>,
}

struct CoordCell {
    index: usize,
    i: usize,
    j: usize,
    /// The reference's `target[..., :4]` at the cell: the last box written to this slot of
    /// this position, which is not the assigned box when a later box at the same position
    /// wrote it through its anchor's slot or the free slot.
    target_box: [f32; 4],
    /// The assigned box's `(w, h)` (the `wh` target's numerator).
    wh: [f32; 2],
    scale: f32,
    offset: [f32; 2],
    classes: Vec<f32>,
}

fn assign(
    head: &YoloV3Head,
    raw: &[f32],
    anchors: &[f32],
    dims: [usize; 3],
    targets: &[Vec<AsffTarget>],
    config: &YoloV3LossConfig,
) -> Assignment {
    let [n, fsize, _] = dims;
    let c = head.num_classes();
    let ch = 5 + c;
    let stride = head.stride();
    let image_size = (fsize * stride) as f32;
    let cells = N_SLOTS * fsize * fsize;
    let cell = |b: usize, a: usize, j: usize, i: usize| ((b * N_SLOTS + a) * fsize + j) * fsize + i;
    // raw is [n, 4, ch, h, w]; anchors [n, 4, h, w, 2].
    let raw_at = |b: usize, a: usize, k: usize, j: usize, i: usize| {
        raw[(((b * N_SLOTS + a) * ch + k) * fsize + j) * fsize + i]
    };
    let anchor_at = |idx: usize| [anchors[2 * idx], anchors[2 * idx + 1]];
    let all = head.all_anchors();
    let mask = head.anch_mask();
    let mut out = Assignment {
        obj_weight: vec![1.0; n * cells],
        obj_target: vec![0.0; n * cells],
        anchor_cells: Vec::new(),
        coord_cells: Vec::new(),
    };
    // Per cell, the latest writer of each array (later boxes overwrite earlier ones).
    let mut target_box: Vec<Option<[f32; 4]>> = vec![None; n * cells];
    let mut coord: Vec<Option<CoordCell>> = (0..n * cells).map(|_| None).collect();
    for (b, boxes) in targets.iter().enumerate().take(n) {
        if boxes.is_empty() {
            continue;
        }
        // Ignore: predictions overlapping some box by more than the threshold.
        for a in 0..N_SLOTS {
            for j in 0..fsize {
                for i in 0..fsize {
                    let idx = cell(b, a, j, i);
                    let [aw, ah] = anchor_at(idx);
                    let p = [
                        (sigmoid_f32(raw_at(b, a, 0, j, i)) + i as f32) * stride as f32,
                        (sigmoid_f32(raw_at(b, a, 1, j, i)) + j as f32) * stride as f32,
                        raw_at(b, a, 2, j, i).exp() * aw,
                        raw_at(b, a, 3, j, i).exp() * ah,
                    ];
                    let best = boxes
                        .iter()
                        .map(|t| iou_cxcywh(p, [t.cx, t.cy, t.w, t.h]))
                        .fold(f32::NEG_INFINITY, f32::max);
                    if best > config.ignore_threshold as f32 {
                        out.obj_weight[idx] = 0.0;
                    }
                }
            }
        }
        for t in boxes {
            let shape = [0.0, 0.0, t.w, t.h];
            let (mut best_n, mut best_iou) = (0, f32::NEG_INFINITY);
            for (k, &(aw, ah)) in all.iter().enumerate() {
                let iou = iou_cxcywh(shape, [0.0, 0.0, aw, ah]);
                if iou > best_iou {
                    (best_n, best_iou) = (k, iou);
                }
            }
            let Some(a) = mask.iter().position(|&m| m == best_n) else {
                continue;
            };
            // The reference truncates toward zero (`.to(torch.int16)`).
            let i = (t.cx / image_size * fsize as f32) as usize;
            let j = (t.cy / image_size * fsize as f32) as usize;
            assert!(
                i < fsize && j < fsize,
                "box centre ({}, {}) outside the {image_size}-pixel input",
                t.cx,
                t.cy
            );
            let free = cell(b, N_SLOTS - 1, j, i);
            let [fw, fh] = anchor_at(free);
            let free_iou = iou_cxcywh(shape, [0.0, 0.0, fw, fh]);
            let aa = if free_iou > best_iou { N_SLOTS - 1 } else { a };
            let idx = cell(b, aa, j, i);
            target_box[free] = Some([t.cx, t.cy, t.w, t.h]);
            target_box[cell(b, a, j, i)] = Some([t.cx, t.cy, t.w, t.h]);
            out.obj_weight[idx] = t.weight;
            out.obj_target[idx] = 1.0;
            let mut classes = match coord[idx].take() {
                Some(prev) if !config.label_smoothing => prev.classes,
                _ => vec![0.0; c],
            };
            assert!(t.class < c, "class {} of {c}", t.class);
            if config.label_smoothing {
                let w = 1.0 / c as f32;
                classes.iter_mut().for_each(|v| *v = w);
                classes[t.class] = 1.0 - w;
            } else {
                classes[t.class] = 1.0;
            }
            coord[idx] = Some(CoordCell {
                index: idx,
                i,
                j,
                target_box: [0.0; 4],
                wh: [t.w, t.h],
                scale: 2.0 - t.w * t.h / image_size / image_size,
                offset: [
                    t.cx / image_size * fsize as f32 - i as f32,
                    t.cy / image_size * fsize as f32 - j as f32,
                ],
                classes,
            });
        }
    }
    out.coord_cells = coord
        .into_iter()
        .flatten()
        .map(|c| CoordCell {
            target_box: target_box[c.index].expect("an assigned slot has a target box"),
            ..c
        })
        .collect();
    out.anchor_cells = target_box
        .into_iter()
        .enumerate()
        .filter_map(|(idx, t)| t.map(|t| (idx, [t[2], t[3]])))
        .collect();
    out
}

/// BCE with logits, as PyTorch's `BCEWithLogitsLoss(reduction='none')`.
fn bce_with_logits<const D: usize>(x: Tensor<D>, y: Tensor<D>) -> Tensor<D> {
    x.clone()
        .clamp_min(0.0)
        .sub(x.clone().mul(y))
        .add(x.abs().neg().exp().log1p())
}

/// `1 − IoU²` of `(cx, cy, w, h)` boxes `[k, 4]` (`IOUloss`; `IOUWH_loss` is this with both
/// centres at 0).
fn one_minus_iou_sq(p: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    let [k, _] = p.dims();
    let part = |x: &Tensor<2>, a: usize, b: usize| x.clone().slice([0..k, a..b]);
    let (pc, pwh) = (part(&p, 0, 2), part(&p, 2, 4));
    let (tc, twh) = (part(&t, 0, 2), part(&t, 2, 4));
    let tl = pc
        .clone()
        .sub(pwh.clone().div_scalar(2.0))
        .max_pair(tc.clone().sub(twh.clone().div_scalar(2.0)));
    let br = pc
        .add(pwh.clone().div_scalar(2.0))
        .min_pair(tc.add(twh.clone().div_scalar(2.0)));
    let d = br.sub(tl).clamp_min(0.0);
    let prod = |x: Tensor<2>| part(&x, 0, 1).mul(part(&x, 1, 2)).reshape([k]);
    let inter = prod(d);
    let union = prod(pwh)
        .add(prod(twh))
        .sub(inter.clone())
        .add_scalar(1e-16);
    inter.div(union).powi_scalar(2).neg().add_scalar(1.0)
}

/// One head's loss terms.
///
/// `targets[b]` holds image `b`'s boxes (images past the batch are ignored; a missing image has
/// no boxes).
///
/// # Shapes
/// - `out.raw`: `[n, 4 (5 + C), s, s]`, `out.guide`: `[n, 8, s, s]` (square maps, as the
///   reference assumes); the input side is `s · stride`.
///
/// # Panics
/// If the maps are not square, a box centre lies outside the input or a class is out of range.
pub fn head_loss(
    head: &YoloV3Head,
    out: &HeadOutput,
    targets: &[Vec<AsffTarget>],
    config: &YoloV3LossConfig,
) -> YoloV3LossTerms {
    let [n, _, h, w] = out.raw.dims();
    assert_eq!(h, w, "the reference's heads assume square maps");
    let device = out.raw.device();
    let c = head.num_classes();
    let ch = 5 + c;
    let stride = head.stride() as f32;
    let cells = n * N_SLOTS * h * w;
    let anchors = head.guided_anchors(out.guide.clone()); // [n, 4, h, w, 2]
    let raw_host: Vec<f32> = out.raw.clone().into_data().iter::<f32>().collect();
    let anchors_host: Vec<f32> = anchors.clone().into_data().iter::<f32>().collect();
    let a = assign(head, &raw_host, &anchors_host, [n, h, w], targets, config);

    let p = out
        .raw
        .clone()
        .reshape([n, N_SLOTS, ch, h, w])
        .permute([0, 1, 3, 4, 2])
        .reshape([cells, ch]);
    let anchors = anchors.reshape([cells, 2]);
    let tensor1 = |v: Vec<f32>, k: usize| Tensor::<1>::from_data(TensorData::new(v, [k]), &device);
    let tensor2 = |v: Vec<f32>, k: usize, m: usize| {
        Tensor::<2>::from_data(TensorData::new(v, [k, m]), &device)
    };
    let indices = |v: Vec<usize>| {
        let k = v.len();
        let v: Vec<i32> = v.into_iter().map(|i| i as i32).collect();
        Tensor::<1, Int>::from_ints(TensorData::new(v, [k]), &device)
    };
    let bsz = n as f64;

    let obj = bce_with_logits(
        p.clone().slice([0..cells, 4..5]).reshape([cells]),
        tensor1(a.obj_target, cells),
    )
    .mul(tensor1(a.obj_weight, cells))
    .sum()
    .div_scalar(bsz);
    let mut terms = YoloV3LossTerms::zeros(&device);
    terms.obj = obj;
    if a.coord_cells.is_empty() {
        return terms;
    }

    // Anchor loss: the guided anchors (centred) against the box shapes.
    let m = a.anchor_cells.len();
    let guided = anchors
        .clone()
        .select(0, indices(a.anchor_cells.iter().map(|c| c.0).collect()));
    let zeros = Tensor::<2>::zeros([m, 2], &device);
    let shapes = tensor2(a.anchor_cells.iter().flat_map(|c| c.1).collect(), m, 2);
    terms.anchor = one_minus_iou_sq(
        Tensor::cat(vec![zeros.clone(), guided], 1),
        Tensor::cat(vec![zeros, shapes], 1),
    )
    .sum()
    .div_scalar(bsz);

    // Box terms at the assigned slots.
    let k = a.coord_cells.len();
    let idx = indices(a.coord_cells.iter().map(|c| c.index).collect());
    let pk = p.select(0, idx.clone());
    let ak = anchors.select(0, idx);
    let scale = tensor1(a.coord_cells.iter().map(|c| c.scale).collect(), k);
    let shift = tensor2(
        a.coord_cells
            .iter()
            .flat_map(|c| [c.i as f32, c.j as f32])
            .collect(),
        k,
        2,
    );
    let truth = tensor2(
        a.coord_cells.iter().flat_map(|c| c.target_box).collect(),
        k,
        4,
    );
    let wh = tensor2(a.coord_cells.iter().flat_map(|c| c.wh).collect(), k, 2);
    let t_xy = pk.clone().slice([0..k, 0..2]);
    let t_wh = pk.clone().slice([0..k, 2..4]);
    let boxes = Tensor::cat(
        vec![
            burn::tensor::activation::sigmoid(t_xy.clone())
                .add(shift)
                .mul_scalar(stride),
            t_wh.clone().exp().mul(ak.clone()),
        ],
        1,
    );
    terms.iou = one_minus_iou_sq(boxes, truth)
        .mul(scale.clone())
        .sum()
        .div_scalar(bsz);
    let scale2 = scale.reshape([k, 1]);
    let offsets = tensor2(a.coord_cells.iter().flat_map(|c| c.offset).collect(), k, 2);
    terms.xy = bce_with_logits(t_xy, offsets)
        .mul(scale2.clone())
        .sum()
        .div_scalar(bsz);
    let wh_target = wh.div(ak).add_scalar(1e-12).log();
    terms.wh = t_wh.sub(wh_target).abs().mul(scale2).sum().div_scalar(bsz);
    let classes = tensor2(
        a.coord_cells
            .iter()
            .flat_map(|c| c.classes.clone())
            .collect(),
        k,
        c,
    );
    terms.cls = bce_with_logits(pk.slice([0..k, 5..ch]), classes)
        .sum()
        .div_scalar(bsz);
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn target(class: usize, cx: f32, cy: f32, w: f32, h: f32) -> AsffTarget {
        AsffTarget {
            class,
            cx,
            cy,
            w,
            h,
            weight: 1.0,
        }
    }

    #[test]
    fn without_boxes_only_the_objectness_term_is_left() {
        let device = Device::default();
        let head = YoloV3Head::new([3, 4, 5], 2, 16, 8, false, false, &device);
        let out = HeadOutput {
            raw: Tensor::<4>::zeros([2, 4 * 7, 3, 3], &device),
            guide: Tensor::<4>::zeros([2, 8, 3, 3], &device),
        };
        let v = head_loss(&head, &out, &[vec![], vec![]], &YoloV3LossConfig::new()).values();
        // BCE(0, 0) = ln 2 at 2 · 4 · 9 slots, divided by the batch size 2.
        assert!((v.obj - 36.0 * std::f64::consts::LN_2).abs() < 1e-4);
        assert_eq!(
            (v.anchor, v.iou, v.xy, v.wh, v.cls),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn a_box_whose_anchor_is_on_another_level_only_costs_objectness_here() {
        let device = Device::default();
        let head = YoloV3Head::new([6, 7, 8], 1, 32, 8, false, false, &device);
        let out = HeadOutput {
            raw: Tensor::<4>::zeros([1, 4 * 6, 2, 2], &device),
            guide: Tensor::<4>::zeros([1, 8, 2, 2], &device),
        };
        // 10 x 13 is anchor 0, on the stride-8 level.
        let v = head_loss(
            &head,
            &out,
            &[vec![target(0, 20.0, 20.0, 10.0, 13.0)]],
            &YoloV3LossConfig::new(),
        )
        .values();
        assert_eq!((v.anchor, v.iou, v.cls), (0.0, 0.0, 0.0));
        assert!(v.obj > 0.0);
    }

    #[test]
    fn gradients_reach_the_guide_and_stay_finite() {
        let device = Device::default().autodiff();
        let head = YoloV3Head::new([3, 4, 5], 3, 16, 8, false, false, &device);
        let raw = Tensor::<4>::random([2, 4 * 8, 4, 4], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let guide = Tensor::<4>::random([2, 8, 4, 4], Distribution::Normal(0.0, 0.5), &device)
            .require_grad();
        let out = HeadOutput {
            raw: raw.clone(),
            guide: guide.clone(),
        };
        let boxes = vec![
            vec![
                target(0, 20.0, 30.0, 35.0, 60.0),
                target(2, 40.0, 41.0, 60.0, 44.0),
            ],
            vec![target(1, 50.0, 12.0, 40.0, 110.0)],
        ];
        let loss = || head_loss(&head, &out, &boxes, &YoloV3LossConfig::new());
        // The wh term alone: its target ln(box / guided anchor) is not detached.
        let grads = loss().wh.backward();
        let g = guide.grad(&grads).expect("guide gradient from the wh term");
        assert!(g.abs().sum().into_scalar::<f32>() > 0.0);
        let grads = loss().total().backward();
        for t in [raw.grad(&grads).unwrap(), guide.grad(&grads).unwrap()] {
            let v: Vec<f32> = t.into_data().iter::<f32>().collect();
            assert!(v.iter().all(|x| x.is_finite()));
            assert!(v.iter().any(|&x| x != 0.0));
        }
    }
}
