//! Clipper 6.4.2 offsets (pyclipper `PyclipperOffset`, `JT_ROUND`, `ET_CLOSEDPOLYGON`) on
//! concave, curved, thin, collinear, self-touching and degenerate polygons, compared vertex for
//! vertex: same paths in the same order, each with the same start vertex and direction.
//! Fixtures from `tools/make_offset_fixtures.py`.

use fusedet_geom::offset::offset_polygon;
use fusedet_geom::{IntPoint, Point};
use serde_json::Value;

#[test]
fn offsets_match_pyclipper_vertex_for_vertex() {
    let f: Value =
        serde_json::from_str(include_str!("fixtures/offset.json")).expect("fixture json");
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 500, "{} cases", cases.len());
    let (mut grow, mut shrink, mut split, mut empty) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (k, case) in cases.iter().enumerate() {
        let points: Vec<Point> = case[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| Point::new(p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        let delta = case[1].as_f64().unwrap();
        let theirs: Vec<Vec<(i64, i64)>> = case[2]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_i64().unwrap(), p[1].as_i64().unwrap()))
                    .collect()
            })
            .collect();
        let ours: Vec<Vec<(i64, i64)>> = offset_polygon(&points, delta)
            .iter()
            .map(|r| r.iter().map(|p: &IntPoint| (p.x, p.y)).collect())
            .collect();
        if delta > 0.0 {
            grow += 1;
        } else {
            shrink += 1;
        }
        match theirs.len() {
            0 => empty += 1,
            1 => {}
            _ => split += 1,
        }
        if ours != theirs {
            failures.push(format!(
                "case {k}: delta {delta} on {points:?}\n  fusedet   {ours:?}\n  pyclipper {theirs:?}"
            ));
        }
    }
    // The fixture must keep exercising both directions, splits and collapses.
    assert!(grow > 100 && shrink > 100 && split > 10 && empty > 10);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
