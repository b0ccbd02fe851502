//! Fuzzes `flowform::flow::parse` on connection answers; the properties checked are in
//! `flowform::flow::fuzzing::connection`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowform::flow::fuzzing::connection(data));
