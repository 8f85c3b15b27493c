//! Border following (Suzuki & Abe, 1985) with the semantics of OpenCV's
//! `findContours(image, RETR_LIST, CHAIN_APPROX_SIMPLE)`: every outer and hole border of the
//! 8-connected foreground, each compressed to the end points of its straight runs.

use rayon::prelude::*;

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

/// [`DIRS`] as index offsets in an image with rows of `pw` bytes.
fn offsets(pw: usize) -> [isize; 8] {
    DIRS.map(|(dx, dy)| dx as isize + dy as isize * pw as isize)
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
    find_contours_with(width, height, |y, row| {
        row.copy_from_slice(&mask[y * width..(y + 1) * width]);
    })
}

/// [`find_contours`] of the binary image whose row `y` the closure writes (non-zero for
/// foreground, `width` bytes, zeroed before the call), without a mask of its own: DB's
/// post-processing thresholds its probability map straight into the labels. Rows are written
/// and their foreground runs found in parallel (rayon); the borders are followed in raster
/// order.
pub fn find_contours_with(
    width: usize,
    height: usize,
    fill_row: impl Fn(usize, &mut [u8]) + Sync,
) -> Vec<Contour> {
    let pw = width + 2;
    let ph = height + 2;
    if width == 0 || height == 0 {
        return Vec::new();
    }
    // Labels: 0 background, 1 unvisited foreground, ±nbd (2..=127, as `i8` bytes) visited; the
    // algorithm only compares them with 0 and 1 and looks at their sign (no hierarchy is
    // returned), so they wrap in 2..=127 as OpenCV's `schar` labels do, and the image is one
    // byte a pixel.
    let mut img = vec![0u8; pw * ph];
    // Only the ends of a row's foreground runs can start a border (the zero / non-zero
    // pattern never changes while borders are followed, only the labels of non-zero pixels):
    // runs are found once, as the rows are written, and the raster scan visits their ends
    // alone, in the order the pixel-by-pixel scan would.
    const ROWS: usize = 32;
    let runs: Vec<(u32, u32, u32)> = img[pw..pw * (height + 1)]
        .par_chunks_mut(pw * ROWS)
        .enumerate()
        .flat_map_iter(|(k, rows)| {
            let mut runs = Vec::new();
            for (i, row) in rows.chunks_exact_mut(pw).enumerate() {
                let y = k * ROWS + i;
                let inner = &mut row[1..=width];
                fill_row(y, inner);
                row_runs(inner, y as u32, &mut runs);
            }
            runs
        })
        .collect();
    let off = offsets(pw);
    let mut contours = Vec::new();
    let mut nbd: i8 = 1;
    for &(y, a, b) in &runs {
        let row = (y as usize + 1) * pw + 1;
        let ends = [row + a as usize, row + b as usize];
        for &i in &ends[..if a == b { 1 } else { 2 }] {
            let v = img[i] as i8;
            let start_dir = if v == 1 && img[i - 1] == 0 {
                4 // outer border: its zero neighbour is to the west
            } else if v >= 1 && img[i + 1] == 0 {
                0 // hole border: to the east
            } else {
                continue;
            };
            nbd = if nbd == i8::MAX { 2 } else { nbd + 1 };
            let mut points = Vec::new();
            follow_border(&mut img, &off, i, start_dir, nbd, &mut points);
            contours.push(Contour {
                points: points
                    .into_iter()
                    .map(|i| IntPoint::new((i % pw) as i64 - 1, (i / pw) as i64 - 1))
                    .collect(),
                is_hole: start_dir == 0,
            });
        }
    }
    contours.reverse();
    contours
}

/// Appends `(y, first, last)` for each run of non-zero bytes in `row`, and sets the run's
/// bytes to 1 (the label of unvisited foreground).
fn row_runs(row: &mut [u8], y: u32, runs: &mut Vec<(u32, u32, u32)>) {
    let width = row.len();
    let mut x = 0;
    while x < width {
        // Skip background 32 bytes at a time (an OR that vectorises).
        while x + 32 <= width && row[x..x + 32].iter().fold(0u8, |a, &b| a | b) == 0 {
            x += 32;
        }
        match row[x..].iter().position(|&b| b != 0) {
            Some(o) => x += o,
            None => break,
        }
        // And foreground 16 bytes at a time (a minimum that vectorises).
        let mut end = x;
        while end + 16 <= width && row[end..end + 16].iter().fold(u8::MAX, |a, &b| a.min(b)) != 0 {
            end += 16;
        }
        let len = end - x
            + row[end..]
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(width - end);
        runs.push((y, x as u32, (x + len - 1) as u32));
        row[x..x + len].fill(1);
        x += len;
    }
}

/// Follows one border from pixel `start` (an index into the padded image), whose zero
/// neighbour in direction `start_dir` is where the search begins; relabels the image and
/// appends the border's vertices (OpenCV's `CHAIN_APPROX_SIMPLE`: every pixel where the
/// outgoing chain direction changes) as indices.
fn follow_border(
    img: &mut [u8],
    off: &[isize; 8],
    start: usize,
    start_dir: usize,
    nbd: i8,
    out: &mut Vec<usize>,
) {
    let step = |i: usize, d: usize| i.wrapping_add_signed(off[d]);
    // 3.1: clockwise search around `start` from its zero neighbour for a non-zero pixel.
    let Some(first_dir) = (0..8)
        .map(|k| (start_dir + 8 - k) % 8)
        .find(|&d| img[step(start, d)] != 0)
    else {
        img[start] = (-nbd) as u8;
        out.push(start);
        return;
    };
    let p1 = step(start, first_dir);
    // Before the first step the "previous" direction is the reverse of the one towards the
    // first neighbour found, as in OpenCV, so the start is kept only when the border turns
    // there.
    let mut prev_out = (first_dir + 4) % 8;
    let mut p3 = start;
    // Direction from p3 to p2, the previous pixel.
    let mut back = first_dir;
    loop {
        // 3.3: counter-clockwise search around p3, starting after p2 (always ends: p2 is
        // non-zero).
        let mut east_zero = false;
        let mut d = back;
        for _ in 0..8 {
            d = (d + 1) % 8;
            if img[step(p3, d)] != 0 {
                break;
            }
            if d == 0 {
                east_zero = true;
            }
        }
        // 3.4: relabel p3.
        if east_zero {
            img[p3] = (-nbd) as u8;
        } else if img[p3] == 1 {
            img[p3] = nbd as u8;
        }
        if d != prev_out {
            out.push(p3);
            prev_out = d;
        }
        let p4 = step(p3, d);
        // 3.5: back at the start through the same first step?
        if p4 == start && p3 == p1 {
            break;
        }
        back = (d + 4) % 8;
        p3 = p4;
    }
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

    #[test]
    fn any_non_zero_value_is_foreground_and_rows_past_a_chunk_keep_their_order() {
        // 70 rows: three of the parallel row chunks; bars crossing their boundaries, runs
        // longer than 16 and gaps longer than 32 bytes.
        let (w, h) = (120, 70);
        let m = draw(w, h, &[(3, 2, 60, 40), (70, 30, 110, 33), (5, 50, 100, 68)]);
        let ones = find_contours(&m, w, h);
        let other: Vec<u8> = m.iter().map(|&v| v * 200).collect();
        assert_eq!(find_contours(&other, w, h), ones);
        let with = find_contours_with(w, h, |y, row| {
            row.copy_from_slice(&other[y * w..(y + 1) * w]);
        });
        assert_eq!(with, ones);
        assert_eq!(ones.len(), 3);
        // Reverse raster order of the first pixels: the bottom bar, the right one, the big one.
        assert_eq!(ones[0].points[0], IntPoint::new(5, 50));
        assert_eq!(ones[1].points[0], IntPoint::new(70, 30));
        assert_eq!(ones[2].points[0], IntPoint::new(3, 2));
    }

    proptest! {
        #[test]
        fn contour_points_are_in_bounds_and_on_foreground(
            w in 1usize..90, h in 1usize..80, seed in any::<u64>()
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
            w in 1usize..90, h in 1usize..80, seed in any::<u64>()
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
