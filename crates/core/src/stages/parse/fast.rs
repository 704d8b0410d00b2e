//! The common entry read by hand, in one pass over its bytes, into the same [`Entry`] serde_json
//! would make of it.
//!
//! serde_json spends most of its time on its generic machinery (visitors, map access, moving
//! the large `Entry` about), not on the bytes. This reader walks the entry directly: it finds
//! the fields the stage needs, validates everything else as JSON without decoding it, and
//! borrows every string without escapes from the input.
//!
//! It takes only what it is sure of, and gives up (`None`) on anything else, so that the caller
//! takes the serde_json path and every result — an entry read, or rejected with serde_json's
//! own words — is that path's. It gives up on: any JSON error; a key with escapes; a field read
//! twice at the top level (serde_json rejects those); a field of another type than a string,
//! `null` or an object as expected (serde_json keeps or counts those, see `Text`, `Flex`,
//! `Message`, `Nested`), except plain integers where a `Flex` is expected; a `\u` escape of
//! a surrogate outside a valid pair in a string it decodes; nesting deeper than [`DEPTH`]. What it accepts, it must
//! accept exactly as serde_json does: strings without raw control characters and with valid
//! escapes, numbers of JSON's grammar, the literals, whitespace of JSON's four characters, and
//! nothing after the entry's closing brace but whitespace. The tests compare the two paths on
//! every entry of generated data and on mutations of it.

use std::borrow::Cow;

use super::nested::{Message, Nested};
use super::{Entry, Flex, Raw, Text};
use crate::model::json_text::{self, decode_escape, escape_len, find_special, skip_ws};

/// Nesting followed before leaving the entry to serde_json (which stops at 128).
const DEPTH: u32 = 100;

/// Reads `text` (which starts with `{`), or `None` where serde_json should.
pub(super) fn entry(text: &str) -> Option<Entry<'_>> {
    let mut c = Cursor {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let mut e = Entry::default();
    let mut seen = 0u16;
    c.object(|c, key| {
        let bit = match key {
            "insertId" => 0,
            "timestamp" => 1,
            "receiveTimestamp" => 2,
            "severity" => 3,
            "resource" => 4,
            "logName" => 5,
            "jsonPayload" => 6,
            "textPayload" => 7,
            "protoPayload" => 8,
            "httpRequest" => 9,
            "sourceLocation" => 10,
            "trace" => 11,
            "labels" => 12,
            _ => return c.skip_value(),
        };
        if seen & (1 << bit) != 0 {
            return None;
        }
        seen |= 1 << bit;
        match bit {
            0 => e.insert_id = Read::read(c)?,
            1 => e.timestamp = Read::read(c)?,
            2 => e.receive_timestamp = Read::read(c)?,
            3 => e.severity = Read::read(c)?,
            4 => e.resource = Read::read(c)?,
            5 => e.log_name = Read::read(c)?,
            6 => e.json_payload = Read::read(c)?,
            7 => e.text_payload = Read::read(c)?,
            8 => e.proto_payload = Read::read(c)?,
            9 => e.http_request = Read::read(c)?,
            10 => e.source_location = Read::read(c)?,
            11 => e.trace = Read::read(c)?,
            _ => e.labels = Read::read(c)?,
        }
        Some(())
    })?;
    c.ws();
    (c.pos == c.bytes.len()).then_some(e)
}

/// A position in an entry's text.
pub(super) struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

/// A field's value as the fast reader reads it: `None` leaves the entry to serde_json.
pub(super) trait Read<'a>: Sized {
    fn read(c: &mut Cursor<'a>) -> Option<Self>;
}

/// The fields of a nested object the fast reader fills (see `fields!`).
pub(super) trait FastFields<'a>: Default {
    /// Reads the value of `key` when it is one of this object's fields (`Some(true)`), leaves
    /// it (`Some(false)`), or gives up (`None`).
    fn fast_field(&mut self, key: &str, c: &mut Cursor<'a>) -> Option<bool>;
}

impl<'a> Read<'a> for Option<Text<'a>> {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        c.string_or_null().map(|s| s.map(Text))
    }
}

impl<'a> Read<'a> for Option<Message<'a>> {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        c.string_or_null().map(|s| s.map(Message))
    }
}

impl<'a> Read<'a> for Option<Flex<'a>> {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        c.ws();
        match c.peek()? {
            b'0'..=b'9' => c.integer().map(|n| Some(Flex(Cow::Borrowed(n)))),
            _ => c.string_or_null().map(|s| s.map(Flex)),
        }
    }
}

impl<'a> Read<'a> for Option<Raw<'a>> {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        c.ws();
        if c.null()? {
            return Some(None);
        }
        let start = c.pos;
        c.skip_value()?;
        Some(Some(Raw(&c.text[start..c.pos])))
    }
}

impl<'a, T: FastFields<'a>> Read<'a> for Option<Nested<T>> {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        c.ws();
        if c.null()? {
            return Some(None);
        }
        if c.peek()? != b'{' {
            return None;
        }
        let mut object = T::default();
        c.object(|c, key| {
            if !object.fast_field(key, c)? {
                c.skip_value()?;
            }
            Some(())
        })?;
        Some(Some(Nested::Object(object)))
    }
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        self.pos = skip_ws(self.bytes, self.pos);
    }

    /// Past `b` after whitespace, or `None`.
    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.peek()? == b).then(|| self.pos += 1)
    }

    /// At a value (whitespace skipped): `Some(true)` past a `null`, `Some(false)` at anything
    /// else, `None` at a broken literal.
    fn null(&mut self) -> Option<bool> {
        if self.peek()? != b'n' {
            return Some(false);
        }
        self.literal(b"null").map(|()| true)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.bytes[self.pos..]
            .starts_with(word)
            .then(|| self.pos += word.len())
    }

    /// Reads an object at `{` (whitespace skipped), calling `member` with each key, the cursor
    /// at its value, which `member` must consume.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.nest()?;
        self.pos += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            self.ws();
            let key = self.key()?;
            self.eat(b':')?;
            member(self, key)?;
            if self.after_item(b'}')? {
                self.depth -= 1;
                return Some(());
            }
        }
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= DEPTH).then_some(())
    }

    /// Past the separator after an item: `Some(true)` at `close`, `Some(false)` at a comma.
    fn after_item(&mut self, close: u8) -> Option<bool> {
        let (pos, closed) = json_text::after_item(self.bytes, self.pos, close)?;
        self.pos = pos;
        Some(closed)
    }

    /// A key without escapes (a key with escapes is left to serde_json).
    fn key(&mut self) -> Option<&'a str> {
        if self.peek()? != b'"' {
            return None;
        }
        let (end, escaped) = self.string_end(self.pos + 1)?;
        if escaped {
            return None;
        }
        let key = &self.text[self.pos + 1..end];
        self.pos = end + 1;
        Some(key)
    }

    /// The end of the string whose text starts at `from`: the index of its closing quote, and
    /// whether it has escapes (each checked). `None` at a raw control character, a bad escape
    /// or the end of the text.
    fn string_end(&self, from: usize) -> Option<(usize, bool)> {
        let bytes = self.bytes;
        let mut i = from;
        let mut escaped = false;
        loop {
            i = find_special(bytes, i)?;
            match bytes[i] {
                b'"' => return Some((i, escaped)),
                b'\\' => {
                    escaped = true;
                    i += 1 + escape_len(&bytes[i + 1..])?;
                }
                _ => return None,
            }
        }
    }

    /// At a value (whitespace skipped): a string, decoded (borrowed when it has no escapes),
    /// `Some(None)` for `null`, `None` for anything else.
    fn string_or_null(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(Some),
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// The string at its opening quote, decoded in the same pass that finds its end.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos + 1;
        let mut at = find_special(self.bytes, start)?;
        if self.bytes[at] == b'"' {
            self.pos = at + 1;
            return Some(Cow::Borrowed(&self.text[start..at]));
        }
        let mut out = String::with_capacity(at - start + 64);
        let mut run = start;
        loop {
            out.push_str(&self.text[run..at]);
            match self.bytes[at] {
                b'"' => {
                    self.pos = at + 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    let (c, len) = decode_escape(&self.text[at + 1..])?;
                    out.push(c);
                    run = at + 1 + len;
                }
                _ => return None,
            }
            at = find_special(self.bytes, run)?;
        }
    }

    /// A non-negative integer that fits a `u64` (a number of any other form, and a leading
    /// zero, is left to serde_json): its text, which is how serde_json would print it.
    fn integer(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let digits = self.bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = start + digits;
        let leading_zero = digits > 1 && self.bytes[start] == b'0';
        if digits > 19 || leading_zero || matches!(self.bytes.get(end), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.pos = end;
        Some(&self.text[start..end])
    }

    /// Past any JSON value (whitespace before it skipped), checked as serde_json checks a value
    /// it ignores.
    fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => {
                let (end, _) = self.string_end(self.pos + 1)?;
                self.pos = end + 1;
                Some(())
            }
            b'{' => self.object(|c, _| c.skip_value()),
            b'[' => self.array(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' => {
                self.pos += 1;
                self.number()
            }
            b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn array(&mut self) -> Option<()> {
        self.nest()?;
        self.pos += 1;
        self.ws();
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                self.skip_value()?;
                if self.after_item(b']')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Past a number's digits (after any minus sign): JSON's grammar, no leading zeros.
    fn number(&mut self) -> Option<()> {
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        // A digit after a leading zero is serde_json's "invalid number".
        (!self.peek().is_some_and(|b| b.is_ascii_digit())).then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Reader, parse_batch_with};
    use crate::model::record::Batch;

    /// One entry parsed by `reader`: the record with every text resolved, or the reason it is
    /// bad, and the count of ignored fields.
    fn outcome(json: &str, reader: Reader) -> String {
        let mut b = Batch::of_one_entry(json.as_bytes().to_vec());
        parse_batch_with(&mut b, reader);
        match b.records.first() {
            Some(r) => format!("{} ignored {}", r.describe(&b), b.ignored_fields),
            None => format!("bad: {}", b.bad[0].reason),
        }
    }

    fn same(json: &str) {
        assert_eq!(
            outcome(json, Reader::Fast),
            outcome(json, Reader::SerdeJson),
            "the readers differ on {json:?}"
        );
    }

    const REQUEST: &str = r#"{
    "httpRequest": {
      "latency": "0.158838709s",
      "remoteIp": "2a02:935::55f8",
      "requestMethod": "GET",
      "requestSize": "886",
      "requestUrl": "https://inventory.example/tasks/sync?a=1&b=\"x\"",
      "status": 204,
      "userAgent": "OrchardApp/5.12.1 (Android 15; Pixel 8)"
    },
    "insertId": "2134eeea3083",
    "labels": {
      "instanceId": "003e649e"
    },
    "logName": "projects/orchard-prod/logs/run.googleapis.com%2Frequests",
    "receiveTimestamp": "2026-11-30T12:00:00.100932610Z",
    "resource": {
      "labels": {
        "configuration_name": "inventory-worker",
        "revision_name": "inventory-worker-00114-tiz",
        "service_name": "inventory-worker"
      },
      "type": "cloud_run_revision"
    },
    "severity": "INFO",
    "spanId": "fcc5868573f98599",
    "timestamp": "2026-11-30T12:00:00.000000000Z",
    "trace": "projects/orchard-prod/traces/086d3807c53718d1"
  }"#;

    const PAYLOAD: &str = r#"{"insertId":"a1","jsonPayload":{"context":{"nested":[1,2.5,-3e+7,true,false,null,{"k":"v\u00e9"}],"s":"\ud83d\ude00"},"labels":{"function":"handle","line":1619,"module":"app.routes"},"message":"Payment failed: {\"code\": 502, \"detail\": \"upstream\\ttimeout\"} \u00e9 \ud83d\ude00\n  at x","timestamp":"2025-09-14T02:57:03+00:00"},"resource":{"type":"cloud_function","labels":{"function_name":"pay"}},"severity":"ERROR","sourceLocation":{"file":"pay.py","line":"42","function":"charge"},"timestamp":"2025-09-14T02:57:03.399376Z"}"#;

    const TEXT: &str = "{\"textPayload\": \"\\u001b[31m2025-09-14 02:57:03,399 ERROR [app.db] db.py:88 connection refused\\u001b[0m\", \"severity\": null, \"resource\": {\"type\": \"k8s_container\", \"labels\": {\"container_name\": \"api\", \"namespace_name\": \"prod\"}}, \"protoPayload\": null, \"trace\": null}";

    const PROTO: &str = r#"{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"storage.objects.get","status":{"code":7,"message":"permission denied"}},"receiveTimestamp":"2025-09-14T02:57:03Z","severity":"WARNING"}"#;

    #[test]
    fn the_common_entries_are_read_by_hand() {
        for json in [REQUEST, PAYLOAD, TEXT, PROTO] {
            assert!(super::entry(json).is_some(), "left to serde_json: {json}");
            same(json);
        }
    }

    #[test]
    fn what_the_reader_leaves_to_serde_json() {
        for json in [
            r#"{"severity": "INFO", "severity": "ERROR", "textPayload": "x"}"#,
            r#"{"textPayload": 42}"#,
            r#"{"textPayload": "x", "trace": {"a": 1}}"#,
            r#"{"textPayload": "x", "severity": -3}"#,
            r#"{"textPayload": "x", "severity": 2.5}"#,
            r#"{"textPayload": "x", "severity": 007}"#,
            r#"{"jsonPayload": {"message": {"a": [1, 2]}}}"#,
            r#"{"jsonPayload": "just text"}"#,
            r#"{"jsonPayload": {"message": "x"}, "resource": [1]}"#,
            r#"{"text\u0050ayload": "x"}"#,
            r#"{"textPayload": "lone \ud800 surrogate"}"#,
            r#"{"textPayload": "x", "extra": {"k\"ey": 1}}"#,
        ] {
            assert!(super::entry(json).is_none(), "read by hand: {json}");
            same(json);
        }
    }

    #[test]
    fn broken_json_is_rejected_in_serde_jsons_words() {
        for json in [
            r#"{"textPayload": "x",}"#,
            r#"{"textPayload": "x"} trailing"#,
            r#"{"textPayload": "x", "n": 01}"#,
            r#"{"textPayload": "x", "n": 1.}"#,
            r#"{"textPayload": "x", "n": -}"#,
            r#"{"textPayload": "x", "n": 1e}"#,
            r#"{"textPayload": "x", "n": tru}"#,
            r#"{"textPayload": "bad \x escape"}"#,
            r#"{"textPayload": "short \u12 escape"}"#,
            "{\"textPayload\": \"raw \t tab\"}",
            r#"{"textPayload": "x" "trace": "y"}"#,
            r#"{"textPayload": "x", "a": [1, 2,]}"#,
            r#"{"textPayload": "unterminated}"#,
            r#"{"textPayload" "x"}"#,
            r#"{"httpRequest": {"status": 500x}}"#,
        ] {
            assert!(super::entry(json).is_none(), "read by hand: {json}");
            assert!(outcome(json, Reader::SerdeJson).starts_with("bad: "));
            same(json);
        }
        let deep = format!(
            r#"{{"textPayload": "x", "d": {}{}}}"#,
            "[".repeat(120),
            "]".repeat(120)
        );
        same(&deep);
    }

    /// Every entry above cut, stretched and corrupted one byte at a time: the two readers agree
    /// on every result (a record, or the reason it is bad).
    #[test]
    fn the_readers_agree_on_every_mutation() {
        let mut compared = 0;
        let mut by_hand = 0;
        for json in [REQUEST, PAYLOAD, TEXT, PROTO] {
            let bytes = json.as_bytes();
            for at in 0..bytes.len() {
                let mut variants = vec![[&bytes[..at], &bytes[at + 1..]].concat()];
                for b in [
                    b'"', b'\\', b',', b'}', b'{', b'[', b'0', b'\n', 0x01, b'u', b'n',
                ] {
                    variants.push([&bytes[..at], &[b][..], &bytes[at..]].concat());
                    variants.push([&bytes[..at], &[b][..], &bytes[at + 1..]].concat());
                }
                for v in variants {
                    let Ok(text) = std::str::from_utf8(&v) else {
                        continue;
                    };
                    same(text);
                    compared += 1;
                    by_hand += usize::from(text.starts_with('{') && super::entry(text).is_some());
                }
            }
        }
        // Most mutations leave plain JSON of the common shape (a changed letter in a string):
        // the fast path is exercised, not only its refusals.
        assert!(
            by_hand * 4 > compared,
            "{by_hand} of {compared} read by hand"
        );
    }
}
