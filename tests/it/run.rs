//! End-to-end tests of `gardener run` (and `validate`, `fingerprint`, `gen`): each runs the real
//! binary on inputs the test makes itself and checks exact values in its outputs.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::common::{
    Out, clusters, find_cluster, gardener, gardener_limited, gardener_stdin, generate, num,
    read_json, read_ndjson, s, tempdir, text, write,
};

/// A gcloud-shaped entry of a Cloud Run service, message in `jsonPayload.message`.
fn entry(id: &str, ts: Option<&str>, severity: &str, service: &str, message: &str) -> Value {
    let mut e = json!({
        "insertId": id,
        "jsonPayload": {
            "logger": "netra_backend.app.websocket_core.handlers",
            "message": message,
        },
        "labels": { "instanceId": "00f46b928536a7b4" },
        "logName": "projects/netra-staging/logs/run.googleapis.com%2Fstderr",
        "resource": {
            "labels": {
                "configuration_name": service,
                "location": "us-central1",
                "project_id": "netra-staging",
                "revision_name": format!("{service}-00042-abc"),
                "service_name": service,
            },
            "type": "cloud_run_revision",
        },
        "severity": severity,
    });
    if let Some(ts) = ts {
        e["timestamp"] = json!(ts);
    }
    e
}

/// The same entry with the message in `textPayload` instead.
fn text_entry(id: &str, ts: Option<&str>, severity: &str, service: &str, message: &str) -> Value {
    let mut e = entry(id, ts, severity, service, message);
    let obj = e.as_object_mut().expect("object");
    obj.remove("jsonPayload");
    obj.insert("textPayload".into(), json!(message));
    e
}

/// `[\n  {\n    ...` exactly as `gcloud logging read --format=json` prints it.
fn pretty_array(entries: &[Value]) -> String {
    serde_json::to_string_pretty(entries).expect("serialise") + "\n"
}

fn ndjson(entries: &[Value]) -> String {
    entries.iter().map(|e| format!("{e}\n")).collect()
}

/// Runs `gardener run INPUT --json J --report R [--entries E] EXTRA...` in `dir`, expecting exit 0,
/// and returns (JSON report, markdown report, entries lines).
fn run_ok(dir: &Path, tag: &str, input: &Path, extra: &[&str]) -> (Value, String, Vec<Value>) {
    let json_path = dir.join(format!("{tag}.report.json"));
    let md_path = dir.join(format!("{tag}.report.md"));
    let entries_path = dir.join(format!("{tag}.entries.ndjson"));
    let mut args = vec![
        "run",
        s(input),
        "--json",
        s(&json_path),
        "--report",
        s(&md_path),
        "--entries",
        s(&entries_path),
    ];
    args.extend_from_slice(extra);
    let out = gardener(&args);
    out.expect_code(0);
    assert_eq!(
        out.stdout, "",
        "{tag}: with --report the worklog is not on stdout"
    );
    (
        read_json(&json_path),
        std::fs::read_to_string(&md_path).expect("markdown report"),
        read_ndjson(&entries_path),
    )
}

/// The clusters as comparable values: [id, count, windows, first_seen, last_seen, severities,
/// template], sorted by id.
fn cluster_key(report: &Value) -> Vec<Value> {
    let mut v: Vec<Value> = clusters(report)
        .iter()
        .map(|c| {
            json!([
                c["id"],
                c["count"],
                c["windows"],
                c["first_seen"],
                c["last_seen"],
                c["severities"],
                c["template"]
            ])
        })
        .collect();
    v.sort_by(|a, b| a[0].as_str().cmp(&b[0].as_str()));
    v
}

/// Compares two long lists and names the first difference instead of printing both whole.
fn assert_same_list<T: PartialEq + std::fmt::Debug>(what: &str, got: &[T], want: &[T]) {
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: first difference at index {i}:\n  got:  {:?}\n  want: {:?}",
            got[i], want[i]
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
}

// -------------------------------------------------------------------------------------------
// 1. Input format and order do not change the results.
// -------------------------------------------------------------------------------------------

#[test]
fn array_ndjson_and_reversed_order_give_identical_results() {
    let dir = tempdir();
    let d = dir.path();
    let array = generate(d, "logs.json", 2000, 42, "array", "6h");
    let nd = generate(d, "logs.ndjson", 2000, 42, "ndjson", "6h");

    let entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&array).expect("read array"))
            .expect("gen writes a JSON array");
    assert_eq!(entries.len(), 2000);
    let mut rev = entries.clone();
    rev.reverse();
    let reversed = write(d, "reversed.json", pretty_array(&rev));
    let ids: Vec<String> = entries
        .iter()
        .map(|e| text(e, "insertId").to_string())
        .collect();
    let rev_ids: Vec<String> = ids.iter().rev().cloned().collect();

    let mut results = Vec::new();
    for (tag, input, order) in [
        ("array", &array, &ids),
        ("ndjson", &nd, &ids),
        ("reversed", &reversed, &rev_ids),
    ] {
        let (report, _, lines) = run_ok(d, tag, input, &[]);
        let t = &report["totals"];
        assert_eq!(num(t, "entries_read"), 2000, "{tag}");
        assert_eq!(num(t, "entries_processed"), 2000, "{tag}");
        assert_eq!(num(t, "entries_skipped"), 0, "{tag}");
        assert_eq!(
            num(t, "clusters") as usize,
            clusters(&report).len(),
            "{tag}"
        );

        // The entries file lists every entry once, in input order.
        let got_order: Vec<String> = lines
            .iter()
            .map(|l| text(l, "insertId").to_string())
            .collect();
        assert_same_list(&format!("{tag}: entries file order"), &got_order, order);
        let fingerprints: BTreeMap<String, String> = lines
            .iter()
            .map(|l| {
                (
                    text(l, "insertId").to_string(),
                    text(l, "fingerprint").to_string(),
                )
            })
            .collect();
        assert_eq!(fingerprints.len(), 2000, "{tag}: insertIds are unique");

        // Entries per fingerprint agree with the cluster counts.
        let mut per_fp: BTreeMap<String, u64> = BTreeMap::new();
        for fp in fingerprints.values() {
            *per_fp.entry(fp.clone()).or_default() += 1;
        }
        let per_cluster: BTreeMap<String, u64> = clusters(&report)
            .iter()
            .map(|c| (text(c, "id").to_string(), num(c, "count")))
            .collect();
        assert_eq!(per_fp, per_cluster, "{tag}: entries file vs cluster counts");

        results.push((tag, cluster_key(&report), fingerprints));
    }
    let (_, base_clusters, base_fps) = &results[0];
    assert!(
        base_clusters.len() >= 20,
        "2,000 generated entries form many clusters, got {}",
        base_clusters.len()
    );
    for (tag, cl, fps) in &results[1..] {
        assert_same_list(&format!("clusters of {tag} vs array"), cl, base_clusters);
        assert!(
            fps == base_fps,
            "{tag}: insertId → fingerprint differs from array"
        );
    }
}

// -------------------------------------------------------------------------------------------
// 2. Ids and counts do not depend on the run or on the number of workers.
// -------------------------------------------------------------------------------------------

#[test]
fn ids_are_stable_across_runs_and_worker_counts() {
    let dir = tempdir();
    let d = dir.path();
    // Two days of entries: the largest window (24h) does not reach the oldest ones, so the
    // per-second pruning is exercised too (batch_size 7 means many batches).
    let input = generate(d, "logs.json", 2000, 7, "array", "2d");
    let serial = write(
        d,
        "serial.yaml",
        "parse: {workers: 1}\nfingerprint: {workers: 1}\naggregate: {shards: 1}\npipeline: {batch_size: 7, channel_capacity: 1}\n",
    );
    let wide = write(
        d,
        "wide.yaml",
        "parse: {workers: 4}\nfingerprint: {workers: 3}\naggregate: {shards: 5}\npipeline: {batch_size: 50, channel_capacity: 2, read_block_kib: 1}\n",
    );
    let runs = [
        ("default-1", run_ok(d, "default-1", &input, &[])),
        ("default-2", run_ok(d, "default-2", &input, &[])),
        (
            "serial",
            run_ok(d, "serial", &input, &["--config", s(&serial)]),
        ),
        ("wide", run_ok(d, "wide", &input, &["--config", s(&wide)])),
    ];
    let ids_counts = |r: &Value| -> Vec<(String, u64)> {
        clusters(r)
            .iter()
            .map(|c| (text(c, "id").to_string(), num(c, "count")))
            .collect()
    };
    let (_, (base, _, base_lines)) = &runs[0];
    let base_ids = ids_counts(base);
    assert!(base_ids.len() >= 20, "got {} clusters", base_ids.len());
    assert_eq!(
        base_ids.iter().map(|(_, n)| n).sum::<u64>(),
        2000,
        "cluster counts add up to the entries"
    );
    for id in base_ids.iter().map(|(id, _)| id) {
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "id {id:?} is 16 hex digits"
        );
    }
    for (tag, (report, _, lines)) in &runs[1..] {
        assert_same_list(
            &format!("{tag}: (id, count) in report order"),
            &ids_counts(report),
            &base_ids,
        );
        assert_same_list(
            &format!("{tag}: whole clusters"),
            clusters(report),
            clusters(base),
        );
        assert_eq!(report["reference_time"], base["reference_time"], "{tag}");
        assert_same_list(&format!("{tag}: entries file"), lines, base_lines);
    }
}

// -------------------------------------------------------------------------------------------
// 3. Window counts, against a hand-computed answer.
// -------------------------------------------------------------------------------------------

const DB: &str = "Database connection pool exhausted, rejecting request";
const REDIS: &str = "Redis cache unavailable, serving from database";
const SVC: &str = "netra-backend-staging";

/// Entries of one message around NOW = 2025-09-14T05:00:00Z (T), plus one entry of another
/// message at T+30m. See the table in `window_counts_match_hand_computed_answer`.
fn window_entries() -> Vec<Value> {
    let e = |id: &str, ts: Option<&str>| entry(id, ts, "ERROR", SVC, DB);
    let mut a15 = e("a15", None);
    a15["receiveTimestamp"] = json!("2025-09-14T04:59:59Z");
    let mut a01 = text_entry("a01", Some("2025-09-14T05:00:00Z"), "WARNING", SVC, DB);
    // receiveTimestamp only stands in when timestamp is missing.
    a01["receiveTimestamp"] = json!("2025-09-14T05:20:00Z");
    vec![
        entry("b01", Some("2025-09-14T05:30:00Z"), "ERROR", SVC, REDIS),
        e("a06", Some("2025-09-14T05:01:00Z")),
        a01,
        e("a05", Some("2025-09-14T05:00:00.500Z")),
        a15,
        e("a02", Some("2025-09-14T04:55:01Z")),
        e("a04", Some("2025-09-14T04:55:00.999999Z")),
        e("a03", Some("2025-09-14T04:55:00Z")),
        e("a08", None),
        e("a09", Some("2025-09-14T04:00:01Z")),
        e("a10", Some("2025-09-14T04:00:00Z")),
        e("a11", Some("2025-09-14T01:00:01+02:00")),
        text_entry("a12", Some("2025-09-13T23:00:00Z"), "ERROR", SVC, DB),
        e("a13", Some("2025-09-13T05:00:01Z")),
        e("a14", Some("2025-09-13T05:00:00Z")),
        e("a07", Some("2025-09-12T05:00:00Z")),
    ]
}

#[test]
fn window_counts_match_hand_computed_answer() {
    // T = 2025-09-14T05:00:00Z. An entry counts in window W when its second is in (T−W, T].
    //
    //  id   event time (UTC)               second vs T   5m 1h 6h 24h
    //  a01  05:00:00                       T              x  x  x  x
    //  a05  05:00:00.5                     T (truncated)  x  x  x  x
    //  a15  04:59:59 (receiveTimestamp)    T−1            x  x  x  x
    //  a02  04:55:01                       T−299          x  x  x  x
    //  a03  04:55:00                       T−300             x  x  x
    //  a04  04:55:00.999999                T−300             x  x  x
    //  a09  04:00:01                       T−3599            x  x  x
    //  a10  04:00:00                       T−3600               x  x
    //  a11  01:00:01+02:00 = 23:00:01      T−21599              x  x
    //  a12  23:00:00 (day before)          T−21600                 x
    //  a13  05:00:01 (day before)          T−86399                 x
    //  a14  05:00:00 (day before)          T−86400
    //  a07  2 days before                  T−172800
    //  a06  05:01:00                       after T
    //  a08  no timestamp                   totals only
    let dir = tempdir();
    let d = dir.path();
    let input = write(d, "windows.ndjson", ndjson(&window_entries()));

    let (report, _, _) = run_ok(d, "now", &input, &["--now", "2025-09-14T05:00:00Z"]);
    assert_eq!(report["reference_time"], "2025-09-14T05:00:00.000000Z");
    assert_eq!(report["windows"], json!(["5m", "1h", "6h", "24h"]));
    let t = &report["totals"];
    assert_eq!(num(t, "entries_processed"), 16);
    assert_eq!(num(t, "without_timestamp"), 1);
    assert_eq!(num(t, "clusters"), 2);
    assert_eq!(clusters(&report).len(), 2);
    assert_eq!(
        report["time_range"],
        json!({"first": "2025-09-12T05:00:00.000000Z", "last": "2025-09-14T05:30:00.000000Z"})
    );

    let db = find_cluster(&report, SVC, "Database connection pool exhausted");
    assert_eq!(num(db, "count"), 15);
    assert_eq!(db["windows"], json!({"5m": 4, "1h": 7, "6h": 9, "24h": 11}));
    assert_eq!(db["first_seen"], "2025-09-12T05:00:00.000000Z");
    assert_eq!(db["last_seen"], "2025-09-14T05:01:00.000000Z");
    assert_eq!(db["severities"], json!({"ERROR": 14, "WARNING": 1}));
    assert_eq!(db["max_severity"], "ERROR");
    let redis = find_cluster(&report, SVC, "Redis cache unavailable");
    assert_eq!(num(redis, "count"), 1);
    assert_eq!(
        redis["windows"],
        json!({"5m": 0, "1h": 0, "6h": 0, "24h": 0})
    );

    // The reference is truncated to the second too: T + 0.999s gives the same counts.
    let (report, _, _) = run_ok(
        d,
        "now-frac",
        &input,
        &["--now", "2025-09-14T05:00:00.999Z"],
    );
    assert_eq!(report["reference_time"], "2025-09-14T05:00:00.999000Z");
    let db = find_cluster(&report, SVC, "Database connection pool exhausted");
    assert_eq!(db["windows"], json!({"5m": 4, "1h": 7, "6h": 9, "24h": 11}));

    // Without --now the windows count back from the newest entry of the whole input, b01 at
    // T+30m = R:
    //   5m  (R−300, R]:   none
    //   1h  (R−3600, R]:  a01 a05 a15 a02 a03 a04 a06            = 7
    //   6h  (R−21600, R]: + a09 a10                              = 9
    //   24h (R−86400, R]: + a11 a12                              = 11
    let (report, _, _) = run_ok(d, "newest", &input, &[]);
    assert_eq!(report["reference_time"], "2025-09-14T05:30:00.000000Z");
    let db = find_cluster(&report, SVC, "Database connection pool exhausted");
    assert_eq!(num(db, "count"), 15);
    assert_eq!(db["windows"], json!({"5m": 0, "1h": 7, "6h": 9, "24h": 11}));
    assert_eq!(db["first_seen"], "2025-09-12T05:00:00.000000Z");
    assert_eq!(db["last_seen"], "2025-09-14T05:01:00.000000Z");
    let redis = find_cluster(&report, SVC, "Redis cache unavailable");
    assert_eq!(
        redis["windows"],
        json!({"5m": 1, "1h": 1, "6h": 1, "24h": 1})
    );
}

// -------------------------------------------------------------------------------------------
// 4. Messages that differ only in variables form one cluster; different problems do not.
// -------------------------------------------------------------------------------------------

const WS_1: &str = "[?] Rejecting WebSocket connection (Issue #449 protection) - State: unknown, Failed services: [], Error: service_not_ready, Path: /websocket";
const WS_2: &str = "[?] Rejecting WebSocket connection (Issue #449 protection) - State: unknown, Failed services: [], Error: service_not_ready, Path: /ws/health";
const WS_3: &str = "[?] Rejecting WebSocket connection (Issue #449 protection) - State: initializing, Failed services: [], Error: service_not_ready, Path: /ws";
const WS_4: &str = "[?] Rejecting WebSocket connection (Issue #449 protection) - State: degraded, Failed services: ['redis', 'clickhouse'], Error: service_not_ready, Path: /websocket";
const GOLDEN_1: &str = "GOLDEN PATH AUTH=REDACTED permissive authentication with circuit breaker for connection main_742cb007 - user_id: pending, connection_state: connected, timestamp: 2025-09-14T04:53:34.983351+00:00";
const GOLDEN_2: &str = "GOLDEN PATH AUTH=REDACTED permissive authentication with circuit breaker for connection main_1f9e0a3c - user_id: pending, connection_state: connected, timestamp: 2025-09-14T04:53:40.120004+00:00";
const GOLDEN_3: &str = "GOLDEN PATH AUTH=REDACTED permissive authentication with circuit breaker for connection main_00c4d2b9 - user_id: 7c1e2f90, connection_state: connecting, timestamp: 2025-09-14T04:54:02.5+00:00";
const AUTH: &str = "netra-auth-service";

fn ssot(user: &str) -> String {
    format!(
        "SSOT validation issues (non-blocking): ['Multiple manager instances for user {user} - potential duplication']"
    )
}

#[test]
fn messages_differing_only_in_variables_cluster_together() {
    let dir = tempdir();
    let d = dir.path();
    let at = |i: u32| {
        format!(
            "2025-09-14T04:{:02}:{:02}.{:06}Z",
            59 - i,
            59 - i * 3,
            i * 1111
        )
    };
    let entries = vec![
        entry("e01", Some(&at(0)), "WARNING", SVC, WS_1),
        entry("e02", Some(&at(1)), "WARNING", SVC, &ssot("demo-user-001")),
        entry("e03", Some(&at(2)), "INFO", SVC, GOLDEN_1),
        entry(
            "e04",
            Some(&at(3)),
            "ERROR",
            SVC,
            "Failed to connect to Redis at 10.0.0.3:6379",
        ),
        entry("e05", Some(&at(4)), "WARNING", SVC, WS_2),
        entry("e06", Some(&at(5)), "WARNING", SVC, &ssot("demo-user-002")),
        entry("e07", Some(&at(6)), "INFO", AUTH, GOLDEN_1),
        entry("e08", Some(&at(7)), "INFO", SVC, GOLDEN_2),
        entry(
            "e09",
            Some(&at(8)),
            "ERROR",
            SVC,
            "Failed to connect to Postgres at 10.0.0.4:5432",
        ),
        entry("e10", Some(&at(9)), "WARNING", SVC, WS_3),
        entry("e11", Some(&at(10)), "WARNING", SVC, &ssot("demo-user-117")),
        entry("e12", Some(&at(11)), "INFO", SVC, GOLDEN_3),
        entry(
            "e13",
            Some(&at(12)),
            "ERROR",
            SVC,
            "Failed to connect to Redis at 10.0.0.7:6379",
        ),
        entry("e14", Some(&at(13)), "WARNING", SVC, WS_4),
    ];
    let input = write(d, "seed.json", pretty_array(&entries));
    assert!(
        std::fs::read_to_string(&input)
            .unwrap()
            .starts_with("[\n  {\n    \"")
    );

    let (report, _, lines) = run_ok(d, "seed", &input, &[]);
    let summary: Vec<(String, String, u64)> = clusters(&report)
        .iter()
        .map(|c| {
            (
                text(c, "service").to_string(),
                text(c, "template").to_string(),
                num(c, "count"),
            )
        })
        .collect();
    assert_eq!(num(&report["totals"], "entries_processed"), 14);
    assert_eq!(clusters(&report).len(), 6, "clusters: {summary:#?}");
    assert_eq!(num(&report["totals"], "clusters"), 6);

    let ws = find_cluster(&report, SVC, "Rejecting WebSocket connection");
    assert_eq!(num(ws, "count"), 4, "{summary:#?}");
    let ssot_c = find_cluster(&report, SVC, "SSOT validation issues");
    assert_eq!(num(ssot_c, "count"), 3, "{summary:#?}");
    let golden = find_cluster(&report, SVC, "GOLDEN PATH");
    assert_eq!(num(golden, "count"), 3, "{summary:#?}");
    // The same message from another service is another cluster.
    let golden_auth = find_cluster(&report, AUTH, "GOLDEN PATH");
    assert_eq!(num(golden_auth, "count"), 1);
    assert_eq!(golden_auth["template"], golden["template"]);
    assert_ne!(golden_auth["id"], golden["id"]);
    // Two different problems stay apart.
    assert_eq!(num(find_cluster(&report, SVC, "Redis"), "count"), 2);
    assert_eq!(num(find_cluster(&report, SVC, "Postgres"), "count"), 1);

    // The variables are masked out of the templates.
    for (c, gone) in [
        (
            ws,
            &[
                "/websocket",
                "/ws/health",
                "unknown",
                "initializing",
                "redis",
            ][..],
        ),
        (ssot_c, &["demo-user-001", "demo-user-117"][..]),
        (golden, &["main_742cb007", "04:53:34", "pending"][..]),
    ] {
        for g in gone {
            assert!(
                !text(c, "template").contains(g),
                "template {:?} still contains {g:?}",
                c["template"]
            );
        }
    }

    // Every entry carries its cluster's id in the entries file.
    let fp: BTreeMap<&str, &str> = lines
        .iter()
        .map(|l| (text(l, "insertId"), text(l, "fingerprint")))
        .collect();
    for (ids, c) in [
        (&["e01", "e05", "e10", "e14"][..], ws),
        (&["e02", "e06", "e11"][..], ssot_c),
        (&["e03", "e08", "e12"][..], golden),
        (&["e07"][..], golden_auth),
    ] {
        for id in ids {
            assert_eq!(fp[id], text(c, "id"), "entry {id}");
        }
    }

    // `gardener fingerprint` gives the same id and template as the run.
    let out = gardener_stdin(
        &["fingerprint", "--service", SVC],
        format!("{WS_1}\n{WS_2}\n{WS_3}\n{WS_4}\n").as_bytes(),
    );
    out.expect_code(0);
    let want = format!("{}\t{}", text(ws, "id"), text(ws, "template"));
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        vec![want.as_str(); 4]
    );
}

// -------------------------------------------------------------------------------------------
// 5. The markdown worklog.
// -------------------------------------------------------------------------------------------

fn short_time(rfc: &str) -> String {
    format!("{} {} UTC", &rfc[..10], &rfc[11..19])
}

fn without_generated_line(md: &str) -> String {
    md.lines()
        .filter(|l| !l.starts_with("**Generated:**"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn report_has_the_worklog_sections_and_goes_to_stdout_by_default() {
    let dir = tempdir();
    let d = dir.path();
    let input = generate(d, "small.json", 200, 5, "array", "6h");
    let (report, md, _) = run_ok(d, "file", &input, &[]);

    let n = clusters(&report).len();
    assert!(n > 0);
    assert_eq!(md.lines().next(), Some("# GCP Log Gardener Worklog"));
    let pos = |needle: &str| {
        md.find(needle)
            .unwrap_or_else(|| panic!("report lacks {needle:?}:\n{md}"))
    };
    let services_line = md
        .lines()
        .find(|l| l.starts_with("**Services Analyzed:** "))
        .unwrap_or_else(|| panic!("no services line:\n{md}"));
    let services = report["services"].as_object().expect("services");
    assert!(!services.is_empty());
    for (name, count) in services {
        assert!(
            services_line.contains(&format!("{name} ({count})")),
            "{services_line:?} lacks {name} ({count})"
        );
    }
    let tr = &report["time_range"];
    let time_line = format!(
        "**Time Range:** {} → {}  ",
        short_time(text(tr, "first")),
        short_time(text(tr, "last"))
    );
    let problems = report["problems"].as_array().expect("problems").len();
    let entries_line = format!(
        "**Entries:** 200 read, 200 processed, 0 skipped — {n} clusters in {problems} problems  "
    );
    let order = [
        pos("# GCP Log Gardener Worklog"),
        pos(services_line),
        pos(&time_line),
        pos(&entries_line),
        pos("\n## Executive Summary\n"),
        pos(&format!("\n{problems} problems in {n} clusters: ")),
        pos("\n## Summary by Priority\n"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "sections out of order {order:?}:\n{md}"
    );
    // The priority table agrees with the JSON report's problems; every cluster is in exactly
    // one problem.
    let mut by_p: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut members = Vec::new();
    for p in report["problems"].as_array().unwrap() {
        let e = by_p.entry(text(p, "priority").to_string()).or_default();
        let ids = p["clusters"].as_array().unwrap();
        e.0 += 1;
        e.1 += ids.len() as u64;
        e.2 += num(p, "count");
        for id in ids {
            members.push(id.as_str().unwrap().to_string());
            let c = clusters(&report).iter().find(|c| c["id"] == *id).unwrap();
            assert_eq!(c["problem"], p["id"]);
        }
    }
    members.sort();
    let mut all: Vec<String> = clusters(&report)
        .iter()
        .map(|c| text(c, "id").to_string())
        .collect();
    all.sort();
    assert_eq!(members, all, "each cluster in exactly one problem");
    let table = &md[pos("\n## Summary by Priority\n")..];
    for (p, (k, n, count)) in &by_p {
        let row = format!("| {p} | {k} | {n} | {count} |");
        assert!(table.contains(&row), "table lacks {row:?}:\n{table}");
    }
    assert_eq!(by_p.values().map(|v| v.2).sum::<u64>(), 200);

    // No --report: the worklog goes to stdout, the same text; nothing of it on stderr.
    let json2 = d.join("stdout.report.json");
    let out = gardener(&["run", s(&input), "--json", s(&json2)]);
    out.expect_code(0);
    assert!(out.stdout.starts_with("# GCP Log Gardener Worklog\n"));
    assert_eq!(
        without_generated_line(&out.stdout),
        without_generated_line(&md)
    );
    for l in [
        "GCP Log Gardener Worklog",
        "Executive Summary",
        "Summary by Priority",
        "**Time Range:**",
    ] {
        assert!(
            !out.stderr.contains(l),
            "stderr carries {l:?}: {}",
            out.stderr
        );
    }
    // `--report -` is standard output too.
    let out = gardener(&["run", s(&input), "--report", "-"]);
    out.expect_code(0);
    assert_eq!(
        without_generated_line(&out.stdout),
        without_generated_line(&md)
    );
}

// -------------------------------------------------------------------------------------------
// 6. Bad input is counted, reported and kept, never fatal.
// -------------------------------------------------------------------------------------------

#[test]
fn bad_entries_are_skipped_counted_and_dead_lettered() {
    let dir = tempdir();
    let d = dir.path();
    let good = text_entry("good-1", Some("2025-09-14T04:00:00Z"), "ERROR", SVC, DB).to_string();
    let lines = [
        good.as_str(),
        "this is not json",
        "[1]",
        r#"{"severity":"ERROR"}"#,
    ];
    let content: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let offsets: Vec<u64> = lines
        .iter()
        .scan(0u64, |at, l| {
            let o = *at;
            *at += l.len() as u64 + 1;
            Some(o)
        })
        .collect();
    let input = write(d, "bad.ndjson", &content);
    let dl = d.join("dl.ndjson");

    let (report, md, entries) = run_ok(d, "bad", &input, &["--dead-letter", s(&dl)]);
    let t = &report["totals"];
    assert_eq!(num(t, "entries_read"), 4);
    assert_eq!(num(t, "entries_processed"), 1);
    assert_eq!(num(t, "entries_skipped"), 3);
    assert_eq!(num(t, "clusters"), 1);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["insertId"], "good-1");

    let dead = read_ndjson(&dl);
    assert_eq!(dead.len(), 3, "{dead:#?}");
    for (i, dl_line) in dead.iter().enumerate() {
        let k = i + 1;
        assert_eq!(num(dl_line, "entry"), k as u64 + 1, "{dl_line}");
        assert_eq!(num(dl_line, "offset"), offsets[k], "{dl_line}");
        assert_eq!(dl_line["raw"], lines[k], "{dl_line}");
        assert_eq!(dl_line["input"], s(&input));
        assert!(!text(dl_line, "reason").is_empty(), "{dl_line}");
    }
    assert!(
        text(&dead[2], "reason").contains("no message"),
        "{}",
        dead[2]
    );
    let bad = report["bad_entries"].as_array().expect("bad_entries");
    assert_eq!(
        bad.iter()
            .map(|b| (num(b, "entry"), num(b, "offset")))
            .collect::<Vec<_>>(),
        vec![(2, offsets[1]), (3, offsets[2]), (4, offsets[3])]
    );
    assert!(md.contains("### Input problems"), "{md}");
    assert!(md.contains("**Entries:** 4 read, 1 processed, 3 skipped — 1 clusters"));

    // --strict turns skipped entries into exit code 4 (the reports are still written).
    let json = d.join("strict.json");
    let out = gardener(&[
        "run",
        s(&input),
        "--strict",
        "--report",
        "-",
        "--json",
        s(&json),
    ]);
    out.expect_code(4);
    assert!(out.stderr.contains("3 entries skipped"), "{}", out.stderr);
    assert!(out.stdout.starts_with("# GCP Log Gardener Worklog"));
    assert_eq!(num(&read_json(&json)["totals"], "entries_skipped"), 3);
    // ... and nothing else does.
    let clean = write(d, "good.ndjson", format!("{good}\n"));
    gardener(&["run", s(&clean), "--strict", "--report", "-"]).expect_code(0);
}

#[test]

fn bad_entry_numbers_count_within_each_input() {
    // Record::entry_no is documented as the "1-based position of the entry in its input", and
    // the dead letter pairs it with the input's name and the byte offset in that input.
    let dir = tempdir();
    let d = dir.path();
    let good =
        |id: &str| text_entry(id, Some("2025-09-14T04:00:00Z"), "ERROR", SVC, DB).to_string();
    let f1 = write(d, "f1.ndjson", format!("{}\nnot json\n", good("x1")));
    let f2 = write(d, "f2.ndjson", format!("{}\n[2]\n", good("y1")));
    let dl = d.join("dl.ndjson");
    let json_path = d.join("report.json");
    gardener(&[
        "run",
        s(&f1),
        s(&f2),
        "--dead-letter",
        s(&dl),
        "--json",
        s(&json_path),
        "--report",
        "-",
    ])
    .expect_code(0);
    let offset = good("x1").len() as u64 + 1;
    let want = vec![
        (s(&f1).to_string(), 2, offset),
        (s(&f2).to_string(), 2, offset),
    ];
    let got = |items: &[Value]| -> Vec<(String, u64, u64)> {
        items
            .iter()
            .map(|b| {
                (
                    text(b, "input").to_string(),
                    num(b, "entry"),
                    num(b, "offset"),
                )
            })
            .collect()
    };
    assert_eq!(got(&read_ndjson(&dl)), want, "dead letter");
    let report = read_json(&json_path);
    assert_eq!(
        got(report["bad_entries"].as_array().unwrap()),
        want,
        "bad_entries"
    );
}

#[test]
fn truncated_array_keeps_complete_entries_and_notes_the_cut() {
    let dir = tempdir();
    let d = dir.path();
    let entries = vec![
        entry("t1", Some("2025-09-14T04:00:02Z"), "ERROR", SVC, DB),
        entry("t2", Some("2025-09-14T04:00:01Z"), "ERROR", SVC, DB),
        entry("t3", Some("2025-09-14T04:00:00Z"), "ERROR", SVC, REDIS),
    ];
    let full = pretty_array(&entries);
    let third = full.find("\"insertId\": \"t3\"").expect("third entry");
    // Cut inside the third entry, in the middle of a string.
    let cut = write(d, "cut.json", &full[..third + 30]);
    let (report, md, lines) = run_ok(d, "cut", &cut, &[]);
    let t = &report["totals"];
    assert_eq!(num(t, "entries_processed"), 2);
    assert_eq!(num(t, "entries_read"), 3);
    assert_eq!(num(t, "entries_skipped"), 1);
    assert_eq!(clusters(&report).len(), 1);
    assert_eq!(num(&clusters(&report)[0], "count"), 2);
    assert_eq!(
        lines
            .iter()
            .map(|l| text(l, "insertId"))
            .collect::<Vec<_>>(),
        ["t1", "t2"]
    );
    let notes = report["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].as_str().unwrap().contains("cut off"), "{notes:?}");
    assert!(md.contains("### Input problems"), "{md}");
    assert!(md.contains("cut off"), "{md}");

    // Cut between entries: the array is just not closed.
    let second_end = full.find("\"insertId\": \"t3\"").unwrap();
    let brace = full[..second_end].rfind('{').unwrap();
    let open = write(d, "open.json", &full[..brace]);
    let (report, _, _) = run_ok(d, "open", &open, &[]);
    let t = &report["totals"];
    assert_eq!(num(t, "entries_read"), 2);
    assert_eq!(num(t, "entries_processed"), 2);
    assert_eq!(num(t, "entries_skipped"), 0);
    let notes = report["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].as_str().unwrap().contains("not closed"),
        "{notes:?}"
    );
}

#[test]
fn empty_inputs_give_empty_reports() {
    let dir = tempdir();
    let d = dir.path();
    for (tag, content) in [
        ("empty", ""),
        ("brackets", "[]"),
        ("pretty", "[\n]\n"),
        ("blank", " \n\n"),
    ] {
        let input = write(d, &format!("{tag}.json"), content);
        let (report, md, lines) = run_ok(d, tag, &input, &["--strict"]);
        assert_eq!(clusters(&report).len(), 0, "{tag}");
        let t = &report["totals"];
        assert_eq!(num(t, "entries_read"), 0, "{tag}");
        assert_eq!(num(t, "clusters"), 0, "{tag}");
        assert_eq!(report["notes"], json!([]), "{tag}");
        assert_eq!(report["time_range"], Value::Null, "{tag}");
        assert!(lines.is_empty(), "{tag}");
        assert!(md.contains("No log entries to analyse."), "{tag}: {md}");
    }
    // Empty standard input.
    let json_path = d.join("stdin.json");
    let out = gardener_stdin(&["run", "--json", s(&json_path)], b"");
    out.expect_code(0);
    assert!(out.stdout.starts_with("# GCP Log Gardener Worklog"));
    assert_eq!(clusters(&read_json(&json_path)).len(), 0);
}

// -------------------------------------------------------------------------------------------
// 7. gardener validate
// -------------------------------------------------------------------------------------------

#[test]
fn validate_accepts_the_repo_config_and_names_a_misspelled_key() {
    let out = gardener(&[
        "validate",
        "--config",
        concat!(env!("CARGO_MANIFEST_DIR"), "/pipeline.yaml"),
    ]);
    out.expect_code(0);
    assert!(out.stdout.starts_with("ok: "), "{}", out.stdout);

    let dir = tempdir();
    let bad = write(dir.path(), "bad.yaml", "pipeline:\n  batch_sise: 10\n");
    let out = gardener(&["validate", "--config", s(&bad)]);
    out.expect_code(2);
    // Once, at FILE:LINE:COLUMN (not serde-saphyr's `<input>`), with the line it points at.
    assert!(
        out.stderr
            .contains("bad.yaml:2:3: unknown field `batch_sise`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("unknown field").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("<input>"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    // A number out of range, in words.
    let neg = write(dir.path(), "neg.yaml", "pipeline:\n  batch_size: -5\n");
    let out = gardener(&["validate", "--config", s(&neg)]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("neg.yaml:2:15: expected a whole number, 0 or more"),
        "{}",
        out.stderr
    );
    // `run` refuses it the same way, before reading any input.
    let input = write(dir.path(), "in.ndjson", "");
    let out = gardener(&["run", "--config", s(&bad), s(&input)]);
    out.expect_code(2);
    assert!(out.stderr.contains("batch_sise"), "{}", out.stderr);
}

/// An output that is an input (by another name, or through a symbolic link) is refused with
/// exit 2 before anything is read, and the input is untouched; so are two outputs in one file.
#[test]
fn an_output_that_is_an_input_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    let logs = write(
        d,
        "logs.json",
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/netra-staging.json"
        ))
        .unwrap(),
    );
    let before = std::fs::read(&logs).unwrap();
    std::os::unix::fs::symlink(&logs, d.join("alias.json")).unwrap();
    let alias = d.join("alias.json");
    let dotted = format!("{}/./logs.json", s(d));
    for (flag, target) in [
        ("--report", s(&logs)),
        ("--json", s(&alias)),
        ("--dead-letter", dotted.as_str()),
    ] {
        let out = gardener(&["run", "--state", "none", s(&logs), flag, target]);
        out.expect_code(2);
        assert!(
            out.stderr.contains("would destroy the logs"),
            "{flag}: {}",
            out.stderr
        );
        assert_eq!(
            std::fs::read(&logs).unwrap(),
            before,
            "{flag}: the input changed"
        );
    }
    let twice = d.join("out.md");
    let out = gardener(&[
        "run",
        "--state",
        "none",
        s(&logs),
        "--report",
        s(&twice),
        "--json",
        s(&twice),
    ]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("each output needs a file of its own"),
        "{}",
        out.stderr
    );
    // merge too: a part is an input.
    let out = gardener(&["merge", s(&logs), "--report", s(&alias)]);
    out.expect_code(2);
    assert!(out.stderr.contains("would destroy"), "{}", out.stderr);
}

/// Silent wrong results now say so, with the fix: a report given to `run`, a format that
/// skips everything, `--now` outside the data, a flag with no effect, a source kind overridden
/// by files; the same part merged twice is refused.
#[test]
fn probable_mistakes_are_warned_about_with_the_fix() {
    let dir = tempdir();
    let d = dir.path();
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/netra-staging.json");
    let rep = d.join("rep.json");
    gardener(&[
        "run",
        "--state",
        "none",
        ex,
        "--json",
        s(&rep),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![s(&rep)], "is a gardener JSON report, not log entries"),
        (vec!["--format", "ndjson", ex], "is the input a JSON array?"),
        (
            vec!["--now", "2030-01-01T00:00:00Z", ex],
            "--now is outside the entries' time range",
        ),
        (
            vec!["--github-api", "http://127.0.0.1:9", ex],
            "--github-api has no effect",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["run", "--state", "none", "--report", "/dev/null"];
        args.extend(extra);
        let out = gardener(&args);
        assert!(out.stderr.contains(want), "{want}: {}", out.stderr);
    }
    let gcloud = write(d, "gcloud.yaml", "source:\n  kind: gcloud\n");
    let out = gardener(&[
        "run",
        "--state",
        "none",
        "--report",
        "/dev/null",
        "--config",
        s(&gcloud),
        ex,
    ]);
    assert!(out.stderr.contains("gcloud is not run"), "{}", out.stderr);
    let out = gardener(&["merge", s(&rep), s(&rep), "--report", "/dev/null"]);
    out.expect_code(2);
    assert!(out.stderr.contains("same part"), "{}", out.stderr);
    // "1 entry", not "1 entries".
    let one = write(d, "one.json", "[{\"severity\": \"ERROR\"}]");
    let out = gardener(&["run", "--state", "none", "--report", "/dev/null", s(&one)]);
    assert!(out.stderr.contains("1 entry skipped"), "{}", out.stderr);
}

/// Redaction must not change fingerprints: a template holding a secret is redacted in the
/// report, and its cluster keeps the id `gardener fingerprint` gives the raw message.
#[test]
fn a_redacted_template_keeps_its_fingerprint() {
    let dir = tempdir();
    let d = dir.path();
    let messages = [
        "upstream refused Authorization: Basic YWRtaW46bGV0bWVpbg== from proxy",
        "rejected pass=sunshine for user bob",
    ];
    let fp = gardener_stdin(&["fingerprint"], (messages.join("\n") + "\n").as_bytes());
    fp.expect_code(0);
    let entries: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"insertId": format!("e{i}"), "severity": "ERROR", "timestamp": "2025-09-14T00:00:00Z", "textPayload": m}))
        .collect();
    let input = write(
        d,
        "in.json",
        serde_json::to_string_pretty(&entries).unwrap(),
    );
    let json_path = d.join("out.json");
    gardener(&[
        "run",
        "--state",
        "none",
        s(&input),
        "--json",
        s(&json_path),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    let report = read_json(&json_path);
    let text = report.to_string();
    assert!(
        !text.contains("YWRtaW46bGV0bWVpbg") && !text.contains("sunshine"),
        "redacted"
    );
    let ids: Vec<&str> = report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for line in fp.stdout.lines() {
        let id = line.split('\t').next().unwrap();
        assert!(ids.contains(&id), "{id} not among {ids:?}");
    }
}

/// GitHub's limits: a label of 62 characters, a label with a comma (the listing by label
/// would split it) and a priority prefix too long for `P0` after it are refused, each named.
#[test]
fn validate_refuses_labels_github_would_refuse() {
    let dir = tempdir();
    let long = "x".repeat(62);
    let yaml = format!(
        "sinks:\n  github:\n    label: {long}\n    priority_label_prefix: '{}'\nprioritize:\n  rules:\n    - name: all\n      priority: P3\n      labels: ['team:a,b']\n",
        "p".repeat(49)
    );
    let bad = write(dir.path(), "labels.yaml", yaml);
    let out = gardener(&["validate", "--config", s(&bad)]);
    out.expect_code(2);
    for part in [
        "sinks.github.label",
        "62 characters long; GitHub allows at most 50",
        "priority_label_prefix",
        "holds a comma",
        "prioritize.rules[0] 'all'",
    ] {
        assert!(out.stderr.contains(part), "{part}: {}", out.stderr);
    }
}

// -------------------------------------------------------------------------------------------
// 8. source.kind: gcloud
// -------------------------------------------------------------------------------------------

/// Installs an executable script. It is written to a side file and copied into place by `cp`,
/// so this (multi-threaded) test process never holds a write handle on the script itself: a
/// handle inherited by a child another test is spawning would make exec fail with ETXTBSY.
fn install_script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let src = write(dir, &format!("{name}.src"), body);
    let dst = dir.join(name);
    let st = std::process::Command::new("cp")
        .arg(&src)
        .arg(&dst)
        .status()
        .expect("run cp");
    assert!(st.success());
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dst
}

fn gcloud_config(dir: &Path, binary: &Path) -> std::path::PathBuf {
    write(
        dir,
        "gcloud.yaml",
        format!(
            "source:\n  kind: gcloud\n  gcloud:\n    binary: '{}'\n    project: P\n    filter: 'severity>=ERROR AND resource.type=\"cloud_run_revision\"'\n    freshness: 2d\n    limit: 10\n",
            s(binary)
        ),
    )
}

#[test]
fn gcloud_source_runs_the_cli_with_the_configured_arguments() {
    let dir = tempdir();
    let d = dir.path();
    let entries = vec![
        entry("g1", Some("2025-09-14T04:00:02Z"), "ERROR", SVC, DB),
        entry("g2", Some("2025-09-14T04:00:01Z"), "ERROR", AUTH, REDIS),
        entry("g3", Some("2025-09-14T04:00:00Z"), "ERROR", SVC, DB),
    ];
    let args_file = d.join("args.txt");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\ncat <<'JSON'\n{}JSON\n",
        s(&args_file),
        pretty_array(&entries)
    );
    let fake = install_script(d, "gcloud", &script);
    let cfg = gcloud_config(d, &fake);
    let json_path = d.join("report.json");
    let out = gardener(&["run", "--config", s(&cfg), "--json", s(&json_path)]);
    out.expect_code(0);
    assert!(out.stdout.starts_with("# GCP Log Gardener Worklog"));

    let args = std::fs::read_to_string(&args_file).expect("the fake gcloud ran");
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "logging",
            "read",
            "severity>=ERROR AND resource.type=\"cloud_run_revision\"",
            "--project=P",
            "--freshness=2d",
            "--limit=10",
            "--format=json",
        ]
    );
    let report = read_json(&json_path);
    assert_eq!(report["inputs"], json!(["gcloud logging read"]));
    assert_eq!(num(&report["totals"], "entries_processed"), 3);
    assert_eq!(clusters(&report).len(), 2);
    assert_eq!(
        num(find_cluster(&report, SVC, "Database connection"), "count"),
        2
    );
    assert_eq!(num(find_cluster(&report, AUTH, "Redis cache"), "count"), 1);
}

#[test]
fn gcloud_failure_and_missing_gcloud_exit_3() {
    let dir = tempdir();
    let d = dir.path();
    let msg = "ERROR: (gcloud.logging.read) You do not currently have an active account selected.";
    let fake = install_script(
        d,
        "gcloud",
        &format!("#!/bin/sh\necho '{msg}' >&2\nexit 1\n"),
    );
    let cfg = gcloud_config(d, &fake);
    let out = gardener(&["run", "--config", s(&cfg)]);
    out.expect_code(3);
    assert!(out.stderr.contains(msg), "{}", out.stderr);

    let missing = d.join("no-such-dir").join("gcloud");
    let cfg = gcloud_config(d, &missing);
    let out = gardener(&["run", "--config", s(&cfg)]);
    out.expect_code(3);
    assert!(out.stderr.contains("Google Cloud CLI"), "{}", out.stderr);
}

#[test]

fn gcloud_stderr_chatter_does_not_block_the_run() {
    // gcloud prints warnings and progress on stderr; 2,000 lines (~140 KB) fill the pipe.
    let dir = tempdir();
    let d = dir.path();
    let script = "#!/bin/sh\ni=0\nwhile [ $i -lt 2000 ]; do\n  echo \"WARNING: gcloud progress line $i, padding padding padding padding\" >&2\n  i=$((i+1))\ndone\necho '[{\"insertId\": \"g1\", \"textPayload\": \"hello\"}]'\n";
    let fake = install_script(d, "gcloud", script);
    let cfg = gcloud_config(d, &fake);
    let json_path = d.join("report.json");
    let out = gardener_limited(
        &["run", "--config", s(&cfg), "--json", s(&json_path)],
        b"",
        std::time::Duration::from_secs(20),
    );
    out.expect_code(0);
    assert_eq!(
        num(&read_json(&json_path)["totals"], "entries_processed"),
        1
    );
}

// -------------------------------------------------------------------------------------------
// 9. A missing input file.
// -------------------------------------------------------------------------------------------

#[test]
fn missing_input_file_exits_3_and_names_it() {
    let dir = tempdir();
    let missing = dir.path().join("not-there.json");
    let json_path = dir.path().join("report.json");
    let out: Out = gardener(&["run", s(&missing), "--json", s(&json_path)]);
    out.expect_code(3);
    assert!(out.stderr.contains(s(&missing)), "{}", out.stderr);
    assert!(!json_path.exists(), "no report for an unreadable input");
}

/// The template memory: a template generalized in one run keeps its id in a later run whose
/// entries alone would not generalize it, as long as the runs share a state store; without the
/// store the later run's id follows its own data.
#[test]
fn generalized_templates_keep_their_ids_in_later_runs_with_a_state_store() {
    let dir = tempdir();
    let d = dir.path();
    let svc = "netra-auth-service";
    let msg = |user: &str| format!("Session refresh rejected for user {user} by policy engine");
    let at = |i: usize| format!("2025-09-14T03:{:02}:00Z", 50 - i);
    let first: Vec<Value> = ["alice", "bob", "carol", "alice", "bob", "carol"]
        .iter()
        .enumerate()
        .map(|(i, u)| entry(&format!("a{i}"), Some(&at(i)), "ERROR", svc, &msg(u)))
        .collect();
    let later: Vec<Value> = (0..4)
        .map(|i| {
            entry(
                &format!("b{i}"),
                Some(&format!("2025-09-15T03:{:02}:00Z", 50 - i)),
                "ERROR",
                svc,
                &msg("dave"),
            )
        })
        .collect();
    let one = write(d, "one.json", pretty_array(&first));
    let two = write(d, "two.json", pretty_array(&later));
    let state = d.join("state");
    let st = ["--state", s(&state)];

    let (r1, _, _) = run_ok(d, "one", &one, &st);
    assert_eq!(clusters(&r1).len(), 1, "three users make one template");
    let general = &clusters(&r1)[0];
    assert_eq!(
        text(general, "template"),
        "Session refresh rejected for user <*> by policy engine"
    );
    let saved = std::fs::read_to_string(state.join("state.json")).expect("state file");
    assert!(
        saved.contains("Session refresh rejected for user <*> by policy engine"),
        "the state remembers the generalized template: {saved}"
    );

    // Alone, the later run sees one user: its template keeps the word, and its id differs.
    let (alone, _, alone_entries) = run_ok(d, "alone", &two, &["--state", "none"]);
    assert_eq!(clusters(&alone).len(), 1);
    let own = &clusters(&alone)[0];
    assert_eq!(
        text(own, "template"),
        "Session refresh rejected for user dave by policy engine"
    );
    assert_ne!(text(own, "id"), text(general, "id"));

    // With the store, it is filed under the remembered template and id, entries file included.
    let (r2, md2, entries2) = run_ok(d, "two", &two, &st);
    assert_eq!(clusters(&r2).len(), 1);
    let kept = &clusters(&r2)[0];
    assert_eq!(text(kept, "id"), text(general, "id"));
    assert_eq!(text(kept, "template"), text(general, "template"));
    assert_eq!(num(kept, "count"), 4);
    // The history follows the id: the cluster is known (back within the 24h regression gap).
    assert_eq!(kept["trend"]["status"], "ongoing", "{kept}");
    assert_eq!(kept["trend"]["history"]["total"], 10, "{kept}");
    assert!(md2.contains(text(general, "id")));
    assert_eq!(entries2.len(), alone_entries.len());
    for e in &entries2 {
        assert_eq!(e["fingerprint"], general["id"], "{e}");
    }
}

#[test]
fn a_worklog_written_to_a_file_is_summarized_on_stderr() {
    let dir = tempdir();
    let d = dir.path();
    let mut entries = Vec::new();
    for i in 0..30 {
        let ts = format!("2025-09-14T03:{:02}:00Z", i);
        entries.push(entry(
            &format!("a{i}"),
            Some(&ts),
            "ERROR",
            "billing",
            &format!("Payment {i} declined: card issuer unavailable"),
        ));
    }
    entries.push(entry(
        "w1",
        Some("2025-09-14T03:40:00Z"),
        "WARNING",
        "billing",
        "Cache miss ratio high",
    ));
    let input = write(d, "in.json", pretty_array(&entries));
    let (md, json, state) = (d.join("w.md"), d.join("r.json"), d.join("st"));
    let args = [
        "run",
        s(&input),
        "--report",
        s(&md),
        "--json",
        s(&json),
        "--state",
        s(&state),
    ];
    let out = gardener(&args);
    out.expect_code(0);
    let err = &out.stderr;
    assert!(err.lines().count() <= 40, "{err}");
    assert!(
        err.starts_with(&format!("Read 31 entries from {} in ", s(&input))),
        "{err}"
    );
    assert!(err.contains(": 2 problems in 2 clusters."), "{err}");
    let first = err.lines().nth(1).expect("a problem line");
    assert!(
        first.contains("Payment … declined: card issuer unavailable — 30 entries"),
        "{err}"
    );
    assert!(err.contains("First run with this state"), "{err}");
    let wrote = format!(
        "Wrote worklog {} · JSON report {} · state {}.",
        s(&md),
        s(&json),
        s(&state.join("state.json"))
    );
    assert!(err.contains(&wrote), "{err}");
    // Again: nothing changed, said so.
    let again = gardener(&args);
    assert!(
        again
            .stderr
            .contains("Since the last run: nothing new, escalating, regressed or resolved."),
        "{}",
        again.stderr
    );
    // --quiet: nothing; the worklog on standard output: no summary.
    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    assert_eq!(gardener(&quiet).stderr, "");
    let to_stdout = gardener(&["run", s(&input), "--state", "none"]);
    assert_eq!(to_stdout.stderr, "");
}

#[test]
fn a_misspelled_window_is_one_error_not_one_per_rule_that_names_it() {
    let dir = tempdir();
    let cfg = write(
        dir.path(),
        "w.yaml",
        "aggregate:\n  windows: [5m, 1x, 6h, 24h]\n",
    );
    let out = gardener(&["validate", "--config", s(&cfg)]);
    out.expect_code(2);
    assert_eq!(
        out.stderr,
        format!(
            "gardener: {}: 1 problem:\n  - aggregate.windows: '1x' is not a duration (use e.g. 90s, 5m, 1h, 2d)\n",
            s(&cfg)
        )
    );
    // A window left out on purpose is still checked against the rules that name it.
    let cfg = write(
        dir.path(),
        "w2.yaml",
        "aggregate:\n  windows: [5m, 6h, 24h]\n",
    );
    let out = gardener(&["validate", "--config", s(&cfg)]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("window '1h' is not one of aggregate.windows (5m, 6h, 24h)"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_help_teaches_with_examples_and_exit_codes_and_wraps_at_sentence_ends() {
    for cmd in ["run", "merge", "validate", "fingerprint", "gen"] {
        let out = gardener(&[cmd, "--help"]);
        out.expect_code(0);
        let help = &out.stdout;
        assert!(help.contains("\nEXIT CODES:\n"), "{cmd}: {help}");
        assert!(help.contains("\nEXAMPLES:\n"), "{cmd}: {help}");
        // Prose paragraphs (not indented) fill their lines: a short line followed by one that
        // goes on in lower case is a sentence broken in the source.
        let lines: Vec<&str> = help.lines().collect();
        for w in lines.windows(2) {
            let (a, b) = (w[0], w[1]);
            let prose = |l: &str| !l.starts_with(' ') && !l.is_empty();
            if prose(a) && prose(b) && b.starts_with(|c: char| c.is_lowercase()) {
                assert!(
                    a.len() >= 60,
                    "{cmd}: a line broken mid-sentence:\n{a}\n{b}"
                );
            }
        }
    }
}

/// A Cloud Run text entry as the platform writes it: no severity at all.
fn plain_text(id: &str, second: u32, text: &str) -> Value {
    let mut e = text_entry(
        id,
        Some(&format!("2025-09-14T03:00:{second:02}Z")),
        "DEFAULT",
        "api",
        text,
    );
    e.as_object_mut().expect("object").remove("severity");
    e
}

#[test]
fn text_logs_are_read_past_their_colors_and_logger_prefixes() {
    let dir = tempdir();
    let d = dir.path();
    let entries = vec![
        // One loguru statement, colored and plain: one cluster, level and location from the
        // prefix.
        plain_text(
            "c1",
            1,
            "\u{1b}[32m2025-08-25 16:20:09.772\u{1b}[0m | \u{1b}[31m\u{1b}[1mERROR   \u{1b}[0m | \u{1b}[36mapp.billing\u{1b}[0m:\u{1b}[36mcharge\u{1b}[0m:\u{1b}[36m88\u{1b}[0m - \u{1b}[31m\u{1b}[1mCharge 1042 failed: card declined\u{1b}[0m",
        ),
        plain_text(
            "c2",
            2,
            "2025-08-25 16:20:11.001 | ERROR    | app.billing:charge:88 - Charge 977 failed: card declined",
        ),
        // Distinct statements behind one gunicorn prefix: apart.
        plain_text(
            "g1",
            3,
            "[2025-09-16 00:41:17 +0000] [12] [INFO] Starting gunicorn 23.0.0",
        ),
        plain_text(
            "g2",
            4,
            "[2025-09-16 00:41:17 +0000] [12] [INFO] Using worker: uvicorn.workers.UvicornWorker",
        ),
        plain_text(
            "g3",
            5,
            "[2025-09-16 00:41:18 +0000] [13] [ERROR] Worker (pid:14) was sent SIGKILL! Perhaps out of memory?",
        ),
        // Access lines: 2xx and 5xx apart, each with the requests of its status.
        plain_text(
            "a1",
            6,
            "169.254.1.1:49880 - \"GET /health HTTP/1.1\" 200 OK",
        ),
        plain_text(
            "a2",
            7,
            "169.254.1.7:49912 - \"GET /health HTTP/1.1\" 200 OK",
        ),
        plain_text(
            "a3",
            8,
            "169.254.1.1:49990 - \"GET /health HTTP/1.1\" 503 Service Unavailable",
        ),
        // A level in the text when Cloud Logging has none; Cloud Logging's own wins.
        plain_text("w1", 9, "WARNING:root:disk almost full"),
        text_entry(
            "e1",
            Some("2025-09-14T03:00:10Z"),
            "INFO",
            "api",
            "ERROR: sent as INFO by its logger",
        ),
    ];
    let input = write(d, "text.json", pretty_array(&entries));
    let (report, _, lines) = run_ok(d, "text", &input, &["--state", "none"]);
    let id_of = |insert: &str| -> String {
        let l = lines
            .iter()
            .find(|l| l["insertId"] == insert)
            .unwrap_or_else(|| panic!("no entry {insert}"));
        text(l, "fingerprint").to_string()
    };
    let severity_of = |insert: &str| -> String {
        let l = lines.iter().find(|l| l["insertId"] == insert).unwrap();
        text(l, "severity").to_string()
    };
    assert_eq!(id_of("c1"), id_of("c2"), "colored and plain copies");
    let charge = find_cluster(&report, "api", "Charge");
    assert_eq!(text(charge, "template"), "Charge <*> failed: card declined");
    assert_eq!(text(charge, "max_severity"), "ERROR");
    assert_eq!(num(charge, "severity_from_text"), 2);
    assert_eq!(charge["locations"], json!({"app.billing:charge:88": 2}));
    let gunicorn: std::collections::BTreeSet<String> =
        ["g1", "g2", "g3"].iter().map(|i| id_of(i)).collect();
    assert_eq!(gunicorn.len(), 3, "three statements behind one prefix");
    assert_eq!(severity_of("g3"), "ERROR");
    assert_eq!(severity_of("g1"), "INFO");
    assert_eq!(id_of("a1"), id_of("a2"));
    assert_ne!(id_of("a1"), id_of("a3"), "2xx and 5xx access lines differ");
    let failing = find_cluster(&report, "api", "HTTP GET /health 503");
    assert_eq!(
        failing["http"]["statuses"],
        json!({"503": 1}),
        "{failing:#}"
    );
    assert_eq!(severity_of("a3"), "ERROR");
    assert_eq!(severity_of("w1"), "WARNING");
    assert_eq!(
        lines.iter().find(|l| l["insertId"] == "w1").unwrap()["severity_from_text"],
        true
    );
    // `gardener fingerprint` reads a line as the run reads a text payload.
    let fp = gardener_stdin(
        &["fingerprint", "--service", "api"],
        b"2025-08-25 16:20:11.001 | ERROR    | app.billing:charge:88 - Charge 977 failed: card declined\n",
    );
    fp.expect_code(0);
    assert_eq!(
        fp.stdout.split('\t').next(),
        Some(id_of("c2").as_str()),
        "{}",
        fp.stdout
    );
    assert_eq!(severity_of("e1"), "INFO", "Cloud Logging's severity wins");
    assert!(
        lines
            .iter()
            .find(|l| l["insertId"] == "e1")
            .unwrap()
            .get("severity_from_text")
            .is_none()
    );
}

/// `--stats` prints the stage table and, at the end, where the run's time went: reading, then
/// every step of the end of the run, each with its milliseconds.
#[test]
fn stats_print_the_stages_and_the_time_of_each_step() {
    let dir = tempdir();
    let d = dir.path();
    let input = generate(d, "logs.json", 500, 3, "array", "1h");
    let json = d.join("r.json");
    let out = gardener(&[
        "run",
        "--stats",
        "--quiet",
        "--state",
        "none",
        "--report",
        s(&d.join("r.md")),
        "--json",
        s(&json),
        s(&input),
    ]);
    out.expect_code(0);
    assert!(out.stderr.contains("busy ms"), "{}", out.stderr);
    let time = out
        .stderr
        .lines()
        .find(|l| l.starts_with("time: reading "))
        .unwrap_or_else(|| panic!("no time line in {}", out.stderr));
    for step in [
        "combining the shards",
        "mining templates",
        "redacting",
        "writing the reports",
    ] {
        let ms = time
            .split(" · ")
            .find_map(|part| part.strip_prefix(step))
            .unwrap_or_else(|| panic!("{step} missing from {time}"));
        assert!(
            ms.trim()
                .strip_suffix(" ms")
                .is_some_and(|n| n.parse::<u64>().is_ok()),
            "{time}"
        );
    }
}
