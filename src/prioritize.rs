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
use crate::fingerprint::format_id;
use crate::record::{
    Aggregate, Cluster, ClusterReport, ClusterTrend, HttpReport, LatencyReport, Severity,
};
use crate::time::format_rfc3339;

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
                    .filter_map(|(w, n)| windows.iter().position(|x| x == w).map(|i| (i, *n)))
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

    fn matches(&self, r: &Compiled, c: &Cluster, t: &ClusterTrend) -> bool {
        let m = &r.rule.when;
        let status = t.status.map(|s| s.name());
        let sev = c.max_severity();
        r.severity_at_least.is_none_or(|s| sev >= s)
            && r.severity_below.is_none_or(|s| sev < s)
            && r.service.as_ref().is_none_or(|re| re.is_match(&c.service))
            && r.template
                .as_ref()
                .is_none_or(|re| re.is_match(&c.template))
            && r.module
                .as_ref()
                .is_none_or(|re| c.locations.keys().any(|l| re.is_match(l)))
            && m.count_at_least.is_none_or(|n| c.count >= n)
            && r.windows
                .iter()
                .all(|&(i, n)| c.windows.get(i).is_some_and(|&v| v >= n))
            && m.http_status_at_least
                .is_none_or(|s| c.http_statuses.keys().any(|&k| k >= s))
            && m.status.as_deref().is_none_or(|s| status == Some(s))
            && m.escalating.is_none_or(|e| e == t.escalation.is_some())
    }

    /// Priority, rule name, title, labels and expected flag of a cluster, without trend
    /// information. With no matching rule a cluster is P5.
    pub fn judge(&self, c: &Cluster) -> Judgement {
        self.judge_trend(c, &ClusterTrend::default())
    }

    /// Priority, rule name, title, labels and expected flag of a cluster with its trend.
    pub fn judge_trend(&self, c: &Cluster, t: &ClusterTrend) -> Judgement {
        let hit = self
            .rules
            .iter()
            .find(|r| r.rule.raise == 0 && self.matches(r, c, t));
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
            .filter(|r| r.rule.raise > 0 && !expected && self.matches(r, c, t))
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
        let title = title
            .replace("{service}", &c.service)
            .replace("{priority}", &format!("P{p}"))
            .replace("{severity}", c.max_severity().name())
            .replace("{id}", &format_id(c.id))
            .replace("{summary}", &summary(&c.template, 90));
        (p, name, title, labels, expected)
    }

    /// Judges and renders every cluster, most urgent first.
    pub fn run(&self, agg: &Aggregate) -> Vec<ClusterReport> {
        self.run_with(agg, &std::collections::HashMap::new())
    }

    /// Judges and renders every cluster with its trend (`trends`: cluster id → trend; a
    /// cluster without one has none), most urgent first.
    pub fn run_with(
        &self,
        agg: &Aggregate,
        trends: &std::collections::HashMap<u64, ClusterTrend>,
    ) -> Vec<ClusterReport> {
        let none = ClusterTrend::default();
        let mut out: Vec<(u8, ClusterReport)> = agg
            .clusters
            .iter()
            .map(|c| {
                let t = trends.get(&c.id).unwrap_or(&none);
                let (p, rule, title, labels, expected) = self.judge_trend(c, t);
                let mut r = render(c, agg, p, rule, title, labels, expected);
                r.trend = t.clone();
                (p, r)
            })
            .collect();
        out.sort_by(|(pa, a), (pb, b)| {
            pa.cmp(pb).then(b.count.cmp(&a.count)).then(a.id.cmp(&b.id))
        });
        out.into_iter().map(|(_, c)| c).collect()
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
        latency_ms: c.latency_us.as_ref().map(|h| LatencyReport {
            p50: h.value_at_quantile(0.50) as f64 / 1000.0,
            p95: h.value_at_quantile(0.95) as f64 / 1000.0,
            p99: h.value_at_quantile(0.99) as f64 / 1000.0,
            max: h.max() as f64 / 1000.0,
            count: h.len(),
        }),
    });
    ClusterReport {
        id: format_id(c.id),
        priority: format!("P{p}"),
        title,
        rule,
        expected,
        labels,
        service: c.service.clone(),
        template: c.template.clone(),
        max_severity: c.max_severity().name().to_string(),
        severities,
        count: c.count,
        windows,
        first_seen: c.first_seen.map(format_rfc3339),
        last_seen: c.last_seen.map(format_rfc3339),
        revisions: c.revisions.clone(),
        locations: c.locations.clone(),
        samples: c
            .samples
            .iter()
            .map(|s| {
                serde_json::from_str(&s.raw).unwrap_or(serde_json::Value::String(s.raw.clone()))
            })
            .collect(),
        http,
        // Filled in by the run only when the GitHub sink needs it (see `pipeline::conclude`):
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
            revisions: Default::default(),
            locations: Default::default(),
            per_second: Default::default(),
            series: Default::default(),
            windows: vec![0, count, count, count],
            samples: vec![],
            http_statuses: Default::default(),
            latency_us: None,
            traces: Default::default(),
        }
    }

    #[test]
    fn built_in_rules() {
        let p = Prioritizer::new(&Config::default()).unwrap();
        assert_eq!(p.judge(&cluster(Severity::Critical, 1, "x")).0, 0);
        assert_eq!(p.judge(&cluster(Severity::Error, 12, "x")).0, 1);
        assert_eq!(p.judge(&cluster(Severity::Error, 2, "x")).0, 2);
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
            status: Some(crate::record::Status::Ongoing),
            ..Default::default()
        };
        assert_eq!(p.judge_trend(&c, &steady).0, 3);
        let spiking = ClusterTrend {
            status: Some(crate::record::Status::Escalating),
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
            status: Some(crate::record::Status::Regressed),
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
    fn summaries_are_clipped() {
        assert_eq!(summary("a\n  b", 10), "a b");
        assert_eq!(summary("abcdefghijk", 5), "abcd…");
    }
}
