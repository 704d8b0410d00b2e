//! `gardener watch` over streams that never end: a FIFO fed a never-closing gcloud array in
//! bursts, reports rewritten every interval, SIGTERM as the service stop.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{gardener, s, tempdir};

/// One gcloud-style entry (two-space indented, keys sorted) dated now.
fn entry(i: usize, message: &str) -> String {
    let now = log_gardener::time::format_rfc3339(log_gardener::time::now_nanos());
    let v = serde_json::json!({
        "insertId": format!("w{i:06}"),
        "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
        "severity": "ERROR",
        "textPayload": format!("{message} for order {i}"),
        "timestamp": now,
    });
    serde_json::to_string_pretty(&v)
        .unwrap()
        .replace('\n', "\n  ")
}

/// What `gcloud beta logging tail --format=json` prints for entries `from..to`: the comma
/// before each entry but the first, and never the closing bracket.
fn burst(from: usize, to: usize, message: &str) -> String {
    (from..to)
        .map(|i| {
            let lead = if i == 0 { "[\n  " } else { ",\n  " };
            format!("{lead}{}", entry(i, message))
        })
        .collect()
}

fn mkfifo(dir: &Path) -> PathBuf {
    let p = dir.join("tail.fifo");
    let ok = Command::new("mkfifo").arg(&p).status().unwrap();
    assert!(ok.success(), "mkfifo failed");
    p
}

fn spawn_watch(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gardener"))
        .arg("watch")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `totals.entries_read` of the JSON report, once it exists.
fn entries_read(json: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(json).ok()?;
    let v: Value =
        serde_json::from_str(&text).expect("the report is replaced whole, never half written");
    v["totals"]["entries_read"].as_u64()
}

/// Waits until the report counts `n` entries; returns how long that took.
fn until_counted(json: &Path, n: u64, child: &mut Child, limit: Duration) -> Duration {
    let t = Instant::now();
    loop {
        if entries_read(json) == Some(n) {
            return t.elapsed();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("watch ended early: {status}");
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            panic!(
                "the report did not count {n} entries within {limit:?} (it says {:?})\n{stderr}",
                entries_read(json),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_limited(mut child: Child, limit: Duration) -> (i32, String) {
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bursts_on_a_never_closing_array_show_within_two_intervals_and_sigterm_ends_cleanly() {
    let dir = tempdir();
    let fifo = mkfifo(dir.path());
    let json = dir.path().join("report.json");
    let md = dir.path().join("worklog.md");
    let state = dir.path().join("state");
    let mut child = spawn_watch(&[
        "--every",
        "1s",
        "--json",
        s(&json),
        "--report",
        s(&md),
        "--state",
        s(&state),
        s(&fifo),
    ]);
    // Opening the FIFO for writing waits for the reader: the watch has started.
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // Two intervals, plus slack for a loaded test machine (a guard, not a timing test).
    let within = Duration::from_secs(2) + Duration::from_secs(8);
    w.write_all(burst(0, 120, "payment gateway timed out").as_bytes())
        .unwrap();
    w.flush().unwrap();
    until_counted(&json, 120, &mut child, within);
    w.write_all(burst(120, 200, "inventory lookup failed").as_bytes())
        .unwrap();
    w.flush().unwrap();
    until_counted(&json, 200, &mut child, within);
    // The worklog is rewritten too, and names both.
    let worklog = std::fs::read_to_string(&md).unwrap();
    assert!(worklog.contains("payment gateway timed out"), "{worklog}");
    assert!(worklog.contains("inventory lookup failed"), "{worklog}");

    // A service stop: SIGTERM, with the array still open.
    signal(&child, "TERM");
    let (code, stderr) = wait_limited(child, Duration::from_secs(60));
    drop(w);
    assert_eq!(code, 0, "SIGTERM ends a watch with exit 0\n{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["totals"]["entries_read"], 200);
    assert_eq!(report["totals"]["entries_processed"], 200);
    assert_eq!(
        report["partial"], false,
        "a service stop is no interruption"
    );
    assert_eq!(report["problems"].as_array().unwrap().len(), 2);
    let saved = std::fs::read_to_string(state.join("state.json")).unwrap();
    assert!(saved.contains("payment gateway"), "the state is saved");
    assert!(
        stderr.contains("watch: report"),
        "one line per report\n{stderr}"
    );
}

#[test]
fn end_of_input_gives_the_last_report_and_exit_0() {
    let dir = tempdir();
    let input = crate::common::write(
        dir.path(),
        "in.json",
        burst(0, 30, "disk quota exceeded") + "\n]\n",
    );
    let json = dir.path().join("r.json");
    let child = spawn_watch(&[
        "--every",
        "1m",
        "--state",
        "none",
        "--json",
        s(&json),
        "--report",
        "-",
        s(&input),
    ]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("disk quota exceeded"),
        "the worklog goes to stdout at the end"
    );
    assert_eq!(stdout.matches("# GCP Log Gardener Worklog").count(), 1);
    assert_eq!(entries_read(&json), Some(30));
}

#[test]
fn watch_refuses_now_and_a_bad_interval() {
    let out = gardener(&["watch", "--now", "2025-01-01T00:00:00Z", "/dev/null"]);
    out.expect_code(2);
    assert!(out.stderr.contains("clock"), "{}", out.stderr);
    let out = gardener(&["watch", "--every", "soon", "/dev/null"]);
    out.expect_code(2);
    assert!(out.stderr.contains("--every soon"), "{}", out.stderr);
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}
