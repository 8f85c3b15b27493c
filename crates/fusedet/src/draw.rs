//! Drawing detections onto images (overlay PNGs).
//!
//! Hand-written on purpose: `imageproc` draws 1-pixel lines only (thick outlines would still be
//! ours) and brings `nalgebra`, `rand` and `num` with it, a long compile on the 2-core CI for
//! two small functions.

use image::{Rgb, RgbImage};

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
