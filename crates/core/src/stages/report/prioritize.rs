//! The prioritize stage: applies the YAML rules (first match wins) to each cluster, giving it a
//! priority P0..P5, a title, labels and the "expected behaviour" flag, and renders the cluster
//! for the report.
//!
//! A rule with `raise: N` instead of `priority` is a *modifier*: the first matching ordinary
//! rule sets the priority, then every matching modifier may raise it by its N levels towards
//! P0 (the largest raise wins; expected behaviour is never raised). Rules can test a cluster's
//! trend: `status` (`new`, `ongoing`, `escalating`, `regressed`) and `escalating` (the spike
//! test's verdict, whatever the status).

use std::collections::BTreeMap;

use regex::Regex;

use crate::config::{Config, ConfigError, Rule, parse_priority};
use crate::stages::fingerprint::format_id;
use std::collections::HashMap;

use crate::model::record::{
    Aggregate, Cluster, ClusterReport, ClusterTrend, Evidence, HttpReport, LatencyReport, Link,
    Priority, ProblemReport, Severity, Status,
};
pub use crate::model::text::{cut_at_word, words};
use crate::model::time::Timestamp;
use crate::stages::halves;
use crate::stages::report::correlate::Problem;

/// What rules test, for a cluster or a whole problem (see [`Facts::of_cluster`] and
/// `crate::problems`).
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    /// The highest severity.
    pub severity: Severity,
    pub services: Vec<&'a str>,
    pub templates: Vec<&'a str>,
    pub locations: Vec<&'a str>,
    pub count: u64,
    /// Counts in the configured windows, in order.
    pub windows: Vec<u64>,
    pub http_statuses: Vec<u16>,
    /// The most pressing trend status.
    pub status: Option<Status>,
    pub escalating: bool,
    /// Clusters (1 for a cluster).
    pub members: usize,
    /// Estimated distinct traces.
    pub traces: u64,
    /// A request to a health-check route was answered 5xx.
    pub health_check_failing: bool,
}

impl<'a> Facts<'a> {
    pub fn of_cluster(c: &'a Cluster, t: &ClusterTrend) -> Facts<'a> {
        let mut f = Facts {
            members: 0,
            ..Default::default()
        };
        f.add(c, t);
        f
    }

    /// Adds a member cluster.
    pub fn add(&mut self, c: &'a Cluster, t: &ClusterTrend) {
        self.severity = self.severity.max(c.max_severity());
        if !self.services.contains(&c.service.as_str()) {
            self.services.push(&c.service);
        }
        self.templates.push(&c.template);
        self.locations
            .extend(c.locations.keys().map(String::as_str));
        self.count += c.count;
        if self.windows.len() < c.windows.len() {
            self.windows.resize(c.windows.len(), 0);
        }
        for (w, n) in self.windows.iter_mut().zip(&c.windows) {
            *w += n;
        }
        for &s in c.http_statuses.keys() {
            if !self.http_statuses.contains(&s) {
                self.http_statuses.push(s);
            }
        }
        self.status = match (self.status, t.status) {
            (Some(a), Some(b)) => Some(if pressing(b) > pressing(a) { b } else { a }),
            (a, b) => a.or(b),
        };
        self.escalating |= t.escalation.is_some();
        self.members += 1;
        self.traces = self.traces.max(c.traces.estimate());
        self.health_check_failing |=
            c.http_statuses.keys().any(|&s| s >= 500) && is_health_route(&c.template);
    }
}

/// How much a status asks for attention: regressed, escalating, new, ongoing.
pub fn pressing(s: Status) -> u8 {
    match s {
        Status::Ongoing => 0,
        Status::New => 1,
        Status::Escalating => 2,
        Status::Regressed => 3,
    }
}

/// A request template (`HTTP GET /health/auth 503`) whose route is a health check: a path
/// segment `health`, `healthz`, `ready`, `readyz`, `live`, `livez`, `ping` and the like.
pub fn is_health_route(template: &str) -> bool {
    let Some(route) = template
        .strip_prefix("HTTP ")
        .and_then(|r| r.split(' ').nth(1))
    else {
        return false;
    };
    const HEALTH: &[&str] = &[
        "health",
        "healthz",
        "healthcheck",
        "health-check",
        "health_check",
        "ready",
        "readyz",
        "readiness",
        "live",
        "livez",
        "liveness",
        "ping",
    ];
    route
        .split(['/', '?'])
        .any(|seg| HEALTH.contains(&seg.to_ascii_lowercase().as_str()))
}

/// A rule ready to run.
struct Compiled {
    rule: Rule,
    priority: u8,
    severity_at_least: Option<Severity>,
    severity_below: Option<Severity>,
    service: Option<Regex>,
    template: Option<Regex>,
    module: Option<Regex>,
    /// (window index, at least)
    windows: Vec<(usize, u64)>,
}

/// A verdict: priority, rule name, title, labels and expected flag.
pub type Judgement = (u8, String, String, Vec<String>, bool);

pub struct Prioritizer {
    rules: Vec<Compiled>,
    title: String,
}

fn re(s: &Option<String>) -> Result<Option<Regex>, ConfigError> {
    s.as_deref()
        .map(|r| {
            Regex::new(r).map_err(|e| ConfigError(format!("bad regular expression '{r}': {e}")))
        })
        .transpose()
}

impl Prioritizer {
    pub fn new(cfg: &Config) -> Result<Prioritizer, ConfigError> {
        let windows = &cfg.aggregate.windows;
        let mut rules = Vec::new();
        for rule in cfg.rules()? {
            let m = &rule.when;
            let sev = |s: &Option<String>| s.as_deref().and_then(Severity::parse);
            let compiled = Compiled {
                priority: if rule.raise > 0 {
                    0
                } else {
                    parse_priority(&rule.priority)
                        .ok_or_else(|| ConfigError(format!("rule '{}': bad priority", rule.name)))?
                },
                severity_at_least: sev(&m.severity_at_least),
                severity_below: sev(&m.severity_below),
                service: re(&m.service)?,
                template: re(&m.template)?,
                module: re(&m.module)?,
                windows: m
                    .window_at_least
                    .iter()
                    .filter_map(|(w, n)| {
                        windows.iter().position(|x| x.text() == w).map(|i| (i, *n))
                    })
                    .collect(),
                rule,
            };
            rules.push(compiled);
        }
        Ok(Prioritizer {
            rules,
            title: cfg.prioritize.title.clone(),
        })
    }

    fn matches(&self, r: &Compiled, f: &Facts) -> bool {
        let m = &r.rule.when;
        let sev = f.severity;
        r.severity_at_least.is_none_or(|s| sev >= s)
            && r.severity_below.is_none_or(|s| sev < s)
            && r.service
                .as_ref()
                .is_none_or(|re| f.services.iter().any(|s| re.is_match(s)))
            && r.template
                .as_ref()
                .is_none_or(|re| f.templates.iter().any(|t| re.is_match(t)))
            && r.module
                .as_ref()
                .is_none_or(|re| f.locations.iter().any(|l| re.is_match(l)))
            && m.count_at_least.is_none_or(|n| f.count >= n)
            && r.windows
                .iter()
                .all(|&(i, n)| f.windows.get(i).is_some_and(|&v| v >= n))
            && m.http_status_at_least
                .is_none_or(|s| f.http_statuses.iter().any(|&k| k >= s))
            && m.status
                .as_deref()
                .is_none_or(|s| f.status.map(|x| x.name()) == Some(s))
            && m.escalating.is_none_or(|e| e == f.escalating)
            && m.members_at_least.is_none_or(|n| f.members >= n)
            && m.services_at_least.is_none_or(|n| f.services.len() >= n)
            && m.traces_at_least.is_none_or(|n| f.traces >= n)
            && m.has_5xx
                .is_none_or(|b| b == f.http_statuses.iter().any(|&k| k >= 500))
            && m.health_check_failing
                .is_none_or(|b| b == f.health_check_failing)
    }

    /// Priority, rule name, title, labels and expected flag of a cluster, without trend
    /// information. With no matching rule a cluster is P5.
    pub fn judge(&self, c: &Cluster) -> Judgement {
        self.judge_trend(c, &ClusterTrend::default())
    }

    /// Priority, rule name, title, labels and expected flag of a cluster with its trend.
    pub fn judge_trend(&self, c: &Cluster, t: &ClusterTrend) -> Judgement {
        let facts = Facts::of_cluster(c, t);
        let (p, name, title, labels, expected) = self.judge_facts(&facts);
        let title = title
            .replace("{service}", &c.service)
            .replace("{priority}", &format!("P{p}"))
            .replace("{severity}", c.max_severity().name())
            .replace("{id}", &format_id(c.id))
            .replace("{summary}", &summary(&c.template, 90));
        (p, name, title, labels, expected)
    }

    /// The rules' verdict on `f`: priority, rule name, title template (placeholders not yet
    /// replaced), labels and expected flag. With no matching rule: P5.
    pub fn judge_facts(&self, f: &Facts) -> Judgement {
        let hit = self
            .rules
            .iter()
            .find(|r| r.rule.raise == 0 && self.matches(r, f));
        let (mut p, mut name, title, mut labels, expected) = match hit {
            Some(r) => (
                r.priority,
                r.rule.name.clone(),
                r.rule.title.clone().unwrap_or_else(|| self.title.clone()),
                r.rule.labels.clone(),
                r.rule.expected,
            ),
            None => (
                5,
                "no rule matched".into(),
                self.title.clone(),
                Vec::new(),
                false,
            ),
        };
        let raise = self
            .rules
            .iter()
            .filter(|r| r.rule.raise > 0 && !expected && self.matches(r, f))
            .max_by_key(|r| r.rule.raise);
        if let Some(r) = raise {
            let raised = p.saturating_sub(r.rule.raise);
            if raised < p {
                name = format!("{name}; raised P{p} → P{raised} by '{}'", r.rule.name);
                p = raised;
            }
            for l in &r.rule.labels {
                if !labels.contains(l) {
                    labels.push(l.clone());
                }
            }
        }
        (p, name, title, labels, expected)
    }

    /// Judges and renders every cluster with its trend (`trends`: cluster id → trend; a
    /// cluster without one has none), most urgent first.
    pub fn run_with(
        &self,
        agg: &Aggregate,
        trends: &std::collections::HashMap<u64, ClusterTrend>,
    ) -> Vec<ClusterReport> {
        let none = ClusterTrend::default();
        let mut out: Vec<(u8, ClusterReport)> = halves::map(&agg.clusters, |c| {
            let t = trends.get(&c.id).unwrap_or(&none);
            let (p, rule, title, labels, expected) = self.judge_trend(c, t);
            let mut r = render(c, agg, p, rule, title, labels, expected);
            r.trend = t.clone();
            (p, r)
        });
        out.sort_by(|(pa, a), (pb, b)| {
            pa.cmp(pb).then(b.count.cmp(&a.count)).then(a.id.cmp(&b.id))
        });
        out.into_iter().map(|(_, c)| c).collect()
    }
}

impl Prioritizer {
    /// Judges every problem as one (rules over the facts of all its members), renders it, and
    /// notes its id on its member clusters' reports. Most urgent first: by priority, then by
    /// impact score, then id.
    pub fn run_problems(
        &self,
        agg: &Aggregate,
        problems: &[Problem],
        trends: &HashMap<u64, ClusterTrend>,
        reports: &mut [ClusterReport],
    ) -> Vec<ProblemReport> {
        let none = ClusterTrend::default();
        let trend = |i: usize| trends.get(&agg.clusters[i].id).unwrap_or(&none);
        let mut out: Vec<ProblemReport> = halves::map(problems, |p| {
            let mut facts = Facts {
                members: 0,
                ..Default::default()
            };
            for &m in &p.members {
                facts.add(&agg.clusters[m], trend(m));
            }
            let verdict = self.judge_facts(&facts);
            let escalation = p
                .members
                .iter()
                .filter_map(|&m| trend(m).escalation.as_ref().map(|e| e.factor))
                .reduce(f64::max);
            render_problem(agg, p, &facts, verdict, escalation)
        });
        out.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then(b.score.total_cmp(&a.score))
                .then(a.id.cmp(&b.id))
        });
        let index: HashMap<&str, &str> = out
            .iter()
            .flat_map(|p| p.clusters.iter().map(|c| (c.as_str(), p.id.as_str())))
            .collect();
        for r in reports.iter_mut() {
            if let Some(id) = index.get(r.id.as_str()) {
                r.problem = (*id).to_string();
            }
        }
        out
    }
}

fn render_problem(
    agg: &Aggregate,
    p: &Problem,
    f: &Facts,
    (priority, rule, title_template, labels, expected): Judgement,
    escalation: Option<f64>,
) -> ProblemReport {
    let members: Vec<&Cluster> = p.members.iter().map(|&m| &agg.clusters[m]).collect();
    let lead = members[0];
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut revisions = std::collections::BTreeSet::new();
    for c in &members {
        for (s, n) in &c.http_statuses {
            *statuses.entry(*s).or_default() += n;
        }
        revisions.extend(c.revisions.keys());
    }
    let traces = if members.len() == 1 {
        lead.traces.estimate()
    } else {
        let mut union = crate::model::record::TraceSketch::new(lead.traces.k);
        for c in &members {
            union.merge(c.traces.clone());
        }
        union.estimate()
    };
    let http_5xx = statuses.range(500..).map(|(_, n)| n).sum();
    let title = problem_title(p, &members);
    let id = format_id(p.id);
    let services = f.services.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let issue_title = title_template
        .replace("{service}", &services.join(", "))
        .replace("{priority}", &format!("P{priority}"))
        .replace("{severity}", f.severity.name())
        .replace("{id}", &id)
        .replace("{summary}", &title);
    let mut report = ProblemReport {
        id,
        priority: Priority(priority),
        rule,
        title,
        issue_title,
        labels,
        expected,
        lead: format_id(lead.id),
        clusters: members.iter().map(|c| format_id(c.id)).collect(),
        services,
        max_severity: f.severity.name().to_string(),
        count: f.count,
        windows: agg
            .windows
            .iter()
            .zip(&f.windows)
            .map(|((name, _), n)| (name.clone(), *n))
            .collect(),
        first_seen: members
            .iter()
            .filter_map(|c| c.first_seen)
            .min()
            .map(Timestamp::rfc3339),
        last_seen: members
            .iter()
            .filter_map(|c| c.last_seen)
            .max()
            .map(Timestamp::rfc3339),
        http_statuses: statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        http_5xx,
        traces,
        revisions: revisions.len() as u64,
        status: f.status,
        escalation,
        score: 0.0,
        summary: evidence_sentence(p, &members),
        evidence: p
            .links
            .iter()
            .zip(&members[1..])
            .map(|(e, c)| Link {
                cluster: format_id(c.id),
                evidence: e.clone(),
            })
            .collect(),
    };
    report.score = impact(&report, f);
    report
}

/// How much a problem hurts, to order problems of one priority: severity first, then volume,
/// failed requests (more for health checks), requests affected, trend and spread.
fn impact(p: &ProblemReport, f: &Facts) -> f64 {
    let severity = match f.severity {
        Severity::Emergency => 7.0,
        Severity::Alert => 6.0,
        Severity::Critical => 5.0,
        Severity::Error => 4.0,
        Severity::Warning => 3.0,
        Severity::Notice => 2.0,
        Severity::Info => 1.0,
        _ => 0.0,
    };
    let trend = match f.status {
        Some(Status::Regressed) | Some(Status::Escalating) => 3.0,
        Some(Status::New) => 1.0,
        _ => 0.0,
    };
    let score = 2.0 * severity
        + (1.0 + p.count as f64).log2()
        + if p.http_5xx > 0 {
            2.0 + (1.0 + p.http_5xx as f64).log2() / 2.0
        } else {
            0.0
        }
        + if f.health_check_failing { 3.0 } else { 0.0 }
        + (1.0 + p.traces as f64).log2() / 2.0
        + trend
        + (p.services.len() as f64 - 1.0)
        + (p.revisions.max(1) as f64).log2() / 2.0;
    (score * 100.0).round() / 100.0
}

/// `HTTP GET /x 503` → `HTTP 503 on GET /x`.
fn request_words(template: &str) -> Option<String> {
    let rest = template.strip_prefix("HTTP ")?;
    let (route, status) = rest.rsplit_once(' ')?;
    Some(format!("HTTP {status} on {}", words(route, 60)))
}

/// A problem's title in words: the shared cause and how many call sites log it; a request
/// problem by status and route; else the lead's template, with the failed requests it drags
/// along.
fn problem_title(p: &Problem, members: &[&Cluster]) -> String {
    let lead = members[0];
    let same_cause = p
        .links
        .iter()
        .filter(|e| e.iter().any(|x| matches!(x, Evidence::Cause { .. })))
        .count();
    if same_cause >= 2
        && let Some(Evidence::Cause { phrase }) = p
            .links
            .iter()
            .flatten()
            .find(|x| matches!(x, Evidence::Cause { .. }))
    {
        let mut t = words(phrase, 80);
        if let Some(first) = t.get(..1) {
            t = first.to_uppercase() + &t[1..];
        }
        // The lead's variable part after the phrase ("rejecting for <*>").
        let tail = lead.template.to_lowercase();
        if tail.trim_end().ends_with("<*>") && !t.ends_with('…') {
            t.push_str(" …");
        }
        return format!("{t} ({} call sites)", same_cause + 1);
    }
    if let Some(r) = request_words(&lead.template) {
        return r;
    }
    let mut title = words(&lead.template, 90);
    let failed = members[1..]
        .iter()
        .filter(|c| c.http_statuses.keys().any(|&s| s >= 500))
        .max_by_key(|c| c.count);
    if let Some(r) = failed.and_then(|c| request_words(&c.template)) {
        title = format!("{} → {r}", words(&lead.template, 70));
    }
    title
}

/// The evidence in one sentence: what links the members to the lead, strongest kinds first.
fn evidence_sentence(p: &Problem, members: &[&Cluster]) -> String {
    if p.links.is_empty() {
        return "a cluster on its own".into();
    }
    let mut parts = Vec::new();
    for (e, c) in p.links.iter().zip(&members[1..]) {
        if let Some(Evidence::Traces {
            shared, lead_first, ..
        }) = e.iter().find(|x| matches!(x, Evidence::Traces { .. }))
        {
            parts.push(format!(
                "{} in {shared} shared traces (the lead came first in {lead_first} of {shared})",
                short(c)
            ));
        }
    }
    let count = |pred: fn(&Evidence) -> bool| p.links.iter().filter(|e| e.iter().any(pred)).count();
    let causes = count(|x| matches!(x, Evidence::Cause { .. }));
    if causes > 0 {
        parts.push(format!("{causes} more call sites log the same cause"));
    }
    let bursts: Vec<(u32, u32, i64)> = p
        .links
        .iter()
        .filter(|e| {
            !e.iter()
                .any(|x| matches!(x, Evidence::Traces { .. } | Evidence::Cause { .. }))
        })
        .filter_map(|e| {
            e.iter().find_map(|x| match x {
                Evidence::Burst {
                    together,
                    member_bins,
                    bin_secs,
                    ..
                } => Some((*together, *member_bins, *bin_secs)),
                _ => None,
            })
        })
        .collect();
    if let Some((t, b, secs)) = bursts.first() {
        parts.push(format!(
            "{} burst with it ({t} of {b} busy {} together)",
            plural(bursts.len(), "cluster"),
            if *secs == 60 {
                "minutes".to_string()
            } else {
                format!("{secs}s bins")
            }
        ));
    }
    let places = count(|x| matches!(x, Evidence::Location { .. }));
    if places > 0 && parts.is_empty() {
        parts.push(format!(
            "{} from the same statement or route",
            plural(places, "more template")
        ));
    }
    if parts.len() > 3 {
        let n = parts.len() - 2;
        parts.truncate(2);
        parts.push(format!("and {n} more"));
    }
    parts.join("; ")
}

fn short(c: &Cluster) -> String {
    request_words(&c.template).unwrap_or_else(|| format!("“{}”", words(&c.template, 48)))
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A one-line summary of a template, at most `max` characters.
pub fn summary(template: &str, max: usize) -> String {
    let one_line: String = template.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max - 1).collect();
    format!("{}…", cut.trim_end())
}

fn render(
    c: &Cluster,
    agg: &Aggregate,
    p: u8,
    rule: String,
    title: String,
    labels: Vec<String>,
    expected: bool,
) -> ClusterReport {
    let severities = Severity::ALL
        .iter()
        .filter(|s| c.severities[s.index()] > 0)
        .map(|s| (s.name().to_string(), c.severities[s.index()]))
        .collect();
    let windows = agg
        .windows
        .iter()
        .zip(&c.windows)
        .map(|((name, _), n)| (name.clone(), *n))
        .collect();
    let http = (!c.http_statuses.is_empty() || c.latency_us.is_some()).then(|| HttpReport {
        statuses: c
            .http_statuses
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        latency_ms: c.latency_us.as_ref().map(|l| {
            let [p50, p95, p99] = l.quantiles([0.50, 0.95, 0.99]).map(|us| us as f64 / 1000.0);
            LatencyReport {
                p50,
                p95,
                p99,
                max: l.max() as f64 / 1000.0,
                count: l.len(),
            }
        }),
    });
    ClusterReport {
        id: format_id(c.id),
        problem: String::new(),
        priority: Priority(p),
        title,
        rule,
        expected,
        labels,
        service: c.service.clone(),
        template: c.template.clone(),
        max_severity: c.max_severity().name().to_string(),
        severities,
        severity_from_text: c.severity_from_text,
        count: c.count,
        folded: c.folded,
        windows,
        first_seen: c.first_seen.map(Timestamp::rfc3339),
        last_seen: c.last_seen.map(Timestamp::rfc3339),
        revisions: c.revisions.clone(),
        locations: c.locations.clone(),
        // Filled in by the run for the clusters that keep them (`report::sample_clusters`).
        samples: Vec::new(),
        to_print: Vec::new(),
        http,
        // Filled in by the run only when the GitHub sink needs it (see `report::conclude`):
        // a copy of every cluster's per-second counts is megabytes at a million entries.
        per_second: Default::default(),
        trend: ClusterTrend::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(sev: Severity, count: u64, template: &str) -> Cluster {
        let mut severities = [0; 9];
        severities[sev.index()] = count;
        Cluster {
            id: 7,
            template: template.into(),
            scope: "netra-backend-staging".into(),
            service: "netra-backend-staging".into(),
            count,
            first_seen: None,
            last_seen: None,
            severities,
            severity_from_text: 0,
            revisions: Default::default(),
            locations: Default::default(),
            per_second: Default::default(),
            series: Default::default(),
            windows: vec![0, count, count, count],
            samples: vec![],
            http_statuses: Default::default(),
            latency_us: None,
            traces: Default::default(),
            recount: Default::default(),
            folded: 0,
        }
    }

    #[test]
    fn built_in_rules() {
        let p = Prioritizer::new(&Config::default()).unwrap();
        // P0 is rare: one or two entries are not P0/P1 unless ALERT or worse.
        assert_eq!(p.judge(&cluster(Severity::Critical, 1, "x")).0, 3);
        assert_eq!(p.judge(&cluster(Severity::Critical, 3, "x")).0, 1);
        assert_eq!(p.judge(&cluster(Severity::Critical, 10, "x")).0, 0);
        assert_eq!(p.judge(&cluster(Severity::Alert, 1, "x")).0, 0);
        assert_eq!(p.judge(&cluster(Severity::Error, 12, "x")).0, 1);
        assert_eq!(p.judge(&cluster(Severity::Error, 2, "x")).0, 3);
        assert_eq!(p.judge(&cluster(Severity::Error, 3, "x")).0, 2);
        assert_eq!(p.judge(&cluster(Severity::Warning, 60, "x")).0, 3);
        assert_eq!(p.judge(&cluster(Severity::Warning, 2, "x")).0, 4);
        assert_eq!(p.judge(&cluster(Severity::Info, 2, "x")).0, 5);
        let (p5, rule, title, _, expected) = p.judge(&cluster(
            Severity::Warning,
            9,
            "[?] USER AUTO-CREATED: Created user <*>",
        ));
        assert_eq!((p5, expected), (5, true));
        assert_eq!(rule, "expected user onboarding");
        assert_eq!(
            title,
            "netra-backend-staging | P5 | [?] USER AUTO-CREATED: Created user <*>"
        );
    }

    #[test]
    fn first_match_wins_with_custom_rules() {
        let yaml = "prioritize:\n  title: '{priority} {summary}'\n  rules:\n    - name: auth\n      when: { service: 'auth', severity_at_least: WARNING }\n      priority: P0\n    - name: rest\n      priority: P3\n";
        let cfg = Config::from_yaml(yaml, "t").unwrap();
        let p = Prioritizer::new(&cfg).unwrap();
        let mut c = cluster(Severity::Warning, 1, "boom");
        assert_eq!(p.judge(&c).0, 3);
        c.service = "netra-auth-service".into();
        let (pr, rule, title, _, _) = p.judge(&c);
        assert_eq!((pr, rule.as_str(), title.as_str()), (0, "auth", "P0 boom"));
    }

    #[test]
    fn trend_conditions_and_raises() {
        let yaml = "prioritize:\n  rules:\n    - name: regressions\n      when: { status: regressed }\n      priority: P1\n    - name: escalating\n      when: { escalating: true, severity_at_least: WARNING }\n      raise: 1\n      labels: [escalating]\n    - name: big raise\n      when: { escalating: true, template: 'boom' }\n      raise: 2\n    - name: warnings\n      when: { severity_at_least: WARNING }\n      priority: P3\n    - name: rest\n      priority: P5\n";
        let cfg = Config::from_yaml(yaml, "t").unwrap();
        let p = Prioritizer::new(&cfg).unwrap();
        let c = cluster(Severity::Warning, 5, "x");
        let steady = ClusterTrend {
            status: Some(crate::model::record::Status::Ongoing),
            ..Default::default()
        };
        assert_eq!(p.judge_trend(&c, &steady).0, 3);
        let spiking = ClusterTrend {
            status: Some(crate::model::record::Status::Escalating),
            escalation: Some(Default::default()),
            ..Default::default()
        };
        let (pr, rule, _, labels, _) = p.judge_trend(&c, &spiking);
        assert_eq!(pr, 2);
        assert_eq!(rule, "warnings; raised P3 → P2 by 'escalating'");
        assert_eq!(labels, vec!["escalating".to_string()]);
        // The largest matching raise wins.
        assert_eq!(
            p.judge_trend(&cluster(Severity::Warning, 5, "boom"), &spiking)
                .0,
            1
        );
        // A status condition.
        let back = ClusterTrend {
            status: Some(crate::model::record::Status::Regressed),
            ..Default::default()
        };
        assert_eq!(p.judge_trend(&c, &back).0, 1);
        // Info is not raised by the WARNING modifier.
        assert_eq!(
            p.judge_trend(&cluster(Severity::Info, 5, "x"), &spiking).0,
            5
        );
        // A rule must set priority or raise, not both.
        let bad = "prioritize:\n  rules:\n    - name: r\n      priority: P1\n      raise: 1\n    - name: s\n      when: { status: flapping }\n      priority: P2\n";
        let err = Config::from_yaml(bad, "t").unwrap_err().0;
        assert!(err.contains("set either priority or raise"), "{err}");
        assert!(err.contains("'flapping'"), "{err}");
    }

    #[test]
    fn problem_facts_add_up_members() {
        let p = Prioritizer::new(&Config::default()).unwrap();
        let none = ClusterTrend::default();
        let cause = cluster(Severity::Warning, 20, "Session check failed");
        let mut health = cluster(Severity::Error, 15, "HTTP GET /health/auth 503");
        health.http_statuses.insert(503, 15);
        let mut f = Facts::of_cluster(&cause, &none);
        assert_eq!(p.judge_facts(&f).0, 4);
        f.add(&health, &none);
        assert_eq!((f.members, f.count, f.severity), (2, 35, Severity::Error));
        assert!(f.health_check_failing);
        let (prio, rule, ..) = p.judge_facts(&f);
        assert_eq!((prio, rule.as_str()), (0, "failing health checks"));
        assert!(is_health_route("HTTP GET /ws/health 503"));
        assert!(is_health_route("HTTP GET /readyz 503"));
        assert!(
            !is_health_route("HTTP GET /api/healthy-recipes/… 503"),
            "a segment, not a word"
        );
    }

    #[test]
    fn titles_are_words_cut_at_a_word_boundary() {
        assert_eq!(
            words("user <*>... not found: <*> <*>", 80),
            "user … not found: …"
        );
        assert_eq!(
            words("Failed to refresh user record <*> in UserRepository", 30),
            "Failed to refresh user record…"
        );
        assert_eq!(cut_at_word("abc …", 4), "abc…");
    }

    #[test]
    fn summaries_are_clipped() {
        assert_eq!(summary("a\n  b", 10), "a b");
        assert_eq!(summary("abcdefghijk", 5), "abcd…");
    }
}
