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

use gardener_core::stages::fingerprint::mine::Settings;
use gardener_core::stages::fingerprint::{Masker, MessageGrouper};

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
    score_file_tuned(masker, name, path, &Settings::default())
}

/// [`score_file`] with other mining settings.
pub fn score_file_tuned(
    masker: &Masker,
    name: &str,
    path: &Path,
    settings: &Settings,
) -> std::io::Result<Score> {
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
    let predicted = grouper.finish_tuned(settings);
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
    data_sets(dir)?
        .iter()
        .map(|(name, path)| score_file(masker, name, path))
        .collect()
}

/// The data sets under `dir`, as (name, path), in name order.
pub fn data_sets(dir: &Path) -> std::io::Result<Vec<(String, std::path::PathBuf)>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|n| {
            let p = dir
                .join(&n)
                .join(format!("{n}_2k.log_structured_corrected.csv"));
            (n, p)
        })
        .filter(|(_, p)| p.exists())
        .collect())
}

/// The mining settings a leave-one-out evaluation chooses among.
pub fn settings_grid() -> Vec<Settings> {
    let mut out = Vec::new();
    for align_spans in [false, true] {
        for alternatives_max in [3, 4, 6] {
            for alternative_min_entries in [2, 5, 20, 50] {
                out.push(Settings {
                    alternatives_max,
                    alternative_min_entries,
                    align_spans,
                });
            }
        }
    }
    out
}

/// `ga[g][s]`: the GA of grid point `g` on data set `s`.
pub fn grid_scores(
    masker: &Masker,
    sets: &[(String, std::path::PathBuf)],
    grid: &[Settings],
) -> std::io::Result<Vec<Vec<f64>>> {
    let mut ga = Vec::with_capacity(grid.len());
    for g in grid {
        let mut row = Vec::with_capacity(sets.len());
        for (name, path) in sets {
            row.push(score_file_tuned(masker, name, path, g)?.ga);
        }
        ga.push(row);
    }
    Ok(ga)
}

/// Leave-one-out: for each data set, the settings of [`settings_grid`] with the best average GA
/// on the others (ties: the earlier in the grid), and the GA they give on the set left out.
/// Returns (set, settings chosen, GA on the set left out).
pub fn leave_one_out(
    masker: &Masker,
    sets: &[(String, std::path::PathBuf)],
) -> std::io::Result<Vec<(String, Settings, f64)>> {
    let grid = settings_grid();
    let ga = grid_scores(masker, sets, &grid)?;
    let mut out = Vec::new();
    for (held, (name, _)) in sets.iter().enumerate() {
        let others = |row: &Vec<f64>| -> f64 {
            row.iter()
                .enumerate()
                .filter(|(s, _)| *s != held)
                .map(|(_, g)| g)
                .sum::<f64>()
        };
        let mut best = 0;
        for g in 1..grid.len() {
            if others(&ga[g]) > others(&ga[best]) + 1e-12 {
                best = g;
            }
        }
        out.push((name.clone(), grid[best], ga[best][held]));
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
