//! Error types, one per boundary, under one [`Error`].

use std::path::{Path, PathBuf};

/// Any fusedet error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or decoding an image.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Importing pretrained weights.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Finding, fetching or verifying a pretrained model.
    #[error(transparent)]
    Zoo(#[from] ZooError),
    /// Reading or writing annotations.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A recipe or a setting that is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Saving or loading a checkpoint or a run directory.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Training could not go on.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Reading a Darknet `.cfg` / `.weights` model.
    #[error(transparent)]
    Darknet(#[from] DarknetError),
    /// COCO evaluation inputs that do not fit together.
    #[error(transparent)]
    CocoEval(#[from] CocoEvalError),
    /// Inputs that do not fit together (e.g. one batch of images of different sizes).
    #[error("invalid input: {0}")]
    Input(String),
    /// Reading or writing a file (outputs, reports).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A recipe or setting that is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The recipe.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not fit the schema (an unknown key, a wrong type, a key
    /// that does not apply to the chosen architecture); the message names the key and line.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The recipe.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value is out of range or does not fit the others.
    #[error("{}`{key}` {reason}", in_file(path.as_deref()))]
    Invalid {
        /// The recipe, when known.
        path: Option<PathBuf>,
        /// The key, dotted (`model.neck.channels`).
        key: String,
        /// What is wrong.
        reason: String,
    },
}

fn in_file(path: Option<&Path>) -> String {
    path.map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

impl ConfigError {
    /// A bad value of `key`.
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path: None,
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The same error, naming the recipe file.
    pub fn in_file(self, file: &Path) -> Self {
        match self {
            Self::Invalid { key, reason, .. } => Self::Invalid {
                path: Some(file.to_path_buf()),
                key,
                reason,
            },
            other => other,
        }
    }
}

/// A checkpoint or run directory that could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Burn could not encode or decode the record, or it does not fit the model.
    #[error("{path}: {reason}")]
    Record {
        /// The file.
        path: PathBuf,
        /// What Burn said.
        reason: String,
    },
    /// A file does not match its checksum, or cannot be verified.
    #[error("{path}: corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The directory is not a run directory, or holds no weights.
    #[error("{path}: {reason}")]
    Layout {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
}

/// Training that could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The loss became NaN or infinite.
    #[error("the loss is not finite at step {step} ({loss}); lower optim.lr or check the data")]
    NonFinite {
        /// The optimizer step.
        step: usize,
        /// The loss.
        loss: f64,
    },
    /// The data loader thread stopped.
    #[error("the data loader stopped: {0}")]
    Loader(String),
    /// The run directory belongs to another recipe or cannot be resumed.
    #[error("{path}: {reason}")]
    Resume {
        /// The run directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A device name that this build cannot use.
    #[error("device `{name}`: {reason}")]
    Device {
        /// The name given.
        name: String,
        /// Why.
        reason: String,
    },
    /// Reading a tensor back from the device failed.
    #[error("reading a tensor from the device: {0}")]
    Readback(String),
    /// The training or validation data has problems (checked before the first step).
    #[error(
        "{} in the training data (nothing was trained; `data.skip_bad = true` in the recipe \
         trains without the images concerned):\n  {}{}",
        problems_count(*count),
        listed.join("\n  "),
        more(*count, listed.len())
    )]
    BadData {
        /// Problems found.
        count: usize,
        /// The first of them, `FILE:LINE: problem` or `IMAGE: problem`.
        listed: Vec<String>,
    },
}

fn problems_count(n: usize) -> String {
    if n == 1 {
        "1 problem".into()
    } else {
        format!("{n} problems")
    }
}

fn more(count: usize, listed: usize) -> String {
    if count > listed {
        format!("\n  ... and {} more", count - listed)
    } else {
        String::new()
    }
}

/// An image that could not be read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read image: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not an image of a supported format, or are truncated.
    #[error("{path}: cannot decode image: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The image is empty.
    #[error("{path}: {reason}")]
    Size {
        /// The file.
        path: PathBuf,
        /// Why the size is refused.
        reason: String,
    },
    /// The header claims more pixels than the limit (`LoadOptions::max_pixels`); nothing was
    /// decoded.
    #[error(
        "{path}: image is {width}x{height} = {} pixels, more than the limit of {limit}",
        width * height
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Width from the header.
        width: u64,
        /// Height from the header.
        height: u64,
        /// The limit in force.
        limit: u64,
    },
}

/// Weights that could not be imported into a fusedet module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}: cannot read model: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid ONNX protobuf.
    #[error("{path}: not an ONNX model: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// Named weights (SafeTensors / PyTorch) that could not be loaded.
    #[error("{path}: {reason}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The graph's tensors do not fit the module being loaded.
    #[error("{path}: node `{node}` does not fit {module}: {reason}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The ONNX node that was being matched (or `<end of graph>`).
        node: String,
        /// The fusedet module expecting it.
        module: String,
        /// What differs.
        reason: String,
    },
}

/// A pretrained model that could not be found, fetched or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZooError {
    /// No model of that name.
    #[error("unknown model `{name}` (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names fusedet knows.
        known: String,
    },
    /// The model is not in the cache.
    #[error(
        "model `{name}` is not downloaded ({path} is missing); run `fusedet models fetch {name}`"
    )]
    Missing {
        /// The model.
        name: String,
        /// Where it was expected.
        path: PathBuf,
    },
    /// The file's SHA-256 is not the pinned one.
    #[error("{path}: SHA-256 mismatch: expected {expected}, got {actual}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// Fetching failed.
    #[error("fetching `{name}`: {reason}")]
    Fetch {
        /// The model.
        name: String,
        /// What went wrong.
        reason: String,
    },
}

/// An annotation that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// The file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line does not follow the format.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The dataset as a whole is unusable (no images, a label without its image, ...).
    #[error("{path}: {reason}")]
    Layout {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl DatasetError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn parse(path: &Path, line: usize, reason: impl Into<String>) -> Self {
        Self::Parse {
            path: path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}

/// A detection set that pycocotools would refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CocoEvalError {
    /// A detection names an image that is not in the ground truth.
    #[error("detection {index}: image_id {image_id} is not an image of the ground truth")]
    UnknownImage {
        /// Index of the detection in the input.
        index: usize,
        /// Its image id.
        image_id: i64,
    },
    /// The model's classes cannot be paired with the ground truth's categories.
    #[error("{0}")]
    CategoryMapping(String),
    /// A detector's output that cannot become a COCO result.
    #[error("image_id {image_id}, detection {index}: {reason}")]
    BadDetection {
        /// The image.
        image_id: i64,
        /// Index of the detection in the image's list.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// An unusable cfg or weights file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DarknetError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A cfg line or section is wrong.
    #[error("{path}:{line}: {reason}")]
    Cfg {
        /// The cfg file.
        path: PathBuf,
        /// 1-based line (of the section header for section-level problems).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The weights file does not fit the network.
    #[error(
        "{path}: {expected} floats expected after the {header}-byte header for the network, \
         {found} found{detail}"
    )]
    WeightsSize {
        /// The weights file.
        path: PathBuf,
        /// Header size in bytes.
        header: usize,
        /// f32 values the cfg needs.
        expected: usize,
        /// f32 values in the file (whole ones).
        found: usize,
        /// Where it ran out, if it did.
        detail: String,
    },
    /// The weights header is incomplete.
    #[error("{path}: weights header truncated ({len} bytes)")]
    WeightsHeader {
        /// The weights file.
        path: PathBuf,
        /// File length.
        len: usize,
    },
    /// A class-names file that does not fit the network.
    #[error("{path}: {reason}")]
    Names {
        /// The names file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A model file that is missing beside the one given.
    #[error("{path}: {reason}")]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// What it is and where it was looked for.
        reason: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
