//! One writer per state: an advisory lock on each directory a run writes its state to (the
//! state store's, the GitHub sink's). Two runs sharing a state would otherwise lose one run's
//! update, or both file the same issue.
//!
//! The lock is the operating system's advisory lock on `<dir>/lock` (`flock` on Unix),
//! released when the process ends, however it ends: a crashed run never leaves a stale lock.
//! The file's text (process id, start time) is only for the message the next run prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    pub path: PathBuf,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another run holds it longer than we wait.
    Held(String),
    /// The lock file cannot be made (unwritable directory).
    Io(String),
}

/// Takes the lock of `dir` (made when missing), waiting up to `wait` for another run to
/// release it; says once on stderr that it waits, and for whom.
pub fn acquire(dir: &Path, wait: Duration) -> Result<DirLock, LockError> {
    let path = dir.join("lock");
    let io = |e: std::io::Error| {
        LockError::Io(format!(
            "cannot make the lock file {}: {e} (use --state DIR for another directory, or --state none)",
            path.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let started = Instant::now();
    let mut said = false;
    loop {
        match try_lock(&file) {
            Ok(true) => break,
            Ok(false) => {
                let holder = holder(&mut file);
                if started.elapsed() >= wait {
                    return Err(LockError::Held(format!(
                        "another gardener run ({holder}) holds {} and did not finish within state.lock_wait ({}s); wait for it, or give this run its own --state and sinks.github.state_file",
                        path.display(),
                        wait.as_secs()
                    )));
                }
                if !said {
                    let _ = writeln!(
                        std::io::stderr(),
                        "gardener: waiting for another gardener run ({holder}) that holds {} (up to state.lock_wait, {}s)",
                        path.display(),
                        wait.as_secs()
                    );
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(io(e)),
        }
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(
        file,
        "pid {} since {}",
        std::process::id(),
        crate::model::time::format_rfc3339(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64)
        )
    );
    Ok(DirLock { _file: file, path })
}

/// `flock(LOCK_EX | LOCK_NB)`: `false` when another open file holds it. (`File::try_lock`
/// does the same from Rust 1.89, above this crate's minimum.)
fn try_lock(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a file descriptor this `File` owns and keeps open.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// What the holder wrote into the lock file.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.take(200).read_to_string(&mut text);
    let t = text.trim();
    if t.is_empty() {
        "process unknown".into()
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_then_gives_up_with_the_holder_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), Duration::ZERO).unwrap();
        // flock locks belong to the open file: a second open in this process contends.
        let err = acquire(dir.path(), Duration::from_millis(250)).unwrap_err();
        match err {
            LockError::Held(m) => {
                assert!(m.contains(&format!("pid {}", std::process::id())), "{m}");
                assert!(m.contains("state.lock_wait"), "{m}");
            }
            e => panic!("{e:?}"),
        }
        drop(first);
        acquire(dir.path(), Duration::ZERO).unwrap();
    }
}
