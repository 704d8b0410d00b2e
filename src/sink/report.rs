//! The markdown worklog sink, in the spirit of the on-call worklogs it replaces: header,
//! executive summary, one section per cluster by priority, and a summary table.

use std::fmt::Write as _;
use std::io::Write;

use crate::record::{
    ClusterReport, GithubAction, GithubReport, HttpReport, LatencyReport, Report, Status,
};
use crate::sink::{SinkError, open};

/// Clusters at this priority or more urgent get a full section; the rest are listed in a table.
const DETAILED_UP_TO: u8 = 4;
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

/// A sample longer than this is cut in the worklog (the JSON report keeps it whole).
const SAMPLE_MAX: usize = 6000;

fn marker(priority: &str) -> &'static str {
    match priority {
        "P0" | "P1" => "🔴",
        "P2" | "P3" => "🟡",
        _ => "🟢",
    }
}

fn level(priority: &str) -> u8 {
    priority.trim_start_matches('P').parse().unwrap_or(5)
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
pub fn render(r: &Report) -> String {
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
        "**Entries:** {} read, {} processed, {} skipped{} — {} clusters  ",
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
        thousands(t.clusters)
    );
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

    // Executive summary.
    let _ = writeln!(o, "## Executive Summary\n");
    let actionable: Vec<&ClusterReport> = r.clusters.iter().filter(|c| !c.expected).collect();
    let expected = r.clusters.len() - actionable.len();
    if r.clusters.is_empty() {
        let _ = writeln!(o, "No log entries to analyse.\n");
    } else {
        let by_p: Vec<String> = (0..=5)
            .filter_map(|p| {
                let n = actionable
                    .iter()
                    .filter(|c| level(&c.priority) == p)
                    .count();
                (n > 0).then(|| format!("{n} × P{p}"))
            })
            .collect();
        let _ = writeln!(
            o,
            "{} clusters found: {}{}.\n",
            r.clusters.len(),
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
        let top: Vec<&&ClusterReport> = actionable
            .iter()
            .filter(|c| level(&c.priority) <= 2)
            .take(10)
            .collect();
        if !top.is_empty() {
            let _ = writeln!(o, "Needs attention first:\n");
            for (i, c) in top.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "{}. **{}** {} — {} entries ({}){}",
                    i + 1,
                    c.priority,
                    code(&crate::prioritize::summary(&c.template, 100)),
                    thousands(c.count),
                    window_line(c, &r.windows),
                    match c.trend.status {
                        Some(s) if s != Status::Ongoing => format!(" · **{}**", status_text(c, s)),
                        _ => String::new(),
                    }
                );
            }
            let _ = writeln!(o);
        }
        changes(&mut o, r);
    }
    if !r.bad_entries.is_empty() || !r.notes.is_empty() {
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
        if t.entries_skipped > 20 {
            let _ = writeln!(
                o,
                "- … {} skipped entries in all",
                thousands(t.entries_skipped)
            );
        }
        let _ = writeln!(o);
    }
    if !r.related.is_empty() {
        related_section(&mut o, r);
    }
    let _ = writeln!(o, "---\n");

    // One section per cluster.
    let mut n = 0;
    for c in r
        .clusters
        .iter()
        .filter(|c| level(&c.priority) <= DETAILED_UP_TO && !c.expected)
    {
        n += 1;
        section(&mut o, n, c, &r.windows);
    }

    let rest: Vec<&ClusterReport> = r
        .clusters
        .iter()
        .filter(|c| level(&c.priority) > DETAILED_UP_TO || c.expected)
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(o, "## 🟢 Low priority and expected behaviour\n");
        let _ = writeln!(
            o,
            "| Priority | Pattern | Count | Severity | Service | Expected | Fingerprint |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|");
        for c in rest {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | `{}` |",
                c.priority,
                cell(&crate::prioritize::summary(&c.template, 100)),
                thousands(c.count),
                c.max_severity,
                cell(&c.service),
                if c.expected { "yes" } else { "" },
                c.id
            );
        }
        let _ = writeln!(o);
    }

    if let Some(g) = &r.github {
        github_section(&mut o, g);
    }

    // Summary by priority.
    let _ = writeln!(o, "## Summary by Priority\n");
    let _ = writeln!(o, "| Priority | Clusters | Entries |");
    let _ = writeln!(o, "|---|---|---|");
    for p in 0..=5 {
        let cs: Vec<_> = r
            .clusters
            .iter()
            .filter(|c| level(&c.priority) == p)
            .collect();
        if !cs.is_empty() {
            let _ = writeln!(
                o,
                "| P{p} | {} | {} |",
                cs.len(),
                thousands(cs.iter().map(|c| c.count).sum())
            );
        }
    }
    let _ = writeln!(o);
    o
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
fn entries(n: u64) -> String {
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
            && *p != c.priority
        {
            parts.push(format!("{p} → {} since the last run", c.priority));
        }
    }
    Some(parts.join(" · "))
}

/// "What changed since the last run": new, escalating, regressed, resolved-looking.
fn changes(o: &mut String, r: &Report) {
    let with = |s: Status| -> Vec<&ClusterReport> {
        r.clusters
            .iter()
            .filter(|c| c.trend.status == Some(s) && !c.expected)
            .collect()
    };
    let escalating: Vec<&ClusterReport> = r
        .clusters
        .iter()
        .filter(|c| c.trend.escalation.is_some() && !c.expected)
        .collect();
    let (new, regressed) = (with(Status::New), with(Status::Regressed));
    let stateful = r.trends.state.is_some();
    if !stateful && escalating.is_empty() {
        return;
    }
    let _ = writeln!(o, "### What changed since the last run\n");
    if stateful && r.trends.previous_run.is_none() {
        let _ = writeln!(
            o,
            "First run with this state ({}): every cluster is new.\n",
            r.trends.state.as_deref().unwrap_or_default()
        );
    }
    let list = |o: &mut String,
                title: &str,
                cs: &[&ClusterReport],
                extra: &dyn Fn(&ClusterReport) -> String| {
        if cs.is_empty() {
            return;
        }
        let _ = writeln!(o, "**{title} ({}):**\n", cs.len());
        for c in cs.iter().take(LISTED) {
            let _ = writeln!(
                o,
                "- **{}** {} — {}{}",
                c.priority,
                code(&crate::prioritize::summary(&c.template, 90)),
                entries(c.count),
                extra(c)
            );
        }
        if cs.len() > LISTED {
            let _ = writeln!(
                o,
                "- … and {} more (the JSON report lists them all)",
                cs.len() - LISTED
            );
        }
        let _ = writeln!(o);
    };
    list(o, "Escalating", &escalating, &|c| {
        c.trend
            .escalation
            .as_ref()
            .map(|e| {
                format!(
                    " · ×{:.1}: {} in the last {} vs {:.1} expected",
                    e.factor,
                    thousands(e.recent),
                    span(e.recent_secs),
                    e.expected
                )
            })
            .unwrap_or_default()
    });
    list(o, "Regressed", &regressed, &|c| {
        let h = c.trend.history.as_ref();
        let mut s = String::new();
        if let Some(l) = h.and_then(|h| h.previous_last_seen.as_deref()) {
            s.push_str(&format!(" · back after last being seen {}", short_time(l)));
        }
        if h.is_some_and(|h| h.closed) {
            s.push_str(" · its issue was closed");
        }
        s
    });
    if r.trends.previous_run.is_some() {
        list(o, "New", &new, &|c| {
            c.first_seen
                .as_deref()
                .map(|f| format!(" · first seen {}", short_time(f)))
                .unwrap_or_default()
        });
    }
    if !r.trends.resolved.is_empty() {
        let _ = writeln!(
            o,
            "**Resolved-looking ({}):** not seen for {} or more\n",
            r.trends.resolved.len(),
            r.trends.resolved_after
        );
        for x in r.trends.resolved.iter().take(LISTED) {
            let _ = writeln!(
                o,
                "- **{}** {} — last seen {} ({} over all runs)",
                x.priority,
                code(&crate::prioritize::summary(&x.template, 90)),
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
        && r.trends.previous_run.is_some()
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
    let (todo, done) = match a.action.as_str() {
        "create" => ("create new issue", "Created new issue"),
        "comment" => ("add latest logs", "Updated existing issue with latest logs"),
        "escalate" => ("escalate existing issue", "Escalated existing issue"),
        "reopen" => ("reopen closed issue", "Reopened closed issue (regression)"),
        "unchanged" => ("", "No change"),
        "skip" => ("", "No issue (not filed)"),
        _ => ("decide", "Not decided"),
    };
    match a.status.as_str() {
        "planned" => format!("Would {todo}"),
        "deferred" => format!("Deferred to next run: {todo}"),
        "failed" => format!("FAILED to {todo}"),
        _ => done.to_string(),
    }
}

/// Deferred actions listed one by one; the rest are counted.
const DEFERRED_LISTED: usize = 10;

/// The "GitHub issue processing results" section.
fn github_section(o: &mut String, g: &GithubReport) {
    let _ = writeln!(o, "## 🎯 GitHub Issue Processing Results\n");
    let mode = match g.mode.as_str() {
        "dry-run" => "**DRY RUN** — planned, nothing was written",
        "no-token" => "**PLAN ONLY** — no GITHUB_TOKEN, nothing was sent",
        _ => "live",
    };
    let _ = writeln!(o, "**Repository:** {} ({mode})  ", g.repo);
    let mut tally: Vec<(String, usize)> = Vec::new();
    for a in &g.actions {
        let key = if a.status == "none" || a.status == "done" {
            a.action.clone()
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
        .filter(|a| a.action != "skip" || a.detail.starts_with("expected"))
        .filter(|a| {
            if a.status == "deferred" {
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
            "| Cluster | Priority | Issue | Action Taken | Priority Change | Details |"
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

/// The "Related clusters" section: pairs of clusters with their evidence, the likely cause
/// first.
fn related_section(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "## 🔗 Related Clusters
"
    );
    let _ = writeln!(
        o,
        "Clusters that share trace ids (one request touched both) or began together in different services; the one that came first is the likely cause.\n"
    );
    let name = |id: &str| match r.clusters.iter().find(|c| c.id == id) {
        Some(c) => format!(
            "**{}** {} ({}, `{id}`)",
            c.priority,
            code(&crate::prioritize::summary(&c.template, 70)),
            c.service
        ),
        None => format!("`{id}`"),
    };
    for x in &r.related {
        let mut evidence = Vec::new();
        if x.shared_traces > 0 {
            let count = if x.exact {
                format!("{} shared traces", thousands(x.shared_traces))
            } else {
                format!(
                    "{} shared traces among those sampled (about {} in all)",
                    thousands(x.shared_traces),
                    thousands(x.estimated_shared_traces)
                )
            };
            evidence.push(format!(
                "{count}; in {} of them the first cluster's entry came earlier, in {} the second's",
                thousands(x.first_led),
                thousands(x.then_led)
            ));
        }
        if x.started_together {
            evidence.push("began together".into());
        }
        let gap = x.start_gap_ms as f64 / 1000.0;
        evidence.push(if gap >= 0.0 {
            format!("first entries {gap:.1} s apart")
        } else {
            format!("the second began {:.1} s earlier", -gap)
        });
        let _ = writeln!(
            o,
            "- {} → {}: {}",
            name(&x.first),
            name(&x.then),
            evidence.join("; ")
        );
    }
    let _ = writeln!(o);
}

/// Window counts in configured order (`order` is the report's window list).
pub(crate) fn window_line(c: &ClusterReport, order: &[String]) -> String {
    order
        .iter()
        .filter_map(|w| c.windows.get(w).map(|v| format!("{w}: {}", thousands(*v))))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn section(o: &mut String, n: usize, c: &ClusterReport, windows: &[String]) {
    let _ = writeln!(
        o,
        "## {} CLUSTER {n}: {} ({})\n",
        marker(&c.priority),
        crate::prioritize::summary(&c.template, 90),
        c.priority
    );
    let _ = writeln!(o, "**Title:** {}  ", c.title);
    let _ = writeln!(o, "**Log Pattern:** {}  ", code(&c.template));
    let _ = writeln!(o, "**Priority:** {} (rule: {})  ", c.priority, c.rule);
    let _ = writeln!(o, "**Severity:** {}  ", counts(&c.severities));
    let _ = writeln!(o, "**Count:** {}  ", thousands(c.count));
    let _ = writeln!(o, "**Windows:** {}  ", window_line(c, windows));
    if !c.trend.sparkline.is_empty() {
        let _ = writeln!(o, "**Series:** `{}`  ", c.trend.sparkline);
    }
    if let Some(t) = trend_line(c) {
        let _ = writeln!(o, "**Trend:** {t}  ");
    }
    if let (Some(f), Some(l)) = (&c.first_seen, &c.last_seen) {
        let _ = writeln!(o, "**Time Range:** {} → {}  ", short_time(f), short_time(l));
    }
    let _ = writeln!(o, "**Service:** {}  ", c.service);
    if !c.revisions.is_empty() {
        let _ = writeln!(o, "**Revisions:** {}  ", counts(&c.revisions));
    }
    if !c.locations.is_empty() {
        let locs: Vec<String> = {
            let mut v: Vec<_> = c.locations.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            v.iter()
                .take(3)
                .map(|(k, n)| format!("`{k}` ({})", thousands(**n)))
                .collect()
        };
        let more = c.locations.len().saturating_sub(3);
        let _ = writeln!(
            o,
            "**Location:** {}{}  ",
            locs.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    if let Some(h) = &c.http {
        let _ = writeln!(o, "**HTTP Statuses:** {}  ", http_statuses(h));
        if let Some(l) = &h.latency_ms {
            let _ = writeln!(o, "**Latency:** {}  ", latency(l));
        }
    }
    let _ = writeln!(o, "**Fingerprint:** `{}`\n", c.id);
    if let Some(s) = c.samples.first() {
        let mut text = serde_json::to_string_pretty(s).unwrap_or_default();
        if text.len() > SAMPLE_MAX {
            let mut end = SAMPLE_MAX;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str("\n… (cut; the JSON report has the whole entry)");
        }
        let fence = if text.contains("```") { "~~~~" } else { "```" };
        let _ = writeln!(o, "### Sample Log Entry\n\n{fence}json\n{text}\n{fence}\n");
    }
    let _ = writeln!(o, "---\n");
}

pub fn write(report: &Report, path: &str) -> Result<(), SinkError> {
    let err = |error| SinkError {
        sink: "report",
        path: path.to_string(),
        error,
    };
    let mut w = open(path).map_err(err)?;
    w.write_all(render(report).as_bytes()).map_err(err)?;
    w.flush().map_err(err)
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
