//! YOLOv3 pre- and post-processing exactly as Darknet (pjreddie/darknet at 61c9d02e, the
//! Debian `darknet` package) runs `detector test` / `detector valid`:
//!
//! * [`letterbox`]: `load_image_color` (RGB / 255) → `letterbox_image` (aspect-preserving
//!   `resize_image`, Darknet's own corner-aligned bilinear, x first then y, on a 0.5 grey
//!   canvas, centred with integer division);
//! * [`decode`]: `forward_yolo_layer` (logistic on x, y, objectness and classes) +
//!   `get_yolo_detections` (objectness > thresh; box `((col + x) / lw, (row + y) / lh,
//!   exp(tw) * anchor_w / net_w, exp(th) * anchor_h / net_h)`; prob = objectness × class,
//!   zeroed unless > thresh) + `correct_yolo_boxes` (undo the letterbox, to pixels);
//! * [`do_nms_sort`]: per class, sorted by that class's probability, later boxes with IoU
//!   > `iou` against a kept one lose that class;
//! * [`to_detections`]: one result per box and class with a non-zero probability, corners
//!   clipped to the image as `print_cocos` writes them.
//!
//! The float arithmetic follows the C code's types (f32 storage, f64 where C promotes), so
//! the boxes agree with Darknet's to float rounding.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::detection::{Detection, Shape};
use crate::import::darknet::Yolo;

/// Post-processing settings of an object detector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YoloPostProcess {
    /// Minimum objectness and class probability (`-thresh`; 0.25 for `detector test`, 0.005
    /// for `detector valid`).
    pub conf: f32,
    /// NMS IoU threshold (0.45).
    pub iou: f32,
    /// Keep at most this many results per image, best first (all when `None`).
    pub max_det: Option<usize>,
}

impl Default for YoloPostProcess {
    fn default() -> Self {
        Self {
            conf: 0.25,
            iou: 0.45,
            max_det: None,
        }
    }
}

impl YoloPostProcess {
    /// `darknet detector valid`'s settings (threshold 0.005, NMS 0.45), for evaluation.
    pub fn valid() -> Self {
        Self {
            conf: 0.005,
            ..Self::default()
        }
    }
}

/// Network input geometry of one image: where the resized image sits in the network input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Network input width.
    pub net_w: usize,
    /// Network input height.
    pub net_h: usize,
    /// Width of the resized image inside it.
    pub new_w: usize,
    /// Height of the resized image inside it.
    pub new_h: usize,
    /// Original width.
    pub src_w: usize,
    /// Original height.
    pub src_h: usize,
}

impl Placement {
    /// Darknet's letterbox arithmetic (`letterbox_image`, `correct_yolo_boxes`), or a
    /// stretch to the whole input when `letterbox` is off.
    pub fn new(src_w: usize, src_h: usize, net_w: usize, net_h: usize, letterbox: bool) -> Self {
        let (new_w, new_h) = if !letterbox {
            (net_w, net_h)
        } else if (net_w as f32 / src_w as f32) < (net_h as f32 / src_h as f32) {
            (net_w, (src_h * net_w / src_w).max(1))
        } else {
            ((src_w * net_h / src_h).max(1), net_h)
        };
        Self {
            net_w,
            net_h,
            new_w,
            new_h,
            src_w,
            src_h,
        }
    }
}

/// A letterboxed image: planar RGB in [0, 1], `3 × net_h × net_w`.
#[derive(Clone, Debug)]
pub struct Letterboxed {
    /// CHW values.
    pub data: Vec<f32>,
    /// Geometry.
    pub placement: Placement,
}

/// Darknet's `resize_image` (corner-aligned bilinear, x then y) of a `c × h × w` image whose
/// value at channel `k`, row `r`, column `x` is `at(k, r, x)`, to `c × nh × nw` (planar).
fn resize_darknet(
    (w, h, c): (usize, usize, usize),
    (nw, nh): (usize, usize),
    at: impl Fn(usize, usize, usize) -> f32,
) -> Vec<f32> {
    let w_scale = if nw > 1 {
        (w - 1) as f32 / (nw - 1) as f32
    } else {
        0.0
    };
    let h_scale = if nh > 1 {
        (h - 1) as f32 / (nh - 1) as f32
    } else {
        0.0
    };
    let mut part = vec![0f32; c * h * nw];
    for k in 0..c {
        for r in 0..h {
            let out = &mut part[(k * h + r) * nw..(k * h + r + 1) * nw];
            for (col, o) in out.iter_mut().enumerate() {
                *o = if col == nw - 1 || w == 1 {
                    at(k, r, w - 1)
                } else {
                    let sx = col as f32 * w_scale;
                    let ix = (sx as usize).min(w - 2);
                    let dx = sx - ix as f32;
                    (1.0 - dx) * at(k, r, ix) + dx * at(k, r, ix + 1)
                };
            }
        }
    }
    let mut out = vec![0f32; c * nh * nw];
    for k in 0..c {
        for r in 0..nh {
            let sy = r as f32 * h_scale;
            let iy = (sy as usize).min(h - 1);
            let dy = sy - iy as f32;
            let dst = &mut out[(k * nh + r) * nw..(k * nh + r + 1) * nw];
            let a = &part[(k * h + iy) * nw..(k * h + iy + 1) * nw];
            for (d, &v) in dst.iter_mut().zip(a) {
                *d = (1.0 - dy) * v;
            }
            if r == nh - 1 || h == 1 {
                continue;
            }
            let b = &part[(k * h + iy + 1) * nw..(k * h + iy + 2) * nw];
            for (d, &v) in dst.iter_mut().zip(b) {
                *d += dy * v;
            }
        }
    }
    out
}

/// [`resize_darknet`] of an 8-bit RGB image as `load_image_color` gives it (planar,
/// `v / 255` computed in double), the float image never being made: the samples are read
/// from the bytes through a table of the 256 values, so a 20000 x 20000 photo needs the
/// `3 × h × new_w` intermediate, not 4.8 GB of floats.
fn resize_rgb(img: &RgbImage, nw: usize, nh: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let level: [f32; 256] = std::array::from_fn(|v| (v as f64 / 255.0) as f32);
    let raw = img.as_raw();
    resize_darknet((w, h, 3), (nw, nh), |k, r, x| {
        level[raw[(r * w + x) * 3 + k] as usize]
    })
}

/// Darknet's network input for `img`: RGB / 255, letterboxed (or stretched) to
/// `net_w × net_h` with its own bilinear resize on a 0.5 canvas.
pub fn letterbox(img: &RgbImage, net_w: usize, net_h: usize, letterbox: bool) -> Letterboxed {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let p = Placement::new(w, h, net_w, net_h, letterbox);
    let resized = resize_rgb(img, p.new_w, p.new_h);
    let mut data = vec![0.5f32; 3 * net_w * net_h];
    let (dx, dy) = ((net_w - p.new_w) / 2, (net_h - p.new_h) / 2);
    for k in 0..3 {
        for y in 0..p.new_h {
            let src = &resized[(k * p.new_h + y) * p.new_w..(k * p.new_h + y + 1) * p.new_w];
            let o = (k * net_h + dy + y) * net_w + dx;
            data[o..o + p.new_w].copy_from_slice(src);
        }
    }
    Letterboxed { data, placement: p }
}

/// A box before NMS: centre and size in original pixels, objectness and per-class
/// probabilities (zero where at or below the threshold).
#[derive(Clone, Debug, PartialEq)]
pub struct RawDetection {
    /// `[x, y, w, h]`, centre and size.
    pub bbox: [f32; 4],
    /// Objectness.
    pub objectness: f32,
    /// Per-class probability.
    pub prob: Vec<f32>,
}

/// Darknet's `logistic_activate`, in double as the C code computes it.
fn logistic(x: f32) -> f32 {
    (1.0 / (1.0 + (-f64::from(x)).exp())) as f32
}

/// One `[yolo]` level's raw network output for one image, `anchors × (5 + classes)` channels
/// of `h × w`, channel-major.
#[derive(Clone, Copy, Debug)]
pub struct LevelOutput<'a> {
    /// Values.
    pub data: &'a [f32],
    /// Grid height.
    pub h: usize,
    /// Grid width.
    pub w: usize,
    /// The level.
    pub layer: &'a Yolo,
}

/// `forward_yolo_layer` + `get_yolo_detections` + `correct_yolo_boxes` over all levels.
pub fn decode(levels: &[LevelOutput], p: &Placement, thresh: f32) -> Vec<RawDetection> {
    let mut out = Vec::new();
    for lv in levels {
        let y = lv.layer;
        let (lw, lh) = (lv.w, lv.h);
        let hw = lw * lh;
        let stride = 5 + y.classes;
        let s = y.scale_x_y;
        let act_xy = |v: f32| {
            let a = logistic(v);
            if s == 1.0 { a } else { a * s - 0.5 * (s - 1.0) }
        };
        for i in 0..hw {
            let (row, col) = (i / lw, i % lw);
            for (n, &m) in y.mask.iter().enumerate() {
                let at = |e: usize| lv.data[(n * stride + e) * hw + i];
                let objectness = logistic(at(4));
                if objectness <= thresh {
                    continue;
                }
                let anchor = y.anchors[m];
                let bx = (col as f32 + act_xy(at(0))) / lw as f32;
                let by = (row as f32 + act_xy(at(1))) / lh as f32;
                let bw = (f64::from(at(2)).exp() * f64::from(anchor[0]) / p.net_w as f64) as f32;
                let bh = (f64::from(at(3)).exp() * f64::from(anchor[1]) / p.net_h as f64) as f32;
                let prob = (0..y.classes)
                    .map(|j| {
                        let v = objectness * logistic(at(5 + j));
                        if v > thresh { v } else { 0.0 }
                    })
                    .collect();
                out.push(RawDetection {
                    bbox: correct(p, [bx, by, bw, bh]),
                    objectness,
                    prob,
                });
            }
        }
    }
    out
}

/// `correct_yolo_boxes` with `relative = 0`.
fn correct(p: &Placement, [x, y, w, h]: [f32; 4]) -> [f32; 4] {
    let (netw, neth) = (p.net_w as f64, p.net_h as f64);
    let x = ((f64::from(x) - (p.net_w - p.new_w) as f64 / 2.0 / netw)
        / f64::from(p.new_w as f32 / p.net_w as f32)) as f32;
    let y = ((f64::from(y) - (p.net_h - p.new_h) as f64 / 2.0 / neth)
        / f64::from(p.new_h as f32 / p.net_h as f32)) as f32;
    let w = w * (p.net_w as f32 / p.new_w as f32);
    let h = h * (p.net_h as f32 / p.new_h as f32);
    [
        x * p.src_w as f32,
        y * p.src_h as f32,
        w * p.src_w as f32,
        h * p.src_h as f32,
    ]
}

fn overlap(x1: f32, w1: f32, x2: f32, w2: f32) -> f32 {
    let left = (x1 - w1 / 2.0).max(x2 - w2 / 2.0);
    let right = (x1 + w1 / 2.0).min(x2 + w2 / 2.0);
    right - left
}

/// Darknet's `box_iou` on centre-size boxes.
pub fn box_iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let w = overlap(a[0], a[2], b[0], b[2]);
    let h = overlap(a[1], a[3], b[1], b[3]);
    let inter = if w < 0.0 || h < 0.0 { 0.0 } else { w * h };
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

/// Darknet's `do_nms_sort`: boxes with zero objectness are dropped; then per class, in order
/// of that class's probability (descending; ties keep their order), every later box whose IoU
/// with a box still holding the class is above `iou` loses the class.
pub fn do_nms_sort(dets: &mut Vec<RawDetection>, classes: usize, iou: f32) {
    dets.retain(|d| d.objectness != 0.0);
    let mut order: Vec<usize> = (0..dets.len()).collect();
    for k in 0..classes {
        order.sort_by(|&a, &b| dets[b].prob[k].total_cmp(&dets[a].prob[k]));
        for (oi, &i) in order.iter().enumerate() {
            if dets[i].prob[k] == 0.0 {
                continue;
            }
            let a = dets[i].bbox;
            for &j in &order[oi + 1..] {
                if dets[j].prob[k] != 0.0 && box_iou(a, dets[j].bbox) > iou {
                    dets[j].prob[k] = 0.0;
                }
            }
        }
    }
}

/// One [`Detection`] per box and class with a probability above `conf`, as `print_cocos`
/// writes them (corners clipped to the image; boxes wholly outside it dropped), best first,
/// at most `max_det`.
pub fn to_detections(
    dets: &[RawDetection],
    names: &[String],
    p: &Placement,
    conf: f32,
    max_det: Option<usize>,
) -> Vec<Detection> {
    let (w, h) = (p.src_w as f32, p.src_h as f32);
    let mut out = Vec::new();
    for d in dets {
        let [x, y, bw, bh] = d.bbox;
        let x1 = ((f64::from(x) - f64::from(bw) / 2.0) as f32).max(0.0);
        let x2 = ((f64::from(x) + f64::from(bw) / 2.0) as f32).min(w);
        let y1 = ((f64::from(y) - f64::from(bh) / 2.0) as f32).max(0.0);
        let y2 = ((f64::from(y) + f64::from(bh) / 2.0) as f32).min(h);
        if x2 <= x1 || y2 <= y1 {
            // Wholly outside the image (Darknet would print a negative size).
            continue;
        }
        for (j, &s) in d.prob.iter().enumerate() {
            if s > 0.0 && s > conf {
                out.push(Detection {
                    shape: Shape::Box([x1.into(), y1.into(), x2.into(), y2.into()]),
                    score: s.into(),
                    class_id: Some(j),
                    class: Some(names.get(j).cloned().unwrap_or_else(|| format!("class{j}"))),
                });
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    if let Some(m) = max_det {
        out.truncate(m);
    }
    out
}

/// Decode, NMS and results for one image.
pub fn postprocess(
    levels: &[LevelOutput],
    p: &Placement,
    names: &[String],
    cfg: &YoloPostProcess,
) -> Vec<Detection> {
    let mut dets = decode(levels, p, cfg.conf);
    let classes = levels.iter().map(|l| l.layer.classes).max().unwrap_or(0);
    if cfg.iou > 0.0 {
        do_nms_sort(&mut dets, classes, cfg.iou);
    }
    to_detections(&dets, names, p, cfg.conf, cfg.max_det)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_from_bytes_equals_the_float_image_resize() {
        let img = RgbImage::from_fn(37, 23, |x, y| {
            image::Rgb([(x * 7 + y * 3) as u8, (x * y) as u8, (255 - x * 5) as u8])
        });
        let (w, h) = (37, 23);
        let mut planar = vec![0f32; 3 * w * h];
        for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
            for k in 0..3 {
                planar[k * w * h + i] = (f64::from(px[k]) / 255.0) as f32;
            }
        }
        for (nw, nh) in [(16, 10), (64, 41), (1, 1), (37, 23), (5, 60)] {
            // The float-image resize `resize_rgb` replaced: the whole image converted first.
            let from_floats =
                resize_darknet((w, h, 3), (nw, nh), |k, r, x| planar[(k * h + r) * w + x]);
            assert_eq!(resize_rgb(&img, nw, nh), from_floats, "{nw}x{nh}");
        }
    }

    #[test]
    fn letterbox_places_the_image_as_darknet_does() {
        // 640x480 into 416x416: new 416x312 at y offset 52.
        let p = Placement::new(640, 480, 416, 416, true);
        assert_eq!((p.new_w, p.new_h), (416, 312));
        let p = Placement::new(480, 640, 416, 416, true);
        assert_eq!((p.new_w, p.new_h), (312, 416));
        let p = Placement::new(333, 500, 416, 416, true);
        assert_eq!((p.new_w, p.new_h), (277, 416));
        let img = RgbImage::from_fn(4, 2, |x, _| image::Rgb([x as u8 * 60, 255, 0]));
        let lb = letterbox(&img, 8, 8, true);
        assert_eq!(lb.placement.new_h, 4);
        // Rows 0-1 and 6-7 are the grey canvas; row 2 starts with the first pixel.
        assert_eq!(lb.data[0], 0.5);
        assert_eq!(lb.data[2 * 8], 0.0);
        assert_eq!(lb.data[2 * 8 + 7], (180.0f64 / 255.0) as f32);
        assert!((lb.data[64 + 2 * 8 + 3] - 1.0).abs() < 1e-6);
        // Corner-aligned: column 1 of 8 samples x = 3/7 between pixels 0 and 1.
        let want = (1.0 - 3.0f32 / 7.0) * 0.0 + (3.0f32 / 7.0) * (60.0f64 / 255.0) as f32;
        assert!((lb.data[2 * 8 + 1] - want).abs() < 1e-7);
    }

    #[test]
    fn boxes_return_to_original_pixels() {
        let p = Placement::new(640, 480, 416, 416, true);
        // The centre of the network input is the centre of the image.
        let [x, y, w, h] = correct(&p, [0.5, 0.5, 0.25, 0.25]);
        assert!((x - 320.0).abs() < 1e-3 && (y - 240.0).abs() < 1e-3);
        assert!((w - 160.0).abs() < 1e-3 && (h - 0.25 * 416.0 / 312.0 * 480.0).abs() < 1e-2);
    }

    fn raw(bbox: [f32; 4], prob: Vec<f32>) -> RawDetection {
        RawDetection {
            bbox,
            objectness: 1.0,
            prob,
        }
    }

    #[test]
    fn nms_is_per_class_and_keeps_the_best() {
        let mut d = vec![
            raw([10.0, 10.0, 10.0, 10.0], vec![0.6, 0.0]),
            raw([11.0, 10.0, 10.0, 10.0], vec![0.9, 0.3]),
            raw([40.0, 40.0, 10.0, 10.0], vec![0.5, 0.0]),
            raw([10.0, 11.0, 10.0, 10.0], vec![0.0, 0.8]),
        ];
        do_nms_sort(&mut d, 2, 0.45);
        assert_eq!(d[0].prob, vec![0.0, 0.0]);
        assert_eq!(d[1].prob, vec![0.9, 0.0]);
        assert_eq!(d[2].prob, vec![0.5, 0.0]);
        assert_eq!(d[3].prob, vec![0.0, 0.8]);
        let p = Placement::new(100, 100, 100, 100, true);
        let names = vec!["a".to_string(), "b".to_string()];
        let r = to_detections(&d, &names, &p, 0.005, None);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].score, f64::from(0.9f32));
        assert_eq!(r[1].class.as_deref(), Some("b"));
        assert_eq!(to_detections(&d, &names, &p, 0.005, Some(1)).len(), 1);
    }

    #[test]
    fn decode_reads_anchors_cells_and_probabilities() {
        let y = Yolo {
            mask: vec![1],
            anchors: vec![[1.0, 1.0], [32.0, 16.0]],
            classes: 2,
            num: 2,
            scale_x_y: 1.0,
            ignore_thresh: 0.5,
            truth_thresh: 1.0,
            jitter: 0.0,
            random: false,
        };
        // 2x2 grid, one anchor: channels x, y, w, h, obj, c0, c1.
        let mut data = vec![-20.0f32; 7 * 4];
        let cell = 3; // row 1, col 1
        data[cell] = 0.0; // x: 0.5
        data[4 + cell] = 0.0; // y: 0.5
        data[2 * 4 + cell] = 0.0; // w: anchor
        data[3 * 4 + cell] = 0.0; // h: anchor
        data[4 * 4 + cell] = 20.0; // objectness ~1
        data[6 * 4 + cell] = 20.0; // class 1
        let p = Placement::new(64, 64, 64, 64, true);
        let lv = LevelOutput {
            data: &data,
            h: 2,
            w: 2,
            layer: &y,
        };
        let d = decode(&[lv], &p, 0.25);
        assert_eq!(d.len(), 1);
        let [x, yy, w, h] = d[0].bbox;
        assert!(
            (x - 48.0).abs() < 1e-4 && (yy - 48.0).abs() < 1e-4,
            "{:?}",
            d[0].bbox
        );
        assert!((w - 32.0).abs() < 1e-4 && (h - 16.0).abs() < 1e-4);
        assert_eq!(d[0].prob[0], 0.0);
        assert!(d[0].prob[1] > 0.99);
    }
}
