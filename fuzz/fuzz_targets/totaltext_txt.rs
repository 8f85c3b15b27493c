//! Total-Text txt ground truth (`x: [[..]], y: [[..]], ornt: [u'c'], transcriptions: [u'..']`).
#![no_main]
use fusedet::data::totaltext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("poly_gt_img1.txt", data);
    let _ = totaltext::read_gt(&p);
});
