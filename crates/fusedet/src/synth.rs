//! A synthetic scene-text generator: words rendered with the DejaVu fonts shipped in
//! `crates/fusedet/assets/fonts/` onto textured backgrounds, straight (rotated) or bent along an arc, with
//! polygon labels computed from the same mapping that places the ink — so the labels are exact
//! (a rotated rectangle, or 8 + 8 points along the arc, around the word's ink extent).
//!
//! Every image is a pure function of `(seed, index)`, so a dataset can be generated on the fly
//! by training (no files) or written once with `fusedet synth`.

use ab_glyph::{Font, FontArc, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::data::TextInstance;
use crate::rng::Rng;

const FONTS: [&[u8]; 2] = [
    include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf"),
    include_bytes!("../assets/fonts/DejaVuSerif.ttf"),
];

const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// What the generator draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Fewest words per image (fewer when they do not fit).
    pub min_words: usize,
    /// Most words per image.
    pub max_words: usize,
    /// Smallest font size in pixels (em height).
    pub min_font_px: f64,
    /// Largest font size in pixels.
    pub max_font_px: f64,
    /// Straight words are rotated by up to this many degrees either way.
    pub max_angle_deg: f64,
    /// Fraction of words bent along an arc.
    pub curved: f64,
    /// Non-text clutter shapes per image, at most.
    pub clutter: usize,
    /// Seed of the whole dataset.
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            width: 256,
            height: 256,
            min_words: 2,
            max_words: 6,
            min_font_px: 18.0,
            max_font_px: 44.0,
            max_angle_deg: 30.0,
            curved: 0.25,
            clutter: 4,
            seed: 0,
        }
    }
}

/// A word rendered horizontally: coverage in `[0, 1]` and the ink's bounding box.
struct WordBitmap {
    w: usize,
    h: usize,
    alpha: Vec<f32>,
    /// `[x0, y0, x1, y1]`, pixel edges.
    ink: [f64; 4],
}

fn render_word(font: &FontArc, text: &str, px: f32) -> Option<WordBitmap> {
    let scale = PxScale::from(px);
    let sf = font.as_scaled(scale);
    let pad = 2.0f32;
    let mut caret = pad;
    let baseline = pad + sf.ascent();
    let mut glyphs = Vec::new();
    let mut prev = None;
    for c in text.chars() {
        let id = sf.glyph_id(c);
        if let Some(p) = prev {
            caret += sf.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(caret, baseline)));
        caret += sf.h_advance(id);
        prev = Some(id);
    }
    let w = (caret + pad).ceil() as usize;
    let h = (sf.ascent() - sf.descent() + 2.0 * pad).ceil() as usize;
    let mut alpha = vec![0f32; w * h];
    for g in glyphs {
        if let Some(og) = font.outline_glyph(g) {
            let b = og.px_bounds();
            og.draw(|gx, gy, c| {
                let x = b.min.x as i64 + gx as i64;
                let y = b.min.y as i64 + gy as i64;
                if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                    let a = &mut alpha[y as usize * w + x as usize];
                    *a = a.max(c.min(1.0));
                }
            });
        }
    }
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            if alpha[y * w + x] > 0.1 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    (x0 < x1).then_some(WordBitmap {
        w,
        h,
        alpha,
        ink: [x0 as f64, y0 as f64, x1 as f64, y1 as f64],
    })
}

/// Where a word's local frame (`u` along the text, `v` down) lands in the image.
#[derive(Clone, Copy, Debug)]
struct Placement {
    /// Image position of the local centre.
    centre: [f64; 2],
    /// Local centre `(w/2, h/2)`.
    local_centre: [f64; 2],
    /// Rotation, radians.
    angle: f64,
    /// `None` for straight text; `Some((radius, sign))` for an arc (`sign` +1: centre below,
    /// the word bulges up; -1: centre above).
    arc: Option<(f64, f64)>,
}

impl Placement {
    fn forward(&self, u: f64, v: f64) -> [f64; 2] {
        let (du, dv) = (u - self.local_centre[0], v - self.local_centre[1]);
        let (x, y) = match self.arc {
            None => (du, dv),
            Some((r, sign)) => {
                let phi = du / r;
                let rad = r - sign * dv;
                // Circle centre at (0, sign * r) relative to the word centre.
                (rad * phi.sin(), sign * r - sign * rad * phi.cos())
            }
        };
        let (s, c) = self.angle.sin_cos();
        [
            self.centre[0] + c * x - s * y,
            self.centre[1] + s * x + c * y,
        ]
    }

    fn inverse(&self, px: f64, py: f64) -> [f64; 2] {
        let (s, c) = self.angle.sin_cos();
        let (qx, qy) = (px - self.centre[0], py - self.centre[1]);
        let (x, y) = (c * qx + s * qy, -s * qx + c * qy);
        let (du, dv) = match self.arc {
            None => (x, y),
            Some((r, sign)) => {
                let (dx, dy) = (x, y - sign * r);
                let rad = (dx * dx + dy * dy).sqrt();
                let phi = dx.atan2(-sign * dy);
                (phi * r, (r - rad) * sign)
            }
        };
        [du + self.local_centre[0], dv + self.local_centre[1]]
    }
}

fn bilinear(word: &WordBitmap, u: f64, v: f64) -> f32 {
    let (x, y) = (u - 0.5, v - 0.5);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
    let at = |xi: f64, yi: f64| -> f32 {
        if xi < 0.0 || yi < 0.0 || xi >= word.w as f64 || yi >= word.h as f64 {
            0.0
        } else {
            word.alpha[yi as usize * word.w + xi as usize]
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

fn luminance(c: [f64; 3]) -> f64 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

fn background(cfg: &SynthConfig, rng: &mut Rng) -> RgbImage {
    let (w, h) = (cfg.width, cfg.height);
    let c1: [f64; 3] = std::array::from_fn(|_| rng.uniform(0.0, 255.0));
    let c2: [f64; 3] = std::array::from_fn(|_| rng.uniform(0.0, 255.0));
    let dir = rng.uniform(0.0, std::f64::consts::TAU);
    let (dx, dy) = (dir.cos(), dir.sin());
    let waves: Vec<(f64, f64, f64, f64)> = (0..3)
        .map(|_| {
            let a = rng.uniform(0.0, std::f64::consts::TAU);
            let f = rng.uniform(0.01, 0.12);
            (
                f * a.cos(),
                f * a.sin(),
                rng.uniform(0.0, 6.3),
                rng.uniform(4.0, 22.0),
            )
        })
        .collect();
    let diag = ((w * w + h * h) as f64).sqrt();
    let noise = rng.uniform(2.0, 12.0);
    let mut img = RgbImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f64, y as f64);
            let t = ((xf * dx + yf * dy) / diag + 1.0) / 2.0;
            let tex: f64 = waves
                .iter()
                .map(|&(fx, fy, p, a)| a * (fx * xf + fy * yf + p).sin())
                .sum::<f64>()
                + noise * (rng.f64() - 0.5);
            let px = std::array::from_fn(|c| {
                (c1[c] * (1.0 - t) + c2[c] * t + tex).clamp(0.0, 255.0) as u8
            });
            img.put_pixel(x, y, Rgb(px));
        }
    }
    for _ in 0..rng.range(0, cfg.clutter as i64 + 1) {
        let col = Rgb(std::array::from_fn(|_| rng.range(0, 256) as u8));
        let (cx, cy) = (rng.uniform(0.0, w as f64), rng.uniform(0.0, h as f64));
        if rng.chance(0.5) {
            let r = rng.uniform(3.0, w.min(h) as f64 / 6.0);
            for y in (cy - r).max(0.0) as u32..((cy + r) as u32).min(h) {
                for x in (cx - r).max(0.0) as u32..((cx + r) as u32).min(w) {
                    if (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) <= r * r {
                        img.put_pixel(x, y, col);
                    }
                }
            }
        } else {
            let a = rng.uniform(0.0, std::f64::consts::PI);
            let len = rng.uniform(10.0, w.max(h) as f64 / 2.0);
            let thick = rng.uniform(1.0, 4.0);
            let steps = (len * 2.0) as usize;
            for i in 0..=steps {
                let t = i as f64 / steps as f64 - 0.5;
                let (px, py) = (cx + t * len * a.cos(), cy + t * len * a.sin());
                for oy in 0..thick as i64 {
                    for ox in 0..thick as i64 {
                        let (x, y) = (px as i64 + ox, py as i64 + oy);
                        if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                            img.put_pixel(x as u32, y as u32, col);
                        }
                    }
                }
            }
        }
    }
    img
}

/// The generator: fonts loaded once, images drawn on demand.
pub struct Synth {
    fonts: Vec<FontArc>,
    /// Settings.
    pub config: SynthConfig,
}

impl Synth {
    /// A generator with the shipped fonts.
    pub fn new(config: SynthConfig) -> Self {
        let fonts = FONTS
            .iter()
            .map(|b| FontArc::try_from_slice(b).expect("shipped font parses"))
            .collect();
        Self { fonts, config }
    }

    /// Image `index` of the dataset and its word polygons.
    pub fn sample(&self, index: u64) -> (RgbImage, Vec<TextInstance>) {
        let cfg = &self.config;
        let mut rng = Rng::derive(cfg.seed, &[index]);
        let mut img = background(cfg, &mut rng);
        let (w, h) = (cfg.width as usize, cfg.height as usize);
        let mut taken = vec![false; w * h];
        let want = rng.range(cfg.min_words as i64, cfg.max_words as i64 + 1) as usize;
        let mut out = Vec::new();
        let mut tries = 0;
        while out.len() < want && tries < want * 12 {
            tries += 1;
            let len = rng.range(2, 11) as usize;
            let text: String = (0..len)
                .map(|_| CHARSET[rng.index(CHARSET.len())] as char)
                .collect();
            let font = &self.fonts[rng.index(self.fonts.len())];
            let px = rng.uniform(cfg.min_font_px, cfg.max_font_px) as f32;
            let Some(word) = render_word(font, &text, px) else {
                continue;
            };
            let angle = rng
                .uniform(-cfg.max_angle_deg, cfg.max_angle_deg)
                .to_radians();
            let ink_w = word.ink[2] - word.ink[0];
            let arc = rng.chance(cfg.curved).then(|| {
                let sweep = rng.uniform(0.6, 1.6);
                (ink_w / sweep, if rng.chance(0.5) { 1.0 } else { -1.0 })
            });
            let mut pl = Placement {
                centre: [0.0, 0.0],
                local_centre: [
                    (word.ink[0] + word.ink[2]) / 2.0,
                    (word.ink[1] + word.ink[3]) / 2.0,
                ],
                angle,
                arc,
            };
            pl.centre = [rng.uniform(0.0, w as f64), rng.uniform(0.0, h as f64)];
            let [x0, y0, x1, y1] = word.ink;
            let polygon: Vec<[f64; 2]> = if arc.is_none() {
                vec![
                    pl.forward(x0, y0),
                    pl.forward(x1, y0),
                    pl.forward(x1, y1),
                    pl.forward(x0, y1),
                ]
            } else {
                let n = 8;
                let top =
                    (0..n).map(|i| pl.forward(x0 + (x1 - x0) * i as f64 / (n - 1) as f64, y0));
                let bottom =
                    (0..n).map(|i| pl.forward(x1 - (x1 - x0) * i as f64 / (n - 1) as f64, y1));
                top.chain(bottom).collect()
            };
            // The word's full raster footprint (ink box plus a margin) must fit and be free.
            let margin = 3.0;
            let (bx0, by0, bx1, by1) = polygon.iter().fold(
                (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
                |(a, b, c, d), p| (a.min(p[0]), b.min(p[1]), c.max(p[0]), d.max(p[1])),
            );
            let (bx0, by0) = ((bx0 - margin).floor(), (by0 - margin).floor());
            let (bx1, by1) = ((bx1 + margin).ceil(), (by1 + margin).ceil());
            if bx0 < 0.0 || by0 < 0.0 || bx1 > w as f64 || by1 > h as f64 {
                continue;
            }
            let (bx0, by0, bx1, by1) = (bx0 as usize, by0 as usize, bx1 as usize, by1 as usize);
            if (by0..by1).any(|y| (bx0..bx1).any(|x| taken[y * w + x])) {
                continue;
            }
            // Contrast with the background under the word.
            let mut mean = [0f64; 3];
            for y in by0..by1 {
                for x in bx0..bx1 {
                    let p = img.get_pixel(x as u32, y as u32).0;
                    for c in 0..3 {
                        mean[c] += p[c] as f64;
                    }
                }
            }
            let n = ((by1 - by0) * (bx1 - bx0)) as f64;
            mean.iter_mut().for_each(|m| *m /= n);
            let dark = luminance(mean) > 128.0;
            let color: [f64; 3] = std::array::from_fn(|_| {
                if dark {
                    rng.uniform(0.0, 70.0)
                } else {
                    rng.uniform(185.0, 255.0)
                }
            });
            for y in by0..by1 {
                for x in bx0..bx1 {
                    let [u, v] = pl.inverse(x as f64 + 0.5, y as f64 + 0.5);
                    let a = bilinear(&word, u, v) as f64;
                    if a > 0.0 {
                        let p = img.get_pixel_mut(x as u32, y as u32);
                        for (ch, col) in p.0.iter_mut().zip(color) {
                            *ch = (*ch as f64 * (1.0 - a) + col * a).round() as u8;
                        }
                    }
                    taken[y * w + x] = true;
                }
            }
            out.push(TextInstance::new(polygon, text));
        }
        (img, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusedet_geom::{Point, polygon_area};

    #[test]
    fn mapping_round_trips_for_straight_and_curved_words() {
        for arc in [None, Some((40.0, 1.0)), Some((55.0, -1.0))] {
            let pl = Placement {
                centre: [100.0, 80.0],
                local_centre: [30.0, 10.0],
                angle: 0.3,
                arc,
            };
            for &(u, v) in &[(0.0, 0.0), (30.0, 10.0), (55.5, 3.0), (12.0, 19.0)] {
                let [x, y] = pl.forward(u, v);
                let [u2, v2] = pl.inverse(x, y);
                assert!(
                    (u - u2).abs() < 1e-9 && (v - v2).abs() < 1e-9,
                    "{arc:?} {u},{v}"
                );
            }
            assert_eq!(pl.forward(30.0, 10.0), [100.0, 80.0]);
        }
    }

    #[test]
    fn samples_are_deterministic_and_labels_cover_the_ink() {
        let synth = Synth::new(SynthConfig {
            seed: 3,
            curved: 0.5,
            clutter: 0,
            ..SynthConfig::default()
        });
        let (a, la) = synth.sample(5);
        let (b, lb) = synth.sample(5);
        assert_eq!(a, b);
        assert_eq!(la, lb);
        assert_ne!(synth.sample(6).0, a);
        let mut words = 0;
        let mut curved = 0;
        for i in 0..20 {
            let (img, labels) = synth.sample(i);
            assert_eq!(img.dimensions(), (256, 256));
            for l in &labels {
                words += 1;
                curved += usize::from(l.points.len() == 16);
                assert!(!l.ignore && l.text.len() >= 2);
                let pts: Vec<Point> = l.points.iter().map(|p| Point::new(p[0], p[1])).collect();
                assert!(polygon_area(&pts).abs() > 30.0, "{l:?}");
                assert!(
                    l.points
                        .iter()
                        .all(|p| p[0] >= 0.0 && p[1] >= 0.0 && p[0] <= 256.0 && p[1] <= 256.0)
                );
            }
        }
        assert!(words >= 40, "{words} words in 20 images");
        assert!(curved > 0 && curved < words);
    }

    #[test]
    fn ink_is_drawn_inside_the_label_and_nowhere_else() {
        // Plain background, no clutter: every changed pixel must lie within a label polygon
        // grown by one pixel, and most label area must differ from the background.
        let synth = Synth::new(SynthConfig {
            seed: 11,
            clutter: 0,
            curved: 0.5,
            ..SynthConfig::default()
        });
        for i in 0..4 {
            let mut rng = Rng::derive(11, &[i]);
            let bg = background(&synth.config, &mut rng);
            let (img, labels) = synth.sample(i);
            let polys: Vec<Vec<Point>> = labels
                .iter()
                .map(|l| l.points.iter().map(|p| Point::new(p[0], p[1])).collect())
                .collect();
            let grown: Vec<Vec<fusedet_geom::IntPoint>> = polys
                .iter()
                .flat_map(|p| fusedet_geom::offset_polygon(p, 3.0))
                .collect();
            let mut inside = vec![0u8; 256 * 256];
            for g in &grown {
                fusedet_geom::fill::fill_polygon(&mut inside, 256, 256, g, 1);
            }
            for (k, (p, q)) in img.pixels().zip(bg.pixels()).enumerate() {
                if p != q {
                    assert_eq!(inside[k], 1, "image {i}: ink outside labels at {}", k);
                }
            }
        }
    }
}
