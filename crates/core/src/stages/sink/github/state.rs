//! The local state file: per repository, problem id (or, in files from before problems, a
//! cluster fingerprint) → the issue filed for it and what was last reported there (priority,
//! count, newest entry, member clusters). It lets a run know its issues without
//! searching and tell new evidence from evidence already reported. It is a cache, not the truth:
//! when it is lost, issues are found again by their label and hidden marker.
//!
//! Written atomically (temporary file in the same directory, then rename), so a crash or a
//! full disk leaves the previous state intact.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What was last reported for one cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Entry {
    /// The issue number.
    pub issue: u64,
    /// The priority on the issue's label, `P0`..`P5`.
    pub priority: String,
    /// Entries in the run that last reported (created, commented).
    pub count: u64,
    /// Newest entry last reported (RFC 3339).
    pub last_seen: Option<String>,
    /// The problem's member clusters last reported (empty in files from before problems: the
    /// entry was for the one cluster it is keyed by).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
}

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct State {
    /// `OWNER/REPO` → fingerprint → entry.
    pub repos: BTreeMap<String, BTreeMap<String, Entry>>,
}

impl State {
    /// Reads the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<State, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => {
                return Err(format!(
                    "cannot read the GitHub state file {}: {e}",
                    path.display()
                ));
            }
        };
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "the GitHub state file {} is not valid ({e}); fix it or delete it (issues are found again by their label)",
                path.display()
            )
        })
    }

    /// Writes the state file atomically (see `sink::replace`): a temporary file in the same
    /// directory, buffered, synced, then renamed.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let shown = path.display().to_string();
        crate::stages::sink::replace(&shown, true, |w| {
            serde_json::to_writer_pretty(&mut *w, self)?;
            w.write_all(b"\n")
        })
        .map_err(|e| format!("cannot write the GitHub state file {shown}: {e}"))
    }

    /// The entries of one repository.
    pub fn repo(&mut self, repo: &str) -> &mut BTreeMap<String, Entry> {
        self.repos.entry(repo.to_string()).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert_eq!(State::load(&path).unwrap(), State::default());
        let mut s = State::default();
        s.repo("o/r").insert(
            "00000000000000ab".into(),
            Entry {
                issue: 7,
                priority: "P1".into(),
                count: 3,
                last_seen: Some("2025-09-14T04:00:00Z".into()),
                clusters: vec!["00000000000000ab".into()],
            },
        );
        s.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), s);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn corrupt_file_is_an_actionable_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = State::load(&path).unwrap_err();
        assert!(err.contains("delete it"), "{err}");
    }
}
