//! The state store: what Log Gardener remembers across runs, in one JSON file
//! (`<state.dir>/state.json`, `--state DIR`, `--state none` for none).
//!
//! Per fingerprint: the first entry ever seen, the newest entry seen (the *high-water mark*),
//! the total of entries counted, the priority last reported, whether its GitHub issue was
//! closed, and its time series (counts per bucket, `state.history` back). Per store: the
//! buckets runs have observed (so a baseline knows where a cluster was silent) and the newest
//! reference time of a run.
//!
//! **No double counting.** A run adds to a cluster's total only the entries no earlier run
//! counted: those the insertId memory ([`seen`]) does not hold, and, for entries older than
//! the memory reaches, those newer than the cluster's stored last-seen time. Series merge
//! bucket by bucket with `max`. So running again over the same logs, or over logs that overlap
//! the last run (at equal timestamps too), changes no total. (The price: logs older than the
//! memory and than what was already seen — a backfill — do not add to the totals; entries
//! without a timestamp count only the first time a cluster is seen; and two runs that each saw
//! part of one bucket keep the larger part.)
//!
//! **Interrupted runs** leave the store untouched: they read only part of the input (with
//! gcloud's newest-first order, the newest part), and moving the high-water mark past entries
//! never read would lose them for good.
//!
//! **Crash safety.** The file is written to a temporary file in the same directory, synced, and
//! renamed over the old one (then the directory is synced), so a crash leaves the old state or
//! the new one, never a mix. A file that cannot be parsed stops the run with exit code 3 and
//! says how to recover, rather than being overwritten.

pub mod lock;
pub mod seen;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::model::id::Known;
use crate::model::id::format_id;
use crate::model::record::{Aggregate, Cluster, Report};
use crate::model::time::bucket_start;
use crate::model::time::{Timestamp, format_rfc3339, parse_rfc3339};
use seen::SeenIds;

use crate::model::time::NANOS;
/// The file format's version; a newer one is refused rather than misread.
pub const VERSION: u32 = 1;
/// Templates the memory keeps at most.
pub const MAX_TEMPLATES: usize = 20_000;
/// The file's name under the state directory.
pub const FILE: &str = "state.json";

/// What is remembered about one cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    pub service: String,
    pub template: String,
    /// The oldest entry ever seen (RFC 3339).
    pub first_seen: Option<String>,
    /// The newest entry seen: the high-water mark (RFC 3339).
    pub last_seen: Option<String>,
    /// Entries counted over all runs, each once.
    pub total: u64,
    /// Priority in the last report.
    pub priority: String,
    /// Its GitHub issue was closed as completed when the GitHub sink last looked.
    pub closed: bool,
    /// Entries per bucket start (Unix seconds), `state.history` back.
    pub series: BTreeMap<i64, u64>,
    /// The problem it belonged to in the last report: problems keep their ids across runs
    /// (see `correlate::keep_ids`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Seen {
    pub fn last_seen_nanos(&self) -> Option<i64> {
        self.last_seen.as_deref().and_then(parse_rfc3339)
    }

    pub fn first_seen_nanos(&self) -> Option<i64> {
        self.first_seen.as_deref().and_then(parse_rfc3339)
    }
}

/// The whole store.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub version: u32,
    /// Bucket size of the series, in seconds; history kept at another size is dropped.
    pub bucket_secs: i64,
    /// The newest reference time of a run (RFC 3339).
    pub reference: Option<String>,
    /// Bucket starts observed by runs, `state.history` back.
    pub observed: BTreeSet<i64>,
    /// Fingerprint → what is remembered.
    pub clusters: BTreeMap<String, Seen>,
    /// The template memory: templates generalized by runs (scope → template → the reference
    /// time, RFC 3339, of the newest run that used it). Raw templates they cover take their
    /// text and id in later runs (see `fingerprint::mine`), so ids do not change when a run
    /// alone would not generalize. At most [`MAX_TEMPLATES`], the least recently used dropped.
    #[serde(default)]
    pub templates: BTreeMap<String, BTreeMap<String, String>>,
    /// The insertId memory (see [`seen`]).
    #[serde(default, skip_serializing_if = "SeenIds::is_empty")]
    pub seen_ids: SeenIds,
    /// Where it lives (not stored).
    #[serde(skip)]
    pub path: PathBuf,
}

impl Store {
    /// An empty store for `path`.
    pub fn empty(path: PathBuf, bucket_secs: i64) -> Store {
        Store {
            version: VERSION,
            bucket_secs,
            reference: None,
            observed: BTreeSet::new(),
            clusters: BTreeMap::new(),
            templates: BTreeMap::new(),
            seen_ids: SeenIds::default(),
            path,
        }
    }

    /// The store for a run: `dir` from `--state` or `state.dir`; `None` for `none`. A missing
    /// file is an empty store; an unreadable or corrupt one is an error for people.
    pub fn open(dir: &str, cfg: &Config) -> Result<Option<Store>, String> {
        if dir.trim() == "none" {
            return Ok(None);
        }
        let path = Path::new(dir).join(FILE);
        let bucket = cfg.bucket_secs();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Some(Store::empty(path, bucket)));
            }
            Err(e) => {
                return Err(format!(
                    "cannot read the state file {}: {e} (use --state DIR for another directory, or --state none to run without state)",
                    path.display()
                ));
            }
        };
        let mut store: Store = serde_json::from_str(&text).map_err(|e| {
            format!(
                "the state file {} is corrupt ({e}); move it away or delete it to start a fresh history (clusters will look new once), or run with --state none",
                path.display()
            )
        })?;
        if store.version > VERSION {
            return Err(format!(
                "the state file {} has version {}, newer than this gardener understands ({VERSION}); upgrade, or use another --state directory",
                path.display(),
                store.version
            ));
        }
        if store.bucket_secs != bucket {
            // Series kept at another bucket size cannot be compared: start them afresh.
            store.bucket_secs = bucket;
            store.observed.clear();
            for s in store.clusters.values_mut() {
                s.series.clear();
            }
        }
        store.path = path;
        Ok(Some(store))
    }

    pub fn reference_secs(&self) -> Option<i64> {
        self.reference
            .as_deref()
            .and_then(parse_rfc3339)
            .map(|r| r.div_euclid(NANOS))
    }

    /// Adds a finished run: totals (entries newer than the high-water mark only), first and last
    /// seen, priorities from the report, series and observed buckets (merged by `max`), and the
    /// closed flags the GitHub sink saw (`closed`: fingerprint → closed now). Idempotent: the
    /// same run added twice leaves the store as after the first time.
    /// Cluster id → the id of the problem it belonged to in the last report.
    pub fn known_problems(&self) -> std::collections::HashMap<u64, u64> {
        self.clusters
            .iter()
            .filter_map(|(fp, s)| {
                let problem = s.problem.as_deref().and_then(crate::model::id::parse_id)?;
                Some((crate::model::id::parse_id(fp)?, problem))
            })
            .collect()
    }

    /// Entries of `c` that no earlier run counted (see [`new_entries`]).
    pub fn new_entries(&self, c: &Cluster) -> u64 {
        let mark = self
            .clusters
            .get(&format_id(c.id))
            .and_then(Seen::last_seen_nanos);
        new_entries(c, mark)
    }

    /// Adds a complete run's totals, marks, series and priorities (its insertIds go in first,
    /// through [`Store::remember`]). Each of the run's clusters is freed once it is counted, so
    /// the store grows as the aggregate shrinks.
    pub fn update(&mut self, mut agg: Aggregate, report: &Report, cfg: &Config) {
        let bucket = self.bucket_secs;
        let history = cfg.state.history.secs();
        let first_bucket = agg.first_bucket(bucket, cfg.aggregate.max_buckets);
        // Priority and (redacted, when reports are) template from the report.
        let reported: BTreeMap<&str, (crate::model::record::Priority, &str, &str)> = report
            .clusters
            .iter()
            .map(|c| {
                let row = (c.priority, c.template.as_str(), c.problem.as_str());
                (c.id.as_str(), row)
            })
            .collect();
        for c in std::mem::take(&mut agg.clusters) {
            let fp = format_id(c.id);
            let s = self.clusters.entry(fp.clone()).or_insert_with(|| Seen {
                service: c.service.clone(),
                ..Default::default()
            });
            let mark = s.last_seen_nanos();
            let new = new_entries(&c, mark);
            s.total += new;
            if let Some(f) = c.first_seen.map(Timestamp::nanos)
                && s.first_seen_nanos().is_none_or(|old| f < old)
            {
                s.first_seen = Some(format_rfc3339(f));
            }
            if let Some(l) = c.last_seen.map(Timestamp::nanos)
                && mark.is_none_or(|old| micros(l) > old)
            {
                s.last_seen = Some(format_rfc3339(l));
            }
            if let Some((p, t, problem)) = reported.get(fp.as_str()) {
                s.priority = p.to_string();
                s.template = t.to_string();
                s.problem = (!problem.is_empty()).then(|| problem.to_string());
            }
            if new > 0 {
                // Back after being closed: the regression has been reported once.
                s.closed = false;
            }
            for (b, n) in &c.series {
                let e = s.series.entry(*b).or_insert(0);
                *e = (*e).max(*n);
            }
        }
        if let Some(r) = agg.reference {
            let top = bucket_start(r.div_euclid(NANOS), bucket);
            if let Some(from) = first_bucket {
                let mut b = from;
                while b <= top {
                    self.observed.insert(b);
                    b += bucket;
                }
            }
            if self
                .reference_secs()
                .is_none_or(|old| r.div_euclid(NANOS) > old)
            {
                self.reference = Some(format_rfc3339(r));
            }
        }
        // Keep `history` back from the newest reference.
        if let Some(newest) = self.reference_secs() {
            let floor = bucket_start(newest - history, bucket);
            self.observed = self.observed.split_off(&floor);
            for s in self.clusters.values_mut() {
                s.series = s.series.split_off(&floor);
            }
        }
    }

    /// Adds a complete run's insertIds to the memory: with `seen` (the run's entries within
    /// `state.overlap` of its newest, as `(timestamp ns, key)`), the memory keeps the last
    /// `state.overlap` before the newest, at most `state.max_ids`; `None` (a merge, which counts
    /// by high-water marks alone) forgets the memory, which would miss them. `oldest` is the
    /// run's oldest entry. Called as soon as a run's shards are combined, so the run's list is
    /// freed before mining.
    pub fn remember(
        &mut self,
        seen: Option<Vec<(i64, u64)>>,
        oldest: Option<Timestamp>,
        cfg: &Config,
    ) {
        match seen {
            Some(mut run) => {
                // What the cut drops, `remember` would (see `cut_to_newest`): cut first, the
                // run never makes the memory hold more than about twice the cap.
                crate::state::seen::cut_to_newest(&mut run, cfg.state.max_ids);
                let overlap = cfg.state.overlap.secs();
                self.seen_ids.remember(
                    run,
                    oldest.map(Timestamp::nanos),
                    overlap.saturating_mul(NANOS),
                    cfg.state.max_ids,
                );
            }
            None => self.seen_ids.clear(),
        }
    }

    /// Whether each cluster's issue is closed, as the GitHub sink found it (by cluster id),
    /// after [`Store::update`]: a cluster back after being closed is reported as regressed once.
    pub fn mark_closed(&mut self, closed: &BTreeMap<String, bool>) {
        for (fp, is_closed) in closed {
            if let Some(s) = self.clusters.get_mut(fp) {
                s.closed = *is_closed;
            }
        }
    }

    /// The remembered generalized templates, for mining.
    pub fn known_templates(&self) -> Vec<Known> {
        self.templates
            .iter()
            .flat_map(|(scope, ts)| {
                ts.keys().map(|t| Known {
                    scope: scope.clone(),
                    template: t.clone(),
                })
            })
            .collect()
    }

    /// Remembers the templates a run generalized (or used from memory), stamped with the run's
    /// reference time; beyond [`MAX_TEMPLATES`] the least recently used are forgotten.
    pub fn learn_templates(&mut self, learned: Vec<Known>, reference: Option<i64>) {
        let stamp = reference.map(format_rfc3339).unwrap_or_default();
        for k in learned {
            let used = self
                .templates
                .entry(k.scope)
                .or_default()
                .entry(k.template)
                .or_default();
            if *used < stamp {
                used.clone_from(&stamp);
            }
        }
        let count: usize = self.templates.values().map(BTreeMap::len).sum();
        if count > MAX_TEMPLATES {
            let mut all: Vec<(String, String, String)> = Vec::with_capacity(count);
            for (scope, ts) in std::mem::take(&mut self.templates) {
                for (t, used) in ts {
                    all.push((used, scope.clone(), t));
                }
            }
            // Newest use first; ties by text, so the choice is the same on every machine.
            all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| (&a.1, &a.2).cmp(&(&b.1, &b.2))));
            all.truncate(MAX_TEMPLATES);
            for (used, scope, t) in all {
                self.templates.entry(scope).or_default().insert(t, used);
            }
        }
    }

    /// Writes the store atomically (see `sink::replace`): a temporary file in the same
    /// directory, buffered, synced, renamed over the old one; then the directory is synced.
    pub fn save(&self) -> Result<(), String> {
        let path = self.path.display().to_string();
        crate::stages::sink::replace(&path, true, |w| {
            serde_json::to_writer_pretty(&mut *w, self)?;
            w.write_all(b"\n")
        })
        .map_err(|e| format!("cannot write the state file {path}: {e}"))
    }
}

/// Entries of a cluster newer than `mark` (Unix nanoseconds); all of them without a mark.
/// Counted from the per-second counts when they reach back to the mark, else from the series
/// buckets after the mark's bucket (entries later in the mark's own bucket are then missed).
/// A time (Unix nanoseconds) at the microsecond precision the store keeps: compared with a
/// stored mark, an entry at 12.3456789 s is not newer than the mark 12.345678 s written for it
/// (the cause of totals growing by one on every re-run over the same logs).
fn micros(nanos: i64) -> i64 {
    nanos - nanos.rem_euclid(1000)
}

/// Entries of `c` that no earlier run counted: those the insertId memory does not know, plus,
/// of those older than the memory's start, the ones newer than the cluster's high-water
/// `mark`. Every entry the memory decided is at or after its start; with a mark before the
/// start, they are all among the entries after the mark, and are taken out of that count.
pub fn new_entries(c: &Cluster, mark: Option<i64>) -> u64 {
    let decided = c.recount.fresh + c.recount.repeated;
    c.recount.fresh + entries_after(c, mark).saturating_sub(decided)
}

pub fn entries_after(c: &Cluster, mark: Option<i64>) -> u64 {
    let Some(mark) = mark else {
        return c.count;
    };
    if c.last_seen.is_none_or(|l| micros(l.nanos()) <= mark) {
        return 0;
    }
    if c.first_seen.is_some_and(|f| micros(f.nanos()) > mark) {
        return c.count;
    }
    let sec = mark.div_euclid(NANOS);
    match c.per_second.keys().next() {
        Some(&first) if first <= sec => c.per_second.range(sec + 1..).map(|(_, n)| n).sum(),
        _ => c.series.range(sec + 1..).map(|(_, n)| n).sum(),
    }
}

/// The time (Unix seconds) of the cluster's first entry newer than `mark` (Unix nanoseconds),
/// when it has one (see [`entries_after`] for the precision).
pub fn first_after(c: &Cluster, mark: i64) -> Option<i64> {
    if c.last_seen.is_none_or(|l| micros(l.nanos()) <= mark) {
        return None;
    }
    if let Some(f) = c.first_seen.filter(|&f| micros(f.nanos()) > mark) {
        return Some(f.secs());
    }
    let sec = mark.div_euclid(NANOS);
    let from_seconds = c.per_second.range(sec + 1..).next().map(|(k, _)| *k);
    match c.per_second.keys().next() {
        Some(&first) if first <= sec => from_seconds,
        _ => {
            let from_series = c.series.range(sec + 1..).next().map(|(k, _)| *k);
            match (from_seconds, from_series) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(id: u64, seconds: &[i64]) -> Cluster {
        let mut per_second = BTreeMap::new();
        let mut series = BTreeMap::new();
        for s in seconds {
            *per_second.entry(*s).or_insert(0) += 1;
            *series.entry(bucket_start(*s, 300)).or_insert(0) += 1;
        }
        Cluster {
            id,
            template: format!("t{id}"),
            scope: "svc".into(),
            service: "svc".into(),
            count: seconds.len() as u64,
            first_seen: seconds.iter().min().map(|s| Timestamp(s * NANOS)),
            last_seen: seconds.iter().max().map(|s| Timestamp(s * NANOS)),
            severities: [0; 9],
            severity_from_text: 0,
            revisions: Default::default(),
            locations: Default::default(),
            per_second,
            series,
            windows: vec![],
            samples: vec![],
            http_statuses: Default::default(),
            latency_us: None,
            traces: Default::default(),
            recount: Default::default(),
            folded: 0,
        }
    }

    /// A store in a temporary directory (kept alive by the returned handle).
    fn temp_store(cfg: &Config) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let st = open_in(&dir, cfg);
        (dir, st)
    }

    fn open_in(dir: &tempfile::TempDir, cfg: &Config) -> Store {
        Store::open(dir.path().to_str().unwrap(), cfg)
            .unwrap()
            .unwrap()
    }

    fn aggregate(clusters: Vec<Cluster>) -> Aggregate {
        let reference = clusters.iter().filter_map(|c| c.last_seen).max();
        let reference = reference.map(Timestamp::nanos);
        Aggregate {
            clusters,
            reference,
            ..Default::default()
        }
    }

    fn report() -> Report {
        Report::empty()
    }

    #[test]
    fn counts_only_entries_past_the_high_water_mark() {
        let c = cluster(1, &[1000, 2000, 3000]);
        assert_eq!(entries_after(&c, None), 3);
        assert_eq!(entries_after(&c, Some(2000 * NANOS)), 1);
        assert_eq!(entries_after(&c, Some(3000 * NANOS)), 0);
        assert_eq!(entries_after(&c, Some(10 * NANOS)), 3);
        assert_eq!(first_after(&c, 1500 * NANOS), Some(2000));
        assert_eq!(first_after(&c, 3000 * NANOS), None);
    }

    /// Saved whole and read back the same, with no temporary file left; a place that cannot
    /// be written is an error naming the state file.
    #[test]
    fn saves_atomically_and_says_where_it_could_not() {
        let cfg = Config::default();
        let (dir, mut st) = temp_store(&cfg);
        let run = aggregate(vec![cluster(1, &[1000, 2000]), cluster(2, &[1500])]);
        st.update(run, &report(), &cfg);
        st.save().unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "lock")
            .collect();
        assert_eq!(names, vec![FILE.to_string()]);
        let again = open_in(&dir, &cfg);
        assert_eq!(again.clusters, st.clusters);
        let blocker = dir.path().join("a-file");
        std::fs::write(&blocker, "x").unwrap();
        st.path = blocker.join(FILE);
        let err = st.save().unwrap_err();
        assert!(err.starts_with("cannot write the state file"), "{err}");
        assert!(err.contains("a-file"), "{err}");
    }

    #[test]
    fn updates_are_idempotent_and_overlaps_not_double_counted() {
        let cfg = Config::default();
        let (_dir, mut st) = temp_store(&cfg);
        let run1 = aggregate(vec![cluster(1, &[1000, 2000]), cluster(2, &[1500])]);
        st.update(run1.clone(), &report(), &cfg);
        let after1 = st.clone();
        st.update(run1, &report(), &cfg);
        assert_eq!(st, after1, "the same run twice changes nothing");
        // An overlapping run: 2000 was seen already, 2500 and 4000 are new.
        let run2 = aggregate(vec![cluster(1, &[2000, 2500, 4000])]);
        st.update(run2.clone(), &report(), &cfg);
        let c1 = &st.clusters[&format_id(1)];
        assert_eq!(c1.total, 4);
        assert_eq!(c1.first_seen_nanos(), Some(1000 * NANOS));
        assert_eq!(c1.last_seen_nanos(), Some(4000 * NANOS));
        assert_eq!(st.clusters[&format_id(2)].total, 1);
        // The series merges by max: bucket 1800 holds 2000, seen by both runs: 1, not 2.
        assert_eq!(c1.series.get(&1800), Some(&1));
        assert_eq!(c1.series.get(&2400), Some(&1));
        // GitHub's view of closed issues is remembered.
        let closed: BTreeMap<String, bool> = [(format_id(2), true)].into();
        st.update(run2, &report(), &cfg);
        st.mark_closed(&closed);
        assert!(st.clusters[&format_id(2)].closed);
    }

    #[test]
    fn saves_atomically_and_refuses_corrupt_files() {
        let cfg = Config::default();
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("state");
        let d = sub.to_str().unwrap();
        let mut st = Store::open(d, &cfg).unwrap().unwrap();
        let run = aggregate(vec![cluster(7, &[100])]);
        let oldest = run.clusters.iter().filter_map(|c| c.first_seen).min();
        st.remember(Some(vec![(100 * NANOS, 42)]), oldest, &cfg);
        assert!(!st.seen_ids.is_empty());
        st.update(run, &report(), &cfg);
        st.save().unwrap();
        let back = Store::open(d, &cfg).unwrap().unwrap();
        assert_eq!(back, st);
        let names: Vec<_> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE)]);
        std::fs::write(sub.join(FILE), "{\"version\": 1, \"bucket_secs\": ").unwrap();
        let err = Store::open(d, &cfg).unwrap_err();
        assert!(
            err.contains("is corrupt") && err.contains("--state none"),
            "{err}"
        );
        assert!(Store::open("none", &cfg).unwrap().is_none());
    }
}
