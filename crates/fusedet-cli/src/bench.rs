//! `fusedet bench`: forward and post-processing timings, with onnxruntime and PaddleOCR's
//! Python `DBPostProcess` run on the same inputs in the same process tree when available.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use fusedet::TextDetector;

use crate::args::BenchArgs;
use fusedet::infer::ModelSource;
use fusedet::postprocess::db::ProbMap;
use fusedet::preprocess::Prepared;

const ORT_SCRIPT: &str = include_str!("bench_reference.py");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn synthetic_image(w: u32, h: u32) -> image::RgbImage {
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([235, 235, 230]));
    let mut y = 30;
    let mut k = 0u32;
    while y + 24 < h {
        let mut x = 20 + (k * 37) % 60;
        while x + 40 < w {
            let len = 30 + (k * 53) % 120;
            for yy in y..y + 18 {
                for xx in x..(x + len).min(w - 1) {
                    if (xx / 3 + yy / 4) % 3 != 0 {
                        img.put_pixel(xx, yy, image::Rgb([20, 20, 30]));
                    }
                }
            }
            x += len + 25;
            k += 1;
        }
        y += 42;
    }
    img
}

pub fn run(a: BenchArgs) -> Result<()> {
    let model_path = match fusedet::infer::resolve(&a.model, Default::default())? {
        ModelSource::Zoo(p) | ModelSource::Onnx(p) => p,
        ModelSource::RunDir(d) => anyhow::bail!(
            "{}: bench compares against onnxruntime and needs an ONNX model (a zoo name or a file)",
            d.display()
        ),
        ModelSource::Darknet(files) => return crate::bench_yolo::run(&a, &files),
    };
    if let Some(dir) = &a.e2e {
        return crate::bench_e2e::run(&a, dir, &model_path);
    }
    let device = crate::device::parse(&a.device)?;
    let det = TextDetector::from_onnx(&model_path, &device)?;
    let runs = a.runs.max(1);
    if a.profile {
        return print_profile(&det, &a, runs);
    }
    let tmp = tempdir()?;
    let mut report = Vec::new();
    for (h, w) in SIZES {
        let prep = bench_input(&det, &a, h, w)?;
        let input_path = tmp.join(format!("x_{h}x{w}.f32"));
        write_f32(&input_path, &prep.data)?;
        det.predict_maps(&[&prep])?;
        let mut fw = Vec::new();
        let mut map = None;
        for _ in 0..runs {
            let t = Instant::now();
            let m = det.predict_maps(&[&prep])?;
            fw.push(t.elapsed().as_secs_f64() * 1e3);
            map = m.into_iter().next();
        }
        let map = map.context("no map")?;
        let map_path = tmp.join(format!("map_{h}x{w}.f32"));
        write_f32(&map_path, &map.data)?;
        let mut pp = Vec::new();
        let mut n_boxes = 0;
        for _ in 0..runs.max(5) {
            let t = Instant::now();
            let d = det.postprocess.run(
                ProbMap {
                    data: &map.data,
                    width: map.width,
                    height: map.height,
                },
                w,
                h,
            );
            pp.push(t.elapsed().as_secs_f64() * 1e3);
            n_boxes = d.len();
        }
        let (fw, pp) = (median(fw), median(pp));
        let reference = run_reference(
            &model_path,
            &input_path,
            &map_path,
            h,
            w,
            runs,
            &a.reference_dir,
            &tmp,
        );
        report.push((h, w, fw, pp, n_boxes, reference));
    }
    println!(
        "fusedet bench: model {} ({}), {} runs, median ms",
        a.model,
        model_path.display(),
        runs
    );
    println!(
        "{:<10} {:>12} {:>12} {:>8} | {:>12} {:>12} | {:>14} {:>14}",
        "size",
        "forward",
        "postproc",
        "boxes",
        "ort forward",
        "py postproc",
        "forward ratio",
        "postproc speedup"
    );
    for (h, w, fw, pp, n, r) in report {
        let (of, op) = r.unwrap_or((f64::NAN, f64::NAN));
        println!(
            "{:<10} {:>12.1} {:>12.2} {:>8} | {:>12.1} {:>12.2} | {:>13.2}x {:>13.1}x",
            format!("{h}x{w}"),
            fw,
            pp,
            n,
            of,
            op,
            fw / of,
            op / pp
        );
    }
    println!(
        "forward ratio = fusedet / onnxruntime (2 threads; lower is better); postproc speedup = PaddleOCR DBPostProcess / fusedet"
    );
    Ok(())
}

/// The benchmark's network input sizes (height, width).
const SIZES: [(usize, usize); 2] = [(736, 1280), (640, 640)];

/// The `--image` (or the synthetic page) prepared at exactly `h x w`.
fn bench_input(det: &TextDetector, a: &BenchArgs, h: usize, w: usize) -> Result<Prepared> {
    let img = match &a.image {
        Some(p) => fusedet::preprocess::load_image(p)?,
        None => synthetic_image(w as u32, h as u32),
    };
    let img = fusedet::preprocess::resize_bilinear(&img, w as u32, h as u32);
    let mut prep = det.prepare(&img);
    // Force the exact benchmark size.
    if (prep.height, prep.width) != (h, w) {
        let mut cfg = det.preprocess.clone();
        cfg.limit_side_len = h.min(w) as u32;
        prep = fusedet::preprocess::prepare(&img, &cfg);
    }
    Ok(prep)
}

/// `bench --profile`: the forward's time per layer type ([`fusedet::profile`]), at both sizes.
fn print_profile(det: &TextDetector, a: &BenchArgs, runs: usize) -> Result<()> {
    if a.device != "cpu" {
        anyhow::bail!(
            "--profile times layers on the CPU, where each op runs when called; on {} ops are \
             queued and a layer's wall time is not its cost",
            a.device
        );
    }
    for (h, w) in SIZES {
        let prep = bench_input(det, a, h, w)?;
        det.predict_maps(&[&prep])?;
        fusedet::profile::enable(true);
        let t = Instant::now();
        for _ in 0..runs {
            det.predict_maps(&[&prep])?;
        }
        let total = t.elapsed().as_secs_f64() * 1e3 / runs as f64;
        let mut rows = fusedet::profile::take();
        fusedet::profile::enable(false);
        rows.sort_by_key(|r| std::cmp::Reverse(r.total));
        println!(
            "fusedet bench --profile: {} at {h}x{w}, mean of {runs} forwards, ms per forward",
            a.model
        );
        println!(
            "{:<34} {:>6} {:>9} {:>7}",
            "layer type", "calls", "ms", "share"
        );
        let mut attributed = 0.0;
        for r in &rows {
            let ms = r.total.as_secs_f64() * 1e3 / runs as f64;
            attributed += ms;
            println!(
                "{:<34} {:>6} {:>9.2} {:>6.1}%",
                r.kind,
                r.calls / runs as u64,
                ms,
                100.0 * ms / total
            );
        }
        let other = total - attributed;
        println!(
            "{:<34} {:>6} {:>9.2} {:>6.1}%",
            "other (input/map copies, unlisted)",
            "",
            other,
            100.0 * other / total
        );
        println!("{:<34} {:>6} {:>9.2}", "forward (predict_maps)", "", total);
        println!();
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_reference(
    model: &std::path::Path,
    input: &std::path::Path,
    map: &std::path::Path,
    h: usize,
    w: usize,
    runs: usize,
    reference_dir: &std::path::Path,
    tmp: &std::path::Path,
) -> Option<(f64, f64)> {
    let script = tmp.join("bench_reference.py");
    std::fs::write(&script, ORT_SCRIPT).ok()?;
    let out = Command::new(std::env::var("FUSEDET_PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(&script)
        .args([model.as_os_str(), input.as_os_str(), map.as_os_str()])
        .arg(format!("{h},{w}"))
        .arg(runs.to_string())
        .arg(reference_dir)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "reference run skipped: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
    Some((it.next()?, it.next()?))
}

fn write_f32(path: &std::path::Path, data: &[f32]) -> Result<()> {
    let mut f = std::fs::File::create(path)?;
    let mut bytes = Vec::with_capacity(data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    f.write_all(&bytes)?;
    Ok(())
}

fn tempdir() -> Result<PathBuf> {
    let p = std::env::temp_dir().join(format!("fusedet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}
