#!/usr/bin/env bash
# The shapes benchmark (issue 15): `gardener run` against the one-core parse floor
# (`gardener parse-only`) on every shape of data, as paired runs.
#
#   benches/shapes.sh [N] [RUNS] [SHAPES...]
#
# N: entries per shape (default 100000). RUNS: pairs per shape (default 3). SHAPES (default: all
# but gen): mixed ndjson gzip requests malformed tracebacks distinct gen, where gzip is the mixed
# shape written as .json.gz and gen is `gardener gen` output (seed 1, a gcloud array); the others
# come from benches/shapes/gen_shapes.py (see its --help), seed 1.
#
# Each shape is generated once into bench-data/shapes/ (SHAPE-N.json, .ndjson or .json.gz) and
# reused; delete a file to regenerate it. Then, RUNS times, alternating:
#   floor  target/release/gardener parse-only FILE: the source's splitter in its exact mode
#          (every byte scanned for brackets and strings) and the parse stage on one thread,
#          nothing else. For gzip: `gzip -dc FILE | gardener parse-only /dev/stdin`,
#          both pinned to one core (taskset -c 0), since parse-only does not decompress.
#   run    target/release/gardener run --quiet --state none --report /dev/null --json OUT FILE
# each measured by GNU time (wall, user, sys, peak RSS; the wall time also with date +%s%N around
# it, for millisecond resolution). Prints a markdown table per shape and a
# summary: medians, and floor wall / run wall (above 1: the run beats the floor), per pair and of
# the medians. Nothing is asserted. Uses the release binary as it is: build it first
# (cargo build --release); GARDENER=PATH uses another binary.
#
# STATE=first runs each `run` with a state store, as users run (a fresh directory each time:
# the first run of a state); STATE=second primes the store with one unmeasured run over the
# same file first, so each measured run is a second run (every entry already counted, the
# insertId memory looked up). Default: STATE=none (`--state none`).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: benches/shapes.sh [N] [RUNS] [SHAPES...]"
n=${1:-100000}
runs=${2:-3}
shift $(($# < 2 ? $# : 2))
[[ $n =~ ^[0-9]+$ && $runs =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
if [ $# -gt 0 ]; then
  shapes=("$@")
else
  shapes=(mixed ndjson gzip requests malformed tracebacks distinct)
fi
gardener=${GARDENER:-target/release/gardener}
state=${STATE:-none}
case $state in
  none | first | second) ;;
  *) echo "STATE is none, first or second, not '$state'" >&2; exit 2 ;;
esac
[ -x "$gardener" ] || { echo "$gardener is missing: build it with cargo build --release" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }
command -v python3 > /dev/null || { echo "python3 is needed" >&2; exit 1; }
pin=()
command -v taskset > /dev/null && pin=(taskset -c 0)

dir=bench-data/shapes
mkdir -p "$dir"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The data file of a shape.
file_of() {
  case $1 in
    mixed | requests | malformed | tracebacks) echo "$dir/$1-$n.json" ;;
    ndjson | distinct) echo "$dir/$1-$n.ndjson" ;;
    gzip) echo "$dir/mixed-$n.json.gz" ;;
    gen) echo "$dir/gen-$n.json" ;;
    *) echo "unknown shape '$1' (mixed ndjson gzip requests malformed tracebacks distinct gen)" >&2; return 1 ;;
  esac
}

for shape in "${shapes[@]}"; do
  file=$(file_of "$shape")
  [ -s "$file" ] && continue
  # Written under another name first (same extension: .gz decides compression), then renamed.
  tmp="${file%.*}.tmp.${file##*.}"
  start=$(date +%s.%N)
  case $shape in
    gen) "$gardener" gen --entries "$n" --seed 1 --format array -o "$tmp" ;;
    gzip) python3 benches/shapes/gen_shapes.py mixed "$n" "$tmp" --seed 1 ;;
    *) python3 benches/shapes/gen_shapes.py "$shape" "$n" "$tmp" --seed 1 ;;
  esac
  mv "$tmp" "$file"
  echo "generated $file ($(du -m "$file" | cut -f1) MB) in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >&2
done

# measure SHAPE KIND PAIR STDOUT COMMAND...: appends
# "SHAPE KIND PAIR RC WALL_NS WALL USER SYS RSS_KB": WALL USER SYS RSS_KB from GNU time, WALL_NS
# taken around it with date (GNU time's %e has a resolution of 10 ms).
measure() {
  local shape=$1 kind=$2 pair=$3 stdout=$4 rc=0 t0 t1
  shift 4
  t0=$(date +%s%N)
  /usr/bin/time -f "%e %U %S %M" -o "$out/time" "$@" > "$stdout" 2> "$out/stderr" || rc=$?
  t1=$(date +%s%N)
  if [ "$rc" -ne 0 ]; then
    echo "$shape $kind (pair $pair) exited with $rc: $(tail -n 3 "$out/stderr")" >&2
  fi
  echo "$shape $kind $pair $rc $((t1 - t0)) $(tail -n 1 "$out/time")" >> "$out/times"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for shape in "${shapes[@]}"; do
  file=$(file_of "$shape")
  echo "measuring $shape ($file): $runs pairs" >&2
  for i in $(seq 1 "$runs"); do
    if [ "$shape" = gzip ]; then
      measure "$shape" floor "$i" "$out/$shape.floor" "${pin[@]}" sh -c \
        'gzip -dc -- "$1" | "$2" parse-only /dev/stdin' sh "$file" "$gardener"
    else
      measure "$shape" floor "$i" "$out/$shape.floor" "$gardener" parse-only "$file"
    fi
    store=none
    if [ "$state" != none ]; then
      store="$out/state"
      rm -rf "$store"
      if [ "$state" = second ]; then
        "$gardener" run --quiet --state "$store" --report /dev/null "$file" > /dev/null 2>&1
      fi
    fi
    measure "$shape" run "$i" "$out/$shape.run" "$gardener" run --quiet --state "$store" \
      --report /dev/null --json "$out/$shape.json" "$file"
  done
  echo "$shape $file $(stat -c %s "$file")" >> "$out/files"
done

python3 - "$out" "$n" "$runs" "${#pin[@]}" "$(nproc)" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" "$state" <<'PY'
import json, os, statistics, sys

out, n, runs, pinned = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] != "0"
cores, load_before, load_after, state = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
rows = [l.split() for l in open(os.path.join(out, "times")) if l.strip()]
files = [l.split() for l in open(os.path.join(out, "files")) if l.strip()]
med = statistics.median


def w(x):  # a wall time
    return f"{x:.3f}"


def c(x):  # a CPU time (GNU time: 10 ms)
    return f"{x:.2f}"


def x(r):  # a ratio
    return f"{r:.2f}"


summary = []
for shape, path, size in files:
    size = int(size)
    pairs = {}
    for r in rows:
        if r[0] == shape:
            # The wall time taken around GNU time (ns), unless it is far off GNU time's %e.
            wall = int(r[4]) / 1e9
            if abs(wall - float(r[5])) > 0.05 + 0.05 * float(r[5]):
                wall = float(r[5])
            user, sys_, rss = float(r[6]), float(r[7]), int(r[8])
            pairs.setdefault(int(r[2]), {})[r[1]] = (wall, user + sys_, rss / 1024, int(r[3]))
    pairs = [pairs[k] for k in sorted(pairs)]
    floor_cmd = (("taskset -c 0 " if pinned else "") + "sh -c 'gzip -dc FILE | gardener "
                 "parse-only /dev/stdin'") if shape == "gzip" else "gardener parse-only FILE"
    floor_out = open(os.path.join(out, shape + ".floor")).read().strip() or "(no output)"
    try:
        report = json.load(open(os.path.join(out, shape + ".json")))
        t = report["totals"]
    except (OSError, ValueError, KeyError):
        report, t = None, {}
    print(f"\n### {shape}: {n} entries, {size / 1e6:.1f} MB ({path})\n")
    print(f"- floor: `{floor_cmd}` printed: {floor_out}")
    if t:
        extra = ", ".join(f"{k} {t[k]}" for k in ("entries_processed", "entries_skipped",
                                                    "utf8_repaired", "ignored_fields",
                                                    "bytes_read") if k in t)
        print(f"- run: `gardener run --quiet --state none --report /dev/null --json OUT FILE`: "
              f"entries_read {t.get('entries_read')}, clusters {t.get('clusters')}, {extra}, "
              f"bad_entries listed {len(report.get('bad_entries') or [])}")
    else:
        print("- run: no JSON report (see the errors above)")
    print()
    print("| pair | floor wall s | floor CPU s | floor peak RSS MB | run wall s | run CPU s "
          "| run peak RSS MB | floor wall / run wall |")
    print("|---|---|---|---|---|---|---|---|")
    ratios = []
    for i, p in enumerate(pairs, 1):
        fl, ru = p["floor"], p["run"]
        ratio = fl[0] / ru[0] if ru[0] > 0 else float("inf")
        ratios.append(ratio)
        bad = "" if fl[3] == 0 and ru[3] == 0 else f" (exit {fl[3]}/{ru[3]})"
        print(f"| {i}{bad} | {w(fl[0])} | {c(fl[1])} | {fl[2]:.0f} | {w(ru[0])} | {c(ru[1])} "
              f"| {ru[2]:.0f} | {x(ratio)} |")
    fw, rw = med(p["floor"][0] for p in pairs), med(p["run"][0] for p in pairs)
    fc, rc = med(p["floor"][1] for p in pairs), med(p["run"][1] for p in pairs)
    fm, rm = med(p["floor"][2] for p in pairs), med(p["run"][2] for p in pairs)
    ratio = fw / rw if rw > 0 else float("inf")
    print(f"| **median** | {w(fw)} | {c(fc)} | {fm:.0f} | {w(rw)} | {c(rc)} | {rm:.0f} "
          f"| **{x(ratio)}** |")
    summary.append((shape, size, fw, rw, rc, rm, ratio, ratios, t))

store = {"none": "--state none", "first": "a state store, first run", "second": "a state store, second run"}
print(f"\n### summary: {n} entries per shape, {runs} pair(s), medians; runs with {store[state]}\n")
print(f"{cores} cores; load average (1, 5, 15 min) {load_before} before, {load_after} after: "
      "other work on the machine skews the numbers.\n")
print("| shape | entries | MB | floor wall s | run wall s | run CPU s | run peak RSS MB "
      "| floor/run | per pair | entries_read | clusters | skipped (bad) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for shape, size, fw, rw, rc, rm, ratio, ratios, t in summary:
    print(f"| {shape} | {n} | {size / 1e6:.1f} | {w(fw)} | {w(rw)} | {c(rc)} | {rm:.0f} "
          f"| {x(ratio)} | {', '.join(x(r) for r in ratios)} | {t.get('entries_read', '?')} "
          f"| {t.get('clusters', '?')} | {t.get('entries_skipped', '?')} |")
print("\nfloor/run: median floor wall time over median run wall time; above 1 the run is "
      "faster than one core just splitting and parsing. MB: the file's size (gzip: compressed).")
PY
