//! Fuzz target: `clearshot::fuzzing::gallery` (the harness and what it covers are documented there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clearshot::fuzzing::gallery(data));
