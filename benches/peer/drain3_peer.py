"""The peer a user would write today: json.load + Drain3, on the same file as gardener.

Reads gcloud's JSON array (json.load, as a user would) or NDJSON, takes each entry's message
the way gardener does (jsonPayload.message, else textPayload, else protoPayload.status.message,
else the payload as compact JSON), mines templates with Drain3, one miner per service (gardener
groups by service and template too), and counts entries and the highest severity per cluster.
Prints one JSON line: entries, clusters, seconds. Run it through benches/peer.sh, which makes
the virtual environment and compares it with `gardener run`.
"""

import json
import sys
import time

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

SEVERITIES = ["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]


def entries(path):
    with open(path, "rb") as f:
        head = f.read(1).lstrip()
        f.seek(0)
        if head == b"[":
            yield from json.load(f)
        else:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue


def message(e):
    p = e.get("jsonPayload")
    if isinstance(p, dict) and isinstance(p.get("message"), str):
        return p["message"]
    if isinstance(e.get("textPayload"), str):
        return e["textPayload"]
    proto = e.get("protoPayload")
    if isinstance(proto, dict):
        status = proto.get("status")
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            return status["message"]
    if p is not None:
        return json.dumps(p, separators=(",", ":"), sort_keys=True)
    return ""


def main(path):
    started = time.monotonic()
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miners = {}
    clusters = {}
    n = 0
    for e in entries(path):
        if not isinstance(e, dict):
            continue
        n += 1
        labels = (e.get("resource") or {}).get("labels") or {}
        service = labels.get("service_name") or labels.get("container_name") or ""
        miner = miners.get(service)
        if miner is None:
            miner = miners[service] = TemplateMiner(config=config)
        result = miner.add_log_message(message(e))
        key = (service, result["cluster_id"])
        count, worst = clusters.get(key, (0, 0))
        sev = e.get("severity", "DEFAULT")
        rank = SEVERITIES.index(sev) if sev in SEVERITIES else 0
        clusters[key] = (count + 1, max(worst, rank))
    print(json.dumps({"entries": n, "clusters": len(clusters), "seconds": round(time.monotonic() - started, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
