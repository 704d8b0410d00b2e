//! The markdown worklog sink, in the spirit of the on-call worklogs it replaces: header,
//! executive summary of the top problems, what changed, GitHub, one section per urgent problem
//! (capped), a table of the rest (capped) and a summary by priority. The caps are
//! `sinks.worklog` settings; the JSON report has everything.

use std::fmt::Write as _;

use crate::config::WorklogConfig;
use crate::model::record::{
    ClusterReport, GithubAction, GithubReport, HttpReport, IssueAction, IssueStatus, LatencyReport,
    ProblemReport, Report, Status,
};
use crate::stages::sink::{SinkError, replace};

/// Problems at this priority or more urgent get a section (up to `sinks.worklog.sections`);
/// the rest are listed in a table.
const DETAILED_UP_TO: u8 = 2;
/// `200 × 1,204, 503 × 12`.
pub(crate) fn http_statuses(h: &HttpReport) -> String {
    h.statuses
        .iter()
        .map(|(s, n)| format!("{s} × {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `p50 1.2 ms · p95 … · max … (N requests)`.
pub(crate) fn latency(l: &LatencyReport) -> String {
    format!(
        "p50 {:.1} ms · p95 {:.1} ms · p99 {:.1} ms · max {:.1} ms ({} requests)",
        l.p50,
        l.p95,
        l.p99,
        l.max,
        thousands(l.count)
    )
}

/// One icon per priority that needs attention, so P0 and P1 are told apart at a glance.
fn marker(priority: &str) -> &'static str {
    match priority {
        "P0" => "🔴",
        "P1" => "🟠",
        "P2" => "🟡",
        "P3" => "🔵",
        _ => "🟢",
    }
}

pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn short_time(rfc: &str) -> String {
    if rfc.len() >= 19 {
        format!("{} {} UTC", &rfc[..10], &rfc[11..19])
    } else {
        rfc.to_string()
    }
}

pub(crate) fn counts(map: &std::collections::BTreeMap<String, u64>) -> String {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} ({})", thousands(**n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A markdown table cell: no pipes or newlines.
pub(crate) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Inline code that survives backticks in the text.
pub(crate) fn code(s: &str) -> String {
    let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.contains('`') {
        format!("`` {one} ``")
    } else {
        format!("`{one}`")
    }
}

/// Renders the worklog.
pub fn render(r: &Report, cfg: &WorklogConfig) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# GCP Log Gardener Worklog\n");
    if r.partial {
        let _ = writeln!(
            o,
            "> **PARTIAL RUN** — interrupted before the end of the input; counts cover only what was read.\n"
        );
    }
    let _ = writeln!(o, "**Generated:** {}  ", short_time(&r.generated_at));
    let services = if r.services.is_empty() {
        "none".to_string()
    } else {
        counts(&r.services)
    };
    let _ = writeln!(o, "**Services Analyzed:** {services}  ");
    match &r.time_range {
        Some(t) => {
            let _ = writeln!(
                o,
                "**Time Range:** {} → {}  ",
                short_time(&t.first),
                short_time(&t.last)
            );
        }
        None => {
            let _ = writeln!(o, "**Time Range:** no timestamps  ");
        }
    }
    let t = &r.totals;
    let _ = writeln!(
        o,
        "**Entries:** {} read, {} processed, {} skipped{} — {} clusters in {} problems  ",
        thousands(t.entries_read),
        thousands(t.entries_processed),
        thousands(t.entries_skipped),
        if t.utf8_repaired > 0 {
            format!(
                ", {} with invalid UTF-8 repaired",
                thousands(t.utf8_repaired)
            )
        } else {
            String::new()
        },
        thousands(t.clusters),
        thousands(r.problems.len() as u64)
    );
    if t.clusters_folded > 0 {
        let _ = writeln!(
            o,
            "**Cluster cap reached:** {} distinct messages past `aggregate.max_clusters` are counted together, one overflow cluster per service (the lowest severity and fewest entries went there; raise the cap to see them one by one)  ",
            thousands(t.clusters_folded)
        );
    }
    if t.clusters_unsampled > 0 {
        let _ = writeln!(
            o,
            "**Samples:** kept for the {} highest-priority clusters and every problem's lead; {} more clusters are counted without sample entries (`sinks.sampled_clusters`)  ",
            thousands(t.clusters - t.clusters_unsampled),
            thousands(t.clusters_unsampled)
        );
    }
    if let Some(rt) = &r.reference_time {
        let _ = writeln!(o, "**Windows counted back from:** {}  ", short_time(rt));
    }
    let tr = &r.trends;
    let _ = writeln!(
        o,
        "**Trends:** {} buckets, spike window {} · {}  ",
        tr.bucket,
        tr.recent,
        match (&tr.state, &tr.previous_run) {
            (None, _) => "no state (stateless run)".to_string(),
            (Some(p), None) => format!("state {p} (first run)"),
            (Some(p), Some(prev)) => format!("state {p}, previous run up to {}", short_time(prev)),
        }
    );
    let _ = writeln!(o, "**Inputs:** {}\n", r.inputs.join(", "));

    executive_summary(&mut o, r, cfg);
    if !r.bad_entries.is_empty() || !r.notes.is_empty() {
        input_problems(&mut o, r);
    }
    if r.clusters.is_empty() {
        return o;
    }
    changes(&mut o, r);
    if let Some(g) = &r.github {
        github_section(&mut o, g);
    }
    let _ = writeln!(o, "---\n");

    // One section per P0–P2 problem, up to the cap; the rest in a table.
    let detailed: Vec<&ProblemReport> = r
        .problems
        .iter()
        .filter(|p| p.priority.0 <= DETAILED_UP_TO && !p.expected)
        .take(cfg.sections)
        .collect();
    let by_id: std::collections::HashMap<&str, &ClusterReport> =
        r.clusters.iter().map(|c| (c.id.as_str(), c)).collect();
    for (n, p) in detailed.iter().enumerate() {
        problem_section(&mut o, n + 1, p, r, &by_id, cfg);
    }
    let rest: Vec<&ProblemReport> = r
        .problems
        .iter()
        .filter(|p| !detailed.iter().any(|d| d.id == p.id))
        .collect();
    if !rest.is_empty() {
        rest_table(&mut o, &rest, r, cfg);
    }
    summary_by_priority(&mut o, r);
    o
}

/// Problem counts by priority, the most urgent problems in a table, and "N more" per priority.
fn executive_summary(o: &mut String, r: &Report, cfg: &WorklogConfig) {
    let _ = writeln!(o, "## Executive Summary\n");
    if r.clusters.is_empty() {
        let _ = writeln!(o, "No log entries to analyse.\n");
        return;
    }
    let actionable: Vec<&ProblemReport> = r.problems.iter().filter(|p| !p.expected).collect();
    let expected = r.problems.len() - actionable.len();
    let by_p: Vec<String> = (0..=5)
        .filter_map(|p| {
            let n = actionable.iter().filter(|x| x.priority.0 == p).count();
            (n > 0).then(|| format!("{n} × P{p}"))
        })
        .collect();
    let _ = writeln!(
        o,
        "{} problems in {} clusters: {}{}.\n",
        thousands(r.problems.len() as u64),
        thousands(r.clusters.len() as u64),
        if by_p.is_empty() {
            "none actionable".into()
        } else {
            by_p.join(", ")
        },
        if expected > 0 {
            format!("; {expected} marked expected behaviour (reported, not filed)")
        } else {
            String::new()
        }
    );
    let top: Vec<&&ProblemReport> = actionable.iter().take(cfg.summary).collect();
    if top.is_empty() {
        return;
    }
    let issues = github_issues(r);
    let _ = writeln!(
        o,
        "| # | Priority | Problem | Services | Entries | Trend | GitHub |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for (i, p) in top.iter().enumerate() {
        let _ = writeln!(
            o,
            "| {} | **{}** | {} | {} | {} | {} | {} |",
            i + 1,
            p.priority,
            cell(&p.title),
            cell(&p.services.join(", ")),
            thousands(p.count),
            problem_trend(p),
            issues
                .get(p.id.as_str())
                .map_or("—".to_string(), |l| l.clone())
        );
    }
    let more: Vec<String> = (0..=5)
        .filter_map(|q| {
            let n = actionable
                .iter()
                .skip(top.len())
                .filter(|x| x.priority.0 == q)
                .count();
            (n > 0).then(|| format!("{n} × P{q}"))
        })
        .collect();
    if !more.is_empty() {
        let _ = writeln!(
            o,
            "\n{} more: {}.",
            actionable.len() - top.len(),
            more.join(", ")
        );
    }
    let _ = writeln!(o);
}

/// Problem id → a link to its GitHub issue (`[#12](url)`), when the GitHub sink ran.
fn github_issues(r: &Report) -> std::collections::HashMap<&str, String> {
    let Some(g) = &r.github else {
        return Default::default();
    };
    g.actions
        .iter()
        .filter_map(|a| {
            let n = a.issue?;
            let link = match &a.url {
                Some(u) => format!("[#{n}]({u})"),
                None => format!("#{n}"),
            };
            Some((a.fingerprint.as_str(), link))
        })
        .collect()
}

/// A problem's trend in a few words: `escalating ×4.1`, `spike ×4.1, seen before`, `new`,
/// `regressed`, or `—`.
pub(crate) fn problem_trend(p: &ProblemReport) -> String {
    match (p.escalation, p.status) {
        // A spike an earlier run counted (see `trend::judge`).
        (Some(f), Some(Status::Ongoing)) => format!("spike ×{f:.1}, seen before"),
        (Some(f), _) => format!("escalating ×{f:.1}"),
        (None, Some(s)) if s != Status::Ongoing => s.name().to_string(),
        _ => "—".into(),
    }
}

fn input_problems(o: &mut String, r: &Report) {
    let _ = writeln!(o, "### Input problems\n");
    for n in &r.notes {
        let _ = writeln!(o, "- {n}");
    }
    for b in r.bad_entries.iter().take(20) {
        let _ = writeln!(
            o,
            "- {} entry {} (byte {}): {}",
            b.input, b.entry, b.offset, b.reason
        );
    }
    if r.totals.entries_skipped > 20 {
        let _ = writeln!(
            o,
            "- … {} skipped entries in all",
            thousands(r.totals.entries_skipped)
        );
    }
    let _ = writeln!(o);
}

/// The remaining problems, one row each, capped.
fn rest_table(o: &mut String, rest: &[&ProblemReport], r: &Report, cfg: &WorklogConfig) {
    let _ = writeln!(o, "## 🟢 Other problems\n");
    let _ = writeln!(
        o,
        "| Priority | Problem | Clusters | Entries | Severity | Services | Problem id |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for p in rest.iter().take(cfg.table_rows) {
        let _ = writeln!(
            o,
            "| {}{} | {} | {} | {} | {} | {} | `{}` |",
            p.priority,
            if p.expected { " (expected)" } else { "" },
            cell(&p.title),
            p.clusters.len(),
            thousands(p.count),
            p.max_severity,
            cell(&p.services.join(", ")),
            p.id
        );
    }
    if rest.len() > cfg.table_rows {
        let entries: u64 = rest.iter().skip(cfg.table_rows).map(|p| p.count).sum();
        let _ = writeln!(
            o,
            "\n… and {} more problems ({} entries) in the JSON report.",
            thousands((rest.len() - cfg.table_rows) as u64),
            thousands(entries)
        );
    }
    let _ = writeln!(
        o,
        "\n_{} clusters in all; the JSON report lists every one._\n",
        thousands(r.clusters.len() as u64)
    );
}

fn summary_by_priority(o: &mut String, r: &Report) {
    let _ = writeln!(o, "## Summary by Priority\n");
    let _ = writeln!(o, "| Priority | Problems | Clusters | Entries |");
    let _ = writeln!(o, "|---|---|---|---|");
    for q in 0..=5 {
        let ps: Vec<_> = r.problems.iter().filter(|p| p.priority.0 == q).collect();
        if !ps.is_empty() {
            let _ = writeln!(
                o,
                "| P{q} | {} | {} | {} |",
                ps.len(),
                ps.iter().map(|p| p.clusters.len()).sum::<usize>(),
                thousands(ps.iter().map(|p| p.count).sum())
            );
        }
    }
    let _ = writeln!(o);
}

/// A status in words, with the escalation factor.
fn status_text(c: &ClusterReport, s: Status) -> String {
    match (&c.trend.escalation, s) {
        (Some(e), Status::Escalating) => format!("escalating ×{:.1}", e.factor),
        (Some(e), _) => format!("{}, escalating ×{:.1}", s.name(), e.factor),
        _ => s.name().to_string(),
    }
}

/// `1 entry`, `1,234 entries`.
pub(crate) fn entries(n: u64) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{} entries", thousands(n))
    }
}

/// Whole hours or minutes, for durations in the worklog.
fn span(secs: i64) -> String {
    if secs % 3600 == 0 || secs >= 10 * 3600 {
        format!("{}h", (secs + 1800) / 3600)
    } else {
        format!("{}m", (secs + 30) / 60)
    }
}

/// The cluster's trend in one line: status, spike verdict, history. `None` without a status.
pub(crate) fn trend_line(c: &ClusterReport) -> Option<String> {
    let t = &c.trend;
    let s = t.status?;
    let mut parts = vec![status_text(c, s)];
    if let Some(e) = &t.escalation {
        parts.push(format!(
            "{} entries in the last {} vs {:.1} expected from {} of baseline ({} entries)",
            thousands(e.recent),
            span(e.recent_secs),
            e.expected,
            span(e.baseline_secs),
            thousands(e.baseline)
        ));
    }
    if let Some(h) = &t.history {
        if let Some(f) = &h.first_seen {
            parts.push(format!("first seen {}", short_time(f)));
        }
        if s == Status::Regressed {
            if let Some(l) = &h.previous_last_seen {
                parts.push(format!("back after last being seen {}", short_time(l)));
            }
            if h.closed {
                parts.push("its issue was closed".into());
            }
        }
        parts.push(format!("{} over all runs", entries(h.total)));
        if let Some(p) = &h.previous_priority
            && *p != c.priority.to_string()
        {
            parts.push(format!("{p} → {} since the last run", c.priority));
        }
    }
    Some(parts.join(" · "))
}

/// "What changed since the last run", per problem: escalating, regressed, new; then
/// resolved-looking clusters.
fn changes(o: &mut String, r: &Report) {
    let actionable = || r.problems.iter().filter(|p| !p.expected);
    let stateful = r.trends.state.is_some();
    // With a state, a spike whose entries an earlier run already counted changed nothing (its
    // status is then `ongoing`, see `trend::judge`).
    let escalating: Vec<&ProblemReport> = actionable()
        .filter(|p| p.escalation.is_some())
        .filter(|p| !stateful || p.status != Some(Status::Ongoing))
        .collect();
    let with = |s: Status| -> Vec<&ProblemReport> {
        actionable()
            .filter(|p| p.status == Some(s) && p.escalation.is_none())
            .collect()
    };
    let (new, regressed) = (with(Status::New), with(Status::Regressed));
    if !stateful && escalating.is_empty() {
        return;
    }
    let _ = writeln!(o, "### What changed since the last run\n");
    let first_run = stateful && r.trends.previous_run.is_none();
    if first_run {
        let _ = writeln!(
            o,
            "First run with this state ({}): every problem is new.\n",
            r.trends.state.as_deref().unwrap_or_default()
        );
    }
    let list = |o: &mut String,
                title: &str,
                ps: &[&ProblemReport],
                extra: &dyn Fn(&ProblemReport) -> String| {
        if ps.is_empty() {
            return;
        }
        let _ = writeln!(o, "**{title} ({}):**\n", ps.len());
        for p in ps.iter().take(LISTED) {
            let _ = writeln!(
                o,
                "- **{}** {} — {}{}",
                p.priority,
                p.title,
                entries(p.count),
                extra(p)
            );
        }
        if ps.len() > LISTED {
            let _ = writeln!(
                o,
                "- … and {} more (the JSON report lists them all)",
                ps.len() - LISTED
            );
        }
        let _ = writeln!(o);
    };
    list(o, "Escalating", &escalating, &|p| {
        p.escalation
            .map(|f| format!(" · ×{f:.1}"))
            .unwrap_or_default()
    });
    list(o, "Regressed", &regressed, &|_| {
        " · back after it had gone or its issue was closed".into()
    });
    if !first_run {
        list(o, "New", &new, &|p| {
            p.first_seen
                .as_deref()
                .map(|f| format!(" · first seen {}", short_time(f)))
                .unwrap_or_default()
        });
    }
    if !r.trends.resolved.is_empty() {
        let _ = writeln!(
            o,
            "**Resolved-looking clusters ({}):** not seen for {} or more\n",
            r.trends.resolved.len(),
            r.trends.resolved_after
        );
        for x in r.trends.resolved.iter().take(LISTED) {
            let _ = writeln!(
                o,
                "- **{}** {} — last seen {} ({} over all runs)",
                x.priority,
                crate::model::text::words(&x.template, 90),
                short_time(&x.last_seen),
                entries(x.total)
            );
        }
        if r.trends.resolved.len() > LISTED {
            let _ = writeln!(
                o,
                "- … and {} more (the JSON report lists them all)",
                r.trends.resolved.len() - LISTED
            );
        }
        let _ = writeln!(o);
    }
    if stateful
        && !first_run
        && escalating.is_empty()
        && new.is_empty()
        && regressed.is_empty()
        && r.trends.resolved.is_empty()
    {
        let _ = writeln!(o, "Nothing new, escalating, regressed or resolved.\n");
    }
}

/// Clusters listed one by one in each "what changed" list.
const LISTED: usize = 10;

/// What an action was, in the seeds' words.
fn action_taken(a: &GithubAction) -> String {
    let (todo, done) = match a.action.name() {
        "create" => ("create new issue", "Created new issue"),
        "comment" => ("add latest logs", "Updated existing issue with latest logs"),
        "escalate" => ("escalate existing issue", "Escalated existing issue"),
        "reopen" => ("reopen closed issue", "Reopened closed issue (regression)"),
        "unchanged" => ("", "No change"),
        "skip" => ("", "No issue (not filed)"),
        _ => ("decide", "Not decided"),
    };
    match a.status.name() {
        "planned" => format!("Would {todo}"),
        "deferred" => format!("Deferred to next run: {todo}"),
        "failed" => format!("FAILED to {todo}"),
        _ => done.to_string(),
    }
}

/// Deferred actions listed one by one; the rest are counted.
const DEFERRED_LISTED: usize = 5;

/// The "GitHub issue processing results" section.
fn github_section(o: &mut String, g: &GithubReport) {
    let _ = writeln!(o, "## 🎯 GitHub Issue Processing Results\n");
    let mode = match g.mode.name() {
        "dry-run" => "**DRY RUN** — planned, nothing was written",
        "no-token" => "**PLAN ONLY** — no GITHUB_TOKEN, nothing was sent",
        _ => "live",
    };
    let _ = writeln!(o, "**Repository:** {} ({mode})  ", g.repo);
    let mut tally: Vec<(String, usize)> = Vec::new();
    for a in &g.actions {
        let key = if matches!(a.status, IssueStatus::None | IssueStatus::Done) {
            a.action.to_string()
        } else {
            format!("{} {}", a.action, a.status)
        };
        match tally.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => tally.push((key, 1)),
        }
    }
    let _ = writeln!(
        o,
        "**Actions:** {}\n",
        if tally.is_empty() {
            "none".to_string()
        } else {
            tally
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(" · ")
        }
    );
    if let Some(s) = &g.stopped {
        let _ = writeln!(o, "> **Stopped early:** {}\n", cell(s));
    }
    for n in &g.notes {
        let _ = writeln!(o, "- {n}");
    }
    if !g.notes.is_empty() {
        let _ = writeln!(o);
    }
    // Clusters below the threshold are counted above, not listed; long tails of deferred
    // actions are cut.
    let mut deferred = 0;
    let shown: Vec<&GithubAction> = g
        .actions
        .iter()
        .filter(|a| a.action != IssueAction::Skip || a.detail.starts_with("expected"))
        .filter(|a| {
            if a.status == IssueStatus::Deferred {
                deferred += 1;
                deferred <= DEFERRED_LISTED
            } else {
                true
            }
        })
        .collect();
    if !shown.is_empty() {
        let _ = writeln!(
            o,
            "| Problem | Priority | Issue | Action Taken | Priority Change | Details |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|");
        for a in shown {
            let issue = match (a.issue, &a.url) {
                (Some(n), Some(u)) => format!("[#{n}]({u})"),
                (Some(n), None) => format!("#{n}"),
                _ => "—".into(),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {issue} | {} | {} | {} |",
                cell(&a.title),
                a.priority,
                action_taken(a),
                a.priority_change.as_deref().unwrap_or("—"),
                cell(&a.detail)
            );
        }
        let _ = writeln!(o);
    }
    if deferred > DEFERRED_LISTED {
        let _ = writeln!(
            o,
            "… and {} more actions deferred to the next run (the JSON report lists them all).\n",
            deferred - DEFERRED_LISTED
        );
    }
}

/// Window counts in configured order (`order` is the report's window list).
pub(crate) fn window_line(c: &ClusterReport, order: &[String]) -> String {
    order
        .iter()
        .filter_map(|w| c.windows.get(w).map(|v| format!("{w}: {}", thousands(*v))))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One problem: what it is, its evidence, its member clusters, windows and series, HTTP, and
/// one compact sample of its lead.
fn problem_section(
    o: &mut String,
    n: usize,
    p: &ProblemReport,
    r: &Report,
    by_id: &std::collections::HashMap<&str, &ClusterReport>,
    cfg: &WorklogConfig,
) {
    let prio = p.priority.to_string();
    let _ = writeln!(
        o,
        "## {} PROBLEM {n}: {} ({prio})\n",
        marker(&prio),
        p.title
    );
    let members: Vec<&ClusterReport> = p
        .clusters
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).copied())
        .collect();
    let Some(lead) = members.first() else {
        return;
    };
    let _ = writeln!(
        o,
        "**Priority:** {prio} (rule: {}) · **Severity:** {} · **Entries:** {} · **Trend:** {}  ",
        p.rule,
        p.max_severity,
        thousands(p.count),
        problem_trend(p)
    );
    let range = match (&p.first_seen, &p.last_seen) {
        (Some(f), Some(l)) => format!(" · **Time Range:** {} → {}", short_time(f), short_time(l)),
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "**Windows:** {}{range}  ",
        problem_windows(p, &r.windows)
    );
    let mut impact = vec![format!("services: {}", p.services.join(", "))];
    if p.traces > 0 {
        impact.push(format!("~{} requests (traces)", thousands(p.traces)));
    }
    if p.revisions > 1 {
        impact.push(format!("{} revisions", p.revisions));
    }
    if !p.http_statuses.is_empty() {
        let statuses: Vec<String> = p
            .http_statuses
            .iter()
            .map(|(s, n)| format!("{s} × {}", thousands(*n)))
            .collect();
        impact.push(format!("HTTP {}", statuses.join(", ")));
        if let Some(l) = members
            .iter()
            .find_map(|c| c.http.as_ref().and_then(|h| h.latency_ms.as_ref()))
        {
            impact.push(format!("latency {}", latency(l)));
        }
    }
    let _ = writeln!(o, "**Impact:** {}  ", impact.join(" · "));
    if let Some(t) = trend_line(lead).filter(|_| informative(lead)) {
        let _ = writeln!(o, "**Lead trend:** {t}  ");
    }
    if !lead.trend.sparkline.is_empty() {
        let _ = writeln!(o, "**Series (lead):** `{}`  ", lead.trend.sparkline);
    }
    let _ = writeln!(
        o,
        "**Evidence:** {} · **Problem id:** `{}`\n",
        p.summary, p.id
    );
    if members.len() > 1 {
        member_table(o, &members, cfg.members);
    } else {
        let _ = writeln!(
            o,
            "**Pattern:** {} ({}, {}, `{}`)\n",
            code(&lead.template),
            lead.service,
            lead.max_severity,
            lead.id
        );
    }
    if let Some(s) = lead
        .samples
        .first()
        .and_then(|s| serde_json::from_str(s.get()).ok())
    {
        let (head, text) = compact_sample(&s, cfg.sample_lines);
        let fence = if text.contains("```") { "~~~~" } else { "```" };
        let _ = writeln!(
            o,
            "**Sample (lead, newest):** {head}\n\n{fence}json\n{text}\n{fence}\n"
        );
    }
    let _ = writeln!(o, "---\n");
}

/// A trend worth a line: anything but a steady cluster no earlier run knew of.
fn informative(c: &ClusterReport) -> bool {
    c.trend.status.is_some_and(|s| s != Status::Ongoing) || c.trend.history.is_some()
}

/// Window counts of a problem in configured order.
fn problem_windows(p: &ProblemReport, order: &[String]) -> String {
    order
        .iter()
        .filter_map(|w| p.windows.get(w).map(|v| format!("{w}: {}", thousands(*v))))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A problem's member clusters, the lead first, at most `max` rows.
fn member_table(o: &mut String, members: &[&ClusterReport], max: usize) {
    let _ = writeln!(
        o,
        "| Cluster | Entries | Severity | Service | First → last seen | Fingerprint |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for (i, c) in members.iter().take(max).enumerate() {
        let range = match (&c.first_seen, &c.last_seen) {
            (Some(f), Some(l)) => format!("{} → {}", clock(f), clock(l)),
            _ => "—".into(),
        };
        let _ = writeln!(
            o,
            "| {}{} | {} | {} | {} | {range} | `{}` |",
            if i == 0 { "**lead** " } else { "" },
            cell(&crate::model::text::words(&c.template, 90)),
            thousands(c.count),
            c.max_severity,
            cell(&c.service),
            c.id
        );
    }
    if members.len() > max {
        let rest: u64 = members[max..].iter().map(|c| c.count).sum();
        let _ = writeln!(
            o,
            "| … and {} more clusters | {} | | | | |",
            members.len() - max,
            thousands(rest)
        );
    }
    let _ = writeln!(o);
}

/// `2025-09-14T03:44:48.689Z` → `09-14 03:44`.
fn clock(rfc: &str) -> String {
    if rfc.len() >= 16 {
        format!("{} {}", &rfc[5..10], &rfc[11..16])
    } else {
        rfc.to_string()
    }
}

/// Strings longer than this are cut in the worklog's sample.
const SAMPLE_STRING: usize = 160;

/// A sample entry for the worklog: one line of where and when (time, severity, revision,
/// insertId, trace), then its payload (`jsonPayload`, `textPayload`, `httpRequest`,
/// `protoPayload`) pretty-printed with long strings cut, at most `lines` lines.
fn compact_sample(v: &serde_json::Value, lines: usize) -> (String, String) {
    let text = |path: &[&str]| {
        let mut x = v;
        for k in path {
            x = x.get(k)?;
        }
        x.as_str().map(str::to_string)
    };
    let head: Vec<String> = [
        text(&["timestamp"]),
        text(&["severity"]),
        text(&["resource", "labels", "revision_name"])
            .or_else(|| text(&["resource", "labels", "service_name"])),
        text(&["insertId"]).map(|i| format!("insertId `{i}`")),
        text(&["trace"]).map(|t| format!("trace `{}`", t.rsplit('/').next().unwrap_or(&t))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut payload = serde_json::Map::new();
    for k in ["jsonPayload", "textPayload", "httpRequest", "protoPayload"] {
        if let Some(x) = v.get(k) {
            payload.insert(k.to_string(), cut_strings(x));
        }
    }
    let body = if payload.is_empty() {
        cut_strings(v)
    } else {
        serde_json::Value::Object(payload)
    };
    let mut pretty = String::new();
    pretty_json(&body, 0, &mut pretty);
    let all: Vec<&str> = pretty.lines().collect();
    let shown = if all.len() <= lines {
        pretty
    } else {
        let mut out = all[..lines.saturating_sub(1)].join("\n");
        let _ = write!(
            out,
            "\n  … {} more lines (the JSON report has the whole entry)",
            all.len() + 1 - lines
        );
        out
    };
    (head.join(" · "), shown)
}

/// Objects and arrays whose compact form fits on this many characters stay on one line.
const INLINE: usize = 100;

/// Pretty JSON that keeps small objects and arrays on one line.
fn pretty_json(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value;
    let compact = serde_json::to_string(v).unwrap_or_default();
    let (open, close, items): (char, char, Vec<(Option<&String>, &Value)>) = match v {
        Value::Object(m) if !m.is_empty() => {
            ('{', '}', m.iter().map(|(k, v)| (Some(k), v)).collect())
        }
        Value::Array(a) if !a.is_empty() => ('[', ']', a.iter().map(|v| (None, v)).collect()),
        _ => {
            out.push_str(&compact);
            return;
        }
    };
    if compact.chars().count() + indent <= INLINE {
        out.push_str(&compact);
        return;
    }
    out.push(open);
    for (i, (k, x)) in items.iter().enumerate() {
        out.push('\n');
        out.push_str(&" ".repeat(indent + 2));
        if let Some(k) = k {
            out.push_str(&serde_json::to_string(k).unwrap_or_default());
            out.push_str(": ");
        }
        pretty_json(x, indent + 2, out);
        if i + 1 < items.len() {
            out.push(',');
        }
    }
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    out.push(close);
}

/// Strings longer than [`SAMPLE_STRING`] characters cut, with their length.
fn cut_strings(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), cut_strings(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(cut_strings).collect()),
        Value::String(s) if s.chars().count() > SAMPLE_STRING => {
            let cut: String = s.chars().take(SAMPLE_STRING).collect();
            Value::String(format!("{cut}… ({} characters)", s.chars().count()))
        }
        other => other.clone(),
    }
}

pub fn write(report: &Report, path: &str, cfg: &WorklogConfig) -> Result<(), SinkError> {
    let err = |error| SinkError {
        sink: "report",
        path: path.to_string(),
        error,
    };
    let text = render(report, cfg);
    replace(path, false, |w| w.write_all(text.as_bytes())).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_cells() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(code("a `b`"), "`` a `b` ``");
    }
}
