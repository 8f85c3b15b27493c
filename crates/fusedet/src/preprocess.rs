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
    let mut reader = reader;
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(|e| decode(e.to_string()))?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| decode(e.to_string()))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img.to_rgb8())
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

/// Bilinear resize of an 8-bit RGB image with OpenCV's `INTER_LINEAR` arithmetic (half-pixel
/// centres, 11-bit fixed-point weights, border clamping).
pub fn resize_bilinear(img: &RgbImage, new_w: u32, new_h: u32) -> RgbImage {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    let (dw, dh) = (new_w as usize, new_h as usize);
    if sw == dw && sh == dh {
        return img.clone();
    }
    const SCALE: f32 = 2048.0;
    let coeffs = |src: usize, dst: usize| -> Vec<(usize, i32, i32)> {
        let scale = src as f64 / dst as f64;
        (0..dst)
            .map(|d| {
                let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
                let mut s = f.floor() as i64;
                f -= s as f32;
                if s < 0 {
                    f = 0.0;
                    s = 0;
                }
                if s >= src as i64 - 1 {
                    f = 0.0;
                    s = src as i64 - 1;
                }
                let a1 = (f * SCALE).round() as i32;
                let a0 = ((1.0 - f) * SCALE).round() as i32;
                (s as usize, a0, a1)
            })
            .collect()
    };
    let xc = coeffs(sw, dw);
    let yc = coeffs(sh, dh);
    let src = img.as_raw();
    // Horizontal pass into i32 rows (scale 2048).
    let hrow = |y: usize| -> Vec<i32> {
        let row = &src[y * sw * 3..(y + 1) * sw * 3];
        let mut out = vec![0i32; dw * 3];
        for (dx, &(sx, a0, a1)) in xc.iter().enumerate() {
            let sx1 = (sx + 1).min(sw - 1);
            for c in 0..3 {
                out[dx * 3 + c] = row[sx * 3 + c] as i32 * a0 + row[sx1 * 3 + c] as i32 * a1;
            }
        }
        out
    };
    let mut dst = vec![0u8; dw * dh * 3];
    let mut cache: Option<(usize, Vec<i32>, Vec<i32>)> = None;
    for (dy, &(sy, b0, b1)) in yc.iter().enumerate() {
        let sy1 = (sy + 1).min(sh - 1);
        let (r0, r1) = match cache.take() {
            Some((s, r0, r1)) if s == sy => (r0, r1),
            Some((s, _, r1)) if s + 1 == sy => (r1, hrow(sy1)),
            _ => (hrow(sy), hrow(sy1)),
        };
        let out = &mut dst[dy * dw * 3..(dy + 1) * dw * 3];
        for i in 0..dw * 3 {
            let v = (b0 as i64 * r0[i] as i64 + b1 as i64 * r1[i] as i64 + (1 << 21)) >> 22;
            out[i] = v.clamp(0, 255) as u8;
        }
        cache = Some((sy, r0, r1));
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
