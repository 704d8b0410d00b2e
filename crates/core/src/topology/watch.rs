//! `gardener watch`: the pipeline over a stream that may never end, with a report every
//! interval (an epoch).
//!
//! The stages run as in `gardener run`. Every `--every`, the report stage cuts the pipeline at
//! the source (see [`crate::stages::epoch`]), takes a snapshot of every aggregate shard, and runs the
//! same tail as a run ([`report::conclude`]) on them: template mining, trends, problems,
//! priorities, redaction, GitHub (at most once per interval), the state (saved every
//! interval) and the report files (each replaced whole, see [`crate::stages::sink::replace`]). Reading
//! goes on while a report is made.
//!
//! Windows count back from the clock at each cut. Event time decides what is kept: clusters
//! whose newest entry is more than the longest window older than the newest entry seen (the
//! watermark) are evicted at the cut (their entries stay in the totals), and
//! `aggregate.max_clusters` bounds the rest, so memory stays flat however long it runs. An
//! entry that arrives late still counts in its cluster, and in the windows when it falls in
//! them.
//!
//! End of input and SIGTERM (a service stop) end with a final report, the state saved, exit 0;
//! Ctrl-C (SIGINT) as in `gardener run`: a final report marked partial, exit 130.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::config::{Config, SourceKind};
use crate::model::record::{Aggregate, Mergeable};
use crate::model::run::{RunError, RunOptions};
use crate::model::time::{NANOS, Timestamp, format_rfc3339, now_nanos};
use crate::stages::aggregate::SnapshotRequest;
use crate::stages::report::{self, Gathered, Outcome};
use crate::stages::sink::SinkError;
use crate::topology::pipeline::{self, Running, Watching};

/// How often the interval wait looks whether the source has ended.
const SOURCE_POLL: Duration = Duration::from_millis(50);

/// What `gardener watch` is asked to do beyond a run's options.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// The interval between reports.
    pub every: Duration,
    /// One line per report on standard error.
    pub announce: bool,
    /// Worker mode (`--partials DIR --worker-id ID`): a mergeable partial every interval
    /// instead of reports.
    pub partials: Option<Partials>,
}

/// Where a worker writes its partial: `dir/worker.json`.
#[derive(Clone, Debug)]
pub struct Partials {
    pub dir: PathBuf,
    pub worker: String,
}

impl Partials {
    /// The worker's partial file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.worker))
    }
}

/// How a watch ended.
pub enum Finished {
    /// Its last report.
    Report(Box<Outcome>),
    /// A worker's end: its last partial written, or the errors that kept it from being written.
    Partial {
        /// The input was not read to its end (Ctrl-C on a file or pipe).
        partial: bool,
        /// Entries skipped as bad.
        skipped: u64,
        errors: Vec<SinkError>,
    },
}

/// Checks a worker's command line: a worker writes its partial, and the coordinator (`gardener
/// merge --watch DIR`) writes the reports, the state and GitHub.
pub fn check_worker(opts: &RunOptions) -> Result<(), RunError> {
    let refused = [
        ("--report", opts.report.is_some()),
        ("--json", opts.json.is_some()),
        ("--entries", opts.entries.is_some()),
        ("--github", opts.github_repo.is_some()),
    ];
    if let Some((flag, _)) = refused.iter().find(|(_, given)| *given) {
        return Err(RunError::Config(format!(
            "{flag} with --partials: a worker writes only its partial; the coordinator, `gardener merge --watch DIR`, writes the reports, the state and GitHub (one writer for all workers)"
        )));
    }
    Ok(())
}

/// Runs until the input ends or a signal comes, writing the reports (or, as a worker, the
/// partial) every interval.
pub async fn run(
    cfg: Config,
    mut opts: RunOptions,
    watch: WatchOptions,
) -> Result<Finished, RunError> {
    let pubsub = opts.files.is_empty() && cfg.source.kind == SourceKind::Pubsub;
    if watch.partials.is_some() {
        check_worker(&opts)?;
        // The coordinator keeps the state; workers neither read nor lock it (--state and
        // GARDENER_STATE are not theirs).
        opts.state = Some("none".into());
        // No worklog either (not even sinks.report from the configuration, which the output
        // checks would otherwise weigh).
        opts.report = Some("/dev/null".into());
    }
    let mut lines = None;
    let mut running = pipeline::start(cfg, &opts, Some((watch.every, &mut lines))).await?;
    let state_dir = running.cfg.state.dir.clone();
    let lines = lines.expect("a watching pipeline has its lines");
    let lease = crate::stages::source::pubsub::lease(watch.every);
    if pubsub && lease < watch.every * 2 + Duration::from_secs(10) {
        return Err(RunError::Config(format!(
            "--every {}s: with source.kind pubsub a message is acknowledged by the report after it arrives, and Pub/Sub redelivers after at most 10 minutes; use --every 4m55s or less",
            watch.every.as_secs()
        )));
    }
    let own = running.finisher.merge_settings().clone();
    let mut keeper = match &watch.partials {
        Some(p) => Some(Checkpoint::worker(
            p,
            &own,
            &lines.ledger,
            watch.every,
            pubsub,
        )?),
        None if pubsub => Checkpoint::open(&state_dir, &own, &lines.ledger, watch.every)?,
        None => None,
    };
    let reach = running
        .cfg
        .windows()
        .iter()
        .map(|w| w.1)
        .max()
        .unwrap_or(86_400)
        .saturating_mul(NANOS);
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + watch.every, watch.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reports = 0u64;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = source_ended(&lines) => break,
        }
        if let Some(c) = keeper.as_mut() {
            c.refresh_peers(&lines.ledger);
        }
        let now = now_nanos();
        let Some((sent, parts)) = cut(&lines, reach).await else {
            break;
        };
        reports += 1;
        let mut gathered = epoch(&running, parts);
        gathered.notes.splice(0..0, lines.live.notes());
        if let Some(c) = keeper.as_mut() {
            c.add_to(&mut gathered, reach);
        }
        if let Some(c) = keeper.as_mut().filter(|_| watch.partials.is_some()) {
            let m = report::partial(&running.cfg, &running.finisher, gathered, Some(now));
            if let Err(e) = c.save(&m, &lines.ledger, sent).await {
                crate::console::warn(&format!("watch: {e}"));
            }
            if watch.announce {
                announce_partial(reports, &m, &c.path, now);
            }
        } else {
            let out = report(&mut running, &opts, gathered, now).await;
            if let (Some(c), Some(m)) = (keeper.as_mut(), &out.report.mergeable)
                && let Err(e) = c.save(m, &lines.ledger, sent).await
            {
                crate::console::warn(&format!("watch: {e}"));
            }
            if watch.announce {
                announce(reports, &out, now);
            }
        }
        give_back_memory();
    }
    // The last report: everything read, the shards ended.
    let mut gathered = running.drain().await?;
    gathered.notes.extend(evicted_note(&gathered.parts));
    if running.terminated.load(Ordering::SeqCst) || pubsub && watch.partials.is_some() {
        // A service stop is how a watch ends: the report is complete for what was read. (A
        // Pub/Sub worker loses nothing on Ctrl-C either: what it did not read comes again.)
        gathered.partial = false;
    }
    if let Some(c) = keeper.as_mut() {
        c.add_to(&mut gathered, reach);
    }
    if let Some(c) = keeper.as_mut().filter(|_| watch.partials.is_some()) {
        let m = report::partial(&running.cfg, &running.finisher, gathered, Some(now_nanos()));
        let mut errors = Vec::new();
        if let Err(e) = c.save(&m, &lines.ledger, u64::MAX).await {
            errors.push(SinkError {
                sink: "partial",
                path: c.path.display().to_string(),
                error: std::io::Error::other(e),
            });
        }
        if watch.announce {
            announce_partial(reports + 1, &m, &c.path, now_nanos());
        }
        return Ok(Finished::Partial {
            partial: m.partial,
            skipped: m.entries_skipped,
            errors,
        });
    }
    let mut last = opts.clone();
    last.now = Some(Timestamp(now_nanos()));
    let out = running.last_epoch(&last, gathered).await;
    if let Some(c) = keeper.as_mut()
        && !out.report.partial
        && let Some(m) = &out.report.mergeable
        && let Err(e) = c.save(m, &lines.ledger, u64::MAX).await
    {
        crate::console::warn(&format!("watch: {e}"));
    }
    Ok(Finished::Report(Box::new(out)))
}

/// What a watch keeps on disk of what it counted, so that a restart goes on from it: the
/// checkpoint of a Pub/Sub watch (`state.dir/watch-checkpoint.json`), or a worker's partial
/// (`--partials DIR`: `DIR/ID.json`). Either holds everything counted so far as a mergeable
/// section (so `gardener merge` reads it like a JSON report), and the ids of the messages it
/// counts that may still be delivered again. Written (synced, renamed) after each report,
/// before the messages it covers are acknowledged; read back at start.
struct Checkpoint {
    path: PathBuf,
    /// What earlier processes counted (from the checkpoint read at start).
    base: Option<Mergeable>,
    /// Message ids of the last reports (newest last): a message may be delivered again until
    /// its acknowledgement is through, so ids are kept for [`REDELIVERY`].
    recent: std::collections::VecDeque<Vec<String>>,
    keep: usize,
    /// Workers sharing a subscription: the other workers' partials (name → modification time
    /// and size when last read), whose message ids this worker must not count again.
    peers: Option<std::collections::HashMap<String, (Option<std::time::SystemTime>, u64)>>,
    /// The worker's ID, written into its partial (`--partials`).
    worker: Option<String>,
}

/// How long message ids are remembered after their report: Pub/Sub's longest ack deadline.
const REDELIVERY: Duration = Duration::from_secs(600);

#[derive(serde::Serialize)]
struct CheckpointFile<'a> {
    tool: String,
    /// The worker that wrote it (worker partials).
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<&'a str>,
    written_at: String,
    delivered: Vec<&'a str>,
    mergeable: &'a Mergeable,
}

/// The message ids a checkpoint or partial lists (the rest of the file is skipped).
#[derive(serde::Deserialize)]
struct Delivered {
    #[serde(default)]
    delivered: std::collections::HashSet<String>,
}

impl Checkpoint {
    /// Reads the checkpoint of an earlier watch, if any; `None` (with a warning) when there is
    /// no state directory to keep one in.
    fn open(
        dir: &str,
        own: &crate::model::record::MergeSettings,
        ledger: &crate::stages::source::pubsub::Ledger,
        every: Duration,
    ) -> Result<Option<Checkpoint>, RunError> {
        if dir.trim() == "none" {
            crate::console::warn(
                "warning: Pub/Sub without a state directory (--state none): messages are acknowledged after each report, and a restart starts counting from zero",
            );
            return Ok(None);
        }
        let path = Path::new(dir).join("watch-checkpoint.json");
        Checkpoint::at(path, own, ledger, every, true).map(Some)
    }

    /// A worker's partial, `DIR/ID.json`: read back when the worker reads Pub/Sub (`resume`),
    /// started anew otherwise (a file or pipe read again would count twice).
    fn worker(
        p: &Partials,
        own: &crate::model::record::MergeSettings,
        ledger: &crate::stages::source::pubsub::Ledger,
        every: Duration,
        resume: bool,
    ) -> Result<Checkpoint, RunError> {
        std::fs::create_dir_all(&p.dir).map_err(|e| {
            RunError::Input(format!(
                "--partials {}: cannot make the directory: {e}",
                p.dir.display()
            ))
        })?;
        let mut c = Checkpoint::at(p.path(), own, ledger, every, resume)?;
        c.worker = Some(p.worker.clone());
        if resume {
            c.peers = Some(Default::default());
            c.refresh_peers(ledger);
        }
        Ok(c)
    }

    fn at(
        path: PathBuf,
        own: &crate::model::record::MergeSettings,
        ledger: &crate::stages::source::pubsub::Ledger,
        every: Duration,
        resume: bool,
    ) -> Result<Checkpoint, RunError> {
        let keep = (REDELIVERY.as_secs() / every.as_secs().max(1)).max(2) as usize;
        let mut c = Checkpoint {
            path,
            base: None,
            recent: Default::default(),
            keep,
            peers: None,
            worker: None,
        };
        if resume && c.path.exists() {
            let p = c.path.display().to_string();
            let m = crate::topology::merge::read_mergeable(&p, own)?;
            let ids = read_delivered(&c.path)
                .ok_or_else(|| RunError::Input(format!("{p}: the checkpoint is damaged")))?;
            c.recent.push_back(ids.iter().cloned().collect());
            ledger.counted(&c.origin(), ids);
            c.base = Some(m);
        }
        Ok(c)
    }

    /// The name the ledger knows this checkpoint's ids by.
    fn origin(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Reads the message ids of the other workers' partials that changed since the last look:
    /// a message one worker counted and could not acknowledge before it stopped is delivered
    /// again, maybe to another worker, which must not count it twice. Pub/Sub delivers it
    /// again only after its lease (`2 × --every + 10 s`), by when every worker has looked.
    fn refresh_peers(&mut self, ledger: &crate::stages::source::pubsub::Ledger) {
        let own = self.origin();
        let Some(peers) = self.peers.as_mut() else {
            return;
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let Ok(listing) = std::fs::read_dir(dir) else {
            return;
        };
        let mut present = std::collections::HashSet::new();
        for e in listing.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !crate::topology::merge::is_partial_name(&name) || name == own {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            let stamp = (meta.modified().ok(), meta.len());
            present.insert(name.clone());
            if peers.get(&name) == Some(&stamp) {
                continue;
            }
            if let Some(ids) = read_delivered(&e.path()) {
                ledger.counted(&name, ids);
                peers.insert(name, stamp);
            }
        }
        peers.retain(|n, _| present.contains(n));
        ledger.keep_origins(|o| o == own || present.contains(o));
    }

    /// Adds what earlier processes counted to a report's parts; their clusters with no entry
    /// within the longest window (`reach`, nanoseconds) of the newest entry are dropped, as the
    /// shards drop theirs (their entries stay in the totals).
    fn add_to(&mut self, g: &mut Gathered, reach: i64) {
        g.keep_mergeable = true;
        let Some(m) = self.base.as_mut() else {
            return;
        };
        let newest = g.parts.iter().filter_map(|p| p.1).chain(m.newest).max();
        if let Some(floor) = newest.map(|n| n.saturating_sub(reach)) {
            m.clusters.retain(|c| {
                crate::stages::aggregate::overflow::is_overflow(c)
                    || c.last_seen.is_none_or(|l| l.nanos() >= floor)
            });
        }
        g.entries_read += m.entries_read;
        g.bytes_read += m.bytes_read;
        g.parts.push(crate::topology::merge::part_of(m.clone()));
    }

    /// Writes the checkpoint holding `m`, which counts the batches up to `through`, then
    /// acknowledges their messages. On an error the messages stay unacknowledged and come
    /// again, and the ids in the previous checkpoint keep them from counting twice.
    async fn save(
        &mut self,
        m: &Mergeable,
        ledger: &crate::stages::source::pubsub::Ledger,
        through: u64,
    ) -> Result<(), String> {
        self.recent.push_back(ledger.ids_through(through));
        while self.recent.len() > self.keep {
            self.recent.pop_front();
        }
        let file = CheckpointFile {
            tool: format!("log-gardener {}", env!("CARGO_PKG_VERSION")),
            worker: self.worker.as_deref(),
            written_at: format_rfc3339(now_nanos()),
            delivered: self.recent.iter().flatten().map(String::as_str).collect(),
            mergeable: m,
        };
        let path = self.path.display().to_string();
        crate::stages::sink::replace(&path, true, |w| {
            serde_json::to_writer(&mut *w, &file)?;
            Ok(())
        })
        .map_err(|e| {
            format!("cannot write {path}: {e}; the messages stay unacknowledged and come again")
        })?;
        // Delivered again (an acknowledgement lost), they are recognised.
        let ids = self.recent.iter().flatten().cloned().collect();
        ledger.counted(&self.origin(), ids);
        ledger.ack_through(through).await.map(|_| ())
    }
}

/// The `delivered` ids of a checkpoint or partial; `None` when it cannot be read.
fn read_delivered(path: &Path) -> Option<std::collections::HashSet<String>> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<Delivered>(&bytes)
        .ok()
        .map(|d| d.delivered)
}

/// Returns the memory a report freed to the system, so that a long watch's resident size
/// follows what it holds rather than its highest point (glibc keeps freed memory otherwise).
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resolves when the source has ended (end of input, a signal, an error).
async fn source_ended(lines: &Watching) {
    while !lines.gate.has_ended() {
        tokio::time::sleep(SOURCE_POLL).await;
    }
}

/// Cuts the pipeline: stops the source between batches, waits until every shard has counted
/// every batch sent, and takes each shard's snapshot (evicting clusters last seen `lateness`
/// before the newest entry). `None` when the source has ended meanwhile.
async fn cut(lines: &Watching, lateness: i64) -> Option<(u64, Vec<(Aggregate, Option<i64>)>)> {
    let sent = lines.gate.pause().await?;
    for l in &lines.shards {
        l.done.reach(sent).await;
    }
    let mut parts = Vec::with_capacity(lines.shards.len());
    for l in &lines.shards {
        let (reply, answer) = oneshot::channel();
        let asked = l
            .snapshots
            .send(SnapshotRequest {
                lateness: Some(lateness),
                reply,
            })
            .await;
        match (asked, answer.await) {
            (Ok(()), Ok(part)) => parts.push(part),
            // A shard that has ended ends the watch; the drain reports what it counted.
            _ => {
                lines.gate.release();
                return None;
            }
        }
    }
    // Before the source goes on, the fingerprint workers learn that templates must be
    // announced again (evicted clusters may come back).
    lines.number.next();
    lines.gate.release();
    Some((sent, parts))
}

/// What one interval's report is made from: the snapshots, counted exactly at the cut.
fn epoch(running: &Running, parts: Vec<(Aggregate, Option<i64>)>) -> Gathered {
    let entries_read = parts.iter().map(|(a, _)| a.entries + a.bad_count).sum();
    let mut notes = pipeline::part_notes(&running.cfg, &parts, false);
    notes.extend(evicted_note(&parts));
    let stages: Vec<_> = running.stats.iter().map(|s| s.report()).collect();
    Gathered {
        parts,
        inputs: running.input_names.to_vec(),
        partial: false,
        bytes_read: stages.first().map(|s| s.bytes).unwrap_or(0),
        entries_read,
        notes,
        stages,
        started: running.started,
        last: false,
        keep_mergeable: false,
    }
}

/// Says how many clusters were evicted (see [`crate::stages::aggregate::Shard::snapshot`]).
fn evicted_note(parts: &[(Aggregate, Option<i64>)]) -> Option<String> {
    let evicted: u64 = parts.iter().map(|(a, _)| a.evicted).sum();
    (evicted > 0).then(|| {
        format!(
            "{evicted} {} no entry within the longest window of the newest entry {} dropped from memory (a later entry starts {} anew); {} entries stay in the totals",
            if evicted == 1 {
                "cluster with"
            } else {
                "clusters with"
            },
            if evicted == 1 { "was" } else { "were" },
            if evicted == 1 { "it" } else { "them" },
            if evicted == 1 { "its" } else { "their" },
        )
    })
}

/// Writes one interval's report (windows back from `now`); a failed sink is said on stderr and
/// the watch goes on.
async fn report(running: &mut Running, opts: &RunOptions, gathered: Gathered, now: i64) -> Outcome {
    let cfg = Arc::clone(&running.cfg);
    let mut at = opts.clone();
    at.now = Some(Timestamp(now));
    at.progress = false;
    let out = report::conclude(&cfg, &at, &mut running.finisher, gathered, None).await;
    for e in &out.sink_errors {
        crate::console::warn(&format!("watch: {e} (trying again at the next interval)"));
    }
    out
}

/// One line on stderr per report.
fn announce(n: u64, out: &Outcome, now: i64) {
    let r = &out.report;
    let urgent: Vec<String> = r
        .priorities
        .iter()
        .filter(|(_, n)| **n > 0)
        .take(3)
        .map(|(p, n)| format!("{n} {p}"))
        .collect();
    crate::console::warn(&format!(
        "watch: report {n} at {}: {} entries read, {} problems{}",
        format_rfc3339(now),
        r.totals.entries_read,
        r.problems.len(),
        if urgent.is_empty() {
            String::new()
        } else {
            format!(" (clusters: {})", urgent.join(", "))
        }
    ));
}

/// One line on stderr per partial written.
fn announce_partial(n: u64, m: &Mergeable, path: &Path, now: i64) {
    crate::console::warn(&format!(
        "watch: partial {n} at {}: {} entries read, {} clusters in {}",
        format_rfc3339(now),
        m.entries_read,
        m.clusters.len(),
        path.display()
    ));
}
