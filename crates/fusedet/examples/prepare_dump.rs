//! Writes fusedet's network input for an image (decode + `DetResizeForTest` + normalise), as
//! raw little-endian f32 CHW, for the preprocessing parity check in `tools/check_real_data.sh`.
//!
//! Usage: `prepare_dump IMAGE OUT.f32`; prints the input shape `1,3,H,W`.
use fusedet::preprocess::{PreprocessConfig, load_image, prepare};

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    anyhow::ensure!(a.len() == 3, "usage: prepare_dump IMAGE OUT.f32");
    let img = load_image(a[1].as_ref())?;
    let p = prepare(&img, &PreprocessConfig::default());
    let bytes: Vec<u8> = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&a[2], bytes)?;
    println!("1,3,{},{}", p.height, p.width);
    Ok(())
}
