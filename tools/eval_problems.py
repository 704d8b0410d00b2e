#!/usr/bin/env python3
"""How well `gardener run` recovers the problems `gardener gen` planted.

Usage (from the repository root, with a built binary):

    tools/eval_problems.py [--bin target/release/gardener] [--entries 20000] [--seed 11] [--span 24h]

It generates logs with ground truth (`--truth`, `--problems-truth`), runs gardener over them
(`--entries`, `--json`, `--report`), and prints, per planted problem, whether its *core*
templates came out as one problem. Core templates of a planted problem: eligible for grouping
(severity WARNING or worse, or an HTTP 4xx/5xx request), planted in no other problem, and for a
chain mostly logged inside the chain (at least half of their entries share a trace with the
chain's root template) — a template that mostly happens elsewhere is not dragged along by
this root. Standard library only.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from collections import Counter, defaultdict

SEV = ["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/gardener")
    ap.add_argument("--entries", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--span", default="24h")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="eval-problems-")
    logs, truth, planted = (os.path.join(d, n) for n in ("logs.json", "truth.tsv", "planted.json"))
    subprocess.run([a.bin, "gen", "--entries", str(a.entries), "--seed", str(a.seed), "--span", a.span,
                    "--truth", truth, "--problems-truth", planted, "-o", logs], check=True)
    rep, ent, md = (os.path.join(d, n) for n in ("r.json", "e.ndjson", "w.md"))
    t0 = time.monotonic()
    subprocess.run([a.bin, "run", logs, "--state", "none", "--quiet", "--json", rep, "--entries", ent,
                    "--report", md], check=True)
    secs = time.monotonic() - t0

    key_of = dict(line.rstrip("\n").split("\t") for line in open(truth))
    trace_of = {e["insertId"]: e.get("trace") for e in json.load(open(logs))}
    problem_of, sev_of = {}, defaultdict(int)
    for line in open(ent):
        e = json.loads(line)
        problem_of[e["insertId"]] = e["problem"]
        k = key_of[e["insertId"]]
        sev_of[k] = max(sev_of[k], SEV.index(e["severity"]))
    by_key = defaultdict(list)
    for i, k in key_of.items():
        by_key[k].append(i)
    plants = json.load(open(planted))["planted"]
    count = Counter(k for p in plants for k in set(p["templates"]))

    def eligible(k):
        parts = k.split(" ")
        if len(parts) == 3 and parts[0].isupper() and parts[2].isdigit():
            return int(parts[2]) >= 400
        return sev_of[k] >= SEV.index("WARNING")

    r = json.load(open(rep))
    problems = {p["id"]: p for p in r["problems"]}
    rows, whole, found, judged = [], 0, 0, 0
    for p in plants:
        keys = [k for k in p["templates"] if k in by_key and eligible(k)]
        if not keys:
            continue
        root = keys[0]
        core = [k for k in keys if count[k] == 1]
        if p["kind"] == "chain" and root in core:
            root_traces = {trace_of[i] for i in by_key[root] if trace_of[i]}
            core = [k for k in core if k == root or
                    sum(trace_of[i] in root_traces for i in by_key[k]) * 2 >= len(by_key[k])]
        if len(core) < 2:
            rows.append((p["name"], len(core), "-", "fewer than two core templates"))
            continue
        judged += 1
        ids = Counter(problem_of[i] for k in core for i in by_key[k])
        main_id, _ = ids.most_common(1)[0]
        in_main = [k for k in core if all(problem_of[i] == main_id for i in by_key[k])]
        is_whole = len(in_main) == len(core)
        whole += is_whole
        found += len(in_main) >= 2
        others = [q["name"] for q in plants if q is not p and any(
            count[k] == 1 and k in by_key and eligible(k) and all(problem_of[i] == main_id for i in by_key[k])
            for k in q["templates"])]
        rows.append((p["name"], len(core), f"{len(in_main)}/{len(core)} in {main_id} ({problems[main_id]['priority']})",
                     ("whole" if is_whole else "split") + (f"; also holds {', '.join(others)}" if others else "")))
    for row in rows:
        print("  %-34s core %-3s %-40s %s" % row)
    lines = sum(1 for _ in open(md))
    p0 = sum(p["priority"] == "P0" for p in r["problems"])
    print(f"seed {a.seed}, {a.entries} entries over {a.span}: {len(r['clusters'])} clusters in "
          f"{len(r['problems'])} problems ({p0} P0); planted problems judged {judged}: found {found}, "
          f"whole {whole}; worklog {lines} lines; run {secs:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
