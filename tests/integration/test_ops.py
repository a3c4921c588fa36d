"""Health and metrics (PROTOCOL section 7; README, "Health and metrics"):
GET /healthz and GET /metrics on the WebSocket URL's host and port,
through Pushpin, against the real stack."""
import asyncio
import re
import subprocess
import time
import urllib.error
import urllib.request

import parley_test
from parley_test import (ROOT, STATE, WS_URL, connect, eq, ok, run,
                         send_frame, uid)

import os

HTTP = "http" + WS_URL[len("ws"):].rsplit("/", 1)[0]  # http://host:port


def get(path, method="GET"):
    """(status, content type, body) of a request through Pushpin."""
    req = urllib.request.Request(HTTP + path, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$')


def scrape():
    """The samples of /metrics: {"name{labels}": value}."""
    status, ctype, body = get("/metrics")
    assert status == 200, (status, body)
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def stackctl(action):
    r = subprocess.run([os.path.join(ROOT, "scripts", "stackctl"), STATE,
                        action], capture_output=True, text=True, timeout=90)
    if r.returncode != 0:
        raise RuntimeError(f"stackctl {action}: {r.stdout}{r.stderr}")


async def test_healthz():
    status, ctype, body = get("/healthz")
    eq(status, 200, "healthz: 200 with the database and Pushpin up")
    eq(ctype, "application/json", "healthz: JSON")
    eq(body.strip(), '{"status":"ok","database":"ok","pushpin":"ok"}',
       "healthz: says both are ok")
    status, _, _ = get("/healthz", "HEAD")
    eq(status, 200, "healthz: HEAD answers too")
    status, _, body = get("/healthz", "POST")
    eq(status, 405, "healthz: POST is 405")


async def test_metrics_format():
    status, ctype, body = get("/metrics")
    eq(status, 200, "metrics: 200")
    ok(ctype.startswith("text/plain; version=0.0.4"), "metrics: Prometheus "
       "text format", ctype)
    s = scrape()
    for name in ("parley_connections_open", "parley_messages_pending",
                 "parley_connects_total", "parley_disconnects_total",
                 "parley_messages_stored_total", "parley_messages_acked_total",
                 "parley_messages_delivered_total", "parley_messages_read_total",
                 "parley_redeliveries_total", 'parley_errors_total{code="invalid_json"}',
                 "parley_db_reconnects_total", "parley_publish_failures_total",
                 'parley_request_duration_seconds_count{kind="ws"}'):
        ok(name in s, f"metrics: {name} is there")
    h = [v for k, v in s.items()
         if k.startswith('parley_request_duration_seconds_bucket{kind="ws"')]
    ok(h == sorted(h) and h[-1] == s['parley_request_duration_seconds_count{kind="ws"}'],
       "metrics: the histogram's buckets are cumulative, +Inf = count", h)


async def test_metrics_count_traffic():
    """A known exchange moves each counter by what it did, whichever
    worker answers the scrape (the workers share the counters)."""
    before = scrape()
    a, b = uid("ma"), uid("mb")
    ca, cb = await connect(a), await connect(b)
    conv = uid("mconv")
    ids = []
    for i in range(3):
        f = send_frame(a, b, conv, f"metrics {i}", uid(f"mm{i}"))
        ack = await ca.request(f, "ack")
        eq(ack["type"], "ack", f"metrics: send {i} acked")
        ids.append(f["messageId"])
    for i in ids:
        await cb.expect(lambda e, i=i: e.get("type") == "message"
                        and e["data"]["messageId"] == i)
    r = await cb.request({"action": "ack", "messageIds": ids}, "ack")
    eq(r["type"], "ack", "metrics: the recipient's ack answered")
    r = await cb.request({"action": "markRead", "messageIds": ids[:1]}, "ack")
    eq(r["type"], "ack", "metrics: markRead answered")
    await ca.send("{not json")
    e = await ca.expect("error")
    eq(e["data"]["code"], "invalid_json", "metrics: a bad frame's error")
    open_now = scrape()["parley_connections_open"]
    await ca.close()
    await cb.close()
    deadline = time.monotonic() + 10
    while True:  # the disconnects are requests of their own
        after = scrape()
        if (after["parley_disconnects_total"] - before["parley_disconnects_total"] >= 2
                or time.monotonic() > deadline):
            break
        await asyncio.sleep(0.2)

    def d(name):
        return after[name] - before[name]
    eq(d("parley_connects_total"), 2, "metrics: 2 connects counted")
    ok(d("parley_disconnects_total") >= 2, "metrics: 2 disconnects counted",
       d("parley_disconnects_total"))
    eq(d("parley_messages_stored_total"), 3, "metrics: 3 stored")
    ok(d("parley_messages_delivered_total") >= 3, "metrics: 3 delivered",
       d("parley_messages_delivered_total"))
    eq(d("parley_messages_acked_total"), 3, "metrics: 3 acked")
    eq(d("parley_messages_read_total"), 1, "metrics: 1 read")
    ok(d('parley_errors_total{code="invalid_json"}') >= 1,
       "metrics: the invalid_json error counted")
    ok(open_now >= 2, "metrics: connections_open counted the two", open_now)
    ok(d('parley_request_duration_seconds_count{kind="ws"}') >= 8,
       "metrics: the requests were timed")


async def test_metrics_add_up():
    """With no traffic, scrapes answered by different workers agree: the
    counters are the host's, not a worker's."""
    seen = set()
    for _ in range(12):
        s = scrape()
        seen.add((s["parley_connects_total"], s["parley_messages_stored_total"],
                  s["parley_messages_acked_total"]))
    # Other test files may run alongside; at rest every scrape agrees.
    ok(len(seen) <= 2, "metrics: 12 scrapes over several workers show the "
       "same totals", seen)


async def test_healthz_database_down():
    stackctl("pg-stop")
    try:
        status, _, body = get("/healthz")
        eq(status, 503, "healthz: 503 with the database down")
        eq(body.strip(), '{"status":"unavailable","database":"unavailable",'
           '"pushpin":"ok"}', "healthz: says which")
        status, _, body = get("/metrics")
        eq(status, 200, "metrics: still answers with the database down")
        ok("parley_connections_open" not in body and
           "parley_connects_total" in body,
           "metrics: the gauges are left out, the counters shown")
    finally:
        stackctl("pg-start")
    deadline = time.monotonic() + 20
    while get("/healthz")[0] != 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    eq(get("/healthz")[0], 200, "healthz: 200 again once it is back")
    s = scrape()
    ok(s["parley_db_reconnects_total"] >= 1 or
       s["parley_db_connect_failures_total"] >= 1,
       "metrics: the outage shows in the database counters")


async def test_under_nginx():
    """The same routes from the workers under nginx (parley-ws --listen;
    the test stack's Pushpin reaches that nginx under /nginx/)."""
    if not parley_test.STACK.get("NGINX_WS_URL"):
        ok(False, "nginx: the test stack has an nginx")
        return
    status, ctype, body = get("/nginx/healthz")
    eq((status, body.strip()), (200, '{"status":"ok","database":"ok",'
       '"pushpin":"ok"}'), "nginx: /healthz")
    status, ctype, body = get("/nginx/metrics")
    ok(status == 200 and "\nparley_connects_total " in body,
       "nginx: /metrics", status)


run(test_healthz, test_under_nginx, test_metrics_format, test_metrics_count_traffic,
    test_metrics_add_up, test_healthz_database_down)
