//! Fuzzes `flowform::flow::parse` on error envelope answers; the properties checked are in
//! `flowform::flow::fuzzing::error_envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowform::flow::fuzzing::error_envelope(data));
