//! What the bot writes on GitHub: issue titles, bodies and comments, and the hidden marker that
//! ties an issue to its problem and the problem's clusters. Everything here is built from the
//! redacted report.
//!
//! The marker is an HTML comment, invisible on GitHub, on the first line of every body and
//! comment the bot writes:
//!
//! ```text
//! <!-- log-gardener:fingerprint=01044d406d9d7d43 count=76 last_seen=2025-09-14T03:55:08Z clusters=2fc435b3783d5a2c,38dea976b6c2c70f -->
//! ```
//!
//! `fingerprint` is the problem id; `clusters` lists its member clusters. `count` and
//! `last_seen` record what that body or comment reported, so a run that lost its state file can
//! still tell new evidence from evidence already posted. Markers written before problems
//! existed name one cluster and have no `clusters`: such an issue is adopted by the problem that
//! cluster belongs to.

use std::fmt::Write as _;

use crate::model::record::ClusterReport;
use crate::stages::sink::report::{
    code, counts, http_statuses, latency, short_time, thousands, window_line,
};

/// GitHub's limit on a title.
const TITLE_MAX: usize = 256;
/// GitHub's limit on a body or comment is 65,536 characters; stay below it.
const BODY_MAX: usize = 60_000;
/// A sample longer than this is cut.
const SAMPLE_MAX: usize = 6_000;

/// Member fingerprints a marker lists at most.
pub const MARKER_CLUSTERS: usize = 200;

/// The hidden marker of a body or comment: the problem id (`fingerprint`), what was reported,
/// and the member clusters' fingerprints.
pub fn marker(
    fingerprint: &str,
    count: u64,
    last_seen: Option<&str>,
    clusters: &[String],
) -> String {
    let listed: Vec<&str> = clusters
        .iter()
        .take(MARKER_CLUSTERS)
        .map(String::as_str)
        .collect();
    format!(
        "<!-- log-gardener:fingerprint={fingerprint} count={count} last_seen={} clusters={} -->",
        last_seen.unwrap_or("-"),
        if listed.is_empty() {
            "-".to_string()
        } else {
            listed.join(",")
        }
    )
}

/// A parsed marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub fingerprint: String,
    pub count: Option<u64>,
    pub last_seen: Option<String>,
    /// Member clusters; `None` in markers from before problems (the fingerprint was the one
    /// cluster).
    pub clusters: Option<Vec<String>>,
}

/// The first marker in a text.
pub fn parse_marker(text: &str) -> Option<Marker> {
    let start = text.find("<!-- log-gardener:")? + "<!-- log-gardener:".len();
    let rest = &text[start..];
    let inner = &rest[..rest.find("-->")?];
    let mut m = Marker {
        fingerprint: String::new(),
        count: None,
        last_seen: None,
        clusters: None,
    };
    for kv in inner.split_whitespace() {
        match kv.split_once('=') {
            Some(("fingerprint", v)) => m.fingerprint = v.to_string(),
            Some(("count", v)) => m.count = v.parse().ok(),
            Some(("last_seen", v)) if v != "-" => m.last_seen = Some(v.to_string()),
            Some(("clusters", v)) => {
                m.clusters = Some(
                    v.split(',')
                        .filter(|x| x.len() == 16 && x.bytes().all(|b| b.is_ascii_hexdigit()))
                        .map(str::to_string)
                        .collect(),
                )
            }
            _ => {}
        }
    }
    let ok = m.fingerprint.len() == 16 && m.fingerprint.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(m)
}

/// The issue title: the cluster's title (seeds' style, `service | P0 | summary`), one line,
/// within GitHub's limit.
pub fn title(c: &ClusterReport) -> String {
    let one = c.title.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= TITLE_MAX {
        return one;
    }
    let cut: String = one.chars().take(TITLE_MAX - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The body of a new issue for a problem (`c`, see [`super::problem`]) and its members.
pub fn issue_body(
    c: &ClusterReport,
    members: &[&ClusterReport],
    evidence: &str,
    windows: &[String],
) -> String {
    let mut o = String::new();
    let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    let _ = writeln!(
        o,
        "{}\n",
        marker(&c.id, c.count, c.last_seen.as_deref(), &ids)
    );
    let _ = writeln!(
        o,
        "**{}** · {} · `{}` — filed by Log Gardener from Cloud Logging entries.\n",
        c.priority, c.max_severity, c.service
    );
    let _ = writeln!(
        o,
        "### Log pattern (lead)\n\n{}\n",
        fenced("text", &c.template)
    );
    if members.len() > 1 {
        let _ = writeln!(o, "**Evidence:** {}\n", evidence);
        member_table(&mut o, members);
    }
    facts(&mut o, c, windows, true);
    sample(&mut o, c, "Sample entry (newest)");
    let _ = writeln!(
        o,
        "<sub>Log Gardener keeps this issue in step with the logs: it comments when new entries arrive, raises the priority label when the cluster grows, and reopens the issue if the problem comes back after it was closed. It never lowers a priority or closes an issue. The hidden marker at the top identifies the problem and its clusters; please keep it.</sub>"
    );
    cap(o)
}

/// Why a comment is written.
pub enum Reason<'a> {
    /// New entries since the last report.
    NewEvidence {
        new_entries: Option<u64>,
        previous_last_seen: Option<&'a str>,
    },
    /// The priority rose.
    Escalated {
        from: &'a str,
        new_entries: Option<u64>,
    },
    /// The cluster came back after the issue was closed.
    Regression {
        closed_at: Option<&'a str>,
        new_entries: Option<u64>,
        from: Option<&'a str>,
    },
}

/// A comment on an existing issue; `joined` are the members new since the last report.
pub fn comment(
    c: &ClusterReport,
    members: &[&ClusterReport],
    joined: &[&ClusterReport],
    windows: &[String],
    reason: &Reason,
) -> String {
    let mut o = String::new();
    let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    let _ = writeln!(
        o,
        "{}\n",
        marker(&c.id, c.count, c.last_seen.as_deref(), &ids)
    );
    let newest = c
        .last_seen
        .as_deref()
        .map(short_time)
        .unwrap_or_else(|| "no timestamp".into());
    let entries = |n: Option<u64>| match n {
        Some(1) => "1 new entry".to_string(),
        Some(n) => format!("{} new entries", thousands(n)),
        None => "New entries".to_string(),
    };
    match reason {
        Reason::NewEvidence {
            new_entries,
            previous_last_seen,
        } => {
            let since = previous_last_seen
                .map(|t| format!(" since the last report (newest then: {})", short_time(t)))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "**{}**{since}; newest now {newest}. Priority stays {}.\n",
                entries(*new_entries),
                c.priority
            );
        }
        Reason::Escalated { from, new_entries } => {
            let _ = writeln!(
                o,
                "**Escalated: {from} → {}** (rule: {}). {}; newest {newest}.\n",
                c.priority,
                c.rule,
                entries(*new_entries)
            );
        }
        Reason::Regression {
            closed_at,
            new_entries,
            from,
        } => {
            let closed = closed_at
                .map(|t| format!(" on {}", short_time(t)))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "**Regression: reopened.** This problem came back after the issue was closed{closed}: {} since, newest {newest}.{}\n",
                entries(*new_entries).to_lowercase(),
                match from {
                    Some(f) => format!(" Priority {f} → {} (rule: {}).", c.priority, c.rule),
                    None => String::new(),
                }
            );
        }
    }
    if !joined.is_empty() {
        let _ = writeln!(
            o,
            "**{} joined this problem** (same cause, same requests or bursting together):\n",
            if joined.len() == 1 {
                "1 cluster".to_string()
            } else {
                format!("{} clusters", joined.len())
            }
        );
        member_table(&mut o, joined);
    }
    facts(&mut o, c, windows, false);
    sample(&mut o, c, "Latest sample entry");
    cap(o)
}

/// Member clusters listed in a body, at most this many.
const MEMBERS_LISTED: usize = 30;

/// The member clusters as a table.
fn member_table(o: &mut String, members: &[&ClusterReport]) {
    let _ = writeln!(
        o,
        "| Cluster | Entries | Severity | Service | Fingerprint |\n|---|---|---|---|---|"
    );
    for m in members.iter().take(MEMBERS_LISTED) {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | `{}` |",
            cell(&crate::model::text::words(&m.template, 100)),
            thousands(m.count),
            m.max_severity,
            cell(&m.service),
            m.id
        );
    }
    if members.len() > MEMBERS_LISTED {
        let _ = writeln!(
            o,
            "| … and {} more | | | | |",
            members.len() - MEMBERS_LISTED
        );
    }
    let _ = writeln!(o);
}

/// The table of facts about a cluster.
fn facts(o: &mut String, c: &ClusterReport, windows: &[String], full: bool) {
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(
        o,
        "| **Priority** | {} (rule: {}) |",
        c.priority,
        cell(&c.rule)
    );
    let _ = writeln!(o, "| **Severity** | {} |", counts(&c.severities));
    let _ = writeln!(o, "| **Count** | {} in this run |", thousands(c.count));
    let _ = writeln!(o, "| **Windows** | {} |", window_line(c, windows));
    if let Some(t) = crate::stages::sink::report::trend_line(c) {
        let _ = writeln!(o, "| **Trend** | {} |", cell(&t));
    }
    if let (Some(f), Some(l)) = (&c.first_seen, &c.last_seen) {
        let _ = writeln!(
            o,
            "| **Time range** | {} → {} |",
            short_time(f),
            short_time(l)
        );
    }
    if full {
        let _ = writeln!(o, "| **Service** | `{}` |", cell(&c.service));
    }
    if !c.revisions.is_empty() {
        let _ = writeln!(o, "| **Revisions** | {} |", cell(&counts(&c.revisions)));
    }
    if !c.locations.is_empty() {
        let mut v: Vec<_> = c.locations.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let locs: Vec<String> = v
            .iter()
            .take(3)
            .map(|(k, n)| format!("{} ({})", code(k), thousands(**n)))
            .collect();
        let _ = writeln!(o, "| **Location** | {} |", cell(&locs.join(", ")));
    }
    if let Some(h) = &c.http {
        let _ = writeln!(o, "| **HTTP statuses** | {} |", http_statuses(h));
        if let Some(l) = &h.latency_ms {
            let _ = writeln!(o, "| **Latency** | {} |", latency(l));
        }
    }
    let _ = writeln!(o, "| **Problem id** | `{}` |\n", c.id);
}

fn sample(o: &mut String, c: &ClusterReport, heading: &str) {
    if let Some(s) = c.samples.first() {
        // Printed again, indented (the report holds it compact).
        let v: serde_json::Value = serde_json::from_str(s.get()).unwrap_or_default();
        let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
        if text.len() > SAMPLE_MAX {
            let mut end = SAMPLE_MAX;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str("\n… (cut)");
        }
        let _ = writeln!(o, "### {heading}\n\n{}\n", fenced("json", &text));
    }
}

/// A fenced code block whose fence cannot be closed by the text.
fn fenced(lang: &str, text: &str) -> String {
    let mut fence = "```".to_string();
    while text.contains(&fence) {
        fence.push('`');
    }
    format!("{fence}{lang}\n{text}\n{fence}")
}

/// A table cell: no pipes or newlines.
fn cell(s: &str) -> String {
    crate::stages::sink::report::cell(s)
}

fn cap(mut s: String) -> String {
    if s.len() > BODY_MAX {
        let mut end = BODY_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("\n\n… (cut to fit GitHub's limit)");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let members = vec!["2fc435b3783d5a2c".to_string(), "38dea976b6c2c70f".into()];
        let m = marker(
            "8e60859d90c1619d",
            41,
            Some("2025-09-14T03:59:12Z"),
            &members,
        );
        let body = format!("{m}\n\nsome text <!-- other -->");
        assert_eq!(
            parse_marker(&body),
            Some(Marker {
                fingerprint: "8e60859d90c1619d".into(),
                count: Some(41),
                last_seen: Some("2025-09-14T03:59:12Z".into()),
                clusters: Some(members),
            })
        );
        assert_eq!(
            parse_marker(&marker("8e60859d90c1619d", 3, None, &[]))
                .unwrap()
                .last_seen,
            None
        );
        // A marker from before problems names one cluster and lists none.
        let old = "<!-- log-gardener:fingerprint=8e60859d90c1619d count=4 last_seen=- -->";
        assert_eq!(parse_marker(old).unwrap().clusters, None);
        assert_eq!(parse_marker("<!-- log-gardener:fingerprint=zz -->"), None);
        assert_eq!(parse_marker("no marker"), None);
    }

    #[test]
    fn fences_survive_backticks() {
        assert_eq!(fenced("text", "a ``` b"), "````text\na ``` b\n````");
    }
}
