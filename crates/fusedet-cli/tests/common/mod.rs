//! Helpers shared by the CLI integration tests.

use std::path::Path;
use std::process::Command;

/// Runs the `fusedet` binary with `FUSEDET_HOME` set to `home` (so nothing is fetched into the
/// user's cache); returns the exit code, stdout and stderr.
pub fn fusedet(args: &[&str], home: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fusedet"))
        .args(args)
        .env("FUSEDET_HOME", home)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A Darknet `.weights` file: version 0.2.0, 64-bit `seen` = 0, then `values`.
#[allow(dead_code)]
pub fn darknet_weights(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0i32, 2, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&0u64.to_le_bytes());
    for v in values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}
