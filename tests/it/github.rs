//! End-to-end tests of the GitHub sink: the real binary against a stateful fake of GitHub's
//! REST API on 127.0.0.1 (`fake_github`), checking what the server holds after each run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Out, find_cluster, gardener_in, read_json, s, tempdir, text, write};
use crate::fake_github::{FakeGithub, Fault, OWNER, REPO, TOKEN};

const SERVICE: &str = "netra-backend-staging";
/// A guard against a hung run, never a timing test: the planted-secrets corpus alone takes about
/// a minute with a debug build, and the test crate runs other modules' runs beside it.
const LIMIT: Duration = Duration::from_secs(300);

/// The source line of a message's log statement: one per first word, so different messages
/// are different statements (the same statement would make them one problem).
fn line_of(message: &str) -> u32 {
    200 + message
        .bytes()
        .take_while(|b| *b != b' ')
        .map(u32::from)
        .sum::<u32>()
        % 100
}

/// A gcloud-shaped Cloud Run entry.
fn entry(id: &str, ts: &str, severity: &str, message: &str) -> Value {
    json!({
        "insertId": id,
        "jsonPayload": {
            "message": message,
            "labels": { "module": "netra_backend.app.services.message_service", "function": "persist", "line": line_of(message).to_string() }
        },
        "logName": "projects/netra-staging/logs/run.googleapis.com%2Fstderr",
        "resource": {
            "labels": {
                "location": "us-central1",
                "project_id": "netra-staging",
                "revision_name": format!("{SERVICE}-00042-abc"),
                "service_name": SERVICE,
            },
            "type": "cloud_run_revision",
        },
        "severity": severity,
        "timestamp": ts,
    })
}

/// `count` entries of the "persist message" error (P2, or P1 at 10 or more in an hour) from
/// 2025-09-14T03:MM:00Z, ten seconds apart.
fn persist_errors(minute: u32, count: u32) -> Vec<Value> {
    (0..count)
        .map(|i| {
            entry(
                &format!("persist-{minute}-{i}"),
                &format!("2025-09-14T03:{minute:02}:{:02}Z", i * 10),
                "ERROR",
                &format!(
                    "Failed to persist message {} in MessageService: database timeout after 30s",
                    1000 + minute * 100 + i
                ),
            )
        })
        .collect()
}

/// `count` entries of the critical circuit-breaker message (P1 from three entries) from
/// 03:MM:00, five seconds apart.
fn breaker_critical(minute: u32, count: u32) -> Vec<Value> {
    (0..count)
        .map(|i| {
            entry(
                &format!("breaker-{minute}-{i}"),
                &format!("2025-09-14T03:{minute:02}:{:02}Z", i * 5),
                "CRITICAL",
                &format!(
                    "Auth circuit breaker OPEN after {} consecutive failures",
                    5 + i
                ),
            )
        })
        .collect()
}

/// A warning (P4: never filed) and expected behaviour (never filed).
fn noise() -> Vec<Value> {
    vec![
        entry(
            "slow-1",
            "2025-09-14T03:02:00Z",
            "WARNING",
            "Slow query on users took 1200ms",
        ),
        entry(
            "slow-2",
            "2025-09-14T03:02:30Z",
            "WARNING",
            "Slow query on users took 1400ms",
        ),
        entry(
            "user-1",
            "2025-09-14T03:03:00Z",
            "WARNING",
            "[?] USER AUTO-CREATED: Created user 42 from JWT",
        ),
        entry(
            "user-2",
            "2025-09-14T03:03:30Z",
            "WARNING",
            "[?] USER AUTO-CREATED: Created user 43 from JWT",
        ),
    ]
}

fn input(dir: &Path, name: &str, groups: &[Vec<Value>]) -> PathBuf {
    let all: Vec<Value> = groups.iter().flatten().cloned().collect();
    write(
        dir,
        name,
        serde_json::to_string_pretty(&all).unwrap() + "\n",
    )
}

/// A config for the fake, written to `dir/name`: state file in `dir`, no pacing, short waits.
/// `github` is appended to the `sinks.github` section (indented by four spaces), `top` is
/// put before it.
fn config_named(dir: &Path, name: &str, github: &str, top: &str) -> PathBuf {
    let state = dir.join("state/github.json");
    let defaults = [
        format!("    state_file: {}", s(&state)),
        "    write_interval_ms: 0".into(),
        "    max_wait_secs: 5".into(),
        "    secondary_backoff_secs: 1".into(),
        "    timeout_secs: 10".into(),
    ];
    let key = |l: &str| l.split(':').next().unwrap_or("").trim().to_string();
    let mut yaml = format!("{top}sinks:\n  github:\n");
    for d in defaults {
        if !github.lines().any(|l| key(l) == key(&d)) {
            yaml.push_str(&d);
            yaml.push('\n');
        }
    }
    yaml.push_str(github);
    write(dir, name, yaml)
}

fn config(dir: &Path, github: &str) -> PathBuf {
    config_named(dir, "config.yaml", github, "")
}

/// One run against the fake: returns the process output, the JSON report and the worklog.
fn run(
    dir: &Path,
    fake: &FakeGithub,
    input: &Path,
    cfg: &Path,
    tag: &str,
    extra: &[&str],
) -> (Out, Value, String) {
    let json_path = dir.join(format!("{tag}.json"));
    let md_path = dir.join(format!("{tag}.md"));
    let repo = format!("{OWNER}/{REPO}");
    let mut args = vec![
        "run",
        s(input),
        "--config",
        s(cfg),
        "--github",
        &repo,
        "--github-api",
        &fake.url,
        "--json",
        s(&json_path),
        "--report",
        s(&md_path),
    ];
    args.extend_from_slice(extra);
    let out = gardener_in(&args, b"", LIMIT, &[("GITHUB_TOKEN", TOKEN)], Some(dir));
    let json = if json_path.exists() {
        read_json(&json_path)
    } else {
        Value::Null
    };
    let md = std::fs::read_to_string(&md_path).unwrap_or_default();
    (out, json, md)
}

/// The GitHub action recorded in the JSON report for the problem holding a cluster (or for a
/// problem id).
fn action<'a>(report: &'a Value, fingerprint: &str) -> &'a Value {
    report["github"]["actions"]
        .as_array()
        .expect("github.actions")
        .iter()
        .find(|a| {
            a["fingerprint"] == fingerprint
                || a["clusters"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|x| x == fingerprint))
        })
        .unwrap_or_else(|| panic!("no GitHub action for {fingerprint}: {:#}", report["github"]))
}

fn labels(issue: &Value) -> Vec<String> {
    let mut v: Vec<String> = issue["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Writes to issues since request `before` (claim labels, made and deleted around each
/// create, left out).
fn writes_since(fake: &FakeGithub, before: usize) -> Vec<crate::fake_github::Request> {
    fake.requests()
        .into_iter()
        .skip(before)
        .filter(|r| r.is_write() && !is_claim(r))
        .collect()
}

/// A request on a repository label (the claim a create holds).
fn is_claim(r: &crate::fake_github::Request) -> bool {
    r.path()
        .starts_with(&format!("/repos/{OWNER}/{REPO}/labels"))
}

#[test]
fn issue_lifecycle_create_rerun_comment_escalate_reopen() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    // One issue per page: every listing has to follow the Link header.
    fake.set_max_per_page(1);
    let cfg = config(d, "");

    // 1. First run: the two filable problems (one cluster each) get one issue each; warnings
    //    and expected behaviour are not filed.
    let in1 = input(
        d,
        "in1.json",
        &[persist_errors(0, 3), breaker_critical(1, 3), noise()],
    );
    let (out, rep, md) = run(d, &fake, &in1, &cfg, "r1", &[]);
    out.expect_code(0);
    let x = text(
        find_cluster(&rep, SERVICE, "Failed to persist message"),
        "id",
    )
    .to_string();
    let y = text(
        find_cluster(&rep, SERVICE, "Auth circuit breaker OPEN"),
        "id",
    )
    .to_string();
    let issues = fake.issues();
    assert_eq!(issues.len(), 2, "{issues:#?}");
    let ix = issues
        .iter()
        .find(|i| {
            i["body"]
                .as_str()
                .unwrap()
                .contains(&format!("clusters={x}"))
        })
        .expect("an issue for the persist errors");
    let iy = issues
        .iter()
        .find(|i| {
            i["body"]
                .as_str()
                .unwrap()
                .contains(&format!("clusters={y}"))
        })
        .expect("an issue for the circuit breaker");
    let (nx, ny) = (
        ix["number"].as_u64().unwrap(),
        iy["number"].as_u64().unwrap(),
    );
    assert_eq!(labels(ix), ["log-gardener", "priority:P2"]);
    assert_eq!(labels(iy), ["log-gardener", "priority:P1"]);
    assert_eq!(
        ix["title"],
        "netra-backend-staging | P2 | Failed to persist message … in MessageService: database timeout after …"
    );
    let body = ix["body"].as_str().unwrap();
    let px = text(action(&rep, &x), "fingerprint").to_string();
    assert_ne!(px, x, "issues are keyed by problem id");
    assert!(
        body.starts_with(&format!("<!-- log-gardener:fingerprint={px} count=3 ")),
        "{body}"
    );
    let line = line_of("Failed");
    let location = format!("`netra_backend.app.services.message_service:persist:{line}` (3)");
    for part in [
        "### Log pattern",
        "| **Count** | 3 in this run |",
        "| **Windows** | 5m: 3 · 1h: 3 · 6h: 3 · 24h: 3 |",
        "2025-09-14 03:00:00 UTC → 2025-09-14 03:00:20 UTC",
        "netra-backend-staging-00042-abc (3)",
        location.as_str(),
        "### Sample entry (newest)",
        "\"insertId\": \"persist-0-2\"",
    ] {
        assert!(body.contains(part), "issue body lacks {part:?}:\n{body}");
    }
    assert_eq!(text(action(&rep, &x), "action"), "create");
    assert_eq!(text(action(&rep, &x), "status"), "done");
    assert_eq!(action(&rep, &x)["issue"], nx);
    assert!(md.contains("## 🎯 GitHub Issue Processing Results"), "{md}");
    assert!(
        md.contains(&format!(
            "[#{nx}](https://github.com/{OWNER}/{REPO}/issues/{nx}) | Created new issue"
        )),
        "{md}"
    );
    assert!(
        md.contains("No issue (not filed)"),
        "expected behaviour is listed: {md}"
    );
    let state = read_json(&d.join("state/github.json"));
    assert_eq!(state["repos"]["acme/shop"][&px]["issue"], nx);
    assert_eq!(state["repos"]["acme/shop"][&px]["clusters"], json!([x]));
    // Every request is authenticated with the token and says who is calling.
    for r in fake.requests() {
        let auth = r.header("authorization").unwrap_or_default();
        assert!(auth.ends_with(TOKEN), "{} {}: {auth:?}", r.method, r.target);
        assert!(
            r.header("user-agent").is_some(),
            "{} {}",
            r.method,
            r.target
        );
    }

    // 2. The same logs again: nothing changes on GitHub.
    let before = fake.requests().len();
    let (out, rep, _) = run(d, &fake, &in1, &cfg, "r2", &[]);
    out.expect_code(0);
    assert_eq!(
        writes_since(&fake, before).len(),
        0,
        "a second identical run writes nothing"
    );
    assert!(
        fake.requests()[before..]
            .iter()
            .any(|r| r.target.contains("page=2")),
        "the listing follows pagination"
    );
    assert_eq!(text(action(&rep, &x), "action"), "unchanged");

    // 3. Again, with the state file gone: found by label and marker, still nothing written.
    std::fs::remove_file(d.join("state/github.json")).unwrap();
    let before = fake.requests().len();
    let (out, rep, _) = run(d, &fake, &in1, &cfg, "r3", &[]);
    out.expect_code(0);
    assert_eq!(writes_since(&fake, before).len(), 0);
    assert_eq!(action(&rep, &y)["issue"], ny);

    // 4. New evidence: one comment with the new count, on the right issue, and no new issue.
    let in4 = input(
        d,
        "in4.json",
        &[
            persist_errors(0, 3),
            persist_errors(10, 2),
            breaker_critical(1, 3),
            noise(),
        ],
    );
    let before = fake.requests().len();
    let (out, rep, md) = run(d, &fake, &in4, &cfg, "r4", &[]);
    out.expect_code(0);
    let w = writes_since(&fake, before);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].method, "POST");
    assert_eq!(
        w[0].path(),
        format!("/repos/{OWNER}/{REPO}/issues/{nx}/comments")
    );
    let comments = fake.comments(nx);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].contains("**2 new entries** since the last report"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("| **Count** | 5 in this run |"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("\"insertId\": \"persist-10-1\""),
        "fresh sample: {}",
        comments[0]
    );
    assert_eq!(fake.issues().len(), 2);
    assert_eq!(text(action(&rep, &x), "action"), "comment");
    assert!(
        md.contains("Updated existing issue with latest logs"),
        "{md}"
    );

    // 5. The cluster grows to 11 errors in an hour: P2 → P1. The priority label is replaced
    //    (not added to), the title follows, and a comment says why.
    let in5 = input(
        d,
        "in5.json",
        &[
            persist_errors(0, 3),
            persist_errors(10, 2),
            persist_errors(20, 6),
            breaker_critical(1, 3),
            noise(),
        ],
    );
    let before = fake.requests().len();
    let (out, rep, md) = run(d, &fake, &in5, &cfg, "r5", &[]);
    out.expect_code(0);
    let w = writes_since(&fake, before);
    assert_eq!(
        w.iter()
            .map(|r| (r.method.as_str(), r.path().to_string()))
            .collect::<Vec<_>>(),
        vec![
            ("PATCH", format!("/repos/{OWNER}/{REPO}/issues/{nx}")),
            (
                "POST",
                format!("/repos/{OWNER}/{REPO}/issues/{nx}/comments")
            ),
        ]
    );
    let issue = fake.issue(nx);
    assert_eq!(labels(&issue), ["log-gardener", "priority:P1"]);
    assert!(
        issue["title"]
            .as_str()
            .unwrap()
            .starts_with("netra-backend-staging | P1 | ")
    );
    let last = fake.comments(nx).pop().unwrap();
    assert!(
        last.contains("**Escalated: P2 → P1** (rule: frequent errors)"),
        "{last}"
    );
    assert!(last.contains("6 new entries"), "{last}");
    assert_eq!(action(&rep, &x)["priority_change"], "P2 → P1");
    assert!(
        md.contains("| Escalated existing issue | P2 → P1 |"),
        "{md}"
    );

    // 6. A person closes the circuit-breaker issue after its entries: the same logs do not
    //    reopen it.
    fake.close(ny, "2025-09-14T03:30:00Z", "completed");
    let before = fake.requests().len();
    let (out, rep, _) = run(d, &fake, &in5, &cfg, "r6", &[]);
    out.expect_code(0);
    assert_eq!(writes_since(&fake, before).len(), 0);
    assert_eq!(
        text(action(&rep, &y), "detail"),
        "closed; no entries since it was closed"
    );

    // 7. It recurs after the closing: reopened, with a regression comment; still two issues.
    let in7 = input(
        d,
        "in7.json",
        &[
            persist_errors(0, 3),
            persist_errors(10, 2),
            persist_errors(20, 6),
            breaker_critical(1, 3),
            breaker_critical(45, 3),
            noise(),
        ],
    );
    let before = fake.requests().len();
    let (out, rep, md) = run(d, &fake, &in7, &cfg, "r7", &[]);
    out.expect_code(0);
    let w = writes_since(&fake, before);
    assert_eq!(w.len(), 2, "{w:#?}");
    let issue = fake.issue(ny);
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["state_reason"], "reopened");
    let last = fake.comments(ny).pop().unwrap();
    assert!(last.contains("**Regression: reopened.**"), "{last}");
    assert!(
        last.contains("closed on 2025-09-14 03:30:00 UTC: 3 new entries since"),
        "{last}"
    );
    assert_eq!(fake.issues().len(), 2);
    assert_eq!(text(action(&rep, &y), "action"), "reopen");
    assert!(md.contains("Reopened closed issue (regression)"), "{md}");

    // 8. And once more: nothing to do.
    let before = fake.requests().len();
    run(d, &fake, &in7, &cfg, "r8", &[]).0.expect_code(0);
    assert_eq!(writes_since(&fake, before).len(), 0);
}

/// `n` requests from 03:MM:00, a minute apart, each logging the auth failure and then
/// answering 503 on the health check, in one trace; with `requests`, the 503 request logs too.
fn auth_outage(minute: u32, n: u32, requests: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..n {
        let ts = |s: u32| format!("2025-09-14T03:{:02}:{s:02}Z", minute + i);
        let trace = format!("projects/netra-staging/traces/{:032x}", 0xa0 + minute + i);
        let mut e = entry(
            &format!("auth-{minute}-{i}"),
            &ts(1),
            "ERROR",
            "Session management check failed: name 'auth_service' is not defined",
        );
        e["trace"] = json!(trace);
        out.push(e);
        if requests {
            let mut r = json!({
                "insertId": format!("req-{minute}-{i}"),
                "httpRequest": {"requestMethod": "GET", "requestUrl": "https://auth.example/health/auth", "status": 503, "latency": "0.002s"},
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": SERVICE, "revision_name": format!("{SERVICE}-00042-abc")}},
                "severity": "ERROR",
                "timestamp": ts(2),
                "trace": trace,
            });
            r["logName"] = json!("projects/netra-staging/logs/run.googleapis.com%2Frequests");
            out.push(r);
        }
    }
    out
}

/// One issue per problem: a cluster that joins a filed problem later is a comment on its issue,
/// never a new issue; an issue filed earlier for one of its clusters alone is adopted.
#[test]
fn one_issue_per_problem_members_joining_later_comment_and_old_issues_are_adopted() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    let cfg = config(d, "");

    // Run 1: the auth failure alone (its 503s not logged yet).
    let in1 = input(d, "in1.json", &[auth_outage(0, 4, false)]);
    let (out, rep, _) = run(d, &fake, &in1, &cfg, "r1", &[]);
    out.expect_code(0);
    assert_eq!(fake.issues().len(), 1);
    let auth = text(find_cluster(&rep, SERVICE, "Session management"), "id").to_string();
    let problem = text(action(&rep, &auth), "fingerprint").to_string();

    // Run 2: the 503s arrive, in the same requests: they join the problem. One comment on the
    // same issue says so; no second issue; the problem keeps its id.
    let in2 = input(d, "in2.json", &[auth_outage(0, 4, true)]);
    let before = fake.requests().len();
    let (out, rep, md) = run(d, &fake, &in2, &cfg, "r2", &[]);
    out.expect_code(0);
    assert_eq!(fake.issues().len(), 1, "{:#?}", fake.issues());
    let http = text(
        find_cluster(&rep, SERVICE, "HTTP GET /health/auth 503"),
        "id",
    )
    .to_string();
    let p = &rep["problems"][0];
    assert_eq!(p["id"], problem.as_str());
    assert_eq!(p["clusters"], json!([auth, http]));
    assert_eq!(p["priority"], "P2");
    let w = writes_since(&fake, before);
    assert_eq!(w.len(), 1, "{w:#?}");
    let comment = fake.comments(1).pop().unwrap();
    assert!(
        comment.contains("**1 cluster joined this problem**"),
        "{comment}"
    );
    assert!(comment.contains(&format!("`{http}`")), "{comment}");
    assert!(
        comment.contains(&format!("clusters={auth},{http}")),
        "{comment}"
    );
    assert_eq!(text(action(&rep, &http), "action"), "comment");
    assert!(md.contains("1 cluster joined the problem"), "{md}");

    // Run 3: the same logs: nothing to write.
    let before = fake.requests().len();
    run(d, &fake, &in2, &cfg, "r3", &[]).0.expect_code(0);
    assert_eq!(writes_since(&fake, before).len(), 0);

    // Adoption: an issue filed for the 503 cluster alone (marker of an older version) is found
    // by that cluster, without a state file, and taken by the problem: no new issue.
    let dir2 = tempdir();
    let d2 = dir2.path();
    let fake2 = FakeGithub::start();
    let old = format!("<!-- log-gardener:fingerprint={http} count=2 last_seen=- -->\n\nold issue");
    let n = fake2.add_issue(
        "netra-backend-staging | P1 | HTTP GET /health/auth 503",
        &old,
        &["log-gardener", "priority:P1"],
    );
    let cfg2 = config(d2, "");
    let in3 = input(d2, "in.json", &[auth_outage(0, 4, true)]);
    let (out, rep, _) = run(d2, &fake2, &in3, &cfg2, "r1", &[]);
    out.expect_code(0);
    assert_eq!(fake2.issues().len(), 1, "adopted, not duplicated");
    assert_eq!(action(&rep, &auth)["issue"], n);
    let comment = fake2
        .comments(n)
        .pop()
        .expect("a comment on the adopted issue");
    assert!(
        comment.contains("**1 cluster joined this problem**"),
        "{comment}"
    );
    assert!(comment.contains(&format!("`{auth}`")), "{comment}");
    // And the next run, with the state the adoption wrote, changes nothing.
    let before = fake2.requests().len();
    run(d2, &fake2, &in3, &cfg2, "r2", &[]).0.expect_code(0);
    assert_eq!(writes_since(&fake2, before).len(), 0);
}

/// An issue goes to the problem it was filed for, even when a more urgent problem now holds a
/// cluster its marker lists: each problem's own issue is found before issues through members.
#[test]
fn a_problem_keeps_its_own_issue_when_another_holds_a_cluster_it_listed() {
    let dir = tempdir();
    let d = dir.path();
    // The auth problem (failure + 503s, P2) and a more urgent one (circuit breaker, P1).
    let logs = input(
        d,
        "in.json",
        &[auth_outage(0, 4, true), breaker_critical(30, 3)],
    );
    // Problem ids without GitHub and without state: derived from the leads.
    let plain = d.join("plain.json");
    gardener_in(
        &[
            "run",
            s(&logs),
            "--state",
            "none",
            "--json",
            s(&plain),
            "--report",
            "/dev/null",
        ],
        b"",
        LIMIT,
        &[],
        Some(d),
    )
    .expect_code(0);
    let r = read_json(&plain);
    let auth = text(find_cluster(&r, SERVICE, "Session management"), "id").to_string();
    let breaker = text(find_cluster(&r, SERVICE, "Auth circuit breaker OPEN"), "id").to_string();
    let auth_problem = text(
        r["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["lead"] == auth.as_str())
            .unwrap(),
        "id",
    )
    .to_string();
    // The auth problem's issue once listed the breaker cluster too.
    let fake = FakeGithub::start();
    let marker = format!(
        "<!-- log-gardener:fingerprint={auth_problem} count=4 last_seen=- clusters={breaker},{auth} -->"
    );
    let n = fake.add_issue(
        "netra-backend-staging | P2 | auth",
        &marker,
        &["log-gardener", "priority:P2"],
    );
    let cfg = config(d, "    search_fallback: false\n");
    let (out, rep, _) = run(d, &fake, &logs, &cfg, "r1", &[]);
    out.expect_code(0);
    assert_eq!(action(&rep, &auth)["issue"], n, "{:#}", rep["github"]);
    assert_eq!(text(action(&rep, &breaker), "action"), "create");
    assert_ne!(action(&rep, &breaker)["issue"], n);
    assert_eq!(
        fake.issues().len(),
        2,
        "no duplicate of the auth problem's issue"
    );
}

#[test]
fn secondary_rate_limit_with_retry_after_is_waited_out_and_writes_are_paced() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    fake.push_fault(Fault {
        method: "POST",
        path_suffix: "/issues".into(),
        status: 403,
        headers: vec![("retry-after".into(), "1".into())],
        message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.".into(),
        times: 1,
        ..Default::default()
    });
    let cfg = config(d, "    write_interval_ms: 300\n");
    let in1 = input(
        d,
        "in.json",
        &[persist_errors(0, 3), breaker_critical(1, 3)],
    );
    let (out, rep, _) = run(d, &fake, &in1, &cfg, "r1", &[]);
    out.expect_code(0);
    assert_eq!(fake.issues().len(), 2, "each issue created exactly once");
    let posts: Vec<_> = fake.writes().into_iter().filter(|r| !is_claim(r)).collect();
    assert_eq!(
        posts.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![403, 201, 201],
        "one refused write, then the retry and the second create"
    );
    assert!(
        posts[1].at.duration_since(posts[0].at) >= Duration::from_secs(1),
        "the retry waited for Retry-After"
    );
    assert!(
        posts[2].at.duration_since(posts[1].at) >= Duration::from_millis(300),
        "writes are at least write_interval_ms apart"
    );
    assert!(
        out.stderr.contains("secondary rate limit"),
        "{}",
        out.stderr
    );
    assert!(rep["github"]["stopped"].is_null());
}

#[test]
fn a_spent_primary_limit_is_waited_for_before_github_refuses() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    // Four requests per two seconds: the run needs more, and must wait for each reset that
    // `x-ratelimit-remaining: 0` announces instead of running into a 403.
    fake.set_primary_limit(4, 2);
    let cfg = config(d, "");
    let in1 = input(
        d,
        "in.json",
        &[persist_errors(0, 3), breaker_critical(1, 3)],
    );
    let (out, rep, _) = run(d, &fake, &in1, &cfg, "r1", &[]);
    out.expect_code(0);
    assert_eq!(fake.issues().len(), 2);
    let refused: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    assert!(
        fake.requests().len() > 4,
        "the run needed more than one window"
    );
    assert!(
        out.stderr.contains("rate limit spent; waiting"),
        "{}",
        out.stderr
    );
    assert!(rep["github"]["stopped"].is_null());
}

#[test]
fn a_long_rate_limit_stops_writing_and_the_next_run_continues() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let cfg = config(d, "");
    // Three problems to file: P1, P1 and P2.
    let other_critical: Vec<Value> = (0..3)
        .map(|i| {
            entry(
                &format!("oom-{i}"),
                &format!("2025-09-14T03:05:0{i}Z"),
                "CRITICAL",
                &format!("Worker {i} killed: out of memory"),
            )
        })
        .collect();
    let in1 = input(
        d,
        "in.json",
        &[persist_errors(0, 3), breaker_critical(1, 3), other_critical],
    );
    // A first run capped at one new issue files the most urgent cluster only.
    let cap1 = config_named(d, "cap1.yaml", "    max_new_issues: 1\n", "");
    let (out, rep, _) = run(d, &fake, &in1, &cap1, "r0", &[]);
    out.expect_code(0);
    assert_eq!(fake.issues().len(), 1);
    assert!(
        text(&rep["github"]["actions"][1], "detail").contains("max_new_issues (1) reached"),
        "{:#}",
        rep["github"]
    );
    // Then the primary limit is spent for an hour.
    fake.push_fault(Fault {
        method: "POST",
        path_suffix: "/issues".into(),
        status: 403,
        headers: vec![
            ("x-ratelimit-remaining".into(), "0".into()),
            ("x-ratelimit-reset".into(), reset.to_string()),
        ],
        message: "API rate limit exceeded for user ID 4242.".into(),
        times: 5,
        ..Default::default()
    });
    let before = fake.requests().len();
    let (out, rep, md) = run(d, &fake, &in1, &cfg, "r1", &[]);
    out.expect_code(0);
    let w = writes_since(&fake, before);
    assert_eq!(w.len(), 1, "one refused write, then no more writes: {w:#?}");
    assert_eq!(w[0].status, 403);
    let stopped = rep["github"]["stopped"]
        .as_str()
        .expect("the report says it stopped");
    assert!(stopped.contains("rate limit"), "{stopped}");
    assert!(stopped.contains("next run"), "{stopped}");
    assert!(md.contains("**Stopped early:**"), "{md}");
    assert!(out.stderr.contains("rate limit"), "{}", out.stderr);
    let deferred = rep["github"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "deferred")
        .count();
    assert_eq!(deferred, 2);
    assert_eq!(fake.issues().len(), 1);

    // The limit is over: the next run files the rest, and only the rest.
    fake.clear_faults();
    let (out, rep, _) = run(d, &fake, &in1, &cfg, "r2", &[]);
    out.expect_code(0);
    assert_eq!(fake.issues().len(), 3);
    assert!(rep["github"]["stopped"].is_null());
    let before = fake.requests().len();
    run(d, &fake, &in1, &cfg, "r3", &[]).0.expect_code(0);
    assert_eq!(writes_since(&fake, before).len(), 0);
}

#[test]
fn planted_secrets_never_reach_the_server_and_do_not_change_fingerprints() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    let ghp = "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12";
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
    let aws = "AKIAZ7VQ3XJ5EXAMPLE1";
    let pw = "Sup3rS3cretPw";
    let email = "jane.doe.oncall";
    // A token with no digit survives masking into the template, and so into the problem's
    // title: redaction must reach problem titles too.
    let bare = "qwertyuiopasdfghjklzxcvbnm";
    let secrets = [ghp, jwt, aws, pw, email, bare];
    let bare_leak: Vec<Value> = (0..3)
        .map(|i| {
            entry(
                &format!("bare-{i}"),
                &format!("2025-09-14T03:01:0{i}Z"),
                "CRITICAL",
                &format!("Upstream refused us, sent Authorization: Bearer {bare}"),
            )
        })
        .collect();
    let leaky: Vec<Value> = (0..3)
        .map(|i| {
            entry(
                &format!("leak-{i}"),
                &format!("2025-09-14T03:00:0{i}Z"),
                "CRITICAL",
                &format!(
                    "Deploy hook failed for {email}@example.com with token {ghp} and Authorization: Bearer {jwt}; aws {aws}; db postgres://app:{pw}@10.0.0.{i}:5432/main"
                ),
            )
        })
        .collect();
    let in1 = input(d, "in.json", &[leaky, bare_leak]);
    let cfg = config(d, "");
    let (out, rep, md) = run(d, &fake, &in1, &cfg, "r1", &[]);
    out.expect_code(0);
    assert_eq!(fake.issues().len(), 2);
    // Every byte sent to the server, and both reports, are clean.
    for r in fake.requests() {
        for secret in secrets {
            assert!(
                !r.body.contains(secret),
                "{secret} reached GitHub in {} {}",
                r.method,
                r.target
            );
            assert!(!r.target.contains(secret));
        }
    }
    // The whole JSON report is clean, its mergeable section (templates redacted before
    // mining) included.
    let json_text = serde_json::to_string(&rep).unwrap();
    for secret in secrets {
        assert!(!md.contains(secret), "{secret} is in the worklog");
        assert!(
            !json_text.contains(secret),
            "{secret} is in the JSON report"
        );
    }
    let issues = fake.issues();
    let body = issues
        .iter()
        .map(|i| i["body"].as_str().unwrap().to_string())
        .find(|b| b.contains("Deploy hook"))
        .expect("the deploy hook issue");
    assert!(body.contains("[REDACTED:github token]"), "{body}");
    assert!(body.contains("***@example.com"), "{body}");
    assert!(body.contains("postgres://app:[REDACTED]@"), "{body}");

    // With report redaction off (and a fresh server, so the issue is created again), the
    // secrets are in the local report (so the checks above could fail), GitHub still gets
    // none, and the fingerprint is the same.
    let dir2 = tempdir();
    let d2 = dir2.path();
    let fake2 = FakeGithub::start();
    let in2 = write(d2, "in.json", std::fs::read(&in1).unwrap());
    let plain = config_named(d2, "plain.yaml", "", "redact:\n  reports: false\n");
    let (out, rep2, md2) = run(d2, &fake2, &in2, &plain, "r2", &[]);
    out.expect_code(0);
    let json2 = serde_json::to_string(&rep2).unwrap();
    assert!(
        md2.contains(ghp) && json2.contains(ghp) && json2.contains(jwt),
        "unredacted reports keep the message"
    );
    let titles: Vec<&Value> = rep2["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["issue_title"])
        .collect();
    // Templates are redacted before mining whatever `reports` says, so titles are cut from
    // redacted text.
    assert!(
        !titles.iter().any(|t| t.as_str().unwrap().contains(bare)),
        "titles come from redacted templates: {titles:?}"
    );
    assert_eq!(
        find_cluster(&rep2, SERVICE, "Deploy hook failed")["id"],
        find_cluster(&rep, SERVICE, "Deploy hook failed")["id"]
    );
    assert_eq!(fake2.issues().len(), 2);
    for r in fake2.requests() {
        for secret in secrets {
            assert!(!r.body.contains(secret), "{secret} reached GitHub");
        }
    }
}

/// The planted-secrets corpus (`tests/data/secrets.tsv` and `secrets-holdout.tsv`): family,
/// secret (`-` for ordinary text), text.
fn secrets_corpus() -> Vec<(String, String, String)> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    ["secrets.tsv", "secrets-holdout.tsv"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(data.join(f))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.splitn(3, '\t').collect();
            let un = |x: &str| x.replace("\\n", "\n");
            (f[0].to_string(), un(f[1]), un(f[2]))
        })
        .collect()
}

/// Every case of the corpus as an ERROR cluster of its own (its own code location), three
/// entries each, half as `jsonPayload.message` and half as `textPayload`.
fn corpus_entries(cases: &[(String, String, String)]) -> Vec<Value> {
    let mut all = Vec::new();
    for (i, (_, _, text)) in cases.iter().enumerate() {
        for k in 0..3 {
            let mut e = entry(
                &format!("c{i}-{k}"),
                &format!("2025-09-14T{:02}:{:02}:0{k}Z", i / 60 % 24, i % 60),
                "ERROR",
                text,
            );
            e["jsonPayload"]["labels"] = json!({"module": format!("app.part{i}"), "function": format!("step{i}"), "line": "7"});
            if i % 2 == 1 {
                let p = e.as_object_mut().unwrap();
                p.remove("jsonPayload");
                p.insert("textPayload".into(), json!(text));
            }
            all.push(e);
        }
    }
    all
}

#[test]
fn the_planted_secrets_corpus_leaks_to_neither_github_nor_the_reports() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    let cases = secrets_corpus();
    assert!(cases.len() > 400, "{} cases", cases.len());
    let inp = input(d, "in.json", &[corpus_entries(&cases)]);
    let cfg = config(
        d,
        "    min_priority: P5\n    max_new_issues: 1000\n    max_comments: 1000\n",
    );
    let (out, rep, md) = run(d, &fake, &inp, &cfg, "r", &[]);
    out.expect_code(0);
    assert!(fake.issues().len() >= 20, "{} issues", fake.issues().len());
    let sent: String = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}\n", r.target, r.body))
        .collect();
    let json_text = serde_json::to_string(&rep).unwrap();
    let personal = ["phone", "card", "ip"];
    let mut leaks: Vec<String> = Vec::new();
    for (family, secret, text) in cases.iter().filter(|c| c.0 != "ordinary") {
        // A value that is also part of another case's text (a phone number's digits inside a
        // client id) says nothing there.
        if cases
            .iter()
            .any(|c| &c.2 != text && c.2.contains(secret.as_str()))
        {
            continue;
        }
        // JSON escapes (`\"`, `\n`) as the report and the request bodies write them.
        let escaped = serde_json::to_string(secret).unwrap();
        let escaped = &escaped[1..escaped.len() - 1];
        let found = |hay: &str| hay.contains(secret.as_str()) || hay.contains(escaped);
        if found(&sent) {
            let at = sent
                .find(secret.as_str())
                .or_else(|| sent.find(escaped))
                .unwrap();
            let from = sent.floor_char_boundary(at.saturating_sub(120));
            let to = sent.ceil_char_boundary(at + 60);
            leaks.push(format!("github: {family} {secret}: …{}…", &sent[from..to]));
        }
        if !personal.contains(&family.as_str()) {
            if found(&md) {
                leaks.push(format!("worklog: {family} {secret}"));
            }
            if found(&json_text) {
                leaks.push(format!("json: {family} {secret}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    // Ordinary sentences reach the JSON report's samples unchanged.
    for (_, _, text) in cases.iter().filter(|c| c.0 == "ordinary") {
        let escaped = serde_json::to_string(text).unwrap();
        assert!(
            json_text.contains(&escaped[1..escaped.len() - 1]),
            "ordinary text changed: {text}"
        );
    }
}

#[test]
fn dry_run_on_the_bundled_example_prints_the_plan_and_sends_nothing() {
    let dir = tempdir();
    let d = dir.path();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/netra-staging.json");
    let out = gardener_in(
        &[
            "run",
            s(&example),
            "--github",
            "netra-systems/netra-apex",
            "--dry-run",
        ],
        b"",
        LIMIT,
        &[],
        Some(d),
    );
    out.expect_code(0);
    let md = &out.stdout;
    assert!(md.contains("## 🎯 GitHub Issue Processing Results"), "{md}");
    assert!(
        md.contains("**Repository:** netra-systems/netra-apex (**PLAN ONLY**"),
        "{md}"
    );
    assert!(md.contains("| Would create new issue |"), "{md}");
    assert!(
        md.contains("Deferred to next run: create new issue"),
        "the cap applies: {md}"
    );
    assert!(out.stderr.contains("nothing sent"), "{}", out.stderr);
    assert!(
        !d.join(".log-gardener").exists(),
        "a dry run writes no state file"
    );

    // With a token, a dry run reads GitHub to plan exactly, and writes nothing.
    let fake = FakeGithub::start();
    let cfg = config(d, "");
    let in1 = input(d, "in.json", &[persist_errors(0, 3)]);
    run(d, &fake, &in1, &cfg, "r1", &[]).0.expect_code(0);
    let in2 = input(
        d,
        "in2.json",
        &[persist_errors(0, 3), persist_errors(10, 2)],
    );
    let before = fake.requests().len();
    let (out, rep, md) = run(d, &fake, &in2, &cfg, "r2", &["--dry-run"]);
    out.expect_code(0);
    assert!(
        fake.requests().len() > before,
        "the dry run read the issues"
    );
    assert_eq!(writes_since(&fake, before).len(), 0);
    assert_eq!(rep["github"]["mode"], "dry-run");
    assert!(
        md.contains("| #1 | Would add latest logs |")
            || md.contains("/issues/1) | Would add latest logs |"),
        "{md}"
    );

    // A dry run leaves the state store as it was: the real run after it still sees the new
    // cluster as new.
    let st = d.join("store");
    let in3 = input(
        d,
        "in3.json",
        &[persist_errors(0, 3), breaker_critical(1, 3)],
    );
    let (out, rep, _) = run(
        d,
        &fake,
        &in3,
        &cfg,
        "r3",
        &["--dry-run", "--state", s(&st)],
    );
    out.expect_code(0);
    assert!(!st.exists(), "a dry run makes no state directory");
    assert!(
        rep["notes"]
            .to_string()
            .contains("dry run: the state was not updated")
    );
    let (out, rep, _) = run(d, &fake, &in3, &cfg, "r4", &["--state", s(&st)]);
    out.expect_code(0);
    assert!(st.join("state.json").exists());
    let breaker = find_cluster(&rep, SERVICE, "Auth circuit breaker OPEN");
    assert_eq!(breaker["trend"]["status"], "new", "{breaker:#}");
}

#[test]
fn search_finds_an_issue_that_lost_its_label_and_state() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    let cfg = config(d, "");
    let in1 = input(d, "in.json", &[persist_errors(0, 3)]);
    run(d, &fake, &in1, &cfg, "r1", &[]).0.expect_code(0);
    // A person strips the labels and the state file is lost: only search can find it.
    fake.set_labels(1, &["bug"]);
    std::fs::remove_file(d.join("state/github.json")).unwrap();
    // A pull request carrying the label and a marker is not an issue.
    fake.add_pull_request(
        "unrelated",
        "<!-- log-gardener:fingerprint=0123456789abcdef count=1 last_seen=- -->",
        &["log-gardener"],
    );
    let in2 = input(
        d,
        "in2.json",
        &[persist_errors(0, 3), persist_errors(10, 2)],
    );
    let before = fake.requests().len();
    let (out, rep, _) = run(d, &fake, &in2, &cfg, "r2", &[]);
    out.expect_code(0);
    assert!(
        fake.requests()[before..]
            .iter()
            .any(|r| r.path() == "/search/issues")
    );
    assert_eq!(fake.issues().len(), 1, "no duplicate");
    assert_eq!(fake.comments(1).len(), 1);
    let x = text(
        find_cluster(&rep, SERVICE, "Failed to persist message"),
        "id",
    )
    .to_string();
    assert_eq!(action(&rep, &x)["issue"], 1);

    // Search lags behind: a fresh issue is invisible to it, but the label listing finds it.
    let dir2 = tempdir();
    let d2 = dir2.path();
    let fake2 = FakeGithub::start();
    fake2.freeze_search_index(true);
    let cfg2 = config(d2, "");
    let in3 = input(d2, "in.json", &[persist_errors(0, 3)]);
    run(d2, &fake2, &in3, &cfg2, "r1", &[]).0.expect_code(0);
    std::fs::remove_file(d2.join("state/github.json")).unwrap();
    let before = fake2.requests().len();
    run(d2, &fake2, &in3, &cfg2, "r2", &[]).0.expect_code(0);
    assert_eq!(writes_since(&fake2, before).len(), 0);
    assert_eq!(fake2.issues().len(), 1);
}

#[test]
fn a_rejected_token_exits_1_with_an_actionable_message_and_is_never_printed() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    let cfg = config(d, "");
    let in1 = input(d, "in.json", &[persist_errors(0, 3)]);
    let bad = "ghp_WrongTokenWrongTokenWrongToken0000";
    let repo = format!("{OWNER}/{REPO}");
    let out = gardener_in(
        &[
            "run",
            s(&in1),
            "--config",
            s(&cfg),
            "--github",
            &repo,
            "--github-api",
            &fake.url,
        ],
        b"",
        LIMIT,
        &[("GITHUB_TOKEN", bad)],
        Some(d),
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("GITHUB_TOKEN was rejected"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(bad) && !out.stdout.contains(bad));
    assert!(
        fake.writes().is_empty(),
        "nothing is written without reading first"
    );
    assert!(
        out.stdout.contains("GitHub could not be read"),
        "{}",
        out.stdout
    );

    // A malformed repository is a usage error.
    let out = gardener_in(
        &["run", s(&in1), "--github", "no-slash"],
        b"",
        LIMIT,
        &[],
        Some(d),
    );
    out.expect_code(2);
    assert!(out.stderr.contains("OWNER/REPO"), "{}", out.stderr);
}

/// Markers' problem ids of the open issues, with how many open issues carry each.
fn open_per_problem(fake: &FakeGithub) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for i in fake.issues().iter().filter(|i| i["state"] == "open") {
        let body = i["body"].as_str().unwrap_or("");
        if let Some(rest) = body.strip_prefix("<!-- log-gardener:fingerprint=") {
            let id = rest.split_whitespace().next().unwrap().to_string();
            *out.entry(id).or_insert(0) += 1;
        }
    }
    out
}

/// The search API down (503, 422, 403 without rate-limit signs): issues are still filed from
/// the listing, quickly, and the report says search was down — not that it waited for rate
/// limits.
#[test]
fn issues_are_filed_from_the_listing_when_search_is_down() {
    for (status, message) in [
        (503, "Service Unavailable"),
        (422, "Validation Failed"),
        (403, "Resource not accessible by integration"),
    ] {
        let dir = tempdir();
        let d = dir.path();
        let fake = FakeGithub::start();
        fake.push_fault(Fault {
            method: "GET",
            path_suffix: "/search/issues".into(),
            status,
            message: message.into(),
            times: 100,
            html: status == 503,
            ..Default::default()
        });
        let inp = input(
            d,
            "in.json",
            &[persist_errors(0, 3), breaker_critical(1, 3), noise()],
        );
        let cfg = config(d, "");
        let started = std::time::Instant::now();
        let (out, rep, _) = run(d, &fake, &inp, &cfg, "r", &[]);
        out.expect_code(0);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{status}: too slow"
        );
        assert_eq!(fake.issues().len(), 2, "{status}: {:#}", rep["github"]);
        let notes = rep["github"]["notes"].to_string();
        assert!(
            notes.contains("GitHub search is failing"),
            "{status}: {notes}"
        );
        assert!(!notes.contains("rate limits"), "{status}: {notes}");
        assert!(!out.stderr.contains("<html"), "{status}: {}", out.stderr);
        // Search was given up after its first failure.
        let searches = fake
            .requests()
            .iter()
            .filter(|r| r.path() == "/search/issues")
            .count();
        assert!(searches <= 3, "{status}: {searches} searches");
    }
}

/// A comment GitHub saved but answered with a 502 HTML page: the run fails with one readable
/// line, and the next run finds the comment by its marker instead of posting it again.
#[test]
fn a_comment_saved_but_answered_502_is_not_posted_again() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    let cfg = config(d, "");
    let in1 = input(d, "in1.json", &[persist_errors(0, 3)]);
    run(d, &fake, &in1, &cfg, "r1", &[]).0.expect_code(0);
    assert_eq!(fake.issues().len(), 1);
    let n = fake.issues()[0]["number"].as_u64().unwrap();
    let in2 = input(
        d,
        "in2.json",
        &[persist_errors(0, 3), persist_errors(10, 2)],
    );
    fake.push_fault(Fault {
        method: "POST",
        path_suffix: "/comments".into(),
        status: 502,
        message: "Server Error".into(),
        times: 1,
        applied: true,
        html: true,
        ..Default::default()
    });
    let (out, _, _) = run(d, &fake, &in2, &cfg, "r2", &[]);
    out.expect_code(1);
    assert_eq!(fake.comments(n).len(), 1, "GitHub saved it");
    assert!(
        !out.stderr.contains("<html") && !out.stderr.contains("<!DOCTYPE"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("HTTP 502: an HTML error page \"Server Error\""),
        "{}",
        out.stderr
    );
    for tag in ["r3", "r4"] {
        let (out, rep, _) = run(d, &fake, &in2, &cfg, tag, &[]);
        out.expect_code(0);
        assert_eq!(fake.comments(n).len(), 1, "{tag}: {:#}", rep["github"]);
    }
    assert_eq!(fake.issues().len(), 1);
}

/// Two runs at once on the same logs, each with its own state (two machines), GitHub's search
/// lagging: each problem ends with one open issue. A create looks at the listing just before
/// (not the lagging search), and a run that filed in the same instant as another closes its
/// own issue as the duplicate of the older one.
#[test]
fn two_runs_at_once_leave_one_open_issue_per_problem() {
    let dir = tempdir();
    let d = dir.path();
    let fake = FakeGithub::start();
    fake.freeze_search_index(true);
    let messages = [
        "Cache warmup aborted midway",
        "Invoice export crashed on write",
        "Quota check rejected tenant",
        "Webhook delivery gave up",
        "Thumbnail renderer ran out of memory",
        "Search reindex stalled",
        "Payment capture declined by gateway",
        "Session store unreachable",
        "Feature flag fetch timed out",
        "Audit log shipper dropped batch",
        "Email template missing placeholder",
        "Geo lookup returned garbage",
    ];
    let many: Vec<Vec<Value>> = (0..12)
        .map(|k| {
            (0..3)
                .map(|j| {
                    let mut e = entry(
                        &format!("m{k}-{j}"),
                        &format!("2025-09-14T03:{:02}:0{j}Z", k * 4),
                        "ERROR",
                        messages[k],
                    );
                    e["jsonPayload"]["labels"]["function"] = json!(format!("handle{k}"));
                    e
                })
                .collect()
        })
        .collect();
    let inp = input(d, "in.json", &many);
    let repo = format!("{OWNER}/{REPO}");
    let spawn = |tag: &str| {
        let sub = d.join(tag);
        std::fs::create_dir_all(&sub).unwrap();
        let cfg = config_named(
            &sub,
            "config.yaml",
            &format!("    state_file: {}\n", s(&sub.join("gh.json"))),
            "",
        );
        std::process::Command::new(env!("CARGO_BIN_EXE_gardener"))
            .args([
                "run",
                s(&inp),
                "--config",
                s(&cfg),
                "--state",
                s(&sub.join("state")),
                "--github",
                &repo,
                "--github-api",
                &fake.url,
                "--json",
                s(&sub.join("r.json")),
                "--quiet",
            ])
            .env("GITHUB_TOKEN", TOKEN)
            .env_remove("GARDENER_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    for c in [a, b] {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let rep = read_json(&d.join("a/r.json"));
    let problems: Vec<String> = rep["github"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] != "skip")
        .map(|a| a["fingerprint"].as_str().unwrap().to_string())
        .collect();
    assert!(problems.len() >= 10, "{:#}", rep["github"]);
    let open = open_per_problem(&fake);
    for p in &problems {
        assert_eq!(open.get(p), Some(&1), "problem {p}: {open:?}");
    }
    assert_eq!(open.values().sum::<usize>(), problems.len(), "{open:?}");
    // Claims made creating a label: no problem was filed twice, and no claim is left.
    assert_eq!(
        fake.issues().len(),
        problems.len(),
        "an issue was filed twice"
    );
    let claims: Vec<String> = fake
        .label_names()
        .into_iter()
        .filter(|l| l.starts_with("gardener-claim-"))
        .collect();
    assert!(claims.is_empty(), "{claims:?}");
}

/// GitHub unreachable: one readable line (each cause once), exit 1, the reports still written.
#[test]
fn an_unreachable_github_is_one_line() {
    let dir = tempdir();
    let d = dir.path();
    let inp = input(d, "in.json", &[persist_errors(0, 3)]);
    let cfg = config(d, "");
    let repo = format!("{OWNER}/{REPO}");
    // A port nothing listens on: the connection is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let json = d.join("r.json");
    let out = gardener_in(
        &[
            "run",
            s(&inp),
            "--config",
            s(&cfg),
            "--github",
            &repo,
            "--github-api",
            &url,
            "--json",
            s(&json),
            "--report",
            "/dev/null",
        ],
        b"",
        LIMIT,
        &[("GITHUB_TOKEN", TOKEN)],
        Some(d),
    );
    out.expect_code(1);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("could not read the issues"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert_eq!(
        lines[0].matches("client error (Connect)").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(json.exists(), "the JSON report is still written");
}
