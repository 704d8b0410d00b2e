//! Trends: what the time series of a cluster says, and what changed since the last run.
//!
//! Every cluster carries counts per bucket of event time (`aggregate.bucket`, aligned to the
//! Unix epoch; see [`crate::stages::aggregate::bound_series`]). This module judges them:
//!
//! * **Spike test** ([`spike`]). The *recent window* is the `trend.recent` span of buckets ending
//!   with the reference time's bucket; the *baseline* is every bucket before it that was
//!   observed — by this run (from its oldest entry to the reference) or by earlier runs (the
//!   history kept in the state store) — whether the cluster logged in it or not. With `n`
//!   entries over `B` seconds of baseline, the baseline rate is `(n + 1) / B` (one entry is
//!   added so that a silent baseline never gives an infinite ratio) and the recent window of
//!   `R` seconds is expected to hold `λ = (n + 1) · R / B` entries. The cluster is
//!   **escalating** when all of these hold:
//!   - `B ≥ trend.min_baseline` (otherwise there is too little data to judge: no flag);
//!   - the recent count `k ≥ trend.min_count` (small numbers never flag);
//!   - `k ≥ trend.factor · λ` (the factor reported is `k / λ`);
//!   - the Poisson tail bound `P(X ≥ k | λ) ≤ exp(k − λ − k·ln(k/λ)) ≤ trend.max_p` (the
//!     Chernoff bound: an upper bound on the chance of so many entries if the rate had not
//!     changed, so the test errs on the quiet side).
//! * **Status** ([`judge`]), against the state store as it was before this run: `new` (the
//!   store does not know the fingerprint), `regressed` (known, back with entries newer than
//!   the stored last-seen, after a gap longer than `state.regression_gap` or after its GitHub
//!   issue was closed), `escalating` (known, the spike test flagged it, and some of its entries
//!   are new to the store: a spike already counted was reported by the run that counted it;
//!   the escalation itself stays, as a fact of the data the priority rules use), else
//!   `ongoing`.
//!   Without a store a cluster is `escalating` or `ongoing`.
//! * **Resolved-looking**: known clusters not in this run whose last entry is older than
//!   `state.resolved_after` before the reference, and was not yet so at the previous run.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::Config;
use crate::model::record::{
    Aggregate, Cluster, ClusterTrend, Escalation, History, Resolved, Status, TrendsReport,
};
use crate::model::time::bucket_start;
use crate::model::time::{Timestamp, format_rfc3339};
use crate::stages::fingerprint::format_id;
use crate::stages::halves;
use crate::state::Store;

use crate::model::time::NANOS;
/// Characters of a sparkline, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Widest sparkline, in characters.
pub const SPARK_WIDTH: usize = 48;

/// The spike test's settings, in seconds.
#[derive(Clone, Debug)]
pub struct SpikeSettings {
    pub bucket: i64,
    pub recent: i64,
    pub min_baseline: i64,
    pub min_count: u64,
    pub factor: f64,
    pub max_p: f64,
}

impl SpikeSettings {
    pub fn new(cfg: &Config) -> SpikeSettings {
        let t = &cfg.trend;
        SpikeSettings {
            bucket: cfg.bucket_secs(),
            recent: t.recent.secs().max(1),
            min_baseline: t.min_baseline.secs(),
            min_count: t.min_count,
            factor: t.factor,
            max_p: t.max_p,
        }
    }
}

/// Upper bound on `P(X ≥ k)` for `X ~ Poisson(λ)` (Chernoff): `exp(k − λ − k·ln(k/λ))` when
/// `k > λ`, else 1.
pub fn poisson_tail_bound(k: u64, lambda: f64) -> f64 {
    let k = k as f64;
    if lambda <= 0.0 {
        return if k > 0.0 { 0.0 } else { 1.0 };
    }
    if k <= lambda {
        return 1.0;
    }
    (k - lambda - k * (k / lambda).ln()).exp()
}

/// The spike test (see the module docs). `counts`: entries per bucket start; `observed`: the
/// bucket starts observed by this run or by earlier ones; `reference`: Unix seconds. Returns
/// the verdict when the cluster is escalating, `None` when it is not or when there is too
/// little data to judge.
pub fn spike(
    counts: &BTreeMap<i64, u64>,
    observed: &BTreeSet<i64>,
    reference: i64,
    s: &SpikeSettings,
) -> Option<Escalation> {
    let top = bucket_start(reference, s.bucket);
    let n_recent = (s.recent + s.bucket - 1) / s.bucket;
    let recent_start = top - (n_recent - 1) * s.bucket;
    let recent_secs = reference + 1 - recent_start;
    let recent: u64 = counts.range(recent_start..=top).map(|(_, n)| n).sum();
    let baseline_buckets = observed.range(..recent_start).count() as i64;
    let baseline_secs = baseline_buckets * s.bucket;
    if baseline_secs < s.min_baseline || baseline_secs == 0 || recent < s.min_count {
        return None;
    }
    let baseline: u64 = counts
        .range(..recent_start)
        .filter(|(k, _)| observed.contains(k))
        .map(|(_, n)| n)
        .sum();
    let expected = (baseline + 1) as f64 * recent_secs as f64 / baseline_secs as f64;
    let factor = recent as f64 / expected;
    let p_bound = poisson_tail_bound(recent, expected);
    (factor >= s.factor && p_bound <= s.max_p).then_some(Escalation {
        factor: (factor * 10.0).round() / 10.0,
        recent,
        expected: (expected * 100.0).round() / 100.0,
        recent_secs,
        baseline_secs,
        baseline,
        p_bound,
    })
}

/// A text sparkline of the buckets `from..=to` (bucket starts), at most [`SPARK_WIDTH`]
/// characters: adjacent buckets are summed when there are more. `▁` is an empty stretch; any
/// entry shows at least `▂`; `█` is the busiest.
pub fn sparkline(series: &BTreeMap<i64, u64>, from: i64, to: i64, bucket: i64) -> String {
    if to < from || bucket <= 0 {
        return String::new();
    }
    let n = ((to - from) / bucket + 1) as usize;
    let width = n.min(SPARK_WIDTH);
    let mut cols = vec![0u64; width];
    for (k, v) in series.range(from..=to) {
        let i = ((k - from) / bucket) as usize;
        cols[i * width / n] += v;
    }
    let max = cols.iter().copied().max().unwrap_or(0);
    cols.iter()
        .map(|&v| {
            if v == 0 || max == 0 {
                BARS[0]
            } else {
                BARS[((v * 7).div_ceil(max) as usize).clamp(1, 7)]
            }
        })
        .collect()
}

/// Trends of every cluster, and the report-wide lists.
pub struct Judged {
    pub clusters: HashMap<u64, ClusterTrend>,
    pub resolved: Vec<Resolved>,
}

/// Judges every cluster of a finished aggregate against the state store as it was before this
/// run (`None`: stateless).
pub fn judge(agg: &Aggregate, store: Option<&Store>, cfg: &Config) -> Judged {
    let s = SpikeSettings::new(cfg);
    let gap = cfg.state.regression_gap.secs();
    let resolved_after = cfg.state.resolved_after.secs();
    let mut out = Judged {
        clusters: HashMap::new(),
        resolved: Vec::new(),
    };
    let Some(reference) = agg.reference.map(|r| r.div_euclid(NANOS)) else {
        for c in &agg.clusters {
            let trend = ClusterTrend {
                status: store.map_or(Some(Status::Ongoing), |st| {
                    Some(if st.clusters.contains_key(&format_id(c.id)) {
                        Status::Ongoing
                    } else {
                        Status::New
                    })
                }),
                history: store.and_then(|st| history(st, c)),
                ..Default::default()
            };
            out.clusters.insert(c.id, trend);
        }
        return out;
    };
    let max_buckets = cfg.aggregate.max_buckets;
    let observed = observed(agg, store, s.bucket, max_buckets);
    let top = bucket_start(reference, s.bucket);
    let run_from = agg.first_bucket(s.bucket, max_buckets).unwrap_or(top);
    let span = Span {
        reference,
        top,
        run_from,
        gap,
    };
    let trends = halves::map(&agg.clusters, |c| {
        (c.id, cluster_trend(c, store, &observed, &s, &span))
    });
    out.clusters.extend(trends);
    if let Some(st) = store {
        let seen: BTreeSet<String> = agg.clusters.iter().map(|c| format_id(c.id)).collect();
        let limit = reference - resolved_after;
        let before = st.reference_secs().map(|r| r - resolved_after);
        for (fp, k) in &st.clusters {
            let Some(last) = k.last_seen_nanos().map(|n| n.div_euclid(NANOS)) else {
                continue;
            };
            if seen.contains(fp) || last >= limit || before.is_none_or(|b| last < b) {
                continue;
            }
            out.resolved.push(Resolved {
                id: fp.clone(),
                service: k.service.clone(),
                template: k.template.clone(),
                last_seen: k.last_seen.clone().unwrap_or_default(),
                total: k.total,
                priority: k.priority.clone(),
            });
        }
    }
    out.resolved.sort_by(|a, b| {
        (&a.priority, std::cmp::Reverse(a.total), &a.id).cmp(&(
            &b.priority,
            std::cmp::Reverse(b.total),
            &b.id,
        ))
    });
    out
}

/// The times a cluster's trend is judged in (see [`judge`]), in seconds.
struct Span {
    reference: i64,
    /// The newest bucket's start.
    top: i64,
    /// The run's first bucket's start.
    run_from: i64,
    /// `state.regression_gap`.
    gap: i64,
}

/// One cluster's trend: its spike against `observed` and its status against the store.
fn cluster_trend(
    c: &Cluster,
    store: Option<&Store>,
    observed: &BTreeSet<i64>,
    s: &SpikeSettings,
    span: &Span,
) -> ClusterTrend {
    let &Span {
        reference,
        top,
        run_from,
        gap,
    } = span;
    let fp = format_id(c.id);
    let known = store.and_then(|st| st.clusters.get(&fp));
    let mut counts = c.series.clone();
    if let Some(k) = known {
        for (b, n) in &k.series {
            let e = counts.entry(*b).or_insert(0);
            *e = (*e).max(*n);
        }
    }
    let escalation = spike(&counts, observed, reference, s);
    let status = match (store, known) {
        (None, _) => Some(if escalation.is_some() {
            Status::Escalating
        } else {
            Status::Ongoing
        }),
        (Some(_), None) => Some(Status::New),
        // A spike whose every entry an earlier run counted was reported by that run: the
        // spike stays a fact of the data (and of the priority), but nothing changed.
        (Some(st), Some(k)) => Some(if is_regressed(c, k.last_seen_nanos(), k.closed, gap) {
            Status::Regressed
        } else if escalation.is_some() && st.new_entries(c) > 0 {
            Status::Escalating
        } else {
            Status::Ongoing
        }),
    };
    ClusterTrend {
        status,
        escalation,
        history: store.and_then(|st| history(st, c)),
        series: c.series.iter().map(|(k, v)| (*k, *v)).collect(),
        sparkline: sparkline(&c.series, run_from, top, s.bucket),
    }
}

/// The report-wide trend section (before the state is updated).
pub fn report(cfg: &Config, store: Option<&Store>, resolved: Vec<Resolved>) -> TrendsReport {
    TrendsReport {
        bucket: cfg.aggregate.bucket.text().to_string(),
        recent: cfg.trend.recent.text().to_string(),
        state: store.map(|s| s.path.display().to_string()),
        previous_run: store.and_then(|s| s.reference.clone()),
        resolved,
        resolved_after: cfg.state.resolved_after.text().to_string(),
        state_updated: false,
    }
}

/// The state's view of a cluster, with this run's entries counted in.
fn history(st: &Store, c: &Cluster) -> Option<History> {
    let k = st.clusters.get(&format_id(c.id));
    let new = crate::state::new_entries(c, k.and_then(|k| k.last_seen_nanos()));
    let first = match (
        k.and_then(|k| k.first_seen_nanos()),
        c.first_seen.map(Timestamp::nanos),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Some(History {
        first_seen: first.map(format_rfc3339),
        previous_last_seen: k.and_then(|k| k.last_seen.clone()),
        total: k.map_or(0, |k| k.total) + new,
        previous_priority: k.map(|k| k.priority.clone()).filter(|p| !p.is_empty()),
        closed: k.is_some_and(|k| k.closed),
    })
}

/// Whether a known cluster is back (entries newer than `last_seen`) after a gap longer than
/// `gap` seconds, or after its issue was closed.
pub fn is_regressed(c: &Cluster, last_seen: Option<i64>, closed: bool, gap: i64) -> bool {
    let Some(mark) = last_seen else {
        return false;
    };
    let Some(first_new) = crate::state::first_after(c, mark) else {
        return false;
    };
    closed || first_new - mark.div_euclid(NANOS) > gap
}

/// The buckets observed by this run (its oldest entry's bucket to the reference's) and by the
/// runs the store remembers.
pub fn observed(
    agg: &Aggregate,
    store: Option<&Store>,
    bucket: i64,
    max_buckets: usize,
) -> BTreeSet<i64> {
    let mut set: BTreeSet<i64> = store.map(|s| s.observed.clone()).unwrap_or_default();
    if let (Some(reference), Some(from)) = (agg.reference, agg.first_bucket(bucket, max_buckets)) {
        let top = bucket_start(reference.div_euclid(NANOS), bucket);
        let mut b = from;
        while b <= top {
            set.insert(b);
            b += bucket;
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SpikeSettings {
        SpikeSettings {
            bucket: 300,
            recent: 3600,
            min_baseline: 3 * 3600,
            min_count: 10,
            factor: 3.0,
            max_p: 0.001,
        }
    }

    /// Buckets `0..hours*12` observed, `per_bucket` entries in each baseline bucket and
    /// `recent` entries spread over the last hour's 12 buckets.
    fn case(hours: i64, per_bucket: u64, recent: u64) -> Option<Escalation> {
        let n = hours * 12;
        let observed: BTreeSet<i64> = (0..n).map(|i| i * 300).collect();
        let mut counts = BTreeMap::new();
        for i in 0..n - 12 {
            if per_bucket > 0 {
                counts.insert(i * 300, per_bucket);
            }
        }
        for j in 0..recent {
            *counts.entry((n - 12 + (j as i64 % 12)) * 300).or_insert(0) += 1;
        }
        spike(&counts, &observed, (n - 1) * 300 + 299, &settings())
    }

    #[test]
    fn tail_bound_is_an_upper_bound() {
        // Exact P(X ≥ 10 | λ = 2) ≈ 4.6e-5; the bound must not be below it.
        let exact: f64 = 1.0
            - (0..10)
                .map(|i| (-2.0f64).exp() * 2f64.powi(i) / (1..=i).map(f64::from).product::<f64>())
                .sum::<f64>();
        let bound = poisson_tail_bound(10, 2.0);
        assert!(bound >= exact && bound < 1e-2, "{bound} vs {exact}");
        assert_eq!(poisson_tail_bound(3, 5.0), 1.0);
    }

    #[test]
    fn a_burst_over_a_steady_baseline_escalates() {
        // 1 per bucket for 5 hours = 12/h; 120 in the last hour is ×10.
        let e = case(6, 1, 120).expect("escalating");
        assert_eq!((e.recent, e.baseline), (120, 60));
        assert_eq!(e.baseline_secs, 5 * 3600);
        assert!((e.factor - 120.0 / (61.0 / 5.0)).abs() < 0.1, "{e:?}");
        assert!(e.p_bound < 1e-10);
    }

    #[test]
    fn steady_or_small_or_short_never_flags() {
        // The same rate as the baseline.
        assert_eq!(case(6, 1, 12), None);
        // Twice the baseline: below the factor.
        assert_eq!(case(6, 2, 48), None);
        // From silence, but too few to matter.
        assert_eq!(case(6, 0, 9), None);
        // A clear burst, but only two hours of baseline: too little data to judge.
        assert_eq!(case(3, 1, 200), None);
        // From silence, enough entries: flagged.
        assert!(case(6, 0, 30).is_some());
    }

    #[test]
    fn sparklines_scale_and_fold() {
        let s: BTreeMap<i64, u64> = [(0, 1), (300, 0), (600, 8), (900, 4)].into();
        assert_eq!(sparkline(&s, 0, 900, 300), "▂▁█▅");
        // 100 buckets fold into 48 characters.
        let many: BTreeMap<i64, u64> = (0..100).map(|i| (i * 300, 1)).collect();
        let line = sparkline(&many, 0, 99 * 300, 300);
        assert_eq!(line.chars().count(), SPARK_WIDTH);
        assert!(line.chars().all(|c| c != '▁'), "{line}");
        assert_eq!(sparkline(&s, 900, 0, 300), "");
    }
}
