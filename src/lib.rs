//! clearshot: offline scanning of media for talent likeness and third-party IP risk.
//!
//! Data flows one way: `media` (decode, shots, sampling) -> `detect` (faces) -> `align` ->
//! `embed` -> `matching` (against the `gallery`) -> `track` (per shot) -> `policy` ->
//! `report`. `pipeline` wires the stages together with bounded channels; `main.rs` is a thin CLI.

pub mod timecode;
pub mod media;
pub mod shots;
