//! Training curves as a PNG: loss parts against step on the left axis, validation hmean
//! (0..1) on the right.
//!
//! Considered `plotters`: its text needs either `font-kit` (system fonts through fontconfig,
//! absent on minimal machines) or registering a font for its `ab_glyph` backend, and its
//! bitmap backend adds a dependency tree to every build; one line chart with a legend is
//! ~150 lines here, drawn with the same shipped DejaVu font as `fusedet synth`.

use image::{Rgb, RgbImage};

/// One curve.
pub struct Series<'a> {
    /// Legend text.
    pub name: &'a str,
    /// Colour.
    pub color: [u8; 3],
    /// `(step, value)` points.
    pub points: Vec<(f64, f64)>,
    /// Drawn against the right-hand 0..1 axis.
    pub right_axis: bool,
}

fn text(img: &mut RgbImage, s: &str, x: f32, y: f32, px: f32, color: [u8; 3]) {
    crate::draw::draw_text(img, s, x, y, px, color);
}

fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), color: [u8; 3]) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        for (dx, dy) in [(0i64, 0i64), (1, 0), (0, 1)] {
            let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, Rgb(color));
            }
        }
    }
}

/// Renders the curves; the left axis spans 0..max of the left series.
pub fn plot(title: &str, series: &[Series<'_>], width: u32, height: u32) -> RgbImage {
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let (l, r, t, b) = (60.0, width as f64 - 50.0, 40.0, height as f64 - 40.0);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0 < x1 {
        (x0, x1)
    } else {
        (0.0, x0.max(1.0))
    };
    let ymax = series
        .iter()
        .filter(|s| !s.right_axis)
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-6)
        * 1.05;
    let grey = [200, 200, 200];
    for i in 0..=4 {
        let y = b - (b - t) * i as f64 / 4.0;
        line(&mut img, (l, y), (r, y), grey);
        text(
            &mut img,
            &format!("{:.2}", ymax * i as f64 / 4.0),
            4.0,
            y as f32 - 7.0,
            12.0,
            [0, 0, 0],
        );
        text(
            &mut img,
            &format!("{:.2}", i as f64 / 4.0),
            r as f32 + 6.0,
            y as f32 - 7.0,
            12.0,
            [0, 90, 0],
        );
    }
    line(&mut img, (l, t), (l, b), [0, 0, 0]);
    line(&mut img, (l, b), (r, b), [0, 0, 0]);
    for i in 0..=4 {
        let x = l + (r - l) * i as f64 / 4.0;
        let v = x0 + (x1 - x0) * i as f64 / 4.0;
        text(
            &mut img,
            &format!("{v:.0}"),
            x as f32 - 10.0,
            b as f32 + 6.0,
            12.0,
            [0, 0, 0],
        );
    }
    text(&mut img, title, l as f32, 8.0, 16.0, [0, 0, 0]);
    let mut legend_x = l as f32 + 8.0;
    for s in series {
        let ytop = if s.right_axis { 1.0 } else { ymax };
        let map = |p: &(f64, f64)| {
            (
                l + (r - l) * (p.0 - x0) / (x1 - x0),
                b - (b - t) * (p.1 / ytop).clamp(0.0, 1.0),
            )
        };
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(map)
            .collect();
        for w in pts.windows(2) {
            line(&mut img, w[0], w[1], s.color);
        }
        if pts.len() == 1 {
            line(
                &mut img,
                (pts[0].0 - 2.0, pts[0].1),
                (pts[0].0 + 2.0, pts[0].1),
                s.color,
            );
        }
        text(&mut img, s.name, legend_x, t as f32 + 4.0, 12.0, s.color);
        legend_x += 9.0 * s.name.len() as f32 + 16.0;
    }
    img
}

/// Draws `series` (see [`plot`]) and writes it atomically as `out/curves.png`.
pub fn save_png(out: &std::path::Path, title: &str, series: &[Series]) -> Result<(), crate::Error> {
    let img = plot(title, series, 900, 500);
    let p = out.join("curves.png");
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| crate::Error::io(&p, std::io::Error::other(e)))?;
    crate::fsutil::write_atomic(&p, &bytes).map_err(|e| crate::Error::io(&p, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_are_drawn_in_their_colours() {
        let s = [
            Series {
                name: "loss",
                color: [200, 0, 0],
                points: (0..50)
                    .map(|i| (i as f64, 10.0 / (1.0 + i as f64)))
                    .collect(),
                right_axis: false,
            },
            Series {
                name: "hmean",
                color: [0, 0, 200],
                points: vec![(10.0, 0.2), (49.0, 0.9)],
                right_axis: true,
            },
        ];
        let img = plot("test", &s, 480, 320);
        let count = |c: [u8; 3]| img.pixels().filter(|p| p.0 == c).count();
        assert!(count([200, 0, 0]) > 200, "loss curve drawn");
        assert!(count([0, 0, 200]) > 200, "hmean curve drawn");
    }
}
