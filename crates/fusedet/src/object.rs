//! Object detection with YOLOv3-family models: [`ObjectDetector`] loads a Darknet `.cfg` +
//! `.weights` (+ class names) into fusedet's [`DarknetNet`] and runs Darknet's letterbox,
//! network, `[yolo]` decoding and `do_nms_sort` ([`crate::postprocess::yolo`]); or it holds a
//! YOLOv3 / ASFF model trained by `fusedet train` ([`ObjectNet::YoloV3`], from a run
//! directory), whose guided-anchor boxes go through the same NMS and results.
//!
//! ```no_run
//! let device = fusedet::burn::tensor::Device::default();
//! let det = fusedet::Detector::from_pretrained("yolov3-tiny-coco", &device)?;
//! let img = fusedet::preprocess::load_image(std::path::Path::new("street.jpg"))?;
//! for d in det.detect(&img)? {
//!     println!("{} {:.2} {:?}", d.class.as_deref().unwrap_or("?"), d.score, d.shape);
//! }
//! # Ok::<(), fusedet::Error>(())
//! ```

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;

use crate::detection::Detection;
use crate::error::{DarknetError, Error, TrainError};
use crate::import::darknet::{DarknetCfg, DarknetWeights, LayerKind};
use crate::model::darknet::DarknetNet;
use crate::model::yolov3::YoloV3;
use crate::postprocess::yolo::{
    Letterboxed, LevelOutput, RawDetection, YoloPostProcess, do_nms_sort, letterbox, postprocess,
    to_detections,
};

/// ImageNet mean and standard deviation (RGB), the YOLOv3 / ASFF input normalisation.
pub const IMAGENET_MEAN_STD: ([f32; 3], [f32; 3]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

/// Normalises planar RGB in [0, 1] (`3 × plane`) with [`IMAGENET_MEAN_STD`] in place.
pub fn normalize_imagenet(planar: &mut [f32]) {
    let plane = planar.len() / 3;
    let (mean, std) = IMAGENET_MEAN_STD;
    for (k, ch) in planar.chunks_exact_mut(plane).enumerate() {
        for v in ch {
            *v = (*v - mean[k]) / std[k];
        }
    }
}

/// The network of an [`ObjectDetector`].
#[allow(clippy::large_enum_variant)]
pub enum ObjectNet {
    /// A Darknet cfg network: `[yolo]` layers decoded as Darknet does; input in [0, 1].
    Darknet(DarknetNet),
    /// A YOLOv3 / ASFF model (`arch = "yolov3"`): guided anchors, decoded by the model
    /// ([`YoloV3::decode`]); input normalised with [`IMAGENET_MEAN_STD`], square.
    YoloV3(YoloV3),
}

/// The files of a Darknet model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DarknetFiles {
    /// The `.cfg`.
    pub cfg: PathBuf,
    /// The `.weights`.
    pub weights: PathBuf,
    /// Class names, one per line (`coco.names`), if there are any.
    pub names: Option<PathBuf>,
}

impl DarknetFiles {
    /// The files of a model given by its `.cfg` or `.weights`: the other one has the same
    /// stem in the same directory; class names are `<stem>.names`, else the only `*.names`
    /// file there.
    pub fn beside(path: &Path) -> Result<Self, DarknetError> {
        let with = |ext: &str| path.with_extension(ext);
        let (cfg, weights) = (with("cfg"), with("weights"));
        for (p, what) in [(&cfg, "cfg"), (&weights, "weights")] {
            if !p.is_file() {
                return Err(DarknetError::Missing {
                    path: p.clone(),
                    reason: format!(
                        "no Darknet .{what} file beside {} (a model is a .cfg and a .weights \
                         with the same name)",
                        path.display()
                    ),
                });
            }
        }
        let names = with("names");
        let names = if names.is_file() {
            Some(names)
        } else {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            let mut all: Vec<PathBuf> = std::fs::read_dir(dir.unwrap_or(Path::new(".")))
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "names"))
                        .collect()
                })
                .unwrap_or_default();
            (all.len() == 1).then(|| all.remove(0))
        };
        Ok(Self {
            cfg,
            weights,
            names,
        })
    }
}

/// Reads a class-names file: one name per line, blank lines ignored; the count must be the
/// network's class count.
pub fn read_names(path: &Path, classes: usize) -> Result<Vec<String>, DarknetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DarknetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != classes {
        return Err(DarknetError::Names {
            path: path.to_path_buf(),
            reason: format!(
                "{} class names for a network with {classes} classes",
                names.len()
            ),
        });
    }
    Ok(names)
}

/// One `[yolo]` level's raw output for one image: `anchors × (5 + classes)` channels of
/// `h × w`, channel-major. For a YOLOv3 / ASFF model ([`ObjectNet::YoloV3`]) there is one
/// entry per image: the decoded rows `(x, y, w, h, objectness, classes...)` in network-input
/// pixels, `h` rows of `w = 5 + classes` values.
#[derive(Clone, Debug, PartialEq)]
pub struct RawLevel {
    /// Values.
    pub data: Vec<f32>,
    /// Grid height.
    pub h: usize,
    /// Grid width.
    pub w: usize,
}

/// A tensor's values on the host.
fn read_back<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, Error> {
    Ok(t.into_data()
        .try_to_vec()
        .map_err(|e| TrainError::Readback(format!("{e:?}")))?)
}

/// One ASFF level's fusion weights ([`ObjectDetector::fusion_weights`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FusionMap {
    /// The weight of source level 0, 1, 2 at each grid cell, row-major; they sum to 1.
    pub weights: Vec<Vec<f32>>,
    /// Grid height.
    pub h: usize,
    /// Grid width.
    pub w: usize,
}

/// A YOLOv3-family object detector: a Darknet model with Darknet's pre- and post-processing,
/// or a trained YOLOv3 / ASFF model ([`ObjectNet`]).
pub struct ObjectDetector {
    net: ObjectNet,
    device: Device,
    /// Class names (`class0`, ... when the model came without names).
    pub names: Vec<String>,
    /// Network input `(width, height)`; the cfg's by default, multiples of 32.
    pub input_size: (usize, usize),
    /// Letterbox (aspect-preserving, Darknet's default) or stretch to the input size.
    pub letterbox: bool,
    /// Thresholds.
    pub postprocess: YoloPostProcess,
    /// Thresholds for evaluation (`fusedet eval`): Darknet's `detector valid`, or a trained
    /// model's validation settings.
    pub eval_postprocess: YoloPostProcess,
}

impl ObjectDetector {
    /// Loads a Darknet model.
    pub fn from_darknet(files: &DarknetFiles, device: &Device) -> Result<Self, Error> {
        let cfg = DarknetCfg::read(&files.cfg)?;
        let classes: Vec<usize> = cfg
            .layers
            .iter()
            .filter_map(|l| match &l.kind {
                LayerKind::Yolo(y) => Some(y.classes),
                _ => None,
            })
            .collect();
        let Some(&n) = classes.first() else {
            return Err(DarknetError::Cfg {
                path: files.cfg.clone(),
                line: 1,
                reason: "no [yolo] layer: not an object detector (a classifier such as \
                         darknet53.cfg cannot detect)"
                    .into(),
            }
            .into());
        };
        if let Some(l) = cfg
            .layers
            .iter()
            .find(|l| matches!(&l.kind, LayerKind::Yolo(y) if y.classes != n))
        {
            return Err(DarknetError::Cfg {
                path: files.cfg.clone(),
                line: l.line,
                reason: format!("[yolo] classes differ between levels (first level: {n})"),
            }
            .into());
        }
        let weights = DarknetWeights::read(&files.weights, &cfg)?;
        let names = match &files.names {
            Some(p) => read_names(p, n)?,
            None => (0..n).map(|i| format!("class{i}")).collect(),
        };
        let net = DarknetNet::from_weights(&cfg, &weights, device)?;
        Ok(Self {
            input_size: (cfg.input[2], cfg.input[1]),
            net: ObjectNet::Darknet(net),
            device: device.clone(),
            names,
            letterbox: true,
            postprocess: YoloPostProcess::default(),
            eval_postprocess: YoloPostProcess::valid(),
        })
    }

    /// A YOLOv3 / ASFF model with its class names, at a square input of `input_size`
    /// (stretched, not letterboxed, as the model was trained), with the thresholds of
    /// detection and of evaluation.
    pub fn from_yolov3(
        model: YoloV3,
        names: Vec<String>,
        input_size: usize,
        [postprocess, eval_postprocess]: [YoloPostProcess; 2],
        device: &Device,
    ) -> Self {
        Self {
            net: ObjectNet::YoloV3(model),
            device: device.clone(),
            names,
            input_size: (input_size, input_size),
            letterbox: false,
            postprocess,
            eval_postprocess,
        }
    }

    /// The network.
    pub fn net(&self) -> &ObjectNet {
        &self.net
    }

    /// Stage 1: the network input (letterboxed or stretched; normalised with
    /// [`IMAGENET_MEAN_STD`] for a YOLOv3 / ASFF model).
    pub fn prepare(&self, img: &RgbImage) -> Letterboxed {
        let (w, h) = self.input_size;
        let mut l = letterbox(img, w, h, self.letterbox);
        if let ObjectNet::YoloV3(_) = self.net {
            normalize_imagenet(&mut l.data);
        }
        l
    }

    /// Prepared images as one network input `[n, 3, h, w]`.
    fn input(&self, batch: &[&Letterboxed]) -> Tensor<4> {
        let (w, h) = self.input_size;
        let mut data = Vec::with_capacity(batch.len() * 3 * h * w);
        for p in batch {
            data.extend_from_slice(&p.data);
        }
        Tensor::from_data(TensorData::new(data, [batch.len(), 3, h, w]), &self.device)
    }

    /// Stage 2: the raw `[yolo]` outputs of prepared images, per image per level, with the
    /// grid size of each level (a YOLOv3 / ASFF model: its decoded rows, see [`RawLevel`]).
    pub fn predict(&self, batch: &[&Letterboxed]) -> Result<Vec<Vec<RawLevel>>, Error> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.input(batch);
        let net = match &self.net {
            ObjectNet::Darknet(net) => net,
            ObjectNet::YoloV3(m) => {
                let rows = m.decode(&m.forward(x));
                let [_, r, c] = rows.dims();
                let v = read_back(rows)?;
                return Ok(v
                    .chunks_exact(r * c)
                    .map(|chunk| {
                        vec![RawLevel {
                            data: chunk.to_vec(),
                            h: r,
                            w: c,
                        }]
                    })
                    .collect());
            }
        };
        let mut per_image: Vec<Vec<RawLevel>> = vec![Vec::new(); batch.len()];
        for out in net.forward(x) {
            let [_, c, lh, lw] = out.raw.dims();
            let v = read_back(out.raw)?;
            for (img, chunk) in per_image.iter_mut().zip(v.chunks_exact(c * lh * lw)) {
                img.push(RawLevel {
                    data: chunk.to_vec(),
                    h: lh,
                    w: lw,
                });
            }
        }
        Ok(per_image)
    }

    /// Whether the model fuses its levels with ASFF (has [`ObjectDetector::fusion_weights`]).
    pub fn has_fusion(&self) -> bool {
        matches!(&self.net, ObjectNet::YoloV3(m) if m.has_fusion())
    }

    /// ASFF's fusion weights (the reference's `vis`) for one image: per level (stride 32, 16,
    /// 8) the softmax weights of the three source levels, `[3][h_l · w_l]` row-major with
    /// `(h_l, w_l)`; `None` for models without ASFF.
    pub fn fusion_weights(&self, img: &RgbImage) -> Result<Option<Vec<FusionMap>>, Error> {
        let ObjectNet::YoloV3(m) = &self.net else {
            return Ok(None);
        };
        let x = self.input(&[&self.prepare(img)]);
        let Some(fusion) = m.forward(x).fusion else {
            return Ok(None);
        };
        fusion
            .into_iter()
            .map(|f| {
                let [_, _, lh, lw] = f.weights.dims();
                let v = read_back(f.weights)?;
                Ok(FusionMap {
                    weights: v.chunks_exact(lh * lw).map(<[f32]>::to_vec).collect(),
                    h: lh,
                    w: lw,
                })
            })
            .collect::<Result<Vec<_>, Error>>()
            .map(Some)
    }

    /// Stage 3: detections in original image coordinates.
    pub fn postprocess(&self, levels: &[RawLevel], prepared: &Letterboxed) -> Vec<Detection> {
        if let ObjectNet::YoloV3(_) = self.net {
            return self.postprocess_rows(levels, prepared);
        }
        let layers = self.yolo_layers();
        let lv: Vec<LevelOutput> = levels
            .iter()
            .zip(&layers)
            .map(|(l, layer)| LevelOutput {
                data: &l.data,
                h: l.h,
                w: l.w,
                layer,
            })
            .collect();
        postprocess(&lv, &prepared.placement, &self.names, &self.postprocess)
    }

    /// [`ObjectDetector::postprocess`] of decoded YOLOv3 / ASFF rows: score = objectness ×
    /// class probability (zero unless above `conf`), boxes mapped back to the image, then
    /// Darknet's per-class NMS and results.
    fn postprocess_rows(&self, levels: &[RawLevel], prepared: &Letterboxed) -> Vec<Detection> {
        let p = &prepared.placement;
        let cfg = &self.postprocess;
        let (sx, sy) = (
            p.src_w as f32 / p.new_w as f32,
            p.src_h as f32 / p.new_h as f32,
        );
        let (ox, oy) = (
            (p.net_w - p.new_w) as f32 / 2.0,
            (p.net_h - p.new_h) as f32 / 2.0,
        );
        let mut dets = Vec::new();
        let mut classes = 0;
        for l in levels {
            classes = l.w.saturating_sub(5);
            for r in l.data.chunks_exact(l.w) {
                let objectness = r[4];
                if objectness <= cfg.conf {
                    continue;
                }
                let prob: Vec<f32> = r[5..]
                    .iter()
                    .map(|&c| {
                        let v = objectness * c;
                        if v > cfg.conf { v } else { 0.0 }
                    })
                    .collect();
                if prob.iter().all(|&v| v == 0.0) {
                    continue;
                }
                dets.push(RawDetection {
                    bbox: [(r[0] - ox) * sx, (r[1] - oy) * sy, r[2] * sx, r[3] * sy],
                    objectness,
                    prob,
                });
            }
        }
        if cfg.iou > 0.0 {
            do_nms_sort(&mut dets, classes, cfg.iou);
        }
        to_detections(&dets, &self.names, p, cfg.conf, cfg.max_det)
    }

    fn yolo_layers(&self) -> Vec<&crate::import::darknet::Yolo> {
        let ObjectNet::Darknet(net) = &self.net else {
            return Vec::new();
        };
        net.cfg()
            .layers
            .iter()
            .filter_map(|l| match &l.kind {
                LayerKind::Yolo(y) => Some(y),
                _ => None,
            })
            .collect()
    }

    /// All stages for one image.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>, Error> {
        Ok(self.detect_batch(&[img], 1)?.remove(0))
    }

    /// All stages for several images, in order, at most `max_batch` per network run (every
    /// letterboxed input has the network's size).
    pub fn detect_batch(
        &self,
        images: &[&RgbImage],
        max_batch: usize,
    ) -> Result<Vec<Vec<Detection>>, Error> {
        let (w, h) = self.input_size;
        if w == 0 || h == 0 || !w.is_multiple_of(32) || !h.is_multiple_of(32) {
            return Err(Error::Input(format!(
                "the network input must be a multiple of 32, not {w}x{h}"
            )));
        }
        if matches!(self.net, ObjectNet::YoloV3(_)) && w != h {
            return Err(Error::Input(format!(
                "a YOLOv3 / ASFF model needs a square input, not {w}x{h}"
            )));
        }
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(max_batch.max(1)) {
            let prepared: Vec<Letterboxed> = chunk.iter().map(|i| self.prepare(i)).collect();
            let refs: Vec<&Letterboxed> = prepared.iter().collect();
            let raw = self.predict(&refs)?;
            for (levels, p) in raw.iter().zip(&prepared) {
                out.push(self.postprocess(levels, p));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "[net]\nwidth=64\nheight=64\nchannels=3\n\
        [convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=leaky\n\
        [maxpool]\nsize=2\nstride=2\n\
        [convolutional]\nfilters=14\nsize=1\nstride=1\npad=1\nactivation=linear\n\
        [yolo]\nmask=0,1\nanchors=10,14,23,27\nclasses=2\nnum=2\n";

    fn model(dir: &Path, floats: usize, names: &str) -> DarknetFiles {
        let cfg = dir.join("m.cfg");
        std::fs::write(&cfg, CFG).unwrap();
        let c = DarknetCfg::read(&cfg).unwrap();
        let mut b = Vec::new();
        for v in [0i32, 2, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&7u64.to_le_bytes());
        let n = c.weight_count();
        for i in 0..floats.min(n + 8) {
            let v = if i < n {
                ((i * 37) % 11) as f32 / 11.0 - 0.3
            } else {
                0.0
            };
            b.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(dir.join("m.weights"), b).unwrap();
        std::fs::write(dir.join("m.names"), names).unwrap();
        DarknetFiles::beside(&cfg).unwrap()
    }

    #[test]
    fn a_small_darknet_model_detects_in_original_coordinates_batched_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DarknetCfg::parse(CFG, Path::new("m.cfg")).unwrap();
        let files = model(dir.path(), cfg.weight_count(), "cat\ndog\n");
        assert_eq!(
            files.names.as_deref(),
            Some(dir.path().join("m.names").as_path())
        );
        let mut det = ObjectDetector::from_darknet(&files, &Device::default()).unwrap();
        det.postprocess.conf = 0.005;
        assert_eq!(det.names, vec!["cat", "dog"]);
        assert_eq!(det.input_size, (64, 64));
        let imgs: Vec<RgbImage> = (0..3)
            .map(|k| {
                RgbImage::from_fn(50 + 20 * k, 40, |x, y| {
                    image::Rgb([(x * 5) as u8, (y * 7) as u8, (k * 80) as u8])
                })
            })
            .collect();
        let refs: Vec<&RgbImage> = imgs.iter().collect();
        let batched = det.detect_batch(&refs, 2).unwrap();
        for (img, b) in imgs.iter().zip(&batched) {
            let one = det.detect(img).unwrap();
            assert_eq!(one.len(), b.len());
            for (a, b) in one.iter().zip(b) {
                assert_eq!(a.class_id, b.class_id);
                assert!((a.score - b.score).abs() < 1e-5);
            }
            for d in &one {
                let [x1, y1, x2, y2] = match d.shape {
                    crate::Shape::Box(b) => b,
                    _ => panic!("object detections are boxes"),
                };
                assert!(0.0 <= x1 && x1 <= x2 && x2 <= f64::from(img.width()));
                assert!(0.0 <= y1 && y1 <= y2 && y2 <= f64::from(img.height()));
                assert!(d.score > 0.005 && d.class.is_some());
            }
        }
        assert!(batched.iter().any(|b| !b.is_empty()));
    }

    #[test]
    fn yolov3_rows_map_back_to_the_image_stretched_or_letterboxed() {
        let device = Device::default();
        let spec = crate::model::yolov3::YoloV3Spec {
            num_classes: 2,
            width: 0.125,
            ..Default::default()
        };
        let post = YoloPostProcess {
            conf: 0.1,
            iou: 0.5,
            max_det: None,
        };
        let mut det = ObjectDetector::from_yolov3(
            spec.init(&device),
            vec!["a".into(), "b".into()],
            64,
            [post, YoloPostProcess::valid()],
            &device,
        );
        // Centre (32, 32), 16 x 8 input pixels, objectness 0.9, classes 0.2 / 0.8; a second
        // row below the threshold.
        let rows = [RawLevel {
            data: vec![
                32.0, 32.0, 16.0, 8.0, 0.9, 0.2, 0.8, //
                10.0, 10.0, 4.0, 4.0, 0.05, 0.9, 0.9,
            ],
            h: 2,
            w: 7,
        }];
        let img = RgbImage::new(128, 64);
        let boxes = |det: &ObjectDetector| -> Vec<(usize, [f64; 4], f64)> {
            det.postprocess(&rows, &det.prepare(&img))
                .iter()
                .map(|d| {
                    let crate::Shape::Box(b) = d.shape else {
                        panic!("a box")
                    };
                    (d.class_id.unwrap(), b, d.score)
                })
                .collect()
        };
        // Stretched: x scaled by 2, y by 1; both classes pass 0.1 (0.72 and 0.18).
        let got = boxes(&det);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[0].1), (1, [48.0, 28.0, 80.0, 36.0]));
        assert!((got[0].2 - 0.72).abs() < 1e-6 && (got[1].2 - 0.18).abs() < 1e-6);
        assert_eq!(got[1].0, 0);
        // Letterboxed: the image is 64 x 32 at y = 16 of the input, scaled by 2 both ways.
        det.letterbox = true;
        assert_eq!(boxes(&det)[0].1, [48.0, 24.0, 80.0, 40.0]);
    }

    #[test]
    fn wrong_names_truncated_weights_and_missing_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DarknetCfg::parse(CFG, Path::new("m.cfg")).unwrap();
        let files = model(dir.path(), cfg.weight_count(), "cat\ndog\nbird\n");
        let e = ObjectDetector::from_darknet(&files, &Device::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("m.names") && e.contains("3 class names") && e.contains("2 classes"),
            "{e}"
        );
        let files = model(dir.path(), cfg.weight_count() - 5, "cat\ndog\n");
        let e = ObjectDetector::from_darknet(&files, &Device::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("m.weights") && e.contains("expected"), "{e}");
        std::fs::remove_file(dir.path().join("m.weights")).unwrap();
        let e = DarknetFiles::beside(&dir.path().join("m.cfg"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.weights"), "{e}");
    }
}
