//! Offset (unclip / shrink) timings on the workloads DB post-processing and label generation
//! run: `cargo bench -p fusedet-geom --bench offset`.
//!
//! - `unclip_quads`: 2000 rotated text boxes grown by DB's unclip distance (area * 1.5 /
//!   perimeter), as `--box-type quad` post-processing does;
//! - `unclip_curved`: 1000 curved-text outlines (8-32 vertices, as approxPolyDP leaves arcs)
//!   grown by the unclip distance, as `--box-type poly` does;
//! - `shrink_curved`: the same outlines shrunk by MindOCR's distance (area * (1 - 0.4²) /
//!   perimeter), as the probability-map targets do.
//!
//! Inputs come from a fixed linear congruential generator, so every run times the same
//! polygons. Prints the median of 15 runs of each workload in microseconds.

use std::hint::black_box;
use std::time::Instant;

use fusedet_geom::offset::offset_polygon;
use fusedet_geom::{Point, polygon_area, polygon_perimeter};

struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        lo + (hi - lo) * ((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }
}

fn quads(rng: &mut Lcg, n: usize) -> Vec<Vec<Point>> {
    (0..n)
        .map(|_| {
            let (cx, cy) = (rng.uniform(20.0, 600.0), rng.uniform(20.0, 600.0));
            let (w, h) = (rng.uniform(4.0, 200.0), rng.uniform(3.0, 40.0));
            let a = rng.uniform(-0.6, 0.6);
            let (s, c) = a.sin_cos();
            [(-w, -h), (w, -h), (w, h), (-w, h)]
                .iter()
                .map(|&(x, y)| Point::new(cx + (x * c - y * s) / 2.0, cy + (x * s + y * c) / 2.0))
                .collect()
        })
        .collect()
}

fn curved(rng: &mut Lcg, n: usize) -> Vec<Vec<Point>> {
    (0..n)
        .map(|_| {
            let k = rng.uniform(4.0, 16.99) as usize;
            let (cx, cy) = (rng.uniform(100.0, 500.0), rng.uniform(100.0, 500.0));
            let r = rng.uniform(40.0, 400.0);
            let h = rng.uniform(4.0, (r * 0.8).min(60.0));
            let span = rng.uniform(0.2, 2.8);
            let a0 = rng.uniform(0.0, std::f64::consts::TAU);
            let arc = |rad: f64, i: usize| {
                let t = a0 + span * i as f64 / (k - 1) as f64;
                Point::new((cx + rad * t.cos()).round(), (cy + rad * t.sin()).round())
            };
            let mut p: Vec<Point> = (0..k).map(|i| arc(r + h / 2.0, i)).collect();
            p.extend((0..k).rev().map(|i| arc(r - h / 2.0, i)));
            p
        })
        .collect()
}

fn time(name: &str, polys: &[Vec<Point>], coef: f64) {
    let deltas: Vec<f64> = polys
        .iter()
        .map(|p| coef * polygon_area(p) / polygon_perimeter(p))
        .collect();
    let mut runs: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            let mut n = 0;
            for (p, &d) in polys.iter().zip(&deltas) {
                n += black_box(offset_polygon(black_box(p), d)).len();
            }
            black_box(n);
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    println!(
        "{name:<14} {:>5} polygons  median {:>9.0} us  ({:.2} us/polygon)",
        polys.len(),
        runs[7],
        runs[7] / polys.len() as f64
    );
}

fn main() {
    let mut rng = Lcg(16);
    let q = quads(&mut rng, 2000);
    let c = curved(&mut rng, 1000);
    time("unclip_quads", &q, 1.5);
    time("unclip_curved", &c, 1.5);
    time("shrink_curved", &c, -(1.0 - 0.4 * 0.4));
}
