//! The parse stage: raw entry bytes to [`Record`]s. Only the fields the pipeline needs are
//! decoded, in one pass: the common entry by a hand-written reader (`fast`), anything else it is
//! not sure of by serde_json's typed, borrowed deserialiser, with the same result either way.
//! Strings without escapes are borrowed from the batch buffer and stored as spans, the rare
//! escaped or repaired ones go to the batch arena, so a record costs no allocation of its own.
//!
//! The message is taken from, in order: `jsonPayload.message`, `textPayload`,
//! `protoPayload.status.message`, `protoPayload.methodName`, and otherwise a compact rendering
//! of the payload. An entry with no payload and no `httpRequest` is a bad entry, as is anything
//! that is not a JSON object or has fields of the wrong type.

mod fast;
mod nested;
pub mod textlog;

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::value::RawValue;

use nested::{Message, Nested, fields};

use crate::model::record::{BadEntry, Batch, EntrySpan, Flaw, Http, Record, Severity, Str};
use crate::model::stats::StageStats;
use crate::model::time::Timestamp;
use crate::stages::worker::{self, Shared};
use tokio::sync::mpsc::Sender;

thread_local! {
    /// Fields of an unexpected type met by this thread's current batch: counted from inside
    /// serde visitors, which have no other way out but an error (which would reject the entry).
    static IGNORED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn note_ignored() {
    IGNORED.with(|c| c.set(c.get() + 1));
}

/// Consumes an object or array met where text was expected, and counts it.
fn skip_map<'de, A: de::MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map
        .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
        .is_some()
    {}
    note_ignored();
    Ok(())
}

fn skip_seq<'de, A: de::SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<de::IgnoredAny>()?.is_some() {}
    note_ignored();
    Ok(())
}

/// Text that may be written as a JSON string, number or boolean (Cloud Logging writes int64 as
/// strings, and people write line numbers and statuses either way).
#[derive(Debug, Default)]
struct Flex<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Flex<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flex<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Flex(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Flex(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Flex(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Flex(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Flex(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Flex(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Flex(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Flex(Cow::Borrowed("")))
            }
            // An object or array where a value was expected: ignored (and counted), never a
            // reason to reject the entry.
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Flex(Cow::Borrowed("")))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Flex(Cow::Borrowed("")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON string, borrowed from the input when it has no escapes. (serde's own `Cow<str>`
/// always allocates when wrapped in `Option`, so the pipeline uses this instead.)
#[derive(Clone, Debug, Default)]
struct Text<'a>(Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
            // Another type where text was expected: a number or boolean becomes its text, an
            // object or array is ignored; each is counted, none rejects the entry.
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                note_ignored();
                Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed("")))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Text(Cow::Borrowed("")))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Text(Cow::Borrowed("")))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Default, Deserialize)]
struct Entry<'a> {
    #[serde(borrow, rename = "insertId")]
    insert_id: Option<Text<'a>>,
    #[serde(borrow)]
    timestamp: Option<Text<'a>>,
    #[serde(borrow, rename = "receiveTimestamp")]
    receive_timestamp: Option<Text<'a>>,
    #[serde(borrow)]
    severity: Option<Flex<'a>>,
    // Nested objects are read in the same pass (see `nested`): one of an unexpected shape is
    // ignored and counted, never a reason to reject the entry.
    #[serde(borrow)]
    resource: Option<Nested<Resource<'a>>>,
    #[serde(borrow, rename = "logName")]
    log_name: Option<Text<'a>>,
    #[serde(borrow, rename = "jsonPayload")]
    json_payload: Option<Nested<JsonPayload<'a>>>,
    #[serde(borrow, rename = "textPayload")]
    text_payload: Option<Text<'a>>,
    #[serde(borrow, rename = "protoPayload")]
    proto_payload: Option<Nested<ProtoPayload<'a>>>,
    #[serde(borrow, rename = "httpRequest")]
    http_request: Option<Nested<HttpRequest<'a>>>,
    #[serde(borrow, rename = "sourceLocation")]
    source_location: Option<Nested<SourceLocation<'a>>>,
    #[serde(borrow)]
    trace: Option<Text<'a>>,
    #[serde(borrow)]
    labels: Option<Raw<'a>>,
}

/// A value's JSON text as it stands in the entry (serde_json's `RawValue`, borrowed).
#[derive(Debug)]
struct Raw<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|r| Raw(r.get()))
    }
}

/// The payloads alone, raw: read again only for a payload with no message to take, which is
/// then rendered whole.
#[derive(Deserialize)]
struct RawPayloads<'a> {
    #[serde(borrow, rename = "jsonPayload")]
    json_payload: Option<&'a RawValue>,
    #[serde(borrow, rename = "protoPayload")]
    proto_payload: Option<&'a RawValue>,
}

#[derive(Default)]
struct Resource<'a> {
    kind: Option<Text<'a>>,
    labels: Option<Nested<ResourceLabels<'a>>>,
}
fields!(Resource {
    kind: "type",
    labels: "labels"
});

#[derive(Default)]
struct ResourceLabels<'a> {
    service_name: Option<Text<'a>>,
    function_name: Option<Text<'a>>,
    module_id: Option<Text<'a>>,
    container_name: Option<Text<'a>>,
    job_name: Option<Text<'a>>,
    revision_name: Option<Text<'a>>,
    version_id: Option<Text<'a>>,
}
fields!(ResourceLabels {
    service_name: "service_name",
    function_name: "function_name",
    module_id: "module_id",
    container_name: "container_name",
    job_name: "job_name",
    revision_name: "revision_name",
    version_id: "version_id",
});

#[derive(Default)]
struct HttpRequest<'a> {
    method: Option<Text<'a>>,
    url: Option<Text<'a>>,
    status: Option<Flex<'a>>,
    latency: Option<Text<'a>>,
    user_agent: Option<Text<'a>>,
}
fields!(HttpRequest {
    method: "requestMethod",
    url: "requestUrl",
    status: "status",
    latency: "latency",
    user_agent: "userAgent",
});

#[derive(Default)]
struct SourceLocation<'a> {
    file: Option<Text<'a>>,
    line: Option<Flex<'a>>,
    function: Option<Text<'a>>,
}
fields!(SourceLocation {
    file: "file",
    line: "line",
    function: "function",
});

#[derive(Default)]
struct JsonPayload<'a> {
    message: Option<Message<'a>>,
    labels: Option<Nested<PayloadLabels<'a>>>,
}
fields!(JsonPayload {
    message: "message",
    labels: "labels",
});

#[derive(Default)]
struct PayloadLabels<'a> {
    module: Option<Flex<'a>>,
    function: Option<Flex<'a>>,
    line: Option<Flex<'a>>,
}
fields!(PayloadLabels {
    module: "module",
    function: "function",
    line: "line",
});

#[derive(Default)]
struct ProtoPayload<'a> {
    status: Option<Nested<ProtoStatus<'a>>>,
    method_name: Option<Text<'a>>,
}
fields!(ProtoPayload {
    status: "status",
    method_name: "methodName",
});

#[derive(Default)]
struct ProtoStatus<'a> {
    message: Option<Text<'a>>,
}
fields!(ProtoStatus { message: "message" });

/// Where parsed text goes: spans of the batch buffer when the text is borrowed from it,
/// otherwise the arena.
struct Spans<'b> {
    buf: &'b [u8],
    arena: &'b mut String,
}

impl Spans<'_> {
    fn of(&mut self, s: &str) -> Str {
        if s.is_empty() {
            return Str::EMPTY;
        }
        if let Some(span) = Str::text(self.buf, s) {
            return span;
        }
        let start = self.arena.len();
        self.arena.push_str(s);
        Str::arena(start..self.arena.len())
    }

    fn opt(&mut self, s: &Option<Text<'_>>) -> Str {
        s.as_ref().map_or(Str::EMPTY, |s| self.of(s))
    }

    fn flex(&mut self, s: &Option<Flex<'_>>) -> Str {
        s.as_ref().map_or(Str::EMPTY, |s| self.of(&s.0))
    }
}

/// A payload with no message to take, rendered compactly: read again from the entry's text
/// (rare, so the common entry is read once).
fn rendered_payload(text: &str, proto: bool) -> Option<String> {
    let raw = serde_json::from_str::<RawPayloads>(text).ok()?;
    let raw = if proto {
        raw.proto_payload
    } else {
        raw.json_payload
    }?;
    Some(match serde_json::from_str::<serde_json::Value>(raw.get()) {
        Ok(v) => v.to_string(),
        Err(_) => raw.get().to_string(),
    })
}

/// A reason for a part that serde_json could not decode.
fn invalid(part: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.starts_with("recursion limit exceeded") {
        // The source's depth limit (at most 127) normally catches these first.
        format!("invalid {part}: nested too deeply for serde_json ({text})")
    } else if e.is_eof() {
        // In gcloud's layout the splitter ends an entry at its own closing line without
        // counting brackets: one that is still open there is missing a bracket or a quote.
        format!(
            "invalid {part}: unbalanced JSON, it ends before its brackets close (a bracket or quote is missing): {text}"
        )
    } else {
        format!("invalid {part}: {text}")
    }
}

/// How an entry's JSON is read. Both give the same records and the same reasons for bad
/// entries (the tests compare them); they differ in speed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reader {
    /// The common entry read by hand (see `fast`), anything else by serde_json.
    #[default]
    Fast,
    /// Every entry by serde_json's typed, borrowed deserialiser: the one-core parse floor of
    /// the benchmarks (`gardener parse-only`) reads this way.
    SerdeJson,
}

/// Parses one entry. `text` is the entry's JSON (borrowed from `spans.buf` unless repaired).
fn parse_entry(text: &str, spans: &mut Spans<'_>, reader: Reader) -> Result<Record, String> {
    if !text.starts_with('{') {
        return Err("not a JSON object".into());
    }
    let fast = match reader {
        Reader::Fast => fast::entry(text),
        Reader::SerdeJson => None,
    };
    let e: Entry = match fast {
        Some(e) => e,
        None => serde_json::from_str(text).map_err(|e| invalid("entry", &e))?,
    };
    let mut r = Record {
        insert_id: spans.opt(&e.insert_id),
        log_name: spans.opt(&e.log_name),
        trace: spans.opt(&e.trace),
        trace_hash: e
            .trace
            .as_deref()
            .filter(|t| !t.is_empty())
            .map_or(0, |t| xxhash_rust::xxh3::xxh3_64(t.as_bytes())),
        labels: e.labels.map_or(Str::EMPTY, |l| spans.of(l.0)),
        ..Default::default()
    };
    r.timestamp = e
        .timestamp
        .as_deref()
        .and_then(Timestamp::parse)
        .or_else(|| e.receive_timestamp.as_deref().and_then(Timestamp::parse));
    if let Some(s) = &e.severity {
        r.severity = Severity::parse(&s.0).unwrap_or_default();
    }
    if let Some(res) = e.resource.and_then(Nested::object) {
        r.resource_type = spans.opt(&res.kind);
        if let Some(l) = res.labels.and_then(Nested::object) {
            // The most telling label first (Cloud Run, Functions, App Engine, GKE, jobs).
            let service = l
                .service_name
                .or(l.function_name)
                .or(l.module_id)
                .or(l.container_name)
                .or(l.job_name);
            r.service = spans.opt(&service);
            r.revision = spans.opt(&l.revision_name.or(l.version_id));
        }
        if r.service.is_empty() {
            r.service = r.resource_type;
        }
    }
    let mut message: Option<Cow<str>> = None;
    match e.json_payload {
        Some(Nested::Object(p)) => {
            message = p.message.map(|m| m.0);
            if let Some(l) = p.labels.and_then(Nested::object) {
                r.module = spans.flex(&l.module);
                r.function = spans.flex(&l.function);
                r.line = spans.flex(&l.line);
            }
            if message.is_none() && e.text_payload.is_none() {
                message = rendered_payload(text, false).map(Cow::Owned);
            }
        }
        // Not an object (`"jsonPayload": "just a string"`): counted, and its text rendered.
        Some(Nested::Other(v)) if e.text_payload.is_none() => {
            message = Some(Cow::Owned(v.to_string()));
        }
        _ => {}
    }
    if message.is_none() {
        message = e.text_payload.map(|t| t.0);
    }
    if let (None, Some(p)) = (&message, e.proto_payload) {
        message = match p {
            Nested::Object(p) => p
                .status
                .and_then(Nested::object)
                .and_then(|s| s.message)
                .filter(|m| !m.is_empty())
                .or(p.method_name)
                .map(|t| t.0)
                .or_else(|| rendered_payload(text, true).map(Cow::Owned)),
            Nested::Other(v) => Some(Cow::Owned(v.to_string())),
        };
    }
    if let Some(loc) = e.source_location.and_then(Nested::object) {
        r.file = spans.opt(&loc.file);
        if r.function.is_empty() {
            r.function = spans.opt(&loc.function);
        }
        if r.line.is_empty() {
            r.line = spans.flex(&loc.line);
        }
    }
    if let Some(h) = e.http_request.and_then(Nested::object) {
        r.http = Some(Http {
            method: spans.opt(&h.method),
            url: spans.opt(&h.url),
            status: h
                .status
                .as_ref()
                .and_then(|s| s.0.parse::<u16>().ok())
                .unwrap_or(0),
            latency_us: h
                .latency
                .as_deref()
                .and_then(crate::model::time::parse_latency_us),
            user_agent: spans.opt(&h.user_agent),
        });
    }
    match message {
        Some(m) => text_message(&mut r, &textlog::strip_ansi(&m), spans),
        None if r.http.is_some() => {}
        None => {
            return Err(
                "no message: none of jsonPayload, textPayload, protoPayload or httpRequest".into(),
            );
        }
    }
    Ok(r)
}

/// Sets the record's message from `text` (ANSI escapes already removed): a logger prefix is
/// split off (its level becomes the severity when Cloud Logging's is DEFAULT, its code location
/// the record's when it has none), and an access-log line becomes the record's request, so it
/// groups like an `httpRequest` entry. See [`textlog`].
fn text_message(r: &mut Record, text: &str, spans: &mut Spans<'_>) {
    let mut msg = text;
    if let Some(p) = textlog::split_prefix(text) {
        if let Some(level) = p.level
            && r.severity == Severity::Default
        {
            r.severity = level;
            r.severity_from_text = true;
        }
        let no_location = r.module.is_empty() && r.file.is_empty() && r.function.is_empty();
        if no_location && !p.module.is_empty() {
            let at = spans.of(&text[p.module.clone()]);
            if p.function.is_empty() {
                r.file = at;
            } else {
                r.module = at;
                r.function = spans.of(&text[p.function.clone()]);
            }
            r.line = spans.of(&text[p.line.clone()]);
        }
        msg = &text[p.message];
    }
    if r.http.is_none()
        && let Some(a) = textlog::access_line(msg)
    {
        if r.severity == Severity::Default {
            r.severity = match a.status {
                500.. => Severity::Error,
                400..=499 => Severity::Warning,
                _ => Severity::Info,
            };
            r.severity_from_text = true;
        }
        r.http = Some(Http {
            method: spans.of(&msg[a.method]),
            url: spans.of(&msg[a.url]),
            status: a.status,
            latency_us: None,
            user_agent: Str::EMPTY,
        });
        // No message: the entry groups as a request (method, route, status).
        return;
    }
    r.message = spans.of(msg);
}

/// Parses every entry of a batch in place.
pub fn parse_batch(batch: &mut Batch) {
    parse_batch_with(batch, Reader::Fast);
}

/// Parses every entry of a batch in place, reading each entry's JSON as `reader` says.
pub fn parse_batch_with(batch: &mut Batch, reader: Reader) {
    let buf = Arc::clone(&batch.buf);
    let mut arena = std::mem::take(&mut batch.arena);
    let mut records = Vec::with_capacity(batch.spans.len());
    let mut bad = Vec::new();
    let mut repaired = 0;
    let mut spans = Spans {
        buf: &buf,
        arena: &mut arena,
    };
    IGNORED.with(|c| c.set(0));
    for &EntrySpan {
        range: (s, e),
        entry_no,
        offset,
        flaw,
    } in &batch.spans
    {
        let raw_bytes = &buf[s as usize..e as usize];
        let raw = Str::raw(s as usize..e as usize);
        // The source already knows these are bad (cut off, too large, too deep, unbalanced).
        if let Some(reason) = flaw.reason() {
            let size = match flaw {
                Flaw::TooLarge { size, .. } => size,
                _ => raw_bytes.len() as u64,
            };
            bad.push(BadEntry {
                entry_no,
                offset,
                reason,
                raw,
                size,
            });
            continue;
        }
        // The entry's only UTF-8 validation: its spans are read back unchecked (`Str::text`).
        let (result, raw) = match simdutf8::basic::from_utf8(raw_bytes) {
            Ok(text) => (
                parse_entry(text, &mut spans, reader),
                Str::text(&buf, text).unwrap_or(raw),
            ),
            Err(_) => {
                repaired += 1;
                let fixed = String::from_utf8_lossy(raw_bytes).into_owned();
                (parse_entry(&fixed, &mut spans, reader), raw)
            }
        };
        match result {
            Ok(mut r) => {
                r.entry_no = entry_no;
                r.offset = offset;
                r.raw = raw;
                records.push(r);
            }
            Err(reason) => bad.push(BadEntry {
                entry_no,
                offset,
                reason,
                raw,
                size: raw_bytes.len() as u64,
            }),
        }
    }
    batch.ignored_fields = IGNORED.with(|c| c.get());
    batch.arena = arena;
    batch.records = records;
    batch.bad = bad;
    batch.repaired_utf8 = repaired;
}

/// Runs one parse worker. Several workers share the input receiver; each ends when the source
/// has ended and every batch it sent has been taken, so nothing that was read is left behind
/// (on a signal the source stops reading, sends what it has and ends).
pub async fn run(rx: Shared<Batch>, tx: Sender<Batch>, stats: Arc<StageStats>) {
    while let Some(mut batch) = worker::next(&rx, &stats).await {
        let t = stats.start(batch.spans.len());
        parse_batch(&mut batch);
        stats.finish(t, batch.records.len() + batch.bad.len());
        let blocked = std::time::Instant::now();
        if tx.send(batch).await.is_err() {
            break;
        }
        stats.blocked(blocked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(json: &str) -> (Batch, Result<Record, String>) {
        let mut b = Batch::of_one_entry(json.as_bytes().to_vec());
        parse_batch(&mut b);
        let r = if b.records.is_empty() {
            Err(b.bad[0].reason.clone())
        } else {
            Ok(b.records[0].clone())
        };
        (b, r)
    }

    #[test]
    fn structured_entry() {
        let json = r#"{
    "insertId": "abc",
    "jsonPayload": {
      "context": {"name": "x"},
      "labels": {"function": "_legacy_message_loop", "line": "1619", "module": "netra_backend.app.routes.websocket_ssot"},
      "message": "Invalid message type 'legacy_response'",
      "timestamp": "2025-09-14T02:57:03.399376+00:00"
    },
    "labels": {"instanceId": "00af"},
    "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
    "resource": {"labels": {"revision_name": "netra-backend-staging-00598-qss", "service_name": "netra-backend-staging"}, "type": "cloud_run_revision"},
    "severity": "ERROR",
    "timestamp": "2025-09-14T02:57:03.399376Z",
    "trace": "projects/p/traces/0123"
  }"#;
        let (b, r) = parse_one(json);
        let r = r.unwrap();
        assert_eq!(b.str(r.insert_id), "abc");
        assert_eq!(b.str(r.message), "Invalid message type 'legacy_response'");
        assert_eq!(b.str(r.service), "netra-backend-staging");
        assert_eq!(b.str(r.revision), "netra-backend-staging-00598-qss");
        assert_eq!(b.str(r.module), "netra_backend.app.routes.websocket_ssot");
        assert_eq!(b.str(r.function), "_legacy_message_loop");
        assert_eq!(b.str(r.line), "1619");
        assert_eq!(b.str(r.trace), "projects/p/traces/0123");
        assert_eq!(b.str(r.labels), r#"{"instanceId": "00af"}"#);
        assert_eq!(r.severity, Severity::Error);
        assert_eq!(r.timestamp, Timestamp::parse("2025-09-14T02:57:03.399376Z"));
        // Nothing was unescaped: every field is borrowed from the buffer.
        assert!(b.arena.is_empty());
    }

    #[test]
    fn escaped_text_payload_goes_to_arena() {
        let json = r#"{"textPayload": "Traceback (most recent call last):\n  File \"x.py\", line 3\nKeyError: '\"timestamp\"'", "severity": 500, "resource": {"type": "cloud_run_revision", "labels": {"service_name": "auth"}}}"#;
        let (b, r) = parse_one(json);
        let r = r.unwrap();
        assert!(
            b.str(r.message)
                .starts_with("Traceback (most recent call last):\n  File \"x.py\"")
        );
        assert_eq!(r.severity, Severity::Error);
        assert_eq!(b.str(r.service), "auth");
    }

    #[test]
    fn http_request_without_message() {
        let json = r#"{"httpRequest": {"latency": "0.002803s", "requestMethod": "GET", "requestUrl": "https://x/ws/health", "status": 503, "userAgent": "test-verification"}, "severity": "WARNING", "timestamp": "2025-09-14T02:56:56.558217123Z"}"#;
        let (b, r) = parse_one(json);
        let r = r.unwrap();
        let h = r.http.unwrap();
        assert_eq!(h.status, 503);
        assert_eq!(h.latency_us, Some(2803));
        assert_eq!(b.str(h.method), "GET");
        assert!(r.message.is_empty());
    }

    #[test]
    fn proto_payload_and_compact_payload() {
        let (b, r) = parse_one(
            r#"{"protoPayload": {"status": {"message": "permission denied"}, "methodName": "m"}}"#,
        );
        assert_eq!(b.str(r.unwrap().message), "permission denied");
        let (b, r) = parse_one(r#"{"jsonPayload": {"event": "x", "n": 1}}"#);
        assert_eq!(b.str(r.unwrap().message), r#"{"event":"x","n":1}"#);
        let (b, r) = parse_one(r#"{"jsonPayload": {"message": {"k": [1, 2]}}}"#);
        assert_eq!(b.str(r.unwrap().message), r#"{"k":[1,2]}"#);
    }

    #[test]
    fn bad_entries_are_explained() {
        assert_eq!(parse_one("[1,2]").1.unwrap_err(), "not a JSON object");
        assert!(
            parse_one(r#"{"severity": "ERROR"}"#)
                .1
                .unwrap_err()
                .starts_with("no message")
        );
        // A field of another type is read as text (or ignored), never a rejection.
        assert!(parse_one(r#"{"textPayload": 5}"#).1.is_ok());
        assert!(
            parse_one(r#"{"textPayload": "x""#)
                .1
                .unwrap_err()
                .contains("invalid entry")
        );
    }

    #[test]
    fn nested_objects_of_another_shape_are_ignored_not_rejected() {
        // Read in one pass: a nested value that is no object is counted and left out; the
        // rest of the entry is kept.
        let (b, r) = parse_one(
            r#"{"httpRequest": 5, "sourceLocation": [1], "resource": {"type": "gce_instance", "labels": "x"}, "jsonPayload": {"labels": 7, "message": "kept"}}"#,
        );
        let r = r.unwrap();
        assert_eq!(b.str(r.message), "kept");
        assert!(r.http.is_none());
        assert_eq!(b.str(r.service), "gce_instance");
        assert_eq!(b.ignored_fields, 4);
        // protoPayload.status as a number: the method name is the message.
        let (b, r) = parse_one(r#"{"protoPayload": {"status": 7, "methodName": "m.get"}}"#);
        assert_eq!(b.str(r.unwrap().message), "m.get");
        assert_eq!(b.ignored_fields, 1);
        // A payload that is no object is rendered as the message.
        let (b, r) = parse_one(r#"{"jsonPayload": "just a string"}"#);
        assert_eq!(b.str(r.unwrap().message), r#""just a string""#);
        let (b, r) = parse_one(r#"{"protoPayload": {"x": [1, {"y": null}]}}"#);
        assert_eq!(b.str(r.unwrap().message), r#"{"x":[1,{"y":null}]}"#);
        // A repeated field: the last one counts. A null message renders the payload.
        let (b, r) = parse_one(r#"{"jsonPayload": {"message": "a", "message": "b"}}"#);
        assert_eq!(b.str(r.unwrap().message), "b");
        let (b, r) = parse_one(r#"{"jsonPayload": {"message": null, "k": 1}}"#);
        assert_eq!(b.str(r.unwrap().message), r#"{"k":1,"message":null}"#);
        // Numbers and escaped keys.
        let (b, r) = parse_one(
            r#"{"jsonPayload": {"message": 1.5}, "httpRequest": {"st\u0061tus": "502"}}"#,
        );
        let r = r.unwrap();
        assert_eq!(b.str(r.message), "1.5");
        assert_eq!(r.http.unwrap().status, 502);
    }

    #[test]
    fn the_most_telling_service_label_wins_in_any_order() {
        let service = |labels: &str| {
            let json = format!(
                r#"{{"textPayload": "x", "resource": {{"type": "t", "labels": {labels}}}}}"#
            );
            let (b, r) = parse_one(&json);
            let r = r.unwrap();
            (b.str(r.service).to_string(), b.str(r.revision).to_string())
        };
        assert_eq!(
            service(r#"{"job_name": "j", "function_name": "f", "version_id": "v"}"#),
            ("f".into(), "v".into())
        );
        assert_eq!(
            service(
                r#"{"container_name": "c", "service_name": "s", "revision_name": "r", "version_id": "v"}"#
            ),
            ("s".into(), "r".into())
        );
        assert_eq!(
            service(r#"{"service_name": null, "module_id": "m"}"#),
            ("m".into(), "".into())
        );
        assert_eq!(service(r#"{"zone": "z"}"#), ("t".into(), "".into()));
    }

    #[test]
    fn invalid_utf8_is_repaired() {
        let mut bytes = br#"{"textPayload": "caf"#.to_vec();
        bytes.push(0xff);
        bytes.extend_from_slice(br#""}"#);
        let mut b = Batch {
            buf: Arc::new(bytes.clone()),
            spans: vec![EntrySpan {
                range: (0, bytes.len() as u32),
                entry_no: 1,
                offset: 0,
                flaw: Flaw::None,
            }],
            ..Default::default()
        };
        parse_batch(&mut b);
        assert_eq!(b.repaired_utf8, 1);
        assert_eq!(b.str(b.records[0].message), "caf\u{fffd}");
    }
}
