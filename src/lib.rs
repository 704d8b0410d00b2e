//! Log Gardener: turns Google Cloud Logging output into a short, prioritized worklog.
//!
//! The pipeline is `source → parse → fingerprint → aggregate → prioritize → sink`, one module
//! per stage, wired by [`pipeline`] from [`config`]. [`record`] holds the types that flow
//! between stages.

pub mod aggregate;
pub mod bench;
pub mod config;
pub mod correlate;
pub mod epoch;
pub mod eval;
pub mod fingerprint;
pub mod fuzzing;
pub mod generator;
pub mod lock;
pub mod merge;
pub mod parse;
pub mod pipeline;
pub mod prioritize;
pub mod progress;
pub mod record;
pub mod redact;
pub mod related;
pub mod shard;
pub mod sink;
pub mod source;
pub mod state;
pub mod stats;
pub mod time;
pub mod trend;
pub mod watch;

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
