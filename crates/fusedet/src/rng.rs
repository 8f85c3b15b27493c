//! A small, seedable, portable random number generator (SplitMix64).
//!
//! Training data, augmentation and the synthetic dataset draw from streams derived from a seed
//! and a position (`Rng::derive(seed, &[epoch, index])`), never from a shared mutable state, so
//! results do not depend on thread scheduling and a resumed run draws exactly what an
//! uninterrupted run would.

/// SplitMix64 (Steele, Lea and Flood 2014): 64 bits of state, passes BigCrush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: mix(seed) }
    }

    /// An independent stream for a position (e.g. epoch and sample index) under a seed.
    pub fn derive(seed: u64, keys: &[u64]) -> Self {
        let mut s = mix(seed ^ 0x6A09_E667_F3BC_C908);
        for &k in keys {
            s = mix(s ^ mix(k.wrapping_add(0x9E37_79B9_7F4A_7C15)));
        }
        Self { state: s }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `[lo, hi)` (`lo` when the range is empty). Unbiased: draws at or
    /// above the largest multiple of the span below 2^64 are rejected and redrawn (a plain
    /// modulo would favour the low values).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo);
        let limit = u64::MAX - u64::MAX % span;
        loop {
            let v = self.next_u64();
            if v < limit {
                return lo.wrapping_add((v % span) as i64);
            }
        }
    }

    /// Uniform index in `[0, n)`.
    pub fn index(&mut self, n: usize) -> usize {
        self.range(0, n as i64) as usize
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.index(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::derive(7, &[1, 2]).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::derive(7, &[1, 2]).next_u64(),
            Rng::derive(7, &[2, 1]).next_u64()
        );
        assert_ne!(
            Rng::derive(7, &[1]).next_u64(),
            Rng::derive(8, &[1]).next_u64()
        );
    }

    #[test]
    fn integer_ranges_are_unbiased_even_for_spans_near_2_to_the_64() {
        // Span 3·2^62: a plain `next_u64() % span` puts half of all draws in the lowest third.
        let (lo, hi) = (i64::MIN, 1i64 << 62);
        let mut r = Rng::new(3);
        let n = 30_000;
        let low = (0..n)
            .filter(|_| {
                let v = r.range(lo, hi);
                assert!((lo..hi).contains(&v));
                v < i64::MIN + (1i64 << 62)
            })
            .count();
        let frac = low as f64 / n as f64;
        assert!((frac - 1.0 / 3.0).abs() < 0.015, "lowest third got {frac}");
        let mut small = Rng::new(4);
        let mut seen = [0usize; 7];
        for _ in 0..7_000 {
            seen[(small.range(-3, 4) + 3) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (850..1150).contains(&c)), "{seen:?}");
    }

    #[test]
    fn uniform_draws_cover_the_range_evenly() {
        let mut r = Rng::new(1);
        let mut buckets = [0usize; 10];
        for _ in 0..100_000 {
            let x = r.f64();
            assert!((0.0..1.0).contains(&x));
            buckets[(x * 10.0) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&b| (9_500..10_500).contains(&b)),
            "{buckets:?}"
        );
        let mut v: Vec<usize> = (0..50).collect();
        r.shuffle(&mut v);
        let mut s = v.clone();
        s.sort_unstable();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
        assert_ne!(v, s);
    }
}
