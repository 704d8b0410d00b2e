//! `pipeline.yaml`: the stages, their settings and how they are wired, plus the rule packs in
//! `stages/` that are embedded in the binary as defaults. Every struct denies unknown keys, so a
//! misspelled setting is an error with its line and column, never silently ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::record::Severity;
use crate::model::time::Span;

/// The built-in mask pack (`rules/masks.yaml`).
pub const DEFAULT_MASKS: &str = include_str!("../../../rules/masks.yaml");
/// The built-in priority rules (`rules/priority.yaml`).
pub const DEFAULT_RULES: &str = include_str!("../../../rules/priority.yaml");
/// The built-in redaction patterns (`rules/redact.yaml`).
pub const DEFAULT_REDACT: &str = include_str!("../../../rules/redact.yaml");

/// The whole configuration. Every section may be left out; its defaults apply.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How stages are connected: batch size and channel capacity.
    pub pipeline: PipelineConfig,
    /// Where entries come from.
    pub source: SourceConfig,
    /// Turning raw JSON into records.
    pub parse: ParseConfig,
    /// Masking messages into templates and giving each a stable id.
    pub fingerprint: FingerprintConfig,
    /// Per-cluster counts, windows, samples and HTTP statistics.
    pub aggregate: AggregateConfig,
    /// Priority rules.
    pub prioritize: PrioritizeConfig,
    /// Related clusters: shared trace ids, and starts close together across services.
    pub related: RelatedConfig,
    /// Grouping clusters into problems (a lead and what it drags along).
    pub correlate: CorrelateConfig,
    /// Secrets removed from everything that leaves the machine.
    pub redact: RedactConfig,
    /// Where results go.
    pub sinks: SinksConfig,
    /// Spike (escalation) detection on the per-cluster time series.
    pub trend: TrendConfig,
    /// What is remembered across runs (first seen, last seen, totals, history).
    pub state: StateConfig,
}

/// Wiring shared by all stages.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Entries per batch sent between stages.
    pub batch_size: usize,
    /// Batches that may wait in each channel between two stages; this bounds memory and makes a
    /// slow stage slow down the ones before it.
    pub channel_capacity: usize,
    /// Bytes read from the input at a time, in KiB.
    pub read_block_kib: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_size: 256,
            channel_capacity: 16,
            read_block_kib: 1024,
        }
    }
}

/// Which kind of source feeds the pipeline.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Standard input, or the files named on the command line.
    #[default]
    Stdin,
    /// The files listed in `source.paths` (or on the command line).
    Files,
    /// Runs `gcloud logging read` with the settings in `source.gcloud`.
    Gcloud,
    /// Pulls LogEntry messages from the Pub/Sub subscription `source.pubsub.subscription`
    /// (`gardener watch` only).
    Pubsub,
}

/// Input format; `auto` looks at the first non-blank byte: `[` is a JSON array, `{` is NDJSON.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    #[default]
    Auto,
    Array,
    Ndjson,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// `stdin` (default), `files` or `gcloud`. Files named on the command line always win.
    pub kind: SourceKind,
    /// Files to read when `kind: files`; `-` is standard input.
    pub paths: Vec<String>,
    /// `auto` (default), `array` or `ndjson`.
    pub format: InputFormat,
    /// Largest entry, in KiB. A larger entry is not kept in memory: the source skips to its end
    /// and sends it to the dead-letter file with its size and first bytes.
    pub max_entry_kib: u64,
    /// Deepest nesting of brackets in an entry (the entry's own braces are level 1); a deeper
    /// entry goes to the dead-letter file. At most 127, the depth serde_json can decode.
    pub max_depth: u32,
    /// Settings for `kind: gcloud`.
    pub gcloud: GcloudConfig,
    /// Settings for `kind: pubsub`.
    pub pubsub: PubsubConfig,
}

/// A Pub/Sub subscription fed by a Cloud Logging sink (Log Router): one LogEntry per message.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PubsubConfig {
    /// `projects/PROJECT/subscriptions/NAME`.
    pub subscription: String,
    /// Messages asked for per pull (1..=1000).
    pub max_messages: u32,
    /// Streaming pulls opened at once (1..=32): Pub/Sub caps one stream at about 10 MB/s.
    pub streams: u32,
}

impl Default for PubsubConfig {
    fn default() -> Self {
        PubsubConfig {
            subscription: String::new(),
            max_messages: 1000,
            streams: 1,
        }
    }
}

/// Largest `source.max_entry_kib`: just under 1 GiB (spans of entries have 30 bits of length).
pub const MAX_ENTRY_KIB_LIMIT: u64 = (1 << 20) - 1;
/// Largest `source.max_depth`: serde_json refuses deeper values.
pub const MAX_DEPTH_LIMIT: u32 = 127;

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: SourceKind::default(),
            paths: Vec::new(),
            format: InputFormat::default(),
            max_entry_kib: 16 * 1024,
            max_depth: 100,
            gcloud: GcloudConfig::default(),
            pubsub: PubsubConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GcloudConfig {
    /// The program to run (a path, or a name looked up on PATH).
    pub binary: String,
    /// `--project`; gcloud's configured project when empty.
    pub project: String,
    /// The Cloud Logging filter, e.g. `severity>=WARNING AND resource.type="cloud_run_revision"`.
    pub filter: String,
    /// `--freshness`, e.g. `1d`.
    pub freshness: String,
    /// `--limit`; no limit when 0.
    pub limit: u64,
    /// `gardener watch` only: run `gcloud beta logging tail FILTER` instead (a JSON array that
    /// never closes), and start it again whenever it exits.
    pub tail: bool,
}

impl Default for GcloudConfig {
    fn default() -> Self {
        GcloudConfig {
            binary: "gcloud".into(),
            project: String::new(),
            filter: "severity>=WARNING".into(),
            freshness: "1d".into(),
            limit: 0,
            tail: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ParseConfig {
    /// Parallel parse workers.
    pub workers: usize,
}

impl Default for ParseConfig {
    fn default() -> Self {
        ParseConfig { workers: 2 }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FingerprintConfig {
    /// Parallel fingerprint workers.
    pub workers: usize,
    /// Only the first this many bytes of a message shape its template.
    pub max_message_bytes: usize,
    /// Masks; the built-in pack `rules/masks.yaml` when left out.
    pub masks: Option<MaskPack>,
}

impl Default for FingerprintConfig {
    fn default() -> Self {
        FingerprintConfig {
            workers: 2,
            max_message_bytes: 4096,
            masks: None,
        }
    }
}

/// A mask pack: what the built-in scanner must leave alone, and extra patterns it misses.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MaskPack {
    /// Words that contain digits but are not variables (`HTTP/1.1`, `utf-8`, `oauth2`).
    pub keep: Vec<String>,
    /// Extra regular expressions whose matches become `<*>` before the built-in scanner runs.
    pub extra: Vec<ExtraMask>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExtraMask {
    /// A name for messages and the README.
    pub name: String,
    /// The regular expression (Rust `regex` syntax).
    pub regex: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AggregateConfig {
    /// Parallel aggregation shards; a cluster always lands in the same shard, so shards share
    /// nothing and never wait on a lock.
    pub shards: usize,
    /// Sliding windows counted back from the newest entry (or `--now`), e.g. `5m`, `1h`, `24h`.
    pub windows: Vec<Span>,
    /// Sample entries kept per cluster (the newest ones).
    pub samples: usize,
    /// Size of the time-series buckets counted per cluster (event time, aligned to the Unix
    /// epoch), e.g. `5m`.
    pub bucket: Span,
    /// Buckets kept per cluster, counted back from the reference time; older ones are dropped.
    pub max_buckets: usize,
    /// Entries dated more than this after the run's clock (a clock gone wrong) are counted
    /// without their time, so they move neither the windows nor the state, e.g. `1d`.
    pub future_margin: Span,
    /// Clusters held in full detail (samples, series, locations) and mined, prioritized and
    /// reported one by one; past it, those of the lowest severity and fewest entries are
    /// counted together in one overflow cluster per service (0: no cap).
    pub max_clusters: usize,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        AggregateConfig {
            shards: 2,
            windows: ["5m", "1h", "6h", "24h"].map(Span::new).to_vec(),
            samples: 3,
            bucket: Span::new("5m"),
            max_buckets: 576,
            future_margin: Span::new("1d"),
            max_clusters: 10_000,
        }
    }
}

/// Spike detection: a cluster is escalating when its count in the recent window is far above
/// what its baseline rate (earlier buckets of this run and the stored history) predicts. See
/// `crates/core/src/stages/report/trend.rs` for the statistic.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrendConfig {
    /// The recent window, ending at the reference time, e.g. `1h`.
    pub recent: Span,
    /// Least baseline (observed time before the recent window) needed to judge, e.g. `3h`.
    pub min_baseline: Span,
    /// Least entries in the recent window for a cluster to be flagged.
    pub min_count: u64,
    /// Least ratio of the recent rate to the baseline rate for a cluster to be flagged.
    pub factor: f64,
    /// Largest Poisson tail bound (chance of seeing that many recent entries at the baseline
    /// rate) for a cluster to be flagged.
    pub max_p: f64,
}

impl Default for TrendConfig {
    fn default() -> Self {
        TrendConfig {
            recent: Span::new("1h"),
            min_baseline: Span::new("3h"),
            min_count: 10,
            factor: 3.0,
            max_p: 0.001,
        }
    }
}

/// The state store: one JSON file under `dir`, kept across runs.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Directory of the state file (`state.json`); `none` runs stateless. `--state` wins.
    pub dir: String,
    /// A cluster not seen for longer than this that comes back is regressed, e.g. `24h`.
    pub regression_gap: Span,
    /// A known cluster not seen for this long is listed as resolved-looking, e.g. `24h`.
    pub resolved_after: Span,
    /// Time-series history kept per cluster in the state, e.g. `7d`.
    pub history: Span,
    /// How long a run waits for another run that holds the state's lock (one writer per
    /// state), e.g. `10m`; `0s` fails at once (exit 5).
    pub lock_wait: Span,
    /// The insertId memory keeps the entries of this span before the newest entry counted, so
    /// that overlapping runs count each entry once (see `state::seen`), e.g. `2d`.
    pub overlap: Span,
    /// Entries the insertId memory keeps at most (16 bytes each in memory, about 21 in the
    /// file); past it the oldest are forgotten and fall back to the high-water marks.
    pub max_ids: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: ".log-gardener".into(),
            regression_gap: Span::new("24h"),
            resolved_after: Span::new("24h"),
            history: Span::new("7d"),
            lock_wait: Span::new("10m"),
            overlap: Span::new("2d"),
            max_ids: 1_000_000,
        }
    }
}

/// How related clusters are found (see `crates/core/src/stages/report/related.rs`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RelatedConfig {
    /// Trace ids remembered per cluster: the ones with the smallest hashes (a bottom-k
    /// sketch), each with the time of its first entry. Bounds memory whatever the input size;
    /// 0 turns trace relations off. Parts merged with `gardener merge` must agree on it.
    pub traces_per_cluster: usize,
    /// Shared trace ids (found in both clusters' sketches) that make two clusters related.
    pub min_shared_traces: u64,
    /// Clusters of different services whose first entries are at most this far apart started
    /// together (e.g. `1m`; `0s` turns this off). Clusters already there when the input begins
    /// are left out: their start is not in the input.
    pub co_start: Span,
    /// Entries a cluster needs before its start counts for `co_start`.
    pub co_start_min_entries: u64,
    /// Relations listed in the worklog and the JSON report, strongest first.
    pub max_listed: usize,
}

impl Default for RelatedConfig {
    fn default() -> Self {
        RelatedConfig {
            traces_per_cluster: 64,
            min_shared_traces: 2,
            co_start: Span::new("1m"),
            co_start_min_entries: 5,
            max_listed: 30,
        }
    }
}

impl RelatedConfig {
    /// `co_start` in seconds (0 when it does not parse; `check` reports that).
    pub fn co_start_secs(&self) -> i64 {
        self.co_start.secs()
    }

    /// `co_start` is a duration, or zero (off).
    fn co_start_ok(&self) -> bool {
        self.co_start.is_valid()
    }
}

/// How clusters are grouped into problems (see `crates/core/src/stages/report/correlate.rs`). A member joins a problem
/// only on strong evidence linking it to the problem's lead, never through a chain of weak links.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelateConfig {
    /// Shared traces a member needs with the lead (as found in the trace sketches).
    pub min_shared_traces: u64,
    /// Share of the member's traces that the lead must also have (0..1): the lead explains
    /// most of the member.
    pub min_trace_share: f64,
    /// Bin length for the bursts-together test (e.g. `1m`).
    pub burst_bin: Span,
    /// Bins with entries of both clusters needed before bursts can link them.
    pub burst_min_together: u32,
    /// Largest chance (hypergeometric tail) of that many shared bins for independent
    /// clusters that still links them; clusters that simply run all day never get there.
    pub burst_max_p: f64,
    /// Clusters (the most frequent eligible ones) compared for bursts, bounding the work.
    pub burst_max_clusters: usize,
    /// Words a cause phrase needs ("timed out after", "circuit breaker open"); two words
    /// are enough when they have `cause_min_letters` letters ("redis unavailable").
    pub cause_min_words: usize,
    pub cause_min_letters: usize,
}

impl Default for CorrelateConfig {
    fn default() -> Self {
        CorrelateConfig {
            min_shared_traces: 3,
            min_trace_share: 0.5,
            burst_bin: Span::new("1m"),
            burst_min_together: 3,
            burst_max_p: 1e-6,
            burst_max_clusters: 2000,
            cause_min_words: 3,
            cause_min_letters: 14,
        }
    }
}

impl CorrelateConfig {
    /// `burst_bin` in seconds (60 when it does not parse; `check` reports that).
    pub fn burst_bin_secs(&self) -> i64 {
        Some(self.burst_bin.secs()).filter(|&s| s > 0).unwrap_or(60)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrioritizeConfig {
    /// Rules, first match wins; the built-in `rules/priority.yaml` when left out.
    pub rules: Option<Vec<Rule>>,
    /// Title of a cluster unless its rule sets one; `{service}`, `{priority}`, `{summary}`,
    /// `{severity}` and `{id}` are replaced.
    pub title: String,
}

impl Default for PrioritizeConfig {
    fn default() -> Self {
        PrioritizeConfig {
            rules: None,
            title: "{service} | {priority} | {summary}".into(),
        }
    }
}

/// One priority rule: when every condition in `when` holds, the cluster gets this priority.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Shown in the report as the reason for the priority.
    pub name: String,
    /// Conditions, all of which must hold; no conditions match every cluster.
    #[serde(default)]
    pub when: Match,
    /// `P0` (drop everything) to `P5` (noise). Left out in a rule that sets `raise`.
    #[serde(default)]
    pub priority: String,
    /// A modifier rule: instead of setting a priority, raise the priority given by the first
    /// matching ordinary rule by this many levels (towards P0). Every matching modifier is
    /// applied, the largest raise wins; expected behaviour is never raised.
    #[serde(default)]
    pub raise: u8,
    /// Title template for matching clusters (same placeholders as `prioritize.title`).
    #[serde(default)]
    pub title: Option<String>,
    /// Labels carried to the report (and later to GitHub).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Expected behaviour: reported, never filed.
    #[serde(default)]
    pub expected: bool,
}

/// Conditions of a rule.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Match {
    /// The cluster's highest severity is at least this (`WARNING`, `ERROR`, `CRITICAL`, ...).
    pub severity_at_least: Option<String>,
    /// The cluster's highest severity is below this.
    pub severity_below: Option<String>,
    /// Regular expression on the service name.
    pub service: Option<String>,
    /// Regular expression on the template.
    pub template: Option<String>,
    /// Regular expression on the source module (`jsonPayload.labels.module` or the file).
    pub module: Option<String>,
    /// At least this many entries in the run.
    pub count_at_least: Option<u64>,
    /// At least this many entries in the named windows, e.g. `{ 1h: 10 }`.
    pub window_at_least: BTreeMap<String, u64>,
    /// The cluster has HTTP requests with a status of at least this.
    pub http_status_at_least: Option<u16>,
    /// The cluster's status across runs: `new`, `ongoing`, `escalating` or `regressed`.
    pub status: Option<String>,
    /// The spike test flagged the cluster (whatever its status), or did not (`false`).
    pub escalating: Option<bool>,
    /// Problems: at least this many member clusters (a cluster alone counts 1).
    pub members_at_least: Option<usize>,
    /// At least this many services involved.
    pub services_at_least: Option<usize>,
    /// At least this many distinct traces (requests) affected, as estimated from the trace
    /// sketches.
    pub traces_at_least: Option<u64>,
    /// Requests answered 5xx (`true`), or none (`false`).
    pub has_5xx: Option<bool>,
    /// A health-check route (a path segment `health`, `healthz`, `ready`, `live`, `ping`, ...)
    /// answered 5xx.
    pub health_check_failing: Option<bool>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    /// Markdown worklog path; standard output when unset or `-`.
    pub report: Option<String>,
    /// JSON report path.
    pub json: Option<String>,
    /// NDJSON of every entry read (insertId, timestamp, service, severity, fingerprint).
    pub entries: Option<String>,
    /// NDJSON of entries that could not be processed, with their offset and reason.
    pub dead_letter: Option<String>,
    /// GitHub issues kept in step with the problems.
    pub github: GithubConfig,
    /// How much the markdown worklog shows.
    pub worklog: WorklogConfig,
    /// Clusters whose sample entries the reports carry, the highest priority first (with the
    /// lead of every problem, and in the JSON report's mergeable section the raw clusters
    /// mined into them); every other cluster keeps all its counts but no samples. 0: no cap.
    pub sampled_clusters: usize,
}

impl Default for SinksConfig {
    fn default() -> Self {
        SinksConfig {
            report: None,
            json: None,
            entries: None,
            dead_letter: None,
            github: GithubConfig::default(),
            worklog: WorklogConfig::default(),
            sampled_clusters: 1000,
        }
    }
}

/// The markdown worklog's caps: it is read by a person with ten minutes.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WorklogConfig {
    /// Problems in the executive summary.
    pub summary: usize,
    /// P0–P2 problems that get a section of their own.
    pub sections: usize,
    /// Member clusters listed in a section's table.
    pub members: usize,
    /// Lines of the one sample entry in a section (long strings are cut as well).
    pub sample_lines: usize,
    /// Rows of the table of the remaining problems; the JSON report has them all.
    pub table_rows: usize,
}

impl Default for WorklogConfig {
    fn default() -> Self {
        WorklogConfig {
            summary: 10,
            sections: 6,
            members: 6,
            sample_lines: 20,
            table_rows: 20,
        }
    }
}

/// The redact stage: runs on the finished report, so fingerprints never depend on it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Also redact the markdown worklog and the JSON report. GitHub titles, bodies and comments
    /// are always redacted.
    pub reports: bool,
    /// The pattern pack; the built-in `rules/redact.yaml` when left out.
    pub pack: Option<RedactPack>,
    /// Patterns applied after the pack's, to add to it without copying it.
    pub extra: Vec<RedactPattern>,
    /// Where personal data (card numbers, phone numbers, public IP addresses) is redacted.
    pub personal: PersonalData,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            reports: true,
            pack: None,
            extra: Vec::new(),
            personal: PersonalData::default(),
        }
    }
}

/// Where the personal-data detectors run: GitHub by default, the reports when asked.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PersonalData {
    pub github: bool,
    pub reports: bool,
}

impl Default for PersonalData {
    fn default() -> Self {
        PersonalData {
            github: true,
            reports: false,
        }
    }
}

/// A redaction pack (the format of `rules/redact.yaml`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedactPack {
    /// Regular expressions applied in order to every text.
    pub patterns: Vec<RedactPattern>,
    /// Credential key names, as words; the value after such a key (`key=value`, `key: value`,
    /// a JSON field) is redacted. A key matches when its last words are one of them (see
    /// `redact::keys`).
    pub secret_keys: Vec<String>,
    /// Names that are credentials only as URL query parameters (`key`, `sig`, `code`).
    pub query_keys: Vec<String>,
}

/// One redaction pattern.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedactPattern {
    /// A name for messages; the default replacement is `[REDACTED:<name>]`.
    pub name: String,
    /// The regular expression (Rust `regex` syntax).
    pub regex: String,
    /// Replacement text; `$1`, `$2`... are the pattern's groups.
    #[serde(default)]
    pub replace: Option<String>,
}

/// The GitHub sink: one issue per cluster worth filing, found again on every run by its
/// fingerprint, never duplicated. The token comes from the `GITHUB_TOKEN` environment variable,
/// never from this file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GithubConfig {
    /// `OWNER/REPO` to keep issues in; the sink is off when unset. `--github` wins.
    pub repo: Option<String>,
    /// REST API base URL; for GitHub Enterprise Server `https://HOST/api/v3`. `--github-api` wins.
    pub api: String,
    /// Local state file: fingerprint → issue number, counts and priority last reported. Relative
    /// paths are under the working directory. Written atomically after every change.
    pub state_file: String,
    /// Label put on every issue the bot files; issues are found again by listing this label.
    pub label: String,
    /// Prefix of the priority label, e.g. `priority:` gives `priority:P0`.
    pub priority_label_prefix: String,
    /// Clusters less urgent than this priority are never filed (P0 is the most urgent).
    pub min_priority: String,
    /// At most this many new issues per run; the rest wait for the next run.
    pub max_new_issues: usize,
    /// At most this many comments per run (new evidence, escalations, reopenings).
    pub max_comments: usize,
    /// Least time between two writes, in milliseconds (GitHub asks for at least one second).
    pub write_interval_ms: u64,
    /// Longest the run waits for a rate limit to clear, in seconds. A longer limit stops the
    /// writes of this run; the next run continues where it stopped.
    pub max_wait_secs: u64,
    /// Wait after a secondary rate limit that gives no `Retry-After`, in seconds (doubled on
    /// each repeat).
    pub secondary_backoff_secs: u64,
    /// Time limit of one request, in seconds.
    pub timeout_secs: u64,
    /// Look an issue up with the search API when neither the label listing nor the state file
    /// knows it (search lags minutes behind, so it is only a fallback).
    pub search_fallback: bool,
    /// Plan and report the actions without writing anything (also `--dry-run`).
    pub dry_run: bool,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            repo: None,
            api: "https://api.github.com".into(),
            state_file: ".log-gardener/github-state.json".into(),
            label: "log-gardener".into(),
            priority_label_prefix: "priority:".into(),
            min_priority: "P2".into(),
            max_new_issues: 10,
            max_comments: 30,
            write_interval_ms: 1000,
            max_wait_secs: 120,
            secondary_backoff_secs: 60,
            timeout_secs: 30,
            search_fallback: true,
            dry_run: false,
        }
    }
}

/// A configuration error, already phrased for people.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn yaml_error(origin: &str, e: serde_saphyr::Error) -> ConfigError {
    yaml_error_in(origin, "", e)
}

/// A YAML error once, as `FILE:LINE:COLUMN: message`, with the line it points at from `text`
/// (serde-saphyr's own snippet names the file `<input>`), and numbers out of range in words.
fn yaml_error_in(origin: &str, text: &str, e: serde_saphyr::Error) -> ConfigError {
    let inner = e.without_snippet();
    let mut message = inner.to_string();
    if let Some(rest) = message.strip_prefix("error: ") {
        message = rest.to_string();
    }
    // `line 2 column 15: invalid u64` → the message alone (the place goes in front).
    if message.starts_with("line ")
        && let Some((_, m)) = message.split_once(": ")
    {
        message = m.to_string();
    }
    // `invalid u64 at line 2, column 15` → the message alone (the place goes in front).
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    for (machine, words) in [
        ("invalid u64", "expected a whole number, 0 or more"),
        ("invalid usize", "expected a whole number, 0 or more"),
        ("invalid u32", "expected a whole number, 0 or more"),
        ("invalid u16", "expected a whole number, 0 or more"),
        ("invalid u8", "expected a whole number, 0 or more"),
        ("invalid i64", "expected a whole number"),
        ("invalid f64", "expected a number"),
    ] {
        if message.trim() == machine {
            message = words.to_string();
        }
    }
    let Some(loc) = inner.location() else {
        return ConfigError(format!("{origin}: {message}"));
    };
    let (line, col) = (loc.line(), loc.column());
    let shown = text
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .map(|l| {
            format!(
                "\n  {line} | {l}\n  {} | {}^",
                " ".repeat(line.to_string().len()),
                " ".repeat(col.saturating_sub(1) as usize)
            )
        })
        .unwrap_or_default();
    ConfigError(format!("{origin}:{line}:{col}: {message}{shown}"))
}

impl Config {
    /// The settings a run's aggregates depend on, as recorded in the JSON report's
    /// `mergeable` section (`gardener merge` refuses parts that differ).
    pub fn merge_settings(
        &self,
        now: Option<i64>,
    ) -> Result<crate::model::record::MergeSettings, ConfigError> {
        let masks = serde_json::to_string(&self.masks()?).unwrap_or_default();
        let grouping = format!(
            "{:016x}",
            xxhash_rust::xxh3::xxh3_64(
                format!("{masks}\u{1f}{}", self.fingerprint.max_message_bytes).as_bytes()
            )
        );
        Ok(crate::model::record::MergeSettings {
            windows: self.windows(),
            samples: self.aggregate.samples,
            now,
            grouping,
            traces_per_cluster: self.related.traces_per_cluster,
        })
    }

    /// Parses a configuration text; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let cfg: Config =
            serde_saphyr::from_str(text).map_err(|e| yaml_error_in(origin, text, e))?;
        cfg.check(origin)?;
        Ok(cfg)
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// The mask pack in force: the configured one, else the built-in one.
    pub fn masks(&self) -> Result<MaskPack, ConfigError> {
        match &self.fingerprint.masks {
            Some(m) => Ok(m.clone()),
            None => serde_saphyr::from_str(DEFAULT_MASKS)
                .map_err(|e| yaml_error("built-in rules/masks.yaml", e)),
        }
    }

    /// The priority rules in force: the configured ones, else the built-in ones.
    pub fn rules(&self) -> Result<Vec<Rule>, ConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Pack {
            rules: Vec<Rule>,
        }
        match &self.prioritize.rules {
            Some(r) => Ok(r.clone()),
            None => serde_saphyr::from_str::<Pack>(DEFAULT_RULES)
                .map(|p| p.rules)
                .map_err(|e| yaml_error("built-in rules/priority.yaml", e)),
        }
    }

    /// The redaction pack in force: the configured one (else the built-in one) plus `extra`.
    pub fn redact_pack(&self) -> Result<RedactPack, ConfigError> {
        let mut pack = match &self.redact.pack {
            Some(p) => p.clone(),
            None => serde_saphyr::from_str(DEFAULT_REDACT)
                .map_err(|e| yaml_error("built-in rules/redact.yaml", e))?,
        };
        pack.patterns.extend(self.redact.extra.iter().cloned());
        Ok(pack)
    }

    /// Time-series bucket size in seconds (at least 1).
    /// `aggregate.future_margin` in nanoseconds (checked by `validate`).
    pub fn future_margin_nanos(&self) -> i64 {
        self.aggregate.future_margin.nanos()
    }

    pub fn bucket_secs(&self) -> i64 {
        self.aggregate.bucket.secs().max(1)
    }

    /// Window lengths in seconds, in configured order, with their names.
    pub fn windows(&self) -> Vec<(String, i64)> {
        self.aggregate
            .windows
            .iter()
            .filter(|w| w.is_positive())
            .map(|w| (w.text().to_string(), w.secs()))
            .collect()
    }

    /// Folds the command line's overrides (`--report`, `--json`, `--entries`,
    /// `--dead-letter`, `--state`, `--github`, `--github-api`, `--dry-run`) into the
    /// configuration. Every command does it once, first: from then on the configuration alone
    /// says where the outputs go and which state and repository are used. Folding again
    /// changes nothing.
    pub fn fold(&mut self, o: &crate::model::run::RunOptions) {
        let s = &mut self.sinks;
        for (from, to) in [
            (&o.report, &mut s.report),
            (&o.json, &mut s.json),
            (&o.entries, &mut s.entries),
            (&o.dead_letter, &mut s.dead_letter),
            (&o.github_repo, &mut s.github.repo),
        ] {
            if let Some(v) = from {
                *to = Some(v.clone());
            }
        }
        if let Some(api) = &o.github_api {
            s.github.api = api.clone();
        }
        s.github.dry_run |= o.dry_run;
        if let Some(dir) = &o.state {
            self.state.dir = dir.clone();
        }
    }

    /// Checks what the YAML types cannot: numbers in range, windows, rules and regexes, and that
    /// the stages fit together.
    pub fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let p = &self.pipeline;
        if p.batch_size == 0 || p.batch_size > 1 << 20 {
            problems.push("pipeline.batch_size must be between 1 and 1048576".to_string());
        }
        if p.channel_capacity == 0 {
            problems.push("pipeline.channel_capacity must be at least 1".into());
        }
        if p.read_block_kib == 0 || p.read_block_kib > 1 << 20 {
            problems.push("pipeline.read_block_kib must be between 1 and 1048576".into());
        }
        for (name, n) in [
            ("parse.workers", self.parse.workers),
            ("fingerprint.workers", self.fingerprint.workers),
            ("aggregate.shards", self.aggregate.shards),
        ] {
            if !(1..=64).contains(&n) {
                problems.push(format!("{name} must be between 1 and 64 (it is {n})"));
            }
        }
        if !(1..=MAX_ENTRY_KIB_LIMIT).contains(&self.source.max_entry_kib) {
            problems.push(format!(
                "source.max_entry_kib must be between 1 and {MAX_ENTRY_KIB_LIMIT} (it is {})",
                self.source.max_entry_kib
            ));
        }
        if !(1..=MAX_DEPTH_LIMIT).contains(&self.source.max_depth) {
            problems.push(format!(
                "source.max_depth must be between 1 and {MAX_DEPTH_LIMIT} (it is {})",
                self.source.max_depth
            ));
        }
        if self.fingerprint.max_message_bytes < 16 {
            problems.push("fingerprint.max_message_bytes must be at least 16".into());
        }
        if self.related.traces_per_cluster > 4096 {
            problems.push("related.traces_per_cluster must be at most 4096".into());
        }
        let c = &self.correlate;
        if !c.burst_bin.is_positive() {
            problems.push(format!(
                "correlate.burst_bin: '{}' is not a duration (use e.g. 1m, 5m)",
                c.burst_bin
            ));
        }
        if !(0.0..=1.0).contains(&c.min_trace_share) {
            problems.push("correlate.min_trace_share must be between 0 and 1".into());
        }
        if !(c.burst_max_p > 0.0 && c.burst_max_p < 1.0) {
            problems.push("correlate.burst_max_p must be between 0 and 1".into());
        }
        if c.min_shared_traces == 0 || c.burst_min_together == 0 || c.cause_min_words == 0 {
            problems.push(
                "correlate.min_shared_traces, burst_min_together and cause_min_words must be at least 1"
                    .into(),
            );
        }
        if self.related.min_shared_traces == 0 {
            problems.push("related.min_shared_traces must be at least 1".into());
        }
        if !self.related.co_start_ok() {
            problems.push(format!(
                "related.co_start: '{}' is not a duration (use e.g. 30s, 1m; 0s turns it off)",
                self.related.co_start
            ));
        }
        if self.aggregate.samples > 100 {
            problems.push("aggregate.samples must be at most 100".into());
        }
        let mut seen = Vec::new();
        let mut windows_ok = true;
        for w in &self.aggregate.windows {
            match Some(w.secs()).filter(|_| w.is_positive()) {
                None => {
                    windows_ok = false;
                    problems.push(format!(
                        "aggregate.windows: '{w}' is not a duration (use e.g. 90s, 5m, 1h, 2d)"
                    ))
                }
                Some(s) if seen.contains(&s) => {
                    problems.push(format!("aggregate.windows: '{w}' is listed twice"))
                }
                Some(s) => seen.push(s),
            }
        }
        for (key, value) in [
            ("aggregate.bucket", &self.aggregate.bucket),
            ("aggregate.future_margin", &self.aggregate.future_margin),
            ("trend.recent", &self.trend.recent),
            ("trend.min_baseline", &self.trend.min_baseline),
            ("state.regression_gap", &self.state.regression_gap),
            ("state.resolved_after", &self.state.resolved_after),
            ("state.history", &self.state.history),
            ("state.overlap", &self.state.overlap),
        ] {
            if !value.is_positive() {
                problems.push(format!(
                    "{key}: '{value}' is not a positive duration (use e.g. 90s, 5m, 1h, 2d)"
                ));
            }
        }
        if !self.state.lock_wait.is_valid() {
            problems.push(format!(
                "state.lock_wait: '{}' is not a duration (use e.g. 30s, 10m; 0s: do not wait)",
                self.state.lock_wait
            ));
        }
        if self.state.max_ids == 0 {
            problems.push(
                "state.max_ids must be at least 1 (a run that should remember no entries runs with --state none)".into(),
            );
        }
        if !(1..=100_000).contains(&self.aggregate.max_buckets) {
            problems.push("aggregate.max_buckets must be between 1 and 100000".into());
        }
        if !(self.trend.factor >= 1.0 && self.trend.factor.is_finite()) {
            problems.push("trend.factor must be a number of at least 1".into());
        }
        if !(self.trend.max_p > 0.0 && self.trend.max_p <= 1.0) {
            problems.push("trend.max_p must be above 0 and at most 1".into());
        }
        if self.state.dir.trim().is_empty() {
            problems.push("state.dir must name a directory, or be `none`".into());
        }
        if self.source.kind == SourceKind::Gcloud && self.source.gcloud.binary.trim().is_empty() {
            problems.push("source.gcloud.binary must name a program".into());
        }
        let sub = &self.source.pubsub;
        if self.source.kind == SourceKind::Pubsub && !pubsub_name(&sub.subscription) {
            problems.push(format!(
                "source.pubsub.subscription must be projects/PROJECT/subscriptions/NAME (it is {:?})",
                sub.subscription
            ));
        }
        if !(1..=1000).contains(&sub.max_messages) {
            problems.push("source.pubsub.max_messages must be 1 to 1000".into());
        }
        if !(1..=32).contains(&sub.streams) {
            problems.push("source.pubsub.streams must be 1 to 32".into());
        }
        match self.masks() {
            Err(e) => problems.push(e.0),
            Ok(m) => {
                for x in &m.extra {
                    if let Err(e) = regex::Regex::new(&x.regex) {
                        problems.push(format!("fingerprint.masks.extra '{}': {e}", x.name));
                    }
                }
            }
        }
        match self.redact_pack() {
            Err(e) => problems.push(e.0),
            Ok(pack) => {
                // (The same check as the redact stage's when it compiles the pack.)
                for p in &pack.patterns {
                    if let Err(e) = regex::Regex::new(&p.regex) {
                        problems.push(format!(
                            "redact pattern '{}': bad regular expression: {e}",
                            p.name
                        ));
                    }
                }
            }
        }
        problems.extend(check_github(&self.sinks.github));
        match self.rules() {
            Err(e) => problems.push(e.0),
            Ok(rules) => {
                // A misspelled window would make every rule naming the window it meant look
                // wrong too: those are checked once the windows are right.
                let windows = windows_ok.then_some(self.aggregate.windows.as_slice());
                for (i, r) in rules.iter().enumerate() {
                    let at = format!("prioritize.rules[{i}] '{}'", r.name);
                    problems.extend(
                        check_rule(r, windows)
                            .into_iter()
                            .map(|e| format!("{at}: {e}")),
                    );
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(format!(
                "{origin}: {} {}:\n  - {}",
                problems.len(),
                if problems.len() == 1 {
                    "problem"
                } else {
                    "problems"
                },
                problems.join("\n  - ")
            )))
        }
    }
}

/// Parses `P0`..`P5` into 0..5.
pub fn parse_priority(s: &str) -> Option<u8> {
    let t = s.trim();
    let n = t.strip_prefix('P').or_else(|| t.strip_prefix('p'))?;
    n.parse::<u8>().ok().filter(|&n| n <= 5)
}

/// `OWNER/REPO` split in two, when well-formed.
pub fn parse_repo(s: &str) -> Option<(String, String)> {
    let (owner, repo) = s.trim().split_once('/')?;
    let ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (ok(owner) && ok(repo)).then(|| (owner.to_string(), repo.to_string()))
}

/// Whether `s` is a full subscription name: `projects/P/subscriptions/S`.
fn pubsub_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() == 4
        && parts[0] == "projects"
        && parts[2] == "subscriptions"
        && !parts[1].is_empty()
        && parts[3].len() >= 3
}

fn check_github(g: &GithubConfig) -> Vec<String> {
    let mut errs = Vec::new();
    if let Some(r) = &g.repo
        && parse_repo(r).is_none()
    {
        errs.push(format!("sinks.github.repo '{r}' is not OWNER/REPO"));
    }
    if !(g.api.starts_with("https://") || g.api.starts_with("http://")) {
        errs.push(format!(
            "sinks.github.api '{}' must be an http(s) URL, e.g. https://api.github.com",
            g.api
        ));
    }
    if parse_priority(&g.min_priority).is_none() {
        errs.push(format!(
            "sinks.github.min_priority '{}' is not one of P0..P5",
            g.min_priority
        ));
    }
    if g.label.trim().is_empty() {
        errs.push("sinks.github.label must not be empty".into());
    }
    errs.extend(label_problem("sinks.github.label", &g.label));
    errs.extend(label_problem(
        "sinks.github.priority_label_prefix (with P0..P5 after it)",
        &format!("{}P0", g.priority_label_prefix),
    ));
    if g.state_file.trim().is_empty() {
        errs.push("sinks.github.state_file must name a file".into());
    }
    if g.timeout_secs == 0 {
        errs.push("sinks.github.timeout_secs must be at least 1".into());
    }
    errs
}

/// GitHub's limit on label names.
pub const LABEL_MAX: usize = 50;

/// What GitHub (or the sink's listing by label) would refuse in a label name.
pub fn label_problem(what: &str, label: &str) -> Option<String> {
    let n = label.chars().count();
    if n > LABEL_MAX {
        return Some(format!(
            "{what} '{label}' is {n} characters long; GitHub allows at most {LABEL_MAX}"
        ));
    }
    if label.contains(',') {
        return Some(format!(
            "{what} '{label}' holds a comma: GitHub's issue listing takes commas as label separators"
        ));
    }
    None
}

/// A rule's problems; `windows` is `None` when `aggregate.windows` is itself wrong (the rule's
/// windows are then not checked).
fn check_rule(r: &Rule, windows: Option<&[Span]>) -> Vec<String> {
    let mut errs = Vec::new();
    for l in &r.labels {
        errs.extend(label_problem("label", l));
    }
    match (r.raise, r.priority.is_empty()) {
        (0, _) if parse_priority(&r.priority).is_none() => {
            errs.push(format!("priority '{}' is not one of P0..P5", r.priority))
        }
        (1..=5, true) => {}
        (1..=5, false) => errs.push(
            "set either priority or raise: a rule with raise keeps the priority of the first matching rule and raises it".into(),
        ),
        (n, _) if n > 5 => errs.push(format!("raise {n}: at most 5 levels")),
        _ => {}
    }
    let m = &r.when;
    if let Some(s) = &m.status
        && !["new", "ongoing", "escalating", "regressed"].contains(&s.as_str())
    {
        errs.push(format!(
            "status '{s}' is not one of new, ongoing, escalating, regressed"
        ));
    }
    for s in [&m.severity_at_least, &m.severity_below]
        .into_iter()
        .flatten()
    {
        if Severity::parse(s).is_none() {
            errs.push(format!(
                "'{s}' is not a severity (DEFAULT, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT, EMERGENCY)"
            ));
        }
    }
    for re in [&m.service, &m.template, &m.module].into_iter().flatten() {
        if let Err(e) = regex::Regex::new(re) {
            errs.push(format!("bad regular expression: {e}"));
        }
    }
    for w in m.window_at_least.keys() {
        if windows.is_some_and(|ws| !ws.iter().any(|x| x.text() == w)) {
            errs.push(format!(
                "window '{w}' is not one of aggregate.windows ({})",
                windows
                    .unwrap_or_default()
                    .iter()
                    .map(Span::text)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_packs_parse_and_check() {
        let cfg = Config::default();
        cfg.check("defaults").unwrap();
        assert!(!cfg.rules().unwrap().is_empty());
        assert!(!cfg.masks().unwrap().keep.is_empty());
    }

    #[test]
    fn repo_pipeline_yaml_is_the_defaults() {
        let text = include_str!("../../../pipeline.yaml");
        let cfg = Config::from_yaml(text, "pipeline.yaml").unwrap();
        // Every setting is spelled out (a setting left out would still equal its default).
        fn keys(v: &serde_json::Value, indent: usize, out: &mut Vec<String>) {
            if let serde_json::Value::Object(m) = v {
                for (k, v) in m {
                    out.push(format!("{}{k}:", " ".repeat(indent)));
                    keys(v, indent + 2, out);
                }
            }
        }
        let mut all = Vec::new();
        keys(
            &serde_json::to_value(Config::default()).unwrap(),
            0,
            &mut all,
        );
        for k in all {
            // Optional packs are documented as comments (`# masks:`).
            let indent = k.len() - k.trim_start().len();
            let set = format!("\n{k}");
            let doc = format!("\n{}# {}", &k[..indent], k.trim_start());
            assert!(
                text.contains(&set) || text.contains(&doc),
                "pipeline.yaml does not document {k:?}"
            );
        }
        let mut expected = Config::default();
        expected.fingerprint.masks = Some(expected.masks().unwrap());
        expected.prioritize.rules = Some(expected.rules().unwrap());
        expected.redact.pack = Some(expected.redact_pack().unwrap());
        let mut got = cfg.clone();
        if got.redact.pack.is_none() {
            got.redact.pack = expected.redact.pack.clone();
        }
        if got.fingerprint.masks.is_none() {
            got.fingerprint.masks = expected.fingerprint.masks.clone();
        }
        if got.prioritize.rules.is_none() {
            got.prioritize.rules = expected.prioritize.rules.clone();
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn misspelled_key_names_line_and_column() {
        let err = Config::from_yaml(
            "pipeline:\n  batch_size: 10\n  chanel_capacity: 3\n",
            "t.yaml",
        )
        .unwrap_err()
        .0;
        assert!(err.contains("chanel_capacity"), "{err}");
        assert!(err.contains('3'), "{err}");
    }

    #[test]
    fn durations_are_typed_once_and_all_bad_ones_listed() {
        let yaml = "state:\n  lock_wait: 0s\n  overlap: 36h\n  history: later\ntrend:\n  recent: 0m\nrelated:\n  co_start: 0s\n";
        let err = Config::from_yaml(yaml, "t.yaml").unwrap_err().0;
        assert!(
            err.contains("state.history: 'later' is not a positive duration"),
            "{err}"
        );
        assert!(
            err.contains("trend.recent: '0m' is not a positive duration"),
            "{err}"
        );
        assert!(
            !err.contains("lock_wait") && !err.contains("co_start"),
            "{err}"
        );
        let ok = "state:\n  lock_wait: 0s\n  overlap: 36h\nrelated:\n  co_start: 0s\naggregate:\n  windows: [1h, 90m]\n";
        let cfg = Config::from_yaml(ok, "t.yaml").unwrap();
        // 0s means: do not wait for another run's lock (it used to fall back to 10 minutes).
        assert_eq!(cfg.state.lock_wait.duration(), std::time::Duration::ZERO);
        assert_eq!(cfg.state.overlap.secs(), 36 * 3600);
        assert_eq!(cfg.related.co_start_secs(), 0);
        assert_eq!(
            cfg.windows(),
            vec![("1h".to_string(), 3600), ("90m".to_string(), 5400)]
        );
    }

    #[test]
    fn the_command_line_folds_into_the_configuration_once() {
        let mut cfg = Config::from_yaml(
            "sinks:\n  json: from-config.json\n  github:\n    repo: a/b\n",
            "t.yaml",
        )
        .unwrap();
        let opts = crate::model::run::RunOptions {
            report: Some("w.md".into()),
            state: Some("none".into()),
            github_api: Some("http://127.0.0.1:9".into()),
            dry_run: true,
            ..Default::default()
        };
        cfg.fold(&opts);
        let folded = cfg.clone();
        cfg.fold(&opts);
        assert_eq!(cfg, folded, "folding twice changes nothing");
        assert_eq!(cfg.sinks.report.as_deref(), Some("w.md"));
        // What the command line leaves out keeps the configuration's value.
        assert_eq!(cfg.sinks.json.as_deref(), Some("from-config.json"));
        assert_eq!(cfg.sinks.github.repo.as_deref(), Some("a/b"));
        assert_eq!(cfg.sinks.github.api, "http://127.0.0.1:9");
        assert!(cfg.sinks.github.dry_run);
        assert_eq!(cfg.state.dir, "none");
    }

    #[test]
    fn semantic_errors_are_listed() {
        let yaml = "aggregate:\n  windows: [5m, soon]\nprioritize:\n  rules:\n    - name: r\n      priority: P9\n      when: { window_at_least: { 2h: 3 }, template: '(' }\n";
        let err = Config::from_yaml(yaml, "t.yaml").unwrap_err().0;
        assert!(err.contains("'soon' is not a duration"), "{err}");
        assert!(err.contains("P9"), "{err}");
        // The rule's window is not checked against windows that are themselves wrong.
        assert!(!err.contains("window '2h'"), "{err}");
        assert!(err.contains("bad regular expression"), "{err}");
        let fixed = yaml.replace("soon", "1h");
        let err = Config::from_yaml(&fixed, "t.yaml").unwrap_err().0;
        assert!(err.contains("window '2h'"), "{err}");
        let err = Config::from_yaml("source:\n  max_entry_kib: 0\n  max_depth: 128\n", "t.yaml")
            .unwrap_err()
            .0;
        assert!(err.contains("source.max_entry_kib must be"), "{err}");
        assert!(
            err.contains("source.max_depth must be between 1 and 127"),
            "{err}"
        );
    }

    #[test]
    fn priorities() {
        assert_eq!(parse_priority("P0"), Some(0));
        assert_eq!(parse_priority("p5"), Some(5));
        assert_eq!(parse_priority("P6"), None);
    }
}
