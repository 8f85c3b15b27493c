//! Drawing detections onto images (overlay PNGs), and text for charts (training curves, the
//! evaluation's PR curve).
//!
//! Hand-written on purpose: `imageproc` draws 1-pixel lines only (thick outlines would still be
//! ours) and brings `nalgebra`, `rand` and `num` with it, a long compile on the 2-core CI for
//! two small functions.

use std::sync::OnceLock;

use ab_glyph::{Font, FontArc, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

/// The shipped DejaVu Sans Bold (`assets/fonts`), parsed once.
fn font() -> &'static FontArc {
    static FONT: OnceLock<FontArc> = OnceLock::new();
    FONT.get_or_init(|| {
        FontArc::try_from_slice(include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf"))
            .expect("shipped font parses")
    })
}

/// Draws `s` with its top-left corner at `(x, y)`, `px` pixels high, in the shipped DejaVu
/// Sans Bold, anti-aliased onto the image.
pub fn draw_text(img: &mut RgbImage, s: &str, x: f32, y: f32, px: f32, color: [u8; 3]) {
    let f = font();
    let scale = PxScale::from(px);
    let sf = f.as_scaled(scale);
    let mut caret = x;
    for c in s.chars() {
        let id = sf.glyph_id(c);
        let g = id.with_scale_and_position(scale, point(caret, y + sf.ascent()));
        caret += sf.h_advance(id);
        if let Some(og) = f.outline_glyph(g) {
            let b = og.px_bounds();
            og.draw(|gx, gy, cov| {
                let (px, py) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    let p = img.get_pixel_mut(px as u32, py as u32);
                    for (ch, col) in p.0.iter_mut().zip(color) {
                        *ch = (*ch as f32 * (1.0 - cov) + col as f32 * cov) as u8;
                    }
                }
            });
        }
    }
}

/// The width in pixels of `s` as [`draw_text`] draws it.
pub fn text_width(s: &str, px: f32) -> f32 {
    let sf = font().as_scaled(PxScale::from(px));
    s.chars().map(|c| sf.h_advance(sf.glyph_id(c))).sum()
}

/// A distinct, saturated colour per class index (golden-ratio hue steps).
pub fn class_color(i: usize) -> Rgb<u8> {
    let h = (i as f64 * 0.618_033_988_75).fract() * 6.0;
    let x = (1.0 - (h % 2.0 - 1.0).abs()) * 230.0;
    let (r, g, b) = match h as u32 {
        0 => (230.0, x, 0.0),
        1 => (x, 230.0, 0.0),
        2 => (0.0, 230.0, x),
        3 => (0.0, x, 230.0),
        4 => (x, 0.0, 230.0),
        _ => (230.0, 0.0, x),
    };
    Rgb([r as u8, g as u8, b as u8])
}

/// Draws a box `[x1, y1, x2, y2]` with a filled label (`text` in white) above its top-left
/// corner, or inside the box when there is no room above.
pub fn draw_labeled_box(
    img: &mut RgbImage,
    b: [f64; 4],
    text: &str,
    color: Rgb<u8>,
    thickness: u32,
) {
    let [x1, y1, x2, y2] = b;
    draw_polygon(
        img,
        &[[x1, y1], [x2, y1], [x2, y2], [x1, y2]],
        color,
        thickness,
    );
    let px = (img.height().min(img.width()) as f32 / 40.0).clamp(12.0, 28.0);
    let tw = text_width(text, px);
    let th = px.ceil() as i64 + 2;
    let lx = x1.max(0.0) as i64;
    let ly = if y1 as i64 - th >= 0 {
        y1 as i64 - th
    } else {
        y1.max(0.0) as i64
    };
    for yy in ly.max(0)..(ly + th).min(img.height() as i64) {
        for xx in lx.max(0)..(lx + tw.ceil() as i64 + 4).min(img.width() as i64) {
            img.put_pixel(xx as u32, yy as u32, color);
        }
    }
    draw_text(
        img,
        text,
        lx as f32 + 2.0,
        ly as f32 + 1.0,
        px,
        [255, 255, 255],
    );
}

fn put_disc(img: &mut RgbImage, x: i64, y: i64, r: i64, color: Rgb<u8>) {
    for dy in -r..=r {
        for dx in -r..=r {
            let (px, py) = (x + dx, y + dy);
            if dx * dx + dy * dy <= r * r
                && px >= 0
                && py >= 0
                && (px as u32) < img.width()
                && (py as u32) < img.height()
            {
                img.put_pixel(px as u32, py as u32, color);
            }
        }
    }
}

/// Draws a closed polygon outline of the given thickness.
pub fn draw_polygon(img: &mut RgbImage, points: &[[f64; 2]], color: Rgb<u8>, thickness: u32) {
    let n = points.len();
    let r = (thickness as i64 / 2).max(0);
    for i in 0..n {
        let (a, b) = (points[i], points[(i + 1) % n]);
        let steps = ((b[0] - a[0]).abs().max((b[1] - a[1]).abs()).ceil() as i64).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let x = (a[0] + (b[0] - a[0]) * t).round() as i64;
            let y = (a[1] + (b[1] - a[1]) * t).round() as i64;
            put_disc(img, x, y, r, color);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_filled_and_lettered_inside_the_image() {
        let mut img = RgbImage::new(200, 100);
        let c = class_color(3);
        draw_labeled_box(&mut img, [20.0, 40.0, 120.0, 90.0], "dog 0.91", c, 2);
        // The box outline, and the label band above it: its colour plus white letters.
        assert_eq!(*img.get_pixel(20, 60), c);
        let band: Vec<Rgb<u8>> = (21..60).map(|x| *img.get_pixel(x, 32)).collect();
        assert!(band.contains(&c));
        assert!(
            band.iter().any(|p| p.0.iter().all(|&v| v > 200)),
            "{band:?}"
        );
        // A box at the top edge puts its label inside, without panicking at the borders.
        draw_labeled_box(&mut img, [150.0, 0.0, 260.0, 30.0], "person 0.5", c, 3);
        assert_ne!(class_color(0), class_color(1));
    }

    #[test]
    fn text_is_drawn_where_asked_and_measured() {
        let mut img = RgbImage::from_pixel(120, 30, Rgb([255, 255, 255]));
        draw_text(&mut img, "AP 0.5", 10.0, 5.0, 16.0, [0, 0, 0]);
        let dark: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] < 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(dark.len() > 30);
        let w = text_width("AP 0.5", 16.0);
        assert!(w > 30.0 && w < 80.0, "{w}");
        assert!(
            dark.iter()
                .all(|&(x, y)| x >= 10 && (x as f32) <= 10.0 + w + 1.0 && (3..=25).contains(&y))
        );
    }

    #[test]
    fn outline_is_drawn_and_interior_untouched() {
        let mut img = RgbImage::new(20, 20);
        draw_polygon(
            &mut img,
            &[[2.0, 2.0], [17.0, 2.0], [17.0, 17.0], [2.0, 17.0]],
            Rgb([0, 255, 0]),
            1,
        );
        assert_eq!(img.get_pixel(2, 10).0, [0, 255, 0]);
        assert_eq!(img.get_pixel(10, 10).0, [0, 0, 0]);
        // Out-of-bounds vertices do not panic.
        draw_polygon(
            &mut img,
            &[[-5.0, -5.0], [40.0, 3.0], [3.0, 40.0]],
            Rgb([255, 0, 0]),
            3,
        );
    }
}

/// ASFF's fusion weights drawn over the image: one panel per fused level (stride 32, 16, 8,
/// left to right), each pixel half the image and half the colour of the weights at its grid
/// cell (red: the weight of level 0, stride 32; green: level 1, stride 16; blue: level 2,
/// stride 8), the grid stretched over the whole image (the YOLOv3 / ASFF models' input is the
/// stretched image).
pub fn fusion_panels(img: &RgbImage, maps: &[crate::object::FusionMap]) -> RgbImage {
    let (w, h) = img.dimensions();
    let gap = 8;
    let band = 28;
    let mut out = RgbImage::from_pixel(
        (w + gap) * maps.len() as u32 - gap.min(w),
        h + band,
        Rgb([255, 255, 255]),
    );
    for (l, m) in maps.iter().enumerate() {
        let x0 = l as u32 * (w + gap);
        for y in 0..h {
            let gy = (y as usize * m.h / h as usize).min(m.h - 1);
            for x in 0..w {
                let gx = (x as usize * m.w / w as usize).min(m.w - 1);
                let cell = gy * m.w + gx;
                let p = img.get_pixel(x, y).0;
                let c = [0, 1, 2].map(|k| {
                    let weight = m.weights.get(k).map_or(0.0, |v| v[cell]).clamp(0.0, 1.0);
                    (0.5 * f32::from(p[k]) + 127.5 * weight).round() as u8
                });
                out.put_pixel(x0 + x, y + band, Rgb(c));
            }
        }
        let label = format!("stride {}", 32 >> l);
        let px = (w as f32 / 8.0).clamp(10.0, 18.0);
        draw_text(&mut out, &label, x0 as f32 + 2.0, 4.0, px, [0, 0, 0]);
    }
    out
}

#[cfg(test)]
mod fusion_tests {
    use super::*;
    use crate::object::FusionMap;

    #[test]
    fn fusion_panels_colour_each_cell_by_its_weights() {
        let img = RgbImage::from_pixel(8, 4, Rgb([0, 0, 0]));
        // A 1 x 2 grid: left cell all level 0, right cell all level 2.
        let map = FusionMap {
            weights: vec![vec![1.0, 0.0], vec![0.0, 0.0], vec![0.0, 1.0]],
            h: 1,
            w: 2,
        };
        let out = fusion_panels(&img, &[map.clone(), map]);
        assert_eq!(out.dimensions(), (8 + 8 + 8, 4 + 28));
        assert_eq!(out.get_pixel(1, 30).0, [128, 0, 0]);
        assert_eq!(out.get_pixel(6, 30).0, [0, 0, 128]);
        assert_eq!(out.get_pixel(16 + 6, 30).0, [0, 0, 128]);
    }
}
