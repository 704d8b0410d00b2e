//! The report stage: what runs once the aggregate shards hand over their counts (at the end of
//! a run, at every `gardener watch` interval, or on the parts `gardener merge` reads).
//!
//! [`conclude`] combines the shards' clusters, mines templates over all of them, then runs the
//! steps: [`trend`] (series and the history kept across runs), [`correlate`] (clusters into
//! problems; [`related`] finds clusters in the same requests or bursting together),
//! [`prioritize`] (P0..P5 by rules), redaction ([`crate::stages::redact`]), and hands the
//! finished report to the sinks ([`crate::stages::sink`]): GitHub, the state, the worklog and
//! the JSON report. [`Finisher`] holds what those steps need, built and checked before any
//! input is read. [`partial`] is the same stage cut short for a scale-out worker: only the
//! mergeable section.

pub mod correlate;
pub mod prioritize;
pub mod related;
pub mod trend;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::console::warn;
use crate::model::record::{
    Aggregate, Cluster, GithubMode, IssueAction, Mergeable, Report, TimeRange, ToPrint, Totals,
};
use crate::model::run::{RunError, RunOptions};
use crate::model::time::{Timestamp, format_rfc3339, now_nanos};
use crate::stages::fingerprint::mine::{self, Raw};
use crate::stages::redact::{Redactor, sample};
use crate::stages::sink::{self, SinkError};
use crate::stages::{aggregate, halves};
use crate::state::Store;
use prioritize::Prioritizer;

/// The outcome of a finished (possibly interrupted) run.
pub struct Outcome {
    pub report: Report,
    pub sink_errors: Vec<SinkError>,
    /// The files written, for the summary on standard error.
    pub written: Vec<sink::summary::Written>,
}

/// The stages after aggregation, built (and their configuration checked) before any input is
/// read: prioritize, redact, the GitHub sink and the state store.
pub struct Finisher {
    prioritizer: Prioritizer,
    redactors: Redactors,
    github: Option<sink::github::Settings>,
    /// The state store (`None` with `--state none`).
    pub(crate) store: Option<Store>,
    /// Recorded in the JSON report's mergeable section.
    merge_settings: crate::model::record::MergeSettings,
    /// The state directories' locks, held to the end of the run (one writer per state).
    _locks: Vec<crate::state::lock::DirLock>,
}

impl Finisher {
    /// The settings a mergeable section of this run records.
    pub fn merge_settings(&self) -> &crate::model::record::MergeSettings {
        &self.merge_settings
    }

    pub fn new(cfg: &Config, opts: &RunOptions) -> Result<Finisher, RunError> {
        let github = github_settings(cfg, opts)?;
        let locks = lock_states(cfg, github.as_ref())?;
        Ok(Finisher {
            prioritizer: Prioritizer::new(cfg).map_err(|e| RunError::Config(e.0))?,
            redactors: Redactors::new(cfg).map_err(|e| RunError::Config(e.0))?,
            github,
            store: Store::open(&cfg.state.dir, cfg).map_err(RunError::Input)?,
            merge_settings: cfg
                .merge_settings(opts.now.map(Timestamp::nanos))
                .map_err(|e| RunError::Config(e.0))?,
            _locks: locks,
        })
    }
}

/// Locks the directories this run writes state to: the state store's, and the GitHub sink's
/// state file's when it writes one (a live run).
fn lock_states(
    cfg: &Config,
    github: Option<&sink::github::Settings>,
) -> Result<Vec<crate::state::lock::DirLock>, RunError> {
    let store = cfg.state.dir.as_str();
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    // A dry run writes no state: it takes no lock (and makes no directory).
    let dry = github.is_some_and(|g| g.dry_run);
    if store.trim() != "none" && !dry {
        dirs.push(store.into());
    }
    // The GitHub sink writes its state file in live runs only.
    if let Some(g) = github.filter(|g| g.token.is_some() && !g.dry_run) {
        let parent = std::path::Path::new(&g.cfg.state_file)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        dirs.push(parent.to_path_buf());
    }
    let wait = cfg.state.lock_wait.duration();
    // In one order (canonical paths, sorted): two runs whose stores and GitHub states are
    // crossed cannot each hold one lock and wait for the other.
    for d in &dirs {
        let _ = std::fs::create_dir_all(d);
    }
    let mut dirs: Vec<std::path::PathBuf> = dirs
        .into_iter()
        .map(|d| std::fs::canonicalize(&d).unwrap_or(d))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut held: Vec<crate::state::lock::DirLock> = Vec::new();
    for d in dirs {
        match crate::state::lock::acquire(&d, wait) {
            Ok(l) => held.push(l),
            Err(crate::state::lock::LockError::Held(m)) => return Err(RunError::Locked(m)),
            Err(crate::state::lock::LockError::Io(m)) => return Err(RunError::Input(m)),
        }
    }
    Ok(held)
}

/// The redact stage's three uses: templates before mining (never personal data, so that ids
/// do not depend on that setting), the reports, and what goes to GitHub.
struct Redactors {
    templates: Redactor,
    reports: Redactor,
    github: Redactor,
}

impl Redactors {
    fn new(cfg: &Config) -> Result<Redactors, crate::config::ConfigError> {
        let templates = Redactor::new(&cfg.redact_pack()?)?;
        let personal = &cfg.redact.personal;
        let github = templates.personal(personal.github || personal.reports);
        Ok(Redactors {
            reports: github.personal(personal.reports),
            github,
            templates,
        })
    }
}

/// What a run (or a merge) has gathered when aggregation ends: the aggregate shards' clusters,
/// keyed by raw (not yet generalized) fingerprint, and the counts of the input.
pub struct Gathered {
    pub parts: Vec<(Aggregate, Option<i64>)>,
    pub inputs: Vec<String>,
    /// The input was not read to its end (a signal).
    pub partial: bool,
    pub bytes_read: u64,
    pub entries_read: u64,
    pub notes: Vec<String>,
    pub stages: Vec<crate::model::stats::StageReport>,
    pub started: Instant,
    /// The last report of the run (`gardener watch` writes one per interval): only the last
    /// goes to standard output.
    pub last: bool,
    /// Fill the report's mergeable section even without a JSON report (`gardener watch`'s
    /// checkpoint).
    pub keep_mergeable: bool,
}

/// The entries sink still waiting for the final fingerprint ids, with its task.
pub type EntriesTask = (
    tokio::task::JoinHandle<Vec<SinkError>>,
    tokio::sync::oneshot::Sender<HashMap<u64, (u64, u64)>>,
);

/// The shards' (or parts') aggregates as one per raw fingerprint, cut to the cluster cap, with
/// templates redacted: what mining starts from, and what a mergeable section holds.
fn combine_parts(
    cfg: &Config,
    finisher: &Finisher,
    parts: Vec<(Aggregate, Option<i64>)>,
    now: Option<i64>,
) -> (Aggregate, Option<i64>) {
    let reach = cfg.windows().iter().map(|w| w.1).max().unwrap_or(86_400);
    let (mut combined, newest) = aggregate::combine(parts, reach, now, cfg.aggregate.samples);
    // Shards each keep their share of the cap; merged parts may hold more.
    combined.clusters = aggregate::overflow::fold_list(
        std::mem::take(&mut combined.clusters),
        cfg.aggregate.max_clusters,
        cfg.aggregate.samples,
        cfg.related.traces_per_cluster,
    );
    // Templates are redacted before mining: every title is then cut from redacted text, and
    // the mergeable section holds redacted templates that `gardener merge` mines alike.
    finisher
        .redactors
        .templates
        .templates(&mut combined.clusters);
    (combined, newest)
}

/// A worker's partial (`gardener watch --partials`): the mergeable section of what `gathered`
/// holds, made without mining, priorities or a report. It is exactly the `mergeable` section
/// a report of the same parts would carry, so `gardener merge` combines it like a JSON report.
pub fn partial(
    cfg: &Config,
    finisher: &Finisher,
    gathered: Gathered,
    now: Option<i64>,
) -> Mergeable {
    let (mut combined, newest) = combine_parts(cfg, finisher, gathered.parts, now);
    aggregate::list_bad(&mut combined.bad);
    let t = totals(
        &combined,
        gathered.bytes_read,
        gathered.entries_read,
        0,
        gathered.started,
    );
    let mut m = mergeable_section(
        finisher,
        newest,
        (gathered.partial, gathered.inputs, &t),
        combined.bad,
        gathered.notes,
        combined.clusters,
    );
    if cfg.redact.reports {
        finisher.redactors.reports.mergeable(&mut m);
    }
    m
}

/// The tail shared by `run` and `merge`, so the two cannot drift: mines templates over the
/// whole set of raw templates, finishes aggregation with the final ids, prioritizes, assembles
/// and redacts the report, runs the GitHub sink and writes the report and JSON sinks.
pub async fn conclude(
    cfg: &Config,
    opts: &RunOptions,
    finisher: &mut Finisher,
    mut gathered: Gathered,
    entries_task: Option<EntriesTask>,
) -> Outcome {
    let mut sink_errors = Vec::new();
    let mut steps = crate::console::progress::Steps::new(opts.progress, gathered.started);
    crate::model::memory::release_freed();
    steps.step("combining the shards");
    // One aggregate per raw fingerprint; kept as it is for the JSON report's mergeable section.
    let parts = std::mem::take(&mut gathered.parts);
    let (mut combined, newest) =
        combine_parts(cfg, finisher, parts, opts.now.map(Timestamp::nanos));
    let state = state_update(finisher, gathered.partial);
    remember_seen(cfg, finisher, &mut combined, state);
    let json_path = cfg.sinks.json.clone();
    let keep_raw = json_path.is_some() || gathered.keep_mergeable;

    steps.step("mining templates");
    let (mut agg, mined, mut pre_mining) =
        mine_and_finish(cfg, opts, finisher, (combined, newest), keep_raw);
    steps.step("trends and priorities");
    let judged = trend::judge(&agg, finisher.store.as_ref(), cfg);
    let mut clusters = prioritized(finisher, &agg, &judged);
    // Problems: clusters grouped by evidence, each keeping the id the state remembers.
    steps.step("grouping problems");
    let mut problems = correlate::problems(&agg.clusters, agg.reference, &cfg.correlate);
    if let Some(st) = finisher.store.as_ref() {
        correlate::keep_ids(&mut problems, &agg.clusters, &st.known_problems());
    }
    let problem_reports =
        finisher
            .prioritizer
            .run_problems(&agg, &problems, &judged.clusters, &mut clusters);
    // Each report holds its trend now.
    let resolved = judged.resolved;
    drop(judged.clusters);
    let unsampled = sample_clusters(
        cfg.sinks.sampled_clusters,
        &mut clusters,
        &problem_reports,
        &agg,
    );
    if let (Some(raw), true) = (pre_mining.as_mut(), unsampled > 0) {
        drop_raw_samples(raw, &clusters, &mined.finals);
    }
    let had_entries_sink = entries_task.is_some();
    if let Some(task) = entries_task {
        sink_errors.extend(hand_ids(task, &problems, &agg, &mined.finals).await);
    }
    drop(problems);
    let last_report = gathered.last;
    let mut report = assemble(
        cfg,
        finisher,
        gathered,
        &mut agg,
        clusters,
        problem_reports,
        resolved,
    );
    report.totals.clusters_unsampled = unsampled;
    // The report holds the samples it prints: the clusters' own are not needed again. Their
    // texts are shared with the mergeable section's clusters; dropped here, each is freed as
    // soon as redaction replaces it there (or now, when there is no mergeable section).
    for c in &mut agg.clusters {
        c.samples = Vec::new();
    }
    report.mergeable = pre_mining.map(|clusters| mergeable_of(&report, finisher, newest, clusters));
    point_to_mergeable(&mut report);
    if opts.stats {
        steps.suspend(|| print_stats(&report));
    }
    // What the report was made from: the state store takes what it keeps of it now (saved
    // after GitHub), and it is freed before redaction allocates the redacted samples.
    update_state(
        cfg,
        finisher,
        &report,
        (agg, state),
        mined.learned,
        &mut steps,
    );
    // What the streaming stages' threads allocated (the samples, the aggregate) is freed into
    // their arenas, which the redacted texts cannot use: given back to the system first.
    crate::model::memory::release_freed();
    steps.step("redacting");
    let public = redact(cfg, finisher, &mut report);
    let closed = match &finisher.github {
        Some(gs) => {
            steps.step(&format!("GitHub ({})", gs.repo));
            let (closed, errors) = github(gs, &mut report, public, &mut steps).await;
            sink_errors.extend(errors);
            closed
        }
        None => Default::default(),
    };
    if let Some(e) = save_state(finisher, &mut report, state, &closed, &mut steps) {
        sink_errors.push(e);
    }

    steps.step("writing the reports");
    let report_path = cfg.sinks.report.clone().unwrap_or_else(|| "-".into());
    if report_path == "-" {
        // The worklog goes to the terminal the spinner is on.
        steps.finish();
    }
    let report_path = (last_report || report_path != "-").then_some(report_path);
    let outputs = outputs(
        cfg,
        report_path.as_deref(),
        json_path.as_deref(),
        had_entries_sink,
    );
    let report = write_reports(cfg, report, report_path, json_path, &mut sink_errors).await;
    if opts.stats {
        eprintln!("{}", steps.timings());
    }
    let written = written(&outputs, &report, &sink_errors);
    Outcome {
        report,
        sink_errors,
        written,
    }
}

/// Generalizes templates over the whole run (templates earlier runs generalized keep their
/// ids, see `mine`), then finishes aggregation with the final ids. With `keep_raw`, also
/// returns a copy of the raw clusters (the JSON report's mergeable section), made on this
/// thread while a second one mines.
fn mine_and_finish(
    cfg: &Config,
    opts: &RunOptions,
    finisher: &Finisher,
    (combined, newest): (Aggregate, Option<i64>),
    keep_raw: bool,
) -> (Aggregate, mine::Mined, Option<Vec<Cluster>>) {
    let (mined, raw) = halves::join(
        || mine_raw(finisher, &combined.clusters),
        || keep_raw.then(|| combined.clusters.clone()),
    );
    let mut agg = aggregate::finish(
        (combined, newest),
        &mined.finals,
        cfg.windows(),
        opts.now.map(Timestamp::nanos),
        cfg.aggregate.samples,
    );
    aggregate::bound_series(&mut agg, cfg.bucket_secs(), cfg.aggregate.max_buckets);
    (agg, mined, raw)
}

/// Mines the raw clusters' templates (see [`mine_and_finish`]).
fn mine_raw(finisher: &Finisher, clusters: &[Cluster]) -> mine::Mined {
    let raws: Vec<Raw> = clusters
        .iter()
        .map(|c| Raw {
            id: c.id,
            count: c.count,
            service: &c.scope,
            template: &c.template,
        })
        .collect();
    let known = finisher
        .store
        .as_ref()
        .map(|st| st.known_templates())
        .unwrap_or_default();
    mine::generalize_with(&raws, &known)
}

/// The clusters with their priorities (and, for the GitHub sink, which counts entries newer
/// than its last comment from them, their per-second counts).
fn prioritized(
    finisher: &Finisher,
    agg: &Aggregate,
    judged: &trend::Judged,
) -> Vec<crate::model::record::ClusterReport> {
    let mut clusters = finisher.prioritizer.run_with(agg, &judged.clusters);
    if finisher.github.is_some() {
        let by_id: HashMap<u64, &std::collections::BTreeMap<i64, u64>> =
            agg.clusters.iter().map(|c| (c.id, &c.per_second)).collect();
        for c in &mut clusters {
            if let Some(p) =
                crate::stages::fingerprint::parse_id(&c.id).and_then(|id| by_id.get(&id))
            {
                c.per_second = (*p).clone();
            }
        }
    }
    clusters
}

/// Gives the `cap` highest-priority clusters (`clusters` is in priority order) and every
/// problem's lead their sample entries, printed as the report prints them; every other cluster
/// keeps its counts. Samples are most of a JSON report with thousands of clusters, and most of
/// the time to redact it: only those the report keeps are printed at all. Returns how many
/// clusters were left without.
fn sample_clusters(
    cap: usize,
    clusters: &mut [crate::model::record::ClusterReport],
    problems: &[crate::model::record::ProblemReport],
    agg: &Aggregate,
) -> u64 {
    let samples: crate::model::id::IdMap<&[crate::model::record::Sample]> = agg
        .clusters
        .iter()
        .map(|c| (c.id, c.samples.as_slice()))
        .collect();
    let leads: std::collections::HashSet<&str> = problems.iter().map(|p| p.lead.as_str()).collect();
    let mut left_out = 0;
    for (rank, c) in clusters.iter_mut().enumerate() {
        if cap > 0 && rank >= cap && !leads.contains(c.id.as_str()) {
            left_out += 1;
            continue;
        }
        let own = crate::stages::fingerprint::parse_id(&c.id).and_then(|id| samples.get(&id));
        if let Some(own) = own {
            // Printed later, with redaction, in one walk over each text (see `redact`).
            c.to_print = own
                .iter()
                .map(|s| ToPrint::Raw(Arc::clone(&s.raw)))
                .collect();
        }
    }
    left_out
}

/// Leaves out the samples of the raw clusters (the mergeable section) mined into clusters that
/// [`sample_clusters`] left without: a merge of this report shows no samples for them either.
/// (Keeping only the samples the report shows would be smaller still, but a merge may mine
/// the raw clusters apart again and then need the others: merges stay exact under the cap.)
fn drop_raw_samples(
    raw: &mut [crate::model::record::Cluster],
    shown: &[crate::model::record::ClusterReport],
    finals: &HashMap<u64, (u64, String)>,
) {
    let without: std::collections::HashSet<Option<u64>> = shown
        .iter()
        .filter(|c| c.to_print.is_empty())
        .map(|c| crate::stages::fingerprint::parse_id(&c.id))
        .collect();
    for r in raw {
        let id = finals.get(&r.id).map_or(r.id, |f| f.0);
        if without.contains(&Some(id)) {
            r.samples = Vec::new();
        }
    }
}

/// Gives the entries sink each raw fingerprint's final id and problem, and waits for it.
async fn hand_ids(
    (task, ids_tx): EntriesTask,
    problems: &[correlate::Problem],
    agg: &Aggregate,
    finals: &HashMap<u64, (u64, String)>,
) -> Vec<SinkError> {
    let problem_of: HashMap<u64, u64> = problems
        .iter()
        .flat_map(|p| p.members.iter().map(|&m| (agg.clusters[m].id, p.id)))
        .collect();
    let ids: HashMap<u64, (u64, u64)> = finals
        .iter()
        .map(|(raw, (id, _))| (*raw, (*id, problem_of.get(id).copied().unwrap_or(0))))
        .collect();
    let _ = ids_tx.send(ids);
    task.await.unwrap_or_default()
}

/// The report, before redaction, from the finished aggregate and what was judged of it.
fn assemble(
    cfg: &Config,
    finisher: &Finisher,
    gathered: Gathered,
    agg: &mut Aggregate,
    clusters: Vec<crate::model::record::ClusterReport>,
    problems: Vec<crate::model::record::ProblemReport>,
    resolved: Vec<crate::model::record::Resolved>,
) -> Report {
    let related = crate::stages::report::related::find(&agg.clusters, &cfg.related);
    let mut services = std::collections::BTreeMap::new();
    let mut priorities = std::collections::BTreeMap::new();
    let (mut first, mut last) = (None::<i64>, None::<i64>);
    for c in &agg.clusters {
        *services.entry(c.service.clone()).or_insert(0) += c.count;
        first = match (first, c.first_seen.map(Timestamp::nanos)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last = match (last, c.last_seen.map(Timestamp::nanos)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    for c in &clusters {
        *priorities.entry(c.priority.to_string()).or_insert(0) += 1;
    }
    Report {
        tool: format!("log-gardener {}", env!("CARGO_PKG_VERSION")),
        generated_at: format_rfc3339(now_nanos()),
        partial: gathered.partial,
        inputs: gathered.inputs,
        reference_time: agg.reference.map(format_rfc3339),
        time_range: first.zip(last).map(|(f, l)| TimeRange {
            first: format_rfc3339(f),
            last: format_rfc3339(l),
        }),
        services,
        totals: totals(
            agg,
            gathered.bytes_read,
            gathered.entries_read,
            clusters.len() as u64,
            gathered.started,
        ),
        windows: agg.windows.iter().map(|w| w.0.clone()).collect(),
        priorities,
        problems,
        clusters,
        notes: gathered.notes,
        bad_entries: std::mem::take(&mut agg.bad),
        stages: gathered.stages,
        github: None,
        trends: trend::report(cfg, finisher.store.as_ref(), resolved),
        related,
        mergeable: None,
    }
}

/// The report's mergeable section: its clusters before mining, and its totals.
fn mergeable_of(
    report: &Report,
    finisher: &Finisher,
    newest: Option<i64>,
    clusters: Vec<crate::model::record::Cluster>,
) -> Mergeable {
    mergeable_section(
        finisher,
        newest,
        (report.partial, report.inputs.clone(), &report.totals),
        report.bad_entries.clone(),
        report.notes.clone(),
        clusters,
    )
}

/// The counts of a report (or a partial) over the aggregate `agg`.
fn totals(
    agg: &Aggregate,
    bytes_read: u64,
    entries_read: u64,
    clusters: u64,
    started: Instant,
) -> Totals {
    Totals {
        bytes_read,
        entries_read,
        entries_processed: agg.entries,
        entries_skipped: agg.bad_count,
        utf8_repaired: agg.repaired_utf8,
        without_timestamp: agg.without_timestamp,
        future_dated: agg.future_dated,
        ignored_fields: agg.ignored_fields,
        clusters,
        clusters_folded: agg.clusters.iter().map(|c| c.folded).sum(),
        clusters_unsampled: 0,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

/// A mergeable section: raw-fingerprint clusters with the counts they were made from
/// (`(partial, inputs, totals)`), for a JSON report or a worker's partial alike.
fn mergeable_section(
    finisher: &Finisher,
    newest: Option<i64>,
    (partial, inputs, t): (bool, Vec<String>, &Totals),
    bad: Vec<crate::model::record::BadInfo>,
    notes: Vec<String>,
    clusters: Vec<crate::model::record::Cluster>,
) -> Mergeable {
    Mergeable {
        format: crate::model::record::MERGE_FORMAT,
        settings: finisher.merge_settings.clone(),
        newest,
        partial,
        inputs,
        bytes_read: t.bytes_read,
        entries_read: t.entries_read,
        entries_processed: t.entries_processed,
        entries_skipped: t.entries_skipped,
        utf8_repaired: t.utf8_repaired,
        without_timestamp: t.without_timestamp,
        future_dated: t.future_dated,
        ignored_fields: t.ignored_fields,
        bad,
        notes,
        clusters,
    }
}

/// Redaction: the report and JSON unless `redact.reports: false`; what goes to GitHub always.
/// Returns GitHub's copy when it differs from the report's.
fn redact(cfg: &Config, finisher: &Finisher, report: &mut Report) -> Option<Report> {
    let redactors = &finisher.redactors;
    if cfg.redact.reports {
        // Prints the samples too, each redacted as it is printed.
        redactors.reports.report(report);
    } else {
        print_samples(report);
    }
    let personal = &cfg.redact.personal;
    if finisher.github.is_some() && (!cfg.redact.reports || personal.github != personal.reports) {
        // Redaction is idempotent: what the reports' pass left, GitHub's pass completes. The
        // GitHub sink never reads the mergeable section.
        let mergeable = report.mergeable.take();
        let mut p = report.clone();
        report.mergeable = mergeable;
        redactors.github.report(&mut p);
        return Some(p);
    }
    None
}

/// Prints the report's samples (see `ClusterReport::to_print`) without redaction.
fn print_samples(report: &mut Report) {
    let mergeable = report.mergeable.as_ref();
    for c in &mut report.clusters {
        for p in std::mem::take(&mut c.to_print) {
            let raw = match &p {
                ToPrint::Raw(raw) => Some(raw),
                ToPrint::Mergeable(at, n) => mergeable.and_then(|m| m.sample(*at, *n)),
            };
            c.samples.extend(raw.map(|raw| sample::printed(raw)));
        }
    }
}

/// Points the samples the report is still to print at the mergeable section's samples of the
/// same entries (see `ToPrint::Mergeable`), found by the address of the raw text they share.
fn point_to_mergeable(report: &mut Report) {
    let Some(m) = &report.mergeable else { return };
    let address = |raw: &Arc<str>| Arc::as_ptr(raw).cast::<u8>() as usize;
    // Every raw text is held by the section while the map lives: no address is reused.
    let at: HashMap<usize, (u32, u32)> = m
        .clusters
        .iter()
        .enumerate()
        .flat_map(|(c, cluster)| {
            (cluster.samples.iter().enumerate())
                .map(move |(s, sample)| (address(&sample.raw), (c as u32, s as u32)))
        })
        .collect();
    for p in report
        .clusters
        .iter_mut()
        .flat_map(|c| c.to_print.iter_mut())
    {
        if let ToPrint::Raw(raw) = p
            && let Some(&(c, s)) = at.get(&address(raw))
        {
            *p = ToPrint::Mergeable(c, s);
        }
    }
}

/// The GitHub sink: its plan or actions go into the report. Returns, per cluster, whether its
/// problem's issue is closed (the state remembers it), and the errors.
async fn github(
    gs: &sink::github::Settings,
    report: &mut Report,
    public: Option<Report>,
    steps: &mut crate::console::progress::Steps,
) -> (std::collections::BTreeMap<String, bool>, Vec<SinkError>) {
    let out = sink::github::run(public.as_ref().unwrap_or(report), gs).await;
    steps.suspend(|| {
        print_github_summary(
            &out.report,
            &out.errors,
            &gs.cfg.label,
            &gs.cfg.priority_label_prefix,
        )
    });
    let errors = out
        .errors
        .into_iter()
        .map(|e| SinkError {
            sink: "github",
            path: gs.repo.clone(),
            error: std::io::Error::other(e),
        })
        .collect();
    report.github = Some(out.report);
    // Issues are per problem; the state remembers closing per cluster.
    let mut closed = std::collections::BTreeMap::new();
    for p in &report.problems {
        if let Some(&is_closed) = out.closed.get(&p.id) {
            for c in &p.clusters {
                closed.insert(c.clone(), is_closed);
            }
        }
    }
    (closed, errors)
}

/// What [`update_state`] did with the state store.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum StateUpdate {
    /// Updated, to be saved.
    Updated,
    /// Left as it was: a dry run, after which the real run must still see what is new.
    DryRun,
    /// No store, or a partial run (see `state`).
    Skipped,
}

/// Whether this run updates the state store: complete runs only (see `state`), and never a
/// dry run.
fn state_update(finisher: &Finisher, partial: bool) -> StateUpdate {
    if finisher.store.is_none() || partial {
        StateUpdate::Skipped
    } else if finisher.github.as_ref().is_some_and(|g| g.dry_run) {
        StateUpdate::DryRun
    } else {
        StateUpdate::Updated
    }
}

/// Adds the run's insertIds to the state's memory as soon as the shards are combined, so the
/// run's list of them (16 bytes an entry, up to `state.max_ids`) is freed before mining; a run
/// that does not update the state drops it.
fn remember_seen(
    cfg: &Config,
    finisher: &mut Finisher,
    combined: &mut Aggregate,
    state: StateUpdate,
) {
    let seen = combined.seen.take();
    if let (Some(st), StateUpdate::Updated) = (finisher.store.as_mut(), state) {
        let oldest = combined.clusters.iter().filter_map(|c| c.first_seen).min();
        st.remember(seen, oldest, cfg);
    }
}

/// Takes what the state store keeps of `agg` (counts, marks, series, the mined templates) when
/// this run updates it (see [`state_update`]), so the rest is freed before redaction;
/// [`save_state`] saves it.
fn update_state(
    cfg: &Config,
    finisher: &mut Finisher,
    report: &Report,
    (agg, state): (Aggregate, StateUpdate),
    learned: Vec<mine::Known>,
    steps: &mut crate::console::progress::Steps,
) {
    let Some(st) = finisher
        .store
        .as_mut()
        .filter(|_| state == StateUpdate::Updated)
    else {
        return;
    };
    steps.step("updating the state");
    let reference = agg.reference;
    st.update(agg, report, cfg);
    st.learn_templates(learned, reference);
}

/// Saves the state store [`update_state`] updated, with the issues the GitHub sink found
/// closed; after a dry run, says in the report that it was not updated.
fn save_state(
    finisher: &mut Finisher,
    report: &mut Report,
    update: StateUpdate,
    closed: &std::collections::BTreeMap<String, bool>,
    steps: &mut crate::console::progress::Steps,
) -> Option<SinkError> {
    let st = finisher.store.as_mut()?;
    match update {
        StateUpdate::Updated => {}
        StateUpdate::DryRun => {
            report.notes.push(
                "dry run: the state was not updated, so the real run still sees these entries as new"
                    .into(),
            );
            return None;
        }
        StateUpdate::Skipped => return None,
    }
    steps.step("saving the state");
    st.mark_closed(closed);
    match st.save() {
        Ok(()) => {
            report.trends.state_updated = true;
            None
        }
        Err(e) => Some(SinkError {
            sink: "state",
            path: st.path.display().to_string(),
            error: std::io::Error::other(e),
        }),
    }
}

/// Writes the worklog and the JSON report, each on its own task; returns the report.
async fn write_reports(
    cfg: &Config,
    report: Report,
    report_path: Option<String>,
    json_path: Option<String>,
    sink_errors: &mut Vec<SinkError>,
) -> Report {
    let report = Arc::new(report);
    let mut sink_tasks = Vec::new();
    if let Some(report_path) = report_path {
        let r = Arc::clone(&report);
        let caps = cfg.sinks.worklog.clone();
        sink_tasks.push(tokio::task::spawn_blocking(move || {
            sink::report::write(&r, &report_path, &caps)
        }));
    }
    if let Some(path) = json_path {
        let r = Arc::clone(&report);
        sink_tasks.push(tokio::task::spawn_blocking(move || {
            sink::json::write(&r, &path)
        }));
    }
    for t in sink_tasks {
        match t.await {
            Ok(Err(e)) => sink_errors.push(e),
            Ok(Ok(())) => {}
            Err(e) => warn(&format!("a sink task failed: {e}")),
        }
    }
    Arc::try_unwrap(report).unwrap_or_else(|r| (*r).clone())
}

/// The files a run set out to write, as (what, path); standard output is left out.
fn outputs(
    cfg: &Config,
    report: Option<&str>,
    json: Option<&str>,
    entries_sink: bool,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = report
        .map(|r| ("worklog", r.to_string()))
        .into_iter()
        .collect();
    if let Some(j) = json {
        out.push(("JSON report", j.to_string()));
    }
    if entries_sink {
        if let Some(e) = cfg.sinks.entries.clone() {
            out.push(("entries", e));
        }
        if let Some(d) = cfg.sinks.dead_letter.clone() {
            out.push(("dead letter", d));
        }
    }
    out.retain(|(_, p)| p != "-");
    out
}

/// The outputs that were written: those no sink failed on, and the state when it was saved.
fn written(
    outputs: &[(&'static str, String)],
    report: &Report,
    errors: &[SinkError],
) -> Vec<sink::summary::Written> {
    let mut out: Vec<sink::summary::Written> = outputs
        .iter()
        .filter(|(_, p)| !errors.iter().any(|e| &e.path == p))
        .map(|(what, path)| sink::summary::Written {
            what,
            path: path.clone(),
        })
        .collect();
    if report.trends.state_updated
        && let Some(st) = &report.trends.state
    {
        out.push(sink::summary::Written {
            what: "state",
            path: st.clone(),
        });
    }
    out
}

/// The GitHub sink's settings, when it is on (`--github` or `sinks.github.repo`).
fn github_settings(
    cfg: &Config,
    opts: &RunOptions,
) -> Result<Option<sink::github::Settings>, RunError> {
    let g = &cfg.sinks.github;
    let Some(repo) = g.repo.clone() else {
        if opts.dry_run {
            return Err(RunError::Config(
                "--dry-run plans GitHub issues: name the repository with --github OWNER/REPO (or sinks.github.repo)".into(),
            ));
        }
        return Ok(None);
    };
    let Some((owner, name)) = crate::config::parse_repo(&repo) else {
        return Err(RunError::Config(format!(
            "--github {repo}: expected OWNER/REPO, e.g. --github netra-systems/netra-apex"
        )));
    };
    let api = g.api.clone();
    if !(api.starts_with("https://") || api.starts_with("http://")) {
        return Err(RunError::Config(format!(
            "--github-api {api}: expected an http(s) URL, e.g. https://api.github.com"
        )));
    }
    Ok(Some(sink::github::Settings {
        repo: format!("{owner}/{name}"),
        owner,
        name,
        api,
        token: opts.github_token.clone(),
        dry_run: g.dry_run,
        cfg: g.clone(),
    }))
}

/// One line per kind of GitHub action on stderr, and why writing stopped; without writes
/// (`--dry-run`, no token) the plan as a table: action, issue, title, labels.
fn print_github_summary(
    g: &crate::model::record::GithubReport,
    errors: &[String],
    label: &str,
    prefix: &str,
) {
    if g.mode != GithubMode::Live {
        print_github_plan(g, label, prefix);
    }
    let mut counts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for a in &g.actions {
        *counts
            .entry((a.action.name(), a.status.name()))
            .or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|((a, s), n)| {
            if *s == "none" {
                format!("{n} {a}")
            } else {
                format!("{n} {a} {s}")
            }
        })
        .collect();
    let mode = match g.mode.name() {
        "dry-run" => " (dry run: nothing written)",
        "no-token" => " (no GITHUB_TOKEN: nothing sent)",
        _ => "",
    };
    eprintln!("gardener: GitHub {}{mode}: {}", g.repo, parts.join(", "));
    // A stop that is also an error is said once, with the errors (exit 1).
    if let Some(s) = g
        .stopped
        .as_ref()
        .filter(|s| !errors.iter().any(|e| s.starts_with(e.as_str())))
    {
        eprintln!("gardener: GitHub: {s}");
    }
}

/// The planned GitHub actions as a table on stderr (writing ones first, skips counted).
fn print_github_plan(g: &crate::model::record::GithubReport, label: &str, prefix: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let planned: Vec<&crate::model::record::GithubAction> = g
        .actions
        .iter()
        .filter(|a| !matches!(a.action, IssueAction::Skip | IssueAction::Unchanged))
        .collect();
    let _ = writeln!(e, "gardener: GitHub plan for {} ({}):", g.repo, g.mode);
    let _ = writeln!(
        e,
        "  {:<9} {:>6}  {:<100}  labels",
        "action", "issue", "title"
    );
    for a in &planned {
        let title = crate::model::text::cut_at_word(&a.title, 100);
        let issue = a.issue.map_or("new".to_string(), |n| format!("#{n}"));
        let labels = format!("{label}, {prefix}{}", a.priority);
        let _ = writeln!(e, "  {:<9} {issue:>6}  {title:<100}  {labels}", a.action);
    }
    let rest = g.actions.len() - planned.len();
    if rest > 0 {
        let _ = writeln!(
            e,
            "  … {rest} more problems unchanged or not filed (below the threshold or expected)"
        );
    }
}

/// Per-stage statistics, as a table on stderr.
pub fn print_stats(r: &Report) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = writeln!(
        e,
        "{:<12} {:>7} {:>10} {:>10} {:>8} {:>10} {:>11} {:>9} {:>9} {:>18}",
        "stage",
        "workers",
        "in",
        "out",
        "batches",
        "busy ms",
        "blocked ms",
        "p50 µs",
        "p99 µs",
        "queue max/mean/cap"
    );
    for s in &r.stages {
        let queue = if s.channel_capacity == 0 {
            "-".to_string()
        } else {
            format!(
                "{}/{:.1}/{}",
                s.channel_depth_max, s.channel_depth_mean, s.channel_capacity
            )
        };
        let _ = writeln!(
            e,
            "{:<12} {:>7} {:>10} {:>10} {:>8} {:>10.1} {:>11.1} {:>9} {:>9} {:>18}",
            s.stage,
            s.workers,
            s.entries_in,
            s.entries_out,
            s.batches,
            s.busy_ms,
            s.blocked_ms,
            s.batch_p50_us,
            s.batch_p99_us,
            queue
        );
    }
    let _ = writeln!(
        e,
        "{} entries, {} bytes in {} ms",
        r.totals.entries_read, r.totals.bytes_read, r.totals.elapsed_ms
    );
}
