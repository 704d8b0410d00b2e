//! The cap on clusters held in full detail (`aggregate.max_clusters`).
//!
//! A run over input whose every entry is its own cluster (tracebacks whose innermost frames
//! all differ, messages with an unmasked id) would otherwise hold samples, series and
//! locations for each, and mine, redact and report them all: memory and end-of-run time grow
//! with the number of clusters. Past the cap, the clusters least worth reading one by one —
//! the lowest severity, then the fewest entries — are *folded*: their counts go into one
//! overflow cluster per service, and later entries of a folded fingerprint count there too.
//! Nothing is dropped: every entry still counts once, in totals, windows, series and its
//! service's overflow cluster, and the report says how many distinct messages were folded.
//!
//! Folding runs when a shard holds a quarter more clusters than its share of the cap, so its
//! cost per new cluster stays constant. Which clusters fold depends on the counts at that
//! moment, so where the cap was reached the choice can depend on input order; where it was
//! not, nothing changes.

use crate::model::record::{Cluster, OVERFLOW_TEMPLATE};
use crate::stages::fingerprint::{IdMap, fingerprint_id, scope};

use super::merge_cluster;

/// The id of `service`'s overflow cluster: the fingerprint of [`OVERFLOW_TEMPLATE`] in the
/// service's scope, so every shard and every merged part agrees on it.
pub fn overflow_id(service: &str) -> u64 {
    fingerprint_id(&scope(service, "", ""), OVERFLOW_TEMPLATE)
}

/// Whether `c` is an overflow cluster.
pub fn is_overflow(c: &Cluster) -> bool {
    c.template == OVERFLOW_TEMPLATE
}

/// How worth keeping in detail a cluster is; smaller sorts first (kept): the highest
/// severity seen, then the most entries, then the id (a total order, so the choice never
/// depends on a hash map's order).
fn keep_rank(c: &Cluster) -> (std::cmp::Reverse<usize>, std::cmp::Reverse<u64>, u64) {
    let top = c.severities.iter().rposition(|&n| n > 0).unwrap_or(0);
    (std::cmp::Reverse(top), std::cmp::Reverse(c.count), c.id)
}

/// An empty overflow cluster for `service`.
fn empty_overflow(service: &str, traces: usize) -> Cluster {
    Cluster {
        id: overflow_id(service),
        template: OVERFLOW_TEMPLATE.to_string(),
        scope: scope(service, "", ""),
        service: service.to_string(),
        traces: crate::model::record::TraceSketch::new(traces),
        ..Cluster::default()
    }
}

/// Folds the clusters of `clusters` beyond the `keep` most worth keeping (overflow clusters
/// are not counted and never fold) into their service's overflow cluster. Returns each
/// folded id with the overflow id it went to.
pub fn fold(
    clusters: &mut IdMap<Cluster>,
    keep: usize,
    samples: usize,
    traces: usize,
) -> Vec<(u64, u64)> {
    let mut ranked: Vec<_> = clusters
        .values()
        .filter(|c| !is_overflow(c))
        .map(|c| (keep_rank(c), c.id))
        .collect();
    if ranked.len() <= keep {
        return Vec::new();
    }
    ranked.select_nth_unstable(keep);
    let mut moved = Vec::with_capacity(ranked.len() - keep);
    for &(_, id) in &ranked[keep..] {
        let Some(mut c) = clusters.remove(&id) else {
            continue;
        };
        let into = overflow_id(&c.service);
        // One distinct message (`merge_cluster` adds up `folded`).
        c.folded = 1;
        let target = clusters
            .entry(into)
            .or_insert_with(|| empty_overflow(&c.service, traces));
        merge_cluster(target, c, samples);
        moved.push((id, into));
    }
    moved
}

/// [`fold`] over a list (the combined clusters of a run or of a merge).
pub fn fold_list(
    clusters: Vec<Cluster>,
    keep: usize,
    samples: usize,
    traces: usize,
) -> Vec<Cluster> {
    let plain = clusters.iter().filter(|c| !is_overflow(c)).count();
    if keep == 0 || plain <= keep {
        return clusters;
    }
    let mut map: IdMap<Cluster> = clusters.into_iter().map(|c| (c.id, c)).collect();
    fold(&mut map, keep, samples, traces);
    let mut out: Vec<Cluster> = map.into_values().collect();
    out.sort_by_key(|c| c.id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::Severity;
    use crate::model::time::Timestamp;

    fn cluster(id: u64, service: &str, severity: Severity, count: u64) -> Cluster {
        let mut c = Cluster {
            id,
            template: format!("message {id}"),
            service: service.into(),
            count,
            first_seen: Some(Timestamp(id as i64)),
            last_seen: Some(Timestamp(id as i64 + 10)),
            ..Cluster::default()
        };
        c.severities[severity.index()] = count;
        c.per_second.insert(id as i64, count);
        c
    }

    #[test]
    fn the_least_severe_and_smallest_fold_into_their_service_and_every_entry_still_counts() {
        let mut map: IdMap<Cluster> = IdMap::default();
        for (id, service, severity, count) in [
            (1, "a", Severity::Info, 500),
            (2, "a", Severity::Error, 1),
            (3, "a", Severity::Info, 2),
            (4, "b", Severity::Warning, 7),
            (5, "b", Severity::Info, 1),
            (6, "a", Severity::Critical, 3),
        ] {
            map.insert(id, cluster(id, service, severity, count));
        }
        let moved = fold(&mut map, 3, 3, 0);
        // Kept: the critical, the error, then the warning (severity first, counts after).
        let mut kept: Vec<u64> = map
            .values()
            .filter(|c| !is_overflow(c))
            .map(|c| c.id)
            .collect();
        kept.sort();
        assert_eq!(kept, vec![2, 4, 6]);
        let mut moved_ids: Vec<u64> = moved.iter().map(|m| m.0).collect();
        moved_ids.sort();
        assert_eq!(moved_ids, vec![1, 3, 5]);
        let a = &map[&overflow_id("a")];
        assert_eq!(
            (a.count, a.folded, a.severities[Severity::Info.index()]),
            (502, 2, 502)
        );
        assert_eq!(
            (a.first_seen, a.last_seen),
            (Some(Timestamp(1)), Some(Timestamp(13)))
        );
        assert_eq!(a.per_second.values().sum::<u64>(), 502);
        assert_eq!(a.template, OVERFLOW_TEMPLATE);
        let b = &map[&overflow_id("b")];
        assert_eq!((b.count, b.folded, b.service.as_str()), (1, 1, "b"));
        assert_eq!(map.values().map(|c| c.count).sum::<u64>(), 514);
        // Folding again under the cap changes nothing; overflow clusters never fold.
        assert!(fold(&mut map, 3, 3, 0).is_empty());
        assert_eq!(map.len(), 5);
    }

    #[test]
    fn a_list_under_the_cap_or_without_one_is_left_as_it_is() {
        let list: Vec<Cluster> = (1..=4)
            .map(|id| cluster(id, "a", Severity::Error, id))
            .collect();
        let ids = |l: &[Cluster]| l.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(&fold_list(list.clone(), 4, 3, 0)), vec![1, 2, 3, 4]);
        assert_eq!(ids(&fold_list(list.clone(), 0, 3, 0)), vec![1, 2, 3, 4]);
        let folded = fold_list(list, 2, 3, 0);
        assert_eq!(folded.len(), 3);
        let over = folded.iter().find(|c| is_overflow(c)).expect("overflow");
        assert_eq!((over.count, over.folded), (3, 2));
    }
}
