//! `fusedet bench` for Darknet object detectors: fusedet's network forward and decoding +
//! NMS, against the reference `darknet` binary (`detector test`, which prints the time of its
//! `network_predict`) on the same image in the same run, when `darknet` is on the PATH.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use fusedet::ObjectDetector;
use fusedet::infer::DarknetFiles;

use crate::args::BenchArgs;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A street-like test picture: sky, road and a few blocks (the network's time does not depend
/// on the content; the detections count does).
fn synthetic_image() -> image::RgbImage {
    image::RgbImage::from_fn(640, 480, |x, y| {
        if y < 200 {
            image::Rgb([120, 160, 220])
        } else if (x / 80 + y / 60) % 3 == 0 {
            image::Rgb([200, 40, 40])
        } else {
            image::Rgb([90, 90, 90])
        }
    })
}

pub fn run(a: &BenchArgs, files: &DarknetFiles) -> Result<()> {
    let device = crate::device::parse(&a.device)?;
    let det = ObjectDetector::from_darknet(files, &device)?;
    let runs = a.runs.max(1);
    let tmp = std::env::temp_dir().join(format!("fusedet-bench-yolo-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let image_path = match &a.image {
        Some(p) => p.clone(),
        None => {
            let p = tmp.join("synthetic.png");
            synthetic_image().save(&p)?;
            p
        }
    };
    let img = fusedet::preprocess::load_image(&image_path)?;
    let prep = det.prepare(&img);
    det.predict(&[&prep])?;
    let (mut fw, mut pp) = (Vec::new(), Vec::new());
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let raw = det.predict(&[&prep])?;
        fw.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        n = det.postprocess(&raw[0], &prep).len();
        pp.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (fw, pp) = (median(fw), median(pp));
    let reference = darknet_forward(files, &image_path, runs, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    let (w, h) = det.input_size;
    println!(
        "fusedet bench: {} ({}), input {w}x{h}, {runs} runs, median ms",
        a.model,
        files.weights.display()
    );
    println!(
        "{:<10} {:>12} {:>12} {:>8} | {:>16} | {:>14}",
        "size", "forward", "decode+nms", "objects", "darknet forward", "forward ratio"
    );
    let (dk, note) = match &reference {
        Ok(v) => (*v, String::new()),
        Err(e) => (f64::NAN, format!("darknet reference skipped: {e}")),
    };
    println!(
        "{:<10} {:>12.1} {:>12.2} {:>8} | {:>16.1} | {:>13.2}x",
        format!("{h}x{w}"),
        fw,
        pp,
        n,
        dk,
        fw / dk
    );
    if !note.is_empty() {
        println!("{note}");
    }
    println!(
        "forward ratio = fusedet / darknet `detector test` network_predict (lower is better); \
         darknet runs its own build's thread count"
    );
    Ok(())
}

/// Median of Darknet's "Predicted in S seconds." over `runs` runs of `detector test`.
fn darknet_forward(files: &DarknetFiles, image: &Path, runs: usize, tmp: &Path) -> Result<f64> {
    let darknet = std::env::var("FUSEDET_DARKNET").unwrap_or_else(|_| "darknet".into());
    let names = files
        .names
        .clone()
        .context("the model has no class names file")?;
    let data = tmp.join("bench.data");
    std::fs::write(
        &data,
        format!(
            "classes=80\nnames={}\nresults={}\n",
            names.display(),
            tmp.display()
        ),
    )?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let out = Command::new(&darknet)
            .args(["detector", "test"])
            .arg(&data)
            .arg(&files.cfg)
            .arg(&files.weights)
            .arg(image)
            .args(["-thresh", "0.25", "-out"])
            .arg(tmp.join("pred"))
            .env("QT_QPA_PLATFORM", "offscreen")
            .current_dir(tmp)
            .output()
            .with_context(|| format!("running `{darknet}` (Debian package darknet)"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let secs = text
            .split("Predicted in ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| {
                format!(
                    "no `Predicted in` line from darknet: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                )
            })?;
        times.push(secs * 1e3);
    }
    Ok(median(times))
}
