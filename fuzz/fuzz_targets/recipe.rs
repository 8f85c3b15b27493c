//! Training recipes (TOML) with their validation.
#![no_main]
use fusedet::train::TrainConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = TrainConfig::from_toml(text);
    }
});
