//! Per-second and per-bucket counts not yet added to a cluster's maps.
//!
//! Entries come roughly in time order, so most of a cluster's entries fall in the same second,
//! and nearly all in the same bucket, as its entry before. A [`Tally`] counts those without a
//! search of the cluster's `BTreeMap`s, which waited on memory for most entries (5% of a run's
//! CPU over 1M entries with 3,000 clusters); an entry under another key adds the count so far
//! to the map and starts anew. The shard settles every tally before anything reads or cuts the
//! maps: pruning, folding, evicting, a snapshot and the end (see `Shard::settle`).

use std::collections::BTreeMap;

use crate::model::record::Cluster;
use crate::stages::fingerprint::IdMap;

/// Entries counted under one key and not yet in the map: `(key, entries)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending(Option<(i64, u64)>);

impl Pending {
    /// Counts one entry under `key`; a count under another key goes into `map` first.
    pub fn add(&mut self, key: i64, map: &mut BTreeMap<i64, u64>) {
        match &mut self.0 {
            Some((k, n)) if *k == key => *n += 1,
            slot => {
                if let Some((k, n)) = slot.replace((key, 1)) {
                    *map.entry(k).or_insert(0) += n;
                }
            }
        }
    }

    /// Adds the pending count to `map`.
    pub fn settle(&mut self, map: &mut BTreeMap<i64, u64>) {
        if let Some((k, n)) = self.0.take() {
            *map.entry(k).or_insert(0) += n;
        }
    }
}

/// A cluster's pending counts: per second (`Cluster::per_second`) and per bucket
/// (`Cluster::series`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub second: Pending,
    pub bucket: Pending,
}

/// Adds every pending count to its cluster and empties `tallies`.
pub fn settle(tallies: &mut IdMap<Tally>, clusters: &mut IdMap<Cluster>) {
    for (id, mut t) in tallies.drain() {
        let Some(c) = clusters.get_mut(&id) else {
            debug_assert!(
                false,
                "a tally for cluster {id:x}, which the shard no longer has"
            );
            continue;
        };
        t.second.settle(&mut c.per_second);
        t.bucket.settle(&mut c.series);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the order of keys, the map ends as counting each entry into it would leave it.
    #[test]
    fn pending_counts_end_in_the_map_as_direct_counts_would() {
        let keys = [5, 5, 5, 4, 4, 5, 9, 9, 9, 9, 1, 5, 5];
        let mut direct = BTreeMap::new();
        for k in keys {
            *direct.entry(k).or_insert(0u64) += 1;
        }
        let (mut map, mut p) = (BTreeMap::new(), Pending::default());
        for (i, k) in keys.into_iter().enumerate() {
            p.add(k, &mut map);
            if i == 6 {
                // Settling midway (a prune) changes nothing either.
                p.settle(&mut map);
            }
        }
        assert_ne!(map, direct, "the last run of keys is still pending");
        p.settle(&mut map);
        assert_eq!(map, direct);
        assert_eq!(p, Pending::default());
    }
}
