//! Deciding what to do for one problem (seen as one filable unit, see [`super::problem`]), from
//! the problem, the issue found for it (if any) and what was last reported there. Pure: no I/O,
//! so every rule is unit-tested here.
//!
//! | situation | action |
//! |---|---|
//! | expected behaviour, or less urgent than `min_priority` | skip |
//! | no issue | create |
//! | open issue, priority rose above its label | escalate (label + comment) |
//! | open issue, entries newer than the last report, or clusters joined the problem | comment |
//! | open issue, nothing new | unchanged |
//! | closed as completed, entries newer than the closing | reopen (+ comment, + label if risen) |
//! | closed as not planned, or nothing since the closing | unchanged |
//!
//! The bot never lowers a priority and never closes an issue: people do that.

use crate::config::parse_priority;
use crate::model::record::ClusterReport;
use crate::model::record::IssueAction;
use crate::model::time::parse_rfc3339;

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Create,
    Comment,
    Escalate,
    Reopen,
    Unchanged,
    Skip,
}

impl Kind {
    /// The action, as the report names it.
    pub fn action(self) -> IssueAction {
        match self {
            Kind::Create => IssueAction::Create,
            Kind::Comment => IssueAction::Comment,
            Kind::Escalate => IssueAction::Escalate,
            Kind::Reopen => IssueAction::Reopen,
            Kind::Unchanged => IssueAction::Unchanged,
            Kind::Skip => IssueAction::Skip,
        }
    }

    pub fn name(self) -> &'static str {
        self.action().name()
    }

    /// Whether the action writes to GitHub.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Kind::Create | Kind::Comment | Kind::Escalate | Kind::Reopen
        )
    }
}

/// The issue found for a cluster.
#[derive(Clone, Debug, Default)]
pub struct Known {
    pub number: u64,
    pub open: bool,
    /// Closed as "not planned": left alone.
    pub not_planned: bool,
    pub closed_at: Option<String>,
    pub labels: Vec<String>,
    pub title: String,
    pub url: String,
}

/// What was last reported on the issue.
#[derive(Clone, Debug, Default)]
pub struct Previous {
    pub priority: Option<u8>,
    pub count: u64,
    pub last_seen: Option<String>,
    /// Member clusters reported (an issue filed for one cluster: that cluster); `None` when not
    /// known.
    pub clusters: Option<Vec<String>>,
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub kind: Kind,
    /// The issue's priority before, when this action raises it.
    pub from: Option<u8>,
    /// Entries newer than the last report (or than the closing, for a reopen), when countable.
    pub new_entries: Option<u64>,
    /// Member clusters not in the last report.
    pub joined: Vec<String>,
    pub detail: String,
}

/// The priority on an issue's labels (`<prefix>P1`), the most urgent when there are several.
pub fn label_priority(labels: &[String], prefix: &str) -> Option<u8> {
    labels
        .iter()
        .filter_map(|l| l.strip_prefix(prefix).and_then(parse_priority))
        .min()
}

fn entries(n: u64) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}

/// Unix seconds of an RFC 3339 time.
fn secs(t: &str) -> Option<i64> {
    parse_rfc3339(t).map(|n| n.div_euclid(1_000_000_000))
}

/// Entries of the cluster newer (by second) than `after`; all of them when `after` is `None`.
/// `None` when they cannot be counted (no per-second counts reach that far back).
pub fn entries_after(c: &ClusterReport, after: Option<&str>) -> Option<u64> {
    let Some(after) = after else {
        return Some(c.count);
    };
    let after = secs(after)?;
    let first = *c.per_second.keys().next()?;
    if first <= after || c.first_seen.as_deref().and_then(secs) == Some(first) {
        Some(c.per_second.range(after + 1..).map(|(_, n)| n).sum())
    } else {
        None
    }
}

/// Whether the cluster has entries newer than what was last reported.
fn has_new(c: &ClusterReport, prev: Option<&Previous>) -> bool {
    let Some(prev) = prev else {
        return true;
    };
    match (
        c.last_seen.as_deref().and_then(secs),
        prev.last_seen.as_deref().and_then(secs),
    ) {
        (Some(now), Some(then)) => now > then,
        (Some(_), None) => prev.count == 0 || c.count > prev.count,
        (None, _) => c.count > prev.count,
    }
}

/// Decides the action for one problem (`c`, with its member clusters `members`).
pub fn decide(
    c: &ClusterReport,
    members: &[String],
    known: Option<&Known>,
    prev: Option<&Previous>,
    min_priority: u8,
    prefix: &str,
) -> Plan {
    let joined: Vec<String> = match prev.and_then(|p| p.clusters.as_ref()) {
        Some(old) if known.is_some() => members
            .iter()
            .filter(|m| !old.contains(m))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let plan = |kind, from, new_entries, detail: String| Plan {
        kind,
        from,
        new_entries,
        joined: joined.clone(),
        detail,
    };
    let p = c.priority.0;
    if c.expected {
        return plan(
            Kind::Skip,
            None,
            None,
            format!(
                "expected behaviour (rule: {}); reported, never filed",
                c.rule
            ),
        );
    }
    if p > min_priority {
        return plan(
            Kind::Skip,
            None,
            None,
            format!("below the filing threshold P{min_priority}"),
        );
    }
    let Some(k) = known else {
        return plan(
            Kind::Create,
            None,
            Some(c.count),
            format!("no issue yet; {}", entries(c.count)),
        );
    };
    let current = label_priority(&k.labels, prefix).or(prev.and_then(|p| p.priority));
    let rose = current.filter(|&cur| p < cur);
    let last_reported = prev.and_then(|p| p.last_seen.as_deref());
    if !k.open {
        if k.not_planned {
            return plan(
                Kind::Unchanged,
                None,
                None,
                "closed as not planned; left closed".into(),
            );
        }
        let recurred = match (
            c.last_seen.as_deref().and_then(secs),
            k.closed_at.as_deref().and_then(secs),
        ) {
            (Some(last), Some(closed)) => last > closed,
            _ => has_new(c, prev),
        };
        if !recurred {
            return plan(
                Kind::Unchanged,
                None,
                None,
                "closed; no entries since it was closed".into(),
            );
        }
        let n = entries_after(c, k.closed_at.as_deref());
        return plan(
            Kind::Reopen,
            rose,
            n,
            match n {
                Some(n) => format!("regression: {} since it was closed", entries(n)),
                None => "regression: entries since it was closed".into(),
            },
        );
    }
    let new = has_new(c, prev);
    let n = if new {
        entries_after(c, last_reported)
    } else {
        Some(0)
    };
    if let Some(from) = rose {
        return plan(
            Kind::Escalate,
            Some(from),
            n,
            format!("priority rose P{from} → P{p} (rule: {})", c.rule),
        );
    }
    let joined_text = match joined.len() {
        0 => String::new(),
        1 => "; 1 cluster joined the problem".into(),
        n => format!("; {n} clusters joined the problem"),
    };
    if new {
        return plan(
            Kind::Comment,
            None,
            n,
            match n {
                Some(1) => format!("1 new entry since the last report{joined_text}"),
                Some(n) => format!("{n} new entries since the last report{joined_text}"),
                None => format!("new entries since the last report{joined_text}"),
            },
        );
    }
    if !joined.is_empty() {
        return plan(Kind::Comment, None, Some(0), joined_text[2..].to_string());
    }
    plan(
        Kind::Unchanged,
        None,
        Some(0),
        "no new entries since the last report".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cluster(priority: &str, count: u64, last: &str) -> ClusterReport {
        let last_s = secs(last).unwrap();
        // One entry per second, ending at `last`.
        let per_second: BTreeMap<i64, u64> = (0..count as i64).map(|i| (last_s - i, 1)).collect();
        ClusterReport {
            priority: parse_priority(priority)
                .map(crate::model::record::Priority)
                .expect("a priority"),
            first_seen: Some(crate::model::time::format_rfc3339(
                (last_s - count as i64 + 1) * 1_000_000_000,
            )),
            last_seen: Some(last.into()),
            per_second,
            ..ClusterReport::example(count)
        }
    }

    fn open(labels: &[&str]) -> Known {
        Known {
            number: 5,
            open: true,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn prev(count: u64, last: &str) -> Previous {
        Previous {
            priority: None,
            count,
            last_seen: Some(last.into()),
            clusters: Some(vec!["00000000000000ab".into()]),
        }
    }

    const T: &str = "2025-09-14T04:00:00Z";

    fn ids() -> Vec<String> {
        vec!["00000000000000ab".into()]
    }

    #[test]
    fn a_cluster_that_joins_a_filed_problem_is_a_comment() {
        let c = cluster("P1", 10, T);
        let k = open(&["log-gardener", "priority:P1"]);
        let members = vec!["00000000000000ab".to_string(), "00000000000000cd".into()];
        let p = decide(&c, &members, Some(&k), Some(&prev(10, T)), 2, "priority:");
        assert_eq!(p.kind, Kind::Comment);
        assert_eq!(p.joined, vec!["00000000000000cd".to_string()]);
        assert_eq!(p.detail, "1 cluster joined the problem");
        // Unknown earlier members (an issue read back without them): nothing joined.
        let mut unknown = prev(10, T);
        unknown.clusters = None;
        let p = decide(&c, &members, Some(&k), Some(&unknown), 2, "priority:");
        assert_eq!(p.kind, Kind::Unchanged);
    }

    #[test]
    fn skips_expected_and_low_priority() {
        let mut c = cluster("P1", 3, T);
        c.expected = true;
        assert_eq!(
            decide(&c, &ids(), None, None, 2, "priority:").kind,
            Kind::Skip
        );
        let c = cluster("P3", 3, T);
        let p = decide(&c, &ids(), None, None, 2, "priority:");
        assert_eq!(
            (p.kind, p.detail.as_str()),
            (Kind::Skip, "below the filing threshold P2")
        );
    }

    #[test]
    fn creates_when_no_issue() {
        let p = decide(&cluster("P1", 3, T), &ids(), None, None, 2, "priority:");
        assert_eq!(p.kind, Kind::Create);
    }

    #[test]
    fn comments_only_on_new_entries() {
        let c = cluster("P1", 10, T);
        let k = open(&["log-gardener", "priority:P1"]);
        let same = decide(&c, &ids(), Some(&k), Some(&prev(10, T)), 2, "priority:");
        assert_eq!(same.kind, Kind::Unchanged);
        let p = decide(
            &c,
            &ids(),
            Some(&k),
            Some(&prev(7, "2025-09-14T03:59:57Z")),
            2,
            "priority:",
        );
        assert_eq!((p.kind, p.new_entries), (Kind::Comment, Some(3)));
    }

    #[test]
    fn escalates_when_priority_rises_never_lowers() {
        let c = cluster("P0", 10, T);
        let k = open(&["priority:P2"]);
        let p = decide(&c, &ids(), Some(&k), Some(&prev(10, T)), 2, "priority:");
        assert_eq!((p.kind, p.from), (Kind::Escalate, Some(2)));
        let c = cluster("P2", 10, T);
        let k = open(&["priority:P0"]);
        let p = decide(&c, &ids(), Some(&k), Some(&prev(10, T)), 2, "priority:");
        assert_eq!(p.kind, Kind::Unchanged);
    }

    #[test]
    fn reopens_on_recurrence_after_closing_only() {
        let c = cluster("P1", 10, T);
        let mut k = open(&["priority:P1"]);
        k.open = false;
        k.closed_at = Some("2025-09-14T03:59:58Z".into());
        let p = decide(
            &c,
            &ids(),
            Some(&k),
            Some(&prev(8, "2025-09-14T03:59:58Z")),
            2,
            "priority:",
        );
        assert_eq!((p.kind, p.new_entries), (Kind::Reopen, Some(2)));
        k.closed_at = Some("2025-09-14T05:00:00Z".into());
        let p = decide(&c, &ids(), Some(&k), Some(&prev(10, T)), 2, "priority:");
        assert_eq!(p.kind, Kind::Unchanged);
        k.closed_at = Some("2025-09-14T03:00:00Z".into());
        k.not_planned = true;
        let p = decide(&c, &ids(), Some(&k), Some(&prev(10, T)), 2, "priority:");
        assert_eq!(p.kind, Kind::Unchanged);
    }

    #[test]
    fn labels_and_counts() {
        let l = vec![
            "bug".to_string(),
            "priority:P3".into(),
            "priority:P1".into(),
        ];
        assert_eq!(label_priority(&l, "priority:"), Some(1));
        assert_eq!(label_priority(&l[..1], "priority:"), None);
        let c = cluster("P1", 10, T);
        assert_eq!(entries_after(&c, None), Some(10));
        assert_eq!(entries_after(&c, Some("2025-09-14T03:59:55Z")), Some(5));
    }
}
