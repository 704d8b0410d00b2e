//! What is written to the terminal: warnings on standard error, and [`progress`] while reading
//! and finishing.

pub mod progress;

/// Writes a line to standard error. Unlike `eprintln!`, never panics when standard error is
/// closed (`gardener run 2>&1 | head`).
pub fn warn(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "gardener: {msg}");
}
