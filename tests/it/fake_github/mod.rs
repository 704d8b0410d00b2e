//! A small, stateful fake of the parts of GitHub's REST API the GitHub sink uses, on
//! 127.0.0.1: issues (list with label/state filters and `Link` pagination, get, create,
//! update), comments (list, create), labels (add, remove), and issue search. Responses have
//! GitHub's shapes and headers (`x-ratelimit-*`, `x-github-request-id`, `Link`); errors have
//! GitHub's `{"message", "documentation_url"}` bodies. Tests can script faults (rate limits),
//! change issues behind the bot's back (close, relabel), and read every request received,
//! with its raw body.
//!
//! Plain std threads and blocking sockets: one thread accepts, one thread per connection
//! (keep-alive), all sharing the state behind a mutex.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The token the fake accepts.
pub const TOKEN: &str = "test-token-0123456789";
pub const OWNER: &str = "acme";
pub const REPO: &str = "shop";

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The raw body bytes as text.
    pub body: String,
    pub at: Instant,
    /// Status answered.
    pub status: u16,
}

impl Request {
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    /// A request header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted answer for the next `times` requests that match.
#[derive(Clone, Debug, Default)]
pub struct Fault {
    pub method: &'static str,
    /// Matches when the path ends with this.
    pub path_suffix: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub message: String,
    pub times: usize,
    /// Carry the request out, then answer with the fault (a write GitHub saved but answered
    /// with an error: a 502 from a proxy).
    pub applied: bool,
    /// Answer with an HTML page (as GitHub's front end and proxies do) instead of JSON.
    pub html: bool,
}

#[derive(Clone, Debug)]
struct Issue {
    number: u64,
    title: String,
    body: Option<String>,
    labels: Vec<String>,
    state: String,
    state_reason: Option<String>,
    created_at: String,
    updated_at: String,
    closed_at: Option<String>,
    comments: Vec<Comment>,
    pull_request: bool,
}

#[derive(Clone, Debug)]
struct Comment {
    id: u64,
    body: String,
    created_at: String,
}

#[derive(Default)]
struct Inner {
    issues: Vec<Issue>,
    /// name → color, for every label ever used.
    labels: BTreeMap<String, String>,
    /// name → description, for labels made through the labels API.
    label_descriptions: BTreeMap<String, String>,
    requests: Vec<Request>,
    faults: VecDeque<Fault>,
    next_comment: u64,
    /// Page size cap (GitHub's is 100).
    max_per_page: usize,
    /// Issues created at or after this many issues do not show in search yet (search lag).
    search_sees_first: Option<usize>,
    /// Primary rate limit: `limit` requests per `window` seconds, enforced with a 403 like
    /// GitHub's; `remaining` and `reset_at` (Unix seconds) are what the headers say.
    limit: u64,
    window: u64,
    remaining: u64,
    reset_at: u64,
}

/// A running fake; stops when dropped (the listener thread is detached and dies with the
/// test process).
pub struct FakeGithub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let s = gardener_core::model::time::format_rfc3339(secs * 1_000_000_000);
    format!("{}Z", &s[..19])
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl FakeGithub {
    pub fn start() -> FakeGithub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake GitHub");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            max_per_page: 100,
            limit: 5000,
            window: 3600,
            next_comment: 9000,
            ..Default::default()
        }));
        let shared = Arc::clone(&inner);
        let base = url.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let shared = Arc::clone(&shared);
                let base = base.clone();
                std::thread::spawn(move || serve(conn, shared, base));
            }
        });
        FakeGithub { url, inner }
    }

    /// Caps page sizes, to exercise pagination.
    pub fn set_max_per_page(&self, n: usize) {
        self.inner.lock().unwrap().max_per_page = n;
    }

    /// Search sees only the issues that exist now (later ones lag behind), or all (`false`).
    pub fn freeze_search_index(&self, frozen: bool) {
        let mut g = self.inner.lock().unwrap();
        g.search_sees_first = frozen.then_some(g.issues.len());
    }

    /// Enforces a primary rate limit of `limit` requests per `window_secs`.
    pub fn set_primary_limit(&self, limit: u64, window_secs: u64) {
        let mut g = self.inner.lock().unwrap();
        g.limit = limit;
        g.window = window_secs;
        g.remaining = limit;
        g.reset_at = unix_now() + window_secs;
    }

    pub fn push_fault(&self, f: Fault) {
        self.inner.lock().unwrap().faults.push_back(f);
    }

    pub fn clear_faults(&self) {
        self.inner.lock().unwrap().faults.clear();
    }

    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn writes(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_write())
            .collect()
    }

    /// Issues (not pull requests) as GitHub would show them.
    pub fn issues(&self) -> Vec<Value> {
        let g = self.inner.lock().unwrap();
        g.issues
            .iter()
            .filter(|i| !i.pull_request)
            .map(|i| issue_json(i, &g, &self.url))
            .collect()
    }

    pub fn issue(&self, number: u64) -> Value {
        let g = self.inner.lock().unwrap();
        let i = g
            .issues
            .iter()
            .find(|i| i.number == number)
            .expect("issue exists");
        issue_json(i, &g, &self.url)
    }

    /// Comment bodies of an issue, oldest first.
    pub fn comments(&self, number: u64) -> Vec<String> {
        let g = self.inner.lock().unwrap();
        g.issues
            .iter()
            .find(|i| i.number == number)
            .map(|i| i.comments.iter().map(|c| c.body.clone()).collect())
            .unwrap_or_default()
    }

    /// Closes an issue as a person would, at `closed_at`.
    pub fn close(&self, number: u64, closed_at: &str, reason: &str) {
        let mut g = self.inner.lock().unwrap();
        let i = g.issues.iter_mut().find(|i| i.number == number).unwrap();
        i.state = "closed".into();
        i.state_reason = Some(reason.into());
        i.closed_at = Some(closed_at.into());
    }

    /// Replaces an issue's labels, as a person would.
    pub fn set_labels(&self, number: u64, labels: &[&str]) {
        let mut g = self.inner.lock().unwrap();
        let i = g.issues.iter_mut().find(|i| i.number == number).unwrap();
        i.labels = labels.iter().map(|s| s.to_string()).collect();
    }

    /// Adds an issue, as an earlier version of the bot (or a person) filed it.
    /// Names of the repository's labels.
    pub fn label_names(&self) -> Vec<String> {
        self.inner.lock().unwrap().labels.keys().cloned().collect()
    }

    pub fn add_issue(&self, title: &str, body: &str, labels: &[&str]) -> u64 {
        let n = self.add_pull_request(title, body, labels);
        let mut g = self.inner.lock().unwrap();
        g.issues
            .iter_mut()
            .find(|i| i.number == n)
            .unwrap()
            .pull_request = false;
        n
    }

    /// Adds a pull request (the issues API lists those too).
    pub fn add_pull_request(&self, title: &str, body: &str, labels: &[&str]) -> u64 {
        let mut g = self.inner.lock().unwrap();
        let number = g.issues.len() as u64 + 1;
        let now = now_rfc3339();
        g.issues.push(Issue {
            number,
            title: title.into(),
            body: Some(body.into()),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            state: "open".into(),
            state_reason: None,
            created_at: now.clone(),
            updated_at: now,
            closed_at: None,
            comments: vec![],
            pull_request: true,
        });
        number
    }
}

fn user() -> Value {
    json!({
        "login": "log-gardener-bot", "id": 4242, "node_id": "U_kgDOAAAQkg",
        "avatar_url": "https://avatars.githubusercontent.com/u/4242?v=4", "gravatar_id": "",
        "url": "https://api.github.com/users/log-gardener-bot",
        "html_url": "https://github.com/log-gardener-bot", "type": "User", "site_admin": false
    })
}

fn label_json(name: &str, color: &str, base: &str) -> Value {
    json!({
        "id": 100_000 + name.len() as u64, "node_id": format!("LA_{name}"),
        "url": format!("{base}/repos/{OWNER}/{REPO}/labels/{name}"),
        "name": name, "color": color, "default": false, "description": null
    })
}

fn issue_json(i: &Issue, g: &Inner, base: &str) -> Value {
    let api = format!("{base}/repos/{OWNER}/{REPO}/issues/{}", i.number);
    let mut v = json!({
        "url": api,
        "repository_url": format!("{base}/repos/{OWNER}/{REPO}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("https://github.com/{OWNER}/{REPO}/{}/{}",
            if i.pull_request { "pull" } else { "issues" }, i.number),
        "id": 2_000_000 + i.number,
        "node_id": format!("I_kwDOFake{}", i.number),
        "number": i.number,
        "title": i.title,
        "user": user(),
        "labels": i.labels.iter()
            .map(|l| label_json(l, g.labels.get(l).map(String::as_str).unwrap_or("ededed"), base))
            .collect::<Vec<_>>(),
        "state": i.state,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": i.comments.len(),
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
        "author_association": "OWNER",
        "active_lock_reason": null,
        "body": i.body,
        "closed_by": null,
        "reactions": {"url": format!("{api}/reactions"), "total_count": 0, "+1": 0, "-1": 0,
            "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
        "state_reason": i.state_reason,
    });
    if i.pull_request {
        v["pull_request"] = json!({
            "url": format!("{base}/repos/{OWNER}/{REPO}/pulls/{}", i.number),
            "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{}", i.number),
            "diff_url": null, "patch_url": null, "merged_at": null
        });
    }
    v
}

fn comment_json(c: &Comment, issue: u64, base: &str) -> Value {
    json!({
        "url": format!("{base}/repos/{OWNER}/{REPO}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{OWNER}/{REPO}/issues/{issue}#issuecomment-{}", c.id),
        "issue_url": format!("{base}/repos/{OWNER}/{REPO}/issues/{issue}"),
        "id": c.id,
        "node_id": format!("IC_kwDOFake{}", c.id),
        "user": user(),
        "created_at": c.created_at,
        "updated_at": c.created_at,
        "author_association": "OWNER",
        "body": c.body,
        "reactions": {"total_count": 0},
        "performed_via_github_app": null
    })
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn error(status: u16, message: &str) -> Answer {
    Answer {
        status,
        headers: vec![],
        body: json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.to_string()
        })
        .to_string(),
    }
}

fn ok(status: u16, v: Value) -> Answer {
    Answer {
        status,
        headers: vec![],
        body: v.to_string(),
    }
}

fn query(target: &str) -> BTreeMap<String, String> {
    let q = target.split_once('?').map(|x| x.1).unwrap_or("");
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One page of `items` and its `Link` header.
fn page(items: Vec<Value>, target: &str, max: usize, base: &str) -> Answer {
    let q = query(target);
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .min(max)
        .max(1);
    let page_no = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page_no - 1) * per_page)
        .take(per_page)
        .collect();
    let mut a = ok(200, Value::Array(slice));
    let path = target.split('?').next().unwrap();
    let link_to = |n: usize| {
        let mut q2 = q.clone();
        q2.insert("page".into(), n.to_string());
        q2.insert("per_page".into(), per_page.to_string());
        let qs: Vec<String> = q2
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace(':', "%3A")))
            .collect();
        format!("<{base}{path}?{}>", qs.join("&"))
    };
    let mut links = Vec::new();
    if page_no < last {
        links.push(format!("{}; rel=\"next\"", link_to(page_no + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page_no > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page_no - 1)));
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    if !links.is_empty() {
        a.headers.push(("Link".into(), links.join(", ")));
    }
    a
}

fn route(g: &mut Inner, method: &str, target: &str, body: &str, base: &str) -> Answer {
    let path = target.split('?').next().unwrap_or("");
    let prefix = format!("/repos/{OWNER}/{REPO}");
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if path == "/search/issues" && method == "GET" {
        let q = query(target).get("q").cloned().unwrap_or_default();
        let mut terms = Vec::new();
        let mut is_issue = false;
        for t in q.split_whitespace() {
            match t.split_once(':') {
                Some(("repo", r)) if r != format!("{OWNER}/{REPO}") => {
                    return ok(
                        200,
                        json!({"total_count": 0, "incomplete_results": false, "items": []}),
                    );
                }
                Some(("repo", _)) | Some(("in", _)) => {}
                Some(("is", "issue")) => is_issue = true,
                _ => terms.push(t.trim_matches('"').to_lowercase()),
            }
        }
        let visible = g.search_sees_first.unwrap_or(usize::MAX);
        let items: Vec<Value> = g
            .issues
            .iter()
            .take(visible)
            .filter(|i| !(is_issue && i.pull_request))
            .filter(|i| {
                let text = i.body.clone().unwrap_or_default().to_lowercase();
                terms.iter().all(|t| text.contains(t.as_str()))
            })
            .map(|i| {
                let mut v = issue_json(i, g, base);
                v["score"] = json!(1.0);
                v
            })
            .collect();
        let mut a = ok(
            200,
            json!({"total_count": items.len(), "incomplete_results": false, "items": items}),
        );
        a.headers
            .push(("x-ratelimit-resource".into(), "search".into()));
        return a;
    }
    let Some(rest) = path.strip_prefix(&prefix) else {
        return error(404, "Not Found");
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let now = now_rfc3339();
    match (method, parts.as_slice()) {
        ("GET", ["issues"]) => {
            let q = query(target);
            let state = q.get("state").map(String::as_str).unwrap_or("open");
            let want: Vec<String> = q
                .get("labels")
                .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default();
            // `since`: updated at or after (RFC 3339 texts of one shape compare as times).
            let since = q.get("since").map(|s| s[..19.min(s.len())].to_string());
            let mut items: Vec<&Issue> = g
                .issues
                .iter()
                .filter(|i| state == "all" || i.state == state)
                .filter(|i| want.iter().all(|w| i.labels.contains(w)))
                .filter(|i| since.as_ref().is_none_or(|s| i.updated_at[..19] >= s[..]))
                .collect();
            if q.get("direction").map(String::as_str) != Some("asc") {
                items.reverse();
            }
            let items = items.into_iter().map(|i| issue_json(i, g, base)).collect();
            page(items, target, g.max_per_page, base)
        }
        ("POST", ["issues"]) => {
            let title = parsed["title"].as_str().unwrap_or("").to_string();
            if title.trim().is_empty() {
                return error(422, "Validation Failed");
            }
            if title.chars().count() > 256 {
                return error(
                    422,
                    "Validation Failed: title is too long (maximum is 256 characters)",
                );
            }
            let body = parsed["body"].as_str().map(String::from);
            if body.as_ref().is_some_and(|b| b.chars().count() > 65536) {
                return error(
                    422,
                    "Validation Failed: body is too long (maximum is 65536 characters)",
                );
            }
            let labels = labels_of(&parsed["labels"]);
            for l in &labels {
                g.labels.entry(l.clone()).or_insert_with(|| "ededed".into());
            }
            let number = g.issues.len() as u64 + 1;
            g.issues.push(Issue {
                number,
                title,
                body,
                labels,
                state: "open".into(),
                state_reason: None,
                created_at: now.clone(),
                updated_at: now,
                closed_at: None,
                comments: vec![],
                pull_request: false,
            });
            let i = g.issues.last().unwrap();
            let mut a = ok(201, issue_json(i, g, base));
            a.headers
                .push(("Location".into(), format!("{base}{prefix}/issues/{number}")));
            a
        }
        (m, ["issues", n]) => {
            let Some(idx) = n
                .parse::<u64>()
                .ok()
                .and_then(|n| g.issues.iter().position(|i| i.number == n))
            else {
                return error(404, "Not Found");
            };
            match m {
                "GET" => ok(200, issue_json(&g.issues[idx], g, base)),
                "PATCH" => {
                    let labels = parsed.get("labels").map(labels_of);
                    if let Some(ls) = &labels {
                        for l in ls {
                            g.labels.entry(l.clone()).or_insert_with(|| "ededed".into());
                        }
                    }
                    let i = &mut g.issues[idx];
                    if let Some(t) = parsed["title"].as_str() {
                        i.title = t.into();
                    }
                    if let Some(b) = parsed["body"].as_str() {
                        i.body = Some(b.into());
                    }
                    if let Some(ls) = labels {
                        i.labels = ls;
                    }
                    match parsed["state"].as_str() {
                        Some("closed") if i.state != "closed" => {
                            i.state = "closed".into();
                            i.closed_at = Some(now.clone());
                            i.state_reason = Some(
                                parsed["state_reason"]
                                    .as_str()
                                    .unwrap_or("completed")
                                    .into(),
                            );
                        }
                        Some("open") if i.state != "open" => {
                            i.state = "open".into();
                            i.closed_at = None;
                            i.state_reason = Some("reopened".into());
                        }
                        Some("open") | Some("closed") | None => {}
                        Some(_) => return error(422, "Validation Failed"),
                    }
                    i.updated_at = now;
                    ok(200, issue_json(&g.issues[idx], g, base))
                }
                _ => error(404, "Not Found"),
            }
        }
        (m, ["issues", n, "comments"]) => {
            let Some(idx) = n
                .parse::<u64>()
                .ok()
                .and_then(|n| g.issues.iter().position(|i| i.number == n))
            else {
                return error(404, "Not Found");
            };
            let number = g.issues[idx].number;
            match m {
                "GET" => {
                    let items = g.issues[idx]
                        .comments
                        .iter()
                        .map(|c| comment_json(c, number, base))
                        .collect();
                    page(items, target, g.max_per_page, base)
                }
                "POST" => {
                    let Some(body) = parsed["body"].as_str() else {
                        return error(422, "Validation Failed");
                    };
                    g.next_comment += 1;
                    let c = Comment {
                        id: g.next_comment,
                        body: body.into(),
                        created_at: now.clone(),
                    };
                    let v = comment_json(&c, number, base);
                    g.issues[idx].comments.push(c);
                    g.issues[idx].updated_at = now;
                    ok(201, v)
                }
                _ => error(404, "Not Found"),
            }
        }
        ("POST", ["labels"]) => {
            let name = parsed["name"].as_str().unwrap_or("").to_string();
            if name.is_empty() || name.chars().count() > 50 {
                return error(422, "Validation Failed");
            }
            if g.labels.contains_key(&name) {
                let mut a = error(422, "Validation Failed");
                a.body = json!({"message": "Validation Failed", "errors": [{"resource": "Label", "code": "already_exists", "field": "name"}], "documentation_url": "https://docs.github.com/rest/issues/labels#create-a-label", "status": "422"}).to_string();
                return a;
            }
            let color = parsed["color"].as_str().unwrap_or("ededed").to_string();
            g.labels.insert(name.clone(), color.clone());
            let description = parsed["description"].as_str().unwrap_or("").to_string();
            g.label_descriptions
                .insert(name.clone(), description.clone());
            let mut v = label_json(&name, &color, base);
            v["description"] = json!(description);
            ok(201, v)
        }
        (m, ["labels", name]) => {
            let name = decode(name);
            let Some(color) = g.labels.get(&name).cloned() else {
                return error(404, "Not Found");
            };
            match m {
                "GET" => {
                    let mut v = label_json(&name, &color, base);
                    v["description"] = json!(g.label_descriptions.get(&name));
                    ok(200, v)
                }
                "DELETE" => {
                    g.labels.remove(&name);
                    g.label_descriptions.remove(&name);
                    for i in &mut g.issues {
                        i.labels.retain(|l| *l != name);
                    }
                    Answer {
                        status: 204,
                        headers: vec![],
                        body: String::new(),
                    }
                }
                _ => error(404, "Not Found"),
            }
        }
        (m, ["issues", n, "labels", rest @ ..]) => {
            let Some(idx) = n
                .parse::<u64>()
                .ok()
                .and_then(|n| g.issues.iter().position(|i| i.number == n))
            else {
                return error(404, "Not Found");
            };
            match (m, rest) {
                ("POST", []) => {
                    for l in labels_of(&parsed["labels"]) {
                        g.labels.entry(l.clone()).or_insert_with(|| "ededed".into());
                        if !g.issues[idx].labels.contains(&l) {
                            g.issues[idx].labels.push(l);
                        }
                    }
                }
                ("PUT", []) => g.issues[idx].labels = labels_of(&parsed["labels"]),
                ("DELETE", [name]) => {
                    let name = decode(name);
                    let before = g.issues[idx].labels.len();
                    g.issues[idx].labels.retain(|l| *l != name);
                    if g.issues[idx].labels.len() == before {
                        return error(404, "Label does not exist");
                    }
                }
                _ => return error(404, "Not Found"),
            }
            let ls = g.issues[idx]
                .labels
                .iter()
                .map(|l| label_json(l, "ededed", base))
                .collect();
            ok(200, Value::Array(ls))
        }
        _ => error(404, "Not Found"),
    }
}

fn labels_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| {
                    l.as_str()
                        .map(String::from)
                        .or_else(|| l["name"].as_str().map(String::from))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn serve(conn: TcpStream, shared: Arc<Mutex<Inner>>, base: String) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone socket"));
    let mut writer = conn;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut it = line.split_whitespace();
        let (Some(method), Some(target)) = (it.next(), it.next()) else {
            return;
        };
        let (method, target) = (method.to_string(), target.to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(len, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size = String::new();
                if reader.read_line(&mut size).unwrap_or(0) == 0 {
                    return;
                }
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                if reader.read_exact(&mut chunk).is_err() {
                    return;
                }
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));

        let answer = {
            let mut g = shared.lock().unwrap();
            let auth = header("authorization").unwrap_or_default();
            let path = target.split('?').next().unwrap_or("").to_string();
            let fault = g
                .faults
                .iter()
                .position(|f| f.method == method && path.ends_with(&f.path_suffix) && f.times > 0);
            let now = unix_now();
            if now >= g.reset_at {
                g.remaining = g.limit;
                g.reset_at = now + g.window;
            }
            let mut a = if auth != format!("Bearer {TOKEN}") && auth != format!("token {TOKEN}") {
                error(401, "Bad credentials")
            } else if g.remaining == 0 {
                error(403, "API rate limit exceeded for user ID 4242.")
            } else if let Some(i) = fault {
                let f = g.faults[i].clone();
                g.faults[i].times -= 1;
                if g.faults[i].times == 0 {
                    g.faults.remove(i);
                }
                if f.applied {
                    route(&mut g, &method, &target, &body, &base);
                }
                let mut a = error(f.status, &f.message);
                if f.html {
                    a.body = format!(
                        "<!DOCTYPE html>\n<html>\n  <head>\n    <title>{}</title>\n  </head>\n  <body>\n    <p>We had issues producing the response to your request.</p>\n  </body>\n</html>\n",
                        f.message
                    );
                }
                a.headers = f.headers.clone();
                a
            } else {
                route(&mut g, &method, &target, &body, &base)
            };
            if a.status != 403 || g.remaining > 0 {
                g.remaining = g.remaining.saturating_sub(1);
            }
            let has =
                |a: &Answer, k: &str| a.headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k));
            if !has(&a, "x-ratelimit-remaining") {
                a.headers
                    .push(("x-ratelimit-remaining".into(), g.remaining.to_string()));
                a.headers
                    .push(("x-ratelimit-reset".into(), g.reset_at.to_string()));
            }
            if !has(&a, "x-ratelimit-resource") {
                a.headers
                    .push(("x-ratelimit-resource".into(), "core".into()));
            }
            a.headers
                .push(("x-ratelimit-limit".into(), g.limit.to_string()));
            a.headers.push((
                "x-ratelimit-used".into(),
                (g.limit - g.remaining).to_string(),
            ));
            a.headers
                .push(("x-github-api-version-selected".into(), "2022-11-28".into()));
            a.headers.push((
                "x-github-request-id".into(),
                format!("FAKE:{:04X}", g.requests.len()),
            ));
            g.requests.push(Request {
                method: method.clone(),
                target: target.clone(),
                headers: headers.clone(),
                body: body.clone(),
                at: Instant::now(),
                status: a.status,
            });
            a
        };
        let reason = match answer.status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            422 => "Unprocessable Entity",
            429 => "Too Many Requests",
            _ => "Error",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n",
            answer.status,
            answer.body.len()
        );
        for (k, v) in &answer.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if close {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        out.push_str(&answer.body);
        if writer.write_all(out.as_bytes()).is_err() || writer.flush().is_err() || close {
            return;
        }
    }
}
