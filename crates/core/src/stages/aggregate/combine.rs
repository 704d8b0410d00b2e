//! Combining aggregates by raw fingerprint: the shards of one run, or the parts of a
//! `gardener merge`.

use std::collections::BTreeMap;

use crate::model::record::{Aggregate, Cluster};

use super::merge_cluster;

use crate::model::time::NANOS;

/// Combines aggregates by raw fingerprint: the shards of one run, or the parts of a merge.
/// Per-second counts are cut to the reach of the largest window back from `now`, else the
/// newest entry, so the result does not depend on when a shard happened to prune.
pub fn combine(
    parts: Vec<(Aggregate, Option<i64>)>,
    reach: i64,
    now: Option<i64>,
    samples: usize,
) -> (Aggregate, Option<i64>) {
    if let [_] = parts[..] {
        // One part (a merge combines its parts as it reads them): its clusters are already
        // one per id; only the order and the cut remain.
        let (mut all, newest) = parts.into_iter().next().expect("one part");
        all.clusters.sort_unstable_by_key(|c| c.id);
        cut(&mut all.clusters, reach, now.or(newest));
        return (all, newest);
    }
    let mut c = Combiner::new(samples);
    for p in parts {
        c.add(p);
    }
    c.finish(reach, now)
}

/// Cuts per-second counts to `reach` seconds back from `reference`.
fn cut<'a>(
    clusters: impl IntoIterator<Item = &'a mut Cluster>,
    reach: i64,
    reference: Option<i64>,
) {
    let Some(reference) = reference else {
        return;
    };
    let floor = reference.div_euclid(NANOS) - reach;
    for c in clusters {
        if c.per_second
            .first_key_value()
            .is_some_and(|(k, _)| *k <= floor)
        {
            c.per_second = c.per_second.split_off(&(floor + 1));
        }
    }
}

/// Aggregates combined one at a time: a merge reads each part, adds it and lets it go, so its
/// memory holds the combined clusters, not every part at once.
pub struct Combiner {
    all: Aggregate,
    newest: Option<i64>,
    by_id: BTreeMap<u64, Cluster>,
    /// The insertId memory's entries, while every part collected them.
    seen: Option<Vec<(i64, u64)>>,
    parts: usize,
    samples: usize,
}

impl Combiner {
    pub fn new(samples: usize) -> Combiner {
        Combiner {
            all: Aggregate::default(),
            newest: None,
            by_id: BTreeMap::new(),
            seen: Some(Vec::new()),
            parts: 0,
            samples,
        }
    }

    /// Adds one aggregate (and the time of its newest entry).
    pub fn add(&mut self, (p, n): (Aggregate, Option<i64>)) {
        self.parts += 1;
        match (self.seen.as_mut(), p.seen) {
            (Some(all), Some(part)) => all.extend(part),
            (_, None) => self.seen = None,
            (None, Some(_)) => {}
        }
        let all = &mut self.all;
        all.entries += p.entries;
        all.bad_count += p.bad_count;
        all.bad.extend(p.bad);
        if all.bad.len() > 4 * super::BAD_LISTED {
            // Only the first ones by (input, entry) are ever listed.
            super::list_bad(&mut all.bad);
        }
        all.repaired_utf8 += p.repaired_utf8;
        all.without_timestamp += p.without_timestamp;
        all.future_dated += p.future_dated;
        all.ignored_fields += p.ignored_fields;
        all.evicted += p.evicted;
        all.future_latest = all.future_latest.max(p.future_latest);
        self.newest = match (self.newest, n) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for c in p.clusters {
            match self.by_id.get_mut(&c.id) {
                Some(into) => merge_cluster(into, c, self.samples),
                None => {
                    self.by_id.insert(c.id, c);
                }
            }
        }
    }

    /// Everything added, as one aggregate, without cutting per-second counts: a part of a
    /// later [`combine`], which cuts them once the reference time is known.
    pub fn whole(self) -> (Aggregate, Option<i64>) {
        self.finish(0, None)
    }

    /// Everything added, per-second counts cut to `reach` seconds back from `now`, else the
    /// newest entry (`reach` 0 with no `now`: nothing is cut).
    pub fn finish(mut self, reach: i64, now: Option<i64>) -> (Aggregate, Option<i64>) {
        if reach > 0 || now.is_some() {
            cut(self.by_id.values_mut(), reach, now.or(self.newest));
        }
        self.all.clusters = self.by_id.into_values().collect();
        self.all.seen = if self.parts == 0 { None } else { self.seen };
        (self.all, self.newest)
    }
}
