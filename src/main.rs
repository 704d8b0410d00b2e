//! The `gardener` command line.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use gardener_core::config::{Config, InputFormat};
use gardener_core::console::warn;
use gardener_core::exit;
use gardener_core::model::run::{RunError, RunOptions};
use gardener_core::model::time::Timestamp;
use gardener_core::stages::fingerprint::{Masker, MessageGrouper, format_id};
use gardener_core::topology::pipeline;
use gardener_devtools::generator::{GenFormat, GenOptions};

const ABOUT: &str =
    "Turns Google Cloud Logging output into a short, prioritized worklog of problems.";

const LONG_ABOUT: &str = "\
Turns Google Cloud Logging output into a short, prioritized worklog of problems.

Entries flow through a streaming pipeline (source → parse → fingerprint → aggregate →
prioritize → sinks). Messages are masked into templates (`<*>` for variables) and grouped by
template and service under a stable 16-hex-digit fingerprint, counted in sliding windows, and
ranked P0 (drop everything) to P5 (noise) by YAML rules.

EXAMPLES:
    # Triage the last two days of warnings:
    gcloud logging read 'severity>=WARNING' --project=P --freshness=2d --format=json | gardener run

    # The bundled example, with a JSON report and one line per entry:
    gardener run examples/netra-staging.json --json report.json --entries entries.ndjson

    # Keep GitHub issues in step with the clusters (token from GITHUB_TOKEN; see `run --help`):
    gardener run logs.json --github OWNER/REPO --dry-run

    # Combine the JSON reports of separate days or files (see `merge --help`):
    gardener merge day1.json day2.json --report worklog.md --json all.json

    # Check a configuration:
    gardener validate --config pipeline.yaml

    # See how messages are grouped:
    printf 'user 42 logged in\\nuser 7 logged in\\n' | gardener fingerprint";

#[derive(Parser)]
#[command(name = "gardener", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read log entries and write the prioritized worklog (and optionally JSON and NDJSON).
    #[command(long_about = RUN_ABOUT, after_long_help = RUN_AFTER)]
    Run(RunCmd),
    /// Follow a stream that may never end (`gcloud beta logging tail`, a FIFO, NDJSON on a
    /// pipe) and rewrite the reports, the state and GitHub every interval.
    #[command(long_about = WATCH_ABOUT, after_long_help = WATCH_AFTER)]
    Watch(WatchArgs),
    /// Combine the JSON reports of runs over parts of the input into the report of one run
    /// over all of it (backfills).
    #[command(long_about = MERGE_ABOUT, after_long_help = MERGE_AFTER)]
    Merge(MergeArgs),
    /// Check a configuration: YAML syntax and keys (with line and column), stages and rules.
    #[command(after_long_help = VALIDATE_AFTER)]
    Validate(ConfigArg),
    /// Print `<fingerprint>\t<template>` for each message line read (stdin or files), grouped
    /// exactly as `gardener run` groups messages (all lines are read before any is printed).
    #[command(after_long_help = FINGERPRINT_AFTER)]
    Fingerprint(FingerprintArgs),
    /// Generate realistic gcloud output (deterministic for a seed) for tests and benchmarks.
    #[command(after_long_help = GEN_AFTER)]
    Gen(GenArgs),
    /// Benchmark `gardener run` against a one-core parse-only baseline on generated input:
    /// wall time, entries/s, MB/s and peak RSS of each. Build with --release first.
    #[command(long_about = BENCH_ABOUT)]
    Bench(BenchArgs),
    /// The benchmark's parse-only baseline: split and parse FILE on one thread, nothing else.
    #[command(hide = true)]
    ParseOnly(ParseOnlyArgs),
}

const BENCH_ABOUT: &str = "\
Benchmark `gardener run` against a one-core parse-only baseline on generated input.

For each size, generates `gardener gen --entries N --seed S` output once (cached in --dir,
default bench-data/), then runs, as child processes of this binary: `gardener run --quiet` with
the worklog and JSON report written to --dir, and the parse-only baseline (a splitter that
scans every byte for brackets and strings, and the parse stage, on one thread, nothing else).
Prints wall time, CPU time,
entries/s, MB/s and peak RSS (from wait4) of each, and the ratio of their throughputs, plus
the per-stage statistics of the run. Numbers vary with the machine and its load: run it on an
idle machine, with a release build:

    cargo run --release -- bench
    cargo run --release -- bench --entries 100000 --repeat 3";

const RUN_ABOUT: &str = "\
Read log entries and write the prioritized worklog.

Input is what `gcloud logging read --format=json` prints (a JSON array, newest first, of any
size: it is split while streaming, never loaded whole) or NDJSON (one entry per line); the
format is detected from the first non-blank byte. Reads standard input unless FILEs are given
(`-` is standard input), or runs gcloud itself with `source.kind: gcloud` in the config.
Any input may be gzip-compressed (as Cloud Logging sinks export it): it is recognised by its
first bytes, whatever its name, and decompressed on the fly; byte offsets in notes and bad
entries then count decompressed bytes.

Bad input never stops a run. An entry that is not valid JSON, not an object, has a field of the
wrong type or no message, is cut off, is larger than source.max_entry_kib (16 MiB) or nested
deeper than source.max_depth (100) is counted, listed in the report and written to
--dead-letter; lines that are not JSON (gcloud's warnings) are skipped with a note; invalid
UTF-8 is repaired. Every entry read is processed or skipped.

The worklog goes to standard output unless --report names a file; logs and progress go to
standard error, never into the report. Progress (bytes and entries read, rates, and a bar with
the time left when the input size is known) shows only when standard error is a terminal and
the run lasts more than half a second, then names the step the end of the run is on (mining
templates, prioritizing, GitHub, writing the reports). With --report FILE, a summary of at most
40 lines follows on standard error: the top problems, what changed since the last run, and
every file written. --quiet turns both off.";

const WATCH_ABOUT: &str = "\
Follow a stream of log entries that may never end and keep the reports up to date.

Reads what `gardener run` reads (a JSON array that may never close, as `gcloud beta logging
tail --format=json` prints it; NDJSON; files, FIFOs, standard input, `source.kind: gcloud`),
or a Pub/Sub subscription a Cloud Logging sink feeds (`source.kind: pubsub`: a message is
acknowledged only once a report counts it and the checkpoint in the state directory holds it,
so a restart goes on without losing or double-counting).
Every --every (default 1m) the pipeline is cut between two batches and the report of
everything read so far is made while reading goes on: the worklog (--report) and JSON report
(--json) are replaced whole (readers never see half a file; totals.entries_read counts all
entries read so far), the state is saved, and GitHub acts at most once. Windows count back
from the clock at each report. Clusters with no entry within the longest window of the newest
entry are dropped from memory (their entries stay in the totals); counts older than the
smallest window are kept per minute; aggregate.max_clusters bounds the rest,
so memory stays flat however long it runs. A worklog to standard output is written once, at
the end.

With --partials DIR the watch is a worker, one of several on one subscription: every
interval it writes its mergeable partial to DIR/ID.json (replaced whole) instead of reports,
acknowledges the messages it covers, and skips messages another worker's partial already
counts; `gardener merge --watch DIR` is their coordinator.

Examples:
    gcloud beta logging tail 'severity>=WARNING' --format=json \\
        | gardener watch --every 1m --report worklog.md --json report.json
    gardener watch --every 30s --json /srv/report.json /run/logs.fifo
    # A worker (source.kind: pubsub in the config), one of many:
    gardener watch --every 1m --config pubsub.yaml --partials /work/partials --worker-id w1";

const WATCH_AFTER: &str = "\
EXIT CODES:
    0    the input ended or SIGTERM (a service stop): the last report was written, state saved
    1    a sink failed in the last report (failures of earlier reports are said on stderr,
         and the next interval tries again)
    2    bad command line or configuration
    3    the input could not be read
    4    --strict and some entries were skipped as bad
    5    another run holds this state
    130  interrupted (Ctrl-C): the last report was written and marked partial";

const RUN_AFTER: &str = "\
EXIT CODES:
    0    everything read, every sink written (also when standard output closes early: `| head`)
    1    a sink failed, GitHub included (named on stderr; the other sinks were still written);
         a GitHub rate limit that stops the writing is not a failure: the next run continues
    2    bad command line or configuration
    3    the input could not be read (missing file, gcloud failed or missing), or the state
         file (--state) is unreadable or corrupt
    4    --strict and some entries were skipped as bad
    5    another run holds this state (--state, sinks.github.state_file) longer than
         state.lock_wait: runs sharing a state take turns
    130  interrupted (Ctrl-C / SIGTERM): the report was written and marked partial

EXAMPLES:
    gcloud logging read 'severity>=WARNING' --freshness=1d --format=json | gardener run
    gardener run day1.json day2.json --report worklog.md --json report.json
    gardener run --now 2025-09-14T05:00:00Z --entries entries.ndjson logs.ndjson

GITHUB:
    --github OWNER/REPO keeps one issue per problem (a lead cluster and what it drags along)
    of priority sinks.github.min_priority (P2) or more urgent: creates it, comments when new
    entries arrive or clusters join the problem, raises its priority label (with a comment)
    when the problem grows, reopens it when a closed problem comes back. It never closes an
    issue, never lowers a priority, never files expected behaviour, and never files the same
    problem twice (issues carry a hidden marker with the problem id and its clusters, and the
    label sinks.github.label; an issue filed earlier for one of the clusters is adopted; a
    state file, sinks.github.state_file, remembers them). Titles, bodies and comments are
    redacted (tokens, keys, passwords, emails) before they are sent.

    The token comes from GITHUB_TOKEN only (fine-grained: Issues read and write on the
    repository; classic: `repo`, or `public_repo` for a public repository). Without it, or
    with --dry-run, the plan is printed on stderr as a table (action, issue, title, labels),
    the worklog shows it, and nothing is written.

    GITHUB_TOKEN=... gardener run logs.json --github netra-systems/netra-apex
    gardener run examples/netra-staging.json --github netra-systems/netra-apex --dry-run";

const MERGE_ABOUT: &str = "\
Combine the JSON reports of runs over parts of the input into the report of one run over all
of it: for backfills too big for one run, days processed separately, or exported files
processed on separate machines.

Each part is the JSON report (`gardener run --json PATH`) of a run over its share of the
entries. Its `mergeable` section holds the run's aggregates before template mining, so merge
re-runs mining over all the parts' templates and gives exactly what one run over all the input
gives: the same fingerprints, counts, windows, severities, revisions, locations, samples,
HTTP statuses and latency percentiles, first and last seen, priorities, related clusters,
totals and bad entries. The order of the files does not matter. The merged JSON report is
itself mergeable, so merging can go in stages (days into weeks).

Parts must be made with the same windows, samples, mask pack, related.traces_per_cluster and
--now (if any); the merge runs with its own configuration (--config) for priorities, titles,
redaction and sinks, and refuses (exit 2) a file that is not a gardener JSON report, has
another format version or was made with other settings that change the counts. Each entry must
be in exactly one part; the same part given twice is refused.

The worklog goes to standard output unless --report names a file.

With --watch DIR, merge is the coordinator of workers (`gardener watch --partials DIR`): every
--every it merges the partials written to DIR within the longest window and writes the
reports, the state and GitHub, windows counted back from the clock, until SIGTERM.";

const VALIDATE_AFTER: &str = "\
Checks everything a run would refuse, before a run: unknown or misspelled keys (with the file,
line and column), values out of range, durations, windows, regular expressions, the mask,
redaction and priority packs, rules naming windows that are not configured, GitHub labels
GitHub would refuse. Every problem is listed, each once. On success it prints one line: the
workers, shards, windows, rule count and whether the GitHub sink is on.

EXIT CODES:
    0    the configuration is valid
    2    it is not (every problem listed on stderr)

EXAMPLES:
    gardener validate --config pipeline.yaml
    GARDENER_CONFIG=ops/gardener.yaml gardener validate
    # In CI, before deploying a changed configuration:
    gardener validate --config pipeline.yaml || exit 1";

const FINGERPRINT_AFTER: &str = "\
Each line is one message (the text a log entry carries, not the JSON entry). Lines are masked
and mined exactly as `gardener run` does for one service (--service, default none), so the id
printed is the cluster id a run gives that message; this is the way to check a mask or see why
two messages do or do not group.

EXIT CODES:
    0    every line fingerprinted (also when standard output closes early: `| head`)
    2    bad configuration
    3    a file could not be read

EXAMPLES:
    printf 'user 1042 timed out after 30s\\nuser 977 timed out after 5s\\n' | gardener fingerprint
    gardener fingerprint --service netra-backend-staging messages.txt
    # Which messages of a log share a template:
    jq -r '.[].jsonPayload.message // empty' logs.json | gardener fingerprint | sort | uniq -c -w16";

const GEN_AFTER: &str = "\
The entries look like a Cloud Run service's gcloud output: JSON payloads and text payloads,
request logs with latency, tracebacks, an outage with its 503s, bursts, and a few bad
entries. The same --seed gives the same bytes on every machine. Meant for tests, benchmarks
and trying gardener out; it is not part of a production run.

EXIT CODES:
    0    written (also when standard output closes early: `| head`)
    1    the output could not be written
    2    a bad flag value (--format, --end, --span, --spike)

EXAMPLES:
    gardener gen --entries 100000 -o logs.json && gardener run logs.json --report worklog.md
    gardener gen --format ndjson --seed 7 --span 6h | gardener run --format ndjson
    # With the ground truth, to measure grouping:
    gardener gen --entries 20000 --truth truth.tsv -o logs.json";

const MERGE_AFTER: &str = "\
EXIT CODES:
    0    merged, every sink written
    1    a sink failed (named on stderr; the other sinks were still written)
    2    bad command line or configuration, or a file that cannot be merged (not a gardener
         JSON report, another format version, other windows/samples/masks/--now)
    3    a file could not be read (with --watch: DIR is not a directory)
    5    another run holds this state longer than state.lock_wait
    130  --watch interrupted (Ctrl-C): the last report was written and marked partial; SIGTERM
         ends --watch with exit 0

EXAMPLES:
    # A week exported as one file per day, each day run on its own machine:
    gardener run logs-09-08.json --json day-08.json --report /dev/null
    gardener run logs-09-09.json --json day-09.json --report /dev/null
    ...
    # Then the report of the whole week, as if read in one run:
    gardener merge day-*.json --report week.md --json week.json
    # Weeks into a month (a merged report merges again):
    gardener merge week-1.json week-2.json week-3.json week-4.json --report month.md

    # Windows counted back from a fixed time (parts made with the same --now, or none):
    gardener merge a.json b.json --now 2025-09-14T05:00:00Z

    # A backfill in 8 tasks (--shard K/N; `auto` in a Cloud Run Job), then the whole:
    gardener run --shard 3/8 --state none --report /dev/null --json part-{shard}.json logs/*.json
    gardener merge part-*.json --report month.md

    # The coordinator of workers writing partials to /work/partials:
    gardener merge --watch /work/partials --every 1m --report worklog.md --github my-org/my-repo";

#[derive(Args)]
struct MergeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Markdown worklog path (`-` = standard output, the default).
    #[arg(long, value_name = "PATH")]
    report: Option<String>,
    /// JSON report path (itself mergeable).
    #[arg(long, value_name = "PATH")]
    json: Option<String>,
    /// Count windows back from this time (RFC 3339). Default: the --now the parts were made
    /// with, else the newest entry of all parts.
    #[arg(long, value_name = "TIMESTAMP")]
    now: Option<String>,
    /// State store directory, as for `run`: the merged report updates it like one run over
    /// all the parts' input would, and its template memory shapes the ids. `none`: stateless.
    /// Default: $GARDENER_STATE, else state.dir (.log-gardener).
    #[arg(long, value_name = "DIR|none")]
    state: Option<String>,
    /// Coordinator mode: every --every, merge the partials that workers (`gardener watch
    /// --partials DIR`) wrote to DIR within the longest window, and write the reports, the
    /// state and GitHub from them (one writer for all workers). Runs until SIGTERM.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "files",
        conflicts_with = "now"
    )]
    watch: Option<PathBuf>,
    /// With --watch: the interval between reports (30s, 1m, 5m).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1m",
        requires = "watch"
    )]
    every: String,
    /// GitHub, as for `run` (with --watch: the coordinator is the single writer).
    #[arg(long, value_name = "OWNER/REPO")]
    github: Option<String>,
    /// Plan the GitHub actions without writing anything to GitHub.
    #[arg(long)]
    dry_run: bool,
    /// No line on stderr per report (--watch).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// JSON reports written by `gardener run --json` (or `gardener merge --json`), or worker
    /// partials (`gardener watch --partials`).
    #[arg(value_name = "REPORT.json", required_unless_present = "watch")]
    files: Vec<String>,
}

#[derive(Args)]
struct ConfigArg {
    /// Configuration file (pipeline.yaml). Default: $GARDENER_CONFIG, else built-in defaults.
    #[arg(long, short = 'c', value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Markdown worklog path (`-` = standard output, the default).
    #[arg(long, value_name = "PATH")]
    report: Option<String>,
    /// JSON report path.
    #[arg(long, value_name = "PATH")]
    json: Option<String>,
    /// NDJSON, one line per entry: insertId, timestamp, service, severity, fingerprint.
    #[arg(long, value_name = "PATH")]
    entries: Option<String>,
    /// NDJSON of entries that could not be processed (input, entry, offset, size, reason, raw).
    #[arg(long, value_name = "PATH")]
    dead_letter: Option<String>,
    /// Count windows back from this time (RFC 3339) instead of from the newest entry.
    #[arg(long, value_name = "TIMESTAMP")]
    now: Option<String>,
    /// Input format: auto (default), array or ndjson.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Print per-stage statistics (entries, busy and blocked time, input channel depth, batch
    /// latency) to stderr, and, at the end, the time reading took and each step after it.
    #[arg(long)]
    stats: bool,
    /// No progress display and no summary. Progress (bytes and entries read, rates, ETA for
    /// files, then the step the end of the run is on) shows on stderr only when stderr is a
    /// terminal and the run lasts more than half a second; the summary (top problems, what
    /// changed, files written) follows a run whose worklog went to a file (--report FILE).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Exit with code 4 when any entry was skipped as bad.
    #[arg(long)]
    strict: bool,
    /// Keep GitHub issues of OWNER/REPO in step with the clusters (token from GITHUB_TOKEN;
    /// without one, the actions are only planned). Overrides sinks.github.repo.
    #[arg(long, value_name = "OWNER/REPO")]
    github: Option<String>,
    /// GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3). Default:
    /// sinks.github.api, https://api.github.com.
    #[arg(long, value_name = "URL")]
    github_api: Option<String>,
    /// Plan the GitHub actions and put them in the worklog without writing anything to GitHub.
    #[arg(long)]
    dry_run: bool,
    /// Directory of the state store kept across runs (new, escalating, regressed clusters;
    /// totals), or `none` to run stateless. Default: $GARDENER_STATE, else state.dir
    /// (.log-gardener).
    #[arg(long, value_name = "DIR|none")]
    state: Option<String>,
    /// Input files; standard input when none (`-` also means standard input).
    #[arg(value_name = "FILE")]
    files: Vec<String>,
}

#[derive(Args)]
struct RunCmd {
    #[command(flatten)]
    run: RunArgs,
    /// Read only the K-th of N shares of the FILEs (K from 0), for a backfill split across N
    /// tasks whose JSON reports `gardener merge` combines. `auto`: K and N from
    /// CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_COUNT (Cloud Run Jobs); `auto/N`: K from
    /// CLOUD_RUN_TASK_INDEX or JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs). Every task must
    /// be given the same files; `{shard}` in --report, --json, --entries or --dead-letter
    /// becomes K.
    #[arg(long, value_name = "K/N|auto|auto/N")]
    shard: Option<String>,
}

#[derive(Args)]
struct WatchArgs {
    /// Write the reports every DURATION (30s, 1m, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    every: String,
    /// Worker mode: every interval, write this worker's mergeable partial to DIR/ID.json
    /// (replaced whole) instead of reports; `gardener merge --watch DIR` reports on all the
    /// workers. With Pub/Sub, a message is acknowledged once the partial counts it, and a
    /// worker restarted with the same --worker-id goes on from its partial.
    #[arg(long, value_name = "DIR")]
    partials: Option<PathBuf>,
    /// This worker's name in --partials (letters, digits, '.', '_', '-'). Default: the host
    /// name (on Cloud Run and Kubernetes, the instance or pod).
    #[arg(long, value_name = "ID", requires = "partials")]
    worker_id: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Sizes to run, in entries (repeat the flag for several).
    #[arg(long, value_name = "N", default_values_t = [100_000u64, 1_000_000])]
    entries: Vec<u64>,
    /// Seed of the generated input.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory for the generated inputs (kept and reused) and the run's outputs.
    #[arg(long, value_name = "DIR", default_value = "bench-data")]
    dir: PathBuf,
    /// Runs of each command per size; the fastest is shown.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

#[derive(Args)]
struct ParseOnlyArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Read entries as `gardener run` does (the common entry by hand) instead of with
    /// serde_json alone, as the floor does: measures the parse stage's own speed.
    #[arg(long)]
    fast_reader: bool,
    /// Input file.
    file: PathBuf,
}

#[derive(Args)]
struct FingerprintArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Service name that takes part in the id (as in `gardener run`).
    #[arg(long, default_value = "")]
    service: String,
    /// Files of messages, one per line; standard input when none.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
}

#[derive(Args)]
struct GenArgs {
    /// Number of entries.
    #[arg(long, default_value_t = 1000)]
    entries: u64,
    /// Random seed: the same seed gives the same bytes on every machine.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// `array` (what gcloud prints) or `ndjson`.
    #[arg(long, default_value = "array")]
    format: String,
    /// Time of the newest entry (RFC 3339).
    #[arg(long, default_value = "2025-09-14T04:00:00Z")]
    end: String,
    /// Time between the oldest and the newest entry (e.g. 6h, 2d).
    #[arg(long, default_value = "2d")]
    span: String,
    /// Also write `<insertId>\t<template key>` per entry to this file (ground truth).
    #[arg(long, value_name = "PATH")]
    truth: Option<PathBuf>,
    /// Also write the planted problems to this file (ground truth for grouping clusters into
    /// problems), as JSON: `{"planted": [{"name", "kind", "templates"}]}`, one per chain of
    /// templates logged in one trace (`"kind": "chain"`, its template keys oldest first, the
    /// root first) and one for the postgres outage (`"kind": "outage"`, the circuit-open call
    /// sites, then the 503 requests); only template keys this output emitted.
    #[arg(long, value_name = "PATH")]
    problems_truth: Option<PathBuf>,
    /// Output path (standard output by default).
    #[arg(long, short = 'o', value_name = "PATH")]
    output: Option<PathBuf>,
    /// Instead of the built-in bursts and the outage, make the template with this ground-truth
    /// key (see --truth) burst near the end: 3% of the entries in 40 minutes ending 10 minutes
    /// before the newest entry.
    #[arg(long, value_name = "KEY")]
    spike: Option<String>,
}

fn load_config(arg: &ConfigArg) -> Result<Config, String> {
    let path = arg
        .config
        .clone()
        .or_else(|| std::env::var_os("GARDENER_CONFIG").map(PathBuf::from));
    match path {
        Some(p) => Config::load(&p).map_err(|e| e.0),
        None => Ok(Config::default()),
    }
}

fn fail(code: i32, msg: &str) -> ExitCode {
    warn(msg);
    ExitCode::from(code as u8)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Watch(args) => cmd_watch(args),
        Command::Merge(args) => cmd_merge(args),
        Command::Validate(args) => match load_config(&args) {
            Ok(cfg) => {
                let rules = cfg.rules().map(|r| r.len()).unwrap_or(0);
                let windows = cfg
                    .aggregate
                    .windows
                    .iter()
                    .map(|w| w.text())
                    .collect::<Vec<_>>()
                    .join(", ");
                let github = match &cfg.sinks.github.repo {
                    Some(r) => format!("GitHub sink on for {r}"),
                    None => "GitHub sink off".into(),
                };
                println!(
                    "ok: {} — {} parse and {} fingerprint workers, {} aggregate shards, windows {windows}, {rules} priority rules, {github}",
                    args.config
                        .as_ref()
                        .map_or("built-in defaults".to_string(), |p| p.display().to_string()),
                    cfg.parse.workers,
                    cfg.fingerprint.workers,
                    cfg.aggregate.shards,
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(exit::BAD_CONFIG, &e),
        },
        Command::Fingerprint(args) => cmd_fingerprint(args),
        Command::Gen(args) => cmd_gen(args),
        Command::Bench(args) => {
            let opts = gardener_devtools::bench::BenchOptions {
                sizes: args.entries,
                seed: args.seed,
                dir: args.dir,
                repeat: args.repeat,
                config: args.config.config,
            };
            match gardener_devtools::bench::run(&opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(exit::BAD_INPUT, &e),
            }
        }
        Command::ParseOnly(args) => {
            let cfg = match load_config(&args.config) {
                Ok(c) => c,
                Err(e) => return fail(exit::BAD_CONFIG, &e),
            };
            let file = match std::fs::File::open(&args.file) {
                Ok(f) => f,
                Err(e) => {
                    return fail(
                        exit::BAD_INPUT,
                        &format!("cannot read {}: {e}", args.file.display()),
                    );
                }
            };
            let reader = if args.fast_reader {
                gardener_core::stages::parse::Reader::Fast
            } else {
                gardener_core::stages::parse::Reader::SerdeJson
            };
            match gardener_devtools::bench::parse_only(&file, &cfg, reader) {
                Ok(p) => {
                    println!(
                        "{} bytes, {} entries: {} parsed, {} bad",
                        p.bytes, p.entries, p.records, p.bad
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(
                    exit::BAD_INPUT,
                    &format!("reading {} failed: {e}", args.file.display()),
                ),
            }
        }
    }
}

/// `n` and the word, singular or plural.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Flags and settings that would have no effect, said before the run: the user meant
/// something else.
fn before_run_warnings(cfg: &gardener_core::config::Config, args: &RunArgs) {
    if args.github_api.is_some() && args.github.is_none() && cfg.sinks.github.repo.is_none() {
        warn(
            "warning: --github-api has no effect without --github OWNER/REPO (or sinks.github.repo)",
        );
    }
    if cfg.source.kind == gardener_core::config::SourceKind::Gcloud && !args.files.is_empty() {
        warn(
            "warning: source.kind is gcloud, but files were given: the files are read and gcloud is not run (drop the files to run gcloud)",
        );
    }
    // Only regular files are peeked at: a FIFO's bytes, once read, are gone.
    let regular = |f: &str| std::fs::metadata(f).is_ok_and(|m| m.is_file());
    for f in args.files.iter().filter(|f| regular(f)) {
        let mut head = [0u8; 256];
        let n = std::fs::File::open(f)
            .and_then(|mut h| std::io::Read::read(&mut h, &mut head))
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&head[..n]);
        if text.trim_start().starts_with('{') && text.contains("\"tool\": \"log-gardener") {
            warn(&format!(
                "warning: {f} is a gardener JSON report, not log entries: to combine reports, use `gardener merge {f} …`"
            ));
        }
    }
}

/// Whether the run reads log entries typed at a terminal (no file, no gcloud, standard input
/// a terminal).
fn reads_the_terminal(cfg: &gardener_core::config::Config, args: &RunArgs) -> bool {
    args.files.is_empty()
        && cfg.source.kind != gardener_core::config::SourceKind::Gcloud
        && cfg.source.paths.is_empty()
        && std::io::stdin().is_terminal()
}

/// Whether this process runs in the background of its terminal (`gardener run &`, or under
/// `timeout` without `--foreground`): reading that terminal would stop the process until it
/// is brought to the foreground, which a script never does.
fn in_the_background_of_stdin() -> bool {
    // SAFETY: plain queries of the process group and of the terminal's foreground group.
    let (ours, foreground) = unsafe { (libc::getpgrp(), libc::tcgetpgrp(0)) };
    foreground > 0 && foreground != ours
}

/// Where the run reads a terminal: a hint, or an error in a background job (nothing could
/// ever be read there).
fn check_terminal_input(cfg: &gardener_core::config::Config, args: &RunArgs) -> Result<(), String> {
    if !reads_the_terminal(cfg, args) {
        return Ok(());
    }
    if in_the_background_of_stdin() {
        return Err("standard input is a terminal, and gardener runs in the background of it: nothing can be read there. Give a file (gardener run FILE), pipe the entries in (… | gardener run), or run it in the foreground (timeout --foreground …)".into());
    }
    warn(
        "reading log entries from the terminal (paste them, then Ctrl-D); to read a file: gardener run FILE, or pipe gcloud logging read … --format=json into it",
    );
    Ok(())
}

/// Results that are probably not what was meant, said after the run with the fix.
fn after_run_warnings(
    r: &gardener_core::model::record::Report,
    now: Option<Timestamp>,
    forced_ndjson: bool,
) {
    let t = &r.totals;
    if t.clusters_folded > 0 {
        warn(&format!(
            "note: {} distinct messages were past aggregate.max_clusters and are counted together, one overflow cluster per service (every entry still counts); raise aggregate.max_clusters to see them one by one (memory and run time grow with it)",
            t.clusters_folded
        ));
    }
    if t.entries_read > 0 && t.entries_processed == 0 {
        let hint = if forced_ndjson {
            " — --format ndjson was given: is the input a JSON array? (leave --format out to detect it)"
        } else {
            ""
        };
        warn(&format!(
            "warning: none of the {} read could be used{hint}",
            plural(t.entries_read, "entry", "entries")
        ));
    }
    if let (Some(now), Some(range)) = (now, &r.time_range) {
        let (first, last) = (
            Timestamp::parse(&range.first),
            Timestamp::parse(&range.last),
        );
        if let (Some(first), Some(last)) = (first, last) {
            let day = 86_400 * 1_000_000_000_i64;
            if now < first || now.nanos() > last.nanos() + day {
                warn(&format!(
                    "warning: --now is outside the entries' time range ({} → {}): windows count back from --now, so they may be empty; leave --now out to count back from the newest entry",
                    range.first, range.last
                ));
            }
        }
    }
}

/// The configuration and options a run or a watch is asked for, with the command line folded
/// into them.
fn prepare(args: &mut RunArgs) -> Result<(gardener_core::config::Config, RunOptions), ExitCode> {
    let mut cfg = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => return Err(fail(exit::BAD_CONFIG, &e)),
    };
    if let Some(f) = &args.format {
        cfg.source.format = match f.as_str() {
            "auto" => InputFormat::Auto,
            "array" => InputFormat::Array,
            "ndjson" => InputFormat::Ndjson,
            other => {
                return Err(fail(
                    exit::BAD_CONFIG,
                    &format!("--format {other}: use auto, array or ndjson"),
                ));
            }
        };
    }
    let now = parse_now(&args.now)?;
    before_run_warnings(&cfg, args);
    if let Err(e) = check_terminal_input(&cfg, args) {
        return Err(fail(exit::BAD_INPUT, &e));
    }
    let opts = RunOptions {
        files: std::mem::take(&mut args.files),
        report: args.report.take(),
        json: args.json.take(),
        entries: args.entries.take(),
        dead_letter: args.dead_letter.take(),
        now,
        stats: args.stats,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        github_repo: args.github.take(),
        github_api: args.github_api.take(),
        dry_run: args.dry_run,
        github_token: github_token(),
        state: state_dir(args.state.take()),
        no_input: false,
    };
    Ok((cfg, opts))
}

fn cmd_run(cmd: RunCmd) -> ExitCode {
    let RunCmd { mut run, shard } = cmd;
    let args = &mut run;
    let (cfg, mut opts) = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(spec) = shard
        && let Err(code) = take_share(&spec, &cfg, &mut opts, args.quiet)
    {
        return code;
    }
    let now = opts.now;
    let forced_ndjson = args.format.as_deref() == Some("ndjson");
    match execute(pipeline::run(cfg, opts)) {
        Err(code) => code,
        Ok(out) => {
            let mut code = sink_code(&out.sink_errors);
            let t = &out.report.totals;
            after_run_warnings(&out.report, now, forced_ndjson);
            if t.entries_skipped > 0 {
                warn(&format!(
                    "{} skipped as bad (see the report's input problems{})",
                    plural(t.entries_skipped, "entry", "entries"),
                    if out.report.bad_entries.is_empty() {
                        ""
                    } else {
                        " and --dead-letter"
                    }
                ));
            }
            // The worklog went to a file: say in a few lines what it holds and where it is
            // (not when a sink failed: its error is the message; not for /dev/null).
            let to_file = out
                .written
                .iter()
                .any(|w| w.what == "worklog" && w.path != "/dev/null");
            if !args.quiet && to_file && code == exit::OK {
                eprint!(
                    "{}",
                    gardener_core::stages::sink::summary::render(&out.report, &out.written)
                );
            }
            if out.report.partial {
                code = exit::INTERRUPTED;
            } else if code == exit::OK && args.strict && t.entries_skipped > 0 {
                code = exit::SKIPPED_STRICT;
            }
            ExitCode::from(code as u8)
        }
    }
}

/// `--shard`: keeps this shard's share of the input files, and puts K in the output paths'
/// `{shard}`.
fn take_share(
    spec: &str,
    cfg: &gardener_core::config::Config,
    opts: &mut RunOptions,
    quiet: bool,
) -> Result<(), ExitCode> {
    let shard = gardener_core::topology::shard::Shard::parse(spec, |v| std::env::var(v).ok())
        .map_err(|e| fail(exit::BAD_CONFIG, &e))?;
    let files =
        if opts.files.is_empty() && cfg.source.kind == gardener_core::config::SourceKind::Files {
            cfg.source.paths.clone()
        } else {
            std::mem::take(&mut opts.files)
        };
    if files.is_empty() || files.iter().any(|f| f == "-") {
        return Err(fail(
            exit::BAD_CONFIG,
            "--shard splits input files among tasks: name the files (the same list in every task), not standard input",
        ));
    }
    let mut sized = Vec::with_capacity(files.len());
    for f in files {
        match std::fs::metadata(&f) {
            Ok(m) => sized.push((f, m.len())),
            Err(e) => {
                return Err(fail(
                    exit::BAD_INPUT,
                    &format!("cannot read input file {f}: {e}"),
                ));
            }
        }
    }
    let mine: Vec<String> = shard
        .share(&sized)
        .into_iter()
        .map(str::to_string)
        .collect();
    let size = |names: &mut dyn Iterator<Item = &String>| -> u64 {
        names
            .map(|n| sized.iter().find(|f| &f.0 == n).map_or(0, |f| f.1))
            .sum()
    };
    if !quiet {
        warn(&format!(
            "shard {shard}: {} of {} files, {:.1} MB of {:.1} MB",
            mine.len(),
            sized.len(),
            size(&mut mine.iter()) as f64 / 1e6,
            size(&mut sized.iter().map(|f| &f.0)) as f64 / 1e6
        ));
    }
    opts.no_input = mine.is_empty();
    opts.files = mine;
    let k = shard.index.to_string();
    for path in [
        &mut opts.report,
        &mut opts.json,
        &mut opts.entries,
        &mut opts.dead_letter,
    ]
    .into_iter()
    .flatten()
    {
        *path = path.replace("{shard}", &k);
    }
    Ok(())
}

fn cmd_watch(mut args: WatchArgs) -> ExitCode {
    if args.run.now.is_some() {
        return fail(
            exit::BAD_CONFIG,
            "--now: watch counts its windows back from the clock at each report; --now is for `gardener run` over past logs",
        );
    }
    let every = match every_of(&args.every) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let (cfg, mut opts) = match prepare(&mut args.run) {
        Ok(p) => p,
        Err(code) => return code,
    };
    opts.progress = false;
    let partials = match args.partials.take() {
        None => None,
        Some(dir) => match worker_id(args.worker_id.take()) {
            Ok(worker) => Some(gardener_core::topology::watch::Partials { dir, worker }),
            Err(e) => return fail(exit::BAD_CONFIG, &e),
        },
    };
    let watch = gardener_core::topology::watch::WatchOptions {
        every,
        announce: !args.run.quiet,
        partials,
    };
    let (partial, skipped, errors) =
        match run_blocking(gardener_core::topology::watch::run(cfg, opts, watch)) {
            Err(code) => return code,
            Ok(gardener_core::topology::watch::Finished::Report(out)) => (
                out.report.partial,
                out.report.totals.entries_skipped,
                out.sink_errors,
            ),
            Ok(gardener_core::topology::watch::Finished::Partial {
                partial,
                skipped,
                errors,
            }) => (partial, skipped, errors),
        };
    let mut code = sink_code(&errors);
    if partial {
        code = exit::INTERRUPTED;
    } else if code == exit::OK && args.run.strict && skipped > 0 {
        code = exit::SKIPPED_STRICT;
    }
    ExitCode::from(code as u8)
}

/// `--worker-id`, else the host name; a name that is safe as a file name.
fn worker_id(given: Option<String>) -> Result<String, String> {
    let id = match given {
        Some(id) => id,
        None => host_name()
            .ok_or("--partials: the host name is unknown; name this worker with --worker-id ID")?,
    };
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(id)
    } else {
        Err(format!(
            "--worker-id {id:?}: use letters, digits, '.', '_' and '-' (it names the worker's partial file, ID.json), not starting with '.'"
        ))
    }
}

/// The machine's host name (a Cloud Run instance's or a pod's name).
fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!name.is_empty()).then_some(name)
}

fn parse_now(now: &Option<String>) -> Result<Option<Timestamp>, ExitCode> {
    match now {
        None => Ok(None),
        Some(s) => match Timestamp::parse(s) {
            Some(t) => Ok(Some(t)),
            None => Err(fail(
                exit::BAD_CONFIG,
                &format!("--now {s}: not an RFC 3339 time (e.g. 2025-09-14T05:00:00Z)"),
            )),
        },
    }
}

/// `--state`, else `$GARDENER_STATE`; `None` leaves it to `state.dir`.
fn state_dir(arg: Option<String>) -> Option<String> {
    arg.or_else(|| std::env::var("GARDENER_STATE").ok())
        .filter(|s| !s.trim().is_empty())
}

fn cmd_merge(args: MergeArgs) -> ExitCode {
    let cfg = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(exit::BAD_CONFIG, &e),
    };
    let now = match parse_now(&args.now) {
        Ok(n) => n,
        Err(code) => return code,
    };
    let opts = RunOptions {
        files: args.files,
        report: args.report,
        json: args.json,
        now,
        state: state_dir(args.state),
        github_repo: args.github,
        dry_run: args.dry_run,
        github_token: github_token(),
        ..Default::default()
    };
    let Some(dir) = args.watch else {
        return match execute(gardener_core::topology::merge::run(cfg, opts)) {
            Err(code) => code,
            Ok(out) => ExitCode::from(sink_code(&out.sink_errors) as u8),
        };
    };
    let every = match every_of(&args.every) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let co = gardener_core::topology::merge::Coordinate {
        dir,
        every,
        announce: !args.quiet,
    };
    match execute(gardener_core::topology::merge::watch(cfg, opts, co)) {
        Err(code) => code,
        Ok(out) if out.report.partial => ExitCode::from(exit::INTERRUPTED as u8),
        Ok(out) => ExitCode::from(sink_code(&out.sink_errors) as u8),
    }
}

/// The GitHub token from `GITHUB_TOKEN`.
fn github_token() -> Option<gardener_core::stages::sink::github::Token> {
    std::env::var("GITHUB_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(gardener_core::stages::sink::github::Token)
}

/// `--every`: a duration of a second or more.
fn every_of(every: &str) -> Result<std::time::Duration, ExitCode> {
    match gardener_core::model::time::parse_duration(every) {
        Some(s) if s > 0 => Ok(std::time::Duration::from_secs(s as u64)),
        _ => Err(fail(
            exit::BAD_CONFIG,
            &format!("--every {every}: not a duration of a second or more (e.g. 30s, 1m, 5m)"),
        )),
    }
}

/// Runs a pipeline (`run` or `merge`) on a multi-threaded runtime; errors become their exit
/// codes, with the message on stderr. The outcome is never freed: the process ends right after
/// it is read, and freeing a large report one allocation at a time took 25 ms of a run over 1M
/// entries.
fn execute(
    job: impl std::future::Future<Output = Result<gardener_core::stages::report::Outcome, RunError>>,
) -> Result<&'static gardener_core::stages::report::Outcome, ExitCode> {
    run_blocking(job).map(|out| &*Box::leak(Box::new(out)))
}

/// Runs a job on a multi-threaded runtime; errors become their exit codes, with the message
/// on stderr.
fn run_blocking<T>(
    job: impl std::future::Future<Output = Result<T, RunError>>,
) -> Result<T, ExitCode> {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Err(fail(
                exit::SINK_FAILED,
                &format!("cannot start the runtime: {e}"),
            ));
        }
    };
    let result = rt.block_on(job);
    // Do not wait for a reading thread still blocked on a silent pipe (after a signal).
    rt.shutdown_background();
    match result {
        Err(RunError::Input(e)) => Err(fail(exit::BAD_INPUT, &e)),
        Err(RunError::Config(e)) => Err(fail(exit::BAD_CONFIG, &e)),
        Err(RunError::Locked(e)) => Err(fail(exit::LOCKED, &e)),
        Ok(out) => Ok(out),
    }
}

/// Says every failed sink on stderr (a closed stdout is not a failure: `| head`); the exit code
/// is `SINK_FAILED` when one failed.
fn sink_code(errors: &[gardener_core::stages::sink::SinkError]) -> i32 {
    let mut code = exit::OK;
    for e in errors {
        if e.is_closed_pipe() {
            continue;
        }
        warn(&e.to_string());
        code = exit::SINK_FAILED;
    }
    code
}

fn cmd_fingerprint(args: FingerprintArgs) -> ExitCode {
    let cfg = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(exit::BAD_CONFIG, &e),
    };
    let masker = match cfg
        .masks()
        .map_err(|e| e.0)
        .and_then(|m| Masker::new(&m, cfg.fingerprint.max_message_bytes))
    {
        Ok(m) => m,
        Err(e) => return fail(exit::BAD_CONFIG, &e),
    };
    let mut readers: Vec<Box<dyn BufRead>> = Vec::new();
    if args.files.is_empty() {
        readers.push(Box::new(std::io::stdin().lock()));
    }
    for f in &args.files {
        if f == "-" {
            readers.push(Box::new(std::io::stdin().lock()));
            continue;
        }
        match std::fs::File::open(f) {
            Ok(file) => readers.push(Box::new(std::io::BufReader::new(file))),
            Err(e) => return fail(exit::BAD_INPUT, &format!("cannot read {f}: {e}")),
        }
    }
    let mut grouper = MessageGrouper::new(&masker, &args.service);
    let mut line = Vec::new();
    for mut r in readers {
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return fail(exit::BAD_INPUT, &format!("reading input failed: {e}")),
            }
            let text = String::from_utf8_lossy(&line);
            grouper.add(text.trim_end_matches(['\n', '\r']));
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (id, template) in grouper.finish() {
        if writeln!(out, "{}\t{template}", format_id(id)).is_err() {
            return ExitCode::SUCCESS; // closed pipe
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

fn cmd_gen(args: GenArgs) -> ExitCode {
    let format = match args.format.as_str() {
        "array" | "json" => GenFormat::Array,
        "ndjson" => GenFormat::Ndjson,
        other => {
            return fail(
                exit::BAD_CONFIG,
                &format!("--format {other}: use array or ndjson"),
            );
        }
    };
    let Some(end) = gardener_core::model::time::parse_rfc3339(&args.end) else {
        return fail(
            exit::BAD_CONFIG,
            &format!("--end {}: not an RFC 3339 time", args.end),
        );
    };
    let Some(span) = gardener_core::model::time::parse_duration(&args.span) else {
        return fail(
            exit::BAD_CONFIG,
            &format!("--span {}: not a duration (e.g. 6h, 2d)", args.span),
        );
    };
    let opts = GenOptions {
        entries: args.entries,
        seed: args.seed,
        format,
        end_unix: end.div_euclid(1_000_000_000),
        span_secs: span,
        spike: args.spike,
        problems_truth: args.problems_truth,
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(std::io::BufWriter::with_capacity(1 << 20, f)),
            Err(e) => {
                return fail(
                    exit::SINK_FAILED,
                    &format!("cannot write {}: {e}", p.display()),
                );
            }
        },
        None => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::io::stdout().lock(),
        )),
    };
    let mut truth: Option<Box<dyn Write>> = match &args.truth {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Some(Box::new(std::io::BufWriter::new(f))),
            Err(e) => {
                return fail(
                    exit::SINK_FAILED,
                    &format!("cannot write {}: {e}", p.display()),
                );
            }
        },
        None => None,
    };
    let result = gardener_devtools::generator::generate(
        &opts,
        &mut out,
        truth.as_mut().map(|t| t as &mut dyn Write),
    )
    .and_then(|_| out.flush())
    .and_then(|_| truth.as_mut().map_or(Ok(()), |t| t.flush()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            fail(exit::BAD_CONFIG, &e.to_string())
        }
        Err(e) => fail(exit::SINK_FAILED, &format!("gen failed: {e}")),
    }
}
