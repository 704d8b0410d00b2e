//! Mergeable aggregates: `gardener merge A.json B.json ...` combines the JSON reports of runs
//! over separate parts of the input (days, exported files, machines) into exactly the report
//! one run over all of it gives.
//!
//! **Why the JSON carries aggregates before mining.** A cluster's final id comes from template
//! mining (`fingerprint::mine`), which looks at the whole run's set of distinct templates: two
//! halves may each see two words at a position where the whole input shows four and is
//! generalized. So the report's `mergeable` section holds the aggregate shards' clusters under
//! their *raw* (masked, not yet mined) fingerprints, and merge re-runs mining and
//! `aggregate::finish` through the same code as a run ([`crate::stages::report::conclude`]).
//!
//! **Why the result is exact and order-independent.** Every part of a cluster is a sum (counts,
//! severities, revisions, locations, HTTP statuses, per-second counts, latency histogram
//! buckets), a min or max (first and last seen), or a "newest N" choice with a total order
//! (samples, see `aggregate::sample_key`); the trace sketch of related clusters is a union cut
//! to the k smallest hashes. All of these are associative and commutative. Bad entries are
//! sorted by (input, entry) and cut to the first 100, like a run does. Parts are taken in a
//! canonical order (by their input names, then content), so the notes and input lists come out
//! the same whatever the order of the files on the command line.
//!
//! **Windows.** A run measures windows back from `--now` or else its newest entry, and keeps
//! per-second counts only after `reference − largest window`. A part's reference is never later
//! than the merged one (the newest of all parts, or the shared `--now`), so each part kept every
//! second the merged windows can reach: the merged run needs `(R − reach, R]` and a part kept
//! `(r − reach, …]` with `r ≤ R`. Merge therefore refuses a `--now` earlier than a part's newest
//! entry when that part was made without `--now`, and parts made with different `--now`.
//!
//! **Compact encoding.** Per-second counts are `[[second, count], ...]` and the latency
//! histogram is its recorded `[[value, count], ...]` pairs, re-recorded on reading into an
//! identically configured histogram (exact: every value lands in the bucket it came from).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::Config;
use crate::model::record::{Aggregate, MergeSettings, Mergeable};
use crate::model::run::{RunError, RunOptions};
use crate::model::time::{Timestamp, format_rfc3339};
use crate::stages::aggregate::Combiner;
use crate::stages::report::{Finisher, Gathered, Outcome, conclude};

/// Version of the `mergeable` section; merge refuses any other.
pub use crate::model::record::MERGE_FORMAT as FORMAT;

use crate::model::time::NANOS;

/// One report read for merging.
struct Part {
    path: String,
    m: Mergeable,
    /// Content hash, to order parts with equal inputs.
    hash: u64,
}

/// A mergeable section as the aggregate it was made from (inputs and notes left out).
pub fn part_of(mut m: Mergeable) -> (Aggregate, Option<i64>) {
    take_aggregate(&mut m)
}

/// Takes the aggregate out of a mergeable section, leaving its inputs, notes and totals.
fn take_aggregate(m: &mut Mergeable) -> (Aggregate, Option<i64>) {
    (
        Aggregate {
            clusters: std::mem::take(&mut m.clusters),
            entries: m.entries_processed,
            bad_count: m.entries_skipped,
            bad: std::mem::take(&mut m.bad),
            repaired_utf8: m.utf8_repaired,
            without_timestamp: m.without_timestamp,
            future_dated: m.future_dated,
            ignored_fields: m.ignored_fields,
            ..Default::default()
        },
        m.newest,
    )
}

/// Reads and checks the mergeable section of a JSON report (or of `gardener watch`'s
/// checkpoint) made with settings that merge with `own`.
pub fn read_mergeable(path: &str, own: &MergeSettings) -> Result<Mergeable, RunError> {
    read_part(path, own).map(|p| p.m)
}

/// Reads and checks one JSON report.
fn read_part(path: &str, own: &MergeSettings) -> Result<Part, RunError> {
    let bytes = std::fs::read(path)
        .map_err(|e| RunError::Input(format!("cannot read report {path}: {e}")))?;
    let not_report = |why: &str| {
        RunError::Config(format!(
            "{path} is not a gardener JSON report ({why}); merge reads what `gardener run --json` writes"
        ))
    };
    /// The top of a report: only what is needed to tell whether it can be merged.
    #[derive(Deserialize)]
    struct Head<'a> {
        tool: Option<String>,
        #[serde(borrow)]
        mergeable: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Format {
        format: Option<Value>,
    }
    let head: Head = serde_json::from_slice(&bytes).map_err(|e| not_report(&format!("{e}")))?;
    if !head.tool.unwrap_or_default().starts_with("log-gardener") {
        return Err(not_report("no \"tool\": \"log-gardener …\" field"));
    }
    let Some(section) = head.mergeable else {
        return Err(RunError::Config(format!(
            "{path} has no \"mergeable\" section (made by a gardener without merge support); run it again with `gardener run --json`"
        )));
    };
    let damaged = |e: serde_json::Error| {
        RunError::Config(format!("{path}: the mergeable section is damaged: {e}"))
    };
    let format = serde_json::from_str::<Format>(section.get())
        .map_err(damaged)?
        .format
        .and_then(|f| f.as_u64());
    if format != Some(u64::from(FORMAT)) {
        return Err(RunError::Config(format!(
            "{path}: mergeable format {}, but this gardener reads format {FORMAT}; make all parts with the same gardener version",
            format.map_or("missing".to_string(), |f| f.to_string())
        )));
    }
    let m: Mergeable = serde_json::from_str(section.get()).map_err(damaged)?;
    let s = &m.settings;
    let differs = |what: &str, theirs: String, ours: String| {
        RunError::Config(format!(
            "{path} was made with {what} {theirs}, but this merge uses {ours}: parts must be made with the same settings, and merged with the same configuration (--config)"
        ))
    };
    if s.windows != own.windows {
        let names = |w: &[(String, i64)]| {
            w.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(differs("windows", names(&s.windows), names(&own.windows)));
    }
    if s.samples != own.samples {
        return Err(differs(
            "aggregate.samples",
            s.samples.to_string(),
            own.samples.to_string(),
        ));
    }
    if s.traces_per_cluster != own.traces_per_cluster {
        return Err(differs(
            "related.traces_per_cluster",
            s.traces_per_cluster.to_string(),
            own.traces_per_cluster.to_string(),
        ));
    }
    if s.grouping != own.grouping {
        return Err(differs(
            "a different mask pack or fingerprint.max_message_bytes (grouping",
            format!("{})", s.grouping),
            format!("{})", own.grouping),
        ));
    }
    Ok(Part {
        path: path.to_string(),
        hash: xxh3_64(&bytes),
        m,
    })
}

/// The reference time of the merged report: `--now`, else the `--now` the parts were made
/// with. Refuses what would not give the report of one run over all the input.
fn merged_now(parts: &[Part], now: Option<i64>) -> Result<Option<i64>, RunError> {
    let mut made_with: Option<(i64, &str)> = None;
    for p in parts {
        if let Some(t) = p.m.settings.now {
            match made_with {
                Some((u, other)) if u != t => {
                    return Err(RunError::Config(format!(
                        "{} was made with --now {} and {other} with --now {}: windows must be measured back from one time",
                        p.path,
                        format_rfc3339(t),
                        format_rfc3339(u)
                    )));
                }
                _ => made_with = Some((t, &p.path)),
            }
        }
    }
    let now = match (now, made_with) {
        (Some(n), Some((t, path))) if n != t => {
            return Err(RunError::Config(format!(
                "{path} was made with --now {}; merge it with the same --now (or none)",
                format_rfc3339(t)
            )));
        }
        (n, t) => n.or(t.map(|t| t.0)),
    };
    if let Some(n) = now {
        for p in parts {
            if p.m.settings.now.is_none()
                && let Some(newest) = p.m.newest
                && newest.div_euclid(NANOS) > n.div_euclid(NANOS)
            {
                return Err(RunError::Config(format!(
                    "--now {} is before the newest entry of {} ({}), which was made without --now: its per-second counts no longer reach that far back; run that part again with --now",
                    format_rfc3339(n),
                    p.path,
                    format_rfc3339(newest)
                )));
            }
        }
    }
    Ok(now)
}

/// `gardener merge`: reads the JSON reports in `opts.files`, checks they can be merged, and
/// writes the report of all their input through the same tail as a run.
pub async fn run(cfg: Config, mut opts: RunOptions) -> Result<Outcome, RunError> {
    let started = Instant::now();
    if opts.files.is_empty() {
        return Err(RunError::Config(
            "merge needs the JSON reports to merge, e.g. gardener merge day1.json day2.json --report worklog.md".into(),
        ));
    }
    let cfg = crate::topology::pipeline::prepare(cfg, &opts)?;
    // Settings first (a bad configuration is reported before any file is read); `now` is
    // checked separately below.
    let own = cfg
        .merge_settings(None)
        .map_err(|e| RunError::Config(e.0))?;
    // Each part is added to the combined clusters as it is read, and only its inputs, notes
    // and totals are kept: memory holds the merged clusters, not every part.
    let mut parts = Vec::new();
    let mut combined = Combiner::new(cfg.aggregate.samples);
    let mut seen: std::collections::HashMap<u64, &str> = std::collections::HashMap::new();
    for f in &opts.files {
        let mut p = read_part(f, &own)?;
        // The same part twice would count its entries twice.
        if let Some(first) = seen.insert(p.hash, f) {
            return Err(RunError::Config(format!(
                "{f} is the same part as {first}: merging it twice would count its entries twice; give each part once"
            )));
        }
        combined.add(take_aggregate(&mut p.m));
        parts.push(p);
    }
    opts.now = merged_now(&parts, opts.now.map(Timestamp::nanos))?.map(Timestamp);
    let mut finisher = Finisher::new(&cfg, &opts)?;
    let gathered = gathered_of(parts, combined, started, Vec::new());
    Ok(conclude(&cfg, &opts, &mut finisher, gathered, None).await)
}

/// The parts as what a run gathers: their clusters as one aggregate (`combined`), their inputs
/// in a canonical order (by their input names, then content) and listed once each, notes and
/// counts summed.
fn gathered_of(
    mut parts: Vec<Part>,
    combined: Combiner,
    started: Instant,
    notes: Vec<String>,
) -> Gathered {
    parts.sort_by(|a, b| (&a.m.inputs, a.hash).cmp(&(&b.m.inputs, b.hash)));
    let mut gathered = Gathered {
        parts: Vec::new(),
        inputs: Vec::new(),
        partial: false,
        bytes_read: 0,
        entries_read: 0,
        notes,
        stages: Vec::new(),
        started,
        last: true,
        keep_mergeable: false,
    };
    let mut named = std::collections::HashSet::new();
    for p in parts {
        let mut m = p.m;
        // Workers on one subscription each name it: the merged report names it once.
        for i in std::mem::take(&mut m.inputs) {
            if named.insert(i.clone()) {
                gathered.inputs.push(i);
            }
        }
        gathered.partial |= m.partial;
        gathered.bytes_read += m.bytes_read;
        gathered.entries_read += m.entries_read;
        gathered.notes.extend(std::mem::take(&mut m.notes));
    }
    gathered.parts.push(combined.whole());
    gathered
}

/// Whether a file of a partials directory is a partial: `*.json`, not hidden (the temporary
/// files of [`crate::stages::sink::replace`] start with a dot).
pub fn is_partial_name(name: &str) -> bool {
    name.ends_with(".json") && !name.starts_with('.')
}

/// What `gardener merge --watch DIR` is asked to do beyond a merge's options.
#[derive(Clone, Debug)]
pub struct Coordinate {
    /// The workers' partials directory (`gardener watch --partials DIR`).
    pub dir: std::path::PathBuf,
    /// The interval between reports.
    pub every: Duration,
    /// One line per report on standard error.
    pub announce: bool,
}

/// `gardener merge --watch DIR --every 1m`: the coordinator of workers that write partials
/// (`gardener watch --partials DIR`). Every interval it merges the partials written within the
/// longest window and writes the reports, the state and GitHub (the single writer for all the
/// workers), windows counted back from the clock. SIGTERM ends it after one last report (exit
/// 0); Ctrl-C too, with the report marked partial.
pub async fn watch(cfg: Config, opts: RunOptions, co: Coordinate) -> Result<Outcome, RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let cfg = crate::topology::pipeline::prepare(cfg, &opts)?;
    let own = cfg
        .merge_settings(None)
        .map_err(|e| RunError::Config(e.0))?;
    if !co.dir.is_dir() {
        return Err(RunError::Input(format!(
            "merge --watch {}: not a directory; give the directory the workers write to (gardener watch --partials DIR)",
            co.dir.display()
        )));
    }
    refuse_outputs_in(&co.dir, &cfg)?;
    let mut finisher = Finisher::new(&cfg, &opts)?;
    let reach = cfg.windows().iter().map(|w| w.1).max().unwrap_or(86_400);
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| RunError::Input(format!("cannot watch for SIGTERM: {e}")))?;
    let mut ticks = tokio::time::interval(co.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    loop {
        let mut stop = None;
        tokio::select! {
            _ = ticks.tick() => {}
            _ = term.recv() => stop = Some(false),
            _ = tokio::signal::ctrl_c() => stop = Some(true),
        }
        n += 1;
        let started = Instant::now();
        let now = crate::model::time::now_nanos();
        let (parts, combined, notes) = read_dir(&co.dir, &own, reach, now, cfg.aggregate.samples);
        let count = parts.len();
        let newest = parts.iter().filter_map(|p| p.m.newest).max();
        let mut gathered = gathered_of(parts, combined, started, notes);
        gathered.last = stop.is_some();
        gathered.partial |= stop == Some(true);
        let mut at = opts.clone();
        at.now = Some(Timestamp(newest.map_or(now, |t| t.max(now))));
        let out = conclude(&cfg, &at, &mut finisher, gathered, None).await;
        if stop.is_some() {
            return Ok(out);
        }
        for e in &out.sink_errors {
            crate::console::warn(&format!(
                "merge --watch: {e} (trying again at the next interval)"
            ));
        }
        if co.announce {
            crate::console::warn(&format!(
                "merge --watch: report {n} at {}: {count} partials, {} entries read, {} problems ({} ms)",
                format_rfc3339(now),
                out.report.totals.entries_read,
                out.report.problems.len(),
                started.elapsed().as_millis()
            ));
        }
    }
}

/// Refuses a report the coordinator would write among the partials it reads: a merged JSON
/// report is mergeable, so the next interval would count its entries again.
fn refuse_outputs_in(dir: &std::path::Path, cfg: &Config) -> Result<(), RunError> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let outputs = [
        ("--json", cfg.sinks.json.as_ref()),
        ("--report", cfg.sinks.report.as_ref()),
    ];
    for (flag, path) in outputs {
        let Some(path) = path.filter(|p| *p != "-") else {
            continue;
        };
        let p = std::path::Path::new(path);
        let parent = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        if parent == dir && name.is_some_and(|n| is_partial_name(&n)) {
            return Err(RunError::Config(format!(
                "{flag} {path} is in the partials directory {}: the next interval would read it as a partial and count its entries twice; write it elsewhere",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Reads the partials of `dir` written within `reach` seconds of `now`. A partial that cannot
/// be read or merged is left out with a warning (the coordinator goes on; the worker's next
/// partial may be fine); what was left out is said in the report's notes too.
fn read_dir(
    dir: &std::path::Path,
    own: &MergeSettings,
    reach: i64,
    now: i64,
    samples: usize,
) -> (Vec<Part>, Combiner, Vec<String>) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|l| {
            l.flatten()
                .filter(|e| is_partial_name(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let oldest = std::time::UNIX_EPOCH
        + Duration::from_nanos(now.max(0) as u64).saturating_sub(Duration::from_secs(reach as u64));
    let (mut parts, mut notes, mut stale) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    let mut combined = Combiner::new(samples);
    for path in names {
        let shown = path.display().to_string();
        let modified = std::fs::metadata(&path).and_then(|m| m.modified());
        if modified.is_ok_and(|t| t < oldest) {
            stale.push(shown);
            continue;
        }
        match read_part(&shown, own) {
            Ok(mut p) if seen.insert(p.hash) => {
                combined.add(take_aggregate(&mut p.m));
                parts.push(p);
            }
            Ok(_) => notes.push(format!(
                "{shown} is the same as another partial: left out (counting it twice would double its entries)"
            )),
            Err(e) => {
                let why = match e {
                    RunError::Input(m) | RunError::Config(m) | RunError::Locked(m) => m,
                };
                crate::console::warn(&format!("merge --watch: left out: {why}"));
                notes.push(format!("left out: {why}"));
            }
        }
    }
    if !stale.is_empty() {
        notes.push(format!(
            "{} {} not written within the longest window ({}s) left out (a worker that stopped): {}",
            stale.len(),
            if stale.len() == 1 { "partial" } else { "partials" },
            reach,
            stale.join(", ")
        ));
    }
    (parts, combined, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::{Cluster, pairs};
    use crate::stages::aggregate::combine;
    use std::collections::BTreeMap;

    #[test]
    fn per_second_counts_are_pairs() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct W(#[serde(with = "pairs")] BTreeMap<i64, u64>);
        let m: BTreeMap<i64, u64> = [(-5, 1), (1_757_822_400, 3)].into_iter().collect();
        let text = serde_json::to_string(&W(m.clone())).unwrap();
        assert_eq!(text, "[[-5,1],[1757822400,3]]");
        assert_eq!(serde_json::from_str::<W>(&text).unwrap().0, m);
    }

    #[test]
    fn combining_prunes_to_the_reach_of_the_largest_window() {
        let cluster = |id: u64, secs: &[i64]| {
            let mut c: Cluster =
                serde_json::from_value(serde_json::json!({"id": id, "template": "t", "scope": "s",
                "service": "s", "count": secs.len(), "first_seen": null, "last_seen": null,
                "severities": [0,0,0,0,0,0,0,0,0], "revisions": {}, "locations": {},
                "per_second": [], "series": [], "samples": [], "http_statuses": {}, "latency_us": null,
                "traces": {"k": 0, "marks": []}}))
                .unwrap();
            for s in secs {
                *c.per_second.entry(*s).or_insert(0) += 1;
            }
            c
        };
        let part = |c: Cluster, newest: i64| {
            (
                Aggregate {
                    clusters: vec![c],
                    ..Default::default()
                },
                Some(newest * NANOS),
            )
        };
        // Part a ends at 1000, part b at 2000; reach 500: the merged floor is 1500.
        let a = part(cluster(1, &[600, 900, 1000]), 1000);
        let b = part(cluster(1, &[1400, 1501, 2000]), 2000);
        let (all, newest) = combine(vec![a, b], 500, None, 3);
        assert_eq!(newest, Some(2000 * NANOS));
        assert_eq!(
            all.clusters[0]
                .per_second
                .keys()
                .copied()
                .collect::<Vec<_>>(),
            vec![1501, 2000]
        );
        assert_eq!(all.clusters[0].count, 6);
    }
}
