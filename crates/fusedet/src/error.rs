//! Error types, one per boundary, under one [`Error`].

use std::path::PathBuf;

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
    Dataset(#[from] crate::data::DatasetError),
    /// Invalid settings.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Reading or writing a file (run directories, checkpoints).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
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
    /// The image is empty or too large to process.
    #[error("{path}: {reason}")]
    Size {
        /// The file.
        path: PathBuf,
        /// Why the size is refused.
        reason: String,
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

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
