//! Text-log normalization: what a logger wrote around the message.
//!
//! Real Cloud Run text logs carry ANSI colors (loguru, NestJS) and logger prefixes with time,
//! level, logger and code location. Left in place, a colored and a plain copy of one statement
//! get different ids, the prefix's time and logger become part of every template, and an entry
//! whose Cloud Logging severity is missing reads as DEFAULT while its text says ERROR. This
//! module finds, without regular expressions and in one pass over the first bytes:
//!
//! - **ANSI escapes** (`ESC [ … letter`), removed ([`strip_ansi`]);
//! - **a logger prefix** ([`split_prefix`]): a sequence of fields — timestamps (ISO, US, syslog,
//!   time of day, klog's `E0901 10:00:00.123456`), levels (`ERROR`, `[WARN]`, `WARNING:`,
//!   `level=error`), process ids (`[13]`, `1 ---`), threads and contexts (`[main]`,
//!   `[RoutesResolver]`), loggers (`httpx` between ` - ` separators, dotted names such as
//!   `o.s.b.SpringApplication`) and code locations (`main.go:88`, `app.core:run:69`) — that
//!   holds a timestamp or a level, ending at a separator (` - `, ` | `, ` : `, `] `, a tab).
//!   Python logging, loguru, gunicorn/uvicorn, NestJS, Go log/zap/logrus/klog (logfmt too),
//!   Java logback/log4j/Spring and syslog prefixes all have that shape. The message is what
//!   follows; the level becomes the entry's severity when Cloud Logging's is missing;
//!   the location joins the cluster's code location;
//! - **access-log lines** ([`access_line`]): `"GET /path HTTP/1.1" 200` (common/combined log
//!   format, uvicorn, gunicorn) and `GET /path … status: 404`, which then group like
//!   `httpRequest` entries, by method, route and status.
//!
//! Nothing here names a data set's words: only logger formats and HTTP.

use std::borrow::Cow;
use std::ops::Range;

use crate::model::record::Severity;

/// Bytes of a line looked at for a prefix.
const PREFIX_REACH: usize = 240;
/// Fields a prefix has at most.
const MAX_FIELDS: usize = 10;

/// `s` without ANSI escape sequences (CSI `ESC [ params letter`, and a lone `ESC x`).
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.as_bytes().contains(&0x1b) {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut kept = 0;
    while let Some(off) = memchr::memchr(0x1b, &b[i..]) {
        let esc = i + off;
        out.push_str(&s[kept..esc]);
        let mut j = esc + 1;
        if b.get(j) == Some(&b'[') {
            j += 1;
            while j < b.len() && (0x30..=0x3f).contains(&b[j]) {
                j += 1;
            }
            while j < b.len() && (0x20..=0x2f).contains(&b[j]) {
                j += 1;
            }
            if j < b.len() && (0x40..=0x7e).contains(&b[j]) {
                j += 1;
            }
        } else if j < b.len() && b[j].is_ascii() {
            j += 1;
        }
        i = j;
        kept = j;
    }
    out.push_str(&s[kept..]);
    Cow::Owned(out)
}

/// What a logger prefix said. Ranges are byte ranges of the line given to [`split_prefix`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prefix {
    /// Where the message starts.
    pub message: Range<usize>,
    pub level: Option<Severity>,
    /// Code location: module (or file) and function, and line, when the prefix had one.
    pub module: Range<usize>,
    pub function: Range<usize>,
    pub line: Range<usize>,
}

/// What one field of a prefix is.
#[derive(Clone, Debug, PartialEq)]
enum Field {
    Time,
    /// klog's `E0901 10:00:00.123456`: time and level at once.
    TimeLevel(Severity),
    Level(Severity),
    /// A process id, thread, context or `---`: dropped.
    Other,
    /// A logger name.
    Logger,
    /// `file.go:88`, `module:function:line`: (module, function, line).
    Location(Range<usize>, Range<usize>, Range<usize>),
}

/// The logger prefix of `line`, if it has one (see the module docs); `None` leaves the line
/// as it is.
pub fn split_prefix(line: &str) -> Option<Prefix> {
    let b = line.as_bytes();
    let first = *b.first()?;
    // Cheap rejection: a prefix starts with a digit, `[`, `<`, an upper-case letter, or a
    // logfmt key.
    if !(first.is_ascii_digit() || matches!(first, b'[' | b'<') || first.is_ascii_uppercase()) {
        return if matches!(first, b'l' | b't') {
            logfmt(line)
        } else {
            None
        };
    }
    let reach = b.len().min(PREFIX_REACH);
    let mut out = Prefix::default();
    let mut i = 0;
    let mut anchored = false; // a timestamp or a level was seen
    let mut timed = false;
    let mut end = 0;
    for _ in 0..MAX_FIELDS {
        if i >= reach {
            break;
        }
        let Some((e, field)) = field(line, i, timed, anchored) else {
            break;
        };
        // A level word that opens the line must be set off (`ERROR:`, `WARN  `, `INFO - `):
        // `ALERT exited abnormally` and `ERROR IN CONTACTING RM` are sentences.
        if i == 0 && matches!(field, Field::Level(_)) && b[0] != b'[' && !set_off(b, e) {
            return None;
        }
        match field.clone() {
            Field::Time => {
                timed = true;
                anchored = true;
            }
            Field::TimeLevel(s) => {
                timed = true;
                anchored = true;
                out.level = Some(s);
            }
            Field::Level(s) => {
                anchored = true;
                if out.level.is_none() {
                    out.level = Some(s);
                }
            }
            Field::Location(m, f, l) => {
                out.module = m;
                out.function = f;
                out.line = l;
            }
            Field::Other | Field::Logger => {}
        }
        i = e;
        // Python's basic format, `WARNING:root:message`: the logger between colons.
        if matches!(field, Field::Level(_))
            && b.get(i) == Some(&b':')
            && let Some(logger) = colon_logger(b, i + 1)
        {
            i = logger;
        }
        if anchored {
            end = i;
        }
        match separator(b, i) {
            Some(next) => i = next,
            None => break,
        }
    }
    if !anchored {
        return None;
    }
    let start = separator(b, end).unwrap_or(end).min(b.len());
    if start >= b.len() {
        // Nothing after the prefix: the line is its own message.
        return None;
    }
    out.message = start..b.len();
    Some(out)
}

/// Whether the text at `e` sets a field off from the message: a colon, a tab, two spaces, or a
/// spaced ` - ` or ` | `.
fn set_off(b: &[u8], e: usize) -> bool {
    let rest = &b[e.min(b.len())..];
    rest.starts_with(b":")
        || rest.starts_with(b"\t")
        || rest.starts_with(b"  ")
        || rest.starts_with(b" - ")
        || rest.starts_with(b" | ")
}

/// `name:` right after `LEVEL:` (no space): where the message starts after it.
fn colon_logger(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while j < b.len()
        && j - i < 64
        && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'_' | b'.' | b'-'))
    {
        j += 1;
    }
    (j > i && b.get(j) == Some(&b':')).then_some(j + 1)
}

/// The next field at `i`, if the text there is one. `timed`: a timestamp came before (short
/// level words like `LOG` and `ERR` count only then); `anchored`: a timestamp or level came
/// before.
fn field(line: &str, i: usize, timed: bool, anchored: bool) -> Option<(usize, Field)> {
    let b = line.as_bytes();
    if b[i] == b'[' {
        let close = i + 1 + memchr::memchr(b']', &b[i + 1..b.len().min(i + 66)])?;
        let inner = &line[i + 1..close];
        if let Some((e, f)) = field_in(inner, timed) {
            if e == inner.len() {
                return Some((close + 1, shift(f, i + 1)));
            }
        }
        // A thread or context name: one token of name characters.
        if !inner.is_empty() && inner.bytes().all(is_name_byte) {
            return Some((close + 1, Field::Other));
        }
        return None;
    }
    if b[i] == b'<' {
        // syslog's `<13>` priority.
        let close = i + 1 + memchr::memchr(b'>', &b[i + 1..b.len().min(i + 5)])?;
        if close > i + 1 && b[i + 1..close].iter().all(u8::is_ascii_digit) {
            return Some((close + 1, Field::Other));
        }
        return None;
    }
    if let Some(r) = field_in(&line[i..], timed) {
        return Some((i + r.0, shift(r.1, i)));
    }
    let e = token_end(b, i);
    let tok = &line[i..e];
    if tok == "---" || (tok.len() <= 7 && tok.bytes().all(|c| c.is_ascii_digit())) {
        return Some((e, Field::Other));
    }
    if let Some(loc) = location(tok) {
        return Some((e + usize::from(b.get(e) == Some(&b']')), shift(loc, i)));
    }
    // Logger names start with a letter (an address or a number is message text).
    if !tok.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    // A dotted logger name (`o.s.b.SpringApplication`, `uvicorn.error`).
    if anchored && tok.contains('.') && !tok.ends_with('.') && tok.bytes().all(is_name_byte) {
        return Some((e, Field::Logger));
    }
    // A plain logger name before the level: `time - httpx - INFO - …`, `WARNING:root:…`.
    if anchored
        && tok.bytes().all(is_name_byte)
        && let Some(next) = separator(b, e)
        && next < b.len()
        && matches!(field_in(&line[next..], timed), Some((_, Field::Level(_))))
    {
        return Some((e, Field::Logger));
    }
    None
}

/// A timestamp or level at the start of `s` (what may also stand inside brackets).
fn field_in(s: &str, timed: bool) -> Option<(usize, Field)> {
    if let Some(e) = timestamp(s.as_bytes()) {
        return Some((e, Field::Time));
    }
    if let Some((e, sev)) = klog(s.as_bytes()) {
        return Some((e, Field::TimeLevel(sev)));
    }
    let b = s.as_bytes();
    let mut e = 0;
    while e < b.len() && b[e].is_ascii_uppercase() {
        e += 1;
    }
    let sev = level_word(&s[..e], timed)?;
    // The word must end there: `ERROR`, `ERROR:`, `ERROR]`, not `ERRORS` or `ERROR_CODE`.
    if e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_') {
        return None;
    }
    Some((e, Field::Level(sev)))
}

fn shift(f: Field, by: usize) -> Field {
    let m = |r: Range<usize>| r.start + by..r.end + by;
    match f {
        Field::Location(a, b, c) => Field::Location(m(a), m(b), m(c)),
        other => other,
    }
}

/// Level names loggers print, upper case. Short forms and `LOG`/`VERBOSE` (NestJS, zerolog)
/// count only after a timestamp, where they cannot be the first word of a sentence.
fn level_word(w: &str, timed: bool) -> Option<Severity> {
    Some(match w {
        "TRACE" | "DEBUG" => Severity::Debug,
        "INFO" => Severity::Info,
        "NOTICE" => Severity::Notice,
        "WARN" | "WARNING" => Severity::Warning,
        "ERROR" | "SEVERE" => Severity::Error,
        "CRITICAL" | "FATAL" | "PANIC" => Severity::Critical,
        "ALERT" => Severity::Alert,
        "EMERGENCY" => Severity::Emergency,
        "DBG" | "VERBOSE" if timed => Severity::Debug,
        "INF" | "LOG" if timed => Severity::Info,
        "WRN" if timed => Severity::Warning,
        "ERR" if timed => Severity::Error,
        "CRIT" | "FTL" | "EMERG" if timed => Severity::Critical,
        _ => return None,
    })
}

/// A level value in logfmt or JSON-ish text, any case.
fn level_value(w: &str) -> Option<Severity> {
    let up = w.to_ascii_uppercase();
    level_word(&up, true)
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'$' | b'/' | b':' | b'@')
}

fn token_end(b: &[u8], i: usize) -> usize {
    let mut e = i;
    while e < b.len() && !b[e].is_ascii_whitespace() && b[e] != b']' {
        e += 1;
    }
    e
}

/// After a field: spaces, and at most one of ` - `, ` | `, ` : `, `:`, `,`, `]` between
/// spaces. `None` at the end of the line or when the next byte cannot follow a field.
fn separator(b: &[u8], mut i: usize) -> Option<usize> {
    let start = i;
    let mut punct = false;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'-' | b'|' | b':' | b',' | b'>' if !punct => {
                // `-` and `|` only standing alone (` - `), not `-1` or `--flag`.
                if matches!(b[i], b'-' | b'|')
                    && b.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace())
                {
                    break;
                }
                punct = true;
                i += 1;
            }
            _ => break,
        }
    }
    // A syslog priority runs straight into the time: `<13>Sep 16 …`.
    let glued = start > 0 && b[start - 1] == b'>';
    ((i > start || glued) && i < b.len()).then_some(i)
}

fn digits(b: &[u8], i: usize, n: usize) -> bool {
    b.len() >= i + n && b[i..i + n].iter().all(u8::is_ascii_digit)
}

/// A timestamp at the start of `b`: ISO or slashed dates with an optional time, US dates
/// (`09/16/2025, 12:41:17 AM`), syslog (`Sep 16 00:41:17`), or a time of day with a fraction.
/// Returns its length.
fn timestamp(b: &[u8]) -> Option<usize> {
    let mut i;
    if digits(b, 0, 4) && matches!(b.get(4), Some(b'-' | b'/')) && digits(b, 5, 2) {
        // 2025-09-16 or 2025/09/16
        if b.get(7) != b.get(4) || !digits(b, 8, 2) {
            return None;
        }
        i = 10;
    } else if digits(b, 0, 2) && b.get(2) == Some(&b'/') && digits(b, 3, 2) {
        // 09/16/2025
        if b.get(5) != Some(&b'/') || !digits(b, 6, 4) {
            return None;
        }
        i = 10;
        if b.get(i) == Some(&b',') {
            i += 1;
        }
    } else if let Some(e) = month_day(b) {
        i = e;
        if b.get(i) != Some(&b' ') {
            return None;
        }
        return time_of_day(b, i + 1).map(|e| e.max(i));
    } else {
        // A time of day alone needs its fraction: `12:30:00 meeting` is not a prefix.
        let e = time_of_day(b, 0)?;
        return (e > 8).then_some(e);
    }
    // An optional time after `T` or a space.
    if matches!(b.get(i), Some(b'T' | b' '))
        && let Some(e) = time_of_day(b, i + 1)
    {
        i = e;
        // Zone: Z, +hh:mm, +hhmm, or ` +0000`.
        if b.get(i) == Some(&b'Z') {
            i += 1;
        } else if let Some(z) = zone(b, i) {
            i = z;
        } else if b.get(i) == Some(&b' ')
            && let Some(z) = zone(b, i + 1)
        {
            i = z;
        }
        // 12-hour clocks.
        if b.get(i) == Some(&b' ') && matches!(b.get(i + 1..i + 3), Some(b"AM" | b"PM")) {
            i += 3;
        }
    }
    if b.get(i) == Some(&b',') {
        i += 1;
    }
    Some(i)
}

/// `hh:mm:ss` with an optional `.fff` or `,fff`, from `i`; returns the end.
fn time_of_day(b: &[u8], i: usize) -> Option<usize> {
    if !(digits(b, i, 2)
        && b.get(i + 2) == Some(&b':')
        && digits(b, i + 3, 2)
        && b.get(i + 5) == Some(&b':')
        && digits(b, i + 6, 2))
    {
        return None;
    }
    let mut e = i + 8;
    if matches!(b.get(e), Some(b'.' | b',')) && b.get(e + 1).is_some_and(u8::is_ascii_digit) {
        e += 1;
        while b.get(e).is_some_and(u8::is_ascii_digit) {
            e += 1;
        }
    }
    Some(e)
}

fn zone(b: &[u8], i: usize) -> Option<usize> {
    if !matches!(b.get(i), Some(b'+' | b'-')) || !digits(b, i + 1, 2) {
        return None;
    }
    if b.get(i + 3) == Some(&b':') && digits(b, i + 4, 2) {
        return Some(i + 6);
    }
    digits(b, i + 3, 2).then_some(i + 5)
}

/// syslog's `Sep 16` (or `Sep  6`); returns the end of the day.
fn month_day(b: &[u8]) -> Option<usize> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if b.len() < 6 || !MONTHS.contains(&&b[..3]) || b[3] != b' ' {
        return None;
    }
    let mut i = 4;
    if b[i] == b' ' {
        i += 1;
    }
    let s = i;
    while i < b.len() && b[i].is_ascii_digit() && i - s < 2 {
        i += 1;
    }
    (i > s).then_some(i)
}

/// klog: `E0901 10:00:00.123456`.
fn klog(b: &[u8]) -> Option<(usize, Severity)> {
    let sev = match b.first()? {
        b'I' => Severity::Info,
        b'W' => Severity::Warning,
        b'E' => Severity::Error,
        b'F' => Severity::Critical,
        _ => return None,
    };
    if !digits(b, 1, 4) || b.get(5) != Some(&b' ') {
        return None;
    }
    time_of_day(b, 6).map(|e| (e, sev))
}

/// Source extensions a code location names.
const SOURCE_EXT: [&str; 20] = [
    "py", "go", "js", "mjs", "cjs", "ts", "java", "kt", "rb", "rs", "cs", "php", "scala", "c",
    "cc", "cpp", "h", "swift", "ex", "exs",
];

/// `file.ext:line` (optionally `file.ext:line:col` or a trailing `:`), or loguru's
/// `module:function:line`: (module or file, function, line) ranges within `tok`.
fn location(tok: &str) -> Option<Field> {
    let tok = tok.trim_end_matches(':');
    let mut parts = tok.split(':');
    let first = parts.next()?;
    let second = parts.next()?;
    let third = parts.next();
    let is_num = |s: &str| !s.is_empty() && s.len() <= 6 && s.bytes().all(|c| c.is_ascii_digit());
    let name = |s: &str| !s.is_empty() && s.bytes().all(is_name_byte);
    let r = |s: &str| {
        let at = s.as_ptr() as usize - tok.as_ptr() as usize;
        at..at + s.len()
    };
    let ext = first.rsplit_once('.').map(|(_, e)| e)?;
    if SOURCE_EXT.contains(&ext) && name(first) && is_num(second) {
        // file.go:88 or file.go:88:12
        if third.is_some_and(|t| !is_num(t)) || parts.next().is_some() {
            return None;
        }
        return Some(Field::Location(r(first), 0..0, r(second)));
    }
    // module:function:line
    let third = third?;
    if parts.next().is_none() && name(first) && name(second) && is_num(third) {
        return Some(Field::Location(r(first), r(second), r(third)));
    }
    None
}

/// logfmt: `level=error ts=… caller=main.go:88 msg="…"` (keys in any order). The message is
/// the `msg` (or `message`) value, unquoted; the level and caller as for a prefix.
fn logfmt(line: &str) -> Option<Prefix> {
    let b = line.as_bytes();
    if !(line.starts_with("level=")
        || line.starts_with("lvl=")
        || line.starts_with("time=")
        || line.starts_with("ts=")
        || line.starts_with("t="))
    {
        return None;
    }
    let mut out = Prefix::default();
    let mut found = false;
    let mut i = 0;
    while i < b.len() {
        let key_end = i + memchr::memchr(b'=', &b[i..])?;
        let key = &line[i..key_end];
        if key.is_empty() || !key.bytes().all(is_name_byte) {
            return None;
        }
        let (value, next) = logfmt_value(b, key_end + 1);
        let v = &line[value.clone()];
        match key {
            "level" | "lvl" | "severity" => out.level = level_value(v),
            "caller" | "source" => {
                if let Some(Field::Location(m, f, l)) = location(v) {
                    let by = value.start;
                    out.module = m.start + by..m.end + by;
                    out.function = f.start + by..f.end + by;
                    out.line = l.start + by..l.end + by;
                }
            }
            "msg" | "message" if !v.is_empty() => {
                out.message = value.clone();
                found = true;
            }
            _ => {}
        }
        i = next;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
    }
    found.then_some(out)
}

/// A logfmt value from `i`: quoted (escapes kept) or up to the next space; returns its range
/// (inside the quotes) and where the next pair starts.
fn logfmt_value(b: &[u8], i: usize) -> (Range<usize>, usize) {
    if b.get(i) == Some(&b'"') {
        let mut j = i + 1;
        while j < b.len() && b[j] != b'"' {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(b.len());
        return (i + 1..end, (end + 1).min(b.len()));
    }
    let mut j = i;
    while j < b.len() && b[j] != b' ' {
        j += 1;
    }
    (i..j, j)
}

/// An HTTP request found in a text line.
#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    pub method: Range<usize>,
    pub url: Range<usize>,
    pub status: u16,
}

const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

/// An access-log line: `"GET /path HTTP/1.1" 200` (common and combined log formats, uvicorn,
/// gunicorn), or `GET /path` followed by `status: 404` / `status=404` / `Status: 404`.
pub fn access_line(line: &str) -> Option<Access> {
    let b = line.as_bytes();
    // Every form has a method, a space and a path: most messages have no ` /` at all and cost
    // one vectorized search.
    memchr::memmem::find(b, b" /")?;
    // Quoted request line.
    let mut from = 0;
    while let Some(q) = memchr::memchr(b'"', &b[from..]) {
        let q = from + q;
        if let Some(a) = quoted_request(line, q + 1) {
            return Some(a);
        }
        from = q + 1;
    }
    // `METHOD /path … status N`: a method word just before a ` /`.
    for u in memchr::memmem::find_iter(b, b" /") {
        let Some(m) = METHODS.iter().find(|m| b[..u].ends_with(m.as_bytes())) else {
            continue;
        };
        let i = u - m.len();
        if i > 0 && b[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let url_end = token_end(b, u + 1);
        let rest = &line[url_end..];
        let status = status_after_word(rest)?;
        return Some(Access {
            method: i..u,
            url: u + 1..url_end,
            status,
        });
    }
    None
}

/// `METHOD /path HTTP/x"` then a status, from `i` (just after a quote).
fn quoted_request(line: &str, i: usize) -> Option<Access> {
    let b = line.as_bytes();
    let m = METHODS.iter().find(|m| line[i..].starts_with(**m))?;
    let u = i + m.len();
    if b.get(u) != Some(&b' ') {
        return None;
    }
    let url_end = u + 1 + memchr::memchr(b' ', &b[u + 1..])?;
    let close = url_end + 1 + memchr::memchr(b'"', &b[url_end + 1..])?;
    if !line[url_end + 1..close].starts_with("HTTP/") {
        return None;
    }
    let rest = line[close + 1..].trim_start();
    let status = three_digit_status(rest)?;
    Some(Access {
        method: i..u,
        url: u + 1..url_end,
        status,
    })
}

fn three_digit_status(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() >= 3
        && digits(b, 0, 3)
        && b.get(3).is_none_or(|c| !c.is_ascii_alphanumeric())
        && let Ok(n) = s[..3].parse::<u16>()
        && (100..600).contains(&n)
    {
        return Some(n);
    }
    None
}

/// The status after the word `status` (any case) and `:` or `=`; no allocation.
fn status_after_word(rest: &str) -> Option<u16> {
    let b = rest.as_bytes();
    let at = memchr::memchr2_iter(b's', b'S', b)
        .find(|&k| b[k..].len() >= 6 && b[k..k + 6].eq_ignore_ascii_case(b"status"))?;
    let after = rest[at + 6..].trim_start_matches([' ', ':', '=', '"']);
    three_digit_status(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(line: &str) -> (String, Option<Severity>, String) {
        match split_prefix(line) {
            None => (line.to_string(), None, String::new()),
            Some(p) => {
                let loc = [&p.module, &p.function, &p.line]
                    .iter()
                    .map(|r| &line[(*r).clone()])
                    .collect::<Vec<_>>()
                    .join(":");
                (line[p.message].to_string(), p.level, loc)
            }
        }
    }

    #[test]
    fn ansi_escapes_go() {
        assert_eq!(
            strip_ansi("\x1b[32m2025-08-25\x1b[0m | \x1b[1mINFO\x1b[0m | ok"),
            "2025-08-25 | INFO | ok"
        );
        assert!(matches!(strip_ansi("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn common_logger_prefixes_split_into_fields() {
        use Severity::*;
        let cases: &[(&str, &str, Option<Severity>, &str)] = &[
            // Python logging
            (
                "2025-09-07 13:20:59 - httpx - INFO - HTTP Request: POST https://x/y",
                "HTTP Request: POST https://x/y",
                Some(Info),
                "::",
            ),
            (
                "2025-09-07 13:20:59,123 - app.db - ERROR - pool exhausted",
                "pool exhausted",
                Some(Error),
                "::",
            ),
            (
                "WARNING:root:disk almost full",
                "disk almost full",
                Some(Warning),
                "::",
            ),
            // gunicorn
            (
                "[2025-09-16 00:41:13 +0000] [13] [ERROR] Worker (pid:14) was sent SIGKILL!",
                "Worker (pid:14) was sent SIGKILL!",
                Some(Error),
                "::",
            ),
            (
                "[2025-09-16 00:41:17 +0000] [12] [INFO] Starting gunicorn 23.0.0",
                "Starting gunicorn 23.0.0",
                Some(Info),
                "::",
            ),
            // loguru
            (
                "2025-08-25 16:20:09.772 | INFO     | app.core:run:69 - started",
                "started",
                Some(Info),
                "app.core:run:69",
            ),
            (
                "2025-08-25 16:20:09.772 | WARNING | app.core:run:69 | slow",
                "slow",
                Some(Warning),
                "app.core:run:69",
            ),
            // Go
            (
                "E0901 10:00:00.123456       1 reflector.go:138] failed to list pods",
                "failed to list pods",
                Some(Error),
                "reflector.go::138",
            ),
            (
                "2025-09-16T00:41:17.123Z\tERROR\tmain.go:88\tconnect failed",
                "connect failed",
                Some(Error),
                "main.go::88",
            ),
            (
                "2025/09/16 00:41:17 listening on :8080",
                "listening on :8080",
                None,
                "::",
            ),
            // Java
            (
                "2025-09-16 00:41:17.123 ERROR 1 --- [main] o.s.b.SpringApplication : Application run failed",
                "Application run failed",
                Some(Error),
                "::",
            ),
            (
                "2025-09-16 00:41:17,123 [main] WARN  com.example.App - retrying",
                "retrying",
                Some(Warning),
                "::",
            ),
            // NestJS
            (
                "[Nest] 1  - 09/16/2025, 12:41:17 AM     LOG [RoutesResolver] AppController {/}:",
                "AppController {/}:",
                Some(Info),
                "::",
            ),
            (
                "[Nest] 1  - 09/16/2025, 12:41:17 AM   ERROR [ExceptionsHandler] boom",
                "boom",
                Some(Error),
                "::",
            ),
            // syslog
            (
                "<13>Sep 16 00:41:17 host app[123]: started",
                "host app[123]: started",
                None,
                "::",
            ),
            // Levels alone
            ("[WARN] cache cold", "cache cold", Some(Warning), "::"),
            (
                "ERROR: relation \"x\" does not exist",
                "relation \"x\" does not exist",
                Some(Error),
                "::",
            ),
            // uvicorn
            (
                "INFO:     169.254.1.1:49880 - \"GET /health HTTP/1.1\" 200 OK",
                "169.254.1.1:49880 - \"GET /health HTTP/1.1\" 200 OK",
                Some(Info),
                "::",
            ),
            // logfmt
            (
                "level=error ts=2025-09-16T00:41:17Z caller=main.go:88 msg=\"dial failed\" err=timeout",
                "dial failed",
                Some(Error),
                "main.go::88",
            ),
        ];
        for (line, want, level, loc) in cases {
            let (m, l, at) = msg(line);
            assert_eq!(
                (m.as_str(), l, at.as_str()),
                (*want, *level, *loc),
                "{line}"
            );
        }
    }

    #[test]
    fn sentences_and_structured_messages_are_left_alone() {
        for line in [
            "Error connecting to database",
            "Failed to persist message 42",
            "[GOLDEN PATH] Auth circuit breaker OPEN",
            "[?] Rejecting WebSocket connection",
            "LOG rotation complete",
            "ALERT exited abnormally with [1]",
            "ERROR IN CONTACTING RM.",
            "12:30:00 meeting starts",
            "ERRORS found: 3",
            "INFO",
            "2025-09-16",
            "level=info",
            "token expired",
        ] {
            assert_eq!(split_prefix(line), None, "{line}");
        }
    }

    #[test]
    fn access_lines_name_method_route_and_status() {
        let a = |l: &str| {
            access_line(l).map(|a| (l[a.method].to_string(), l[a.url].to_string(), a.status))
        };
        assert_eq!(
            a("169.254.1.1:49880 - \"GET /health HTTP/1.1\" 200 OK"),
            Some(("GET".into(), "/health".into(), 200))
        );
        assert_eq!(
            a(
                "10.0.0.1 - - [16/Sep/2025:00:41:17 +0000] \"POST /api/x?id=3 HTTP/1.1\" 503 12 \"-\" \"curl\""
            ),
            Some(("POST".into(), "/api/x?id=3".into(), 503))
        );
        assert_eq!(
            a("Request: GET /x | Status: 404 | Duration: 3ms"),
            Some(("GET".into(), "/x".into(), 404))
        );
        assert_eq!(a("GET /x took 200 ms"), None);
        assert_eq!(a("we GET it"), None);
    }
}
