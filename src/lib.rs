//! clearshot: offline scanning of media for talent likeness and third-party IP risk.
//!
//! Data flows one way: `batch` (plan, journal, workers) -> `media` (decode, shots, sampling)
//! -> `face` (detect, align, embed, match, track) and `references` (keypoints, proposals,
//! verify) -> `policy` -> `report`. `scan` wires the stages together with bounded channels; `main.rs` is a thin
//! CLI over this library.

pub mod alloc;
pub mod approvals;
pub mod batch;
pub mod enroll;
pub mod eval;
pub mod evidence;
pub mod face;
pub mod fuzzing;
pub mod gallery;
pub mod media;
pub mod models;
pub mod paths;
pub mod policy;
pub mod provenance;
pub mod references;
pub mod report;
pub mod runtime;
pub mod scan;
pub mod shots;
pub mod stages;
pub mod timecode;
pub mod unknown;
pub mod verify;
