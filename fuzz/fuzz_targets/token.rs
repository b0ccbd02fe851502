//! Fuzzes `flowform::flow::parse` on token answers; the properties checked are in
//! `flowform::flow::fuzzing::token`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowform::flow::fuzzing::token(data));
