//! Fuzzes `flowform::flow::parse` on connection spec answers; the properties checked are in
//! `flowform::flow::fuzzing::connection_spec`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowform::flow::fuzzing::connection_spec(data));
