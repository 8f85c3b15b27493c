//! Time per layer type of a forward pass (`fusedet bench --profile`).
//!
//! The model code wraps its layers in [`time`] with a kind name ("conv 1x1", "hard-swish +
//! affine", ...). Off (the default) that is one relaxed atomic load per layer; on, each call's
//! wall time is added to its kind. Burn's flex CPU backend runs every op eagerly on the calling
//! thread (its kernels fork and join inside the op), so a layer's wall time is its cost; on the
//! GPU backends ops are queued, so profiles are for the CPU only (`bench` refuses otherwise).
//! Kinds nest: a kind's time includes the kinds called inside it only where the model says so
//! (the layers instrumented are leaves).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static ENABLED: AtomicBool = AtomicBool::new(false);
static TABLE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// One layer kind's accumulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The kind, as the model names it.
    pub kind: &'static str,
    /// Total wall time.
    pub total: Duration,
    /// Number of calls.
    pub calls: u64,
}

/// Turns recording on or off (and clears what was recorded).
pub fn enable(on: bool) {
    take();
    ENABLED.store(on, Ordering::Relaxed);
}

/// Runs `f`, adding its wall time to `kind` when recording is on.
pub fn time<T>(kind: &'static str, f: impl FnOnce() -> T) -> T {
    if !ENABLED.load(Ordering::Relaxed) {
        return f();
    }
    let t = Instant::now();
    let out = f();
    let dt = t.elapsed();
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    match table.iter_mut().find(|e| e.kind == kind) {
        Some(e) => {
            e.total += dt;
            e.calls += 1;
        }
        None => table.push(Entry {
            kind,
            total: dt,
            calls: 1,
        }),
    }
    out
}

/// What was recorded since the last call, in first-seen order; clears it.
pub fn take() -> Vec<Entry> {
    std::mem::take(&mut *TABLE.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The kind name of a 2-D convolution: "conv 1x1", "conv 3x3 depthwise", "conv 3x3 stride 2",
/// "conv kxk grouped", ...
pub fn conv_kind(k: usize, stride: usize, groups: usize, cin: usize) -> &'static str {
    let depthwise = groups > 1 && groups == cin;
    match (k, stride, depthwise, groups > 1) {
        (1, 1, _, false) => "conv 1x1",
        (1, _, _, false) => "conv 1x1 strided",
        (3, 1, true, _) => "conv 3x3 depthwise",
        (3, _, true, _) => "conv 3x3 depthwise stride 2",
        (5, 1, true, _) => "conv 5x5 depthwise",
        (5, _, true, _) => "conv 5x5 depthwise stride 2",
        (_, _, true, _) => "conv kxk depthwise",
        (_, _, false, true) => "conv kxk grouped",
        (3, 1, false, false) => "conv 3x3",
        (3, _, false, false) => "conv 3x3 stride 2",
        (_, 1, false, false) => "conv kxk",
        (_, _, false, false) => "conv kxk strided",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_kind_only_when_enabled() {
        // One test touches the global table (tests run in parallel).
        time("a", || ());
        assert!(take().is_empty());
        enable(true);
        time("a", || std::thread::sleep(Duration::from_millis(2)));
        time("b", || ());
        time("a", || ());
        let t = take();
        enable(false);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].kind, t[0].calls), ("a", 2));
        assert!(t[0].total >= Duration::from_millis(2));
        assert_eq!((t[1].kind, t[1].calls), ("b", 1));
        assert!(take().is_empty());
        assert_eq!(conv_kind(1, 1, 1, 8), "conv 1x1");
        assert_eq!(conv_kind(5, 2, 8, 8), "conv 5x5 depthwise stride 2");
        assert_eq!(conv_kind(3, 1, 1, 8), "conv 3x3");
    }
}
