//! Masking: the first, per-message half of fingerprinting.
//!
//! **Masking** is one left-to-right pass over the message's whitespace-separated tokens (no
//! regex unless the mask pack adds some). Each token loses its surrounding punctuation, and its
//! core is replaced by `<*>` when it is a variable:
//! - it contains a digit (numbers, hex ids, UUIDs, IPs, timestamps, durations such as `13.56ms`,
//!   percentages, ids such as `main_742cb007`), unless the mask pack lists it under `keep`;
//! - it is an email address (`***@gmail.com` included);
//! - it is a truncated id (`demo-use...`, `10812417...`);
//! - it is the value of `key: value` that ends at a comma, a closing bracket or the end of its
//!   line (`State: unknown,`, `Path: /websocket`): such values vary by construction;
//! - in paths and URLs, only the variable segments are masked (`/api/threads/<*>/messages`), a
//!   query string becomes `?<*>`, and in `key=value` only the value is judged.
//!
//! Runs of whitespace fold to one space and adjacent `<*>` tokens fold into one, so a variable
//! spanning several tokens (`2025-09-13 22:36:26`) is one variable. Only the first
//! `max_message_bytes` bytes of a message are read.

use std::borrow::Cow;
use std::collections::HashSet;

use regex::Regex;

use crate::config::MaskPack;

/// The mask placeholder.
pub const VAR: &str = "<*>";

/// Turns messages into templates. Cheap to share between workers.
pub struct Masker {
    /// Words never masked (see [`Keep`]).
    keep: Keep,
    extra: Vec<Regex>,
    max_bytes: usize,
}

/// The words a mask pack keeps. Looked up for most tokens a rule would mask (numbers, ids,
/// hashes), which are mostly longer than any kept word or start with a byte none starts with:
/// those are answered without hashing.
struct Keep {
    words: HashSet<String, xxhash_rust::xxh3::Xxh3DefaultBuilder>,
    /// The longest word's length, in bytes.
    longest: usize,
    /// The bytes words start with, as bits.
    first: [u64; 4],
}

impl Keep {
    fn new(words: &[String]) -> Keep {
        let mut first = [0u64; 4];
        for w in words {
            if let Some(&b) = w.as_bytes().first() {
                first[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        Keep {
            words: words.iter().cloned().collect(),
            longest: words.iter().map(String::len).max().unwrap_or(0),
            first,
        }
    }

    fn has(&self, w: &str) -> bool {
        let Some(&b) = w.as_bytes().first() else {
            return self.words.contains(w);
        };
        w.len() <= self.longest
            && self.first[usize::from(b >> 6)] & (1 << (b & 63)) != 0
            && self.words.contains(w)
    }
}

const LEAD: &[u8] = b"([{<\"'`";
const TRAIL: &[u8] = b")]}>\"'`,;:.!?";

impl Masker {
    pub fn new(pack: &MaskPack, max_bytes: usize) -> Result<Masker, String> {
        let extra = pack
            .extra
            .iter()
            .map(|m| Regex::new(&m.regex).map_err(|e| format!("mask '{}': {e}", m.name)))
            .collect::<Result<_, _>>()?;
        Ok(Masker {
            keep: Keep::new(&pack.keep),
            extra,
            max_bytes,
        })
    }

    /// Writes the template of `msg` into `out` (cleared first).
    pub fn template(&self, msg: &str, out: &mut String) {
        out.clear();
        if let Some(stack) = stack_key(msg) {
            // A stack trace groups by its exception type and innermost frames; the text before
            // it (a logger's own header) is masked like any message.
            if stack.head > 0 {
                self.template(&msg[..stack.head], out);
                out.push(' ');
            }
            out.push_str(&stack.key);
            return;
        }
        let mut end = msg.len().min(self.max_bytes);
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        let mut msg: Cow<str> = Cow::Borrowed(&msg[..end]);
        for re in &self.extra {
            if let Cow::Owned(s) = re.replace_all(&msg, VAR) {
                msg = Cow::Owned(s);
            }
        }
        let b = msg.as_bytes();
        let mut i = 0;
        let mut kv_pending = false;
        while i < b.len() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i == b.len() {
                break;
            }
            let start = i;
            // Whether the token holds a `=`: only then can it be `key="…"` (two scans spared
            // on the other tokens).
            let mut eq = false;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                eq |= b[i] == b'=';
                i += 1;
            }
            if let Some(end) = quoted_span(b, start, i, eq) {
                eq = true;
                i = end;
            }
            let mut k = i;
            while k < b.len() && b[k].is_ascii_whitespace() && b[k] != b'\n' {
                k += 1;
            }
            let last_on_line = k == b.len() || b[k] == b'\n';
            kv_pending = self.token(&msg[start..i], eq, kv_pending, last_on_line, out);
        }
        let o = out.as_bytes();
        // (`str::contains` builds a substring searcher on each call: more than the scan.)
        if memchr::memchr(b'[', o).is_some()
            || memchr::memchr_iter(b'(', o).any(|i| o.get(i + 1) == Some(&b')'))
        {
            fold_lists(out);
        }
    }

    /// Emits one token (`eq`: it may hold a `=`); returns whether it was a `key:` whose value
    /// comes next.
    fn token(
        &self,
        tok: &str,
        eq: bool,
        kv_pending: bool,
        last_on_line: bool,
        out: &mut String,
    ) -> bool {
        let b = tok.as_bytes();
        let mut lead = 0;
        while lead < b.len() && LEAD.contains(&b[lead]) {
            lead += 1;
        }
        let mut core_end = b.len();
        while core_end > lead && TRAIL.contains(&b[core_end - 1]) {
            core_end -= 1;
        }
        let (lead_s, core, trail) = (&tok[..lead], &tok[lead..core_end], &tok[core_end..]);
        let before = out.len();
        if !out.is_empty() {
            out.push(' ');
        }
        let value_ends = last_on_line
            || trail
                .bytes()
                .any(|c| matches!(c, b',' | b')' | b']' | b'}' | b';'));
        let truncated = trail.starts_with("...")
            && core.len() >= 4
            && core
                .bytes()
                .any(|c| c.is_ascii_digit() || c == b'-' || c == b'_');
        // `key:` (or a JSON `"key":`) whose value comes next; a quoted Python value followed by
        // a colon (`'legacy_response':`) is a value, not a key.
        let is_key_token = matches!(trail, ":" | "\":") && !lead_s.ends_with('\'') && is_key(core);
        let quote = lead_s.bytes().last().filter(|q| matches!(q, b'\'' | b'"'));
        // The closing quote may follow brackets that belong to the value: `'call (type=x)',`.
        let quoted = !is_key_token && quote.is_some_and(|q| trail.as_bytes().contains(&q));
        let no_quotes = |s: &str, out: &mut String| {
            out.extend(s.chars().filter(|c| !matches!(c, '\'' | '"')));
        };
        let follows_var = out[..before].ends_with(VAR);
        // `key="two words"` (the quoted span joined by `quoted_span`): a quoted value.
        let quoted_kv = eq
            .then(|| eq_quote(core.as_bytes()))
            .flatten()
            .filter(|&eq| eq > 0 && is_key(&core[..eq]));
        if let Some(eq) = quoted_kv {
            out.push_str(lead_s);
            out.push_str(&core[..=eq]);
            out.push_str(VAR);
            no_quotes(trail, out);
        } else if is_key_token {
            out.push_str(lead_s);
            out.push_str(core);
            out.push_str(trail);
        } else if lead_s.is_empty() && (is_date_word(core) || (follows_var && is_unit(core))) {
            // Day and month names are parts of dates; a unit after a number is part of it.
            out.push_str(VAR);
            out.push_str(trail);
        } else if quoted && !core.is_empty() && !self.keep.has(core) {
            // Quoted values are variables; their quoting style is not part of the template.
            no_quotes(lead_s, out);
            out.push_str(VAR);
            // Only what follows the closing quote: brackets inside it are the value's.
            let q = char::from(quote.unwrap_or(b'\''));
            no_quotes(&trail[trail.rfind(q).map_or(0, |i| i + 1)..], out);
        } else if ((kv_pending && value_ends) || truncated)
            && !core.is_empty()
            && !self.keep.has(core)
        {
            out.push_str(lead_s);
            out.push_str(VAR);
            out.push_str(trail);
        } else if let Some(eq) = memchr::memchr(b'=', core.as_bytes()).filter(|&eq| {
            eq > 0 && value_ends && is_key(&core[..eq]) && !self.keep.has(&core[eq + 1..])
        }) {
            // `key=value` ending at a separator: the value varies by construction.
            out.push_str(lead_s);
            out.push_str(&core[..=eq]);
            out.push_str(VAR);
            out.push_str(trail);
        } else {
            out.push_str(lead_s);
            self.core(core, out);
            out.push_str(trail);
        }
        // Fold `<*> <*>` into `<*>`.
        if follows_var && out[before..].trim_start() == VAR {
            out.truncate(before);
        }
        is_key_token
    }

    /// Emits a token core, masked as a whole or by parts.
    fn core(&self, core: &str, out: &mut String) {
        if is_flag_or_hex(core, false) && !self.keep.has(core) {
            out.push_str(VAR);
            return;
        }
        let shape = Shape::of(core.as_bytes());
        // A core with none of the bytes any rule below looks for comes out unchanged, kept or
        // not: most words, so most tokens need no keep-set lookup.
        if core.is_empty() || !shape.may_vary(core.len()) || self.keep.has(core) {
            out.push_str(core);
            return;
        }
        if let Some(at) = shape.at
            && at > 0
            && core[at + 1..].contains('.')
            && !shape.slash
        {
            out.push_str(VAR);
            return;
        }
        for scheme in ["https://", "http://"] {
            if let Some(rest) = core.strip_prefix(scheme).filter(|_| shape.slash) {
                out.push_str(scheme);
                let (path, query) = match rest.find(['?', '#']) {
                    Some(q) => (&rest[..q], true),
                    None => (rest, false),
                };
                let (host, path) = path.split_at(path.find('/').unwrap_or(path.len()));
                self.atom(host, out);
                self.path(path, out);
                if query {
                    out.push('?');
                    out.push_str(VAR);
                }
                return;
            }
        }
        // A path with a query (`/a/b?x=1`): the `=` belongs to the query, which is `?<*>`.
        if shape.slash
            && let Some(q) = memchr::memchr(b'?', core.as_bytes())
            && shape.eq.is_some_and(|eq| q < eq)
        {
            self.path(&core[..q], out);
            out.push('?');
            out.push_str(VAR);
            return;
        }
        if let Some(eq) = shape.eq
            && eq > 0
        {
            out.push_str(&core[..=eq]);
            let v = core[eq + 1..].trim_matches(|c| c == '"' || c == '\'');
            if is_flag_or_hex(v, true) {
                out.push_str(VAR);
            } else if !v.is_empty() {
                self.core(v, out);
            }
            return;
        }
        if shape.slash {
            if let Some(q) = memchr::memchr(b'?', core.as_bytes()) {
                self.path(&core[..q], out);
                out.push('?');
                out.push_str(VAR);
            } else {
                self.path(core, out);
            }
            return;
        }
        if let Some(c) = shape.colon
            && c > 0
            && is_key(&core[..c])
        {
            // `name:value` glued together (`batch:1`, `onExtend:1514038673000`).
            out.push_str(&core[..=c]);
            let v = &core[c + 1..];
            if is_flag_or_hex(v, true) {
                out.push_str(VAR);
            } else {
                self.core(v, out);
            }
            return;
        }
        self.atom_shaped(core, shape, out);
    }

    /// Path segments are judged one by one; consecutive variable segments fold into one, so
    /// paths of varying depth (`current/blk_1` and `current/subdir56/blk_2`) agree.
    fn path(&self, path: &str, out: &mut String) {
        for (n, seg) in path.split('/').enumerate() {
            if n > 0 {
                out.push('/');
            }
            let before = out.len();
            self.atom(seg, out);
            if n > 0 && &out[before..] == VAR && out[..before - 1].ends_with(VAR) {
                out.truncate(before - 1);
            }
        }
    }

    /// A single word: masked when it holds a digit, is a long hex string, or is a snake_case
    /// identifier (`triage_agent`, `agent_completed`: names of things, which vary).
    fn atom(&self, w: &str, out: &mut String) {
        self.atom_shaped(w, Shape::of(w.as_bytes()), out);
    }

    /// [`Masker::atom`] with the word's [`Shape`] already known.
    fn atom_shaped(&self, w: &str, shape: Shape, out: &mut String) {
        let b = w.as_bytes();
        let snake = || {
            shape.underscore
                && !shape.dot
                && (1..b.len().saturating_sub(1)).any(|i| {
                    b[i] == b'_'
                        && b[i - 1].is_ascii_alphanumeric()
                        && b[i + 1].is_ascii_alphanumeric()
                })
                && b.iter().any(|c| c.is_ascii_lowercase())
        };
        let variable =
            (shape.digit || snake() || (w.len() >= 16 && b.iter().all(|c| c.is_ascii_hexdigit())))
                && !self.keep.has(w);
        out.push_str(if variable { VAR } else { w });
    }

    /// The template of a request log with no message: `METHOD /route/<*> STATUS`.
    pub fn http_template(&self, method: &str, url: &str, status: u16, out: &mut String) {
        out.clear();
        out.push_str("HTTP ");
        out.push_str(if method.is_empty() { "?" } else { method });
        out.push(' ');
        let path = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .map(|rest| &rest[rest.find('/').unwrap_or(rest.len())..])
            .unwrap_or(url);
        let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
        self.path(if path.is_empty() { "/" } else { path }, out);
        out.push(' ');
        if status == 0 {
            out.push('?');
        } else {
            out.push_str(&status.to_string());
        }
    }
}

/// What one pass over a word's bytes finds: the bytes the masking rules look for.
#[derive(Clone, Copy, Default)]
struct Shape {
    /// First `@`, `=` and `:`.
    at: Option<usize>,
    eq: Option<usize>,
    colon: Option<usize>,
    slash: bool,
    digit: bool,
    underscore: bool,
    dot: bool,
}

impl Shape {
    fn of(b: &[u8]) -> Shape {
        let mut s = Shape::default();
        for (i, &c) in b.iter().enumerate() {
            match c {
                b'0'..=b'9' => s.digit = true,
                b'@' => {
                    s.at.get_or_insert(i);
                }
                b'=' => {
                    s.eq.get_or_insert(i);
                }
                b':' => {
                    s.colon.get_or_insert(i);
                }
                b'/' => s.slash = true,
                b'_' => s.underscore = true,
                b'.' => s.dot = true,
                _ => {}
            }
        }
        s
    }

    /// Whether any masking rule can change a word of this shape and `len` bytes: one with a
    /// digit, `@`, `=`, `:`, `/` or `_`, or long enough to be a hex hash.
    fn may_vary(&self, len: usize) -> bool {
        self.digit
            || self.underscore
            || self.slash
            || self.at.is_some()
            || self.eq.is_some()
            || self.colon.is_some()
            || len >= 16
    }
}

/// Booleans (`true`, `False`, `TRUE`), hexadecimal strings of eight or more letters
/// (`ffffffff`, `deadbeef`), and as a `value` (after `key=` or `key:`) `null`, `None`, `nil`:
/// values, though they hold no digit. (`None of the replicas` keeps its word.)
#[inline(never)]
fn is_flag_or_hex(w: &str, value: bool) -> bool {
    let b = w.as_bytes();
    // Most words fail on the first byte: no comparison runs for them.
    let Some(&first) = b.first() else {
        return false;
    };
    match (b.len(), first) {
        (4 | 5, b't' | b'T' | b'f' | b'F') => {
            matches!(w, "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
                || (value && w == "False")
        }
        (4, b'n' | b'N') => value && matches!(w, "null" | "None" | "NULL"),
        (3, b'n') => value && w == "nil",
        (8.., b'a'..=b'f') => b.iter().all(|c| matches!(c, b'a'..=b'f')),
        (8.., b'A'..=b'F') => b.iter().all(|c| matches!(c, b'A'..=b'F')),
        _ => false,
    }
}

/// Where `="` or `='` starts in a short token (an inline scan: `memchr`'s set-up costs more than
/// it saves on a word).
fn eq_quote(b: &[u8]) -> Option<usize> {
    b.windows(2)
        .position(|w| w[0] == b'=' && matches!(w[1], b'"' | b'\''))
}

/// A quoted string of several words (`'Health check requested',`) is one token: it is a value.
/// Returns the end of the token holding the closing quote, when the token at `start..end` opens
/// a quote it does not close and the quote closes on the same line within 200 bytes.
fn quoted_span(b: &[u8], start: usize, end: usize, eq: bool) -> Option<usize> {
    let mut lead = start;
    while lead < end && matches!(b[lead], b'(' | b'[' | b'{') {
        lead += 1;
    }
    // `key="two words"`: the quote opens after the `=`.
    if eq
        && !matches!(b.get(lead), Some(b'\'' | b'"'))
        && let Some(eq) = eq_quote(&b[lead..end])
    {
        lead += eq + 1;
    }
    let q = *b.get(lead).filter(|&&c| c == b'\'' || c == b'"')?;
    if b[lead + 1..end].contains(&q) {
        return None;
    }
    let limit = (end + 200).min(b.len());
    let mut j = end;
    while j < limit && b[j] != b'\n' {
        if b[j] == q && b.get(j + 1).is_none_or(|c| !c.is_ascii_alphanumeric()) {
            let mut e = j + 1;
            while e < b.len() && !b[e].is_ascii_whitespace() {
                e += 1;
            }
            return Some(e);
        }
        j += 1;
    }
    None
}

/// The key of a Python traceback starting at `head`: the exception type and the innermost
/// [`STACK_FRAMES`] frames (`file:function`, innermost first). Only those frames are kept (a
/// ring of borrowed slices, no allocation per frame): tracebacks run to dozens of frames.
/// A chained traceback (`During handling of the above exception…`) is keyed by its first part.
/// The lines of `s` as [`str::lines`] gives them (`\n` or `\r\n` ends a line), found with the
/// memchr crate's vectorized search: a traceback is dozens of lines, and this runs on each.
fn lines(s: &str) -> impl Iterator<Item = &str> {
    let mut at = 0;
    let mut ends = memchr::memchr_iter(b'\n', s.as_bytes());
    std::iter::from_fn(move || {
        if at >= s.len() {
            return None;
        }
        let (end, newline) = match ends.next() {
            Some(e) => (e, true),
            None => (s.len(), false),
        };
        let line = &s[at..end];
        at = end + 1;
        Some(match line.strip_suffix('\r') {
            Some(l) if newline => l,
            _ => line,
        })
    })
}

fn python_stack(msg: &str, head: usize) -> Stack {
    use memchr::memmem::FinderRev;
    use std::sync::LazyLock;
    static IN: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(", in "));
    let mut ring: [(&str, &str); STACK_FRAMES] = [("", ""); STACK_FRAMES];
    let mut seen = 0usize;
    let mut exception = None;
    for line in lines(&msg[head..]).skip(1) {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("File \"") {
            // File "/path/x.py", line 161, in emit
            let path = &rest[..memchr::memchr(b'"', rest.as_bytes()).unwrap_or(rest.len())];
            let file = &path[memchr::memrchr(b'/', path.as_bytes()).map_or(0, |i| i + 1)..];
            let func = IN
                .rfind(rest.as_bytes())
                .map_or("?", |i| rest[i + 5..].trim());
            ring[seen % STACK_FRAMES] = (file, func);
            seen += 1;
        } else if !line.starts_with(' ') && !t.is_empty() && seen > 0 {
            let ty = t.split(':').next().unwrap_or(t).trim();
            if !ty.contains(' ') || ty.starts_with("During handling") {
                exception = Some(ty);
                break;
            }
        }
    }
    let mut key = String::with_capacity(64);
    key.push_str("Python ");
    key.push_str(exception.unwrap_or("Exception"));
    key.push_str(" at ");
    for n in 0..seen.min(STACK_FRAMES) {
        let (file, func) = ring[(seen - 1 - n) % STACK_FRAMES];
        if n > 0 {
            key.push_str(" < ");
        }
        key.push_str(file);
        key.push(':');
        key.push_str(func);
    }
    Stack {
        head: msg[..head].trim_end().len(),
        key,
    }
}

/// How many innermost frames of a stack trace take part in its key.
const STACK_FRAMES: usize = 3;

/// The grouping key of a stack trace.
struct Stack {
    /// Byte offset where the trace starts (text before it is a header).
    head: usize,
    /// `Python KeyError at _handler.py:emit < ...` (innermost frame first).
    key: String,
}

/// Recognizes Python tracebacks, Java stack traces and Go panics, and keys them by exception
/// type plus the innermost frames (file and function, never line numbers), the way Error
/// Reporting groups errors. The exception's message is left out: it carries the variables.
fn stack_key(msg: &str) -> Option<Stack> {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // Every message is searched for these: prebuilt SIMD searchers, not `str::find`.
    static PYTHON: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new("Traceback (most recent call last):"));
    static GO: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("panic: "));
    static JAVA_TAB: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\n\tat "));
    static JAVA_SPACES: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\n    at "));
    let bytes = msg.as_bytes();
    if let Some(head) = PYTHON.find(bytes) {
        return Some(python_stack(msg, head));
    }
    if memchr::memchr(b'\n', bytes).is_some()
        && (JAVA_TAB.find(bytes).is_some() || JAVA_SPACES.find(bytes).is_some())
    {
        // Java: `java.lang.IllegalStateException: msg` then `\tat pkg.Class.method(File.java:1)`.
        let first = msg.lines().next().unwrap_or("");
        let first = first.rsplit("Exception in thread ").next().unwrap_or(first);
        let ty = first
            .split(':')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .last()
            .unwrap_or("Exception");
        let frames: Vec<String> = msg
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("at "))
            .take(STACK_FRAMES)
            .map(|f| f.split('(').next().unwrap_or(f).to_string())
            .collect();
        if !frames.is_empty() {
            return Some(Stack {
                head: 0,
                key: format!("Java {ty} at {}", frames.join(" < ")),
            });
        }
    }
    if let Some(p) = GO.find(bytes)
        && msg.contains("goroutine ")
    {
        // Go: `panic: runtime error: ...` then `goroutine 1 [running]:` and `pkg.fn(...)` lines.
        let reason = msg[p + 7..].lines().next().unwrap_or("");
        let kind = reason.split(':').next().unwrap_or(reason).trim();
        let frames: Vec<String> = msg
            .lines()
            .skip_while(|l| !l.starts_with("goroutine "))
            .skip(1)
            .filter(|l| !l.starts_with('\t') && !l.trim().is_empty() && l.contains('('))
            .filter(|l| !l.starts_with("panic(") && !l.starts_with("runtime."))
            .take(STACK_FRAMES)
            .map(|l| l.split('(').next().unwrap_or(l).to_string())
            .collect();
        return Some(Stack {
            head: msg[..p].trim_end().len(),
            key: format!("Go panic {kind} at {}", frames.join(" < ")),
        });
    }
    None
}

/// Folds bracketed lists made only of variables — `[]`, `[<*>]`, `[<*>, <*>]` — into `[<*>]`,
/// and a lone `()` into `(<*>)`, so a list's length is not part of the template.
fn fold_lists(t: &mut String) {
    let mut out = String::with_capacity(t.len());
    let mut rest = t.as_str();
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if after[..close]
                    .split(',')
                    .all(|item| matches!(item.trim(), "" | VAR)) =>
            {
                out.push('[');
                out.push_str(VAR);
                out.push(']');
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    // An empty `()` standing alone is an empty value, like `[]`.
    if out.starts_with("() ") || out.contains(" () ") || out.ends_with(" ()") || out == "()" {
        out = out
            .split(' ')
            .map(|w| if w == "()" { "(<*>)" } else { w })
            .collect::<Vec<_>>()
            .join(" ");
    }
    *t = out;
}

/// A `key` of `key: value`: an identifier-like word of letters (no digits: a word with digits
/// is a value, such as `attempt_2017_0024_m_000163:`).
fn is_key(core: &str) -> bool {
    !core.is_empty()
        && core.len() <= 40
        && core.bytes().any(|c| c.is_ascii_alphabetic())
        && core
            .bytes()
            .all(|c| c.is_ascii_alphabetic() || matches!(c, b'_' | b'-' | b'.'))
}

/// English day and month abbreviations, as in `Mon Jun 20 03:40:59 2005`.
fn is_date_word(w: &str) -> bool {
    matches!(
        w,
        "Mon"
            | "Tue"
            | "Wed"
            | "Thu"
            | "Fri"
            | "Sat"
            | "Sun"
            | "Jan"
            | "Feb"
            | "Mar"
            | "Apr"
            | "Jun"
            | "Jul"
            | "Aug"
            | "Sep"
            | "Oct"
            | "Nov"
            | "Dec"
    )
}

/// Units that follow a number (`93.0 B`, `5 ms`, `3 seconds`).
fn is_unit(w: &str) -> bool {
    matches!(
        w,
        "B" | "KB"
            | "MB"
            | "GB"
            | "TB"
            | "PB"
            | "KiB"
            | "MiB"
            | "GiB"
            | "TiB"
            | "bytes"
            | "ns"
            | "us"
            | "µs"
            | "ms"
            | "s"
            | "sec"
            | "secs"
            | "seconds"
            | "min"
            | "mins"
            | "minutes"
            | "h"
            | "hours"
            | "days"
            | "%"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn masker() -> Masker {
        Masker::new(&Config::default().masks().unwrap(), 4096).unwrap()
    }

    fn t(msg: &str) -> String {
        let mut out = String::new();
        masker().template(msg, &mut out);
        out
    }

    #[test]
    fn masks_variables() {
        assert_eq!(
            t(
                "GOLDEN PATH AUTH=REDACTED permissive authentication with circuit breaker for connection main_742cb007 - user_id: pending, connection_state: connected, timestamp: 2025-09-14T04:53:34.983351+00:00"
            ),
            "GOLDEN PATH AUTH=REDACTED permissive authentication with circuit breaker for connection <*> - user_id: <*>, connection_state: <*>, timestamp: <*>"
        );
        assert_eq!(
            t(
                "DATABASE USER AUTO-CREATE: User 10741608... not found in database (response_time: 13.56ms, service_status: database_healthy_but_user_missing, action: auto-creating from JWT=REDACTED"
            ),
            "DATABASE USER AUTO-CREATE: User <*>... not found in database (response_time: <*>, service_status: <*>, action: auto-creating from JWT=REDACTED"
        );
        assert_eq!(
            t(
                "Created user ***@gmail.com from JWT=REDACTED (env: staging, user_id: 10741608..., demo_mode: False, domain: gmail.com, domain_type: consumer)"
            ),
            "Created user <*> from JWT=REDACTED (env: <*>, user_id: <*>..., demo_mode: <*>, domain: <*>, domain_type: <*>)"
        );
        assert_eq!(
            t(
                "GET https://api.x.io/api/threads/4f1c2a9e-1b2c-4d5e-8f90-123456789abc/messages?page=2"
            ),
            "GET https://api.x.io/api/threads/<*>/messages?<*>"
        );
        assert_eq!(
            t("took 12 ms at 10.0.0.1:8080 on HTTP/1.1"),
            "took <*> at <*> on HTTP/1.1"
        );
        assert_eq!(t("at 2025-09-13 22:36:26 UTC"), "at <*> UTC");
        assert_eq!(t("  multi\n line\tspaces  "), "multi line spaces");
    }

    #[test]
    fn keeps_message_words() {
        // Quoted values are variables: this is the template of every NameError.
        assert_eq!(
            t("Session management check failed: name 'auth_service' is not defined"),
            "Session management check failed: name <*> is not defined"
        );
        let m = "Creating emergency WebSocket manager";
        assert_eq!(t(m), m);
        // A `key: value` at the end of a line is a value, even when quoted.
        assert_eq!(
            t(
                "[LEGACY MODE] Message loop error: Invalid message type 'legacy_response': Unknown message type: 'legacy_response'."
            ),
            "[LEGACY MODE] Message loop error: Invalid message type <*>: Unknown message type: <*>."
        );
    }

    #[test]
    fn stack_traces_group_by_type_and_frames() {
        let py = "Traceback (most recent call last):\n  File \"/app/a.py\", line 9, in run\n    go()\n  File \"/usr/lib/python3.11/site-packages/loguru/_handler.py\", line 161, in emit\n    x = f(r)\nKeyError: '\"timestamp\"'";
        assert_eq!(t(py), "Python KeyError at _handler.py:emit < a.py:run");
        // Other line numbers and another message: same key.
        let py2 = py
            .replace("line 9", "line 12")
            .replace("timestamp", "level");
        assert_eq!(t(&py2), t(py));
        let headed = format!(
            "--- Logging error in Loguru Handler #1 ---\nRecord was: {{'x': 1}}\n{py}\n--- End of logging error ---"
        );
        assert_eq!(
            t(&headed),
            "--- Logging error in Loguru Handler <*> --- Record was: {<*>: <*>} Python KeyError at _handler.py:emit < a.py:run"
        );
        let java = "java.lang.IllegalStateException: bad 42\n\tat com.x.Foo.bar(Foo.java:10)\n\tat com.x.Main.main(Main.java:3)";
        assert_eq!(
            t(java),
            "Java java.lang.IllegalStateException at com.x.Foo.bar < com.x.Main.main"
        );
        let go = "panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\nmain.handler(0x1)\n\t/app/main.go:12 +0x1d\nmain.main()\n\t/app/main.go:20 +0x25";
        assert_eq!(t(go), "Go panic runtime error at main.handler < main.main");
    }

    #[test]
    fn keep_words_hold_wherever_a_rule_could_mask_them() {
        // Words with a digit or `/` are looked up in the keep list; plain words need no lookup
        // (no rule changes them), except where quoting or `key:` context makes them values.
        assert_eq!(t("hash sha256 over HTTP/1.1"), "hash sha256 over HTTP/1.1");
        assert_eq!(t("hash sha257 over HTTP/9.9"), "hash <*> over HTTP/<*>");
        assert_eq!(
            t("token: REDACTED, mode: fast,"),
            "token: REDACTED, mode: <*>,"
        );
        assert_eq!(t("got 'REDACTED' and 'other'"), "got 'REDACTED' and <*>");
        // Hex letters are a value from eight on, digits or not; shorter, a word.
        assert_eq!(t("id deadbeefdeadbeef"), "id <*>");
        assert_eq!(t("id deadbeefdeadbee"), "id <*>");
        assert_eq!(t("id decade"), "id decade");
        // `_`, `@`, `=` and `:` inside a word each bring their rule.
        assert_eq!(t("agent triage_agent"), "agent <*>");
        assert_eq!(t("user a@b.io"), "user <*>");
        assert_eq!(t("flag mode=fast"), "flag mode=<*>");
        assert_eq!(t("onExtend:x1"), "onExtend:<*>");
    }

    #[test]
    fn flags_letter_hex_quoted_values_and_queries_are_variables() {
        assert_eq!(t("overlap:true done"), t("overlap:false done"));
        assert_eq!(t("overlap:true done"), "overlap:<*> done");
        assert_eq!(t("enabled=True flag"), "enabled=<*> flag");
        assert_eq!(t("returned false"), "returned <*>");
        assert_eq!(t("mask=ffffffff set"), t("mask=00ff00ff set"));
        assert_eq!(t("hash deadbeefcafe seen"), "hash <*> seen");
        assert_eq!(t("value=None here"), "value=<*> here");
        // A capitalized sentence word stays.
        assert_eq!(
            t("None of the replicas answered"),
            "None of the replicas answered"
        );
        assert_eq!(t("lock tag=\"View Lock\" taken"), "lock tag=<*> taken");
        assert_eq!(t("lock tag=\"Edit\" taken"), "lock tag=<*> taken");
        assert_eq!(
            t("GET /api/threads/abc124/messages?limit=5"),
            "GET /api/threads/<*>/messages?<*>"
        );
        assert_eq!(
            t("GET https://x.io/api/threads/abc124/messages?limit=5"),
            "GET https://x.io/api/threads/<*>/messages?<*>"
        );
        assert_eq!(t("call 'validate (type=access)', done"), "call <*>, done");
        assert_eq!(t("call 'x', done"), "call <*>, done");
    }

    #[test]
    fn http_templates() {
        let m = masker();
        let mut out = String::new();
        m.http_template(
            "GET",
            "https://netra.io/api/threads/123/messages?x=1",
            503,
            &mut out,
        );
        assert_eq!(out, "HTTP GET /api/threads/<*>/messages 503");
        m.http_template("", "", 0, &mut out);
        assert_eq!(out, "HTTP ? / ?");
    }

    #[test]
    fn extra_masks_and_limits() {
        let mut pack = Config::default().masks().unwrap();
        pack.extra.push(crate::config::ExtraMask {
            name: "order".into(),
            regex: "ORD-[A-Z]{3}".into(),
        });
        let m = Masker::new(&pack, 20).unwrap();
        let mut out = String::new();
        m.template("order ORD-ABC failed", &mut out);
        assert_eq!(out, "order <*> failed");
        m.template("a very long message that goes past the limit", &mut out);
        assert_eq!(out, "a very long message");
    }
    /// The length and first-byte checks only ever answer "no" for a word the set lacks.
    #[test]
    fn keep_answers_as_the_set_of_words_does() {
        let words: Vec<String> = ["HTTP/1.1", "s3", "x86_64", "", "é2e", "\u{7f}x"]
            .map(String::from)
            .to_vec();
        let keep = Keep::new(&words);
        let probes = [
            "HTTP/1.1",
            "HTTP/1.",
            "HTTP/1.12",
            "s3",
            "S3",
            "s",
            "x86_64",
            "",
            "é2e",
            "é",
            "\u{7f}x",
            "\u{7f}",
            "12345678",
            "a",
            "zzzzzzzzzzzzzzzz",
            "ÿ",
            "\u{3fff}",
        ];
        for p in probes {
            assert_eq!(keep.has(p), words.iter().any(|w| w == p), "{p:?}");
        }
        assert!(!Keep::new(&[]).has(""));
    }

    #[test]
    fn lines_split_as_str_lines_does() {
        for s in [
            "",
            "a",
            "a\n",
            "a\nb",
            "a\r\nb\r\n",
            "\n\n",
            "x\r",
            "a\n\r\nb",
            "\r\n",
        ] {
            assert_eq!(
                lines(s).collect::<Vec<_>>(),
                s.lines().collect::<Vec<_>>(),
                "{s:?}"
            );
        }
    }
}
