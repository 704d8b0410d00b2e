//! What every match of a pattern must contain: a set of literals, one of which is in any text
//! the pattern matches, found by reading the pattern's syntax tree. A text holding none of them
//! cannot match, and a multi-literal search (vectorized) says so far faster than the pattern's
//! own automaton when the pattern does not start with a literal (`\s(?:-u|--user)…`, an e-mail
//! address before its `@`): those ran at under 1 GB/s over every string of every sample.
//!
//! The check is exact: a set is only made where the syntax proves it necessary, and a pattern
//! without one (classes alone, optional parts, too many literals) is searched as before. A
//! letter in every case is searched for without regard to ASCII case, and only in ASCII texts
//! (see [`class`]).

use aho_corasick::AhoCorasick;
use regex::Regex;
use regex_syntax::hir::{Hir, HirKind};

/// More literals than this and the set is not worth searching for.
const MAX_LITERALS: usize = 32;

/// A class of at most this many characters is read as that many literals (`(?i)k`: `k`, `K`
/// and the Kelvin sign).
const MAX_CLASS: usize = 4;

/// A regular expression with the literals its matches need, looked for first.
#[derive(Clone, Debug)]
pub struct Guarded {
    pub re: Regex,
    needs: Option<Needs>,
    /// The length of the shortest match, in bytes: a shorter text cannot match (most strings
    /// of a sample entry are shorter than any credential).
    min_len: usize,
}

impl Guarded {
    pub fn new(re: Regex) -> Guarded {
        let needs = Needs::of(re.as_str());
        let min_len = regex_syntax::parse(re.as_str())
            .ok()
            .and_then(|hir| hir.properties().minimum_len())
            .unwrap_or(0);
        Guarded { re, needs, min_len }
    }

    /// Whether `text` matches; `false` without running the expression when `text` is shorter
    /// than any match or holds none of the literals.
    pub fn is_match(&self, text: &str) -> bool {
        text.len() >= self.min_len
            && self.needs.as_ref().is_none_or(|n| n.may_match(text))
            && self.re.is_match(text)
    }

    /// [`Guarded::is_match`] where a [`Gate`] already said whether the literals are there.
    pub fn is_match_past(&self, text: &str, literals_found: bool) -> bool {
        text.len() >= self.min_len && literals_found && self.re.is_match(text)
    }
}

/// The literal sets of several guarded patterns looked for in one pass over a text (two: one
/// without regard to ASCII case, one with), instead of one search per pattern: long texts
/// (tracebacks) hold some literal of nearly every set, and each search read them whole.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The literals of the sets matched with regard to case, and the pattern of each.
    exact: Option<(AhoCorasick, Vec<usize>)>,
    /// The same for the sets matched without regard to ASCII case (see `Needs::folded`).
    folded: Option<(AhoCorasick, Vec<usize>)>,
    /// The patterns whose literal set was folded (said to be there in texts that are not
    /// ASCII, as [`Needs::may_match`] says), as bits.
    folded_patterns: u64,
    /// The patterns without a literal set (always there), as bits.
    free: u64,
    /// Every pattern, as bits: a search that found them all stops.
    all: u64,
    /// The shortest match of any of the patterns: a shorter text matches none.
    pub shortest: usize,
}

impl Gate {
    /// At most this many patterns: past that, every pattern is searched alone.
    pub const MAX: usize = 64;

    /// The gate for `patterns`, in order (bit `i` is `patterns[i]`); `None` for more than
    /// [`Gate::MAX`].
    pub fn new<'g>(patterns: impl IntoIterator<Item = &'g Guarded>) -> Option<Gate> {
        let (mut exact, mut folded) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
        let (mut folded_patterns, mut free, mut all) = (0u64, 0u64, 0u64);
        let mut shortest = usize::MAX;
        for (i, g) in patterns.into_iter().enumerate() {
            if i >= Self::MAX {
                return None;
            }
            all |= 1 << i;
            shortest = shortest.min(g.min_len);
            match &g.needs {
                None => free |= 1 << i,
                Some(n) => {
                    let (lits, owners) = if n.folded {
                        folded_patterns |= 1 << i;
                        &mut folded
                    } else {
                        &mut exact
                    };
                    for l in &n.literals {
                        lits.push(l.clone());
                        owners.push(i);
                    }
                }
            }
        }
        let build = |(lits, owners): (Set, Vec<usize>), fold: bool| {
            if lits.is_empty() {
                return Some(None);
            }
            AhoCorasick::builder()
                .ascii_case_insensitive(fold)
                .build(&lits)
                .ok()
                .map(|a| Some((a, owners)))
        };
        Some(Gate {
            exact: build(exact, false)?,
            folded: build(folded, true)?,
            folded_patterns,
            free,
            all,
            shortest,
        })
    }

    /// The patterns whose literals `text` holds (or that have none), as bits: the same as
    /// asking each pattern's [`Needs::may_match`].
    pub fn found(&self, text: &str) -> u64 {
        let mut found = self.free;
        if !text.is_ascii() {
            found |= self.folded_patterns;
        }
        for (search, owners) in [&self.exact, &self.folded].into_iter().flatten() {
            for m in search.find_overlapping_iter(text) {
                found |= 1 << owners[m.pattern().as_usize()];
                if found == self.all {
                    return found;
                }
            }
        }
        found
    }
}

/// A literal set every match of a pattern contains.
#[derive(Clone, Debug)]
pub struct Needs {
    /// A byte of each literal (its rarest; both cases of a letter when folded), in threes: a
    /// text with none of them holds no literal, and `memchr3` says so at memory speed (the
    /// multi-literal search alone ran at under 1 GB/s on some sets).
    bytes: Vec<Vec<u8>>,
    /// The literals (matched without regard to ASCII case when folded).
    search: AhoCorasick,
    /// The same literals, for a [`Gate`] over several patterns.
    literals: Set,
    /// The pattern reads a letter in every case somewhere, some not ASCII (`(?i)k` is also the
    /// Kelvin sign): the set is only searched for in ASCII texts. (Set for the whole pattern,
    /// not only the part the set came from: looser, never wrong.)
    folded: bool,
}

impl Needs {
    /// The set for `pattern` (parsed as `regex::Regex::new` parses it), or `None` when the
    /// syntax proves none worth searching for.
    pub fn of(pattern: &str) -> Option<Needs> {
        let hir = regex_syntax::parse(pattern).ok()?;
        let (set, folded) = required(&hir)?;
        let mut rare: Vec<u8> = set
            .iter()
            .filter_map(|l| l.iter().copied().max_by_key(|&b| weight(b)))
            .flat_map(|b| match folded {
                true => [b.to_ascii_lowercase(), b.to_ascii_uppercase()],
                false => [b, b],
            })
            .collect();
        rare.sort_unstable();
        rare.dedup();
        // Without regard to case only where it must be: it is slower.
        let search = AhoCorasick::builder()
            .ascii_case_insensitive(folded)
            .build(&set)
            .ok()?;
        Some(Needs {
            bytes: rare.chunks(3).map(<[u8]>::to_vec).collect(),
            search,
            literals: set,
            folded,
        })
    }

    /// Whether `text` holds one of the literals (and so may match).
    pub fn may_match(&self, text: &str) -> bool {
        if self.folded && !text.is_ascii() {
            return true;
        }
        let t = text.as_bytes();
        let any_byte = self.bytes.iter().any(|b| match *b.as_slice() {
            [x] => memchr::memchr(x, t).is_some(),
            [x, y] => memchr::memchr2(x, y, t).is_some(),
            [x, y, z] => memchr::memchr3(x, y, z, t).is_some(),
            _ => true,
        });
        any_byte && self.search.is_match(text)
    }
}

/// How rare a byte is in log text, roughly: letters, digits, space and everyday punctuation
/// 1, any other byte 3.
fn weight(b: u8) -> u32 {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => 1,
        b' ' | b'.' | b',' | b'/' | b'_' | b'-' | b':' | b'=' | b'"' | b'\n' => 1,
        _ => 3,
    }
}

/// The most selective literal set every match of `hir` contains, if any is worth searching,
/// and whether it was folded (see [`class`]).
fn required(hir: &Hir) -> Option<(Set, bool)> {
    let mut folded = false;
    let best = literals(hir, &mut folded).best?;
    Some((best, folded))
}

type Set = Vec<Vec<u8>>;

/// What a piece of a pattern matches, as literals.
struct Literals {
    /// Every match of the piece *is* one of these (so it joins its neighbours' literals:
    /// `(?:sk|pk)_live` is `sk_live` or `pk_live`). Zero-width pieces are the empty literal.
    exact: Option<Set>,
    /// The most selective set every match of the piece contains.
    best: Option<Set>,
    /// Every match of the piece starts with one of these (`[ \t]+` starts with a space or a
    /// tab): a run of literals before it goes on into it, and ends there.
    prefix: Option<Set>,
}

impl Literals {
    fn exact(set: Set) -> Literals {
        Literals {
            best: score(&set).is_some().then(|| set.clone()),
            prefix: Some(set.clone()),
            exact: Some(set),
        }
    }

    fn none() -> Literals {
        Literals {
            exact: None,
            best: None,
            prefix: None,
        }
    }
}

/// The better of two sets (see [`score`]).
fn better(a: Option<Set>, b: Option<Set>) -> Option<Set> {
    match (a.as_deref().and_then(score), b.as_deref().and_then(score)) {
        (Some(x), Some(y)) if y > x => b,
        (Some(_), _) => a,
        (None, Some(_)) => b,
        (None, None) => None,
    }
}

/// How rare a set's matches are: the weight of its lightest literal, a common byte (letters,
/// digits, space and everyday punctuation) weighing 1 and any other 3. `None` for a set that
/// cannot serve: empty literals, or too many.
fn score(set: &[Vec<u8>]) -> Option<u32> {
    if set.is_empty() || set.len() > MAX_LITERALS || set.iter().any(Vec::is_empty) {
        return None;
    }
    set.iter().map(|l| l.iter().map(|&b| weight(b)).sum()).min()
}

fn literals(hir: &Hir, folded: &mut bool) -> Literals {
    match hir.kind() {
        HirKind::Literal(l) => Literals::exact(vec![l.0.to_vec()]),
        // Zero-width: joins what is on either side.
        HirKind::Look(_) | HirKind::Empty => Literals::exact(vec![Vec::new()]),
        HirKind::Class(c) => class(c, folded).map_or_else(Literals::none, Literals::exact),
        HirKind::Capture(c) => literals(&c.sub, folded),
        HirKind::Repetition(r) if r.min >= 1 => {
            let inner = literals(&r.sub, folded);
            let once = r.min == 1 && r.max == Some(1);
            Literals {
                exact: inner.exact.filter(|_| once),
                best: inner.best,
                prefix: inner.prefix,
            }
        }
        HirKind::Repetition(_) => Literals::none(),
        HirKind::Alternation(branches) => alternation(branches, folded),
        HirKind::Concat(parts) => sequence(parts, folded),
    }
}

/// A match is one of the branches: each branch must bring a set, and the union is the set.
fn alternation(branches: &[Hir], folded: &mut bool) -> Literals {
    let each: Vec<Literals> = branches.iter().map(|b| literals(b, folded)).collect();
    let union = |pick: fn(&Literals) -> Option<&Set>| -> Option<Set> {
        let mut all = Vec::new();
        for l in &each {
            all.extend(pick(l)?.iter().cloned());
        }
        (all.len() <= MAX_LITERALS).then_some(all)
    };
    let exact = union(|l| l.exact.as_ref());
    let best = better(exact.clone(), union(|l| l.best.as_ref()));
    let prefix = union(|l| l.prefix.as_ref());
    Literals {
        exact,
        best,
        prefix,
    }
}

/// A sequence: every part is in every match, so the best of the parts' sets serves; runs of
/// exact parts are joined into longer literals first.
fn sequence(parts: &[Hir], folded: &mut bool) -> Literals {
    let mut best = None;
    let mut run: Option<Set> = None;
    let mut whole = true;
    for p in parts {
        let l = literals(p, folded);
        best = better(best, l.best);
        match l.exact {
            Some(set) => {
                run = Some(match run.take() {
                    None => set,
                    Some(r) if r.len() * set.len() <= MAX_LITERALS => product(&r, &set),
                    Some(r) => {
                        whole = false;
                        best = better(best, Some(r));
                        set
                    }
                });
            }
            None => {
                whole = false;
                // The run goes on into how this part starts, and ends there.
                let into = match (run.take(), l.prefix) {
                    (Some(r), Some(p)) if r.len() * p.len() <= MAX_LITERALS => {
                        Some(product(&r, &p))
                    }
                    (r, _) => r,
                };
                best = better(best, into);
            }
        }
    }
    let exact = run.clone().filter(|_| whole);
    Literals {
        best: better(best, run),
        prefix: exact.clone(),
        exact,
    }
}

/// Each of `a` followed by each of `b`.
fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Vec<Vec<u8>> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| [x.as_slice(), y].concat()))
        .collect()
}

/// A small class as its characters (UTF-8), or `None`. A letter in every case (`(?i)k`: `k`,
/// `K` and the Kelvin sign) is the lowercase letter, and `folded` is set: the set is then
/// searched without regard to ASCII case, and only in ASCII texts (see [`Needs::may_match`]).
fn class(c: &regex_syntax::hir::Class, folded: &mut bool) -> Option<Set> {
    use regex_syntax::hir::Class;
    let mut chars: Vec<char> = Vec::new();
    match c {
        Class::Unicode(u) => {
            for r in u.ranges() {
                for ch in r.start()..=r.end() {
                    if chars.len() == MAX_CLASS {
                        return None;
                    }
                    chars.push(ch);
                }
            }
        }
        Class::Bytes(b) => {
            for r in b.ranges() {
                for byte in r.start()..=r.end() {
                    if chars.len() == MAX_CLASS || !byte.is_ascii() {
                        return None;
                    }
                    chars.push(char::from(byte));
                }
            }
        }
    }
    let fold = |c: char| match c {
        '\u{212A}' => 'k',
        '\u{17F}' => 's',
        c => c.to_ascii_lowercase(),
    };
    let first = *chars.first()?;
    let one_letter = first.is_ascii_alphabetic() && chars.iter().all(|&c| fold(c) == fold(first));
    if chars.len() > 1 && one_letter {
        *folded = true;
        return Some(vec![vec![fold(first) as u8]]);
    }
    Some(
        chars
            .into_iter()
            .map(|c| c.to_string().into_bytes())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pattern: &str) -> Option<Vec<String>> {
        let hir = regex_syntax::parse(pattern).unwrap();
        required(&hir).map(|(s, _)| {
            let mut s: Vec<String> = s
                .into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect();
            s.sort();
            s
        })
    }

    #[test]
    fn the_literals_a_match_cannot_do_without() {
        let dash_u = r"(\s(?:-u|--user|--proxy-user)[ =]+[^\s:]+):[^\s]+";
        assert_eq!(
            set(dash_u).unwrap(),
            [
                "--proxy-user ",
                "--proxy-user=",
                "--user ",
                "--user=",
                "-u ",
                "-u="
            ]
        );
        let email = r"\b[A-Za-z0-9._%+-]+(?:@|%40|%2540|\\u0040|&#64;|&#x40;)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b";
        assert_eq!(
            set(email).unwrap(),
            ["%2540", "%40", "&#64;", "&#x40;", "@", "\\u0040"]
        );
        // The longer of two parts of a sequence.
        assert_eq!(set(r"\bAIza[0-9A-Za-z_-]{35}").unwrap(), ["AIza"]);
        assert_eq!(set(r"a+b{2}xyz").unwrap(), ["xyz"]);
    }

    #[test]
    fn no_set_where_a_match_may_hold_none() {
        for pattern in [
            r"[A-Za-z0-9]{40,}", // classes only
            r"abc|[0-9]+",       // one branch without a literal
            r"x*",               // may be empty
            r"(?:abc)?",         // may be absent
            "",
        ] {
            assert_eq!(set(pattern), None, "{pattern}");
        }
        // A letter in every case is the letter, searched for in any case.
        assert_eq!(set(r"(?i)token").unwrap(), ["token"]);
        assert_eq!(
            set(r"(?i)(?:basic|bearer)x").unwrap(),
            ["basicx", "bearerx"]
        );
        // A run goes on into how a repetition starts.
        assert_eq!(
            set(r"\b(?i:key|auth)[ \t]+\w{10,}").unwrap(),
            ["auth\t", "auth ", "key\t", "key "]
        );
        // What may be absent does not count; what must be there does.
        assert_eq!(set(r"(?:abc)?def*").unwrap(), ["de"]);
    }

    /// Any text a pattern matches holds one of its literals, on texts made to match.
    #[test]
    fn every_match_holds_a_literal() {
        let cases = [
            (
                r"(\s(?:-u|--user|--proxy-user)[ =]+[^\s:]+):[^\s]+",
                " --user bob:pw",
            ),
            (
                r"\b[A-Za-z0-9._%+-]+(?:@|%40)([a-z]+\.[a-z]{2,})\b",
                "mail bob%40example.com",
            ),
            (r"(?:abc)?def*", "xdey"),
            (r"(?i)token\s", "my TOKEN abc"),
            // The Kelvin sign is a k: a text that is not ASCII is left to the expression.
            (r"(?i)token\s", "my to\u{212A}en abc"),
        ];
        for (pattern, text) in cases {
            assert!(regex::Regex::new(pattern).unwrap().is_match(text));
            assert!(Needs::of(pattern).unwrap().may_match(text), "{pattern}");
        }
    }

    /// The gate over the built-in pack says, for every text of the secrets corpora, what each
    /// pattern's own literal search says.
    #[test]
    fn the_gate_finds_what_each_pattern_finds() {
        let pack = crate::config::Config::default().redact_pack().unwrap();
        // The pack's patterns, and some read without regard to case (folded sets).
        let extra = [
            r"(?i)\btoken[=:]\S{8,}",
            r"(?i)(?:sk|pk)_live_\w+",
            r"[a-z]+@[a-z]+\.(?:com|org)",
        ];
        let guarded: Vec<Guarded> = pack
            .patterns
            .iter()
            .map(|p| p.regex.as_str())
            .chain(extra)
            .map(|re| Guarded::new(Regex::new(re).unwrap()))
            .collect();
        assert!(
            guarded
                .iter()
                .any(|g| g.needs.as_ref().is_some_and(|n| n.folded))
        );
        let gate = Gate::new(&guarded).unwrap();
        let mut texts = corpus_texts();
        texts.push(texts.join(" \n "));
        texts.extend(
            [
                "",
                "é",
                "ToKe\u{212A}N x",
                "-----BEGIN RSA PRIVATE KEY-----",
            ]
            .map(String::from),
        );
        for t in &texts {
            let found = gate.found(t);
            for (i, g) in guarded.iter().enumerate() {
                let own = g.needs.as_ref().is_none_or(|n| n.may_match(t));
                assert_eq!(found & (1 << i) != 0, own, "pattern {i} on {t}");
            }
        }
        assert!(gate.shortest > 0);
    }

    /// The texts of the planted-secrets corpora (see `redact::tests::corpus`).
    fn corpus_texts() -> Vec<String> {
        crate::stages::redact::tests::corpus()
            .into_iter()
            .map(|(_, _, text)| text)
            .collect()
    }

    /// On every text of the planted-secrets corpora, every pattern of the built-in pack gives
    /// the same answer with its literals looked for first as without.
    #[test]
    fn the_pack_matches_what_it_matched_on_the_secrets_corpora() {
        let mut texts = corpus_texts();
        assert!(texts.len() > 300, "{}", texts.len());
        texts.extend(
            [
                "user@EXAMPLE.com",
                "curl -u admin:pw x",
                "ToKeN abcdefghijk1",
                "to\u{212A}en Xk9fQ2mZp4",
            ]
            .map(String::from),
        );
        let pack = crate::config::Config::default().redact_pack().unwrap();
        let mut guarded = 0;
        for p in &pack.patterns {
            let re = Regex::new(&p.regex).unwrap();
            let g = Guarded::new(re.clone());
            guarded += usize::from(g.needs.is_some());
            for t in &texts {
                assert_eq!(g.is_match(t), re.is_match(t), "{}: {t}", p.name);
            }
        }
        assert!(
            guarded * 2 > pack.patterns.len(),
            "{guarded} of {}",
            pack.patterns.len()
        );
    }
}
