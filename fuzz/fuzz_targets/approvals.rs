//! Fuzz target: `clearshot::fuzzing::approvals` (the harness and what it covers are documented there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clearshot::fuzzing::approvals(data));
