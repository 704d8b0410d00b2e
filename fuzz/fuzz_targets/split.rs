//! The splitter: same entries and notes for any read sizes, entries are the input's bytes at
//! their offsets, oversized entries are never buffered (see `log_gardener::fuzzing::split`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| log_gardener::fuzzing::split(data));
