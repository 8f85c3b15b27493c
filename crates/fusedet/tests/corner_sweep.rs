//! Corner order of DB quads on rotated squares and rectangles, 0° to 180° in steps of 0.25°
//! (45°, 90° and 135° exactly), against PaddleOCR's `DBPostProcess` + `TextDetector` box
//! filtering (fixtures from `tools/make_corner_fixtures.py`), and a property test that no quad
//! fusedet prints has a repeated corner or crossing edges.
use std::path::PathBuf;

use fusedet::postprocess::db::{DbPostProcess, ProbMap, is_simple_quad};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Dest {
    width: usize,
    height: usize,
    detections: String,
}

#[derive(Deserialize)]
struct SweepMap {
    degrees: f64,
    cos: f64,
    sin: f64,
    offset: [f64; 2],
    pixels: usize,
    dests: Vec<Dest>,
}

#[derive(Deserialize)]
struct Fixture {
    cell: usize,
    shapes: Vec<[f64; 2]>,
    value: f32,
    maps: Vec<SweepMap>,
}

/// The sweep's map, with `tools/make_corner_fixtures.py`'s arithmetic (pixel centres at
/// integer coordinates).
fn sweep_map(f: &Fixture, m: &SweepMap) -> (Vec<f32>, usize, usize) {
    let (w, h) = (f.cell * f.shapes.len() + 16, 64);
    let mut data = vec![0f32; w * h];
    for (i, s) in f.shapes.iter().enumerate() {
        let cx = (8 + i * f.cell) as f64 + (f.cell / 2) as f64 + m.offset[0];
        let cy = (h / 2) as f64 + m.offset[1];
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                let u = dx * m.cos + dy * m.sin;
                let v = -dx * m.sin + dy * m.cos;
                if u.abs() <= s[0] / 2.0 && v.abs() <= s[1] / 2.0 {
                    data[y * w + x] = f.value;
                }
            }
        }
    }
    (data, w, h)
}

/// The quad PaddleOCR's pipeline prints for one fixture detection, and whether it is
/// degenerate there (fusedet then prints `DBPostProcess`'s own order instead).
fn expected(det: &str) -> (Option<Vec<[f64; 2]>>, bool) {
    let (coords, order) = det.split_once(':').unwrap_or((det, "0123"));
    let v: Vec<f64> = coords.split(',').map(|t| t.parse().unwrap()).collect();
    let own: Vec<[f64; 2]> = v.chunks(2).map(|c| [c[0], c[1]]).collect();
    if order == "-" {
        return (None, false);
    }
    let paddle: Vec<[f64; 2]> = order.bytes().map(|b| own[(b - b'0') as usize]).collect();
    if is_simple_quad(&paddle) {
        (Some(paddle), false)
    } else {
        (Some(own), true)
    }
}

#[test]
fn rotated_box_sweep_matches_paddleocr_corner_for_corner() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corners/sweep.json");
    let f: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(f.maps.len(), 721);
    let post = DbPostProcess::default();
    let mut failures = Vec::new();
    let (mut compared, mut degenerate_in_paddle) = (0, 0);
    for m in &f.maps {
        let (data, w, h) = sweep_map(&f, m);
        let set = data.iter().filter(|&&p| p > 0.3).count();
        assert_eq!(
            set, m.pixels,
            "{}°: the map differs from the fixture's",
            m.degrees
        );
        for d in &m.dests {
            let ours = post.run(
                ProbMap {
                    data: &data,
                    width: w,
                    height: h,
                },
                d.width,
                d.height,
            );
            let want: Vec<(Option<Vec<[f64; 2]>>, bool)> =
                d.detections.split(';').map(expected).collect();
            degenerate_in_paddle += want.iter().filter(|(_, dg)| *dg).count();
            let want: Vec<Vec<[f64; 2]>> = want.into_iter().filter_map(|(q, _)| q).collect();
            let got: Vec<Vec<[f64; 2]>> = ours.into_iter().map(|d| d.points).collect();
            compared += want.len();
            if got != want {
                failures.push(format!(
                    "{}° -> {}x{}: fusedet {got:?}\n  expected {want:?}",
                    m.degrees, d.width, d.height
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 721 maps differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(compared, 5742);
    // PaddleOCR's own reordering degenerates on this many boxes; fusedet must not.
    assert!(degenerate_in_paddle > 100, "{degenerate_in_paddle}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_printed_quad_has_a_repeated_corner_or_crossing_edges(
        boxes in proptest::collection::vec(
            (4.0f64..40.0, 3.0f64..14.0, 0.0f64..180.0, 0.0f64..1.0, 0.0f64..1.0), 1..6),
        scale in prop_oneof![Just(1.0f64), 0.5f64..3.0],
    ) {
        let (w, h) = (64 * boxes.len(), 64);
        let mut data = vec![0f32; w * h];
        for (i, &(bw, bh, deg, ox, oy)) in boxes.iter().enumerate() {
            let (s, c) = deg.to_radians().sin_cos();
            let (cx, cy) = ((64 * i + 32) as f64 + ox, 32.0 + oy);
            for y in 0..h {
                for x in 0..w {
                    let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                    if (dx * c + dy * s).abs() <= bw / 2.0 && (-dx * s + dy * c).abs() <= bh / 2.0 {
                        data[y * w + x] = 0.9;
                    }
                }
            }
        }
        let dest = ((w as f64 * scale) as usize, (h as f64 * scale) as usize);
        let dets = DbPostProcess::default().run(ProbMap { data: &data, width: w, height: h }, dest.0, dest.1);
        for d in dets {
            prop_assert!(is_simple_quad(&d.points), "{:?}", d.points);
        }
    }
}
