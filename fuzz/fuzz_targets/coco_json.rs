//! COCO instances json.
#![no_main]
use fusedet::data::objects;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("instances.json", data);
    let _ = objects::read_coco(&p, &fusedet_fuzz::scratch().join("images"));
});
