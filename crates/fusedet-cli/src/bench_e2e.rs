//! `fusedet bench --e2e DIR`: the whole `fusedet detect` path on a directory of images against
//! the Python pipeline it replaces (cv2 + PaddleOCR's preprocessing + onnxruntime +
//! DBPostProcess, `bench_e2e_reference.py`), both as whole processes, interleaved
//! (fusedet, Python, fusedet, Python, ...), medians and the ratio printed; then fusedet's time
//! per stage and its peak memory from one in-process pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fusedet::Detector;

use crate::args::BenchArgs;

const SCRIPT: &str = include_str!("bench_e2e_reference.py");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Peak resident memory of this process in KiB (Linux `VmHWM`), if known.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["jpg", "jpeg", "png"].contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    v.sort();
    if v.is_empty() {
        bail!("{}: no JPEG or PNG images", dir.display());
    }
    Ok(v)
}

pub fn run(a: &BenchArgs, dir: &Path, model_path: &Path) -> Result<()> {
    let files = images(dir)?;
    let rounds = a.runs.max(1);
    let tmp = std::env::temp_dir().join(format!("fusedet-bench-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let script = tmp.join("bench_e2e_reference.py");
    std::fs::write(&script, SCRIPT)?;
    let python = std::env::var("FUSEDET_PYTHON").unwrap_or_else(|_| "python3".into());
    let exe = std::env::current_exe()?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_peak, mut their_peak) = (0u64, 0u64);
    let mut reference_error = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let out = Command::new(&exe)
            .args([
                "detect", "--model", &a.model, "--device", &a.device, "--json",
            ])
            .arg(tmp.join("fusedet.json"))
            .arg(dir)
            .env("FUSEDET_REPORT_PEAK_RSS", "1")
            .output()?;
        ours.push(t.elapsed().as_secs_f64());
        if !out.status.success() {
            bail!(
                "fusedet detect failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if let Some(v) = err
            .lines()
            .find_map(|l| l.strip_prefix("peak_rss_kib "))
            .and_then(|v| v.trim().parse().ok())
        {
            our_peak = our_peak.max(v);
        }
        if reference_error.is_some() {
            continue;
        }
        let t = Instant::now();
        let out = Command::new(&python)
            .arg(&script)
            .arg(&a.reference_dir)
            .arg(model_path)
            .arg(tmp.join("python.json"))
            .args(&files)
            .output()?;
        let secs = t.elapsed().as_secs_f64();
        if out.status.success() {
            theirs.push(secs);
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(v) = text.lines().last().and_then(|l| l.trim().parse().ok()) {
                their_peak = their_peak.max(v);
            }
        } else {
            reference_error = Some(
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    let same = compare_outputs(&tmp.join("fusedet.json"), &tmp.join("python.json"));
    // Per stage, in process.
    let device = crate::device::parse(&a.device)?;
    let det = Detector::from_pretrained(&a.model, &device)?;
    let Detector::Text(t) = &det else {
        bail!("--e2e compares text detectors with the Python PaddleOCR pipeline");
    };
    let mut stage = [0f64; 5];
    for f in &files {
        let t0 = Instant::now();
        let img = fusedet::preprocess::load_image(f)?;
        let t1 = Instant::now();
        let p = t.prepare(&img);
        let t2 = Instant::now();
        let maps = t.predict_maps(&[&p])?;
        let t3 = Instant::now();
        let dets = t.postprocess(&maps[0], &p);
        let t4 = Instant::now();
        let _ = serde_json::to_string(&dets)?;
        let t5 = Instant::now();
        for (s, (a, b)) in stage
            .iter_mut()
            .zip([(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)])
        {
            *s += (b - a).as_secs_f64() * 1e3;
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let (fm, n) = (median(ours.clone()), files.len());
    println!(
        "fusedet bench --e2e: {} images from {}, model {}, {rounds} interleaved rounds, whole processes",
        n,
        dir.display(),
        a.model
    );
    println!("{:<28} {:>10} {:>14}", "", "wall s", "peak memory");
    println!(
        "{:<28} {:>10.2} {:>11} MiB   (runs: {})",
        "fusedet detect",
        fm,
        our_peak / 1024,
        ours.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    match &reference_error {
        None => {
            let pm = median(theirs.clone());
            println!(
                "{:<28} {:>10.2} {:>11} MiB   (runs: {})",
                "Python + onnxruntime",
                pm,
                their_peak / 1024,
                theirs
                    .iter()
                    .map(|s| format!("{s:.2}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            println!("ratio fusedet / Python: {:.2}x (lower is better)", fm / pm);
        }
        Some(e) => println!("Python reference skipped: {e}"),
    }
    if let Some(s) = same {
        println!("{s}");
    }
    println!("fusedet per stage, in process, ms per image:");
    for (name, v) in ["decode", "preprocess", "forward", "post-process", "output"]
        .iter()
        .zip(stage)
    {
        println!("  {name:<13} {:>8.1}", v / n as f64);
    }
    Ok(())
}

/// How many images got the same boxes from both pipelines.
fn compare_outputs(ours: &Path, theirs: &Path) -> Option<String> {
    let read = |p: &Path| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(p).ok()?).ok()
    };
    let (a, b) = (read(ours)?, read(theirs)?);
    let (a, b) = (a.as_array()?, b.as_array()?);
    let pts = |r: &serde_json::Value| -> Vec<Vec<[i64; 2]>> {
        r["detections"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|x| {
                        x["points"]
                            .as_array()
                            .map(|p| {
                                p.iter()
                                    .map(|q| {
                                        [
                                            q[0].as_f64().unwrap_or(f64::NAN).round() as i64,
                                            q[1].as_f64().unwrap_or(f64::NAN).round() as i64,
                                        ]
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let same = a.iter().zip(b).filter(|(x, y)| pts(x) == pts(y)).count();
    Some(format!(
        "boxes identical on {same} of {} images (point for point, in order)",
        a.len().min(b.len())
    ))
}
