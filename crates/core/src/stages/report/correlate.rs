//! The correlate step: groups finished clusters into *problems* — a lead cluster (the likely
//! root) and the clusters it drags along — so the worklog and GitHub speak of a handful of
//! problems, not hundreds of templates. It runs after aggregation (on final ids) and before
//! prioritization, which judges each problem as one.
//!
//! Four kinds of evidence link two clusters:
//!
//! - **Shared traces.** One request touched both (the clusters' bottom-k trace sketches share
//!   trace ids). The cluster whose entry came first in most shared traces is the likely cause.
//!   A member needs `correlate.min_shared_traces` shared traces, and the lead must have at
//!   least `min_trace_share` of the member's traces: the lead explains most of the member (a
//!   websocket rejection that follows several causes belongs to none of them).
//! - **Bursts together.** Entries are binned (`burst_bin`, from the per-second counts). For
//!   two clusters with `a` and `b` busy bins out of `T`, sharing `c`, the chance of `c` or more
//!   shared bins were they independent is the hypergeometric tail; below `burst_max_p` they
//!   are linked. Clusters that run all day share most bins by necessity, so they never are.
//! - **A common cause phrase.** The words after the last variable part or clause boundary
//!   (`…: circuit breaker open for postgres, rejecting for <*>` → `circuit breaker open for
//!   postgres, rejecting for`), or the exception type of a stack trace.
//! - **The same location.** The same log statement (`module:function:line`), or for request
//!   logs the same route with the same status class.
//!
//! **Grouping.** Only *eligible* clusters group: severity WARNING or worse, or HTTP 4xx/5xx;
//! successful requests and INFO/DEBUG clusters never lead and never join (each is a problem of
//! its own). Clusters naming one cause or logged by one statement are first one *unit* (their
//! traces and busy bins pooled, so an outage's call sites link to its 503s as one). Units are
//! taken as leads in order — roots first (a unit that another one explains through shared
//! traces is a follower), then most severe, first to start, most entries, smallest id — and
//! each lead takes every unassigned unit with direct evidence to *it*. A member therefore
//! always has evidence to its lead: no chains of weak links. Every cluster ends in exactly one
//! problem.
//!
//! **Ids.** A problem's id is `xxh3_64("problem" ␟ lead id)`; the state store remembers it per
//! cluster so that a problem keeps its id when members join or the lead changes
//! ([`keep_ids`]). All of it is deterministic: the same problems for any input order, worker
//! count, or `gardener merge` of parts.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::config::CorrelateConfig;
use crate::model::record::{Cluster, Evidence, Severity, TraceSketch};
use crate::stages::report::related::{SharedTraces, shared_pairs_of};

use crate::model::time::{NANOS, Timestamp};
/// Bins the burst test looks at, at most (the bin widens for longer inputs).
const MAX_BINS: i64 = 4096;

/// A group of clusters: indices into the cluster list, the lead first.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub id: u64,
    pub members: Vec<usize>,
    /// Evidence per member other than the lead, in `members` order (without the lead).
    pub links: Vec<Vec<Evidence>>,
}

impl Problem {
    pub fn lead(&self) -> usize {
        self.members[0]
    }
}

/// The id of a problem first led by cluster `lead`.
pub fn problem_id(lead: u64) -> u64 {
    let mut key = *b"problem\x1f0000000000000000";
    key[8..].copy_from_slice(crate::stages::fingerprint::format_id(lead).as_bytes());
    xxhash_rust::xxh3::xxh3_64(&key)
}

/// Groups `clusters` into problems (every cluster in exactly one), most severe leads first.
/// `reference` is the time windows count back from (bins end there).
pub fn problems(
    clusters: &[Cluster],
    reference: Option<i64>,
    cfg: &CorrelateConfig,
) -> Vec<Problem> {
    let eligible: Vec<bool> = clusters.iter().map(is_eligible).collect();
    let units = units(clusters, &eligible, cfg);
    let traces = trace_links(&units, cfg);
    let bursts = by_unit(burst_links(clusters, &units, reference, cfg), units.len());

    let mut followers = vec![false; units.len()];
    for &(_, member) in traces.keys() {
        followers[member] = true;
    }
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&u| (followers[u], units[u].rank));

    let mut assigned = vec![false; units.len()];
    let mut out = Vec::new();
    for lead in order {
        if assigned[lead] {
            continue;
        }
        assigned[lead] = true;
        // Units with direct evidence to the lead unit.
        let mut found: BTreeMap<usize, Vec<Evidence>> = BTreeMap::new();
        for (&(_, m), e) in traces.range((lead, 0)..(lead + 1, 0)) {
            found.entry(m).or_default().push(e.clone());
        }
        for (m, e) in &bursts[lead] {
            found.entry(*m).or_default().push(e.clone());
        }
        found.retain(|m, _| !assigned[*m]);
        for m in found.keys() {
            assigned[*m] = true;
        }
        out.push(assemble(clusters, &units, lead, found));
    }
    out
}

/// Burst links per unit, each told from that unit's side (its bins as the lead's).
fn by_unit(links: BTreeMap<(usize, usize), Evidence>, n: usize) -> Vec<Vec<(usize, Evidence)>> {
    let mut out = vec![Vec::new(); n];
    for ((a, b), e) in links {
        if let Evidence::Burst {
            together,
            lead_bins,
            member_bins,
            bins,
            bin_secs,
            p,
        } = e
        {
            let swapped = Evidence::Burst {
                together,
                lead_bins: member_bins,
                member_bins: lead_bins,
                bins,
                bin_secs,
                p,
            };
            out[a].push((b, e));
            out[b].push((a, swapped));
        }
    }
    out
}

/// Clusters that are one thing: eligible clusters naming the same cause (phrase or exception
/// type) or logged by the same statement (or route and status class) are joined; every other
/// cluster is a unit of its own.
struct Unit<'a> {
    /// Indices into the clusters, the unit's lead first.
    members: Vec<usize>,
    /// Why each member (after the first) is in the unit.
    ties: Vec<Vec<Evidence>>,
    eligible: bool,
    rank: Rank,
    traces: Cow<'a, TraceSketch>,
}

type Rank = (
    std::cmp::Reverse<Severity>,
    i64,
    std::cmp::Reverse<u64>,
    u64,
);

fn units<'a>(clusters: &'a [Cluster], eligible: &[bool], cfg: &CorrelateConfig) -> Vec<Unit<'a>> {
    let causes: Vec<Option<String>> = clusters
        .iter()
        .zip(eligible)
        .map(|(c, &e)| e.then(|| cause_phrase(&c.template, cfg)).flatten())
        .collect();
    let mut places: Vec<Option<String>> = clusters
        .iter()
        .zip(eligible)
        .map(|(c, &e)| e.then(|| location_key(c)).flatten())
        .collect();
    // A location many templates share is a logging wrapper, not one statement.
    let crowded: std::collections::BTreeSet<String> = index_by(&places)
        .into_iter()
        .filter(|(_, v)| v.len() > MAX_TEMPLATES_PER_LOCATION)
        .map(|(k, _)| k.to_string())
        .collect();
    for p in places.iter_mut() {
        if p.as_ref().is_some_and(|k| crowded.contains(k)) {
            *p = None;
        }
    }
    let mut root: Vec<usize> = (0..clusters.len()).collect();
    fn find(root: &mut [usize], mut i: usize) -> usize {
        while root[i] != i {
            root[i] = root[root[i]];
            i = root[i];
        }
        i
    }
    for keys in [&causes, &places] {
        for group in index_by(keys).into_values() {
            for w in group.windows(2) {
                let (a, b) = (find(&mut root, w[0]), find(&mut root, w[1]));
                root[a.max(b)] = a.min(b);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..clusters.len() {
        let r = find(&mut root, i);
        groups.entry(r).or_default().push(i);
    }
    groups
        .into_values()
        .map(|mut members| {
            members.sort_by_key(|&i| rank(&clusters[i]));
            let lead = members[0];
            let ties = members[1..]
                .iter()
                .map(|&m| {
                    // What it shares with the lead; else (tied through another member) its own
                    // cause and location.
                    let shared = |k: &[Option<String>]| k[m] == k[lead];
                    let all = !(shared(&causes) || shared(&places));
                    let mut e = Vec::new();
                    if let Some(phrase) = causes[m].as_ref().filter(|_| all || shared(&causes)) {
                        e.push(Evidence::Cause {
                            phrase: phrase.clone(),
                        });
                    }
                    if let Some(place) = places[m].as_ref().filter(|_| all || shared(&places)) {
                        e.push(Evidence::Location {
                            location: place.clone(),
                        });
                    }
                    e
                })
                .collect();
            // A unit of one borrows its cluster's sketch; only groups build a union.
            let traces = if members.len() == 1 {
                Cow::Borrowed(&clusters[lead].traces)
            } else {
                let mut union = TraceSketch::new(clusters[lead].traces.k);
                for &m in &members {
                    union.merge(clusters[m].traces.clone());
                }
                Cow::Owned(union)
            };
            Unit {
                rank: members
                    .iter()
                    .map(|&m| rank(&clusters[m]))
                    .min()
                    .unwrap_or_else(|| rank(&clusters[lead])),
                eligible: eligible[lead],
                members,
                ties,
                traces,
            }
        })
        .collect()
}

/// Templates a location may have before it counts as a logging wrapper rather than one
/// statement.
const MAX_TEMPLATES_PER_LOCATION: usize = 4;

/// A problem from its lead unit and the units linked to it: the lead unit's clusters first,
/// then the others by entries; each member with its evidence.
fn assemble(
    clusters: &[Cluster],
    units: &[Unit],
    lead: usize,
    found: BTreeMap<usize, Vec<Evidence>>,
) -> Problem {
    let u = &units[lead];
    let mut members: Vec<(usize, Vec<Evidence>)> = u.members[1..]
        .iter()
        .copied()
        .zip(u.ties.iter().cloned())
        .collect();
    for (m, link) in found {
        let other = &units[m];
        for (k, &c) in other.members.iter().enumerate() {
            let mut e = link.clone();
            if k > 0 {
                e.extend(other.ties[k - 1].iter().cloned());
            }
            members.push((c, e));
        }
    }
    members.sort_by(|(a, _), (b, _)| {
        (clusters[*b].count, clusters[*a].id).cmp(&(clusters[*a].count, clusters[*b].id))
    });
    Problem {
        id: problem_id(clusters[u.members[0]].id),
        members: std::iter::once(u.members[0])
            .chain(members.iter().map(|m| m.0))
            .collect(),
        links: members.into_iter().map(|m| m.1).collect(),
    }
}

/// Keeps problem ids across runs: `remembered` maps a cluster id to the problem id it had. A
/// problem takes its lead's remembered id, else the id most of its members remember (ties: the
/// smaller id), else its own; never one an earlier problem (in `problems` order) took, so ids
/// stay unique (a clash falls back to a fresh id derived from the lead).
pub fn keep_ids(problems: &mut [Problem], clusters: &[Cluster], remembered: &HashMap<u64, u64>) {
    let mut taken = std::collections::HashSet::new();
    for p in problems.iter_mut() {
        let lead_id = clusters[p.lead()].id;
        let lead = remembered.get(&lead_id).copied();
        let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
        for &m in &p.members {
            if let Some(&id) = remembered.get(&clusters[m].id) {
                *votes.entry(id).or_default() += 1;
            }
        }
        let voted = votes
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(id, _)| *id);
        let fresh = (1u64..).map(|n| problem_id(lead_id ^ n));
        p.id = lead
            .into_iter()
            .chain(voted)
            .chain(std::iter::once(problem_id(lead_id)))
            .chain(fresh)
            .find(|id| !taken.contains(id))
            .unwrap_or(p.id);
        taken.insert(p.id);
    }
}

/// Severity WARNING or worse, or a request answered 4xx/5xx; never a successful request.
pub fn is_eligible(c: &Cluster) -> bool {
    let failed_request = c.http_statuses.keys().any(|&s| s >= 400);
    let successful_request = !c.http_statuses.is_empty() && !failed_request;
    !successful_request && (failed_request || c.max_severity() >= Severity::Warning)
}

/// Sort key of a would-be lead: most severe, first to start, most entries, smallest id.
fn rank(c: &Cluster) -> Rank {
    (
        std::cmp::Reverse(c.max_severity()),
        c.first_seen.map_or(i64::MAX, Timestamp::nanos),
        std::cmp::Reverse(c.count),
        c.id,
    )
}

fn index_by(keys: &[Option<String>]) -> BTreeMap<&str, Vec<usize>> {
    let mut m: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        if let Some(k) = k {
            m.entry(k.as_str()).or_default().push(i);
        }
    }
    m
}

/// Strong trace links between eligible units, keyed (lead, member): the lead came first in
/// at least as many shared traces as the member, and has at least `min_trace_share` of the
/// member's traces.
fn trace_links(units: &[Unit], cfg: &CorrelateConfig) -> BTreeMap<(usize, usize), Evidence> {
    let sketches: Vec<&TraceSketch> = units.iter().map(|u| u.traces.as_ref()).collect();
    let mut out = BTreeMap::new();
    for ((a, b), p) in shared_pairs_of(&sketches) {
        if !(units[a].eligible && units[b].eligible) || p.shared < cfg.min_shared_traces {
            continue;
        }
        let limit = sketches[a].complete_to().min(sketches[b].complete_to());
        let flipped = SharedTraces {
            shared: p.shared,
            a_led: p.b_led,
            b_led: p.a_led,
        };
        for (lead, member, q) in [(a, b, p), (b, a, flipped)] {
            let later =
                q.a_led < q.b_led || (q.a_led == q.b_led && units[lead].rank > units[member].rank);
            if later {
                continue;
            }
            let known = sketches[member].count_upto(limit).max(1);
            let share = q.shared as f64 / known as f64;
            if share >= cfg.min_trace_share {
                out.insert(
                    (lead, member),
                    Evidence::Traces {
                        shared: q.shared,
                        share: (share * 1000.0).round() / 1000.0,
                        lead_first: q.a_led,
                        member_first: q.b_led,
                    },
                );
            }
        }
    }
    out
}

/// Pairs of eligible units that burst together (see the module docs), keyed `(a, b)` with
/// `a < b`.
fn burst_links(
    clusters: &[Cluster],
    units: &[Unit],
    reference: Option<i64>,
    cfg: &CorrelateConfig,
) -> BTreeMap<(usize, usize), Evidence> {
    let mut out = BTreeMap::new();
    let Some(end) = reference.map(|r| r.div_euclid(NANOS)) else {
        return out;
    };
    let Some(start) = clusters
        .iter()
        .flat_map(|c| c.per_second.keys().next())
        .min()
        .copied()
    else {
        return out;
    };
    // `--now` before the entries: nothing observed up to the reference.
    if start > end {
        return out;
    }
    let mut bin = cfg.burst_bin_secs();
    while (end - start) / bin + 1 > MAX_BINS {
        bin *= 2;
    }
    let bins = ((end - start) / bin + 1) as usize;
    let words = bins.div_ceil(64);
    let count = |u: &Unit| u.members.iter().map(|&m| clusters[m].count).sum::<u64>();

    // The most frequent eligible units, as bit sets of busy bins.
    let mut candidates: Vec<usize> = (0..units.len())
        .filter(|&u| units[u].eligible && count(&units[u]) >= u64::from(cfg.burst_min_together))
        .collect();
    candidates.sort_by_key(|&u| (std::cmp::Reverse(count(&units[u])), u));
    candidates.truncate(cfg.burst_max_clusters);
    candidates.sort_unstable();
    let sets: Vec<(usize, Vec<u64>, u32)> = candidates
        .into_iter()
        .filter_map(|u| {
            let mut set = vec![0u64; words];
            for &m in &units[u].members {
                for &s in clusters[m].per_second.keys() {
                    if (start..=end).contains(&s) {
                        let b = ((s - start) / bin) as usize;
                        set[b / 64] |= 1 << (b % 64);
                    }
                }
            }
            let busy: u32 = set.iter().map(|w| w.count_ones()).sum();
            (busy >= cfg.burst_min_together).then_some((u, set, busy))
        })
        .collect();
    let ln_fact = ln_factorials(bins);
    for (x, (a, sa, na)) in sets.iter().enumerate() {
        for (b, sb, nb) in &sets[x + 1..] {
            let together: u32 = sa.iter().zip(sb).map(|(p, q)| (p & q).count_ones()).sum();
            if together < cfg.burst_min_together {
                continue;
            }
            let p = hypergeometric_tail(
                &ln_fact,
                bins,
                *na as usize,
                *nb as usize,
                together as usize,
                cfg.burst_max_p,
            );
            if p <= cfg.burst_max_p {
                out.insert(
                    (*a, *b),
                    Evidence::Burst {
                        together,
                        lead_bins: *na,
                        member_bins: *nb,
                        bins: bins as u32,
                        bin_secs: bin,
                        p,
                    },
                );
            }
        }
    }
    out
}

/// `ln k!` for `k` in `0..=n`.
fn ln_factorials(n: usize) -> Vec<f64> {
    let mut v = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    v.push(0.0);
    for k in 1..=n {
        acc += (k as f64).ln();
        v.push(acc);
    }
    v
}

/// P(X ≥ c) for X hypergeometric: `a` marked among `n`, `b` drawn; the sum stops once it
/// passes `stop` (the caller only needs to know it is larger).
fn hypergeometric_tail(ln_fact: &[f64], n: usize, a: usize, b: usize, c: usize, stop: f64) -> f64 {
    let ln_choose = |n: usize, k: usize| ln_fact[n] - ln_fact[k] - ln_fact[n - k];
    let total = ln_choose(n, b);
    let mut p = 0.0;
    for k in c..=a.min(b) {
        if b - k > n - a {
            continue;
        }
        p += (ln_choose(a, k) + ln_choose(n - a, b - k) - total).exp();
        if p > stop {
            break;
        }
    }
    p.min(1.0)
}

/// The cause a template names: the exception type of a stack trace, or the words after the
/// last variable part or clause boundary (`:`, `-`, `,`, `;`, `|`) that still make a phrase of
/// `cause_min_words` words (or two with `cause_min_letters` letters). Lowercased. `None` for
/// request logs and templates with no such phrase.
pub fn cause_phrase(template: &str, cfg: &CorrelateConfig) -> Option<String> {
    if template.starts_with("HTTP ") {
        return None;
    }
    for lang in ["Python ", "Java ", "Go panic "] {
        if let Some(rest) = template.strip_prefix(lang) {
            let ty = rest.split(" at ").next()?;
            return Some(format!("{}{ty}", lang.to_lowercase()));
        }
    }
    let tokens: Vec<&str> = template.split_whitespace().collect();
    let mut end = tokens.len();
    while end > 0 && (is_variable(tokens[end - 1]) || is_punctuation(tokens[end - 1])) {
        end -= 1;
    }
    // Boundaries from the end: the phrase starts right after one.
    for start in (1..end).rev() {
        let prev = tokens[start - 1];
        if !(is_variable(prev) || ends_clause(prev)) {
            continue;
        }
        let phrase = &tokens[start..end];
        let words: Vec<&&str> = phrase.iter().filter(|t| !is_variable(t)).collect();
        let letters: usize = words
            .iter()
            .map(|w| w.chars().filter(|c| c.is_alphabetic()).count())
            .sum();
        let strong = words.len() >= cfg.cause_min_words
            || (words.len() >= 2 && letters >= cfg.cause_min_letters);
        if strong && letters >= 8 && !FUNCTION_WORDS.contains(&phrase[0].to_lowercase().as_str()) {
            let text = phrase.join(" ").to_lowercase();
            return Some(text.trim_end_matches([',', ';', ':', '.']).to_string());
        }
    }
    None
}

/// Words a cause phrase does not start with: it would be the tail of a longer sentence
/// (`… of size <*> from <*>`).
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "per",
    "the", "to", "via", "with",
];

fn is_variable(t: &str) -> bool {
    t.contains("<*>")
}

fn is_punctuation(t: &str) -> bool {
    t.chars().all(|c| c.is_ascii_punctuation())
}

fn ends_clause(t: &str) -> bool {
    t.ends_with([':', ',', ';']) || matches!(t, "-" | "--" | "—" | "|" | "->" | "=>")
}

/// Where a cluster's entries come from: its most frequent `module:function:line` location
/// (with a line), or for request logs the service, method, route and status class.
pub fn location_key(c: &Cluster) -> Option<String> {
    if let Some(rest) = c.template.strip_prefix("HTTP ")
        && let Some((route, status)) = rest.rsplit_once(' ')
    {
        let class = status.chars().next().filter(|d| d.is_ascii_digit())?;
        return Some(format!("{} {route} {class}xx", c.service));
    }
    let (loc, _) = c
        .locations
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    let line = loc.rsplit(':').next()?;
    (!line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{} {loc}", c.service))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> CorrelateConfig {
        CorrelateConfig::default()
    }

    #[test]
    fn cause_phrases_are_what_follows_the_variable_part() {
        let c = cfg();
        let p = |t: &str| cause_phrase(t, &c);
        let breaker = Some("circuit breaker open for postgres, rejecting for".to_string());
        assert_eq!(
            p(
                "Failed to refresh user record <*>... in UserRepository: circuit breaker open for postgres, rejecting for <*>"
            ),
            breaker
        );
        assert_eq!(
            p(
                "[AGENT_RUN] acquire agent run <*> - circuit breaker open for postgres, rejecting for <*>"
            ),
            breaker
        );
        assert_eq!(
            p(
                "ThreadService.load_thread: loading thread <*> circuit breaker open for postgres, rejecting for <*>"
            ),
            breaker
        );
        let upstream = Some("unexpected status <*> from upstream".to_string());
        assert_eq!(
            p("Failed to serialize token <*> in JWTHandler: unexpected status <*> from upstream"),
            upstream
        );
        assert_eq!(
            p("EventRouter.acquire_event: acquiring event <*> unexpected status <*> from upstream"),
            upstream
        );
        assert_eq!(
            p("cache miss: redis unavailable"),
            Some("redis unavailable".into())
        );
        assert_eq!(
            p("Python KeyError at a.py:f < b.py:g"),
            Some("python KeyError".into())
        );
        // No boundary, too short, request logs: no phrase.
        assert_eq!(p("Received block <*> of size <*> from <*>"), None);
        assert_eq!(p("job <*>: done"), None);
        assert_eq!(p("HTTP GET /x: a b c d 503"), None);
    }

    #[test]
    fn hypergeometric_tail_matches_small_cases() {
        let lf = ln_factorials(10);
        // 3 marked of 10, draw 3, all 3 marked: 1 / C(10,3) = 1/120.
        assert!((hypergeometric_tail(&lf, 10, 3, 3, 3, 1.0) - 1.0 / 120.0).abs() < 1e-12);
        // Past `stop` the sum may end early, but never below `stop`.
        assert!(hypergeometric_tail(&lf, 10, 4, 5, 0, 0.01) > 0.01);
        // P(X >= 0) = 1.
        assert!((hypergeometric_tail(&lf, 10, 4, 5, 0, 1.0) - 1.0).abs() < 1e-9);
    }

    fn cluster(id: u64, sev: Severity, template: &str, seconds: &[i64]) -> Cluster {
        let mut c: Cluster = serde_json::from_value(serde_json::json!({"id": id,
            "template": template, "scope": "svc", "service": "svc", "count": seconds.len(),
            "first_seen": seconds.first().map(|s| s * NANOS), "last_seen": seconds.last().map(|s| s * NANOS),
            "severities": [0,0,0,0,0,0,0,0,0],
            "revisions": {}, "locations": {}, "per_second": [], "series": [], "samples": [],
            "http_statuses": {}, "latency_us": null, "traces": {"k": 64, "marks": []}}))
        .unwrap();
        c.severities[sev.index()] = seconds.len() as u64;
        for &s in seconds {
            *c.per_second.entry(s).or_default() += 1;
        }
        c
    }

    #[test]
    fn bursts_together_link_and_steady_clusters_stay_apart() {
        let day: Vec<i64> = (0..360).map(|m| m * 60).collect();
        let outage: Vec<i64> = (200..215).map(|m| m * 60 + 5).collect();
        let clusters = vec![
            cluster(1, Severity::Error, "steady one failed: disk quota", &day),
            cluster(2, Severity::Error, "steady two: lock held", &day),
            cluster(3, Severity::Critical, "alpha write stalled", &outage),
            cluster(4, Severity::Error, "beta read stalled", &outage[2..]),
        ];
        let got = problems(&clusters, Some(359 * 60 * NANOS), &cfg());
        let groups: Vec<Vec<u64>> = got
            .iter()
            .map(|p| p.members.iter().map(|&i| clusters[i].id).collect())
            .collect();
        assert_eq!(groups, vec![vec![3, 4], vec![1], vec![2]]);
        assert!(matches!(
            got[0].links[0][0],
            Evidence::Burst { together: 13, .. }
        ));
    }

    #[test]
    fn successful_requests_and_info_never_group() {
        let outage: Vec<i64> = (200..215).map(|m| m * 60 + 5).collect();
        let mut ok = cluster(2, Severity::Info, "HTTP GET /x 200", &outage);
        ok.http_statuses.insert(200, 15);
        let clusters = vec![
            cluster(1, Severity::Error, "x failed", &outage),
            ok,
            cluster(3, Severity::Info, "x retried", &outage),
        ];
        let got = problems(&clusters, Some(359 * 60 * NANOS), &cfg());
        assert!(got.iter().all(|p| p.members.len() == 1), "{got:?}");
    }

    #[test]
    fn kept_ids_follow_the_lead_or_the_members() {
        let clusters = vec![
            cluster(1, Severity::Error, "a", &[1]),
            cluster(2, Severity::Error, "b", &[1]),
            cluster(3, Severity::Error, "c", &[1]),
        ];
        let mut ps = vec![
            Problem {
                id: problem_id(1),
                members: vec![0, 1],
                links: vec![vec![]],
            },
            Problem {
                id: problem_id(3),
                members: vec![2],
                links: vec![],
            },
        ];
        // Cluster 2 (a member now) led problem 77 before; cluster 3 also claims it.
        let remembered = HashMap::from([(2, 77), (3, 77)]);
        keep_ids(&mut ps, &clusters, &remembered);
        assert_eq!(ps[0].id, 77);
        assert_eq!(ps[1].id, problem_id(3), "an id is kept by one problem only");
        // A problem whose own default id an earlier problem took gets a fresh one.
        let mut ps = vec![
            Problem {
                id: problem_id(2),
                members: vec![1],
                links: vec![],
            },
            Problem {
                id: problem_id(1),
                members: vec![0],
                links: vec![],
            },
        ];
        let remembered = HashMap::from([(2, problem_id(1)), (1, problem_id(1))]);
        keep_ids(&mut ps, &clusters, &remembered);
        assert_eq!(ps[0].id, problem_id(1));
        assert_ne!(ps[1].id, ps[0].id, "ids stay unique");
        assert_eq!(ps[1].id, problem_id(1 ^ 1));
    }
}
