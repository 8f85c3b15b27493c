//! Post-processing of detector outputs.

pub mod db;

pub use db::{BoxType, DbPostProcess, Detection, ScoreMode};
