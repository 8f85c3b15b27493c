//! Image loading and the PaddleOCR detection preprocessing (`DetResizeForTest`,
//! `NormalizeImage`, `ToCHWImage`), reproduced step for step.

use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
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

/// Largest image read by default, in pixels (width × height): 20000 × 20000. A decoded image
/// takes 3 bytes a pixel (1.2 GB at the limit), so a header claiming more is refused before
/// anything is allocated; [`LoadOptions::max_pixels`] (`--max-pixels`) raises it.
pub const DEFAULT_MAX_PIXELS: u64 = 20_000 * 20_000;

/// How [`load_image_checked`] reads an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Images of more pixels (width × height) are refused from their header, before decoding.
    pub max_pixels: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

/// An image read from a file, with the problems met while decoding it that did not stop it
/// (a truncated or corrupt JPEG, which libjpeg decodes anyway, filling in what is missing, as
/// OpenCV's `imread` does).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedImage {
    /// The pixels, 8-bit RGB, EXIF orientation applied.
    pub image: RgbImage,
    /// One line per defect, without the file name (e.g. `premature end of JPEG file ...`).
    pub warnings: Vec<String>,
}

/// Reads an image file as [`load_image_checked`] does with the default [`LoadOptions`],
/// dropping its warnings: a truncated JPEG is read without a word (use
/// [`load_image_checked`] to hear about it).
pub fn load_image(path: &Path) -> Result<RgbImage, ImageError> {
    load_image_checked(path, &LoadOptions::default()).map(|l| l.image)
}

/// Reads an image file as OpenCV's `imread(path, IMREAD_COLOR)` does: EXIF orientation
/// applied; grey, palette, RGBA and 16-bit images converted to 8-bit RGB (alpha dropped; the
/// high byte of 16-bit PNG, PNM and grey TIFF samples, `v / 257` rounded for colour TIFF); the
/// first frame of a GIF; JPEGs decoded by libjpeg-turbo (the same pixels as OpenCV, CMYK
/// included), with libjpeg's warnings about truncated or corrupt data returned in
/// [`LoadedImage::warnings`]. `tests/formats_golden.rs` checks each case against `cv2.imread`.
///
/// Formats: JPEG, PNG, BMP, TIFF, WebP, GIF, PNM (PBM / PGM / PPM / PAM).
///
/// # Errors
/// [`ImageError`] naming the file: unreadable, empty, not an image, undecodable, no pixels, or
/// more than `opts.max_pixels` pixels (checked from the header, before decoding).
pub fn load_image_checked(path: &Path, opts: &LoadOptions) -> Result<LoadedImage, ImageError> {
    let decode = |reason: String| ImageError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source: std::io::Error| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(decode("is a directory".into()));
    }
    if meta.len() == 0 {
        return Err(decode("the file is empty (0 bytes)".into()));
    }
    let check_size = |w: u64, h: u64| {
        if w == 0 || h == 0 {
            return Err(ImageError::Size {
                path: path.to_path_buf(),
                reason: format!("image has no pixels ({w}x{h})"),
            });
        }
        if w * h > opts.max_pixels {
            return Err(ImageError::TooLarge {
                path: path.to_path_buf(),
                width: w,
                height: h,
                limit: opts.max_pixels,
            });
        }
        Ok(())
    };
    let reader = ImageReader::open(path)
        .map_err(io)?
        .with_guessed_format()
        .map_err(io)?;
    let format = match reader.format() {
        Some(f) => f,
        None => {
            return Err(decode(
                "not an image in a supported format (JPEG, PNG, BMP, TIFF, WebP, GIF, PNM)".into(),
            ));
        }
    };
    if format == ImageFormat::Jpeg {
        return jpeg::decode(path, check_size).map_err(|e| match e {
            jpeg::Failure::Image(e) => e,
            jpeg::Failure::Decode(reason) => decode(reason),
        });
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| decode(e.to_string()))?;
    check_size(w as u64, h as u64)?;
    let mut reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(io)?;
    // The header was checked: allow the largest decoded buffer an accepted image can need
    // (RGBA, 32-bit float samples) and no more.
    let mut limits = image::Limits::no_limits();
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(16).max(1 << 26));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode(e.to_string()))?;
    let orientation = decoder.orientation().ok();
    let img = DynamicImage::from_decoder(decoder).map_err(|e| decode(e.to_string()))?;
    let grey16 = matches!(
        img,
        DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_)
    );
    let colour16 = matches!(
        img,
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgba16(_)
    );
    let high_byte = match format {
        ImageFormat::Png | ImageFormat::Pnm => grey16 || colour16,
        ImageFormat::Tiff => grey16,
        _ => false,
    };
    let rgb = if high_byte {
        // What OpenCV does (measured, tools/make_format_fixtures.py): the high byte of 16-bit
        // PNG and PNM samples (libpng's `png_set_strip_16`) and of grey TIFF ones; colour
        // TIFF samples become v / 257 rounded, as `into_rgb8` does.
        let wide = img.into_rgb16();
        let (w, h) = wide.dimensions();
        let bytes = wide
            .into_raw()
            .into_iter()
            .map(|v| (v >> 8) as u8)
            .collect();
        RgbImage::from_raw(w, h, bytes).expect("buffer size")
    } else {
        img.into_rgb8()
    };
    Ok(LoadedImage {
        image: oriented(rgb, orientation),
        warnings: Vec::new(),
    })
}

fn oriented(img: RgbImage, orientation: Option<Orientation>) -> RgbImage {
    match orientation {
        None | Some(Orientation::NoTransforms) => img,
        Some(o) => {
            let mut d = DynamicImage::ImageRgb8(img);
            d.apply_orientation(o);
            d.into_rgb8()
        }
    }
}

/// JPEG decoding with libjpeg-turbo (integer IDCT, fancy upsampling), which gives the same
/// pixels as OpenCV's `imread` and Pillow; `image`'s own decoder differs by up to 4 levels on
/// about a tenth of the pixels, enough to move detections near `box_thresh`.
///
/// libjpeg reports defects it can decode past (data cut short, garbage in the entropy-coded
/// data, extraneous bytes before a marker) as warnings through its error manager: fusedet's
/// manager counts them, and a reader wrapper notes whether libjpeg asked for data past the end
/// of the file (libjpeg's "premature end of JPEG file"). The text of the other warnings would
/// need reading libjpeg's message code through a raw pointer, which the workspace's
/// `unsafe_code = "forbid"` rules out, so they are told apart by when they come: while the
/// pixel data is read (damaged entropy-coded data: bad Huffman codes, a marker inside the scan)
/// or in the header and after the last scan (extraneous bytes between segments).
mod jpeg {
    use std::cell::Cell;
    use std::io::{BufRead, BufReader, Read};
    use std::os::raw::c_int;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::path::Path;

    use image::RgbImage;
    use image::metadata::Orientation;
    use mozjpeg::{Decompress, Marker};
    use mozjpeg_sys::{J_COLOR_SPACE, jpeg_common_struct, jpeg_error_mgr};

    use super::{LoadedImage, oriented};
    use crate::error::ImageError;

    pub(super) enum Failure {
        Image(ImageError),
        Decode(String),
    }

    /// Where the decoder is: warnings while reading the pixel data are about damaged
    /// entropy-coded data; in the header or after the last scan, about bytes between segments.
    #[derive(Clone, Copy, Default, PartialEq)]
    enum Phase {
        #[default]
        Segments,
        Pixels,
    }

    /// What libjpeg reported while decoding on this thread.
    #[derive(Clone, Copy, Default)]
    struct Events {
        phase: Phase,
        in_segments: u32,
        in_pixels: u32,
        eof: bool,
    }

    thread_local! {
        static EVENTS: Cell<Events> = Cell::new(Events::default());
    }

    fn note(f: impl FnOnce(&mut Events)) {
        EVENTS.with(|e| {
            let mut v = e.get();
            f(&mut v);
            e.set(v);
        });
    }

    /// The payload of a fatal libjpeg error raised by [`error_exit`].
    struct Fatal;

    extern "C-unwind" fn error_exit(_: &mut jpeg_common_struct) {
        resume_unwind(Box::new(Fatal));
    }

    extern "C-unwind" fn emit_message(_: &mut jpeg_common_struct, level: c_int) {
        // -1: a warning (corrupt data); 0 and up: trace messages.
        if level < 0 {
            note(|e| match e.phase {
                Phase::Segments => e.in_segments += 1,
                Phase::Pixels => e.in_pixels += 1,
            });
        }
    }

    extern "C-unwind" fn quiet(_: &mut jpeg_common_struct) {}

    extern "C-unwind" fn format_nothing(_: &mut jpeg_common_struct, _: &[u8; 80]) {}

    fn error_manager() -> jpeg_error_mgr {
        jpeg_error_mgr {
            error_exit: Some(error_exit),
            emit_message: Some(emit_message),
            output_message: Some(quiet),
            format_message: Some(format_nothing),
            reset_error_mgr: Some(quiet),
            msg_code: 0,
            msg_parm: Default::default(),
            trace_level: 0,
            num_warnings: 0,
            jpeg_message_table: std::ptr::null(),
            last_jpeg_message: 0,
            addon_message_table: std::ptr::null(),
            first_addon_message: 0,
            last_addon_message: 0,
        }
    }

    /// A reader noting when libjpeg asks for data past the end of the file.
    struct WatchEof<R>(R);

    impl<R: Read> Read for WatchEof<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl<R: BufRead> BufRead for WatchEof<R> {
        fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
            let b = self.0.fill_buf()?;
            if b.is_empty() {
                note(|e| e.eof = true);
            }
            Ok(b)
        }
        fn consume(&mut self, n: usize) {
            self.0.consume(n);
        }
    }

    /// EXIF orientation from the first `Exif` APP1 segment.
    fn exif_orientation<R>(d: &Decompress<R>) -> Option<Orientation> {
        d.markers()
            .filter(|m| matches!(m.marker, Marker::APP(1)))
            .find_map(|m| m.data.strip_prefix(b"Exif\0\0"))
            .and_then(Orientation::from_exif_chunk)
    }

    /// OpenCV's `icvCvt_CMYK2BGR_8u_C4C3R` on libjpeg's (Adobe-inverted) CMYK output.
    fn cmyk_to_rgb(cmyk: &[u8], rgb: &mut [u8]) {
        for (p, o) in cmyk.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
            let k = p[3] as i32;
            for c in 0..3 {
                o[c] = (k - (((255 - p[c] as i32) * k) >> 8)) as u8;
            }
        }
    }

    pub(super) fn decode(
        path: &Path,
        check_size: impl Fn(u64, u64) -> Result<(), ImageError>,
    ) -> Result<LoadedImage, Failure> {
        let file = std::fs::File::open(path).map_err(|e| Failure::Decode(e.to_string()))?;
        EVENTS.with(|e| e.set(Events::default()));
        let run = || -> Result<(RgbImage, Option<Orientation>), Failure> {
            let io = |e: std::io::Error| Failure::Decode(e.to_string());
            let d = Decompress::builder()
                .with_err(error_manager())
                .with_markers(&[Marker::APP(1)])
                .from_reader(WatchEof(BufReader::with_capacity(1 << 16, file)))
                .map_err(io)?;
            let (w, h) = d.size();
            check_size(w as u64, h as u64).map_err(Failure::Image)?;
            let orientation = exif_orientation(&d);
            let mut rgb = vec![0u8; w * h * 3];
            // Starting decompression reads a progressive file's every scan.
            note(|e| e.phase = Phase::Pixels);
            if matches!(
                d.color_space(),
                J_COLOR_SPACE::JCS_CMYK | J_COLOR_SPACE::JCS_YCCK
            ) {
                let mut s = d.to_colorspace(J_COLOR_SPACE::JCS_CMYK).map_err(io)?;
                let mut row = vec![0u8; w * 4];
                for out in rgb.chunks_exact_mut(w * 3) {
                    s.read_scanlines_into(&mut row).map_err(io)?;
                    cmyk_to_rgb(&row, out);
                }
                note(|e| e.phase = Phase::Segments);
                s.finish().map_err(io)?;
            } else {
                let mut s = d.rgb().map_err(io)?;
                s.read_scanlines_into(&mut rgb).map_err(io)?;
                note(|e| e.phase = Phase::Segments);
                // Reads up to the end-of-image marker, as OpenCV does (warning about bytes
                // left between the last scan and it).
                s.finish().map_err(io)?;
            }
            let img = RgbImage::from_raw(w as u32, h as u32, rgb).expect("buffer size");
            Ok((img, orientation))
        };
        let (img, orientation) = match catch_unwind(AssertUnwindSafe(run)) {
            Ok(r) => r?,
            Err(payload) if payload.is::<Fatal>() => {
                return Err(Failure::Decode(fatal_message(path)));
            }
            Err(payload) => resume_unwind(payload),
        };
        let events = EVENTS.with(Cell::get);
        let plural = |n: u32| if n == 1 { "warning" } else { "warnings" };
        let mut warnings = Vec::new();
        if events.eof {
            // libjpeg's own words; the warnings that follow from it are not repeated.
            warnings.push(
                "premature end of JPEG file (truncated): libjpeg filled in the missing part, \
                 as OpenCV does"
                    .to_string(),
            );
        } else if events.in_pixels > 0 {
            warnings.push(format!(
                "corrupt JPEG data: damaged entropy-coded data (libjpeg: {} {}); that part of \
                 the image decodes as garbage",
                events.in_pixels,
                plural(events.in_pixels)
            ));
        }
        if !events.eof && events.in_segments > 0 {
            warnings.push(format!(
                "corrupt JPEG data: extraneous bytes between segments (libjpeg: {} {}); the \
                 pixel data is not affected",
                events.in_segments,
                plural(events.in_segments)
            ));
        }
        Ok(LoadedImage {
            image: oriented(img, orientation),
            warnings,
        })
    }

    /// libjpeg's own text for a fatal error: the file decoded again with the `mozjpeg`
    /// crate's error manager, which formats it (fatal errors are rare, the second pass cheap).
    fn fatal_message(path: &Path) -> String {
        let r = catch_unwind(|| -> std::io::Result<()> {
            let d = Decompress::new_path(path)?;
            let cmyk = matches!(
                d.color_space(),
                J_COLOR_SPACE::JCS_CMYK | J_COLOR_SPACE::JCS_YCCK
            );
            let mut s = if cmyk {
                d.to_colorspace(J_COLOR_SPACE::JCS_CMYK)?
            } else {
                d.rgb()?
            };
            s.read_scanlines::<u8>()?;
            s.finish()
        });
        match r {
            Err(payload) => payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "libjpeg fatal error".into()),
            Ok(Err(e)) => format!("libjpeg fatal error ({e})"),
            Ok(Ok(())) => "libjpeg fatal error".into(),
        }
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

    /// PNG's chunk CRC (CRC-32/IEEE, as gzip's).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        crc.sum()
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

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Offset of the first `FF kind` marker.
    fn marker(bytes: &[u8], kind: u8) -> usize {
        bytes
            .windows(2)
            .position(|w| w == [0xFF, kind])
            .expect("marker")
    }

    #[test]
    fn a_whole_jpeg_has_no_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "ok.jpg", &jpeg(64, 48));
        let l = load_image_checked(&p, &LoadOptions::default()).unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.image.dimensions(), (64, 48));
    }

    #[test]
    fn truncated_jpeg_is_read_with_a_premature_end_warning() {
        let dir = tempfile::tempdir().unwrap();
        let full = jpeg(64, 48);
        let whole = load_image(&write(dir.path(), "whole.jpg", &full)).unwrap();
        // Cut in the middle of the entropy-coded data (after the start of scan).
        let sos = marker(&full, 0xDA);
        let cut = sos + (full.len() - sos) / 2;
        let p = write(dir.path(), "cut.jpg", &full[..cut]);
        let l = load_image_checked(&p, &LoadOptions::default()).unwrap();
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(
            l.warnings[0].starts_with("premature end of JPEG file"),
            "{:?}",
            l.warnings
        );
        // The rows before the cut are the whole file's (the first MCU row at least).
        let row = 64 * 3;
        assert_eq!(l.image.as_raw()[..8 * row], whole.as_raw()[..8 * row]);
        // load_image reads it without a word, as before.
        assert_eq!(load_image(&p).unwrap(), l.image);
    }

    #[test]
    fn garbage_in_the_scan_and_extraneous_bytes_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let full = jpeg(64, 48);
        let sos = marker(&full, 0xDA);
        let mut bad = full.clone();
        let mid = sos + (full.len() - sos) / 2;
        for b in &mut bad[mid..mid + 24] {
            *b = b.wrapping_mul(7).wrapping_add(13);
        }
        let mut extra = full[..full.len() - 2].to_vec();
        extra.extend_from_slice(&[1, 2, 3, 4, 0xFF, 0xD9]);
        for (name, bytes, defect) in [
            ("garbage.jpg", bad, "damaged entropy-coded data"),
            ("extra.jpg", extra, "extraneous bytes between segments"),
        ] {
            let p = write(dir.path(), name, &bytes);
            let l = load_image_checked(&p, &LoadOptions::default()).unwrap();
            assert_eq!(l.warnings.len(), 1, "{name}: {:?}", l.warnings);
            assert!(
                l.warnings[0].starts_with(&format!("corrupt JPEG data: {defect}")),
                "{name}: {:?}",
                l.warnings
            );
        }
        // Bytes before the end-of-image marker leave the pixels as they were.
        let extra = load_image(&dir.path().join("extra.jpg")).unwrap();
        assert_eq!(
            extra,
            load_image(&write(dir.path(), "whole.jpg", &full)).unwrap()
        );
    }

    #[test]
    fn jpeg_cut_inside_its_header_is_an_error_with_libjpegs_reason() {
        let full = jpeg(64, 48);
        let e = error_of("head.jpg", Some(&full[..marker(&full, 0xC4) + 6]));
        assert!(e.contains("cannot decode") && e.contains("libjpeg"), "{e}");
    }

    #[test]
    fn huge_png_is_refused_before_decoding() {
        let e = error_of("huge.png", Some(&png_header(100_000, 100_000)));
        assert!(
            e.contains("100000x100000") && e.contains("more than the limit of 400000000"),
            "{e}"
        );
    }

    #[test]
    fn huge_jpeg_is_refused_before_decoding() {
        // A small JPEG whose frame header claims the largest size libjpeg reads.
        let mut b = jpeg(64, 48);
        let sof = marker(&b, 0xC0);
        // 65500 = 0xFFDC, libjpeg's largest.
        b[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xDC, 0xFF, 0xDC]);
        let e = error_of("huge.jpg", Some(&b));
        assert!(e.contains("65500x65500"), "{e}");
    }

    #[test]
    fn max_pixels_is_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.jpg", &jpeg(64, 48));
        let q = dir.path().join("a.png");
        RgbImage::new(64, 48).save(&q).unwrap();
        for f in [&p, &q] {
            let at = LoadOptions {
                max_pixels: 64 * 48,
            };
            assert!(load_image_checked(f, &at).is_ok());
            let below = LoadOptions {
                max_pixels: 64 * 48 - 1,
            };
            let e = load_image_checked(f, &below).unwrap_err();
            assert!(matches!(e, ImageError::TooLarge { .. }), "{e}");
        }
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
