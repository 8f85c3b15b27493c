//! Training and validation data: a dataset from label files or from the synthetic generator,
//! and a loader that builds augmented batches on worker threads ahead of the training loop.
//!
//! Which image goes into micro-batch `m` and how it is augmented depend only on the seed and
//! `m` (an epoch's order is a seeded shuffle; each sample draws from `Rng::derive(seed,
//! [AUG, position])`), so a resumed run sees exactly the batches an uninterrupted run would.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::augment::{AugmentConfig, TrainSample, augment};
use crate::data::{TextFormat, TextInstance, TextSample};
use crate::error::Error;
use crate::preprocess::{LoadOptions, PreprocessConfig, load_image, load_image_checked};
use crate::rng::Rng;
use crate::synth::{Synth, SynthConfig};
use crate::synth_objects::SynthObjectsConfig;
use crate::targets::DbTargetConfig;

const ORDER: u64 = 0x004f_5244_4552;
const AUG: u64 = 0x0041_5547;

/// Where images and labels come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DataSource {
    /// A dataset on disk in one of the supported formats (`fusedet eval`'s arguments).
    Files {
        /// Label format.
        format: TextFormat,
        /// Image directory (for `paddle`, the data root).
        images: PathBuf,
        /// Label directory (for `paddle`, the label file).
        labels: PathBuf,
        /// Skip this many images (natural order).
        #[serde(default)]
        skip: usize,
        /// Use at most this many images.
        limit: Option<usize>,
    },
    /// `count` images of the synthetic generator.
    Synth {
        /// Number of images.
        count: usize,
        /// Generator settings (its seed makes a held-out set when it differs).
        #[serde(default)]
        synth: SynthConfig,
    },
    /// Objects: YOLO txt labels (`labels/<stem>.txt` for each image).
    Yolo {
        /// Image directory.
        images: PathBuf,
        /// Label directory.
        labels: PathBuf,
        /// Class names: a dataset yaml (`names:`) or a `.names` file (one per line).
        names: PathBuf,
        /// Skip this many images (file-name order).
        #[serde(default)]
        skip: usize,
        /// Use at most this many images.
        limit: Option<usize>,
    },
    /// Objects: a COCO instances json.
    Coco {
        /// The json.
        json: PathBuf,
        /// The directory its `file_name`s are relative to.
        images: PathBuf,
        /// Skip this many images (json order).
        #[serde(default)]
        skip: usize,
        /// Use at most this many images.
        limit: Option<usize>,
    },
    /// Objects: Pascal VOC xml (`annotations/<stem>.xml` for each image).
    Voc {
        /// Image directory.
        images: PathBuf,
        /// Annotation directory.
        annotations: PathBuf,
        /// Class order, one name per line (default: the sorted names found).
        names: Option<PathBuf>,
        /// Skip this many images (file-name order).
        #[serde(default)]
        skip: usize,
        /// Use at most this many images.
        limit: Option<usize>,
    },
    /// Objects: `count` images of the synthetic shape generator.
    #[serde(rename = "synth_objects")]
    SynthObjects {
        /// Number of images.
        count: usize,
        /// Generator settings (its seed makes a held-out set when it differs).
        #[serde(default)]
        synth: SynthObjectsConfig,
    },
}

impl DataSource {
    /// Whether this is an object-detection source (boxes with classes) rather than text.
    pub fn is_objects(&self) -> bool {
        !matches!(self, Self::Files { .. } | Self::Synth { .. })
    }
}

/// What [`Dataset::open_checked`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataCheck {
    /// Images checked (none for generated data).
    pub images: usize,
    /// Images with problems (left out).
    pub skipped: usize,
    /// The problems, one line each (`FILE:LINE: problem` or `IMAGE: problem`), in dataset
    /// order.
    pub problems: Vec<String>,
}

/// A loaded dataset.
pub enum Dataset {
    /// Files: the samples (images are decoded when used).
    Files(Vec<TextSample>),
    /// Synthetic: generated when used.
    Synth(Arc<Synth>, usize),
}

impl Dataset {
    /// Opens a source.
    pub fn open(src: &DataSource) -> Result<Self, Error> {
        Ok(match src {
            DataSource::Files {
                format,
                images,
                labels,
                skip,
                limit,
            } => {
                let all = crate::data::load(*format, images, labels)?;
                let n = limit.unwrap_or(usize::MAX);
                let samples: Vec<TextSample> = all.into_iter().skip(*skip).take(n).collect();
                if samples.is_empty() {
                    return Err(crate::error::DatasetError::Layout {
                        path: images.clone(),
                        reason: format!("no images left after skip {skip} / limit {limit:?}"),
                    }
                    .into());
                }
                Self::Files(samples)
            }
            DataSource::Synth { count, synth } => {
                if *count == 0 {
                    return Err(crate::error::ConfigError::invalid(
                        "data.train.count",
                        "must be positive",
                    )
                    .into());
                }
                Self::Synth(Arc::new(Synth::new(synth.clone())), *count)
            }
            _ => {
                return Err(crate::error::ConfigError::invalid(
                    "data.train.kind",
                    "an object dataset (boxes with classes) cannot train a text detector; \
                     arch = \"yolov3\" trains on it",
                )
                .into());
            }
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        match self {
            Self::Files(s) => s.len(),
            Self::Synth(_, n) => *n,
        }
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens a source and checks all of it: every label line parsed, every polygon of at
    /// least 3 distinct points, every image decoded (on all cores), a damaged JPEG that
    /// libjpeg decodes anyway counting as a problem too. `skip`/`limit` select images first
    /// (in dataset order, problems or not), so a split names the same images whatever is
    /// wrong elsewhere. Returns the images without problems, and what was found.
    pub fn open_checked(src: &DataSource) -> Result<(Self, DataCheck), Error> {
        let DataSource::Files {
            format,
            images,
            labels,
            skip,
            limit,
        } = src
        else {
            // Generated data: nothing to check.
            return Ok((Self::open(src)?, DataCheck::default()));
        };
        let rule = |t: &TextInstance| crate::data::polygon_problem(&t.points);
        let all = crate::data::check(*format, images, labels, &rule)?;
        let n = limit.unwrap_or(usize::MAX);
        let chosen: Vec<_> = all.into_iter().skip(*skip).take(n).collect();
        if chosen.is_empty() {
            return Err(crate::error::DatasetError::Layout {
                path: images.clone(),
                reason: format!("no images left after skip {skip} / limit {limit:?}"),
            }
            .into());
        }
        let opts = LoadOptions::default();
        let checked: Vec<Result<TextSample, Vec<String>>> = chosen
            .into_par_iter()
            .map(|r| match r {
                Err(rejected) => Err(rejected.problems.iter().map(|e| e.to_string()).collect()),
                Ok(sample) => match load_image_checked(&sample.image, &opts) {
                    Err(e) => Err(vec![e.to_string()]),
                    Ok(l) if !l.warnings.is_empty() => Err(l
                        .warnings
                        .iter()
                        .map(|w| format!("{}: {w}", sample.image.display()))
                        .collect()),
                    Ok(_) => Ok(sample),
                },
            })
            .collect();
        let mut samples = Vec::with_capacity(checked.len());
        let mut check = DataCheck {
            images: checked.len(),
            ..DataCheck::default()
        };
        for r in checked {
            match r {
                Ok(s) => samples.push(s),
                Err(p) => {
                    check.skipped += 1;
                    check.problems.extend(p);
                }
            }
        }
        Ok((Self::Files(samples), check))
    }

    /// Image `i`, its labels and a name for reports.
    pub fn get(&self, i: usize) -> Result<(RgbImage, Vec<TextInstance>, String), Error> {
        match self {
            Self::Files(s) => {
                let img = load_image(&s[i].image)?;
                Ok((
                    img,
                    s[i].instances.clone(),
                    s[i].image.display().to_string(),
                ))
            }
            Self::Synth(g, _) => {
                let (img, labels) = g.sample(i as u64);
                Ok((img, labels, format!("synth_{i:06}")))
            }
        }
    }
}

/// Dataset index of sample position `g` (epochs are seeded shuffles).
pub fn sample_index(seed: u64, len: usize, g: usize) -> usize {
    let epoch = g / len;
    let mut order: Vec<usize> = (0..len).collect();
    Rng::derive(seed, &[ORDER, epoch as u64]).shuffle(&mut order);
    order[g % len]
}

/// A batch ready for the network: `n` samples of `size × size`, stacked.
pub struct Batch {
    /// Micro-batch number.
    pub micro_step: usize,
    /// `[n, 3, s, s]` values.
    pub images: Vec<f32>,
    /// Targets, each `[n, 1, s, s]`: shrink map, its mask, threshold map, its mask.
    pub targets: [Vec<f32>; 4],
    /// Samples in the batch.
    pub n: usize,
    /// Canvas side.
    pub size: usize,
}

/// Everything a worker needs to make samples.
#[derive(Clone)]
pub struct SampleMaker {
    /// The data.
    pub dataset: Arc<Dataset>,
    /// Augmentation.
    pub augment: AugmentConfig,
    /// Targets.
    pub targets: DbTargetConfig,
    /// Normalisation (as at inference).
    pub norm: PreprocessConfig,
    /// Run seed.
    pub seed: u64,
}

impl SampleMaker {
    /// Sample at position `g` of the run.
    pub fn make(&self, g: usize) -> Result<TrainSample, Error> {
        let idx = sample_index(self.seed, self.dataset.len(), g);
        let (img, labels, _) = self.dataset.get(idx)?;
        let mut rng = Rng::derive(self.seed, &[AUG, g as u64]);
        Ok(augment(
            &img,
            &labels,
            &self.augment,
            &self.targets,
            &self.norm,
            &mut rng,
        ))
    }

    /// Micro-batch `m` of `batch` samples.
    pub fn batch(&self, m: usize, batch: usize) -> Result<Batch, Error> {
        let samples: Vec<TrainSample> = (m * batch..(m + 1) * batch)
            .into_par_iter()
            .map(|g| self.make(g))
            .collect::<Result<_, _>>()?;
        let size = self.augment.crop_size as usize;
        let mut images = Vec::with_capacity(batch * 3 * size * size);
        let mut targets: [Vec<f32>; 4] =
            std::array::from_fn(|_| Vec::with_capacity(batch * size * size));
        for s in samples {
            images.extend_from_slice(&s.image);
            targets[0].extend_from_slice(&s.gt);
            targets[1].extend_from_slice(&s.mask);
            targets[2].extend_from_slice(&s.thresh_map);
            targets[3].extend_from_slice(&s.thresh_mask);
        }
        Ok(Batch {
            micro_step: m,
            images,
            targets,
            n: batch,
            size,
        })
    }

    /// Starts a worker thread making micro-batches `from..to` in order, `prefetch` ahead.
    pub fn spawn(
        self,
        from: usize,
        to: usize,
        batch: usize,
        prefetch: usize,
    ) -> Receiver<Result<Batch, Error>> {
        spawn_loader(from..to, prefetch, move |m| self.batch(m, batch))
    }
}

/// Starts a worker thread calling `make(m)` for `m` in `range`, in order, at most `prefetch`
/// results ahead of the receiver; it stops after the first error or when the receiver is
/// dropped.
pub fn spawn_loader<B: Send + 'static>(
    range: std::ops::Range<usize>,
    prefetch: usize,
    make: impl Fn(usize) -> Result<B, Error> + Send + 'static,
) -> Receiver<Result<B, Error>> {
    let (tx, rx) = sync_channel(prefetch.max(1));
    std::thread::Builder::new()
        .name("fusedet-loader".into())
        .spawn(move || {
            for m in range {
                let b = make(m);
                let failed = b.is_err();
                if tx.send(b).is_err() || failed {
                    return;
                }
            }
        })
        .expect("spawning the data loader thread");
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maker(seed: u64) -> SampleMaker {
        SampleMaker {
            dataset: Arc::new(Dataset::Synth(
                Arc::new(Synth::new(SynthConfig {
                    width: 96,
                    height: 96,
                    ..SynthConfig::default()
                })),
                10,
            )),
            augment: AugmentConfig {
                crop_size: 64,
                ..AugmentConfig::default()
            },
            targets: DbTargetConfig::default(),
            norm: PreprocessConfig::default(),
            seed,
        }
    }

    #[test]
    fn epochs_visit_every_image_once_in_a_seeded_order() {
        let first: Vec<usize> = (0..10).map(|g| sample_index(3, 10, g)).collect();
        let second: Vec<usize> = (10..20).map(|g| sample_index(3, 10, g)).collect();
        for e in [&first, &second] {
            let mut s = e.clone();
            s.sort_unstable();
            assert_eq!(s, (0..10).collect::<Vec<_>>());
        }
        assert_ne!(first, second);
        assert_eq!(
            first,
            (0..10).map(|g| sample_index(3, 10, g)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn loader_batches_equal_direct_batches_from_any_start() {
        let m = maker(5);
        let rx = m.clone().spawn(2, 5, 2, 2);
        let got: Vec<Batch> = rx.iter().map(|b| b.unwrap()).collect();
        assert_eq!(got.len(), 3);
        for b in &got {
            let direct = maker(5).batch(b.micro_step, 2).unwrap();
            assert_eq!(b.images, direct.images);
            assert_eq!(b.targets, direct.targets);
            assert_eq!(b.images.len(), 2 * 3 * 64 * 64);
        }
        assert_ne!(maker(6).batch(2, 2).unwrap().images, got[0].images);
    }
}
