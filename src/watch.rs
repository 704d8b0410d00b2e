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
use crate::config::Config;
use crate::pipeline::{self, Gathered, Outcome, RunError, RunOptions, Running, Watching};
use crate::record::Aggregate;
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
    let mut lines = None;
    let mut running = pipeline::start(cfg, &opts, Some(&mut lines)).await?;
    let lines = lines.expect("a watching pipeline has its lines");
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
        let Some(parts) = cut(&lines, reach.saturating_mul(NANOS)).await else {
            break;
        };
        reports += 1;
        let gathered = epoch(&running, parts);
        let out = report(&mut running, &opts, gathered, now).await;
        if watch.announce {
            announce(reports, &out, now);
        }
    }
    // The last report: everything read, the shards ended.
    let mut gathered = running.drain().await?;
    gathered.notes.extend(evicted_note(&gathered.parts));
    if running.terminated.load(Ordering::SeqCst) {
        // A service stop is how a watch ends: the report is complete for what was read.
        gathered.partial = false;
    }
    let cfg = Arc::clone(&running.cfg);
    let entries = running.entries_task.take();
    let mut last = opts.clone();
    last.now = Some(now_nanos());
    Ok(pipeline::conclude(&cfg, &last, &mut running.finisher, gathered, entries).await)
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
async fn cut(lines: &Watching, lateness: i64) -> Option<Vec<(Aggregate, Option<i64>)>> {
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
    Some(parts)
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
