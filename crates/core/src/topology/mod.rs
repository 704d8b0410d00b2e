//! How the stages are started, joined and stopped: [`pipeline`] (one run to the end of the
//! input), [`watch`] (a report every interval over a stream that may never end), [`merge`]
//! (combining the mergeable sections of several runs), [`shard`] (one share of a scale-out).

pub mod merge;
pub mod pipeline;
pub mod shard;
pub mod watch;
