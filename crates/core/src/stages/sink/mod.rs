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

/// Writes a whole output at once: `write` fills it, and readers of `path` see the old file or
/// the new one, never half of one. A regular file (or a new one) is written to a temporary file
/// beside it and renamed over it (`sync`: synced first, for files a restart reads back); a
/// symbolic link is followed; standard output (`-`), devices and FIFOs are written in place.
pub fn replace(
    path: &str,
    sync: bool,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let target = std::path::Path::new(path);
    let in_place = path == "-"
        || std::fs::metadata(target).is_ok_and(|m| !m.is_file())
        || std::fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink())
            && std::fs::canonicalize(target).is_err();
    if in_place {
        let mut w = open(path)?;
        write(&mut w)?;
        return w.flush();
    }
    let target = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &target)?;
        if sync && let Ok(d) = std::fs::File::open(dir) {
            // The rename itself survives a crash only once the directory is synced.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
