//! clearshot: offline scanning of media for talent likeness and third-party IP risk.
//!
//! Data flows one way: `media` (decode, shots, sampling) -> `detect` (faces) -> `align` ->
//! `embed` -> `matching` (against the `gallery`) -> `track` (per shot) -> `policy` ->
//! `report`. `scan` wires the stages together with bounded channels; `main.rs` is a thin
//! CLI over this library.

pub mod align;
pub mod approvals;
pub mod batch;
pub mod detect;
pub mod embed;
pub mod enroll;
pub mod eval;
pub mod evidence;
pub mod fuzzing;
pub mod gallery;
pub mod ipmatch;
pub mod matching;
pub mod media;
pub mod models;
pub mod paths;
pub mod policy;
pub mod report;
pub mod runtime;
pub mod scan;
pub mod shots;
pub mod timecode;
pub mod track;
pub mod verify;
