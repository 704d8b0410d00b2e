//! The state's insertId memory: one key per entry counted, for the entries of the last
//! `state.overlap` before the newest one counted. Runs whose inputs overlap (an hourly run over
//! the last two days is the normal case) then count each entry once, even entries with equal
//! timestamps or in the same second as a cluster's high-water mark.
//!
//! An entry's key is xxh3 of its insertId seeded with its timestamp (Cloud Logging treats
//! entries with the same insertId and timestamp as one); an entry without an insertId is keyed
//! by its whole raw text instead. Entries older than the memory's start, and runs made before
//! the memory existed, fall back to the clusters' high-water marks (see
//! [`super::Store::new_entries`]).
//!
//! Stored in `state.json` as `seen_ids`: `since` (Unix ns), `entries`, and `keys`, the base64
//! of little-endian `(timestamp ns, key)` pairs in time order: 16 bytes an entry, so the
//! default cap of 1,000,000 entries is about 21 MB of state.

use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const PAIR: usize = 16;

/// The key of one entry: its insertId (else its raw text) hashed with its timestamp.
pub fn entry_key(insert_id: &[u8], raw: &[u8], timestamp: i64) -> u64 {
    let text = if insert_id.is_empty() { raw } else { insert_id };
    xxhash_rust::xxh3::xxh3_64_with_seed(text, timestamp as u64)
}

/// The remembered entries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeenIds {
    /// Every entry counted at or after this time (Unix ns) is remembered; `None`: no memory.
    pub since: Option<i64>,
    /// `(timestamp ns, key)`, sorted; shared with the aggregate's [`Lookup`] while a run reads.
    pub entries: Arc<Vec<(i64, u64)>>,
}

impl SeenIds {
    pub fn is_empty(&self) -> bool {
        self.since.is_none() && self.entries.is_empty()
    }

    /// What the aggregate stage looks entries up in: the same sorted list, shared.
    pub fn lookup(&self) -> Lookup {
        Lookup {
            since: self.since,
            entries: Arc::clone(&self.entries),
        }
    }

    /// Adds a complete run's entries (`run`, those within `overlap` of its newest) and keeps
    /// the last `overlap` (ns) before the newest entry remembered, at most `cap` entries (the
    /// oldest dropped first, whole timestamps at a time, the start moved past them).
    /// `run_oldest` is the run's oldest entry: without an earlier memory, older entries that
    /// earlier runs counted are not in it, so the memory cannot start before it.
    pub fn remember(
        &mut self,
        mut run: Vec<(i64, u64)>,
        run_oldest: Option<i64>,
        overlap: i64,
        cap: usize,
    ) {
        let had = self.since;
        // Not copied once the run's lookups have ended (a watch's shards still hold theirs).
        let entries = Arc::make_mut(&mut self.entries);
        entries.append(&mut run);
        // The stable sort, which finds runs already in order and merges them: the memory is
        // sorted and the run's pairs come cut (sorted) or in reading order (by time, newest
        // first from gcloud). A second run over 1M entries: combining the shards 96 -> 75 ms
        // with the same change in `cut_to_newest`.
        entries.sort();
        entries.dedup();
        let Some(newest) = entries.last().map(|e| e.0) else {
            return;
        };
        let mut since = newest.saturating_sub(overlap);
        match had {
            Some(old) => since = since.max(old),
            None => {
                if let Some(o) = run_oldest {
                    since = since.max(o);
                }
            }
        }
        if entries.len() > cap {
            let cut = entries[entries.len() - cap].0;
            // Entries at the cut's own timestamp may be partly dropped: start just after it.
            since = since.max(cut.saturating_add(1));
        }
        let keep = entries.partition_point(|e| e.0 < since);
        entries.drain(..keep);
        // The store lives as long as a watch: what the run's entries took is given back.
        entries.shrink_to_fit();
        self.since = Some(since);
    }

    /// Forgets everything (after `gardener merge`, which counts without insertIds).
    pub fn clear(&mut self) {
        *self = SeenIds::default();
    }
}

/// Keeps the entries of `seen` dated at or after its `cap + 1`-th newest distinct one (all of
/// them when there are no more). [`SeenIds::remember`] keeps only entries newer than the time
/// of the `cap`-th newest of everything it is given (all shards, earlier runs); a list cut here
/// still holds every entry of that time or newer, and more than `cap` entries, so what the
/// state keeps, and where its memory starts, are the same as without the cut.
pub fn cut_to_newest(seen: &mut Vec<(i64, u64)>, cap: usize) {
    if cap == 0 || seen.len() <= cap + 1 {
        return;
    }
    // Stable: the shards' lists are runs in reading order (see `SeenIds::remember`).
    seen.sort();
    seen.dedup();
    if seen.len() > cap + 1 {
        let cut = seen[seen.len() - cap - 1].0;
        let drop = seen.partition_point(|e| e.0 < cut);
        seen.drain(..drop);
    }
}

/// The memory as the aggregate looks entries up in it.
#[derive(Debug, Default)]
pub struct Lookup {
    pub since: Option<i64>,
    /// The store's sorted `(timestamp ns, key)` pairs.
    entries: Arc<Vec<(i64, u64)>>,
}

impl Lookup {
    /// `Some(true)` when an earlier run counted the entry, `Some(false)` when it is new, `None`
    /// when the memory cannot tell (the entry is older than its start, or there is none).
    /// `hint` is where the caller's previous lookup ended (see [`find_from`]).
    pub fn counted(&self, timestamp: i64, key: u64, hint: &mut usize) -> Option<bool> {
        match self.since {
            Some(s) if timestamp >= s => Some(find_from(&self.entries, (timestamp, key), hint)),
            _ => None,
        }
    }
}

/// Whether `sorted` holds `target`, searched outward from `hint` (then set to where the search
/// ended): a shard looks its entries up mostly in time order, so a search ends a few places
/// from the last, in memory the last one brought into the cache, where a hash set (or a
/// binary search) reads a place at random in a million entries. Steps double away from the
/// hint until they pass the target, then a binary search between the last two steps:
/// O(log distance).
pub fn find_from(sorted: &[(i64, u64)], target: (i64, u64), hint: &mut usize) -> bool {
    let n = sorted.len();
    if n == 0 {
        *hint = 0;
        return false;
    }
    let h = (*hint).min(n - 1);
    // The first place holding `target` or more lies in `lo..=hi`.
    let (lo, hi) = if sorted[h] < target {
        let (mut lo, mut step) = (h + 1, 1);
        loop {
            let probe = h + step;
            if probe >= n {
                break (lo, n);
            }
            if sorted[probe] >= target {
                break (lo, probe);
            }
            lo = probe + 1;
            step *= 2;
        }
    } else {
        let (mut hi, mut step) = (h, 1);
        loop {
            if step > h {
                break (0, hi);
            }
            let probe = h - step;
            if sorted[probe] < target {
                break (probe + 1, hi);
            }
            hi = probe;
            step *= 2;
        }
    };
    let at = lo + sorted[lo..hi].partition_point(|e| *e < target);
    *hint = at;
    sorted.get(at) == Some(&target)
}

/// `seen_ids` as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    since: Option<i64>,
    entries: usize,
    keys: String,
}

/// `seen_ids` as written: the same fields, `keys` encoded as it is written (see [`Keys`]).
#[derive(Serialize)]
struct Storing<'a> {
    since: Option<i64>,
    entries: usize,
    #[serde(serialize_with = "keys_text")]
    keys: Keys<'a>,
}

/// The base64 of the entries' little-endian `(timestamp, key)` pairs, written a chunk at a
/// time: the default cap of a million entries would otherwise be 16 MB of bytes and 21 MB of
/// text held at once while the state is saved.
struct Keys<'a>(&'a [(i64, u64)]);

/// Entries per chunk: 192 pairs are 3,072 bytes, a multiple of 3, so the chunks' encodings
/// join into the encoding of the whole (only the last can need padding).
const CHUNK: usize = 192;

impl std::fmt::Display for Keys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let engine = &base64::engine::general_purpose::STANDARD;
        let mut bytes = [0u8; CHUNK * PAIR];
        let mut text = [0u8; CHUNK * PAIR / 3 * 4];
        for chunk in self.0.chunks(CHUNK) {
            for (i, (t, k)) in chunk.iter().enumerate() {
                bytes[i * PAIR..i * PAIR + 8].copy_from_slice(&t.to_le_bytes());
                bytes[i * PAIR + 8..(i + 1) * PAIR].copy_from_slice(&k.to_le_bytes());
            }
            let n = engine
                .encode_slice(&bytes[..chunk.len() * PAIR], &mut text)
                .map_err(|_| std::fmt::Error)?;
            f.write_str(std::str::from_utf8(&text[..n]).map_err(|_| std::fmt::Error)?)?;
        }
        Ok(())
    }
}

fn keys_text<S: Serializer>(keys: &Keys<'_>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(keys)
}

impl Serialize for SeenIds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Storing {
            since: self.since,
            entries: self.entries.len(),
            keys: Keys(&self.entries),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SeenIds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SeenIds, D::Error> {
        use serde::de::Error;
        let stored = Stored::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(stored.keys.as_bytes())
            .map_err(|e| D::Error::custom(format!("seen_ids.keys: {e}")))?;
        if bytes.len() != stored.entries * PAIR {
            return Err(D::Error::custom(format!(
                "seen_ids.keys holds {} bytes, not {} entries of {PAIR}",
                bytes.len(),
                stored.entries
            )));
        }
        let entries = bytes
            .chunks_exact(PAIR)
            .map(|c| {
                let (t, k) = c.split_at(8);
                (
                    i64::from_le_bytes(t.try_into().expect("8 bytes")),
                    u64::from_le_bytes(k.try_into().expect("8 bytes")),
                )
            })
            .collect();
        let mut entries: Vec<(i64, u64)> = entries;
        // Written sorted; a file edited by hand is sorted again, or lookups would miss.
        if !entries.is_sorted() {
            entries.sort_unstable();
            entries.dedup();
        }
        Ok(SeenIds {
            since: stored.since,
            entries: Arc::new(entries),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_overlap_and_tells_counted_from_new() {
        let mut s = SeenIds::default();
        s.remember(vec![(10, 1), (20, 2), (30, 3)], Some(10), 15, 100);
        // Newest 30, overlap 15: from 15 on.
        assert_eq!(s.since, Some(15));
        assert_eq!(*s.entries, vec![(20, 2), (30, 3)]);
        let l = s.lookup();
        let mut hint = 0;
        assert_eq!(l.counted(20, 2, &mut hint), Some(true));
        assert_eq!(l.counted(30, 9, &mut hint), Some(false));
        assert_eq!(l.counted(14, 1, &mut hint), None);
        // A later run: the start never moves back.
        s.remember(vec![(30, 3), (31, 4)], Some(5), 100, 100);
        assert_eq!(s.since, Some(15));
        assert_eq!(*s.entries, vec![(20, 2), (30, 3), (31, 4)]);
    }

    #[test]
    fn a_first_memory_starts_at_the_run_and_the_cap_moves_the_start() {
        let mut s = SeenIds::default();
        s.remember(vec![(50, 1), (60, 2)], Some(50), 1000, 100);
        assert_eq!(s.since, Some(50));
        let mut s = SeenIds::default();
        s.remember(vec![(1, 1), (2, 2), (2, 3), (3, 4)], Some(1), 1000, 2);
        // The two newest are (2, 3) and (3, 4); (2, 2) would be lost: start after 2.
        assert_eq!(s.since, Some(3));
        assert_eq!(*s.entries, vec![(3, 4)]);
    }

    #[test]
    fn round_trips_through_json_and_refuses_a_cut_file() {
        let mut s = SeenIds::default();
        s.remember(vec![(-5, u64::MAX), (7, 0)], None, 100, 10);
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SeenIds>(&text).unwrap(), s);
        let cut = text.replace("\"entries\":2", "\"entries\":3");
        assert!(serde_json::from_str::<SeenIds>(&cut).is_err());
        assert_eq!(entry_key(b"", b"{}", 1), entry_key(b"{}", b"x", 1));
        assert_ne!(entry_key(b"a", b"", 1), entry_key(b"a", b"", 2));
    }

    /// The search from a hint finds what a binary search finds, wherever the hint is (before,
    /// at, after the target, past the end) and in any order of lookups; a file whose pairs are
    /// out of order is sorted when read.
    #[test]
    fn a_search_from_a_hint_agrees_with_a_binary_search() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in [0usize, 1, 2, 3, 7, 100, 1000] {
            let mut sorted: Vec<(i64, u64)> =
                (0..n).map(|_| ((next() % 50) as i64, next() % 4)).collect();
            sorted.sort_unstable();
            sorted.dedup();
            let mut hint = 0;
            for round in 0..2000 {
                let target = ((next() % 52) as i64 - 1, next() % 5);
                if round % 7 == 0 {
                    hint = (next() % (n as u64 + 3)) as usize;
                }
                let expected = sorted.binary_search(&target).is_ok();
                assert_eq!(
                    find_from(&sorted, target, &mut hint),
                    expected,
                    "{target:?}"
                );
                assert!(hint <= sorted.len());
                assert_eq!(hint, sorted.partition_point(|e| *e < target));
            }
        }
        let s = SeenIds {
            since: Some(1),
            entries: Arc::new(vec![(5, 1), (2, 9), (5, 1)]),
        };
        let back: SeenIds = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(*back.entries, vec![(2, 9), (5, 1)]);
        let mut hint = 0;
        assert_eq!(back.lookup().counted(2, 9, &mut hint), Some(true));
    }

    /// The keys are encoded a chunk at a time: the text is the one-shot base64 of all pairs,
    /// at and around the chunk boundaries (where only the last chunk may be padded).
    #[test]
    fn keys_written_in_chunks_are_the_base64_of_all_pairs() {
        for n in [0, 1, 2, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 2, 1000] {
            let entries: Vec<(i64, u64)> = (0..n as i64)
                .map(|i| {
                    (
                        i * 1_000_003 - 7,
                        (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    )
                })
                .collect();
            let mut bytes = Vec::new();
            for (t, k) in &entries {
                bytes.extend_from_slice(&t.to_le_bytes());
                bytes.extend_from_slice(&k.to_le_bytes());
            }
            let whole = base64::engine::general_purpose::STANDARD.encode(&bytes);
            assert_eq!(Keys(&entries).to_string(), whole, "{n} entries");
            let s = SeenIds {
                since: Some(1),
                entries: Arc::new(entries),
            };
            let text = serde_json::to_string(&s).unwrap();
            assert!(
                text.contains(&format!("\"keys\":\"{whole}\"")),
                "{n} entries"
            );
            assert_eq!(serde_json::from_str::<SeenIds>(&text).unwrap(), s);
        }
    }
}
