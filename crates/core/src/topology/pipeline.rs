//! The runtime: wires the stages with bounded channels of batches, runs each stage as its own
//! tokio task, handles Ctrl-C / SIGTERM, and hands what the shards counted to the report stage
//! ([`crate::stages::report::conclude`]).
//!
//! ```text
//! source ─▶ parse ×N ─▶ fingerprint ×N ─┬▶ aggregate shard ×M ─▶ report ─▶ worklog / json / GitHub / state
//!                                      └▶ entries / dead-letter sink
//! ```
//!
//! Every channel is bounded (`pipeline.channel_capacity` batches), so a slow stage slows the
//! ones before it down to the source, and memory stays bounded whatever the input size. At end
//! of input each stage drains its channel and closes the next; on a signal the source stops
//! reading, everything already read is processed, and the report is marked partial.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::{Mutex, mpsc};

use crate::config::Config;
use crate::console::progress::Progress;
use crate::console::warn;
use crate::model::record::{Aggregate, Batch, Routed};
use crate::model::run::{RunError, RunOptions};
use crate::model::stats::StageStats;
use crate::model::time::{Timestamp, format_rfc3339, now_nanos};
use crate::stages::aggregate::{self, AggregateSettings};
use crate::stages::fingerprint::{self, Masker};
use crate::stages::parse;
use crate::stages::report::{EntriesTask, Finisher, Gathered, Outcome, conclude};
use crate::stages::sink;
use crate::stages::source::{self, Input};

/// Runs the pipeline to the end of the input (or a signal) and writes every sink.
/// `gardener run` is a watch with no interval: the stages start, the input is read to its end,
/// and the one epoch there is, the last, is reported (see [`Running::last_epoch`]).
pub async fn run(cfg: Config, opts: RunOptions) -> Result<Outcome, RunError> {
    let mut running = start(cfg, &opts, None).await?;
    let gathered = running.drain().await?;
    Ok(running.last_epoch(&opts, gathered).await)
}

/// What `gardener watch` adds to a pipeline: the epoch gate at the source, the epoch number
/// for the fingerprint workers, and a control line to each aggregate shard.
pub struct Watching {
    pub gate: Arc<crate::stages::epoch::Gate>,
    /// Pub/Sub messages to acknowledge once a checkpoint counts them.
    pub ledger: Arc<source::pubsub::Ledger>,
    pub number: Arc<crate::stages::epoch::Number>,
    pub shards: Vec<ShardLine>,
    /// The source's notes so far, for every interval's report.
    pub live: Arc<source::Live>,
}

/// `gardener watch`'s line to one running shard.
pub struct ShardLine {
    pub done: Arc<crate::stages::epoch::Counted>,
    pub snapshots: mpsc::Sender<aggregate::SnapshotRequest>,
}

/// A pipeline whose stages are running (see [`start`]).
pub struct Running {
    pub cfg: Arc<Config>,
    pub finisher: Finisher,
    pub input_names: Arc<Vec<String>>,
    /// Set by the first signal: the source stops reading.
    pub stop: Arc<AtomicBool>,
    /// The first signal was SIGTERM (a service stop), not Ctrl-C.
    pub terminated: Arc<AtomicBool>,
    signals: tokio::task::JoinHandle<()>,
    pub source_task: tokio::task::JoinHandle<Result<source::SourceSummary, source::SourceError>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    shards: Vec<tokio::task::JoinHandle<(Aggregate, Option<i64>)>>,
    pub entries_task: Option<EntriesTask>,
    pub stats: [Arc<StageStats>; 4],
    pub started: Instant,
}

/// Starts every stage: the source reads, batches flow to the aggregate shards. `watch` (for
/// `gardener watch`: its interval) receives the lines to cut epochs with.
pub async fn start(
    cfg: Config,
    opts: &RunOptions,
    watch: Option<(std::time::Duration, &mut Option<Watching>)>,
) -> Result<Running, RunError> {
    let started = Instant::now();
    let cfg = Arc::new(prepare(cfg, opts)?);
    let masker = Arc::new(
        Masker::new(
            &cfg.masks().map_err(|e| RunError::Config(e.0))?,
            cfg.fingerprint.max_message_bytes,
        )
        .map_err(RunError::Config)?,
    );
    let finisher = Finisher::new(&cfg, opts)?;
    let inputs = if opts.no_input {
        Vec::new()
    } else {
        source::inputs(&cfg, &opts.files)
    };
    // Fail early and clearly on a file that cannot be opened.
    for i in &inputs {
        if let Input::File(p) = i
            && let Err(e) = std::fs::metadata(p)
        {
            return Err(RunError::Input(format!("cannot read input file {p}: {e}")));
        }
    }
    let input_names = Arc::new(inputs.iter().map(Input::name).collect::<Vec<_>>());
    let cap = cfg.pipeline.channel_capacity;
    let stop = Arc::new(AtomicBool::new(false));
    let terminated = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn(on_signals(Arc::clone(&stop), Arc::clone(&terminated)));
    let watching = watch.is_some();
    let gate = watching.then(|| Arc::new(crate::stages::epoch::Gate::default()));
    let number = watching.then(|| Arc::new(crate::stages::epoch::Number::default()));
    let ledger = Arc::new(source::pubsub::Ledger::default());
    let live = Arc::new(source::Live::default());

    let stats = [
        Arc::new(StageStats::new("source", 1, 0)),
        Arc::new(StageStats::new("parse", cfg.parse.workers, cap)),
        Arc::new(StageStats::new("fingerprint", cfg.fingerprint.workers, cap)),
        Arc::new(StageStats::new("aggregate", cfg.aggregate.shards, cap)),
    ];

    // source → parse
    let (src_tx, src_rx) = mpsc::channel::<Batch>(cap);
    let source_task = {
        let cfg = Arc::clone(&cfg);
        let stop = Arc::clone(&stop);
        let inputs = inputs.clone();
        let stats = Arc::clone(&stats[0]);
        let progress = if opts.progress {
            Progress::on(input_size(&inputs))
        } else {
            Progress::off()
        };
        let every = watch.as_ref().map(|w| w.0).unwrap_or_default();
        let cuts = gate.clone().map(|gate| source::Cuts {
            gate,
            ledger: Arc::clone(&ledger),
            every,
            live: Arc::clone(&live),
        });
        tokio::task::spawn_blocking(move || {
            source::run(inputs, cfg, src_tx, stop, stats, progress, cuts)
        })
    };

    // parse ×N → fingerprint
    let (parse_tx, parse_rx) = mpsc::channel::<Batch>(cap);
    let src_rx = Arc::new(Mutex::new(src_rx));
    let mut workers = Vec::new();
    for _ in 0..cfg.parse.workers {
        workers.push(tokio::spawn(parse::run(
            Arc::clone(&src_rx),
            parse_tx.clone(),
            Arc::clone(&stats[1]),
        )));
    }
    // Only the workers hold the receivers: when they have all ended, senders learn at once.
    drop(src_rx);
    drop(parse_tx);

    // fingerprint ×N → aggregate shards and the entries sink
    let mut shard_txs = Vec::new();
    let mut shards = Vec::new();
    let mut lines = Vec::new();
    let remember = finisher.store.as_ref().map(|st| {
        let overlap = cfg.state.overlap.secs();
        Arc::new(aggregate::Remember {
            lookup: st.seen_ids.lookup(),
            overlap: overlap.saturating_mul(1_000_000_000),
            max_ids: cfg.state.max_ids,
        })
    });
    for shard in 0..cfg.aggregate.shards {
        let (tx, rx) = mpsc::channel::<Routed>(cap);
        shard_txs.push(tx);
        let set = shard_settings(&cfg, opts, shard, &input_names, remember.clone(), watching);
        let control = watching.then(|| {
            let (snap_tx, snap_rx) = mpsc::channel(1);
            let done = Arc::new(crate::stages::epoch::Counted::default());
            lines.push(ShardLine {
                done: Arc::clone(&done),
                snapshots: snap_tx,
            });
            aggregate::Control {
                done,
                snapshots: snap_rx,
            }
        });
        shards.push(tokio::spawn(aggregate::run(
            rx,
            set,
            Arc::clone(&stats[3]),
            control,
        )));
    }
    let (entries_tx, entries_task) = match entries_sink(&cfg, &input_names, cap) {
        Some((tx, task)) => (Some(tx), Some(task)),
        None => (None, None),
    };
    let parse_rx = Arc::new(Mutex::new(parse_rx));
    for _ in 0..cfg.fingerprint.workers {
        workers.push(tokio::spawn(fingerprint::run(
            Arc::clone(&masker),
            Arc::clone(&parse_rx),
            shard_txs.clone(),
            entries_tx.clone(),
            Arc::clone(&stats[2]),
            number.clone(),
        )));
    }
    drop(parse_rx);
    drop(shard_txs);
    drop(entries_tx);
    if let (Some((_, w)), Some(gate), Some(number)) = (watch, gate, number) {
        *w = Some(Watching {
            gate,
            ledger,
            number,
            shards: lines,
            live,
        });
    }
    Ok(Running {
        cfg,
        finisher,
        input_names,
        stop,
        terminated,
        signals,
        source_task,
        workers,
        shards,
        entries_task,
        stats,
        started,
    })
}

/// Signals: the first stops reading (and notes whether it was SIGTERM), a second one exits at
/// once.
async fn on_signals(stop: Arc<AtomicBool>, terminated: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    for round in 0..2 {
        let term_recv = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let by_term = tokio::select! {
            _ = tokio::signal::ctrl_c() => false,
            _ = term_recv => true,
        };
        if round == 0 {
            warn(if by_term {
                "stopping (SIGTERM); finishing what was read"
            } else {
                "interrupted; finishing what was read (press Ctrl-C again to quit at once)"
            });
            terminated.store(by_term, Ordering::SeqCst);
            stop.store(true, Ordering::SeqCst);
        } else {
            std::process::exit(crate::exit::INTERRUPTED);
        }
    }
}

/// One aggregate shard's settings.
fn shard_settings(
    cfg: &Config,
    opts: &RunOptions,
    shard: usize,
    input_names: &Arc<Vec<String>>,
    remember: Option<Arc<aggregate::Remember>>,
    watching: bool,
) -> AggregateSettings {
    AggregateSettings {
        shard,
        shards: cfg.aggregate.shards,
        samples: cfg.aggregate.samples,
        reach: cfg.windows().iter().map(|w| w.1).max().unwrap_or(86_400),
        traces: cfg.related.traces_per_cluster,
        now: opts.now.map(Timestamp::nanos),
        bucket: cfg.bucket_secs(),
        max_buckets: cfg.aggregate.max_buckets,
        max_clusters: cfg
            .aggregate
            .max_clusters
            .div_ceil(cfg.aggregate.shards.max(1)),
        latest: now_nanos().saturating_add(cfg.future_margin_nanos()),
        rolling_margin: watching.then(|| cfg.future_margin_nanos()),
        coarse_after: watching
            .then(|| cfg.windows().iter().map(|w| w.1).min())
            .flatten(),
        inputs: Arc::clone(input_names),
        remember,
    }
}

/// The entries and dead-letter sink, when either file is asked for: one more receiver of
/// every batch.
fn entries_sink(
    cfg: &Config,
    input_names: &Arc<Vec<String>>,
    cap: usize,
) -> Option<(mpsc::Sender<Arc<Batch>>, EntriesTask)> {
    let entries_path = cfg.sinks.entries.clone();
    let dead_path = cfg.sinks.dead_letter.clone();
    if entries_path.is_none() && dead_path.is_none() {
        return None;
    }
    let (tx, rx) = mpsc::channel::<Arc<Batch>>(cap);
    let s = sink::entries::EntriesSink {
        entries: entries_path,
        dead_letter: dead_path,
        inputs: Arc::clone(input_names),
    };
    let (ids_tx, ids_rx) = tokio::sync::oneshot::channel();
    Some((
        tx,
        (
            tokio::task::spawn_blocking(move || s.run(rx, ids_rx)),
            ids_tx,
        ),
    ))
}

impl Running {
    /// The last epoch of a pipeline, after [`Running::drain`]: the report stage runs on
    /// everything counted, and the entries sink gets the final ids. All that `run` reports, and
    /// how `watch` ends (its earlier epochs are cut from the running pipeline).
    pub async fn last_epoch(&mut self, opts: &RunOptions, gathered: Gathered) -> Outcome {
        let cfg = Arc::clone(&self.cfg);
        let entries = self.entries_task.take();
        conclude(&cfg, opts, &mut self.finisher, gathered, entries).await
    }

    /// Waits for every stage to end (end of input, or a signal) and gathers what the shards
    /// counted, with the notes and checks of the whole run.
    pub async fn drain(&mut self) -> Result<Gathered, RunError> {
        let mut parts = Vec::new();
        for s in self.shards.drain(..) {
            parts.push(s.await.expect("aggregate shard panicked"));
        }
        for w in self.workers.drain(..) {
            let _ = w.await;
        }
        // The source always ends: at the end of the input, or (on a signal) after sending what
        // it had; it never waits on a silent pipe for long (see `source::Feed`).
        let summary = match (&mut self.source_task).await.expect("source panicked") {
            Ok(s) => s,
            Err(e) => return Err(RunError::Input(e.0)),
        };
        let interrupted = self.stop.load(Ordering::SeqCst);
        self.signals.abort();
        let parsed = self.stats[1].report();
        let mut notes: Vec<String> = summary
            .notes
            .iter()
            .map(|n| format!("{} (byte {}): {}", n.input, n.offset, n.text))
            .collect();
        // Entries read are those that entered processing; every one of them is processed or
        // skipped. The check below guards that promise.
        let entries_read = parsed.entries_in;
        let processed_or_skipped: u64 = parts.iter().map(|(a, _)| a.entries + a.bad_count).sum();
        if entries_read != processed_or_skipped || entries_read != summary.entries {
            notes.push(format!(
                "internal accounting error: {} entries split, {entries_read} read, {processed_or_skipped} processed or skipped; please report this",
                summary.entries
            ));
        }
        notes.extend(part_notes(&self.cfg, &parts, true));
        if interrupted {
            notes.push(format!(
                "interrupted: {entries_read} entries were read and {processed_or_skipped} processed or skipped before the run stopped"
            ));
        }
        Ok(Gathered {
            parts,
            inputs: self.input_names.to_vec(),
            partial: interrupted,
            bytes_read: summary.bytes,
            entries_read,
            notes,
            stages: self.stats.iter().map(|s| s.report()).collect(),
            started: self.started,
            last: true,
            keep_mergeable: false,
        })
    }
}

/// Notes on what the shards counted: fields ignored, entries dated in the future (also said
/// on stderr with `say`).
pub fn part_notes(cfg: &Config, parts: &[(Aggregate, Option<i64>)], say: bool) -> Vec<String> {
    let mut notes = Vec::new();
    let ignored: u64 = parts.iter().map(|(a, _)| a.ignored_fields).sum();
    if ignored > 0 {
        notes.push(format!(
            "{ignored} {} of an unexpected type (e.g. protoPayload.status as a number, httpRequest as text) {} ignored; the entries were kept (totals.ignored_fields)",
            if ignored == 1 { "field" } else { "fields" },
            if ignored == 1 { "was" } else { "were" },
        ));
    }
    let future: u64 = parts.iter().map(|(a, _)| a.future_dated).sum();
    if future > 0 {
        let latest = parts.iter().filter_map(|(a, _)| a.future_latest).max();
        let note = format!(
            "{future} {} dated more than aggregate.future_margin ({}) after this run's clock (the latest {}): counted without {} time, so the windows and the state are not moved; check the clock of whatever wrote {}",
            if future == 1 {
                "entry is"
            } else {
                "entries are"
            },
            cfg.aggregate.future_margin,
            latest.map(format_rfc3339).unwrap_or_default(),
            if future == 1 { "its" } else { "their" },
            if future == 1 { "it" } else { "them" },
        );
        if say {
            warn(&format!("warning: {note}"));
        }
        notes.push(note);
    }
    notes
}

/// What every command does first with its configuration: folds the command line into it
/// ([`Config::fold`]) and checks the outputs it names ([`check_outputs`]).
pub fn prepare(mut cfg: Config, opts: &RunOptions) -> Result<Config, RunError> {
    cfg.fold(opts);
    check_outputs(&cfg, opts)?;
    Ok(cfg)
}

/// Refuses, before anything is read, an output that would overwrite an input or another
/// output: the same file however it is named (relative, absolute, through a symbolic link).
/// `-` (standard output) is never a file here.
fn check_outputs(cfg: &Config, opts: &RunOptions) -> Result<(), RunError> {
    let outputs = [
        ("--report", cfg.sinks.report.as_ref()),
        ("--json", cfg.sinks.json.as_ref()),
        ("--entries", cfg.sinks.entries.as_ref()),
        ("--dead-letter", cfg.sinks.dead_letter.as_ref()),
    ];
    let same = |a: &str, b: &str| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (flag, path) in outputs {
        let Some(path) = path.map(String::as_str).filter(|p| *p != "-") else {
            continue;
        };
        if let Some(input) = opts.files.iter().find(|f| *f != "-" && same(f, path)) {
            return Err(RunError::Config(format!(
                "{flag} {path} is the input {input}: writing it would destroy the logs; name another file"
            )));
        }
        if let Some((other, _)) = seen.iter().find(|(_, p)| *p == path || same(p, path)) {
            return Err(RunError::Config(format!(
                "{flag} {path} is also {other}: each output needs a file of its own"
            )));
        }
        seen.push((flag, path));
    }
    Ok(())
}

/// Total size of the inputs when known: every input is a file (for a gzip file, its compressed
/// size, which is what progress counts).
fn input_size(inputs: &[Input]) -> Option<u64> {
    inputs.iter().try_fold(0u64, |sum, i| match i {
        Input::File(p) => std::fs::metadata(p).ok().map(|m| sum + m.len()),
        Input::Stdin | Input::Gcloud { .. } | Input::Pubsub(_) => None,
    })
}
