//! Golden tests against OpenCV and pyclipper, fixtures from `tools/make_geom_fixtures.py`.

use fusedet_geom::contour::find_contours;
use fusedet_geom::fill::fill_polygon;
use fusedet_geom::minrect::{convex_hull, get_mini_box};
use fusedet_geom::offset::offset_polygon;
use fusedet_geom::simplify::{approx_poly_closed, arc_length_closed};
use fusedet_geom::{IntPoint, Point};
use serde_json::Value;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/geom.json")).expect("fixture json")
}

fn pts_i(v: &Value) -> Vec<(i64, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_i64().unwrap(), p[1].as_i64().unwrap()))
        .collect()
}

#[test]
fn contours_match_opencv() {
    let f = fixtures();
    let mut failures = Vec::new();
    for (k, case) in f["contours"].as_array().unwrap().iter().enumerate() {
        let (w, h) = (
            case["w"].as_u64().unwrap() as usize,
            case["h"].as_u64().unwrap() as usize,
        );
        let mask: Vec<u8> = case["mask"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let mut ours: Vec<Vec<(i64, i64)>> = find_contours(&mask, w, h)
            .into_iter()
            .map(|c| {
                let mut p: Vec<(i64, i64)> = c.points.iter().map(|p| (p.x, p.y)).collect();
                p.sort();
                p
            })
            .collect();
        let mut theirs: Vec<Vec<(i64, i64)>> = case["contours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut p = pts_i(c);
                p.sort();
                p
            })
            .collect();
        ours.sort();
        theirs.sort();
        if ours != theirs {
            if failures.is_empty() {
                let only_ours: Vec<_> = ours.iter().filter(|c| !theirs.contains(c)).collect();
                let only_theirs: Vec<_> = theirs.iter().filter(|c| !ours.contains(c)).collect();
                eprintln!("case {k}: only fusedet {only_ours:?}\nonly OpenCV {only_theirs:?}");
            }
            failures.push(k);
        }
    }
    assert!(
        failures.is_empty(),
        "contour sets differ from OpenCV in cases {failures:?}"
    );
}

/// Compares `get_mini_box` with OpenCV's `minAreaRect` + `boxPoints` + DB's corner order,
/// to the float32 bit: a corner a hair below an integer truncates differently in Clipper.
fn check_mini_boxes(section: &str, expected_cases: usize) {
    let f = fixtures();
    let cases = f[section].as_array().unwrap();
    assert_eq!(cases.len(), expected_cases);
    let mut failures = Vec::new();
    for (k, case) in cases.iter().enumerate() {
        let pts: Vec<(f32, f32)> = pts_i(&case["points"])
            .iter()
            .map(|&(x, y)| (x as f32, y as f32))
            .collect();
        let b = get_mini_box(&pts);
        let theirs: Vec<(f64, f64)> = case["box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        let ours: Vec<(f64, f64)> = b.corners.iter().map(|p| (p.x, p.y)).collect();
        if ours != theirs || b.short_side != case["short_side"].as_f64().unwrap() {
            failures.push(format!("case {k}: fusedet {ours:?}, OpenCV {theirs:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

#[test]
fn mini_boxes_match_opencv_min_area_rect() {
    check_mini_boxes("minrect", 200);
}

#[test]
fn mini_boxes_of_contours_and_unclipped_boxes_match_opencv() {
    check_mini_boxes("minrect_contours", 184);
}

#[test]
fn convex_hull_matches_opencv_vertex_for_vertex() {
    let f = fixtures();
    let mut failures = Vec::new();
    for (k, case) in f["hull"].as_array().unwrap().iter().enumerate() {
        let pts: Vec<(f32, f32)> = pts_i(&case["points"])
            .iter()
            .map(|&(x, y)| (x as f32, y as f32))
            .collect();
        let ours: Vec<(i64, i64)> = convex_hull(&pts)
            .iter()
            .map(|p| (p.0 as i64, p.1 as i64))
            .collect();
        let theirs = pts_i(&case["hull"]);
        if ours != theirs {
            failures.push(format!("case {k}: fusedet {ours:?}, OpenCV {theirs:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unclip_offsets_match_pyclipper() {
    let f = fixtures();
    let mut failures = Vec::new();
    for (k, case) in f["offset"].as_array().unwrap().iter().enumerate() {
        let quad: Vec<Point> = case["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| Point::new(p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        let delta = case["delta"].as_f64().unwrap();
        let ours: Vec<Vec<IntPoint>> = offset_polygon(&quad, delta);
        let mut ours_sets: Vec<Vec<(i64, i64)>> = ours
            .iter()
            .map(|r| {
                let mut v: Vec<(i64, i64)> = r.iter().map(|p| (p.x, p.y)).collect();
                v.sort();
                v
            })
            .collect();
        let mut theirs: Vec<Vec<(i64, i64)>> = case["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut v = pts_i(r);
                v.sort();
                v
            })
            .collect();
        ours_sets.sort();
        theirs.sort();
        if ours_sets != theirs {
            failures.push(k);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 200 offsets differ from pyclipper: {failures:?}",
        failures.len()
    );
}

#[test]
fn fill_matches_opencv_fill_poly_pixel_for_pixel() {
    let f = fixtures();
    let mut bad = Vec::new();
    for (k, case) in f["fill"].as_array().unwrap().iter().enumerate() {
        let poly: Vec<IntPoint> = pts_i(&case["points"])
            .iter()
            .map(|&(x, y)| IntPoint::new(x, y))
            .collect();
        let mut m = vec![0u8; 36 * 36];
        fill_polygon(&mut m, 36, 36, &poly, 1);
        let theirs: Vec<u8> = case["mask"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let differ = (0..36 * 36).filter(|&i| m[i] != theirs[i]).count();
        if differ > 0 {
            bad.push((k, differ));
        }
    }
    assert!(
        bad.is_empty(),
        "(case, pixels) differing from OpenCV: {bad:?}"
    );
}

#[test]
fn approx_poly_dp_and_arc_length_match_opencv() {
    let f = fixtures();
    let cases = f["approx"].as_array().unwrap();
    assert!(cases.len() >= 100);
    let mut failures = Vec::new();
    for (k, case) in cases.iter().enumerate() {
        let pts: Vec<IntPoint> = pts_i(&case["points"])
            .iter()
            .map(|&(x, y)| IntPoint::new(x, y))
            .collect();
        let len = arc_length_closed(&pts);
        if len != case["arc_length"].as_f64().unwrap() {
            failures.push(format!(
                "case {k}: arc length {len}, OpenCV {}",
                case["arc_length"]
            ));
        }
        let ours: Vec<(i64, i64)> = approx_poly_closed(&pts, case["epsilon"].as_f64().unwrap())
            .iter()
            .map(|p| (p.x, p.y))
            .collect();
        let theirs = pts_i(&case["approx"]);
        if ours != theirs {
            failures.push(format!("case {k}: fusedet {ours:?}\n  OpenCV {theirs:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(4)].join("\n")
    );
}
