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
