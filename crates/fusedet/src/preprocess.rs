//! Image loading and the PaddleOCR detection preprocessing (`DetResizeForTest`,
//! `NormalizeImage`, `ToCHWImage`), reproduced step for step.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
use serde::{Deserialize, Serialize};

use crate::error::ImageError;

/// How `limit_side_len` constrains the image (PaddleOCR `limit_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LimitType {
    /// Upscale so the shorter side is at least `limit_side_len`.
    #[default]
    Min,
    /// Downscale so the longer side is at most `limit_side_len`.
    Max,
}

impl std::str::FromStr for LimitType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "min" => Ok(Self::Min),
            "max" => Ok(Self::Max),
            _ => Err(format!("limit_type must be min or max, not `{s}`")),
        }
    }
}

/// Detection preprocessing settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreprocessConfig {
    /// Side length limit (PaddleOCR `limit_side_len`, default 736).
    pub limit_side_len: u32,
    /// Whether the limit is a minimum or a maximum (default `min`).
    pub limit_type: LimitType,
    /// Longest side allowed after resizing; larger images are scaled down to it (PaddleOCR's
    /// `max_side_limit`, default 4000), so that huge inputs give a result, not an
    /// out-of-memory error.
    pub max_side_limit: u32,
    /// Per-channel mean, in the model's channel order (BGR).
    pub mean: [f32; 3],
    /// Per-channel standard deviation, in the model's channel order (BGR).
    pub std: [f32; 3],
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        Self {
            limit_side_len: 736,
            limit_type: LimitType::Min,
            max_side_limit: 4000,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

/// Largest image accepted, in pixels (width × height), before any resizing.
pub const MAX_INPUT_PIXELS: u64 = 200_000_000;

/// Reads an image file, honouring EXIF orientation; grey, RGBA and 16-bit images are
/// converted to 8-bit RGB (alpha dropped, as OpenCV's `imread` does).
pub fn load_image(path: &Path) -> Result<RgbImage, ImageError> {
    let decode = |reason: String| ImageError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        return Err(decode("is a directory".into()));
    }
    if meta.len() == 0 {
        return Err(decode("the file is empty (0 bytes)".into()));
    }
    let reader = ImageReader::open(path)
        .map_err(|source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .with_guessed_format()
        .map_err(|source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if reader.format().is_none() {
        return Err(decode(
            "not an image in a supported format (JPEG, PNG, BMP, TIFF, WebP)".into(),
        ));
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| decode(e.to_string()))?;
    if w == 0 || h == 0 {
        return Err(ImageError::Size {
            path: path.to_path_buf(),
            reason: format!("image has no pixels ({w}x{h})"),
        });
    }
    if (w as u64) * (h as u64) > MAX_INPUT_PIXELS {
        return Err(ImageError::Size {
            path: path.to_path_buf(),
            reason: format!(
                "image is {w}x{h} = {} pixels, more than the {MAX_INPUT_PIXELS} fusedet reads; downscale it first",
                w as u64 * h as u64
            ),
        });
    }
    let reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let is_jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
    let mut reader = reader;
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(|e| decode(e.to_string()))?;
    let orientation = decoder.orientation().ok();
    let mut img = match is_jpeg.then(|| decode_jpeg_libjpeg(path)).flatten() {
        Some(Ok(rgb)) => DynamicImage::ImageRgb8(rgb),
        Some(Err(reason)) => return Err(decode(reason)),
        None => DynamicImage::from_decoder(decoder).map_err(|e| decode(e.to_string()))?,
    };
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img.to_rgb8())
}

/// Decodes a JPEG with libjpeg-turbo's decoder (integer IDCT, fancy upsampling), which gives
/// the same pixels as OpenCV's `imread` and Pillow; `image`'s own decoder differs by up to 4
/// levels on about a tenth of the pixels, enough to move detections near `box_thresh`.
/// `None` for colour spaces libjpeg cannot turn into RGB (CMYK, YCCK): `image` decodes those.
fn decode_jpeg_libjpeg(path: &Path) -> Option<Result<RgbImage, String>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Some(Err(e.to_string())),
    };
    // libjpeg reports fatal errors by unwinding out of its error handler.
    let result = std::panic::catch_unwind(|| -> Result<Option<RgbImage>, String> {
        let d = mozjpeg::Decompress::new_mem(&bytes).map_err(|e| e.to_string())?;
        if matches!(
            d.color_space(),
            mozjpeg_sys::J_COLOR_SPACE::JCS_CMYK | mozjpeg_sys::J_COLOR_SPACE::JCS_YCCK
        ) {
            return Ok(None);
        }
        let mut started = d.rgb().map_err(|e| e.to_string())?;
        let (w, h) = (started.width() as u32, started.height() as u32);
        let mut buf = vec![0u8; w as usize * h as usize * 3];
        started
            .read_scanlines_into(&mut buf)
            .map_err(|e| e.to_string())?;
        // A truncated file is padded (libjpeg's warning), as OpenCV does; nothing to finish.
        drop(started);
        Ok(RgbImage::from_raw(w, h, buf))
    });
    match result {
        Ok(Ok(Some(img))) => Some(Ok(img)),
        Ok(Ok(None)) => None,
        Ok(Err(e)) => Some(Err(e)),
        Err(payload) => Some(Err(payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "libjpeg failed".into()))),
    }
}

/// Target size of `DetResizeForTest` (`resize_image_type0`) for an `h × w` image, as
/// `(resize_h, resize_w)`: scale by the limit, then round each side to the nearest multiple of
/// 32 (Python's round half to even), at least 32.
pub fn target_size(h: u32, w: u32, cfg: &PreprocessConfig) -> (u32, u32) {
    let limit = cfg.limit_side_len as f64;
    let (hf, wf) = (h as f64, w as f64);
    let mut ratio = match cfg.limit_type {
        LimitType::Max if h.max(w) as f64 > limit => limit / hf.max(wf),
        LimitType::Min if (h.min(w) as f64) < limit => limit / hf.min(wf),
        _ => 1.0,
    };
    let long = hf.max(wf) * ratio;
    if cfg.max_side_limit > 0 && long > cfg.max_side_limit as f64 {
        ratio = cfg.max_side_limit as f64 / hf.max(wf);
    }
    let round32 = |v: f64| {
        let q = ((v as i64) as f64 / 32.0).round_ties_even();
        ((q * 32.0) as u32).max(32)
    };
    (round32(hf * ratio), round32(wf * ratio))
}

/// Bilinear resize of an 8-bit RGB image, bit-exact with OpenCV's `cv2.resize(...,
/// INTER_LINEAR)` as shipped in opencv-python (checked by `tools/check_real_data.sh`):
/// half-pixel centres; horizontal weights clamped at the borders, vertical ones not (the
/// rows are clamped instead); 11-bit weights rounded half to even; the vertical pass with the
/// arithmetic of OpenCV's SIMD kernel (`VResizeLinearVec_32s8u`), which truncates where the
/// scalar formula would round; an exact 2x downscale is OpenCV's `INTER_AREA` 2x2 mean.
pub fn resize_bilinear(img: &RgbImage, new_w: u32, new_h: u32) -> RgbImage {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    let (dw, dh) = (new_w as usize, new_h as usize);
    if sw == dw && sh == dh {
        return img.clone();
    }
    let src = img.as_raw();
    if sw == 2 * dw && sh == 2 * dh {
        let mut dst = vec![0u8; dw * dh * 3];
        for y in 0..dh {
            let (r0, r1) = (2 * y * sw * 3, (2 * y + 1) * sw * 3);
            for x in 0..dw {
                for c in 0..3 {
                    let i = 2 * x * 3 + c;
                    let sum = src[r0 + i] as u32
                        + src[r0 + i + 3] as u32
                        + src[r1 + i] as u32
                        + src[r1 + i + 3] as u32;
                    dst[(y * dw + x) * 3 + c] = ((sum + 2) >> 2) as u8;
                }
            }
        }
        return RgbImage::from_raw(new_w, new_h, dst).expect("buffer size");
    }
    const SCALE: f32 = 2048.0;
    // (first source index, may be -1 vertically; weight of it; weight of the next)
    let coeffs = |src: usize, dst: usize, clamp: bool| -> Vec<(i64, i32, i32)> {
        let scale = 1.0 / (dst as f64 / src as f64);
        (0..dst)
            .map(|d| {
                let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
                let mut s = f.floor() as i64;
                f -= s as f32;
                if clamp && s < 0 {
                    f = 0.0;
                    s = 0;
                }
                if clamp && s >= src as i64 - 1 {
                    f = 0.0;
                    s = src as i64 - 1;
                }
                let a0 = ((1.0 - f) * SCALE).round_ties_even() as i32;
                let a1 = (f * SCALE).round_ties_even() as i32;
                (s, a0, a1)
            })
            .collect()
    };
    let xc = coeffs(sw, dw, true);
    let yc = coeffs(sh, dh, false);
    let row_of = |s: i64| s.clamp(0, sh as i64 - 1) as usize;
    // Horizontal pass into i32 rows (scale 2048).
    let hrow = |y: usize| -> Vec<i32> {
        let row = &src[y * sw * 3..(y + 1) * sw * 3];
        let mut out = vec![0i32; dw * 3];
        for (dx, &(sx, a0, a1)) in xc.iter().enumerate() {
            let sx = sx as usize;
            let sx1 = (sx + 1).min(sw - 1);
            for c in 0..3 {
                out[dx * 3 + c] = row[sx * 3 + c] as i32 * a0 + row[sx1 * 3 + c] as i32 * a1;
            }
        }
        out
    };
    // OpenCV's SIMD vertical step: 16-bit high products of the rows shifted right by 4.
    let mul_hi = |s: i32, b: i32| ((s >> 4).clamp(-32768, 32767) * b) >> 16;
    let mut dst = vec![0u8; dw * dh * 3];
    // The two source rows in use, kept across output rows.
    let mut c0: (usize, Vec<i32>) = (usize::MAX, Vec::new());
    let mut c1: (usize, Vec<i32>) = (usize::MAX, Vec::new());
    for (dy, &(sy, b0, b1)) in yc.iter().enumerate() {
        let (y0, y1) = (row_of(sy), row_of(sy + 1));
        if c0.0 != y0 {
            if c1.0 == y0 {
                std::mem::swap(&mut c0, &mut c1);
            } else {
                c0 = (y0, hrow(y0));
            }
        }
        if c1.0 != y1 {
            c1 = (y1, if y1 == y0 { c0.1.clone() } else { hrow(y1) });
        }
        let out = &mut dst[dy * dw * 3..(dy + 1) * dw * 3];
        for (i, o) in out.iter_mut().enumerate() {
            let v = (mul_hi(c0.1[i], b0) + mul_hi(c1.1[i], b1) + 2) >> 2;
            *o = v.clamp(0, 255) as u8;
        }
    }
    RgbImage::from_raw(new_w, new_h, dst).expect("buffer size")
}

/// An image ready for the network.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Normalised BGR pixels, CHW, `3 * height * width` values.
    pub data: Vec<f32>,
    /// Network input height (a multiple of 32).
    pub height: usize,
    /// Network input width (a multiple of 32).
    pub width: usize,
    /// Original image height.
    pub src_height: usize,
    /// Original image width.
    pub src_width: usize,
}

/// Resizes and normalises an RGB image into the network's input layout (BGR, CHW).
///
/// Images smaller than 32 pixels in height plus width together are first padded with black
/// to 32x32, as PaddleOCR does.
pub fn prepare(img: &RgbImage, cfg: &PreprocessConfig) -> Prepared {
    let (src_w, src_h) = (img.width() as usize, img.height() as usize);
    let padded;
    let img = if src_w + src_h < 64 {
        let mut p = RgbImage::new(img.width().max(32), img.height().max(32));
        image::imageops::replace(&mut p, img, 0, 0);
        padded = p;
        &padded
    } else {
        img
    };
    let (th, tw) = target_size(img.height(), img.width(), cfg);
    let resized = resize_bilinear(img, tw, th);
    let (w, h) = (tw as usize, th as usize);
    let mut data = vec![0f32; 3 * h * w];
    let scale = 1.0f32 / 255.0;
    let raw = resized.as_raw();
    for i in 0..h * w {
        // RGB in memory → BGR planes.
        for (c, src_c) in [2usize, 1, 0].into_iter().enumerate() {
            let v = raw[i * 3 + src_c] as f32;
            data[c * h * w + i] = (v * scale - cfg.mean[c]) / cfg.std[c];
        }
    }
    Prepared {
        data,
        height: h,
        width: w,
        src_height: src_h,
        src_width: src_w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icdar_size_follows_paddle() {
        let cfg = PreprocessConfig::default();
        // 720 < 736: ratio 736/720; w = int(1308.44) = 1308 → round(40.875) * 32 = 1312.
        assert_eq!(target_size(720, 1280, &cfg), (736, 1312));
        // Already large enough: only rounding to 32.
        assert_eq!(target_size(1000, 1500, &cfg), (992, 1504));
        // Python rounds half to even: 16/32 = 0.5 → 0 → clamped to 32.
        let small = PreprocessConfig {
            limit_side_len: 16,
            ..cfg.clone()
        };
        assert_eq!(target_size(16, 16, &small), (32, 32));
        let max = PreprocessConfig {
            limit_type: LimitType::Max,
            limit_side_len: 960,
            ..cfg.clone()
        };
        assert_eq!(target_size(720, 1280, &max), (544, 960));
    }

    #[test]
    fn huge_images_are_capped_by_max_side_limit() {
        let cfg = PreprocessConfig::default();
        let (h, w) = target_size(20000, 20000, &cfg);
        assert_eq!((h, w), (4000, 4000));
    }

    #[test]
    fn resize_identity_and_constant_images() {
        let img = RgbImage::from_pixel(7, 5, image::Rgb([10, 20, 30]));
        assert_eq!(resize_bilinear(&img, 7, 5), img);
        let up = resize_bilinear(&img, 32, 32);
        assert!(up.pixels().all(|p| p.0 == [10, 20, 30]));
    }

    #[test]
    fn prepare_normalises_in_bgr_order() {
        let img = RgbImage::from_pixel(40, 40, image::Rgb([255, 0, 0]));
        let p = prepare(&img, &PreprocessConfig::default());
        assert_eq!((p.height, p.width), (736, 736));
        let plane = p.height * p.width;
        // Channel 0 is blue (0), channel 2 is red (255).
        assert!((p.data[0] - (0.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!((p.data[2 * plane] - (1.0 - 0.406) / 0.225).abs() < 1e-5);
    }
}

#[cfg(test)]
mod bad_input_tests {
    use super::*;

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A PNG that declares `w × h` pixels but carries no image data.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
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

    fn error_of(name: &str, bytes: Option<&[u8]>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        if let Some(b) = bytes {
            std::fs::write(&p, b).unwrap();
        }
        let e = load_image(&p).unwrap_err().to_string();
        assert!(e.contains(name), "error must name the file: {e}");
        assert_eq!(e.lines().count(), 1, "one line: {e}");
        e
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 3) as u8, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn missing_file() {
        assert!(error_of("missing.jpg", None).contains("cannot read"));
    }

    #[test]
    fn text_file_named_jpg() {
        let e = error_of("notes.jpg", Some(b"this is not an image\n"));
        assert!(e.contains("decode") || e.contains("format"), "{e}");
    }

    #[test]
    fn zero_byte_file() {
        assert!(error_of("empty.png", Some(b"")).contains("empty"));
    }

    #[test]
    fn truncated_jpeg() {
        let full = jpeg(64, 48);
        let e = error_of("cut.jpg", Some(&full[..full.len() / 2]));
        assert!(e.contains("decode"), "{e}");
    }

    #[test]
    fn huge_image_is_refused_before_decoding() {
        let e = error_of("huge.png", Some(&png_header(20000, 20000)));
        assert!(e.contains("20000x20000"), "{e}");
    }

    #[test]
    fn one_pixel_image_gives_a_network_input() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("one.png");
        RgbImage::from_pixel(1, 1, image::Rgb([1, 2, 3]))
            .save(&p)
            .unwrap();
        let img = load_image(&p).unwrap();
        let prep = prepare(&img, &PreprocessConfig::default());
        assert_eq!((prep.src_width, prep.src_height), (1, 1));
        assert_eq!((prep.height, prep.width), (736, 736));
    }

    #[test]
    fn grey_rgba_and_16_bit_pngs_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let g = dir.path().join("g.png");
        image::GrayImage::from_pixel(5, 4, image::Luma([200]))
            .save(&g)
            .unwrap();
        assert_eq!(load_image(&g).unwrap().get_pixel(0, 0).0, [200, 200, 200]);
        let a = dir.path().join("a.png");
        image::RgbaImage::from_pixel(5, 4, image::Rgba([10, 20, 30, 0]))
            .save(&a)
            .unwrap();
        assert_eq!(load_image(&a).unwrap().get_pixel(4, 3).0, [10, 20, 30]);
        let w = dir.path().join("w.png");
        image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(3, 3, image::Luma([65535]))
            .save(&w)
            .unwrap();
        assert_eq!(load_image(&w).unwrap().get_pixel(1, 1).0, [255, 255, 255]);
    }
}
