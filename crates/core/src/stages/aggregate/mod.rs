//! The window-aggregate stage: per fingerprint, counts, first/last seen, severities, revisions,
//! locations, per-second event-time counts (for the sliding windows), the newest samples, HTTP
//! statuses and a latency histogram.
//!
//! The stage runs as several shards. Every shard receives every batch and handles only the
//! records whose fingerprint falls in its share (`id % shards`), so a cluster lives in exactly
//! one shard and shards never share state or wait on a lock.
//!
//! **Windows** are counted back from a reference time: `--now`, or else the newest entry seen.
//! Because the newest entry is only known at the end, each cluster keeps counts per second of
//! event time, pruned to the reach of the largest window. An entry counts in a window of length
//! W when its timestamp, truncated to the second, is after `reference − W` and not after the
//! reference (also truncated to the second). Entries without a timestamp count in totals only.
//!
//! **Time series**: each cluster also counts entries per bucket of event time
//! (`aggregate.bucket`, aligned to the Unix epoch) in a map keyed by the bucket's start, so any
//! input order gives the same series. Shards drop buckets more than `aggregate.max_buckets` back
//! from the newest entry seen so far; [`bound_series`] makes the final cut once the reference is
//! known. `crates/core/src/stages/report/trend.rs` judges the series.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::mpsc::Receiver;
use tokio::sync::oneshot;

mod combine;
pub mod overflow;
mod tally;

pub use combine::{Combiner, combine};

use crate::model::record::{
    Aggregate, BadInfo, Batch, Cluster, Record, Routed, Sample, TraceSketch,
};
use crate::model::stats::StageStats;
pub use crate::model::time::{bucket_start, series_floor};
use crate::stages::epoch::Counted;
use crate::stages::fingerprint::IdMap;
use crate::state::seen::{Lookup, cut_to_newest, entry_key};

use crate::model::time::{NANOS, Timestamp};
/// Bad entries listed one by one in the report (all are counted).
const BAD_LISTED: usize = 100;

/// When a shard holding `overflows` overflow clusters folds next: a quarter past its cap, so
/// each fold handles many clusters (no cap: never).
fn fold_threshold(max_clusters: usize, overflows: usize) -> usize {
    if max_clusters == 0 {
        usize::MAX
    } else {
        max_clusters + max_clusters / 4 + 1 + overflows
    }
}

/// Settings a shard needs.
#[derive(Clone, Debug)]
pub struct AggregateSettings {
    pub shard: usize,
    pub shards: usize,
    pub samples: usize,
    /// Largest window, in seconds.
    pub reach: i64,
    /// Trace ids remembered per cluster (`related.traces_per_cluster`).
    pub traces: usize,
    /// Fixed reference time (`--now`), in Unix nanoseconds.
    pub now: Option<i64>,
    /// Time-series bucket size, in seconds (`aggregate.bucket`).
    pub bucket: i64,
    /// Buckets kept back from the reference (`aggregate.max_buckets`).
    pub max_buckets: usize,
    /// This shard's share of `aggregate.max_clusters` (0: no cap): past it (and a quarter
    /// more), the clusters least worth reading fold into their service's overflow cluster.
    pub max_clusters: usize,
    /// Entries dated after this (the run's clock plus `aggregate.future_margin`, Unix
    /// nanoseconds) are counted without their time (see [`Aggregate::future_dated`]).
    pub latest: i64,
    /// `gardener watch`: `latest` follows the clock, this far ahead of it (nanoseconds).
    pub rolling_margin: Option<i64>,
    /// `gardener watch`: per-second counts older than this many seconds before the reference
    /// are kept per minute instead (the smallest window stays exact; the far edge of a longer
    /// window is off by less than a minute), so memory does not grow with the longest window.
    pub coarse_after: Option<i64>,
    pub inputs: Arc<Vec<String>>,
    /// The state's insertId memory, when the run has a state (see `state::seen`).
    pub remember: Option<Arc<Remember>>,
}

/// What a shard needs of the state's insertId memory.
#[derive(Debug, Default)]
pub struct Remember {
    pub lookup: Lookup,
    /// `state.overlap`, in nanoseconds: entries this close to the newest are collected.
    pub overlap: i64,
    /// `state.max_ids`: the state keeps at most this many (the newest), so a shard never
    /// needs to hold more (see `Shard::prune_seen`). 0: no cap.
    pub max_ids: usize,
}

/// One shard's state.
pub struct Shard {
    set: AggregateSettings,
    clusters: IdMap<Cluster>,
    /// Counts per second and per bucket not yet in the clusters' maps (see [`tally`]).
    tallies: IdMap<tally::Tally>,
    /// Fingerprint → (scope, template), from the fingerprint stage's announcements.
    templates: IdMap<(String, String)>,
    /// Location hash → location text, so a record costs no allocation for a known location.
    locations: IdMap<String>,
    newest: Option<i64>,
    batches: u64,
    /// `(timestamp ns, key)` of entries within `state.overlap` of the newest (see `Remember`).
    seen: Vec<(i64, u64)>,
    /// The length of `seen` after it was last pruned.
    seen_kept: usize,
    /// Where the last lookup in the state's insertId memory ended (see `seen::find_from`).
    seen_hint: usize,
    /// Folded fingerprint → its service's overflow cluster (see [`overflow`]).
    folded: IdMap<u64>,
    /// Clusters in `clusters` when folding runs next.
    fold_at: usize,
    /// Per-second counts before this second are kept per minute (see
    /// [`AggregateSettings::coarse_after`]).
    coarsened_to: i64,
    out: Aggregate,
}

impl Shard {
    pub fn new(set: AggregateSettings) -> Shard {
        Shard {
            fold_at: fold_threshold(set.max_clusters, 0),
            set,
            clusters: IdMap::default(),
            tallies: IdMap::default(),
            templates: IdMap::default(),
            locations: IdMap::default(),
            newest: None,
            batches: 0,
            seen: Vec::new(),
            seen_kept: 0,
            seen_hint: 0,
            folded: IdMap::default(),
            coarsened_to: i64::MIN,
            out: Aggregate::default(),
        }
    }

    fn mine(&self, id: u64) -> bool {
        crate::model::id::shard_of(id, self.set.shards) == self.set.shard
    }

    /// Adds the records of a whole batch that are this shard's; returns how many were.
    pub fn add(&mut self, batch: &Batch) -> usize {
        let records: Vec<u32> = (0..batch.records.len() as u32)
            .filter(|&i| self.mine(batch.records[i as usize].fingerprint))
            .collect();
        self.add_routed(batch, &records)
    }

    /// Adds a batch routed to this shard: `records` are the indexes of its records (see
    /// [`Routed`]); the batch's bad entries and counts go to shard 0. Returns how many records
    /// were added.
    pub fn add_routed(&mut self, batch: &Batch, records: &[u32]) -> usize {
        if let Some(margin) = self.set.rolling_margin {
            self.set.latest = crate::model::time::now_nanos().saturating_add(margin);
        }
        for t in &batch.new_templates {
            if self.mine(t.id) {
                self.templates
                    .entry(t.id)
                    .or_insert_with(|| (t.scope.clone(), t.template.clone()));
            }
        }
        if self.set.shard == 0 {
            self.out.bad_count += batch.bad.len() as u64;
            self.out.repaired_utf8 += batch.repaired_utf8;
            self.out.ignored_fields += batch.ignored_fields;
            // The first BAD_LISTED by (input, entry), whatever order the batches come in
            // (two workers before this stage can swap them): all kept, cut now and then.
            for b in &batch.bad {
                self.out.bad.push(BadInfo {
                    input: self
                        .set
                        .inputs
                        .get(batch.input as usize)
                        .cloned()
                        .unwrap_or_default(),
                    entry: b.entry_no,
                    offset: b.offset,
                    reason: b.reason.clone(),
                });
                if self.out.bad.len() >= 2 * BAD_LISTED {
                    list_bad(&mut self.out.bad);
                }
            }
        }
        for &i in records {
            let r = &batch.records[i as usize];
            debug_assert!(
                self.mine(r.fingerprint),
                "a record routed to the wrong shard"
            );
            self.record(batch, r);
        }
        self.batches += 1;
        if self.batches % 64 == 0 {
            self.prune();
        }
        records.len()
    }

    fn record(&mut self, batch: &Batch, r: &Record) {
        self.out.entries += 1;
        // A folded fingerprint counts in its service's overflow cluster.
        let id = if self.folded.is_empty() {
            r.fingerprint
        } else {
            self.folded
                .get(&r.fingerprint)
                .copied()
                .unwrap_or(r.fingerprint)
        };
        if self.clusters.len() >= self.fold_at && !self.clusters.contains_key(&id) {
            self.fold();
        }
        let template = &self.templates;
        let c = self.clusters.entry(id).or_insert_with(|| Cluster {
            id: r.fingerprint,
            template: template
                .get(&r.fingerprint)
                .map(|t| t.1.clone())
                .unwrap_or_default(),
            scope: template
                .get(&r.fingerprint)
                .map(|t| t.0.clone())
                .unwrap_or_default(),
            service: batch.str(r.service).to_string(),
            count: 0,
            first_seen: None,
            last_seen: None,
            severities: [0; 9],
            severity_from_text: 0,
            revisions: BTreeMap::new(),
            locations: BTreeMap::new(),
            per_second: BTreeMap::new(),
            series: BTreeMap::new(),
            windows: Vec::new(),
            samples: Vec::new(),
            http_statuses: BTreeMap::new(),
            latency_us: None,
            traces: TraceSketch::new(self.set.traces),
            recount: Default::default(),
            folded: 0,
        });
        c.count += 1;
        c.severities[r.severity.index()] += 1;
        c.severity_from_text += u64::from(r.severity_from_text);
        let timestamp = match r.timestamp.map(Timestamp::nanos) {
            Some(ts) if ts > self.set.latest => {
                // Dated in the future (a clock gone wrong): its time would move the reference,
                // empty every window and cut the state's history.
                self.out.future_dated += 1;
                self.out.future_latest = Some(self.out.future_latest.map_or(ts, |l| l.max(ts)));
                None
            }
            ts => ts,
        };
        match timestamp {
            Some(ts) => {
                let tally = self.tallies.entry(id).or_default();
                let at = Timestamp(ts);
                c.first_seen = Some(c.first_seen.map_or(at, |f| f.min(at)));
                c.last_seen = Some(c.last_seen.map_or(at, |l| l.max(at)));
                self.newest = Some(self.newest.map_or(ts, |n| n.max(ts)));
                let reference = self.set.now.or(self.newest).unwrap_or(ts);
                let sec = ts.div_euclid(NANOS);
                if sec > reference.div_euclid(NANOS) - self.set.reach {
                    // A late entry in what is already kept per minute counts in its minute.
                    let key = if sec < self.coarsened_to {
                        sec - sec.rem_euclid(60)
                    } else {
                        sec
                    };
                    tally.second.add(key, &mut c.per_second);
                }
                let bucket = bucket_start(sec, self.set.bucket);
                if bucket >= series_floor(reference, self.set.bucket, self.set.max_buckets) {
                    tally.bucket.add(bucket, &mut c.series);
                }
                if self.set.traces > 0 && !r.trace.is_empty() {
                    c.traces.note(r.trace_hash, ts);
                }
                if let Some(m) = &self.set.remember {
                    let key = entry_key(batch.bytes(r.insert_id), batch.bytes(r.raw), ts);
                    match m.lookup.counted(ts, key, &mut self.seen_hint) {
                        Some(true) => c.recount.repeated += 1,
                        Some(false) => c.recount.fresh += 1,
                        None => {}
                    }
                    let newest = self.newest.unwrap_or(ts);
                    if ts >= newest.saturating_sub(m.overlap) {
                        self.seen.push((ts, key));
                    }
                }
            }
            None if r.timestamp.is_none() => self.out.without_timestamp += 1,
            None => {}
        }
        let rev = batch.str(r.revision);
        if !rev.is_empty() {
            match c.revisions.get_mut(rev) {
                Some(n) => *n += 1,
                None => {
                    c.revisions.insert(rev.to_string(), 1);
                }
            }
        }
        let (module, function, line) = (
            if r.module.is_empty() {
                r.file
            } else {
                r.module
            },
            r.function,
            r.line,
        );
        if !(module.is_empty() && function.is_empty()) {
            // Hashed as raw bytes: a known location needs no UTF-8 check. Each part in one call
            // seeded with the hash so far (boundaries count; in memory only, never persisted).
            let mut h = 0;
            for part in [module, function, line] {
                h = xxhash_rust::xxh3::xxh3_64_with_seed(batch.bytes(part), h);
            }
            let key = self.locations.entry(h).or_insert_with(|| {
                let [m, f, l] = [module, function, line].map(|p| batch.str(p));
                format!("{m}:{f}:{l}")
            });
            match c.locations.get_mut(key.as_str()) {
                Some(n) => *n += 1,
                None => {
                    c.locations.insert(key.clone(), 1);
                }
            }
        }
        if let Some(h) = &r.http {
            if h.status != 0 {
                *c.http_statuses.entry(h.status).or_insert(0) += 1;
            }
            if let Some(us) = h.latency_us {
                c.latency_us.get_or_insert_default().record(us);
            }
        }
        keep_sample(&mut c.samples, self.set.samples, batch, r);
    }

    /// Adds the counts still pending (see [`tally`]) to the clusters' maps: before anything
    /// reads, cuts or moves them.
    fn settle(&mut self) {
        tally::settle(&mut self.tallies, &mut self.clusters);
    }

    /// Folds the clusters past this shard's share of `aggregate.max_clusters` (see
    /// [`overflow`]); their templates are no longer needed.
    fn fold(&mut self) {
        self.settle();
        let keep = self.set.max_clusters;
        for (id, into) in
            overflow::fold(&mut self.clusters, keep, self.set.samples, self.set.traces)
        {
            self.templates.remove(&id);
            self.folded.insert(id, into);
        }
        let overflows = self
            .clusters
            .values()
            .filter(|c| overflow::is_overflow(c))
            .count();
        self.fold_at = fold_threshold(keep, overflows);
    }

    /// Drops per-second counts that no window can reach any more, and remembered entries
    /// older than `state.overlap` before the newest.
    fn prune(&mut self) {
        // `gardener watch` counts windows back from the clock: what is older cannot count.
        let clock = self
            .set
            .rolling_margin
            .map(|_| crate::model::time::now_nanos());
        self.settle();
        let Some(reference) = self.set.now.or(self.newest).max(clock) else {
            return;
        };
        self.prune_seen();
        let floor = reference.div_euclid(NANOS) - self.set.reach;
        let series_floor = series_floor(reference, self.set.bucket, self.set.max_buckets);
        // Minute-aligned, so that every minute is folded whole, once.
        let coarse = self.set.coarse_after.map(|after| {
            let to = reference.div_euclid(NANOS) - after;
            (self.coarsened_to, to - to.rem_euclid(60))
        });
        for c in self.clusters.values_mut() {
            if c.series
                .first_key_value()
                .is_some_and(|(k, _)| *k < series_floor)
            {
                c.series = c.series.split_off(&series_floor);
            }
            if c.per_second
                .first_key_value()
                .is_some_and(|(k, _)| *k <= floor)
            {
                c.per_second = c.per_second.split_off(&(floor + 1));
            }
            if let Some((from, to)) = coarse {
                per_minute(&mut c.per_second, from, to);
            }
        }
        if let Some((_, to)) = coarse {
            self.coarsened_to = self.coarsened_to.max(to);
        }
    }

    /// Keeps the entries within `state.overlap` of the newest, and at most the `state.max_ids`
    /// newest; runs when the list has grown by half the cap (or doubled) since it was last
    /// pruned, so the work per entry stays constant and memory stays bounded by the cap.
    fn prune_seen(&mut self) {
        let (Some(m), Some(newest)) = (&self.set.remember, self.newest) else {
            return;
        };
        let cap = if m.max_ids == 0 {
            usize::MAX
        } else {
            m.max_ids
        };
        // Pruned when the list has doubled, or grown by a quarter of the cap: constant work
        // per entry, and never much more than the cap held.
        let room = |kept: usize| kept.max(4096).min(cap / 4 + 4096);
        if self.seen.len() <= self.seen_kept + room(self.seen_kept) {
            return;
        }
        let floor = newest.saturating_sub(m.overlap);
        self.seen.retain(|e| e.0 >= floor);
        cut_to_newest(&mut self.seen, cap);
        self.seen_kept = self.seen.len();
        // Room for what comes before the next prune, and no more: a list that doubled past the
        // cap would keep that size for the rest of a watch.
        self.seen
            .shrink_to(self.seen_kept + room(self.seen_kept) + 1);
    }

    /// A copy of what the shard has counted so far, for an epoch of `gardener watch`; first
    /// evicts the clusters (and their templates) whose newest entry is more than `lateness`
    /// (nanoseconds) older than the newest entry seen, so that memory is bounded by the longest
    /// window whatever the clock says (a replay of old logs keeps its clusters).
    pub fn snapshot(&mut self, lateness: Option<i64>) -> (Aggregate, Option<i64>) {
        if let (Some(lateness), Some(newest)) = (lateness, self.newest) {
            self.evict(newest.saturating_sub(lateness));
        }
        self.prune();
        let mut out = self.out.clone();
        if self.set.remember.is_some() {
            out.seen = Some(self.seen.clone());
        }
        out.clusters = self.clusters.values().cloned().collect();
        (out, self.newest)
    }

    /// Drops the clusters last seen before `floor` (overflow clusters stay: one per service).
    /// A fingerprint seen again starts a new cluster; the fingerprint workers announce its
    /// template again (see `epoch::Number`).
    fn evict(&mut self, floor: i64) {
        self.settle();
        let before = self.clusters.len();
        let templates = &mut self.templates;
        self.clusters.retain(|id, c| {
            let keep = overflow::is_overflow(c) || c.last_seen.is_none_or(|l| l.nanos() >= floor);
            if !keep {
                templates.remove(id);
            }
            keep
        });
        self.out.evicted += (before - self.clusters.len()) as u64;
        // Redirects to overflow clusters are bounded too: past four times the cap, a folded
        // fingerprint seen again competes for a place anew.
        if self.folded.len() > 4 * self.set.max_clusters.max(1024) {
            self.folded = IdMap::default();
        }
    }

    /// Ends the shard and returns its clusters (windows are filled in by [`finish`]).
    pub fn end(mut self) -> (Aggregate, Option<i64>) {
        self.settle();
        self.seen_kept = 0;
        self.prune_seen();
        if self.set.remember.is_some() {
            self.out.seen = Some(std::mem::take(&mut self.seen));
        }
        for c in self.clusters.values_mut() {
            if c.template.is_empty()
                && let Some((scope, t)) = self.templates.get(&c.id)
            {
                c.scope.clone_from(scope);
                c.template.clone_from(t);
            }
        }
        self.out.clusters = self.clusters.into_values().collect();
        (self.out, self.newest)
    }
}

/// Folds the per-second counts of seconds `from..to` (minute-aligned) into one count per
/// minute, keyed by the minute's first second.
fn per_minute(per_second: &mut BTreeMap<i64, u64>, from: i64, to: i64) {
    if from >= to
        || per_second
            .range(from.max(i64::MIN + 1)..to)
            .all(|(k, _)| k.rem_euclid(60) == 0)
    {
        return;
    }
    let mut span = per_second.split_off(&from);
    let mut after = span.split_off(&to);
    for (k, n) in span {
        *per_second.entry(k - k.rem_euclid(60)).or_insert(0) += n;
    }
    per_second.append(&mut after);
}

/// Sample order: newest first; ties broken by insertId, then raw bytes, so the choice does not
/// depend on input order.
fn sample_key<'a>(
    ts: Option<Timestamp>,
    id: &'a str,
    raw: &'a str,
) -> (Option<Timestamp>, &'a str, &'a str) {
    (ts, id, raw)
}

fn keep_sample(samples: &mut Vec<Sample>, max: usize, batch: &Batch, r: &Record) {
    if max == 0 {
        return;
    }
    // Most entries are older than every sample kept: decided on the timestamp alone, without
    // looking at (and validating) the entry's raw text.
    if samples.len() == max && r.timestamp < samples[max - 1].timestamp {
        return;
    }
    let id = batch.str(r.insert_id);
    let raw = batch.str(r.raw);
    let key = sample_key(r.timestamp, id, raw);
    if samples.len() == max {
        let last = &samples[max - 1];
        if key <= sample_key(last.timestamp, &last.insert_id, &last.raw) {
            return;
        }
    }
    if samples
        .iter()
        .any(|s| sample_key(s.timestamp, &s.insert_id, &s.raw) == key)
    {
        return;
    }
    // Reuse the evicted sample's allocations.
    let mut s = if samples.len() == max {
        samples.pop().unwrap_or_default()
    } else {
        Sample::default()
    };
    s.timestamp = r.timestamp;
    s.insert_id.clear();
    s.insert_id.push_str(id);
    s.raw = raw.into();
    let at = samples
        .iter()
        .position(|x| sample_key(x.timestamp, &x.insert_id, &x.raw) < key)
        .unwrap_or(samples.len());
    samples.insert(at, s);
}

/// A request for a shard's [`Shard::snapshot`] (an epoch of `gardener watch`).
pub struct SnapshotRequest {
    /// Clusters last seen this long (nanoseconds) before the newest entry are evicted first.
    pub lateness: Option<i64>,
    pub reply: oneshot::Sender<(Aggregate, Option<i64>)>,
}

/// How `gardener watch` reaches a running shard: the batches it has finished with (for the
/// cut, see `epoch`) and its snapshot requests.
pub struct Control {
    pub done: Arc<Counted>,
    pub snapshots: Receiver<SnapshotRequest>,
}

/// Runs one shard until its input closes, answering snapshot requests meanwhile.
pub async fn run(
    mut rx: Receiver<Routed>,
    set: AggregateSettings,
    stats: Arc<StageStats>,
    control: Option<Control>,
) -> (Aggregate, Option<i64>) {
    let mut shard = Shard::new(set);
    let Some(Control {
        done,
        mut snapshots,
    }) = control
    else {
        while let Some(batch) = next(&mut rx, &stats).await {
            add(&mut shard, &batch, &stats);
        }
        return shard.end();
    };
    loop {
        tokio::select! {
            biased;
            batch = next(&mut rx, &stats) => {
                let Some(batch) = batch else { break };
                add(&mut shard, &batch, &stats);
                done.add();
            }
            Some(req) = snapshots.recv() => {
                let _ = req.reply.send(shard.snapshot(req.lateness));
            }
        }
    }
    shard.end()
}

async fn next(rx: &mut Receiver<Routed>, stats: &StageStats) -> Option<Routed> {
    stats.queued(rx.len());
    rx.recv().await
}

fn add(shard: &mut Shard, routed: &Routed, stats: &StageStats) {
    let t = stats.start(0);
    let own = shard.add_routed(&routed.batch, &routed.records);
    stats.finish_own(t, own);
}

/// Adds everything counted in `b` to `a` (the cluster keeps `a`'s id and template). Every
/// part is a sum, a min/max or a "newest N" choice, so merging in any order gives the same
/// result.
pub fn merge_cluster(a: &mut Cluster, b: Cluster, max_samples: usize) {
    a.count += b.count;
    a.folded += b.folded;
    a.recount.fresh += b.recount.fresh;
    a.recount.repeated += b.recount.repeated;
    a.first_seen = match (a.first_seen, b.first_seen) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    a.last_seen = match (a.last_seen, b.last_seen) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    for (x, y) in a.severities.iter_mut().zip(b.severities) {
        *x += y;
    }
    a.severity_from_text += b.severity_from_text;
    for (k, v) in b.revisions {
        *a.revisions.entry(k).or_insert(0) += v;
    }
    for (k, v) in b.locations {
        *a.locations.entry(k).or_insert(0) += v;
    }
    for (k, v) in b.per_second {
        *a.per_second.entry(k).or_insert(0) += v;
    }
    for (k, v) in b.series {
        *a.series.entry(k).or_insert(0) += v;
    }
    for (k, v) in b.http_statuses {
        *a.http_statuses.entry(k).or_insert(0) += v;
    }
    match (&mut a.latency_us, b.latency_us) {
        (Some(x), Some(y)) => x.add(y),
        (x @ None, y) => *x = y,
        _ => {}
    }
    a.traces.merge(b.traces);
    a.samples.extend(b.samples);
    a.samples.sort_by(|x, y| {
        sample_key(y.timestamp, &y.insert_id, &y.raw).cmp(&sample_key(
            x.timestamp,
            &x.insert_id,
            &x.raw,
        ))
    });
    a.samples.dedup_by(|x, y| {
        x.timestamp == y.timestamp && x.insert_id == y.insert_id && x.raw == y.raw
    });
    a.samples.truncate(max_samples);
}

/// The bad entries a report lists: the first [`BAD_LISTED`] by (input, entry), whatever order
/// the shards or parts came in.
pub fn list_bad(bad: &mut Vec<crate::model::record::BadInfo>) {
    bad.sort_by(|a, b| (&a.input, a.entry).cmp(&(&b.input, b.entry)));
    bad.truncate(BAD_LISTED);
}

/// Finishes the run's combined aggregate (one cluster per raw fingerprint, see
/// `merge::combine`): applies the template generalization (`final_ids` maps a raw fingerprint
/// to its final id and template; clusters mapped to one id are merged) and counts the windows
/// back from `now`, else `newest`.
pub fn finish(
    (mut all, newest): (Aggregate, Option<i64>),
    final_ids: &HashMap<u64, (u64, String)>,
    windows: Vec<(String, i64)>,
    now: Option<i64>,
    max_samples: usize,
) -> Aggregate {
    let mut clusters = std::mem::take(&mut all.clusters);
    clusters.sort_by_key(|c| c.id);
    let mut merged: BTreeMap<u64, Cluster> = BTreeMap::new();
    for mut c in clusters {
        if let Some((id, template)) = final_ids.get(&c.id) {
            c.id = *id;
            c.template.clone_from(template);
        }
        match merged.get_mut(&c.id) {
            Some(into) => merge_cluster(into, c, max_samples),
            None => {
                merged.insert(c.id, c);
            }
        }
    }
    all.clusters = merged.into_values().collect();
    list_bad(&mut all.bad);
    all.windows = windows;
    all.reference = now.or(newest);
    for c in &mut all.clusters {
        c.windows = window_counts(&c.per_second, all.reference, &all.windows);
    }
    all
}

/// Bounds every cluster's time series to the `max_buckets` buckets ending with the reference's
/// bucket (entries after the reference, possible with `--now`, are dropped too). Run once when
/// aggregation has finished, so the result does not depend on input order: shards prune only
/// what this would drop anyway (their reference is never later than the final one).
pub fn bound_series(agg: &mut Aggregate, bucket: i64, max_buckets: usize) {
    let Some(reference) = agg.reference else {
        return;
    };
    let floor = series_floor(reference, bucket, max_buckets);
    let top = bucket_start(reference.div_euclid(NANOS), bucket);
    for c in &mut agg.clusters {
        c.series.retain(|k, _| (floor..=top).contains(k));
    }
}

/// Counts per window from per-second counts (see the module docs for the exact rule).
pub fn window_counts(
    per_second: &BTreeMap<i64, u64>,
    reference: Option<i64>,
    windows: &[(String, i64)],
) -> Vec<u64> {
    let Some(reference) = reference else {
        return vec![0; windows.len()];
    };
    let top = reference.div_euclid(NANOS);
    windows
        .iter()
        .map(|(_, w)| per_second.range(top - w + 1..=top).map(|(_, n)| n).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_whole_seconds_back_from_reference() {
        let mut ps = BTreeMap::new();
        let top = 1_000_000i64;
        ps.insert(top, 2);
        ps.insert(top - 299, 1); // inside 5m
        ps.insert(top - 300, 1); // exactly 5m back: outside 5m, inside 1h
        ps.insert(top - 3600, 4); // outside 1h
        ps.insert(top + 5, 7); // after the reference: in no window
        let w = vec![("5m".to_string(), 300), ("1h".to_string(), 3600)];
        assert_eq!(window_counts(&ps, Some(top * NANOS + 999), &w), vec![3, 4]);
        assert_eq!(window_counts(&ps, None, &w), vec![0, 0]);
    }

    /// One shard of one, no cap, no clock: what a test changes is spelled out.
    fn settings() -> AggregateSettings {
        AggregateSettings {
            shard: 0,
            shards: 1,
            samples: 1,
            reach: 86_400,
            now: None,
            bucket: 300,
            max_buckets: 12,
            max_clusters: 0,
            traces: 0,
            latest: i64::MAX,
            rolling_margin: None,
            coarse_after: None,
            inputs: Arc::new(vec!["t".into()]),
            remember: None,
        }
    }

    /// The bad entries listed are the first by entry number whatever order the batches
    /// arrive in (two workers before the aggregate can swap them).
    #[test]
    fn the_bad_entries_listed_do_not_depend_on_batch_order() {
        let batches: Vec<Batch> = (0..30u64)
            .map(|b| Batch {
                bad: (0..10u64)
                    .map(|i| crate::model::record::BadEntry {
                        entry_no: b * 10 + i,
                        offset: (b * 10 + i) * 100,
                        reason: "not a JSON object".into(),
                        raw: Default::default(),
                        size: 1,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        let listed = |order: &mut dyn Iterator<Item = &Batch>| {
            let mut shard = Shard::new(settings());
            order.for_each(|b| {
                shard.add(b);
            });
            let (mut agg, _) = shard.end();
            assert_eq!(agg.bad_count, 300);
            assert!(agg.bad.len() < 2 * BAD_LISTED);
            list_bad(&mut agg.bad);
            agg.bad.iter().map(|b| b.entry).collect::<Vec<_>>()
        };
        let forward = listed(&mut batches.iter());
        assert_eq!(forward, (0..BAD_LISTED as u64).collect::<Vec<_>>());
        assert_eq!(listed(&mut batches.iter().rev()), forward);
    }

    #[test]
    fn per_minute_folds_the_aged_seconds_and_keeps_the_rest_exact() {
        let mut ps: BTreeMap<i64, u64> = [(59, 1), (60, 2), (61, 3), (119, 4), (120, 5), (185, 6)]
            .into_iter()
            .collect();
        per_minute(&mut ps, i64::MIN, 120);
        let want: BTreeMap<i64, u64> = [(0, 1), (60, 9), (120, 5), (185, 6)].into_iter().collect();
        assert_eq!(ps, want);
        // Folding again, or an empty span, changes nothing; the total never changes.
        per_minute(&mut ps, 60, 120);
        per_minute(&mut ps, 120, 120);
        assert_eq!(ps, want);
        per_minute(&mut ps, 120, 180);
        assert_eq!(ps.values().sum::<u64>(), 21);
        assert_eq!(ps.get(&185), Some(&6), "seconds after the span stay");
    }

    #[test]
    fn a_snapshot_leaves_the_shard_counting_and_evicts_what_the_watermark_left_behind() {
        let set = AggregateSettings {
            reach: 3600,
            ..settings()
        };
        let mut shard = Shard::new(set);
        let at = |fingerprint: u64, secs: i64| Batch {
            buf: Arc::new(b"{}".to_vec()),
            records: vec![Record {
                timestamp: Some(Timestamp(secs * NANOS)),
                fingerprint,
                raw: crate::model::record::Str::raw(0..2),
                ..Default::default()
            }],
            ..Default::default()
        };
        shard.add(&at(1, 1_000_000));
        shard.add(&at(2, 1_000_000));
        let (first, _) = shard.snapshot(Some(3600 * NANOS));
        assert_eq!(
            (first.entries, first.clusters.len(), first.evicted),
            (2, 2, 0)
        );
        // Two hours later by event time: cluster 1 is seen again, cluster 2 is not.
        shard.add(&at(1, 1_007_200));
        let (second, newest) = shard.snapshot(Some(3600 * NANOS));
        assert_eq!(newest, Some(1_007_200 * NANOS));
        assert_eq!(second.entries, 3, "evicted clusters stay in the totals");
        assert_eq!(second.evicted, 1);
        let ids: Vec<(u64, u64)> = second.clusters.iter().map(|c| (c.id, c.count)).collect();
        assert_eq!(ids, vec![(1, 2)]);
        // A snapshot does not end the shard: it goes on counting.
        shard.add(&at(2, 1_007_201));
        let (end, _) = shard.end();
        let mut ids: Vec<(u64, u64)> = end.clusters.iter().map(|c| (c.id, c.count)).collect();
        ids.sort();
        assert_eq!(ids, vec![(1, 2), (2, 1)], "an evicted cluster starts anew");
    }

    fn series_record(ts: &[i64], now: Option<i64>, max_buckets: usize) -> BTreeMap<i64, u64> {
        let set = AggregateSettings {
            now,
            max_buckets,
            ..settings()
        };
        let mut shard = Shard::new(set);
        for (i, t) in ts.iter().enumerate() {
            let raw = "{}".to_string();
            let b = Batch {
                buf: Arc::new(raw.into_bytes()),
                records: vec![Record {
                    entry_no: i as u64,
                    timestamp: Some(Timestamp(*t * NANOS)),
                    fingerprint: 1,
                    raw: crate::model::record::Str::raw(0..2),
                    ..Default::default()
                }],
                ..Default::default()
            };
            shard.add(&b);
            shard.prune();
        }
        let (agg, newest) = shard.end();
        let mut all = finish((agg, newest), &HashMap::new(), vec![], now, 1);
        bound_series(&mut all, 300, max_buckets);
        all.clusters[0].series.clone()
    }

    #[test]
    fn past_its_cap_a_shard_folds_clusters_and_their_later_entries_follow() {
        let set = AggregateSettings {
            max_buckets: 10,
            max_clusters: 4,
            ..settings()
        };
        let mut shard = Shard::new(set);
        let batch = |fingerprints: &[u64]| Batch {
            buf: Arc::new(b"{}".to_vec()),
            records: fingerprints
                .iter()
                .map(|&f| Record {
                    timestamp: Some(Timestamp(1_000 * NANOS)),
                    fingerprint: f,
                    severity: if f == 7 {
                        crate::model::record::Severity::Error
                    } else {
                        crate::model::record::Severity::Info
                    },
                    raw: crate::model::record::Str::raw(0..2),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        // Fingerprint 1 is frequent, 7 an error: both stay; the rest are single infos.
        shard.add(&batch(&[1, 1, 1, 7]));
        shard.add(&batch(&(100..140).collect::<Vec<u64>>()));
        // A folded fingerprint's later entries count in the overflow cluster.
        let folded = *shard.folded.keys().next().expect("something folded");
        shard.add(&batch(&[folded, folded, 1]));
        let (agg, _) = shard.end();
        assert_eq!(agg.entries, 47);
        assert_eq!(agg.clusters.iter().map(|c| c.count).sum::<u64>(), 47);
        let ids: std::collections::BTreeSet<u64> = agg.clusters.iter().map(|c| c.id).collect();
        assert!(ids.contains(&1) && ids.contains(&7), "{ids:?}");
        assert!(!ids.contains(&folded));
        let over: Vec<_> = agg
            .clusters
            .iter()
            .filter(|c| overflow::is_overflow(c))
            .collect();
        assert_eq!(over.len(), 1, "one service, one overflow cluster");
        // At most the cap and a quarter, plus the overflow cluster, are held at any time.
        assert!(
            agg.clusters.len() <= 4 + 1 + 1 + 1,
            "{}",
            agg.clusters.len()
        );
        let plain = agg.clusters.len() as u64 - 1;
        assert_eq!(
            over[0].folded + plain,
            42,
            "every distinct fingerprint is accounted for"
        );
    }

    #[test]
    fn series_buckets_are_order_independent_and_bounded() {
        // Newest first (gcloud), oldest first and shuffled give the same series.
        let ts = [
            10_000i64, 9_999, 9_000, 8_700, 7_200, 1_000, 600, 599, 9_001,
        ];
        let newest_first = {
            let mut v = ts.to_vec();
            v.sort_by(|a, b| b.cmp(a));
            v
        };
        let oldest_first = {
            let mut v = ts.to_vec();
            v.sort();
            v
        };
        let a = series_record(&ts, None, 8);
        assert_eq!(a, series_record(&newest_first, None, 8));
        assert_eq!(a, series_record(&oldest_first, None, 8));
        // Reference 10_000 is in bucket 9_900; 8 buckets back reach 7_800.
        let expected: BTreeMap<i64, u64> = [(9_900, 2), (9_000, 2), (8_700, 1)].into();
        assert_eq!(a, expected);
        // Unbounded enough, every bucket stays; entries after --now are dropped.
        let b = series_record(&ts, Some(9_500 * NANOS), 1000);
        let expected: BTreeMap<i64, u64> = [
            (300, 1),
            (600, 1),
            (900, 1),
            (7_200, 1),
            (8_700, 1),
            (9_000, 2),
        ]
        .into();
        assert_eq!(b, expected);
    }

    #[test]
    fn samples_are_newest_first_and_order_independent() {
        let mk = |ts: i64, id: &str| {
            let raw = format!("{{\"insertId\":\"{id}\"}}");
            let mut b = Batch {
                buf: Arc::new(raw.clone().into_bytes()),
                ..Default::default()
            };
            let rec = Record {
                timestamp: Some(Timestamp(ts)),
                insert_id: b.push_arena(id),
                raw: crate::model::record::Str::raw(0..raw.len()),
                ..Default::default()
            };
            (b, rec)
        };
        let inputs = [(5, "a"), (9, "b"), (1, "c"), (9, "a"), (7, "d")];
        let mut forward = Vec::new();
        for (ts, id) in inputs {
            let (b, r) = mk(ts, id);
            keep_sample(&mut forward, 3, &b, &r);
        }
        let mut backward = Vec::new();
        for (ts, id) in inputs.iter().rev() {
            let (b, r) = mk(*ts, id);
            keep_sample(&mut backward, 3, &b, &r);
        }
        let ids = |v: &Vec<Sample>| {
            v.iter()
                .map(|s| (s.timestamp.unwrap().nanos(), s.insert_id.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&forward),
            vec![(9, "b".into()), (9, "a".into()), (7, "d".into())]
        );
        assert_eq!(ids(&forward), ids(&backward));
    }
    #[test]
    fn a_shard_holds_no_more_ids_than_the_state_keeps_and_the_state_is_the_same() {
        use crate::state::seen::SeenIds;
        // Many entries per timestamp, some read twice, split over two shards.
        let mut x = 7u64;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..6000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let e = (((x >> 33) % 700) as i64, (x >> 7) % 4000);
            if i % 3 == 0 { a.push(e) } else { b.push(e) }
        }
        // Also every entry in one shard: a list cut to exactly the cap would move where the
        // memory starts.
        let one_each: Vec<(i64, u64)> = (0..3000).map(|i| (i, i as u64)).collect();
        for (a, b) in [
            (a.clone(), b.clone()),
            ([a, b].concat(), Vec::new()),
            (one_each, Vec::new()),
        ] {
            for cap in [1, 7, 100, 999, 2500, 5000, 10_000] {
                let mut whole = SeenIds::default();
                whole.remember([a.clone(), b.clone()].concat(), Some(3), 400, cap);
                let (mut ca, mut cb) = (a.clone(), b.clone());
                cut_to_newest(&mut ca, cap);
                cut_to_newest(&mut cb, cap);
                assert!(ca.len() <= a.len() && cb.len() <= b.len());
                let mut cut = SeenIds::default();
                cut.remember([ca, cb].concat(), Some(3), 400, cap);
                assert_eq!(whole, cut, "cap {cap}");
                let mut again = cut.clone();
                let mut later = whole.clone();
                let more = vec![(650, 1), (700, 2), (700, 3)];
                let mut cm = more.clone();
                cut_to_newest(&mut cm, cap);
                again.remember(cm, None, 400, cap);
                later.remember(more, None, 400, cap);
                assert_eq!(again, later, "cap {cap}, a second run");
            }
        }
    }
}
