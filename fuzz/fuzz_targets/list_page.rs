//! Fuzzes `flowform::flow::parse` on list page answers; the properties checked are in
//! `flowform::flow::fuzzing::list_page`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowform::flow::fuzzing::list_page(data));
