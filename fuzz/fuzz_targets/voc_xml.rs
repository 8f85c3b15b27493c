//! Pascal VOC xml annotations (of `images/img.png`).
#![no_main]
use fusedet::data::objects;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = fusedet_fuzz::scratch();
    let xml = fusedet_fuzz::put("annotations/img.xml", data);
    let _ = objects::read_voc(&dir.join("images"), &dir.join("annotations"), None);
    let names = vec!["a".to_string(), "b".to_string()];
    let _ = objects::read_voc(&dir.join("images"), &dir.join("annotations"), Some(names));
    let _ = std::fs::remove_file(xml);
});
