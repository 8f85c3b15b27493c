//! Runs fusedet's DB post-processing on a raw probability map, for comparisons with
//! PaddleOCR's `DBPostProcess` (`tools/make_db_fixtures.py`, `tools/diagnose_boxes.py`).
//!
//! Usage: `db_postprocess MAP.f32 HEIGHT WIDTH DEST_WIDTH DEST_HEIGHT [OPTIONS_JSON]`, where
//! OPTIONS_JSON holds `DbPostProcess` fields (PaddleOCR names); prints the detections as JSON.
use fusedet::postprocess::db::{DbPostProcess, ProbMap};

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        anyhow::bail!(
            "usage: db_postprocess MAP.f32 HEIGHT WIDTH DEST_WIDTH DEST_HEIGHT [OPTIONS_JSON]"
        );
    }
    let bytes = std::fs::read(&a[1]).map_err(|e| anyhow::anyhow!("{}: {e}", a[1]))?;
    let data: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n = |i: usize| -> anyhow::Result<usize> { Ok(a[i].parse()?) };
    let (height, width, dw, dh) = (n(2)?, n(3)?, n(4)?, n(5)?);
    anyhow::ensure!(
        data.len() == width * height,
        "{}: {} values, expected {width}x{height}",
        a[1],
        data.len()
    );
    let post: DbPostProcess = match a.get(6) {
        Some(j) => serde_json::from_str(j)?,
        None => DbPostProcess::default(),
    };
    let dets = post.run(
        ProbMap {
            data: &data,
            width,
            height,
        },
        dw,
        dh,
    );
    println!("{}", serde_json::to_string(&dets)?);
    Ok(())
}
