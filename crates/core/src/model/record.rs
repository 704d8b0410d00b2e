//! The record types that flow between stages. Every stage speaks these types and nothing else.
//!
//! Entries travel in [`Batch`]es: one owned byte buffer holding the raw JSON of many entries, plus
//! one [`Record`] per entry whose text fields are [`Str`] spans into that buffer (or, for strings
//! that needed unescaping, into the batch's small `arena`). Parsing therefore allocates per batch,
//! never per field, and the raw bytes of every entry stay available for samples and dead letters.

use std::ops::Range;
use std::sync::Arc;

use crate::model::time::Timestamp;

/// A piece of text owned by a [`Batch`]: a span of its raw buffer or of its arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Str {
    start: u32,
    /// Length in bytes; the top bit says the span lives in the arena, the next one that its
    /// bytes of the buffer were valid UTF-8 when it was made (see [`Str::text`]).
    len: u32,
}

const ARENA_BIT: u32 = 1 << 31;
const TEXT_BIT: u32 = 1 << 30;
/// Spans are shorter than this (`source.max_entry_kib` keeps entries under 1 GiB).
const MAX_LEN: usize = TEXT_BIT as usize;

impl Str {
    pub const EMPTY: Str = Str { start: 0, len: 0 };

    /// Bytes of the buffer, not known to be UTF-8: [`Batch::str`] validates them on every
    /// read (an entry whose bytes were repaired, a bad entry).
    pub fn raw(range: Range<usize>) -> Str {
        debug_assert!(range.end - range.start < MAX_LEN);
        Str {
            start: range.start as u32,
            len: (range.end - range.start) as u32,
        }
    }

    /// Text borrowed from `buf`, the buffer of the batch the span will be read from: `text` is a
    /// `&str` (so valid UTF-8) lying inside `buf`. None when it does not lie inside `buf`. The
    /// span is read back without validating its bytes a second time.
    pub(crate) fn text(buf: &[u8], text: &str) -> Option<Str> {
        let p = text.as_ptr() as usize;
        let b = buf.as_ptr() as usize;
        if p < b || p + text.len() > b + buf.len() || text.len() >= MAX_LEN {
            return None;
        }
        Some(Str {
            start: (p - b) as u32,
            len: text.len() as u32 | TEXT_BIT,
        })
    }

    pub fn arena(range: Range<usize>) -> Str {
        debug_assert!(range.end - range.start < MAX_LEN);
        Str {
            start: range.start as u32,
            len: (range.end - range.start) as u32 | ARENA_BIT,
        }
    }

    fn len(self) -> usize {
        (self.len & !(ARENA_BIT | TEXT_BIT)) as usize
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// Cloud Logging's severity enum, in its numeric order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Severity {
    #[default]
    Default = 0,
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl Severity {
    pub const ALL: [Severity; 9] = [
        Severity::Default,
        Severity::Debug,
        Severity::Info,
        Severity::Notice,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
        Severity::Alert,
        Severity::Emergency,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Default => "DEFAULT",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Notice => "NOTICE",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
            Severity::Alert => "ALERT",
            Severity::Emergency => "EMERGENCY",
        }
    }

    /// Parses a name (any case; `WARN` and `FATAL` accepted as aliases) or a Cloud Logging number
    /// (0, 100, 200, ... 800).
    pub fn parse(s: &str) -> Option<Severity> {
        let t = s.trim();
        if let Ok(n) = t.parse::<i64>() {
            return Some(Self::from_number(n));
        }
        // Compared without regard to ASCII case, in place: this runs on every entry.
        const NAMES: [(&str, Severity); 11] = [
            ("DEFAULT", Severity::Default),
            ("DEBUG", Severity::Debug),
            ("INFO", Severity::Info),
            ("NOTICE", Severity::Notice),
            ("WARNING", Severity::Warning),
            ("WARN", Severity::Warning),
            ("ERROR", Severity::Error),
            ("CRITICAL", Severity::Critical),
            ("FATAL", Severity::Critical),
            ("ALERT", Severity::Alert),
            ("EMERGENCY", Severity::Emergency),
        ];
        NAMES
            .iter()
            .find(|(name, _)| t.eq_ignore_ascii_case(name))
            .map(|&(_, severity)| severity)
    }

    /// Cloud Logging numbers: DEFAULT 0, DEBUG 100, ... EMERGENCY 800; values between round down.
    pub fn from_number(n: i64) -> Severity {
        Self::ALL[(n / 100).clamp(0, 8) as usize]
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The parts of `httpRequest` the pipeline uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Http {
    pub method: Str,
    pub url: Str,
    /// HTTP status; 0 when absent.
    pub status: u16,
    /// Latency in microseconds, when present and well-formed.
    pub latency_us: Option<u64>,
    pub user_agent: Str,
}

/// One log entry, parsed. Text fields point into the owning [`Batch`].
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// 1-based position of the entry in its input.
    pub entry_no: u64,
    /// Byte offset of the entry's first byte in its input.
    pub offset: u64,
    /// The entry's raw JSON, a span of the batch buffer.
    pub raw: Str,
    pub insert_id: Str,
    /// Event time (`timestamp`, else `receiveTimestamp`); `None` when absent.
    pub timestamp: Option<Timestamp>,
    /// The effective severity: Cloud Logging's, else the level the text's logger prefix names
    /// (see `parse::textlog`).
    pub severity: Severity,
    /// Cloud Logging's severity was DEFAULT or missing and `severity` comes from the text.
    pub severity_from_text: bool,
    pub resource_type: Str,
    pub service: Str,
    pub revision: Str,
    pub log_name: Str,
    /// The message (see `parse` for the order of payload fields it is taken from).
    pub message: Str,
    pub module: Str,
    pub function: Str,
    pub line: Str,
    pub file: Str,
    pub http: Option<Http>,
    pub trace: Str,
    /// xxh3 of `trace`'s text, taken by the parse stage while the entry is in its core's cache
    /// (the aggregate stage, on another core, would wait on memory to read it); 0 when
    /// `trace` is empty.
    pub trace_hash: u64,
    /// Raw JSON of the entry's `labels`.
    pub labels: Str,
    /// Set by the fingerprint stage.
    pub fingerprint: u64,
}

/// An entry that could not be parsed: kept with its location and reason, never dropped silently.
#[derive(Clone, Debug)]
pub struct BadEntry {
    pub entry_no: u64,
    pub offset: u64,
    pub reason: String,
    /// The entry's raw text (for an entry over the size limit, only its first bytes).
    pub raw: Str,
    /// The entry's size in the input, in bytes.
    pub size: u64,
}

/// A group of entries moving between stages.
#[derive(Debug, Default)]
pub struct Batch {
    /// Sequence number of the batch in its input, for ordering sinks that care.
    pub seq: u64,
    /// Index of the input (file) the entries came from.
    pub input: u32,
    /// Raw bytes of the entries (plus separators between them); shared by the batches cut
    /// from one read.
    pub buf: Arc<Vec<u8>>,
    /// Byte ranges of `buf` holding one entry each, with entry number and input offset.
    pub spans: Vec<EntrySpan>,
    /// Unescaped or repaired strings that could not be borrowed from `buf`.
    pub arena: String,
    pub records: Vec<Record>,
    pub bad: Vec<BadEntry>,
    /// Templates first seen by the fingerprint worker in this batch.
    pub new_templates: Vec<NewTemplate>,
    /// Entries whose invalid UTF-8 was repaired.
    pub repaired_utf8: u64,
    /// Fields of an unexpected type the parse stage ignored (the entries were kept).
    pub ignored_fields: u64,
}

/// A batch as one aggregate shard receives it: the whole batch, shared with the other shards
/// and the entries sink, and the indexes of the records that are this shard's (see
/// [`crate::model::id::shard_of`]). Each shard visits only its own records.
#[derive(Debug)]
pub struct Routed {
    pub batch: std::sync::Arc<Batch>,
    /// Indexes into `batch.records`, in order.
    pub records: Vec<u32>,
}

/// A template announced by the fingerprint stage the first time a worker meets it.
#[derive(Clone, Debug)]
pub struct NewTemplate {
    pub id: u64,
    /// Service and code location the template belongs to (see `fingerprint::scope`).
    pub scope: String,
    pub template: String,
}

/// Where one entry sits in a batch buffer and in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntrySpan {
    pub range: (u32, u32),
    pub entry_no: u64,
    pub offset: u64,
    /// What the source already knows is wrong with the entry.
    pub flaw: Flaw,
}

/// A problem the source found while splitting an entry off the input; such an entry is bad
/// before it is parsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flaw {
    #[default]
    None,
    /// The input ended inside the entry.
    Cut,
    /// In gcloud's layout, the entry was still open where the line at this input offset starts
    /// the next entry, closes the array or is not JSON (a bracket or quote is missing);
    /// splitting resumed there.
    Unbalanced { resumed_at: u64 },
    /// Brackets nested deeper than `limit` (`source.max_depth`).
    TooDeep { limit: u32 },
    /// `size` bytes, over `limit` (`source.max_entry_kib`): only the first bytes were kept.
    /// `cut`: the input also ended inside it.
    TooLarge { size: u64, limit: u64, cut: bool },
}

impl Flaw {
    /// Why an entry with this flaw is bad, for the report and the dead letter.
    pub fn reason(self) -> Option<String> {
        Some(match self {
            Flaw::None => return None,
            Flaw::Cut => "the input ended inside this entry (it was cut off)".into(),
            Flaw::Unbalanced { resumed_at } => format!(
                "unbalanced JSON: the entry was still open (a bracket or quote is missing) where the line at byte {resumed_at} starts another entry, closes the array or is not JSON (gcloud's layout); reading resumed there"
            ),
            Flaw::TooDeep { limit } => {
                format!("nested more than {limit} levels deep (source.max_depth)")
            }
            Flaw::TooLarge { size, limit, cut } => format!(
                "entry of {size} bytes is larger than the limit of {limit} bytes (source.max_entry_kib){}; raw holds only its first bytes",
                if cut {
                    ", and the input ended inside it"
                } else {
                    ""
                }
            ),
        })
    }
}

impl Record {
    /// Every field, its texts read from `batch`: records of different batches (or read by
    /// different readers) compare equal as text when their fields are equal.
    pub fn describe(&self, batch: &Batch) -> String {
        let s = |x| batch.str(x).to_string();
        let texts = [
            self.raw,
            self.insert_id,
            self.resource_type,
            self.service,
            self.revision,
            self.log_name,
            self.message,
            self.module,
            self.function,
            self.line,
            self.file,
            self.trace,
            self.labels,
        ]
        .map(s);
        let http = self.http.map(|h| {
            (
                s(h.method),
                s(h.url),
                h.status,
                h.latency_us,
                s(h.user_agent),
            )
        });
        let rest = (self.timestamp, self.severity, self.severity_from_text, http);
        format!("{texts:?} {rest:?}")
    }
}

impl Batch {
    /// A batch of one entry: `bytes`, whole, as entry 1 at offset 0 (not yet parsed).
    pub fn of_one_entry(bytes: Vec<u8>) -> Batch {
        Batch {
            spans: vec![EntrySpan {
                range: (0, bytes.len() as u32),
                entry_no: 1,
                offset: 0,
                flaw: Flaw::None,
            }],
            buf: Arc::new(bytes),
            ..Default::default()
        }
    }

    /// The text behind a span. Text spans ([`Str::text`]) were validated when they were made;
    /// other spans of the buffer are validated here, and invalid bytes give the empty string
    /// rather than a panic.
    pub fn str(&self, s: Str) -> &str {
        let len = s.len();
        let start = s.start as usize;
        if s.len & ARENA_BIT != 0 {
            return self.arena.get(start..start + len).unwrap_or("");
        }
        let Some(bytes) = self.buf.get(start..start + len) else {
            return "";
        };
        if s.len & TEXT_BIT != 0 {
            debug_assert!(std::str::from_utf8(bytes).is_ok());
            // SAFETY: a text span is only made by `Str::text` (crate-private, called by the
            // parse stage alone) over the bytes of a `&str` lying inside this batch's buffer;
            // a record's spans are read only with the batch that holds the record; and the
            // buffer is never written once shared (an `Arc<Vec<u8>>`, never `get_mut`): the
            // bytes are the same valid UTF-8.
            return unsafe { std::str::from_utf8_unchecked(bytes) };
        }
        simdutf8::basic::from_utf8(bytes).unwrap_or("")
    }

    /// Raw bytes behind a span of the buffer.
    pub fn bytes(&self, s: Str) -> &[u8] {
        let len = s.len();
        let start = s.start as usize;
        if s.len & ARENA_BIT != 0 {
            self.arena.as_bytes().get(start..start + len).unwrap_or(&[])
        } else {
            self.buf.get(start..start + len).unwrap_or(&[])
        }
    }

    /// Appends text to the arena and returns its span.
    pub fn push_arena(&mut self, text: &str) -> Str {
        let start = self.arena.len();
        self.arena.push_str(text);
        Str::arena(start..self.arena.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A printed sample goes into the JSON report as JSON, not as a string, and two that
    /// share a text share it.
    #[test]
    fn printed_samples_are_written_as_json() {
        let a = PrintedSample::from(r#"{"a":[1,"x\"y"],"b":null}"#.to_string());
        let b = PrintedSample::new(Arc::clone(a.text()));
        assert_eq!(
            serde_json::to_string(&vec![a.clone(), b.clone()]).unwrap(),
            r#"[{"a":[1,"x\"y"],"b":null},{"a":[1,"x\"y"],"b":null}]"#
        );
        assert!(Arc::ptr_eq(a.text(), b.text()));
        let pretty = serde_json::to_string_pretty(&a).unwrap();
        assert_eq!(pretty, a.get(), "written as it is held");
    }

    #[test]
    fn severity_names_and_numbers() {
        assert_eq!(Severity::parse("warning"), Some(Severity::Warning));
        assert_eq!(Severity::parse("WARN"), Some(Severity::Warning));
        assert_eq!(Severity::parse("500"), Some(Severity::Error));
        assert_eq!(Severity::parse("650"), Some(Severity::Critical));
        assert_eq!(Severity::parse("9999"), Some(Severity::Emergency));
        assert_eq!(Severity::parse("nonsense"), None);
        assert!(Severity::Critical > Severity::Error);
        // Any ASCII case, surrounding spaces ignored; other letters are not folded.
        let names = [
            ("default", Severity::Default),
            ("Debug", Severity::Debug),
            (" info ", Severity::Info),
            ("NOTICE", Severity::Notice),
            ("wArN", Severity::Warning),
            ("Error", Severity::Error),
            ("critical", Severity::Critical),
            ("fatal", Severity::Critical),
            ("ALERT", Severity::Alert),
            ("Emergency", Severity::Emergency),
        ];
        for (name, severity) in names {
            assert_eq!(Severity::parse(name), Some(severity), "{name}");
        }
        for name in ["İNFO", "ınfo", "ERR", "INFOS", ""] {
            assert_eq!(Severity::parse(name), None, "{name}");
        }
    }

    #[test]
    fn spans_resolve_to_buffer_or_arena() {
        let mut b = Batch {
            buf: Arc::new(b"hello world".to_vec()),
            ..Default::default()
        };
        let raw = Str::raw(6..11);
        assert_eq!(b.str(raw), "world");
        let a = b.push_arena("unescaped \"x\"");
        assert_eq!(b.str(a), "unescaped \"x\"");
        assert!(!a.is_empty());
        assert!(Str::EMPTY.is_empty());
    }

    #[test]
    fn text_spans_lie_inside_their_buffer_and_read_back_the_same() {
        let buf = "na\u{ef}ve \u{1f600} text".as_bytes().to_vec();
        let whole = std::str::from_utf8(&buf).unwrap();
        let emoji = &whole[7..11];
        let span = Str::text(&buf, emoji).unwrap();
        let b = Batch {
            buf: Arc::new(buf.clone()),
            ..Default::default()
        };
        assert_eq!(b.str(span), "\u{1f600}");
        assert_eq!(b.bytes(span), "\u{1f600}".as_bytes());
        assert!(!span.is_empty());
        // The same range made as a raw span reads the same (validated on reading).
        assert_eq!(b.str(Str::raw(7..11)), "\u{1f600}");
        // Text from elsewhere is not a span of this buffer.
        assert_eq!(Str::text(&buf, "elsewhere"), None);
        assert_eq!(Str::text(&buf[..8], emoji), None);
    }

    #[test]
    fn raw_spans_over_invalid_utf8_read_as_empty() {
        let b = Batch {
            buf: Arc::new(b"ok \xff\xfe bytes".to_vec()),
            ..Default::default()
        };
        assert_eq!(b.str(Str::raw(0..2)), "ok");
        assert_eq!(b.str(Str::raw(3..5)), "");
        assert_eq!(b.bytes(Str::raw(3..5)), b"\xff\xfe");
    }
}

// ---------------------------------------------------------------------------------------------
// What the aggregate stage hands on, and the report the prioritize stage builds for the sinks.
// ---------------------------------------------------------------------------------------------

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A sample entry kept raw. The text is shared: the report's copy of the clusters before
/// mining (its mergeable section) and the mined clusters hold the same texts, not two copies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub timestamp: Option<Timestamp>,
    pub insert_id: String,
    pub raw: Arc<str>,
}

/// An entry that could not be processed, as reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BadInfo {
    pub input: String,
    pub entry: u64,
    pub offset: u64,
    pub reason: String,
}

/// Everything counted about one fingerprint. Serialized as is (before template mining, under
/// its raw id) in the JSON report's `mergeable` section, so `gardener merge` can combine runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cluster {
    pub id: u64,
    pub template: String,
    /// Service and code location the template belongs to (see `fingerprint::scope`).
    pub scope: String,
    pub service: String,
    pub count: u64,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    /// Entries per severity, indexed by [`Severity::index`].
    pub severities: [u64; 9],
    /// Entries whose severity came from their text (Cloud Logging's was DEFAULT or missing).
    #[serde(default)]
    pub severity_from_text: u64,
    pub revisions: BTreeMap<String, u64>,
    /// `module:function:line` (or `file:function:line`) with counts.
    pub locations: BTreeMap<String, u64>,
    /// Entries per second of event time (Unix seconds), within reach of the largest window.
    #[serde(with = "crate::model::record::pairs")]
    pub per_second: BTreeMap<i64, u64>,
    /// The time series: entries per bucket of event time (`aggregate.bucket`), keyed by the
    /// bucket's start in Unix seconds (aligned to the epoch). Merged by sum; bounded to
    /// `aggregate.max_buckets` back from the reference when aggregation finishes.
    #[serde(with = "crate::model::record::pairs")]
    pub series: BTreeMap<i64, u64>,
    /// Counts in the configured windows (filled when aggregation finishes).
    #[serde(skip)]
    pub windows: Vec<u64>,
    /// The newest entries, newest first.
    pub samples: Vec<Sample>,
    pub http_statuses: BTreeMap<u16, u64>,
    /// Request latency in microseconds.
    pub latency_us: Option<Latency>,
    /// A sample of the cluster's trace ids, for related clusters.
    pub traces: TraceSketch,
    /// Which entries the state store already counted, told by insertId (see
    /// `state::SeenIds`). Not in the mergeable section: `gardener merge` counts by high-water
    /// marks.
    #[serde(skip)]
    pub recount: Recount,
    /// For a service's overflow cluster (`aggregate::overflow`): the distinct messages folded
    /// into it because the run held more than `aggregate.max_clusters`; 0 for any other.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub folded: u64,
}

/// The template of a service's overflow cluster (see `aggregate::overflow`): the distinct
/// messages past `aggregate.max_clusters`, counted together. Mining leaves it alone.
pub const OVERFLOW_TEMPLATE: &str =
    "Other distinct messages, over aggregate.max_clusters (counted together)";

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A cluster's entries told apart by the state's insertId memory: those at or after the
/// memory's start whose id it holds were counted by an earlier run (`repeated`), the others
/// there are new (`fresh`). Entries older than the memory's start are neither: the cluster's
/// high-water mark decides for them (see `state::Store::new_entries`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Recount {
    pub fresh: u64,
    pub repeated: u64,
}

/// The trace ids of a cluster with the `k` smallest xxh3 hashes (a bottom-k sketch), each with
/// the event time of the trace's first entry in the cluster, sorted by hash. Two clusters'
/// sketches show the traces they share and which cluster's entry came first; sketches merge
/// exactly (union, keep the `k` smallest). See `crates/core/src/stages/report/related.rs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceSketch {
    pub k: usize,
    /// `[[hash, first entry (Unix ns)], ...]`, ascending by hash, at most `k`.
    pub marks: Vec<(u64, i64)>,
}

impl Cluster {
    pub fn max_severity(&self) -> Severity {
        Severity::ALL
            .into_iter()
            .rev()
            .find(|s| self.severities[s.index()] > 0)
            .unwrap_or_default()
    }
}

/// The result of aggregation, handed to the prioritize stage.
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    pub clusters: Vec<Cluster>,
    /// (name, seconds) of each window, in configured order.
    pub windows: Vec<(String, i64)>,
    /// The time windows were measured back from.
    pub reference: Option<i64>,
    pub entries: u64,
    pub bad_count: u64,
    pub bad: Vec<BadInfo>,
    pub repaired_utf8: u64,
    pub without_timestamp: u64,
    /// Fields of an unexpected type ignored (the entries were kept).
    pub ignored_fields: u64,
    /// Entries dated more than `aggregate.future_margin` after the run's clock: counted, but
    /// without their time.
    pub future_dated: u64,
    /// The latest such date (Unix nanoseconds).
    pub future_latest: Option<i64>,
    /// Entries within `state.overlap` of the newest, as `(timestamp ns, key)` with the key from
    /// `state::seen::entry_key`, for the state's insertId memory; `None` when not collected
    /// (no state, or `gardener merge`).
    pub seen: Option<Vec<(i64, u64)>>,
    /// Clusters dropped from memory by `gardener watch` because no entry of theirs was seen
    /// within the longest window (their entries stay in the totals).
    pub evicted: u64,
}

impl Aggregate {
    /// The oldest bucket this run observed in full view: its oldest entry's bucket, but no
    /// older than the series keeps (`aggregate.max_buckets`).
    pub fn first_bucket(&self, bucket: i64, max_buckets: usize) -> Option<i64> {
        let reference = self.reference?;
        let first = self
            .clusters
            .iter()
            .filter_map(|c| c.first_seen)
            .min()?
            .nanos();
        Some(
            crate::model::time::bucket_start(first.div_euclid(crate::model::time::NANOS), bucket)
                .max(crate::model::time::series_floor(
                    reference,
                    bucket,
                    max_buckets,
                )),
        )
    }
}

/// The report every sink renders: the JSON report is this, serialised.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub tool: String,
    pub generated_at: String,
    /// True when the run was interrupted: counts cover only what was read until then.
    pub partial: bool,
    pub inputs: Vec<String>,
    /// The time windows were measured back from (newest entry, or `--now`).
    pub reference_time: Option<String>,
    pub time_range: Option<TimeRange>,
    pub services: BTreeMap<String, u64>,
    pub totals: Totals,
    pub windows: Vec<String>,
    pub priorities: BTreeMap<String, u64>,
    /// Problems (groups of related clusters, see `crates/core/src/stages/report/correlate.rs`), most urgent first.
    pub problems: Vec<ProblemReport>,
    pub clusters: Vec<ClusterReport>,
    pub notes: Vec<String>,
    pub bad_entries: Vec<BadInfo>,
    pub stages: Vec<crate::model::stats::StageReport>,
    /// What the GitHub sink did (or planned), when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubReport>,
    /// Time series, spikes and what changed since the last run.
    pub trends: TrendsReport,
    /// Clusters that share traces or started together, strongest first (see `crates/core/src/stages/report/related.rs`).
    pub related: Vec<Related>,
    /// What `gardener merge` needs to combine this report with others (see `crates/core/src/topology/merge.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mergeable: Option<Mergeable>,
}

#[cfg(test)]
impl Report {
    /// A report with nothing in it, for tests to fill.
    pub(crate) fn empty() -> Report {
        Report {
            problems: vec![],
            tool: String::new(),
            generated_at: String::new(),
            partial: false,
            inputs: vec![],
            reference_time: None,
            time_range: None,
            services: Default::default(),
            totals: Default::default(),
            windows: vec![],
            priorities: Default::default(),
            clusters: vec![],
            notes: vec![],
            bad_entries: vec![],
            stages: vec![],
            github: None,
            trends: Default::default(),
            related: vec![],
            mergeable: None,
        }
    }
}

#[cfg(test)]
impl ClusterReport {
    /// A P1 cluster `00000000000000ab` of service `svc` (template `boom`), for tests to adjust.
    pub(crate) fn example(count: u64) -> ClusterReport {
        ClusterReport {
            id: "00000000000000ab".into(),
            problem: String::new(),
            priority: Priority(1),
            title: "svc | P1 | boom".into(),
            rule: "errors".into(),
            expected: false,
            labels: vec![],
            service: "svc".into(),
            template: "boom".into(),
            max_severity: "ERROR".into(),
            severities: Default::default(),
            severity_from_text: 0,
            count,
            folded: 0,
            windows: Default::default(),
            first_seen: None,
            last_seen: None,
            revisions: Default::default(),
            locations: Default::default(),
            samples: vec![],
            to_print: vec![],
            http: None,
            per_second: Default::default(),
            trend: Default::default(),
        }
    }
}

/// A cluster's status across runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Never seen by an earlier run (the state does not know it).
    New,
    /// Known, and neither escalating nor regressed.
    Ongoing,
    /// Known, and the spike test flagged it.
    Escalating,
    /// It had disappeared (not seen for longer than `state.regression_gap`) or its issue was
    /// closed, and it is back.
    Regressed,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Ongoing => "ongoing",
            Status::Escalating => "escalating",
            Status::Regressed => "regressed",
        }
    }
}

/// The spike test's verdict on a cluster that it flagged (see `trend::spike`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Escalation {
    /// Recent rate over baseline rate.
    pub factor: f64,
    /// Entries in the recent window.
    pub recent: u64,
    /// Entries the baseline rate predicts for the recent window.
    pub expected: f64,
    /// Length of the recent window, in seconds.
    pub recent_secs: i64,
    /// Observed time before the recent window (this run and the stored history), in seconds.
    pub baseline_secs: i64,
    /// Entries in the baseline.
    pub baseline: u64,
    /// Upper bound on the chance of `recent` or more entries at the baseline rate.
    pub p_bound: f64,
}

/// What is known about a cluster across runs, when a state store is used.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct History {
    /// The first entry ever seen (RFC 3339).
    pub first_seen: Option<String>,
    /// The newest entry seen before this run (RFC 3339).
    pub previous_last_seen: Option<String>,
    /// Entries counted over all runs, this one included (each entry counted once).
    pub total: u64,
    /// Priority in the previous report.
    pub previous_priority: Option<String>,
    /// Its GitHub issue was closed (as last seen by the GitHub sink).
    pub closed: bool,
}

/// Writes `(Unix seconds, count)` pairs as a JSON object keyed by RFC 3339 times.
fn rfc3339_keyed<S: serde::Serializer>(pairs: &[(i64, u64)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(pairs.len()))?;
    let mut buf = [0u8; crate::model::time::RFC3339_LEN];
    for (secs, n) in pairs {
        m.serialize_entry(
            crate::model::time::write_rfc3339(secs * 1_000_000_000, &mut buf),
            n,
        )?;
    }
    m.end()
}

/// Per cluster: status, spike verdict, state history and time series.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClusterTrend {
    /// `new`, `ongoing`, `escalating`, `regressed`; without a state store only `ongoing` or
    /// `escalating`.
    pub status: Option<Status>,
    /// Set when the spike test flagged the cluster.
    pub escalation: Option<Escalation>,
    /// From the state store.
    pub history: Option<History>,
    /// Entries per bucket: (bucket start in Unix seconds, count), ascending; empty buckets
    /// left out. In JSON, an object keyed by the bucket's start in RFC 3339 (formatted while
    /// writing: a report can hold hundreds of thousands of buckets).
    #[serde(serialize_with = "rfc3339_keyed")]
    pub series: Vec<(i64, u64)>,
    /// The series as a text sparkline over the run's time range.
    pub sparkline: String,
}

/// A known cluster that was not seen for `state.resolved_after` (newly so since the last run).
#[derive(Clone, Debug, Serialize)]
pub struct Resolved {
    pub id: String,
    pub service: String,
    pub template: String,
    pub last_seen: String,
    pub total: u64,
    pub priority: String,
}

/// Report-wide trend information.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TrendsReport {
    /// The time-series bucket (`aggregate.bucket`).
    pub bucket: String,
    /// The recent window of the spike test (`trend.recent`).
    pub recent: String,
    /// The state file, when one is used.
    pub state: Option<String>,
    /// Reference time of the previous run recorded in the state (RFC 3339).
    pub previous_run: Option<String>,
    /// Known clusters that look resolved since the last run.
    pub resolved: Vec<Resolved>,
    /// How long a cluster must be gone to look resolved (`state.resolved_after`).
    pub resolved_after: String,
    /// Whether the state file was updated by this run (not for interrupted runs).
    pub state_updated: bool,
}

/// The JSON report's `mergeable` section: the run's aggregates before template mining, keyed
/// by raw fingerprint, and its input counts. `gardener merge` combines several of these into
/// exactly the report one run over all their input gives (see `crates/core/src/topology/merge.rs`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mergeable {
    /// [`MERGE_FORMAT`]; merge refuses any other.
    pub format: u32,
    /// Settings the parts must share to be merged.
    pub settings: MergeSettings,
    /// Event time of the newest entry, Unix nanoseconds.
    pub newest: Option<i64>,
    pub partial: bool,
    pub inputs: Vec<String>,
    pub bytes_read: u64,
    pub entries_read: u64,
    pub entries_processed: u64,
    pub entries_skipped: u64,
    pub utf8_repaired: u64,
    pub without_timestamp: u64,
    #[serde(default)]
    pub future_dated: u64,
    #[serde(default)]
    pub ignored_fields: u64,
    /// The first skipped entries (the report's `bad_entries`).
    pub bad: Vec<BadInfo>,
    pub notes: Vec<String>,
    /// One per raw (not yet generalized) fingerprint, by id; `per_second` is `[[second,
    /// count], ...]` and `latency_us` `[[microseconds, count], ...]`.
    pub clusters: Vec<Cluster>,
}

impl Mergeable {
    /// The raw text of sample `s` of cluster `c`.
    pub fn sample(&self, c: u32, s: u32) -> Option<&Arc<str>> {
        let cluster = self.clusters.get(c as usize)?;
        cluster.samples.get(s as usize).map(|sample| &sample.raw)
    }
}

/// What must be equal for two `mergeable` sections to be merged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergeSettings {
    /// (name, seconds) of each window.
    pub windows: Vec<(String, i64)>,
    /// Samples kept per cluster.
    pub samples: usize,
    /// `--now`, Unix nanoseconds, when it was given.
    pub now: Option<i64>,
    /// Hash of what shapes raw fingerprints (mask pack, `fingerprint.max_message_bytes`).
    pub grouping: String,
    /// `related.traces_per_cluster`.
    pub traces_per_cluster: usize,
}

/// Two clusters that look connected, the likely cause first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Related {
    /// Fingerprint of the cluster that came first (the likely cause).
    pub first: String,
    /// Fingerprint of the cluster that followed.
    pub then: String,
    /// Trace ids found in both clusters' trace sketches.
    pub shared_traces: u64,
    /// False when a sketch was full: `shared_traces` counts the shared traces among the
    /// sampled ones, and `estimated_shared_traces` scales it to all of them.
    pub exact: bool,
    pub estimated_shared_traces: u64,
    /// Shared traces in which `first`'s entry came before `then`'s, and the other way round
    /// (equal times count in neither).
    pub first_led: u64,
    pub then_led: u64,
    /// Both clusters began (first entry) within `related.co_start` of each other, in
    /// different services, after the input began.
    pub started_together: bool,
    /// `then`'s first entry minus `first`'s, in milliseconds (negative when `then` began
    /// earlier although its traces follow).
    pub start_gap_ms: i64,
}

/// The GitHub sink's results: one action per problem considered.
#[derive(Clone, Debug, Serialize)]
pub struct GithubReport {
    /// `OWNER/REPO`.
    pub repo: String,
    /// `live`, `dry-run` or `no-token` (see [`GithubMode`]).
    pub mode: GithubMode,
    pub actions: Vec<GithubAction>,
    /// Why writing stopped before the end (rate limit, caps, an error), when it did.
    pub stopped: Option<String>,
    pub notes: Vec<String>,
}

/// An enum whose variants are fixed words in the JSON report and on screen: serialized as the
/// word, shown as the word, and named by [`name`](GithubMode::name).
macro_rules! worded {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = $w:literal,)+ }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $w)] $v,)+
        }

        impl $name {
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$v => $w,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

worded! {
    /// How the GitHub sink ran.
    pub enum GithubMode {
        /// Writes were sent.
        Live = "live",
        /// `--dry-run`: planned, nothing written.
        DryRun = "dry-run",
        /// No `GITHUB_TOKEN`: planned offline from the state file, nothing sent.
        NoToken = "no-token",
    }
}

worded! {
    /// What the GitHub sink did (or would do) for one problem.
    pub enum IssueAction {
        Create = "create",
        Comment = "comment",
        Escalate = "escalate",
        Reopen = "reopen",
        Unchanged = "unchanged",
        Skip = "skip",
        /// GitHub could not be read, so what to do is not known.
        Unknown = "unknown",
    }
}

worded! {
    /// How far an [`IssueAction`] got.
    pub enum IssueStatus {
        /// Written to GitHub.
        Done = "done",
        /// A dry run (or no token): what would be written.
        Planned = "planned",
        /// Caps or the rate limit: the next run does it.
        Deferred = "deferred",
        Failed = "failed",
        /// Nothing to write (`unchanged`, `skip`).
        None = "none",
    }
}

/// What happened to one problem on GitHub.
#[derive(Clone, Debug, Serialize)]
pub struct GithubAction {
    /// The problem id (the issue marker's `fingerprint`).
    pub fingerprint: String,
    /// The problem's member clusters.
    pub clusters: Vec<String>,
    pub title: String,
    pub priority: Priority,
    /// The issue number, when the cluster has one.
    pub issue: Option<u64>,
    pub url: Option<String>,
    pub action: IssueAction,
    pub status: IssueStatus,
    /// `P2 → P0` when the priority label changed (or would change).
    pub priority_change: Option<String>,
    /// Why, in a few words.
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimeRange {
    pub first: String,
    pub last: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub bytes_read: u64,
    pub entries_read: u64,
    pub entries_processed: u64,
    pub entries_skipped: u64,
    pub utf8_repaired: u64,
    pub without_timestamp: u64,
    /// Entries dated more than `aggregate.future_margin` after the run's clock, counted
    /// without their time.
    pub future_dated: u64,
    /// Fields of an unexpected type ignored (e.g. `protoPayload.status` as a number); the
    /// entries were kept.
    pub ignored_fields: u64,
    pub clusters: u64,
    /// Distinct messages past `aggregate.max_clusters`, counted in their service's overflow
    /// cluster instead of one by one; absent when the cap was not reached.
    #[serde(skip_serializing_if = "is_zero")]
    pub clusters_folded: u64,
    /// Clusters past `sinks.sampled_clusters` whose sample entries the reports leave out
    /// (their counts are all there); absent when the cap was not reached.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub clusters_unsampled: u64,
    pub elapsed_ms: u64,
}

/// A sample entry as the report prints it: compact JSON text, each object's keys sorted, as a
/// `serde_json::Value` prints (see `redact::sample::printed`), written into the JSON report as
/// JSON. Held as text (a parsed tree of every sample was a sixth of a 1M-entry run's memory),
/// and shared: the mergeable section's sample of the same entry is the same text, not a copy.
#[derive(Clone, Debug, PartialEq)]
pub struct PrintedSample(Arc<str>);

impl PrintedSample {
    /// `text` must be JSON text; one that is not (a bug) is written as a string saying so.
    pub fn new(text: Arc<str>) -> PrintedSample {
        PrintedSample(text)
    }

    pub fn get(&self) -> &str {
        &self.0
    }

    /// The shared text.
    pub fn text(&self) -> &Arc<str> {
        &self.0
    }
}

impl From<String> for PrintedSample {
    fn from(text: String) -> PrintedSample {
        PrintedSample(text.into())
    }
}

impl Serialize for PrintedSample {
    /// Checked on the way out, so that a text that is not JSON can never break the report.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&serde_json::value::RawValue>(&self.0) {
            Ok(raw) => raw.serialize(s),
            Err(e) => {
                debug_assert!(false, "printed JSON that is not JSON: {e}");
                format!("(a sample that could not be printed: {e})").serialize(s)
            }
        }
    }
}

/// A sample the report has still to print (see `ClusterReport::to_print`).
#[derive(Clone, Debug, PartialEq)]
pub enum ToPrint {
    /// The entry's raw text.
    Raw(Arc<str>),
    /// The sample at `(cluster, sample)` among the mergeable section's clusters: the same
    /// entry, printed and redacted there first and taken as it is, so that its raw text is
    /// freed as soon as that section replaces it.
    Mergeable(u32, u32),
}

#[derive(Clone, Debug, Serialize)]
pub struct ClusterReport {
    pub id: String,
    /// The id of the problem the cluster belongs to (exactly one).
    pub problem: String,
    pub priority: Priority,
    pub title: String,
    /// The rule that set the priority.
    pub rule: String,
    pub expected: bool,
    pub labels: Vec<String>,
    pub service: String,
    pub template: String,
    pub max_severity: String,
    pub severities: BTreeMap<String, u64>,
    /// Of those, entries whose severity was read from their text (a logger prefix's level, or
    /// an access line's status) because Cloud Logging's was DEFAULT or missing.
    pub severity_from_text: u64,
    pub count: u64,
    /// For a service's overflow cluster: the distinct messages counted in it (see
    /// `aggregate::overflow`); absent for any other cluster.
    #[serde(skip_serializing_if = "is_zero")]
    pub folded: u64,
    pub windows: BTreeMap<String, u64>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub revisions: BTreeMap<String, u64>,
    pub locations: BTreeMap<String, u64>,
    /// Sample entries as the report prints them (see [`PrintedSample`]).
    pub samples: Vec<PrintedSample>,
    /// The samples still to print: set when the report is assembled, turned into `samples`
    /// (printed and redacted in one walk over each text) before it is written.
    #[serde(skip)]
    pub to_print: Vec<ToPrint>,
    pub http: Option<HttpReport>,
    /// Entries per second of event time (Unix seconds) within reach of the largest window: how
    /// the GitHub sink counts entries newer than what it last reported.
    #[serde(skip)]
    pub per_second: BTreeMap<i64, u64>,
    /// Status across runs, spike verdict, history and time series.
    pub trend: ClusterTrend,
}

#[derive(Clone, Debug, Serialize)]
pub struct HttpReport {
    pub statuses: BTreeMap<String, u64>,
    pub latency_ms: Option<LatencyReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LatencyReport {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub count: u64,
}

/// A priority: P0 (drop everything) to P5 (noise). Written `P0`..`P5` in reports and rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u8);

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P{}", self.0)
    }
}

impl Serialize for Priority {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a member cluster belongs to its problem: one piece of evidence linking it to the
/// problem's lead cluster (see `crates/core/src/stages/report/correlate.rs`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Both appear in the same requests (trace ids).
    Traces {
        /// Traces found in both clusters' trace sketches.
        shared: u64,
        /// Of the member's sampled traces, the share that the lead also has (0..1).
        share: f64,
        /// Shared traces where the lead's entry came first, and where the member's did.
        lead_first: u64,
        member_first: u64,
    },
    /// Both fire in the same time bins much more often than chance.
    Burst {
        /// Bins where both had entries; bins where the lead and the member had entries.
        together: u32,
        lead_bins: u32,
        member_bins: u32,
        /// Bins observed, and their length in seconds.
        bins: u32,
        bin_secs: i64,
        /// The chance of `together` or more shared bins were the two independent
        /// (hypergeometric tail).
        p: f64,
    },
    /// The same cause after the variable part of the message, or the same exception type.
    Cause { phrase: String },
    /// The same log statement (code location) or the same route and status class.
    Location { location: String },
}

/// One member cluster of a problem (other than its lead) and why it is there.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Link {
    pub cluster: String,
    pub evidence: Vec<Evidence>,
}

/// A problem: a lead cluster (the likely root) and what it drags along, judged as one.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemReport {
    /// Stable id: derived from the lead cluster's id when the problem is first seen, then kept
    /// by the state store while members come and go.
    pub id: String,
    pub priority: Priority,
    /// The rule that set the priority.
    pub rule: String,
    /// In words: placeholders shown as `…`, cut at a word boundary.
    pub title: String,
    /// The GitHub issue's title (`prioritize.title` or the rule's, with `{summary}` the title).
    pub issue_title: String,
    pub labels: Vec<String>,
    /// Expected behaviour: reported, never filed.
    pub expected: bool,
    /// The lead cluster's id.
    pub lead: String,
    /// Member cluster ids, the lead first, then by entries.
    pub clusters: Vec<String>,
    pub services: Vec<String>,
    pub max_severity: String,
    /// Entries of all members.
    pub count: u64,
    pub windows: BTreeMap<String, u64>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// HTTP statuses of the members' request logs.
    pub http_statuses: BTreeMap<String, u64>,
    /// Requests answered 5xx.
    pub http_5xx: u64,
    /// Estimated distinct traces (requests) the problem touched.
    pub traces: u64,
    /// Revisions its entries came from.
    pub revisions: u64,
    /// The most pressing trend status of its members.
    pub status: Option<Status>,
    /// The largest escalation factor among its members, when one escalates.
    pub escalation: Option<f64>,
    /// Impact score that orders problems of one priority (larger first).
    pub score: f64,
    /// The evidence in one sentence.
    pub summary: String,
    /// Per member (other than the lead): how it is linked to the lead.
    pub evidence: Vec<Link>,
}

/// Version of the JSON report's `mergeable` section; `gardener merge` refuses any other.
pub const MERGE_FORMAT: u32 = 1;

pub use crate::model::latency::{LATENCY_MAX_US, Latency, latency_histogram};

/// `BTreeMap<K, V>` as `[[key, value], ...]`: compact, and keys need not be strings.
pub mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
