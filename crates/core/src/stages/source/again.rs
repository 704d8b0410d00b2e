//! Entries `gcloud beta logging tail` prints again after a restart: a new session may start
//! with entries the last one already printed. Cloud Logging treats entries with the same
//! insertId and timestamp as one, so a tailing source drops an entry whose pair it has seen
//! among the last [`REMEMBERED`] entries, and says how many it dropped.
//!
//! The pair is read without parsing: gcloud's `--format=json` prints each entry's keys sorted,
//! one per line, indented by four spaces (the entry by two), so the top-level `"insertId"` and
//! `"timestamp"` lines are found by their indentation; nested keys are indented deeper. An
//! entry without an insertId is always kept.

use std::collections::{HashSet, VecDeque};

use memchr::memmem;

use super::Found;
use crate::model::record::Flaw;

/// Entries remembered: many times what a session prints in the seconds a restart takes.
pub const REMEMBERED: usize = 100_000;

/// The (insertId, timestamp) keys of the last entries read.
#[derive(Default)]
pub struct Again {
    keys: HashSet<u64>,
    order: VecDeque<u64>,
    /// Entries dropped as printed again.
    pub dropped: u64,
}

impl Again {
    /// Drops from `found[from..]` (entries in `buf`) those seen before.
    pub fn drop_repeats(&mut self, buf: &[u8], found: &mut Vec<Found>, from: usize) {
        let mut i = from;
        while i < found.len() {
            let f = &found[i];
            let key = match f.flaw {
                Flaw::None => buf.get(f.start..f.end).and_then(key_of),
                _ => None,
            };
            match key {
                Some(k) if !self.admit(k) => {
                    found.remove(i);
                    self.dropped += 1;
                }
                _ => i += 1,
            }
        }
    }

    /// Whether `key` is new (it is then remembered).
    fn admit(&mut self, key: u64) -> bool {
        if !self.keys.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.keys.remove(&old);
        }
        true
    }
}

/// The key of a gcloud-printed entry: its top-level insertId with its timestamp.
fn key_of(entry: &[u8]) -> Option<u64> {
    let id = value_of(entry, b"\n    \"insertId\": \"")?;
    let ts = value_of(entry, b"\n    \"timestamp\": \"").unwrap_or_default();
    Some(crate::state::seen::entry_key(
        id,
        id,
        xxhash_rust::xxh3::xxh3_64(ts) as i64,
    ))
}

/// The string after `lead` up to its closing quote (gcloud escapes quotes inside).
fn value_of<'a>(entry: &'a [u8], lead: &[u8]) -> Option<&'a [u8]> {
    let at = memmem::find(entry, lead)? + lead.len();
    let rest = &entry[at..];
    let mut end = 0;
    while end < rest.len() {
        match rest[end] {
            b'\\' => end += 2,
            b'"' => return Some(&rest[..end]),
            b'\n' => return None,
            _ => end += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, ts: &str, nested_id: &str) -> String {
        format!(
            "{{\n    \"insertId\": \"{id}\",\n    \"jsonPayload\": {{\n      \"insertId\": \"{nested_id}\"\n    }},\n    \"timestamp\": \"{ts}\"\n  }}"
        )
    }

    fn found_in(buf: &str) -> Vec<Found> {
        let mut out = Vec::new();
        let mut at = 0;
        for part in buf.split('|') {
            out.push(Found {
                start: at,
                end: at + part.len(),
                offset: at as u64,
                flaw: Flaw::None,
            });
            at += part.len() + 1;
        }
        out
    }

    #[test]
    fn an_entry_printed_again_is_dropped_once_seen() {
        let a = entry("a1", "2025-09-14T04:00:00Z", "x");
        let b = entry("b2", "2025-09-14T04:00:01Z", "x");
        let a_later = entry("a1", "2025-09-14T04:00:02Z", "x");
        let nested_only = "{\n    \"jsonPayload\": {\n      \"insertId\": \"a1\"\n    }\n  }";
        let buf = [
            a.as_str(),
            b.as_str(),
            a.as_str(),
            a_later.as_str(),
            nested_only,
            nested_only,
        ]
        .join("|");
        let mut found = found_in(&buf);
        let mut again = Again::default();
        again.drop_repeats(buf.as_bytes(), &mut found, 0);
        // The second a1 with the same timestamp goes; a1 at another time is another entry; an
        // entry without a top-level insertId is always kept.
        assert_eq!(found.len(), 5);
        assert_eq!(again.dropped, 1);
        // Entries before `from` were checked already.
        again.drop_repeats(buf.as_bytes(), &mut found, 5);
        assert_eq!(found.len(), 5);
        assert_eq!(
            value_of(br#"  "insertId": "q\"x" "#, b"\"insertId\": \""),
            Some(&br#"q\"x"#[..])
        );
    }

    #[test]
    fn the_memory_is_bounded() {
        let mut again = Again::default();
        for k in 0..(REMEMBERED as u64 + 10) {
            assert!(again.admit(k));
        }
        assert_eq!(again.keys.len(), REMEMBERED);
        assert!(again.admit(0), "the oldest keys are forgotten");
        assert!(!again.admit(REMEMBERED as u64 + 9));
    }
}
