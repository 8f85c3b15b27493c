//! A safe-Rust port of the part of Clipper 6.4.2 (Angus Johnson, Boost licence) that
//! `ClipperOffset` runs to resolve its raw offset paths: the Vatti sweep of `Clipper::Execute`
//! for a union of closed subject paths under the positive or negative fill rule, with
//! `ReverseSolution` and without `StrictlySimple` or `PreserveCollinear` (the options
//! `ClipperOffset` leaves at their defaults).
//!
//! The port follows the C++ function by function (names in `snake_case`), with the linked
//! lists of edges and output points as indices into arenas. Everything that decides which
//! vertices come out is kept: the edge and local-minima construction (`AddPath`,
//! `ProcessBound`), the two `std::sort` calls (reproduced with libstdc++'s introsort, since the
//! order of equal keys depends on it), the horizontal-edge and intersection handling, the
//! joins, `FixupOutPolygon` and `BuildResult`. Open paths, clip paths, even-odd filling and
//! the other clip types are left out: `ClipperOffset` never adds them, so with subject paths
//! only the second winding count stays 0 and those branches are unreachable.
//!
//! Coordinates are small enough here (pixels) that Clipper's 128-bit slope tests and its
//! 64-bit ones agree; the port computes them in `i128` throughout.

use crate::IntPoint;

const NIL: usize = usize::MAX;
const HORIZONTAL: f64 = -1.0e40;
const UNASSIGNED: isize = -1;

/// Clipper's `pftPositive` / `pftNegative` fill rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FillRule {
    Positive,
    Negative,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    RightToLeft,
    LeftToRight,
}

/// The sweep gave up (Clipper throws and `Execute` returns an empty solution).
#[derive(Debug)]
struct Failed;

#[derive(Clone, Debug)]
struct Edge {
    bot: IntPoint,
    curr: IntPoint,
    top: IntPoint,
    dx: f64,
    side: Side,
    wind_delta: i32,
    wind_cnt: i32,
    out_idx: isize,
    next: usize,
    prev: usize,
    next_in_lml: usize,
    next_in_ael: usize,
    prev_in_ael: usize,
    next_in_sel: usize,
    prev_in_sel: usize,
}

#[derive(Clone, Copy, Debug)]
struct LocalMinimum {
    y: i64,
    left: usize,
    right: usize,
}

#[derive(Clone, Debug)]
struct OutRec {
    idx: usize,
    is_hole: bool,
    first_left: usize,
    pts: usize,
    bottom_pt: usize,
}

#[derive(Clone, Copy, Debug)]
struct OutPt {
    idx: usize,
    pt: IntPoint,
    next: usize,
    prev: usize,
}

#[derive(Clone, Copy, Debug)]
struct Join {
    op1: usize,
    op2: usize,
    off_pt: IntPoint,
}

#[derive(Clone, Copy, Debug)]
struct IntersectNode {
    e1: usize,
    e2: usize,
    pt: IntPoint,
}

/// Clipper's `Round`: half away from zero, then truncation to an integer.
pub(crate) fn round(v: f64) -> i64 {
    if v < 0.0 {
        (v - 0.5) as i64
    } else {
        (v + 0.5) as i64
    }
}

fn ip(x: i64, y: i64) -> IntPoint {
    IntPoint::new(x, y)
}

fn slopes_equal3(p1: IntPoint, p2: IntPoint, p3: IntPoint) -> bool {
    (p1.y - p2.y) as i128 * (p2.x - p3.x) as i128 == (p1.x - p2.x) as i128 * (p2.y - p3.y) as i128
}

fn slopes_equal4(p1: IntPoint, p2: IntPoint, p3: IntPoint, p4: IntPoint) -> bool {
    (p1.y - p2.y) as i128 * (p3.x - p4.x) as i128 == (p1.x - p2.x) as i128 * (p3.y - p4.y) as i128
}

fn get_dx(p1: IntPoint, p2: IntPoint) -> f64 {
    if p1.y == p2.y {
        HORIZONTAL
    } else {
        (p2.x - p1.x) as f64 / (p2.y - p1.y) as f64
    }
}

fn horz_segments_overlap(mut a1: i64, mut a2: i64, mut b1: i64, mut b2: i64) -> bool {
    if a1 > a2 {
        std::mem::swap(&mut a1, &mut a2);
    }
    if b1 > b2 {
        std::mem::swap(&mut b1, &mut b2);
    }
    a1 < b2 && b1 < a2
}

fn get_overlap(a1: i64, a2: i64, b1: i64, b2: i64) -> Option<(i64, i64)> {
    let (left, right) = if a1 < a2 {
        if b1 < b2 {
            (a1.max(b1), a2.min(b2))
        } else {
            (a1.max(b2), a2.min(b1))
        }
    } else if b1 < b2 {
        (a2.max(b1), a1.min(b2))
    } else {
        (a2.max(b2), a1.min(b1))
    };
    (left < right).then_some((left, right))
}

/// Signed area of a closed path with Clipper's sign convention (`ClipperLib::Area`).
pub(crate) fn path_area(p: &[IntPoint]) -> f64 {
    let n = p.len();
    if n < 3 {
        return 0.0;
    }
    let mut a = 0.0;
    let mut j = n - 1;
    for i in 0..n {
        a += (p[j].x as f64 + p[i].x as f64) * (p[j].y as f64 - p[i].y as f64);
        j = i;
    }
    -a * 0.5
}

/// libstdc++'s `std::sort` (introsort, threshold 16, median-of-three pivot, heap-sort fallback,
/// final insertion sort), so that elements with equal keys end up in the order the C++ leaves
/// them in.
pub(crate) fn std_sort<T: Copy>(v: &mut [T], less: &impl Fn(&T, &T) -> bool) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let depth = 2 * (usize::BITS - 1 - n.leading_zeros()) as usize;
    introsort_loop(v, 0, n, depth, less);
    if n > 16 {
        insertion_sort(v, 0, 16, less);
        for i in 16..n {
            unguarded_linear_insert(v, i, less);
        }
    } else {
        insertion_sort(v, 0, n, less);
    }
}

fn introsort_loop<T: Copy>(
    v: &mut [T],
    first: usize,
    mut last: usize,
    mut depth: usize,
    less: &impl Fn(&T, &T) -> bool,
) {
    while last - first > 16 {
        if depth == 0 {
            heap_sort(&mut v[first..last], less);
            return;
        }
        depth -= 1;
        let mid = first + (last - first) / 2;
        move_median_to_first(v, first, first + 1, mid, last - 1, less);
        let cut = unguarded_partition(v, first + 1, last, first, less);
        introsort_loop(v, cut, last, depth, less);
        last = cut;
    }
}

fn move_median_to_first<T: Copy>(
    v: &mut [T],
    result: usize,
    a: usize,
    b: usize,
    c: usize,
    less: &impl Fn(&T, &T) -> bool,
) {
    let pick = if less(&v[a], &v[b]) {
        if less(&v[b], &v[c]) {
            b
        } else if less(&v[a], &v[c]) {
            c
        } else {
            a
        }
    } else if less(&v[a], &v[c]) {
        a
    } else if less(&v[b], &v[c]) {
        c
    } else {
        b
    };
    v.swap(result, pick);
}

fn unguarded_partition<T: Copy>(
    v: &mut [T],
    mut first: usize,
    mut last: usize,
    pivot: usize,
    less: &impl Fn(&T, &T) -> bool,
) -> usize {
    loop {
        while less(&v[first], &v[pivot]) {
            first += 1;
        }
        last -= 1;
        while less(&v[pivot], &v[last]) {
            last -= 1;
        }
        if first >= last {
            return first;
        }
        v.swap(first, last);
        first += 1;
    }
}

fn insertion_sort<T: Copy>(v: &mut [T], first: usize, last: usize, less: &impl Fn(&T, &T) -> bool) {
    for i in first + 1..last {
        if less(&v[i], &v[first]) {
            let val = v[i];
            v.copy_within(first..i, first + 1);
            v[first] = val;
        } else {
            unguarded_linear_insert(v, i, less);
        }
    }
}

fn unguarded_linear_insert<T: Copy>(v: &mut [T], mut last: usize, less: &impl Fn(&T, &T) -> bool) {
    let val = v[last];
    let mut next = last - 1;
    while less(&val, &v[next]) {
        v[last] = v[next];
        last = next;
        next -= 1;
    }
    v[last] = val;
}

fn heap_sort<T: Copy>(v: &mut [T], less: &impl Fn(&T, &T) -> bool) {
    let len = v.len();
    if len >= 2 {
        let mut parent = (len - 2) / 2;
        loop {
            let value = v[parent];
            adjust_heap(v, parent, len, value, less);
            if parent == 0 {
                break;
            }
            parent -= 1;
        }
    }
    let mut last = len;
    while last > 1 {
        last -= 1;
        let value = v[last];
        v[last] = v[0];
        adjust_heap(v, 0, last, value, less);
    }
}

fn adjust_heap<T: Copy>(
    v: &mut [T],
    mut hole: usize,
    len: usize,
    value: T,
    less: &impl Fn(&T, &T) -> bool,
) {
    let top = hole;
    let mut second = hole;
    while second < (len - 1) / 2 {
        second = 2 * (second + 1);
        if less(&v[second], &v[second - 1]) {
            second -= 1;
        }
        v[hole] = v[second];
        hole = second;
    }
    if len & 1 == 0 && second == (len - 2) / 2 {
        second = 2 * (second + 1);
        v[hole] = v[second - 1];
        hole = second - 1;
    }
    // push_heap
    let mut parent = hole.wrapping_sub(1) / 2;
    while hole > top && less(&v[parent], &value) {
        v[hole] = v[parent];
        hole = parent;
        parent = hole.wrapping_sub(1) / 2;
    }
    v[hole] = value;
}

/// The subset of `ClipperLib::Clipper` that `ClipperOffset::Execute` uses.
#[derive(Default)]
pub(crate) struct Clipper {
    edges: Vec<Edge>,
    minima: Vec<LocalMinimum>,
    current_lm: usize,
    scanbeam: std::collections::BinaryHeap<i64>,
    active_edges: usize,
    sorted_edges: usize,
    out_recs: Vec<OutRec>,
    out_pts: Vec<OutPt>,
    joins: Vec<Join>,
    ghost_joins: Vec<Join>,
    intersections: Vec<IntersectNode>,
    fill: Option<FillRule>,
    reverse_output: bool,
}

impl Clipper {
    /// An empty clipper with room for paths of `vertices` vertices in all (a hint).
    pub(crate) fn with_capacity(vertices: usize) -> Self {
        Self {
            edges: Vec::with_capacity(vertices),
            out_pts: Vec::with_capacity(vertices + vertices / 2),
            scanbeam: std::collections::BinaryHeap::with_capacity(vertices),
            minima: Vec::with_capacity(8),
            out_recs: Vec::with_capacity(4),
            active_edges: NIL,
            sorted_edges: NIL,
            ..Self::default()
        }
    }

    // ----- edges -------------------------------------------------------------------------

    fn is_horizontal(&self, e: usize) -> bool {
        self.edges[e].dx == HORIZONTAL
    }

    fn top_x(&self, e: usize, y: i64) -> i64 {
        let e = &self.edges[e];
        if y == e.top.y {
            e.top.x
        } else {
            e.bot.x + round(e.dx * (y - e.bot.y) as f64)
        }
    }

    fn slopes_equal_edges(&self, e1: usize, e2: usize) -> bool {
        let (a, b) = (&self.edges[e1], &self.edges[e2]);
        (a.top.y - a.bot.y) as i128 * (b.top.x - b.bot.x) as i128
            == (a.top.x - a.bot.x) as i128 * (b.top.y - b.bot.y) as i128
    }

    fn init_edge2(&mut self, e: usize) {
        let next_curr = self.edges[self.edges[e].next].curr;
        let edge = &mut self.edges[e];
        if edge.curr.y >= next_curr.y {
            edge.bot = edge.curr;
            edge.top = next_curr;
        } else {
            edge.top = edge.curr;
            edge.bot = next_curr;
        }
        let dy = edge.top.y - edge.bot.y;
        edge.dx = if dy == 0 {
            HORIZONTAL
        } else {
            (edge.top.x - edge.bot.x) as f64 / dy as f64
        };
    }

    fn remove_edge(&mut self, e: usize) -> usize {
        let (prev, next) = (self.edges[e].prev, self.edges[e].next);
        self.edges[prev].next = next;
        self.edges[next].prev = prev;
        self.edges[e].prev = NIL;
        next
    }

    fn reverse_horizontal(&mut self, e: usize) {
        let edge = &mut self.edges[e];
        std::mem::swap(&mut edge.top.x, &mut edge.bot.x);
    }

    fn find_next_loc_min(&self, mut e: usize) -> usize {
        let ed = &self.edges;
        loop {
            while ed[e].bot != ed[ed[e].prev].bot || ed[e].curr == ed[e].top {
                e = ed[e].next;
            }
            if !self.is_horizontal(e) && !self.is_horizontal(ed[e].prev) {
                break;
            }
            while self.is_horizontal(ed[e].prev) {
                e = ed[e].prev;
            }
            let e2 = e;
            while self.is_horizontal(e) {
                e = ed[e].next;
            }
            if ed[e].top.y == ed[ed[e].prev].bot.y {
                continue;
            }
            if ed[ed[e2].prev].bot.x < ed[e].bot.x {
                e = e2;
            }
            break;
        }
        e
    }

    fn process_bound(&mut self, e0: usize, next_is_forward: bool) -> usize {
        let mut e = e0;
        let mut result = e0;
        if self.is_horizontal(e) {
            let e_start = if next_is_forward {
                self.edges[e].prev
            } else {
                self.edges[e].next
            };
            if self.is_horizontal(e_start) {
                if self.edges[e_start].bot.x != self.edges[e].bot.x
                    && self.edges[e_start].top.x != self.edges[e].bot.x
                {
                    self.reverse_horizontal(e);
                }
            } else if self.edges[e_start].bot.x != self.edges[e].bot.x {
                self.reverse_horizontal(e);
            }
        }
        let e_start = e;
        if next_is_forward {
            while self.edges[result].top.y == self.edges[self.edges[result].next].bot.y {
                result = self.edges[result].next;
            }
            if self.is_horizontal(result) {
                let mut horz = result;
                while self.is_horizontal(self.edges[horz].prev) {
                    horz = self.edges[horz].prev;
                }
                let hp = self.edges[horz].prev;
                if self.edges[hp].top.x > self.edges[self.edges[result].next].top.x {
                    result = hp;
                }
            }
            while e != result {
                self.edges[e].next_in_lml = self.edges[e].next;
                if self.is_horizontal(e)
                    && e != e_start
                    && self.edges[e].bot.x != self.edges[self.edges[e].prev].top.x
                {
                    self.reverse_horizontal(e);
                }
                e = self.edges[e].next;
            }
            if self.is_horizontal(e)
                && e != e_start
                && self.edges[e].bot.x != self.edges[self.edges[e].prev].top.x
            {
                self.reverse_horizontal(e);
            }
            result = self.edges[result].next;
        } else {
            while self.edges[result].top.y == self.edges[self.edges[result].prev].bot.y {
                result = self.edges[result].prev;
            }
            if self.is_horizontal(result) {
                let mut horz = result;
                while self.is_horizontal(self.edges[horz].next) {
                    horz = self.edges[horz].next;
                }
                let hn = self.edges[horz].next;
                if self.edges[hn].top.x >= self.edges[self.edges[result].prev].top.x {
                    result = hn;
                }
            }
            while e != result {
                self.edges[e].next_in_lml = self.edges[e].prev;
                if self.is_horizontal(e)
                    && e != e_start
                    && self.edges[e].bot.x != self.edges[self.edges[e].next].top.x
                {
                    self.reverse_horizontal(e);
                }
                e = self.edges[e].prev;
            }
            if self.is_horizontal(e)
                && e != e_start
                && self.edges[e].bot.x != self.edges[self.edges[e].next].top.x
            {
                self.reverse_horizontal(e);
            }
            result = self.edges[result].prev;
        }
        result
    }

    /// `ClipperBase::AddPath(path, ptSubject, closed = true)`.
    pub(crate) fn add_path(&mut self, pg: &[IntPoint]) -> bool {
        if pg.is_empty() {
            return false;
        }
        let mut high = pg.len() - 1;
        while high > 0 && pg[high] == pg[0] {
            high -= 1;
        }
        while high > 0 && pg[high] == pg[high - 1] {
            high -= 1;
        }
        if high < 2 {
            return false;
        }
        let base = self.edges.len();
        for (i, &p) in pg[..=high].iter().enumerate() {
            self.edges.push(Edge {
                bot: IntPoint::default(),
                curr: p,
                top: IntPoint::default(),
                dx: 0.0,
                side: Side::Left,
                wind_delta: 0,
                wind_cnt: 0,
                out_idx: UNASSIGNED,
                next: if i == high { base } else { base + i + 1 },
                prev: if i == 0 { base + high } else { base + i - 1 },
                next_in_lml: NIL,
                next_in_ael: NIL,
                prev_in_ael: NIL,
                next_in_sel: NIL,
                prev_in_sel: NIL,
            });
        }

        // Remove duplicate vertices and collinear edges.
        let mut e = base;
        let mut e_start = base;
        let mut loop_stop = base;
        loop {
            let (prev, next) = (self.edges[e].prev, self.edges[e].next);
            if self.edges[e].curr == self.edges[next].curr {
                if e == next {
                    break;
                }
                if e == e_start {
                    e_start = next;
                }
                e = self.remove_edge(e);
                loop_stop = e;
                continue;
            }
            if prev == next {
                break;
            } else if slopes_equal3(
                self.edges[prev].curr,
                self.edges[e].curr,
                self.edges[next].curr,
            ) {
                if e == e_start {
                    e_start = next;
                }
                e = self.remove_edge(e);
                e = self.edges[e].prev;
                loop_stop = e;
                continue;
            }
            e = next;
            if e == loop_stop {
                break;
            }
        }
        if self.edges[e].prev == self.edges[e].next {
            self.edges.truncate(base);
            return false;
        }

        // Second stage of edge initialisation.
        let mut is_flat = true;
        e = e_start;
        loop {
            self.init_edge2(e);
            e = self.edges[e].next;
            if is_flat && self.edges[e].curr.y != self.edges[e_start].curr.y {
                is_flat = false;
            }
            if e == e_start {
                break;
            }
        }
        if is_flat {
            self.edges.truncate(base);
            return false;
        }

        // Add the bounds to the local minima list.
        let ep = self.edges[e].prev;
        if self.edges[ep].bot == self.edges[ep].top {
            e = self.edges[e].next;
        }
        let mut e_min = NIL;
        loop {
            e = self.find_next_loc_min(e);
            if e == e_min {
                break;
            } else if e_min == NIL {
                e_min = e;
            }
            let y = self.edges[e].bot.y;
            let ep = self.edges[e].prev;
            let (left, right, left_is_forward) = if self.edges[e].dx < self.edges[ep].dx {
                (ep, e, false)
            } else {
                (e, ep, true)
            };
            let wd = if self.edges[left].next == right {
                -1
            } else {
                1
            };
            self.edges[left].wind_delta = wd;
            self.edges[right].wind_delta = -wd;
            e = self.process_bound(left, left_is_forward);
            let e2 = self.process_bound(right, !left_is_forward);
            self.minima.push(LocalMinimum { y, left, right });
            if !left_is_forward {
                e = e2;
            }
        }
        true
    }

    /// `ClipperBase::GetBounds`: (left, top, right, bottom).
    pub(crate) fn bounds(&self) -> (i64, i64, i64, i64) {
        let Some(first) = self.minima.first() else {
            return (0, 0, 0, 0);
        };
        let b = self.edges[first.left].bot;
        let (mut left, mut top, mut right, mut bottom) = (b.x, b.y, b.x, b.y);
        for lm in &self.minima {
            bottom = bottom.max(self.edges[lm.left].bot.y);
            let mut e = lm.left;
            loop {
                let bottom_e = e;
                while self.edges[e].next_in_lml != NIL {
                    left = left.min(self.edges[e].bot.x);
                    right = right.max(self.edges[e].bot.x);
                    e = self.edges[e].next_in_lml;
                }
                let ed = &self.edges[e];
                left = left.min(ed.bot.x).min(ed.top.x);
                right = right.max(ed.bot.x).max(ed.top.x);
                top = top.min(ed.top.y);
                if bottom_e == lm.left {
                    e = lm.right;
                } else {
                    break;
                }
            }
        }
        (left, top, right, bottom)
    }

    fn reset(&mut self) {
        self.current_lm = 0;
        if self.minima.is_empty() {
            return;
        }
        std_sort(&mut self.minima, &|a: &LocalMinimum, b: &LocalMinimum| {
            b.y < a.y
        });
        self.scanbeam.clear();
        for i in 0..self.minima.len() {
            let lm = self.minima[i];
            self.scanbeam.push(lm.y);
            for (e, side) in [(lm.left, Side::Left), (lm.right, Side::Right)] {
                let edge = &mut self.edges[e];
                edge.curr = edge.bot;
                edge.side = side;
                edge.out_idx = UNASSIGNED;
            }
        }
        self.active_edges = NIL;
        self.current_lm = 0;
    }

    fn pop_scanbeam(&mut self) -> Option<i64> {
        let y = self.scanbeam.pop()?;
        while self.scanbeam.peek() == Some(&y) {
            self.scanbeam.pop();
        }
        Some(y)
    }

    fn local_minima_pending(&self) -> bool {
        self.current_lm < self.minima.len()
    }

    fn create_out_rec(&mut self) -> usize {
        let idx = self.out_recs.len();
        self.out_recs.push(OutRec {
            idx,
            is_hole: false,
            first_left: NIL,
            pts: NIL,
            bottom_pt: NIL,
        });
        idx
    }

    fn delete_from_ael(&mut self, e: usize) {
        let (prev, next) = (self.edges[e].prev_in_ael, self.edges[e].next_in_ael);
        if prev == NIL && next == NIL && e != self.active_edges {
            return;
        }
        if prev != NIL {
            self.edges[prev].next_in_ael = next;
        } else {
            self.active_edges = next;
        }
        if next != NIL {
            self.edges[next].prev_in_ael = prev;
        }
        self.edges[e].next_in_ael = NIL;
        self.edges[e].prev_in_ael = NIL;
    }

    fn swap_positions_in_ael(&mut self, e1: usize, e2: usize) {
        if self.edges[e1].next_in_ael == self.edges[e1].prev_in_ael
            || self.edges[e2].next_in_ael == self.edges[e2].prev_in_ael
        {
            return;
        }
        if self.edges[e1].next_in_ael == e2 {
            let next = self.edges[e2].next_in_ael;
            if next != NIL {
                self.edges[next].prev_in_ael = e1;
            }
            let prev = self.edges[e1].prev_in_ael;
            if prev != NIL {
                self.edges[prev].next_in_ael = e2;
            }
            self.edges[e2].prev_in_ael = prev;
            self.edges[e2].next_in_ael = e1;
            self.edges[e1].prev_in_ael = e2;
            self.edges[e1].next_in_ael = next;
        } else if self.edges[e2].next_in_ael == e1 {
            let next = self.edges[e1].next_in_ael;
            if next != NIL {
                self.edges[next].prev_in_ael = e2;
            }
            let prev = self.edges[e2].prev_in_ael;
            if prev != NIL {
                self.edges[prev].next_in_ael = e1;
            }
            self.edges[e1].prev_in_ael = prev;
            self.edges[e1].next_in_ael = e2;
            self.edges[e2].prev_in_ael = e1;
            self.edges[e2].next_in_ael = next;
        } else {
            let next = self.edges[e1].next_in_ael;
            let prev = self.edges[e1].prev_in_ael;
            self.edges[e1].next_in_ael = self.edges[e2].next_in_ael;
            let n1 = self.edges[e1].next_in_ael;
            if n1 != NIL {
                self.edges[n1].prev_in_ael = e1;
            }
            self.edges[e1].prev_in_ael = self.edges[e2].prev_in_ael;
            let p1 = self.edges[e1].prev_in_ael;
            if p1 != NIL {
                self.edges[p1].next_in_ael = e1;
            }
            self.edges[e2].next_in_ael = next;
            if next != NIL {
                self.edges[next].prev_in_ael = e2;
            }
            self.edges[e2].prev_in_ael = prev;
            if prev != NIL {
                self.edges[prev].next_in_ael = e2;
            }
        }
        if self.edges[e1].prev_in_ael == NIL {
            self.active_edges = e1;
        } else if self.edges[e2].prev_in_ael == NIL {
            self.active_edges = e2;
        }
    }

    fn swap_positions_in_sel(&mut self, e1: usize, e2: usize) {
        if self.edges[e1].next_in_sel == NIL && self.edges[e1].prev_in_sel == NIL {
            return;
        }
        if self.edges[e2].next_in_sel == NIL && self.edges[e2].prev_in_sel == NIL {
            return;
        }
        if self.edges[e1].next_in_sel == e2 {
            let next = self.edges[e2].next_in_sel;
            if next != NIL {
                self.edges[next].prev_in_sel = e1;
            }
            let prev = self.edges[e1].prev_in_sel;
            if prev != NIL {
                self.edges[prev].next_in_sel = e2;
            }
            self.edges[e2].prev_in_sel = prev;
            self.edges[e2].next_in_sel = e1;
            self.edges[e1].prev_in_sel = e2;
            self.edges[e1].next_in_sel = next;
        } else if self.edges[e2].next_in_sel == e1 {
            let next = self.edges[e1].next_in_sel;
            if next != NIL {
                self.edges[next].prev_in_sel = e2;
            }
            let prev = self.edges[e2].prev_in_sel;
            if prev != NIL {
                self.edges[prev].next_in_sel = e1;
            }
            self.edges[e1].prev_in_sel = prev;
            self.edges[e1].next_in_sel = e2;
            self.edges[e2].prev_in_sel = e1;
            self.edges[e2].next_in_sel = next;
        } else {
            let next = self.edges[e1].next_in_sel;
            let prev = self.edges[e1].prev_in_sel;
            self.edges[e1].next_in_sel = self.edges[e2].next_in_sel;
            let n1 = self.edges[e1].next_in_sel;
            if n1 != NIL {
                self.edges[n1].prev_in_sel = e1;
            }
            self.edges[e1].prev_in_sel = self.edges[e2].prev_in_sel;
            let p1 = self.edges[e1].prev_in_sel;
            if p1 != NIL {
                self.edges[p1].next_in_sel = e1;
            }
            self.edges[e2].next_in_sel = next;
            if next != NIL {
                self.edges[next].prev_in_sel = e2;
            }
            self.edges[e2].prev_in_sel = prev;
            if prev != NIL {
                self.edges[prev].next_in_sel = e2;
            }
        }
        if self.edges[e1].prev_in_sel == NIL {
            self.sorted_edges = e1;
        } else if self.edges[e2].prev_in_sel == NIL {
            self.sorted_edges = e2;
        }
    }

    fn update_edge_into_ael(&mut self, e: usize) -> Result<usize, Failed> {
        let n = self.edges[e].next_in_lml;
        if n == NIL {
            return Err(Failed);
        }
        let (prev, next) = (self.edges[e].prev_in_ael, self.edges[e].next_in_ael);
        let (out_idx, side, wind_delta, wind_cnt) = {
            let old = &self.edges[e];
            (old.out_idx, old.side, old.wind_delta, old.wind_cnt)
        };
        {
            let ne = &mut self.edges[n];
            ne.out_idx = out_idx;
            ne.side = side;
            ne.wind_delta = wind_delta;
            ne.wind_cnt = wind_cnt;
        }
        if prev != NIL {
            self.edges[prev].next_in_ael = n;
        } else {
            self.active_edges = n;
        }
        if next != NIL {
            self.edges[next].prev_in_ael = n;
        }
        let ne = &mut self.edges[n];
        ne.curr = ne.bot;
        ne.prev_in_ael = prev;
        ne.next_in_ael = next;
        if !self.is_horizontal(n) {
            let y = self.edges[n].top.y;
            self.scanbeam.push(y);
        }
        Ok(n)
    }

    fn add_edge_to_sel(&mut self, e: usize) {
        if self.sorted_edges == NIL {
            self.sorted_edges = e;
            self.edges[e].prev_in_sel = NIL;
            self.edges[e].next_in_sel = NIL;
        } else {
            self.edges[e].next_in_sel = self.sorted_edges;
            self.edges[e].prev_in_sel = NIL;
            let s = self.sorted_edges;
            self.edges[s].prev_in_sel = e;
            self.sorted_edges = e;
        }
    }

    fn delete_from_sel(&mut self, e: usize) {
        let (prev, next) = (self.edges[e].prev_in_sel, self.edges[e].next_in_sel);
        if prev == NIL && next == NIL && e != self.sorted_edges {
            return;
        }
        if prev != NIL {
            self.edges[prev].next_in_sel = next;
        } else {
            self.sorted_edges = next;
        }
        if next != NIL {
            self.edges[next].prev_in_sel = prev;
        }
        self.edges[e].next_in_sel = NIL;
        self.edges[e].prev_in_sel = NIL;
    }

    fn copy_ael_to_sel(&mut self) {
        let mut e = self.active_edges;
        self.sorted_edges = e;
        while e != NIL {
            self.edges[e].prev_in_sel = self.edges[e].prev_in_ael;
            self.edges[e].next_in_sel = self.edges[e].next_in_ael;
            e = self.edges[e].next_in_ael;
        }
    }

    fn e2_inserts_before_e1(&self, e1: usize, e2: usize) -> bool {
        let (a, b) = (&self.edges[e1], &self.edges[e2]);
        if b.curr.x == a.curr.x {
            if b.top.y > a.top.y {
                b.top.x < self.top_x(e1, b.top.y)
            } else {
                a.top.x > self.top_x(e2, a.top.y)
            }
        } else {
            b.curr.x < a.curr.x
        }
    }

    fn insert_edge_into_ael(&mut self, edge: usize, start: usize) {
        if self.active_edges == NIL {
            self.edges[edge].prev_in_ael = NIL;
            self.edges[edge].next_in_ael = NIL;
            self.active_edges = edge;
        } else if start == NIL && self.e2_inserts_before_e1(self.active_edges, edge) {
            self.edges[edge].prev_in_ael = NIL;
            self.edges[edge].next_in_ael = self.active_edges;
            let a = self.active_edges;
            self.edges[a].prev_in_ael = edge;
            self.active_edges = edge;
        } else {
            let mut s = if start == NIL {
                self.active_edges
            } else {
                start
            };
            while self.edges[s].next_in_ael != NIL
                && !self.e2_inserts_before_e1(self.edges[s].next_in_ael, edge)
            {
                s = self.edges[s].next_in_ael;
            }
            let sn = self.edges[s].next_in_ael;
            self.edges[edge].next_in_ael = sn;
            if sn != NIL {
                self.edges[sn].prev_in_ael = edge;
            }
            self.edges[edge].prev_in_ael = s;
            self.edges[s].next_in_ael = edge;
        }
    }

    // ----- winding -----------------------------------------------------------------------

    fn set_winding_count(&mut self, edge: usize) {
        let mut e = self.edges[edge].prev_in_ael;
        while e != NIL && self.edges[e].wind_delta == 0 {
            e = self.edges[e].prev_in_ael;
        }
        let wd = self.edges[edge].wind_delta;
        let wc = if e == NIL {
            if wd == 0 { 1 } else { wd }
        } else {
            let (ewc, ewd) = (self.edges[e].wind_cnt, self.edges[e].wind_delta);
            if ewc * ewd < 0 {
                if ewc.abs() > 1 {
                    if ewd * wd < 0 { ewc } else { ewc + wd }
                } else if wd == 0 {
                    1
                } else {
                    wd
                }
            } else if wd == 0 {
                if ewc < 0 { ewc - 1 } else { ewc + 1 }
            } else if ewd * wd < 0 {
                ewc
            } else {
                ewc + wd
            }
        };
        self.edges[edge].wind_cnt = wc;
    }

    fn wc_for_fill(&self, wc: i32) -> i32 {
        match self.fill {
            Some(FillRule::Negative) => -wc,
            _ => wc,
        }
    }

    fn is_contributing(&self, e: usize) -> bool {
        // Union of subject paths only: the second winding count is always 0, so only the
        // first one decides.
        self.wc_for_fill(self.edges[e].wind_cnt) == 1
    }

    // ----- output points -----------------------------------------------------------------

    fn new_out_pt(&mut self, idx: usize, pt: IntPoint, next: usize, prev: usize) -> usize {
        let i = self.out_pts.len();
        self.out_pts.push(OutPt {
            idx,
            pt,
            next: if next == NIL { i } else { next },
            prev: if prev == NIL { i } else { prev },
        });
        i
    }

    fn add_out_pt(&mut self, e: usize, pt: IntPoint) -> usize {
        if self.edges[e].out_idx < 0 {
            let rec = self.create_out_rec();
            let op = self.new_out_pt(rec, pt, NIL, NIL);
            self.out_recs[rec].pts = op;
            self.set_hole_state(e, rec);
            self.edges[e].out_idx = rec as isize;
            op
        } else {
            let rec = self.edges[e].out_idx as usize;
            let op = self.out_recs[rec].pts;
            let to_front = self.edges[e].side == Side::Left;
            if to_front && pt == self.out_pts[op].pt {
                return op;
            }
            let op_prev = self.out_pts[op].prev;
            if !to_front && pt == self.out_pts[op_prev].pt {
                return op_prev;
            }
            let idx = self.out_recs[rec].idx;
            let new_op = self.new_out_pt(idx, pt, op, op_prev);
            self.out_pts[op_prev].next = new_op;
            self.out_pts[op].prev = new_op;
            if to_front {
                self.out_recs[rec].pts = new_op;
            }
            new_op
        }
    }

    fn get_last_out_pt(&self, e: usize) -> usize {
        let rec = &self.out_recs[self.edges[e].out_idx as usize];
        if self.edges[e].side == Side::Left {
            rec.pts
        } else {
            self.out_pts[rec.pts].prev
        }
    }

    fn set_hole_state(&mut self, e: usize, rec: usize) {
        let mut e2 = self.edges[e].prev_in_ael;
        let mut e_tmp = NIL;
        while e2 != NIL {
            if self.edges[e2].out_idx >= 0 && self.edges[e2].wind_delta != 0 {
                if e_tmp == NIL {
                    e_tmp = e2;
                } else if self.edges[e_tmp].out_idx == self.edges[e2].out_idx {
                    e_tmp = NIL;
                }
            }
            e2 = self.edges[e2].prev_in_ael;
        }
        if e_tmp == NIL {
            self.out_recs[rec].first_left = NIL;
            self.out_recs[rec].is_hole = false;
        } else {
            let fl = self.edges[e_tmp].out_idx as usize;
            self.out_recs[rec].first_left = fl;
            self.out_recs[rec].is_hole = !self.out_recs[fl].is_hole;
        }
    }

    fn out_pts_area(&self, start: usize) -> f64 {
        if start == NIL {
            return 0.0;
        }
        let mut a = 0.0;
        let mut op = start;
        loop {
            let p = &self.out_pts[op];
            let q = &self.out_pts[p.prev];
            a += (q.pt.x + p.pt.x) as f64 * (q.pt.y - p.pt.y) as f64;
            op = p.next;
            if op == start {
                break;
            }
        }
        a * 0.5
    }

    fn reverse_poly_pt_links(&mut self, pp: usize) {
        if pp == NIL {
            return;
        }
        let mut p1 = pp;
        loop {
            let o = &mut self.out_pts[p1];
            std::mem::swap(&mut o.next, &mut o.prev);
            p1 = o.prev;
            if p1 == pp {
                break;
            }
        }
    }

    fn first_is_bottom_pt(&self, b1: usize, b2: usize) -> bool {
        let o = &self.out_pts;
        let dx_to = |b: usize, forward: bool| {
            let step = |p: usize| if forward { o[p].next } else { o[p].prev };
            let mut p = step(b);
            while o[p].pt == o[b].pt && p != b {
                p = step(p);
            }
            get_dx(o[b].pt, o[p].pt).abs()
        };
        let dx1p = dx_to(b1, false);
        let dx1n = dx_to(b1, true);
        let dx2p = dx_to(b2, false);
        let dx2n = dx_to(b2, true);
        if dx1p.max(dx1n) == dx2p.max(dx2n) && dx1p.min(dx1n) == dx2p.min(dx2n) {
            self.out_pts_area(b1) > 0.0
        } else {
            (dx1p >= dx2p && dx1p >= dx2n) || (dx1n >= dx2p && dx1n >= dx2n)
        }
    }

    fn get_bottom_pt(&self, mut pp: usize) -> usize {
        let o = &self.out_pts;
        let mut dups = NIL;
        let mut p = o[pp].next;
        while p != pp {
            if o[p].pt.y > o[pp].pt.y {
                pp = p;
                dups = NIL;
            } else if o[p].pt.y == o[pp].pt.y && o[p].pt.x <= o[pp].pt.x {
                if o[p].pt.x < o[pp].pt.x {
                    dups = NIL;
                    pp = p;
                } else if o[p].next != pp && o[p].prev != pp {
                    dups = p;
                }
            }
            p = o[p].next;
        }
        if dups != NIL {
            while dups != p {
                if !self.first_is_bottom_pt(p, dups) {
                    pp = dups;
                }
                dups = o[dups].next;
                while o[dups].pt != o[pp].pt {
                    dups = o[dups].next;
                }
            }
        }
        pp
    }

    fn get_lowermost_rec(&mut self, r1: usize, r2: usize) -> usize {
        if self.out_recs[r1].bottom_pt == NIL {
            self.out_recs[r1].bottom_pt = self.get_bottom_pt(self.out_recs[r1].pts);
        }
        if self.out_recs[r2].bottom_pt == NIL {
            self.out_recs[r2].bottom_pt = self.get_bottom_pt(self.out_recs[r2].pts);
        }
        let (b1, b2) = (self.out_recs[r1].bottom_pt, self.out_recs[r2].bottom_pt);
        let (p1, p2) = (self.out_pts[b1].pt, self.out_pts[b2].pt);
        use std::cmp::Ordering::{Equal, Greater, Less};
        match (p1.y.cmp(&p2.y), p1.x.cmp(&p2.x)) {
            (Greater, _) | (Equal, Less) => r1,
            (Less, _) | (Equal, Greater) => r2,
            (Equal, Equal) => {
                if self.out_pts[b1].next == b1 {
                    r2
                } else if self.out_pts[b2].next == b2 || self.first_is_bottom_pt(b1, b2) {
                    r1
                } else {
                    r2
                }
            }
        }
    }

    fn out_rec1_right_of_out_rec2(&self, mut r1: usize, r2: usize) -> bool {
        loop {
            r1 = self.out_recs[r1].first_left;
            if r1 == r2 {
                return true;
            }
            if r1 == NIL {
                return false;
            }
        }
    }

    fn get_out_rec(&self, idx: usize) -> usize {
        let mut r = idx;
        while r != self.out_recs[r].idx {
            r = self.out_recs[r].idx;
        }
        r
    }

    fn append_polygon(&mut self, e1: usize, e2: usize) {
        let r1 = self.edges[e1].out_idx as usize;
        let r2 = self.edges[e2].out_idx as usize;
        let hole_state_rec = if self.out_rec1_right_of_out_rec2(r1, r2) {
            r2
        } else if self.out_rec1_right_of_out_rec2(r2, r1) {
            r1
        } else {
            self.get_lowermost_rec(r1, r2)
        };
        let p1_lft = self.out_recs[r1].pts;
        let p1_rt = self.out_pts[p1_lft].prev;
        let p2_lft = self.out_recs[r2].pts;
        let p2_rt = self.out_pts[p2_lft].prev;
        let (s1, s2) = (self.edges[e1].side, self.edges[e2].side);
        if s1 == Side::Left {
            if s2 == Side::Left {
                // z y x a b c
                self.reverse_poly_pt_links(p2_lft);
                self.out_pts[p2_lft].next = p1_lft;
                self.out_pts[p1_lft].prev = p2_lft;
                self.out_pts[p1_rt].next = p2_rt;
                self.out_pts[p2_rt].prev = p1_rt;
                self.out_recs[r1].pts = p2_rt;
            } else {
                // x y z a b c
                self.out_pts[p2_rt].next = p1_lft;
                self.out_pts[p1_lft].prev = p2_rt;
                self.out_pts[p2_lft].prev = p1_rt;
                self.out_pts[p1_rt].next = p2_lft;
                self.out_recs[r1].pts = p2_lft;
            }
        } else if s2 == Side::Right {
            // a b c z y x
            self.reverse_poly_pt_links(p2_lft);
            self.out_pts[p1_rt].next = p2_rt;
            self.out_pts[p2_rt].prev = p1_rt;
            self.out_pts[p2_lft].next = p1_lft;
            self.out_pts[p1_lft].prev = p2_lft;
        } else {
            // a b c x y z
            self.out_pts[p1_rt].next = p2_lft;
            self.out_pts[p2_lft].prev = p1_rt;
            self.out_pts[p1_lft].prev = p2_rt;
            self.out_pts[p2_rt].next = p1_lft;
        }
        self.out_recs[r1].bottom_pt = NIL;
        if hole_state_rec == r2 {
            if self.out_recs[r2].first_left != r1 {
                self.out_recs[r1].first_left = self.out_recs[r2].first_left;
            }
            self.out_recs[r1].is_hole = self.out_recs[r2].is_hole;
        }
        self.out_recs[r2].pts = NIL;
        self.out_recs[r2].bottom_pt = NIL;
        self.out_recs[r2].first_left = r1;

        let ok_idx = self.edges[e1].out_idx;
        let obsolete_idx = self.edges[e2].out_idx;
        self.edges[e1].out_idx = UNASSIGNED;
        self.edges[e2].out_idx = UNASSIGNED;
        let mut e = self.active_edges;
        while e != NIL {
            if self.edges[e].out_idx == obsolete_idx {
                self.edges[e].out_idx = ok_idx;
                self.edges[e].side = s1;
                break;
            }
            e = self.edges[e].next_in_ael;
        }
        self.out_recs[r2].idx = self.out_recs[r1].idx;
    }

    fn add_join(&mut self, op1: usize, op2: usize, off_pt: IntPoint) {
        self.joins.push(Join { op1, op2, off_pt });
    }

    fn add_local_min_poly(&mut self, e1: usize, e2: usize, pt: IntPoint) -> usize {
        let (result, e, prev_e);
        if self.is_horizontal(e2) || self.edges[e1].dx > self.edges[e2].dx {
            result = self.add_out_pt(e1, pt);
            self.edges[e2].out_idx = self.edges[e1].out_idx;
            self.edges[e1].side = Side::Left;
            self.edges[e2].side = Side::Right;
            e = e1;
            prev_e = if self.edges[e].prev_in_ael == e2 {
                self.edges[e2].prev_in_ael
            } else {
                self.edges[e].prev_in_ael
            };
        } else {
            result = self.add_out_pt(e2, pt);
            self.edges[e1].out_idx = self.edges[e2].out_idx;
            self.edges[e1].side = Side::Right;
            self.edges[e2].side = Side::Left;
            e = e2;
            prev_e = if self.edges[e].prev_in_ael == e1 {
                self.edges[e1].prev_in_ael
            } else {
                self.edges[e].prev_in_ael
            };
        }
        if prev_e != NIL
            && self.edges[prev_e].out_idx >= 0
            && self.edges[prev_e].top.y < pt.y
            && self.edges[e].top.y < pt.y
        {
            let x_prev = self.top_x(prev_e, pt.y);
            let x_e = self.top_x(e, pt.y);
            if x_prev == x_e
                && self.edges[e].wind_delta != 0
                && self.edges[prev_e].wind_delta != 0
                && slopes_equal4(
                    ip(x_prev, pt.y),
                    self.edges[prev_e].top,
                    ip(x_e, pt.y),
                    self.edges[e].top,
                )
            {
                let out_pt = self.add_out_pt(prev_e, pt);
                let top = self.edges[e].top;
                self.add_join(result, out_pt, top);
            }
        }
        result
    }

    fn add_local_max_poly(&mut self, e1: usize, e2: usize, pt: IntPoint) {
        self.add_out_pt(e1, pt);
        if self.edges[e2].wind_delta == 0 {
            self.add_out_pt(e2, pt);
        }
        let (i1, i2) = (self.edges[e1].out_idx, self.edges[e2].out_idx);
        if i1 == i2 {
            self.edges[e1].out_idx = UNASSIGNED;
            self.edges[e2].out_idx = UNASSIGNED;
        } else if i1 < i2 {
            self.append_polygon(e1, e2);
        } else {
            self.append_polygon(e2, e1);
        }
    }

    fn swap_sides(&mut self, e1: usize, e2: usize) {
        let s = self.edges[e1].side;
        self.edges[e1].side = self.edges[e2].side;
        self.edges[e2].side = s;
    }

    fn swap_poly_indexes(&mut self, e1: usize, e2: usize) {
        let i = self.edges[e1].out_idx;
        self.edges[e1].out_idx = self.edges[e2].out_idx;
        self.edges[e2].out_idx = i;
    }

    fn intersect_edges(&mut self, e1: usize, e2: usize, pt: IntPoint) {
        let e1_contributing = self.edges[e1].out_idx >= 0;
        let e2_contributing = self.edges[e2].out_idx >= 0;
        // Same poly type, non-even-odd fill: update the winding counts.
        let (wd1, wd2) = (self.edges[e1].wind_delta, self.edges[e2].wind_delta);
        if self.edges[e1].wind_cnt + wd2 == 0 {
            self.edges[e1].wind_cnt = -self.edges[e1].wind_cnt;
        } else {
            self.edges[e1].wind_cnt += wd2;
        }
        if self.edges[e2].wind_cnt - wd1 == 0 {
            self.edges[e2].wind_cnt = -self.edges[e2].wind_cnt;
        } else {
            self.edges[e2].wind_cnt -= wd1;
        }
        let e1_wc = self.wc_for_fill(self.edges[e1].wind_cnt);
        let e2_wc = self.wc_for_fill(self.edges[e2].wind_cnt);
        if e1_contributing && e2_contributing {
            if (e1_wc != 0 && e1_wc != 1) || (e2_wc != 0 && e2_wc != 1) {
                self.add_local_max_poly(e1, e2, pt);
            } else {
                self.add_out_pt(e1, pt);
                self.add_out_pt(e2, pt);
                self.swap_sides(e1, e2);
                self.swap_poly_indexes(e1, e2);
            }
        } else if e1_contributing {
            if e2_wc == 0 || e2_wc == 1 {
                self.add_out_pt(e1, pt);
                self.swap_sides(e1, e2);
                self.swap_poly_indexes(e1, e2);
            }
        } else if e2_contributing {
            if e1_wc == 0 || e1_wc == 1 {
                self.add_out_pt(e2, pt);
                self.swap_sides(e1, e2);
                self.swap_poly_indexes(e1, e2);
            }
        } else if (e1_wc == 0 || e1_wc == 1) && (e2_wc == 0 || e2_wc == 1) {
            // Neither edge contributes; with a union and second winding counts of 0 a new
            // local minimum starts when both counts are 1.
            if e1_wc == 1 && e2_wc == 1 {
                self.add_local_min_poly(e1, e2, pt);
            } else {
                self.swap_sides(e1, e2);
            }
        }
    }

    // ----- the sweep ---------------------------------------------------------------------

    fn insert_local_minima_into_ael(&mut self, bot_y: i64) {
        while self.current_lm < self.minima.len() && self.minima[self.current_lm].y == bot_y {
            let lm = self.minima[self.current_lm];
            self.current_lm += 1;
            let (lb, rb) = (lm.left, lm.right);
            self.insert_edge_into_ael(lb, NIL);
            self.insert_edge_into_ael(rb, lb);
            self.set_winding_count(lb);
            self.edges[rb].wind_cnt = self.edges[lb].wind_cnt;
            let mut op1 = NIL;
            if self.is_contributing(lb) {
                let bot = self.edges[lb].bot;
                op1 = self.add_local_min_poly(lb, rb, bot);
            }
            self.scanbeam.push(self.edges[lb].top.y);
            if self.is_horizontal(rb) {
                self.add_edge_to_sel(rb);
                let n = self.edges[rb].next_in_lml;
                if n != NIL {
                    self.scanbeam.push(self.edges[n].top.y);
                }
            } else {
                self.scanbeam.push(self.edges[rb].top.y);
            }

            if op1 != NIL
                && self.is_horizontal(rb)
                && !self.ghost_joins.is_empty()
                && self.edges[rb].wind_delta != 0
            {
                for i in 0..self.ghost_joins.len() {
                    let jr = self.ghost_joins[i];
                    let (rbb, rbt) = (self.edges[rb].bot.x, self.edges[rb].top.x);
                    if horz_segments_overlap(self.out_pts[jr.op1].pt.x, jr.off_pt.x, rbb, rbt) {
                        self.add_join(jr.op1, op1, jr.off_pt);
                    }
                }
            }

            let lp = self.edges[lb].prev_in_ael;
            if self.edges[lb].out_idx >= 0
                && lp != NIL
                && self.edges[lp].curr.x == self.edges[lb].bot.x
                && self.edges[lp].out_idx >= 0
                && slopes_equal4(
                    self.edges[lp].bot,
                    self.edges[lp].top,
                    self.edges[lb].curr,
                    self.edges[lb].top,
                )
                && self.edges[lb].wind_delta != 0
                && self.edges[lp].wind_delta != 0
            {
                let bot = self.edges[lb].bot;
                let op2 = self.add_out_pt(lp, bot);
                let top = self.edges[lb].top;
                self.add_join(op1, op2, top);
            }

            if self.edges[lb].next_in_ael != rb {
                let rp = self.edges[rb].prev_in_ael;
                if self.edges[rb].out_idx >= 0
                    && self.edges[rp].out_idx >= 0
                    && slopes_equal4(
                        self.edges[rp].curr,
                        self.edges[rp].top,
                        self.edges[rb].curr,
                        self.edges[rb].top,
                    )
                    && self.edges[rb].wind_delta != 0
                    && self.edges[rp].wind_delta != 0
                {
                    let bot = self.edges[rb].bot;
                    let op2 = self.add_out_pt(rp, bot);
                    let top = self.edges[rb].top;
                    self.add_join(op1, op2, top);
                }
                let mut e = self.edges[lb].next_in_ael;
                if e != NIL {
                    while e != rb {
                        let pt = self.edges[lb].curr;
                        self.intersect_edges(rb, e, pt);
                        e = self.edges[e].next_in_ael;
                    }
                }
            }
        }
    }

    fn is_maxima(&self, e: usize, y: i64) -> bool {
        e != NIL && self.edges[e].top.y == y && self.edges[e].next_in_lml == NIL
    }

    fn is_intermediate(&self, e: usize, y: i64) -> bool {
        self.edges[e].top.y == y && self.edges[e].next_in_lml != NIL
    }

    fn get_maxima_pair(&self, e: usize) -> usize {
        let ed = &self.edges;
        let (n, p) = (ed[e].next, ed[e].prev);
        if ed[n].top == ed[e].top && ed[n].next_in_lml == NIL {
            n
        } else if ed[p].top == ed[e].top && ed[p].next_in_lml == NIL {
            p
        } else {
            NIL
        }
    }

    fn get_maxima_pair_ex(&self, e: usize) -> usize {
        let r = self.get_maxima_pair(e);
        if r != NIL
            && self.edges[r].next_in_ael == self.edges[r].prev_in_ael
            && !self.is_horizontal(r)
        {
            return NIL;
        }
        r
    }

    fn horz_direction(&self, e: usize) -> (Direction, i64, i64) {
        let ed = &self.edges[e];
        if ed.bot.x < ed.top.x {
            (Direction::LeftToRight, ed.bot.x, ed.top.x)
        } else {
            (Direction::RightToLeft, ed.top.x, ed.bot.x)
        }
    }

    fn next_in_ael(&self, e: usize, dir: Direction) -> usize {
        match dir {
            Direction::LeftToRight => self.edges[e].next_in_ael,
            Direction::RightToLeft => self.edges[e].prev_in_ael,
        }
    }

    fn join_overlapping_horizontals(&mut self, horz: usize, op1: usize) {
        let mut next_horz = self.sorted_edges;
        while next_horz != NIL {
            let nh = &self.edges[next_horz];
            let h = &self.edges[horz];
            if nh.out_idx >= 0 && horz_segments_overlap(h.bot.x, h.top.x, nh.bot.x, nh.top.x) {
                let op2 = self.get_last_out_pt(next_horz);
                let top = self.edges[next_horz].top;
                self.add_join(op2, op1, top);
            }
            next_horz = self.edges[next_horz].next_in_sel;
        }
    }

    fn process_horizontals(&mut self) -> Result<(), Failed> {
        while self.sorted_edges != NIL {
            let e = self.sorted_edges;
            self.delete_from_sel(e);
            self.process_horizontal(e)?;
        }
        Ok(())
    }

    fn process_horizontal(&mut self, mut horz: usize) -> Result<(), Failed> {
        let (mut dir, mut horz_left, mut horz_right) = self.horz_direction(horz);
        let mut e_last_horz = horz;
        let mut e_max_pair = NIL;
        while self.edges[e_last_horz].next_in_lml != NIL
            && self.is_horizontal(self.edges[e_last_horz].next_in_lml)
        {
            e_last_horz = self.edges[e_last_horz].next_in_lml;
        }
        if self.edges[e_last_horz].next_in_lml == NIL {
            e_max_pair = self.get_maxima_pair(e_last_horz);
        }
        let mut op1 = NIL;
        loop {
            let is_last_horz = horz == e_last_horz;
            let mut e = self.next_in_ael(horz, dir);
            while e != NIL {
                let ex = self.edges[e].curr.x;
                if (dir == Direction::LeftToRight && ex > horz_right)
                    || (dir == Direction::RightToLeft && ex < horz_left)
                {
                    break;
                }
                let hn = self.edges[horz].next_in_lml;
                if ex == self.edges[horz].top.x && hn != NIL && self.edges[e].dx < self.edges[hn].dx
                {
                    break;
                }
                if self.edges[horz].out_idx >= 0 {
                    let curr = self.edges[e].curr;
                    op1 = self.add_out_pt(horz, curr);
                    self.join_overlapping_horizontals(horz, op1);
                    let bot = self.edges[horz].bot;
                    self.ghost_joins.push(Join {
                        op1,
                        op2: NIL,
                        off_pt: bot,
                    });
                }
                if e == e_max_pair && is_last_horz {
                    if self.edges[horz].out_idx >= 0 {
                        let top = self.edges[horz].top;
                        self.add_local_max_poly(horz, e_max_pair, top);
                    }
                    self.delete_from_ael(horz);
                    self.delete_from_ael(e_max_pair);
                    return Ok(());
                }
                let pt = ip(self.edges[e].curr.x, self.edges[horz].curr.y);
                if dir == Direction::LeftToRight {
                    self.intersect_edges(horz, e, pt);
                } else {
                    self.intersect_edges(e, horz, pt);
                }
                let e_next = self.next_in_ael(e, dir);
                self.swap_positions_in_ael(horz, e);
                e = e_next;
            }
            let hn = self.edges[horz].next_in_lml;
            if hn == NIL || !self.is_horizontal(hn) {
                break;
            }
            horz = self.update_edge_into_ael(horz)?;
            if self.edges[horz].out_idx >= 0 {
                let bot = self.edges[horz].bot;
                self.add_out_pt(horz, bot);
            }
            (dir, horz_left, horz_right) = self.horz_direction(horz);
        }

        if self.edges[horz].out_idx >= 0 && op1 == NIL {
            op1 = self.get_last_out_pt(horz);
            self.join_overlapping_horizontals(horz, op1);
            let top = self.edges[horz].top;
            self.ghost_joins.push(Join {
                op1,
                op2: NIL,
                off_pt: top,
            });
        }

        if self.edges[horz].next_in_lml != NIL {
            if self.edges[horz].out_idx >= 0 {
                let top = self.edges[horz].top;
                op1 = self.add_out_pt(horz, top);
                horz = self.update_edge_into_ael(horz)?;
                if self.edges[horz].wind_delta == 0 {
                    return Ok(());
                }
                let e_prev = self.edges[horz].prev_in_ael;
                let e_next = self.edges[horz].next_in_ael;
                let hb = self.edges[horz].bot;
                let joinable = |s: &Self, o: usize| {
                    o != NIL
                        && s.edges[o].curr.x == hb.x
                        && s.edges[o].curr.y == hb.y
                        && s.edges[o].wind_delta != 0
                        && s.edges[o].out_idx >= 0
                        && s.edges[o].curr.y > s.edges[o].top.y
                        && s.slopes_equal_edges(horz, o)
                };
                if joinable(self, e_prev) {
                    let op2 = self.add_out_pt(e_prev, hb);
                    let top = self.edges[horz].top;
                    self.add_join(op1, op2, top);
                } else if joinable(self, e_next) {
                    let op2 = self.add_out_pt(e_next, hb);
                    let top = self.edges[horz].top;
                    self.add_join(op1, op2, top);
                }
            } else {
                self.update_edge_into_ael(horz)?;
            }
        } else {
            if self.edges[horz].out_idx >= 0 {
                let top = self.edges[horz].top;
                self.add_out_pt(horz, top);
            }
            self.delete_from_ael(horz);
        }
        Ok(())
    }

    fn intersect_point(&self, i1: usize, i2: usize) -> IntPoint {
        let (e1, e2) = (&self.edges[i1], &self.edges[i2]);
        let mut p = IntPoint::default();
        if e1.dx == e2.dx {
            p.y = e1.curr.y;
            p.x = self.top_x(i1, p.y);
            return p;
        } else if e1.dx == 0.0 {
            p.x = e1.bot.x;
            if self.is_horizontal(i2) {
                p.y = e2.bot.y;
            } else {
                let b2 = e2.bot.y as f64 - (e2.bot.x as f64 / e2.dx);
                p.y = round(p.x as f64 / e2.dx + b2);
            }
        } else if e2.dx == 0.0 {
            p.x = e2.bot.x;
            if self.is_horizontal(i1) {
                p.y = e1.bot.y;
            } else {
                let b1 = e1.bot.y as f64 - (e1.bot.x as f64 / e1.dx);
                p.y = round(p.x as f64 / e1.dx + b1);
            }
        } else {
            let b1 = e1.bot.x as f64 - e1.bot.y as f64 * e1.dx;
            let b2 = e2.bot.x as f64 - e2.bot.y as f64 * e2.dx;
            let q = (b2 - b1) / (e1.dx - e2.dx);
            p.y = round(q);
            p.x = if e1.dx.abs() < e2.dx.abs() {
                round(e1.dx * q + b1)
            } else {
                round(e2.dx * q + b2)
            };
        }
        if p.y < e1.top.y || p.y < e2.top.y {
            p.y = if e1.top.y > e2.top.y {
                e1.top.y
            } else {
                e2.top.y
            };
            p.x = if e1.dx.abs() < e2.dx.abs() {
                self.top_x(i1, p.y)
            } else {
                self.top_x(i2, p.y)
            };
        }
        if p.y > e1.curr.y {
            p.y = e1.curr.y;
            p.x = if e1.dx.abs() > e2.dx.abs() {
                self.top_x(i2, p.y)
            } else {
                self.top_x(i1, p.y)
            };
        }
        p
    }

    fn build_intersect_list(&mut self, top_y: i64) {
        if self.active_edges == NIL {
            return;
        }
        let mut e = self.active_edges;
        self.sorted_edges = e;
        while e != NIL {
            self.edges[e].prev_in_sel = self.edges[e].prev_in_ael;
            self.edges[e].next_in_sel = self.edges[e].next_in_ael;
            self.edges[e].curr.x = self.top_x(e, top_y);
            e = self.edges[e].next_in_ael;
        }
        loop {
            let mut is_modified = false;
            e = self.sorted_edges;
            while self.edges[e].next_in_sel != NIL {
                let e_next = self.edges[e].next_in_sel;
                if self.edges[e].curr.x > self.edges[e_next].curr.x {
                    let mut pt = self.intersect_point(e, e_next);
                    if pt.y < top_y {
                        pt = ip(self.top_x(e, top_y), top_y);
                    }
                    self.intersections.push(IntersectNode {
                        e1: e,
                        e2: e_next,
                        pt,
                    });
                    self.swap_positions_in_sel(e, e_next);
                    is_modified = true;
                } else {
                    e = e_next;
                }
            }
            let p = self.edges[e].prev_in_sel;
            if p != NIL {
                self.edges[p].next_in_sel = NIL;
            } else {
                break;
            }
            if !is_modified {
                break;
            }
        }
        self.sorted_edges = NIL;
    }

    fn edges_adjacent(&self, n: &IntersectNode) -> bool {
        self.edges[n.e1].next_in_sel == n.e2 || self.edges[n.e1].prev_in_sel == n.e2
    }

    fn fixup_intersection_order(&mut self) -> bool {
        self.copy_ael_to_sel();
        std_sort(
            &mut self.intersections,
            &|a: &IntersectNode, b: &IntersectNode| b.pt.y < a.pt.y,
        );
        let cnt = self.intersections.len();
        for i in 0..cnt {
            if !self.edges_adjacent(&self.intersections[i]) {
                let mut j = i + 1;
                while j < cnt && !self.edges_adjacent(&self.intersections[j]) {
                    j += 1;
                }
                if j == cnt {
                    return false;
                }
                self.intersections.swap(i, j);
            }
            let n = self.intersections[i];
            self.swap_positions_in_sel(n.e1, n.e2);
        }
        true
    }

    fn process_intersections(&mut self, top_y: i64) -> bool {
        if self.active_edges == NIL {
            return true;
        }
        self.build_intersect_list(top_y);
        let n = self.intersections.len();
        if n == 0 {
            return true;
        }
        if n == 1 || self.fixup_intersection_order() {
            let list = std::mem::take(&mut self.intersections);
            for node in &list {
                self.intersect_edges(node.e1, node.e2, node.pt);
                self.swap_positions_in_ael(node.e1, node.e2);
            }
            self.intersections = list;
            self.intersections.clear();
        } else {
            return false;
        }
        self.sorted_edges = NIL;
        true
    }

    fn do_maxima(&mut self, e: usize) -> Result<(), Failed> {
        let max_pair = self.get_maxima_pair_ex(e);
        if max_pair == NIL {
            if self.edges[e].out_idx >= 0 {
                let top = self.edges[e].top;
                self.add_out_pt(e, top);
            }
            self.delete_from_ael(e);
            return Ok(());
        }
        let mut e_next = self.edges[e].next_in_ael;
        while e_next != NIL && e_next != max_pair {
            let top = self.edges[e].top;
            self.intersect_edges(e, e_next, top);
            self.swap_positions_in_ael(e, e_next);
            e_next = self.edges[e].next_in_ael;
        }
        let (oi, mi) = (self.edges[e].out_idx, self.edges[max_pair].out_idx);
        if oi == UNASSIGNED && mi == UNASSIGNED {
            self.delete_from_ael(e);
            self.delete_from_ael(max_pair);
            Ok(())
        } else if oi >= 0 && mi >= 0 {
            let top = self.edges[e].top;
            self.add_local_max_poly(e, max_pair, top);
            self.delete_from_ael(e);
            self.delete_from_ael(max_pair);
            Ok(())
        } else {
            Err(Failed)
        }
    }

    fn process_edges_at_top_of_scanbeam(&mut self, top_y: i64) -> Result<(), Failed> {
        let mut e = self.active_edges;
        while e != NIL {
            let mut is_maxima_edge = self.is_maxima(e, top_y);
            if is_maxima_edge {
                let mp = self.get_maxima_pair_ex(e);
                is_maxima_edge = mp == NIL || !self.is_horizontal(mp);
            }
            if is_maxima_edge {
                let e_prev = self.edges[e].prev_in_ael;
                self.do_maxima(e)?;
                e = if e_prev == NIL {
                    self.active_edges
                } else {
                    self.edges[e_prev].next_in_ael
                };
            } else {
                if self.is_intermediate(e, top_y) && self.is_horizontal(self.edges[e].next_in_lml) {
                    e = self.update_edge_into_ael(e)?;
                    if self.edges[e].out_idx >= 0 {
                        let bot = self.edges[e].bot;
                        self.add_out_pt(e, bot);
                    }
                    self.add_edge_to_sel(e);
                } else {
                    self.edges[e].curr.x = self.top_x(e, top_y);
                    self.edges[e].curr.y = top_y;
                }
                e = self.edges[e].next_in_ael;
            }
        }

        self.process_horizontals()?;

        e = self.active_edges;
        while e != NIL {
            if self.is_intermediate(e, top_y) {
                let mut op = NIL;
                if self.edges[e].out_idx >= 0 {
                    let top = self.edges[e].top;
                    op = self.add_out_pt(e, top);
                }
                e = self.update_edge_into_ael(e)?;
                let e_prev = self.edges[e].prev_in_ael;
                let e_next = self.edges[e].next_in_ael;
                let (ec, et, eb) = (self.edges[e].curr, self.edges[e].top, self.edges[e].bot);
                let joinable = |s: &Self, o: usize| {
                    o != NIL
                        && s.edges[o].curr.x == eb.x
                        && s.edges[o].curr.y == eb.y
                        && op != NIL
                        && s.edges[o].out_idx >= 0
                        && s.edges[o].curr.y > s.edges[o].top.y
                        && slopes_equal4(ec, et, s.edges[o].curr, s.edges[o].top)
                        && s.edges[e].wind_delta != 0
                        && s.edges[o].wind_delta != 0
                };
                if joinable(self, e_prev) {
                    let op2 = self.add_out_pt(e_prev, eb);
                    self.add_join(op, op2, et);
                } else if joinable(self, e_next) {
                    let op2 = self.add_out_pt(e_next, eb);
                    self.add_join(op, op2, et);
                }
            }
            e = self.edges[e].next_in_ael;
        }
        Ok(())
    }

    // ----- joins and clean-up ------------------------------------------------------------

    fn dup_out_pt(&mut self, op: usize, insert_after: bool) -> usize {
        let (pt, idx) = (self.out_pts[op].pt, self.out_pts[op].idx);
        if insert_after {
            let next = self.out_pts[op].next;
            let r = self.new_out_pt(idx, pt, next, op);
            self.out_pts[next].prev = r;
            self.out_pts[op].next = r;
            r
        } else {
            let prev = self.out_pts[op].prev;
            let r = self.new_out_pt(idx, pt, op, prev);
            self.out_pts[prev].next = r;
            self.out_pts[op].prev = r;
            r
        }
    }

    /// One side of `JoinHorz`: walks `op` along the horizontal to `pt` and splits there.
    fn join_horz_side(
        &mut self,
        mut op: usize,
        dir: Direction,
        pt: IntPoint,
        discard_left: bool,
    ) -> (usize, usize) {
        let o = |s: &Self, i: usize| s.out_pts[i];
        let mut opb;
        if dir == Direction::LeftToRight {
            loop {
                let n = o(self, o(self, op).next);
                if n.pt.x <= pt.x && n.pt.x >= o(self, op).pt.x && n.pt.y == pt.y {
                    op = o(self, op).next;
                } else {
                    break;
                }
            }
            if discard_left && o(self, op).pt.x != pt.x {
                op = o(self, op).next;
            }
            opb = self.dup_out_pt(op, !discard_left);
            if o(self, opb).pt != pt {
                op = opb;
                self.out_pts[op].pt = pt;
                opb = self.dup_out_pt(op, !discard_left);
            }
        } else {
            loop {
                let n = o(self, o(self, op).next);
                if n.pt.x >= pt.x && n.pt.x <= o(self, op).pt.x && n.pt.y == pt.y {
                    op = o(self, op).next;
                } else {
                    break;
                }
            }
            if !discard_left && o(self, op).pt.x != pt.x {
                op = o(self, op).next;
            }
            opb = self.dup_out_pt(op, discard_left);
            if o(self, opb).pt != pt {
                op = opb;
                self.out_pts[op].pt = pt;
                opb = self.dup_out_pt(op, discard_left);
            }
        }
        (op, opb)
    }

    fn join_horz(
        &mut self,
        op1: usize,
        op1b: usize,
        op2: usize,
        op2b: usize,
        pt: IntPoint,
        discard_left: bool,
    ) -> bool {
        let dir_of = |a: usize, b: usize| {
            if self.out_pts[a].pt.x > self.out_pts[b].pt.x {
                Direction::RightToLeft
            } else {
                Direction::LeftToRight
            }
        };
        let dir1 = dir_of(op1, op1b);
        let dir2 = dir_of(op2, op2b);
        if dir1 == dir2 {
            return false;
        }
        let (op1, op1b) = self.join_horz_side(op1, dir1, pt, discard_left);
        let (op2, op2b) = self.join_horz_side(op2, dir2, pt, discard_left);
        if (dir1 == Direction::LeftToRight) == discard_left {
            self.out_pts[op1].prev = op2;
            self.out_pts[op2].next = op1;
            self.out_pts[op1b].next = op2b;
            self.out_pts[op2b].prev = op1b;
        } else {
            self.out_pts[op1].next = op2;
            self.out_pts[op2].prev = op1;
            self.out_pts[op1b].prev = op2b;
            self.out_pts[op2b].next = op1b;
        }
        true
    }

    /// The end of `JoinPoints` shared by its strictly-simple and non-horizontal branches.
    fn join_split(&mut self, j: usize, op1: usize, op2: usize, reverse1: bool) -> bool {
        let (op1b, op2b);
        if reverse1 {
            op1b = self.dup_out_pt(op1, false);
            op2b = self.dup_out_pt(op2, true);
            self.out_pts[op1].prev = op2;
            self.out_pts[op2].next = op1;
            self.out_pts[op1b].next = op2b;
            self.out_pts[op2b].prev = op1b;
        } else {
            op1b = self.dup_out_pt(op1, true);
            op2b = self.dup_out_pt(op2, false);
            self.out_pts[op1].next = op2;
            self.out_pts[op2].prev = op1;
            self.out_pts[op1b].prev = op2b;
            self.out_pts[op2b].next = op1b;
        }
        self.joins[j].op1 = op1;
        self.joins[j].op2 = op1b;
        true
    }

    fn join_points(&mut self, j: usize, r1: usize, r2: usize) -> bool {
        let Join {
            mut op1,
            mut op2,
            off_pt,
        } = self.joins[j];
        let pt = |s: &Self, i: usize| s.out_pts[i].pt;
        let next = |s: &Self, i: usize| s.out_pts[i].next;
        let prev = |s: &Self, i: usize| s.out_pts[i].prev;
        let is_horizontal = pt(self, op1).y == off_pt.y;

        if is_horizontal && off_pt == pt(self, op1) && off_pt == pt(self, op2) {
            // Strictly simple join.
            if r1 != r2 {
                return false;
            }
            let mut op1b = next(self, op1);
            while op1b != op1 && pt(self, op1b) == off_pt {
                op1b = next(self, op1b);
            }
            let reverse1 = pt(self, op1b).y > off_pt.y;
            let mut op2b = next(self, op2);
            while op2b != op2 && pt(self, op2b) == off_pt {
                op2b = next(self, op2b);
            }
            let reverse2 = pt(self, op2b).y > off_pt.y;
            if reverse1 == reverse2 {
                return false;
            }
            self.join_split(j, op1, op2, reverse1)
        } else if is_horizontal {
            let mut op1b = op1;
            while pt(self, prev(self, op1)).y == pt(self, op1).y
                && prev(self, op1) != op1b
                && prev(self, op1) != op2
            {
                op1 = prev(self, op1);
            }
            while pt(self, next(self, op1b)).y == pt(self, op1b).y
                && next(self, op1b) != op1
                && next(self, op1b) != op2
            {
                op1b = next(self, op1b);
            }
            if next(self, op1b) == op1 || next(self, op1b) == op2 {
                return false;
            }
            let mut op2b = op2;
            while pt(self, prev(self, op2)).y == pt(self, op2).y
                && prev(self, op2) != op2b
                && prev(self, op2) != op1b
            {
                op2 = prev(self, op2);
            }
            while pt(self, next(self, op2b)).y == pt(self, op2b).y
                && next(self, op2b) != op2
                && next(self, op2b) != op1
            {
                op2b = next(self, op2b);
            }
            if next(self, op2b) == op2 || next(self, op2b) == op1 {
                return false;
            }
            let (p1, p1b, p2, p2b) = (pt(self, op1), pt(self, op1b), pt(self, op2), pt(self, op2b));
            let Some((left, right)) = get_overlap(p1.x, p1b.x, p2.x, p2b.x) else {
                return false;
            };
            let (jp, discard_left) = if p1.x >= left && p1.x <= right {
                (p1, p1.x > p1b.x)
            } else if p2.x >= left && p2.x <= right {
                (p2, p2.x > p2b.x)
            } else if p1b.x >= left && p1b.x <= right {
                (p1b, p1b.x > p1.x)
            } else {
                (p2b, p2b.x > p2.x)
            };
            self.joins[j].op1 = op1;
            self.joins[j].op2 = op2;
            self.join_horz(op1, op1b, op2, op2b, jp, discard_left)
        } else {
            let mut op1b = next(self, op1);
            while pt(self, op1b) == pt(self, op1) && op1b != op1 {
                op1b = next(self, op1b);
            }
            let reverse1 = pt(self, op1b).y > pt(self, op1).y
                || !slopes_equal3(pt(self, op1), pt(self, op1b), off_pt);
            if reverse1 {
                op1b = prev(self, op1);
                while pt(self, op1b) == pt(self, op1) && op1b != op1 {
                    op1b = prev(self, op1b);
                }
                if pt(self, op1b).y > pt(self, op1).y
                    || !slopes_equal3(pt(self, op1), pt(self, op1b), off_pt)
                {
                    return false;
                }
            }
            let mut op2b = next(self, op2);
            while pt(self, op2b) == pt(self, op2) && op2b != op2 {
                op2b = next(self, op2b);
            }
            let reverse2 = pt(self, op2b).y > pt(self, op2).y
                || !slopes_equal3(pt(self, op2), pt(self, op2b), off_pt);
            if reverse2 {
                op2b = prev(self, op2);
                while pt(self, op2b) == pt(self, op2) && op2b != op2 {
                    op2b = prev(self, op2b);
                }
                if pt(self, op2b).y > pt(self, op2).y
                    || !slopes_equal3(pt(self, op2), pt(self, op2b), off_pt)
                {
                    return false;
                }
            }
            if op1b == op1 || op2b == op2 || op1b == op2b || (r1 == r2 && reverse1 == reverse2) {
                return false;
            }
            self.join_split(j, op1, op2, reverse1)
        }
    }

    fn point_in_polygon(&self, pt: IntPoint, start: usize) -> i32 {
        let mut result = 0;
        let mut op = start;
        loop {
            let p = self.out_pts[op].pt;
            let n = self.out_pts[self.out_pts[op].next].pt;
            if n.y == pt.y && (n.x == pt.x || (p.y == pt.y && ((n.x > pt.x) == (p.x < pt.x)))) {
                return -1;
            }
            if (p.y < pt.y) != (n.y < pt.y) {
                if p.x >= pt.x {
                    if n.x > pt.x {
                        result = 1 - result;
                    } else {
                        let d = (p.x - pt.x) as f64 * (n.y - pt.y) as f64
                            - (n.x - pt.x) as f64 * (p.y - pt.y) as f64;
                        if d == 0.0 {
                            return -1;
                        }
                        if (d > 0.0) == (n.y > p.y) {
                            result = 1 - result;
                        }
                    }
                } else if n.x > pt.x {
                    let d = (p.x - pt.x) as f64 * (n.y - pt.y) as f64
                        - (n.x - pt.x) as f64 * (p.y - pt.y) as f64;
                    if d == 0.0 {
                        return -1;
                    }
                    if (d > 0.0) == (n.y > p.y) {
                        result = 1 - result;
                    }
                }
            }
            op = self.out_pts[op].next;
            if op == start {
                break;
            }
        }
        result
    }

    fn poly2_contains_poly1(&self, out_pt1: usize, out_pt2: usize) -> bool {
        let mut op = out_pt1;
        loop {
            let res = self.point_in_polygon(self.out_pts[op].pt, out_pt2);
            if res >= 0 {
                return res > 0;
            }
            op = self.out_pts[op].next;
            if op == out_pt1 {
                break;
            }
        }
        true
    }

    fn update_out_pt_idxs(&mut self, rec: usize) {
        let start = self.out_recs[rec].pts;
        let idx = self.out_recs[rec].idx;
        let mut op = start;
        loop {
            self.out_pts[op].idx = idx;
            op = self.out_pts[op].prev;
            if op == start {
                break;
            }
        }
    }

    fn join_common_edges(&mut self) {
        for i in 0..self.joins.len() {
            let join = self.joins[i];
            let r1 = self.get_out_rec(self.out_pts[join.op1].idx);
            let mut r2 = self.get_out_rec(self.out_pts[join.op2].idx);
            if self.out_recs[r1].pts == NIL || self.out_recs[r2].pts == NIL {
                continue;
            }
            let hole_state_rec = if r1 == r2 {
                r1
            } else if self.out_rec1_right_of_out_rec2(r1, r2) {
                r2
            } else if self.out_rec1_right_of_out_rec2(r2, r1) {
                r1
            } else {
                self.get_lowermost_rec(r1, r2)
            };
            if !self.join_points(i, r1, r2) {
                continue;
            }
            if r1 == r2 {
                // The polygon split in two.
                self.out_recs[r1].pts = self.joins[i].op1;
                self.out_recs[r1].bottom_pt = NIL;
                r2 = self.create_out_rec();
                self.out_recs[r2].pts = self.joins[i].op2;
                self.update_out_pt_idxs(r2);
                let (p1, p2) = (self.out_recs[r1].pts, self.out_recs[r2].pts);
                if self.poly2_contains_poly1(p2, p1) {
                    self.out_recs[r2].is_hole = !self.out_recs[r1].is_hole;
                    self.out_recs[r2].first_left = r1;
                    if (self.out_recs[r2].is_hole ^ self.reverse_output)
                        == (self.out_pts_area(p2) > 0.0)
                    {
                        self.reverse_poly_pt_links(p2);
                    }
                } else if self.poly2_contains_poly1(p1, p2) {
                    self.out_recs[r2].is_hole = self.out_recs[r1].is_hole;
                    self.out_recs[r1].is_hole = !self.out_recs[r2].is_hole;
                    self.out_recs[r2].first_left = self.out_recs[r1].first_left;
                    self.out_recs[r1].first_left = r2;
                    if (self.out_recs[r1].is_hole ^ self.reverse_output)
                        == (self.out_pts_area(p1) > 0.0)
                    {
                        self.reverse_poly_pt_links(p1);
                    }
                } else {
                    self.out_recs[r2].is_hole = self.out_recs[r1].is_hole;
                    self.out_recs[r2].first_left = self.out_recs[r1].first_left;
                }
            } else {
                // Two polygons joined into one.
                self.out_recs[r2].pts = NIL;
                self.out_recs[r2].bottom_pt = NIL;
                self.out_recs[r2].idx = self.out_recs[r1].idx;
                self.out_recs[r1].is_hole = self.out_recs[hole_state_rec].is_hole;
                if hole_state_rec == r2 {
                    self.out_recs[r1].first_left = self.out_recs[r2].first_left;
                }
                self.out_recs[r2].first_left = r1;
            }
        }
    }

    fn fixup_out_polygon(&mut self, rec: usize) {
        let mut last_ok = NIL;
        self.out_recs[rec].bottom_pt = NIL;
        let mut pp = self.out_recs[rec].pts;
        loop {
            let (prev, next) = (self.out_pts[pp].prev, self.out_pts[pp].next);
            if prev == pp || prev == next {
                self.out_recs[rec].pts = NIL;
                return;
            }
            let (p, pp_, pn) = (
                self.out_pts[prev].pt,
                self.out_pts[pp].pt,
                self.out_pts[next].pt,
            );
            if pp_ == pn || pp_ == p || slopes_equal3(p, pp_, pn) {
                last_ok = NIL;
                self.out_pts[prev].next = next;
                self.out_pts[next].prev = prev;
                pp = prev;
            } else if pp == last_ok {
                break;
            } else {
                if last_ok == NIL {
                    last_ok = pp;
                }
                pp = next;
            }
        }
        self.out_recs[rec].pts = pp;
    }

    fn execute_internal(&mut self) -> Result<(), Failed> {
        self.reset();
        self.sorted_edges = NIL;
        let Some(mut bot_y) = self.pop_scanbeam() else {
            return Err(Failed);
        };
        self.insert_local_minima_into_ael(bot_y);
        let mut top_y = bot_y;
        loop {
            match self.pop_scanbeam() {
                Some(y) => top_y = y,
                None if self.local_minima_pending() => {}
                None => break,
            }
            self.process_horizontals()?;
            self.ghost_joins.clear();
            if !self.process_intersections(top_y) {
                return Err(Failed);
            }
            self.process_edges_at_top_of_scanbeam(top_y)?;
            bot_y = top_y;
            self.insert_local_minima_into_ael(bot_y);
        }
        for i in 0..self.out_recs.len() {
            let pts = self.out_recs[i].pts;
            if pts == NIL {
                continue;
            }
            if (self.out_recs[i].is_hole ^ self.reverse_output) == (self.out_pts_area(pts) > 0.0) {
                self.reverse_poly_pt_links(pts);
            }
        }
        if !self.joins.is_empty() {
            self.join_common_edges();
        }
        let mut i = 0;
        while i < self.out_recs.len() {
            if self.out_recs[i].pts != NIL {
                self.fixup_out_polygon(i);
            }
            i += 1;
        }
        Ok(())
    }

    /// `Clipper::Execute(ctUnion, solution, fill, fill)` with `ReverseSolution(reverse)`: the
    /// output paths in Clipper's order, each from `Pts->Prev` walking backwards.
    pub(crate) fn union(&mut self, fill: FillRule, reverse: bool) -> Vec<Vec<IntPoint>> {
        self.fill = Some(fill);
        self.reverse_output = reverse;
        if self.execute_internal().is_err() {
            return Vec::new();
        }
        let mut polys = Vec::new();
        for rec in &self.out_recs {
            if rec.pts == NIL {
                continue;
            }
            let mut p = self.out_pts[rec.pts].prev;
            let start = p;
            let mut pg = Vec::new();
            loop {
                pg.push(self.out_pts[p].pt);
                p = self.out_pts[p].prev;
                if p == start {
                    break;
                }
            }
            if pg.len() < 2 {
                continue;
            }
            polys.push(pg);
        }
        polys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_sort_sorts_like_a_sort() {
        // Ordering of equal keys is libstdc++'s; the keys themselves must come out sorted.
        let mut state = 7u64;
        for n in [0usize, 1, 2, 5, 16, 17, 40, 300] {
            let mut v: Vec<(i64, usize)> = (0..n)
                .map(|i| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (((state >> 33) % 7) as i64, i)
                })
                .collect();
            std_sort(&mut v, &|a: &(i64, usize), b: &(i64, usize)| b.0 < a.0);
            assert!(v.windows(2).all(|w| w[0].0 >= w[1].0), "{v:?}");
            let mut ids: Vec<usize> = v.iter().map(|p| p.1).collect();
            ids.sort();
            assert_eq!(ids, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn heap_sort_fallback_sorts() {
        let mut v: Vec<i32> = (0..50).map(|i| (i * 37) % 50).collect();
        heap_sort(&mut v, &|a: &i32, b: &i32| a < b);
        assert_eq!(v, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn union_of_a_square_is_the_square() {
        let mut c = Clipper::with_capacity(4);
        let sq = [ip(0, 0), ip(10, 0), ip(10, 10), ip(0, 10)];
        assert!(c.add_path(&sq));
        let out = c.union(FillRule::Positive, false);
        assert_eq!(out.len(), 1);
        assert_eq!(path_area(&out[0]).abs(), 100.0);
    }
}
