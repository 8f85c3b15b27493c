//! Inference with a TextBoxes++ detector: the image stretched to the recipe's square (or
//! `w × h`) input as the reference does (bilinear, no aspect kept), ImageNet normalisation,
//! the network, then [`TbPostProcess`]: quads in original image pixels, clockwise from the
//! top-left, in the same [`Detection`] JSON as DBNet's polygons.

use burn::prelude::*;
use image::RgbImage;

use crate::detection::Detection;
use crate::error::{Error, TrainError};
use crate::model::textboxes::coder::{Anchor, order_clockwise};
use crate::model::textboxes::{Regression, TextBoxes, TextBoxesSpec};
use crate::object::normalize_imagenet;
use crate::postprocess::textboxes::TbPostProcess;
use crate::postprocess::yolo::letterbox;

/// A TextBoxes++ detector with its settings.
pub struct QuadDetector {
    model: TextBoxes,
    device: Device,
    spec: TextBoxesSpec,
    anchors: Vec<Anchor>,
    /// Post-processing (its `input_size` is the network input).
    pub postprocess: TbPostProcess,
}

/// A resized, normalised image and its scale back to the original.
#[derive(Clone, Debug)]
pub struct QuadPrepared {
    /// Planar RGB `3 × h × w`, normalised.
    pub data: Vec<f32>,
    /// Original width.
    pub src_width: u32,
    /// Original height.
    pub src_height: u32,
}

impl QuadDetector {
    /// Wraps a model (inference mode) built from `spec`.
    pub fn new(model: TextBoxes, spec: TextBoxesSpec, device: Device) -> Self {
        let postprocess = spec.postprocess.clone();
        let [w, h] = postprocess.input_size;
        let anchors = spec.anchors.anchors(w, h);
        Self {
            model,
            device,
            spec,
            anchors,
            postprocess,
        }
    }

    /// The regression layout.
    pub fn regression(&self) -> Regression {
        self.spec.regression()
    }

    /// Stage 1: stretch to the network input and normalise.
    pub fn prepare(&self, img: &RgbImage) -> QuadPrepared {
        let [w, h] = self.postprocess.input_size;
        let mut data = letterbox(img, w, h, false).data;
        normalize_imagenet(&mut data);
        QuadPrepared {
            data,
            src_width: img.width(),
            src_height: img.height(),
        }
    }

    /// Stages 2 and 3 for a batch of prepared images.
    pub fn run(&self, batch: &[&QuadPrepared]) -> Result<Vec<Vec<Detection>>, Error> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let [w, h] = self.postprocess.input_size;
        if self.anchors.len() != self.spec.anchors.anchors(w, h).len() {
            return Err(Error::Input(
                "postprocess.input_size changed after loading".into(),
            ));
        }
        let n = batch.len();
        let mut data = Vec::with_capacity(n * 3 * w * h);
        for p in batch {
            data.extend_from_slice(&p.data);
        }
        let x = Tensor::<4>::from_data(TensorData::new(data, [n, 3, h, w]), &self.device);
        let out = self.model.forward(x);
        let read = |t: Tensor<3>| -> Result<Vec<f32>, Error> {
            t.into_data()
                .try_to_vec()
                .map_err(|e| TrainError::Readback(format!("{e:?}")).into())
        };
        let (loc, cls) = (read(out.loc)?, read(out.cls)?);
        let a = self.anchors.len();
        let r = self.regression().width();
        Ok(batch
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let sx = f64::from(p.src_width) / w as f64;
                let sy = f64::from(p.src_height) / h as f64;
                self.postprocess
                    .run(
                        &loc[i * a * r..(i + 1) * a * r],
                        &cls[i * a..(i + 1) * a],
                        &self.anchors,
                        self.regression(),
                    )
                    .into_iter()
                    .map(|d| {
                        let q = order_clockwise(d.quad);
                        let pts = (0..4)
                            .map(|k| [f64::from(q[2 * k]) * sx, f64::from(q[2 * k + 1]) * sy])
                            .collect();
                        Detection::polygon(pts, f64::from(d.score))
                    })
                    .collect()
            })
            .collect())
    }

    /// All stages for one image.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>, Error> {
        let p = self.prepare(img);
        Ok(self.run(&[&p])?.pop().unwrap_or_default())
    }

    /// All stages for several images, `max_batch` at a time (every input has the same size).
    pub fn detect_batch(
        &self,
        images: &[&RgbImage],
        max_batch: usize,
    ) -> Result<Vec<Vec<Detection>>, Error> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(max_batch.max(1)) {
            let prepared: Vec<QuadPrepared> = chunk.iter().map(|i| self.prepare(i)).collect();
            let refs: Vec<&QuadPrepared> = prepared.iter().collect();
            out.extend(self.run(&refs)?);
        }
        Ok(out)
    }

    /// Rebuilds the anchors after `postprocess.input_size` changed.
    pub fn set_input_size(&mut self, w: usize, h: usize) {
        self.postprocess.input_size = [w, h];
        self.anchors = self.spec.anchors.anchors(w, h);
    }
}
