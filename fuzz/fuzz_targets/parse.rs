//! The parser: any bytes, as one entry and as a whole input, give a record or a bad entry with a
//! reason; read = processed + bad; the hand-written reader and serde_json agree (see
//! `gardener_devtools::fuzzing::parse`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gardener_devtools::fuzzing::parse(data));
