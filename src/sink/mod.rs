//! The sinks: where results go. `report` writes the markdown worklog, `json` the JSON report,
//! `entries` one NDJSON line per entry (and the dead-letter file). Each runs as its own task and
//! knows nothing of the stages before it but the record types. `github` keeps GitHub issues in
//! step with the clusters.

pub mod entries;
pub mod github;
pub mod json;
pub mod report;
pub mod summary;

use std::io::Write;

/// Where a sink writes: a file path, or standard output for `-`.
pub fn open(path: &str) -> std::io::Result<Box<dyn Write + Send>> {
    if path == "-" {
        Ok(Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        )))
    } else {
        if let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(path)?,
        )))
    }
}

/// A sink failure, phrased for people.
#[derive(Debug)]
pub struct SinkError {
    pub sink: &'static str,
    pub path: String,
    pub error: std::io::Error,
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = if self.path == "-" {
            "standard output".to_string()
        } else {
            self.path.clone()
        };
        write!(
            f,
            "the {} sink could not write {target}: {}",
            self.sink, self.error
        )
    }
}

impl SinkError {
    /// A closed standard output (`gardener run | head`) is not an error worth reporting.
    pub fn is_closed_pipe(&self) -> bool {
        self.error.kind() == std::io::ErrorKind::BrokenPipe
    }
}
