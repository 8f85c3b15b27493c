//! PASCAL VOC average precision for one class, as the `voc_eval` / `voc_ap` functions of
//! py-faster-rcnn's `lib/datasets/voc_eval.py` (the Python port of the VOC devkit that
//! Detectron, mmdetection's `eval_map` legacy mode and most papers reproduce).
//!
//! Conventions kept from that reference:
//! * Boxes are `[x_min, y_min, x_max, y_max]` in VOC's inclusive pixel coordinates: a box covers
//!   `x_max - x_min + 1` pixels, and IoU adds 1 to every width and height (the "+1"
//!   convention), unlike COCO (see [`super::coco::bbox_iou`]).
//! * Detections are taken by score, highest first (the reference uses numpy's default,
//!   unstable, `argsort`; fusedet's sort is stable, so only exactly tied scores can be ordered
//!   differently). Each takes the GT of its image with the largest IoU (the first one on ties);
//!   it is a true positive when that IoU is **greater than** the threshold (0.5) and the GT is
//!   not taken yet, a false positive when it is taken or the IoU is too low, and neither when
//!   the GT is `difficult` (difficult GTs are also not counted as positives).
//! * Precision is `tp / max(tp + fp, f64::EPSILON)`; recall `tp / n_positives`.
//! * [`VocApMethod::ElevenPoint`] (VOC2007, `use_07_metric=True`): mean over t = 0, 0.1, ..., 1
//!   of the largest precision at recall ≥ t (t as `np.arange(0., 1.1, 0.1)` computes it, i.e.
//!   `i * 0.1`). [`VocApMethod::AllPoint`] (VOC2010 and later): area under the precision
//!   envelope, summed where recall changes.

/// A ground-truth box of the evaluated class.
#[derive(Clone, Debug, PartialEq)]
pub struct VocGtBox {
    /// Image index (any numbering shared with the detections).
    pub image: usize,
    /// `[x_min, y_min, x_max, y_max]`, inclusive pixel coordinates.
    pub bbox: [f64; 4],
    /// VOC `difficult`: neither a positive nor a source of false positives.
    pub difficult: bool,
}

/// A detection of the evaluated class.
#[derive(Clone, Debug, PartialEq)]
pub struct VocDetection {
    /// Image index.
    pub image: usize,
    /// `[x_min, y_min, x_max, y_max]`, inclusive pixel coordinates.
    pub bbox: [f64; 4],
    /// Confidence; higher first.
    pub score: f64,
}

/// How the precision/recall curve becomes one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VocApMethod {
    /// VOC2007: 11-point interpolation.
    ElevenPoint,
    /// VOC2010 and later: every point (area under the envelope).
    AllPoint,
}

/// The result of [`voc_eval`].
#[derive(Clone, Debug, PartialEq)]
pub struct VocAp {
    /// Average precision.
    pub ap: f64,
    /// Recall after each detection, in score order.
    pub recall: Vec<f64>,
    /// Precision after each detection, in score order.
    pub precision: Vec<f64>,
    /// Non-difficult GT boxes.
    pub n_positives: usize,
}

/// IoU with the "+1" pixel convention of the VOC devkit.
pub fn voc_iou(det: [f64; 4], gt: [f64; 4]) -> f64 {
    let iw = (gt[2].min(det[2]) - gt[0].max(det[0]) + 1.0).max(0.0);
    let ih = (gt[3].min(det[3]) - gt[1].max(det[1]) + 1.0).max(0.0);
    let inters = iw * ih;
    let uni = (det[2] - det[0] + 1.0) * (det[3] - det[1] + 1.0)
        + (gt[2] - gt[0] + 1.0) * (gt[3] - gt[1] + 1.0)
        - inters;
    inters / uni
}

/// `voc_ap(rec, prec, use_07_metric)`.
pub fn voc_ap(recall: &[f64], precision: &[f64], method: VocApMethod) -> f64 {
    match method {
        VocApMethod::ElevenPoint => {
            let mut ap = 0.0;
            for i in 0..11 {
                let t = i as f64 * 0.1;
                let p = recall
                    .iter()
                    .zip(precision)
                    .filter(|(r, _)| **r >= t)
                    .map(|(_, p)| *p)
                    .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))))
                    .unwrap_or(0.0);
                ap += p / 11.0;
            }
            ap
        }
        VocApMethod::AllPoint => {
            let mut mrec = Vec::with_capacity(recall.len() + 2);
            mrec.push(0.0);
            mrec.extend_from_slice(recall);
            mrec.push(1.0);
            let mut mpre = Vec::with_capacity(precision.len() + 2);
            mpre.push(0.0);
            mpre.extend_from_slice(precision);
            mpre.push(0.0);
            for i in (1..mpre.len()).rev() {
                mpre[i - 1] = mpre[i - 1].max(mpre[i]);
            }
            (0..mrec.len() - 1)
                .filter(|&i| mrec[i + 1] != mrec[i])
                .map(|i| (mrec[i + 1] - mrec[i]) * mpre[i + 1])
                .sum()
        }
    }
}

/// `voc_eval` for one class: `None` when it has no non-difficult GT (the reference divides by
/// zero there).
pub fn voc_eval(
    gts: &[VocGtBox],
    detections: &[VocDetection],
    iou_threshold: f64,
    method: VocApMethod,
) -> Option<VocAp> {
    let n_positives = gts.iter().filter(|g| !g.difficult).count();
    if n_positives == 0 {
        return None;
    }
    let mut by_image: std::collections::HashMap<usize, Vec<usize>> = Default::default();
    for (i, g) in gts.iter().enumerate() {
        by_image.entry(g.image).or_default().push(i);
    }
    let mut taken = vec![false; gts.len()];
    let mut order: Vec<usize> = (0..detections.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (detections[a].score, detections[b].score);
        b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal)
    });
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut recall = Vec::with_capacity(order.len());
    let mut precision = Vec::with_capacity(order.len());
    for &d in &order {
        let det = &detections[d];
        let mut best: Option<(f64, usize)> = None;
        for &g in by_image.get(&det.image).map(Vec::as_slice).unwrap_or(&[]) {
            let iou = voc_iou(det.bbox, gts[g].bbox);
            if best.is_none_or(|(b, _)| iou > b) {
                best = Some((iou, g));
            }
        }
        match best {
            Some((iou, g)) if iou > iou_threshold => {
                if !gts[g].difficult {
                    if taken[g] {
                        fp += 1.0;
                    } else {
                        tp += 1.0;
                        taken[g] = true;
                    }
                }
            }
            _ => fp += 1.0,
        }
        recall.push(tp / n_positives as f64);
        precision.push(tp / f64::max(tp + fp, f64::EPSILON));
    }
    Some(VocAp {
        ap: voc_ap(&recall, &precision, method),
        recall,
        precision,
        n_positives,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_counts_boundary_pixels() {
        // Two 10x10-pixel boxes sharing one column of 10 pixels: 10 / 190.
        let a = [0.0, 0.0, 9.0, 9.0];
        let b = [9.0, 0.0, 18.0, 9.0];
        assert_eq!(voc_iou(a, b), 10.0 / 190.0);
        assert_eq!(voc_iou(a, a), 1.0);
    }

    #[test]
    fn difficult_matches_are_neither_tp_nor_fp() {
        let gts = [
            VocGtBox {
                image: 0,
                bbox: [0.0, 0.0, 9.0, 9.0],
                difficult: false,
            },
            VocGtBox {
                image: 0,
                bbox: [50.0, 50.0, 59.0, 59.0],
                difficult: true,
            },
        ];
        let dets = [
            VocDetection {
                image: 0,
                bbox: [50.0, 50.0, 59.0, 59.0],
                score: 0.9,
            },
            VocDetection {
                image: 0,
                bbox: [0.0, 0.0, 9.0, 9.0],
                score: 0.8,
            },
        ];
        let r = voc_eval(&gts, &dets, 0.5, VocApMethod::AllPoint).unwrap();
        assert_eq!(r.n_positives, 1);
        assert_eq!(r.recall, vec![0.0, 1.0]);
        assert_eq!(r.precision, vec![0.0, 1.0]);
        assert_eq!(r.ap, 1.0);
        let ap07 = voc_ap(&r.recall, &r.precision, VocApMethod::ElevenPoint);
        assert!((ap07 - 1.0).abs() < 1e-12, "{ap07}");
    }

    #[test]
    fn no_positives_gives_none() {
        assert!(voc_eval(&[], &[], 0.5, VocApMethod::AllPoint).is_none());
    }
}
