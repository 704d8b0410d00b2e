//! The masker: any text gives a template and a stable id, the same every time (see
//! `gardener_devtools::fuzzing::mask`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gardener_devtools::fuzzing::mask(data));
