//! The stages of the pipeline, in the order data flows through them:
//!
//! `source → parse → fingerprint → aggregate → report → sink`
//!
//! - [`source`] reads bytes (files, standard input, `gcloud`, Pub/Sub) and splits them into
//!   entries, in batches;
//! - [`parse`] turns each entry into a typed record;
//! - [`fingerprint`] masks the variable parts of each message into a cluster id;
//! - [`aggregate`] counts clusters in time buckets, one shard per share of the clusters;
//! - [`report`] combines the shards' counts into problems, trends and priorities (its steps:
//!   mining, correlation, trends, prioritizing), then [`redact`] cleans what is written;
//! - [`sink`] writes the worklog, the JSON report, the entries file and GitHub issues.
//!
//! [`worker`] is the runner the parallel stages (parse, fingerprint) share; [`halves`] splits
//! the end of a run's per-cluster steps over two threads. [`epoch`] is the control the streaming stages obey when `gardener watch` cuts an interval.
//! [`crate::topology`] starts the stages and joins them with bounded channels.

pub mod aggregate;
pub mod epoch;
pub mod fingerprint;
pub mod halves;
pub mod parse;
pub mod redact;
pub mod report;
pub mod sink;
pub mod source;
pub mod worker;
