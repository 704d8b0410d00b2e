//! Related clusters: entries that share trace ids across clusters list them as related, the
//! cluster whose entries came first as the likely cause (real binary, handmade input).

use crate::common::{find_cluster, gardener, read_json, s, text, write};
use serde_json::{Value, json};

fn entry(id: &str, secs: u32, service: &str, severity: &str, msg: &str, trace: &str) -> String {
    let mut e = json!({
        "insertId": id,
        "timestamp": format!("2025-09-14T03:{:02}:{:02}Z", secs / 60, secs % 60),
        "severity": severity,
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": service}},
        "textPayload": msg,
    });
    if !trace.is_empty() {
        e["trace"] = Value::String(format!("projects/p/traces/{trace}"));
    }
    e.to_string()
}

#[test]
fn clusters_sharing_traces_are_related_with_the_first_one_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    // Six requests: auth init fails, then the websocket is rejected in the backend, in the same
    // trace; in one request the backend's entry is logged first.
    for (i, trace) in ["a1", "a2", "a3", "a4", "a5", "a6"].iter().enumerate() {
        let t = 600 + i as u32 * 300;
        let (auth, ws) = if i == 3 { (t + 2, t) } else { (t, t + 1) };
        lines.push(entry(
            &format!("auth{i}"),
            auth,
            "netra-auth-service",
            "ERROR",
            &format!("Auth init failed for user {i}00 (circuit open)"),
            trace,
        ));
        lines.push(entry(
            &format!("ws{i}"),
            ws,
            "netra-backend-staging",
            "ERROR",
            &format!("WebSocket rejected for connection {i}42: auth not ready"),
            trace,
        ));
    }
    // Unrelated: its own traces, or none, all through the hour.
    for i in 0..8u32 {
        lines.push(entry(
            &format!("db{i}"),
            30 + i * 400,
            "netra-backend-staging",
            "WARNING",
            &format!("Slow query took {i}12 ms"),
            if i % 2 == 0 {
                ""
            } else {
                ["b1", "b2", "b3", "b4"][(i / 2) as usize]
            },
        ));
    }
    // One shared trace is not enough (related.min_shared_traces is 2).
    lines.push(entry(
        "x1",
        3000,
        "netra-auth-service",
        "ERROR",
        "Token cache miss storm",
        "b1",
    ));
    let input = write(dir.path(), "in.ndjson", lines.join("\n") + "\n");
    let json = dir.path().join("r.json");
    let md = dir.path().join("r.md");
    gardener(&["run", s(&input), "--json", s(&json), "--report", s(&md)]).expect_code(0);

    let r = read_json(&json);
    let auth = text(
        find_cluster(&r, "netra-auth-service", "Auth init failed"),
        "id",
    )
    .to_string();
    let ws = text(
        find_cluster(&r, "netra-backend-staging", "WebSocket rejected"),
        "id",
    )
    .to_string();
    let related = r["related"].as_array().expect("related is a list");
    assert_eq!(related.len(), 1, "{related:#?}");
    let x = &related[0];
    assert_eq!(x["first"], auth.as_str());
    assert_eq!(x["then"], ws.as_str());
    assert_eq!(x["shared_traces"], 6);
    assert_eq!(x["exact"], true);
    assert_eq!(
        (x["first_led"].as_u64(), x["then_led"].as_u64()),
        (Some(5), Some(1))
    );
    // The auth cluster's first entry is at 03:10:00, the backend's at 03:10:01.
    assert_eq!(x["start_gap_ms"], 1000);

    // The worklog shows them as one problem, the auth failure leading, with the evidence.
    let worklog = std::fs::read_to_string(&md).unwrap();
    let lead = worklog
        .lines()
        .find(|l| l.starts_with("| **lead** ") && l.contains(&auth))
        .unwrap_or_else(|| panic!("no problem led by the auth failure in:\n{worklog}"));
    assert!(lead.contains("Auth init failed"), "{lead}");
    assert!(worklog.contains(&format!("`{ws}` |")), "{worklog}");
    assert!(
        worklog.contains("in 6 shared traces (the lead came first in 5 of 6)"),
        "{worklog}"
    );
    let problem = r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["lead"] == auth.as_str())
        .expect("a problem led by the auth failure");
    assert_eq!(problem["clusters"][1], ws.as_str());

    // Reversed input order changes nothing.
    let reversed = write(
        dir.path(),
        "rev.ndjson",
        lines.iter().rev().cloned().collect::<Vec<_>>().join("\n") + "\n",
    );
    let json2 = dir.path().join("r2.json");
    gardener(&[
        "run",
        s(&reversed),
        "--json",
        s(&json2),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    assert_eq!(read_json(&json2)["related"], r["related"]);

    // Turning trace sketches off leaves only the other evidence: they began a second apart.
    let cfg = write(
        dir.path(),
        "off.yaml",
        "related:\n  traces_per_cluster: 0\n",
    );
    let json3 = dir.path().join("r3.json");
    gardener(&[
        "run",
        s(&input),
        "--config",
        s(&cfg),
        "--json",
        s(&json3),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    let off = read_json(&json3);
    let off = off["related"].as_array().unwrap();
    assert_eq!(off.len(), 1);
    assert_eq!(
        (&off[0]["shared_traces"], &off[0]["started_together"]),
        (&json!(0), &json!(true))
    );
    assert_eq!(x["started_together"], true);
}

#[test]
fn clusters_that_begin_together_in_other_services_are_related() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    // A steady cluster there from the start of the input.
    for i in 0..20u32 {
        lines.push(entry(
            &format!("h{i}"),
            i * 150,
            "netra-backend-staging",
            "WARNING",
            "Health check slow",
            "",
        ));
    }
    // At 03:40:00 the database starts failing in one service, 20 s later the API in another.
    for i in 0..6u32 {
        lines.push(entry(
            &format!("d{i}"),
            2400 + i * 30,
            "netra-db-proxy",
            "ERROR",
            "Connection pool exhausted",
            "",
        ));
        lines.push(entry(
            &format!("a{i}"),
            2420 + i * 30,
            "netra-api",
            "ERROR",
            "Upstream unavailable",
            "",
        ));
    }
    let input = write(dir.path(), "in.ndjson", lines.join("\n") + "\n");
    let json = dir.path().join("r.json");
    gardener(&[
        "run",
        s(&input),
        "--json",
        s(&json),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    let r = read_json(&json);
    let db = text(find_cluster(&r, "netra-db-proxy", "pool exhausted"), "id").to_string();
    let api = text(find_cluster(&r, "netra-api", "Upstream"), "id").to_string();
    let related = r["related"].as_array().unwrap();
    assert_eq!(related.len(), 1, "{related:#?}");
    let x = &related[0];
    assert_eq!(
        (x["first"].as_str(), x["then"].as_str()),
        (Some(&*db), Some(&*api))
    );
    assert_eq!(x["started_together"], true);
    assert_eq!(x["shared_traces"], 0);
    assert_eq!(x["start_gap_ms"], 20_000);
}
