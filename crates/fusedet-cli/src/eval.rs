//! `fusedet eval`: detection over an annotated dataset, scored with the ICDAR 2015 protocol;
//! the object formats (`coco`, `yolo`, `voc`: COCOeval and VOC AP) are in [`crate::eval_objects`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use fusedet::data::{self, TextFormat, TextSample, icdar15};
use fusedet::metric::{self, ImageCounts, MatchMode, SWEEP_THRESHOLDS};
use fusedet::preprocess::load_image;
use fusedet::zoo;
use serde::Serialize;

use crate::args::{EvalArgs, EvalFormat};
use crate::detect::{detect_files, failed_images, progress, save_png};
use crate::eval_objects;

#[derive(Serialize)]
struct Summary<'a> {
    precision: f64,
    recall: f64,
    hmean: f64,
    images: usize,
    matched: usize,
    gt_care: usize,
    det_care: usize,
    mode: MatchMode,
    model: Option<&'a str>,
    format: TextFormat,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sweep: Vec<SweepRow>,
}

#[derive(Serialize)]
struct SweepRow {
    box_thresh: f64,
    precision: f64,
    recall: f64,
    hmean: f64,
}

type Polys = metric::ScoredPolygons;

pub fn run(a: EvalArgs) -> Result<()> {
    let format = match a.format {
        EvalFormat::Objects(f) => return eval_objects::run(&a, f),
        EvalFormat::Text(f) => f,
    };
    if a.names.is_some() {
        bail!("--names is for the object formats (coco|yolo|voc)");
    }
    let mut samples = data::load(format, &a.images, &a.labels)?;
    samples = samples
        .into_iter()
        .skip(a.skip)
        .take(a.limit.unwrap_or(usize::MAX))
        .collect();
    if samples.is_empty() {
        bail!("no images left after --skip {}", a.skip);
    }
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    }
    let dets: Vec<Polys> = match &a.predictions {
        Some(dir) => read_predictions(&samples, dir)?,
        None => run_model(&a, &samples)?,
    };
    let gt: Vec<Vec<data::TextInstance>> = samples.iter().map(|s| s.instances.clone()).collect();
    let polys: Vec<Vec<Vec<[f64; 2]>>> = dets
        .iter()
        .map(|d| d.iter().map(|(p, _)| p.clone()).collect())
        .collect();
    let (scores, per) = metric::hmean_iou(&gt, &polys, a.mode);
    println!(
        "images {}  precision {:.4}  recall {:.4}  hmean {:.4}  (matched {}, gt {}, det {}, {:?})",
        samples.len(),
        scores.precision,
        scores.recall,
        scores.hmean,
        scores.matched,
        scores.gt_care,
        scores.det_care,
        a.mode
    );
    let mut sweep_rows = Vec::new();
    if a.sweep {
        println!("box_thresh  precision  recall  hmean");
        for (t, s) in metric::sweep(&gt, &dets, &SWEEP_THRESHOLDS, a.mode) {
            println!(
                "{t:>10.1}  {:>9.4}  {:>6.4}  {:>5.4}",
                s.precision, s.recall, s.hmean
            );
            sweep_rows.push(SweepRow {
                box_thresh: t,
                precision: s.precision,
                recall: s.recall,
                hmean: s.hmean,
            });
        }
    }
    if let Some(path) = &a.json {
        let s = Summary {
            precision: scores.precision,
            recall: scores.recall,
            hmean: scores.hmean,
            images: samples.len(),
            matched: scores.matched,
            gt_care: scores.gt_care,
            det_care: scores.det_care,
            mode: a.mode,
            model: a.predictions.is_none().then_some(a.detector.model.as_str()),
            format,
            sweep: sweep_rows,
        };
        zoo::write_atomic(path, serde_json::to_string_pretty(&s)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(out) = &a.out {
        write_outputs(out, &samples, &dets, &per, a.worst, a.predictions.is_none())?;
        eprintln!(
            "wrote res_*.txt, per_image.csv and report/ in {}",
            out.display()
        );
    }
    Ok(())
}

fn read_predictions(samples: &[TextSample], dir: &Path) -> Result<Vec<Polys>> {
    samples
        .iter()
        .map(|s| {
            let p = dir.join(icdar15::result_name(&s.image));
            if !p.is_file() {
                return Ok(Vec::new());
            }
            Ok(icdar15::read_result(&p)?
                .into_iter()
                .map(|q| (q, 1.0))
                .collect())
        })
        .collect()
}

fn run_model(a: &EvalArgs, samples: &[TextSample]) -> Result<Vec<Polys>> {
    let det = a.detector.build()?;
    let files: Vec<PathBuf> = samples.iter().map(|s| s.image.clone()).collect();
    let bar = progress(files.len())?;
    let mut out: Vec<Polys> = Vec::with_capacity(files.len());
    let failures = detect_files(&det, &files, &a.detector, &bar, |_, r| {
        match r {
            Ok(d) => out.push(d.detections.iter().map(|d| (d.points(), d.score)).collect()),
            Err(e) => {
                bar.suspend(|| eprintln!("error: {e}"));
                out.push(Vec::new());
            }
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if failures > 0 {
        bail!(
            "{}",
            failed_images(failures, files.len(), a.detector.input.strict)
        );
    }
    Ok(out)
}

fn write_outputs(
    out: &Path,
    samples: &[TextSample],
    dets: &[Polys],
    per: &[ImageCounts],
    worst: usize,
    write_results: bool,
) -> Result<()> {
    if write_results {
        for (s, d) in samples.iter().zip(dets) {
            let polys: Vec<Vec<[f64; 2]>> = d.iter().map(|(p, _)| p.clone()).collect();
            let path = out.join(icdar15::result_name(&s.image));
            zoo::write_atomic(&path, icdar15::format_result(&polys).as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    // The csv crate quotes fields as RFC 4180 says (a path with a comma or a quote stays one
    // field).
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "image",
        "gt_care",
        "det_care",
        "matched",
        "precision",
        "recall",
        "hmean",
    ])?;
    for (s, c) in samples.iter().zip(per) {
        // The official script's per-sample scores (1 when there is nothing to find and
        // nothing was found).
        let (precision, recall, hmean) = c.sample_scores();
        w.write_record([
            s.image.display().to_string(),
            c.gt_care.to_string(),
            c.det_care.to_string(),
            c.matched.to_string(),
            format!("{precision:.4}"),
            format!("{recall:.4}"),
            format!("{hmean:.4}"),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    zoo::write_atomic(&out.join("per_image.csv"), &bytes)?;
    // Report: the worst images (most errors first), GT and detections drawn.
    let report = out.join("report");
    std::fs::create_dir_all(&report)?;
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let errors = |c: &ImageCounts| (c.gt_care - c.matched) + (c.det_care - c.matched);
    order.sort_by_key(|&i| std::cmp::Reverse(errors(&per[i])));
    let mut html = String::from(
        "<!doctype html><meta charset=utf-8><title>fusedet eval: worst images</title>\
         <style>body{font-family:sans-serif}img{max-width:100%}</style>\
         <h1>Worst images</h1><p>green: ground truth matched, orange: ground truth missed, \
         grey: don't care, blue: correct detection, red: false positive</p>\n",
    );
    for &i in order.iter().take(worst) {
        let (s, c) = (&samples[i], &per[i]);
        let Ok(mut canvas) = load_image(&s.image) else {
            continue;
        };
        for (k, g) in s.instances.iter().enumerate() {
            let color = if g.ignore {
                [160, 160, 160]
            } else if c.gt_match.get(k).copied().flatten().is_some() {
                [0, 200, 0]
            } else {
                [255, 150, 0]
            };
            fusedet::draw::draw_polygon(&mut canvas, &g.points, image::Rgb(color), 2);
        }
        for (k, (p, _)) in dets[i].iter().enumerate() {
            let color = if c.false_positive.get(k).copied().unwrap_or(false) {
                [255, 0, 0]
            } else {
                [0, 90, 255]
            };
            fusedet::draw::draw_polygon(&mut canvas, p, image::Rgb(color), 2);
        }
        let stem = s
            .image
            .file_stem()
            .and_then(|x| x.to_str())
            .unwrap_or("image");
        save_png(&canvas, &report.join(format!("{stem}.png")))?;
        let stem = html_escape(stem);
        writeln!(
            html,
            "<h2>{stem}: {} missed, {} false positives (hmean {:.3})</h2><img src=\"{stem}.png\">",
            c.gt_care - c.matched,
            c.det_care - c.matched,
            c.hmean()
        )?;
    }
    zoo::write_atomic(&report.join("index.html"), html.as_bytes())?;
    Ok(())
}

/// Text safe inside HTML elements and double-quoted attributes.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
