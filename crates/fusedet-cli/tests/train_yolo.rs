//! `fusedet train` of a YOLOv3 / ASFF object detector (configs/yolov3_asff_smoke.toml: a
//! narrow ASFF model on generated shapes, seconds on a CPU), its resume after SIGKILL, and
//! its run directory as a model for `detect` and `eval`; every recipe in configs/ parses.

mod common;

use std::path::{Path, PathBuf};

use common::{bin, ok};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

fn smoke() -> PathBuf {
    common::config("yolov3_asff_smoke.toml")
}

/// Step, the total and the six loss terms, and the learning rate of each row; not the timings.
fn losses(run: &Path) -> Vec<String> {
    common::metric_rows(run, 9)
}

#[test]
fn every_recipe_in_configs_parses_and_validates() {
    let mut n = 0;
    for e in std::fs::read_dir(configs()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let cfg = fusedet::train::TrainConfig::from_file(&p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            // What the run directory stores reads back to the same recipe.
            let again = fusedet::train::TrainConfig::from_toml(&cfg.to_toml()).unwrap();
            assert_eq!(again, cfg, "{}", p.display());
            n += 1;
        }
    }
    assert!(n >= 11, "{n} recipes");
    for name in [
        "yolov3_baseline_coco.toml",
        "yolov3_asff_coco.toml",
        "yolov3_asff_rfb_dropblock_coco.toml",
        "yolov3_asff_mobile_coco.toml",
    ] {
        let cfg = fusedet::train::TrainConfig::from_file(&configs().join(name)).unwrap();
        assert!(cfg.model.is_objects(), "{name}");
        let o = &cfg.optim;
        assert_eq!(
            (o.lr, o.momentum, o.weight_decay),
            (1e-3, 0.9, 5e-4),
            "{name}"
        );
        assert_eq!(o.warmup_power, 4.0, "{name}");
        assert_eq!(o.learning_rate(o.steps - 1), o.min_lr, "{name}");
        let fusedet::model::ModelSpec::Yolov3(m) = &cfg.model else {
            panic!("{name}: not a YOLOv3 recipe")
        };
        assert_eq!(
            m.backbone == fusedet::model::yolov3::YoloV3Backbone::MobileNetV2,
            name.contains("mobile"),
            "{name}"
        );
    }
}

#[test]
fn sigkill_then_resume_gives_the_same_losses_step_for_step() {
    let tmp = tempfile::tempdir().unwrap();
    // The smoke recipe with a long schedule, so the run is still going when it is killed.
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
fn a_trained_yolo_run_directory_works_with_detect_and_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let text = ok(bin()
        .arg("train")
        .arg(smoke())
        .arg("--out")
        .arg(&run)
        .arg("--quiet"));
    assert!(
        text.contains("8 steps") && text.contains("val AP"),
        "{text}"
    );
    for f in [
        "config.toml",
        "names.txt",
        "metrics.csv",
        "curves.png",
        "weights/best.bpk",
        "weights/best.json",
        "weights/last.bpk",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(
        csv.starts_with("step,loss,loss_anchor,loss_iou,loss_xy,loss_wh,loss_obj,loss_cls,lr,")
    );
    let rows = losses(&run);
    assert_eq!(rows.len(), 8);
    for r in &rows {
        let v: Vec<f64> = r.split(',').map(|x| x.parse().unwrap()).collect();
        let terms: f64 = v[2..8].iter().sum();
        assert!(
            v[1].is_finite() && (v[1] - terms).abs() < 1e-4 * v[1].max(1.0),
            "{r}"
        );
        assert!(v[2..8].iter().all(|&t| t >= 0.0), "{r}");
    }

    let data = tmp.path().join("shapes");
    let text = ok(bin()
        .args(["synth", "--task", "objects", "--format", "coco", "--out"])
        .arg(&data)
        .args(["--count", "3", "--size", "96x96", "--seed", "5"]));
    assert!(text.contains("3 images"), "{text}");
    // The generator's object count and sizes, as a recipe's `synth` table sets them.
    let few = tmp.path().join("few");
    ok(bin()
        .args(["synth", "--task", "objects", "--out"])
        .arg(&few)
        .args(["--count", "4", "--size", "96x96", "--objects", "2-2"])
        .args(["--object-size", "10-20"]));
    for e in std::fs::read_dir(few.join("labels")).unwrap() {
        let t = std::fs::read_to_string(e.unwrap().path()).unwrap();
        assert_eq!(t.lines().count(), 2, "{t}");
        for l in t.lines() {
            let v: Vec<f64> = l.split(' ').skip(3).map(|x| x.parse().unwrap()).collect();
            let side = v[0].max(v[1]) * 96.0;
            assert!((9.0..=21.0).contains(&side), "{l}");
        }
    }
    let bad = bin()
        .args(["synth", "--task", "objects", "--out"])
        .arg(tmp.path().join("bad"))
        .args(["--objects", "5-2"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--objects must be MIN-MAX"));
    for f in ["data.yaml", "classes.names", "instances.json", "labels"] {
        assert!(data.join(f).exists(), "{f} missing");
    }
    let (json, overlay) = (tmp.path().join("det.json"), tmp.path().join("overlay"));
    ok(bin()
        .arg("detect")
        .arg(data.join("images"))
        .arg("--model")
        .arg(&run)
        .args(["--conf", "0.001", "--json"])
        .arg(&json)
        .arg("--overlay")
        .arg(&overlay)
        .arg("--fusion-maps")
        .arg(tmp.path().join("fusion")));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let results = v.as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(std::fs::read_dir(&overlay).unwrap().count(), 3);
    // ASFF's fusion weights: three panels of the 96 x 96 image side by side, with a title band.
    let fusion: Vec<_> = std::fs::read_dir(tmp.path().join("fusion"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(fusion.len(), 3);
    assert!(fusion[0].to_string_lossy().ends_with("_fusion.png"));
    let panels = image::open(&fusion[0]).unwrap();
    assert_eq!((panels.width(), panels.height()), (3 * 96 + 2 * 8, 96 + 28));
    let names = ["rectangle", "ellipse", "triangle", "cross"];
    assert!(results.iter().any(|r| {
        r["detections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| names.contains(&d["class"].as_str().unwrap()) && d["box"].is_array())
    }));
    // The library's Detector reads the same run directory and gives the same detections.
    let mut det = fusedet::Detector::from_pretrained(
        run.to_str().unwrap(),
        &fusedet::burn::tensor::Device::default(),
    )
    .unwrap();
    let o = det
        .object_mut()
        .expect("a YOLOv3 run is an object detector");
    assert_eq!(o.input_size, (64, 64));
    assert!(!o.letterbox);
    o.postprocess.conf = 0.001;
    for r in results {
        let img = fusedet::preprocess::load_image(Path::new(r["image"].as_str().unwrap())).unwrap();
        let ours = serde_json::to_value(det.detect(&img).unwrap()).unwrap();
        assert_eq!(ours, r["detections"], "{}", r["image"]);
    }

    for (format, labels) in [
        ("yolo", data.join("data.yaml")),
        ("coco", data.join("instances.json")),
    ] {
        let report = tmp.path().join(format!("eval_{format}.json"));
        let text = ok(bin()
            .args(["eval", "--format", format, "--images"])
            .arg(data.join("images"))
            .arg("--labels")
            .arg(&labels)
            .arg("--model")
            .arg(&run)
            .arg("--json")
            .arg(&report));
        assert!(text.contains("Average Precision"), "{format}: {text}");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert!(v["map50"].as_f64().is_some(), "{format}: {v}");
        assert_eq!(v["images"], 3, "{format}: {v}");
    }
}

#[test]
fn a_mobilenet_v2_asff_run_directory_detects_and_draws_its_fusion_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(smoke()).unwrap();
    let narrow =
        "width = 0.125           # Darknet-53 at 8-8-16-32-64-128 channels instead of 32-...-1024";
    assert!(smoke.contains(narrow));
    let mobile = smoke
        .replace(narrow, "backbone = \"mobilenetv2\"")
        .replace("steps = 8", "steps = 2")
        .replace("val_every = 4", "val_every = 2");
    // The MobileNetV2 variant is built at width 1 only: a narrow one is refused, naming the key.
    let cfg = tmp.path().join("narrow.toml");
    std::fs::write(
        &cfg,
        mobile.replace(
            "backbone = \"mobilenetv2\"",
            "backbone = \"mobilenetv2\"\nwidth = 0.5",
        ),
    )
    .unwrap();
    let out = bin()
        .arg("train")
        .arg(&cfg)
        .arg("--out")
        .arg(tmp.path().join("narrow"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("model.width") && err.contains("mobilenetv2"),
        "{err}"
    );

    let cfg = tmp.path().join("mobile.toml");
    std::fs::write(&cfg, &mobile).unwrap();
    let run = tmp.path().join("run");
    let text = ok(bin()
        .arg("train")
        .arg(&cfg)
        .arg("--out")
        .arg(&run)
        .arg("--quiet"));
    assert!(text.contains("2 steps"), "{text}");
    let data = tmp.path().join("shapes");
    ok(bin()
        .args(["synth", "--task", "objects", "--out"])
        .arg(&data)
        .args(["--count", "1", "--size", "96x96", "--seed", "5"]));
    let json = tmp.path().join("det.json");
    ok(bin()
        .arg("detect")
        .arg(data.join("images"))
        .arg("--model")
        .arg(&run)
        .args(["--conf", "0.001", "--json"])
        .arg(&json)
        .arg("--fusion-maps")
        .arg(tmp.path().join("fusion")));
    let fusion: Vec<_> = std::fs::read_dir(tmp.path().join("fusion"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(fusion.len(), 1);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let r = &v.as_array().unwrap()[0];
    // The library rebuilds the MobileNetV2 model from the run directory: same detections.
    let mut det = fusedet::Detector::from_pretrained(
        run.to_str().unwrap(),
        &fusedet::burn::tensor::Device::default(),
    )
    .unwrap();
    let o = det.object_mut().expect("an object detector");
    assert!(o.has_fusion());
    o.postprocess.conf = 0.001;
    let img = fusedet::preprocess::load_image(Path::new(r["image"].as_str().unwrap())).unwrap();
    let ours = serde_json::to_value(det.detect(&img).unwrap()).unwrap();
    assert_eq!(ours, r["detections"]);
}

#[test]
fn object_recipes_refuse_text_data_and_wrong_class_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(smoke()).unwrap();
    for (recipe, key) in [
        (
            smoke.replace("kind = \"synth_objects\"\ncount = 32", "kind = \"synth\"\ncount = 32")
                .replace("synth = { width = 96, height = 96, min_objects = 1, max_objects = 3, min_size = 8.0, max_size = 64.0, seed = 1 }", ""),
            "data.train.kind",
        ),
        (smoke.replace("input_size = 64", "input_size = 70"), "objects.input_size"),
        (smoke.replace("width = 0.125", "width = 0.0"), "model.width"),
        (smoke.replace("num_classes = 4", "num_classes = 3"), "model.num_classes"),
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
        assert!(err.contains(key) && !err.contains("panicked"), "{key}: {err}");
    }
}

#[test]
fn object_files_train_and_a_damaged_image_stops_or_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shapes");
    ok(bin()
        .args(["synth", "--task", "objects", "--out"])
        .arg(&data)
        .args(["--count", "4", "--size", "96x96"]));
    // Cut one image short: its header (and size) still reads, its pixels do not.
    let bad = data.join("images/synth_000002.png");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let recipe = |skip_bad: bool| {
        format!(
            "[model]\narch = \"yolov3\"\nnum_classes = 4\nwidth = 0.125\n\
             [objects]\ninput_size = 64\n\
             [data]\nskip_bad = {skip_bad}\n\
             [data.train]\nkind = \"yolo\"\nimages = {:?}\nlabels = {:?}\nnames = {:?}\n\
             [optim]\nsteps = 2\nbatch_size = 2\n[run]\ncheckpoint_every = 2\n",
            data.join("images"),
            data.join("labels"),
            data.join("data.yaml"),
        )
    };
    let cfg = tmp.path().join("files.toml");
    std::fs::write(&cfg, recipe(false)).unwrap();
    let out = bin()
        .arg("train")
        .arg(&cfg)
        .arg("--out")
        .arg(tmp.path().join("a"))
        .arg("--quiet")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("synth_000002.png") && err.contains("skip_bad") && !err.contains("panicked"),
        "{err}"
    );
    std::fs::write(&cfg, recipe(true)).unwrap();
    let run = tmp.path().join("b");
    let text = ok(bin()
        .arg("train")
        .arg(&cfg)
        .arg("--out")
        .arg(&run)
        .arg("--quiet"));
    assert!(
        text.contains("2 steps") && text.contains("1 images concerned"),
        "{text}"
    );
    let skipped = std::fs::read_to_string(run.join("skipped.txt")).unwrap();
    assert!(skipped.contains("synth_000002.png"), "{skipped}");
    assert_eq!(
        std::fs::read_to_string(run.join("names.txt")).unwrap(),
        "rectangle\nellipse\ntriangle\ncross\n"
    );
}
