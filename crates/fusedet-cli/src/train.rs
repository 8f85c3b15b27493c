//! `fusedet train` and `fusedet synth`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use fusedet::run_dir::{is_run_dir, next_run_dir};
use fusedet::synth::{Synth, SynthConfig};
use fusedet::synth_objects::{SynthObjects, SynthObjectsConfig};
use fusedet::train::{Event, TrainConfig, TrainOptions, train};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Recipe (TOML: [model] [loss] [targets] [postprocess] [eval] [data] [optim] [run], and
    /// [objects] for arch = "yolov3").
    /// Optional with --resume (the run directory's config.toml is used).
    pub config: Option<PathBuf>,
    /// Run directory (config, weights/{last,best}.bpk, checkpoints, metrics.csv, curves.png)
    /// [default: runs/train/<recipe name>, then <recipe name>2, 3, ...].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long, conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Stop after this step; the learning-rate schedule still follows optim.steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Device: cpu (default), cuda / cuda:N when built with `--features cuda`, wgpu / wgpu:N
    /// (Vulkan, Metal, DX12) with `--features wgpu`. Several, comma-separated
    /// (`cuda:0,cuda:1`), train data-parallel with the batch split between them.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// No progress bar; one line per checkpoint and validation.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: TrainArgs) -> Result<()> {
    let (out, cfg_path, resume) = match (&a.resume, &a.out) {
        (Some(dir), _) => {
            if !is_run_dir(dir) {
                bail!(
                    "{}: not a fusedet run directory (no config.toml)",
                    dir.display()
                );
            }
            (
                dir.clone(),
                a.config.clone().unwrap_or(dir.join("config.toml")),
                true,
            )
        }
        (None, out) => {
            let cfg = a
                .config
                .clone()
                .context("a recipe is needed (fusedet train CONFIG), or --resume DIR")?;
            let name = cfg.file_stem().and_then(|s| s.to_str()).unwrap_or("exp");
            let out = out
                .clone()
                .unwrap_or_else(|| next_run_dir(&PathBuf::from("runs/train"), name));
            if out.join("checkpoints").is_dir() {
                bail!(
                    "{} already holds a run: continue it with --resume {0}, or choose another --out",
                    out.display()
                );
            }
            (out, cfg, false)
        }
    };
    let cfg = TrainConfig::from_file(&cfg_path)?;
    let opts = TrainOptions {
        out: out.clone(),
        resume,
        max_steps: a.max_steps,
        devices: a
            .device
            .split(',')
            .map(|d| crate::device::parse(d.trim()))
            .collect::<Result<_>>()?,
    };
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}<{eta_precise}] {wide_bar} step {pos}/{len} {msg}",
        )
        .expect("template"),
    );
    let quiet = a.quiet;
    let summary = train(&cfg, &opts, &mut |ev| match ev {
        Event::Started {
            step,
            total,
            resumed,
        } => {
            bar.set_length(total as u64);
            bar.set_position(step as u64);
            let what = if resumed { "resuming" } else { "training" };
            let line = format!("{what} {} at step {step} of {total}", out.display());
            if quiet {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        Event::Step(r) => {
            bar.set_position(r.step as u64);
            bar.set_message(format!(
                "loss {:.3} (bce {:.3} l1 {:.3} dice {:.3}) lr {:.2e} {:.2} img/s",
                r.loss, r.loss_prob, r.loss_thresh, r.loss_binary, r.lr, r.img_per_s
            ));
        }
        Event::QuadStep(r) => {
            bar.set_position(r.step as u64);
            bar.set_message(format!(
                "loss {:.3} (focal {:.3} smooth-l1 {:.3}, {:.1} positives/img) lr {:.2e} \
                 {:.2} img/s",
                r.loss, r.loss_cls, r.loss_loc, r.positives, r.lr, r.img_per_s
            ));
        }
        Event::ObjectStep(r) => {
            bar.set_position(r.step as u64);
            let t = &r.terms;
            bar.set_message(format!(
                "loss {:.3} (anchor {:.3} iou {:.3} xy {:.3} wh {:.3} obj {:.3} cls {:.3}) \
                 lr {:.2e} {:.2} img/s",
                r.loss, t.anchor, t.iou, t.xy, t.wh, t.obj, t.cls, r.lr, r.img_per_s
            ));
        }
        Event::ObjectValidated { step, stats, best } => {
            let line = format!(
                "step {step}: val AP {:.4} AP50 {:.4} AP_s {:.4} AP_m {:.4} AP_l {:.4}{}",
                stats.ap,
                stats.ap50,
                stats.ap_small,
                stats.ap_medium,
                stats.ap_large,
                if best { " (best)" } else { "" }
            );
            if quiet {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        Event::Validated { step, scores, best } => {
            let line = format!(
                "step {step}: val P {:.4} R {:.4} H {:.4}{}",
                scores.precision,
                scores.recall,
                scores.hmean,
                if best { " (best)" } else { "" }
            );
            if quiet {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        Event::DataChecked {
            images,
            skipped,
            problems,
            list,
        } => {
            let line = match list {
                None if images == 0 => None,
                None => Some(format!("data: {images} images checked, no problems")),
                Some(list) => Some(format!(
                    "warning: data: {problems} problems in {images} images; training without \
                     the {skipped} images concerned (data.skip_bad), listed in {}",
                    list.display()
                )),
            };
            if let Some(line) = line {
                bar.suspend(|| eprintln!("{line}"));
            }
        }
        Event::SkippedCheckpoint { dir, error } => {
            bar.suspend(|| {
                eprintln!(
                    "warning: checkpoint {} is not usable ({error}); trying the one before it",
                    dir.display()
                )
            });
        }
        Event::Checkpoint(p) => {
            if quiet {
                eprintln!("checkpoint {}", p.display());
            }
        }
    })?;
    bar.finish_and_clear();
    println!(
        "{}: {} steps, last loss {:.4}{}",
        out.display(),
        summary.steps,
        summary.last_loss,
        match (&summary.best, &summary.best_ap) {
            (Some((s, v)), _) => format!(
                ", best val hmean {:.4} (P {:.4} R {:.4}) at step {s}",
                v.hmean, v.precision, v.recall
            ),
            (None, Some((s, ap, ap50))) => {
                format!(", best val AP {ap:.4} (AP50 {ap50:.4}) at step {s}")
            }
            (None, None) => String::new(),
        }
    );
    println!("metrics: {}", out.join("metrics.csv").display());
    println!("curves:  {}", out.join("curves.png").display());
    Ok(())
}

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output directory (images/ and the labels).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// Dataset seed (different seeds give disjoint held-out sets).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Image size WxH.
    #[arg(long, default_value = "256x256")]
    pub size: String,
    /// What to draw: text (words, polygon labels) or objects (shapes of 4 classes at varied
    /// scales, box labels).
    #[arg(long, default_value = "text")]
    pub task: String,
    /// Label format. Text: paddle (labels.txt, polygons) or icdar15 (labels/gt_*.txt; curved
    /// words keep all their points). Objects: yolo (labels/*.txt, data.yaml, classes.names) or
    /// coco (the same plus instances.json) [default: paddle for text, yolo for objects].
    #[arg(long)]
    pub format: Option<String>,
    /// Fraction of curved words.
    #[arg(long, default_value_t = 0.25)]
    pub curved: f64,
    /// Objects: fewest and most objects per image, `MIN-MAX` (as `min_objects` /
    /// `max_objects` of a recipe's `synth` table).
    #[arg(long, default_value = "1-6")]
    pub objects: String,
    /// Objects: smallest and largest object side in pixels, `MIN-MAX` (`min_size` /
    /// `max_size`; default 8 to three quarters of the shorter image side).
    #[arg(long)]
    pub object_size: Option<String>,
}

/// `A-B` as two numbers, `A <= B`.
fn range<T: std::str::FromStr + PartialOrd + Copy>(s: &str, flag: &str) -> Result<(T, T)> {
    s.split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .filter(|(a, b)| a <= b)
        .with_context(|| format!("{flag} must be MIN-MAX with MIN <= MAX, not `{s}`"))
}

pub fn synth(a: SynthArgs) -> Result<()> {
    let (w, h) = a
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|&(w, h)| w >= 64 && h >= 64)
        .with_context(|| format!("--size must be WxH, each at least 64, not `{}`", a.size))?;
    match a.task.as_str() {
        "text" => {}
        "objects" => return synth_objects(&a, w, h),
        other => bail!("--task must be text or objects, not `{other}`"),
    }
    let g = Synth::new(SynthConfig {
        width: w,
        height: h,
        seed: a.seed,
        curved: a.curved,
        ..SynthConfig::default()
    });
    let images = a.out.join("images");
    std::fs::create_dir_all(&images).with_context(|| images.display().to_string())?;
    let bar = ProgressBar::new(a.count as u64);
    let mut samples = Vec::with_capacity(a.count);
    for i in 0..a.count {
        let (img, labels) = g.sample(i as u64);
        let path = images.join(format!("synth_{i:06}.png"));
        let mut bytes = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )?;
        fusedet::zoo::write_atomic(&path, &bytes).with_context(|| path.display().to_string())?;
        samples.push(fusedet::data::TextSample {
            image: path,
            instances: labels,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let words: usize = samples.iter().map(|s| s.instances.len()).sum();
    match a.format.as_deref().unwrap_or("paddle") {
        "paddle" => {
            let p = a.out.join("labels.txt");
            fusedet::data::paddle::write(&samples, &p, &a.out)?;
            println!(
                "{} images, {words} words: --format paddle --images {} --labels {}",
                a.count,
                a.out.display(),
                p.display()
            );
        }
        "icdar15" => {
            let p = a.out.join("labels");
            std::fs::create_dir_all(&p).with_context(|| p.display().to_string())?;
            fusedet::data::icdar15::write_dataset(&samples, &p)?;
            println!(
                "{} images, {words} words: --format icdar15 --images {} --labels {}",
                a.count,
                images.display(),
                p.display()
            );
        }
        other => bail!("--format must be paddle or icdar15 for text, not `{other}`"),
    }
    Ok(())
}

/// `fusedet synth --task objects`.
fn synth_objects(a: &SynthArgs, w: u32, h: u32) -> Result<()> {
    let format = a.format.as_deref().unwrap_or("yolo");
    if !matches!(format, "yolo" | "coco") {
        bail!("--format must be yolo or coco for objects, not `{format}`");
    }
    let (min_objects, max_objects) = range::<usize>(&a.objects, "--objects")?;
    let defaults = SynthObjectsConfig::default();
    let (min_size, max_size) = match &a.object_size {
        Some(s) => range::<f64>(s, "--object-size")?,
        None => (defaults.min_size, f64::from(w.min(h)) * 0.75),
    };
    let g = SynthObjects::new(SynthObjectsConfig {
        width: w,
        height: h,
        seed: a.seed,
        min_objects,
        max_objects,
        min_size,
        max_size,
        ..defaults
    });
    let ds = g
        .write(&a.out, a.count)
        .with_context(|| format!("writing {}", a.out.display()))?;
    let boxes: usize = ds.samples.iter().map(|s| s.boxes.len()).sum();
    let images = a.out.join("images");
    if format == "coco" {
        let p = a.out.join("instances.json");
        fusedet::data::objects::write_coco(&ds, &p, &images)?;
        println!(
            "{} images, {boxes} boxes: --format coco --images {} --labels {}",
            a.count,
            images.display(),
            p.display()
        );
    } else {
        println!(
            "{} images, {boxes} boxes: --format yolo --images {} --labels {}",
            a.count,
            images.display(),
            a.out.join("data.yaml").display()
        );
    }
    Ok(())
}
