//! The GitHub sink: keeps one issue per problem worth filing in step with the logs — creates
//! it, comments with new evidence or clusters that joined the problem, escalates its priority
//! label, reopens it on a regression — and never files the same problem twice.
//!
//! A run goes:
//!
//! 1. **Find.** Every issue the bot filed carries its label (`sinks.github.label`) and a hidden
//!    marker with the problem id and its clusters' fingerprints ([`body::marker`]). An issue
//!    filed earlier for one of the problem's clusters (by an older version, or for a problem
//!    that has since grown) is adopted, never duplicated; an issue goes to one problem only. One paginated listing of the
//!    labelled issues, open and closed, through the issues API (consistent, unlike search) finds
//!    them. The state file ([`state`]) adds issues whose label a person removed; the search API
//!    is tried last, only for clusters about to get a new issue.
//! 2. **Decide** per problem ([`plan::decide`]), most urgent first.
//! 3. **Write**, serially and paced ([`api`]), within the per-run caps; the state file is saved
//!    after every write. A rate limit longer than `max_wait_secs` stops the writing: the rest
//!    is reported as deferred and the next run picks it up.
//!
//! Without a token it plans from the state file alone and sends nothing; with `--dry-run` it
//! reads GitHub to plan exactly and writes nothing.

pub mod api;
pub mod body;
mod once;
pub mod plan;
pub mod problem;
pub mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::config::{GithubConfig, parse_priority};
use crate::model::record::{
    ClusterReport, GithubAction, GithubMode, GithubReport, IssueAction, IssueStatus, Report,
};
use api::{Api, ApiError, ApiSettings, Issue};
use plan::{Kind, Known, Plan, Previous};
use state::{Entry, State};

pub use crate::model::run::Token;

/// What the sink needs beyond the report.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `OWNER/REPO`.
    pub repo: String,
    pub owner: String,
    pub name: String,
    /// API base URL.
    pub api: String,
    pub token: Option<Token>,
    pub dry_run: bool,
    pub cfg: GithubConfig,
}

/// The sink's result: the report section, and failures (which make the run exit 1).
pub struct Outcome {
    pub report: GithubReport,
    pub errors: Vec<String>,
    /// Fingerprint → whether its issue is closed as completed after this run (not reopened),
    /// for every cluster whose issue was found; the state store remembers it so that a
    /// comeback counts as a regression.
    pub closed: BTreeMap<String, bool>,
}

/// One problem on its way through the sink.
struct Item<'a> {
    /// The problem as one filable unit (see [`problem`]).
    cluster: &'a ClusterReport,
    members: &'a [&'a ClusterReport],
    ids: Vec<String>,
    evidence: &'a str,
    known: Option<Known>,
    prev: Option<Previous>,
    plan: Plan,
    status: IssueStatus,
    issue: Option<u64>,
    url: Option<String>,
    detail: String,
    /// GitHub could not be read, so the action is unknown.
    unknown: bool,
}

impl Item<'_> {
    /// Decides (again) with what is known of the problem's issue.
    fn decide(&mut self, min: u8, prefix: &str) {
        self.plan = plan::decide(
            self.cluster,
            &self.ids,
            self.known.as_ref(),
            self.prev.as_ref(),
            min,
            prefix,
        );
    }
}

/// Runs the sink on the (redacted) report.
pub async fn run(report: &Report, s: &Settings) -> Outcome {
    let cfg = &s.cfg;
    let mode = match (&s.token, s.dry_run) {
        (None, _) => GithubMode::NoToken,
        (Some(_), true) => GithubMode::DryRun,
        (Some(_), false) => GithubMode::Live,
    };
    let mut out = GithubReport {
        repo: s.repo.clone(),
        mode,
        actions: Vec::new(),
        stopped: None,
        notes: Vec::new(),
    };
    let mut errors = Vec::new();
    match mode {
        GithubMode::NoToken => out.notes.push(
            "no GITHUB_TOKEN: nothing was sent; the plan comes from the state file alone, so issues closed or relabelled on GitHub since are not seen".into(),
        ),
        GithubMode::DryRun => out
            .notes
            .push("dry run: GitHub was read to plan, nothing was written".into()),
        GithubMode::Live => {}
    }
    let min = parse_priority(&cfg.min_priority).unwrap_or(2);
    let prefix = cfg.priority_label_prefix.as_str();
    let state_path = PathBuf::from(&cfg.state_file);
    let mut state = match State::load(&state_path) {
        Ok(st) => st,
        Err(e) => {
            out.stopped = Some(e.clone());
            errors.push(e);
            return Outcome {
                report: out,
                errors,
                closed: BTreeMap::new(),
            };
        }
    };

    // Skips first: they need nothing from GitHub.
    let filings = problem::filings(&report.problems, &report.clusters);
    let mut items: Vec<Item> = filings
        .iter()
        .map(|f| {
            let ids = f.ids();
            Item {
                cluster: &f.unit,
                members: &f.members,
                plan: plan::decide(&f.unit, &ids, None, None, min, prefix),
                ids,
                evidence: &f.evidence,
                known: None,
                prev: None,
                status: IssueStatus::None,
                issue: None,
                url: None,
                detail: String::new(),
                unknown: false,
            }
        })
        .collect();
    let wanted = items.iter().any(|i| i.plan.kind != Kind::Skip);

    // The fresh look before a create lists issues updated since a little before this run
    // began listing (clocks differ), then since the newest one seen: what a concurrent run
    // filed since shows there.
    let mut looks = once::Looks::new(s, min);
    let mut api = None;
    if wanted {
        let found = match mode {
            GithubMode::NoToken => {
                find_offline(&mut items, &*state.repo(&s.repo), s);
                Ok(())
            }
            GithubMode::Live | GithubMode::DryRun => match Api::new(api_settings(s)) {
                Ok(mut a) => {
                    let r = find_online(&mut a, &mut items, &*state.repo(&s.repo), s).await;
                    api = Some(a);
                    r
                }
                Err(e) => Err(ApiError::Transport(e)),
            },
        };
        if let Err(e) = found {
            // Without a complete picture nothing may be written: a create could duplicate.
            let why = format!("could not read the issues of {}: {e}", s.repo);
            if !matches!(e, ApiError::RateLimited(_) | ApiError::Interrupted) {
                errors.push(why.clone());
            }
            out.stopped = Some(format!("{why}; nothing was written, the next run retries"));
            for i in items.iter_mut().filter(|i| i.plan.kind != Kind::Skip) {
                i.unknown = true;
                i.status = IssueStatus::Deferred;
                i.detail = "GitHub could not be read".into();
            }
            out.actions = items.iter().map(action).collect();
            return Outcome {
                report: out,
                errors,
                closed: BTreeMap::new(),
            };
        }
        for i in items.iter_mut().filter(|i| i.plan.kind != Kind::Skip) {
            i.decide(min, prefix);
            i.issue = i.known.as_ref().map(|k| k.number);
            i.url = i
                .known
                .as_ref()
                .map(|k| k.url.clone())
                .filter(|u| !u.is_empty());
        }
    }

    // Issues taken by a problem; search must not hand one to a second problem.
    let mut claimed: std::collections::BTreeSet<u64> = items
        .iter()
        .filter_map(|i| i.known.as_ref().map(|k| k.number))
        .collect();
    // Write, most urgent first (the report's order).
    let mut created = 0usize;
    let mut commented = 0usize;
    let mut search_down: Option<String> = None;
    for i in items.iter_mut() {
        // The claim label this problem's create holds, released once it is done.
        let mut claim_held: Option<String> = None;
        // Before filing a new issue: the search API gets a look (for an issue that lost both
        // its label and its state entry), then the listing a fresh one (for an issue a
        // concurrent run filed since this run listed). Only for creates that will happen.
        if i.plan.kind == Kind::Create
            && out.stopped.is_none()
            && created < cfg.max_new_issues
            && let Some(a) = api.as_mut()
        {
            if cfg.search_fallback && search_down.is_none() {
                match search_fallback(a, i, &mut claimed, min, prefix).await {
                    Ok(()) => {}
                    Err(ApiError::Interrupted) => {
                        record_failure(i, ApiError::Interrupted, "search", &mut out, &mut errors);
                        continue;
                    }
                    // Search is a fallback: when it fails, issues are filed from the listing.
                    Err(e) => {
                        out.notes.push(format!(
                            "GitHub search is failing ({e}): issues were filed from the labelled-issue listing alone, without the search for issues that lost their label"
                        ));
                        search_down = Some(e.to_string());
                    }
                }
            }
            if i.plan.kind == Kind::Create
                && let Err(e) = looks.fresh_look(a, i, &mut claimed).await
            {
                // Without the fresh look a create could duplicate a concurrent run's issue.
                i.detail = i.plan.detail.clone();
                record_failure(i, e, "look", &mut out, &mut errors);
                continue;
            }
            if i.plan.kind == Kind::Create && mode == GithubMode::Live {
                match looks.claim(a, i, &mut claimed).await {
                    Ok(once::Claim::Ours(label)) => claim_held = Some(label),
                    Ok(once::Claim::Adopted) => {}
                    Ok(once::Claim::Busy) => {
                        i.status = IssueStatus::Deferred;
                        i.detail = format!(
                            "{}; deferred: another run is filing this problem right now (the next run finds its issue)",
                            i.plan.detail
                        );
                        continue;
                    }
                    Ok(once::Claim::Unclaimed(why)) => {
                        if !out.notes.iter().any(|n| n.starts_with("could not claim")) {
                            out.notes.push(format!(
                                "could not claim problems before filing them ({why}): runs at once on other machines may file a problem twice (the later issue is then closed as a duplicate)"
                            ));
                        }
                    }
                    Err(e) => {
                        i.detail = i.plan.detail.clone();
                        record_failure(i, e, "claim", &mut out, &mut errors);
                        continue;
                    }
                }
            }
        }
        let kind = i.plan.kind;
        i.detail = i.plan.detail.clone();
        if !kind.writes() {
            if mode == GithubMode::Live
                && kind == Kind::Unchanged
                && let Some(k) = &i.known
            {
                // Remember issues found by listing, so later runs need not look them up.
                let e = state
                    .repo(&s.repo)
                    .entry(i.cluster.id.clone())
                    .or_insert_with(|| Entry {
                        issue: k.number,
                        priority: plan::label_priority(&k.labels, prefix)
                            .map(|p| format!("P{p}"))
                            .unwrap_or_else(|| i.cluster.priority.to_string()),
                        count: i.prev.as_ref().map_or(0, |p| p.count),
                        last_seen: i.prev.as_ref().and_then(|p| p.last_seen.clone()),
                        clusters: i.ids.clone(),
                    });
                e.issue = k.number;
            }
            continue;
        }
        let (used, cap, cap_name) = if kind == Kind::Create {
            (&mut created, cfg.max_new_issues, "max_new_issues")
        } else {
            (&mut commented, cfg.max_comments, "max_comments")
        };
        if let Some(why) = &out.stopped {
            i.status = IssueStatus::Deferred;
            i.detail = format!("{}; deferred: {why}", i.plan.detail);
            continue;
        }
        if *used >= cap {
            i.status = IssueStatus::Deferred;
            i.detail = format!(
                "{}; deferred: sinks.github.{cap_name} ({cap}) reached for this run",
                i.plan.detail
            );
            continue;
        }
        *used += 1;
        if mode != GithubMode::Live {
            i.status = IssueStatus::Planned;
            continue;
        }
        let Some(a) = api.as_mut() else { continue };
        let applied = apply(a, i, &report.windows, s, &mut looks).await;
        if let Some(label) = claim_held.take() {
            // Also after a failure (a rate limit): a claim left behind would hold the problem
            // back from every run until it expires (`CLAIM_STALE_SECS`).
            a.release_label(&label).await;
        }
        match applied {
            Ok(entry) => {
                i.status = IssueStatus::Done;
                state.repo(&s.repo).insert(i.cluster.id.clone(), entry);
                if let Err(e) = state.save(&state_path) {
                    errors.push(e.clone());
                    out.stopped = Some(e);
                }
            }
            Err((e, partial)) => {
                if let Some(entry) = partial {
                    state.repo(&s.repo).insert(i.cluster.id.clone(), entry);
                    if let Err(e) = state.save(&state_path) {
                        errors.push(e);
                    }
                }
                record_failure(i, e, kind.name(), &mut out, &mut errors);
            }
        }
    }
    if mode == GithubMode::Live
        && let Err(e) = state.save(&state_path)
    {
        errors.push(e);
    }
    if let Some(a) = &api {
        let mut waits = String::new();
        if a.waited > Duration::ZERO {
            waits.push_str(&format!(
                ", {:.1}s waited for rate limits",
                a.waited.as_secs_f64()
            ));
        }
        if a.retried > Duration::ZERO {
            waits.push_str(&format!(
                ", {:.1}s waited before retrying server errors",
                a.retried.as_secs_f64()
            ));
        }
        out.notes
            .push(format!("{} requests to {}{waits}", a.requests, s.api));
    }
    out.actions = items.iter().map(action).collect();
    // Without a token the issues were not read: their state is unknown.
    let closed = items
        .iter()
        .filter(|i| !i.unknown && mode != GithubMode::NoToken)
        .filter_map(|i| {
            let k = i.known.as_ref()?;
            let reopened = i.plan.kind == Kind::Reopen && i.status == IssueStatus::Done;
            Some((i.cluster.id.clone(), !k.open && !k.not_planned && !reopened))
        })
        .collect();
    Outcome {
        report: out,
        errors,
        closed,
    }
}

/// Marks an item deferred (rate limit, interrupt: writing stops) or failed.
fn record_failure(
    i: &mut Item<'_>,
    e: ApiError,
    what: &str,
    out: &mut GithubReport,
    errors: &mut Vec<String>,
) {
    let text = e.to_string();
    match e {
        ApiError::RateLimited(_) | ApiError::Interrupted => {
            i.status = IssueStatus::Deferred;
            i.detail = format!("{}; deferred: {text}", i.plan.detail);
            out.stopped = Some(format!(
                "{text} — writing stopped; the rest is deferred to the next run"
            ));
        }
        e => {
            i.status = IssueStatus::Failed;
            i.detail = format!("{}; failed: {text}", i.plan.detail);
            errors.push(format!("{} ({what}): {text}", i.cluster.id));
            if e.is_fatal() {
                out.stopped = Some(format!("{text} — writing stopped"));
            }
        }
    }
}

/// Searches for an issue with the cluster's marker; when one turns up, the cluster is decided
/// again with it.
async fn search_fallback(
    api: &mut Api,
    i: &mut Item<'_>,
    claimed: &mut std::collections::BTreeSet<u64>,
    min: u8,
    prefix: &str,
) -> Result<(), ApiError> {
    let mut found = None;
    for fp in [i.cluster.id.clone(), i.ids[0].clone()] {
        found = api.search_body(&fp).await?.into_iter().find(|x| {
            x.pull_request.is_none()
                && !claimed.contains(&x.number)
                && fingerprint_of(x).as_deref() == Some(fp.as_str())
        });
        if found.is_some() {
            break;
        }
    }
    if let Some(issue) = found {
        adopt(api, i, &issue, claimed, min, prefix).await?;
    }
    Ok(())
}

/// A problem takes an issue found late (by search, or by a fresh look): it claims it, reads
/// what was last reported from its markers, and decides again.
async fn adopt(
    api: &mut Api,
    i: &mut Item<'_>,
    issue: &Issue,
    claimed: &mut std::collections::BTreeSet<u64>,
    min: u8,
    prefix: &str,
) -> Result<(), ApiError> {
    claimed.insert(issue.number);
    i.prev = Some(previous_from_markers(api, issue).await?);
    i.known = Some(to_known(issue));
    i.issue = Some(issue.number);
    i.url = Some(issue.html_url.clone()).filter(|u| !u.is_empty());
    i.decide(min, prefix);
    Ok(())
}

fn api_settings(s: &Settings) -> ApiSettings {
    ApiSettings {
        base: s.api.clone(),
        token: s.token.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        owner: s.owner.clone(),
        repo: s.name.clone(),
        write_interval: Duration::from_millis(s.cfg.write_interval_ms),
        max_wait: Duration::from_secs(s.cfg.max_wait_secs),
        secondary_backoff: Duration::from_secs(s.cfg.secondary_backoff_secs),
        timeout: Duration::from_secs(s.cfg.timeout_secs),
    }
}

/// Without a token: the state file is all we know.
fn find_offline(items: &mut [Item<'_>], known: &BTreeMap<String, Entry>, s: &Settings) {
    let mut claimed = std::collections::BTreeSet::new();
    // Each problem's own entry first, so no problem takes another's issue through a member.
    for own in [true, false] {
        for i in items
            .iter_mut()
            .filter(|i| i.plan.kind != Kind::Skip && i.known.is_none())
        {
            let Some((key, e)) = state_entry(i, known, &claimed, own) else {
                continue;
            };
            claimed.insert(e.issue);
            i.known = Some(Known {
                number: e.issue,
                open: true,
                labels: vec![format!("{}{}", s.cfg.priority_label_prefix, e.priority)],
                url: issue_url(s, e.issue),
                ..Default::default()
            });
            i.prev = Some(previous_from_state(key, e));
        }
    }
}

/// The state entry of a problem: under its id (`own`), or else under one of its clusters'
/// fingerprints (an issue filed for that cluster alone); never one whose issue another problem
/// claimed.
fn state_entry<'k>(
    i: &Item<'_>,
    known: &'k BTreeMap<String, Entry>,
    claimed: &std::collections::BTreeSet<u64>,
    own: bool,
) -> Option<(&'k str, &'k Entry)> {
    let keys: &[String] = if own {
        std::slice::from_ref(&i.cluster.id)
    } else {
        &i.ids
    };
    keys.iter()
        .filter_map(|k| known.get_key_value(k))
        .find(|(_, e)| !claimed.contains(&e.issue))
        .map(|(k, e)| (k.as_str(), e))
}

fn previous_from_state(key: &str, e: &Entry) -> Previous {
    Previous {
        priority: parse_priority(&e.priority),
        count: e.count,
        last_seen: e.last_seen.clone(),
        clusters: Some(if e.clusters.is_empty() {
            vec![key.to_string()]
        } else {
            e.clusters.clone()
        }),
    }
}

fn issue_url(s: &Settings, n: u64) -> String {
    let web = if s.api.trim_end_matches('/') == "https://api.github.com" {
        "https://github.com".to_string()
    } else {
        s.api
            .trim_end_matches('/')
            .trim_end_matches("/api/v3")
            .to_string()
    };
    format!("{web}/{}/issues/{n}", s.repo)
}

fn to_known(i: &Issue) -> Known {
    Known {
        number: i.number,
        open: i.state == "open",
        not_planned: i.state_reason.as_deref() == Some("not_planned"),
        closed_at: i.closed_at.clone(),
        labels: i.labels.iter().map(|l| l.name.clone()).collect(),
        title: i.title.clone(),
        url: i.html_url.clone(),
    }
}

/// The fingerprint in an issue's marker.
fn fingerprint_of(i: &Issue) -> Option<String> {
    body::parse_marker(i.body.as_deref()?).map(|m| m.fingerprint)
}

/// With a token: list our labelled issues, then look up the state file's. (Search comes later,
/// only before a create: see [`search_fallback`].) A problem finds its issue by its id, else by
/// one of its clusters (an issue filed for that cluster, or for a problem that listed it); an
/// issue goes to the first (most urgent) problem that finds it.
async fn find_online(
    api: &mut Api,
    items: &mut [Item<'_>],
    known: &BTreeMap<String, Entry>,
    s: &Settings,
) -> Result<(), ApiError> {
    let mut by_fp: BTreeMap<String, Issue> = BTreeMap::new();
    for issue in api.issues_with_label(&s.cfg.label).await? {
        let Some(m) = issue.body.as_deref().and_then(body::parse_marker) else {
            continue;
        };
        let keys = std::iter::once(m.fingerprint).chain(m.clusters.unwrap_or_default());
        for fp in keys {
            // Should a problem have several issues (made by hand), prefer an open one, then
            // the oldest.
            let better = match by_fp.get(&fp) {
                None => true,
                Some(old) => {
                    (issue.state == "open", std::cmp::Reverse(issue.number))
                        > (old.state == "open", std::cmp::Reverse(old.number))
                }
            };
            if better {
                by_fp.insert(fp, issue.clone());
            }
        }
    }
    // Two passes: every problem's own issue (by its id) first, then issues found through a
    // member cluster, so that no problem takes another's issue through a shared cluster.
    let mut claimed = std::collections::BTreeSet::new();
    for own in [true, false] {
        for i in items
            .iter_mut()
            .filter(|i| i.plan.kind != Kind::Skip && i.known.is_none())
        {
            let keys: &[String] = if own {
                std::slice::from_ref(&i.cluster.id)
            } else {
                &i.ids
            };
            let listed = keys
                .iter()
                .filter_map(|k| by_fp.get(k))
                .find(|x| !claimed.contains(&x.number))
                .cloned();
            let entry = state_entry(i, known, &claimed, own);
            let issue = match (listed, entry) {
                (Some(x), _) => Some(x),
                (None, Some((_, e))) => api.issue(e.issue).await?,
                (None, None) => None,
            };
            let Some(issue) = issue.filter(|x| !claimed.contains(&x.number)) else {
                continue;
            };
            claimed.insert(issue.number);
            i.prev = match entry.filter(|(_, e)| e.issue == issue.number) {
                Some((key, e)) => Some(previous_from_state(key, e)),
                None => Some(previous_from_markers(api, &issue).await?),
            };
            i.known = Some(to_known(&issue));
        }
    }
    Ok(())
}

/// What was last reported, read back from the markers of the issue and its comments (when the
/// state file does not know the issue).
async fn previous_from_markers(api: &mut Api, issue: &Issue) -> Result<Previous, ApiError> {
    let mut last = issue.body.as_deref().and_then(body::parse_marker);
    let ours = last.as_ref().map(|m| m.fingerprint.clone());
    for c in api.comments(issue.number).await? {
        if let Some(m) = c.body.as_deref().and_then(body::parse_marker)
            && (ours.is_none() || ours.as_ref() == Some(&m.fingerprint) || m.clusters.is_some())
        {
            last = Some(m);
        }
    }
    Ok(Previous {
        priority: None,
        count: last.as_ref().and_then(|m| m.count).unwrap_or(0),
        // A full list may have been cut (`body::MARKER_CLUSTERS`): members then are unknown.
        clusters: last
            .as_ref()
            .map(|m| {
                m.clusters
                    .clone()
                    .unwrap_or_else(|| vec![m.fingerprint.clone()])
            })
            .filter(|c| c.len() < body::MARKER_CLUSTERS),
        last_seen: last.and_then(|m| m.last_seen),
    })
}

/// Carries out one writing action. On failure, the state entry to keep when part of it (the
/// label change before the comment) was done.
async fn apply(
    api: &mut Api,
    item: &mut Item<'_>,
    windows: &[String],
    s: &Settings,
    looks: &mut once::Looks<'_>,
) -> Result<Entry, (ApiError, Option<Entry>)> {
    let c = item.cluster;
    let prefix = &s.cfg.priority_label_prefix;
    let entry = |issue: u64, priority: String| Entry {
        issue,
        priority,
        count: c.count,
        last_seen: c.last_seen.clone(),
        clusters: item.ids.clone(),
    };
    let plan = &item.plan;
    if plan.kind == Kind::Create {
        let mut labels = vec![s.cfg.label.clone(), format!("{prefix}{}", c.priority)];
        for l in &c.labels {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
        let issue = api
            .create_issue(
                &body::title(c),
                &body::issue_body(c, item.members, item.evidence, windows),
                &labels,
            )
            .await
            .map_err(|e| (e, None))?;
        item.issue = Some(issue.number);
        item.url = Some(issue.html_url.clone()).filter(|u| !u.is_empty());
        item.detail = format!("created; {}", plan.detail);
        let ours = entry(issue.number, c.priority.to_string());
        return match looks.keep_older(api, &issue, &c.id).await {
            Ok(None) => Ok(ours),
            Ok(Some(older)) => {
                item.issue = Some(older.number);
                item.url = Some(older.html_url.clone()).filter(|u| !u.is_empty());
                item.detail = format!(
                    "created #{}, then closed it as a duplicate of #{} that a concurrent run filed at the same moment",
                    issue.number, older.number
                );
                Ok(entry(older.number, c.priority.to_string()))
            }
            // The issue exists; whether a concurrent run filed one too is for the next run's
            // listing (it keeps the oldest open issue).
            Err(e) => {
                item.detail = format!(
                    "{}; could not look for a concurrent run's issue afterwards: {e}",
                    item.detail
                );
                Ok(ours)
            }
        };
    }
    let Some(k) = item.known.clone() else {
        return Err((
            ApiError::Transport("internal: no issue to update".into()),
            None,
        ));
    };
    let current = plan::label_priority(&k.labels, prefix)
        .map(|p| format!("P{p}"))
        .or_else(|| {
            item.prev
                .as_ref()
                .and_then(|p| p.priority)
                .map(|p| format!("P{p}"))
        })
        .unwrap_or_else(|| c.priority.to_string());
    let from = plan.from.map(|p| format!("P{p}"));
    // Label and state changes first, in one PATCH (labels replace the issue's whole set).
    let mut fields = serde_json::Map::new();
    if let Some(from) = &from {
        let mut labels: Vec<String> = k
            .labels
            .iter()
            .filter(|l| {
                l.strip_prefix(prefix.as_str())
                    .and_then(parse_priority)
                    .is_none()
            })
            .cloned()
            .collect();
        labels.push(format!("{prefix}{}", c.priority));
        fields.insert("labels".into(), json!(labels));
        if let Some(t) = retitle(&k.title, from, &c.priority.to_string()) {
            fields.insert("title".into(), json!(t));
        }
    }
    if plan.kind == Kind::Reopen {
        fields.insert("state".into(), json!("open"));
        fields.insert("state_reason".into(), json!("reopened"));
    }
    let mut priority_now = current.clone();
    if !fields.is_empty() {
        api.update_issue(k.number, &serde_json::Value::Object(fields))
            .await
            .map_err(|e| (e, None))?;
        priority_now = c.priority.to_string();
    }
    let joined: Vec<&ClusterReport> = item
        .members
        .iter()
        .filter(|m| plan.joined.contains(&m.id))
        .copied()
        .collect();
    let comment = |reason: &body::Reason| body::comment(c, item.members, &joined, windows, reason);
    let text = match plan.kind {
        Kind::Escalate => comment(&body::Reason::Escalated {
            from: from.as_deref().unwrap_or(&current),
            new_entries: plan.new_entries,
        }),
        Kind::Reopen => comment(&body::Reason::Regression {
            closed_at: k.closed_at.as_deref(),
            new_entries: plan.new_entries,
            from: from.as_deref(),
        }),
        _ => comment(&body::Reason::NewEvidence {
            new_entries: plan.new_entries,
            previous_last_seen: item.prev.as_ref().and_then(|p| p.last_seen.as_deref()),
        }),
    };
    if let Err(e) = once::comment_once(api, k.number, &text).await {
        // The label / state change went through; the comment did not. Keep the old counts so
        // the next run comments.
        let partial = Entry {
            issue: k.number,
            priority: priority_now,
            count: item.prev.as_ref().map_or(0, |p| p.count),
            last_seen: item.prev.as_ref().and_then(|p| p.last_seen.clone()),
            clusters: item
                .prev
                .as_ref()
                .and_then(|p| p.clusters.clone())
                .unwrap_or_default(),
        };
        return Err((e, Some(partial)));
    }
    Ok(entry(k.number, priority_now))
}

/// The title with its priority token changed (`svc | P2 | x` → `svc | P0 | x`); `None` when the
/// title has no such token (a person retitled it: leave it).
fn retitle(title: &str, from: &str, to: &str) -> Option<String> {
    let re = regex::Regex::new(&format!(r"\b{from}\b")).ok()?;
    re.is_match(title)
        .then(|| re.replace(title, to).into_owned())
}

fn action(i: &Item<'_>) -> GithubAction {
    let c = i.cluster;
    GithubAction {
        fingerprint: c.id.clone(),
        clusters: i.ids.clone(),
        title: body::title(c),
        priority: c.priority,
        issue: i.issue,
        url: i.url.clone(),
        action: if i.unknown {
            IssueAction::Unknown
        } else {
            i.plan.kind.action()
        },
        status: i.status,
        priority_change: i.plan.from.map(|f| format!("P{f} → {}", c.priority)),
        detail: if i.detail.is_empty() {
            i.plan.detail.clone()
        } else {
            i.detail.clone()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retitles_only_the_priority_token() {
        assert_eq!(
            retitle("svc | P2 | boom P2P", "P2", "P0").as_deref(),
            Some("svc | P0 | boom P2P")
        );
        assert_eq!(retitle("renamed by a person", "P2", "P0"), None);
    }

    #[test]
    fn token_is_not_debug_printed() {
        let t = Token("ghp_secret".into());
        assert_eq!(format!("{t:?}"), "Token(***)");
    }
}
