//! `fusedet train` checks its whole dataset before the first step: every label line parsed,
//! every polygon of 3 distinct points at least, every image decoded. It stops with the
//! problems (`FILE:LINE: problem`, the first 20 then a count), or with `data.skip_bad = true`
//! trains without the images concerned and lists them in `skipped.txt`.

use std::path::Path;
use std::process::Command;

fn fusedet(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fusedet"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A tiny DBNet recipe on an ICDAR 2015-style dataset in `dir`.
fn recipe(dir: &Path, skip_bad: bool) -> String {
    let (images, labels) = (dir.join("data/images"), dir.join("data/labels"));
    let text = format!(
        "[model]\narch = \"dbnet\"\n[model.backbone]\ntype = \"resnet18\"\nbase_width = 8\n\
         [model.neck]\ntype = \"fpnc\"\nchannels = 32\n\
         [data]\nskip_bad = {skip_bad}\n\
         [data.train]\nkind = \"files\"\nformat = \"icdar15\"\nimages = {:?}\nlabels = {:?}\n\
         [data.augment]\ncrop_size = 64\n\
         [eval]\nlimit_side_len = 96\nlimit_type = \"max\"\n\
         [optim]\nlr = 0.02\nsteps = 2\nbatch_size = 2\n[run]\nseed = 7\n",
        images.to_str().unwrap(),
        labels.to_str().unwrap(),
    );
    let p = dir.join(format!("r{}.toml", u8::from(skip_bad)));
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// 28 synthetic images, of which 24 are spoiled: 21 label files with a bad line, one with a
/// polygon of two distinct points, one truncated JPEG, one file that is not an image.
fn spoiled_dataset(dir: &Path) {
    let data = dir.join("data");
    let (rc, _, err) = fusedet(&[
        "synth",
        "--out",
        data.to_str().unwrap(),
        "--count",
        "28",
        "--size",
        "96x96",
        "--format",
        "icdar15",
    ]);
    assert_eq!(rc, 0, "{err}");
    let (images, labels) = (data.join("images"), data.join("labels"));
    let gt = |i: usize| labels.join(format!("gt_synth_{i:06}.txt"));
    for i in 0..21 {
        let mut t = std::fs::read_to_string(gt(i)).unwrap();
        t.push_str("1,2,3,oops\r\n");
        std::fs::write(gt(i), t).unwrap();
    }
    let mut t = std::fs::read_to_string(gt(21)).unwrap();
    t.push_str("10,10,10,10,20,20,20,20,flat\r\n");
    std::fs::write(gt(21), t).unwrap();
    // synth_000022: a JPEG cut short (under the .png name: the content decides).
    let img = image::open(images.join("synth_000022.png"))
        .unwrap()
        .to_rgb8();
    let mut jpg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpg, image::ImageFormat::Jpeg).unwrap();
    let jpg = jpg.into_inner();
    std::fs::write(images.join("synth_000022.png"), &jpg[..jpg.len() * 2 / 3]).unwrap();
    std::fs::write(images.join("synth_000023.png"), b"not an image").unwrap();
}

#[test]
fn bad_data_stops_training_with_the_first_20_problems_and_a_count() {
    let tmp = tempfile::tempdir().unwrap();
    spoiled_dataset(tmp.path());
    let run = tmp.path().join("run");
    let (rc, _, err) = fusedet(&[
        "train",
        &recipe(tmp.path(), false),
        "--out",
        run.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(rc, 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.starts_with("error: 24 problems in the training data (nothing was trained;"),
        "{err}"
    );
    assert!(err.contains("data.skip_bad = true"), "{err}");
    let listed: Vec<&str> = err.lines().skip(1).collect();
    assert_eq!(listed.len(), 21, "{err}");
    assert!(
        listed[0].ends_with("expected x1,y1,x2,y2,x3,y3,x4,y4[,transcription], found 4 fields"),
        "{err}"
    );
    for (i, l) in listed[..20].iter().enumerate() {
        assert!(l.contains(&format!("gt_synth_{i:06}.txt:")), "{l}");
    }
    assert_eq!(listed[20].trim(), "... and 4 more");
    assert!(!run.join("checkpoints").exists(), "nothing may be trained");
}

#[test]
fn skip_bad_trains_without_them_and_lists_them_in_the_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    spoiled_dataset(tmp.path());
    let run = tmp.path().join("run");
    let (rc, out, err) = fusedet(&[
        "train",
        &recipe(tmp.path(), true),
        "--out",
        run.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("2 steps"), "{out}");
    assert!(
        err.contains("24 problems in 28 images; training without the 24 images concerned")
            && err.contains("skipped.txt"),
        "{err}"
    );
    let list = std::fs::read_to_string(run.join("skipped.txt")).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 24, "{list}");
    assert!(lines[0].contains("gt_synth_000000.txt:"), "{list}");
    assert!(
        lines[21].contains("gt_synth_000021.txt:")
            && lines[21].contains("polygon with 2 distinct points"),
        "{list}"
    );
    assert!(
        lines[22].contains("synth_000022.png: premature end of JPEG file"),
        "{list}"
    );
    assert!(
        lines[23].contains("synth_000023.png: cannot decode image"),
        "{list}"
    );
    // The recipe kept in the run directory has the key, so --resume reads it back.
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("skip_bad = true"), "{cfg}");
}
