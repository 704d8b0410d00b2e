//! Combining aggregates by raw fingerprint: the shards of one run, or the parts of a
//! `gardener merge`.

use std::collections::BTreeMap;

use crate::record::{Aggregate, Cluster};

use super::merge_cluster;

use crate::time::NANOS;

/// Combines aggregates by raw fingerprint: the shards of one run, or the parts of a merge.
/// Per-second counts are cut to the reach of the largest window back from `now`, else the
/// newest entry, so the result does not depend on when a shard happened to prune.
pub fn combine(
    parts: Vec<(Aggregate, Option<i64>)>,
    reach: i64,
    now: Option<i64>,
    samples: usize,
) -> (Aggregate, Option<i64>) {
    let mut all = Aggregate::default();
    let mut newest: Option<i64> = None;
    let mut by_id: BTreeMap<u64, Cluster> = BTreeMap::new();
    // The insertId memory's entries, when every part collected them.
    let mut seen = (!parts.is_empty()).then(Vec::new);
    for (p, n) in parts {
        match (seen.as_mut(), p.seen) {
            (Some(all), Some(part)) => all.extend(part),
            (_, None) => seen = None,
            (None, Some(_)) => {}
        }
        all.entries += p.entries;
        all.bad_count += p.bad_count;
        all.bad.extend(p.bad);
        all.repaired_utf8 += p.repaired_utf8;
        all.without_timestamp += p.without_timestamp;
        all.future_dated += p.future_dated;
        all.ignored_fields += p.ignored_fields;
        all.evicted += p.evicted;
        all.future_latest = all.future_latest.max(p.future_latest);
        newest = match (newest, n) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for c in p.clusters {
            match by_id.get_mut(&c.id) {
                Some(into) => merge_cluster(into, c, samples),
                None => {
                    by_id.insert(c.id, c);
                }
            }
        }
    }
    if let Some(reference) = now.or(newest) {
        let floor = reference.div_euclid(NANOS) - reach;
        for c in by_id.values_mut() {
            if c.per_second
                .first_key_value()
                .is_some_and(|(k, _)| *k <= floor)
            {
                c.per_second = c.per_second.split_off(&(floor + 1));
            }
        }
    }
    all.clusters = by_id.into_values().collect();
    all.seen = seen;
    (all, newest)
}
