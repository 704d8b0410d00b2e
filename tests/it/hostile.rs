//! Hostile input and faults, end to end: each test makes its own hostile file, runs the real
//! `gardener` binary on it (killed after a time limit, so nothing can hang), and checks exact
//! accounting — every entry read is processed or in the dead-letter file, with its offset,
//! size, reason and raw bytes — plus notes, exit codes and what reaches stdout and stderr.
//!
//! `tests/run.rs` covers the basic bad-entry, truncation and empty-input cases; this file goes
//! further.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{gardener_limited, num, read_json, read_ndjson, s, tempdir, text, write};

/// A guard against a hung run, never a timing test (the test crate runs many runs at once).
const LIMIT: Duration = Duration::from_secs(180);

/// A gcloud-shaped entry with its message in `textPayload`.
fn entry(id: &str, message: &str) -> Value {
    json!({
        "insertId": id,
        "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
        "resource": {
            "labels": { "revision_name": "api-00001-abc", "service_name": "api" },
            "type": "cloud_run_revision"
        },
        "severity": "ERROR",
        "textPayload": message,
        "timestamp": "2025-09-14T04:00:00Z"
    })
}

fn entries(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            entry(
                &format!("e{i}"),
                &format!("Connection {i} to redis timed out"),
            )
        })
        .collect()
}

/// Exactly what `gcloud logging read --format=json` prints.
fn pretty(entries: &[Value]) -> String {
    serde_json::to_string_pretty(entries).expect("serialise") + "\n"
}

fn ndjson(entries: &[Value]) -> String {
    entries.iter().map(|e| format!("{e}\n")).collect()
}

/// A finished run with its outputs.
struct Run {
    report: Value,
    dead: Vec<Value>,
    entries: Vec<Value>,
    md: String,
}

impl Run {
    fn totals(&self) -> (u64, u64, u64) {
        let t = &self.report["totals"];
        (
            num(t, "entries_read"),
            num(t, "entries_processed"),
            num(t, "entries_skipped"),
        )
    }

    fn notes(&self) -> Vec<String> {
        self.report["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .map(|n| n.as_str().expect("note").to_string())
            .collect()
    }

    fn reasons(&self) -> Vec<String> {
        self.dead
            .iter()
            .map(|d| text(d, "reason").to_string())
            .collect()
    }

    fn ids(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| text(e, "insertId").to_string())
            .collect()
    }
}

/// Writes `content` to `dir/name`, runs `gardener run FILE --json --dead-letter --entries
/// --report EXTRA...`, expects exit code `code`, and checks the accounting against `content`.
fn run_file(dir: &Path, name: &str, content: &[u8], extra: &[&str], code: i32) -> Run {
    let input = write(dir, name, content);
    run_paths(dir, name, &[input], extra, code, &[content])
}

fn run_paths(
    dir: &Path,
    tag: &str,
    inputs: &[PathBuf],
    extra: &[&str],
    code: i32,
    contents: &[&[u8]],
) -> Run {
    let (json, dead, ents, md) = (
        dir.join(format!("{tag}.report.json")),
        dir.join(format!("{tag}.dead.ndjson")),
        dir.join(format!("{tag}.entries.ndjson")),
        dir.join(format!("{tag}.report.md")),
    );
    let mut args = vec!["run"];
    args.extend(inputs.iter().map(|p| s(p)));
    args.extend([
        "--json",
        s(&json),
        "--dead-letter",
        s(&dead),
        "--entries",
        s(&ents),
        "--report",
        s(&md),
    ]);
    args.extend_from_slice(extra);
    let out = gardener_limited(&args, b"", LIMIT);
    out.expect_code(code);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let run = Run {
        report: read_json(&json),
        dead: read_ndjson(&dead),
        entries: read_ndjson(&ents),
        md: std::fs::read_to_string(&md).expect("markdown report"),
    };
    let names: Vec<&str> = inputs.iter().map(|p| s(p)).collect();
    check_accounting(&run, &names, contents);
    run
}

/// Every entry read is processed (a line in --entries) or skipped (a line in --dead-letter);
/// every dead letter carries its input, entry number, offset, size, a reason, and the raw bytes
/// found at that offset in the input (only the first 4096 for an entry over the size limit).
fn check_accounting(run: &Run, inputs: &[&str], contents: &[&[u8]]) {
    let (read, processed, skipped) = run.totals();
    assert_eq!(read, processed + skipped, "read = processed + skipped");
    assert_eq!(
        run.entries.len() as u64,
        processed,
        "--entries has one line per processed entry"
    );
    assert_eq!(
        run.dead.len() as u64,
        skipped,
        "--dead-letter has one line per skipped entry"
    );
    assert!(
        !run.notes().iter().any(|n| n.contains("accounting")),
        "{:?}",
        run.notes()
    );
    for d in &run.dead {
        let which = inputs
            .iter()
            .position(|i| *i == text(d, "input"))
            .unwrap_or_else(|| panic!("unknown input in {d}"));
        let content = contents[which];
        let (offset, size) = (num(d, "offset") as usize, num(d, "size") as usize);
        assert!(num(d, "entry") >= 1);
        assert!(offset + size <= content.len(), "{d} beyond the input");
        assert!(!text(d, "reason").is_empty());
        // An entry over the limit keeps its first min(4096, limit) bytes.
        let reason = text(d, "reason");
        let raw_len = match reason.split_once("larger than the limit of ") {
            Some((_, rest)) => {
                let limit: usize = rest.split(' ').next().unwrap().parse().unwrap();
                4096.min(limit).min(size)
            }
            None => size,
        };
        assert_eq!(
            text(d, "raw"),
            String::from_utf8_lossy(&content[offset..offset + raw_len]),
            "raw of {d}"
        );
    }
}

// -------------------------------------------------------------------------------------------
// Truncation and resynchronisation
// -------------------------------------------------------------------------------------------

/// Byte ranges of the entries (`{` to `}`) of a pretty array.
fn entry_ranges(pretty: &str) -> Vec<(usize, usize)> {
    let starts: Vec<usize> = pretty.match_indices("\n  {").map(|(i, _)| i + 3).collect();
    let ends: Vec<usize> = pretty.match_indices("\n  }").map(|(i, _)| i + 4).collect();
    starts.into_iter().zip(ends).collect()
}

#[test]
fn truncated_arrays_keep_every_complete_entry_at_every_cut_point() {
    let dir = tempdir();
    let mut es = entries(3);
    // Escapes and multi-byte characters to cut through.
    es[1] = entry("e1", "quote \" backslash \\ and ünïcödé — ✓");
    let full = pretty(&es);
    let ranges = entry_ranges(&full);
    assert_eq!(ranges.len(), 3);
    let mut cuts: Vec<usize> = (1..full.len()).step_by(13).collect();
    cuts.extend([
        1,
        2,
        ranges[1].0,
        ranges[1].0 + 1,
        ranges[1].1 - 1,
        ranges[1].1,
    ]);
    for cut in cuts {
        let content = &full.as_bytes()[..cut];
        let run = run_file(dir.path(), &format!("cut{cut}"), content, &[], 0);
        let complete = ranges.iter().filter(|r| r.1 <= cut).count() as u64;
        let partial = ranges.iter().find(|r| r.0 < cut && cut < r.1);
        let (read, processed, skipped) = run.totals();
        assert_eq!(processed, complete, "cut at {cut}");
        assert_eq!(skipped, partial.is_some() as u64, "cut at {cut}");
        assert_eq!(read, complete + skipped, "cut at {cut}");
        let want: Vec<String> = (0..complete).map(|i| format!("e{i}")).collect();
        assert_eq!(run.ids(), want, "cut at {cut}");
        let notes = run.notes();
        assert_eq!(notes.len(), 1, "cut at {cut}: {notes:?}");
        if let Some(&(start, _)) = partial {
            let d = &run.dead[0];
            assert_eq!(num(d, "offset"), start as u64, "cut at {cut}");
            assert_eq!(num(d, "entry"), complete + 1, "cut at {cut}");
            assert!(text(d, "reason").contains("cut off"), "{d}");
            assert!(notes[0].contains("cut off"), "{notes:?}");
        } else {
            assert!(notes[0].contains("not closed"), "cut at {cut}: {notes:?}");
        }
    }
}

#[test]
fn an_unbalanced_entry_in_the_middle_does_not_swallow_the_rest() {
    let dir = tempdir();
    let full = pretty(&entries(5));
    let ranges = entry_ranges(&full);
    // Drop the closing brace of "resource" in the second entry.
    let second = &full[ranges[1].0..ranges[1].1];
    let brace = ranges[1].0 + second.find("\n    },").expect("resource closes") + 5;
    let mut broken = full.clone();
    broken.remove(brace);
    let run = run_file(dir.path(), "unbalanced.json", broken.as_bytes(), &[], 0);
    assert_eq!(run.totals(), (5, 4, 1));
    assert_eq!(run.ids(), ["e0", "e2", "e3", "e4"]);
    let d = &run.dead[0];
    assert_eq!(num(d, "entry"), 2);
    assert_eq!(num(d, "offset"), ranges[1].0 as u64);
    // Read line by line, the entry ends at its own closing line, where the parser finds it
    // still open.
    assert!(text(d, "reason").contains("unbalanced JSON"), "{d}");
    assert!(run.notes().is_empty(), "{:?}", run.notes());
    assert!(run.md.contains("unbalanced JSON"), "{}", run.md);
}

#[test]
fn an_unterminated_string_in_the_middle_costs_one_entry() {
    let dir = tempdir();
    let full = pretty(&entries(4));
    let line = "\"Connection 1 to redis timed out\",\n";
    assert!(full.contains(line));
    // The second entry's message loses its closing quote.
    let broken = full.replace(line, "\"Connection 1 to redis timed out,\n");
    let run = run_file(dir.path(), "string.json", broken.as_bytes(), &[], 0);
    assert_eq!(run.totals(), (4, 3, 1));
    assert_eq!(run.ids(), ["e0", "e2", "e3"]);
    assert!(
        run.reasons()[0].starts_with("invalid entry: control character"),
        "{:?}",
        run.reasons()
    );
    assert_eq!(num(&run.dead[0], "entry"), 2);
}

#[test]
fn a_cut_gcloud_output_followed_by_a_whole_one() {
    // gcloud interrupted, then run again, both appended to one file.
    let dir = tempdir();
    let full = pretty(&entries(3));
    let ranges = entry_ranges(&full);
    let cut = &full[..ranges[1].0 + 40];
    let content = format!("{cut}{full}");
    let run = run_file(dir.path(), "twice.json", content.as_bytes(), &[], 0);
    assert_eq!(run.totals(), (5, 4, 1));
    assert_eq!(run.ids(), ["e0", "e0", "e1", "e2"]);
    assert!(run.reasons()[0].starts_with("unbalanced JSON"));
    assert_eq!(num(&run.dead[0], "offset"), ranges[1].0 as u64);
}

#[test]
fn gcloud_warnings_before_and_inside_the_array_are_skipped_with_notes() {
    let dir = tempdir();
    let full = pretty(&entries(3));
    let ranges = entry_ranges(&full);
    let mut content = String::from(
        "WARNING: Reauthentication required.\nUpdates are available for some Google Cloud CLI components.\n",
    );
    content.push_str(&full[..ranges[1].1 + 2]); // through "},\n"
    content.push_str("ERROR: (gcloud.logging.read) retrying page 2\n");
    content.push_str(&full[ranges[1].1 + 2..]);
    let run = run_file(dir.path(), "warnings.json", content.as_bytes(), &[], 0);
    assert_eq!(run.totals(), (3, 3, 0));
    let notes = run.notes();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[0].contains("skipped a line that is not JSON: WARNING: Reauthentication"));
    assert!(notes[1].contains("Updates are available"));
    assert!(notes[2].contains("belong to no entry: ERROR: (gcloud.logging.read) retrying"));
    assert!(run.md.contains("Reauthentication required"), "{}", run.md);
}

// -------------------------------------------------------------------------------------------
// Bytes
// -------------------------------------------------------------------------------------------

#[test]
fn invalid_utf8_is_repaired_and_counted() {
    let dir = tempdir();
    let mut content = Vec::new();
    content.extend_from_slice(b"{\"insertId\": \"u1\", \"textPayload\": \"caf\xe9 \xff\xfe\"}\n");
    content.extend_from_slice(b"{\"insertId\": \"u2\", \"textPayload\": \"fine\"}\n");
    // Invalid UTF-8 in an entry that is bad anyway: the dead letter holds it repaired.
    content.extend_from_slice(b"{\"insertId\": \"u3\xc3\", \"severity\": \"ERROR\"}\n");
    // A multi-byte character cut in half at the end of the input.
    content.extend_from_slice(b"{\"insertId\": \"u4\", \"textPayload\": \"\xe2\x9c");
    let run = run_file(dir.path(), "utf8.ndjson", &content, &[], 0);
    assert_eq!(run.totals(), (4, 2, 2));
    assert_eq!(run.ids(), ["u1", "u2"]);
    assert_eq!(num(&run.report["totals"], "utf8_repaired"), 3);
    assert!(
        run.reasons()[0].starts_with("no message"),
        "{:?}",
        run.reasons()
    );
    assert!(run.reasons()[1].contains("EOF"), "{:?}", run.reasons());
    let templates: Vec<&str> = crate::common::clusters(&run.report)
        .iter()
        .map(|c| text(c, "template"))
        .collect();
    assert!(
        templates.contains(&"caf\u{fffd} \u{fffd}\u{fffd}"),
        "{templates:?}"
    );
}

#[test]
fn nul_bytes_are_bad_entries_or_notes_never_a_crash() {
    let dir = tempdir();
    let mut content = b"\0\0\0 binary header\n[\n".to_vec();
    content.extend_from_slice(b"{\"insertId\": \"n1\", \"textPayload\": \"a\0b\"},\n");
    content.extend_from_slice(b"\0,\n");
    content.extend_from_slice(b"{\"insertId\": \"n2\", \"textPayload\": \"ok\"}\n]\n");
    let run = run_file(dir.path(), "nul.json", &content, &[], 0);
    assert_eq!(run.totals(), (3, 1, 2));
    assert_eq!(run.ids(), ["n2"]);
    let reasons = run.reasons();
    assert!(reasons[0].contains("control character"), "{reasons:?}");
    assert_eq!(reasons[1], "not a JSON object");
    assert_eq!(run.notes().len(), 1, "{:?}", run.notes());
    assert!(
        run.notes()[0].contains("binary header"),
        "{:?}",
        run.notes()
    );
}

/// Deterministic pseudo-random bytes.
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn binary_garbage_is_accounted_for() {
    let dir = tempdir();
    for seed in 1..=4u64 {
        let mut content = garbage(300_000, seed);
        if seed == 2 {
            content[0] = b'['; // garbage that looks like an array
        }
        if seed == 3 {
            content[0] = b'{'; // ... or NDJSON
        }
        let run = run_file(dir.path(), &format!("garbage{seed}"), &content, &[], 0);
        assert!(
            run.notes().len() <= 101,
            "notes are capped: {}",
            run.notes().len()
        );
        let (read, processed, _) = run.totals();
        assert_eq!(processed, 0, "seed {seed}");
        if seed == 3 {
            assert!(read > 100, "every line is an entry: {read}");
        }
    }
}

#[test]
fn crlf_ndjson_and_crlf_pretty_arrays() {
    let dir = tempdir();
    let es = entries(4);
    let crlf = ndjson(&es).replace('\n', "\r\n");
    let run = run_file(dir.path(), "crlf.ndjson", crlf.as_bytes(), &[], 0);
    assert_eq!(run.totals(), (4, 4, 0));
    assert_eq!(run.ids(), ["e0", "e1", "e2", "e3"]);
    let crlf = pretty(&es).replace('\n', "\r\n");
    let run = run_file(dir.path(), "crlf.json", crlf.as_bytes(), &[], 0);
    assert_eq!(run.totals(), (4, 4, 0));
    assert!(run.notes().is_empty(), "{:?}", run.notes());
    // With a byte-order mark in front, too.
    let bom = format!("\u{feff}{crlf}");
    let run = run_file(dir.path(), "bom.json", bom.as_bytes(), &[], 0);
    assert_eq!(run.totals(), (4, 4, 0));
    assert!(run.notes().is_empty(), "{:?}", run.notes());
}

// -------------------------------------------------------------------------------------------
// Shapes and types
// -------------------------------------------------------------------------------------------

#[test]
fn non_object_elements_and_wrong_field_types() {
    let dir = tempdir();
    let cases: Vec<(Value, Option<&str>)> = vec![
        (json!(1), Some("not a JSON object")),
        (json!("a string"), Some("not a JSON object")),
        (json!(null), Some("not a JSON object")),
        (json!(true), Some("not a JSON object")),
        (json!([{"textPayload": "x"}]), Some("not a JSON object")),
        // Fields of an unexpected type are ignored (or read as text), counted, never a
        // reason to reject the entry.
        (json!({"textPayload": 5}), None),
        (json!({"textPayload": "x", "timestamp": 5}), None),
        (json!({"textPayload": "x", "severity": {"a": 1}}), None),
        (json!({"textPayload": "x", "resource": "cloud_run"}), None),
        (
            json!({"textPayload": "x", "resource": {"labels": [1]}}),
            None,
        ),
        (json!({"jsonPayload": "just a string"}), None),
        (json!({"httpRequest": [], "textPayload": "x"}), None),
        (json!({"protoPayload": 7}), None),
        (json!({"insertId": 7, "textPayload": "x"}), None),
        (json!({"textPayload": "x", "textPayload2": "y"}), None), // unknown fields are fine
        (
            json!({"textPayload": "x", "severity": 5.5, "timestamp": "yesterday"}),
            None,
        ),
        (
            json!({"httpRequest": {"status": "teapot", "latency": 3}}),
            None,
        ),
        (json!({"jsonPayload": {"message": ["a", 1]}}), None), // rendered compactly
        (json!({}), Some("no message")),
    ];
    let values: Vec<Value> = cases.iter().map(|c| c.0.clone()).collect();
    let run = run_file(dir.path(), "types.json", pretty(&values).as_bytes(), &[], 0);
    let want_bad: Vec<(u64, &str)> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.1.map(|r| (i as u64 + 1, r)))
        .collect();
    let got: Vec<(u64, String)> = run
        .dead
        .iter()
        .map(|d| (num(d, "entry"), text(d, "reason").to_string()))
        .collect();
    assert_eq!(got.len(), want_bad.len(), "{got:#?}");
    for ((entry, reason), (want_entry, want_reason)) in got.iter().zip(&want_bad) {
        assert_eq!(entry, want_entry);
        assert!(
            reason.starts_with(want_reason),
            "entry {entry}: {reason:?} vs {want_reason:?}"
        );
    }
    assert_eq!(run.totals().1, 13);
    assert_eq!(num(&run.report["totals"], "ignored_fields"), 10);
    // --strict turns skipped entries into exit code 4 with the same outputs.
    let strict = run_file(
        dir.path(),
        "types-strict.json",
        pretty(&values).as_bytes(),
        &["--strict"],
        4,
    );
    assert_eq!(strict.totals(), run.totals());
}

#[test]
fn deeply_nested_entries_are_dead_lettered_with_a_clear_reason() {
    let dir = tempdir();
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let ok = format!(
        "{{\"textPayload\": \"ok\", \"labels\": {{\"x\": {}}}}}",
        nest(90)
    );
    let deep = format!(
        "{{\"textPayload\": \"deep\", \"labels\": {{\"x\": {}}}}}",
        nest(200)
    );
    let abyss = format!(
        "{{\"textPayload\": \"abyss\", \"labels\": {}}}",
        nest(100_000)
    );
    for (tag, content) in [
        ("nested.json", format!("[{ok},\n{deep},\n{abyss}]")),
        ("nested.ndjson", format!("{ok}\n{deep}\n{abyss}\n")),
    ] {
        let run = run_file(dir.path(), tag, content.as_bytes(), &[], 0);
        assert_eq!(run.totals(), (3, 1, 2), "{tag}");
        assert_eq!(
            run.reasons(),
            ["nested more than 100 levels deep (source.max_depth)"; 2],
            "{tag}"
        );
    }
    // The limit is configurable.
    let cfg = write(dir.path(), "depth.yaml", "source:\n  max_depth: 5\n");
    // The entry's braces are level 1: 1 + 4 arrays is 5 levels, 1 + 5 is 6.
    let shallow = format!(
        "[{{\"textPayload\": \"a\", \"labels\": {}}}, {{\"textPayload\": \"b\", \"labels\": {}}}]",
        nest(4),
        nest(5)
    );
    let run = run_file(
        dir.path(),
        "five.json",
        shallow.as_bytes(),
        &["--config", s(&cfg)],
        0,
    );
    assert_eq!(run.totals(), (2, 1, 1));
    assert_eq!(
        run.reasons(),
        ["nested more than 5 levels deep (source.max_depth)"]
    );
    // ... within what serde_json can decode.
    let bad = write(dir.path(), "deep.yaml", "source:\n  max_depth: 500\n");
    let out = gardener_limited(&["validate", "--config", s(&bad)], b"", LIMIT);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("source.max_depth must be between 1 and 127"),
        "{}",
        out.stderr
    );
}

// -------------------------------------------------------------------------------------------
// Size
// -------------------------------------------------------------------------------------------

/// Runs gardener with a time limit, sampling its peak resident memory (Linux `VmHWM`).
fn gardener_peak(args: &[&str]) -> (i32, String, Option<u64>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gardener"))
        .args(args)
        .env_remove("GARDENER_CONFIG")
        .env("GARDENER_STATE", "none")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gardener");
    let status_path = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + LIMIT;
    let mut peak_kb = None;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = Some(kb);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gardener {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut stderr = String::new();
    use std::io::Read;
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    (status.code().unwrap_or(-1), stderr, peak_kb)
}

#[test]
fn an_entry_over_the_default_limit_is_dead_lettered_without_being_held_in_memory() {
    let dir = tempdir();
    let d = dir.path();
    let es = entries(2);
    let huge = entry("huge", &"x".repeat(150 << 20)); // 150 MiB, over the 16 MiB default
    let content = pretty(&[es[0].clone(), huge, es[1].clone()]);
    let ranges = entry_ranges(&content);
    let input = write(d, "huge.json", &content);
    let (json, dead) = (d.join("huge.report.json"), d.join("huge.dead.ndjson"));
    let (code, stderr, peak) = gardener_peak(&[
        "run",
        s(&input),
        "--json",
        s(&json),
        "--dead-letter",
        s(&dead),
        "--report",
        "/dev/null",
    ]);
    assert_eq!(code, 0, "{stderr}");
    if let Some(kb) = peak {
        // The entry alone is 150 MiB; holding it would show.
        assert!(kb < 100 * 1024, "peak RSS {kb} kB");
    }
    let report = read_json(&json);
    let t = &report["totals"];
    assert_eq!(
        (
            num(t, "entries_read"),
            num(t, "entries_processed"),
            num(t, "entries_skipped")
        ),
        (3, 2, 1)
    );
    let dl = read_ndjson(&dead);
    assert_eq!(dl.len(), 1);
    let size = (ranges[1].1 - ranges[1].0) as u64;
    assert_eq!(num(&dl[0], "offset"), ranges[1].0 as u64);
    assert_eq!(num(&dl[0], "size"), size);
    assert_eq!(
        text(&dl[0], "reason"),
        format!(
            "entry of {size} bytes is larger than the limit of 16777216 bytes (source.max_entry_kib); raw holds only its first bytes"
        )
    );
    assert_eq!(
        text(&dl[0], "raw"),
        &content[ranges[1].0..ranges[1].0 + 4096]
    );
}

#[test]
fn the_size_limit_is_configurable_and_applies_to_ndjson_and_cut_entries() {
    let dir = tempdir();
    let cfg = write(dir.path(), "small.yaml", "source:\n  max_entry_kib: 1\n");
    let es = vec![
        entry("small", "fine"),
        entry("big", &"y".repeat(3000)),
        entry("small2", "fine"),
    ];
    let run = run_file(
        dir.path(),
        "limit.ndjson",
        ndjson(&es).as_bytes(),
        &["--config", s(&cfg)],
        0,
    );
    assert_eq!(run.totals(), (3, 2, 1));
    assert_eq!(run.ids(), ["small", "small2"]);
    assert!(run.reasons()[0].contains("larger than the limit of 1024 bytes"));
    assert_eq!(text(&run.dead[0], "raw").len(), 1024);
    // Over the limit and cut off at the end of the input.
    let full = pretty(&es);
    let cut = &full[..entry_ranges(&full)[1].0 + 2000];
    let run = run_file(
        dir.path(),
        "limit-cut.json",
        cut.as_bytes(),
        &["--config", s(&cfg)],
        0,
    );
    assert_eq!(run.totals(), (2, 1, 1));
    assert_eq!(num(&run.dead[0], "size"), 2000);
    assert!(
        run.reasons()[0].contains("and the input ended inside it; raw holds only its first bytes"),
        "{:?}",
        run.reasons()
    );
}

#[test]
fn a_ten_megabyte_single_line_string_is_processed() {
    let dir = tempdir();
    let long = format!("Traceback: {}", "frame in handler; ".repeat(600_000)); // ~10.8 MB
    let es = vec![
        entry("long", &long),
        entry("short", "Connection 1 to redis timed out"),
    ];
    let run = run_file(dir.path(), "long.ndjson", ndjson(&es).as_bytes(), &[], 0);
    assert_eq!(run.totals(), (2, 2, 0));
    assert_eq!(run.ids(), ["long", "short"]);
    let c = crate::common::find_cluster(&run.report, "api", "Traceback");
    // Only the first max_message_bytes shape the template.
    assert!(
        text(c, "template").len() < 5000,
        "{}",
        text(c, "template").len()
    );
    let run = run_file(dir.path(), "long.json", pretty(&es).as_bytes(), &[], 0);
    assert_eq!(run.totals(), (2, 2, 0));
}

// -------------------------------------------------------------------------------------------
// Empty inputs (beyond tests/run.rs)
// -------------------------------------------------------------------------------------------

#[test]
fn empty_ish_inputs_give_empty_reports() {
    let dir = tempdir();
    for (tag, content) in [
        ("bom", "\u{feff}"),
        ("bom-array", "\u{feff}[ ]"),
        ("crlf", "\r\n\r\n"),
        ("nested-empty", "[\n]\n[]\n"),
    ] {
        let run = run_file(dir.path(), tag, content.as_bytes(), &["--strict"], 0);
        assert_eq!(run.totals(), (0, 0, 0), "{tag}");
        assert!(run.notes().is_empty(), "{tag}: {:?}", run.notes());
        assert!(run.md.contains("No log entries to analyse."), "{tag}");
    }
    // Junk only: nothing read, one note, still exit 0 (the report says why it is empty).
    let run = run_file(
        dir.path(),
        "junk",
        b"ERROR: (gcloud) You do not have permission\n",
        &["--strict"],
        0,
    );
    assert_eq!(run.totals(), (0, 0, 0));
    assert_eq!(run.notes().len(), 1);
    assert!(run.md.contains("You do not have permission"), "{}", run.md);
}

// -------------------------------------------------------------------------------------------
// Pipes, sinks and signals
// -------------------------------------------------------------------------------------------

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/netra-staging.json")
}

/// `gardener run FILE ARGS | head -1`: returns (exit code, first line, stderr).
fn head_one(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gardener"))
        .args(args)
        .env_remove("GARDENER_CONFIG")
        .env("GARDENER_STATE", "none")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gardener");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    // The reader is dropped here: stdout is closed, like `head -1` exiting.
    let mut err = child.stderr.take().expect("stderr");
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "gardener hung on a closed stdout"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    use std::io::Read;
    let _ = err.read_to_string(&mut stderr);
    (status.code().unwrap_or(-1), first, stderr)
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let ex = example();
    let (code, first, stderr) = head_one(&["run", s(&ex)]);
    assert_eq!(first, "# GCP Log Gardener Worklog\n");
    assert_eq!((code, stderr.as_str()), (0, ""));
    let (code, first, stderr) =
        head_one(&["run", s(&ex), "--entries", "-", "--report", "/dev/null"]);
    assert!(first.starts_with("{\"insertId\":"), "{first}");
    assert_eq!((code, stderr.as_str()), (0, ""));
    let (code, first, stderr) = head_one(&["gen", "--entries", "100000"]);
    assert_eq!(first, "[\n");
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn a_failing_sink_is_reported_and_the_others_are_still_written() {
    let dir = tempdir();
    let d = dir.path();
    let ex = example();
    let ex_bytes = std::fs::read(&ex).expect("example");
    // A path under a regular file can never be created (unlike a read-only directory, which
    // root may write anyway).
    let not_a_dir = write(d, "file", "x");
    let bad = not_a_dir.join("report.json");
    let (md, ents, dead) = (d.join("r.md"), d.join("e.ndjson"), d.join("dl.ndjson"));
    let out = gardener_limited(
        &[
            "run",
            s(&ex),
            "--json",
            s(&bad),
            "--report",
            s(&md),
            "--entries",
            s(&ents),
            "--dead-letter",
            s(&dead),
        ],
        b"",
        LIMIT,
    );
    out.expect_code(1);
    let want = format!("gardener: the json sink could not write {}: ", s(&bad));
    assert!(out.stderr.starts_with(&want), "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "one clear line: {}",
        out.stderr
    );
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("**Entries:** 3,000 read")
    );
    assert_eq!(read_ndjson(&ents).len(), 3000);
    assert_eq!(read_ndjson(&dead).len(), 0);
    // The markdown report failing leaves the JSON report whole.
    let json = d.join("r.json");
    let out = gardener_limited(
        &["run", s(&ex), "--report", s(&bad), "--json", s(&json)],
        b"",
        LIMIT,
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("the report sink could not write"),
        "{}",
        out.stderr
    );
    assert_eq!(num(&read_json(&json)["totals"], "entries_processed"), 3000);
    // Every sink failing: still one line each, exit 1, no panic. (Four paths: one path for
    // two outputs is refused before the run.)
    let bad: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| not_a_dir.join(n))
        .collect();
    let out = gardener_limited(
        &[
            "run",
            s(&ex),
            "--report",
            s(&bad[0]),
            "--json",
            s(&bad[1]),
            "--entries",
            s(&bad[2]),
            "--dead-letter",
            s(&bad[3]),
        ],
        b"",
        LIMIT,
    );
    out.expect_code(1);
    assert_eq!(out.stderr.lines().count(), 4, "{}", out.stderr);
    let _ = ex_bytes;
}

/// Array elements that are not objects — in gcloud's indented layout and in a compact array —
/// each go to the dead-letter file with their offset, raw bytes and a reason, and are counted
/// as skipped; a warning line printed into the stream stays a skipped note.
#[test]
fn elements_that_are_not_objects_reach_the_dead_letter_file() {
    let dir = tempdir();
    let d = dir.path();
    let good = |id: &str| serde_json::json!({"insertId": id, "severity": "ERROR", "timestamp": "2025-09-14T00:00:00Z", "textPayload": "boom"});
    let items = serde_json::json!([good("a"), 42, "str", null, [1, 2], true, good("b")]);
    for (name, text) in [
        ("pretty.json", serde_json::to_string_pretty(&items).unwrap()),
        ("compact.json", items.to_string()),
    ] {
        let run = run_file(d, name, text.as_bytes(), &[], 0);
        let raws: Vec<String> = run
            .dead
            .iter()
            .map(|l| l["raw"].as_str().unwrap().split_whitespace().collect())
            .collect();
        assert_eq!(raws, ["42", "\"str\"", "null", "[1,2]", "true"], "{name}");
        assert!(
            run.dead.iter().all(|l| {
                l["reason"] == "not a JSON object" && l["offset"].as_u64().unwrap() > 0
            })
        );
        assert_eq!(run.totals(), (7, 2, 5), "{name}");
    }
}

/// Fields of an unexpected type (`protoPayload.status` as a number, as real Cloud Logging
/// output has it; `httpRequest` as text) never reject an entry: ignored, counted, noted.
#[test]
fn fields_of_an_unexpected_type_are_ignored_and_counted() {
    let dir = tempdir();
    let d = dir.path();
    let items = serde_json::json!([
        {"insertId": "p", "severity": "ERROR", "timestamp": "2025-09-14T00:00:00Z",
         "protoPayload": {"status": 7, "methodName": "google.iam.v1.SetIamPolicy"}},
        {"insertId": "h", "severity": "ERROR", "timestamp": "2025-09-14T00:00:01Z",
         "textPayload": "upstream reset", "httpRequest": "GET /x"},
    ]);
    let run = run_file(
        d,
        "in.json",
        serde_json::to_string_pretty(&items).unwrap().as_bytes(),
        &[],
        0,
    );
    let r = &run.report;
    let t = &r["totals"];
    assert_eq!(run.totals(), (2, 2, 0));
    assert_eq!(num(t, "ignored_fields"), 2);
    assert!(
        r["notes"].to_string().contains("unexpected type"),
        "{}",
        r["notes"]
    );
    assert!(
        r.to_string().contains("SetIamPolicy"),
        "the method name is the message"
    );
}

#[test]
fn a_full_disk_for_one_sink_does_not_stall_or_cost_the_others() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    // Many bad entries, so the dead-letter sink fails while entries are still flowing (this
    // hung the pipeline before).
    let good = ndjson(&entries(20_000));
    let content: String = good
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{l}\nnot json {i}\n"))
        .collect();
    let input = write(d, "mixed.ndjson", &content);
    let (json, ents) = (d.join("full.json"), d.join("full.entries.ndjson"));
    let out = gardener_limited(
        &[
            "run",
            s(&input),
            "--dead-letter",
            "/dev/full",
            "--entries",
            s(&ents),
            "--json",
            s(&json),
            "--report",
            "/dev/null",
        ],
        b"",
        LIMIT,
    );
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("the dead-letter sink could not write /dev/full: No space left on device"),
        "{}",
        out.stderr
    );
    let t = &read_json(&json)["totals"];
    assert_eq!(
        (
            num(t, "entries_read"),
            num(t, "entries_processed"),
            num(t, "entries_skipped")
        ),
        (40_000, 20_000, 20_000)
    );
    assert_eq!(read_ndjson(&ents).len(), 20_000);
    // The entries sink on a full disk: reported, and no spool file left beside /dev/full.
    let out = gardener_limited(
        &[
            "run",
            s(&input),
            "--entries",
            "/dev/full",
            "--json",
            s(&json),
            "--report",
            "/dev/null",
        ],
        b"",
        LIMIT,
    );
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("the entries sink could not write /dev/full"),
        "{}",
        out.stderr
    );
    assert!(!Path::new("/dev/full.partial").exists());
    assert_eq!(
        num(&read_json(&json)["totals"], "entries_processed"),
        20_000
    );
}

/// Starts `gardener run` on a pipe, writes `input`, keeps the pipe open (gcloud still running),
/// sends `signal`, and returns the exit code and the JSON report.
fn interrupt(dir: &Path, input: &[u8], signal: &str) -> (i32, Value, Duration) {
    let json = dir.join(format!("sig{signal}.json"));
    let md = dir.join(format!("sig{signal}.md"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_gardener"))
        .args(["run", "--json", s(&json), "--report", s(&md)])
        .env_remove("GARDENER_CONFIG")
        .env("GARDENER_STATE", "none")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gardener");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write input");
    stdin.flush().expect("flush");
    // Let it read what it was given; the pipe stays open and silent.
    std::thread::sleep(Duration::from_millis(700));
    let sent = Instant::now();
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "gardener did not stop on {signal}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = sent.elapsed();
    drop(stdin);
    (status.code().unwrap_or(-1), read_json(&json), took)
}

#[test]
fn sigint_and_sigterm_on_a_silent_pipe_write_a_partial_report_with_what_was_read() {
    let dir = tempdir();
    let full = pretty(&entries(3));
    // Two complete entries and half of the third; gcloud is still "running".
    let cut = &full[..entry_ranges(&full)[2].0 + 10];
    for signal in ["-TERM", "-INT"] {
        let (code, report, took) = interrupt(dir.path(), cut.as_bytes(), signal);
        assert_eq!(code, 130, "{signal}");
        assert!(took < Duration::from_secs(5), "{signal}: took {took:?}");
        assert_eq!(report["partial"], true);
        let t = &report["totals"];
        assert_eq!(
            (
                num(t, "entries_read"),
                num(t, "entries_processed"),
                num(t, "entries_skipped")
            ),
            (2, 2, 0),
            "{signal}"
        );
        let notes: Vec<&str> = report["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            notes
                .iter()
                .any(|n| n.contains("interrupted: reading stopped at byte")),
            "{notes:?}"
        );
    }
}

// -------------------------------------------------------------------------------------------
// Bounded whatever the number of clusters
// -------------------------------------------------------------------------------------------

/// Runs the bundled example with `aggregate.max_clusters` set; returns (JSON report, worklog,
/// stderr).
fn example_capped(dir: &Path, cap: usize) -> (Value, String, String) {
    let cfg = write(
        dir,
        &format!("cap{cap}.yaml"),
        format!("aggregate:\n  max_clusters: {cap}\n"),
    );
    let (md, json) = (
        dir.join(format!("w{cap}.md")),
        dir.join(format!("w{cap}.json")),
    );
    let out = gardener_limited(
        &[
            "run",
            "-c",
            s(&cfg),
            s(&example()),
            "--report",
            s(&md),
            "--json",
            s(&json),
        ],
        b"",
        LIMIT,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let md = std::fs::read_to_string(&md).expect("worklog");
    (read_json(&json), md, out.stderr)
}

#[test]
fn past_the_cluster_cap_the_long_tail_is_counted_together_and_nothing_is_lost() {
    let dir = tempdir();
    let (full, full_md, full_err) = example_capped(dir.path(), 0);
    let (capped, md, err) = example_capped(dir.path(), 40);
    let clusters = |r: &Value| r["clusters"].as_array().expect("clusters").clone();
    // Every entry still counts, once.
    let total = |r: &Value| clusters(r).iter().map(|c| num(c, "count")).sum::<u64>();
    assert_eq!(total(&capped), total(&full));
    assert_eq!(
        capped["totals"]["entries_processed"],
        full["totals"]["entries_processed"]
    );
    // The long tail went to one overflow cluster per service, which says how many messages.
    let over: Vec<Value> = clusters(&capped)
        .into_iter()
        .filter(|c| c.get("folded").is_some())
        .collect();
    assert_eq!(over.len(), 2, "two services, two overflow clusters");
    let folded: u64 = over.iter().map(|c| num(c, "folded")).sum();
    assert_eq!(num(&capped["totals"], "clusters_folded"), folded);
    assert!(folded > 250, "{folded}");
    assert!(
        clusters(&capped).len() <= 40 + 2,
        "{}",
        clusters(&capped).len()
    );
    // The error clusters stay one by one: the tail is the lowest severity first.
    let errors = |r: &Value| {
        let mut v: Vec<String> = clusters(r)
            .iter()
            .filter(|c| matches!(text(c, "max_severity"), "CRITICAL" | "ALERT" | "EMERGENCY"))
            .map(|c| text(c, "id").to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(errors(&capped), errors(&full));
    // The user is told, in the worklog and on stderr; without the cap nothing says so.
    assert!(md.contains("**Cluster cap reached:**"), "{md}");
    assert!(err.contains("past aggregate.max_clusters"), "{err}");
    assert!(!full_md.contains("Cluster cap") && !full_err.contains("max_clusters"));
    assert!(full["totals"].get("clusters_folded").is_none());
    assert!(clusters(&full).iter().all(|c| c.get("folded").is_none()));
}
