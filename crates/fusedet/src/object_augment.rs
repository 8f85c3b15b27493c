//! The ASFF reference's training augmentation for object detectors (its
//! `dataset/data_augment.py` and `dataset/mixupdetection.py`, from the SSD paper's recipe):
//! mixup of two images, expand onto a larger mean-coloured canvas, the IoU-constrained random
//! crop, and the random affine warp (rotation, scale, translation, shear). Each works on an
//! RGB image and its boxes in pixels and draws from the [`Rng`] it is given, so a training
//! sample stays a pure function of the run seed and its position.
//!
//! The reference's order, which [`crate::train::objects`] follows: mixup (on the raw images),
//! photometric distortion, expand (probability 0.5), crop, mirror, affine (probability 0.5),
//! resize, drop boxes whose shorter side is not above 6 px; when no box is left, the un-augmented
//! (mixed) image with all its boxes is used instead.

use image::{Rgb, RgbImage};

use crate::rng::Rng;

/// A box being augmented: `[x_min, y_min, x_max, y_max]` in pixels, its class and its
/// objectness weight (1, or the mixup ratio of the image it came from).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugBox {
    /// Corners.
    pub bbox: [f64; 4],
    /// Class index.
    pub class: usize,
    /// Mixup weight.
    pub weight: f64,
}

/// The ImageNet mean as the reference's expand fills it (`mean · 255` assigned into a `uint8`
/// array: truncated).
pub const EXPAND_FILL: [u8; 3] = [123, 116, 103];
/// The same mean as OpenCV's `borderValue` of the affine warp (saturated: rounded).
pub const AFFINE_FILL: [u8; 3] = [124, 116, 104];

/// A draw from Gamma(`shape`, 1) (Marsaglia and Tsang; shapes below 1 through
/// `Gamma(shape + 1) · U^(1/shape)`).
pub fn sample_gamma(rng: &mut Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = rng.f64().max(f64::MIN_POSITIVE);
        return sample_gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = sample_normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = rng.f64();
        if u < 1.0 - 0.0331 * x.powi(4)
            || u.max(f64::MIN_POSITIVE).ln() < 0.5 * x * x + d * (1.0 - v + v.ln())
        {
            return d * v;
        }
    }
}

/// A standard normal draw (Box–Muller).
fn sample_normal(rng: &mut Rng) -> f64 {
    let u1 = (1.0 - rng.f64()).max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A draw from Beta(`a`, `b`) (`np.random.beta`, the reference's mixup ratio with 1.5, 1.5).
pub fn sample_beta(rng: &mut Rng, a: f64, b: f64) -> f64 {
    let x = sample_gamma(rng, a);
    let y = sample_gamma(rng, b);
    if x + y > 0.0 { x / (x + y) } else { 0.5 }
}

/// Mixup (`MixupDetection.__getitem__`): both images on a canvas of the larger height and
/// width, top-left aligned, `a · λ + b · (1 − λ)` truncated to `u8`; the boxes of `a` weigh
/// `λ`, those of `b` `1 − λ`.
pub fn mixup(
    a: &RgbImage,
    boxes_a: &[AugBox],
    b: &RgbImage,
    boxes_b: &[AugBox],
    lambda: f64,
) -> (RgbImage, Vec<AugBox>) {
    let w = a.width().max(b.width());
    let h = a.height().max(b.height());
    let (la, lb) = (lambda as f32, (1.0 - lambda) as f32);
    let mut acc = vec![0f32; (w * h * 3) as usize];
    for (img, f) in [(a, la), (b, lb)] {
        for (x, y, p) in img.enumerate_pixels() {
            let o = ((y * w + x) * 3) as usize;
            for c in 0..3 {
                acc[o + c] += f32::from(p.0[c]) * f;
            }
        }
    }
    let out = RgbImage::from_fn(w, h, |x, y| {
        let o = ((y * w + x) * 3) as usize;
        Rgb(std::array::from_fn(|c| acc[o + c].clamp(0.0, 255.0) as u8))
    });
    let weigh = |bs: &[AugBox], f: f64| {
        bs.iter()
            .map(move |b| AugBox {
                weight: b.weight * f,
                ..*b
            })
            .collect::<Vec<_>>()
    };
    let mut boxes = weigh(boxes_a, lambda);
    boxes.extend(weigh(boxes_b, 1.0 - lambda));
    (out, boxes)
}

/// Expand (`_expand`): with probability `p`, the image is placed at a random position on a
/// canvas `scale ∈ U(1, 4)` times larger (aspect changed by up to `√2` each way) filled with
/// `fill`; the boxes move with it.
pub fn expand(
    img: &RgbImage,
    boxes: &[AugBox],
    fill: [u8; 3],
    p: f64,
    rng: &mut Rng,
) -> (RgbImage, Vec<AugBox>) {
    if rng.f64() > p {
        return (img.clone(), boxes.to_vec());
    }
    let (width, height) = (img.width(), img.height());
    for _ in 0..50 {
        let scale = rng.uniform(1.0, 4.0);
        let min_ratio = (1.0 / scale / scale).max(0.5);
        let max_ratio = (scale * scale).min(2.0);
        let ratio = rng.uniform(min_ratio, max_ratio).sqrt();
        let (ws, hs) = (scale * ratio, scale / ratio);
        if ws < 1.0 || hs < 1.0 {
            continue;
        }
        let w = (ws * f64::from(width)) as u32;
        let h = (hs * f64::from(height)) as u32;
        let left = rng.range(0, i64::from(w - width) + 1) as u32;
        let top = rng.range(0, i64::from(h - height) + 1) as u32;
        return (
            place(img, w, h, left, top, fill),
            shifted(boxes, f64::from(left), f64::from(top)),
        );
    }
    (img.clone(), boxes.to_vec())
}

fn place(img: &RgbImage, w: u32, h: u32, left: u32, top: u32, fill: [u8; 3]) -> RgbImage {
    let mut out = RgbImage::from_pixel(w, h, Rgb(fill));
    image::imageops::replace(&mut out, img, i64::from(left), i64::from(top));
    out
}

fn shifted(boxes: &[AugBox], dx: f64, dy: f64) -> Vec<AugBox> {
    boxes
        .iter()
        .map(|b| {
            let [x0, y0, x1, y1] = b.bbox;
            AugBox {
                bbox: [x0 + dx, y0 + dy, x1 + dx, y1 + dy],
                ..*b
            }
        })
        .collect()
}

/// IoU of each box with a rectangle (the reference's `matrix_iou`, with its `1e-12`).
fn iou_with(b: &[f64; 4], r: &[f64; 4]) -> f64 {
    let (lx, ly) = (b[0].max(r[0]), b[1].max(r[1]));
    let (rx, ry) = (b[2].min(r[2]), b[3].min(r[3]));
    let inter = if lx < rx && ly < ry {
        (rx - lx) * (ry - ly)
    } else {
        0.0
    };
    let area_b = (b[2] - b[0]) * (b[3] - b[1]);
    let area_r = (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area_b + area_r - inter + 1e-12)
}

/// The IoU-constrained random crop (`_crop`): a mode is drawn from {keep the image, min IoU
/// 0.1, 0.3, 0.5, 0.7, 0.9, any}; for a constraint, up to 50 rectangles of `U(0.3, 1)` times
/// the image (aspect up to 2:1) are tried until every box's IoU with it is at least the
/// minimum and some box centre lies strictly inside it; the boxes whose centres lie inside are
/// kept, clipped to it. (The reference loops over modes until one succeeds; after 100 modes
/// this returns the image unchanged.)
pub fn iou_crop(img: &RgbImage, boxes: &[AugBox], rng: &mut Rng) -> (RgbImage, Vec<AugBox>) {
    if boxes.is_empty() {
        return (img.clone(), Vec::new());
    }
    const MODES: [Option<f64>; 7] = [
        None,
        Some(0.1),
        Some(0.3),
        Some(0.5),
        Some(0.7),
        Some(0.9),
        Some(f64::NEG_INFINITY),
    ];
    let (width, height) = (i64::from(img.width()), i64::from(img.height()));
    for _ in 0..100 {
        let Some(min_iou) = MODES[rng.index(MODES.len())] else {
            return (img.clone(), boxes.to_vec());
        };
        for _ in 0..50 {
            let scale = rng.uniform(0.3, 1.0);
            let min_ratio = (scale * scale).max(0.5);
            let max_ratio = (1.0 / scale / scale).min(2.0);
            let ratio = rng.uniform(min_ratio, max_ratio).sqrt();
            let w = (scale * ratio * width as f64) as i64;
            let h = (scale / ratio * height as f64) as i64;
            let l = rng.range(0, width - w);
            let t = rng.range(0, height - h);
            let roi = [l as f64, t as f64, (l + w) as f64, (t + h) as f64];
            if boxes.iter().any(|b| iou_with(&b.bbox, &roi) < min_iou) {
                continue;
            }
            let kept: Vec<AugBox> = boxes
                .iter()
                .filter(|b| {
                    let cx = (b.bbox[0] + b.bbox[2]) / 2.0;
                    let cy = (b.bbox[1] + b.bbox[3]) / 2.0;
                    roi[0] < cx && cx < roi[2] && roi[1] < cy && cy < roi[3]
                })
                .map(|b| AugBox {
                    bbox: [
                        b.bbox[0].max(roi[0]) - roi[0],
                        b.bbox[1].max(roi[1]) - roi[1],
                        b.bbox[2].min(roi[2]) - roi[0],
                        b.bbox[3].min(roi[3]) - roi[1],
                    ],
                    ..*b
                })
                .collect();
            if kept.is_empty() || w == 0 || h == 0 {
                continue;
            }
            let crop =
                image::imageops::crop_imm(img, l as u32, t as u32, w as u32, h as u32).to_image();
            return (crop, kept);
        }
    }
    (img.clone(), boxes.to_vec())
}

/// Horizontal mirror of the image and its boxes (`_mirror` once it has decided to flip).
pub fn mirror(img: &mut RgbImage, boxes: &mut [AugBox]) {
    image::imageops::flip_horizontal_in_place(img);
    let w = f64::from(img.width());
    for b in boxes {
        let [x0, y0, x1, y1] = b.bbox;
        b.bbox = [w - x1, y0, w - x0, y1];
    }
}

/// The affine warp's parameters (`_random_affine`'s draws).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineParams {
    /// Rotation in degrees (reference: U(−10, 10)).
    pub angle: f64,
    /// Scale (U(0.9, 1.1)).
    pub scale: f64,
    /// Translation in pixels (each U(−0.1, 0.1) times the image's *height* for x and width
    /// for y, as the reference indexes `shape`).
    pub translate: [f64; 2],
    /// Shear angles in degrees, x then y (each U(−2, 2)).
    pub shear: [f64; 2],
}

impl AffineParams {
    /// The reference's draws, in its order.
    pub fn draw(rng: &mut Rng, width: u32, height: u32) -> Self {
        let angle = rng.f64() * 20.0 - 10.0;
        let scale = rng.f64() * 0.2 + 0.9;
        let tx = (rng.f64() * 2.0 - 1.0) * 0.1 * f64::from(height);
        let ty = (rng.f64() * 2.0 - 1.0) * 0.1 * f64::from(width);
        let shx = rng.f64() * 4.0 - 2.0;
        let shy = rng.f64() * 4.0 - 2.0;
        Self {
            angle,
            scale,
            translate: [tx, ty],
            shear: [shx, shy],
        }
    }

    /// `M = S · T · R` as its top two rows (the third is `[0, 0, 1]`), `R` being
    /// `cv2.getRotationMatrix2D` about the image centre.
    pub fn matrix(&self, width: u32, height: u32) -> [[f64; 3]; 2] {
        let (cx, cy) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
        let (sin, cos) = self.angle.to_radians().sin_cos();
        let (al, be) = (self.scale * cos, self.scale * sin);
        let r = [
            [al, be, (1.0 - al) * cx - be * cy],
            [-be, al, be * cx + (1.0 - al) * cy],
            [0.0, 0.0, 1.0],
        ];
        let t = [
            [1.0, 0.0, self.translate[0]],
            [0.0, 1.0, self.translate[1]],
            [0.0, 0.0, 1.0],
        ];
        let s = [
            [1.0, self.shear[0].to_radians().tan(), 0.0],
            [self.shear[1].to_radians().tan(), 1.0, 0.0],
            [0.0, 0.0, 1.0],
        ];
        let m = mat_mul(&mat_mul(&s, &t), &r);
        [m[0], m[1]]
    }
}

fn mat_mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

/// The random affine warp (`_random_affine`) with given parameters: the image is warped
/// (bilinear, `fill` outside, same size), each box's corners are mapped, their extent is shrunk
/// about its centre by `√max(|sin a|, |cos a|)` and clipped to the image.
pub fn affine(
    img: &RgbImage,
    boxes: &[AugBox],
    params: &AffineParams,
    fill: [u8; 3],
) -> (RgbImage, Vec<AugBox>) {
    let (width, height) = (img.width(), img.height());
    let m = params.matrix(width, height);
    // Inverse of the 2 × 2 part, for sampling the source of each output pixel.
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let inv = [
        [m[1][1] / det, -m[0][1] / det],
        [-m[1][0] / det, m[0][0] / det],
    ];
    let out = RgbImage::from_fn(width, height, |x, y| {
        let (dx, dy) = (f64::from(x) - m[0][2], f64::from(y) - m[1][2]);
        let sx = inv[0][0] * dx + inv[0][1] * dy;
        let sy = inv[1][0] * dx + inv[1][1] * dy;
        crate::augment::sample_bilinear_fill(img, sx, sy, fill)
    });
    let (sin, cos) = params.angle.to_radians().sin_cos();
    let reduction = sin.abs().max(cos.abs()).sqrt();
    let (wf, hf) = (f64::from(width), f64::from(height));
    let warped = boxes
        .iter()
        .map(|b| {
            let [x0, y0, x1, y1] = b.bbox;
            let corners = [(x0, y0), (x1, y1), (x0, y1), (x1, y0)];
            let mut e = [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ];
            for (x, y) in corners {
                let (u, v) = (
                    m[0][0] * x + m[0][1] * y + m[0][2],
                    m[1][0] * x + m[1][1] * y + m[1][2],
                );
                e = [e[0].min(u), e[1].min(v), e[2].max(u), e[3].max(v)];
            }
            let (cx, cy) = ((e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0);
            let (w, h) = ((e[2] - e[0]) * reduction, (e[3] - e[1]) * reduction);
            AugBox {
                bbox: [
                    (cx - w / 2.0).clamp(0.0, wf),
                    (cy - h / 2.0).clamp(0.0, hf),
                    (cx + w / 2.0).clamp(0.0, wf),
                    (cy + h / 2.0).clamp(0.0, hf),
                ],
                ..*b
            }
        })
        .collect();
    (out, warped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(bbox: [f64; 4]) -> AugBox {
        AugBox {
            bbox,
            class: 1,
            weight: 1.0,
        }
    }

    /// A grey image with a white rectangle `[x0, y0, x1, y1)`.
    fn with_rect(w: u32, h: u32, r: [u32; 4]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            if x >= r[0] && x < r[2] && y >= r[1] && y < r[3] {
                Rgb([255, 255, 255])
            } else {
                Rgb([40, 40, 40])
            }
        })
    }

    /// The extent of the pixels brighter than 128.
    fn bright_extent(img: &RgbImage) -> [f64; 4] {
        let mut e = [f64::INFINITY, f64::INFINITY, 0.0f64, 0.0f64];
        for (x, y, p) in img.enumerate_pixels() {
            if p.0[0] > 128 {
                let (x, y) = (f64::from(x), f64::from(y));
                e = [
                    e[0].min(x),
                    e[1].min(y),
                    e[2].max(x + 1.0),
                    e[3].max(y + 1.0),
                ];
            }
        }
        e
    }

    #[test]
    fn beta_draws_have_the_distributions_mean_and_variance() {
        let mut rng = Rng::new(7);
        for (a, b) in [(1.5, 1.5), (0.5, 2.0), (3.0, 1.0)] {
            let n = 40_000;
            let xs: Vec<f64> = (0..n).map(|_| sample_beta(&mut rng, a, b)).collect();
            assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let (em, ev) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
            assert!(
                (mean - em).abs() < 0.01,
                "Beta({a},{b}) mean {mean} vs {em}"
            );
            assert!(
                (var - ev).abs() < 0.1 * ev,
                "Beta({a},{b}) var {var} vs {ev}"
            );
        }
    }

    #[test]
    fn mixup_blends_on_the_larger_canvas_and_weighs_the_boxes() {
        let a = RgbImage::from_pixel(4, 3, Rgb([200, 100, 0]));
        let b = RgbImage::from_pixel(2, 5, Rgb([100, 50, 255]));
        let (m, boxes) = mixup(
            &a,
            &[bx([0.0, 0.0, 2.0, 2.0])],
            &b,
            &[bx([1.0, 1.0, 2.0, 4.0])],
            0.7,
        );
        assert_eq!(m.dimensions(), (4, 5));
        // Both: 200·0.7 + 100·0.3 = 170, 100·0.7 + 50·0.3 = 85, 0 + 255·0.3 = 76.5 → 76.
        assert_eq!(m.get_pixel(1, 1).0, [170, 85, 76]);
        // Only a: 140, 70, 0; only b: 30, 15, 76; neither: 0.
        assert_eq!(m.get_pixel(3, 0).0, [140, 70, 0]);
        assert_eq!(m.get_pixel(0, 4).0, [30, 15, 76]);
        assert_eq!(m.get_pixel(3, 4).0, [0, 0, 0]);
        let w: Vec<f64> = boxes.iter().map(|b| b.weight).collect();
        assert!((w[0] - 0.7).abs() < 1e-12 && (w[1] - 0.3).abs() < 1e-12);
    }

    #[test]
    fn expand_places_the_image_on_a_filled_canvas_and_moves_the_boxes() {
        let img = with_rect(20, 10, [5, 2, 9, 6]);
        let boxes = [bx([5.0, 2.0, 9.0, 6.0])];
        for seed in 0..20 {
            let (out, b) = expand(&img, &boxes, EXPAND_FILL, 1.0, &mut Rng::new(seed));
            let (w, h) = out.dimensions();
            assert!(w >= 20 && h >= 10 && w <= 80 * 2 && h <= 40 * 2, "{w}x{h}");
            assert_eq!(bright_extent(&out), b[0].bbox, "seed {seed}");
            let fills = out.pixels().filter(|p| p.0 == EXPAND_FILL).count() as u32;
            assert_eq!(fills, w * h - 200, "seed {seed}");
        }
        let (same, b) = expand(&img, &boxes, EXPAND_FILL, 0.0, &mut Rng::new(1));
        assert_eq!((same, b[0]), (img, boxes[0]));
    }

    #[test]
    fn iou_crop_keeps_the_boxes_whose_centres_are_inside_and_clips_them() {
        let img = with_rect(64, 48, [10, 10, 30, 20]);
        let mut boxes = [bx([10.0, 10.0, 30.0, 20.0]), bx([50.0, 30.0, 60.0, 40.0])];
        boxes[0].class = 0;
        let mut cropped = 0;
        for seed in 0..60 {
            let (out, kept) = iou_crop(&img, &boxes, &mut Rng::new(seed));
            assert!(!kept.is_empty());
            if out.dimensions() == img.dimensions() && kept == boxes {
                continue;
            }
            cropped += 1;
            let (w, h) = out.dimensions();
            for b in &kept {
                assert!(b.bbox[0] >= 0.0 && b.bbox[1] >= 0.0);
                assert!(b.bbox[2] <= f64::from(w) && b.bbox[3] <= f64::from(h));
            }
            // The white rectangle, when kept, is exactly its clipped box (crops are
            // pixel-aligned).
            if let Some(b) = kept.iter().find(|b| b.class == 0) {
                assert_eq!(bright_extent(&out), b.bbox, "seed {seed}");
            }
        }
        assert!(cropped > 20, "{cropped} crops of 60");
        assert_eq!(iou_crop(&img, &[], &mut Rng::new(0)).1, vec![]);
    }

    #[test]
    fn mirror_flips_image_and_boxes() {
        let mut img = with_rect(20, 10, [2, 1, 5, 4]);
        let mut boxes = [bx([2.0, 1.0, 5.0, 4.0])];
        mirror(&mut img, &mut boxes);
        assert_eq!(boxes[0].bbox, [15.0, 1.0, 18.0, 4.0]);
        assert_eq!(bright_extent(&img), boxes[0].bbox);
    }

    #[test]
    fn affine_without_motion_is_the_identity_and_translation_moves_everything() {
        let img = with_rect(32, 24, [8, 6, 16, 12]);
        let boxes = [bx([8.0, 6.0, 16.0, 12.0])];
        let still = AffineParams {
            angle: 0.0,
            scale: 1.0,
            translate: [0.0, 0.0],
            shear: [0.0, 0.0],
        };
        let (out, b) = affine(&img, &boxes, &still, AFFINE_FILL);
        assert_eq!((out, b[0].bbox), (img.clone(), boxes[0].bbox));
        let shift = AffineParams {
            translate: [3.0, -2.0],
            ..still
        };
        let (out, b) = affine(&img, &boxes, &shift, AFFINE_FILL);
        assert_eq!(b[0].bbox, [11.0, 4.0, 19.0, 10.0]);
        assert_eq!(bright_extent(&out), b[0].bbox);
        // The three columns that came from outside are the fill; the bottom two rows too.
        assert_eq!(out.get_pixel(1, 5).0, AFFINE_FILL);
        assert_eq!(out.get_pixel(20, 23).0, AFFINE_FILL);
    }

    #[test]
    fn affine_boxes_follow_a_scaled_rotated_rectangle() {
        let img = with_rect(96, 96, [36, 40, 60, 56]);
        let boxes = [bx([36.0, 40.0, 60.0, 56.0])];
        let mut rng = Rng::new(3);
        for _ in 0..10 {
            let p = AffineParams::draw(&mut rng, 96, 96);
            assert!(p.angle.abs() <= 10.0 && (0.9..=1.1).contains(&p.scale));
            let (out, b) = affine(&img, &boxes, &p, AFFINE_FILL);
            let e = bright_extent(&out);
            let b = b[0].bbox;
            // The box is the rotated extent shrunk by sqrt(max(|sin|, |cos|)) <= 1.2 %
            // at 10 degrees: within 2 px of the warped pixels' extent.
            for k in 0..4 {
                assert!((e[k] - b[k]).abs() <= 2.0, "{p:?}: {e:?} vs {b:?}");
            }
        }
    }
}
