//! Synthetic `gcloud logging read --format=json` output for Cloud Run services.
//!
//! Log Gardener needs realistic input at any size: benchmarks want millions of
//! entries, tests want small reproducible samples, and the bundled example wants
//! something that reads like a real on-call morning. Real logs cannot be shipped,
//! so this module reproduces them from the hand-written on-call worklogs of the
//! `netra-staging` project (services `netra-backend-staging` and
//! `netra-auth-service`):
//!
//! * structured `jsonPayload` entries (`message`, `context`, `labels`,
//!   `timestamp`) with the same messages as the worklogs, whose variable parts
//!   (user and connection ids, e-mails, durations, percentages, timestamps,
//!   request ids, paths) change from entry to entry;
//! * `textPayload` Python tracebacks (the loguru `KeyError: '"timestamp"'` and
//!   a few other exceptions) and startup banners;
//! * Cloud Run request logs with `httpRequest` and no message;
//! * a few `jsonPayload` entries without a `message` field and a few audit
//!   entries with `protoPayload.status.message`.
//!
//! About 70 templates (49 log statements, 21 request routes) are written by
//! hand from the worklogs; about 500 more are made by combining components,
//! actions and outcomes (and API routes, methods and statuses), and weights
//! fall off with rank, so frequencies have a long Zipf-like tail.
//!
//! Production does not log problem by problem: one cause makes several
//! templates fire. The output has three shapes, so that grouping clusters into
//! problems (a root message plus what it drags along) has something real to find:
//!
//! 1. **An outage.** Each component depends on a backing service (`postgres`,
//!    `redis`, `clickhouse`, `llm-gateway`). Once per output, `postgres` is down
//!    for 25 minutes in the newer half of the span: 2.5% of the entries, squeezed
//!    into that window among the background by [`Timeline`] like the bursts, come
//!    from the circuit-open call sites (`circuit breaker open for postgres,
//!    rejecting for …s`, in their three sentence shapes) of all the components
//!    depending on it, in both services. About half of these entries come in
//!    pairs sharing a trace: the circuit-open log, then a 503 request log of that
//!    service's API ([`OUTAGE_REQUESTS`]). Nothing logs circuit-open, nor those
//!    503s, at any other time. A `--spike` replaces the outage and the bursts.
//! 2. **Root causes with consequences in shared traces.** Some templates are
//!    always logged together in one request, oldest first, and share a `trace`
//!    ([`CHAINS`]): a `legacy_response` frame rejected by the legacy message loop
//!    crashes the main loop (crash, context dump, close after close); the auth
//!    service's undefined-name session check fails its health check with 503; an
//!    invalid service token gets a 401 and the websocket is rejected with 503; ...
//! 3. **Steady background.** Everything else: single templates drawn by weight
//!    all through the span, and two templates that burst for a few minutes, as
//!    incidents do.
//!
//! Output is newest first, byte-identical for the same [`GenOptions`] on every
//! machine (own PRNG, integer arithmetic, no clocks, no hash maps), and
//! streamed: memory does not grow with the number of entries. When asked, the
//! generator also writes the ground truth (`<insertId>\t<template key>` per
//! entry) so clustering quality can be measured, and the ground truth for
//! problems (the chains and the outage with the template keys they emitted; see
//! [`generate`]).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value, json};

/// Output layout of [`generate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenFormat {
    /// gcloud's `--format=json`: one pretty-printed JSON array.
    Array,
    /// One compact JSON object per line.
    Ndjson,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    pub entries: u64,
    pub seed: u64,
    pub format: GenFormat,
    /// Unix seconds of the newest entry.
    pub end_unix: i64,
    /// Seconds between the oldest and the newest entry.
    pub span_secs: i64,
    /// A template key (as in the ground truth) that bursts near the end of the span instead of
    /// the two built-in bursts and the outage: 3% of the entries, in a 40-minute window that
    /// ends 10 minutes before the newest entry (an escalation to detect). `None`: the built-in
    /// bursts and the outage.
    pub spike: Option<String>,
    /// Where to write the ground truth for problems: the planted chains and the outage with the
    /// template keys they emitted (see [`generate`]).
    pub problems_truth: Option<PathBuf>,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            entries: 1000,
            seed: 1,
            format: GenFormat::Array,
            end_unix: 1_757_822_400, // 2025-09-14T04:00:00Z
            span_secs: 2 * 86_400,
            spike: None,
            problems_truth: None,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenSummary {
    pub entries: u64,
    /// Bytes written to `out`.
    pub bytes: u64,
    /// Distinct templates that produced at least one entry.
    pub templates_used: u64,
}

/// Writes the entries to `out`; when `truth` is given, writes one line per entry to it:
/// `<insertId>\t<template key>` where the template key names the template the entry was made from
/// (same key = same underlying problem/log statement; a request log's key is method+route+status).
///
/// When [`GenOptions::problems_truth`] names a file, writes to it the problems planted in this
/// output, as JSON: `{"planted": [{"name", "kind", "templates"}, ...]}`, one per chain that was
/// emitted (`"kind": "chain"`, its template keys oldest first; the first is the root) and one for
/// the outage (`"kind": "outage"`, the keys of the circuit-open call sites that logged, sorted,
/// then those of the 503 requests that followed them). Only keys emitted as part of that chain
/// or the outage are listed.
pub fn generate(
    opts: &GenOptions,
    out: &mut dyn Write,
    truth: Option<&mut dyn Write>,
) -> io::Result<GenSummary> {
    let catalog = Catalog::build();
    let spike = match &opts.spike {
        None => None,
        Some(key) => Some(
            catalog
                .templates
                .iter()
                .position(|t| t.key == *key)
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "--spike {key}: no such template key (see `gardener gen --truth` for the keys)"
                        ),
                    )
                })?,
        ),
    };
    // Created first, so that a bad path fails before the work.
    let mut problems_file = match &opts.problems_truth {
        None => None,
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        })?)),
    };
    let mut rng = Rng(mix64(opts.seed ^ 0x6c6f_675f_6761_7264));
    let span_ns = opts.span_secs.max(0).saturating_mul(NANOS);
    let end_ns = opts.end_unix.saturating_mul(NANOS);
    let env = Env {
        start_ns: end_ns.saturating_sub(span_ns),
        span_ns,
        instances: instance_ids(&mut rng),
        id_salt: rng.next(),
    };
    let mut timeline = Timeline::new(opts.entries, span_ns, &catalog, spike, &mut rng);

    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut truth = truth.map(|t| BufWriter::with_capacity(1 << 16, t));
    let mut used = vec![false; catalog.templates.len()];
    let mut summary = GenSummary::default();
    let mut scratch = Vec::with_capacity(4096);
    let mut steps: Vec<usize> = Vec::with_capacity(8);
    let mut times: Vec<i64> = Vec::with_capacity(8);
    let mut planted = PlantedSeen::new(&catalog);

    let n = opts.entries;
    let mut pos = 0u64;
    let mut prev_ts = end_ns;
    while pos < n {
        // 1. Pick what happens: a burst entry, a single log statement or a chain.
        //    An outage entry is a circuit-open log, perhaps followed by its request's 503.
        steps.clear();
        let mut vars = Vars::new(&mut rng);
        let mut source = None;
        match timeline.claim(pos, &mut rng) {
            Some(Claim::Burst(t)) => steps.push(t),
            Some(Claim::Outage { chained }) => {
                let t = rng.pick(&catalog.outage);
                steps.push(t);
                if chained {
                    steps.push(catalog.outage_requests[catalog.templates[t].svc as usize]);
                }
                source = Some(Origin::Outage);
            }
            None => match catalog.pick(&mut rng) {
                Scenario::Single(t) => steps.push(t),
                Scenario::Chain(c) => {
                    let chain = &catalog.chains[c];
                    steps.extend_from_slice(&chain.steps);
                    if let Some(path) = chain.ws_path {
                        vars.ws_path = path;
                    }
                    if let Some(msg_type) = chain.msg_type {
                        vars.msg_type = msg_type;
                    }
                    source = Some(Origin::Chain(c));
                }
            },
        }
        // Steps are chronological; a window that ends mid-chain keeps the newest ones.
        let k = (steps.len() as u64).min(n - pos) as usize;
        let first_kept = steps.len() - k;
        planted.saw(source, &steps, first_kept);

        // 2. Give them times: the newest gets this slot, older ones follow within
        //    milliseconds but never below the next slot, so the order holds.
        let frac = rng.next() as u32;
        let newest = env.start_ns + timeline.offset_at(pos, frac);
        let floor = env.start_ns + timeline.offset_at(pos + k as u64, 0);
        times.clear();
        let mut t = newest;
        for i in 0..k {
            if i > 0 {
                let gap = rng.range(30, 40_000) as i64 * 1000 + rng.below(1000) as i64;
                t = (t - gap).max(floor);
            }
            times.push(t);
        }

        // 3. Emit newest first.
        let traced_chain = k > 1;
        for (i, &step) in steps[first_kept..].iter().rev().enumerate() {
            let template = &catalog.templates[step];
            // Never later than the entry above, then truncated to the precision
            // this kind of entry is logged with (truncation only moves it back).
            let mut ts = times[i].min(prev_ts);
            if template.kind.micros() {
                ts = ts.div_euclid(1000) * 1000;
            }
            prev_ts = ts;
            let insert_id = insert_id(env.id_salt, pos + i as u64, &mut rng);
            let value = build_entry(&mut rng, &env, template, ts, &vars, traced_chain, insert_id);
            write_entry(
                &mut out,
                &mut scratch,
                opts.format,
                &value,
                summary.entries == 0,
            )?;
            summary.bytes += scratch.len() as u64;
            summary.entries += 1;
            if let Some(truth) = truth.as_mut() {
                let id = value["insertId"].as_str().unwrap_or_default();
                writeln!(
                    truth,
                    "{id}\t{}",
                    template.truth_as.unwrap_or(&template.key)
                )?;
            }
            if !used[step] {
                used[step] = true;
                summary.templates_used += 1;
            }
        }
        pos += k as u64;
    }

    let tail: &[u8] = match (opts.format, summary.entries) {
        (GenFormat::Array, 0) => b"[]\n",
        (GenFormat::Array, _) => b"\n]\n",
        (GenFormat::Ndjson, _) => b"",
    };
    out.write_all(tail)?;
    summary.bytes += tail.len() as u64;
    out.flush()?;
    if let Some(truth) = truth.as_mut() {
        truth.flush()?;
    }
    if let Some(file) = problems_file.as_mut() {
        let report = ProblemsTruth {
            planted: planted.problems(&catalog),
        };
        serde_json::to_writer_pretty(&mut *file, &report)?;
        file.write_all(b"\n")?;
        file.flush()?;
    }
    Ok(summary)
}

/// The problems ground truth file.
#[derive(Serialize)]
struct ProblemsTruth {
    planted: Vec<PlantedProblem>,
}

/// One planted problem: a chain, or the outage.
#[derive(Debug, Serialize)]
struct PlantedProblem {
    name: String,
    kind: &'static str,
    templates: Vec<String>,
}

/// Where a scenario came from, when it is a planted problem.
#[derive(Clone, Copy)]
enum Origin {
    Chain(usize),
    Outage,
}

/// Which templates each chain and the outage emitted.
struct PlantedSeen {
    /// Per chain, per step.
    chains: Vec<Vec<bool>>,
    /// Per template.
    outage: Vec<bool>,
}

impl PlantedSeen {
    fn new(catalog: &Catalog) -> PlantedSeen {
        PlantedSeen {
            chains: catalog
                .chains
                .iter()
                .map(|c| vec![false; c.steps.len()])
                .collect(),
            outage: vec![false; catalog.templates.len()],
        }
    }

    /// Records a scenario whose steps from `first_kept` on were emitted. A chain cut down to one
    /// entry (at the end of the output) is no chain.
    fn saw(&mut self, origin: Option<Origin>, steps: &[usize], first_kept: usize) {
        match origin {
            Some(Origin::Chain(c)) if steps.len() - first_kept > 1 => {
                for seen in &mut self.chains[c][first_kept..] {
                    *seen = true;
                }
            }
            Some(Origin::Outage) => {
                for &t in &steps[first_kept..] {
                    self.outage[t] = true;
                }
            }
            _ => {}
        }
    }

    fn problems(&self, catalog: &Catalog) -> Vec<PlantedProblem> {
        let mut out = Vec::new();
        for (c, seen) in self.chains.iter().enumerate() {
            let templates: Vec<String> = catalog.chains[c]
                .steps
                .iter()
                .zip(seen)
                .filter(|&(_, &seen)| seen)
                .map(|(&t, _)| catalog.templates[t].key.clone())
                .collect();
            if !templates.is_empty() {
                out.push(PlantedProblem {
                    name: CHAINS[c].name.to_string(),
                    kind: "chain",
                    templates,
                });
            }
        }
        // Call sites first, then the requests; each sorted.
        let mut templates: Vec<(bool, &str)> = (0..catalog.templates.len())
            .filter(|&t| self.outage[t])
            .map(|t| {
                let t = &catalog.templates[t];
                (matches!(t.kind, Kind::Request(_)), t.key.as_str())
            })
            .collect();
        templates.sort_unstable();
        if !templates.is_empty() {
            out.push(PlantedProblem {
                name: format!("{OUTAGE_DEP}-outage"),
                kind: "outage",
                templates: templates.into_iter().map(|(_, k)| k.to_string()).collect(),
            });
        }
        out
    }
}

/// Serialises one entry into `scratch` in the requested layout and writes it.
fn write_entry(
    out: &mut impl Write,
    scratch: &mut Vec<u8>,
    format: GenFormat,
    value: &Value,
    first: bool,
) -> io::Result<()> {
    scratch.clear();
    match format {
        GenFormat::Array => {
            scratch.extend_from_slice(if first { b"[\n" } else { b",\n" });
            // Pretty-printing a one-element array indents the object by exactly
            // the 2 extra spaces gcloud uses; drop that array's own "[\n" and "\n]".
            let start = scratch.len();
            serde_json::to_writer_pretty(&mut *scratch, std::slice::from_ref(value))?;
            scratch.truncate(scratch.len() - 2);
            scratch.drain(start..start + 2);
        }
        GenFormat::Ndjson => {
            serde_json::to_writer(&mut *scratch, value)?;
            scratch.push(b'\n');
        }
    }
    out.write_all(scratch)
}

// ---------------------------------------------------------------------------
// Randomness: splitmix64, identical on every platform.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Skewed towards `lo`: the smaller of two draws, as latencies are.
    fn skewed(&mut self, lo: u64, hi: u64) -> u64 {
        self.range(lo, hi).min(self.range(lo, hi))
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// splitmix64's finaliser: a bijection on `u64` that looks random.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------
// Time: civil dates without a date crate.

use gardener_core::model::time::NANOS;

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01; the inverse, `days_from_civil`.
#[cfg(test)]
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    min: i64,
    sec: i64,
    nanos: i64,
}

fn civil(ns: i64) -> Civil {
    let secs = ns.div_euclid(NANOS);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        min: sod / 60 % 60,
        sec: sod % 60,
        nanos: ns.rem_euclid(NANOS),
    }
}

/// RFC 3339 in UTC with 6 or 9 fraction digits, ending in `Z` or `+00:00`.
fn push_rfc3339(out: &mut String, ns: i64, digits: usize, zulu: bool) {
    let c = civil(ns);
    let frac = if digits == 6 { c.nanos / 1000 } else { c.nanos };
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:0digits$}{}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.min,
        c.sec,
        frac,
        if zulu { "Z" } else { "+00:00" }
    );
}

fn rfc3339(ns: i64, digits: usize, zulu: bool) -> String {
    let mut s = String::with_capacity(32);
    push_rfc3339(&mut s, ns, digits, zulu);
    s
}

/// Protobuf JSON duration, e.g. `0.002803s`.
fn duration(micros: u64) -> String {
    format!("{}.{:06}s", micros / 1_000_000, micros % 1_000_000)
}

/// Maps entry positions (0 = newest) to times, with dense windows: the bursts and the outage.
///
/// The map is piecewise linear through a few knots `(position, offset from the
/// oldest time)`: ordinary entries spread evenly over the span, and each window
/// squeezes its extra entries into a few minutes.
struct Timeline {
    knots: Vec<(u64, i64)>,
    windows: Vec<Window>,
    /// Outage entries not placed yet.
    outage_left: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Planted {
    /// One template fires densely.
    Burst(usize),
    /// [`OUTAGE_DEP`] is down: the circuit-open call sites of the components depending on it
    /// log, some followed by their service's failed request.
    Outage,
}

struct Window {
    what: Planted,
    /// Positions `first..end` lie inside the window.
    first: u64,
    end: u64,
    /// How many of those are the burst template, or outage entries.
    count: u64,
}

/// What a window makes of the entry at some position.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    Burst(usize),
    /// An outage entry; when `chained`, a circuit-open log and then its 503 request log in one
    /// trace (two positions).
    Outage {
        chained: bool,
    },
}

/// Random lower edges of windows of lengths `lens` that fit in `lo..=hi` without overlapping,
/// in a random order, every arrangement equally likely.
fn place(rng: &mut Rng, lo: i64, hi: i64, lens: &[i64]) -> Vec<i64> {
    let slack = (hi - lo - lens.iter().sum::<i64>()).max(0);
    let mut cuts: Vec<i64> = lens
        .iter()
        .map(|_| rng.below(slack as u64 + 1) as i64)
        .collect();
    cuts.sort_unstable();
    let mut order: Vec<usize> = (0..lens.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut lows = vec![0; lens.len()];
    let mut before = 0;
    for (&cut, &j) in cuts.iter().zip(&order) {
        lows[j] = lo + cut + before;
        before += lens[j];
    }
    lows
}

impl Timeline {
    fn new(n: u64, span: i64, catalog: &Catalog, spike: Option<usize>, rng: &mut Rng) -> Timeline {
        // (what, window seconds, entries per mille, in the newer half of the span). The outage
        // and the first burst land apart in the newer half, the second burst in the older
        // half. A spike replaces them all with one burst near the end.
        let specs = match spike {
            None => vec![
                (Planted::Outage, OUTAGE_SECS, OUTAGE_PER_MILLE, true),
                (Planted::Burst(catalog.bursts[0]), 11 * 60, 15, true),
                (Planted::Burst(catalog.bursts[1]), 2 * 60, 10, false),
            ],
            Some(t) => vec![(Planted::Burst(t), 40 * 60, 30, true)],
        };
        let lens: Vec<i64> = specs
            .iter()
            .map(|&(_, secs, _, _)| (secs * NANOS).min(span / 4))
            .collect();
        let mut lows = vec![0; specs.len()];
        match spike {
            None => {
                for (newer, half_lo, half_hi) in [(true, span / 2, span), (false, 0, span / 2)] {
                    let members: Vec<usize> =
                        (0..specs.len()).filter(|&i| specs[i].3 == newer).collect();
                    let member_lens: Vec<i64> = members.iter().map(|&i| lens[i]).collect();
                    for (&i, low) in members
                        .iter()
                        .zip(place(rng, half_lo, half_hi, &member_lens))
                    {
                        lows[i] = low;
                    }
                }
            }
            Some(_) => lows[0] = span - (10 * 60 * NANOS).min(span / 8) - lens[0],
        }
        let counts: Vec<u64> = specs
            .iter()
            .map(|&(_, _, per_mille, _)| n * per_mille / 1000)
            .collect();
        let background = n - counts.iter().sum::<u64>();
        // Background entries newer than `t`.
        let newer_than = |t: i64| -> u64 {
            if span == 0 {
                0
            } else {
                (i128::from(background) * i128::from(span - t) / i128::from(span)) as u64
            }
        };
        // Newest window first, so the knots run down in time.
        let mut order: Vec<usize> = (0..specs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(lows[i] + lens[i]));
        let mut knots = vec![(0, span)];
        let mut windows = Vec::new();
        let mut outage_left = 0;
        let mut extra = 0;
        for i in order {
            let count = counts[i];
            if count == 0 {
                continue;
            }
            let (lo, hi) = (lows[i], lows[i] + lens[i]);
            let first = newer_than(hi) + extra;
            extra += count;
            let end = newer_than(lo) + extra;
            knots.push((first, hi));
            knots.push((end, lo));
            let what = specs[i].0;
            if what == Planted::Outage {
                outage_left = count;
            }
            windows.push(Window {
                what,
                first,
                end,
                count,
            });
        }
        knots.push((n, 0));
        Timeline {
            knots,
            windows,
            outage_left,
        }
    }

    /// Offset from the oldest time of position `pos + frac / 2^32`.
    fn offset_at(&self, pos: u64, frac: u32) -> i64 {
        for w in self.knots.windows(2) {
            let ((p0, t0), (p1, t1)) = (w[0], w[1]);
            if pos >= p0 && pos < p1 {
                let num = (i128::from(pos - p0) << 32) | i128::from(frac);
                let den = i128::from(p1 - p0) << 32;
                return t0 - (i128::from(t0 - t1) * num / den) as i64;
            }
        }
        0
    }

    /// Whether a window claims the entry at `pos` (the first of a scenario).
    fn claim(&mut self, pos: u64, rng: &mut Rng) -> Option<Claim> {
        let w = self
            .windows
            .iter()
            .find(|w| pos >= w.first && pos < w.end)?;
        match w.what {
            Planted::Burst(t) => (rng.below(w.end - w.first) < w.count).then_some(Claim::Burst(t)),
            Planted::Outage => {
                // What is left, spread over the rest of the window: the count comes out (all
                // but) exact, and a chain never reaches past the window.
                let room = w.end - pos;
                if rng.below(room) >= self.outage_left {
                    return None;
                }
                // One scenario in three is a chain: about half of the entries.
                let chained = self.outage_left >= 2 && room >= 2 && rng.below(3) == 0;
                self.outage_left -= 1 + u64::from(chained);
                Some(Claim::Outage { chained })
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Services, revisions, instances.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Svc {
    Backend = 0,
    Auth = 1,
}

struct ServiceInfo {
    name: &'static str,
    host: &'static str,
    /// Oldest first.
    revisions: [&'static str; 3],
    /// Per mille of the span at which the 2nd and the 3rd revision took over.
    rollouts: [i64; 2],
}

const PROJECT: &str = "netra-staging";

const SERVICES: [ServiceInfo; 2] = [
    ServiceInfo {
        name: "netra-backend-staging",
        host: "api.staging.netrasystems.ai",
        revisions: [
            "netra-backend-staging-00596-wpt",
            "netra-backend-staging-00597-lfd",
            "netra-backend-staging-00598-qss",
        ],
        rollouts: [250, 600],
    },
    ServiceInfo {
        name: "netra-auth-service",
        host: "auth.staging.netrasystems.ai",
        revisions: [
            "netra-auth-service-00182-9fq",
            "netra-auth-service-00183-2xs",
            "netra-auth-service-00184-vhc",
        ],
        rollouts: [400, 780],
    },
];

const INSTANCES_PER_REVISION: usize = 3;

/// Long hex instance ids like Cloud Run's, per service × revision × instance.
fn instance_ids(rng: &mut Rng) -> Vec<String> {
    let count = SERVICES.len() * 3 * INSTANCES_PER_REVISION;
    (0..count)
        .map(|_| {
            let mut id = String::from("00");
            while id.len() < 158 {
                let _ = write!(id, "{:016x}", rng.next());
            }
            id.truncate(158);
            id
        })
        .collect()
}

/// Everything about the run that entries need besides their template.
struct Env {
    start_ns: i64,
    span_ns: i64,
    instances: Vec<String>,
    id_salt: u64,
}

impl Env {
    /// Index of the revision serving `svc` at `ts`: later revisions took over
    /// part-way through the span.
    fn revision(&self, svc: Svc, ts: i64) -> usize {
        if self.span_ns == 0 {
            return 2;
        }
        let per_mille = i128::from(ts - self.start_ns) * 1000 / i128::from(self.span_ns);
        let rollouts = SERVICES[svc as usize].rollouts;
        rollouts
            .iter()
            .filter(|&&r| per_mille >= i128::from(r))
            .count()
    }
}

/// 16–20 lowercase alphanumerics; the first 13 encode a bijection of the
/// position, so ids never repeat within a run.
fn insert_id(salt: u64, pos: u64, rng: &mut Rng) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(20);
    let mut v = mix64(pos.wrapping_add(salt));
    for _ in 0..13 {
        id.push(ALPHABET[(v % 36) as usize] as char);
        v /= 36;
    }
    for _ in 0..rng.range(3, 7) {
        id.push(ALPHABET[rng.below(36) as usize] as char);
    }
    id
}

// ---------------------------------------------------------------------------
// Templates.

/// One log statement (or one route+method+status for request logs).
struct Template {
    key: String,
    svc: Svc,
    severity: &'static str,
    /// Relative frequency as a standalone entry; 0 = only inside chains, bursts or the outage.
    weight: u64,
    kind: Kind,
    /// For a circuit-open call site: the dependency whose breaker it reports open.
    circuit: Option<&'static str>,
    /// The ground-truth key when the entry is the same event as another template's (an access
    /// line is the request it logs).
    truth_as: Option<&'static str>,
}

/// Where a structured log statement lives in the code.
struct Site {
    module: String,
    function: String,
    line: u32,
    /// Line in the oldest revision, when the code moved since.
    old_line: u32,
    exc_info: bool,
}

fn site(module: &str, function: &str, line: u32) -> Site {
    Site {
        module: module.to_string(),
        function: function.to_string(),
        line,
        old_line: line,
        exc_info: false,
    }
}

impl Site {
    fn moved_from(mut self, old_line: u32) -> Site {
        self.old_line = old_line;
        self
    }

    fn with_exc_info(mut self) -> Site {
        self.exc_info = true;
        self
    }
}

enum Kind {
    /// The backend's JSON logger: `{context, labels, message, timestamp}`.
    Structured { site: Site, text: String },
    /// Records routed through stdlib `logging` (labels callHandlers/1706/logging).
    Logging { text: String },
    /// The auth service's JSON shape: `{error?, logger, message, name, service, textPayload, timestamp}`.
    AuthJson { logger: String, text: String },
    /// Plain stderr text: tracebacks, banners, uvicorn lines.
    Text { text: String },
    /// `jsonPayload` without a `message`.
    Fields(Fields),
    /// Cloud Audit Logs system event with `protoPayload.status.message`.
    Audit {
        method: &'static str,
        code: u32,
        text: String,
    },
    /// Cloud Run request log.
    Request(Req),
}

impl Kind {
    /// Entries whose timestamp comes from the app's own microsecond clock.
    fn micros(&self) -> bool {
        matches!(
            self,
            Kind::Structured { .. }
                | Kind::Logging { .. }
                | Kind::AuthJson { .. }
                | Kind::Fields(_)
        )
    }

    /// Whether the entry can carry the request's trace.
    fn traceable(&self) -> bool {
        !matches!(
            self,
            Kind::Text { .. } | Kind::Fields(_) | Kind::Audit { .. }
        )
    }
}

#[derive(Clone, Copy)]
enum Fields {
    WsMetrics,
    HealthSnapshot,
    LoginAudit,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ua {
    Browser,
    TestVerification,
    Httpx,
    Uptime,
    Scanner,
    Zgrab,
}

struct Req {
    method: &'static str,
    /// Path, possibly with `${...}` placeholders.
    path: String,
    /// Query string without `?`, possibly with placeholders; may be empty.
    query: &'static str,
    status: u16,
    ua: Ua,
    latency_us: (u64, u64),
    response_bytes: (u64, u64),
}

fn tpl(key: &str, svc: Svc, severity: &'static str, weight: u64, kind: Kind) -> Template {
    Template {
        key: key.to_string(),
        svc,
        severity,
        weight,
        kind,
        circuit: None,
        truth_as: None,
    }
}

fn structured(site: Site, text: &str) -> Kind {
    Kind::Structured {
        site,
        text: text.to_string(),
    }
}

fn logging(text: &str) -> Kind {
    Kind::Logging {
        text: text.to_string(),
    }
}

fn auth_json(logger: &str, text: &str) -> Kind {
    Kind::AuthJson {
        logger: logger.to_string(),
        text: text.to_string(),
    }
}

fn text(text: &str) -> Kind {
    Kind::Text {
        text: text.to_string(),
    }
}

/// Request log severity as Cloud Run assigns it.
fn request_severity(status: u16) -> &'static str {
    match status {
        500.. => "ERROR",
        400..=499 => "WARNING",
        _ => "INFO",
    }
}

/// A request template; its key is `METHOD /route/{param} STATUS`.
fn request(svc: Svc, method: &'static str, path: &str, status: u16, weight: u64) -> Template {
    let (latency_us, response_bytes) = match status {
        101 => ((5_000_000, 900_000_000), (0, 0)),
        200..=299 => ((15_000, 900_000), (300, 40_000)),
        300..=399 => ((3_000, 40_000), (0, 600)),
        400..=499 => ((1_500, 40_000), (40, 400)),
        504 => ((30_000_000, 60_000_000), (100, 300)),
        _ => ((2_000, 3_000_000), (40, 300)),
    };
    let route = path.replace("${", "{");
    Template {
        key: format!("{method} {route} {status}"),
        svc,
        severity: request_severity(status),
        weight,
        kind: Kind::Request(Req {
            method,
            path: path.to_string(),
            query: "",
            status,
            ua: Ua::Browser,
            latency_us,
            response_bytes,
        }),
        circuit: None,
        truth_as: None,
    }
}

impl Template {
    fn req_mut(&mut self) -> &mut Req {
        match &mut self.kind {
            Kind::Request(r) => r,
            _ => unreachable!("not a request template"),
        }
    }

    fn ua(mut self, ua: Ua) -> Template {
        self.req_mut().ua = ua;
        self
    }

    fn query(mut self, query: &'static str) -> Template {
        self.req_mut().query = query;
        self
    }

    fn latency(mut self, lo_us: u64, hi_us: u64) -> Template {
        self.req_mut().latency_us = (lo_us, hi_us);
        self
    }
}

const WS_SSOT: &str = "netra_backend.app.routes.websocket_ssot";
const READINESS_MW: &str = "netra_backend.app.middleware.gcp_websocket_readiness_middleware";
const SSOT_ENHANCER: &str = "netra_backend.app.websocket_core.ssot_validation_enhancer";
const UNIFIED_MANAGER: &str = "netra_backend.app.websocket_core.unified_manager";
const WS_UTILS: &str = "netra_backend.app.websocket_core.utils";
const EXEC_ENGINE: &str = "netra_backend.app.agents.supervisor.execution_engine";
const AUTH_ROUTES: &str = "auth_service.auth_core.routes.auth_routes";

const VALID_TYPES: &str = "['CONNECT', 'DISCONNECT', 'HEARTBEAT', 'HEARTBEAT_ACK', 'PING', 'PONG', 'USER_MESSAGE', 'CHAT', 'SYSTEM_MESSAGE', 'ERROR_MESSAGE', 'USER_TYPING', 'AGENT_TYPING', 'TYPING_STARTED', 'TYPING_STOPPED', 'START_AGENT', 'AGENT_START', 'AGENT_COMPLETE', 'TOOL_EXECUTE', 'TOOL_COMPLETE', 'AGENT_REQUEST', 'AGENT_TASK', 'AGENT_TASK_ACK', 'AGENT_RESPONSE', 'AGENT_RESPONSE_CHUNK', 'AGENT_RESPONSE_COMPLETE', 'AGENT_STATUS_REQUEST', 'AGENT_STATUS_UPDATE', 'AGENT_PROGRESS', 'AGENT_THINKING', 'AGENT_ERROR', 'THREAD_UPDATE', 'THREAD_MESSAGE', 'BROADCAST', 'BROADCAST_TEST', 'DIRECT_MESSAGE', 'ROOM_MESSAGE', 'JSONRPC_REQUEST', 'JSONRPC_RESPONSE', 'JSONRPC_NOTIFICATION', 'RESILIENCE_TEST', 'RECOVERY_TEST']";

const LOOP_CONTEXT: &str = r#" SEARCH:  LOOP ERROR CONTEXT: {
  "connection_id": "${conn}",
  "user_id": "${user_trunc}",
  "error_type": "RuntimeError",
  "error_message": "WebSocket is not connected. Need to call \"accept\" first.",
  "messages_processed": ${n},
  "agent_events_processed": ${small},
  "websocket_state": "${ws_state}",
  "timestamp": "${iso}",
  "golden_path_impact": "CRITICAL - Message loop crashed"
}"#;

const LOGURU_KEYERROR: &str = r#"--- Logging error in Loguru Handler #${handler} ---
Record was: ${loguru_record}
Traceback (most recent call last):
  File "/home/netra/.local/lib/python3.11/site-packages/loguru/_handler.py", line 161, in emit
    formatted = precomputed_format.format_map(formatter_record)
KeyError: '"timestamp"'
--- End of logging error ---"#;

const STARTUP_FAILURES: &str = "? CRITICAL STARTUP VALIDATION FAILURES DETECTED:
  ? Service Dependencies (Service Dependencies): Service dependency validation FAILED
   - Golden path validation failed: Chat functionality completely broken without agent execution
   - Golden path validation failed: JWT=REDACTED failure prevents users from accessing chat functionality";

const IMPORT_ERROR: &str = r#"Traceback (most recent call last):
  File "/app/netra_backend/app/routes/websocket_ssot.py", line 1188, in _create_websocket_manager
    from netra_backend.app.websocket_core.websocket_manager_factory import create_defensive_user_execution_context
ImportError: cannot import name 'create_defensive_user_execution_context' from 'netra_backend.app.websocket_core.websocket_manager_factory' (/app/netra_backend/app/websocket_core/websocket_manager_factory.py)"#;

const FACTORY_CONFIGURE: &str = r#"Traceback (most recent call last):
  File "/app/netra_backend/app/smd.py", line 412, in _phase5_services_setup
    await self._initialize_execution_engine_factory()
  File "/app/netra_backend/app/smd.py", line 1088, in _initialize_execution_engine_factory
    factory.configure(websocket_bridge=bridge, max_concurrent=${n})
AttributeError: 'UnifiedExecutionEngineFactory' object has no attribute 'configure'"#;

const REDIS_ERROR: &str = r#"Traceback (most recent call last):
  File "/app/netra_backend/app/redis_manager.py", line 187, in get
    return await self._client.get(key)
  File "/usr/local/lib/python3.11/site-packages/redis/asyncio/client.py", line 612, in execute_command
    conn = self.connection or await pool.get_connection(command_name, **options)
  File "/usr/local/lib/python3.11/site-packages/redis/asyncio/connection.py", line 287, in connect
    raise ConnectionError(self._error_message(e))
redis.exceptions.ConnectionError: ${redis_error}"#;

const QUEUEPOOL_TIMEOUT: &str = r#"Traceback (most recent call last):
  File "/app/netra_backend/app/db/postgres_session.py", line 96, in get_async_db
    async with async_session_factory() as session:
  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/ext/asyncio/session.py", line 1047, in __aenter__
    await greenlet_spawn(self.sync_session.connection)
  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/pool/impl.py", line 166, in _do_get
    raise exc.TimeoutError(
sqlalchemy.exc.TimeoutError: QueuePool limit of size ${pool} overflow ${overflow} reached, connection timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)"#;

/// The ~50 templates transcribed from the on-call worklogs.
fn hand_written() -> Vec<Template> {
    use Svc::{Auth as A, Backend as B};
    let legacy = format!(
        "[LEGACY MODE] Message loop error: Invalid message type '${{msgtype}}': Unknown message type: '${{msgtype}}'. Valid types: {VALID_TYPES}"
    );
    vec![
        // Backend, structured JSON logger.
        // Most of its entries come through the legacy-message-loop-crash chain.
        tpl("ws-legacy-message-type", B, "ERROR", 10, structured(site(WS_SSOT, "_legacy_message_loop", 1619), &legacy)),
        tpl("ws-reject-issue-449", B, "WARNING", 110, structured(
            site(READINESS_MW, "_reject_websocket_connection_cloud_run_compatible", 461),
            "[?] Rejecting WebSocket connection (Issue #449 protection) - State: ${ready_state}, Failed services: ${failed_services}, Error: ${ready_error}, Path: ${ws_path}",
        )),
        tpl("ssot-multiple-manager-instances", B, "WARNING", 150, structured(
            site(SSOT_ENHANCER, "validate_manager_creation", 137).moved_from(118),
            "SSOT validation issues (non-blocking): ['Multiple manager instances for user ${user} - potential duplication']",
        )),
        tpl("ws-manager-direct-instantiation", B, "ERROR", 25, structured(
            site(WS_SSOT, "_create_websocket_manager", 1207),
            "WebSocket manager creation failed: Direct instantiation not allowed. Use get_websocket_manager() factory function. Caller: get_websocket_manager",
        )),
        tpl("ssot-violation-direct-instantiation", B, "ERROR", 20, structured(
            site(UNIFIED_MANAGER, "__init__", 335),
            "SSOT VIOLATION: Direct instantiation not allowed. Use get_websocket_manager() factory function. Caller: ${caller}",
        )),
        tpl("ws-emergency-manager", B, "WARNING", 15, structured(
            site(WS_SSOT, "_create_emergency_websocket_manager", 1212),
            "Creating emergency WebSocket manager",
        )),
        tpl("golden-path-loop-crash", B, "CRITICAL", 10, structured(
            site(WS_SSOT, "_main_message_loop", 1498),
            " ALERT:  GOLDEN PATH LOOP ERROR: Message loop crashed for user ${user_trunc} connection ${conn}",
        )),
        tpl("golden-path-loop-error-context", B, "CRITICAL", 0, structured(site(WS_SSOT, "_main_message_loop", 1499), LOOP_CONTEXT)),
        // This and golden-path-auth-permissive stand alone (their weights took over the 30
        // they used to get from the golden-path chain).
        tpl("main-mode-loop-error", B, "ERROR", 45, structured(
            site(WS_SSOT, "_main_message_loop", 1500).with_exc_info(),
            "[MAIN MODE] Message loop error: WebSocket is not connected. Need to call \"accept\" first.",
        )),
        tpl("ws-close-after-close", B, "WARNING", 30, structured(
            site(WS_UTILS, "safe_websocket_close", 596),
            "Runtime error closing WebSocket: Cannot call \"send\" once a close message has been sent.",
        )),
        tpl("golden-path-auth-permissive", B, "CRITICAL", 50, structured(
            site(WS_SSOT, "_handle_main_mode", 741).moved_from(737),
            "[U+1F511] GOLDEN PATH AUTH=REDACTED permissive authentication with circuit breaker for connection ${conn} - user_id: pending, connection_state: connected, timestamp: ${iso}",
        )),
        tpl("agent-bridge-import-error", B, "ERROR", 20, structured(
            site(WS_SSOT, "_setup_agent_handlers", 1342),
            "Agent handler setup failed: No module named 'netra_backend.app.agents.agent_websocket_bridge'",
        )),
        tpl("ws-manager-not-awaitable", B, "ERROR", 20, structured(
            site(WS_SSOT, "_create_websocket_manager", 1198),
            "WebSocket manager creation failed: object UnifiedWebSocketManager can't be used in 'await' expression",
        )),
        tpl("create-server-message-missing-data", B, "ERROR", 15, structured(
            site(WS_SSOT, "_handle_connection", 1023),
            "Connection error: create_server_message() missing 1 required positional argument: 'data'",
        )),
        tpl("create-error-message-missing-arg", B, "ERROR", 12, structured(
            site(WS_SSOT, "_cleanup_connection", 1736),
            "Error during cleanup: create_error_message() missing 1 required positional argument: 'error_message'",
        )),
        tpl("request-id-invalid-format", B, "WARNING", 70, structured(
            site("netra_backend.app.services.user_execution_context", "__post_init__", 189),
            "request_id '${reqid}' has invalid format. Expected UUID or UnifiedIDManager structured format.",
        )),
        tpl("redis-graceful-degradation", B, "WARNING", 18, structured(
            site("netra_backend.app.websocket_core.gcp_initialization_validator", "_validate_redis_readiness", 268),
            "Redis readiness: GRACEFUL DEGRADATION - Exception 'bool' object is not callable in staging, allowing basic functionality for user chat value",
        )),
        tpl("ws-connection-established", B, "INFO", 160, structured(
            site(WS_SSOT, "_handle_main_mode", 702),
            "WebSocket connection established: ${conn} (user: ${user_trunc}, mode: main, path: ${ws_path})",
        )),
        tpl("ws-heartbeat-ack", B, "DEBUG", 140, structured(
            site("netra_backend.app.websocket_core.heartbeat_manager", "_on_heartbeat_ack", 233),
            "Heartbeat ACK from ${conn} after ${ms}",
        )),
        tpl("agent-execution-completed", B, "INFO", 60, structured(
            site(EXEC_ENGINE, "execute_agent", 311),
            "Agent ${agent} completed for thread ${thread} in ${secs}s (tool calls: ${small}, tokens: ${tokens})",
        )),
        tpl("agent-execution-timeout", B, "ERROR", 25, structured(
            site(EXEC_ENGINE, "_execute_with_timeout", 356),
            "Agent ${agent} timed out after ${timeout_s}s for user ${user_trunc} (run_id=run_${hex12})",
        )),
        tpl("ws-event-undeliverable", B, "ERROR", 30, structured(
            site(UNIFIED_MANAGER, "send_to_user", 611),
            "Failed to deliver ${ws_event} to user ${user_trunc}: no active connections (queued: ${n})",
        )),
        // Backend, stdlib logging records.
        tpl("session-access-failed", B, "WARNING", 420, logging(
            "Session access failed (middleware not installed?): SessionMiddleware must be installed to access request.session",
        )),
        tpl("auth-extract-session-middleware", B, "WARNING", 200, logging(
            "Failed to extract auth=REDACTED SessionMiddleware must be installed to access request.session",
        )),
        tpl("db-user-auto-create", B, "WARNING", 25, logging(
            "[U+1F511] DATABASE USER AUTO-CREATE: User ${uid_trunc} not found in database (response_time: ${ms}, service_status: database_healthy_but_user_missing, action: auto-creating from JWT=REDACTED",
        )),
        tpl("user-auto-created", B, "WARNING", 25, logging(
            "[?] USER AUTO-CREATED: Created user ${email} from JWT=REDACTED (env: staging, user_id: ${uid_trunc}, demo_mode: False, domain: ${domain}, domain_type: ${domain_type})",
        )),
        tpl("high-buffer-utilization", B, "WARNING", 8, logging(
            " WARNING: [U+FE0F] HIGH BUFFER UTILIZATION: ${pct}% - Timeout ${timeout}s may be too aggressive for ${resp_s}s response time",
        )),
        tpl("jwt-validated-from-cache", B, "DEBUG", 90, logging(
            "JWT=REDACTED validated via cache for user ${user_trunc} (${ms})",
        )),
        // Auth service, its own JSON shape.
        tpl("auth-session-check-undefined", A, "WARNING", 60, auth_json(
            "__main__",
            "Session management check failed: name 'auth_service' is not defined",
        )),
        tpl("auth-service-token-invalid", A, "WARNING", 25, auth_json(
            AUTH_ROUTES,
            "Service token request rejected for service_id '${svc_id}': invalid service secret (client ${ip})",
        )),
        tpl("auth-e2e-bypass-invalid", A, "WARNING", 12, auth_json(
            AUTH_ROUTES,
            "E2E test auth rejected: Invalid E2E bypass key (source: ${ip}, env: staging)",
        )),
        tpl("auth-circuit-breaker-open", A, "CRITICAL", 6, auth_json(
            "auth_service.auth_core.resilience.circuit_breaker",
            "[GOLDEN PATH] Auth circuit breaker OPEN after ${n} consecutive failures - falling back to permissive mode for ${secs}s",
        )),
        tpl("auth-token-issued", A, "INFO", 120, auth_json(
            AUTH_ROUTES,
            "Issued access token for user ${uid_trunc} (expires_in: 900s, refresh: ${bool})",
        )),
        tpl("auth-oauth-callback", A, "INFO", 40, auth_json(
            "auth_service.auth_core.oauth_manager",
            "OAuth callback completed for ${email} via google in ${ms}",
        )),
        tpl("auth-redis-session-fallback", A, "WARNING", 15, auth_json(
            "auth_service.auth_core.redis_manager",
            "Redis unavailable for session ${sess}, falling back to in-memory store (attempt ${attempt}/3)",
        )),
        // Plain stderr text.
        tpl("loguru-keyerror-timestamp", A, "ERROR", 10, text(LOGURU_KEYERROR)),
        tpl("startup-validation-failures", B, "CRITICAL", 3, text(STARTUP_FAILURES)),
        tpl("startup-validation-bypassed", B, "WARNING", 3, text(
            "?? BYPASSING STARTUP VALIDATION FOR STAGING - ${failures} critical failures ignored. Reason: BYPASS_STARTUP_VALIDATION=true",
        )),
        tpl("import-defensive-user-context", B, "ERROR", 20, text(IMPORT_ERROR)),
        tpl("factory-configure-missing", B, "CRITICAL", 4, text(FACTORY_CONFIGURE)),
        tpl("redis-connection-error", B, "ERROR", 25, text(REDIS_ERROR)),
        tpl("db-queuepool-timeout", B, "ERROR", 15, text(QUEUEPOOL_TIMEOUT)),
        // An access line is the request it logs: its ground truth is the request log's key
        // (text access lines group with `httpRequest` entries, see `parse::textlog`).
        Template {
            truth_as: Some("GET /health/ready 200"),
            ..tpl("uvicorn-health-access", B, "DEFAULT", 80, text(
                "INFO:     169.254.169.126:${port} - \"GET /health/ready HTTP/1.1\" 200 OK",
            ))
        },
        tpl("uvicorn-startup-complete", A, "DEFAULT", 3, text("INFO:     Application startup complete.")),
        // jsonPayload without a message.
        tpl("ws-metrics-snapshot", B, "INFO", 40, Kind::Fields(Fields::WsMetrics)),
        tpl("health-snapshot-degraded", B, "WARNING", 12, Kind::Fields(Fields::HealthSnapshot)),
        tpl("auth-login-audit", A, "NOTICE", 10, Kind::Fields(Fields::LoginAudit)),
        // Audit entries.
        tpl("audit-revision-not-ready", B, "ERROR", 2, Kind::Audit {
            method: "/Services.CreateService",
            code: 9,
            text: "Ready condition status changed to False for Revision ${rev} with message: The user-provided container failed to start and listen on the port defined provided by the PORT=8000 environment variable. Logs for this revision might contain more information.".to_string(),
        }),
        tpl("audit-revision-ready", A, "INFO", 2, Kind::Audit {
            method: "/Services.ReplaceService",
            code: 0,
            text: "Ready condition status changed to True for Revision ${rev}.".to_string(),
        }),
        // Request logs.
        request(B, "GET", "/health", 200, 260).ua(Ua::Uptime).latency(800, 6_000),
        request(B, "GET", "/health/ready", 200, 120).ua(Ua::Uptime).latency(900, 9_000),
        request(B, "GET", "/ws/health", 200, 100).ua(Ua::TestVerification).latency(1_500, 12_000),
        request(B, "GET", "/ws/health", 503, 5).ua(Ua::TestVerification).latency(2_000, 3_600),
        request(B, "GET", "/websocket", 503, 8).ua(Ua::TestVerification).latency(2_000, 3_600),
        request(B, "GET", "/websocket", 101, 60),
        request(B, "GET", "/api/threads", 200, 90).query("limit=${limit}&offset=0"),
        request(B, "GET", "/api/threads/${thread}/messages", 200, 110).query("limit=50"),
        request(B, "POST", "/api/agent/run", 200, 40).latency(400_000, 25_000_000),
        request(B, "POST", "/api/agent/run", 500, 6),
        request(B, "GET", "/api/user/me", 200, 80),
        request(B, "GET", "/.well-known/security.txt", 404, 6).ua(Ua::Scanner),
        request(B, "GET", "/wp-login.php", 404, 3).ua(Ua::Zgrab),
        request(A, "GET", "/health/auth", 200, 150).ua(Ua::Uptime).latency(700, 5_000),
        request(A, "GET", "/health/auth", 503, 4).ua(Ua::Uptime).latency(1_000, 4_000),
        request(A, "POST", "/auth/service-token", 200, 70).ua(Ua::Httpx),
        request(A, "POST", "/auth/service-token", 401, 6).ua(Ua::Httpx),
        request(A, "POST", "/auth/e2e/test-auth", 401, 2).ua(Ua::TestVerification),
        request(A, "POST", "/auth/validate", 200, 130).ua(Ua::Httpx).latency(2_000, 60_000),
        request(A, "GET", "/auth/config", 200, 60),
        request(A, "GET", "/auth/callback", 302, 30).query("state=${hex12}&code=4%2F0A${hex12}&scope=email+profile+openid"),
    ]
}

/// Templates that happen together in one request, oldest first; they share a trace.
struct ChainDef {
    /// Names the chain in the problems ground truth.
    name: &'static str,
    weight: u64,
    /// Forces the websocket path so messages and the request log agree.
    ws_path: Option<&'static str>,
    /// Forces the message type the legacy loop complains about.
    msg_type: Option<&'static str>,
    steps: &'static [&'static str],
}

const CHAINS: &[ChainDef] = &[
    ChainDef {
        name: "session-middleware-ws-reject",
        weight: 60,
        ws_path: Some("/websocket"),
        msg_type: None,
        steps: &[
            "auth-extract-session-middleware",
            "ws-reject-issue-449",
            "GET /websocket 503",
        ],
    },
    ChainDef {
        name: "ws-health-reject",
        weight: 40,
        ws_path: Some("/ws/health"),
        msg_type: None,
        steps: &["ws-reject-issue-449", "GET /ws/health 503"],
    },
    ChainDef {
        name: "service-token-invalid",
        weight: 25,
        ws_path: Some("/websocket"),
        msg_type: None,
        steps: &[
            "auth-service-token-invalid",
            "POST /auth/service-token 401",
            "ws-reject-issue-449",
            "GET /websocket 503",
        ],
    },
    // The legacy loop rejects a `legacy_response` frame, which crashes the main message loop
    // (its context dump follows) and the cleanup then closes an already closed socket.
    ChainDef {
        name: "legacy-message-loop-crash",
        weight: 30,
        ws_path: Some("/websocket"),
        msg_type: Some("legacy_response"),
        steps: &[
            "GET /websocket 101",
            "ws-legacy-message-type",
            "golden-path-loop-crash",
            "golden-path-loop-error-context",
            "ws-close-after-close",
        ],
    },
    ChainDef {
        name: "db-user-auto-create",
        weight: 40,
        ws_path: None,
        msg_type: None,
        steps: &[
            "db-user-auto-create",
            "user-auto-created",
            "GET /api/user/me 200",
        ],
    },
    ChainDef {
        name: "ws-manager-direct-instantiation",
        weight: 25,
        ws_path: None,
        msg_type: None,
        steps: &[
            "ssot-violation-direct-instantiation",
            "ws-manager-direct-instantiation",
            "ws-emergency-manager",
            "ssot-multiple-manager-instances",
        ],
    },
    ChainDef {
        name: "ws-handler-setup-errors",
        weight: 20,
        ws_path: None,
        msg_type: None,
        steps: &[
            "request-id-invalid-format",
            "ws-manager-not-awaitable",
            "agent-bridge-import-error",
            "create-server-message-missing-data",
            "create-error-message-missing-arg",
        ],
    },
    ChainDef {
        name: "auth-session-check-undefined",
        weight: 25,
        ws_path: None,
        msg_type: None,
        steps: &["auth-session-check-undefined", "GET /health/auth 503"],
    },
    ChainDef {
        name: "e2e-bypass-invalid",
        weight: 12,
        ws_path: None,
        msg_type: None,
        steps: &["auth-e2e-bypass-invalid", "POST /auth/e2e/test-auth 401"],
    },
    ChainDef {
        name: "startup-validation-bypassed",
        weight: 4,
        ws_path: None,
        msg_type: None,
        steps: &["startup-validation-failures", "startup-validation-bypassed"],
    },
    ChainDef {
        name: "ws-connection-healthy",
        weight: 15,
        ws_path: Some("/websocket"),
        msg_type: None,
        steps: &[
            "GET /websocket 101",
            "ws-connection-established",
            "ws-heartbeat-ack",
        ],
    },
];

/// The dependency that goes down once, in the newer half of the span: the circuit-open call
/// sites of the components depending on it log during the outage, and nothing logs circuit-open
/// at any other time (see [`Timeline`]).
const OUTAGE_DEP: &str = "postgres";
/// How long the outage lasts (at most a quarter of the span).
const OUTAGE_SECS: i64 = 25 * 60;
/// Its share of the entries, per mille.
const OUTAGE_PER_MILLE: u64 = 25;
/// Per service (backend, auth): the API request (method, route) that fails with 503 after a
/// circuit-open log in the same trace, for about half of the outage's entries. Neither fails
/// with 503 at any other time.
const OUTAGE_REQUESTS: [(&str, &str); 2] = [
    ("POST", "/api/threads/${thread}/messages"),
    ("POST", "/auth/refresh"),
];

/// Templates that burst (see [`Timeline`]).
const BURSTS: [&str; 2] = [
    "loguru-keyerror-timestamp",
    "auth-extract-session-middleware",
];

// Procedurally generated application templates: component × action × outcome.

struct Component {
    svc: Svc,
    module: &'static str,
    class: &'static str,
    noun: &'static str,
    id: &'static str,
    /// The backing service its circuit breaker guards.
    dep: &'static str,
}

#[rustfmt::skip]
const COMPONENTS: &[Component] = &[
    Component { svc: Svc::Backend, module: "netra_backend.app.services.thread_service", class: "ThreadService", noun: "thread", id: "${thread}", dep: "postgres" },
    Component { svc: Svc::Backend, module: "netra_backend.app.services.message_service", class: "MessageService", noun: "message", id: "msg_${hex12}", dep: "postgres" },
    Component { svc: Svc::Backend, module: EXEC_ENGINE, class: "ExecutionEngine", noun: "agent run", id: "run_${hex12}", dep: "postgres" },
    Component { svc: Svc::Backend, module: "netra_backend.app.agents.tool_dispatcher", class: "ToolDispatcher", noun: "tool call", id: "${tool}:call_${hex8}", dep: "llm-gateway" },
    Component { svc: Svc::Backend, module: "netra_backend.app.llm.llm_manager", class: "LLMManager", noun: "completion", id: "${model}/req_${hex12}", dep: "llm-gateway" },
    Component { svc: Svc::Backend, module: "netra_backend.app.db.clickhouse", class: "ClickHouseClient", noun: "analytics query", id: "q_${hex8}", dep: "clickhouse" },
    Component { svc: Svc::Backend, module: "netra_backend.app.db.postgres_session", class: "PostgresSession", noun: "transaction", id: "tx_${hex8}", dep: "postgres" },
    Component { svc: Svc::Backend, module: "netra_backend.app.redis_manager", class: "RedisManager", noun: "cache key", id: "${cache_key}", dep: "redis" },
    Component { svc: Svc::Backend, module: "netra_backend.app.services.state_persistence", class: "StatePersistence", noun: "state snapshot", id: "snap_${hex8}", dep: "postgres" },
    Component { svc: Svc::Backend, module: "netra_backend.app.websocket_core.event_router", class: "EventRouter", noun: "event", id: "${ws_event}#${n}", dep: "redis" },
    Component { svc: Svc::Backend, module: "netra_backend.app.services.corpus_service", class: "CorpusService", noun: "corpus document", id: "doc_${hex12}", dep: "clickhouse" },
    Component { svc: Svc::Backend, module: "netra_backend.app.services.quality_gate", class: "QualityGate", noun: "quality check", id: "qc_${hex8}", dep: "llm-gateway" },
    Component { svc: Svc::Auth, module: "auth_service.auth_core.oauth_manager", class: "OAuthManager", noun: "oauth exchange", id: "${email}", dep: "postgres" },
    Component { svc: Svc::Auth, module: "auth_service.auth_core.jwt_handler", class: "JWTHandler", noun: "token", id: "jti_${hex12}", dep: "redis" },
    Component { svc: Svc::Auth, module: "auth_service.auth_core.database.repository", class: "UserRepository", noun: "user record", id: "${uid_trunc}", dep: "postgres" },
    Component { svc: Svc::Auth, module: "auth_service.auth_core.redis_session", class: "SessionStore", noun: "session", id: "${sess}", dep: "redis" },
];

/// (verb, gerund)
const ACTIONS: &[(&str, &str)] = &[
    ("load", "loading"),
    ("persist", "persisting"),
    ("refresh", "refreshing"),
    ("dispatch", "dispatching"),
    ("validate", "validating"),
    ("serialize", "serializing"),
    ("publish", "publishing"),
    ("acquire", "acquiring"),
    ("flush", "flushing"),
    ("sync", "syncing"),
];

/// (key, severity, text)
const OUTCOMES: &[(&str, &str, &str)] = &[
    ("timeout", "ERROR", "timed out after ${secs}s"),
    (
        "conn-reset",
        "WARNING",
        "connection reset by peer (attempt ${attempt}/3)",
    ),
    (
        "bad-status",
        "ERROR",
        "unexpected status ${code} from upstream",
    ),
    (
        "too-large",
        "WARNING",
        "payload of ${kb} KB exceeds the 512 KB limit",
    ),
    (
        "retries-exhausted",
        "ERROR",
        "retry budget exhausted after ${n} attempts",
    ),
    ("slow", "WARNING", "${slow}"),
    (
        "bad-state",
        "ERROR",
        "invalid state transition ${state_a} -> ${state_b}",
    ),
    (
        "lock-contention",
        "WARNING",
        "lock held by another worker (owner ${hex8})",
    ),
    ("key-error", "ERROR", "KeyError: '${field}'"),
    // Never steady background: only during the outage of the component's dependency.
    (
        "circuit-open",
        "CRITICAL",
        "circuit breaker open for {dep}, rejecting for ${secs}s",
    ),
    ("ok", "INFO", "completed in ${ms}"),
    ("skipped", "DEBUG", "skipped: nothing to do (${n} pending)"),
];

fn procedural_app() -> Vec<Template> {
    let total = COMPONENTS.len() * ACTIONS.len() * OUTCOMES.len();
    // A fixed pseudo-random subset, ranked in a fixed pseudo-random order.
    let mut chosen: Vec<usize> = (0..total)
        .filter(|&i| mix64(i as u64 ^ 0xa11c_e5ed) % 5 == 0)
        .collect();
    chosen.sort_by_key(|&i| mix64(i as u64 ^ 0x5eed));
    let mut out = Vec::with_capacity(chosen.len());
    for (rank, &i) in chosen.iter().enumerate() {
        let comp = &COMPONENTS[i / (ACTIONS.len() * OUTCOMES.len())];
        let (verb, gerund) = ACTIONS[i / OUTCOMES.len() % ACTIONS.len()];
        let (outcome, severity, what) = OUTCOMES[i % OUTCOMES.len()];
        let what = what.replace("{dep}", comp.dep);
        let h = mix64(i as u64 ^ 0x0b5e55ed);
        let noun_snake = comp.noun.replace(' ', "_");
        let function = format!("{verb}_{noun_snake}");
        let (class, noun, id) = (comp.class, comp.noun, comp.id);
        // Three sentence shapes; successes always read "<Class>.<fn>: <gerund> ...".
        let shape = if matches!(outcome, "ok" | "skipped") {
            0
        } else {
            h % 3
        };
        let message = match shape {
            0 => format!("{class}.{function}: {gerund} {noun} {id} {what}"),
            1 => format!("Failed to {verb} {noun} {id} in {class}: {what}"),
            _ => {
                let tag = noun_snake.to_uppercase();
                format!("[{tag}] {verb} {noun} {id} - {what}")
            }
        };
        let key = format!("gen:{class}.{function}:{outcome}");
        let circuit = (outcome == "circuit-open").then_some(comp.dep);
        let weight = if circuit.is_some() {
            0
        } else {
            (300 / (rank as u64 + 3)).max(1)
        };
        let kind = match comp.svc {
            Svc::Auth => auth_json(comp.module, &message),
            // Some modules log through stdlib logging and lose their own labels.
            Svc::Backend if h % 5 == 0 => logging(&message),
            Svc::Backend => {
                let line = 30 + (h >> 8) % 1400;
                structured(site(comp.module, &function, line as u32), &message)
            }
        };
        let mut t = tpl(&key, comp.svc, severity, weight, kind);
        t.circuit = circuit;
        out.push(t);
    }
    out
}

// Procedurally generated request templates: resource × method × status.

struct Resource {
    svc: Svc,
    path: &'static str,
    query: &'static str,
    methods: &'static [&'static str],
}

#[rustfmt::skip]
const RESOURCES: &[Resource] = &[
    Resource { svc: Svc::Backend, path: "/api/threads/${thread}", query: "", methods: &["GET", "DELETE", "PATCH"] },
    Resource { svc: Svc::Backend, path: "/api/threads/${thread}/messages", query: "limit=50&before=msg_${hex12}", methods: &["GET", "POST"] },
    Resource { svc: Svc::Backend, path: "/api/agents/${agent}/runs", query: "", methods: &["POST", "GET"] },
    Resource { svc: Svc::Backend, path: "/api/runs/run_${hex12}/events", query: "since=${epoch}", methods: &["GET"] },
    Resource { svc: Svc::Backend, path: "/api/corpus/${uuid}/documents", query: "page=${small}", methods: &["GET", "POST"] },
    Resource { svc: Svc::Backend, path: "/api/users/${uid}/preferences", query: "", methods: &["GET", "PUT"] },
    Resource { svc: Svc::Backend, path: "/api/analytics/usage", query: "from=${date}&to=${date}&granularity=hour", methods: &["GET"] },
    Resource { svc: Svc::Backend, path: "/api/synthetic-data/jobs/${uuid}", query: "", methods: &["GET", "DELETE"] },
    Resource { svc: Svc::Backend, path: "/api/demo/chat", query: "", methods: &["POST"] },
    Resource { svc: Svc::Backend, path: "/api/mcp/servers", query: "", methods: &["GET", "POST"] },
    Resource { svc: Svc::Backend, path: "/api/supply/catalog", query: "q=${model}", methods: &["GET"] },
    Resource { svc: Svc::Backend, path: "/api/optimizations/${uuid}/apply", query: "", methods: &["POST"] },
    Resource { svc: Svc::Backend, path: "/api/reports/${uuid}/export", query: "format=${export_format}", methods: &["GET"] },
    Resource { svc: Svc::Backend, path: "/api/admin/settings", query: "", methods: &["GET", "PUT"] },
    Resource { svc: Svc::Auth, path: "/auth/refresh", query: "", methods: &["POST"] },
    Resource { svc: Svc::Auth, path: "/auth/me", query: "", methods: &["GET"] },
    Resource { svc: Svc::Auth, path: "/auth/logout", query: "", methods: &["POST"] },
    Resource { svc: Svc::Auth, path: "/auth/login", query: "provider=google&return_to=%2Fchat", methods: &["GET"] },
    Resource { svc: Svc::Auth, path: "/auth/users/${uid}/sessions", query: "", methods: &["GET", "DELETE"] },
];

fn statuses(method: &str) -> (u16, &'static [u16]) {
    match method {
        "GET" => (200, &[304, 400, 401, 403, 404, 429, 500, 502, 503, 504]),
        "POST" => (201, &[400, 401, 403, 409, 413, 422, 429, 500, 502, 504]),
        "DELETE" => (204, &[401, 403, 404, 409, 500]),
        _ => (200, &[400, 401, 403, 404, 409, 422, 500]),
    }
}

fn procedural_requests() -> Vec<Template> {
    let mut out = Vec::new();
    let mut rank = 0u64;
    for (r, res) in RESOURCES.iter().enumerate() {
        for (m, &method) in res.methods.iter().enumerate() {
            let (ok, errors) = statuses(method);
            let h = mix64((((r as u64) << 8) | m as u64) ^ 0x0e57);
            let mut picked = vec![ok];
            let mut j = h;
            while picked.len() < 4 {
                let s = errors[(j % errors.len() as u64) as usize];
                if !picked.contains(&s) {
                    picked.push(s);
                }
                j = mix64(j);
            }
            for (k, &status) in picked.iter().enumerate() {
                let base = 150 / (rank + 3);
                let weight = if k == 0 { base * 2 } else { base / 3 };
                let t = request(res.svc, method, res.path, status, weight.max(1)).query(res.query);
                out.push(t);
            }
            rank += 1;
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Scenario {
    Single(usize),
    Chain(usize),
}

struct Chain {
    steps: Vec<usize>,
    ws_path: Option<&'static str>,
    msg_type: Option<&'static str>,
}

/// All templates, chains and the weighted table to draw scenarios from.
struct Catalog {
    templates: Vec<Template>,
    chains: Vec<Chain>,
    /// Cumulative weights, parallel to `scenarios`.
    cumulative: Vec<u64>,
    scenarios: Vec<Scenario>,
    bursts: [usize; 2],
    /// The circuit-open call sites of the components that depend on [`OUTAGE_DEP`].
    outage: Vec<usize>,
    /// Per service, the 503 request that may follow one of them.
    outage_requests: [usize; 2],
}

impl Catalog {
    fn build() -> Catalog {
        let mut templates = hand_written();
        for t in procedural_app().into_iter().chain(procedural_requests()) {
            // A generated route may repeat a hand-written one; keep the first.
            if !templates.iter().any(|e| e.key == t.key) {
                templates.push(t);
            }
        }
        for (svc, (method, path)) in [Svc::Backend, Svc::Auth].into_iter().zip(OUTAGE_REQUESTS) {
            let t = request(svc, method, path, 503, 0);
            assert!(
                !templates.iter().any(|e| e.key == t.key),
                "{} is background traffic",
                t.key
            );
            templates.push(t);
        }
        let outage = (0..templates.len())
            .filter(|&t| templates[t].circuit == Some(OUTAGE_DEP))
            .collect();
        let index = |key: &str| {
            templates
                .iter()
                .position(|t| t.key == key)
                .unwrap_or_else(|| panic!("unknown template key {key:?}"))
        };
        let chains: Vec<Chain> = CHAINS
            .iter()
            .map(|c| Chain {
                steps: c.steps.iter().map(|k| index(k)).collect(),
                ws_path: c.ws_path,
                msg_type: c.msg_type,
            })
            .collect();
        let bursts = BURSTS.map(index);
        let outage_requests = OUTAGE_REQUESTS
            .map(|(method, path)| index(&format!("{method} {} 503", path.replace("${", "{"))));

        let mut cumulative = Vec::new();
        let mut scenarios = Vec::new();
        let mut total = 0;
        let weighted = templates
            .iter()
            .enumerate()
            .map(|(i, t)| (t.weight, Scenario::Single(i)))
            .chain(
                CHAINS
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.weight, Scenario::Chain(i))),
            );
        for (weight, scenario) in weighted {
            if weight > 0 {
                total += weight;
                cumulative.push(total);
                scenarios.push(scenario);
            }
        }
        Catalog {
            templates,
            chains,
            cumulative,
            scenarios,
            bursts,
            outage,
            outage_requests,
        }
    }

    fn pick(&self, rng: &mut Rng) -> Scenario {
        let total = *self.cumulative.last().expect("catalog is not empty");
        let x = rng.below(total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.scenarios[i]
    }
}

// ---------------------------------------------------------------------------
// Variables and rendering.

/// Values shared by all entries of one scenario, so a chain talks about the
/// same user, connection and trace.
struct Vars {
    user: u64,
    gid: u128,
    conn: u32,
    domain: usize,
    thread: u128,
    trace: u128,
    instance: u64,
    msg_type: &'static str,
    ws_path: &'static str,
    /// Whether a single (unchained) entry carries a trace.
    traced: bool,
}

const DOMAINS: &[(&str, &str)] = &[
    ("gmail.com", "consumer"),
    ("gmail.com", "consumer"),
    ("netrasystems.ai", "unknown"),
    ("outlook.com", "consumer"),
    ("acme-logistics.com", "business"),
    ("yahoo.com", "consumer"),
];

impl Vars {
    fn new(rng: &mut Rng) -> Vars {
        Vars {
            user: rng.next(),
            gid: 100_000_000_000_000_000_000 + u128::from(rng.next()) % 10_000_000_000_000_000_000,
            conn: rng.next() as u32,
            domain: rng.below(DOMAINS.len() as u64) as usize,
            thread: (u128::from(rng.next()) << 64) | u128::from(rng.next()),
            trace: (u128::from(rng.next()) << 64) | u128::from(rng.next()),
            instance: rng.next(),
            msg_type: if rng.chance(85) {
                "legacy_response"
            } else {
                rng.pick(&["legacy_ack", "agent_update", "stream_chunk"])
            },
            ws_path: if rng.chance(70) {
                "/websocket"
            } else {
                "/ws/health"
            },
            traced: rng.chance(55),
        }
    }

    /// Most traffic is the demo user; the rest are Google accounts.
    fn push_user(&self, out: &mut String) {
        if self.user % 100 < 55 {
            let _ = write!(out, "demo-user-{:03}", 1 + self.user % 100 / 20);
        } else {
            let _ = write!(out, "{}", self.gid);
        }
    }
}

/// Per-entry context for placeholders.
struct Ctx<'a> {
    vars: &'a Vars,
    ts: i64,
    revision: &'static str,
}

/// Appends `pattern` with every `${name}` replaced by a value.
fn render(rng: &mut Rng, pattern: &str, ctx: &Ctx, out: &mut String) {
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return;
        };
        fill(rng, &after[..end], ctx, out);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
}

fn push_hex(out: &mut String, v: u64, digits: usize) {
    let _ = write!(out, "{:0digits$x}", v >> (64 - 4 * digits));
}

fn push_uuid(out: &mut String, v: u128) {
    let _ = write!(
        out,
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        (v >> 96) as u32,
        (v >> 80) as u16,
        (v >> 64) as u16 & 0xfff,
        8 + (v >> 62) as u8 % 4,
        (v >> 48) as u16 & 0xfff,
        v as u64 & 0xffff_ffff_ffff,
    );
}

fn push_ip(rng: &mut Rng, out: &mut String) {
    let first = rng.pick(&[24u8, 47, 68, 73, 98, 104, 136, 142, 174, 185, 203]);
    let _ = write!(
        out,
        "{first}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
}

/// Writes the value of one placeholder.
fn fill(rng: &mut Rng, name: &str, ctx: &Ctx, out: &mut String) {
    let v = ctx.vars;
    match name {
        // Shared by the whole scenario.
        "user" => v.push_user(out),
        "user_trunc" => {
            let start = out.len();
            v.push_user(out);
            out.truncate(start + 8);
            out.push_str("...");
        }
        "uid" => {
            let _ = write!(out, "{}", v.gid);
        }
        "uid_trunc" => {
            let _ = write!(out, "{}...", v.gid / 10_000_000_000_000);
        }
        "conn" => {
            let _ = write!(out, "main_{:08x}", v.conn);
        }
        "email" => {
            out.push_str("***@");
            out.push_str(DOMAINS[v.domain].0);
        }
        "domain" => out.push_str(DOMAINS[v.domain].0),
        "domain_type" => out.push_str(DOMAINS[v.domain].1),
        "thread" => push_uuid(out, v.thread),
        "ws_path" => out.push_str(v.ws_path),
        "msgtype" => out.push_str(v.msg_type),
        "rev" => out.push_str(ctx.revision),
        "iso" => push_rfc3339(out, ctx.ts - rng.range(5, 60) as i64 * 1000, 6, false),
        // Fresh per occurrence.
        "ms" => {
            let centis = rng.skewed(40, 250_000);
            let _ = write!(out, "{}.{:02}ms", centis / 100, centis % 100);
        }
        "secs" => {
            let tenths = rng.skewed(5, 600);
            let _ = write!(out, "{}.{}", tenths / 10, tenths % 10);
        }
        "timeout_s" => out.push_str(rng.pick(&["30", "60", "120", "300"])),
        "pct" => {
            let tenths = rng.range(800, 999);
            let _ = write!(out, "{}.{}", tenths / 10, tenths % 10);
        }
        "timeout" => out.push_str(rng.pick(&["0.3", "0.5", "1.0"])),
        "resp_s" => {
            let _ = write!(out, "0.{:03}", rng.range(4, 90));
        }
        "n" => {
            let _ = write!(out, "{}", rng.skewed(1, 40));
        }
        "small" => {
            let _ = write!(out, "{}", rng.below(4));
        }
        "attempt" => {
            let _ = write!(out, "{}", rng.range(1, 3));
        }
        "tokens" => {
            let _ = write!(out, "{}", rng.skewed(200, 24_000));
        }
        "limit" => out.push_str(rng.pick(&["20", "50", "100"])),
        "kb" => {
            let _ = write!(out, "{}", rng.range(513, 4096));
        }
        "slow" => {
            let limit = rng.pick(&[250, 500, 1000]);
            let centis = limit * 100 + rng.skewed(1, limit * 400);
            let _ = write!(
                out,
                "took {}.{:02}ms, above the {limit}ms threshold",
                centis / 100,
                centis % 100
            );
        }
        "failures" => {
            let _ = write!(out, "{}", rng.skewed(1, 3));
        }
        "code" => out.push_str(rng.pick(&["429", "500", "502", "503", "504"])),
        "port" => {
            let _ = write!(out, "{}", rng.range(32_768, 60_999));
        }
        "pool" => out.push_str(rng.pick(&["5", "10", "20"])),
        "overflow" => out.push_str(rng.pick(&["10", "20"])),
        "handler" => out.push_str(rng.pick(&["1", "1", "2"])),
        "epoch" => {
            let _ = write!(
                out,
                "{}",
                ctx.ts.div_euclid(NANOS) - rng.range(60, 3600) as i64
            );
        }
        "date" => {
            let c = civil(ctx.ts - rng.below(30) as i64 * 86_400 * NANOS);
            let _ = write!(out, "{:04}-{:02}-{:02}", c.year, c.month, c.day);
        }
        "hex8" => push_hex(out, rng.next(), 8),
        "hex12" => push_hex(out, rng.next(), 12),
        "uuid" => push_uuid(out, (u128::from(rng.next()) << 64) | u128::from(rng.next())),
        "ip" => push_ip(rng, out),
        "bool" => out.push_str(if rng.chance(50) { "True" } else { "False" }),
        "reqid" => {
            let _ = write!(
                out,
                "defensive_auth_{:04x}_{}",
                rng.below(0x10000),
                rng.range(1, 40)
            );
        }
        "sess" => {
            out.push_str("sess_");
            push_hex(out, rng.next(), 12);
        }
        "cache_key" => {
            out.push_str(rng.pick(&["user_ctx:", "thread_state:", "rate_limit:", "agent_cache:"]));
            push_hex(out, rng.next(), 8);
        }
        "caller" => out.push_str(rng.pick(&[
            "get_websocket_manager",
            "_create_websocket_manager",
            "create_websocket_manager_for_user",
        ])),
        "ready_state" => {
            out.push_str(rng.pick(&["unknown", "unknown", "initializing", "degraded"]))
        }
        "failed_services" => out.push_str(rng.pick(&[
            "[]",
            "[]",
            "['auth_validation']",
            "['redis', 'auth_validation']",
        ])),
        "ready_error" => out.push_str(rng.pick(&[
            "service_not_ready",
            "service_not_ready",
            "startup_incomplete",
        ])),
        "ws_state" => out.push_str(if rng.chance(85) {
            "connected"
        } else {
            "disconnected"
        }),
        "ws_event" => out.push_str(rng.pick(&[
            "agent_started",
            "agent_thinking",
            "tool_executing",
            "tool_completed",
            "agent_completed",
        ])),
        "agent" => out.push_str(rng.pick(&[
            "triage_agent",
            "data_sub_agent",
            "optimizations_core_sub_agent",
            "reporting_sub_agent",
            "supervisor",
        ])),
        "tool" => out.push_str(rng.pick(&[
            "web_search",
            "query_clickhouse",
            "cost_analyzer",
            "generate_report",
        ])),
        "model" => out.push_str(rng.pick(&[
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gpt-4.1",
            "claude-sonnet-4",
        ])),
        "svc_id" => out.push_str(rng.pick(&[
            "netra-backend",
            "netra-backend",
            "netra-analytics",
            "unknown",
        ])),
        "export_format" => out.push_str(rng.pick(&["pdf", "csv", "json"])),
        "state_a" => out.push_str(rng.pick(&["pending", "running", "paused"])),
        "state_b" => out.push_str(rng.pick(&["completed", "failed", "cancelled"])),
        "field" => out.push_str(rng.pick(&[
            "thread_id",
            "run_id",
            "user_id",
            "\"timestamp\"",
            "metadata",
        ])),
        "redis_error" => out.push_str(if rng.chance(70) {
            "Error 111 connecting to 10.107.0.3:6379. Connection refused."
        } else {
            "Error 110 connecting to 10.107.0.3:6379. Connection timed out."
        }),
        "loguru_record" => push_loguru_record(rng, ctx.ts, out),
        _ => {
            // Unknown names stay visible; the tests check none are left.
            out.push_str("${");
            out.push_str(name);
            out.push('}');
        }
    }
}

/// The `Record was: {...}` line loguru prints when a handler fails.
fn push_loguru_record(rng: &mut Rng, ts: i64, out: &mut String) {
    const SITES: &[(&str, &str, u32, &str)] = &[
        (
            "auth_routes",
            "login",
            212,
            "Login attempt for ***@gmail.com",
        ),
        (
            "auth_routes",
            "service_token",
            388,
            "Service token requested by netra-backend",
        ),
        (
            "jwt_handler",
            "validate_token",
            141,
            "Validating token (type=access)",
        ),
        (
            "oauth_manager",
            "handle_callback",
            97,
            "OAuth callback received",
        ),
        ("main", "health_check", 64, "Health check requested"),
    ];
    let (module, function, line, message) = rng.pick(SITES);
    let c = civil(ts - rng.range(20, 400) as i64 * 1000);
    let _ = write!(
        out,
        "{{'elapsed': datetime.timedelta(seconds={}, microseconds={}), 'exception': None, 'extra': {{}}, \
         'file': (name='{module}.py', path='/app/auth_service/auth_core/{module}.py'), 'function': '{function}', \
         'level': (name='INFO', no=20, icon='\u{2139}\u{fe0f}'), 'line': {line}, 'message': '{message}', \
         'module': '{module}', 'name': 'auth_service.auth_core.{module}', 'process': (id=1, name='MainProcess'), \
         'thread': (id=1399{:08}, name='MainThread'), \
         'time': datetime({}, {}, {}, {}, {}, {}, {}, tzinfo=datetime.timezone.utc)}}",
        rng.range(1, 90_000),
        rng.below(1_000_000),
        rng.below(100_000_000),
        c.year,
        c.month,
        c.day,
        c.hour,
        c.min,
        c.sec,
        c.nanos / 1000,
    );
}

// ---------------------------------------------------------------------------
// Building entries.

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:142.0) Gecko/20100101 Firefox/142.0",
];

const SCANNER_UA: &str = "Expanse, a Palo Alto Networks company, searches across the global IPv4 space multiple times per day to identify customers&#39; presences on the Internet. If you would like to be excluded from our scans, please send IP addresses/domains to: scaninfo@paloaltonetworks.com";

fn build_entry(
    rng: &mut Rng,
    env: &Env,
    t: &Template,
    ts: i64,
    vars: &Vars,
    in_chain: bool,
    insert_id: String,
) -> Value {
    let svc = &SERVICES[t.svc as usize];
    let rev = env.revision(t.svc, ts);
    let revision = svc.revisions[rev];
    let ctx = Ctx { vars, ts, revision };
    let instance = &env.instances[(t.svc as usize * 3 + rev) * INSTANCES_PER_REVISION
        + (vars.instance % INSTANCES_PER_REVISION as u64) as usize];

    let mut entry = Map::new();
    let mut log = "run.googleapis.com%2Fstderr";
    let mut receive_delay = rng.skewed(3_000, 400_000) as i64 * 1000 + rng.below(1000) as i64;
    let digits = if t.kind.micros() { 6 } else { 9 };
    let mut message = String::new();
    match &t.kind {
        Kind::Structured { site, text } => {
            render(rng, text, &ctx, &mut message);
            let line = if rev == 0 { site.old_line } else { site.line };
            let mut context = json!({"name": site.module, "service": "netra-service"});
            if site.exc_info {
                context["exc_info"] = Value::Bool(true);
            }
            entry.insert(
                "jsonPayload".into(),
                json!({
                    "context": context,
                    "labels": {"function": site.function, "line": line.to_string(), "module": site.module},
                    "message": message,
                    "timestamp": rfc3339(ts, 6, false),
                }),
            );
        }
        Kind::Logging { text } => {
            render(rng, text, &ctx, &mut message);
            entry.insert(
                "jsonPayload".into(),
                json!({
                    "labels": {"function": "callHandlers", "line": "1706", "module": "logging"},
                    "message": message,
                    "timestamp": rfc3339(ts, 6, false),
                }),
            );
        }
        Kind::AuthJson { logger, text } => {
            render(rng, text, &ctx, &mut message);
            let mut payload = json!({
                "logger": logger,
                "message": message,
                "name": logger,
                "service": "auth-service",
                "textPayload": message,
                "timestamp": rfc3339(ts, 6, true),
            });
            if !matches!(t.severity, "DEBUG" | "INFO" | "NOTICE") {
                payload["error"] = json!({
                    "message": "Missing field",
                    "severity": t.severity,
                    "timestamp": rfc3339(ts + rng.range(20, 90) as i64 * 1000, 6, true),
                    "traceback": "",
                    "type": "str",
                });
            }
            entry.insert("jsonPayload".into(), payload);
        }
        Kind::Text { text } => {
            render(rng, text, &ctx, &mut message);
            entry.insert("textPayload".into(), Value::String(message));
        }
        Kind::Fields(f) => {
            entry.insert("jsonPayload".into(), fields_payload(rng, *f, &ctx));
        }
        Kind::Audit { method, code, text } => {
            log = "cloudaudit.googleapis.com%2Fsystem_event";
            render(rng, text, &ctx, &mut message);
            let mut status = json!({"message": message});
            if *code != 0 {
                status["code"] = json!(code);
            }
            entry.insert(
                "protoPayload".into(),
                json!({
                    "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                    "methodName": method,
                    "resourceName": format!("namespaces/{PROJECT}/revisions/{revision}"),
                    "serviceName": "run.googleapis.com",
                    "status": status,
                }),
            );
        }
        Kind::Request(req) => {
            log = "run.googleapis.com%2Frequests";
            let latency = rng.skewed(req.latency_us.0, req.latency_us.1);
            receive_delay += latency as i64 * 1000;
            entry.insert(
                "httpRequest".into(),
                http_request(rng, req, svc.host, &ctx, latency),
            );
            if rng.chance(10) {
                entry.insert("traceSampled".into(), Value::Bool(true));
            }
        }
    }

    if t.kind.traceable() && (in_chain || vars.traced || matches!(t.kind, Kind::Request(_))) {
        entry.insert(
            "trace".into(),
            Value::String(format!("projects/{PROJECT}/traces/{:032x}", vars.trace)),
        );
        entry.insert(
            "spanId".into(),
            Value::String(format!("{:016x}", rng.next())),
        );
    }
    entry.insert("insertId".into(), Value::String(insert_id));
    entry.insert("labels".into(), json!({"instanceId": instance}));
    entry.insert(
        "logName".into(),
        Value::String(format!("projects/{PROJECT}/logs/{log}")),
    );
    entry.insert(
        "receiveTimestamp".into(),
        Value::String(rfc3339(ts + receive_delay, 9, true)),
    );
    entry.insert(
        "resource".into(),
        json!({
            "labels": {
                "configuration_name": svc.name,
                "location": "us-central1",
                "project_id": PROJECT,
                "revision_name": revision,
                "service_name": svc.name,
            },
            "type": "cloud_run_revision",
        }),
    );
    entry.insert("severity".into(), Value::String(t.severity.to_string()));
    entry.insert("timestamp".into(), Value::String(rfc3339(ts, digits, true)));
    let mut value = Value::Object(entry);
    // A no-op unless serde_json's `preserve_order` is enabled somewhere in the build.
    value.sort_all_objects();
    value
}

fn http_request(rng: &mut Rng, req: &Req, host: &str, ctx: &Ctx, latency_us: u64) -> Value {
    let mut url = format!("https://{host}");
    render(rng, &req.path, ctx, &mut url);
    if !req.query.is_empty() {
        url.push('?');
        render(rng, req.query, ctx, &mut url);
    }
    let mut remote_ip = String::new();
    match req.ua {
        Ua::Uptime => {
            let _ = write!(
                remote_ip,
                "35.238.{}.{}",
                rng.below(256),
                1 + rng.below(254)
            );
        }
        Ua::Scanner => {
            let net = rng.pick(&["198.235.24", "205.210.31"]);
            let _ = write!(remote_ip, "{net}.{}", 1 + rng.below(254));
        }
        Ua::TestVerification | Ua::Httpx => {
            let _ = write!(
                remote_ip,
                "34.{}.{}.{}",
                20 + rng.below(140),
                rng.below(256),
                1 + rng.below(254)
            );
        }
        Ua::Browser | Ua::Zgrab => push_ip(rng, &mut remote_ip),
    }
    let user_agent = match req.ua {
        Ua::Browser => rng.pick(USER_AGENTS),
        Ua::TestVerification => "test-verification",
        Ua::Httpx => "python-httpx/0.28.1",
        Ua::Uptime => {
            "GoogleStackdriverMonitoring-UptimeChecks(https://cloud.google.com/monitoring)"
        }
        Ua::Scanner => SCANNER_UA,
        Ua::Zgrab => "Mozilla/5.0 zgrab/0.x",
    };
    let request_size = if req.method == "GET" {
        rng.range(250, 1800)
    } else {
        rng.range(600, 12_000)
    };
    let (lo, hi) = req.response_bytes;
    let mut http = json!({
        "latency": duration(latency_us),
        "protocol": "HTTP/1.1",
        "remoteIp": remote_ip,
        "requestMethod": req.method,
        "requestSize": request_size.to_string(),
        "requestUrl": url,
        "responseSize": rng.range(lo, hi).to_string(),
        "serverIp": rng.pick(&["34.143.74.2", "34.143.75.2", "34.143.76.2", "34.143.77.2"]),
        "status": req.status,
        "userAgent": user_agent,
    });
    if req.ua == Ua::Browser && rng.chance(60) {
        http["referer"] = Value::String("https://app.staging.netrasystems.ai/chat".to_string());
    }
    http
}

/// `jsonPayload` entries that have no `message` field.
fn fields_payload(rng: &mut Rng, kind: Fields, ctx: &Ctx) -> Value {
    match kind {
        Fields::WsMetrics => json!({
            "active_connections": rng.skewed(0, 120),
            "event": "websocket_metrics_snapshot",
            "messages_per_minute": rng.skewed(0, 2400),
            "p95_send_ms": rng.skewed(2, 900),
            "queued_events": rng.skewed(0, 50),
            "timestamp": rfc3339(ctx.ts, 6, false),
        }),
        Fields::HealthSnapshot => {
            let redis = rng.pick(&["degraded", "unhealthy", "degraded"]);
            json!({
                "checks": {"clickhouse": "healthy", "postgres": "healthy", "redis": redis},
                "environment": "staging",
                "status": "degraded",
                "timestamp": rfc3339(ctx.ts, 6, false),
                "uptime_seconds": rng.range(30, 200_000),
            })
        }
        Fields::LoginAudit => {
            let mut user = String::new();
            fill(rng, "email", ctx, &mut user);
            let outcome = rng.pick(&["success", "success", "failure"]);
            json!({
                "event": "login_attempt",
                "logger": "auth_service.audit",
                "outcome": outcome,
                "provider": "google",
                "service": "auth-service",
                "timestamp": rfc3339(ctx.ts, 6, true),
                "user": user,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(entries: u64, seed: u64, format: GenFormat) -> (Vec<u8>, Vec<u8>, GenSummary) {
        let opts = GenOptions {
            entries,
            seed,
            format,
            ..GenOptions::default()
        };
        let mut out = Vec::new();
        let mut truth = Vec::new();
        let summary = generate(&opts, &mut out, Some(&mut truth)).unwrap();
        (out, truth, summary)
    }

    fn parse_array(out: &[u8]) -> Vec<Value> {
        match serde_json::from_slice(out).unwrap() {
            Value::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    /// RFC 3339 UTC to nanoseconds, for checking order and range.
    fn parse_ts(s: &str) -> i64 {
        let num = |a: usize, b: usize| -> i64 { s[a..b].parse().unwrap() };
        assert!(s.ends_with('Z'), "{s}");
        let days = days_from_civil(num(0, 4), num(5, 7) as u32, num(8, 10) as u32);
        let frac = &s[20..s.len() - 1];
        assert!(frac.len() == 6 || frac.len() == 9, "{s}");
        let nanos: i64 = frac.parse::<i64>().unwrap() * 10i64.pow(9 - frac.len() as u32);
        (days * 86_400 + num(11, 13) * 3600 + num(14, 16) * 60 + num(17, 19)) * NANOS + nanos
    }

    #[test]
    fn civil_conversions() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(
            rfc3339(1_757_822_400 * NANOS, 6, true),
            "2025-09-14T04:00:00.000000Z"
        );
        assert_eq!(
            rfc3339(1_757_818_623_399_376_000, 6, false),
            "2025-09-14T02:57:03.399376+00:00"
        );
        for days in [-800_000, -1, 0, 1, 11_016, 20_345, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(duration(2803), "0.002803s");
    }

    #[test]
    fn deterministic_per_seed() {
        let a = run(1500, 7, GenFormat::Array);
        let b = run(1500, 7, GenFormat::Array);
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        assert_eq!(a.2, b.2);
        let c = run(1500, 8, GenFormat::Array);
        assert_ne!(a.0, c.0);
    }

    #[test]
    fn zero_entries() {
        let (out, truth, summary) = run(0, 1, GenFormat::Array);
        assert_eq!(out, b"[]\n");
        assert!(truth.is_empty());
        assert_eq!(
            summary,
            GenSummary {
                entries: 0,
                bytes: 3,
                templates_used: 0
            }
        );
        let (out, _, _) = run(0, 1, GenFormat::Ndjson);
        assert!(out.is_empty());
    }

    #[test]
    fn array_layout_matches_gcloud() {
        let (out, _, summary) = run(2000, 3, GenFormat::Array);
        assert!(out.starts_with(b"[\n  {\n    \""));
        assert!(out.ends_with(b"\n  }\n]\n"));
        assert_eq!(summary.bytes, out.len() as u64);
        let items = parse_array(&out);
        assert_eq!(items.len(), 2000);
        assert_eq!(summary.entries, 2000);
        // Re-printing the parsed (key-sorted) values in gcloud's layout gives the
        // same bytes, so keys were sorted and indentation is exact.
        let mut expected = b"[\n".to_vec();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                expected.extend_from_slice(b",\n");
            }
            let pretty = serde_json::to_string_pretty(item).unwrap();
            expected.extend_from_slice(format!("  {}", pretty.replace('\n', "\n  ")).as_bytes());
        }
        expected.extend_from_slice(b"\n]\n");
        assert!(out == expected, "layout differs from gcloud's");
    }

    #[test]
    fn ndjson_matches_array() {
        let (array, _, _) = run(1000, 5, GenFormat::Array);
        let (nd, truth, summary) = run(1000, 5, GenFormat::Ndjson);
        let text = std::str::from_utf8(&nd).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(summary.bytes, nd.len() as u64);
        assert!(lines.iter().all(Value::is_object));
        assert_eq!(lines, parse_array(&array));
        assert_eq!(truth.iter().filter(|&&b| b == b'\n').count(), 1000);
    }

    #[test]
    fn entries_are_well_formed_and_ordered() {
        let opts = GenOptions::default();
        let (out, truth, _) = run(3000, 11, GenFormat::Array);
        let items = parse_array(&out);
        let truth = String::from_utf8(truth).unwrap();
        let truth: Vec<(&str, &str)> = truth.lines().map(|l| l.split_once('\t').unwrap()).collect();
        assert_eq!(truth.len(), items.len());

        let end = opts.end_unix * NANOS;
        let start = end - opts.span_secs * NANOS;
        let mut prev = i64::MAX;
        let mut ids = std::collections::BTreeSet::new();
        for (item, (id, key)) in items.iter().zip(&truth) {
            let text = item.to_string();
            assert!(!text.contains("${"), "unrendered placeholder in {text}");
            assert_eq!(item["insertId"].as_str().unwrap(), *id);
            assert!(!key.is_empty());
            assert!((16..=20).contains(&id.len()), "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            );
            assert!(ids.insert(id.to_string()), "duplicate insertId {id}");

            let ts = parse_ts(item["timestamp"].as_str().unwrap());
            assert!(ts <= prev, "timestamps must not increase");
            assert!((start..=end).contains(&ts));
            prev = ts;
            assert!(parse_ts(item["receiveTimestamp"].as_str().unwrap()) > ts);

            assert_eq!(item["resource"]["type"], "cloud_run_revision");
            let labels = &item["resource"]["labels"];
            assert_eq!(labels["project_id"], "netra-staging");
            assert_eq!(labels["location"], "us-central1");
            assert_eq!(labels["configuration_name"], labels["service_name"]);
            assert!(
                labels["revision_name"]
                    .as_str()
                    .unwrap()
                    .starts_with(labels["service_name"].as_str().unwrap())
            );
            assert!(item["labels"]["instanceId"].as_str().unwrap().len() > 100);
            assert!(
                item["logName"]
                    .as_str()
                    .unwrap()
                    .starts_with("projects/netra-staging/logs/")
            );
            let severity = item["severity"].as_str().unwrap();
            assert!(
                [
                    "DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"
                ]
                .contains(&severity)
            );

            if let Some(http) = item.get("httpRequest") {
                let status = http["status"].as_u64().unwrap() as u16;
                assert_eq!(severity, request_severity(status));
                assert!(http["requestUrl"].as_str().unwrap().starts_with("https://"));
                assert!(item["logName"].as_str().unwrap().ends_with("%2Frequests"));
                assert!(item["trace"].is_string());
                assert!(key.ends_with(&status.to_string()));
                assert!(key.starts_with(http["requestMethod"].as_str().unwrap()));
            } else {
                let payloads = ["jsonPayload", "textPayload", "protoPayload"];
                assert_eq!(
                    payloads.iter().filter(|p| item.get(**p).is_some()).count(),
                    1
                );
            }
        }
    }

    #[test]
    fn variety_traces_and_bursts() {
        let (out, truth, summary) = run(4000, 2, GenFormat::Ndjson);
        let catalog = Catalog::build();
        assert!(
            catalog.templates.len() >= 300,
            "only {} templates",
            catalog.templates.len()
        );
        let keys: std::collections::BTreeSet<&str> =
            catalog.templates.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys.len(),
            catalog.templates.len(),
            "template keys must be unique"
        );
        assert!(summary.templates_used > 150, "{summary:?}");

        let truth = String::from_utf8(truth).unwrap();
        let keys: Vec<&str> = truth
            .lines()
            .map(|l| l.split_once('\t').unwrap().1)
            .collect();
        let items: Vec<Value> = std::str::from_utf8(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();

        // Some traces link entries of different templates.
        let mut by_trace: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
            Default::default();
        for (item, key) in items.iter().zip(&keys) {
            if let Some(trace) = item["trace"].as_str() {
                by_trace.entry(trace).or_default().insert(*key);
            }
        }
        assert!(by_trace.values().filter(|k| k.len() > 1).count() > 20);

        // The burst templates pack most of their entries into a few minutes.
        for burst in BURSTS {
            let times: Vec<i64> = items
                .iter()
                .zip(&keys)
                .filter(|(_, k)| **k == burst)
                .map(|(item, _)| parse_ts(item["timestamp"].as_str().unwrap()))
                .collect();
            let dense = times
                .windows(10)
                .filter(|w| w[0] - w[9] < 15 * 60 * NANOS)
                .count();
            assert!(dense > 0, "{burst} never bursts");
        }

        // Zipf-like: the most common template dwarfs the median one.
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for k in &keys {
            *counts.entry(*k).or_default() += 1;
        }
        let mut counts: Vec<usize> = counts.into_values().collect();
        counts.sort_unstable();
        assert!(counts[counts.len() - 1] > 20 * counts[counts.len() / 2]);
    }

    #[test]
    fn every_template_renders() {
        let catalog = Catalog::build();
        let mut rng = Rng(9);
        let env = Env {
            start_ns: 0,
            span_ns: 1000 * NANOS,
            instances: instance_ids(&mut rng),
            id_salt: 1,
        };
        for t in &catalog.templates {
            let vars = Vars::new(&mut rng);
            let v = build_entry(&mut rng, &env, t, 500 * NANOS, &vars, false, "x".repeat(16));
            assert!(!v.to_string().contains("${"), "{}: {v}", t.key);
        }
    }

    #[test]
    fn tiny_and_degenerate_spans() {
        for (entries, span) in [(1, 0), (7, 0), (50, 1), (300, 60)] {
            let opts = GenOptions {
                entries,
                span_secs: span,
                format: GenFormat::Ndjson,
                ..GenOptions::default()
            };
            let mut out = Vec::new();
            let summary = generate(&opts, &mut out, None).unwrap();
            assert_eq!(summary.entries, entries);
            let mut prev = i64::MAX;
            for line in std::str::from_utf8(&out).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                let ts = parse_ts(v["timestamp"].as_str().unwrap());
                assert!(ts <= prev && ts <= opts.end_unix * NANOS);
                assert!(ts >= (opts.end_unix - span) * NANOS);
                prev = ts;
            }
        }
    }

    /// Entries of an NDJSON run with their truth keys.
    fn entries_with_keys(opts: &GenOptions) -> Vec<(Value, String)> {
        let mut out = Vec::new();
        let mut truth = Vec::new();
        generate(opts, &mut out, Some(&mut truth)).unwrap();
        let items = std::str::from_utf8(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap());
        let keys = std::str::from_utf8(&truth)
            .unwrap()
            .lines()
            .map(|l| l.split_once('\t').unwrap().1.to_string());
        items.zip(keys).collect()
    }

    fn ts_of(item: &Value) -> i64 {
        parse_ts(item["timestamp"].as_str().unwrap())
    }

    #[test]
    fn timeline_knots_run_down_in_time() {
        let catalog = Catalog::build();
        for seed in 0..200 {
            let mut rng = Rng(seed);
            for (n, span) in [(3000, 6 * 3600), (40, 60), (100_000, 2 * 86_400), (50, 0)] {
                let span = span * NANOS;
                let spike = (seed % 7 == 0).then_some(3);
                let t = Timeline::new(n, span, &catalog, spike, &mut rng);
                for w in t.knots.windows(2) {
                    assert!(w[0].0 <= w[1].0 && w[0].1 >= w[1].1, "{:?}", t.knots);
                }
                if n >= 1000 {
                    assert_eq!(t.windows.len(), if spike.is_some() { 1 } else { 3 });
                }
            }
        }
    }

    #[test]
    fn the_outage_is_one_window_of_circuit_open_call_sites() {
        let catalog = Catalog::build();
        assert!(
            catalog.outage.len() >= 8,
            "{} call sites",
            catalog.outage.len()
        );
        // Circuit-open is never background.
        for t in &catalog.templates {
            assert_eq!(
                t.key.ends_with(":circuit-open"),
                t.circuit.is_some(),
                "{}",
                t.key
            );
            if t.circuit.is_some() {
                assert_eq!(t.weight, 0, "{}", t.key);
            }
        }
        let requests: Vec<&str> = catalog
            .outage_requests
            .iter()
            .map(|&t| catalog.templates[t].key.as_str())
            .collect();
        for seed in [1, 2, 7, 13] {
            let opts = GenOptions {
                entries: 4000,
                seed,
                span_secs: 6 * 3600,
                format: GenFormat::Ndjson,
                ..GenOptions::default()
            };
            let all = entries_with_keys(&opts);
            let outage: Vec<&(Value, String)> = all
                .iter()
                .filter(|(_, k)| k.ends_with(":circuit-open") || requests.contains(&k.as_str()))
                .collect();
            // 2.5 % of the entries, within 25 minutes in the newer half of the span.
            assert!(
                (95..=100).contains(&outage.len()),
                "seed {seed}: {}",
                outage.len()
            );
            let times: Vec<i64> = outage.iter().map(|(v, _)| ts_of(v)).collect();
            let (newest, oldest) = (times[0], times[times.len() - 1]);
            assert!(newest - oldest <= 25 * 60 * NANOS, "seed {seed}");
            assert!(newest - oldest >= 15 * 60 * NANOS, "seed {seed}");
            assert!(oldest >= (opts.end_unix - 3 * 3600) * NANOS, "seed {seed}");

            let mut sites = std::collections::BTreeSet::new();
            let mut services = std::collections::BTreeSet::new();
            let mut site_traces = std::collections::BTreeMap::new();
            for (v, k) in &outage {
                if k.ends_with(":circuit-open") {
                    let message = v["jsonPayload"]["message"].as_str().unwrap();
                    assert!(
                        message.contains("circuit breaker open for postgres, rejecting for "),
                        "{message}"
                    );
                    sites.insert(k.as_str());
                    let svc = v["resource"]["labels"]["service_name"].as_str().unwrap();
                    services.insert(svc);
                    if let Some(trace) = v["trace"].as_str() {
                        site_traces.insert(trace, (svc, ts_of(v)));
                    }
                }
            }
            assert!(sites.len() >= 6, "seed {seed}: {sites:?}");
            assert_eq!(services.len(), 2, "seed {seed}");
            // Each 503 follows a circuit-open log of its service in its trace: about half the
            // outage's entries are in such pairs.
            let mut chained = 0;
            for (v, k) in &outage {
                if requests.contains(&k.as_str()) {
                    let svc = v["resource"]["labels"]["service_name"].as_str().unwrap();
                    let (site_svc, site_ts) = site_traces[v["trace"].as_str().unwrap()];
                    assert_eq!(site_svc, svc, "seed {seed}: {k}");
                    assert!(site_ts <= ts_of(v));
                    chained += 2;
                }
            }
            assert!(
                (30..=70).contains(&(chained * 100 / outage.len())),
                "seed {seed}: {chained} of {}",
                outage.len()
            );
        }

        // A spike replaces the outage.
        let opts = GenOptions {
            entries: 4000,
            span_secs: 6 * 3600,
            format: GenFormat::Ndjson,
            spike: Some("high-buffer-utilization".to_string()),
            ..GenOptions::default()
        };
        let all = entries_with_keys(&opts);
        assert!(!all.iter().any(|(_, k)| k.ends_with(":circuit-open")));
        assert!(!all.iter().any(|(_, k)| requests.contains(&k.as_str())));
    }

    #[test]
    fn the_legacy_message_error_leads_its_chain() {
        let opts = GenOptions {
            entries: 4000,
            seed: 3,
            format: GenFormat::Ndjson,
            ..GenOptions::default()
        };
        let all = entries_with_keys(&opts);
        let mut by_trace: std::collections::BTreeMap<&str, Vec<(i64, &str)>> = Default::default();
        for (v, k) in &all {
            if let Some(trace) = v["trace"].as_str() {
                by_trace.entry(trace).or_default().push((ts_of(v), k));
            }
        }
        let chain = [
            "GET /websocket 101",
            "ws-legacy-message-type",
            "golden-path-loop-crash",
            "golden-path-loop-error-context",
            "ws-close-after-close",
        ];
        let mut chains = 0;
        for entries in by_trace.values() {
            let keys: Vec<&str> = entries.iter().rev().map(|&(_, k)| k).collect();
            if keys.contains(&"golden-path-loop-crash") {
                assert!(!keys.contains(&"golden-path-auth-permissive"), "{keys:?}");
                assert!(!keys.contains(&"main-mode-loop-error"), "{keys:?}");
            }
            if keys.contains(&"ws-legacy-message-type") && keys.len() > 1 {
                // Oldest first, in the chain's order.
                assert_eq!(keys, chain, "{entries:?}");
                chains += 1;
            }
        }
        let legacy: Vec<&Value> = all
            .iter()
            .filter(|(_, k)| k == "ws-legacy-message-type")
            .map(|(v, _)| v)
            .collect();
        assert!(chains >= 10, "{chains}");
        assert!(chains * 2 > legacy.len(), "{chains} of {}", legacy.len());
        let chained_types = legacy
            .iter()
            .filter(|v| v["trace"].as_str().is_some_and(|t| by_trace[t].len() > 1))
            .all(|v| {
                v["jsonPayload"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Invalid message type 'legacy_response'")
            });
        assert!(chained_types);
    }

    #[test]
    fn problems_truth_lists_what_was_emitted() {
        let dir = tempfile::tempdir().unwrap();
        for (entries, spike) in [(3000, None), (12, None), (2000, Some("ws-heartbeat-ack"))] {
            let path = dir.path().join(format!("problems-{entries}.json"));
            let opts = GenOptions {
                entries,
                seed: 7,
                span_secs: 6 * 3600,
                format: GenFormat::Ndjson,
                spike: spike.map(str::to_string),
                problems_truth: Some(path.clone()),
                ..GenOptions::default()
            };
            let all = entries_with_keys(&opts);
            let emitted: std::collections::BTreeSet<&str> =
                all.iter().map(|(_, k)| k.as_str()).collect();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("{\n  \"planted\": [") && text.ends_with("}\n"));
            let truth: Value = serde_json::from_str(&text).unwrap();
            let planted = truth["planted"].as_array().unwrap();
            let mut outages = 0;
            for p in planted {
                let keys: Vec<&str> = p["templates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap())
                    .collect();
                assert!(!keys.is_empty());
                assert!(keys.iter().all(|k| emitted.contains(k)), "{p}");
                match p["kind"].as_str().unwrap() {
                    "chain" => {
                        let def = CHAINS.iter().find(|c| c.name == p["name"]).unwrap();
                        // A subsequence of the chain, in its order.
                        let mut rest = def.steps.iter();
                        assert!(keys.iter().all(|k| rest.any(|s| s == k)), "{p}");
                    }
                    "outage" => {
                        outages += 1;
                        assert_eq!(p["name"], "postgres-outage");
                        let sites: std::collections::BTreeSet<&str> = emitted
                            .iter()
                            .copied()
                            .filter(|k| k.ends_with(":circuit-open"))
                            .collect();
                        let listed: std::collections::BTreeSet<&str> = keys
                            .iter()
                            .copied()
                            .filter(|k| k.ends_with(":circuit-open"))
                            .collect();
                        assert_eq!(listed, sites);
                        assert!(
                            keys.iter()
                                .all(|k| k.ends_with(":circuit-open") || k.ends_with(" 503"))
                        );
                    }
                    other => panic!("kind {other}"),
                }
            }
            match (entries, spike) {
                (3000, None) => {
                    assert_eq!(outages, 1);
                    for name in [
                        "legacy-message-loop-crash",
                        "auth-session-check-undefined",
                        "service-token-invalid",
                    ] {
                        assert!(planted.iter().any(|p| p["name"] == name), "{name}");
                    }
                    assert!(planted.len() >= CHAINS.len() - 2, "{truth}");
                }
                (12, _) => assert!(planted.len() < 4, "{truth}"),
                _ => assert_eq!(outages, 0),
            }
        }
        // A file that cannot be created fails before any output.
        let opts = GenOptions {
            problems_truth: Some(dir.path().join("missing/problems.json")),
            ..GenOptions::default()
        };
        let mut out = Vec::new();
        let err = generate(&opts, &mut out, None).unwrap_err();
        assert!(err.to_string().contains("missing/problems.json"), "{err}");
        assert!(out.is_empty());
    }
}
