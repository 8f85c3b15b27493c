//! Post-processing of detector outputs.

pub mod db;
pub mod textboxes;
pub mod yolo;

pub use db::{BoxType, DbPostProcess, Detection, ScoreMode};
pub use yolo::YoloPostProcess;
