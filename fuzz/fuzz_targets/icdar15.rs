//! ICDAR 2015 ground truth and result files (`x1,y1,...,x4,y4[,transcription]`).
#![no_main]
use fusedet::data::icdar15;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("gt_img_1.txt", data);
    let _ = icdar15::read_gt(&p);
    let _ = icdar15::read_result(&p);
});
