//! The slice of GitHub's REST API the sink uses, on octocrab's HTTP client, with the rate-limit
//! discipline GitHub asks of integrations:
//!
//! - writes are serial and at least `write_interval` apart;
//! - `Retry-After` is honoured; `x-ratelimit-remaining: 0` waits until `x-ratelimit-reset`;
//! - a secondary limit (403/429 saying so, without headers) backs off, doubling each time;
//! - a wait longer than `max_wait` is not waited: the call fails with [`ApiError::RateLimited`]
//!   and the sink stops writing for this run.
//!
//! octocrab's own retry layer is switched off (it retries at once and ignores `Retry-After`);
//! requests go through its raw `_get` / `_post` / `_patch` helpers so every response's status
//! and headers pass through here. The token lives in octocrab (a `SecretString`) and is never
//! part of an error or a log line.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An issue, as much of it as the sink reads (the issues, search and create APIs all return
/// this shape).
#[derive(Clone, Debug, Deserialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// `completed`, `not_planned`, `reopened` or null.
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    /// GitHub's clock (RFC 3339): the fresh look lists from the newest one it saw.
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub html_url: String,
    /// Present when the "issue" is a pull request (the issues API lists both).
    #[serde(default)]
    pub pull_request: Option<Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Label {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A comment on an issue.
#[derive(Clone, Debug, Deserialize)]
pub struct Comment {
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SearchResult {
    items: Vec<Issue>,
}

/// Why a call failed, phrased for people.
#[derive(Debug)]
pub enum ApiError {
    /// A rate limit longer than we wait: stop writing for this run.
    RateLimited(String),
    /// GitHub answered with an error status.
    Status {
        status: u16,
        message: String,
        what: String,
    },
    /// The request did not complete, or the answer was not what GitHub sends.
    Transport(String),
    /// Ctrl-C / SIGTERM while waiting.
    Interrupted,
}

impl ApiError {
    /// Errors after which further writes would fail the same way.
    pub fn is_fatal(&self) -> bool {
        match self {
            ApiError::RateLimited(_) | ApiError::Interrupted => true,
            ApiError::Status { status, .. } => matches!(status, 401 | 403 | 404),
            ApiError::Transport(_) => false,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::RateLimited(m) => write!(f, "{m}"),
            ApiError::Status {
                status,
                message,
                what,
            } => {
                let hint = match status {
                    401 => " — GITHUB_TOKEN was rejected: check that it is valid and not expired",
                    403 => {
                        " — the token lacks permission: it needs Issues read and write on the repository (fine-grained) or the `repo`/`public_repo` scope (classic)"
                    }
                    404 => {
                        " — the repository does not exist or the token cannot see it (check --github OWNER/REPO and the token's repository access)"
                    }
                    410 => " — issues are disabled on the repository",
                    422 => " — GitHub refused the content",
                    _ => "",
                };
                write!(f, "{what}: HTTP {status}: {message}{hint}")
            }
            ApiError::Transport(m) => write!(f, "{m}"),
            ApiError::Interrupted => write!(f, "interrupted"),
        }
    }
}

/// Client settings.
pub struct ApiSettings {
    pub base: String,
    pub token: String,
    pub owner: String,
    pub repo: String,
    pub write_interval: Duration,
    pub max_wait: Duration,
    pub secondary_backoff: Duration,
    pub timeout: Duration,
}

/// A paced, rate-limit-aware client for one repository.
pub struct Api {
    client: Octocrab,
    owner: String,
    repo: String,
    write_interval: Duration,
    max_wait: Duration,
    secondary_backoff: Duration,
    last_write: Option<Instant>,
    /// The primary limit is spent until this Unix time (from `x-ratelimit-reset`).
    spent_until: Option<u64>,
    /// Requests sent, for the report.
    pub requests: u64,
    /// Time spent waiting for rate limits.
    pub waited: Duration,
    /// Time spent before retrying after server errors (5xx).
    pub retried: Duration,
}

/// Retries of one request after rate limits or server errors.
const MAX_ATTEMPTS: u32 = 5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Api {
    pub fn new(s: ApiSettings) -> Result<Api, String> {
        let client = Octocrab::builder()
            .base_uri(s.base.trim_end_matches('/'))
            .map_err(|e| format!("--github-api {}: not a usable URL: {e}", s.base))?
            .personal_token(s.token)
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(s.timeout))
            .set_read_timeout(Some(s.timeout))
            .set_write_timeout(Some(s.timeout))
            .build()
            .map_err(|e| format!("cannot set up the GitHub client: {e}"))?;
        Ok(Api {
            client,
            owner: s.owner,
            repo: s.repo,
            write_interval: s.write_interval,
            max_wait: s.max_wait,
            secondary_backoff: s.secondary_backoff,
            last_write: None,
            spent_until: None,
            requests: 0,
            waited: Duration::ZERO,
            retried: Duration::ZERO,
        })
    }

    fn repo_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.repo)
    }

    /// Every issue carrying `label`, open and closed, all pages (pull requests left out).
    pub async fn issues_with_label(&mut self, label: &str) -> Result<Vec<Issue>, ApiError> {
        self.list_labelled(label, None).await
    }

    /// Issues carrying `label` updated at or after `since` (RFC 3339): the fresh look before a
    /// create, which sees what a concurrent run filed a moment ago (search lags; this does not).
    pub async fn issues_updated_since(
        &mut self,
        label: &str,
        since: &str,
    ) -> Result<Vec<Issue>, ApiError> {
        self.list_labelled(label, Some(since)).await
    }

    async fn list_labelled(
        &mut self,
        label: &str,
        since: Option<&str>,
    ) -> Result<Vec<Issue>, ApiError> {
        let first = format!(
            "{}/issues?labels={}&state=all&per_page=100&sort=created&direction=asc{}",
            self.repo_path(),
            encode(label),
            since
                .map(|s| format!("&since={}", encode(s)))
                .unwrap_or_default()
        );
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let (headers, page): (_, Vec<Issue>) =
                self.call(Method::Get, &url, None, "list issues").await?;
            out.extend(page.into_iter().filter(|i| i.pull_request.is_none()));
            next = next_link(&headers);
        }
        Ok(out)
    }

    /// One issue; `None` when it no longer exists (deleted, transferred).
    pub async fn issue(&mut self, number: u64) -> Result<Option<Issue>, ApiError> {
        let url = format!("{}/issues/{number}", self.repo_path());
        match self.call(Method::Get, &url, None, "get issue").await {
            Ok((_, i)) => {
                let i: Issue = i;
                Ok(i.pull_request.is_none().then_some(i))
            }
            Err(ApiError::Status {
                status: 404 | 410, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every comment of an issue, oldest first.
    pub async fn comments(&mut self, number: u64) -> Result<Vec<Comment>, ApiError> {
        let mut out = Vec::new();
        let mut next = Some(format!(
            "{}/issues/{number}/comments?per_page=100",
            self.repo_path()
        ));
        while let Some(url) = next.take() {
            let (headers, page): (_, Vec<Comment>) =
                self.call(Method::Get, &url, None, "list comments").await?;
            out.extend(page);
            next = next_link(&headers);
        }
        Ok(out)
    }

    /// Issues of this repository whose body contains `text` (search API: lags behind, so only a
    /// fallback).
    pub async fn search_body(&mut self, text: &str) -> Result<Vec<Issue>, ApiError> {
        let q = format!("repo:{}/{} is:issue in:body {text}", self.owner, self.repo);
        let url = format!("/search/issues?q={}&per_page=20", encode(&q));
        let (_, r): (_, SearchResult) = self.call(Method::Get, &url, None, "search issues").await?;
        Ok(r.items)
    }

    pub async fn create_issue(
        &mut self,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, ApiError> {
        let url = format!("{}/issues", self.repo_path());
        let payload = serde_json::json!({ "title": title, "body": body, "labels": labels });
        let (_, i) = self
            .call(Method::Post, &url, Some(&payload), "create issue")
            .await?;
        Ok(i)
    }

    pub async fn comment(&mut self, number: u64, body: &str) -> Result<(), ApiError> {
        let url = format!("{}/issues/{number}/comments", self.repo_path());
        let payload = serde_json::json!({ "body": body });
        let (_, _c): (_, Value) = self
            .call(Method::Post, &url, Some(&payload), "comment on issue")
            .await?;
        Ok(())
    }

    /// Creates a label; `false` when it exists already (GitHub answers 422 `already_exists`):
    /// creating a label is the one conditional write GitHub offers, so the sink claims a
    /// problem with one before filing it.
    pub async fn create_label(&mut self, name: &str, description: &str) -> Result<bool, ApiError> {
        let url = format!("{}/labels", self.repo_path());
        let payload =
            serde_json::json!({ "name": name, "color": "ededed", "description": description });
        match self
            .call::<Value>(Method::Post, &url, Some(&payload), "create label")
            .await
        {
            Ok(_) => Ok(true),
            Err(ApiError::Status { status: 422, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A label; `None` when there is none.
    pub async fn label(&mut self, name: &str) -> Result<Option<Label>, ApiError> {
        let url = format!("{}/labels/{}", self.repo_path(), encode(name));
        match self.call(Method::Get, &url, None, "get label").await {
            Ok((_, l)) => Ok(Some(l)),
            Err(ApiError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a label, waiting for rate limits as any call; when the wait is too long, once
    /// at once anyway (the answer ignored): releases a claim even when writing stopped.
    pub async fn release_label(&mut self, name: &str) {
        if let Err(ApiError::RateLimited(_)) = self.delete_label(name).await {
            let url = format!("{}/labels/{}", self.repo_path(), encode(name));
            let _ = self.send(Method::Delete, &url, None, "delete label").await;
        }
    }

    pub async fn delete_label(&mut self, name: &str) -> Result<(), ApiError> {
        let url = format!("{}/labels/{}", self.repo_path(), encode(name));
        match self
            .call::<Value>(Method::Delete, &url, None, "delete label")
            .await
        {
            Ok(_) | Err(ApiError::Status { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Changes an issue: `fields` is a JSON object of title / state / labels (labels replace
    /// the issue's whole set).
    pub async fn update_issue(&mut self, number: u64, fields: &Value) -> Result<Issue, ApiError> {
        let url = format!("{}/issues/{number}", self.repo_path());
        let (_, i) = self
            .call(Method::Patch, &url, Some(fields), "update issue")
            .await?;
        Ok(i)
    }

    /// Sends one request, waiting out rate limits up to `max_wait`, and parses the answer.
    async fn call<T: DeserializeOwned>(
        &mut self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<(HeaderMap, T), ApiError> {
        let mut backoff = self.secondary_backoff;
        for attempt in 1..=MAX_ATTEMPTS {
            self.wait_for_primary_limit(what).await?;
            if method != Method::Get {
                self.pace().await?;
            }
            let (status, headers, bytes) = self.send(method, url, body, what).await?;
            if method != Method::Get {
                self.last_write = Some(Instant::now());
            }
            self.note_limits(&headers);
            if status.is_success() {
                // 204 No Content (a delete) reads as null.
                let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
                let value = serde_json::from_slice(bytes).map_err(|e| {
                    ApiError::Transport(format!(
                        "{what}: GitHub's answer was not what the API documents: {e}"
                    ))
                })?;
                return Ok((headers, value));
            }
            let message = error_message(&bytes);
            let server_error = status.is_server_error();
            let wait = match status.as_u16() {
                403 | 429 => rate_limit_wait(status, &headers, &message, &mut backoff),
                // Server errors: retry idempotent calls only. A POST that failed with a 5xx
                // may still have been applied; the next run finds the issue by its label,
                // and a comment by its marker.
                500..=599 if method != Method::Post && attempt < 3 => {
                    Some(Duration::from_secs(attempt as u64))
                }
                _ => None,
            };
            let Some(wait) = wait else {
                return Err(ApiError::Status {
                    status: status.as_u16(),
                    message,
                    what: what.to_string(),
                });
            };
            if wait > self.max_wait {
                return Err(ApiError::RateLimited(format!(
                    "GitHub rate limit ({what}: HTTP {}: {message}); it clears in {}s, longer than sinks.github.max_wait_secs ({}s)",
                    status.as_u16(),
                    wait.as_secs(),
                    self.max_wait.as_secs()
                )));
            }
            eprintln!(
                "gardener: GitHub {what}: HTTP {} ({message}); waiting {:.1}s before retrying",
                status.as_u16(),
                wait.as_secs_f64()
            );
            self.sleep(wait).await?;
            if server_error {
                self.retried += wait;
            } else {
                self.waited += wait;
            }
        }
        Err(ApiError::RateLimited(format!(
            "GitHub kept refusing ({what}) after {MAX_ATTEMPTS} attempts"
        )))
    }

    async fn send(
        &mut self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes), ApiError> {
        self.requests += 1;
        let request = async {
            let resp = match method {
                Method::Get => self.client._get(url).await,
                Method::Post => self.client._post(url, body).await,
                Method::Patch => self.client._patch(url, body).await,
                Method::Delete => self.client._delete(url, body).await,
            }?;
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await?.to_bytes();
            Ok::<_, octocrab::Error>((parts.status, parts.headers, bytes))
        };
        tokio::select! {
            r = request => r.map_err(|e| ApiError::Transport(format!("{what}: request to GitHub failed: {}", transport_text(&e)))),
            _ = interrupted() => Err(ApiError::Interrupted),
        }
    }

    /// Records `x-ratelimit-remaining` / `x-ratelimit-reset`.
    fn note_limits(&mut self, h: &HeaderMap) {
        if header_u64(h, "x-ratelimit-remaining") == Some(0) {
            self.spent_until = header_u64(h, "x-ratelimit-reset");
        } else if header_u64(h, "x-ratelimit-remaining").is_some() {
            self.spent_until = None;
        }
    }

    /// Waits for a spent primary limit to reset, or fails when that is too far away.
    async fn wait_for_primary_limit(&mut self, what: &str) -> Result<(), ApiError> {
        let Some(reset) = self.spent_until else {
            return Ok(());
        };
        let wait = Duration::from_secs(reset.saturating_sub(unix_now()));
        if wait.is_zero() {
            self.spent_until = None;
            return Ok(());
        }
        if wait > self.max_wait {
            return Err(ApiError::RateLimited(format!(
                "GitHub rate limit spent (x-ratelimit-remaining: 0 before {what}); it resets in {}s, longer than sinks.github.max_wait_secs ({}s)",
                wait.as_secs(),
                self.max_wait.as_secs()
            )));
        }
        eprintln!(
            "gardener: GitHub rate limit spent; waiting {}s for it to reset",
            wait.as_secs()
        );
        self.sleep(wait).await?;
        self.waited += wait;
        self.spent_until = None;
        Ok(())
    }

    /// Keeps writes at least `write_interval` apart.
    async fn pace(&mut self) -> Result<(), ApiError> {
        if let Some(last) = self.last_write {
            let due = last + self.write_interval;
            let now = Instant::now();
            if due > now {
                self.sleep(due - now).await?;
            }
        }
        Ok(())
    }

    async fn sleep(&self, d: Duration) -> Result<(), ApiError> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = interrupted() => Err(ApiError::Interrupted),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// How long to wait before retrying a 403/429, or `None` when it is not a rate limit (a 403
/// without any rate-limit sign is a permission problem).
fn rate_limit_wait(
    status: StatusCode,
    h: &HeaderMap,
    message: &str,
    backoff: &mut Duration,
) -> Option<Duration> {
    if let Some(secs) = header_u64(h, "retry-after") {
        return Some(Duration::from_secs(secs));
    }
    if header_u64(h, "x-ratelimit-remaining") == Some(0)
        && let Some(reset) = header_u64(h, "x-ratelimit-reset")
    {
        return Some(Duration::from_secs(reset.saturating_sub(unix_now()).max(1)));
    }
    let says_limit = message.to_ascii_lowercase().contains("rate limit");
    if status == StatusCode::TOO_MANY_REQUESTS || says_limit {
        let wait = *backoff;
        *backoff = (*backoff * 2).max(Duration::from_secs(1));
        return Some(wait);
    }
    None
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// GitHub's `message` from an error body; for anything else (a proxy's or GitHub's HTML error
/// page) one short line: the page's title, else its first text.
fn error_message(bytes: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    if let Some(m) = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
    {
        return one_line(m, 300);
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let lower = text.to_ascii_lowercase();
    if lower.contains("<html") || lower.contains("<!doctype") {
        let title = lower.find("<title>").and_then(|a| {
            let from = a + "<title>".len();
            lower[from..]
                .find("</title>")
                .map(|b| one_line(&text[from..from + b], 100))
        });
        return format!(
            "an HTML error page{} ({} bytes)",
            title
                .filter(|t| !t.is_empty())
                .map(|t| format!(" \"{t}\""))
                .unwrap_or_default(),
            bytes.len()
        );
    }
    one_line(&text, 200)
}

/// Whitespace collapsed, cut to `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

/// The error and its causes on one line (octocrab's top-level text is terse), each cause said
/// once: `client error (Connect): tcp connect error: Connection refused (os error 111)`.
fn transport_text(e: &octocrab::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = next {
        let t = s.to_string();
        let t = t
            .strip_prefix("Service Error: ")
            .unwrap_or(&t)
            .trim()
            .to_string();
        if !t.is_empty()
            && !parts
                .iter()
                .any(|p| p.contains(&t) || t.contains(p.as_str()))
        {
            parts.push(t);
        } else if let Some(p) = parts.iter_mut().find(|p| t.contains(p.as_str())) {
            *p = t;
        }
        next = s.source();
    }
    parts.join(": ")
}

/// The `rel="next"` URL of a `Link` header, as a path and query (the client adds the base).
fn next_link(h: &HeaderMap) -> Option<String> {
    let link = h.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        if !rel.contains("rel=\"next\"") {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let uri: http::Uri = url.parse().ok()?;
        uri.path_and_query().map(|p| p.as_str().to_string())
    })
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next_page() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            "<https://api.github.com/repositories/1/issues?page=2&per_page=100>; rel=\"next\", <https://api.github.com/repositories/1/issues?page=5>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/repositories/1/issues?page=2&per_page=100")
        );
        h.insert(
            "link",
            "<https://x/y?page=1>; rel=\"prev\"".parse().unwrap(),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn rate_limit_waits() {
        let mut backoff = Duration::from_secs(60);
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, "x", &mut backoff),
            Some(Duration::from_secs(7))
        );
        let h = HeaderMap::new();
        // A 403 without any sign of a rate limit is a permission problem.
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &h,
                "Resource not accessible",
                &mut backoff
            ),
            None
        );
        let msg = "You have exceeded a secondary rate limit. Please wait a few minutes";
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, msg, &mut backoff),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, msg, &mut backoff),
            Some(Duration::from_secs(120))
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert(
            "x-ratelimit-reset",
            (unix_now() + 30).to_string().parse().unwrap(),
        );
        let w = rate_limit_wait(
            StatusCode::FORBIDDEN,
            &h,
            "API rate limit exceeded",
            &mut backoff,
        )
        .unwrap();
        assert!((29..=30).contains(&w.as_secs()), "{w:?}");
    }

    #[test]
    fn error_pages_are_one_line() {
        let html = b"<!DOCTYPE html>\n<html>\n<head><title>Unicorn! \xc2\xb7 GitHub</title></head>\n<body>\n<p>No server is currently available</p></body></html>";
        assert_eq!(
            error_message(html),
            format!(
                "an HTML error page \"Unicorn! · GitHub\" ({} bytes)",
                html.len()
            )
        );
        assert_eq!(
            error_message(b"{\"message\": \"Server Error\"}"),
            "Server Error"
        );
        assert_eq!(error_message(b"bad\n  gateway\n"), "bad gateway");
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("log-gardener"), "log-gardener");
        assert_eq!(encode("repo:o/r is:issue"), "repo%3Ao%2Fr%20is%3Aissue");
    }
}
