//! `fusedet train` of a RetinaNet + TextBoxes++ detector (configs/textboxes_smoke.toml: a
//! narrow ResNet-18 model on generated text, seconds on a CPU), its resume after SIGKILL, and
//! its run directory as a model for `detect` and `eval` (quads in the same JSON as DBNet's
//! polygons, scored with the ICDAR 2015 protocol).

mod common;

use std::path::{Path, PathBuf};

use common::{bin, ok};

fn smoke() -> PathBuf {
    common::config("textboxes_smoke.toml")
}

/// Step, loss, the two terms, positives and the learning rate of each row; not the timings.
fn losses(run: &Path) -> Vec<String> {
    common::metric_rows(run, 6)
}

#[test]
fn sigkill_then_resume_gives_the_same_losses_step_for_step() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = std::fs::read_to_string(smoke())
        .unwrap()
        .replace("steps = 8", "steps = 400")
        .replace("val_every = 4", "val_every = 0");
    let cfg = tmp.path().join("long.toml");
    std::fs::write(&cfg, recipe).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    common::train_killed_and_resumed(&cfg, &a, &b, 7, 2);
    let (la, lb) = (losses(&a), losses(&b));
    assert_eq!(la.len(), 7);
    assert_eq!(la, lb, "resumed run differs from the uninterrupted one");
}

#[test]
fn a_trained_textboxes_run_directory_works_with_detect_and_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let text = ok(bin()
        .arg("train")
        .arg(smoke())
        .arg("--out")
        .arg(&run)
        .arg("--quiet"));
    assert!(text.contains("8 steps") && text.contains("val P"), "{text}");
    for f in [
        "config.toml",
        "metrics.csv",
        "curves.png",
        "weights/best.bpk",
        "weights/best.json",
        "weights/last.bpk",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("step,loss,loss_cls,loss_loc,positives,lr,"));
    for r in losses(&run) {
        let v: Vec<f64> = r.split(',').map(|x| x.parse().unwrap()).collect();
        assert!(
            v[1].is_finite() && (v[1] - v[2] - v[3]).abs() < 1e-4 * v[1].max(1.0),
            "{r}"
        );
        assert!(v[4] > 0.0, "no positive anchor: {r}");
    }

    // ICDAR-style data made by `fusedet synth`; a low threshold so that the barely trained
    // model outputs quads.
    let data = tmp.path().join("synth");
    ok(bin()
        .args(["synth", "--out"])
        .arg(&data)
        .args(["--count", "3", "--size", "96x96", "--seed", "5"]));
    let (json, overlay) = (tmp.path().join("det.json"), tmp.path().join("overlay"));
    ok(bin()
        .arg("detect")
        .arg(data.join("images"))
        .arg("--model")
        .arg(&run)
        .args(["--conf", "0.01", "--json"])
        .arg(&json)
        .arg("--overlay")
        .arg(&overlay));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let results = v.as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(std::fs::read_dir(&overlay).unwrap().count(), 3);
    let quads: Vec<&serde_json::Value> = results
        .iter()
        .flat_map(|r| r["detections"].as_array().unwrap())
        .collect();
    assert!(!quads.is_empty(), "no detections at --conf 0.01");
    for d in &quads {
        assert_eq!(d["points"].as_array().unwrap().len(), 4, "{d}");
    }
    // DB-only options are refused by name.
    let out = bin()
        .arg("detect")
        .arg(data.join("images"))
        .arg("--model")
        .arg(&run)
        .args(["--unclip-ratio", "2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--unclip-ratio"),
        "{err}"
    );
    // The library reads the same run directory and gives the same detections.
    let mut det = fusedet::Detector::from_pretrained(
        run.to_str().unwrap(),
        &fusedet::burn::tensor::Device::default(),
    )
    .unwrap();
    let fusedet::Detector::Quad(q) = &mut det else {
        panic!("a TextBoxes++ run is a quad detector")
    };
    assert_eq!(q.postprocess.input_size, [96, 96]);
    q.postprocess.score_thresh = 0.01;
    for r in results {
        let img = fusedet::preprocess::load_image(Path::new(r["image"].as_str().unwrap())).unwrap();
        let ours = serde_json::to_value(det.detect(&img).unwrap()).unwrap();
        assert_eq!(ours, r["detections"], "{}", r["image"]);
    }

    // `model.pretrained = RUN_DIR` starts a new model (fine-tuning) from the run's best weights.
    let device = fusedet::burn::tensor::Device::default();
    let (trained, recipe) = fusedet::run_dir::load(&run, &device).unwrap();
    let fusedet::model::ModelSpec::Textboxes(mut spec) = recipe.model else {
        panic!("a TextBoxes++ recipe")
    };
    spec.pretrained = Some(run.clone());
    let tuned = fusedet::train::build_model(
        &fusedet::model::ModelSpec::Textboxes(spec.clone()),
        &device,
        true,
    )
    .unwrap();
    let x = fusedet::burn::tensor::Tensor::<4>::ones([1, 3, 64, 64], &device);
    let logits = |m: &fusedet::model::DetModel| -> Vec<f32> {
        m.textboxes()
            .unwrap()
            .forward(x.clone())
            .cls
            .into_data()
            .try_to_vec()
            .unwrap()
    };
    assert_eq!(logits(&trained), logits(&tuned));
    let fresh = fusedet::model::DetModel::build(
        &fusedet::model::ModelSpec::Textboxes(spec),
        &device,
        false,
    )
    .unwrap();
    assert_ne!(logits(&trained), logits(&fresh));

    let report = tmp.path().join("eval.json");
    let text = ok(bin()
        .args(["eval", "--format", "paddle", "--images"])
        .arg(&data)
        .arg("--labels")
        .arg(data.join("labels.txt"))
        .arg("--model")
        .arg(&run)
        .arg("--json")
        .arg(&report));
    assert!(text.contains("hmean"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(v["hmean"].as_f64().is_some(), "{v}");
}

#[test]
fn textboxes_recipes_refuse_bad_values_by_key() {
    let tmp = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(smoke()).unwrap();
    for (recipe, key) in [
        (
            smoke.replace("input_size = 64", "input_size = 70"),
            "textboxes.input_size",
        ),
        (
            smoke.replace("channels = 16", "channels = 16\np2 = false"),
            "model.anchors.sizes",
        ),
        (
            smoke.replace("score_thresh = 0.3", "score_thresh = 3.0"),
            "model.postprocess.score_thresh",
        ),
        (
            smoke.replace("milestones = [6]", "milestones = [6, 2]"),
            "optim.milestones",
        ),
        (
            smoke.replace("convs = 1", "convs = 1\nregression = \"6\""),
            "`4+8`",
        ),
    ] {
        let cfg = tmp.path().join("bad.toml");
        std::fs::write(&cfg, recipe).unwrap();
        let out = bin()
            .arg("train")
            .arg(&cfg)
            .arg("--out")
            .arg(tmp.path().join("run"))
            .arg("--quiet")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}");
        assert!(
            err.contains(key) && !err.contains("panicked"),
            "{key}: {err}"
        );
    }
}
