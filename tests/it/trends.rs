//! End-to-end tests of trends: the spike test, the state store across runs (new, regressed,
//! resolved-looking, no double counting) and a corrupt state file, with the real binary on
//! data from `gardener gen`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{
    clusters, find_cluster, gardener, gardener_in, num, read_json, s, tempdir, text, write,
};
use crate::fake_github::{FakeGithub, OWNER, REPO, TOKEN};
use gardener_core::model::time::parse_rfc3339;

/// `gardener gen` with extra flags (a gcloud array unless they say `--format`), to `dir/name`.
fn gen_file(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let p = dir.join(name);
    let mut all = vec!["gen", "-o", s(&p)];
    if !args.contains(&"--format") {
        all.extend(["--format", "array"]);
    }
    all.extend_from_slice(args);
    gardener(&all).expect_code(0);
    p
}

/// Runs `gardener run ARGS --json dir/tag.json --report dir/tag.md`, expecting exit 0; returns
/// the JSON report and the worklog.
fn run(dir: &Path, tag: &str, args: &[&str]) -> (Value, String) {
    let json = dir.join(format!("{tag}.report.json"));
    let md = dir.join(format!("{tag}.md"));
    let mut all = vec!["run", "--json", s(&json), "--report", s(&md)];
    all.extend_from_slice(args);
    gardener(&all).expect_code(0);
    (
        read_json(&json),
        std::fs::read_to_string(&md).expect("worklog"),
    )
}

fn status(c: &Value) -> &str {
    c["trend"]["status"].as_str().unwrap_or("none")
}

/// Unix seconds of an RFC 3339 field.
fn secs(c: &Value, key: &str) -> i64 {
    parse_rfc3339(text(c, key))
        .unwrap_or_else(|| panic!("{key} is not RFC 3339 in {c}"))
        .div_euclid(1_000_000_000)
}

fn by_id(report: &Value) -> BTreeMap<String, &Value> {
    clusters(report)
        .iter()
        .map(|c| (text(c, "id").to_string(), c))
        .collect()
}

#[test]
fn a_burst_injected_in_the_last_hour_escalates_that_cluster_only() {
    let dir = tempdir();
    for (key, needle) in [
        ("high-buffer-utilization", "HIGH BUFFER UTILIZATION"),
        ("auth-service-token-invalid", "service token"),
    ] {
        let input = gen_file(
            dir.path(),
            &format!("{key}.json"),
            &[
                "--entries",
                "6000",
                "--seed",
                "11",
                "--span",
                "6h",
                "--spike",
                key,
            ],
        );
        let (r, md) = run(dir.path(), key, &[s(&input), "--state", "none"]);
        let flagged: Vec<&Value> = clusters(&r)
            .iter()
            .filter(|c| !c["trend"]["escalation"].is_null())
            .collect();
        assert_eq!(
            flagged.len(),
            1,
            "{key}: flagged {:#?}",
            flagged
                .iter()
                .map(|c| (&c["template"], &c["trend"]["escalation"]))
                .collect::<Vec<_>>()
        );
        let c = flagged[0];
        assert!(
            text(c, "template")
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "{key}: the flagged cluster is {}",
            c["template"]
        );
        assert_eq!(status(c), "escalating");
        let e = &c["trend"]["escalation"];
        assert!(e["factor"].as_f64().unwrap() >= 3.0, "{e}");
        assert!(num(e, "recent") >= 10, "{e}");
        // The built-in modifier rule raised its priority by one level.
        assert!(text(c, "rule").contains("raised"), "{}", c["rule"]);
        // Without a state store the other clusters are ongoing.
        assert!(
            clusters(&r)
                .iter()
                .filter(|x| x["id"] != c["id"])
                .all(|x| status(x) == "ongoing")
        );
        // The series adds up to the count (6 hours fit in the kept buckets) and is bucketed
        // at 5 minutes.
        for x in clusters(&r) {
            let series = x["trend"]["series"].as_object().expect("series");
            let sum: u64 = series.values().map(|v| v.as_u64().unwrap()).sum();
            assert_eq!(sum, num(x, "count"), "{}", x["template"]);
            for k in series.keys() {
                let t = parse_rfc3339(k).expect("bucket start") / 1_000_000_000;
                assert_eq!(t % 300, 0, "{k}");
            }
        }
        assert!(md.contains("### What changed since the last run"), "{md}");
        assert!(md.contains("**Escalating (1):**"), "{md}");
        assert!(md.contains("**Series (lead):** `"), "{md}");
    }
}

#[test]
fn state_across_runs_new_regressed_resolved_and_no_double_counting() {
    let dir = tempdir();
    let d = dir.path();
    let state = d.join("state");
    let cfg = write(
        d,
        "cfg.yaml",
        "state:\n  regression_gap: 2h\n  resolved_after: 3h\n",
    );
    // Two adjacent 6-hour slices: A before 04:00, B from 04:00 to 10:00.
    let a = gen_file(
        d,
        "a.json",
        &[
            "--entries",
            "3000",
            "--seed",
            "21",
            "--span",
            "6h",
            "--end",
            "2025-09-14T04:00:00Z",
        ],
    );
    let b = gen_file(
        d,
        "b.json",
        &[
            "--entries",
            "3000",
            "--seed",
            "22",
            "--span",
            "6h",
            "--end",
            "2025-09-14T10:00:00Z",
        ],
    );
    let common_args = ["--config", s(&cfg), "--state", s(&state)];
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let with = |input: &[&Path]| -> Vec<String> {
        let mut v: Vec<String> = common_args.iter().map(|x| x.to_string()).collect();
        v.extend(input.iter().map(|p| s(p).to_string()));
        v
    };

    let va = with(&[&a]);
    let (ra, md_a) = run(d, "a", &args(&va));
    assert!(clusters(&ra).iter().all(|c| status(c) == "new"));
    assert!(md_a.contains("every problem is new"), "{md_a}");
    assert!(state.join("state.json").exists());

    let vb = with(&[&b]);
    let (rb, md_b) = run(d, "b", &args(&vb));
    let after_b = std::fs::read(state.join("state.json")).expect("state");
    let (ia, ib) = (by_id(&ra), by_id(&rb));
    let mut seen = BTreeMap::<&str, usize>::new();
    for (id, c) in &ib {
        let expected = match ia.get(id) {
            None => "new",
            Some(old) if secs(c, "first_seen") - secs(old, "last_seen") > 2 * 3600 => "regressed",
            Some(_) if !c["trend"]["escalation"].is_null() => "escalating",
            Some(_) => "ongoing",
        };
        assert_eq!(status(c), expected, "{id} {}", c["template"]);
        *seen.entry(expected).or_default() += 1;
        // Totals over all runs: each entry once.
        let total = num(c, "count") + ia.get(id).map_or(0, |o| num(o, "count"));
        assert_eq!(num(&c["trend"]["history"], "total"), total, "{id}");
    }
    for kind in ["new", "regressed", "ongoing"] {
        assert!(
            seen.get(kind).is_some_and(|n| *n > 0),
            "no {kind} cluster: {seen:?}"
        );
    }
    // Resolved-looking: in A, not in B, last seen within 3h of A's end (so newly past the
    // limit 3h before B's end).
    let expected_resolved: BTreeSet<&str> = ia
        .iter()
        .filter(|(id, c)| {
            !ib.contains_key(*id) && secs(c, "last_seen") >= secs(&ra, "reference_time") - 3 * 3600
        })
        .map(|(id, _)| id.as_str())
        .collect();
    let resolved: BTreeSet<&str> = rb["trends"]["resolved"]
        .as_array()
        .expect("resolved")
        .iter()
        .map(|x| text(x, "id"))
        .collect();
    assert!(!expected_resolved.is_empty());
    assert_eq!(resolved, expected_resolved);
    assert!(md_b.contains("**Regressed ("), "{md_b}");
    assert!(md_b.contains("**New ("), "{md_b}");
    assert!(md_b.contains("**Resolved-looking clusters ("), "{md_b}");

    // Again over B: the state does not change (byte for byte), nothing looks new or regressed,
    // totals stay. (Timestamps with nanoseconds once made every re-run add one to clusters
    // whose newest entry had them: the stored mark keeps microseconds.)
    let (r, _) = run(d, "b-again", &args(&vb));
    let now = std::fs::read(state.join("state.json")).expect("state");
    assert!(now == after_b, "b-again changed the state");
    assert!(
        clusters(&r)
            .iter()
            .all(|c| !matches!(status(c), "new" | "regressed"))
    );
    assert_eq!(r["trends"]["resolved"], serde_json::json!([]));
    // Over A and B together: no known cluster's total moves, none looks regressed. (Mining
    // over both can generalize templates the separate runs kept apart, so a few clusters and
    // their priorities may differ from the separate runs'.)
    let vab = with(&[&a, &b]);
    let (r, _) = run(d, "a-and-b", &args(&vab));
    for c in clusters(&r) {
        if let Some(before) = ib.get(text(c, "id")) {
            assert_eq!(
                c["trend"]["history"]["total"],
                before["trend"]["history"]["total"]
            );
            assert_ne!(status(c), "regressed", "{c:#}");
        }
    }
}

#[test]
fn a_corrupt_state_file_stops_the_run_with_a_clear_message() {
    let dir = tempdir();
    let state = dir.path().join("st");
    std::fs::create_dir_all(&state).unwrap();
    let file = write(&state, "state.json", "{\"version\": 1, \"observed\": [");
    let input = gen_file(dir.path(), "in.json", &["--entries", "50", "--span", "1h"]);
    let out = gardener(&["run", s(&input), "--state", s(&state)]);
    out.expect_code(3);
    assert!(out.stderr.contains("is corrupt"), "{}", out.stderr);
    assert!(out.stderr.contains(s(&file)), "{}", out.stderr);
    assert!(out.stderr.contains("--state none"), "{}", out.stderr);
    assert_eq!(out.stdout, "", "no report on a corrupt state");
    // Left as it was, for a person to look at.
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"version\": 1, \"observed\": ["
    );
}

#[test]
fn state_defaults_to_the_working_directory_and_none_writes_nothing() {
    let dir = tempdir();
    let input = gen_file(dir.path(), "in.json", &["--entries", "50", "--span", "1h"]);
    let limit = Duration::from_secs(60);
    let run_in = |sub: &str, extra: &[&str]| {
        let cwd = dir.path().join(sub);
        std::fs::create_dir_all(&cwd).unwrap();
        let mut args = vec!["run", s(&input)];
        args.extend_from_slice(extra);
        // An empty GARDENER_STATE leaves the default, state.dir.
        gardener_in(&args, b"", limit, &[("GARDENER_STATE", "")], Some(&cwd)).expect_code(0);
        cwd
    };
    let cwd = run_in("default", &[]);
    assert!(cwd.join(".log-gardener/state.json").exists());
    let cwd = run_in("none", &["--state", "none"]);
    assert!(!cwd.join(".log-gardener").exists());
}

/// `count` "persist message" errors (P2: filed on GitHub) at 2025-09-14T03:MM:SS, ten seconds
/// apart.
fn persist_errors(minute: u32, count: u32) -> Vec<Value> {
    (0..count)
        .map(|i| {
            serde_json::json!({
                "insertId": format!("persist-{minute}-{i}"),
                "jsonPayload": {
                    "message": format!("Failed to persist message {} in MessageService: database timeout after 30s", 1000 + minute * 100 + i),
                },
                "logName": "projects/netra-staging/logs/run.googleapis.com%2Fstderr",
                "resource": {
                    "labels": { "service_name": "netra-backend-staging", "revision_name": "netra-backend-staging-00042-abc" },
                    "type": "cloud_run_revision",
                },
                "severity": "ERROR",
                "timestamp": format!("2025-09-14T03:{minute:02}:{:02}Z", i * 10),
            })
        })
        .collect()
}

#[test]
fn a_cluster_whose_issue_was_closed_comes_back_regressed() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    let cfg = write(
        d,
        "cfg.yaml",
        format!(
            "sinks:\n  github:\n    state_file: {}\n    write_interval_ms: 0\n    max_wait_secs: 5\n    secondary_backoff_secs: 1\n    timeout_secs: 10\n",
            s(&d.join("github-state.json"))
        ),
    );
    let state = d.join("state");
    let repo = format!("{OWNER}/{REPO}");
    let go = |tag: &str, entries: Vec<Value>| -> Value {
        let input = write(
            d,
            &format!("{tag}.in.json"),
            serde_json::to_string_pretty(&entries).unwrap(),
        );
        let json = d.join(format!("{tag}.json"));
        let md = d.join(format!("{tag}.md"));
        let args = [
            "run",
            s(&input),
            "--config",
            s(&cfg),
            "--state",
            s(&state),
            "--github",
            &repo,
            "--github-api",
            &fake.url,
            "--json",
            s(&json),
            "--report",
            s(&md),
        ];
        gardener_in(
            &args,
            b"",
            Duration::from_secs(90),
            &[("GITHUB_TOKEN", TOKEN)],
            Some(d),
        )
        .expect_code(0);
        read_json(&json)
    };
    let persist = |r: &Value| -> Value {
        find_cluster(r, "netra-backend-staging", "Failed to persist message").clone()
    };
    // 1. New: an issue is filed.
    let r1 = go("r1", persist_errors(0, 3));
    assert_eq!(status(&persist(&r1)), "new");
    let issue = fake.issues()[0]["number"].as_u64().unwrap();
    // 2. A person closes it; the same logs: nothing new, but the state learns it is closed.
    fake.close(issue, "2025-09-14T03:30:00Z", "completed");
    let r2 = go("r2", persist_errors(0, 3));
    assert_eq!(status(&persist(&r2)), "ongoing");
    // 3. It comes back ten minutes later (well within state.regression_gap): regressed, because
    //    its issue was closed; the sink reopens the issue and its comment carries the trend.
    let mut back = persist_errors(0, 3);
    back.extend(persist_errors(40, 2));
    let r3 = go("r3", back.clone());
    let c = persist(&r3);
    assert_eq!(status(&c), "regressed");
    assert_eq!(c["trend"]["history"]["closed"], true);
    assert_eq!(num(&c["trend"]["history"], "total"), 5);
    assert_eq!(fake.issue(issue)["state"], "open");
    let comment = fake.comments(issue).pop().unwrap();
    assert!(comment.contains("| **Trend** | regressed"), "{comment}");
    // 4. The regression was reported: the same logs again are not a regression again.
    let r4 = go("r4", back);
    assert_eq!(status(&persist(&r4)), "ongoing");
    assert_eq!(num(&persist(&r4)["trend"]["history"], "total"), 5);
}

#[test]
fn an_interrupted_run_leaves_the_state_untouched() {
    let dir = tempdir();
    let d = dir.path();
    let state = d.join("state");
    let a = gen_file(
        d,
        "a.json",
        &["--entries", "300", "--seed", "5", "--span", "6h"],
    );
    run(d, "a", &[s(&a), "--state", s(&state)]);
    let before = std::fs::read(state.join("state.json")).expect("state after a full run");
    // Later entries on a pipe that stays open (gcloud still running), then SIGINT.
    let b = gen_file(
        d,
        "b.ndjson",
        &[
            "--entries",
            "300",
            "--seed",
            "6",
            "--span",
            "6h",
            "--end",
            "2025-09-14T12:00:00Z",
            "--format",
            "ndjson",
        ],
    );
    let json = d.join("b.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gardener"))
        .args([
            "run",
            "--state",
            s(&state),
            "--json",
            s(&json),
            "--report",
            "-",
        ])
        .env_remove("GARDENER_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gardener");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(&std::fs::read(&b).unwrap())
        .expect("write input");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "gardener did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(stdin);
    assert_eq!(status.code(), Some(130));
    let r = read_json(&json);
    assert_eq!(r["partial"], true);
    assert_eq!(r["trends"]["state_updated"], false);
    assert_eq!(
        std::fs::read(state.join("state.json")).unwrap(),
        before,
        "an interrupted run changed the state"
    );
}

/// One entry dated 2099 (a clock gone wrong) moves neither the windows, nor the reference,
/// nor the state: it is counted without its time, and the report says so.
#[test]
fn an_entry_dated_2099_leaves_the_windows_and_the_state_intact() {
    let dir = tempdir();
    let d = dir.path();
    let input = gen_file(
        d,
        "in.json",
        &["--entries", "600", "--seed", "3", "--span", "2h"],
    );
    let mut entries: Vec<Value> = serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
    let mut future = entries[0].clone();
    future["timestamp"] = Value::from("2099-01-01T00:00:00Z");
    future["insertId"] = Value::from("from-the-future");
    entries.push(future);
    let with = write(d, "with.json", serde_json::to_vec_pretty(&entries).unwrap());
    let (state_a, state_b) = (d.join("a"), d.join("b"));
    let (plain, _) = run(d, "plain", &[s(&input), "--state", s(&state_a)]);
    let (odd, md) = run(d, "odd", &[s(&with), "--state", s(&state_b)]);
    assert_eq!(odd["reference_time"], plain["reference_time"]);
    assert_eq!(odd["time_range"], plain["time_range"]);
    assert_eq!(num(&odd["totals"], "future_dated"), 1);
    assert_eq!(num(&plain["totals"], "future_dated"), 0);
    assert_eq!(
        num(&odd["totals"], "entries_processed"),
        num(&plain["totals"], "entries_processed") + 1
    );
    // Every window of every cluster counts what it counted without the odd entry.
    let windows = |r: &Value| -> BTreeMap<String, Value> {
        clusters(r)
            .iter()
            .map(|c| (text(c, "id").to_string(), c["windows"].clone()))
            .collect()
    };
    assert_eq!(windows(&odd), windows(&plain));
    let note = odd["notes"].as_array().unwrap().iter().any(|n| {
        n.as_str()
            .is_some_and(|n| n.contains("2099-01-01") && n.contains("future_margin"))
    });
    assert!(note, "{:#}", odd["notes"]);
    assert!(md.contains("2099-01-01"), "the worklog tells");
    // The state remembers the same reference and history as without the odd entry.
    let state = |dir: &Path| -> Value {
        let mut v = read_json(&dir.join("state.json"));
        for k in ["updated_at", "runs"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let (sa, sb) = (state(&state_a), state(&state_b));
    assert_eq!(sa["reference"], sb["reference"], "state reference");
    assert_eq!(sa["observed"], sb["observed"], "observed buckets");
    let history = |v: &Value| v["clusters"].as_object().map(|m| m.len());
    assert_eq!(history(&sa), history(&sb));
}

/// A gcloud array of `n` ERROR entries of one message.
fn one_message(message: &str, n: usize) -> Vec<u8> {
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "insertId": format!("{message}-{i}"),
                "severity": "ERROR",
                "timestamp": format!("2025-09-14T03:00:{:02}Z", i % 60),
                "textPayload": message,
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "svc"}},
            })
        })
        .collect();
    serde_json::to_vec_pretty(&entries).unwrap()
}

/// One writer per state: a run holding the state waits out another (no update lost), and
/// with `state.lock_wait` spent it exits 5 naming the holder.
#[test]
fn runs_sharing_a_state_take_turns_and_lose_no_update() {
    let dir = tempdir();
    let d = dir.path();
    let state = d.join("state");
    // A holds the lock while it waits for its standard input.
    let mut a = Command::new(env!("CARGO_BIN_EXE_gardener"))
        .args([
            "run",
            "--quiet",
            "--report",
            s(&d.join("a.md")),
            "--state",
            s(&state),
        ])
        .env_remove("GARDENER_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lock = state.join("lock");
    let t0 = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&a.id().to_string())) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "A never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let quick = write(d, "quick.yaml", "state:\n  lock_wait: 1s\n");
    let b_input = write(d, "b.json", one_message("Ledger sync aborted", 3));
    let b = gardener(&[
        "run",
        "--quiet",
        "--report",
        s(&d.join("b.md")),
        "--config",
        s(&quick),
        "--state",
        s(&state),
        s(&b_input),
    ]);
    b.expect_code(5);
    assert!(
        b.stderr.contains(&format!("pid {}", a.id())),
        "{}",
        b.stderr
    );
    assert!(b.stderr.contains("state.lock_wait"), "{}", b.stderr);
    // C waits (the default lock_wait) while A finishes, then runs: both updates are kept.
    let c = {
        let (state, b_input, md) = (state.clone(), b_input.clone(), d.join("c.md"));
        std::thread::spawn(move || {
            gardener(&[
                "run",
                "--quiet",
                "--report",
                s(&md),
                "--state",
                s(&state),
                s(&b_input),
            ])
        })
    };
    std::thread::sleep(Duration::from_millis(2000));
    {
        let mut stdin = a.stdin.take().unwrap();
        stdin
            .write_all(&one_message("Invoice renderer crashed", 3))
            .unwrap();
    }
    let out = a.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = c.join().unwrap();
    c.expect_code(0);
    assert!(
        c.stderr.contains("waiting for another gardener run"),
        "{}",
        c.stderr
    );
    let st = read_json(&state.join("state.json"));
    let templates: Vec<String> = st["clusters"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.to_string())
        .collect();
    for m in ["Ledger sync aborted", "Invoice renderer crashed"] {
        assert!(
            templates.iter().any(|t| t.contains(m)),
            "{m} lost: {templates:?}"
        );
    }
}

/// Entries `from..to` of one statement, two to a timestamp: entries `2k` and `2k + 1` share
/// second `k`.
fn paired_entries(from: u32, to: u32) -> String {
    let lines: Vec<String> = (from..to)
        .map(|i| {
            serde_json::json!({
                "insertId": format!("pair-{i}"),
                "jsonPayload": {"message": format!("Failed to persist message {i}: database timeout after 30s")},
                "resource": {"labels": {"service_name": "billing"}, "type": "cloud_run_revision"},
                "severity": "ERROR",
                "timestamp": format!("2025-09-14T03:00:{:02}.5Z", i / 2),
            })
            .to_string()
        })
        .collect();
    lines.join("\n") + "\n"
}

#[test]
fn overlapping_runs_count_each_entry_once_even_at_equal_timestamps() {
    let dir = tempdir();
    let d = dir.path();
    let state = d.join("state");
    // A ends with entry 10 at second 5; entry 11 shares that timestamp but reaches the next
    // run only (written late). B overlaps A by six entries.
    let a = write(d, "a.ndjson", paired_entries(0, 11));
    let b = write(d, "b.ndjson", paired_entries(5, 20));
    let all = write(d, "all.ndjson", paired_entries(0, 20));
    let total = |r: &Value| -> u64 {
        let c = find_cluster(r, "billing", "Failed to persist message");
        num(&c["trend"]["history"], "total")
    };
    let (ra, _) = run(d, "a", &[s(&a), "--state", s(&state)]);
    assert_eq!(total(&ra), 11);
    let (rb, _) = run(d, "b", &[s(&b), "--state", s(&state)]);
    assert_eq!(
        total(&rb),
        20,
        "entry 11, at the mark's timestamp, counts once"
    );
    let (rall, md) = run(d, "all", &[s(&all), "--state", s(&state)]);
    assert_eq!(
        total(&rall),
        20,
        "a run over entries already seen adds nothing"
    );
    assert!(!md.contains("**New ("), "{md}");
    // (That run saw B's bucket whole and keeps the larger count: series merge by max.) Once
    // more over the same logs: the state does not change at all.
    let read = || std::fs::read_to_string(state.join("state.json")).expect("state");
    let before = read();
    let (again, _) = run(d, "all-again", &[s(&all), "--state", s(&state)]);
    assert_eq!(total(&again), 20);
    assert!(
        read() == before,
        "a run over entries already seen changed the state"
    );
    let kept: Value = read_json(&state.join("state.json"));
    assert_eq!(kept["seen_ids"]["entries"], 20, "{}", kept["seen_ids"]);
}

#[test]
fn a_second_run_over_the_same_logs_flags_no_escalation() {
    let dir = tempdir();
    let d = dir.path();
    let state = d.join("state");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/netra-staging.json");
    let (first, md_first) = run(d, "first", &[s(&example), "--state", s(&state)]);
    assert!(
        clusters(&first)
            .iter()
            .any(|c| !c["trend"]["escalation"].is_null()),
        "the example has a spike"
    );
    assert!(md_first.contains("**Escalating ("), "{md_first}");
    let (again, md) = run(d, "again", &[s(&example), "--state", s(&state)]);
    for c in clusters(&again) {
        assert_eq!(status(c), "ongoing", "{c:#}");
    }
    assert!(!md.contains("**Escalating ("), "{md}");
    assert!(
        md.contains("Nothing new, escalating, regressed or resolved."),
        "{md}"
    );
    // The spike is still in the data (and its priority), said as such.
    assert!(md.contains("seen before"), "{md}");
    assert_eq!(again["priorities"], first["priorities"]);
    let totals = |r: &Value| -> Vec<(String, u64)> {
        clusters(r)
            .iter()
            .map(|c| {
                (
                    text(c, "id").to_string(),
                    num(&c["trend"]["history"], "total"),
                )
            })
            .collect()
    };
    let mut before = totals(&first);
    let mut after = totals(&again);
    before.sort();
    after.sort();
    assert_eq!(before, after);
}
