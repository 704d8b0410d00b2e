//! End-to-end tests of bulk backfills: gzip-compressed inputs (files named or not named `.gz`,
//! piped standard input, cut-off files), several inputs at once, the new per-stage channel
//! depth in the JSON report, and that progress never reaches a standard error that is not a
//! terminal. Each runs the real binary on generated input.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{
    clusters, gardener, gardener_stdin, generate, num, read_json, s, tempdir, text,
};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("compress");
    enc.finish().expect("compress")
}

/// `gardener run ARGS --now … --json dir/name.json`, exit 0; returns the JSON report.
fn run_json(dir: &Path, name: &str, inputs: &[&str], stdin: &[u8]) -> Value {
    let json = dir.join(format!("{name}.json"));
    let mut args = vec![
        "run",
        "--now",
        "2025-09-14T04:00:00Z",
        "--report",
        "-",
        "--json",
        s(&json),
    ];
    args.extend_from_slice(inputs);
    let out = gardener_stdin(&args, stdin);
    out.expect_code(0);
    read_json(&json)
}

/// Cluster id → count.
fn counts(report: &Value) -> BTreeMap<String, u64> {
    clusters(report)
        .iter()
        .map(|c| (text(c, "id").to_string(), num(c, "count")))
        .collect()
}

fn generated(dir: &Path) -> (PathBuf, Vec<u8>) {
    let plain = generate(dir, "logs.json", 3000, 11, "array", "6h");
    let bytes = std::fs::read(&plain).expect("read generated input");
    (plain, bytes)
}

#[test]
fn gzip_files_give_the_same_report_as_the_plain_file() {
    let dir = tempdir();
    let (plain, bytes) = generated(dir.path());
    let gz = dir.path().join("logs.json.gz");
    std::fs::write(&gz, gzip(&bytes)).expect("write gz");
    // Detected by its first bytes, not its name.
    let misnamed = dir.path().join("export.json");
    std::fs::write(&misnamed, gzip(&bytes)).expect("write gz");

    let want = run_json(dir.path(), "plain", &[s(&plain)], b"");
    assert_eq!(num(&want["totals"], "entries_read"), 3000);
    assert!(clusters(&want).len() > 10, "too few clusters to compare");
    for (name, input) in [("gz", &gz), ("misnamed", &misnamed)] {
        let got = run_json(dir.path(), name, &[s(input)], b"");
        assert_eq!(
            got["totals"]["entries_read"],
            want["totals"]["entries_read"]
        );
        assert_eq!(
            got["totals"]["entries_processed"],
            want["totals"]["entries_processed"]
        );
        // Bytes read are the decompressed bytes.
        assert_eq!(num(&got["totals"], "bytes_read"), bytes.len() as u64);
        assert_eq!(counts(&got), counts(&want), "{name}");
    }
    // Piped standard input, compressed.
    let got = run_json(dir.path(), "stdin", &[], &gzip(&bytes));
    assert_eq!(counts(&got), counts(&want));
}

#[test]
fn several_inputs_mixing_gzip_and_plain_add_up() {
    let dir = tempdir();
    let (plain, bytes) = generated(dir.path());
    let gz = dir.path().join("again.json.gz");
    std::fs::write(&gz, gzip(&bytes)).expect("write gz");
    let one = run_json(dir.path(), "one", &[s(&plain)], b"");
    let both = run_json(dir.path(), "both", &[s(&plain), s(&gz)], b"");
    assert_eq!(num(&both["totals"], "entries_read"), 6000);
    let doubled: BTreeMap<String, u64> =
        counts(&one).into_iter().map(|(k, v)| (k, 2 * v)).collect();
    assert_eq!(counts(&both), doubled);
}

#[test]
fn a_cut_off_gzip_file_keeps_what_it_holds() {
    let dir = tempdir();
    let (_, bytes) = generated(dir.path());
    let compressed = gzip(&bytes);
    let cut = dir.path().join("cut.json.gz");
    std::fs::write(&cut, &compressed[..compressed.len() / 2]).expect("write gz");
    let got = run_json(dir.path(), "cut", &[s(&cut)], b"");
    let read = num(&got["totals"], "entries_read");
    assert!(read > 100 && read < 3000, "{read} entries read");
    // Every complete entry is processed; at most the one cut in half is skipped.
    assert!(num(&got["totals"], "entries_skipped") <= 1);
    let notes: Vec<&str> = got["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("gzip data ends early")),
        "{notes:?}"
    );
}

#[test]
fn a_corrupt_gzip_file_is_an_input_error() {
    let dir = tempdir();
    let (_, bytes) = generated(dir.path());
    let mut compressed = gzip(&bytes);
    let mid = compressed.len() / 2;
    for b in &mut compressed[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let bad = dir.path().join("bad.json.gz");
    std::fs::write(&bad, &compressed).expect("write gz");
    let out = gardener(&["run", "--report", "-", s(&bad)]);
    out.expect_code(3);
    assert!(out.stderr.contains("(decompressed)"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn stages_report_channel_depth_and_no_progress_on_a_pipe() {
    let dir = tempdir();
    let (plain, _) = generated(dir.path());
    let json = dir.path().join("r.json");
    // Standard error is a pipe here: no progress, nothing at all on stderr.
    let out = gardener(&["run", "--report", "-", "--json", s(&json), s(&plain)]);
    out.expect_code(0);
    assert_eq!(out.stderr, "");
    let quiet = gardener(&["run", "--quiet", "--report", "-", s(&plain)]);
    quiet.expect_code(0);
    assert_eq!(quiet.stderr, "");
    let report = read_json(&json);
    let stages = report["stages"].as_array().expect("stages");
    let by_name = |n: &str| {
        stages
            .iter()
            .find(|s| s["stage"] == n)
            .unwrap_or_else(|| panic!("no stage {n}"))
    };
    assert_eq!(num(by_name("source"), "channel_capacity"), 0);
    for stage in ["parse", "fingerprint", "aggregate"] {
        let st = by_name(stage);
        // Default pipeline.channel_capacity.
        assert_eq!(num(st, "channel_capacity"), 16, "{stage}");
        let max = num(st, "channel_depth_max");
        let mean = st["channel_depth_mean"].as_f64().expect("mean");
        assert!(max <= 16, "{stage}: max {max}");
        assert!(mean >= 0.0 && mean <= max as f64, "{stage}: mean {mean}");
        // Every entry once, however many workers or shards (each shard sees every batch).
        let entries = num(&report["totals"], "entries_processed");
        assert_eq!(num(st, "entries_in"), entries, "{stage}");
        assert_eq!(num(st, "entries_out"), entries, "{stage}");
    }
}

#[test]
fn gzip_on_standard_input_redirected_from_a_file() {
    let dir = tempdir();
    let (plain, bytes) = generated(dir.path());
    let gz = dir.path().join("in.gz");
    std::fs::write(&gz, gzip(&bytes)).expect("write gz");
    let want = run_json(dir.path(), "plain", &[s(&plain)], b"");
    // `gardener run < in.gz`: standard input is the file itself, read in place.
    let json = dir.path().join("redirected.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gardener"))
        .args(["run", "--now", "2025-09-14T04:00:00Z", "--report", "-"])
        .args(["--json", s(&json)])
        .env_remove("GARDENER_CONFIG")
        .env("GARDENER_STATE", "none")
        .stdin(std::fs::File::open(&gz).expect("open gz"))
        .output()
        .expect("run gardener");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = read_json(&json);
    assert_eq!(num(&got["totals"], "entries_read"), 3000);
    assert_eq!(counts(&got), counts(&want));
}

/// Runs `command` with a pseudo-terminal as its standard input and output (util-linux
/// `script`, under `/bin/sh` whatever the user's shell) and returns what it showed; `None`
/// when `script` is missing. A run that has not ended after two minutes is killed and fails
/// the test (a test must never wait for ever).
fn on_a_terminal(command: &str) -> Option<String> {
    use std::io::Read;
    let child = std::process::Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .env_remove("GARDENER_CONFIG")
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipped: `script` (util-linux) is needed for a pseudo-terminal: {e}");
            return None;
        }
    };
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().expect("wait for script").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{command}` on a terminal did not end within 2 minutes; it showed:\n{}",
                reader.join().unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(reader.join().expect("read the terminal"))
}

#[test]
fn on_a_terminal_a_waiting_run_says_so_and_the_end_of_a_run_names_its_steps() {
    let bin = env!("CARGO_BIN_EXE_gardener");
    // No file, standard input a terminal: a hint at once (the run then ends on SIGTERM).
    let Some(shown) = on_a_terminal(&format!(
        "timeout --foreground -k 10 3 {bin} run --state none; echo exit=$?"
    )) else {
        return;
    };
    if !shown.contains("exit=") {
        eprintln!("skipped: `script` could not run a shell on a pseudo-terminal here: {shown}");
        return;
    }
    assert!(
        shown.contains("gardener: reading log entries from the terminal (paste them, then Ctrl-D)"),
        "{shown}"
    );
    assert!(shown.contains("PARTIAL RUN"), "{shown}");
    assert!(shown.contains("exit=124"), "{shown}");
    // The same in the background of the terminal (plain `timeout` starts a process group of
    // its own): reading would stop the process for ever, so it is an input error at once.
    let shown = on_a_terminal(&format!(
        "timeout -k 10 20 {bin} run --state none; echo exit=$?"
    ))
    .expect("script ran before");
    assert!(
        shown.contains("gardener runs in the background of it: nothing can be read there"),
        "{shown}"
    );
    assert!(shown.contains("exit=3"), "{shown}");
    // A run long enough for progress: after reading, a spinner names each step, then the
    // summary of the worklog written to a file. The input comes through a pipe that stays open
    // for a second after it: however fast this machine reads 40,000 entries, the run has
    // lasted longer than the spinner's delay when its steps begin.
    let dir = tempdir();
    let input = generate(dir.path(), "big.json", 40_000, 3, "array", "6h");
    let md = dir.path().join("w.md");
    let shown = on_a_terminal(&format!(
        "(cat {}; sleep 1) | {bin} run --state none --report {}",
        s(&input),
        s(&md)
    ))
    .expect("script ran before");
    // (The terminal is redrawn at most 20 times a second: a step shorter than that may not
    // show, so one is asked for.)
    let steps = [
        "combining the shards",
        "mining templates",
        "trends and priorities",
        "grouping problems",
        "redacting",
        "writing the reports",
    ];
    assert!(
        steps.iter().any(|s| shown.contains(s)),
        "no step in {shown}"
    );
    assert!(shown.contains("Read 40,000 entries from"), "{shown}");
    assert!(
        shown.contains(&format!("Wrote worklog {}.", s(&md))),
        "{shown}"
    );
}
