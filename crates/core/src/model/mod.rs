//! The plain typed data that flows between the stages: entries and records
//! ([`record`]), times and durations ([`time`]), and what each stage measured ([`stats`]).

pub mod record;
pub mod stats;
pub mod time;
