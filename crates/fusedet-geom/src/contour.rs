//! Border following (Suzuki & Abe, 1985) with the semantics of OpenCV's
//! `findContours(image, RETR_LIST, CHAIN_APPROX_SIMPLE)`: every outer and hole border of the
//! 8-connected foreground, each compressed to the end points of its straight runs.

use crate::IntPoint;

/// One border of a binary image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contour {
    /// Vertices in tracing order (end points of horizontal, vertical and diagonal runs).
    pub points: Vec<IntPoint>,
    /// True for the border of a hole (a background region enclosed by foreground).
    pub is_hole: bool,
}

/// Chain-code offsets, counter-clockwise on screen starting to the east (OpenCV's order).
const DIRS: [(i64, i64); 8] = [
    (1, 0),
    (1, -1),
    (0, -1),
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

fn dir_of(dx: i64, dy: i64) -> usize {
    DIRS.iter()
        .position(|&d| d == (dx, dy))
        .expect("neighbouring pixels")
}

/// Finds every border of the foreground (`mask[y * width + x] != 0`).
///
/// Contours come in OpenCV's order for `RETR_LIST` (the reverse of the raster order in which
/// their first pixels are met), so a `max_candidates` cap keeps the same ones.
///
/// # Panics
/// Panics if `mask.len() != width * height`.
pub fn find_contours(mask: &[u8], width: usize, height: usize) -> Vec<Contour> {
    assert_eq!(mask.len(), width * height, "mask size");
    let pw = width + 2;
    let ph = height + 2;
    // Labels: 0 background, 1 unvisited foreground, ±nbd (2..=127) visited; the algorithm only
    // compares them with 0 and 1 and looks at their sign (no hierarchy is returned), so they
    // wrap in 2..=127 as OpenCV's `schar` labels do, and the image is one byte a pixel.
    let mut img = vec![0i8; pw * ph];
    // Only the ends of a row's foreground runs can start a border (the zero / non-zero
    // pattern never changes while borders are followed, only the labels of non-zero pixels):
    // runs are found once, on the byte mask, and the raster scan visits their ends alone,
    // in the order the pixel-by-pixel scan would.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for y in 0..height {
        let row = &mask[y * width..(y + 1) * width];
        let mut x = 0;
        while x < width {
            while x + 8 <= width && u64::from_ne_bytes(row[x..x + 8].try_into().expect("8")) == 0 {
                x += 8;
            }
            match row[x..].iter().position(|&b| b != 0) {
                Some(o) => x += o,
                None => break,
            }
            let len = row[x..].iter().position(|&b| b == 0).unwrap_or(width - x);
            runs.push((y, x, x + len - 1));
            let at = (y + 1) * pw + x + 1;
            img[at..at + len].fill(1);
            x += len;
        }
    }
    let idx = |x: i64, y: i64| (y as usize) * pw + x as usize;
    let mut contours = Vec::new();
    let mut nbd: i8 = 1;
    for &(y, a, b) in &runs {
        let y = y as i64 + 1;
        let (a, b) = (a as i64 + 1, b as i64 + 1);
        let ends = [a, b];
        for &x in &ends[..if a == b { 1 } else { 2 }] {
            let v = img[idx(x, y)];
            let start_from = if v == 1 && img[idx(x - 1, y)] == 0 {
                Some((x - 1, false))
            } else if v >= 1 && img[idx(x + 1, y)] == 0 {
                Some((x + 1, true))
            } else {
                None
            };
            let Some((x2, is_hole)) = start_from else {
                continue;
            };
            nbd = if nbd == i8::MAX { 2 } else { nbd + 1 };
            let (chain, first_dir) = follow_border(&mut img, pw, (x, y), (x2, y), nbd);
            contours.push(Contour {
                points: compress_chain(&chain, first_dir)
                    .into_iter()
                    .map(|(px, py)| IntPoint::new(px - 1, py - 1))
                    .collect(),
                is_hole,
            });
        }
    }
    contours.reverse();
    contours
}

/// Follows one border from `start`, whose zero neighbour `prev` is where the search begins.
/// Returns every border pixel in order (padded coordinates) with the chain code from the
/// start to the first neighbour found, and relabels the image.
fn follow_border(
    img: &mut [i8],
    pw: usize,
    start: (i64, i64),
    prev: (i64, i64),
    nbd: i8,
) -> (Vec<(i64, i64)>, usize) {
    let at = |img: &[i8], p: (i64, i64)| img[(p.1 as usize) * pw + p.0 as usize];
    let idx = |p: (i64, i64)| (p.1 as usize) * pw + p.0 as usize;
    // 3.1: clockwise search around `start` from `prev` for a non-zero pixel.
    let d0 = dir_of(prev.0 - start.0, prev.1 - start.1);
    let mut first = None;
    for k in 0..8 {
        let d = (d0 + 8 - k) % 8;
        let p = (start.0 + DIRS[d].0, start.1 + DIRS[d].1);
        if at(img, p) != 0 {
            first = Some((p, d));
            break;
        }
    }
    let Some((p1, first_dir)) = first else {
        img[idx(start)] = -nbd;
        return (vec![start], 0);
    };
    let mut p2 = p1;
    let mut p3 = start;
    let mut chain = vec![start];
    loop {
        // 3.3: counter-clockwise search around p3, starting after p2.
        let d2 = dir_of(p2.0 - p3.0, p2.1 - p3.1);
        let mut east_zero = false;
        let mut p4 = p3;
        for k in 1..=8 {
            let d = (d2 + k) % 8;
            let p = (p3.0 + DIRS[d].0, p3.1 + DIRS[d].1);
            if at(img, p) != 0 {
                p4 = p;
                break;
            }
            if d == 0 {
                east_zero = true;
            }
        }
        // 3.4: relabel p3.
        if east_zero {
            img[idx(p3)] = -nbd;
        } else if at(img, p3) == 1 {
            img[idx(p3)] = nbd;
        }
        // 3.5: back at the start through the same first step?
        if p4 == start && p3 == p1 {
            break;
        }
        p2 = p3;
        p3 = p4;
        chain.push(p3);
    }
    (chain, first_dir)
}

/// Keeps every point where the outgoing chain direction changes (OpenCV's
/// `CHAIN_APPROX_SIMPLE`); before the first step the "previous" direction is the reverse of
/// the one towards the first neighbour found, as in OpenCV, so the start point is kept only
/// when the border turns there.
fn compress_chain(chain: &[(i64, i64)], first_dir: usize) -> Vec<(i64, i64)> {
    let n = chain.len();
    if n <= 1 {
        return chain.to_vec();
    }
    let out_dir = |k: usize| {
        let a = chain[k];
        let b = chain[(k + 1) % n];
        (b.0 - a.0, b.1 - a.1)
    };
    let mut kept = Vec::new();
    let mut prev = DIRS[(first_dir + 4) % 8];
    for (k, &p) in chain.iter().enumerate() {
        let d = out_dir(k);
        if d != prev {
            kept.push(p);
            prev = d;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn draw(w: usize, h: usize, rects: &[(usize, usize, usize, usize)]) -> Vec<u8> {
        let mut m = vec![0u8; w * h];
        for &(x0, y0, x1, y1) in rects {
            for y in y0..=y1 {
                for x in x0..=x1 {
                    m[y * w + x] = 1;
                }
            }
        }
        m
    }

    fn pts(c: &Contour) -> Vec<(i64, i64)> {
        c.points.iter().map(|p| (p.x, p.y)).collect()
    }

    #[test]
    fn filled_rectangle_gives_its_four_corners() {
        let m = draw(10, 8, &[(2, 1, 6, 4)]);
        let cs = find_contours(&m, 10, 8);
        assert_eq!(cs.len(), 1);
        assert!(!cs[0].is_hole);
        // OpenCV: [[2,1],[2,4],[6,4],[6,1]]
        assert_eq!(pts(&cs[0]), vec![(2, 1), (2, 4), (6, 4), (6, 1)]);
    }

    #[test]
    fn single_pixel_and_touching_the_image_edge() {
        let m = draw(4, 3, &[(0, 0, 0, 0), (3, 2, 3, 2)]);
        let cs = find_contours(&m, 4, 3);
        assert_eq!(cs.len(), 2);
        // Reverse raster order: the bottom-right pixel first.
        assert_eq!(pts(&cs[0]), vec![(3, 2)]);
        assert_eq!(pts(&cs[1]), vec![(0, 0)]);
    }

    #[test]
    fn labels_wrap_past_127_borders_without_changing_the_result() {
        // 300 rings (600 borders): every ring gives the same outer border and hole border,
        // shifted, whatever label it was followed with.
        let (cols, rows, cell) = (30, 10, 8);
        let (w, h) = (cols * cell, rows * cell);
        let mut m = vec![0u8; w * h];
        for r in 0..rows {
            for c in 0..cols {
                for y in 1..7 {
                    for x in 1..7 {
                        let ring = !(3..=4).contains(&y) || !(3..=4).contains(&x);
                        m[(r * cell + y) * w + c * cell + x] = ring as u8;
                    }
                }
            }
        }
        let cs = find_contours(&m, w, h);
        assert_eq!(cs.len(), 2 * rows * cols);
        let local = |c: &Contour| {
            let (x0, y0) = (c.points[0].x / cell as i64, c.points[0].y / cell as i64);
            let mut p: Vec<(i64, i64)> = c
                .points
                .iter()
                .map(|p| (p.x - x0 * cell as i64, p.y - y0 * cell as i64))
                .collect();
            p.sort();
            (c.is_hole, p)
        };
        let (outer, hole): (Vec<_>, Vec<_>) = cs.iter().map(local).partition(|(h, _)| !h);
        assert_eq!(outer.len(), rows * cols);
        assert!(outer.iter().all(|o| *o == outer[0]), "outer borders differ");
        assert!(hole.iter().all(|o| *o == hole[0]), "hole borders differ");
        assert_eq!(outer[0].1, vec![(1, 1), (1, 6), (6, 1), (6, 6)]);
    }

    #[test]
    fn ring_has_an_outer_and_a_hole_border() {
        let mut m = draw(9, 9, &[(1, 1, 7, 7)]);
        for y in 3..=5 {
            for x in 3..=5 {
                m[y * 9 + x] = 0;
            }
        }
        let cs = find_contours(&m, 9, 9);
        assert_eq!(cs.len(), 2);
        let holes: Vec<_> = cs.iter().filter(|c| c.is_hole).collect();
        assert_eq!(holes.len(), 1);
        // OpenCV gives the hole border through the foreground pixels around the hole.
        let mut hole = pts(holes[0]);
        hole.sort();
        assert_eq!(
            hole,
            vec![
                (2, 3),
                (3, 2),
                (3, 6),
                (5, 2),
                (5, 6),
                (6, 3),
                (6, 5),
                (2, 5)
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
    }

    proptest! {
        #[test]
        fn contour_points_are_in_bounds_and_on_foreground(
            w in 1usize..24, h in 1usize..24, seed in any::<u64>()
        ) {
            let mut s = seed;
            let m: Vec<u8> = (0..w * h).map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 33) % 3 == 0) as u8
            }).collect();
            for c in find_contours(&m, w, h) {
                prop_assert!(!c.points.is_empty());
                for p in c.points {
                    prop_assert!(p.x >= 0 && (p.x as usize) < w && p.y >= 0 && (p.y as usize) < h);
                    prop_assert!(m[p.y as usize * w + p.x as usize] != 0);
                }
            }
        }

        #[test]
        fn every_foreground_component_has_an_outer_border(
            w in 1usize..20, h in 1usize..20, seed in any::<u64>()
        ) {
            let mut s = seed;
            let m: Vec<u8> = (0..w * h).map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 33) % 2 == 0) as u8
            }).collect();
            let outer = find_contours(&m, w, h).iter().filter(|c| !c.is_hole).count();
            prop_assert_eq!(outer, count_components(&m, w, h));
        }
    }

    fn count_components(m: &[u8], w: usize, h: usize) -> usize {
        let mut seen = vec![false; w * h];
        let mut count = 0;
        for start in 0..w * h {
            if m[start] == 0 || seen[start] {
                continue;
            }
            count += 1;
            let mut stack = vec![start];
            seen[start] = true;
            while let Some(i) = stack.pop() {
                let (x, y) = ((i % w) as i64, (i / w) as i64);
                for (dx, dy) in DIRS {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h {
                        let j = ny as usize * w + nx as usize;
                        if m[j] != 0 && !seen[j] {
                            seen[j] = true;
                            stack.push(j);
                        }
                    }
                }
            }
        }
        count
    }
}
