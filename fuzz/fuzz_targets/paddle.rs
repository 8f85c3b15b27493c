//! PaddleOCR / MindOCR detection labels (`path\t[{"transcription":..,"points":..}]`).
#![no_main]
use fusedet::data::paddle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("det_gt.txt", data);
    let _ = paddle::read(&p, fusedet_fuzz::scratch());
});
