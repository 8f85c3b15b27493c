//! Detect text in an image with a pretrained model: `cargo run --release --example detect --
//! IMAGE [MODEL]` (MODEL: a `fusedet models list` name, a PP-OCR ONNX file or a run directory).
use fusedet::{Detector, burn::tensor::Device, preprocess::load_image};

fn main() -> Result<(), fusedet::Error> {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(2).map_or("ppocr-v4-det", String::as_str);
    let detector = Detector::from_pretrained(model, &Device::default())?;
    let image = load_image(args.get(1).expect("usage: detect IMAGE [MODEL]").as_ref())?;
    for d in detector.detect(&image)? {
        println!("{:.3} {:?}", d.score, d.points());
    }
    Ok(())
}
