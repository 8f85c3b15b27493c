//! The text-detection facade: [`TextDetector`] exposes each stage (`prepare`,
//! `predict_maps`, `postprocess`) and their composition (`detect`).

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ImportError};
use crate::import::{LoadParams, ParamStream};
use crate::model::{DetModel, PpOcrDet, PpOcrDetConfig};
use crate::postprocess::db::{DbPostProcess, Detection, ProbMap};
use crate::preprocess::{Prepared, PreprocessConfig, prepare};

/// Anything that maps a normalised image batch `[n, 3, H, W]` to probability maps
/// `[n, 1, H, W]`; the seam that lets pipeline tests run a fake model.
pub trait ProbabilityModel {
    /// Runs the model.
    fn probability(&self, x: Tensor<4>) -> Tensor<4>;
}

impl ProbabilityModel for PpOcrDet {
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

/// Detections of one image.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImageDetections {
    /// Image path (as given).
    pub image: String,
    /// Image width.
    pub width: usize,
    /// Image height.
    pub height: usize,
    /// The text regions.
    pub detections: Vec<Detection>,
}

/// A DB-family text detector with its preprocessing and post-processing settings.
pub struct TextDetector<M: ProbabilityModel = PpOcrDet> {
    model: M,
    device: Device,
    /// Preprocessing settings.
    pub preprocess: PreprocessConfig,
    /// Post-processing settings.
    pub postprocess: DbPostProcess,
}

impl TextDetector<PpOcrDet> {
    /// Loads a PP-OCR mobile detection model from its ONNX export.
    pub fn from_onnx(path: &Path, device: &Device) -> Result<Self, ImportError> {
        let mut model = PpOcrDetConfig::new().init(device);
        let mut stream = ParamStream::from_file(path, device)?;
        model.load_params(&mut stream)?;
        Ok(Self::new(model, device.clone()))
    }
}

impl TextDetector<PpOcrDet> {
    /// The same detector behind the [`DetModel`] type that trained models share.
    pub fn into_det_model(self) -> TextDetector<DetModel> {
        TextDetector {
            model: DetModel::PpOcr(self.model),
            device: self.device,
            preprocess: self.preprocess,
            postprocess: self.postprocess,
        }
    }
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
            return Err(Error::Config("a batch must hold images of one size".into()));
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
            .map_err(|e| Error::Config(format!("reading the model output: {e:?}")))?;
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
        self.postprocess.run(
            ProbMap {
                data: &map.data,
                width: map.width,
                height: map.height,
            },
            prepared.src_width,
            prepared.src_height,
        )
    }

    /// All stages for one image.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>, Error> {
        let p = self.prepare(img);
        let maps = self.predict_maps(&[&p])?;
        Ok(self.postprocess(&maps[0], &p))
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
        let pts = &dets[0].points;
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
    fn mixed_sizes_in_one_batch_are_refused() {
        let det = TextDetector::new(BrightRed, Device::default());
        let a = det.prepare(&RgbImage::new(40, 40));
        let b = det.prepare(&RgbImage::new(800, 40));
        assert!(det.predict_maps(&[&a, &b]).is_err());
    }
}
