//! Damaged, unusual and oversized images through `fusedet detect` and `fusedet eval`: a
//! truncated or corrupt JPEG is a warning (stderr and the JSON) or, with `--strict`, an error;
//! GIF and PNM images are read; a header claiming too many pixels is refused before decoding,
//! `--max-pixels` moving the limit. The detector is a small Darknet cfg + weights made here.

use std::path::{Path, PathBuf};

mod common;
use common::fusedet;

const CFG: &str = "[net]\nwidth=64\nheight=64\nchannels=3\n\
    [convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky\n\
    [convolutional]\nfilters=7\nsize=1\nstride=1\npad=1\nactivation=linear\n\
    [yolo]\nmask=0\nanchors=10,14\nclasses=2\nnum=1\n";

/// Writes m.cfg, m.weights and m.names; returns the cfg path.
fn model(dir: &Path) -> String {
    std::fs::write(dir.join("m.cfg"), CFG).unwrap();
    let b = common::darknet_weights(std::iter::repeat_n(0.05f32, 4 + 4 * 3 * 9 + 7 + 7 * 4));
    std::fs::write(dir.join("m.weights"), b).unwrap();
    std::fs::write(dir.join("m.names"), "cat\ndog\n").unwrap();
    dir.join("m.cfg").to_str().unwrap().to_string()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 5) as u8, (y * 3) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A JPEG cut in the middle of its entropy-coded data.
fn truncated_jpeg() -> Vec<u8> {
    let full = jpeg(96, 64);
    let sos = full.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    full[..sos + (full.len() - sos) / 2].to_vec()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn truncated_jpeg_is_a_warning_in_stderr_and_json_and_an_error_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, truncated_jpeg()).unwrap();
    let ok = dir.path().join("ok.jpg");
    std::fs::write(&ok, jpeg(96, 64)).unwrap();
    let json = dir.path().join("r.json");
    let (rc, _, err) = fusedet(
        &["detect", "--model", &m, s(&cut), s(&ok), "--json", s(&json)],
        dir.path(),
    );
    assert_eq!(rc, 0, "{err}");
    let warning: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warning.len(), 1, "{err}");
    assert!(
        warning[0].contains(s(&cut)) && warning[0].contains("premature end of JPEG file"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let w = v[0]["warnings"].as_array().expect("warnings of cut.jpg");
    assert_eq!(w.len(), 1);
    assert!(
        w[0].as_str()
            .unwrap()
            .starts_with("premature end of JPEG file")
    );
    assert_eq!(
        (v[0]["width"].as_u64(), v[0]["height"].as_u64()),
        (Some(96), Some(64))
    );
    assert!(v[1].get("warnings").is_none(), "a whole JPEG has none: {v}");

    let (rc, _, err) = fusedet(
        &["detect", "--model", &m, s(&cut), s(&ok), "--strict"],
        dir.path(),
    );
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains(&format!("error: {}: premature end of JPEG file", s(&cut)))
            && err.contains("--strict")
            && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn eval_warns_about_a_truncated_jpeg_and_stops_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let (images, gt) = (dir.path().join("images"), dir.path().join("gt"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&gt).unwrap();
    std::fs::write(images.join("img_1.jpg"), truncated_jpeg()).unwrap();
    std::fs::write(images.join("img_2.jpg"), jpeg(96, 64)).unwrap();
    for n in [1, 2] {
        std::fs::write(
            gt.join(format!("gt_img_{n}.txt")),
            "5,5,25,5,25,15,5,15,word\n",
        )
        .unwrap();
    }
    let args = [
        "eval",
        "--images",
        s(&images),
        "--labels",
        s(&gt),
        "--model",
        &m,
    ];
    let (rc, out, err) = fusedet(&args, dir.path());
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("images 2"), "{out}");
    assert!(
        err.contains("warning:") && err.contains("img_1.jpg") && err.contains("premature end"),
        "{err}"
    );
    let (rc, _, err) = fusedet(&[&args[..], &["--strict"]].concat(), dir.path());
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("img_1.jpg") && err.contains("1 of 2 images") && err.contains("--strict"),
        "{err}"
    );
}

#[test]
fn gif_and_pnm_images_are_detected_and_found_in_directories() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let imgs = dir.path().join("imgs");
    std::fs::create_dir_all(&imgs).unwrap();
    let rgb = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 50]));
    rgb.save(imgs.join("a.gif")).unwrap();
    image::DynamicImage::ImageRgb8(rgb.clone())
        .to_luma8()
        .save(imgs.join("b.pgm"))
        .unwrap();
    rgb.save(imgs.join("c.ppm")).unwrap();
    let json = dir.path().join("r.json");
    let (rc, _, err) = fusedet(
        &["detect", "--model", &m, s(&imgs), "--json", s(&json)],
        dir.path(),
    );
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let names: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(
                (r["width"].as_u64(), r["height"].as_u64()),
                (Some(40), Some(30))
            );
            PathBuf::from(r["image"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["a.gif", "b.pgm", "c.ppm"]);
}

/// A PNG that declares `w × h` pixels and carries no image data.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    /// PNG's chunk CRC (CRC-32/IEEE, as gzip's).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        crc.sum()
    }
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&w.to_be_bytes());
    chunk.extend_from_slice(&h.to_be_bytes());
    chunk.extend_from_slice(&[8, 2, 0, 0, 0]);
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(&chunk);
    v.extend_from_slice(&crc32(&chunk).to_be_bytes());
    for name in [b"IDAT", b"IEND"] {
        v.extend_from_slice(&0u32.to_be_bytes());
        v.extend_from_slice(name);
        v.extend_from_slice(&crc32(name).to_be_bytes());
    }
    v
}

#[test]
fn a_header_claiming_too_many_pixels_is_refused_and_max_pixels_moves_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, png_header(100_000, 100_000)).unwrap();
    // A JPEG whose frame header claims 65500 x 65500 (libjpeg's largest) over 96 x 64 pixels
    // of data: decoding it would fill 12.9 GB.
    let mut b = jpeg(96, 64);
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    b[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xDC, 0xFF, 0xDC]);
    let huge_jpg = dir.path().join("huge.jpg");
    std::fs::write(&huge_jpg, b).unwrap();
    for (f, size) in [(&huge, "100000x100000"), (&huge_jpg, "65500x65500")] {
        let (rc, _, err) = fusedet(&["detect", "--model", &m, s(f)], dir.path());
        assert_eq!(rc, 1, "{err}");
        assert!(
            err.contains(s(f))
                && err.contains(size)
                && err.contains("more than the limit of 400000000")
                && err.contains("--max-pixels")
                && !err.contains("panicked"),
            "{err}"
        );
    }
    let small = dir.path().join("small.png");
    image::RgbImage::new(96, 64).save(&small).unwrap();
    let (rc, _, err) = fusedet(
        &["detect", "--model", &m, s(&small), "--max-pixels", "6143"],
        dir.path(),
    );
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("96x64") && err.contains("limit of 6143"),
        "{err}"
    );
    let (rc, out, err) = fusedet(
        &["detect", "--model", &m, s(&small), "--max-pixels", "6144"],
        dir.path(),
    );
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("(96x64)"), "{out}");
}
