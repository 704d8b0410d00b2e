#!/usr/bin/env python3
"""Shapes of Cloud Logging data for the shapes benchmark (benches/shapes.sh), issue 15.

    python3 benches/shapes/gen_shapes.py SHAPE N OUT [--seed S]
    python3 benches/shapes/gen_shapes.py --self-check

Writes N Cloud Logging LogEntry objects, the same bytes for the same SHAPE, N and seed (default 1)
on every machine with the same Python. Standard library only, and independent of `gardener gen`
on purpose: the benchmark should not only see data shaped by the project's own generator.
OUT ending in `.gz` is written gzip-compressed (level 6, no name or time in the header).

Shapes:
  mixed       gcloud's `--format=json` array, newest first: exactly what
              json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False) prints, plus a
              final newline. Seven Cloud Run services (Python loggers with and without ANSI
              colours, Celery, Next.js, Node and Go structured logs): 42 message templates with
              variable parts (16 text, 21 jsonPayload, 5 Cloud Run platform messages), request
              logs (~30%, 26 paths), tracebacks from the 200 stacks below (~1%), five error
              bursts. About one text line in five has no severity though it says ERROR or
              WARNING. Entries average about 1.15 KB.
  ndjson      the entries of `mixed`, one compact JSON object per line.
  requests    only request logs (run.googleapis.com/requests), as a gcloud array.
  malformed   `mixed` with 10% of the entries broken (cut off, a missing quote, a bad escape,
              invalid UTF-8, a bare value instead of an object, a field of the wrong type); each
              broken entry keeps its place between the separators of gcloud's layout.
  tracebacks  Python tracebacks of 20-40 frames from 200 distinct stacks, as a gcloud array.
  distinct    NDJSON tracebacks of 20-40 frames whose innermost three frames differ in every
              entry (every entry its own cluster).

The counts of the broken entries by kind (malformed) go to standard error.
"""

import argparse
import bisect
import calendar
import functools
import gzip
import io
import json
import random
import sys
import time
from json.encoder import encode_basestring as _enc  # the C encoder's string escaping

SHAPES = ("mixed", "ndjson", "requests", "malformed", "tracebacks", "distinct")
PROJECT = "orchard-prod-4821"
END = "2026-11-30T12:00:00Z"  # newest entry
SPAN_S = 2 * 86400  # newest to oldest, at the mean rate
CHUNK = 2000  # entries per write

# --------------------------------------------------------------------------------------------
# Pretty printing, byte-identical to json.dumps(o, indent=2, sort_keys=True, ensure_ascii=False)
# (checked by --self-check). json.dumps with an indent runs the pure-Python encoder; this is
# the same layout with fewer generator frames.


def _pretty(o, ind):
    t = type(o)
    if t is str:
        return _enc(o)
    if t is dict:
        if not o:
            return "{}"
        ind2 = ind + "  "
        sep = ",\n" + ind2
        return (
            "{\n" + ind2
            + sep.join([_enc(k) + ": " + _pretty(v, ind2) for k, v in sorted(o.items())])
            + "\n" + ind + "}"
        )
    if t is list:
        if not o:
            return "[]"
        ind2 = ind + "  "
        sep = ",\n" + ind2
        return "[\n" + ind2 + sep.join([_pretty(v, ind2) for v in o]) + "\n" + ind + "]"
    if t is int:
        return int.__repr__(o)
    if t is bool:
        return "true" if o else "false"
    if o is None:
        return "null"
    if t is float:
        return float.__repr__(o)
    raise TypeError(f"cannot pretty-print {t}")


def pretty_element(entry):
    """One element of the array as json.dumps(list, indent=2) lays it out (indent included)."""
    return "  " + _pretty(entry, "  ")


def compact(entry):
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# Variable parts.

FIRST = ["anna", "ben", "chloé", "david", "elif", "fatima", "george", "hana", "ivan", "jürgen",
         "kenji", "lucía", "mohammed", "nora", "olga", "pavel", "quentin", "rosa", "søren",
         "tomás", "uma", "vikram", "wei", "xavier", "yuki", "zoë", "łukasz", "amélie"]
LAST = ["smith", "müller", "garcía", "rossi", "kowalski", "nguyen", "tanaka", "okafor",
        "johansson", "dubois", "silva", "chen", "novák", "öztürk", "patel", "kim", "ivanova"]
ASCII = str.maketrans("éüíøáöłëó", "euioaolio")
DOMAINS = ["gmail.com", "outlook.com", "orchard.dev", "example.org", "proton.me", "web.de",
           "yahoo.co.jp", "icloud.com"]
REGIONS = ["us-central1", "europe-west1", "asia-northeast1"]
WAREHOUSES = ["AMS-1", "FRA-2", "DAL-3", "NRT-1", "SAO-1"]
QUERIES = ["running shoes", "wireless earbuds", "café table", "bike lights",
           "children's books", "usb-c hub 100w", "\"exact phrase\" drill", "c:\\windows path",
           "ñandú plush", "日本茶 セット", "grüner tee", "emoji 🎧 headphones", "desk lamp",
           "standing desk", "tent 4 person", "rain jacket"]
SLUGS = ["trail-runner-3", "oak-desk", "smart-bulb-e27", "kettle-1-7l", "yoga-mat-pro",
         "usb-c-cable-2m", "wool-socks", "espresso-grinder", "hiking-pack-40l", "desk-lamp-led"]
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "curl/8.5.0", "python-requests/2.32.3", "okhttp/4.12.0", "Google-Cloud-Scheduler",
    "GoogleHC/1.0", "OrchardApp/5.12.1 (Android 15; Pixel 8)",
]


class Vars:
    """Variable parts drawn from one random stream."""

    def __init__(self, r):
        self.r = r

    def n(self, lo, hi):
        return self.r.randint(lo, hi)

    def pick(self, seq):
        return seq[int(self.r.random() * len(seq))]

    def hexs(self, digits):
        return "%0*x" % (digits, self.r.getrandbits(4 * digits))

    def uuid(self):
        b = self.r.getrandbits(128)
        h = "%032x" % b
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[b & 3]}{h[17:20]}-{h[20:]}"

    def name(self):
        return f"{self.pick(FIRST).capitalize()} {self.pick(LAST).capitalize()}"

    def email(self):
        first = self.pick(FIRST).translate(ASCII)
        last = self.pick(LAST).translate(ASCII)
        return f"{first}.{last}{self.n(1, 99)}@{self.pick(DOMAINS)}"

    def ip(self):
        r = self.r
        if r.random() < 0.1:
            return "2a02:%x:%x:%x::%x" % (r.getrandbits(12), r.getrandbits(16),
                                          r.getrandbits(16), r.getrandbits(16))
        return f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def ms(self, scale=80.0):
        return round(self.r.expovariate(1 / scale), 1)

    def order(self):
        return f"ORD-{self.n(100000, 999999)}"

    def sku(self):
        return f"SKU-{self.pick('ABCDEFGHJK')}{self.n(1000, 99999)}"


# --------------------------------------------------------------------------------------------
# Services. kind: how their text lines look.

SERVICES = {
    # name: (text style, logger kind, revision suffixes (old, new), location)
    "checkout-service": ("py", "json", ("00041-xod", "00042-vuk"), "europe-west1"),
    "inventory-worker": ("celery", "json", ("00113-maf", "00114-tiz"), "europe-west1"),
    "frontend-ssr": ("next", "json", ("00207-kep", "00208-rab"), "us-central1"),
    "auth-service": ("py", "json", ("00019-zuw", "00020-gol"), "europe-west1"),
    "notification-sender": ("node", "json", ("00056-pef", "00057-dax"), "europe-west1"),
    "search-api": ("go", "json", ("00088-hin", "00089-suv"), "us-central1"),
    "api-gateway": ("node", "json", ("00131-bem", "00132-lor"), "us-central1"),
}
SERVICE_NAMES = list(SERVICES)
LEVEL_COLOUR = {"DEBUG": "\x1b[36m", "INFO": "\x1b[32m", "WARNING": "\x1b[33m",
                "ERROR": "\x1b[31m", "CRITICAL": "\x1b[1;31m"}


def text_line(style, v, ts, level, logger, where, msg):
    """A service's text log line: its logger's prefix, sometimes in ANSI colours."""
    stamp = ts[:10] + " " + ts[11:19] + "," + ts[20:23]
    if style == "py":
        if v.r.random() < 0.3:
            lvl = f"{LEVEL_COLOUR.get(level, '')}{level}\x1b[0m"
            return f"{stamp} {lvl} \x1b[2m[{logger}] {where}\x1b[0m - {msg}"
        return f"{stamp} {level} [{logger}] {where} - {msg}"
    if style == "celery":
        return f"[{stamp}: {level}/ForkPoolWorker-{v.n(1, 8)}] {msg}"
    if style == "next":
        tag = {"ERROR": "\x1b[31m⨯\x1b[39m", "WARNING": "\x1b[33m⚠\x1b[39m",
               "INFO": "\x1b[32m✓\x1b[39m"}.get(level, "\x1b[90m·\x1b[39m")
        return f"{tag} {msg}"
    return f"{stamp} {level} {msg}"


# Templates: (service, kind, level, weight, build). kind "text": build returns (logger, where, msg);
# kind "json": build returns the jsonPayload (with "message"); kind "platform": the textPayload
# of a Cloud Run system log; kind "trace": a traceback text (from the stacks below).

def T(service, kind, level, weight):
    def deco(fn):
        TEMPLATES.append((service, kind, level, weight, fn))
        return fn
    return deco


TEMPLATES = []

# checkout-service: Python, text logs.


@T("checkout-service", "text", "INFO", 30)
def _(v):
    return ("app.api", "views.py:142", f"Created order {v.order()} for {v.email()} "
            f"total={v.n(5, 900)}.{v.n(0, 99):02d} EUR items={v.n(1, 12)}")


@T("checkout-service", "text", "ERROR", 8)
def _(v):
    return ("app.db", "pool.py:88", f"QueuePool limit of size 20 overflow 10 reached, connection "
            f"timed out, timeout {v.n(10, 30)}.00 (Background on this error at: "
            f"https://sqlalche.me/e/20/3o7r)")


@T("checkout-service", "text", "WARNING", 10)
def _(v):
    return ("app.payments", "stripe_client.py:211", f"Retrying charge ch_{v.hexs(24)} after "
            f"{v.n(100, 4000)} ms (attempt {v.n(2, 5)}/5)")


@T("checkout-service", "text", "ERROR", 6)
def _(v):
    body = json.dumps({"error": {"code": "card_declined", "decline_code": v.pick(
        ["insufficient_funds", "lost_card", "do_not_honor"]), "charge": f"ch_{v.hexs(24)}",
        "message": "Your card was declined."}})
    return ("app.payments", "stripe_client.py:240",
            f"Card declined for customer cus_{v.hexs(14)}: {body}")


@T("checkout-service", "text", "DEBUG", 25)
def _(v):
    return ("app.cache", "redis_cache.py:57",
            f"cache miss key=cart:{v.n(1, 2000000)}:{v.hexs(8)} ttl={v.n(30, 3600)}s")


@T("checkout-service", "text", "INFO", 10)
def _(v):
    return ("app.api", "views.py:77", f"Zahlung für Bestellung {v.order()} bestätigt ✅ "
            f"(Kunde: {v.name()}, Betrag: {v.n(5, 900)},{v.n(0, 99):02d} €)")


# inventory-worker: Celery, text logs.


@T("inventory-worker", "text", "INFO", 25)
def _(v):
    return ("celery.worker.strategy", "strategy.py:161",
            f"Task inventory.sync_sku[{v.uuid()}] received")


@T("inventory-worker", "text", "INFO", 25)
def _(v):
    return ("celery.app.trace", "trace.py:128", f"Task inventory.sync_sku[{v.uuid()}] succeeded in "
            f"{v.r.random() * 3:.6f}s: {{'sku': '{v.sku()}', 'delta': {v.n(-50, 50)}}}")


@T("inventory-worker", "text", "ERROR", 6)
def _(v):
    return ("celery.app.trace", "trace.py:267", f"Task inventory.reindex[{v.uuid()}] raised "
            f"unexpected: ConnectionError('Error 111 connecting to 10.8.0.{v.n(2, 40)}:6379. "
            f"Connection refused.')")


@T("inventory-worker", "text", "WARNING", 10)
def _(v):
    return ("inventory.stock", "stock.py:301", f"SKU \"{v.sku()}\" stock went negative "
            f"({-v.n(1, 40)}) in warehouse \"{v.pick(WAREHOUSES)}\", clamping to 0")


@T("inventory-worker", "text", "INFO", 6)
def _(v):
    return ("inventory.import", "importer.py:45", f"Imported {v.n(10, 50000)} rows from "
            f"gs://orchard-imports/2026-11-{v.n(1, 30):02d}/stock_{v.hexs(6)}.csv in "
            f"{v.n(80, 90000)} ms")


@T("inventory-worker", "text", "ERROR", 6)
def _(v):
    wh, bad = v.pick(WAREHOUSES), v.pick(["N/A", "—", "12,5", "\\N", "null"])
    return ("inventory.import", "importer.py:98", f"Bad row {v.n(2, 40000)} in "
            f"C:\\exports\\{wh}\\stock_{v.n(1, 30):02d}.csv: unexpected value "
            f"\"{bad}\" in column \"qty\"")


# frontend-ssr: Next.js, text logs with ANSI colours.


@T("frontend-ssr", "text", "INFO", 30)
def _(v):
    return ("", "", f"GET /products/{v.pick(SLUGS)}?ref={v.hexs(6)} 200 in {v.n(8, 900)}ms "
            f"\x1b[90m(cache: {v.pick(['HIT', 'MISS', 'STALE'])})\x1b[39m")


@T("frontend-ssr", "text", "ERROR", 4)
def _(v):
    return ("", "", f"Failed to fetch /api/recommendations?user={v.n(1, 2000000)}: FetchError: "
            f"request to http://search-api.internal/recs failed, reason: socket hang up")


@T("frontend-ssr", "text", "WARNING", 5)
def _(v):
    return ("", "", f"Image optimization took {v.n(500, 9000)}ms for "
            f"/_next/image?url=%2Fimg%2F{v.hexs(12)}.webp&w={v.pick([640, 1080, 1920])}&q=75")


@T("frontend-ssr", "text", "WARNING", 3)
def _(v):
    return ("", "", f"Hydration mismatch on /cart: server rendered \"{v.n(1, 9)} items\" but "
            f"client rendered \"{v.n(10, 20)} items\" 🛒")


# auth-service: Python, structured logs.


def ctx(v, **more):
    c = {"request_id": v.uuid(), "client": {"ip": v.ip(), "user_agent": v.pick(UAS)}}
    c.update(more)
    return c


@T("auth-service", "json", "INFO", 30)
def _(v):
    e = v.email()
    return {"message": f"Login succeeded for {e}", "logger": "auth.login",
            "context": ctx(v, user={"id": v.n(1, 2000000), "email": e,
                                    "roles": v.pick([["viewer"], ["admin", "viewer"], ["buyer"]])},
                           method=v.pick(["password", "google", "saml", "passkey"])),
            "duration_ms": v.ms(40)}


@T("auth-service", "json", "WARNING", 8)
def _(v):
    e = v.email()
    return {"message": f"Login failed for {e}: invalid password (attempt {v.n(1, 9)})",
            "logger": "auth.login", "context": ctx(v, user={"email": e})}


@T("auth-service", "json", "WARNING", 6)
def _(v):
    return {"message": "JWT verification failed: Signature has expired", "logger": "auth.jwt",
            "token": {"kid": v.hexs(16), "exp": 1796000000 + v.n(0, 9999999), "iss":
                      "https://auth.orchard.dev/"}, "context": ctx(v)}


@T("auth-service", "json", "WARNING", 4)
def _(v):
    return {"message": f"Rate limit exceeded for ip {v.ip()} on /oauth/token "
                       f"({v.n(21, 400)} requests in 60s)", "logger": "auth.ratelimit",
            "limit": {"window_s": 60, "max": 20}}


@T("auth-service", "json", "ERROR", 3)
def _(v):
    up = json.dumps({"error": "invalid_grant", "error_description": "Bad Request",
                     "request": v.hexs(12)})
    return {"message": f"Token refresh failed: upstream returned {up}", "logger": "auth.oauth",
            "upstream": {"url": "https://oauth2.googleapis.com/token", "status": 400,
                         "body": up}, "context": ctx(v)}


@T("auth-service", "json", "ERROR", 2)
def _(v):
    tenant = v.pick(["acme", "globex", "initech", "umbrella"])
    return {"message": f"SAML assertion rejected for tenant \"{tenant}-{v.n(1, 99)}\": "
                       f"NotOnOrAfter 2026-11-{v.n(1, 29):02d}T{v.n(0, 23):02d}:"
                       f"{v.n(0, 59):02d}:00Z is in the past",
            "logger": "auth.saml", "context": ctx(v)}


# notification-sender: Node, structured logs.


@T("notification-sender", "json", "INFO", 25)
def _(v):
    tpl = v.pick(["order_confirmed", "password_reset", "shipping_update", "welcome"])
    return {"message": f"Email sent to {v.email()} template={tpl} "
                       f"messageId=<{v.hexs(20)}@mail.orchard.dev>", "provider": "sendgrid",
            "pid": 1, "hostname": "localhost", "level": 30}


@T("notification-sender", "json", "ERROR", 3)
def _(v):
    ra = v.n(1, 60)
    body = json.dumps({"errors": [{"message": "Too many requests", "field": None,
                                   "help": None}]})
    return {"message": f"SendGrid API error 429: {body}", "retryAfter": ra, "level": 50,
            "err": {"type": "ResponseError", "code": 429, "response": {"body": body,
                    "headers": {"retry-after": str(ra), "x-ratelimit-remaining": "0"}}}}


@T("notification-sender", "json", "INFO", 12)
def _(v):
    return {"message": f"Push notification delivered 🔔 to device {v.hexs(16)} "
                       f"({v.pick(['ios', 'android', 'web'])})", "level": 30,
            "push": {"campaign": v.pick(["black-friday", "restock", "cart-reminder"]),
                     "ttl": 3600}}


@T("notification-sender", "json", "WARNING", 4)
def _(v):
    return {"message": f"Dropping SMS to +{v.n(30, 49)}{v.n(100000000, 999999999)}: number "
                       f"unreachable (carrier code {v.n(30001, 30010)})", "level": 40}


@T("notification-sender", "json", "ERROR", 2)
def _(v):
    host = v.pick(["acme", "globex", "initech"])
    return {"message": f"Webhook delivery to https://hooks.{host}.com/orchard/{v.hexs(10)} "
                       f"failed after {v.n(3, 8)} attempts: ETIMEDOUT",
            "level": 50, "webhook": {"id": v.uuid(), "event": "order.paid"}}


# search-api: Go, structured logs.


@T("search-api", "json", "INFO", 25)
def _(v):
    return {"message": "query served", "caller": "search/handler.go:88", "logger": "search",
            "q": v.pick(QUERIES), "hits": v.n(0, 5000), "took_ms": v.ms(30),
            "shard": v.n(0, 11)}


@T("search-api", "json", "DEBUG", 15)
def _(v):
    return {"message": f"index refresh completed for products_v{v.n(40, 44)} in "
                       f"{v.n(20, 3000)}ms", "caller": "search/index.go:231", "logger": "index"}


@T("search-api", "json", "WARNING", 6)
def _(v):
    q = v.pick(QUERIES)
    quoted = json.dumps(q, ensure_ascii=False)
    return {"message": f"slow query: {v.n(1000, 12000)}ms for q={quoted}",
            "caller": "search/handler.go:131", "logger": "search",
            "q": q, "plan": {"filters": ["in_stock", "region"], "sort": "relevance"}}


@T("search-api", "json", "ERROR", 2)
def _(v):
    m = v.n(500, 5000)
    return {"message": f"elasticsearch bulk index failed: {v.n(1, m)} of {m} documents rejected "
                       f"(es_rejected_execution_exception)", "caller": "search/bulk.go:77",
            "logger": "index", "error": {"type": "es_rejected_execution_exception",
                                         "reason": "rejected execution of coordinating operation"}}


@T("search-api", "json", "CRITICAL", 1)
def _(v):
    i = v.n(1, 60)
    return {"message": f"panic recovered: runtime error: index out of range [{i}] with length "
                       f"{i}", "caller": "search/middleware.go:42", "logger": "http",
            "stacktrace": f"goroutine {v.n(100, 99999)} [running]:\nmain.rank(0xc000{v.hexs(6)}, "
                          f"0x{i:x})\n\t/src/search/rank.go:57 +0x1d4\nmain.(*Server).search"
                          f"(0xc000{v.hexs(6)})\n\t/src/search/handler.go:102 +0x2b1"}


# api-gateway: Node, structured logs.

UPSTREAMS = ["checkout-service", "auth-service", "search-api", "inventory-worker"]


@T("api-gateway", "json", "INFO", 30)
def _(v):
    up, status = v.pick(UPSTREAMS), v.pick([200, 200, 201, 204, 404])
    return {"message": f"upstream {up} responded {status} in {v.n(2, 800)}ms", "level": 30,
            "req": {"id": v.uuid(), "method": v.pick(["GET", "POST"]),
                    "url": "/api/v1/" + v.pick(["orders", "cart", "search"])}}


@T("api-gateway", "json", "ERROR", 2)
def _(v):
    return {"message": f"circuit breaker OPEN for upstream {v.pick(UPSTREAMS)} after "
                       f"{v.n(5, 50)} consecutive failures", "level": 50,
            "breaker": {"state": "open", "resetTimeoutMs": 30000}}


@T("api-gateway", "json", "WARNING", 5)
def _(v):
    i = v.n(0, 9)
    return {"message": f"Request body validation failed: \"/items/{i}/quantity\" must be >= 1",
            "level": 40, "validation": [{"instancePath": f"/items/{i}/quantity",
                                         "keyword": "minimum", "params": {"limit": 1}}]}


@T("api-gateway", "json", "ERROR", 2)
def _(v):
    return {"message": "Unhandled rejection: TypeError: Cannot read properties of undefined "
                       f"(reading 'id') at /app/dist/routes/orders.js:{v.n(10, 400)}:"
                       f"{v.n(1, 80)}", "level": 50,
            "err": {"type": "TypeError", "stack": "TypeError: Cannot read properties of "
                    "undefined (reading 'id')\n    at getOrder (/app/dist/routes/orders.js:"
                    f"{v.n(10, 400)}:17)\n    at process.processTicksAndRejections "
                    "(node:internal/process/task_queues:95:5)"}}


@T("api-gateway", "json", "NOTICE", 1)
def _(v):
    return {"message": f"Config reloaded from gs://orchard-config/gateway.yaml (etag "
                       f"{v.hexs(16)})", "level": 30}


# Cloud Run platform logs (varlog/system), any service.

for _svc in SERVICE_NAMES:
    @T(_svc, "platform", "ERROR", 1)
    def _(v):
        return ("The request was aborted because there was no available instance. Additional "
                "troubleshooting documentation can be found at: "
                "https://cloud.google.com/run/docs/troubleshooting#abort-request")

    @T(_svc, "platform", "ERROR", 0.5)
    def _(v):
        return (f"Memory limit of 512 MiB exceeded with {v.n(513, 700)} MiB used. Consider "
                "increasing the memory limit, see "
                "https://cloud.google.com/run/docs/configuring/memory-limits")

    @T(_svc, "platform", "INFO", 1)
    def _(v):
        return ("Starting new instance. Reason: AUTOSCALING - Instance started due to configured "
                "scaling factors (e.g. CPU utilization, request throughput, etc.) or no existing "
                "capacity for current traffic.")

    @T(_svc, "platform", "WARNING", 0.4)
    def _(v):
        return "Container called exit(1)."

    @T(_svc, "platform", "DEFAULT", 0.6)
    def _(v):
        return f"Listening on port 8080 (pid {v.n(1, 40)})"

# Tracebacks inside the mixed shape (stderr of the Python services).
for _svc in ("checkout-service", "auth-service", "inventory-worker"):
    @T(_svc, "trace", "ERROR", 1.5)
    def _(v):
        return None  # filled from the stacks

# Request logs: one template per service, their weight set by the shape.
REQUEST_PATHS = {
    "checkout-service": ["/api/v1/orders/{id}", "/api/v1/cart", "/api/v1/checkout",
                         "/api/v1/orders?page={n}"],
    "inventory-worker": ["/tasks/sync", "/tasks/reindex", "/_ah/health"],
    "frontend-ssr": ["/products/{slug}", "/", "/cart", "/_next/static/chunks/{hex}.js",
                     "/search?q={q}"],
    "auth-service": ["/oauth/token", "/login", "/.well-known/jwks.json", "/users/{id}/sessions"],
    "notification-sender": ["/send/email", "/send/push", "/pubsub/push"],
    "search-api": ["/v2/search?q={q}&page={n}", "/v2/suggest?prefix={p}", "/internal/recs"],
    "api-gateway": ["/api/v1/orders/{id}", "/api/v1/search?q={q}", "/api/v1/cart/items",
                    "/healthz"],
}
STATUS = [200] * 70 + [201] * 6 + [204] * 4 + [301, 304, 304, 400, 400, 401, 403, 404, 404,
                                                404, 409, 429, 500, 502, 503, 504]


def request_log(v, svc, status=None):
    """An httpRequest (Cloud Run request log) for svc."""
    path = v.pick(REQUEST_PATHS[svc])
    if "{" in path:
        path = (path.replace("{id}", str(v.n(1, 2000000))).replace("{n}", str(v.n(1, 40)))
                .replace("{slug}", v.pick(SLUGS)).replace("{hex}", v.hexs(16))
                .replace("{q}", v.pick(QUERIES).replace(" ", "+").replace('"', "%22"))
                .replace("{p}", v.pick(["ru", "wi", "des", "ca"])))
    if status is None:
        status = v.pick(STATUS)
    lat = v.r.expovariate(1 / 0.12) if status < 500 else v.r.uniform(0.5, 60)
    method = "GET" if v.r.random() < 0.7 else v.pick(["POST", "PUT", "DELETE", "PATCH"])
    h = {"latency": f"{lat:.9f}s", "protocol": v.pick(["HTTP/1.1", "HTTP/2"]),
         "remoteIp": v.ip(), "requestMethod": method,
         "requestSize": str(v.n(200, 3000)), "requestUrl": f"https://{svc}-"
         f"{SERVICE_HASH[svc]}-{REGION_CODE[SERVICES[svc][3]]}.a.run.app{path}",
         "responseSize": str(v.n(0, 90000)), "serverIp": f"34.143.{v.n(0, 255)}.{v.n(1, 254)}",
         "status": status, "userAgent": v.pick(UAS)}
    if v.r.random() < 0.4:
        h["referer"] = f"https://shop.orchard.dev/{v.pick(SLUGS)}"
    return h


SERVICE_HASH = {s: "%010x" % ((i * 2654435761 + 97) % (1 << 40)) for i, s in
                enumerate(SERVICE_NAMES)}
REGION_CODE = {"us-central1": "uc", "europe-west1": "ew", "asia-northeast1": "an"}

# --------------------------------------------------------------------------------------------
# Python stacks.

SITE = "/usr/local/lib/python3.11/site-packages/"
FRAMEWORKS = [
    [(SITE + "uvicorn/protocols/http/httptools_impl.py", 426, "run_asgi",
      "result = await app(  # type: ignore[func-returns-value]"),
     (SITE + "uvicorn/middleware/proxy_headers.py", 84, "__call__",
      "return await self.app(scope, receive, send)"),
     (SITE + "fastapi/applications.py", 1106, "__call__",
      "await super().__call__(scope, receive, send)"),
     (SITE + "starlette/applications.py", 122, "__call__",
      "await self.middleware_stack(scope, receive, send)"),
     (SITE + "starlette/middleware/errors.py", 184, "__call__", "raise exc"),
     (SITE + "starlette/middleware/errors.py", 162, "__call__",
      "await self.app(scope, receive, _send)"),
     (SITE + "starlette/middleware/exceptions.py", 79, "__call__", "raise exc"),
     (SITE + "starlette/middleware/exceptions.py", 68, "__call__",
      "await self.app(scope, receive, sender)"),
     (SITE + "fastapi/middleware/asyncexitstack.py", 20, "__call__", "raise e"),
     (SITE + "fastapi/middleware/asyncexitstack.py", 17, "__call__",
      "await self.app(scope, receive, send)"),
     (SITE + "starlette/routing.py", 718, "__call__", "await route.handle(scope, receive, send)"),
     (SITE + "starlette/routing.py", 276, "handle", "await self.app(scope, receive, send)"),
     (SITE + "starlette/routing.py", 66, "app", "response = await func(request)"),
     (SITE + "fastapi/routing.py", 274, "app", "raw_response = await run_endpoint_function("),
     (SITE + "fastapi/routing.py", 191, "run_endpoint_function",
      "return await dependant.call(**values)")],
    [(SITE + "gunicorn/workers/sync.py", 135, "handle",
      "self.handle_request(listener, req, client, addr)"),
     (SITE + "gunicorn/workers/sync.py", 178, "handle_request",
      "respiter = self.wsgi(environ, resp.start_response)"),
     (SITE + "flask/app.py", 1536, "__call__", "return self.wsgi_app(environ, start_response)"),
     (SITE + "flask/app.py", 1514, "wsgi_app", "response = self.handle_exception(e)"),
     (SITE + "flask/app.py", 1511, "wsgi_app", "response = self.full_dispatch_request()"),
     (SITE + "flask/app.py", 919, "full_dispatch_request", "rv = self.handle_user_exception(e)"),
     (SITE + "flask/app.py", 917, "full_dispatch_request", "rv = self.dispatch_request()"),
     (SITE + "flask/app.py", 902, "dispatch_request",
      "return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)  # type: ignore[no-any-return]")],
    [(SITE + "celery/app/trace.py", 477, "trace_task", "R = retval = fun(*args, **kwargs)"),
     (SITE + "celery/app/trace.py", 760, "__protected_call__",
      "return self.run(*args, **kwargs)"),
     (SITE + "celery/app/autoretry.py", 38, "run", "return task._orig_run(*args, **kwargs)")],
    [("/app/main.py", 41, "<module>", "asyncio.run(main())"),
     ("/usr/local/lib/python3.11/asyncio/runners.py", 190, "run", "return runner.run(main)"),
     ("/usr/local/lib/python3.11/asyncio/runners.py", 118, "run",
      "return self._loop.run_until_complete(task)"),
     ("/usr/local/lib/python3.11/asyncio/base_events.py", 653, "run_until_complete",
      "return future.result()"),
     ("/app/worker.py", 88, "main", "await consume(queue)")],
]
PKGS = ["orders", "payments", "inventory", "users", "search", "notifications", "billing",
        "reports", "auth", "cart", "pricing", "shipping"]
MODS = ["service", "handlers", "repository", "models", "tasks", "client", "views", "utils",
        "validators", "serializers"]
VERBS = ["get", "create", "update", "sync", "load", "validate", "apply", "compute", "fetch",
         "resolve", "render", "publish", "charge", "reserve", "refresh", "merge", "export"]
NOUNS = ["order", "cart", "invoice", "user", "session", "token", "sku", "stock", "price",
         "discount", "report", "webhook", "email", "profile", "shipment", "refund"]
# Innermost library frames and the exception each raises: (frames, exception line builder).
LIBS = [
    ([(SITE + "sqlalchemy/orm/session.py", 2308, "execute",
       "return self._execute_internal("),
      (SITE + "sqlalchemy/engine/base.py", 1418, "execute",
       "return meth("),
      (SITE + "sqlalchemy/engine/base.py", 1640, "_execute_clauseelement",
       "ret = self._execute_context("),
      (SITE + "sqlalchemy/engine/base.py", 1846, "_execute_context",
       "return self._exec_single_context("),
      (SITE + "sqlalchemy/engine/base.py", 1986, "_exec_single_context",
       "self._handle_dbapi_exception("),
      (SITE + "sqlalchemy/engine/default.py", 922, "do_execute",
       "cursor.execute(statement, parameters)")],
     lambda v: "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to "
               f"server at \"10.12.0.{v.n(2, 9)}\", port 5432 failed: timeout expired\n"
               "(Background on this error at: https://sqlalche.me/e/20/e3q8)"),
    ([(SITE + "sqlalchemy/orm/session.py", 4179, "flush", "self._flush(objects)"),
      (SITE + "sqlalchemy/orm/session.py", 4314, "_flush", "with util.safe_reraise():"),
      (SITE + "sqlalchemy/engine/default.py", 922, "do_execute",
       "cursor.execute(statement, parameters)")],
     lambda v: "sqlalchemy.exc.IntegrityError: (psycopg2.errors.UniqueViolation) duplicate key "
               f"value violates unique constraint \"orders_pkey\"\nDETAIL:  Key (id)=("
               f"{v.n(1, 9999999)}) already exists."),
    ([(SITE + "requests/api.py", 59, "request",
       "return session.request(method=method, url=url, **kwargs)"),
      (SITE + "requests/sessions.py", 589, "request", "resp = self.send(prep, **send_kwargs)"),
      (SITE + "requests/sessions.py", 703, "send", "r = adapter.send(request, **kwargs)"),
      (SITE + "requests/adapters.py", 700, "send", "raise ConnectionError(e, request=request)")],
     lambda v: "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.stripe.com', "
               f"port=443): Max retries exceeded with url: /v1/charges/ch_{v.hexs(24)} (Caused "
               "by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f"
               f"{v.hexs(10)}>: Failed to establish a new connection: [Errno 111] Connection "
               "refused'))"),
    ([(SITE + "redis/commands/core.py", 1829, "get", "return self.execute_command(\"GET\", name)"),
      (SITE + "redis/client.py", 559, "execute_command",
       "return self._execute_command(*args, **options)"),
      (SITE + "redis/connection.py", 1078, "get_connection", "connection.connect()"),
      (SITE + "redis/connection.py", 283, "connect", "raise ConnectionError(self._error_message(e))")],
     lambda v: f"redis.exceptions.ConnectionError: Error 111 connecting to 10.8.0.{v.n(2, 40)}:"
               "6379. Connection refused."),
    ([("/usr/local/lib/python3.11/json/__init__.py", 346, "loads",
       "return _default_decoder.decode(s)"),
      ("/usr/local/lib/python3.11/json/decoder.py", 337, "decode",
       "obj, end = self.raw_decode(s, idx=_w(s, 0).end())"),
      ("/usr/local/lib/python3.11/json/decoder.py", 355, "raw_decode",
       "raise JSONDecodeError(\"Expecting value\", s, err.value) from None")],
     lambda v: f"json.decoder.JSONDecodeError: Expecting value: line 1 column {v.n(1, 80)} "
               f"(char {v.n(0, 79)})"),
    ([(SITE + "pydantic/main.py", 212, "__init__",
       "validated_self = self.__pydantic_validator__.validate_python(data, self_instance=self)")],
     lambda v: "pydantic_core._pydantic_core.ValidationError: 1 validation error for "
               f"{v.pick(['OrderIn', 'CartItem', 'UserPatch'])}\nquantity\n  Input should be "
               f"greater than 0 [type=greater_than, input_value={-v.n(0, 9)}, "
               "input_type=int]\n    For further information visit "
               "https://errors.pydantic.dev/2.9/v/greater_than"),
    ([(SITE + "httpx/_client.py", 1674, "send", "response = await self._send_handling_auth("),
      (SITE + "httpx/_client.py", 1776, "_send_single_request",
       "response = await transport.handle_async_request(request)"),
      (SITE + "httpx/_transports/default.py", 376, "handle_async_request",
       "with map_httpcore_exceptions():"),
      ("/usr/local/lib/python3.11/contextlib.py", 158, "__exit__",
       "self.gen.throw(typ, value, traceback)"),
      (SITE + "httpx/_transports/default.py", 89, "map_httpcore_exceptions",
       "raise mapped_exc(message) from exc")],
     lambda v: "httpx.ReadTimeout: timed out"),
    ([(SITE + "google/api_core/grpc_helpers.py", 78, "error_remapped_callable",
       "raise exceptions.from_grpc_error(exc) from exc")],
     lambda v: f"google.api_core.exceptions.ServiceUnavailable: 503 failed to connect to all "
               f"addresses; last error: UNAVAILABLE: ipv4:199.36.153.{v.n(4, 11)}:443: "
               "Socket closed"),
    ([], lambda v: f"KeyError: '{v.pick(NOUNS)}_{v.n(1, 99999)}'"),
    ([], lambda v: f"ValueError: invalid literal for int() with base 10: "
                   f"'{v.pick(['abc', 'N/A', '12.5', ''])}'"),
    ([], lambda v: "AttributeError: 'NoneType' object has no attribute "
                   f"'{v.pick(['id', 'items', 'email', 'total'])}'"),
    ([], lambda v: f"TypeError: unsupported operand type(s) for +: 'int' and 'str'"),
    ([], lambda v: f"ZeroDivisionError: division by zero"),
]
CODE = ["{var} = await {fn}({arg})", "return {fn}({arg}, session=session)",
        "{var} = {fn}(**payload)", "for item in {fn}({arg}):", "result = self.{fn}({arg})",
        "return await self._{fn}({arg}, timeout=timeout)", "{var}.update({fn}({arg}))"]


def frame_text(f):
    return f'  File "{f[0]}", line {f[1]}, in {f[2]}\n    {f[3]}\n'


def app_frame(r):
    pkg, mod = PKGS[r.randrange(len(PKGS))], MODS[r.randrange(len(MODS))]
    fn = f"{VERBS[r.randrange(len(VERBS))]}_{NOUNS[r.randrange(len(NOUNS))]}"
    callee = f"{VERBS[r.randrange(len(VERBS))]}_{NOUNS[r.randrange(len(NOUNS))]}"
    code = CODE[r.randrange(len(CODE))].format(var=NOUNS[r.randrange(len(NOUNS))], fn=callee,
                                                arg=NOUNS[r.randrange(len(NOUNS))] + "_id")
    return (f"/app/{pkg}/{mod}.py", r.randint(12, 900), fn, code)


def make_stacks(seed, count=200):
    """count stacks of 20-40 frames, no two with the same frames."""
    r = random.Random(f"stacks-{seed}")
    stacks, keys = [], set()
    while len(stacks) < count:
        fw = FRAMEWORKS[r.randrange(len(FRAMEWORKS))]
        lib_frames, exc = LIBS[r.randrange(len(LIBS))]
        total = r.randint(20, 40)
        n_app = max(2, total - len(fw) - len(lib_frames))
        frames = list(fw) + [app_frame(r) for _ in range(n_app)] + list(lib_frames)
        frames = frames[len(frames) - 40:] if len(frames) > 40 else frames
        key = tuple(frames)
        if key in keys:
            continue
        keys.add(key)
        chained = r.random() < 0.1
        stacks.append(("".join(frame_text(f) for f in frames), exc, chained, frames))
    return stacks


def traceback_text(v, stack, header=True):
    body, exc, chained = stack[:3]
    tb = "Traceback (most recent call last):\n" + body + exc(v)
    if chained:
        tb = (tb + "\n\nDuring handling of the above exception, another exception occurred:\n\n"
              "Traceback (most recent call last):\n" + FIRST_FRAME + "RuntimeError: request "
              f"{v.uuid()} failed")
    if header and v.r.random() < 0.5:
        tb = f"ERROR:app.main:Unhandled exception in {v.pick(['GET', 'POST'])} " \
             f"/api/v1/{v.pick(PKGS)}/{v.n(1, 999999)}\n" + tb
    return tb


FIRST_FRAME = frame_text(("/app/common/errors.py", 31, "wrap", "raise RuntimeError(f\"request "
                                                                "{rid} failed\") from exc"))

# --------------------------------------------------------------------------------------------
# Entries.


def _epoch(ts):
    return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))


@functools.lru_cache(maxsize=1 << 14)
def _second(s):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))


def rfc3339(ns):
    s, frac = divmod(ns, 1_000_000_000)
    return f"{_second(s)}.{frac:09d}Z"


# Error bursts: (start, length) as fractions of the entries (newest first), and the templates
# (service, level) or request statuses that crowd out the rest for half of the entries there.
BURSTS = [
    (0.05, 0.012, [("checkout-service", "pool"), ("checkout-service", 503)]),
    (0.21, 0.02, [("api-gateway", "breaker"), ("api-gateway", "noinst"), ("api-gateway", 503)]),
    (0.47, 0.008, [("notification-sender", "sendgrid")]),
    (0.63, 0.015, [("inventory-worker", "memory"), ("inventory-worker", "exit"),
                   ("inventory-worker", "trace")]),
    (0.88, 0.006, [("search-api", "panic"), ("search-api", 500)]),
]


class Entries:
    """The entries of a shape, newest first, from one random stream per seed."""

    def __init__(self, shape, n, seed):
        self.shape, self.n = shape, n
        stream = shape if shape in ("requests", "tracebacks", "distinct") else "mixed"
        self.r = random.Random(f"{stream}-{seed}")  # str seeds hash with SHA-512: portable
        self.v = Vars(self.r)
        self.stacks = make_stacks(seed) if shape != "requests" else []
        self.end_ns = _epoch(END) * 1_000_000_000
        self.mean_gap = SPAN_S * 1_000_000_000 // max(n, 1)
        self.traces = {}  # service -> trace id of its request in flight
        self.instances = {s: ["00" + Vars(random.Random(f"{s}-{k}")).hexs(126) for k in range(6)]
                          for s in SERVICE_NAMES}
        # Template choice for mixed: text/json/platform/trace templates plus request logs.
        weights = [t[3] for t in TEMPLATES]
        self.requests_weight = sum(weights) * 0.45  # ~30% of the mixed entries
        self.cum = []
        acc = 0.0
        for w in weights + [self.requests_weight]:
            acc += w
            self.cum.append(acc)
        self.burst_pick = {
            "pool": self._find("checkout-service", "pool.py:88"),
            "breaker": self._find("api-gateway", "circuit breaker"),
            "noinst": self._find("api-gateway", "no available instance"),
            "sendgrid": self._find("notification-sender", "SendGrid"),
            "memory": self._find("inventory-worker", "Memory limit"),
            "exit": self._find("inventory-worker", "exit(1)"),
            "trace": next(i for i, t in enumerate(TEMPLATES)
                          if t[0] == "inventory-worker" and t[1] == "trace"),
            "panic": self._find("search-api", "panic recovered"),
        }
        self.bursts = [(int(a * n), int((a + b) * n), picks) for a, b, picks in BURSTS]

    def _find(self, service, text):
        probe = Vars(random.Random(0))
        for i, (svc, kind, _, _, fn) in enumerate(TEMPLATES):
            if svc != service or kind == "trace":
                continue
            out = fn(probe)
            s = out if isinstance(out, str) else (" ".join(out) if isinstance(out, tuple) else
                                                    out["message"])
            if text in s:
                return i
        raise KeyError(text)

    def __iter__(self):
        r, v = self.r, self.v
        t = self.end_ns
        shape = self.shape
        if shape == "distinct":
            builder = self.distinct
        elif shape == "tracebacks":
            builder = self.traceback
        elif shape == "requests":
            builder = self.request_only
        else:
            builder = self.mixed
        bursts = self.bursts
        for i in range(self.n):
            burst = None
            for a, b, picks in bursts:
                if a <= i < b:
                    burst = picks
                    break
            gap = int(self.mean_gap * 2 * r.random())
            if burst:
                gap //= 4
            e = builder(i, t, burst)
            yield e
            t -= gap

    # -- the parts every entry has

    def base(self, svc, t, log):
        v, r = self.v, self.r
        rev = SERVICES[svc][2][1 if t > self.end_ns - SPAN_S * 400_000_000 else 0]
        e = {
            "insertId": v.hexs(24) if log != "requests" else v.hexs(12),
            "labels": {"instanceId": v.pick(self.instances[svc])},
            "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2F{log}",
            "receiveTimestamp": rfc3339(t + r.randint(3_000_000, 900_000_000)),
            "resource": {"labels": {"configuration_name": svc, "location": SERVICES[svc][3],
                                    "project_id": PROJECT,
                                    "revision_name": f"{svc}-{rev}", "service_name": svc},
                         "type": "cloud_run_revision"},
            "timestamp": rfc3339(t),
        }
        return e

    def with_trace(self, e, svc):
        r, v = self.r, self.v
        if svc in self.traces and r.random() < 0.5:
            tr = self.traces[svc]
        else:
            tr = v.hexs(32)
            self.traces[svc] = tr
        e["trace"] = f"projects/{PROJECT}/traces/{tr}"
        e["spanId"] = v.hexs(16)
        if r.random() < 0.3:
            e["traceSampled"] = True

    def request(self, svc, t, status=None):
        v = self.v
        e = self.base(svc, t, "requests")
        h = request_log(v, svc, status)
        e["httpRequest"] = h
        s = h["status"]
        e["severity"] = "ERROR" if s >= 500 else "WARNING" if s >= 400 else "INFO"
        self.with_trace(e, svc)
        if s in (500, 503) and self.r.random() < 0.6:
            e["textPayload"] = ("The request failed because either the HTTP response was "
                                "malformed or connection to the instance had an error."
                                if s == 500 else "The request was aborted because there was "
                                "no available instance.")
        return e

    def mixed(self, i, t, burst):
        r, v = self.r, self.v
        if burst and r.random() < 0.5:
            svc, what = burst[int(r.random() * len(burst))]
            if isinstance(what, int):
                return self.request(svc, t, what)
            k = self.burst_pick[what]
        else:
            k = bisect.bisect_right(self.cum, r.random() * self.cum[-1])
            if k >= len(TEMPLATES):
                return self.request(SERVICE_NAMES[int(r.random() * len(SERVICE_NAMES))], t)
        svc, kind, level, _, fn = TEMPLATES[k]
        if kind == "platform":
            e = self.base(svc, t, "varlog%2Fsystem")
            e["textPayload"] = fn(v)
            e["severity"] = level
            return e
        if kind == "trace":
            e = self.base(svc, t, "stderr")
            stack = self.stacks[int(r.random() ** 2 * len(self.stacks))]
            e["textPayload"] = traceback_text(v, stack)
            e["severity"] = "ERROR"
            if r.random() < 0.5:
                self.with_trace(e, svc)
            return e
        if kind == "text":
            e = self.base(svc, t, "stderr" if level in ("ERROR", "WARNING") else "stdout")
            logger, where, msg = fn(v)
            e["textPayload"] = text_line(SERVICES[svc][0], v, e["timestamp"], level, logger,
                                         where, msg)
            # Unstructured lines often reach Cloud Logging without a severity: most warnings
            # and errors of the Python and Celery loggers here (their text says ERROR or
            # WARNING), about one in five text lines.
            if (level not in ("ERROR", "WARNING") or SERVICES[svc][0] == "next"
                    or r.random() >= 0.85):
                e["severity"] = level
            if r.random() < 0.3:
                self.with_trace(e, svc)
            return e
        e = self.base(svc, t, "stdout")
        e["jsonPayload"] = fn(v)
        e["severity"] = level
        if r.random() < 0.3:
            e["labels"].update({"env": "prod", "team": svc.split("-")[0],
                                "version": f"2.{v.n(10, 14)}.{v.n(0, 9)}"})
        if r.random() < 0.6:
            self.with_trace(e, svc)
        return e

    def request_only(self, i, t, burst):
        r = self.r
        if burst and r.random() < 0.5:
            svc, what = burst[int(r.random() * len(burst))]
            return self.request(svc, t, what if isinstance(what, int) else 503)
        e = self.request(SERVICE_NAMES[int(r.random() * len(SERVICE_NAMES))], t)
        if "textPayload" not in e and r.random() < 0.05:
            e["textPayload"] = ""
        return e

    def traceback(self, i, t, burst):
        r, v = self.r, self.v
        svc = ("checkout-service", "auth-service", "inventory-worker")[int(r.random() * 3)]
        e = self.base(svc, t, "stderr")
        # A few stacks are common, most are rare.
        stack = self.stacks[int(r.random() ** 2 * len(self.stacks))]
        e["textPayload"] = traceback_text(v, stack)
        e["severity"] = "ERROR"
        if r.random() < 0.5:
            self.with_trace(e, svc)
        return e

    def distinct(self, i, t, burst):
        r, v = self.r, self.v
        svc = ("checkout-service", "auth-service", "inventory-worker")[int(r.random() * 3)]
        e = self.base(svc, t, "stderr")
        _, exc, _, frames = self.stacks[int(r.random() * len(self.stacks))]
        # The innermost three frames of a stored stack replaced by frames of this entry's own
        # (a plugin of its own): a stack trace is grouped by its exception type and innermost
        # frames, and template mining would merge stacks that differ in one frame only.
        w = unique_word(i)
        inner = (f'  File "/app/plugins/{w}/__init__.py", line {r.randint(5, 90)}, in '
                 f"dispatch_{w}\n    return _impl.load_{w}(payload)\n"
                 f'  File "/app/plugins/{w}/{w}_impl.py", line {r.randint(5, 400)}, in '
                 f"load_{w}\n    return {w}.run_{w}(cfg, payload)\n"
                 f'  File "/app/plugins/{w}/{w}.py", line {r.randint(5, 400)}, in run_{w}\n'
                 f"    return self.{v.pick(VERBS)}_{v.pick(NOUNS)}(payload)\n")
        body = "".join(frame_text(f) for f in frames[:-3])
        e["textPayload"] = "Traceback (most recent call last):\n" + body + inner + exc(v)
        e["severity"] = "ERROR"
        return e


SYL = [c + w for c in "bdfgklmnprstvz" for w in "aeiou"]  # 70 syllables, 70**5 words


def unique_word(i):
    """A word of letters only, different for every i below 70**5 (an affine permutation)."""
    m = len(SYL) ** 5
    x = (i * 1_000_003 + 12345) % m
    out = []
    for _ in range(5):
        x, d = divmod(x, len(SYL))
        out.append(SYL[d])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Breaking entries (malformed).

BREAKS = ["truncated", "missing_quote", "bad_escape", "invalid_utf8", "bare_number",
          "bare_string", "bare_null", "timestamp_int", "severity_object", "resource_string"]


def break_entry(r, e, kind):
    """The bytes of entry e as an array element (indent included), broken in the way kind says."""
    if kind == "bare_number":
        return f"  {r.randint(0, 99999)}".encode()
    if kind == "bare_string":
        return ("  " + _enc(r.choice(["upstream connect error or disconnect/reset before headers",
                                      "WARNING: Reauthentication required.", "☠ oops"]))).encode()
    if kind == "bare_null":
        return b"  null"
    if kind == "timestamp_int":
        e = dict(e, timestamp=12)
        return pretty_element(e).encode()
    if kind == "severity_object":
        e = dict(e, severity={})
        return pretty_element(e).encode()
    if kind == "resource_string":
        e = dict(e, resource="cloud_run_revision")
        return pretty_element(e).encode()
    text = pretty_element(e)
    lines = text.split("\n")
    # Lines holding a string value ("key": "value" or "value" in a list), not the first or last.
    strings = [k for k in range(1, len(lines) - 1) if lines[k].rstrip(",").endswith('"')
               and '": "' in lines[k]]
    if kind == "truncated":
        # Cut off somewhere after the first line, maybe inside a string or an escape.
        cut = r.randint(len(lines[0]) + 1, len(text) - 3)
        return text[:cut].encode()
    k = strings[r.randrange(len(strings))]
    line = lines[k]
    at = line.index('": "') + 4  # first byte of the value
    if kind == "missing_quote":
        if r.random() < 0.5:  # the value's closing quote
            end = len(line) - (2 if line.endswith(",") else 1)
            lines[k] = line[:end] + line[end + 1:]
        else:  # the key's opening quote
            lines[k] = line.replace('"', "", 1)
        return "\n".join(lines).encode()
    if kind == "bad_escape":
        lines[k] = line[:at] + "\\q" + line[at:]
        return "\n".join(lines).encode()
    if kind == "invalid_utf8":
        head = ("\n".join(lines[:k]) + "\n" + line[:at]).encode()
        tail = (line[at:] + "\n" + "\n".join(lines[k + 1:])).encode()
        bad = r.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\x80\x80abc\xfe"])
        return head + bad + tail
    raise ValueError(kind)


# --------------------------------------------------------------------------------------------
# Writing.


def elements(shape, n, seed, counts=None):
    """The array elements of an array shape as bytes (indent included, no separators), each
    with the kind of breakage (None when whole)."""
    src = Entries("mixed" if shape == "malformed" else shape, n, seed)
    broken = set()
    if shape == "malformed":
        br = random.Random(f"malformed-{seed}")
        broken = set(br.sample(range(n), round(n / 10)))
    for i, e in enumerate(src):
        if i in broken:
            kind = BREAKS[br.randrange(len(BREAKS))]
            if counts is not None:
                counts[kind] = counts.get(kind, 0) + 1
            yield break_entry(br, e, kind), kind
        else:
            yield pretty_element(e).encode(), None


def chunks(shape, n, seed, counts=None):
    """The output as a sequence of byte strings."""
    if shape in ("ndjson", "distinct"):
        src = Entries("mixed" if shape == "ndjson" else shape, n, seed)
        buf = []
        for e in src:
            buf.append(compact(e))
            if len(buf) >= CHUNK:
                yield ("\n".join(buf) + "\n").encode()
                buf = []
        if buf:
            yield ("\n".join(buf) + "\n").encode()
        return
    if n == 0:
        yield b"[]\n"
        return
    yield b"[\n"
    buf = []
    for i, (b, _) in enumerate(elements(shape, n, seed, counts)):
        buf.append(b)
        if len(buf) >= CHUNK:
            yield b",\n".join(buf) + (b"\n]\n" if i == n - 1 else b",\n")
            buf = []
    if buf:
        yield b",\n".join(buf) + b"\n]\n"


def write(shape, n, out, seed):
    counts = {}
    with open(out, "wb") as raw:
        f = gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw, mtime=0) \
            if out.endswith(".gz") else raw
        for c in chunks(shape, n, seed, counts):
            f.write(c)
        if f is not raw:
            f.close()
    if shape == "malformed":
        total = sum(counts.values())
        detail = ", ".join(f"{k} {counts.get(k, 0)}" for k in BREAKS)
        print(f"malformed: {total} of {n} entries broken: {detail}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Self-check.


def self_check():
    ok = True

    def check(what, cond):
        nonlocal ok
        print(("ok    " if cond else "FAIL  ") + what)
        ok = ok and cond

    def out(shape, n, seed=1):
        return b"".join(chunks(shape, n, seed))

    for n in (0, 1, 2, 3, 700, 2500):
        for shape in ("mixed", "requests", "tracebacks"):
            entries = list(Entries(shape, n, 1))
            want = (json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False)
                    + "\n").encode()
            check(f"{shape} N={n}: byte-identical to json.dumps(list, indent=2, sort_keys=True, "
                  "ensure_ascii=False)", out(shape, n) == want)
    entries = list(Entries("mixed", 2500, 1))
    nd = out("ndjson", 2500)
    lines = nd.decode().split("\n")
    check("ndjson N=2500: one compact object per line, the entries of mixed",
          lines[-1] == "" and [json.loads(x) for x in lines[:-1]] == entries
          and all(x == compact(e) for x, e in zip(lines, entries)))
    ts = [e["timestamp"] for e in entries]
    check("mixed: timestamps descending (newest first)", ts == sorted(ts, reverse=True))
    check("mixed: the same seed gives the same bytes", out("mixed", 700) == out("mixed", 700))
    check("mixed: another seed gives other bytes", out("mixed", 700) != out("mixed", 700, 2))
    sizes = len(out("mixed", 2500)) / 2500
    check(f"mixed: {sizes:.0f} bytes an entry (0.6-1.5 KB)", 600 <= sizes <= 1500)
    counts = {}
    mal = b"".join(chunks("malformed", 2500, 1, counts))
    check(f"malformed N=2500: {sum(counts.values())} broken (10%)", sum(counts.values()) == 250
          and set(counts) == set(BREAKS))
    try:
        json.loads(mal)
        check("malformed: not valid JSON", False)
    except ValueError:
        check("malformed: not valid JSON", True)
    els = list(elements("malformed", 2500, 1))
    whole = [pretty_element(e).encode() for e in entries]
    check("malformed: the unbroken entries are those of mixed, in place",
          all(b == w for (b, k), w in zip(els, whole) if k is None)
          and mal == b"[\n" + b",\n".join(b for b, _ in els) + b"\n]\n")
    # Splittable in gcloud's layout: a broken element starts a line at column 2 only on its
    # first line (and its last, "  }", when it is whole); every other line is indented deeper
    # (or is blank: a cut in a line's indentation).
    def splittable(b):
        ls = b.split(b"\n")
        inner = ls[1:-1] if ls[-1] == b"  }" else ls[1:]
        return ls[0].startswith(b"  ") and not ls[0].startswith(b"   ") and all(
            x.startswith(b"    ") or x.strip(b" ") == b"" for x in inner)
    check("malformed: every broken entry sits between gcloud's separators",
          all(splittable(b) for b, k in els if k is not None))
    bad_utf8 = 0
    for b, k in els:
        try:
            b.decode()
        except UnicodeDecodeError:
            bad_utf8 += 1
    check(f"malformed: {bad_utf8} entries with invalid UTF-8 (= invalid_utf8 "
          f"{counts['invalid_utf8']})", bad_utf8 == counts["invalid_utf8"])
    dist = out("distinct", 3000).decode().split("\n")[:-1]
    frames_ok, seen, unique = True, set(), True
    for line in dist:
        tb = json.loads(line)["textPayload"]
        fr = [x for x in tb.split("\n") if x.startswith('  File "')]
        frames_ok &= 20 <= len(fr) <= 40
        # Each of the innermost three frames (file name and function) is this entry's own.
        for x in fr[-3:]:
            key = x.split('"')[1].rsplit("/", 1)[1] + ":" + x.rsplit(", in ", 1)[1]
            unique &= key not in seen
            seen.add(key)
    check("distinct N=3000: the innermost three frames of every entry its own, 20-40 frames",
          unique and frames_ok)
    tbs = [e["textPayload"] for e in Entries("tracebacks", 3000, 1)]
    nfr = [tb.count('\n  File "') for tb in tbs]
    check(f"tracebacks: {min(nfr)}-{max(nfr)} frames (chained ones count both parts)",
          min(nfr) >= 20 and max(nfr) <= 41)
    stacks = make_stacks(1)
    check(f"tracebacks: {len({s[0] for s in stacks})} distinct stacks of frames",
          len({s[0] for s in stacks}) == 200)
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=gz, mtime=0) as g:
        g.write(out("mixed", 700))
    check("gzip round trip", gzip.decompress(gz.getvalue()) == out("mixed", 700))
    print("self-check " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("shape", nargs="?", choices=SHAPES)
    p.add_argument("n", nargs="?", type=int)
    p.add_argument("out", nargs="?")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--self-check", action="store_true",
                   help="check the layout against json.dumps and the shapes' promises, then exit")
    a = p.parse_args()
    if a.self_check:
        return self_check()
    if a.shape is None or a.n is None or a.out is None or a.n < 0:
        p.error("SHAPE N OUT are required")
    t0 = time.time()
    write(a.shape, a.n, a.out, a.seed)
    print(f"{a.shape}: {a.n} entries to {a.out} in {time.time() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
