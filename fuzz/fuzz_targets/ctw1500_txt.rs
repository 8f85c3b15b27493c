//! CTW1500 txt labels (14-point polygons, `####transcription`).
#![no_main]
use fusedet::data::ctw1500;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = fusedet_fuzz::put("0001.txt", data);
    let _ = ctw1500::read_txt(&p);
});
