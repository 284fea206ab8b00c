//! The binary's command line: the flags (`args`) and the handlers that turn them into
//! library calls: `runs` (scan, inspect, merge, verify), `library` (gallery and references)
//! and `evals` (the evaluation commands). `main.rs` only dispatches.

pub(crate) mod args;
pub(crate) mod evals;
pub(crate) mod library;
pub(crate) mod runs;
