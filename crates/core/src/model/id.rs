//! Cluster ids: the 64-bit hashes that name clusters, how users see them (16 hex digits), the
//! maps keyed by them, and the generalized templates remembered with them across runs.

use std::collections::{HashMap, HashSet};

/// A hasher for keys that already are uniform 64-bit hashes (fingerprints, xxh3 cache keys): the
/// key is its own hash, which saves SipHash on every lookup of the hot paths.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are expected; anything else still hashes (poorly) rather than panics.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    /// A 128-bit hash (the redaction memo's keys): its low half.
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// The aggregate shard (of `shards`) that counts the cluster `id`: the fingerprint stage routes
/// each record there, and the shard keeps the templates of its clusters.
pub fn shard_of(id: u64, shards: usize) -> usize {
    (id % shards.max(1) as u64) as usize
}

/// A map keyed by a 64-bit hash (see [`IdHasher`]).
pub type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;
/// A set of 64-bit hashes (see [`IdHasher`]).
pub type IdSet = HashSet<u64, std::hash::BuildHasherDefault<IdHasher>>;

/// Formats an id as the 16 hex digits users see.
pub fn format_id(id: u64) -> String {
    format!("{id:016x}")
}

/// Parses the 16 hex digits back.
pub fn parse_id(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

/// A generalized template remembered from earlier runs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Known {
    /// The template's scope, as in [`Raw::service`].
    pub scope: String,
    pub template: String,
}
