//! The redact stage: removes secrets from everything that leaves the machine — GitHub issue
//! titles, bodies and comments always; the markdown worklog and the JSON report (its mergeable
//! section included) unless `redact.reports: false`.
//!
//! Templates are redacted once, before mining (see `report::conclude`), so every title,
//! summary and issue title is cut from redacted text, never redacted after a cut; a cluster's
//! raw fingerprint never depends on redaction. The rest of the report (samples, locations,
//! notes, problems) is redacted here, on the finished [`Report`].
//!
//! Detectors, in the order they run:
//! - the pack's patterns (`rules/redact.yaml`, replaceable in `pipeline.yaml`): provider token
//!   shapes, private-key blocks (also cut ones), passwords in URLs, e-mail local parts in any
//!   encoding;
//! - [`detect::Credentials`]: `Basic` credentials (decoded), random-looking values right after a
//!   credential word, long random-looking blobs;
//! - [`keys::KeyValues`]: the value after a credential key name in `key=value`, `key: value`,
//!   JSON (plain or escaped), headers and query strings;
//! - [`detect::Personal`] (card numbers, phone numbers, public IP addresses) where
//!   `redact.personal` asks for it: by default for GitHub only.

pub mod detect;
pub mod keys;
pub mod needs;
pub mod sample;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use xxhash_rust::xxh3::xxh3_64;

use regex::Regex;
use serde_json::Value;

use crate::config::{ConfigError, RedactPack};
use crate::model::record::{PrintedSample, Report, ToPrint};
use crate::stages::fingerprint::IdMap;
use detect::{Credentials, Personal};
use keys::{KeyValues, KeyWords, already_safe};

/// What a redacted value becomes.
pub const REDACTED: &str = "[REDACTED]";

/// Words near which a random-looking value is taken for a credential (see
/// [`detect::Credentials`]): a text with none of them, no pattern match and no credential key
/// word needs no further look than the blob scan (and the personal-data detectors).
const HINTS: &str = r"(?i)basic|bearer|token|secret|passw|passphrase|credential|key|auth";

/// A compiled redaction pack. Cheap to clone: the compiled parts are shared.
#[derive(Clone)]
pub struct Redactor {
    core: Arc<Core>,
    /// Card numbers, phone numbers, public IPs; `None` when not asked for.
    personal: Option<Arc<Personal>>,
    /// Texts already redacted by this redactor (and its clones).
    memo: Arc<Memo>,
}

/// The memo's shards are emptied one by one when each holds this many bytes: 32 MB in all.
const MEMO_BYTES: usize = (32 << 20) / MEMO_SHARDS;

/// Locks the memo is split over, by the text's hash: the two threads redacting a report
/// (see [`on_two_threads`]) each look up every text, and with one lock they spent much of
/// their time waiting for each other.
const MEMO_SHARDS: usize = 16;

/// What redaction made of texts met before. A report's samples repeat the same field values
/// (a service, a revision, a log name, a user agent) across samples and clusters, and the JSON
/// report's mergeable section holds the report's samples again, so most texts are met more
/// than once; redaction is a pure function of the text, and a hash lookup is far cheaper than
/// asking every pattern.
///
/// A text is known by a 128-bit xxh3 of it, seeded at random per memo (it is never stored or
/// compared across runs): two different texts among a run's millions share one with a chance
/// of about n²/2¹²⁹, and no one can make a text that takes another's place without knowing
/// the seed. So the memo keeps neither the text nor, for the texts redaction leaves as they
/// are (nearly all), any copy at all: it held twice every sample's text before, the largest
/// part of the memory at the end of a run. Bounded: each shard emptied when full.
#[derive(Default)]
struct Memo {
    seed: Seed,
    texts: [Mutex<Remembered>; MEMO_SHARDS],
    /// Whether a JSON field name is secret-looking, by the name's hash (names are few).
    keys: [Mutex<KnownKeys>; MEMO_SHARDS],
}

/// (name, whether secret-looking) by the name's xxh3.
type KnownKeys = IdMap<(Box<str>, bool)>;

/// The memo's seed, drawn from the standard library's per-process randomness.
struct Seed(u64);

impl Default for Seed {
    fn default() -> Self {
        use std::hash::BuildHasher;
        Seed(std::collections::hash_map::RandomState::new().hash_one(0x6761_7264_656e_u64))
    }
}

/// The result by the text's hash (`None`: the text is unchanged), and the bytes held.
type Remembered = (
    std::collections::HashMap<u128, Option<Box<str>>, IdHasher128>,
    usize,
);

/// The hash is already random: its low 64 bits index the map.
type IdHasher128 = std::hash::BuildHasherDefault<crate::model::id::IdHasher>;

/// The shard of a hash (its top bits: the maps index by the low ones).
fn shard(hash: u128) -> usize {
    (hash >> 124) as usize % MEMO_SHARDS
}

impl Memo {
    fn key(&self, s: &str) -> u128 {
        xxhash_rust::xxh3::xxh3_128_with_seed(s.as_bytes(), self.seed.0)
    }

    /// `Some(None)`: `s` was met and is unchanged; `Some(Some(r))`: it became `r`.
    fn get(&self, key: u128) -> Option<Option<String>> {
        let texts = self.texts[shard(key)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        texts.0.get(&key).map(|r| r.as_deref().map(str::to_string))
    }

    /// Whether `name` is secret-looking, asking `judge` once per name.
    fn secret_key(&self, name: &str, judge: impl FnOnce() -> bool) -> bool {
        let hash = xxh3_64(name.as_bytes());
        let mut keys = self.keys[shard(u128::from(hash) << 64)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((known, secret)) = keys.get(&hash)
            && **known == *name
        {
            return *secret;
        }
        let secret = judge();
        if keys.len() < 100_000 / MEMO_SHARDS {
            keys.insert(hash, (name.into(), secret));
        }
        secret
    }

    /// Forgets the texts (a report is done; field names are kept, they are few).
    fn forget(&self) {
        for texts in &self.texts {
            *texts.lock().unwrap_or_else(|e| e.into_inner()) = Remembered::default();
        }
    }

    fn put(&self, key: u128, redacted: Option<&str>) {
        let mut texts = self.texts[shard(key)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (map, bytes) = &mut *texts;
        if *bytes > MEMO_BYTES {
            map.clear();
            *bytes = 0;
        }
        *bytes += 48 + redacted.map_or(0, str::len);
        map.insert(key, redacted.map(Into::into));
    }
}

/// The longest text whose patterns' literals are looked for in one pass (see `redact_cow`):
/// on short texts the gate saves a search call per pattern; on long ones, one search per
/// pattern skipping ahead on its rarest bytes costs less than the gate's step through every
/// byte (the two crossed at a few hundred bytes, measured with callgrind).
const GATED_TEXT: usize = 512;

/// A pack pattern, compiled, with the literals its matches need (see [`needs`]).
#[derive(Clone)]
struct Pattern {
    guarded: needs::Guarded,
    replace: String,
}

#[derive(Clone)]
struct Core {
    /// The pack's patterns, applied in order.
    patterns: Vec<Pattern>,
    keys: KeyValues,
    credentials: Credentials,
    /// The key words and [`HINTS`] in one search: most texts hold none, and one pass tells
    /// so.
    any: Regex,
    /// The patterns' literals in one search (see [`needs::Gate`]); `None` past
    /// [`needs::Gate::MAX`] patterns, each then searched alone.
    gate: Option<needs::Gate>,
}

impl Redactor {
    /// Compiles a pack; errors name the pattern. `personal` adds the personal-data detectors.
    pub fn new(pack: &RedactPack) -> Result<Redactor, ConfigError> {
        Self::with_personal(pack, false)
    }

    pub fn with_personal(pack: &RedactPack, personal: bool) -> Result<Redactor, ConfigError> {
        Ok(Self::compile(pack)?.personal(personal))
    }

    /// The same redactor (and memo) with its own compiled patterns, for another thread: a
    /// regex shared by two threads hands its scratch space to the second through a lock on
    /// every search, and two threads redacting a report with shared patterns took longer than
    /// one (1M mixed entries: 305 against 272 ms).
    fn for_another_thread(&self) -> Redactor {
        Redactor {
            core: Arc::new(Core::clone(&self.core)),
            personal: self.personal.as_ref().map(|p| Arc::new(Personal::clone(p))),
            memo: Arc::clone(&self.memo),
        }
    }

    /// The same redactor with the personal-data detectors on or off.
    pub fn personal(&self, on: bool) -> Redactor {
        Redactor {
            core: Arc::clone(&self.core),
            memo: Arc::default(),
            personal: on.then(|| {
                self.personal
                    .clone()
                    .unwrap_or_else(|| Arc::new(Personal::default()))
            }),
        }
    }

    fn compile(pack: &RedactPack) -> Result<Redactor, ConfigError> {
        let mut patterns = Vec::new();
        for p in &pack.patterns {
            let re = Regex::new(&p.regex).map_err(|e| {
                ConfigError(format!(
                    "redact pattern '{}': bad regular expression: {e}",
                    p.name
                ))
            })?;
            let replace = p
                .replace
                .clone()
                .unwrap_or_else(|| format!("[REDACTED:{}]", p.name));
            let guarded = needs::Guarded::new(re);
            patterns.push(Pattern { guarded, replace });
        }
        let words = KeyWords::new(&pack.secret_keys, &pack.query_keys);
        let last_words: Vec<String> = pack
            .secret_keys
            .iter()
            .chain(&pack.query_keys)
            .filter_map(|k| keys::split_words(k).pop())
            .map(|w| regex::escape(&w))
            .collect();
        let mut hints = vec![HINTS.to_string()];
        if !last_words.is_empty() {
            hints.push(format!("(?i){}", last_words.join("|")));
        }
        let any = Regex::new(&hints.join("|"))
            .map_err(|e| ConfigError(format!("redact secret_keys: {e}")))?;
        let gate = needs::Gate::new(patterns.iter().map(|p| &p.guarded));
        Ok(Redactor {
            core: Arc::new(Core {
                gate,
                patterns,
                keys: KeyValues::new(words),
                credentials: Credentials::default(),
                any,
            }),
            personal: None,
            memo: Arc::default(),
        })
    }

    /// Redacts one text. Idempotent: redacting redacted text changes nothing (`gardener
    /// merge` redacts what runs already redacted).
    pub fn text(&self, s: &str) -> String {
        self.text_cow(s).into_owned()
    }

    /// [`Redactor::text`], borrowing `s` back where it needs no change (nearly always).
    pub fn text_cow<'s>(&self, s: &'s str) -> Cow<'s, str> {
        let key = self.memo.key(s);
        match self.memo.get(key) {
            Some(None) => return Cow::Borrowed(s),
            Some(Some(done)) => return Cow::Owned(done),
            None => {}
        }
        match self.redact_cow(s) {
            Cow::Owned(out) if out != s => {
                self.memo.put(key, Some(&out));
                Cow::Owned(out)
            }
            _ => {
                self.memo.put(key, None);
                Cow::Borrowed(s)
            }
        }
    }

    /// Redacts one text, without the memo.
    fn redact_cow<'s>(&self, s: &'s str) -> Cow<'s, str> {
        let mut out = Cow::Borrowed(s);
        let core = &self.core;
        // Each pattern alone: most have a literal part (`ghp_`, `AIza`, `-----BEGIN`) that
        // the regex engine finds with a vectorized substring search, faster than one automaton
        // for the whole pack; the others are skipped where the literals their matches need
        // are absent (see `needs`).
        // With a gate, the literals of every pattern are looked for in one pass (again after
        // a replacement, which changes the text); a text shorter than every match, not at all.
        // A long text is searched pattern by pattern: each search skips ahead on its rarest
        // bytes, where the gate's one pass steps through every byte.
        let gate = core.gate.as_ref().filter(|_| s.len() <= GATED_TEXT);
        let mut found = match gate {
            Some(g) if out.len() >= g.shortest => g.found(&out),
            _ => 0,
        };
        for (i, p) in core.patterns.iter().enumerate() {
            let hit = match gate {
                Some(_) => p.guarded.is_match_past(&out, found & (1 << i) != 0),
                None => p.guarded.is_match(&out),
            };
            if hit {
                out = Cow::Owned(
                    p.guarded
                        .re
                        .replace_all(&out, p.replace.as_str())
                        .into_owned(),
                );
                if let Some(g) = gate {
                    found = g.found(&out);
                }
            }
        }
        if core.any.is_match(&out) {
            if let Some(t) = core.credentials.near_words(&out) {
                out = Cow::Owned(t);
            }
            // Until nothing changes: a value redacted wherever it shows can turn what follows
            // an earlier key from prose into a value (redaction must be idempotent).
            for _ in 0..3 {
                match core.keys.redact(&out) {
                    Some(t) => out = Cow::Owned(t),
                    None => break,
                }
            }
        }
        if let Some(t) = core.credentials.blobs(&out) {
            out = Cow::Owned(t);
        }
        if let Some(p) = &self.personal {
            for _ in 0..3 {
                match p.redact(&out) {
                    Some(t) => out = Cow::Owned(t),
                    None => break,
                }
            }
        }
        out
    }

    /// Redacts a JSON value in place: every string, and the whole value of every field whose
    /// name is secret-looking (unless it is an object or array, which are walked instead).
    pub fn json(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Cow::Owned(t) = self.text_cow(s) {
                    *s = t;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.json(i)),
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    let secret = self.secret_key(k);
                    match val {
                        // `{"Authorization": ["Bearer …"]}` (Go's http.Header): every value
                        // in a list under a secret name.
                        Value::Array(items) if secret => {
                            for x in items.iter_mut() {
                                match x {
                                    Value::Object(_) | Value::Array(_) => self.json(x),
                                    Value::String(t) if already_safe(t) => {}
                                    Value::Null | Value::Bool(_) => {}
                                    _ => *x = Value::String(REDACTED.into()),
                                }
                            }
                        }
                        Value::Object(_) | Value::Array(_) => self.json(val),
                        Value::String(s) if secret && !already_safe(s) => {
                            *val = Value::String(REDACTED.into())
                        }
                        Value::Number(_) if secret => *val = Value::String(REDACTED.into()),
                        _ => self.json(val),
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether a JSON field's value is secret by its name.
    fn secret_key(&self, name: &str) -> bool {
        self.memo
            .secret_key(name, || self.core.keys.words.is_secret(name, false))
    }

    /// Redacts a JSON text (a sample entry), printed as a `serde_json::Value` prints: one
    /// pass over the text where it can (see [`sample`]), else through a `Value`; a text that
    /// is not JSON is redacted as text.
    pub fn json_text(&self, raw: &str) -> String {
        match sample::rewrite(raw, Some(self)) {
            Some(done) => done,
            None => self.json_text_unwalked(raw),
        }
    }

    /// [`Redactor::json_text`] for a text the one-pass walk gave up on: through a `Value`,
    /// or as text when it is not JSON.
    fn json_text_unwalked(&self, raw: &str) -> String {
        match serde_json::from_str::<Value>(raw) {
            Ok(mut v) => {
                self.json(&mut v);
                v.to_string()
            }
            Err(_) => self.text(raw),
        }
    }

    /// A report's sample printed from its entry's raw text and redacted, in one walk over the
    /// text; where the walk gives up, printed first (see [`sample::printed`]) and the printing
    /// redacted, as a sample printed earlier is. Either way the same text.
    fn report_sample(&self, raw: &str) -> PrintedSample {
        match sample::rewrite(raw, Some(self)) {
            Some(done) => PrintedSample::from(done),
            None => {
                let mut printed = sample::printed(raw);
                self.printed_sample(&mut printed);
                printed
            }
        }
    }

    /// Redacts a report's sample (see [`sample::printed`]) in place; one unchanged is left
    /// as it is.
    fn printed_sample(&self, s: &mut PrintedSample) {
        let text = self.json_text(s.get());
        if text != s.get() {
            *s = PrintedSample::from(text);
        }
    }

    /// Redacts the keys of a map of counts; keys that become equal add up.
    fn count_keys(&self, m: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (k, n) in m {
            *out.entry(self.text(k)).or_insert(0) += n;
        }
        out
    }

    /// Redacts every free text of a report: titles, templates, locations, samples, notes and
    /// bad-entry reasons. Ids, counts and times are left alone. The mergeable section (when
    /// present) goes first, its clusters and then the report's split over two threads; the
    /// texts remembered on the way are forgotten at the end, so that a long `watch` holds none.
    pub fn report(&self, r: &mut Report) {
        // The mergeable section first: the report's samples are among its samples (see
        // `ToPrint::Mergeable`), and the report's clusters then take those already redacted
        // (and find their other texts in the memo).
        let kept = match &mut r.mergeable {
            Some(m) => self.raw_clusters(&mut m.clusters),
            None => Kept::default(),
        };
        let mergeable = r.mergeable.as_ref();
        on_two_threads(self, &mut r.clusters, |r, _, c| {
            // Templates were redacted before mining (`templates`); a second pass would
            // change nothing.
            c.title = r.text(&c.title);
            c.locations = r.count_keys(&c.locations);
            // Samples printed by an earlier pass (a second redactor's, for GitHub), then
            // those still to print.
            c.samples.iter_mut().for_each(|s| r.printed_sample(s));
            for p in std::mem::take(&mut c.to_print) {
                let printed = match p {
                    ToPrint::Raw(raw) => Some(r.report_sample(&raw)),
                    ToPrint::Mergeable(at, n) => match kept.0.get(&(at, n)) {
                        Some(raw) => Some(r.report_sample(raw)),
                        None => mergeable
                            .and_then(|m| m.sample(at, n))
                            .map(|done| PrintedSample::new(Arc::clone(done))),
                    },
                };
                debug_assert!(printed.is_some(), "a sample pointed at is in the section");
                c.samples.extend(printed);
            }
        });
        for p in &mut r.problems {
            self.problem(p);
        }
        // Templates remembered in the state by older versions, which did not redact them.
        for c in &mut r.trends.resolved {
            c.template = self.text(&c.template);
        }
        r.notes = r.notes.iter().map(|n| self.text(n)).collect();
        for b in &mut r.bad_entries {
            b.reason = self.text(&b.reason);
        }
        if let Some(m) = &mut r.mergeable {
            m.notes = r.notes.clone();
            m.bad = r.bad_entries.clone();
        }
        self.memo.forget();
    }

    /// A worker's partial (see `report::partial`), as [`Redactor::report`] leaves the
    /// mergeable section of a JSON report: samples, locations, notes and bad-entry reasons.
    pub fn mergeable(&self, m: &mut crate::model::record::Mergeable) {
        self.raw_clusters(&mut m.clusters);
        m.notes = m.notes.iter().map(|n| self.text(n)).collect();
        for b in &mut m.bad {
            b.reason = self.text(&b.reason);
        }
        self.memo.forget();
    }

    /// A problem's texts: its titles, the evidence sentence and the cause phrases and
    /// locations of its links (all made from templates).
    fn problem(&self, p: &mut crate::model::record::ProblemReport) {
        p.title = self.text(&p.title);
        p.issue_title = self.text(&p.issue_title);
        p.summary = self.text(&p.summary);
        for e in p.evidence.iter_mut().flat_map(|l| l.evidence.iter_mut()) {
            match e {
                crate::model::record::Evidence::Cause { phrase } => *phrase = self.text(phrase),
                crate::model::record::Evidence::Location { location } => {
                    *location = self.text(location)
                }
                _ => {}
            }
        }
    }

    /// Redacts templates in place, before mining (see `report::conclude`): titles are then
    /// cut from redacted text, and the JSON report's mergeable section, which `gardener merge`
    /// mines again, holds what a run mined.
    pub fn templates(&self, clusters: &mut [crate::model::record::Cluster]) {
        for c in clusters {
            let t = self.text(&c.template);
            if t != c.template {
                c.template = t;
            }
        }
    }

    /// The mergeable section's clusters (before mining): the same texts as in the report's
    /// clusters (templates were redacted before mining), so merging redacted parts gives the
    /// redacted report. Returns the raw texts of the samples the one-pass walk gave up on.
    fn raw_clusters(&self, clusters: &mut [crate::model::record::Cluster]) -> Kept {
        // The texts replaced are freed together, 16 MB at a time, rather than each as it is
        // replaced: they were allocated by the aggregate's threads, and glibc frees a chunk
        // into the arena of the thread that allocated it, under that arena's lock, so two
        // threads freeing them as they went waited on each other (1M mixed entries:
        // redacting 348 -> 207 ms).
        let replaced = Mutex::new(Replaced::default());
        let kept = Mutex::new(Kept::default());
        on_two_threads(self, clusters, |r, i, c| {
            let locations = std::mem::take(&mut c.locations);
            c.locations = r.count_keys(&locations);
            let mut texts = Vec::with_capacity(c.samples.len());
            for (j, s) in c.samples.iter_mut().enumerate() {
                let redacted = match sample::rewrite(&s.raw, Some(r)) {
                    Some(done) => done,
                    None => {
                        let at = (i as u32, j as u32);
                        let raw = Arc::clone(&s.raw);
                        kept.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                            .insert(at, raw);
                        r.json_text_unwalked(&s.raw)
                    }
                };
                texts.push(std::mem::replace(&mut s.raw, redacted.into()));
            }
            let full = {
                let mut held = replaced.lock().unwrap_or_else(|e| e.into_inner());
                held.bytes += texts.iter().map(|t| t.len()).sum::<usize>();
                held.items.push((locations, texts));
                (held.bytes > REPLACED_BYTES).then(|| std::mem::take(&mut *held))
            };
            if let Some(full) = full {
                // Freed into the arenas of the aggregate's threads, which this thread's
                // redacted texts cannot use: given back, or the process grows by every text
                // redacted.
                drop(full);
                crate::model::memory::release_freed();
            }
        });
        kept.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

/// The raw texts of the mergeable section's samples the one-pass walk gave up on, by
/// (cluster, sample): that section's text for them is not the one the report prints (a text
/// that is not JSON is kept as text there), so the report prints its own from the raw text.
#[derive(Default)]
struct Kept(std::collections::HashMap<(u32, u32), Arc<str>>);

/// Texts and location counts redaction replaced, held to be freed together (see
/// [`Redactor::raw_clusters`]).
#[derive(Default)]
struct Replaced {
    /// Per cluster: its location counts and its sample texts.
    items: Vec<(Locations, Vec<Arc<str>>)>,
    bytes: usize,
}

type Locations = BTreeMap<String, u64>;

/// Replaced texts held before they are freed together.
const REPLACED_BYTES: usize = 16 << 20;

/// Runs `f` on every item (with its index), the first half on a second thread: redacting a
/// report's clusters is most of the serial end of a run with many clusters.
fn on_two_threads<T: Send>(
    r: &Redactor,
    items: &mut [T],
    f: impl Fn(&Redactor, usize, &mut T) + Sync,
) {
    let half = items.len() / 2;
    let (first, second) = items.split_at_mut(half);
    let other = r.for_another_thread();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            (first.iter_mut().enumerate()).for_each(|(i, x)| f(&other, i, x));
        });
        (second.iter_mut().enumerate()).for_each(|(i, x)| f(r, half + i, x));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn redactor() -> Redactor {
        Redactor::new(&Config::default().redact_pack().unwrap()).unwrap()
    }

    /// Each planted secret disappears, and the text around it survives.
    #[test]
    fn built_in_patterns_remove_common_secrets() {
        let r = redactor();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let cases = [
            (format!("token {jwt} rejected"), jwt.to_string()),
            (
                "Authorization: Bearer abcdef0123456789abcdef".into(),
                "abcdef0123456789abcdef".into(),
            ),
            (
                "auth header Basic dXNlcjpwYXNzd29yZDEyMw== bad".into(),
                "dXNlcjpwYXNzd29yZDEyMw==".into(),
            ),
            (
                "using ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 for CI".into(),
                "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789".into(),
            ),
            (
                "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz".into(),
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz".into(),
            ),
            (
                "maps key AIzaSyA-1234567890abcdefghijklmnopqrstu failed".into(),
                "AIzaSyA-1234567890abcdefghijklmnopqrstu".into(),
            ),
            (
                "aws AKIAIOSFODNN7EXAMPLE denied".into(),
                "AKIAIOSFODNN7EXAMPLE".into(),
            ),
            (
                "slack xoxb-123456789012-abcdefghijkl post".into(),
                "xoxb-123456789012-abcdefghijkl".into(),
            ),
            (
                "charge with sk_live_51Habcdefghijklmnop failed".into(),
                "sk_live_51Habcdefghijklmnop".into(),
            ),
            (
                "connect postgres://app:s3cr3t-pw@db.internal:5432/main".into(),
                "s3cr3t-pw".into(),
            ),
            (
                "login failed password=hunter2 user=bob".into(),
                "hunter2".into(),
            ),
            (
                "config api_key: abc123xyz loaded".into(),
                "abc123xyz".into(),
            ),
            (
                r#"body {"client_secret": "zzTopSecret"}"#.into(),
                "zzTopSecret".into(),
            ),
            (
                "GET /cb?code=1&access_token=tok987&x=1".into(),
                "tok987".into(),
            ),
            ("user jane.doe@example.com locked".into(), "jane.doe".into()),
        ];
        for (input, secret) in cases {
            let out = r.text(&input);
            assert!(!out.contains(&secret), "{input:?} -> {out:?}");
            assert!(out.len() > 5, "{out}");
            // Idempotent: `gardener merge` redacts text that runs already redacted.
            assert_eq!(r.text(&out), out, "{input:?}");
        }
        for t in [
            "JWTHandler.load_token: [REDACTED] token <*> retry",
            "JWTHandler.load_token: [<*>] token <*> retry",
        ] {
            assert_eq!(r.text(t), t);
        }
        assert_eq!(
            r.text("user jane.doe@example.com locked"),
            "user ***@example.com locked"
        );
        assert_eq!(
            r.text("connect postgres://app:pw@db/main"),
            "connect postgres://app:[REDACTED]@db/main"
        );
        assert_eq!(r.text("password=hunter2;"), "password=[REDACTED];");
    }

    #[test]
    fn remembered_texts_come_back_the_same_and_stay_with_their_redactor() {
        let r = redactor();
        let text = "card 4111 1111 1111 1111 from 8.8.8.8 token=abcdef0123456789abcdef";
        let first = r.text(text);
        assert!(first.contains(REDACTED), "{first}");
        assert_eq!(r.text(text), first);
        assert_eq!(r.clone().text(text), first);
        // The personal-data detectors make another redactor, with a memo of its own.
        let personal = r.personal(true).text(text);
        assert_ne!(personal, first);
        assert!(!personal.contains("8.8.8.8"), "{personal}");
        assert_eq!(r.text(text), first);
        // Clusters redacted on two threads: every one, each once.
        let mut items: Vec<String> = (0..101).map(|i| format!("token={i:032x}")).collect();
        on_two_threads(&r, &mut items, |r, _, t| *t = r.text(t));
        assert!(items.iter().all(|t| t.contains(REDACTED)), "{items:?}");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let r = redactor();
        for s in [
            "Failed to refresh user record <*>... in UserRepository: circuit breaker open",
            "max_tokens=4096 exceeded",
            "basic authentication is enabled",
            "[<*>] GOLDEN PATH AUTH=REDACTED permissive authentication",
            "JWT=REDACTED",
            "password=<*>",
            "GET /api/threads/<*>/messages HTTP/1.1",
            "***@gmail.com",
        ] {
            assert_eq!(r.text(s), s);
        }
    }

    #[test]
    fn json_fields_with_secret_names_are_redacted() {
        let r = redactor();
        let mut v = json!({
            "jsonPayload": {
                "message": "user bob@corp.io sent Bearer abcdefghijklmnopqrstuvwxyz",
                "password": "hunter2",
                "X-Api-Key": 12345,
                "max_tokens": 7,
                "headers": [{"Authorization": "Basic Ym9iOnNlY3JldA=="}],
                "token": {"kind": "opaque"},
            },
            "insertId": "abc",
        });
        r.json(&mut v);
        assert_eq!(v["jsonPayload"]["password"], REDACTED);
        assert_eq!(v["jsonPayload"]["X-Api-Key"], REDACTED);
        assert_eq!(v["jsonPayload"]["max_tokens"], 7);
        assert_eq!(v["jsonPayload"]["headers"][0]["Authorization"], REDACTED);
        assert_eq!(v["jsonPayload"]["token"]["kind"], "opaque");
        assert_eq!(v["insertId"], "abc");
        assert_eq!(
            v["jsonPayload"]["message"],
            "user ***@corp.io sent Bearer [REDACTED]"
        );
    }

    /// The cases of `tests/data/secrets.tsv` and `secrets-holdout.tsv` (written without
    /// sight of the detectors): family, secret (`-` for ordinary text), text.
    pub(crate) fn corpus() -> Vec<(String, String, String)> {
        let mut all = cases(include_str!("../../../../../tests/data/secrets.tsv"));
        all.extend(cases(include_str!(
            "../../../../../tests/data/secrets-holdout.tsv"
        )));
        all
    }

    fn cases(tsv: &str) -> Vec<(String, String, String)> {
        tsv.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut f = l.splitn(3, '\t');
                let (a, b, c) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
                (a.into(), b.replace("\\n", "\n"), c.replace("\\n", "\n"))
            })
            .collect()
    }

    /// A report's sample printed and redacted in one walk is the sample printed first and the
    /// printing redacted (as before, and as a second redactor's pass does), for every text of
    /// the secrets corpus set in sample entries of several shapes, and for texts the walk
    /// leaves to `serde_json::Value` (not JSON, nested too deeply).
    #[test]
    fn report_samples_in_one_walk_are_the_printed_samples_redacted() {
        let pack = Config::default().redact_pack().unwrap();
        let mut texts = vec![
            "not json at all: password=hunter2".to_string(),
            format!(r#"{{"a": {}1{}}}"#, "[".repeat(120), "]".repeat(120)),
            r#"{"z": 1.50, "a": -0, "b": 1e400, "a": "last", "k\u0065y": "\u00e9\/"}"#.to_string(),
        ];
        for (_, _, text) in corpus() {
            let message = serde_json::Value::String(text.clone());
            texts.push(format!(
                r#"{{"textPayload": {message}, "severity": "ERROR", "labels": {{"password": {message}, "token": 12345, "list": [{message}, "ok", 7]}}}}"#
            ));
            texts.push(format!(r#"{{"jsonPayload": {{"message": {message}, "api_key": [{message}, {{"x": {message}}}]}}}}"#));
        }
        for personal in [false, true] {
            let r = Redactor::with_personal(&pack, personal).unwrap();
            for raw in &texts {
                let mut before = sample::printed(raw);
                r.printed_sample(&mut before);
                assert_eq!(r.report_sample(raw).get(), before.get(), "{raw}");
            }
        }
    }

    /// A report whose samples stand in its mergeable section: each walked sample is that
    /// section's redacted text itself (not a copy), a sample the walk gave up on is printed
    /// from its raw text as any other, the section's texts are what `json_text` gives, and no
    /// raw text outlives the redaction.
    #[test]
    fn report_samples_are_taken_from_the_mergeable_section_and_raw_texts_freed() {
        use crate::model::record::{ClusterReport, MergeSettings, Mergeable, Sample};
        let pack = Config::default().redact_pack().unwrap();
        let texts = [
            r#"{"textPayload": "login failed password=hunter2", "severity": "ERROR"}"#.to_string(),
            format!(r#"{{"a": {}1{}}}"#, "[".repeat(120), "]".repeat(120)),
            "not json at all: password=hunter2".to_string(),
        ];
        let raws: Vec<Arc<str>> = texts.iter().map(|t| Arc::from(t.as_str())).collect();
        let freed: Vec<std::sync::Weak<str>> = raws.iter().map(Arc::downgrade).collect();
        let samples = raws
            .iter()
            .map(|raw| Sample {
                raw: Arc::clone(raw),
                ..Default::default()
            })
            .collect();
        let mergeable = Mergeable {
            format: 1,
            settings: MergeSettings {
                windows: vec![],
                samples: 3,
                now: None,
                grouping: String::new(),
                traces_per_cluster: 0,
            },
            newest: None,
            partial: false,
            inputs: vec![],
            bytes_read: 0,
            entries_read: 0,
            entries_processed: 0,
            entries_skipped: 0,
            utf8_repaired: 0,
            without_timestamp: 0,
            future_dated: 0,
            ignored_fields: 0,
            bad: vec![],
            notes: vec![],
            clusters: vec![crate::model::record::Cluster {
                samples,
                ..Default::default()
            }],
        };
        let mut to_print: Vec<ToPrint> = (0..3).map(|s| ToPrint::Mergeable(0, s)).collect();
        to_print.push(ToPrint::Raw(Arc::clone(&raws[0])));
        drop(raws);
        let cluster = ClusterReport {
            to_print,
            ..ClusterReport::example(3)
        };
        let mut report = Report {
            clusters: vec![cluster],
            mergeable: Some(mergeable),
            ..Report::empty()
        };
        Redactor::new(&pack).unwrap().report(&mut report);

        let fresh = Redactor::new(&pack).unwrap();
        let printed: Vec<&str> = report.clusters[0].samples.iter().map(|s| s.get()).collect();
        let expected: Vec<PrintedSample> = [0, 1, 2, 0]
            .iter()
            .map(|&i| fresh.report_sample(&texts[i]))
            .collect();
        assert_eq!(
            printed,
            expected.iter().map(|s| s.get()).collect::<Vec<_>>()
        );
        assert!(!printed[0].contains("hunter2") && !printed[2].contains("hunter2"));
        let section = &report.mergeable.as_ref().unwrap().clusters[0].samples;
        for (s, text) in section.iter().zip(&texts) {
            assert_eq!(*s.raw, fresh.json_text(text), "{text}");
        }
        assert!(Arc::ptr_eq(
            report.clusters[0].samples[0].text(),
            &section[0].raw
        ));
        // The walk gave up on the other two: the report printed its own, as a JSON text.
        assert_ne!(*section[2].raw, *printed[2]);
        assert!(
            freed.iter().all(|w| w.strong_count() == 0),
            "a raw text is held"
        );
    }

    /// The planted-secrets corpus: no secret survives the GitHub redactor (personal data
    /// included), no secret but personal data survives the reports' redactor, and ordinary
    /// sentences come out unchanged from both.
    #[test]
    fn the_corpus_leaks_nothing_and_keeps_ordinary_text() {
        let pack = Config::default().redact_pack().unwrap();
        let github = Redactor::with_personal(&pack, true).unwrap();
        let reports = Redactor::new(&pack).unwrap();
        let personal = ["phone", "card", "ip"];
        let mut wrong = Vec::new();
        for (family, secret, text) in corpus() {
            for (r, name) in [(&github, "github"), (&reports, "reports")] {
                let out = r.text(&text);
                if family == "ordinary" {
                    if out != text {
                        wrong.push(format!("{name} changed ordinary text:\n  {text}\n  {out}"));
                    }
                } else if out.contains(&secret)
                    && !(name == "reports" && personal.contains(&family.as_str()))
                {
                    wrong.push(format!("{name} leaked {family} {secret:?}:\n  {out}"));
                }
                assert_eq!(r.text(&out), out, "not idempotent: {text}");
            }
        }
        assert!(
            wrong.is_empty(),
            "{} wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    /// Cases a review found: each secret goes, each ordinary line stays, a second pass
    /// changes nothing.
    #[test]
    fn review_cases() {
        let r = Redactor::with_personal(&Config::default().redact_pack().unwrap(), true).unwrap();
        for (text, secret) in [
            ("DB_PASSWORD_PROD=Zq8vLm2x", "Zq8vLm2x"),
            ("JWT_SECRET_OLD=kq8vLmzzzz", "kq8vLmzzzz"),
            ("password2=hunter2x", "hunter2x"),
            ("token_value: abc123xyz9", "abc123xyz9"),
            ("password=Tr0ub4dor&3xyz", "3xyz"),
            ("password=P@ss'w0rd!", "w0rd!"),
            (
                "POST https://discord.com/api/webhooks/1234567/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
                "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            ),
            ("secret: rotated letmein; password=letmein", "letmein"),
        ] {
            let out = r.text(text);
            assert!(!out.contains(secret), "{text} -> {out}");
            assert_eq!(r.text(&out), out, "idempotent: {text}");
        }
        let mut v = json!({"Authorization": ["Bearer abc123def456"], "password": ["hunter2x"]});
        r.json(&mut v);
        assert_eq!(
            v,
            json!({"Authorization": [REDACTED], "password": [REDACTED]})
        );
        for same in [
            "base::debug::StackTrace failed at h1::decode",
            "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
            "missing Bearer authentication header",
            "invalid token for trace 4bf92f3577b34da6a3ce929d0e0e4736",
            "http://auth:8080/login timed out",
            "auth: 3 attempts left",
        ] {
            assert_eq!(r.text(same), same);
        }
    }

    #[test]
    fn extra_patterns_and_bad_patterns() {
        let yaml = "redact:\n  extra:\n    - name: order\n      regex: 'ORD-[0-9]+'\n";
        let cfg = Config::from_yaml(yaml, "t").unwrap();
        let r = Redactor::new(&cfg.redact_pack().unwrap()).unwrap();
        assert_eq!(r.text("order ORD-123 paid"), "order [REDACTED:order] paid");
        let bad = "redact:\n  extra:\n    - name: broken\n      regex: '('\n";
        let err = Config::from_yaml(bad, "t").unwrap_err().0;
        assert!(err.contains("broken"), "{err}");
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test: where redaction's time goes, per detector, over the string values of the
    /// samples in a JSON report's mergeable section (`REDACT_TIMING=report.json`).
    #[test]
    #[ignore]
    fn per_detector() {
        let Some(path) = std::env::var_os("REDACT_TIMING") else {
            return;
        };
        let report: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut texts = Vec::new();
        fn strings(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
                Value::Object(m) => m.values().for_each(|x| strings(x, out)),
                _ => {}
            }
        }
        for c in report["mergeable"]["clusters"].as_array().unwrap() {
            for s in c["samples"].as_array().unwrap() {
                let raw: Value = serde_json::from_str(s["raw"].as_str().unwrap()).unwrap();
                strings(&raw, &mut texts);
            }
        }
        let bytes: usize = texts.iter().map(|t| t.len()).sum();
        eprintln!("{} strings, {} bytes", texts.len(), bytes);
        let r = Redactor::new(&crate::config::Config::default().redact_pack().unwrap()).unwrap();
        let time = |name: &str, f: &dyn Fn(&str) -> bool| {
            let t = std::time::Instant::now();
            let hits = texts.iter().filter(|s| f(s)).count();
            eprintln!(
                "{:>8.1} ms {hits:>8} {name}",
                t.elapsed().as_secs_f64() * 1e3
            );
        };
        for p in &r.core.patterns {
            let re = p.guarded.re.as_str();
            time(&re[..re.len().min(60)], &|s| p.guarded.is_match(s));
        }
        time("any", &|s| r.core.any.is_match(s));
        // As `redact` runs it: only where the key words are.
        time("near_words (after any)", &|s| {
            r.core.any.is_match(s) && r.core.credentials.near_words(s).is_some()
        });
        time("blobs", &|s| r.core.credentials.blobs(s).is_some());
        time("keys", &|s| r.core.keys.redact(s).is_some());
        time("redact (all)", &|s| r.redact_cow(s) != s);
        let raws: Vec<String> = report["mergeable"]["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["samples"].as_array().unwrap().iter())
            .map(|s| s["raw"].as_str().unwrap().to_string())
            .collect();
        let timed = |what: &str, f: &dyn Fn() -> usize| {
            let t = std::time::Instant::now();
            let n = f();
            eprintln!("{:>8.1} ms {n:>8} {what}", t.elapsed().as_secs_f64() * 1e3);
        };
        for round in ["json_text, memo cold", "json_text, memo warm"] {
            timed(round, &|| {
                raws.iter().map(|raw| r.json_text(raw).len()).sum()
            });
        }
        let r2 = Redactor::new(&crate::config::Config::default().redact_pack().unwrap()).unwrap();
        timed("json_text on two threads, memo cold", &|| {
            let mut two = raws.clone();
            on_two_threads(&r2, &mut two, |r, _, raw| *raw = r.json_text(raw));
            two.len()
        });
        timed("rewrite without redaction", &|| {
            raws.iter()
                .map(|raw| sample::rewrite(raw, None).unwrap().len())
                .sum()
        });
        timed("Value parse and print", &|| {
            raws.iter()
                .map(|raw| {
                    serde_json::from_str::<Value>(raw)
                        .unwrap()
                        .to_string()
                        .len()
                })
                .sum()
        });
    }
}
