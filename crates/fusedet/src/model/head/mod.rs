//! Detection heads: each owns its outputs, its loss and its post-processor.

pub mod db;

pub use db::{DbBranch, DbBranchConfig, DbHead, DbMaps};
