//! `fusedet train`, `fusedet synth`, and a trained run directory used by `detect` and `eval`.
//! The smoke recipe (configs/smoke.toml) trains a tiny DBNet on generated images in seconds.

mod common;

use std::path::{Path, PathBuf};

use common::{bin, ok};

fn smoke() -> PathBuf {
    common::config("smoke.toml")
}

fn losses(run: &Path) -> Vec<String> {
    common::metric_rows(run, 6)
}

#[test]
fn sigkill_then_resume_gives_the_same_losses_step_for_step() {
    let tmp = tempfile::tempdir().unwrap();
    // The smoke recipe with a long schedule, so the run is still going when it is killed.
    let recipe = std::fs::read_to_string(smoke())
        .unwrap()
        .replace("steps = 12", "steps = 400")
        .replace("val_every = 6", "val_every = 0");
    let cfg = tmp.path().join("long.toml");
    std::fs::write(&cfg, recipe).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    common::train_killed_and_resumed(&cfg, &a, &b, 14, 4);
    let (la, lb) = (losses(&a), losses(&b));
    assert_eq!(la.len(), 14);
    assert_eq!(la, lb, "resumed run differs from the uninterrupted one");
}

#[test]
fn a_trained_run_directory_works_with_detect_and_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let text = ok(bin()
        .arg("train")
        .arg(smoke())
        .arg("--out")
        .arg(&run)
        .arg("--quiet"));
    assert!(text.contains("12 steps"), "{text}");
    for f in [
        "config.toml",
        "metrics.csv",
        "curves.png",
        "weights/best.bpk",
        "weights/last.bpk",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    assert_eq!(losses(&run).len(), 12);
    let png = image::open(run.join("curves.png")).unwrap();
    assert_eq!((png.width(), png.height()), (900, 500));

    let data = tmp.path().join("synth");
    let text = ok(bin()
        .arg("synth")
        .arg("--out")
        .arg(&data)
        .args(["--count", "3", "--size", "96x96", "--seed", "5"]));
    assert!(text.contains("3 images"), "{text}");
    let json = tmp.path().join("det.json");
    ok(bin()
        .arg("detect")
        .arg(data.join("images"))
        .arg("--model")
        .arg(&run)
        .args(["--device", "cpu"])
        .arg("--json")
        .arg(&json));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    // The library's Detector reads the same run directory and gives the same detections.
    let det = fusedet::Detector::from_pretrained(
        run.to_str().unwrap(),
        &fusedet::burn::tensor::Device::default(),
    )
    .unwrap();
    for r in v.as_array().unwrap() {
        let img = fusedet::preprocess::load_image(Path::new(r["image"].as_str().unwrap())).unwrap();
        let ours = serde_json::to_value(det.detect(&img).unwrap()).unwrap();
        assert_eq!(ours, r["detections"], "{}", r["image"]);
    }
    let report = tmp.path().join("eval.json");
    let text = ok(bin()
        .args(["eval", "--format", "paddle", "--images"])
        .arg(&data)
        .arg("--labels")
        .arg(data.join("labels.txt"))
        .arg("--model")
        .arg(&run)
        .args(["--device", "cpu"])
        .arg("--json")
        .arg(&report));
    assert!(text.contains("hmean"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(v.to_string().contains("hmean"));

    // A device this build does not have is refused, naming what it has.
    let out = bin()
        .arg("detect")
        .arg(data.join("images"))
        .arg("--model")
        .arg(&run)
        .args(["--device", "tpu:3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("tpu:3") && err.contains("available") && !err.contains("panicked"),
        "{err}"
    );

    // A directory that is not a run is refused with its name.
    let out = bin()
        .args(["detect"])
        .arg(data.join("images"))
        .arg("--model")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a fusedet run directory"));
}

#[test]
fn bad_recipes_and_resumes_are_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    // An unknown backbone, a key of another backbone type (`base_width` is ResNet's), a key of
    // another neck (`asf` is FPNC's), a key of the old flat layout, an invalid value.
    let model = "[model]\narch = \"dbnet\"\n";
    for (section, key) in [
        ("[model.backbone]\ntype = \"resnet34\"\n", "resnet34"),
        (
            "[model.backbone]\ntype = \"lcnet_v3\"\nbase_width = 8\n",
            "base_width",
        ),
        ("[model.neck]\ntype = \"rse_fpn\"\nasf = true\n", "asf"),
        ("use_asf = true\n", "use_asf"),
        (
            "[model.neck]\ntype = \"fpnc\"\nchannels = 20\n",
            "model.neck.channels",
        ),
    ] {
        std::fs::write(
            &cfg,
            format!("{model}{section}[data.train]\nkind = \"synth\"\ncount = 4\n"),
        )
        .unwrap();
        let out = bin().arg("train").arg(&cfg).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("bad.toml") && err.contains(key) && !err.contains("panicked"),
            "{section}: {err}"
        );
    }
    let out = bin()
        .arg("train")
        .arg("--resume")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a fusedet run directory"));
}

/// Flips one byte in the middle of a file.
fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn corrupt_checkpoints_are_passed_over_and_corrupt_weights_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    ok(bin()
        .arg("train")
        .arg(smoke())
        .arg("--out")
        .arg(&run)
        .arg("--quiet"));
    let before = losses(&run);
    assert_eq!(before.len(), 12);
    // keep_checkpoints = 2: steps 8 and 12 are kept. A flipped byte in step 12's weights
    // (as a bad disk or an interrupted copy leaves it) sends --resume back to step 8, with a
    // warning naming the damaged file; steps 9-12 are then recomputed identically.
    let bad = run.join("checkpoints/step-00000012/model.bpk");
    flip_byte(&bad);
    let text = ok(bin().arg("train").arg("--resume").arg(&run).arg("--quiet"));
    assert!(
        text.contains("step-00000012") && text.contains("model.bpk") && text.contains("corrupt"),
        "{text}"
    );
    assert!(text.contains("at step 8 of 12"), "{text}");
    assert_eq!(losses(&run), before, "steps 9-12 after the fallback differ");
    // A cut-short state.json is caught too.
    let state = run.join("checkpoints/step-00000012/state.json");
    let text_state = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, &text_state[..text_state.len() / 2]).unwrap();
    let text = ok(bin().arg("train").arg("--resume").arg(&run).arg("--quiet"));
    assert!(
        text.contains("state.json") && text.contains("at step 8"),
        "{text}"
    );

    // Inference refuses damaged weights by name instead of detecting with them.
    let img = tmp.path().join("a.png");
    image::RgbImage::new(64, 64).save(&img).unwrap();
    flip_byte(&run.join("weights/best.bpk"));
    let out = bin()
        .arg("detect")
        .arg(&img)
        .arg("--model")
        .arg(&run)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("best.bpk") && err.contains("corrupt") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn data_parallel_over_two_devices_trains_and_checks_the_batch_split() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("dp");
    // Two replicas on the CPU device: the multi-device step (fork, per-device gradients,
    // step_multi) runs as it would over two GPUs.
    let text = ok(bin()
        .arg("train")
        .arg(smoke())
        .arg("--out")
        .arg(&run)
        .args(["--device", "cpu,cpu", "--quiet"]));
    assert!(text.contains("12 steps"), "{text}");
    let rows = losses(&run);
    assert_eq!(rows.len(), 12);
    let loss = |r: &String| r.split(',').nth(1).unwrap().parse::<f64>().unwrap();
    let (first, last) = (loss(&rows[0]), loss(&rows[11]));
    assert!(
        last < first * 0.85,
        "data-parallel loss did not fall: {first} -> {last}"
    );

    let cfg = tmp.path().join("odd.toml");
    let recipe = std::fs::read_to_string(smoke())
        .unwrap()
        .replace("batch_size = 2", "batch_size = 3");
    std::fs::write(&cfg, recipe).unwrap();
    let out = bin()
        .arg("train")
        .arg(&cfg)
        .arg("--out")
        .arg(tmp.path().join("odd"))
        .args(["--device", "cpu,cpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not split evenly"));
}
