//! MindOCR's DBNet training pipeline (SPEC §6.2), in its order: colour jitter, horizontal flip,
//! rotation, random scale, text-avoiding random crop to a square canvas, polygon validation,
//! DB targets, normalisation. Every draw comes from the [`Rng`] passed in, so a sample is a
//! pure function of its seed.
//!
//! One deliberate difference: the image is normalised as [`crate::preprocess::prepare`] does
//! for inference (BGR planes, ImageNet mean/std), so that trained models and the imported
//! PP-OCR models share one inference path.

use fusedet_geom::Point;
use fusedet_geom::iou::intersection_area;
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::data::TextInstance;
use crate::preprocess::{PreprocessConfig, resize_bilinear};
use crate::rng::Rng;
use crate::targets::{DbTargetConfig, make_db_targets};

/// Augmentation settings (MindOCR defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Output canvas side (MindOCR: 640).
    pub crop_size: u32,
    /// Brightness factor range is `1 ± brightness`.
    pub brightness: f64,
    /// Saturation factor range is `1 ± saturation`.
    pub saturation: f64,
    /// Probability of a horizontal flip.
    pub flip: f64,
    /// Rotation in whole degrees, drawn from `[-rotate, rotate)`.
    pub rotate: i64,
    /// Random scale range.
    pub scale: [f64; 2],
    /// Crop tries before falling back to the whole image.
    pub crop_tries: usize,
    /// Smallest crop side, as a fraction of the image side.
    pub min_crop_ratio: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            crop_size: 640,
            brightness: 32.0 / 255.0,
            saturation: 0.5,
            flip: 0.5,
            rotate: 10,
            scale: [0.5, 3.0],
            crop_tries: 10,
            min_crop_ratio: 0.1,
        }
    }
}

/// One training sample: the normalised image and its DB targets, all `size × size`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSample {
    /// Normalised BGR planes, `3 * size * size`.
    pub image: Vec<f32>,
    /// Shrunk text map.
    pub gt: Vec<f32>,
    /// Its mask (0 at don't-care regions).
    pub mask: Vec<f32>,
    /// Threshold map.
    pub thresh_map: Vec<f32>,
    /// Threshold mask.
    pub thresh_mask: Vec<f32>,
    /// Canvas side.
    pub size: usize,
}

/// Brightness then saturation (MindSpore `RandomColorAdjust`).
pub fn color_jitter(img: &mut RgbImage, brightness: f64, saturation: f64) {
    for p in img.pixels_mut() {
        let c =
            p.0.map(|v| (v as f64 * brightness).round().clamp(0.0, 255.0));
        let grey = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
        p.0 = c.map(|v| (grey + saturation * (v - grey)).round().clamp(0.0, 255.0) as u8);
    }
}

/// `(r, g, b)` in [0, 255] to OpenCV's 8-bit HSV scale: hue in [0, 180), saturation and value
/// in [0, 255] (unrounded).
pub fn rgb_to_hsv([r, g, b]: [f32; 3]) -> [f32; 3] {
    let v = r.max(g).max(b);
    let diff = v - r.min(g).min(b);
    let s = if v > 0.0 { 255.0 * diff / v } else { 0.0 };
    let h = if diff == 0.0 {
        0.0
    } else if v == r {
        60.0 * (g - b) / diff
    } else if v == g {
        120.0 + 60.0 * (b - r) / diff
    } else {
        240.0 + 60.0 * (r - g) / diff
    };
    [h.rem_euclid(360.0) / 2.0, s, v]
}

/// The inverse of [`rgb_to_hsv`].
pub fn hsv_to_rgb([h, s, v]: [f32; 3]) -> [f32; 3] {
    let h = (h * 2.0).rem_euclid(360.0) / 60.0;
    let c = v * s / 255.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let m = v - c;
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    [r + m, g + m, b + m]
}

/// SSD's photometric distortion (`_distort` in `data/data_augment.py` of the ASFF reference),
/// each step with probability 0.5: brightness `+ U(−32, 32)`, contrast `× U(0.5, 1.5)`, hue
/// `+ U{−18..18}` (mod 180, OpenCV's 8-bit hue), saturation `× U(0.5, 1.5)`; clipped to [0, 255]
/// after each step. In floating point throughout (OpenCV rounds the HSV image to 8 bits).
pub fn photometric_distort(img: &mut RgbImage, rng: &mut Rng) {
    let beta = rng.chance(0.5).then(|| rng.uniform(-32.0, 32.0) as f32);
    let alpha = rng.chance(0.5).then(|| rng.uniform(0.5, 1.5) as f32);
    let hue = rng.chance(0.5).then(|| rng.range(-18, 19) as f32);
    let sat = rng.chance(0.5).then(|| rng.uniform(0.5, 1.5) as f32);
    let clip = |v: f32| v.clamp(0.0, 255.0);
    for p in img.pixels_mut() {
        let mut c = p.0.map(f32::from);
        if let Some(b) = beta {
            c = c.map(|v| clip(v + b));
        }
        if let Some(a) = alpha {
            c = c.map(|v| clip(v * a));
        }
        if hue.is_some() || sat.is_some() {
            let [mut h, mut s, v] = rgb_to_hsv(c);
            if let Some(d) = hue {
                h = (h + d).rem_euclid(180.0);
            }
            if let Some(a) = sat {
                s = clip(s * a);
            }
            c = hsv_to_rgb([h, s, v]);
        }
        p.0 = c.map(|v| clip(v.round()) as u8);
    }
}

/// Horizontal flip: `x' = (W - 1) - x`, vertex order reversed to keep the orientation.
pub fn hflip(img: &mut RgbImage, polys: &mut [TextInstance]) {
    image::imageops::flip_horizontal_in_place(img);
    let w1 = img.width() as f64 - 1.0;
    for t in polys {
        for p in &mut t.points {
            p[0] = w1 - p[0];
        }
        t.points.reverse();
    }
}

/// `cv2.getRotationMatrix2D((W//2, H//2), angle, 1)`: `[a, b, tx; -b, a, ty]`.
fn rotation_matrix(w: u32, h: u32, angle_deg: f64) -> [f64; 6] {
    let (cx, cy) = ((w / 2) as f64, (h / 2) as f64);
    let (b, a) = angle_deg.to_radians().sin_cos();
    [
        a,
        b,
        (1.0 - a) * cx - b * cy,
        -b,
        a,
        b * cx + (1.0 - a) * cy,
    ]
}

/// Rotation about the centre without enlarging the canvas (black fill), bilinear; polygons
/// follow the same affine map.
pub fn rotate(img: &RgbImage, polys: &mut [TextInstance], angle_deg: f64) -> RgbImage {
    let (w, h) = img.dimensions();
    let m = rotation_matrix(w, h, angle_deg);
    for t in polys.iter_mut() {
        for p in &mut t.points {
            let (x, y) = (p[0], p[1]);
            *p = [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
        }
    }
    // Inverse of [a b; -b a] is [a -b; b a].
    let (a, b) = (m[0], m[1]);
    let mut out = RgbImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f64 - m[2], y as f64 - m[5]);
            let (sx, sy) = (a * dx - b * dy, b * dx + a * dy);
            out.put_pixel(x, y, sample_bilinear(img, sx, sy));
        }
    }
    out
}

fn sample_bilinear(img: &RgbImage, x: f64, y: f64) -> Rgb<u8> {
    sample_bilinear_fill(img, x, y, [0; 3])
}

/// Bilinear sample at `(x, y)` with `fill` for the neighbours outside the image (OpenCV's
/// `INTER_LINEAR` with `BORDER_CONSTANT`), rounded to u8.
pub(crate) fn sample_bilinear_fill(img: &RgbImage, x: f64, y: f64, fill: [u8; 3]) -> Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (xi, yi) = (x0 as i64, y0 as i64);
    let at = |xx: i64, yy: i64| -> [f64; 3] {
        if xx < 0 || yy < 0 || xx >= w || yy >= h {
            fill.map(f64::from)
        } else {
            img.get_pixel(xx as u32, yy as u32).0.map(f64::from)
        }
    };
    let (p00, p10, p01, p11) = (
        at(xi, yi),
        at(xi + 1, yi),
        at(xi, yi + 1),
        at(xi + 1, yi + 1),
    );
    Rgb(std::array::from_fn(|c| {
        let top = p00[c] * (1.0 - fx) + p10[c] * fx;
        let bot = p01[c] * (1.0 - fx) + p11[c] * fx;
        (top * (1.0 - fy) + bot * fy).round().clamp(0.0, 255.0) as u8
    }))
}

/// Text-avoiding random crop (MindOCR `RandomCropWithBBox`) → `(x0, y0, x1, y1)`.
fn crop_region(
    w: usize,
    h: usize,
    polys: &[TextInstance],
    cfg: &AugmentConfig,
    rng: &mut Rng,
) -> (usize, usize, usize, usize) {
    let mut rows = vec![false; h];
    let mut cols = vec![false; w];
    let boxes: Vec<[f64; 4]> = polys
        .iter()
        .filter(|t| !t.ignore && !t.points.is_empty())
        .map(|t| {
            t.points
                .iter()
                .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, p| {
                    [
                        b[0].min(p[0]),
                        b[1].min(p[1]),
                        b[2].max(p[0]),
                        b[3].max(p[1]),
                    ]
                })
        })
        .collect();
    for b in &boxes {
        let clamp = |v: f64, n: usize| (v.round().max(0.0) as usize).min(n);
        cols[clamp(b[0], w)..clamp(b[2], w)].fill(true);
        rows[clamp(b[1], h)..clamp(b[3], h)].fill(true);
    }
    let free_rows: Vec<usize> = (0..h).filter(|&i| !rows[i]).collect();
    let free_cols: Vec<usize> = (0..w).filter(|&i| !cols[i]).collect();
    if free_rows.is_empty() || free_cols.is_empty() {
        return (0, 0, w, h);
    }
    let min_w = (cfg.min_crop_ratio * w as f64).ceil() as usize;
    let min_h = (cfg.min_crop_ratio * h as f64).ceil() as usize;
    for _ in 0..cfg.crop_tries {
        let mut xs = [
            free_cols[rng.index(free_cols.len())],
            free_cols[rng.index(free_cols.len())],
        ];
        let mut ys = [
            free_rows[rng.index(free_rows.len())],
            free_rows[rng.index(free_rows.len())],
        ];
        xs.sort_unstable();
        ys.sort_unstable();
        let (x0, x1, y0, y1) = (xs[0], xs[1], ys[0], ys[1]);
        if x1 - x0 < min_w || y1 - y0 < min_h {
            continue;
        }
        let hit = boxes
            .iter()
            .any(|b| b[2] > x0 as f64 && b[0] < x1 as f64 && b[3] > y0 as f64 && b[1] < y1 as f64);
        if hit {
            return (x0, y0, x1, y1);
        }
    }
    (0, 0, w, h)
}

/// The whole pipeline for one image.
pub fn augment(
    img: &RgbImage,
    instances: &[TextInstance],
    cfg: &AugmentConfig,
    targets: &DbTargetConfig,
    norm: &PreprocessConfig,
    rng: &mut Rng,
) -> TrainSample {
    let mut img = img.clone();
    let mut polys = instances.to_vec();
    let b = rng.uniform(1.0 - cfg.brightness, 1.0 + cfg.brightness);
    let s = rng.uniform(1.0 - cfg.saturation, 1.0 + cfg.saturation);
    color_jitter(&mut img, b, s);
    if rng.chance(cfg.flip) {
        hflip(&mut img, &mut polys);
    }
    if cfg.rotate > 0 {
        let angle = rng.range(-cfg.rotate, cfg.rotate) as f64;
        if angle != 0.0 {
            img = rotate(&img, &mut polys, angle);
        }
    }
    let scale = rng.uniform(cfg.scale[0], cfg.scale[1]);
    let (nw, nh) = (
        ((img.width() as f64 * scale).round() as u32).max(1),
        ((img.height() as f64 * scale).round() as u32).max(1),
    );
    img = resize_bilinear(&img, nw, nh);
    for t in &mut polys {
        for p in &mut t.points {
            p[0] *= scale;
            p[1] *= scale;
        }
    }
    let (x0, y0, x1, y1) = crop_region(nw as usize, nh as usize, &polys, cfg, rng);
    let size = cfg.crop_size as usize;
    let (cw, ch) = (x1 - x0, y1 - y0);
    let f = (size as f64 / ch as f64).min(size as f64 / cw as f64);
    let (rw, rh) = (
        ((cw as f64 * f).round() as usize).clamp(1, size),
        ((ch as f64 * f).round() as usize).clamp(1, size),
    );
    let crop =
        image::imageops::crop_imm(&img, x0 as u32, y0 as u32, cw as u32, ch as u32).to_image();
    let resized = resize_bilinear(&crop, rw as u32, rh as u32);
    for t in &mut polys {
        for p in &mut t.points {
            p[0] = (p[0] - x0 as f64) * f;
            p[1] = (p[1] - y0 as f64) * f;
        }
    }
    // ValidatePolygons: drop what left the visible area, ignore slivers.
    let visible = [
        Point::new(0.0, 0.0),
        Point::new(rw as f64, 0.0),
        Point::new(rw as f64, rh as f64),
        Point::new(0.0, rh as f64),
    ];
    let mut kept = Vec::new();
    for mut t in polys {
        let pts: Vec<Point> = t.points.iter().map(|p| Point::new(p[0], p[1])).collect();
        let (bx0, by0, bx1, by1) = t.points.iter().fold(
            (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
            |(a, b, c, d), p| (a.min(p[0]), b.min(p[1]), c.max(p[0]), d.max(p[1])),
        );
        if bx1 < 0.0 || by1 < 0.0 || bx0 > rw as f64 || by0 > rh as f64 {
            continue;
        }
        if intersection_area(&pts, &visible) < 1.0 {
            t.ignore = true;
        }
        kept.push(t);
    }
    let polys: Vec<Vec<[f64; 2]>> = kept.iter().map(|t| t.points.clone()).collect();
    let ignore: Vec<bool> = kept.iter().map(|t| t.ignore).collect();
    let tg = make_db_targets(&polys, &ignore, size, size, targets);
    let mut image = vec![0f32; 3 * size * size];
    let raw = resized.as_raw();
    for y in 0..rh {
        for x in 0..rw {
            let i = (y * rw + x) * 3;
            for (c, src_c) in [2usize, 1, 0].into_iter().enumerate() {
                image[c * size * size + y * size + x] = raw[i + src_c] as f32 / 255.0;
            }
        }
    }
    for c in 0..3 {
        for v in &mut image[c * size * size..(c + 1) * size * size] {
            *v = (*v - norm.mean[c]) / norm.std[c];
        }
    }
    TrainSample {
        image,
        gt: tg.binary_map,
        mask: tg.mask,
        thresh_map: tg.thresh_map,
        thresh_mask: tg.thresh_mask,
        size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trips_and_photometric_distortion_is_seeded() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let c = [0; 3].map(|_: i32| rng.range(0, 256) as f32);
            let hsv = rgb_to_hsv(c);
            assert!((0.0..180.0).contains(&hsv[0]), "{c:?} -> {hsv:?}");
            let back = hsv_to_rgb(hsv);
            for k in 0..3 {
                assert!(
                    (back[k] - c[k]).abs() < 1e-3,
                    "{c:?} -> {hsv:?} -> {back:?}"
                );
            }
        }
        // OpenCV's scale: pure red, green, blue at hue 0, 60, 120.
        assert_eq!(rgb_to_hsv([255.0, 0.0, 0.0]), [0.0, 255.0, 255.0]);
        assert_eq!(rgb_to_hsv([0.0, 255.0, 0.0])[0], 60.0);
        assert_eq!(rgb_to_hsv([0.0, 0.0, 255.0])[0], 120.0);
        let img = RgbImage::from_fn(16, 8, |x, y| Rgb([(x * 15) as u8, (y * 30) as u8, 90]));
        let run = |seed| {
            let mut i = img.clone();
            photometric_distort(&mut i, &mut Rng::new(seed));
            i
        };
        assert_eq!(run(3), run(3));
        assert!((0..8).any(|s| run(s) != img));
    }

    fn word_image() -> (RgbImage, Vec<TextInstance>) {
        let mut img = RgbImage::from_pixel(200, 100, Rgb([30, 30, 30]));
        for y in 40..60 {
            for x in 50..150 {
                img.put_pixel(x, y, Rgb([220, 220, 220]));
            }
        }
        let t = TextInstance::new(
            vec![[50.0, 40.0], [150.0, 40.0], [150.0, 60.0], [50.0, 60.0]],
            "word",
        );
        (img, vec![t])
    }

    #[test]
    fn rotation_moves_pixels_and_polygons_together() {
        let (img, mut polys) = word_image();
        let out = rotate(&img, &mut polys, 9.0);
        // The rotated polygon's centre is still bright, its corners just outside are dark.
        let c = polys[0]
            .points
            .iter()
            .fold([0.0, 0.0], |a, p| [a[0] + p[0] / 4.0, a[1] + p[1] / 4.0]);
        assert_eq!(out.get_pixel(c[0] as u32, c[1] as u32).0, [220, 220, 220]);
        // Positive angles turn counter-clockwise on screen: the right end goes up.
        assert!(polys[0].points[1][1] < 40.0 && polys[0].points[3][1] > 60.0);
        for p in &polys[0].points {
            let inside = [p[0] - (c[0] - p[0]) * 0.1, p[1] - (c[1] - p[1]) * 0.1];
            let v = out.get_pixel(inside[0] as u32, inside[1] as u32).0[0];
            assert!(v < 60, "{p:?} -> {v}");
        }
    }

    #[test]
    fn flip_keeps_orientation() {
        let (mut img, mut polys) = word_image();
        let area = |t: &TextInstance| {
            let pts: Vec<Point> = t.points.iter().map(|p| Point::new(p[0], p[1])).collect();
            fusedet_geom::signed_area(&pts)
        };
        let before = area(&polys[0]);
        hflip(&mut img, &mut polys);
        assert_eq!(polys[0].points[0], [149.0, 60.0]);
        assert_eq!(area(&polys[0]), before);
        assert_eq!(img.get_pixel(149, 50).0, [220, 220, 220]);
        assert_eq!(img.get_pixel(150, 50).0, [30, 30, 30]);
    }

    #[test]
    fn samples_are_deterministic_and_targets_sit_on_the_text() {
        let (img, polys) = word_image();
        let cfg = AugmentConfig {
            crop_size: 128,
            ..AugmentConfig::default()
        };
        let run = |seed| {
            augment(
                &img,
                &polys,
                &cfg,
                &DbTargetConfig::default(),
                &PreprocessConfig::default(),
                &mut Rng::new(seed),
            )
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a.image, run(2).image);
        let mut with_text = 0;
        for seed in 0..20 {
            let s = run(seed);
            assert_eq!(s.image.len(), 3 * 128 * 128);
            // Wherever the shrunk map says text, the image is bright (normalised > 0.5).
            for (i, &g) in s.gt.iter().enumerate() {
                if g > 0.5 {
                    assert!(s.image[i] > 0.5, "seed {seed}: text target on a dark pixel");
                }
            }
            with_text += usize::from(s.gt.iter().any(|&g| g > 0.5));
        }
        assert!(with_text >= 15, "{with_text} of 20 crops hold text");
    }
}
