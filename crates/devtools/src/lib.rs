//! Log Gardener's dev tooling, kept out of the product library ([`gardener_core`]):
//!
//! - [`generator`]: synthetic Cloud Logging data with known ground truth (`gardener gen`);
//! - [`bench`]: the benchmark driver and the one-core parse-only floor (`gardener bench`);
//! - [`eval`]: grouping accuracy on the Loghub sets (the `loghub-eval` binary);
//! - [`fuzzing`]: the entry points of the fuzz targets in `fuzz/`.

pub mod bench;
pub mod eval;
pub mod fuzzing;
pub mod generator;
