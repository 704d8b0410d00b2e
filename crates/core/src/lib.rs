//! Log Gardener: turns Google Cloud Logging output into a short, prioritized worklog.
//!
//! The pipeline is `source → parse → fingerprint → aggregate → report → sink`, one module
//! per stage under [`stages`], started and joined by [`topology`] from [`config`]. [`model`]
//! holds the plain data that flows between stages; [`state`] is what one run keeps for the next.
//!
//! Dev tooling (the test-data generator, benchmarks, the Loghub evaluation) lives apart, in the
//! `gardener-devtools` crate.

pub mod config;
pub mod console;
pub mod model;
pub mod stages;
pub mod state;
pub mod topology;

/// Process exit codes (documented in `gardener run --help` and the README).
pub mod exit {
    /// Everything was read and every sink was written.
    pub const OK: i32 = 0;
    /// A sink failed (disk full, unwritable path); the other sinks were still written.
    pub const SINK_FAILED: i32 = 1;
    /// Bad command line or configuration.
    pub const BAD_CONFIG: i32 = 2;
    /// The input could not be read (missing file, gcloud failed or missing).
    pub const BAD_INPUT: i32 = 3;
    /// Interrupted by Ctrl-C or SIGTERM: the report was written and marked partial.
    pub const INTERRUPTED: i32 = 130;
    /// `--strict` and some entries were skipped as bad.
    pub const SKIPPED_STRICT: i32 = 4;
    /// Another run held the state's lock for longer than `state.lock_wait`.
    pub const LOCKED: i32 = 5;
}
