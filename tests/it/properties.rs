//! Property tests (proptest): the splitter gives the same entries for any chunking of its input,
//! masking and fingerprints never panic on arbitrary bytes or text, and every entry read is
//! processed or dead-lettered — in the library and in a whole run. The fuzz targets in `fuzz/`
//! run the same bodies (`gardener_devtools::fuzzing`); here they run on stable, on random and
//! gcloud-shaped inputs, a bounded number of cases each.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};

use gardener_core::config::{Config, InputFormat};
use gardener_core::model::run::RunOptions;
use gardener_core::stages::source::{Limits, split_pieces};
use gardener_core::topology::pipeline;
use gardener_devtools::fuzzing;

/// Bytes rich in what the splitter cares about.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b"{}[]\",:\\ \n\r\tab01-\xff\x00\xef\xbb\xbf".to_vec();
    prop::collection::vec(prop::sample::select(alphabet), 0..600)
}

/// A message with the characters that make JSON escaping and masking interesting.
fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,40}",
        "user [0-9]{1,6} failed: \\{[a-z\"\\\\]{0,10}\\}",
        any::<String>(),
    ]
}

/// One gcloud-shaped entry; sometimes with a field of the wrong type or no message.
fn entry() -> impl Strategy<Value = Value> {
    (message(), 0u8..8, any::<u16>()).prop_map(|(msg, kind, n)| match kind {
        0 => json!({ "textPayload": msg, "severity": "ERROR", "insertId": format!("id{n}") }),
        1 => json!({ "jsonPayload": { "message": msg, "n": [n, { "deep": [msg] }] } }),
        2 => json!({ "httpRequest": { "status": n, "requestUrl": msg }, "severity": n }),
        3 => json!({ "textPayload": n }),    // wrong type
        4 => json!({ "severity": "ERROR" }), // no message
        5 => json!([msg]),                   // not an object
        6 => json!({ "resource": msg, "textPayload": msg }), // wrong type
        _ => json!({ "protoPayload": { "status": { "message": msg } }, "timestamp": "2025-09-14T04:00:00Z" }),
    })
}

/// gcloud output (pretty array or NDJSON), sometimes damaged: cut off, a byte removed, a junk
/// line inserted, or a cut copy in front of a whole one.
fn gcloud_input() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(entry(), 0..12),
        any::<bool>(),
        0u8..6,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(entries, ndjson, damage, at)| {
            let text = if ndjson {
                entries.iter().map(|e| format!("{e}\n")).collect::<String>()
            } else {
                serde_json::to_string_pretty(&entries).unwrap() + "\n"
            };
            let mut bytes = text.into_bytes();
            let i = at.index(bytes.len().max(1)).min(bytes.len());
            match damage {
                1 => bytes.truncate(i),
                2 if i < bytes.len() => {
                    bytes.remove(i);
                }
                3 => {
                    let line = bytes[..i]
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |p| p + 1);
                    bytes.splice(line..line, b"WARNING: junk from gcloud\n".iter().copied());
                }
                4 => {
                    let cut = bytes[..i].to_vec();
                    bytes.splice(0..0, cut);
                }
                _ => {}
            }
            bytes
        })
}

/// One entry, pretty or compact, sometimes with a byte removed, replaced or inserted: what the
/// parse stage's two readers (by hand, serde_json) must agree on.
fn one_entry() -> impl Strategy<Value = Vec<u8>> {
    let bytes: Vec<u8> = b"{}[]\",:\\ \n0a-eu\x01".to_vec();
    (
        entry(),
        any::<bool>(),
        0u8..4,
        any::<prop::sample::Index>(),
        prop::sample::select(bytes),
    )
        .prop_map(|(e, pretty, damage, at, b)| {
            let text = if pretty {
                serde_json::to_string_pretty(&e).unwrap()
            } else {
                e.to_string()
            };
            let mut bytes = text.into_bytes();
            let i = at.index(bytes.len().max(1)).min(bytes.len());
            match damage {
                1 if i < bytes.len() => {
                    bytes.remove(i);
                }
                2 if i < bytes.len() => bytes[i] = b,
                3 => bytes.insert(i, b),
                _ => {}
            }
            bytes
        })
}

fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        gcloud_input(),
        jsonish(),
        prop::collection::vec(any::<u8>(), 0..300)
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    (prop_oneof![Just(16u64 << 20), 8u64..400], 1u32..=127).prop_map(|(max, depth)| Limits {
        max_entry_bytes: max,
        max_depth: depth,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn splitter_gives_the_same_entries_for_any_chunking(
        input in any_input(),
        pieces in prop::collection::vec(1usize..90, 1..8),
        limits in limits(),
    ) {
        for format in [InputFormat::Auto, InputFormat::Ndjson] {
            let whole = split_pieces(&input, &[], format, limits);
            let chunked = split_pieces(&input, &pieces, format, limits);
            prop_assert_eq!(&whole.entries, &chunked.entries);
            prop_assert_eq!(&whole.notes, &chunked.notes);
        }
    }

    #[test]
    fn split_fuzz_body_holds(data in prop::collection::vec(any::<u8>(), 0..700)) {
        fuzzing::split(&data);
    }

    #[test]
    fn split_fuzz_body_holds_on_gcloud_input(head in prop::collection::vec(any::<u8>(), 4), input in gcloud_input()) {
        let mut data = head;
        data.extend_from_slice(&input);
        fuzzing::split(&data);
        fuzzing::parse(&data);
    }

    #[test]
    fn parse_fuzz_body_holds(data in any_input()) {
        fuzzing::parse(&data);
    }

    #[test]
    fn parse_readers_agree_on_every_entry(entry in one_entry()) {
        let mut data = vec![0; 4];
        data.extend_from_slice(&entry);
        fuzzing::parse(&data);
    }

    #[test]
    fn fingerprints_never_panic_on_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::mask(&data);
    }

    #[test]
    fn fingerprints_never_panic_on_text(text in any::<String>(), words in "([a-z0-9_.:/=@-]{1,12} ?){0,20}") {
        fuzzing::mask(text.as_bytes());
        fuzzing::mask(words.as_bytes());
    }

    #[test]
    fn read_equals_processed_plus_bad(input in any_input(), limits in limits()) {
        let c = fuzzing::split_and_parse(&input, limits);
        prop_assert_eq!(c.read, c.processed + c.bad);
    }
}

/// Runs the real pipeline in-process on `input` and checks the report's accounting against
/// the entries and dead-letter files.
fn run_and_account(dir: &Path, input: &[u8], max_entry_kib: u64) -> Result<(), TestCaseError> {
    let file = dir.join("input");
    std::fs::write(&file, input).unwrap();
    let (entries, dead, json) = (
        dir.join("entries.ndjson"),
        dir.join("dead.ndjson"),
        dir.join("report.json"),
    );
    let mut cfg = Config::default();
    cfg.source.max_entry_kib = max_entry_kib;
    cfg.pipeline.batch_size = 3; // many batches, out of order across workers
    cfg.state.dir = "none".into(); // no state store shared between cases
    let opts = RunOptions {
        files: vec![file.display().to_string()],
        report: Some(dir.join("report.md").display().to_string()),
        json: Some(json.display().to_string()),
        entries: Some(entries.display().to_string()),
        dead_letter: Some(dead.display().to_string()),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let out = rt
        .block_on(pipeline::run(cfg, opts))
        .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    rt.shutdown_background();
    prop_assert!(out.sink_errors.is_empty(), "{:?}", out.sink_errors);
    let t = &out.report.totals;
    prop_assert_eq!(t.entries_read, t.entries_processed + t.entries_skipped);
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count() as u64;
    prop_assert_eq!(lines(&entries), t.entries_processed);
    prop_assert_eq!(lines(&dead), t.entries_skipped);
    prop_assert!(
        !out.report.notes.iter().any(|n| n.contains("accounting")),
        "{:?}",
        out.report.notes
    );
    // The JSON report says the same.
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    prop_assert_eq!(
        report["totals"]["entries_read"].as_u64(),
        Some(t.entries_read)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// count(read) = count(processed) + count(dead-lettered), for a whole run on any input.
    #[test]
    fn a_run_accounts_for_every_entry(input in any_input(), small_limit in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        run_and_account(dir.path(), &input, if small_limit { 1 } else { 16 << 10 })?;
    }
}
