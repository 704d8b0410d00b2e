//! Problems end to end (real binary): a planted chain (shared traces) and a planted outage
//! (several statements naming one cause, firing together for 25 minutes) each come out as one
//! problem; steady unrelated clusters stay apart; problem ids hold across runs, input order,
//! worker counts and `gardener merge`; the bundled example reads like the seeds' worklogs.

use std::path::Path;

use crate::common::{find_cluster, gardener, read_json, read_ndjson, s, text, write};
use serde_json::{Value, json};

const AUTH: &str = "netra-auth-service";
const BACKEND: &str = "netra-backend-staging";
const START: i64 = 1_757_808_000; // 2025-09-14T00:00:00Z

fn ts(secs: i64) -> String {
    let t = START + secs;
    let (h, m, s) = (t / 3600 % 24, t / 60 % 60, t % 60);
    format!("2025-09-14T{h:02}:{m:02}:{s:02}Z")
}

/// A structured entry logged by `module:function:line`.
fn log(
    id: String,
    secs: i64,
    service: &str,
    severity: &str,
    site: (&str, u32),
    msg: String,
) -> Value {
    json!({
        "insertId": id,
        "timestamp": ts(secs),
        "severity": severity,
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": service}},
        "jsonPayload": {"message": msg, "labels": {"module": site.0, "function": "handle", "line": site.1.to_string()}},
    })
}

/// Six hours of logs with three planted things and steady background.
fn planted() -> Vec<Value> {
    let mut out = Vec::new();
    // 1. A chain: every 20 minutes a request fails auth, then its health check answers 503, in
    //    one trace.
    for i in 0..18 {
        let t = 300 + i * 1200;
        let trace = format!("projects/p/traces/{:032x}", 0xc0de + i);
        let mut e = log(
            format!("auth-{i}"),
            t,
            AUTH,
            "ERROR",
            ("auth.session", 88),
            "Session check failed: name 'auth_service' is not defined".into(),
        );
        e["trace"] = json!(trace);
        out.push(e);
        out.push(json!({
            "insertId": format!("hc-{i}"), "timestamp": ts(t + 1), "severity": "ERROR", "trace": trace,
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": AUTH}},
            "httpRequest": {"requestMethod": "GET", "requestUrl": "https://auth/health/auth", "status": 503},
        }));
    }
    // 2. An outage: for 25 minutes from 03:00, five call sites in two services say their
    //    connection pool for postgres is exhausted.
    let sites = [
        (
            BACKEND,
            "threads",
            "Failed to load thread {} in ThreadService",
        ),
        (BACKEND, "messages", "[MESSAGE] persist message {} -"),
        (
            BACKEND,
            "runs",
            "ExecutionEngine.acquire_run: acquiring run {}",
        ),
        (
            AUTH,
            "users",
            "Failed to refresh user {} in UserRepository:",
        ),
        (AUTH, "tokens", "[TOKEN] validate token {} -"),
    ];
    for minute in 0..25 {
        for (k, (svc, module, text)) in sites.iter().enumerate() {
            let t = 3 * 3600 + minute * 60 + k as i64 * 7;
            let msg = format!(
                "{} connection pool exhausted for postgres, waited {}.0s",
                text.replace("{}", &format!("{}", 4000 + minute)),
                5 + k
            );
            out.push(log(
                format!("pool-{k}-{minute}"),
                t,
                svc,
                "ERROR",
                (module, 40 + k as u32),
                msg,
            ));
        }
    }
    // 3. Steady background all day: unrelated warnings and errors about every ten minutes, each
    //    at its own (pseudo-random) moments.
    let steady = [
        (
            "disk",
            "Disk usage high on volume {}: above the threshold",
            "WARNING",
        ),
        (
            "cache",
            "Cache hit ratio {} below target for tenant",
            "WARNING",
        ),
        (
            "billing",
            "Invoice export job {} failed: upstream returned garbage",
            "ERROR",
        ),
        ("mail", "Mail relay rejected message {}", "ERROR"),
    ];
    for i in 0..36 {
        for (k, (module, text, sev)) in steady.iter().enumerate() {
            let t = 60 + i * 600 + ((i * 7919) ^ (k as i64 * 104_729)) * 40_503 % 540;
            let msg = text.replace("{}", &format!("v{}", 100 + i));
            out.push(log(
                format!("steady-{k}-{i}"),
                t,
                BACKEND,
                sev,
                (module, 10 + k as u32),
                msg,
            ));
        }
    }
    out
}

fn ndjson(entries: &[Value]) -> String {
    entries.iter().map(|e| e.to_string() + "\n").collect()
}

fn run(dir: &Path, tag: &str, input: &Path, extra: &[&str]) -> (Value, Vec<Value>) {
    let json = dir.join(format!("{tag}.json"));
    let entries = dir.join(format!("{tag}.entries.ndjson"));
    let mut args = vec![
        "run",
        s(input),
        "--state",
        "none",
        "--json",
        s(&json),
        "--entries",
        s(&entries),
        "--report",
        "/dev/null",
    ];
    args.extend_from_slice(extra);
    gardener(&args).expect_code(0);
    (read_json(&json), read_ndjson(&entries))
}

/// Problems as (id, member cluster ids), in report order.
fn groups(r: &Value) -> Vec<(String, Vec<String>)> {
    r["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            let ids = p["clusters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            (text(p, "id").to_string(), ids)
        })
        .collect()
}

fn problem_of<'a>(r: &'a Value, cluster: &str) -> &'a Value {
    r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["clusters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == cluster)
        })
        .unwrap_or_else(|| panic!("no problem holds {cluster}"))
}

#[test]
fn a_chain_and_an_outage_are_one_problem_each_and_steady_clusters_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = planted();
    let input = write(d, "in.ndjson", ndjson(&all));
    let (r, lines) = run(d, "one", &input, &[]);

    // The chain: the auth failure leads, its 503s follow.
    let auth = text(find_cluster(&r, AUTH, "Session check failed"), "id").to_string();
    let hc = text(find_cluster(&r, AUTH, "HTTP GET /health/auth 503"), "id").to_string();
    let chain = problem_of(&r, &auth);
    assert_eq!(chain["clusters"], json!([auth, hc]), "{chain:#}");
    assert_eq!(chain["lead"], auth.as_str());
    assert!(
        text(chain, "summary").contains("in 18 shared traces (the lead came first in 18 of 18)"),
        "{chain:#}"
    );
    assert!(
        text(chain, "title").contains("→ HTTP 503 on GET /health/auth"),
        "{chain:#}"
    );

    // The outage: five statements, two services, one problem, named by its cause.
    let pool: Vec<String> = r["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| text(c, "template").contains("connection pool exhausted"))
        .map(|c| text(c, "id").to_string())
        .collect();
    assert_eq!(pool.len(), 5, "five call sites");
    let outage = problem_of(&r, &pool[0]);
    let mut members: Vec<String> = outage["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    members.sort();
    let mut want = pool.clone();
    want.sort();
    assert_eq!(members, want, "{outage:#}");
    assert_eq!(outage["services"].as_array().unwrap().len(), 2);
    assert!(
        text(outage, "title").starts_with("Connection pool exhausted for postgres"),
        "{outage:#}"
    );

    // Steady background: each cluster is a problem of its own.
    for needle in [
        "Disk usage high",
        "Cache hit ratio",
        "Invoice export job",
        "Mail relay rejected",
    ] {
        let id = text(find_cluster(&r, BACKEND, needle), "id").to_string();
        assert_eq!(
            problem_of(&r, &id)["clusters"],
            json!([id]),
            "{needle} stays apart"
        );
    }
    assert_eq!(r["problems"].as_array().unwrap().len(), 2 + 4);

    // Every cluster carries its problem, every entry too.
    for c in r["clusters"].as_array().unwrap() {
        assert_eq!(problem_of(&r, text(c, "id"))["id"], c["problem"]);
    }
    assert_eq!(lines.len(), all.len());
    for l in &lines {
        assert_eq!(
            problem_of(&r, text(l, "fingerprint"))["id"],
            l["problem"],
            "{l}"
        );
    }

    // The same problems, ids and order for reversed input and other worker counts.
    let reversed: Vec<Value> = all.iter().rev().cloned().collect();
    let rev = write(d, "rev.ndjson", ndjson(&reversed));
    let (r2, _) = run(d, "rev", &rev, &[]);
    assert_eq!(groups(&r2), groups(&r));
    let wide = write(
        d,
        "wide.yaml",
        "parse: {workers: 3}\nfingerprint: {workers: 2}\naggregate: {shards: 4}\npipeline: {batch_size: 5}\n",
    );
    let (r3, _) = run(d, "wide", &input, &["--config", s(&wide)]);
    assert_eq!(groups(&r3), groups(&r));

    // Merge of two halves gives the same problems as one run.
    let (a, b): (Vec<_>, Vec<_>) = all.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, &Value)>| v.into_iter().map(|(_, e)| e.clone()).collect::<Vec<_>>();
    let pa = write(d, "a.ndjson", ndjson(&strip(a)));
    let pb = write(d, "b.ndjson", ndjson(&strip(b)));
    let (ra, _) = run(d, "a", &pa, &[]);
    let (rb, _) = run(d, "b", &pb, &[]);
    drop((ra, rb));
    let merged = d.join("merged.json");
    gardener(&[
        "merge",
        s(&d.join("a.json")),
        s(&d.join("b.json")),
        "--json",
        s(&merged),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    assert_eq!(groups(&read_json(&merged)), groups(&r));
}

#[test]
fn problem_ids_are_remembered_when_the_lead_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let all = planted();
    // Run 1 sees only the 503s of the chain: a problem of its own, led by the 503s.
    let only_503: Vec<Value> = all
        .iter()
        .filter(|e| text(e, "insertId").starts_with("hc-"))
        .cloned()
        .collect();
    let in1 = write(d, "in1.ndjson", ndjson(&only_503));
    let j1 = d.join("r1.json");
    gardener(&[
        "run",
        s(&in1),
        "--state",
        s(&state),
        "--json",
        s(&j1),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    let r1 = read_json(&j1);
    let first_id = text(&r1["problems"][0], "id").to_string();
    // Run 2 sees the auth failures too: they lead now, and the problem keeps its id.
    let in2 = write(d, "in2.ndjson", ndjson(&all));
    let j2 = d.join("r2.json");
    gardener(&[
        "run",
        s(&in2),
        "--state",
        s(&state),
        "--json",
        s(&j2),
        "--report",
        "/dev/null",
    ])
    .expect_code(0);
    let r2 = read_json(&j2);
    let auth = text(find_cluster(&r2, AUTH, "Session check failed"), "id").to_string();
    let p = problem_of(&r2, &auth);
    assert_eq!(p["lead"], auth.as_str());
    assert_eq!(p["id"], first_id.as_str(), "the problem kept the id it had");
    // Without the state, the id comes from the new lead.
    let (r3, _) = run(d, "r3", &in2, &[]);
    assert_ne!(problem_of(&r3, &auth)["id"], first_id.as_str());
}

/// The bundled example, as README's first command runs it, reads like the seeds' worklogs.
#[test]
fn the_bundled_example_is_a_short_worklog_of_problems() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/netra-staging.json");
    let md = d.join("w.md");
    let json = d.join("w.json");
    gardener(&[
        "run",
        s(&example),
        "--state",
        "none",
        "--report",
        s(&md),
        "--json",
        s(&json),
    ])
    .expect_code(0);
    let md = std::fs::read_to_string(&md).unwrap();
    let r = read_json(&json);
    let lines = md.lines().count();
    // The hand-written worklogs this replaces run 115-288 lines.
    assert!(lines <= 300, "{lines} lines");
    let problems = r["problems"].as_array().unwrap();
    let p0 = problems.iter().filter(|p| p["priority"] == "P0").count();
    assert!((1..=5).contains(&p0), "{p0} P0 problems");
    let top5: Vec<&Value> = problems
        .iter()
        .filter(|p| p["expected"] == false)
        .take(5)
        .collect();
    let holds = |needle: &str| {
        top5.iter().any(|p| {
            p["clusters"].as_array().unwrap().iter().any(|c| {
                let c = r["clusters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["id"] == *c)
                    .unwrap();
                text(c, "template").contains(needle)
            })
        })
    };
    assert!(
        holds("Invalid message type"),
        "the legacy_response problem is in the top five"
    );
    assert!(
        holds("is not defined") && holds("HTTP GET /health/auth 503"),
        "the auth_service problem, with its 503s, is in the top five"
    );
    // The circuit-breaker call sites are one problem, named by the dependency.
    let breakers: Vec<&Value> = r["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| text(c, "template").contains("circuit breaker open for postgres"))
        .collect();
    assert!(breakers.len() >= 6, "{} call sites", breakers.len());
    let first = &breakers[0]["problem"];
    assert!(breakers.iter().all(|c| c["problem"] == *first));
    let p = problems.iter().find(|p| p["id"] == *first).unwrap();
    assert!(text(p, "title").contains("postgres"), "{p:#}");
    // Titles are words: no template placeholders.
    for p in problems {
        assert!(!text(p, "title").contains("<*>"), "{}", p["title"]);
    }
}

/// `--now` before the entries (a legal reference): the burst test has no bins and the run
/// goes on.
#[test]
fn a_reference_before_the_entries_still_groups() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = write(d, "in.ndjson", ndjson(&planted()));
    let (r, _) = run(d, "early", &input, &["--now", "2025-09-13T00:00:00Z"]);
    let auth = text(find_cluster(&r, AUTH, "Session check failed"), "id").to_string();
    assert_eq!(
        problem_of(&r, &auth)["clusters"].as_array().unwrap().len(),
        2
    );
}
