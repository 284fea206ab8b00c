//! Faces, from pixels to identities: `detect` finds them on a frame, `align` warps each to the
//! embedder's template, `embed` turns the chip into a vector (`dim` readies a dim chip for
//! it), `matching` ranks the gallery for it, `track` links a shot's faces into tracks and
//! decides who each track is, and `cluster` groups the tracks nobody was identified in into
//! people across a batch.

pub mod align;
pub mod cluster;
pub mod detect;
pub mod dim;
pub mod embed;
pub mod matching;
pub mod pose;
pub mod track;
