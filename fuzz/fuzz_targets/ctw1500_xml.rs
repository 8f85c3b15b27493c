//! CTW1500 xml labels (`<box>` with `<segs>` of 28 numbers).
#![no_main]
use fusedet::data::ctw1500;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("0001.xml", data);
    let _ = ctw1500::read_xml(&p);
});
