//! A problem seen as one filable unit: the GitHub sink files one issue per problem. Its facts
//! are its members' added up (entries, severities, revisions, HTTP statuses, per-second counts);
//! its pattern, locations, trend and sample are the lead's.

use std::collections::BTreeMap;

use crate::model::record::{ClusterReport, HttpReport, ProblemReport};

/// A problem and its member clusters (the lead first), as the sink handles them.
pub struct Filing<'a> {
    /// The problem as one cluster-like unit, keyed by the problem id.
    pub unit: ClusterReport,
    pub members: Vec<&'a ClusterReport>,
    /// The evidence in one sentence.
    pub evidence: String,
}

impl Filing<'_> {
    /// The member clusters' fingerprints.
    pub fn ids(&self) -> Vec<String> {
        self.members.iter().map(|m| m.id.clone()).collect()
    }
}

/// Every problem of the report, in the report's (most urgent first) order.
pub fn filings<'a>(problems: &[ProblemReport], clusters: &'a [ClusterReport]) -> Vec<Filing<'a>> {
    let by_id: BTreeMap<&str, &ClusterReport> =
        clusters.iter().map(|c| (c.id.as_str(), c)).collect();
    problems
        .iter()
        .filter_map(|p| {
            let members: Vec<&ClusterReport> = p
                .clusters
                .iter()
                .filter_map(|id| by_id.get(id.as_str()).copied())
                .collect();
            let unit = unit(p, &members)?;
            Some(Filing {
                unit,
                members,
                evidence: p.summary.clone(),
            })
        })
        .collect()
}

/// The problem as one cluster-like unit; `None` without members.
fn unit(p: &ProblemReport, members: &[&ClusterReport]) -> Option<ClusterReport> {
    let lead = *members.first()?;
    let mut u = lead.clone();
    u.id = p.id.clone();
    u.problem = p.id.clone();
    u.priority = p.priority;
    u.title = p.issue_title.clone();
    u.rule = p.rule.clone();
    u.expected = p.expected;
    u.labels = p.labels.clone();
    u.service = p.services.join(", ");
    u.max_severity = p.max_severity.clone();
    u.count = p.count;
    u.windows = p.windows.clone();
    u.first_seen = p.first_seen.clone();
    u.last_seen = p.last_seen.clone();
    u.severities = BTreeMap::new();
    u.revisions = BTreeMap::new();
    u.per_second = BTreeMap::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for m in members {
        add(&mut u.severities, &m.severities);
        add(&mut u.revisions, &m.revisions);
        for (s, n) in &m.per_second {
            *u.per_second.entry(*s).or_default() += n;
        }
        if let Some(h) = &m.http {
            add(&mut statuses, &h.statuses);
        }
    }
    if !statuses.is_empty() {
        let latency_ms = members
            .iter()
            .find_map(|m| m.http.as_ref().and_then(|h| h.latency_ms.clone()));
        u.http = Some(HttpReport {
            statuses,
            latency_ms,
        });
    }
    Some(u)
}

fn add(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_default() += n;
    }
}
