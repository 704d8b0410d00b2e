//! The end-to-end tests, in one test crate: the library and the `gardener` binary are linked
//! once, not once per file. Each module covers one area and runs the real binary
//! (`CARGO_BIN_EXE_gardener`); `common` has the helpers (every run killed after a time limit),
//! `fake_github` a local stand-in of GitHub's REST API.
//!
//! `cargo test --test it` runs them all; `cargo test --test it hostile::` one area.

mod common;
mod fake_github;

mod backfill;
mod github;
mod hostile;
mod loghub;
mod merge;
mod problems;
mod properties;
mod related;
mod run;
mod scaleout;
mod trends;
mod watch;
