//! `gardener watch`: the pipeline over a stream that may never end, with a report every
//! interval (an epoch).
//!
//! The stages run as in `gardener run`. Every `--every`, the report stage cuts the pipeline at
//! the source (see [`crate::epoch`]), takes a snapshot of every aggregate shard, and runs the
//! same tail as a run ([`pipeline::conclude`]) on them: template mining, trends, problems,
//! priorities, redaction, GitHub (at most once per interval), the state (saved every
//! interval) and the report files (each replaced whole, see [`crate::sink::replace`]). Reading
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

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::aggregate::SnapshotRequest;
use crate::config::{Config, SourceKind};
use crate::pipeline::{self, Gathered, Outcome, RunError, RunOptions, Running, Watching};
use crate::record::{Aggregate, Mergeable};
use crate::time::{NANOS, format_rfc3339, now_nanos};

/// How often the interval wait looks whether the source has ended.
const SOURCE_POLL: Duration = Duration::from_millis(50);

/// What `gardener watch` is asked to do beyond a run's options.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// The interval between reports.
    pub every: Duration,
    /// One line per report on standard error.
    pub announce: bool,
}

/// Runs until the input ends or a signal comes, writing the reports every interval.
pub async fn run(cfg: Config, opts: RunOptions, watch: WatchOptions) -> Result<Outcome, RunError> {
    let pubsub = opts.files.is_empty() && cfg.source.kind == SourceKind::Pubsub;
    let state_dir = opts.state.clone().unwrap_or_else(|| cfg.state.dir.clone());
    let mut lines = None;
    let mut running = pipeline::start(cfg, &opts, Some((watch.every, &mut lines))).await?;
    let lines = lines.expect("a watching pipeline has its lines");
    let lease = crate::source::pubsub::lease(watch.every);
    if pubsub && lease < watch.every * 2 + Duration::from_secs(10) {
        return Err(RunError::Config(format!(
            "--every {}s: with source.kind pubsub a message is acknowledged by the report after it arrives, and Pub/Sub redelivers after at most 10 minutes; use --every 4m55s or less",
            watch.every.as_secs()
        )));
    }
    let mut resume = if pubsub {
        Checkpoint::open(
            &state_dir,
            running.finisher.merge_settings(),
            &lines.ledger,
            watch.every,
        )?
    } else {
        None
    };
    let reach = running
        .cfg
        .windows()
        .iter()
        .map(|w| w.1)
        .max()
        .unwrap_or(86_400);
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + watch.every, watch.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reports = 0u64;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = source_ended(&lines) => break,
        }
        let now = now_nanos();
        let Some((sent, parts)) = cut(&lines, reach.saturating_mul(NANOS)).await else {
            break;
        };
        reports += 1;
        let mut gathered = epoch(&running, parts);
        if let Some(c) = &resume {
            c.add_to(&mut gathered);
        }
        let out = report(&mut running, &opts, gathered, now).await;
        if let Some(c) = resume.as_mut() {
            c.save(&out, &lines.ledger, sent).await;
        }
        if watch.announce {
            announce(reports, &out, now);
        }
        drop(out);
        give_back_memory();
    }
    // The last report: everything read, the shards ended.
    let mut gathered = running.drain().await?;
    gathered.notes.extend(evicted_note(&gathered.parts));
    if running.terminated.load(Ordering::SeqCst) {
        // A service stop is how a watch ends: the report is complete for what was read.
        gathered.partial = false;
    }
    if let Some(c) = &resume {
        c.add_to(&mut gathered);
    }
    let cfg = Arc::clone(&running.cfg);
    let entries = running.entries_task.take();
    let mut last = opts.clone();
    last.now = Some(now_nanos());
    let out = pipeline::conclude(&cfg, &last, &mut running.finisher, gathered, entries).await;
    if let Some(c) = resume.as_mut()
        && !out.report.partial
    {
        c.save(&out, &lines.ledger, u64::MAX).await;
    }
    Ok(out)
}

/// `gardener watch`'s checkpoint for a Pub/Sub subscription (`state.dir/watch-checkpoint.json`):
/// everything counted so far as a mergeable section, and the ids of the messages it counts
/// that may still be delivered again. Written (synced, renamed) after each report, before the
/// messages it covers are acknowledged; read back at start, so a restart goes on from it.
struct Checkpoint {
    path: std::path::PathBuf,
    /// What earlier processes counted (from the checkpoint read at start).
    base: Option<Mergeable>,
    /// Message ids of the last reports (newest last): a message may be delivered again until
    /// its acknowledgement is through, so ids are kept for [`REDELIVERY`].
    recent: std::collections::VecDeque<Vec<String>>,
    keep: usize,
}

/// How long message ids are remembered after their report: Pub/Sub's longest ack deadline.
const REDELIVERY: Duration = Duration::from_secs(600);

#[derive(serde::Serialize, serde::Deserialize)]
struct CheckpointFile {
    tool: String,
    delivered: Vec<String>,
    mergeable: Mergeable,
}

impl Checkpoint {
    /// Reads the checkpoint of an earlier watch, if any; `None` (with a warning) when there is
    /// no state directory to keep one in.
    fn open(
        dir: &str,
        own: &crate::record::MergeSettings,
        ledger: &crate::source::pubsub::Ledger,
        every: Duration,
    ) -> Result<Option<Checkpoint>, RunError> {
        if dir.trim() == "none" {
            pipeline::warn(
                "warning: Pub/Sub without a state directory (--state none): messages are acknowledged after each report, and a restart starts counting from zero",
            );
            return Ok(None);
        }
        let path = std::path::Path::new(dir).join("watch-checkpoint.json");
        let keep = (REDELIVERY.as_secs() / every.as_secs().max(1)).max(2) as usize;
        let mut c = Checkpoint {
            path,
            base: None,
            recent: Default::default(),
            keep,
        };
        if c.path.exists() {
            let p = c.path.display().to_string();
            let m = crate::merge::read_mergeable(&p, own)?;
            #[derive(serde::Deserialize)]
            struct Ids {
                delivered: Vec<String>,
            }
            let ids: Ids = std::fs::read(&c.path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| RunError::Input(format!("{p}: the checkpoint is damaged")))?;
            ledger.counted(ids.delivered.iter().cloned());
            c.recent.push_back(ids.delivered);
            c.base = Some(m);
        }
        Ok(Some(c))
    }

    /// Adds what earlier processes counted to a report's parts.
    fn add_to(&self, g: &mut Gathered) {
        g.keep_mergeable = true;
        if let Some(m) = &self.base {
            g.entries_read += m.entries_read;
            g.bytes_read += m.bytes_read;
            g.parts.push(crate::merge::part_of(m.clone()));
        }
    }

    /// Writes the checkpoint of a report that counts the batches up to `through`, then
    /// acknowledges their messages. A failure is said; the messages then come again, and the
    /// ids in the previous checkpoint keep them from counting twice.
    async fn save(&mut self, out: &Outcome, ledger: &crate::source::pubsub::Ledger, through: u64) {
        let Some(m) = &out.report.mergeable else {
            return;
        };
        self.recent.push_back(ledger.ids_through(through));
        while self.recent.len() > self.keep {
            self.recent.pop_front();
        }
        let file = CheckpointFile {
            tool: out.report.tool.clone(),
            delivered: self.recent.iter().flatten().cloned().collect(),
            mergeable: m.clone(),
        };
        let path = self.path.display().to_string();
        let written = crate::sink::replace(&path, true, |w| {
            serde_json::to_writer(&mut *w, &file)?;
            Ok(())
        });
        if let Err(e) = written {
            pipeline::warn(&format!(
                "watch: cannot write the checkpoint {path}: {e}; the messages stay unacknowledged and come again"
            ));
            return;
        }
        if let Err(e) = ledger.ack_through(through).await {
            pipeline::warn(&format!("watch: {e}"));
        }
    }
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

/// Says how many clusters were evicted (see [`crate::aggregate::Shard::snapshot`]).
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
    at.now = Some(now);
    at.progress = false;
    let out = pipeline::conclude(&cfg, &at, &mut running.finisher, gathered, None).await;
    for e in &out.sink_errors {
        pipeline::warn(&format!("watch: {e} (trying again at the next interval)"));
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
    pipeline::warn(&format!(
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
