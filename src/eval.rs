//! Grouping accuracy on Loghub-2k: runs the same fingerprinting as `gardener run` (mask every
//! message, then generalize over the set) on each data set's `Content` column and compares the
//! groups with the ground truth (`EventTemplate`). One configuration for every set.
//!
//! - **GA** (grouping accuracy): a line is right when the group it was put in holds exactly the
//!   lines of its true group.
//! - **FGA**: F1 over groups (a predicted group is correct when it equals a true group).
//! - **PA** (parsing accuracy): the predicted template equals the true one after folding runs of
//!   `<*>`.

use std::collections::HashMap;
use std::path::Path;

use crate::fingerprint::{Masker, MessageGrouper};

/// Scores of one data set.
#[derive(Clone, Debug)]
pub struct Score {
    pub name: String,
    pub lines: usize,
    pub ga: f64,
    pub fga: f64,
    pub pa: f64,
    pub predicted_groups: usize,
    pub true_groups: usize,
}

/// Splits one CSV record (RFC 4180 quoting) into fields.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn fold(t: &str) -> String {
    let mut out = String::new();
    for w in t.split_whitespace() {
        if w == "<*>" && out.ends_with("<*>") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Scores one `<name>_2k.log_structured_corrected.csv`.
pub fn score_file(masker: &Masker, name: &str, path: &Path) -> std::io::Result<Score> {
    let text = String::from_utf8_lossy(&std::fs::read(path)?).into_owned();
    let mut lines = text.lines();
    let header = csv_fields(lines.next().unwrap_or(""));
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(content), Some(template)) = (col("Content"), col("EventTemplate")) else {
        return Err(std::io::Error::other(format!(
            "{}: no Content/EventTemplate columns",
            path.display()
        )));
    };
    let mut grouper = MessageGrouper::new(masker, "");
    let mut truth = Vec::new();
    for line in lines {
        let f = csv_fields(line);
        if f.len() <= content.max(template) {
            continue;
        }
        grouper.add(&f[content]);
        truth.push(f[template].clone());
    }
    let predicted = grouper.finish();
    let n = truth.len();
    let mut tg: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut pg: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, (t, (p, _))) in truth.iter().zip(&predicted).enumerate() {
        tg.entry(t).or_default().push(i);
        pg.entry(*p).or_default().push(i);
    }
    let ga = (0..n)
        .filter(|&i| tg[truth[i].as_str()] == pg[&predicted[i].0])
        .count() as f64
        / n.max(1) as f64;
    let correct = pg
        .values()
        .filter(|v| tg[truth[v[0]].as_str()] == **v)
        .count() as f64;
    let (p, r) = (
        correct / pg.len().max(1) as f64,
        correct / tg.len().max(1) as f64,
    );
    let fga = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    let pa = (0..n)
        .filter(|&i| fold(&predicted[i].1) == fold(&truth[i]))
        .count() as f64
        / n.max(1) as f64;
    Ok(Score {
        name: name.to_string(),
        lines: n,
        ga,
        fga,
        pa,
        predicted_groups: pg.len(),
        true_groups: tg.len(),
    })
}

/// Scores every data set found under `dir` (`<dir>/<Name>/<Name>_2k.log_structured_corrected.csv`),
/// in name order.
pub fn score_dir(masker: &Masker, dir: &Path) -> std::io::Result<Vec<Score>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = dir
            .join(&name)
            .join(format!("{name}_2k.log_structured_corrected.csv"));
        if path.exists() {
            out.push(score_file(masker, &name, &path)?);
        }
    }
    Ok(out)
}

/// A table of scores with the average, in markdown.
pub fn table(scores: &[Score]) -> String {
    let mut s =
        String::from("| data set | GA | FGA | PA | groups (pred/true) |\n|---|---|---|---|---|\n");
    for x in scores {
        s.push_str(&format!(
            "| {} | {:.3} | {:.3} | {:.3} | {}/{} |\n",
            x.name, x.ga, x.fga, x.pa, x.predicted_groups, x.true_groups
        ));
    }
    let n = scores.len().max(1) as f64;
    let avg = |f: fn(&Score) -> f64| scores.iter().map(f).sum::<f64>() / n;
    s.push_str(&format!(
        "| **average** | **{:.3}** | **{:.3}** | **{:.3}** | |\n",
        avg(|x| x.ga),
        avg(|x| x.fga),
        avg(|x| x.pa)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(
            csv_fields(r#"1,"a, b","say ""hi""",x"#),
            vec!["1", "a, b", "say \"hi\"", "x"]
        );
        assert_eq!(fold("a <*> <*> b"), "a <*> b");
    }
}
