//! The splitter: same entries and notes for any read sizes, entries are the input's bytes at
//! their offsets, oversized entries are never buffered (see `gardener_devtools::fuzzing::split`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gardener_devtools::fuzzing::split(data));
