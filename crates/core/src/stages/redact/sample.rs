//! A JSON text redacted in one pass over it, written as `serde_json::Value` prints it (compact,
//! each object's keys sorted, the last of a repeated key kept), with every value redacted as
//! [`Redactor::json`] redacts a `Value`.
//!
//! Samples are whole log entries (1–6 KB each, thousands per report). Parsing each into a
//! `Value` tree, walking it and printing it again was most of the cost and the memory of
//! redacting a report; here the text is read once and the result written as it goes, only the
//! members of one object at a time held apart to be sorted. Where the text is anything but
//! plain JSON (nested deeper than [`DEPTH`], not JSON at all) the walk gives up and the caller
//! takes the `Value` path, so every result is the same as that path's.

use std::borrow::Cow;

use super::{REDACTED, Redactor, keys::already_safe};
use crate::model::record::PrintedSample;

/// Nesting the walk follows before it leaves the text to the `Value` path (serde_json stops
/// at 128).
const DEPTH: usize = 100;

/// How a value is redacted, by where it stands (see [`Redactor::json`]).
#[derive(Clone, Copy, PartialEq)]
enum At {
    /// Strings redacted as text; numbers, booleans and null kept.
    Plain,
    /// The value of a secret-looking key: a string (unless already safe) or a number becomes
    /// `[REDACTED]`; the items of a list are [`At::SecretItem`]; an object is walked plainly.
    Secret,
    /// An item of a list under a secret-looking key: safe strings, booleans and null kept as
    /// they are, other strings and numbers `[REDACTED]`, objects and lists walked plainly.
    SecretItem,
}

/// A sample entry's text as the report prints it: as a `serde_json::Value` of it would print
/// (compact, keys sorted), and a text that is not JSON as a JSON string, as before redaction.
pub fn printed(text: &str) -> PrintedSample {
    PrintedSample::from(match rewrite(text, None) {
        Some(done) => done,
        None => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => v.to_string(),
            Err(_) => serde_json::Value::String(text.to_string()).to_string(),
        },
    })
}

/// `text` redacted by `r` (or only rewritten, with `None`), or `None` where the walk gives up.
pub(super) fn rewrite(text: &str, r: Option<&Redactor>) -> Option<String> {
    let mut w = Walk {
        src: text,
        pos: 0,
        r,
        depth: 0,
    };
    let mut out = Vec::with_capacity(text.len());
    w.value(&mut out, At::Plain)?;
    w.skip_ws();
    if w.pos != text.len() {
        return None;
    }
    String::from_utf8(out).ok()
}

struct Walk<'a, 'r> {
    src: &'a str,
    pos: usize,
    r: Option<&'r Redactor>,
    depth: usize,
}

impl<'a> Walk<'a, '_> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        self.pos = crate::model::json_text::skip_ws(self.src.as_bytes(), self.pos);
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == b).then(|| self.pos += 1)
    }

    fn value(&mut self, out: &mut Vec<u8>, at: At) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.nested(|w| w.object(out)),
            b'[' => {
                let items = if at == At::Secret {
                    At::SecretItem
                } else {
                    At::Plain
                };
                self.nested(|w| w.array(out, items))
            }
            b'"' => {
                let (s, written) = self.token()?;
                let r = self.r;
                let safe = |s: &str| already_safe(s);
                let copy = |out: &mut Vec<u8>, t: &str| write_text(out, &s, written, t);
                match (r, at) {
                    (None, _) => copy(out, &s),
                    (Some(r), At::Plain) => copy(out, &r.text_cow(&s)),
                    (Some(r), At::Secret) if safe(&s) => copy(out, &r.text_cow(&s)),
                    (Some(_), At::SecretItem) if safe(&s) => copy(out, &s),
                    (Some(_), _) => write_str(out, REDACTED),
                }
                Some(())
            }
            b't' => self.literal(out, "true"),
            b'f' => self.literal(out, "false"),
            b'n' => self.literal(out, "null"),
            b'-' | b'0'..=b'9' => {
                let n = self.number()?;
                if self.r.is_some() && at != At::Plain {
                    write_str(out, REDACTED);
                } else {
                    out.extend_from_slice(n.to_string().as_bytes());
                }
                Some(())
            }
            _ => None,
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Option<()>) -> Option<()> {
        self.depth += 1;
        if self.depth > DEPTH {
            return None;
        }
        f(self)?;
        self.depth -= 1;
        Some(())
    }

    fn literal(&mut self, out: &mut Vec<u8>, word: &str) -> Option<()> {
        self.src[self.pos..].starts_with(word).then(|| {
            self.pos += word.len();
            out.extend_from_slice(word.as_bytes());
        })
    }

    fn number(&mut self) -> Option<serde_json::Number> {
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.pos += 1;
        }
        self.src[start..self.pos].parse().ok()
    }

    /// A string token, unescaped (borrowed when it has no escapes).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.token().map(|(text, _)| text)
    }

    /// A string token, unescaped, and its escaped text when serde_json would write the same
    /// escapes (`\n`, `\"`, never `\/` or `\u00e9`): such a text, unchanged, is copied.
    fn token(&mut self) -> Option<(Cow<'a, str>, Option<&'a str>)> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let mut i = start + 1;
        let mut escaped = false;
        // To the closing quote; a raw control byte is never in a JSON string (one right after
        // a backslash fails as an escape when the text is decoded).
        loop {
            i = crate::model::json_text::find_special(bytes, i)?;
            match bytes[i] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                _ => return None,
            }
        }
        self.pos = i + 1;
        let inner = &self.src[start + 1..i];
        if escaped {
            let text = crate::model::json_text::decode(inner)?;
            Some((Cow::Owned(text), canonical_escapes(inner).then_some(inner)))
        } else {
            Some((Cow::Borrowed(inner), Some(inner)))
        }
    }

    fn array(&mut self, out: &mut Vec<u8>, items: At) -> Option<()> {
        out.push(b'[');
        if self.empty(b']')? {
            out.push(b']');
            return Some(());
        }
        loop {
            let at = match (items, self.peek_kind()) {
                (At::SecretItem, Some(b'{' | b'[')) => At::Plain,
                (at, _) => at,
            };
            self.value(out, at)?;
            let last = self.after_item(b']')?;
            out.push(if last { b']' } else { b',' });
            if last {
                return Some(());
            }
        }
    }

    /// Past the opening bracket of a list or an object: `Some(true)`, and past `close` too,
    /// when it holds nothing.
    fn empty(&mut self, close: u8) -> Option<bool> {
        self.pos += 1;
        self.skip_ws();
        let empty = self.peek()? == close;
        if empty {
            self.pos += 1;
        }
        Some(empty)
    }

    /// Past an item of a list or an object: `Some(false)` after a comma, `Some(true)` after
    /// `close`, `None` at anything else.
    fn after_item(&mut self, close: u8) -> Option<bool> {
        let (pos, closed) =
            crate::model::json_text::after_item(self.src.as_bytes(), self.pos, close)?;
        self.pos = pos;
        Some(closed)
    }

    fn peek_kind(&mut self) -> Option<u8> {
        self.skip_ws();
        self.peek()
    }

    fn object(&mut self, out: &mut Vec<u8>) -> Option<()> {
        if self.empty(b'}')? {
            out.extend_from_slice(b"{}");
            return Some(());
        }
        // Members are written where they stand, each `key:value` noted; keys in order (gcloud
        // sorts them) need nothing more, others are put in order when the object ends.
        let open = out.len();
        out.push(b'{');
        let mut members: Vec<(Cow<'a, str>, std::ops::Range<usize>)> = Vec::new();
        loop {
            self.skip_ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.expect(b':')?;
            let at = match self.r {
                Some(r) if r.secret_key(&key) => At::Secret,
                _ => At::Plain,
            };
            if !members.is_empty() {
                out.push(b',');
            }
            let start = out.len();
            write_str(out, &key);
            out.push(b':');
            self.value(out, at)?;
            members.push((key, start..out.len()));
            if self.after_item(b'}')? {
                break;
            }
        }
        if !members.windows(2).all(|w| w[0].0 < w[1].0) {
            in_key_order(out, open, &members);
        }
        out.push(b'}');
        Some(())
    }
}

/// Rewrites the members of the object opened at `open` (written as they came, see
/// `Walk::object`) as a BTreeMap holds them: sorted by key, a repeated key's last value.
fn in_key_order(
    out: &mut Vec<u8>,
    open: usize,
    members: &[(Cow<'_, str>, std::ops::Range<usize>)],
) {
    let written = out.split_off(open + 1);
    let at = |r: &std::ops::Range<usize>| r.start - open - 1..r.end - open - 1;
    let mut order: Vec<usize> = (0..members.len()).collect();
    // Stable: of equal keys, the last written stays last.
    order.sort_by(|&a, &b| members[a].0.cmp(&members[b].0));
    let mut first = true;
    for (n, &i) in order.iter().enumerate() {
        if order
            .get(n + 1)
            .is_some_and(|&next| members[next].0 == members[i].0)
        {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(&written[at(&members[i].1)]);
    }
}

/// Writes `text`, the string token `read` (escaped in the source as `written`) redacted: the
/// source's escaped text when `text` is the very text read and serde_json would escape it the
/// same way, else escaped as serde_json escapes.
fn write_text(out: &mut Vec<u8>, read: &str, written: Option<&str>, text: &str) {
    let unchanged = std::ptr::eq(read, text);
    match written {
        Some(w) if unchanged => {
            out.push(b'"');
            out.extend_from_slice(w.as_bytes());
            out.push(b'"');
        }
        _ => write_str(out, text),
    }
}

/// Whether every escape in `inner` (a string token's text, no raw control characters) is the
/// one serde_json writes for its character: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, and
/// `\u00xx` (lowercase hex) for the other control characters.
fn canonical_escapes(inner: &str) -> bool {
    let b = inner.as_bytes();
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'\\', &b[i..]) {
        let at = i + k;
        match b.get(at + 1) {
            Some(b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f') => i = at + 2,
            Some(b'u') => {
                let hex = b.get(at + 2..at + 6);
                let control = hex.is_some_and(|h| {
                    h[0] == b'0'
                        && h[1] == b'0'
                        && matches!(h[2], b'0' | b'1')
                        && matches!(h[3], b'0'..=b'9' | b'a'..=b'f')
                });
                // serde_json writes these five by their short names.
                let short = hex
                    .is_some_and(|h| matches!(h, b"0008" | b"0009" | b"000a" | b"000c" | b"000d"));
                if !control || short {
                    return false;
                }
                i = at + 6;
            }
            _ => return false,
        }
    }
    true
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::Value;

    fn redactor() -> Redactor {
        Redactor::new(&Config::default().redact_pack().unwrap()).unwrap()
    }

    /// The `Value` path: parse, redact, print.
    fn by_value(r: Option<&Redactor>, text: &str) -> Option<String> {
        let mut v: Value = serde_json::from_str(text).ok()?;
        if let Some(r) = r {
            r.json(&mut v);
        }
        Some(v.to_string())
    }

    const TEXTS: &[&str] = &[
        r#"{"b": 1, "a": {"z": [1, 2.5, -3e2, true, null], "y": "x"}, "a": "again"}"#,
        "{\n  \"insertId\": \"abc\",\n  \"textPayload\": \"password=hunter2 at db\",\n  \"labels\": {}\n}",
        r#"{"token": "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "password": 12345, "api_key": "<*>"}"#,
        r#"{"Authorization": ["Bearer abcdef0123456789abcdef", "none", null, true, 7, {"k": "v"}, ["x"]]}"#,
        r#"{"secret": {"inner": "plain text", "password": "p4ss"}, "apiKey": [], "auth": {}}"#,
        r#"{"msg": "tab\there \"quoted\" \u00e9 \ud83d\ude00 \\ slash\/", "n": 18446744073709551616}"#,
        r#"{"m": "Authorization: Basic dXNlcjpwYXNzd29yZDEyMw== to https://u:pw@host/x"}"#,
        r#"[1, "two", {"three": 3}]"#,
        r#""just a string with token=abcdefABCDEF0123456789""#,
        r#"{"": "empty key", "é": "non-ascii key", "A": 1, "a": 2, "key": "REDACTED already"}"#,
        "  {\"spaced\" :  [ ] , \"x\":{ } }  ",
        r#"{"num": -0, "f": 1.0, "small": 1E-7}"#,
        // Escapes as serde_json writes them (copied), and as it does not (written again).
        r#"{"t": "a\nb\tc\"d\\e\bf\fg\rh\u0000i\u001fj", "u": "\u001F \u000a \u0041"}"#,
        r#"{"b": "z", "a": {"y": 1, "x": [2, {"w": "v", "v": "w"}]}, "c": "\n"}"#,
    ];

    #[test]
    fn the_same_text_as_the_value_path() {
        let r = redactor();
        for text in TEXTS {
            for which in [None, Some(&r)] {
                let expect = by_value(which, text);
                assert!(expect.is_some(), "{text}");
                assert_eq!(rewrite(text, which), expect, "{text}");
            }
        }
    }

    #[test]
    fn gives_up_where_the_value_path_must_decide() {
        let deep = format!("{}{}", "[".repeat(DEPTH + 1), "]".repeat(DEPTH + 1));
        for text in [
            "{\"a\": 1",
            "{\"a\" 1}",
            "[1,]",
            "{\"a\": tru}",
            "\"raw\tcontrol\"",
            "\"a control byte after the first sixteen bytes \u{1f}\"",
            "\"a control byte escaped \\\u{1} wrongly\"",
            "{} trailing",
            "not json",
            "{\"big\": 1e400}",
            "\"ends in a backslash\\",
            "",
            deep.as_str(),
        ] {
            assert_eq!(rewrite(text, Some(&redactor())), None, "{text}");
        }
    }

    /// A report's sample prints as the `Value` of its text printed, or, where the text is not
    /// JSON, as a JSON string of it (what the report printed when it held `Value`s).
    #[test]
    fn a_printed_sample_is_its_value_printed_or_its_text_as_a_string() {
        let deep = format!("{}{}", "[".repeat(DEPTH + 1), "]".repeat(DEPTH + 1));
        let texts = TEXTS
            .iter()
            .copied()
            .chain(["not json", "{\"a\": 1", &deep]);
        for text in texts {
            let expect = serde_json::from_str::<Value>(text)
                .unwrap_or_else(|_| Value::String(text.to_string()))
                .to_string();
            assert_eq!(printed(text).get(), expect, "{text}");
        }
    }
}

#[cfg(test)]
mod on_the_example {
    use super::*;
    use crate::config::Config;
    use serde_json::value::RawValue;

    /// Every entry of the bundled example, as it stands in the file (indented, keys in
    /// gcloud's order), comes out as the `Value` path gives it, redacted and not.
    #[test]
    fn every_entry_of_the_example_as_the_value_path_gives_it() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/netra-staging.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let entries: Vec<Box<RawValue>> = serde_json::from_str(&text).unwrap();
        assert!(entries.len() > 100);
        let pack = Config::default().redact_pack().unwrap();
        for r in [
            Redactor::new(&pack).unwrap(),
            Redactor::with_personal(&pack, true).unwrap(),
        ] {
            for e in &entries {
                let mut v: serde_json::Value = serde_json::from_str(e.get()).unwrap();
                r.json(&mut v);
                assert_eq!(rewrite(e.get(), Some(&r)), Some(v.to_string()));
            }
        }
    }
}
