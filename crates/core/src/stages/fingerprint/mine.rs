//! Template mining: the second, whole-run half of fingerprinting.
//!
//! Masking (see [`super::mask`]) judges each message alone, so it cannot see variables that are
//! plain words: user names (`session opened for user news`), states (`transition running ->
//! failed`), agent names. Mining looks at the *set* of distinct masked templates of a run and
//! generalizes a word position when the evidence says it varies:
//!
//! - Templates of one service with the same number of tokens are compared position by position.
//!   Templates that are equal everywhere except at one position `p` form a *bucket*.
//! - A bucket is merged into one template with `<*>` at `p` when the tokens at `p` include a
//!   `<*>` (one member already knows the position is a variable), or when there are at least
//!   [`MIN_DISTINCT`] different words at `p`. Two alternatives (`Accepted` / `Failed password
//!   for ...`) are kept apart: two words at a position are as likely two events as one variable.
//! - Merging repeats until nothing changes, because a generalized template can complete another
//!   bucket.
//!
//! **Determinism.** The result depends only on the set of distinct (service, template) pairs,
//! processed in sorted order: not on input order, batch boundaries or worker counts. A template
//! that is not generalized keeps its id, and the id of a generalized template is the id of its
//! generalized text, computed like any other (`xxh3(service ␟ template)`).
//!
//! **Memory across runs.** The id of a generalized template depends on the data that taught
//! it: a run that sees two user names keeps `login failed for alice` and `login failed for bob`
//! apart, a run that sees three makes `login failed for <*>`. So that an id, once generalized, outlives the data that taught
//! it, every generalized template is remembered ([`Known`], kept in the state store between
//! runs). Before mining, a raw template that a remembered one covers (same scope; equal words,
//! `<*>` standing for one or more tokens) takes the remembered text, and with it the remembered
//! id. Mining then runs as usual; a remembered template can still generalize further, never
//! back. With no memory (`--state none`, `gardener fingerprint`) the result depends on the run
//! alone.
//!
//! **Cost.** It runs once per run over distinct templates (thousands, not millions), in
//! O(templates × tokens) hash operations per round.

use std::collections::{BTreeMap, HashMap};

use super::{VAR, fingerprint_id};
pub use crate::model::id::Known;

/// Distinct words at one position that can make it a variable.
pub const MIN_DISTINCT: usize = 3;

/// How mining tells the values of a variable from a few constant alternatives (`VM Started`,
/// `VM Paused`, `VM Stopped`; `GET`/`POST`/`DELETE`), from how often each word occurs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// From this many distinct words on, a position is a variable however often each occurs.
    pub alternatives_max: usize,
    /// With fewer distinct words (at least [`MIN_DISTINCT`]), the words are constant
    /// alternatives, kept apart, when every one of them stands for at least this many entries:
    /// a statement's fixed set of words recurs, the values of a variable thin out.
    pub alternative_min_entries: u64,
    /// Merge templates that differ only in spans of variables (see `align_spans`).
    pub align_spans: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            alternatives_max: 3,
            alternative_min_entries: 2,
            align_spans: true,
        }
    }
}

impl Settings {
    /// Whether `words` (distinct, each with the entries it stands for) at one position are the
    /// values of a variable.
    fn varies(&self, words: &BTreeMap<&str, u64>) -> bool {
        if words.contains_key(VAR) {
            return true;
        }
        let k = words.len();
        if k < MIN_DISTINCT {
            return false;
        }
        k >= self.alternatives_max || words.values().any(|&n| n < self.alternative_min_entries)
    }
}

/// A generalized template keeps at least half of its tokens (and two) as words: below that
/// it says too little to stand for one event.
fn keeps_enough(tokens: &[String], p: usize) -> bool {
    let words = tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| *i != p && t.as_str() != VAR)
        .count();
    words >= 2 && words * 2 >= tokens.len()
}

/// Request logs (`HTTP METHOD /route STATUS`) are grouped by their structure, and a
/// service's overflow cluster stands for many templates: neither is mined.
fn minable(template: &str) -> bool {
    !template.starts_with("HTTP ") && template != crate::model::record::OVERFLOW_TEMPLATE
}

/// One distinct template before generalization.
#[derive(Clone, Debug)]
pub struct Raw<'a> {
    pub id: u64,
    /// Entries the template stands for.
    pub count: u64,
    /// The template's scope: service, and code location when known (`super::scope`).
    pub service: &'a str,
    pub template: &'a str,
}

/// A template being generalized, with the raw ids it stands for.
struct Node {
    tokens: Vec<String>,
    members: Vec<u64>,
    /// Entries of all members.
    count: u64,
}

/// What mining decided.
#[derive(Debug, Default)]
pub struct Mined {
    /// Raw id → final `(id, template)`, for every raw id given. Ids whose template was not
    /// generalized map to themselves.
    pub finals: HashMap<u64, (u64, String)>,
    /// The generalized templates of this run (remembered ones that matched included), sorted:
    /// what the template memory should keep.
    pub learned: Vec<Known>,
}

/// Returns the final `(id, template)` of every raw id given. Ids whose template was not
/// generalized map to themselves.
pub fn generalize(raws: &[Raw<'_>]) -> HashMap<u64, (u64, String)> {
    generalize_with(raws, &[]).finals
}

/// [`generalize`], starting from the templates remembered from earlier runs (see the module
/// docs).
pub fn generalize_with(raws: &[Raw<'_>], known: &[Known]) -> Mined {
    generalize_tuned(raws, known, &Settings::default())
}

/// [`generalize_with`] with other [`Settings`] (for evaluation).
pub fn generalize_tuned(raws: &[Raw<'_>], known: &[Known], settings: &Settings) -> Mined {
    let memory = Memory::new(known);
    let counts: HashMap<u64, u64> = raws.iter().map(|r| (r.id, r.count)).collect();
    // Group by service and token count; BTreeMap keeps the processing order fixed.
    let mut groups: BTreeMap<(&str, usize), BTreeMap<&str, Vec<u64>>> = BTreeMap::new();
    let mut out = Mined {
        finals: HashMap::with_capacity(raws.len()),
        learned: Vec::new(),
    };
    // Raw id → its own template, to tell generalized finals from unchanged ones.
    let mut own: HashMap<u64, &str> = HashMap::with_capacity(raws.len());
    // Request templates by scope, method, status and path depth.
    let mut requests: BTreeMap<(&str, Vec<&str>), Templates> = BTreeMap::new();
    for r in raws {
        own.insert(r.id, r.template);
        if !minable(r.template) {
            match request_shape(r.template) {
                Some(shape) => requests
                    .entry((r.service, shape))
                    .or_default()
                    .entry(r.template)
                    .or_default()
                    .push(r.id),
                None => {
                    out.finals.insert(r.id, (r.id, r.template.to_string()));
                }
            }
            continue;
        }
        let template = memory.cover(r.service, r.template).unwrap_or(r.template);
        let n = template.split(' ').count();
        groups
            .entry((r.service, n))
            .or_default()
            .entry(template)
            .or_default()
            .push(r.id);
    }
    // Every scope's templates after merging within each length.
    let mut mined: BTreeMap<&str, Vec<(String, Vec<u64>)>> = BTreeMap::new();
    for ((service, _), templates) in requests {
        mined
            .entry(service)
            .or_default()
            .extend(absorb_routes(templates));
    }
    for ((service, n), templates) in groups {
        let mut nodes: Vec<Node> = templates
            .into_iter()
            .map(|(t, members)| Node {
                tokens: t.split(' ').map(str::to_string).collect(),
                count: members.iter().map(|m| counts[m]).sum(),
                members,
            })
            .collect();
        if nodes.len() > 1 && n > 1 {
            merge_group(&mut nodes, n, settings);
        }
        let list = mined.entry(service).or_default();
        list.extend(nodes.into_iter().map(|n| (fold_vars(&n.tokens), n.members)));
    }
    for (service, list) in mined {
        let list = if settings.align_spans {
            align_spans(list)
        } else {
            list
        };
        for (template, mut members) in list {
            members.sort_unstable();
            // A template left as it was keeps its raw id, also when the text mined is its
            // redacted form (redaction runs before mining and must not change an id).
            let id = match members.as_slice() {
                [m] if own[m] == template => *m,
                _ => fingerprint_id(service, &template),
            };
            if members.iter().any(|m| own[m] != template) {
                out.learned.push(Known {
                    scope: service.to_string(),
                    template: template.clone(),
                });
            }
            for m in members {
                out.finals.insert(m, (id, template.clone()));
            }
        }
    }
    out.learned.sort();
    out.learned.dedup();
    out
}

/// Templates (text → raw ids) of one group.
type Templates<'a> = BTreeMap<&'a str, Vec<u64>>;

/// A request template's (method, status, path depth) as a group key: `HTTP GET /a/<*>/b 200`
/// gives `["GET", "200", "3"]`. `None` for anything else.
fn request_shape(t: &str) -> Option<Vec<&str>> {
    let mut parts = t.split(' ');
    let (Some("HTTP"), Some(method), Some(path), Some(status), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let depth = match path.matches('/').count() {
        0 => "0",
        1 => "1",
        2 => "2",
        3 => "3",
        4 => "4",
        5 => "5",
        _ => "6+",
    };
    Some(vec![method, status, depth])
}

/// Request templates of one method, status and depth: a route with `<*>` at a path segment
/// absorbs the routes that have a word there and agree elsewhere (`/api/agents/supervisor/runs`
/// joins `/api/agents/<*>/runs`: the word is one more value of the segment). Routes are never
/// generalized from words alone: `/api/users`, `/api/orders` and `/api/items` stay apart.
fn absorb_routes(templates: Templates<'_>) -> Vec<(String, Vec<u64>)> {
    let segs = |t: &str| -> Vec<String> {
        let path = t.split(' ').nth(2).unwrap_or("");
        path.split('/').map(str::to_string).collect()
    };
    let list: Vec<(&str, Vec<String>, Vec<u64>)> = templates
        .into_iter()
        .map(|(t, m)| (t, segs(t), m))
        .collect();
    let mut into: Vec<Option<usize>> = vec![None; list.len()];
    for b in 0..list.len() {
        // The most general route that covers b (most `<*>`, then by text): deterministic.
        let mut best: Option<usize> = None;
        for a in 0..list.len() {
            let (sa, sb) = (&list[a].1, &list[b].1);
            if a == b || sa.len() != sb.len() {
                continue;
            }
            let covers = sa.iter().zip(sb).all(|(x, y)| x == y || x == VAR);
            let more =
                sa.iter().filter(|x| *x == VAR).count() > sb.iter().filter(|x| *x == VAR).count();
            if covers && more {
                let vars = |i: usize| list[i].1.iter().filter(|x| *x == VAR).count();
                if best.is_none_or(|c| (vars(a), list[c].0) > (vars(c), list[a].0)) {
                    best = Some(a);
                }
            }
        }
        into[b] = best;
    }
    let mut out: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (i, (_, _, members)) in list.iter().enumerate() {
        // Follow to the route that absorbs it (a chain ends: each step has more `<*>`).
        let mut target = i;
        while let Some(next) = into[target] {
            target = next;
        }
        out.entry(list[target].0)
            .or_default()
            .extend(members.iter().copied());
    }
    out.into_iter().map(|(t, m)| (t.to_string(), m)).collect()
}

/// Whether a token is a variable with nothing but punctuation around it (`<*>`, `(<*>)`,
/// `<*>,`).
fn is_var_span(t: &str) -> bool {
    t.trim_matches(|c: char| c.is_ascii_punctuation() && c != '<' && c != '>' && c != '*') == VAR
}

/// Templates of one scope that differ only in spans of variables (`sent <*> bytes (<*>)` and
/// `sent <*> bytes`: a variable that takes a varying number of tokens) are one statement: they
/// merge into the longest, when their words are at least two and half the tokens of the
/// longest. Deterministic: groups and choices go by text.
fn align_spans(list: Vec<(String, Vec<u64>)>) -> Vec<(String, Vec<u64>)> {
    let mut by_words: BTreeMap<String, Vec<(String, Vec<u64>)>> = BTreeMap::new();
    for (t, members) in list {
        let words: Vec<&str> = t.split(' ').filter(|w| !is_var_span(w)).collect();
        let key = words.join(" ");
        by_words.entry(key).or_default().push((t, members));
    }
    let mut out = Vec::new();
    for (key, mut group) in by_words {
        let words = if key.is_empty() {
            0
        } else {
            key.split(' ').count()
        };
        let longest = group
            .iter()
            .map(|(t, _)| t.split(' ').count())
            .max()
            .unwrap_or(0);
        if group.len() < 2 || words < 2 || words * 2 < longest {
            out.extend(group);
            continue;
        }
        group.sort_by(|a, b| {
            let n = |t: &str| t.split(' ').count();
            n(&b.0).cmp(&n(&a.0)).then_with(|| a.0.cmp(&b.0))
        });
        let mut members: Vec<u64> = Vec::new();
        for (_, m) in &mut group {
            members.append(m);
        }
        out.push((group.swap_remove(0).0, members));
    }
    out
}

/// Remembered templates by scope and first word (`<*>` for those that start with a variable),
/// most specific (most words) first.
struct Memory<'k> {
    by_start: HashMap<(&'k str, &'k str), Vec<Remembered<'k>>>,
}

struct Remembered<'k> {
    text: &'k str,
    tokens: Vec<&'k str>,
    /// Tokens that are not `<*>`, negated so that ascending order puts the most specific first.
    words: std::cmp::Reverse<usize>,
}

impl<'k> Memory<'k> {
    fn new(known: &'k [Known]) -> Memory<'k> {
        let mut by_start: HashMap<(&str, &str), Vec<Remembered>> = HashMap::new();
        for k in known {
            let tokens: Vec<&str> = k.template.split(' ').collect();
            by_start
                .entry((k.scope.as_str(), tokens[0]))
                .or_default()
                .push(Remembered {
                    text: &k.template,
                    words: std::cmp::Reverse(tokens.iter().filter(|t| **t != VAR).count()),
                    tokens,
                });
        }
        for list in by_start.values_mut() {
            // The choice never depends on the order of the memory file.
            list.sort_by(|a, b| (a.words, a.text).cmp(&(b.words, b.text)));
            list.dedup_by(|a, b| a.text == b.text);
        }
        Memory { by_start }
    }

    /// The most specific remembered template that covers `template`, if any.
    fn cover(&self, scope: &str, template: &str) -> Option<&'k str> {
        if self.by_start.is_empty() {
            return None;
        }
        let tokens: Vec<&str> = template.split(' ').collect();
        let mut best: Option<&Remembered<'k>> = None;
        for start in [tokens[0], VAR] {
            let Some(list) = self.by_start.get(&(scope, start)) else {
                continue;
            };
            if let Some(k) = list.iter().find(|k| covers(&k.tokens, &tokens))
                && best.is_none_or(|b| (k.words, k.text) < (b.words, b.text))
            {
                best = Some(k);
            }
        }
        best.map(|k| k.text)
    }
}

/// Whether `pattern` matches `tokens` word for word, each `<*>` standing for one or more
/// tokens (a raw template's own `<*>` included).
fn covers(pattern: &[&str], tokens: &[&str]) -> bool {
    // reach[j]: the first i pattern tokens can match the first j tokens.
    let mut reach = vec![false; tokens.len() + 1];
    reach[0] = true;
    for p in pattern {
        let mut next = vec![false; tokens.len() + 1];
        if *p == VAR {
            // One or more tokens: next[j] when reach[k] for some k < j.
            let mut any = false;
            for j in 1..=tokens.len() {
                any |= reach[j - 1];
                next[j] = any;
            }
        } else {
            for j in 1..=tokens.len() {
                next[j] = reach[j - 1] && tokens[j - 1] == *p;
            }
        }
        if !next.iter().any(|x| *x) {
            return false;
        }
        reach = next;
    }
    reach[tokens.len()]
}

/// Joins tokens, folding runs of `<*>` into one (as the masker does).
fn fold_vars(tokens: &[String]) -> String {
    let mut s = String::new();
    for t in tokens {
        if t == VAR && s.ends_with(VAR) {
            continue;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(t);
    }
    s
}

/// Above this many templates in one (service, length) group, only the hash-bucket step runs
/// (the pairwise step is quadratic).
const PAIRWISE_LIMIT: usize = 3000;

fn merge_group(nodes: &mut Vec<Node>, n: usize, settings: &Settings) {
    loop {
        let mut changed = bucket_round(nodes, n, settings);
        if nodes.len() <= PAIRWISE_LIMIT {
            changed |= pairwise_round(nodes, settings);
        }
        if !changed {
            break;
        }
    }
    for node in nodes.iter_mut() {
        node.members.sort_unstable();
    }
}

/// Moves the members of `from` into `into` and removes `from`s, keeping order.
fn absorb(nodes: &mut [Node], into: usize, from: &[usize], gone: &mut [bool]) {
    for &i in from {
        let mut m = std::mem::take(&mut nodes[i].members);
        nodes[into].members.append(&mut m);
        nodes[into].count += std::mem::take(&mut nodes[i].count);
        gone[i] = true;
    }
}

fn drop_gone(nodes: &mut Vec<Node>, gone: &[bool]) {
    let mut i = 0;
    nodes.retain(|_| {
        let keep = !gone[i];
        i += 1;
        keep
    });
}

/// Step 1: nodes equal everywhere but at one position, found by hashing.
fn bucket_round(nodes: &mut Vec<Node>, n: usize, settings: &Settings) -> bool {
    let mut changed = false;
    for p in 0..n {
        let mut buckets: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
        for (i, node) in nodes.iter().enumerate() {
            let key: Vec<&str> = node
                .tokens
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != p)
                .map(|(_, t)| t.as_str())
                .collect();
            buckets.entry(key).or_default().push(i);
        }
        let mut merges: Vec<Vec<usize>> = Vec::new();
        for members in buckets.into_values() {
            if members.len() < 2 {
                continue;
            }
            let mut words: BTreeMap<&str, u64> = BTreeMap::new();
            for &i in &members {
                *words.entry(nodes[i].tokens[p].as_str()).or_default() += nodes[i].count;
            }
            if settings.varies(&words) && keeps_enough(&nodes[members[0]].tokens, p) {
                merges.push(members);
            }
        }
        if merges.is_empty() {
            continue;
        }
        changed = true;
        let mut gone = vec![false; nodes.len()];
        for members in merges {
            absorb(nodes, members[0], &members[1..], &mut gone);
            nodes[members[0]].tokens[p] = VAR.to_string();
        }
        drop_gone(nodes, &gone);
    }
    changed
}

/// Step 2: `<*>` matches any word. A node that another node covers entirely is absorbed by it;
/// nodes that differ from a node at one of its words are merged into it when that position
/// then shows [`MIN_DISTINCT`] words.
fn pairwise_round(nodes: &mut Vec<Node>, settings: &Settings) -> bool {
    let mut gone = vec![false; nodes.len()];
    let mut changed = false;
    for a in 0..nodes.len() {
        if gone[a] {
            continue;
        }
        let mut covered = Vec::new();
        let mut near: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for b in 0..nodes.len() {
            if a == b || gone[b] {
                continue;
            }
            let (ta, tb) = (&nodes[a].tokens, &nodes[b].tokens);
            let mut diff = None;
            let mut count = 0;
            for (i, (x, y)) in ta.iter().zip(tb).enumerate() {
                if x != VAR && x != y {
                    count += 1;
                    diff = Some(i);
                    if count > 1 {
                        break;
                    }
                }
            }
            match (count, diff) {
                (0, _) => covered.push(b),
                (1, Some(p)) => near.entry(p).or_default().push(b),
                _ => {}
            }
        }
        if !covered.is_empty() {
            absorb(nodes, a, &covered, &mut gone);
            changed = true;
        }
        for (p, bs) in near {
            let bs: Vec<usize> = bs.into_iter().filter(|&b| !gone[b]).collect();
            if bs.is_empty() {
                continue;
            }
            let mut words: BTreeMap<&str, u64> = BTreeMap::new();
            for &x in bs.iter().chain([&a]) {
                *words.entry(nodes[x].tokens[p].as_str()).or_default() += nodes[x].count;
            }
            if settings.varies(&words) && keeps_enough(&nodes[a].tokens, p) {
                absorb(nodes, a, &bs, &mut gone);
                nodes[a].tokens[p] = VAR.to_string();
                changed = true;
            }
        }
    }
    drop_gone(nodes, &gone);
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(templates: &[&str]) -> Vec<String> {
        let out = mined(templates, &[]).finals;
        templates
            .iter()
            .map(|t| out[&fingerprint_id("s", t)].1.clone())
            .collect()
    }

    #[test]
    fn words_that_vary_become_variables() {
        let got = run(&[
            "session opened for user news by (uid=<*>)",
            "session opened for user cyrus by (uid=<*>)",
            "session opened for user test by (uid=<*>)",
        ]);
        assert!(
            got.iter()
                .all(|t| t == "session opened for user <*> by (uid=<*>)"),
            "{got:?}"
        );
    }

    #[test]
    fn two_alternatives_stay_apart() {
        let got = run(&[
            "Accepted password for <*> from <*> port <*>",
            "Failed password for <*> from <*> port <*>",
        ]);
        assert_eq!(got[0], "Accepted password for <*> from <*> port <*>");
        assert_eq!(got[1], "Failed password for <*> from <*> port <*>");
    }

    #[test]
    fn a_known_variable_absorbs_words() {
        let got = run(&[
            "Agent <*> completed for thread <*>",
            "Agent supervisor completed for thread <*>",
        ]);
        assert_eq!(got, vec!["Agent <*> completed for thread <*>"; 2]);
    }

    #[test]
    fn merging_cascades_and_is_order_independent() {
        let mut ts = vec![
            "transition running -> completed",
            "transition running -> failed",
            "transition running -> cancelled",
            "transition paused -> completed",
            "transition pending -> failed",
            "other thing entirely here",
        ];
        let a = run(&ts);
        ts.reverse();
        let mut b = run(&ts);
        b.reverse();
        assert_eq!(a, b);
        assert_eq!(&a[..5], vec!["transition <*> -> <*>"; 5].as_slice());
        assert_eq!(a[5], "other thing entirely here");
    }

    fn mined(templates: &[&str], known: &[Known]) -> Mined {
        let raws: Vec<Raw> = templates
            .iter()
            .map(|t| Raw {
                id: fingerprint_id("s", t),
                count: 1,
                service: "s",
                template: t,
            })
            .collect();
        generalize_with(&raws, known)
    }

    #[test]
    fn templates_differing_only_in_variable_spans_merge_into_the_longest() {
        let got = run(&[
            "sync finished for <*> accounts (<*>)",
            "sync finished for <*> accounts",
            "failed",
            "failed (<*>)",
        ]);
        assert_eq!(got[0], "sync finished for <*> accounts (<*>)");
        assert_eq!(got[1], got[0]);
        // One word left is too little to call two templates one statement.
        assert_eq!(got[2], "failed");
        assert_eq!(got[3], "failed (<*>)");
    }

    #[test]
    fn a_route_with_a_variable_segment_absorbs_its_words_but_words_alone_stay_apart() {
        let got = run(&[
            "HTTP POST /api/agents/<*>/runs 201",
            "HTTP POST /api/agents/supervisor/runs 201",
            "HTTP POST /api/agents/supervisor/runs 500",
            "HTTP GET /api/users 200",
            "HTTP GET /api/orders 200",
            "HTTP GET /api/items 200",
        ]);
        assert_eq!(got[1], "HTTP POST /api/agents/<*>/runs 201");
        // Another status is another group: nothing covers it.
        assert_eq!(got[2], "HTTP POST /api/agents/supervisor/runs 500");
        assert_eq!(
            got[3..],
            [
                "HTTP GET /api/users 200",
                "HTTP GET /api/orders 200",
                "HTTP GET /api/items 200"
            ]
        );
    }

    #[test]
    fn frequent_alternatives_can_be_kept_apart_by_setting() {
        let words = |pairs: &[(&'static str, u64)]| -> BTreeMap<&'static str, u64> {
            pairs.iter().copied().collect()
        };
        let default = Settings::default();
        let vm = words(&[("Started", 500), ("Paused", 300), ("Stopped", 400)]);
        let users = words(&[("alice", 1), ("bob", 1), ("carol", 1)]);
        assert!(
            default.varies(&vm),
            "the default keeps the three-words rule"
        );
        let strict = Settings {
            alternatives_max: 4,
            alternative_min_entries: 5,
            align_spans: true,
        };
        assert!(!strict.varies(&vm));
        assert!(strict.varies(&users));
        assert!(strict.varies(&words(&[("a", 9), ("b", 9), ("c", 9), ("d", 9)])));
        assert!(strict.varies(&words(&[("<*>", 9), ("b", 9)])));
        assert!(!strict.varies(&words(&[("a", 1), ("b", 1)])));
    }

    fn known(t: &str) -> Known {
        Known {
            scope: "s".into(),
            template: t.into(),
        }
    }

    #[test]
    fn a_remembered_template_keeps_its_id_when_the_run_alone_would_not_generalize() {
        let first = mined(
            &["login alice ok", "login bob ok", "login carol ok", "other"],
            &[],
        );
        assert_eq!(first.learned, vec![known("login <*> ok")]);
        let id = first.finals[&fingerprint_id("s", "login alice ok")].0;
        // A later run sees one user only: alone, it would keep "login dave ok".
        assert_eq!(
            mined(&["login dave ok"], &[]).finals[&fingerprint_id("s", "login dave ok")].1,
            "login dave ok"
        );
        let later = mined(&["login dave ok", "other"], &first.learned);
        assert_eq!(
            later.finals[&fingerprint_id("s", "login dave ok")],
            (id, "login <*> ok".to_string())
        );
        assert_eq!(later.learned, first.learned);
        // Unrelated templates are untouched.
        assert_eq!(
            later.finals[&fingerprint_id("s", "other")].0,
            fingerprint_id("s", "other")
        );
    }

    #[test]
    fn a_variable_covers_several_tokens_and_the_most_specific_memory_wins() {
        let memory = [
            known("job <*> done"),
            known("job <*> done in <*>"),
            known("<*>"),
        ];
        let m = mined(&["job nightly backup done in <*>", "job x done"], &memory);
        assert_eq!(
            m.finals[&fingerprint_id("s", "job nightly backup done in <*>")].1,
            "job <*> done in <*>"
        );
        assert_eq!(
            m.finals[&fingerprint_id("s", "job x done")].1,
            "job <*> done"
        );
        // Another scope's memory does not apply.
        let other = [Known {
            scope: "t".into(),
            template: "job <*> done".into(),
        }];
        assert_eq!(
            mined(&["job x done"], &other).finals[&fingerprint_id("s", "job x done")].1,
            "job x done"
        );
    }

    #[test]
    fn covering_needs_every_word_in_place() {
        assert!(covers(&["a", VAR, "c"], &["a", "b", "b", "c"]));
        assert!(covers(&[VAR], &["a"]));
        assert!(!covers(&["a", VAR, "c"], &["a", "c"]));
        assert!(!covers(&["a", VAR], &["b", "c"]));
        assert!(!covers(&["a", "b"], &["a", "b", "c"]));
    }

    #[test]
    fn services_and_lengths_are_separate() {
        let raws = [
            Raw {
                id: 1,
                count: 1,
                service: "a",
                template: "user x in",
            },
            Raw {
                id: 2,
                count: 1,
                service: "b",
                template: "user y in",
            },
            Raw {
                id: 3,
                count: 1,
                service: "a",
                template: "user z in",
            },
        ];
        let out = generalize(&raws);
        assert_eq!(out[&1].1, "user x in");
        assert_eq!(out[&2].1, "user y in");
        // Unchanged templates keep their own (raw) id, whatever text it was computed from.
        assert_eq!(out[&2].0, 2);
    }
}
