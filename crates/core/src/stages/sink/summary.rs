//! The short summary on standard error when the worklog goes to a file: what was read, the
//! most urgent problems, what changed, and every file written — at most [`MAX_LINES`] lines, so
//! a person who ran `gardener run … --report worklog.md` sees at once whether to open it.
//! `--quiet` turns it off.

use std::fmt::Write as _;

use crate::model::record::{ProblemReport, Report, Status};
use crate::stages::sink::report::{entries, problem_trend, thousands};

/// Problems listed by name.
pub const TOP: usize = 8;
/// The summary's length limit.
pub const MAX_LINES: usize = 40;
/// Widest problem title, in characters.
const TITLE: usize = 90;

/// A file the run wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// `worklog`, `JSON report`, `entries`, `dead letter`, `state`.
    pub what: &'static str,
    pub path: String,
}

/// The summary, each line ending in a newline.
pub fn render(r: &Report, written: &[Written]) -> String {
    let mut o = String::new();
    let t = &r.totals;
    let _ = writeln!(
        o,
        "Read {} from {} in {:.1} s: {} in {} {}{}.",
        entries(t.entries_read),
        inputs(&r.inputs),
        t.elapsed_ms as f64 / 1000.0,
        plural(r.problems.len() as u64, "problem", "problems"),
        thousands(t.clusters),
        if t.clusters == 1 {
            "cluster"
        } else {
            "clusters"
        },
        if t.entries_skipped > 0 {
            format!("; {} skipped as bad", thousands(t.entries_skipped))
        } else {
            String::new()
        }
    );
    top_problems(&mut o, r);
    if let Some(line) = changed(r) {
        let _ = writeln!(o, "{line}");
    }
    if !written.is_empty() {
        let files: Vec<String> = written
            .iter()
            .map(|w| format!("{} {}", w.what, w.path))
            .collect();
        let _ = writeln!(o, "Wrote {}.", files.join(" · "));
    }
    o
}

fn top_problems(o: &mut String, r: &Report) {
    let actionable: Vec<&ProblemReport> = r.problems.iter().filter(|p| !p.expected).collect();
    for p in actionable.iter().take(TOP) {
        let trend = problem_trend(p);
        let _ = writeln!(
            o,
            "  {}  {} — {}{}",
            p.priority,
            cut(&p.title, TITLE),
            entries(p.count),
            if trend == "—" {
                String::new()
            } else {
                format!(" · {trend}")
            }
        );
    }
    if actionable.len() > TOP {
        let rest = &actionable[TOP..];
        let by_p: Vec<String> = (0..=5)
            .filter_map(|q| {
                let n = rest.iter().filter(|x| x.priority.0 == q).count();
                (n > 0).then(|| format!("{n} × P{q}"))
            })
            .collect();
        let _ = writeln!(o, "  … {} more: {}", rest.len(), by_p.join(", "));
    }
}

/// What changed since the last run, in one line; `None` without a state.
fn changed(r: &Report) -> Option<String> {
    r.trends.state.as_ref()?;
    if r.trends.previous_run.is_none() {
        return Some("First run with this state: every problem is new.".into());
    }
    let count = |s: Status| {
        r.problems
            .iter()
            .filter(|p| !p.expected && p.status == Some(s))
            .count() as u64
    };
    let parts: Vec<String> = [
        (count(Status::New), "new"),
        (count(Status::Escalating), "escalating"),
        (count(Status::Regressed), "regressed"),
        (r.trends.resolved.len() as u64, "resolved-looking"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    Some(if parts.is_empty() {
        "Since the last run: nothing new, escalating, regressed or resolved.".into()
    } else {
        format!("Since the last run: {}.", parts.join(", "))
    })
}

fn inputs(names: &[String]) -> String {
    match names {
        [] => "no input".into(),
        [one] if one == "-" => "standard input".into(),
        [one] => one.clone(),
        many => format!("{} inputs", many.len()),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// At most `max` characters, cut at a character boundary with `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_titles_are_cut_and_inputs_named() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("é", 4), "é");
        assert_eq!(inputs(&["-".into()]), "standard input");
        assert_eq!(inputs(&["a".into(), "b".into()]), "2 inputs");
        assert_eq!(plural(1, "problem", "problems"), "1 problem");
    }
}
