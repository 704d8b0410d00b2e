//! `gardener run --shard K/N`: a backfill split across N tasks (Cloud Run Jobs, Kubernetes
//! Indexed Jobs), each reading whole files, whose JSON reports `gardener merge` combines into
//! the report of one run over all of them.
//!
//! **Which files a shard reads.** Every task is given the same list of files; each computes the
//! same split and reads its share. Files are dealt by size, largest first, each to the share
//! with the fewest bytes so far (ties to the lower index, equal sizes by path): hourly exports
//! differ in size by the hour, and equal byte shares finish together. The split depends only
//! on the list and the sizes, never on the order the files are named in.

use std::fmt;

/// One share of N: `index` counts from 0, like `CLOUD_RUN_TASK_INDEX` and
/// `JOB_COMPLETION_INDEX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Where a job runner puts a task's index and count.
const INDEX_VARS: [&str; 2] = ["CLOUD_RUN_TASK_INDEX", "JOB_COMPLETION_INDEX"];
const COUNT_VAR: &str = "CLOUD_RUN_TASK_COUNT";

impl Shard {
    /// Reads `--shard`: `K/N`; `auto` (K and N from Cloud Run's `CLOUD_RUN_TASK_INDEX` and
    /// `CLOUD_RUN_TASK_COUNT`); or `auto/N` (K from `CLOUD_RUN_TASK_INDEX` or, in a Kubernetes
    /// Indexed Job, `JOB_COMPLETION_INDEX`). `env` looks a variable up.
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let (k, n) = spec.split_once('/').unwrap_or((spec, ""));
        let number = |what: &str, s: &str| {
            s.trim().parse::<u32>().map_err(|_| {
                format!("--shard {spec}: {what} {s:?} is not a number; use K/N (e.g. 0/4), auto or auto/N")
            })
        };
        let index = if k == "auto" {
            let (var, value) = INDEX_VARS
                .iter()
                .find_map(|v| env(v).map(|x| (*v, x)))
                .ok_or_else(|| {
                    format!(
                        "--shard {spec}: neither CLOUD_RUN_TASK_INDEX nor JOB_COMPLETION_INDEX is set; outside a Cloud Run Job or Kubernetes Indexed Job give the index: --shard K/N"
                    )
                })?;
            number(var, &value)?
        } else {
            number("K", k)?
        };
        let count = match (n, env(COUNT_VAR)) {
            ("", Some(c)) if k == "auto" => number(COUNT_VAR, &c)?,
            ("", _) => {
                return Err(format!(
                    "--shard {spec}: the number of shards is missing; use K/N (e.g. 0/4), auto (in a Cloud Run Job) or auto/N"
                ));
            }
            (n, _) => number("N", n)?,
        };
        if count == 0 || index >= count {
            return Err(format!(
                "--shard {index}/{count}: K counts from 0 to N-1 (like CLOUD_RUN_TASK_INDEX), so with {count} shards use 0/{count} to {}/{count}",
                count.saturating_sub(1)
            ));
        }
        Ok(Shard { index, count })
    }

    /// This shard's files out of `files` (each with its size in bytes), in the order given.
    pub fn share<'a>(&self, files: &'a [(String, u64)]) -> Vec<&'a str> {
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by(|&a, &b| {
            files[b]
                .1
                .cmp(&files[a].1)
                .then_with(|| files[a].0.cmp(&files[b].0))
        });
        let mut load = vec![0u64; self.count as usize];
        let mut mine = vec![false; files.len()];
        for i in order {
            let least = (0..load.len()).min_by_key(|&s| (load[s], s)).unwrap_or(0);
            load[least] += files[i].1;
            mine[i] = least == self.index as usize;
        }
        files
            .iter()
            .zip(mine)
            .filter(|(_, m)| *m)
            .map(|(f, _)| f.0.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn reads_explicit_and_job_shards() {
        let none = env(&[]);
        assert_eq!(Shard::parse("2/4", &none), Ok(Shard { index: 2, count: 4 }));
        let cloud_run = env(&[("CLOUD_RUN_TASK_INDEX", "3"), ("CLOUD_RUN_TASK_COUNT", "5")]);
        assert_eq!(
            Shard::parse("auto", &cloud_run),
            Ok(Shard { index: 3, count: 5 })
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1")]);
        assert_eq!(
            Shard::parse("auto/3", &k8s),
            Ok(Shard { index: 1, count: 3 })
        );
        for bad in ["4/4", "1", "a/2", "auto", "1/0", "-1/3"] {
            let e = Shard::parse(bad, &none).unwrap_err();
            assert!(e.starts_with("--shard"), "{bad}: {e}");
        }
        assert!(
            Shard::parse("auto", &k8s)
                .unwrap_err()
                .contains("number of shards")
        );
    }

    #[test]
    fn every_file_goes_to_exactly_one_balanced_share() {
        let files: Vec<(String, u64)> = (0..23)
            .map(|i| (format!("logs/{i:02}.json"), 1000 + (i * 7919 % 13) * 500))
            .collect();
        let total: u64 = files.iter().map(|f| f.1).sum();
        let shares: Vec<Vec<&str>> = (0..4)
            .map(|k| Shard { index: k, count: 4 }.share(&files))
            .collect();
        let mut all: Vec<&str> = shares.iter().flatten().copied().collect();
        all.sort();
        let mut want: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        want.sort();
        assert_eq!(all, want);
        let size = |n: &str| files.iter().find(|f| f.0 == n).unwrap().1;
        for s in &shares {
            let bytes: u64 = s.iter().map(|n| size(n)).sum();
            // Within one largest file of an equal share.
            assert!(bytes.abs_diff(total / 4) <= 7000, "{bytes} of {total}");
        }
        // The order files are named in does not change the split.
        let mut reversed = files.clone();
        reversed.reverse();
        let again: Vec<&str> = Shard { index: 1, count: 4 }.share(&reversed);
        let mut a = again.clone();
        a.sort();
        let mut b = shares[1].clone();
        b.sort();
        assert_eq!(a, b);
        // More shards than files: some shares are empty.
        let one = vec![("only.json".to_string(), 10)];
        assert_eq!(Shard { index: 0, count: 3 }.share(&one), vec!["only.json"]);
        assert!(Shard { index: 2, count: 3 }.share(&one).is_empty());
    }
}
