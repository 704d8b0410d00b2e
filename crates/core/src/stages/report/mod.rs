//! The report stage's steps, run on the shards' combined counts (see
//! [`crate::topology::pipeline::conclude`]): [`correlate`] groups clusters into problems,
//! [`related`] finds clusters that move together, [`trend`] compares windows and runs,
//! [`prioritize`] judges each problem P0..P5.

pub mod correlate;
pub mod prioritize;
pub mod related;
pub mod trend;
