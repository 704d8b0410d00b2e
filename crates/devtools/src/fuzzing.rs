//! The bodies of the fuzz targets in `fuzz/` (`cargo +nightly fuzz run split|parse|mask`), kept
//! in the library so that stable tests run the same checks on random and hand-made inputs
//! (`tests/it/properties.rs`). Each takes arbitrary bytes, must never panic, and asserts the
//! invariants in its documentation.

use std::sync::{Arc, OnceLock};

use gardener_core::config::{Config, InputFormat};
use gardener_core::model::record::{Batch, EntrySpan, Flaw};
use gardener_core::stages::fingerprint::{Fingerprinter, Masker, fingerprint_message};
use gardener_core::stages::parse::{Reader, parse_batch_with};
use gardener_core::stages::source::{HEAD_BYTES, Limits, Splitter, split_pieces};

/// Reads fuzz bytes as settings plus an input: byte 0 picks the size limit, byte 1 the depth
/// limit, bytes 2..4 two read sizes, the rest is the input.
pub struct Setup<'a> {
    pub limits: Limits,
    pub pieces: [usize; 2],
    pub input: &'a [u8],
}

impl<'a> Setup<'a> {
    pub fn from_bytes(data: &'a [u8]) -> Setup<'a> {
        let at = |i: usize| data.get(i).copied().unwrap_or(0) as usize;
        Setup {
            limits: Limits {
                // Small limits so that fuzzing reaches the oversize paths; 0 means the default.
                max_entry_bytes: match at(0) {
                    0 => Limits::default().max_entry_bytes,
                    n => (n * 8) as u64,
                },
                max_depth: (at(1) % 127 + 1) as u32,
            },
            pieces: [at(2) % 64 + 1, at(3) + 1],
            input: data.get(4..).unwrap_or(&[]),
        }
    }
}

/// Splitter: the same entries and notes for any read sizes; entries in input order, each one the
/// input's bytes at its offset (for an entry over the limit, its first bytes, and its size over
/// the limit and inside the input); the buffer never holds much more than the size limit and
/// one read.
pub fn split(data: &[u8]) {
    let s = Setup::from_bytes(data);
    let max = s.limits.max_entry_bytes;
    for format in [InputFormat::Auto, InputFormat::Ndjson] {
        let whole = split_pieces(s.input, &[], format, s.limits);
        let pieces = split_pieces(s.input, &s.pieces, format, s.limits);
        assert_eq!(whole.entries, pieces.entries, "entries differ by read size");
        assert_eq!(whole.notes, pieces.notes, "notes differ by read size");
        let most = s.pieces[0].max(s.pieces[1]) as u64;
        assert!(
            pieces.peak as u64 <= max + most + 4,
            "buffer grew to {} (limit {max}, reads of {most})",
            pieces.peak
        );
        let mut last_end = 0u64;
        for (offset, bytes, flaw) in &whole.entries {
            let at = *offset as usize;
            assert!(*offset >= last_end, "entries overlap or go backwards");
            assert!(!bytes.is_empty());
            match *flaw {
                Flaw::TooLarge { size, limit, .. } => {
                    assert_eq!(limit, max);
                    assert!(size > max && offset + size <= s.input.len() as u64);
                    let head = (HEAD_BYTES as u64).min(max) as usize;
                    assert_eq!(&s.input[at..at + head], &bytes[..]);
                    last_end = offset + size;
                }
                _ => {
                    assert!(
                        bytes.len() as u64 <= max,
                        "an entry over the limit was kept"
                    );
                    assert_eq!(&s.input[at..at + bytes.len()], &bytes[..]);
                    last_end = offset + bytes.len() as u64;
                }
            }
        }
    }
}

/// What [`split_and_parse`] counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub processed: u64,
    pub bad: u64,
}

/// Splits an input and parses and fingerprints every entry as a run does (one batch). Every
/// entry read is processed or bad.
pub fn split_and_parse(input: &[u8], limits: Limits) -> Counts {
    let mut splitter = Splitter::new(InputFormat::Auto, limits);
    let mut found = Vec::new();
    splitter.scan(input, &mut found);
    splitter.finish(input, &mut found);
    let mut buf = input.to_vec();
    let heads_at = buf.len();
    buf.extend_from_slice(&splitter.heads);
    let spans: Vec<EntrySpan> = found
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let at = if matches!(f.flaw, Flaw::TooLarge { .. }) {
                heads_at
            } else {
                0
            };
            EntrySpan {
                range: ((at + f.start) as u32, (at + f.end) as u32),
                entry_no: i as u64 + 1,
                offset: f.offset,
                flaw: f.flaw,
            }
        })
        .collect();
    let mut batch = Batch {
        seq: 1,
        buf: Arc::new(buf),
        spans,
        ..Default::default()
    };
    parse_batch_with(&mut batch, Reader::Fast);
    Fingerprinter::new(Arc::clone(masker())).batch(&mut batch);
    for r in &batch.records {
        // Every text field resolves (to text, or empty), never panics.
        for s in [r.message, r.service, r.insert_id, r.raw, r.labels] {
            let _ = batch.str(s);
        }
    }
    for b in &batch.bad {
        assert!(!b.reason.is_empty());
        assert!(b.size >= batch.bytes(b.raw).len() as u64);
    }
    let counts = Counts {
        read: batch.spans.len() as u64,
        processed: batch.records.len() as u64,
        bad: batch.bad.len() as u64,
    };
    assert_eq!(counts.read, counts.processed + counts.bad, "{counts:?}");
    counts
}

/// Parser: any bytes as one entry, and as a whole input, give a record or a bad entry with a
/// reason, never a panic; read = processed + bad; the hand-written reader and serde_json give
/// the same result.
pub fn parse(data: &[u8]) {
    let s = Setup::from_bytes(data);
    let one_entry = |reader| {
        let mut batch = Batch::of_one_entry(s.input.to_vec());
        parse_batch_with(&mut batch, reader);
        assert_eq!(batch.records.len() + batch.bad.len(), 1);
        outcome(&batch)
    };
    // The hand-written reader and serde_json agree on every input: the same record, or the
    // same reason for a bad entry.
    assert_eq!(
        one_entry(Reader::Fast),
        one_entry(Reader::SerdeJson),
        "the readers differ"
    );
    split_and_parse(s.input, s.limits);
}

/// A parsed one-entry batch as text: the record with every text resolved and the count of
/// ignored fields, or the bad entry's reason.
fn outcome(b: &Batch) -> String {
    match b.records.first() {
        Some(r) => format!("{} ignored {}", r.describe(b), b.ignored_fields),
        None => format!("bad: {}", b.bad[0].reason),
    }
}

/// The masker with the built-in pack.
pub fn masker() -> &'static Arc<Masker> {
    static MASKER: OnceLock<Arc<Masker>> = OnceLock::new();
    MASKER.get_or_init(|| {
        let cfg = Config::default();
        let pack = cfg.masks().expect("built-in masks parse");
        Arc::new(Masker::new(&pack, cfg.fingerprint.max_message_bytes).expect("built-in masks"))
    })
}

/// Masker and fingerprints: any text (lossily decoded bytes) gives a template and id, the same
/// every time; HTTP templates likewise.
pub fn mask(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let m = masker();
    let a = fingerprint_message(m, "svc", &text);
    let b = fingerprint_message(m, "svc", &text);
    assert_eq!(a, b, "masking is not deterministic");
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (method, url) = text.split_at(mid);
    let status = data.first().map_or(0, |&b| b as u16 * 3);
    let (mut t1, mut t2) = (String::new(), String::new());
    m.http_template(method, url, status, &mut t1);
    m.http_template(method, url, status, &mut t2);
    assert_eq!(t1, t2, "HTTP templates are not deterministic");
}
