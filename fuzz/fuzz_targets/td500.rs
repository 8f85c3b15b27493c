//! MSRA-TD500 ground truth (`index difficult x y w h theta`).
#![no_main]
use fusedet::data::td500;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("IMG_0001.gt", data);
    let _ = td500::read_gt(&p);
});
