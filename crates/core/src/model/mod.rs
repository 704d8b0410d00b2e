//! The plain typed data that flows between the stages: entries and records
//! ([`record`]), times and durations ([`time`]), what each stage measured ([`stats`]), and what a run is asked to do ([`run`]).

pub mod id;
pub mod json_text;
pub mod latency;
pub mod memory;
pub mod record;
pub mod run;
pub mod stats;
pub mod text;
pub mod time;
