//! Fuzz target: `clearshot::fuzzing::sequence_names` (the harness and what it covers are documented there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clearshot::fuzzing::sequence_names(data));
