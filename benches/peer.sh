#!/usr/bin/env bash
# The Python peer (json.load + Drain3) against `gardener run` on the same file, as paired runs.
#
#   benches/peer.sh FILE [RUNS]        # FILE: gcloud JSON array or NDJSON; RUNS: default 3
#
# Makes a virtual environment with Drain3 (pinned) in $PEER_VENV (default bench-data/peer-venv)
# the first time, builds gardener in release mode, then alternates the two RUNS times and prints
# each run's wall time and peak RSS (GNU time), then the medians and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:?usage: benches/peer.sh FILE [RUNS]}
runs=${2:-3}
venv=${PEER_VENV:-bench-data/peer-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'drain3==0.9.11'
fi
cargo build --release --quiet
gardener=target/release/gardener
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$runs"); do
  /usr/bin/time -f "peer %e %M" -a -o "$out/times" "$venv/bin/python" benches/peer/drain3_peer.py "$file" > "$out/peer.json"
  /usr/bin/time -f "gardener %e %M" -a -o "$out/times" "$gardener" run --quiet --state none --report /dev/null --json "$out/report.json" "$file"
done
echo "peer: $(cat "$out/peer.json")"
echo "gardener: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({"entries": r["totals"]["entries_read"], "clusters": r["totals"]["clusters"], "problems": len(r["problems"])}))' "$out/report.json")"
python3 - "$out/times" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for who in ("peer", "gardener"):
    t = [float(r[1]) for r in rows if r[0] == who]
    m = [int(r[2]) // 1024 for r in rows if r[0] == who]
    print(f"{who}: wall {', '.join(f'{x:.2f}' for x in t)} s (median {statistics.median(t):.2f}), peak RSS median {statistics.median(m)} MB")
p = statistics.median(float(r[1]) for r in rows if r[0] == "peer")
g = statistics.median(float(r[1]) for r in rows if r[0] == "gardener")
print(f"gardener is {p / g:.1f}x the peer's speed (median wall times)")
PY
