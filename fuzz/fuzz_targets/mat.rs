//! MATLAB v5 files: the MAT reader itself, Total-Text's `poly_gt_*.mat` and SynthText's
//! `gt.mat` on top of it.
#![no_main]
use fusedet::data::{mat, synthtext, totaltext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("gt.mat", data);
    let _ = mat::read(&p);
    let _ = totaltext::read_mat(&p);
    let _ = synthtext::read(&p, fusedet_fuzz::scratch());
});
