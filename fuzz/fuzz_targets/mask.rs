//! The masker: any text gives a template and a stable id, the same every time (see
//! `log_gardener::fuzzing::mask`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| log_gardener::fuzzing::mask(data));
