//! YOLO datasets: the same bytes as a label file (`class cx cy w h` lines) of
//! `images/img.png`, as a dataset yaml (`names:`) and as a Darknet `.names` file.
#![no_main]
use fusedet::data::objects;
use fusedet::object::read_names;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = fusedet_fuzz::scratch();
    let label = fusedet_fuzz::put("labels/img.txt", data);
    let names: Vec<String> = (0..80).map(|i| format!("c{i}")).collect();
    let _ = objects::read_yolo(&dir.join("images"), &dir.join("labels"), names);
    let _ = std::fs::remove_file(label);
    let yaml = fusedet_fuzz::put("data.yaml", data);
    let _ = objects::read_yolo_names(&yaml);
    let _ = read_names(&yaml, 3);
});
