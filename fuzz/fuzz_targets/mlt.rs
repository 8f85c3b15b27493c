//! ICDAR MLT ground truth (`x1,...,y4,script,transcription`).
#![no_main]
use fusedet::data::mlt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("gt_img_1.txt", data);
    let _ = mlt::read_gt(&p);
});
