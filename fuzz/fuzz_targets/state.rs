//! Fuzzes flowform's reader of a local input; the properties checked are in
//! `flowform::fuzzing::state`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowform::fuzzing::state(data));
