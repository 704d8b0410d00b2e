//! The parser: any bytes, as one entry and as a whole input, give a record or a bad entry with a
//! reason; read = processed + bad (see `log_gardener::fuzzing::parse`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| log_gardener::fuzzing::parse(data));
