//! The binary's command line: the flags (`args`) and the handlers of the library commands
//! (`library`: gallery and references). Scans, merges and reports are handled in `main.rs`.

pub(crate) mod args;
pub(crate) mod library;
