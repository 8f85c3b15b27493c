//! Image decoding and detection: the bytes are an image file (any supported format, at most
//! 4096 pixels) detected by a tiny DBNet; the decoded image's first channel is also
//! post-processed as a probability map, which reaches the contour / unclip / box code far more
//! often than the network's output on random weights does.
#![no_main]
use std::sync::OnceLock;

use fusedet::TextDetector;
use fusedet::infer::ProbabilityMap;
use fusedet::model::DetModel;
use fusedet::postprocess::db::is_simple_quad;
use fusedet::preprocess::{LoadOptions, Prepared, load_image_checked};
use libfuzzer_sys::fuzz_target;

fn detector() -> &'static TextDetector<DetModel> {
    static DET: OnceLock<TextDetector<DetModel>> = OnceLock::new();
    DET.get_or_init(|| {
        let mut d = TextDetector::new(fusedet_fuzz::tiny_model(), fusedet_fuzz::device());
        d.preprocess.limit_side_len = 64;
        d
    })
}

fuzz_target!(|data: &[u8]| {
    fusedet_fuzz::quiet_caught_panics(&["mozjpeg"]);
    let p = fusedet_fuzz::put("image", data);
    let opts = LoadOptions { max_pixels: 4096 };
    let Ok(loaded) = load_image_checked(&p, &opts) else {
        return;
    };
    let img = loaded.image;
    let det = detector();
    let _ = det.detect(&img).expect("detect on a decoded image");
    let (w, h) = (img.width() as usize, img.height() as usize);
    let map = ProbabilityMap {
        data: img.pixels().map(|px| f32::from(px.0[0]) / 255.0).collect(),
        width: w,
        height: h,
    };
    let prepared = Prepared {
        data: Vec::new(),
        width: w,
        height: h,
        src_width: w * 3 / 2 + 1,
        src_height: h * 2 / 3 + 1,
    };
    for d in det.postprocess(&map, &prepared) {
        let pts = d.points();
        assert!(
            pts.iter().flatten().all(|v| v.is_finite()),
            "non-finite point: {pts:?}"
        );
        assert!(is_simple_quad(&pts), "self-intersecting quad: {pts:?}");
    }
});
