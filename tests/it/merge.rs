//! `gardener merge`: the JSON reports of runs over parts of the input combine into exactly the
//! report of one run over all of it (real binary, generated data).

use std::path::{Path, PathBuf};

use crate::common::{clusters, gardener, generate, read_json, s, write};
use serde_json::Value;

/// Removes what is genuinely per invocation: when it ran, how long it took, per-stage
/// counters and the names of the inputs. Everything else must be equal.
fn comparable(mut r: Value) -> Value {
    let o = r.as_object_mut().expect("report is an object");
    o.remove("generated_at");
    o.remove("stages");
    o.remove("inputs");
    o["totals"]
        .as_object_mut()
        .expect("totals")
        .remove("elapsed_ms");
    o["mergeable"]
        .as_object_mut()
        .expect("the report has a mergeable section")
        .remove("inputs");
    r
}

/// Asserts two reports are equal but for per-invocation fields, naming the first difference.
fn assert_same_report(one_run: &Path, merged: &Path) {
    let (a, b) = (
        comparable(read_json(one_run)),
        comparable(read_json(merged)),
    );
    if a == b {
        return;
    }
    for (k, v) in a.as_object().unwrap() {
        if b.get(k) != Some(v) {
            if let (Some(x), Some(y)) = (v.as_array(), b[k].as_array()) {
                let i = x.iter().zip(y).position(|(p, q)| p != q);
                panic!(
                    "{k} differs ({} vs {} items); first different item {i:?}:\n{}\n---\n{}",
                    x.len(),
                    y.len(),
                    i.map(|i| x[i].to_string()).unwrap_or_default(),
                    i.map(|i| y[i].to_string()).unwrap_or_default()
                );
            }
            panic!("{k} differs:\n{v}\n---\n{}", b[k]);
        }
    }
    panic!("the merged report has fields the single run lacks");
}

/// Writes the lines of `all` for which `keep(line number)` holds to `dir/name`.
fn split(all: &Path, dir: &Path, name: &str, keep: impl Fn(usize) -> bool) -> PathBuf {
    let text = std::fs::read_to_string(all).unwrap();
    let part: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert!(!part.is_empty());
    write(dir, name, part)
}

/// `gardener run PART --json PART.json --report PART.md [extra]`.
fn run_json(dir: &Path, input: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let json = dir.join(format!("{name}.json"));
    let md = dir.join(format!("{name}.md"));
    let mut args = vec!["run", s(input), "--json", s(&json), "--report", s(&md)];
    args.extend_from_slice(extra);
    gardener(&args).expect_code(0);
    json
}

/// `gardener merge PARTS --json NAME.json --report NAME.md [extra]`.
fn merge(dir: &Path, parts: &[&Path], name: &str, extra: &[&str]) -> PathBuf {
    let json = dir.join(format!("{name}.json"));
    let md = dir.join(format!("{name}.md"));
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(|p| s(p)));
    args.extend_from_slice(&["--json", s(&json), "--report", s(&md)]);
    args.extend_from_slice(extra);
    gardener(&args).expect_code(0);
    json
}

/// The worklog without the lines that name the time of the run and its inputs.
fn worklog(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("**Generated:**") && !l.starts_with("**Inputs:**"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn halves_merge_into_the_report_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let all = generate(dir.path(), "all.ndjson", 4000, 11, "ndjson", "1d");
    let one = run_json(dir.path(), &all, "one", &[]);

    // Alternate entries: both halves cover the whole day.
    let even = split(&all, dir.path(), "even.ndjson", |i| i % 2 == 0);
    let odd = split(&all, dir.path(), "odd.ndjson", |i| i % 2 == 1);
    let (je, jo) = (
        run_json(dir.path(), &even, "even", &[]),
        run_json(dir.path(), &odd, "odd", &[]),
    );
    let merged = merge(dir.path(), &[&je, &jo], "merged", &[]);
    assert_same_report(&one, &merged);
    assert_eq!(
        worklog(&dir.path().join("one.md")),
        worklog(&dir.path().join("merged.md"))
    );

    // By time: the newer half holds the reference time; the older one's windows are empty.
    let newer = split(&all, dir.path(), "newer.ndjson", |i| i < 1800);
    let older = split(&all, dir.path(), "older.ndjson", |i| i >= 1800);
    let (jn, jold) = (
        run_json(dir.path(), &newer, "newer", &[]),
        run_json(dir.path(), &older, "older", &[]),
    );
    let merged_t = merge(dir.path(), &[&jold, &jn], "merged_t", &[]);
    assert_same_report(&one, &merged_t);

    // The comparison is not vacuous: the data has what must merge exactly.
    let r = read_json(&one);
    let cs = clusters(&r);
    assert!(cs.len() > 50, "{} clusters", cs.len());
    assert!(cs.iter().any(|c| c["http"]["latency_ms"].is_object()));
    assert!(cs.iter().any(|c| c["windows"]["1h"].as_u64() > Some(0)));
    assert!(
        cs.iter()
            .any(|c| c["samples"].as_array().unwrap().len() == 3)
    );
    // Each half alone groups differently from the whole (mining sees fewer templates), so
    // merge really had to re-mine.
    let ids = |p: &Path| -> std::collections::BTreeSet<String> {
        clusters(&read_json(p))
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let whole = ids(&one);
    let halves: std::collections::BTreeSet<String> = ids(&jn).union(&ids(&jold)).cloned().collect();
    assert_ne!(
        whole, halves,
        "no template was mined differently in the halves"
    );
}

#[test]
fn parts_in_any_order_and_merged_merges_give_one_report() {
    let dir = tempfile::tempdir().unwrap();
    let all = generate(dir.path(), "all.ndjson", 3000, 5, "ndjson", "2d");
    let parts: Vec<PathBuf> = (0..3)
        .map(|k| {
            let p = split(&all, dir.path(), &format!("p{k}.ndjson"), |i| i % 3 == k);
            run_json(dir.path(), &p, &format!("p{k}"), &[])
        })
        .collect();
    let (a, b, c) = (&parts[0], &parts[1], &parts[2]);
    let m1 = merge(dir.path(), &[a, b, c], "m1", &[]);
    let m2 = merge(dir.path(), &[c, a, b], "m2", &[]);
    let m3 = merge(dir.path(), &[b, c, a], "m3", &[]);
    let strip = |p: &Path| {
        let mut v = read_json(p);
        v.as_object_mut().unwrap().remove("generated_at");
        v["totals"].as_object_mut().unwrap().remove("elapsed_ms");
        v
    };
    // Identical, inputs and notes included.
    assert_eq!(strip(&m1), strip(&m2));
    assert_eq!(strip(&m1), strip(&m3));
    let md = |name: &str| {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("**Generated:**"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(md("m1.md"), md("m2.md"));
    // A merged report merges again: (b + c) + a is a + b + c.
    let bc = merge(dir.path(), &[b, c], "bc", &[]);
    let abc = merge(dir.path(), &[&bc, a], "abc", &[]);
    let one = run_json(dir.path(), &all, "one", &[]);
    assert_same_report(&one, &m1);
    assert_same_report(&one, &abc);
}

#[test]
fn parts_made_with_now_merge_like_a_run_with_now() {
    let dir = tempfile::tempdir().unwrap();
    let all = generate(dir.path(), "all.ndjson", 1500, 9, "ndjson", "1d");
    let now = ["--now", "2025-09-14T06:00:00Z"];
    let one = run_json(dir.path(), &all, "one", &now);
    let a = split(&all, dir.path(), "a.ndjson", |i| i < 700);
    let b = split(&all, dir.path(), "b.ndjson", |i| i >= 700);
    let (ja, jb) = (
        run_json(dir.path(), &a, "a", &now),
        run_json(dir.path(), &b, "b", &now),
    );
    // The --now the parts were made with applies by default.
    let merged = merge(dir.path(), &[&ja, &jb], "merged", &[]);
    assert_same_report(&one, &merged);
    assert_eq!(
        read_json(&merged)["reference_time"],
        "2025-09-14T06:00:00.000000Z"
    );
    // Another --now is refused.
    let out = gardener(&["merge", s(&ja), s(&jb), "--now", "2025-09-15T00:00:00Z"]);
    out.expect_code(2);
    assert!(out.stderr.contains("made with --now"), "{}", out.stderr);

    // Parts made without --now merge with a --now not before their newest entries: their
    // per-second counts reach back far enough.
    let (pa, pb) = (
        run_json(dir.path(), &a, "plain_a", &[]),
        run_json(dir.path(), &b, "plain_b", &[]),
    );
    let merged_later = merge(dir.path(), &[&pa, &pb], "later", &now);
    assert_same_report(&one, &merged_later);
    // An earlier --now is refused: those counts were dropped.
    let out = gardener(&["merge", s(&pa), s(&pb), "--now", "2025-09-13T06:00:00Z"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("is before the newest entry of"),
        "{}",
        out.stderr
    );
}

#[test]
fn merge_refuses_what_it_cannot_merge() {
    let dir = tempfile::tempdir().unwrap();
    let all = generate(dir.path(), "all.ndjson", 300, 2, "ndjson", "6h");
    let good = run_json(dir.path(), &all, "good", &[]);

    let refuse = |file: &Path, extra: &[&str], needle: &str| {
        let mut args = vec!["merge", s(&good), s(file)];
        args.extend_from_slice(extra);
        let out = gardener(&args);
        out.expect_code(2);
        assert!(
            out.stderr.contains(needle),
            "expected {needle:?} in: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "nothing is written: {}", out.stdout);
    };
    // Not JSON, JSON that is not a report, a report without the section.
    refuse(&all, &[], "is not a gardener JSON report");
    let other = write(
        dir.path(),
        "other.json",
        r#"{"clusters": [], "totals": {}}"#,
    );
    refuse(&other, &[], "is not a gardener JSON report");
    let mut v = read_json(&good);
    v.as_object_mut().unwrap().remove("mergeable");
    let old = write(dir.path(), "old.json", v.to_string());
    refuse(&old, &[], "has no \"mergeable\" section");
    // Another format version.
    let mut v = read_json(&good);
    v["mergeable"]["format"] = 99.into();
    let future = write(dir.path(), "future.json", v.to_string());
    refuse(&future, &[], "mergeable format 99");
    // Other windows.
    let cfg = write(dir.path(), "w.yaml", "aggregate:\n  windows: [5m, 1h]\n");
    let short = run_json(dir.path(), &all, "short", &["--config", s(&cfg)]);
    refuse(&short, &[], "was made with windows 5m, 1h");
    // Other samples.
    let cfg = write(dir.path(), "s.yaml", "aggregate:\n  samples: 1\n");
    let few = run_json(dir.path(), &all, "few", &["--config", s(&cfg)]);
    refuse(&few, &[], "aggregate.samples 1");
    // A damaged section.
    let mut v = read_json(&good);
    v["mergeable"]["clusters"][0]["count"] = "many".into();
    let bad = write(dir.path(), "bad.json", v.to_string());
    refuse(&bad, &[], "the mergeable section is damaged");
    // A missing file is an input error.
    gardener(&["merge", s(&good), s(&dir.path().join("missing.json"))]).expect_code(3);
    // The same config on both sides merges.
    let merged = merge(
        dir.path(),
        &[&short],
        "m",
        &["--config", s(&cfg.with_file_name("w.yaml"))],
    );
    assert_eq!(
        read_json(&merged)["windows"],
        serde_json::json!(["5m", "1h"])
    );
}

#[test]
fn a_merge_keeps_to_the_cluster_cap_and_loses_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let all = generate(dir.path(), "all.ndjson", 3000, 5, "ndjson", "1d");
    let even = split(&all, dir.path(), "even.ndjson", |i| i % 2 == 0);
    let odd = split(&all, dir.path(), "odd.ndjson", |i| i % 2 == 1);
    // Each part is under the default cap; together they are over a cap of 20.
    let (je, jo) = (
        run_json(dir.path(), &even, "even", &[]),
        run_json(dir.path(), &odd, "odd", &[]),
    );
    let cap = write(dir.path(), "cap.yaml", "aggregate:\n  max_clusters: 20\n");
    let merged = read_json(&merge(dir.path(), &[&je, &jo], "capped", &["-c", s(&cap)]));
    let uncapped = read_json(&merge(dir.path(), &[&je, &jo], "uncapped", &[]));
    let sum = |r: &Value| {
        clusters(r)
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum(&merged), sum(&uncapped));
    assert_eq!(sum(&merged), 3000);
    assert!(uncapped["totals"].get("clusters_folded").is_none());
    let folded = merged["totals"]["clusters_folded"].as_u64().unwrap_or(0);
    assert!(folded > 0, "{}", merged["totals"]);
    let overflow = clusters(&merged)
        .iter()
        .filter(|c| c.get("folded").is_some())
        .count();
    assert!(overflow >= 1);
    // At most the cap in detail (mining may merge some of them further), plus one overflow
    // cluster per service.
    assert!(
        clusters(&merged).len() <= 20 + overflow,
        "{}",
        clusters(&merged).len()
    );
}

/// `gardener run --shard K/N` over the same files in four tasks, then `gardener merge`: the
/// report of one run over all the files (each file read by exactly one shard; a shard with no
/// file still writes its report).
#[test]
fn four_shards_merge_into_the_report_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Hourly exports differ in size: five files of three sizes.
    let files: Vec<PathBuf> = [(900u64, 1), (3000, 2), (1500, 3), (900, 4), (2200, 5)]
        .iter()
        .map(|&(n, seed)| generate(d, &format!("hour-{seed}.ndjson"), n, seed, "ndjson", "6h"))
        .collect();
    let names: Vec<&str> = files.iter().map(|f| s(f)).collect();
    let one_json = d.join("one.json");
    let mut one = vec!["run", "--json", s(&one_json), "--report", "/dev/null"];
    one.extend(&names);
    gardener(&one).expect_code(0);

    let pattern = d.join("shard-{shard}.json");
    let mut read_by = Vec::new();
    for k in 0..4 {
        let spec = format!("{k}/4");
        let mut args = vec![
            "run",
            "--shard",
            &spec,
            "--json",
            s(&pattern),
            "--report",
            "/dev/null",
        ];
        args.extend(names.iter().rev());
        let out = gardener(&args);
        out.expect_code(0);
        assert!(
            out.stderr.contains(&format!("shard {k}/4:")),
            "{}",
            out.stderr
        );
        let r = read_json(&d.join(format!("shard-{k}.json")));
        read_by.extend(
            r["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.to_string()),
        );
    }
    read_by.sort();
    let mut want: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    want.sort();
    assert_eq!(read_by, want, "every file read by exactly one shard");

    let parts: Vec<PathBuf> = (0..4).map(|k| d.join(format!("shard-{k}.json"))).collect();
    let refs: Vec<&Path> = parts.iter().map(|p| p.as_path()).collect();
    let merged = merge(d, &refs, "merged", &[]);
    assert_same_report(&one_json, &merged);

    // More shards than files: the last shards read nothing (not standard input) and still
    // write a report that merges.
    let spare = d.join("spare.json");
    let out = gardener(&[
        "run",
        "--shard",
        "5/6",
        "--json",
        s(&spare),
        "--report",
        "/dev/null",
        names[0],
    ]);
    out.expect_code(0);
    assert_eq!(read_json(&spare)["totals"]["entries_read"], 0);

    // Mistakes are named.
    let out = gardener(&["run", "--shard", "4/4", names[0]]);
    out.expect_code(2);
    assert!(out.stderr.contains("counts from 0"), "{}", out.stderr);
    let out = gardener(&["run", "--shard", "0/2"]);
    out.expect_code(2);
    assert!(out.stderr.contains("name the files"), "{}", out.stderr);
}

/// `--shard auto` takes the task's index and count from Cloud Run Jobs' variables, and
/// `auto/N` the index from a Kubernetes Indexed Job's.
#[test]
fn shards_come_from_the_job_runner() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = generate(d, "a.ndjson", 300, 1, "ndjson", "1h");
    let b = generate(d, "b.ndjson", 200, 2, "ndjson", "1h");
    let run = |shard: &str, vars: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gardener"));
        c.args([
            "run",
            "--shard",
            shard,
            "--state",
            "none",
            "--report",
            "/dev/null",
        ])
        .args(["--json", s(&d.join("t{shard}.json")), s(&a), s(&b)])
        .env_remove("CLOUD_RUN_TASK_INDEX")
        .env_remove("CLOUD_RUN_TASK_COUNT")
        .env_remove("JOB_COMPLETION_INDEX");
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run(
        "auto",
        &[("CLOUD_RUN_TASK_INDEX", "1"), ("CLOUD_RUN_TASK_COUNT", "2")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The larger file goes to shard 0, the other to shard 1.
    assert_eq!(read_json(&d.join("t1.json"))["totals"]["entries_read"], 200);
    let out = run("auto/2", &[("JOB_COMPLETION_INDEX", "0")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read_json(&d.join("t0.json"))["totals"]["entries_read"], 300);
    let out = run("auto", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CLOUD_RUN_TASK_INDEX"));
}

/// Each cluster's id and count.
fn counts(r: &Value) -> std::collections::BTreeMap<String, u64> {
    clusters(r)
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `sinks.sampled_clusters`: clusters past the cap (but problem leads) keep their counts and
/// lose their samples, said in the totals and the worklog; the mergeable section drops the
/// samples of their raw fingerprints; halves still merge into the same counts.
#[test]
fn samples_past_the_cap_are_left_out_and_counts_stay() {
    let dir = tempfile::tempdir().unwrap();
    let all = generate(dir.path(), "all.ndjson", 4000, 11, "ndjson", "1d");
    let cap = write(dir.path(), "cap.yaml", "sinks:\n  sampled_clusters: 10\n");
    let one = run_json(dir.path(), &all, "one", &["-c", s(&cap)]);
    let r = read_json(&one);
    let cs = clusters(&r);
    let leads: std::collections::BTreeSet<&str> = r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["lead"].as_str().unwrap())
        .collect();
    let samples = |c: &Value| c["samples"].as_array().unwrap().len();
    assert!(cs[..10].iter().all(|c| samples(c) > 0));
    let unsampled = cs[10..]
        .iter()
        .filter(|c| !leads.contains(c["id"].as_str().unwrap()))
        .inspect(|c| assert_eq!(samples(c), 0, "{}", c["id"]))
        .count() as u64;
    assert!(unsampled > 0);
    assert_eq!(r["totals"]["clusters_unsampled"].as_u64(), Some(unsampled));
    assert!(cs.iter().all(|c| c["count"].as_u64() > Some(0)));
    assert!(worklog(&dir.path().join("one.md")).contains("**Samples:** kept for the"));
    // The mergeable section has no samples for raw fingerprints of clusters without.
    let with: std::collections::BTreeSet<String> = cs
        .iter()
        .flat_map(|c| c["samples"].as_array().unwrap())
        .map(|v| v["insertId"].as_str().unwrap().to_string())
        .collect();
    let raw: std::collections::BTreeSet<String> = r["mergeable"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["samples"].as_array().unwrap().iter())
        .map(|x| serde_json::from_str::<Value>(x["raw"].as_str().unwrap()).unwrap())
        .map(|v| v["insertId"].as_str().unwrap().to_string())
        .collect();
    assert!(with.is_subset(&raw));
    let sampled = read_json(&run_json(dir.path(), &all, "uncapped", &[]));
    let raw_all = sampled["mergeable"]["clusters"].as_array().unwrap();
    let count = |v: &[Value]| v.iter().map(&samples).sum::<usize>();
    assert!(
        raw.len() < count(raw_all),
        "{} of {}",
        raw.len(),
        count(raw_all)
    );
    // Halves merge into the one run's report, samples and all.
    let even = split(&all, dir.path(), "even.ndjson", |i| i % 2 == 0);
    let odd = split(&all, dir.path(), "odd.ndjson", |i| i % 2 == 1);
    let (je, jo) = (
        run_json(dir.path(), &even, "even", &["-c", s(&cap)]),
        run_json(dir.path(), &odd, "odd", &["-c", s(&cap)]),
    );
    let merged = read_json(&merge(dir.path(), &[&je, &jo], "merged", &["-c", s(&cap)]));
    assert_eq!(counts(&merged), counts(&r));
    assert!(merged["totals"]["clusters_unsampled"].as_u64() > Some(0));
    // Under the cap nothing is left out and nothing is said.
    assert!(sampled["totals"].get("clusters_unsampled").is_none());
    assert!(!worklog(&dir.path().join("uncapped.md")).contains("**Samples:**"));
    assert!(clusters(&sampled).iter().all(|c| samples(c) > 0));
}
