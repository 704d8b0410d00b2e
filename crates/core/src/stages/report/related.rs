//! Related clusters: which clusters look connected, so a reader of the worklog sees likely
//! root-cause chains ("auth init fails → websocket rejected → message processing fails").
//!
//! Two kinds of evidence:
//!
//! - **Shared traces.** Entries of one request carry one `trace`. Each cluster keeps a bottom-k
//!   sketch of its trace ids ([`TraceSketch`]): the `k` traces with the smallest xxh3 hashes,
//!   each with the time of its first entry in the cluster. Memory is `k` marks per cluster
//!   whatever the input size, and an entry costs a hash and a comparison with the k-th smallest
//!   hash (no allocation) unless it enters the sketch. Because every cluster hashes the same
//!   way, a trace shared by two clusters and among the smallest hashes of both shows up in both
//!   sketches. When a sketch is full, only hashes up to the smaller of the two k-th hashes are
//!   complete in both, so the count there is scaled to all hashes for the estimate. For each
//!   shared trace the times say which cluster's entry came first.
//! - **Started together.** Clusters of different services whose first entries are at most
//!   `related.co_start` apart. Clusters already there when the input begins are left out (their
//!   start is not in the input), and so are clusters with fewer than `co_start_min_entries`
//!   entries (a single stray entry "starts" anywhere).
//!
//! Sketches merge exactly and in any order (union, keep the `k` smallest hashes, earliest time
//! per hash), so `gardener merge` finds the same relations as one run.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::RelatedConfig;
use crate::model::record::{Cluster, Related, TraceSketch};
use crate::stages::fingerprint::format_id;

const NANOS_PER_MS: i64 = 1_000_000;

/// Clusters one trace links at most (a trace in more clusters is counted for the first ones by
/// id), so a pathological trace cannot make the pair count quadratic in clusters.
const MAX_CLUSTERS_PER_TRACE: usize = 32;

/// Clusters that began right after one cluster and are compared with it for `co_start`, so an
/// outage where hundreds of clusters begin at once stays linear.
const MAX_STARTS_FOLLOWING: usize = 10;

impl TraceSketch {
    pub fn new(k: usize) -> TraceSketch {
        TraceSketch {
            k,
            marks: Vec::new(),
        }
    }

    /// Notes one entry of trace `hash` at time `ts`.
    pub fn note(&mut self, hash: u64, ts: i64) {
        if self.marks.len() >= self.k && self.marks.last().is_none_or(|l| hash > l.0) {
            return;
        }
        match self.marks.binary_search_by_key(&hash, |m| m.0) {
            Ok(i) => self.marks[i].1 = self.marks[i].1.min(ts),
            Err(i) => {
                if self.marks.len() >= self.k {
                    self.marks.pop();
                }
                self.marks.insert(i, (hash, ts));
            }
        }
    }

    /// Adds another sketch of the same `k`: the `k` smallest hashes of both, each with its
    /// earliest time.
    pub fn merge(&mut self, other: TraceSketch) {
        self.k = self.k.min(other.k);
        self.marks.extend(other.marks);
        self.marks.sort_unstable();
        self.marks.dedup_by_key(|m| m.0);
        self.marks.truncate(self.k);
    }

    /// Traces in the sketch with a hash up to `limit`.
    pub fn count_upto(&self, limit: u64) -> u64 {
        self.marks.partition_point(|m| m.0 <= limit) as u64
    }

    /// Estimated distinct traces the sketch was made from: exact when it is not full, else
    /// `(k − 1) / (k-th hash / 2^64)`, the bottom-k estimator.
    pub fn estimate(&self) -> u64 {
        match self.marks.last() {
            Some(&(h, _)) if self.k > 1 && self.marks.len() >= self.k => {
                let fraction = (h as f64 + 1.0) / (u64::MAX as f64);
                ((self.k - 1) as f64 / fraction).round() as u64
            }
            _ => self.marks.len() as u64,
        }
    }

    /// The largest hash the sketch is complete up to: its k-th hash when full, else all.
    pub fn complete_to(&self) -> u64 {
        if self.marks.len() >= self.k {
            self.marks.last().map_or(u64::MAX, |m| m.0)
        } else {
            u64::MAX
        }
    }
}

/// Shared traces of one pair of clusters (indices into the cluster list, `a < b`), counted
/// where both sketches are complete (hashes up to `limit`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SharedTraces {
    pub shared: u64,
    /// Shared traces in which `a`'s entry came first, and `b`'s.
    pub a_led: u64,
    pub b_led: u64,
}

/// Every pair of clusters whose trace sketches share at least one trace, with the count and
/// which cluster's entry came first in each (see [`SharedTraces`]).
pub fn shared_pairs(clusters: &[Cluster]) -> BTreeMap<(usize, usize), SharedTraces> {
    let sketches: Vec<&TraceSketch> = clusters.iter().map(|c| &c.traces).collect();
    shared_pairs_of(&sketches)
}

/// [`shared_pairs`] over bare sketches (indices into `sketches`).
pub fn shared_pairs_of(sketches: &[&TraceSketch]) -> BTreeMap<(usize, usize), SharedTraces> {
    let mut pairs: BTreeMap<(usize, usize), SharedTraces> = BTreeMap::new();
    // (hash, sketch, first time) of every mark, sorted: the sketches holding a hash are then
    // a run, in sketch order (one flat list, not a list per hash: a tenth of the memory).
    let mut marks: Vec<(u64, usize, i64)> = sketches
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.marks.iter().map(move |&(h, t)| (h, i, t)))
        .collect();
    marks.sort_unstable_by_key(|&(h, i, _)| (h, i));
    for found in marks.chunk_by(|x, y| x.0 == y.0) {
        if found.len() < 2 {
            continue;
        }
        let h = found[0].0;
        for (x, &(_, a, ta)) in found.iter().enumerate().take(MAX_CLUSTERS_PER_TRACE) {
            for &(_, b, tb) in found.iter().take(MAX_CLUSTERS_PER_TRACE).skip(x + 1) {
                // Count a hash only where both sketches are complete, so counts compare.
                if h > sketches[a].complete_to().min(sketches[b].complete_to()) {
                    continue;
                }
                let p = pairs.entry((a, b)).or_default();
                p.shared += 1;
                if ta < tb {
                    p.a_led += 1;
                } else if tb < ta {
                    p.b_led += 1;
                }
            }
        }
    }
    pairs
}

/// The largest hash both clusters' sketches are complete up to.
pub fn complete_to(a: &Cluster, b: &Cluster) -> u64 {
    a.traces.complete_to().min(b.traces.complete_to())
}

/// Finds related clusters among finished ones, strongest first, at most `cfg.max_listed`.
pub fn find(clusters: &[Cluster], cfg: &RelatedConfig) -> Vec<Related> {
    let mut pairs = shared_pairs(clusters);
    pairs.retain(|_, p| p.shared >= cfg.min_shared_traces);

    // Started together.
    let window = cfg.co_start_secs() * 1_000_000_000;
    let mut together = BTreeSet::new();
    if window > 0 {
        let input_start = clusters.iter().filter_map(|c| c.first_seen).min();
        let input_start = input_start.map(|s| s.nanos());
        let mut starts: Vec<(i64, usize)> = clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.count >= cfg.co_start_min_entries)
            .filter_map(|(i, c)| c.first_seen.map(|f| (f.nanos(), i)))
            .filter(|&(f, _)| input_start.is_some_and(|s| f > s + window))
            .collect();
        starts.sort_unstable();
        for (x, &(fa, a)) in starts.iter().enumerate() {
            for &(fb, b) in starts[x + 1..].iter().take(MAX_STARTS_FOLLOWING) {
                if fb - fa > window {
                    break;
                }
                if clusters[a].service != clusters[b].service {
                    together.insert((a.min(b), a.max(b)));
                    pairs.entry((a.min(b), a.max(b))).or_default();
                }
            }
        }
    }

    let mut out: Vec<Related> = pairs
        .into_iter()
        .map(|((a, b), p)| {
            let (ca, cb) = (&clusters[a], &clusters[b]);
            let start = |c: &Cluster| c.first_seen.map_or(i64::MAX, |f| f.nanos());
            // The cluster that leads in more shared traces came first; else the one that began
            // first; else the smaller id.
            let a_first = match p.a_led.cmp(&p.b_led) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => (start(ca), ca.id) <= (start(cb), cb.id),
            };
            let (f, t, f_led, t_led) = if a_first {
                (ca, cb, p.a_led, p.b_led)
            } else {
                (cb, ca, p.b_led, p.a_led)
            };
            let limit = ca.traces.complete_to().min(cb.traces.complete_to());
            let exact = limit == u64::MAX;
            let estimated = if exact {
                p.shared
            } else {
                // `shared` counts hashes in [0, limit]: a fraction (limit + 1) / 2^64 of all.
                (p.shared as f64 * (u64::MAX as f64 / (limit as f64 + 1.0))).round() as u64
            };
            Related {
                first: format_id(f.id),
                then: format_id(t.id),
                shared_traces: p.shared,
                exact,
                estimated_shared_traces: estimated,
                first_led: f_led,
                then_led: t_led,
                started_together: together.contains(&(a, b)),
                start_gap_ms: match (f.first_seen, t.first_seen) {
                    (Some(x), Some(y)) => (y.nanos() - x.nanos()).div_euclid(NANOS_PER_MS),
                    _ => 0,
                },
            }
        })
        .collect();
    // Strongest first: more shared traces, then starts closer together; ids break ties.
    out.sort_by(|x, y| {
        y.shared_traces
            .cmp(&x.shared_traces)
            .then(x.start_gap_ms.abs().cmp(&y.start_gap_ms.abs()))
            .then_with(|| (&x.first, &x.then).cmp(&(&y.first, &y.then)))
    });
    out.truncate(cfg.max_listed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(k: usize, marks: &[(u64, i64)]) -> TraceSketch {
        let mut s = TraceSketch::new(k);
        for &(h, t) in marks {
            s.note(h, t);
        }
        s
    }

    /// Pairs counted from the sorted list are the pairs counted per hash, as they were: on
    /// random sketches over few hashes, with hashes in more sketches than are paired
    /// (`MAX_CLUSTERS_PER_TRACE`) and sketches complete to different hashes.
    #[test]
    fn shared_pairs_are_counted_per_hash_in_sketch_order() {
        fn per_hash(sketches: &[&TraceSketch]) -> BTreeMap<(usize, usize), SharedTraces> {
            let mut by_hash: BTreeMap<u64, Vec<(usize, i64)>> = BTreeMap::new();
            for (i, c) in sketches.iter().enumerate() {
                for &(h, t) in &c.marks {
                    by_hash.entry(h).or_default().push((i, t));
                }
            }
            let mut pairs: BTreeMap<(usize, usize), SharedTraces> = BTreeMap::new();
            for (h, found) in by_hash {
                for (x, &(a, ta)) in found.iter().enumerate().take(MAX_CLUSTERS_PER_TRACE) {
                    for &(b, tb) in found.iter().take(MAX_CLUSTERS_PER_TRACE).skip(x + 1) {
                        if h <= sketches[a].complete_to().min(sketches[b].complete_to()) {
                            let p = pairs.entry((a, b)).or_default();
                            p.shared += 1;
                            p.a_led += u64::from(ta < tb);
                            p.b_led += u64::from(tb < ta);
                        }
                    }
                }
            }
            pairs
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..40 {
            let count = 1 + next(200) as usize;
            let sketches: Vec<TraceSketch> = (0..count)
                .map(|_| {
                    let k = 1 + next(8) as usize;
                    let marks: Vec<(u64, i64)> =
                        (0..next(20)).map(|_| (next(20), next(5) as i64)).collect();
                    sketch(k, &marks)
                })
                .collect();
            let refs: Vec<&TraceSketch> = sketches.iter().collect();
            assert_eq!(shared_pairs_of(&refs), per_hash(&refs), "round {round}");
        }
    }

    #[test]
    fn a_sketch_keeps_the_smallest_hashes_with_their_first_time() {
        let s = sketch(
            3,
            &[
                (50, 5),
                (10, 9),
                (40, 1),
                (10, 3),
                (99, 0),
                (20, 7),
                (40, 0),
            ],
        );
        assert_eq!(s.marks, vec![(10, 3), (20, 7), (40, 0)]);
        assert!(sketch(0, &[(1, 1)]).marks.is_empty());
    }

    #[test]
    fn sketches_merge_in_any_order_like_one_sketch() {
        let all: Vec<(u64, i64)> = (0..200u64)
            .map(|i| {
                (
                    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 1000,
                    (i * 7 % 13) as i64,
                )
            })
            .collect();
        let whole = sketch(16, &all);
        let parts: Vec<TraceSketch> = all.chunks(37).map(|c| sketch(16, c)).collect();
        let mut forward = TraceSketch::new(16);
        for p in parts.iter().cloned() {
            forward.merge(p);
        }
        let mut backward = TraceSketch::new(16);
        for p in parts.into_iter().rev() {
            backward.merge(p);
        }
        assert_eq!(forward, whole);
        assert_eq!(backward, whole);
    }

    fn cluster(id: u64, service: &str, first: i64, count: u64, traces: &[(u64, i64)]) -> Cluster {
        let mut c: Cluster = serde_json::from_value(serde_json::json!({"id": id,
            "template": "t", "scope": service, "service": service, "count": count,
            "first_seen": first, "last_seen": first, "severities": [0,0,0,0,0,0,0,0,0],
            "revisions": {}, "locations": {}, "per_second": [], "series": [], "samples": [],
            "http_statuses": {}, "latency_us": null, "traces": {"k": 8, "marks": []}}))
        .unwrap();
        for &(h, t) in traces {
            c.traces.note(h, t);
        }
        c
    }

    #[test]
    fn shared_traces_relate_clusters_and_say_which_came_first() {
        let cfg = RelatedConfig::default();
        let cause = cluster(1, "auth", 100, 3, &[(5, 100), (6, 200), (7, 300)]);
        let effect = cluster(2, "backend", 150, 3, &[(5, 150), (6, 250), (7, 290)]);
        let alone = cluster(3, "backend", 150, 1, &[(8, 1), (5, 10)]);
        let got = find(&[effect.clone(), cause.clone(), alone], &cfg);
        let r = got
            .iter()
            .find(|r| r.first == format_id(1) || r.then == format_id(1))
            .expect("auth and backend are related");
        assert_eq!(
            (r.first.as_str(), r.then.as_str()),
            (&*format_id(1), &*format_id(2))
        );
        assert_eq!(
            (r.shared_traces, r.first_led, r.then_led, r.exact),
            (3, 2, 1, true)
        );
        // One shared trace is below min_shared_traces (2).
        assert!(
            !got.iter()
                .any(|r| r.first == format_id(3) || r.then == format_id(3))
        );
    }

    #[test]
    fn clusters_that_start_together_in_other_services_are_related() {
        let s = 1_000_000_000;
        let cfg = RelatedConfig::default();
        let got = find(
            &[
                cluster(1, "a", 0, 50, &[]),       // the input begins here
                cluster(2, "a", 3600 * s, 9, &[]), // starts …
                cluster(3, "b", 3630 * s, 9, &[]), // … 30 s later in b
                cluster(4, "a", 3620 * s, 9, &[]), // same service as 2
                cluster(5, "c", 3610 * s, 2, &[]), // too few entries
                cluster(6, "b", 3 * s, 9, &[]),    // there from the start
            ],
            &cfg,
        );
        let pairs: Vec<(String, String, i64)> = got
            .iter()
            .map(|r| (r.first.clone(), r.then.clone(), r.start_gap_ms))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (format_id(4), format_id(3), 10_000),
                (format_id(2), format_id(3), 30_000),
            ]
        );
        assert!(
            got.iter()
                .all(|r| r.started_together && r.shared_traces == 0)
        );
    }
}
