//! TextBoxes++ anchors and box coding (SPEC §10.2-10.3 and §13): one anchor size per pyramid
//! level, seven aspect ratios and a second, half-cell-shifted copy of every anchor ("denser"
//! anchors); anchors match ground-truth quads on the axis-aligned IoU of the quad's bounding box;
//! a matched anchor regresses the quad's four vertices as offsets relative to its own corners
//! (and, in `4+8` mode, its rectangle as centre / log-size offsets).
//!
//! Arithmetic follows the reference (`encoder.py`, `utils.py` of qjadud1994/Text_Detector):
//! float32 throughout, the "+1 pixel" box IoU, feature maps of `ceil(input / stride)` cells of
//! `input / cells` pixels, so that anchors and targets are bit-identical to it.

use serde::{Deserialize, Serialize};

/// Where the second copy of every anchor sits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorOffset {
    /// Shifted down by half a cell, as in the TextBoxes++ paper (`prior_box_layer`).
    Vertical,
    /// Shifted right by half a cell, as the reference PyTorch code does (it doubles the columns:
    /// `x = (j / 2 + 0.5) · step`).
    #[default]
    Horizontal,
}

/// What the regression branch predicts per anchor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Regression {
    /// The four vertices' offsets (8 numbers), as the reference code.
    #[default]
    #[serde(rename = "8")]
    Quad,
    /// Rectangle (`Δcx, Δcy, ln w, ln h`) then the four vertices: 12 numbers, as the paper.
    #[serde(rename = "4+8")]
    RectQuad,
}

impl Regression {
    /// Numbers per anchor.
    pub fn width(self) -> usize {
        match self {
            Self::Quad => 8,
            Self::RectQuad => 12,
        }
    }

    /// Where the 8 vertex offsets start.
    pub fn quad_at(self) -> usize {
        self.width() - 8
    }
}

/// How ground-truth vertices are ordered before encoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VertexOrder {
    /// Clockwise on screen, starting at the vertex nearest the bounding box's top-left corner
    /// (the TextBoxes++ paper's rule).
    #[default]
    Clockwise,
    /// As annotated (the reference code).
    Keep,
}

/// The anchor layout: levels, sizes, ratios and the offset copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorSpec {
    /// Side of the square anchor (`sqrt(area)`) per level, from the finest.
    #[serde(default = "d_sizes")]
    pub sizes: Vec<f64>,
    /// Stride exponent of the finest level: 2 for P2 (stride 4), 3 for P3.
    #[serde(default = "d_first_level")]
    pub first_level: u32,
    /// Aspect ratios `w / h`.
    #[serde(default = "d_ratios")]
    pub ratios: Vec<f64>,
    /// The second copy's shift.
    #[serde(default)]
    pub offset: AnchorOffset,
}

fn d_sizes() -> Vec<f64> {
    vec![16.0, 32.0, 64.0, 128.0, 256.0, 512.0]
}
fn d_first_level() -> u32 {
    2
}
fn d_ratios() -> Vec<f64> {
    vec![1.0, 2.0, 3.0, 5.0, 1.0 / 2.0, 1.0 / 3.0, 1.0 / 5.0]
}

impl Default for AnchorSpec {
    fn default() -> Self {
        Self {
            sizes: d_sizes(),
            first_level: d_first_level(),
            ratios: d_ratios(),
            offset: AnchorOffset::default(),
        }
    }
}

/// One anchor: centre and size, in input pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    /// Centre x.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl Anchor {
    /// Corners TL, TR, BR, BL as `x0, y0, …, x3, y3` (the reference's `xywh2quad`).
    pub fn quad(&self) -> [f32; 8] {
        let (x0, y0) = (self.cx - self.w / 2.0, self.cy - self.h / 2.0);
        let (x1, y1) = (self.cx + self.w / 2.0, self.cy + self.h / 2.0);
        [x0, y0, x1, y0, x1, y1, x0, y1]
    }
}

impl AnchorSpec {
    /// Anchors per cell: ratios × 2 shifts.
    pub fn per_cell(&self) -> usize {
        self.ratios.len() * 2
    }

    /// Number of pyramid levels.
    pub fn levels(&self) -> usize {
        self.sizes.len()
    }

    /// Feature-map size `[h, w]` of each level for an input of `w × h` pixels.
    pub fn map_sizes(&self, w: usize, h: usize) -> Vec<[usize; 2]> {
        (0..self.levels())
            .map(|l| {
                let s = 1usize << (self.first_level as usize + l);
                [h.div_ceil(s), w.div_ceil(s)]
            })
            .collect()
    }

    /// Problems with the values, as `(key, reason)`.
    pub fn check(&self) -> Option<(&'static str, String)> {
        if self.sizes.is_empty() || self.sizes.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Some(("sizes", "one positive size per level".into()));
        }
        if self.ratios.is_empty() || self.ratios.iter().any(|r| !(*r > 0.0 && r.is_finite())) {
            return Some(("ratios", "positive aspect ratios w / h".into()));
        }
        if !(2..=3).contains(&self.first_level) {
            return Some(("first_level", "2 (P2) or 3 (P3)".into()));
        }
        (self.first_level as usize + self.levels() > 8).then(|| {
            (
                "sizes",
                format!(
                    "{} levels from P{} go past P7",
                    self.levels(),
                    self.first_level
                ),
            )
        })
    }

    /// Every anchor for a `w × h` input, in the order of the head's outputs: level, then row,
    /// then column, then shift, then ratio.
    pub fn anchors(&self, w: usize, h: usize) -> Vec<Anchor> {
        let nr = self.ratios.len();
        let mut out = Vec::new();
        for (l, [fh, fw]) in self.map_sizes(w, h).into_iter().enumerate() {
            // As torch: `input_size / fm_size` in float32.
            let (gx, gy) = (w as f32 / fw as f32, h as f32 / fh as f32);
            let area = self.sizes[l] * self.sizes[l];
            let wh: Vec<(f32, f32)> = self
                .ratios
                .iter()
                .map(|&ar| {
                    let ah = (area / ar).sqrt();
                    ((ar * ah) as f32, ah as f32)
                })
                .collect();
            out.reserve(fh * fw * 2 * nr);
            for y in 0..fh {
                for x in 0..fw {
                    for s in 0..2 {
                        let (cx, cy) = match self.offset {
                            AnchorOffset::Horizontal => {
                                (((2 * x + s) as f32 / 2.0 + 0.5) * gx, (y as f32 + 0.5) * gy)
                            }
                            AnchorOffset::Vertical => {
                                ((x as f32 + 0.5) * gx, ((2 * y + s) as f32 / 2.0 + 0.5) * gy)
                            }
                        };
                        out.extend(wh.iter().map(|&(w, h)| Anchor { cx, cy, w, h }));
                    }
                }
            }
        }
        out
    }
}

/// Reorders a quad's vertices clockwise on screen, starting at the vertex nearest its bounding
/// box's top-left corner (ties: the earlier vertex of the clockwise order).
pub fn order_clockwise(q: [f32; 8]) -> [f32; 8] {
    let p: Vec<(f32, f32)> = (0..4).map(|i| (q[2 * i], q[2 * i + 1])).collect();
    let twice_area: f64 = (0..4)
        .map(|i| {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            a.0 as f64 * b.1 as f64 - b.0 as f64 * a.1 as f64
        })
        .sum();
    // y points down: a positive shoelace sum is clockwise on screen.
    let cw: Vec<(f32, f32)> = if twice_area < 0.0 {
        [0, 3, 2, 1].iter().map(|&i| p[i]).collect()
    } else {
        p
    };
    let xmin = cw.iter().map(|v| v.0).fold(f32::INFINITY, f32::min);
    let ymin = cw.iter().map(|v| v.1).fold(f32::INFINITY, f32::min);
    let d = |v: (f32, f32)| (v.0 - xmin).powi(2) + (v.1 - ymin).powi(2);
    let first = (0..4)
        .min_by(|&a, &b| d(cw[a]).total_cmp(&d(cw[b])))
        .unwrap_or(0);
    let mut out = [0f32; 8];
    for k in 0..4 {
        let v = cw[(first + k) % 4];
        out[2 * k] = v.0;
        out[2 * k + 1] = v.1;
    }
    out
}

/// Matching thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    /// IoU at or above which an anchor is text.
    #[serde(default = "d_pos")]
    pub pos_iou: f32,
    /// IoU below which an anchor is background (between the two: ignored).
    #[serde(default = "d_neg")]
    pub neg_iou: f32,
    /// Also make each ground truth's best anchor positive (SSD's bipartite match), whatever
    /// its IoU (off in the reference code).
    #[serde(default)]
    pub force_best: bool,
    /// Vertex order of the ground truth before encoding.
    #[serde(default)]
    pub vertex_order: VertexOrder,
}

fn d_pos() -> f32 {
    0.5
}
fn d_neg() -> f32 {
    0.4
}

impl Default for MatchSpec {
    fn default() -> Self {
        Self {
            pos_iou: d_pos(),
            neg_iou: d_neg(),
            force_best: false,
            vertex_order: VertexOrder::default(),
        }
    }
}

/// Encoded targets of one image: per anchor a label (1 text, 0 background, -1 ignored) and
/// `regression.width()` offsets.
#[derive(Clone, Debug, PartialEq)]
pub struct Targets {
    /// Label per anchor.
    pub labels: Vec<i8>,
    /// Offsets, row-major `[anchors, width]`.
    pub offsets: Vec<f32>,
}

impl Targets {
    /// Number of positive anchors.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|&&l| l > 0).count()
    }
}

/// The reference's `box_iou`: boxes `x1, y1, x2, y2` with the +1 pixel convention.
fn iou_plus1(a: [f32; 4], b: [f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let inter = w * h;
    let area_a = (a[2] - a[0] + 1.0) * (a[3] - a[1] + 1.0);
    let area_b = (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    inter / (area_a + area_b - inter)
}

fn quad_bounds(q: &[f32; 8]) -> [f32; 4] {
    let xs = [q[0], q[2], q[4], q[6]];
    let ys = [q[1], q[3], q[5], q[7]];
    [
        xs.into_iter().fold(f32::INFINITY, f32::min),
        ys.into_iter().fold(f32::INFINITY, f32::min),
        xs.into_iter().fold(f32::NEG_INFINITY, f32::max),
        ys.into_iter().fold(f32::NEG_INFINITY, f32::max),
    ]
}

/// Encodes ground-truth quads (`x0, y0, …, x3, y3` in input pixels; `ignore[i]` marks
/// don't-care regions, whose anchors are ignored rather than background) against `anchors`.
///
/// Each anchor takes the ground truth of highest IoU (the first on ties, as torch's `max`);
/// labels: IoU ≥ `pos_iou` → 1, `neg_iou` ≤ IoU < `pos_iou` → -1, below → 0. Anchors whose best
/// match is a don't-care region are ignored when their IoU reaches `neg_iou`.
pub fn encode(
    anchors: &[Anchor],
    quads: &[[f32; 8]],
    ignore: &[bool],
    m: &MatchSpec,
    reg: Regression,
) -> Targets {
    let width = reg.width();
    let n = anchors.len();
    let mut labels = vec![0i8; n];
    let mut offsets = vec![0f32; n * width];
    if quads.is_empty() {
        return Targets { labels, offsets };
    }
    let quads: Vec<[f32; 8]> = quads
        .iter()
        .map(|&q| match m.vertex_order {
            VertexOrder::Clockwise => order_clockwise(q),
            VertexOrder::Keep => q,
        })
        .collect();
    let rects: Vec<[f32; 4]> = quads.iter().map(quad_bounds).collect();
    let mut best_anchor = vec![(f32::NEG_INFINITY, 0usize); quads.len()];
    let mut matched = vec![(0f32, 0usize); n];
    for (i, a) in anchors.iter().enumerate() {
        let ab = [
            a.cx - a.w / 2.0,
            a.cy - a.h / 2.0,
            a.cx + a.w / 2.0,
            a.cy + a.h / 2.0,
        ];
        let mut best = (f32::NEG_INFINITY, 0usize);
        for (g, r) in rects.iter().enumerate() {
            let iou = iou_plus1(ab, *r);
            if iou > best.0 {
                best = (iou, g);
            }
            if iou > best_anchor[g].0 {
                best_anchor[g] = (iou, i);
            }
        }
        matched[i] = best;
    }
    if m.force_best {
        for (g, &(iou, i)) in best_anchor.iter().enumerate() {
            if iou > 0.0 {
                matched[i] = (m.pos_iou.max(iou), g);
            }
        }
    }
    for (i, a) in anchors.iter().enumerate() {
        let (iou, g) = matched[i];
        labels[i] = if iou >= m.pos_iou {
            1
        } else if iou >= m.neg_iou {
            -1
        } else {
            0
        };
        if labels[i] == 1 && ignore.get(g).copied().unwrap_or(false) {
            labels[i] = -1;
        }
        let o = &mut offsets[i * width..(i + 1) * width];
        let aq = a.quad();
        let q = &quads[g];
        let at = reg.quad_at();
        for k in 0..4 {
            o[at + 2 * k] = (q[2 * k] - aq[2 * k]) / a.w;
            o[at + 2 * k + 1] = (q[2 * k + 1] - aq[2 * k + 1]) / a.h;
        }
        if reg == Regression::RectQuad {
            let r = rects[g];
            let (gw, gh) = ((r[2] - r[0]).max(1.0), (r[3] - r[1]).max(1.0));
            o[0] = ((r[0] + r[2]) / 2.0 - a.cx) / a.w;
            o[1] = ((r[1] + r[3]) / 2.0 - a.cy) / a.h;
            o[2] = (gw / a.w).ln();
            o[3] = (gh / a.h).ln();
        }
    }
    Targets { labels, offsets }
}

/// Decodes one anchor's predicted offsets (`reg.width()` numbers) to a quad in input pixels,
/// clipped to `[0, w] × [0, h]`.
pub fn decode_quad(a: &Anchor, off: &[f32], reg: Regression, w: f32, h: f32) -> [f32; 8] {
    let aq = a.quad();
    let at = reg.quad_at();
    let mut q = [0f32; 8];
    for k in 0..4 {
        q[2 * k] = (aq[2 * k] + a.w * off[at + 2 * k]).clamp(0.0, w);
        q[2 * k + 1] = (aq[2 * k + 1] + a.h * off[at + 2 * k + 1]).clamp(0.0, h);
    }
    q
}

/// Axis-aligned box `x1, y1, x2, y2` of a decoded detection: the rectangle branch in `4+8`
/// mode, otherwise the quad's bounds.
pub fn decode_rect(a: &Anchor, off: &[f32], quad: &[f32; 8], reg: Regression) -> [f32; 4] {
    match reg {
        Regression::Quad => quad_bounds(quad),
        Regression::RectQuad => {
            let cx = a.cx + off[0] * a.w;
            let cy = a.cy + off[1] * a.h;
            let (bw, bh) = (a.w * off[2].min(8.0).exp(), a.h * off[3].min(8.0).exp());
            [cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn anchor_count_and_layout_follow_the_pyramid() {
        let spec = AnchorSpec::default();
        // 100 x 72: P2 18x25, P3 9x13, P4 5x7, P5 3x4, P6 2x2, P7 1x1 cells.
        let sizes = spec.map_sizes(100, 72);
        assert_eq!(
            sizes,
            vec![[18, 25], [9, 13], [5, 7], [3, 4], [2, 2], [1, 1]]
        );
        let a = spec.anchors(100, 72);
        let cells: usize = sizes.iter().map(|[h, w]| h * w).sum();
        assert_eq!(a.len(), cells * 14);
        // First cell of P2: shift 0 at the cell centre, shift 1 half a cell to the right.
        let g = 100.0f32 / 25.0;
        assert_eq!((a[0].cx, a[0].cy), (0.5 * g, 0.5 * 72.0 / 18.0));
        assert_eq!(a[7].cx, 1.0 * g);
        assert_eq!((a[0].w, a[0].h), (16.0, 16.0));
        // Ratio 2: w = 16·√2, h = 16/√2.
        assert!((a[1].w - 16.0 * 2f32.sqrt()).abs() < 1e-4);
        assert!((a[1].h - 16.0 / 2f32.sqrt()).abs() < 1e-4);
        let v = AnchorSpec {
            offset: AnchorOffset::Vertical,
            ..spec
        }
        .anchors(100, 72);
        assert_eq!((v[7].cx, v[7].cy), (0.5 * g, 72.0 / 18.0));
    }

    #[test]
    fn encoding_labels_by_iou_and_roundtrips_through_decoding() {
        let spec = AnchorSpec::default();
        let anchors = spec.anchors(64, 64);
        let q = [10.0, 20.0, 42.0, 18.0, 43.0, 30.0, 11.0, 32.0];
        for reg in [Regression::Quad, Regression::RectQuad] {
            let t = encode(&anchors, &[q], &[false], &MatchSpec::default(), reg);
            assert!(t.positives() > 0);
            assert!(t.labels.contains(&-1) && t.labels.contains(&0));
            for (i, a) in anchors.iter().enumerate() {
                let off = &t.offsets[i * reg.width()..(i + 1) * reg.width()];
                let back = decode_quad(a, off, reg, 1e6, 1e6);
                if t.labels[i] == 1 {
                    for k in 0..8 {
                        assert!((back[k] - q[k]).abs() < 1e-3, "{back:?} vs {q:?}");
                    }
                }
            }
        }
        // A don't-care region makes its matches ignored, never positive.
        let t = encode(
            &anchors,
            &[q],
            &[true],
            &MatchSpec::default(),
            Regression::Quad,
        );
        assert_eq!(t.positives(), 0);
        assert!(t.labels.contains(&-1));
    }

    #[test]
    fn forced_best_match_gives_every_box_an_anchor() {
        let anchors = AnchorSpec::default().anchors(64, 64);
        // A thin 2-pixel box: no anchor reaches IoU 0.5.
        let q = [30.0, 30.0, 31.0, 30.0, 31.0, 31.0, 30.0, 31.0];
        let m = MatchSpec::default();
        assert_eq!(
            encode(&anchors, &[q], &[false], &m, Regression::Quad).positives(),
            0
        );
        let forced = MatchSpec {
            force_best: true,
            ..m
        };
        assert_eq!(
            encode(&anchors, &[q], &[false], &forced, Regression::Quad).positives(),
            1
        );
    }

    proptest! {
        #[test]
        fn clockwise_order_is_a_rotation_of_the_clockwise_polygon(
            cx in 20f32..80.0, cy in 20f32..80.0, w in 4f32..40.0, h in 4f32..20.0,
            angle in -1.5f32..1.5, start in 0usize..4, reverse in any::<bool>(),
        ) {
            let (s, c) = angle.sin_cos();
            let mut pts: Vec<(f32, f32)> = [(-w, -h), (w, -h), (w, h), (-w, h)]
                .iter()
                .map(|&(x, y)| (cx + x * c - y * s, cy + x * s + y * c))
                .collect();
            pts.rotate_left(start);
            if reverse {
                pts.reverse();
            }
            let q: [f32; 8] = std::array::from_fn(|i| if i % 2 == 0 { pts[i / 2].0 } else { pts[i / 2].1 });
            let o = order_clockwise(q);
            let twice: f64 = (0..4).map(|i| {
                let j = (i + 1) % 4;
                o[2 * i] as f64 * o[2 * j + 1] as f64 - o[2 * j] as f64 * o[2 * i + 1] as f64
            }).sum();
            prop_assert!(twice > 0.0);
            // Same vertex set.
            for k in 0..4 {
                prop_assert!(pts.iter().any(|p| p.0 == o[2 * k] && p.1 == o[2 * k + 1]));
            }
            // Ordering is idempotent.
            prop_assert_eq!(order_clockwise(o), o);
        }
    }
}
