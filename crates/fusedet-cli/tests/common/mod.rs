//! Helpers shared by the CLI integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code)]
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

/// Runs `cmd`, asserts success, returns stdout + stderr.
#[allow(dead_code)]
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Trains recipe `cfg` for `steps` steps into `a` without interruption, and into `b` with a
/// SIGKILL once its checkpoint of step `first` exists, then `--resume` to `steps`; the caller
/// compares the two runs.
#[allow(dead_code)]
pub fn train_killed_and_resumed(cfg: &Path, a: &Path, b: &Path, steps: usize, first: usize) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let max = steps.to_string();
    ok(bin()
        .arg("train")
        .arg(cfg)
        .arg("--out")
        .arg(a)
        .args(["--max-steps", &max, "--quiet"]));
    let mut child = bin()
        .arg("train")
        .arg(cfg)
        .arg("--out")
        .arg(b)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = b.join(format!("checkpoints/step-{first:08}/state.json"));
    let t = Instant::now();
    while !first.is_file() {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run was not killed: {status:?}");
    let text = ok(bin()
        .arg("train")
        .arg("--resume")
        .arg(b)
        .args(["--max-steps", &max, "--quiet"]));
    assert!(
        text.contains("resuming") && text.contains(&format!("{steps} steps")),
        "{text}"
    );
}

/// The `fusedet` binary.
#[allow(dead_code)]
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fusedet"))
}

/// A recipe of the repository's `configs/`.
#[allow(dead_code)]
pub fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs")
        .join(name)
}

/// The first `columns` fields of each row of a run's `metrics.csv` (the step, the losses and
/// the learning rate; not the timings).
#[allow(dead_code)]
pub fn metric_rows(run: &Path, columns: usize) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(columns).collect::<Vec<_>>().join(","))
        .collect()
}
