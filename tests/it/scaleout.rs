//! Past one machine: `gardener watch --partials` workers sharing one Pub/Sub subscription (one
//! killed with SIGKILL and restarted), and `gardener merge --watch` as their coordinator. The
//! partials merge into exactly what one `gardener run` over the same entries counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{gardener, generate, read_json, s, tempdir, write};
use crate::watch::{Emulator, signal, wait_limited};

/// `gardener watch --partials DIR --worker-id ID [args]`.
fn worker(dir: &Path, id: &str, args: &[&str], env: &[(&str, String)]) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gardener"));
    c.args([
        "watch",
        "--every",
        "1s",
        "--partials",
        s(dir),
        "--worker-id",
        id,
    ])
    .args(args)
    .env_remove("GARDENER_CONFIG")
    .env("GARDENER_STATE", "none")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

/// Entries read by all the partials in `dir` (a partial is never seen half written).
fn counted(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".json") && !n.starts_with('.')
        })
        .map(|e| {
            let v: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap())
                .expect("a partial is replaced whole, never half written");
            v["mergeable"]["entries_read"].as_u64().unwrap()
        })
        .sum()
}

/// Each cluster's count by id, and the entries read, of a JSON report.
fn counts(report: &Path) -> (u64, BTreeMap<String, u64>) {
    let r = read_json(report);
    let by_id = r["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    (r["totals"]["entries_read"].as_u64().unwrap(), by_id)
}

fn partials(dir: &Path) -> Vec<PathBuf> {
    let mut p: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    p.sort();
    p
}

#[test]
fn three_workers_on_one_subscription_count_every_entry_once_across_a_sigkill() {
    let t0 = Instant::now();
    let Some(emu) = Emulator::start() else { return };
    let topic = "projects/gardener-test/topics/fleet";
    let sub = "projects/gardener-test/subscriptions/fleet-workers";
    emu.subscription(topic, sub);

    let dir = tempdir();
    let d = dir.path();
    // 20,000 entries as a Log Router sink delivers them: one LogEntry per message.
    let all = generate(d, "all.ndjson", 20_000, 21, "ndjson", "6h");
    let lines: Vec<String> = std::fs::read_to_string(&all)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 20_000);
    let publish = |from: usize, to: usize| {
        use base64::Engine;
        for chunk in lines[from..to].chunks(500) {
            let messages: Vec<Value> = chunk
                .iter()
                .map(|l| {
                    serde_json::json!({"data": base64::engine::general_purpose::STANDARD.encode(l)})
                })
                .collect();
            let body = serde_json::json!({ "messages": messages }).to_string();
            let (status, resp) = emu.call("POST", &format!("/v1/{topic}:publish"), &body);
            assert_eq!(status, 200, "publish failed: {resp}");
        }
    };
    let cfg = write(
        d,
        "pipeline.yaml",
        format!("source:\n  kind: pubsub\n  pubsub:\n    subscription: {sub}\n"),
    );
    let parts = d.join("partials");
    let env = [("PUBSUB_EMULATOR_HOST", emu.host())];
    let args = ["--config", s(&cfg)];
    let mut workers: Vec<Child> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| worker(&parts, id, &args, &env))
        .collect();

    publish(0, 8000);
    let limit = Duration::from_secs(120);
    let wait_for = |n: u64, workers: &mut Vec<Child>| {
        let t = Instant::now();
        while !parts.is_dir() || counted(&parts) < n {
            for w in workers.iter_mut() {
                assert!(w.try_wait().unwrap().is_none(), "a worker ended early");
            }
            assert!(
                t.elapsed() < limit,
                "the partials count {} of {n} entries after {limit:?}",
                if parts.is_dir() { counted(&parts) } else { 0 }
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(8000, &mut workers);
    eprintln!("8000 counted after {:?}", t0.elapsed());

    // The rest, with worker w1 killed at once while it reads them, then restarted.
    publish(8000, 20_000);
    std::thread::sleep(Duration::from_millis(400));
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    eprintln!(
        "w1 killed after {:?}: {} counted",
        t0.elapsed(),
        counted(&parts)
    );
    workers[0] = worker(&parts, "w1", &args, &env);
    wait_for(20_000, &mut workers);
    eprintln!("20000 counted after {:?}", t0.elapsed());
    // Nothing more arrives: an entry counted twice would show here.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(counted(&parts), 20_000);
    for w in workers {
        signal(&w, "TERM");
        let (code, stderr) = wait_limited(w, Duration::from_secs(60));
        assert_eq!(code, 0, "{stderr}");
    }
    assert_eq!(counted(&parts), 20_000);
    assert_eq!(partials(&parts).len(), 3, "one partial per worker id");

    // The coordinator's merge counts what one run over the same entries counts.
    let merged = d.join("merged.json");
    let mut margs = vec!["merge", "--json", s(&merged), "--report", "/dev/null"];
    let files = partials(&parts);
    margs.extend(files.iter().map(|p| s(p)));
    gardener(&margs).expect_code(0);
    let one = d.join("one.json");
    gardener(&["run", s(&all), "--json", s(&one), "--report", "/dev/null"]).expect_code(0);
    let (n_merged, merged_counts) = counts(&merged);
    let (n_one, one_counts) = counts(&one);
    assert_eq!(n_merged, 20_000);
    assert_eq!(n_one, 20_000);
    assert!(one_counts.len() > 50, "the data has many clusters");
    assert_eq!(
        merged_counts, one_counts,
        "every cluster's count equals one run's"
    );
    assert_eq!(
        read_json(&merged)["inputs"],
        serde_json::json!([sub]),
        "the subscription is named once"
    );

    emu.assert_empty(sub);
}

/// `gardener merge --watch DIR`: workers over files write their partials; the coordinator
/// reports on all of them every interval, leaves out a partial no worker has written within
/// the longest window, and ends with a last report on SIGTERM.
#[test]
fn the_coordinator_reports_on_the_workers_partials() {
    let dir = tempdir();
    let d = dir.path();
    let a = generate(d, "a.ndjson", 2000, 3, "ndjson", "6h");
    let b = generate(d, "b.ndjson", 1500, 4, "ndjson", "6h");
    let parts = d.join("partials");
    for (id, input) in [("a", &a), ("b", &b)] {
        let w = worker(&parts, id, &[s(input)], &[]);
        let (code, stderr) = wait_limited(w, Duration::from_secs(60));
        assert_eq!(code, 0, "{stderr}");
    }
    assert_eq!(counted(&parts), 3500);
    assert_eq!(read_json(&parts.join("a.json"))["worker"], "a");
    // A worker that stopped two days ago: its partial is left out.
    std::fs::copy(parts.join("a.json"), parts.join("gone.json")).unwrap();
    let old = Command::new("touch")
        .args(["-d", "2 days ago", s(&parts.join("gone.json"))])
        .status()
        .unwrap();
    assert!(old.success());
    // A worker's refusal of what the coordinator does, and of an ID that is no file name.
    let refused = gardener(&["watch", "--partials", s(&parts), "--json", "x.json", s(&a)]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("merge --watch"),
        "{}",
        refused.stderr
    );
    let bad_id = gardener(&[
        "watch",
        "--partials",
        s(&parts),
        "--worker-id",
        "../w",
        s(&a),
    ]);
    bad_id.expect_code(2);
    assert!(bad_id.stderr.contains("--worker-id"), "{}", bad_id.stderr);
    // The coordinator's own JSON report among the partials would count twice.
    let inside = parts.join("fleet.json");
    let own = gardener(&["merge", "--watch", s(&parts), "--json", s(&inside)]);
    own.expect_code(2);
    assert!(
        own.stderr.contains("count its entries twice"),
        "{}",
        own.stderr
    );

    let json = d.join("fleet.json");
    let md = d.join("fleet.md");
    let state = d.join("state");
    let coordinator = Command::new(env!("CARGO_BIN_EXE_gardener"))
        .args(["merge", "--watch", s(&parts), "--every", "1s"])
        .args(["--json", s(&json), "--report", s(&md), "--state", s(&state)])
        .env_remove("GARDENER_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !json.exists() || read_json(&json)["totals"]["entries_read"] != 3500 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no report of 3500 entries"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    signal(&coordinator, "TERM");
    let (code, stderr) = wait_limited(coordinator, Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("merge --watch: report 2"), "{stderr}");
    let r = read_json(&json);
    assert_eq!(r["totals"]["entries_read"], 3500);
    assert_eq!(r["partial"], false);
    let notes = r["notes"].to_string();
    assert!(notes.contains("gone.json"), "{notes}");
    assert!(std::fs::read_to_string(&md).unwrap().contains("3,500 read"));
    assert!(
        state.join("state.json").exists(),
        "the coordinator keeps the state"
    );

    // Its counts are one run's over both files.
    let one = d.join("one.json");
    gardener(&[
        "run",
        s(&a),
        s(&b),
        "--json",
        s(&one),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    assert_eq!(counts(&json), counts(&one));
}
