"""Hardening (issue 11), over the real stack:

1. rate limits that a reconnect cannot reset: the frame budget is the
   user's (all connections), connects are limited per user and, through
   the /limits/ws mount (a small per-address budget, tests/stack), per
   client address, which Pushpin sends in X-Forwarded-For;
2. the database roles: each thing the programs never do is refused to
   parley_worker and parley_expire, and the installed expiry job has its
   own settings file and login;
3. request bodies: an oversized one gets 413 before it is sent, an
   unsigned one 403 before it is read, under lighttpd and nginx and at
   the worker itself (raw FastCGI);
4. what the README tells a newcomer: the walkthrough's lines (a pasted
   line twice is a duplicate; a second message), and the one-line 400
   for ids with control characters."""
import asyncio
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import websockets

import parley_test
from parley_test import (BACKEND_URL, BUILD, DB_URL, ROOT, SETTINGS, STACK,
                         STATE, WS_URL, connect, eq, grip_sig, ok,
                         run, send_frame, sql, sql_value, uid)

RATE_LIMIT = int(SETTINGS.get("rate_limit", "50"))
RATE_BURST = int(SETTINGS.get("rate_burst", "100"))
USER_CONNECT_RATE = int(SETTINGS.get("user_connect_rate", "1"))
USER_CONNECT_BURST = int(SETTINGS.get("user_connect_burst", "30"))
# The /limits/ws mount (tests/stack/lighttpd.conf.in and stack.env.in).
LIMITS_WS_URL = STACK.get("LIMITS_WS_URL")
LIMITS_BACKEND_URL = STACK.get("LIMITS_BACKEND_URL")
LIMITS_RATE = int(STACK.get("LIMITS_ADDRESS_RATE", "1"))
LIMITS_BURST = int(STACK.get("LIMITS_ADDRESS_BURST", "5"))
NGINX_WS_URL = STACK.get("NGINX_WS_URL")
FCGI_ADDR = STACK.get("FCGI_ADDR")
NGINX_URL = STACK.get("NGINX_BACKEND_URL")
if not (LIMITS_WS_URL and NGINX_WS_URL and FCGI_ADDR and NGINX_URL):
    print("1..0 # SKIP the stack's stack.env lacks tests/stack's additions")
    sys.exit(0)

# Pushpin's request buffer (200,000 bytes of frame content) and the cap
# above it (src/parley-ws.c MAX_BODY, lighttpd's server.max-request-size,
# nginx's client_max_body_size).
BODY_CAP = 512 * 1024


# ---- helpers ---------------------------------------------------------------

async def handshake(url, query, headers=None, timeout=10):
    """A WebSocket handshake by hand: (status, content type, body). A
    101 is closed at once."""
    u = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    lines = [f"GET {u.path}?{query} HTTP/1.1", f"Host: {u.netloc}",
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: 13"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ", 2)[1])
        hdrs = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        body = b""
        if status != 101 and "content-length" in hdrs:
            body = await asyncio.wait_for(
                reader.readexactly(int(hdrs["content-length"])), timeout)
        return status, hdrs.get("content-type"), body.decode("latin-1")
    finally:
        writer.close()


async def connects(url, query, headers=None):
    """One connect and a clean close: None, or the refusal's status."""
    try:
        ws = await websockets.connect(f"{url}?{query}", open_timeout=10,
                                      extra_headers=headers or {})
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    await ws.close()
    return None


def post(url, body, headers, sig=True, send=None, timeout=5.0):
    """A POST to url (path and query) of a server in front of the
    workers, by hand: sends the headers (Content-Length from body unless
    given) and `send` bytes of body (all by default), then reads the
    answer. Returns (status, body, seconds until the status line)."""
    u = urllib.parse.urlsplit(url)
    h = {"Content-Type": "application/websocket-events",
         "Connection-Id": "hard-" + uuid.uuid4().hex,
         "Content-Length": str(len(body))}
    if sig:
        h["Grip-Sig"] = grip_sig()
    h.update(headers)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        started = time.monotonic()
        target = u.path + (f"?{u.query}" if u.query else "")
        head = f"POST {target} HTTP/1.1\r\n" \
               f"Host: {u.netloc}\r\nConnection: close\r\n" + \
               "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        s.sendall(head.encode() + body[:len(body) if send is None else send])
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        took = time.monotonic() - started
        head, _, rest = data.partition(b"\r\n\r\n")
        m = re.search(rb"content-length: *(\d+)", head, re.I)
        chunked = re.search(rb"transfer-encoding: *chunked", head, re.I)
        while (len(rest) < int(m.group(1)) if m else
               not rest.endswith(b"0\r\n\r\n") if chunked else True):
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        if chunked:
            rest = dechunk(rest)
        status = int(head.split(b" ", 2)[1]) if head else None
        return status, rest, took
    except socket.timeout:
        return None, b"", timeout
    finally:
        s.close()


def dechunk(data):
    out, i = b"", 0
    while i < len(data):
        end = data.index(b"\r\n", i)
        n = int(data[i:end].split(b";")[0], 16)
        if n == 0:
            break
        out += data[end + 2:end + 2 + n]
        i = end + 2 + n + 2
    return out


def text_event(payload):
    return b"TEXT %x\r\n" % len(payload) + payload + b"\r\n"


async def spend(c, n, conv):
    """n getMessages as fast as they go: (served, rate_limited)."""
    for _ in range(n):
        await c.send({"action": "getMessages", "conversationId": conv})
    return await spend_answers(c, n)


async def spend_answers(c, n):
    """The answers to n getMessages: (served, rate_limited)."""
    served = limited = 0
    for _ in range(n):
        ev = await c.expect(lambda e: e["type"] in ("messages", "error"), 10)
        if ev["type"] == "messages":
            served += 1
        elif ev["data"].get("code") == "rate_limited":
            limited += 1
    return served, limited


def as_role(url, query, **params):
    """psql as a login user: (exit status, output)."""
    cmd = ["psql", url, "-AtXq", "-v", "ON_ERROR_STOP=1"]
    for k, v in params.items():
        cmd += ["-v", f"{k}={v}"]
    r = subprocess.run(cmd, input=query, capture_output=True, text=True,
                       timeout=30)
    return r.returncode, (r.stdout + r.stderr).strip()


def settings_of(name):
    with open(os.path.join(STATE, name)) as f:
        return {k.strip(): v.strip() for k, _, v in
                (line.partition("=") for line in f
                 if "=" in line and not line.lstrip().startswith("#"))}


# ---- 1. rate limits -----------------------------------------------------------

async def test_frame_budget_is_the_users():
    """The issue's probe: reconnecting, and a second device, used to bring
    a full burst each. Now every connection of the user spends one
    budget: whatever they do, at most rate_burst + rate_limit * seconds
    frames are served."""
    user, conv = uid("budget"), uid("budget-conv")
    started = time.monotonic()
    c = await connect(user)
    served, limited = await spend(c, RATE_BURST + 20, conv)
    ok(served >= RATE_BURST and limited > 0,
       f"one connection: the burst is served ({served}), the rest "
       f"limited ({limited})")
    total, each = served, []
    for _ in range(4):
        await c.close()
        c = await connect(user)
        s, lim = await spend(c, RATE_BURST, conv)
        total += s
        each.append((s, lim))
    second = await connect(user)
    s, lim = await spend(second, RATE_BURST, conv)
    total += s
    each.append((s, lim))
    elapsed = time.monotonic() - started
    allowed = RATE_BURST + RATE_LIMIT * elapsed + 2
    ok(total <= allowed,
       f"4 reconnects and a second device, {RATE_BURST} frames each: "
       f"{total} served in {elapsed:.2f} s in all, within the one "
       f"budget ({allowed:.0f}); served/limited each: {each}")
    ok(all(lim > 0 for _, lim in each),
       "  every new connection found the budget (nearly) spent")
    # PROTOCOL.md 3b: ack, markRead and ping are never rate_limited.
    for i in range(50):
        await second.send({"action": "ack", "messageIds": [uid(f"n-{i}")]})
        await second.send({"action": "markRead",
                           "messageIds": [uid(f"n-{i}")]})
        await second.send({"action": "ping"})
    got = [await second.expect(lambda e: e["type"] in ("ack", "pong",
                                                       "error"))
           for _ in range(150)]
    eq(sum(e["type"] == "error" for e in got), 0,
       "  with the budget spent: 50 acks, markReads and pings, none refused")
    other = await connect(uid("budget-other"))
    ev = await other.request({"action": "getMessages",
                              "conversationId": conv}, "messages")
    eq(ev["type"], "messages", "another user's budget is their own")
    for x in (c, second, other):
        await x.close()


async def test_steady_stream_is_counted():
    """A client that sends frame after frame, as fast as the workers answer,
    comes in one or a few frames a request. The old per-connection bucket
    was written back only once below nine-tenths full, so such a client,
    never taking a tenth of the burst in one request, was never limited
    at any rate. Every frame counts now: at 4 times rate_limit, what is
    served stays within rate_burst + rate_limit * seconds."""
    user, conv = uid("steady"), uid("steady-conv")
    c = await connect(user)
    rate = 4 * RATE_LIMIT
    n = int(rate * (RATE_BURST / (rate - RATE_LIMIT) + 2))
    answers = asyncio.ensure_future(spend_answers(c, n))
    started = time.monotonic()
    for i in range(n):
        await c.send({"action": "getMessages", "conversationId": conv})
        await asyncio.sleep(max(0.0, started + (i + 1) / rate -
                                time.monotonic()))
    served, limited = await answers
    elapsed = time.monotonic() - started
    allowed = RATE_BURST + RATE_LIMIT * elapsed + 2
    ok(served <= allowed and limited > 0,
       f"{n} frames at {rate}/s, one by one, over {elapsed:.1f} s: "
       f"{served} served (at most {allowed:.0f}), {limited} limited")
    await c.close()


async def test_connects_per_user():
    user = uid("reconnector")
    started = time.monotonic()
    results = []
    for _ in range(USER_CONNECT_BURST + 5):
        results.append(await connects(WS_URL, f"userId={user}"))
        if results[-1] is not None:
            break
    elapsed = time.monotonic() - started
    accepted = results.count(None)
    ok(USER_CONNECT_BURST <= accepted <=
       USER_CONNECT_BURST + USER_CONNECT_RATE * elapsed + 1,
       f"connect and close in a loop: {accepted} accepted in "
       f"{elapsed:.1f} s (burst {USER_CONNECT_BURST}, "
       f"{USER_CONNECT_RATE}/s)")
    eq(results[-1], 429, "  then HTTP 429")
    st, ctype, body = await handshake(WS_URL, f"userId={user}")
    eq((st, ctype, body.strip()),
       (429, "text/plain", "too many connection attempts for this user; "
        "retry later"), "  with a one-line reason")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 user), "0", "  and no row")
    eq(await connects(WS_URL, f"userId={uid('reconnector-2')}"), None,
       "another user from the same address connects")
    await asyncio.sleep(1.1 / USER_CONNECT_RATE)
    eq(await connects(WS_URL, f"userId={user}"), None,
       "a second later the user connects again")


async def test_connects_per_address():
    """The /limits/ws mount has its own rate table with a per-address
    budget of LIMITS_BURST at once, LIMITS_RATE a second. Pushpin sends the
    client's address as the last X-Forwarded-For entry (its config drops
    what the client wrote there), so a client that forges the header
    still spends its own budget."""
    await asyncio.sleep(LIMITS_BURST / LIMITS_RATE)  # a full bucket
    started = time.monotonic()
    results = []
    for i in range(LIMITS_BURST + 3):
        results.append(await connects(
            LIMITS_WS_URL, f"userId={uid(f'addr-{i}')}",
            {"X-Forwarded-For": f"203.0.113.{i + 1}"}))
    elapsed = time.monotonic() - started
    accepted = results.count(None)
    ok(LIMITS_BURST <= accepted <= LIMITS_BURST + LIMITS_RATE * elapsed + 1,
       f"{len(results)} users from 127.0.0.1, each forging another "
       f"X-Forwarded-For: {accepted} accepted in {elapsed:.1f} s "
       f"(burst {LIMITS_BURST}): {results}")
    eq(results[-1], 429, "  the rest 429")
    st, ctype, body = await handshake(LIMITS_WS_URL,
                                      f"userId={uid('addr-x')}")
    eq((st, body.strip()), (429, "too many connection attempts from this "
                                 "address; retry later"),
       "  with a one-line reason")

    # What Pushpin would send for other clients: raw, signed requests.
    def opens(xff, user="addr-raw", n=1):
        out = []
        for _ in range(n):
            st, _, _ = post(LIMITS_BACKEND_URL + f"?userId={uid(user)}",
                            b"OPEN\r\n", {"X-Forwarded-For": xff})
            out.append(st)
        return out
    eq(opens("198.51.100.20"), [200],
       "meanwhile another address is served (Pushpin's entry: the last)")
    eq(opens("127.0.0.1, 198.51.100.21"), [200],
       "  entries left of it are not read")
    eq(opens("2001:db8:7:1::1", n=LIMITS_BURST + 1)[-1], 429,
       "an IPv6 client over its burst: 429")
    eq(opens("2001:db8:7:1::ffff"), [429],
       "  and so is its /64")
    eq(opens("2001:db8:7:2::1"), [200], "  but not the next /64")
    st = [post(LIMITS_BACKEND_URL, b"OPEN\r\n",
               {"X-Forwarded-For": "198.51.100.22"})[0]
          for _ in range(LIMITS_BURST)]
    eq(st, [400] * LIMITS_BURST,
       f"{LIMITS_BURST} handshakes without a userId: 400 each")
    eq(opens("198.51.100.22"), [429],
       "  they spent the address's budget (attempts count, not successes)")
    sql("DELETE FROM connections WHERE user_id LIKE :'p1'",
        f"addr-%-{parley_test.RUN}")


# ---- 2. roles -----------------------------------------------------------------

async def test_worker_role():
    worker = SETTINGS["database_url"]
    a, b = await connect(uid("role-a")), await connect(uid("role-b"))
    mid = uid("role-m")
    await a.request(send_frame(a.user, b.user, "c-role", "original", mid),
                    "ack")
    await b.expect("message")
    await b.request({"action": "ack", "messageIds": [mid]}, "ack")
    eq(sql_value("SELECT status FROM messages WHERE message_id = :'p1'",
                 mid), "delivered", "a delivered message to try things on")
    refused = [
        ("UPDATE messages SET content = 'forged' WHERE message_id = :'m'",
         "permission denied for table messages", "change a message's content"),
        ("UPDATE messages SET sender_id = 'someone' WHERE message_id = :'m'",
         "permission denied for table messages", "change its sender"),
        ("UPDATE messages SET received_at = now() WHERE message_id = :'m'",
         "permission denied for table messages", "change its receive time"),
        ("UPDATE messages SET status = 'sent' WHERE message_id = :'m'",
         "status never goes backwards", "move its status back to sent"),
        ("DELETE FROM messages WHERE message_id = :'m'",
         "permission denied for table messages", "delete it"),
        ("TRUNCATE messages", "permission denied for table messages",
         "truncate messages"),
        ("BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; ROLLBACK;",
         "permission denied for table messages",
         "LOCK messages IN ACCESS EXCLUSIVE MODE"),
        ("BEGIN; LOCK TABLE messages IN SHARE MODE; ROLLBACK;",
         "permission denied for table messages",
         "LOCK messages IN SHARE MODE (would stop every send)"),
        ("CREATE TEMP TABLE t (x int)",
         "permission denied to create temporary tables",
         "create a temporary table"),
        ("CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql "
         "AS 'SELECT 1'", "permission denied to create temporary tables",
         "create a temporary function"),
        ("CREATE TABLE public.t (x int)",
         "permission denied for schema public", "create a table"),
        ("CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
         "permission denied for schema public", "create a function"),
        ("UPDATE connections SET connection_id = 'x' WHERE false",
         "permission denied for table connections",
         "rename a connection"),
    ]
    for query, want, what in refused:
        rc, out = as_role(worker, query, m=mid)
        ok(rc != 0 and want in out, f"parley_worker may not {what}",
           f"exit {rc}: {out}")
    eq(sql("SELECT content, sender_id, status FROM messages "
           "WHERE message_id = :'p1'", mid),
       [["original", a.user, "delivered"]], "  the row is unchanged")
    rc, out = as_role(worker, """BEGIN;
        UPDATE messages SET status = 'read', read_at = now()
            WHERE message_id = :'m';
        UPDATE messages SET is_deleted = true WHERE message_id = :'m';
        UPDATE connections SET expires_at = now() WHERE false;
        LOCK TABLE messages IN ROW EXCLUSIVE MODE;
        ROLLBACK;""", m=mid)
    eq((rc, out), (0, ""), "what the workers do is allowed (status forward, "
       "is_deleted, expires_at), as the whole suite shows")
    rc, out = as_role(DB_URL, """BEGIN;
        UPDATE messages SET is_deleted = true WHERE message_id = :'m';
        UPDATE messages SET is_deleted = false WHERE message_id = :'m';
        ROLLBACK;""", m=mid)
    ok(rc != 0 and "a deleted message stays deleted" in out,
       "not even the owner undeletes a message", out)
    await a.close()
    await b.close()


async def test_expire_role():
    job = settings_of("parley-expire.conf")["database_url"]
    eq(as_role(job, "SELECT current_user")[1], "parley_job",
       "the stack's expiry job logs in as parley_job")
    for query, what in (
            ("SELECT count(*) FROM messages", "read messages"),
            ("UPDATE messages SET content = 'x' WHERE false",
             "update messages"),
            ("DELETE FROM messages WHERE false", "delete messages"),
            ("INSERT INTO connections VALUES ('x', 'y', now(), now())",
             "insert connections"),
            ("BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; "
             "ROLLBACK;", "lock messages"),
            ("CREATE TEMP TABLE t (x int)", "create a temporary table"),
            ("CREATE TABLE public.t (x int)", "create a table")):
        rc, out = as_role(job, query)
        ok(rc != 0 and "permission denied" in out,
           f"parley_expire may not {what}", f"exit {rc}: {out}")
    rc, out = as_role(job, "DELETE FROM connections WHERE false")
    eq(rc, 0, "  it deletes connection rows")


def make_vars(build, *names):
    """Values of make variables of the build (sysconfdir, bindir, ...)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(["make", "-s", "-C", build, "-f", "Makefile", "-f",
                        "-", "parley-print-vars"],
                       input="parley-print-vars:\n\t@echo " +
                       " ".join(f"$({n})" for n in names) + "\n",
                       capture_output=True, text=True, timeout=60, env=env)
    return r.stdout.split()


async def test_installed_expiry_job():
    """make install: the cron.d entry runs parley-expire with its own
    settings file, which logs in as parley_job and holds no keys."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    with tempfile.TemporaryDirectory() as dest:
        r = subprocess.run(["make", "-s", "-C", BUILD, "install",
                            f"DESTDIR={dest}"], capture_output=True,
                           text=True, timeout=300, env=env)
        if not eq(r.returncode, 0, "make install DESTDIR=..."):
            ok(False, "install output", r.stdout + r.stderr)
            return
        sysconfdir, bindir = make_vars(BUILD, "sysconfdir", "bindir")
        with open(f"{dest}{sysconfdir}/cron.d/parley-expire") as f:
            jobs = [line.split() for line in f
                    if line.strip() and not line.startswith("#")
                    and "=" not in line.split()[0]]
        eq(len(jobs), 1, "the cron.d entry has one job")
        job = jobs[0]
        conf = f"{sysconfdir}/parley/parley-expire.conf"
        eq(job[5:10], ["parley", f"{bindir}/parley-expire", "--config",
                       conf, "--reconcile"],
           "  every minute as user parley: parley-expire --config "
           "parley-expire.conf --reconcile")
        ok(os.access(dest + job[6], os.X_OK), "  the program is installed")
        with open(dest + conf) as f:
            text = f.read()
        values = dict((k.strip(), v.strip()) for k, _, v in
                      (line.partition("=") for line in text.splitlines()
                       if "=" in line and not line.startswith("#")))
        eq(values.get("database_url"), "dbname=parley user=parley_job",
           "  its settings: the job's own login user")
        ok(not any(k == "grip_sig_key" or k.startswith("jwt_")
                   for k in values), "  and no keys", values)

        # Run as installed, against the test stack's database (host and
        # port from the environment; the user is the file's), with
        # Pushpin's command socket of the stack.
        u = urllib.parse.urlsplit(DB_URL)
        stale = uid("installed-stale")
        sql("INSERT INTO connections VALUES (:'p1', 'u', now() - "
            "interval '2 days', now() - interval '1 day')", stale)
        run_env = dict(env, PGHOST=u.hostname, PGPORT=str(u.port),
                       PARLEY_PUSHPIN_COMMAND_SPEC=settings_of(
                           "parley-expire.conf")["pushpin_command_spec"])
        r = subprocess.run([dest + job[6], "--config", dest + conf,
                            "--reconcile"], capture_output=True, text=True,
                           timeout=120, env=run_env)
        ok(r.returncode == 0, "the installed job, as cron runs it, against "
           "the test database as parley_job: exit 0",
           f"exit {r.returncode}: {r.stderr}")
        eq(sql_value("SELECT count(*) FROM connections WHERE "
                     "connection_id = :'p1'", stale), "0",
           "  and deleted a stale row")


# ---- 3. request bodies --------------------------------------------------------

# The stack's server, and nginx beside it unless it is nginx itself.
SERVERS = ((STACK.get("SERVER", "lighttpd"), BACKEND_URL),) + (
    (("nginx", NGINX_URL),) if NGINX_URL != BACKEND_URL else ())


async def test_body_limits():
    for name, url in SERVERS:
        st, _, took = post(url, b"", {"Content-Length": str(64 << 20)},
                           sig=False, send=0)
        ok(st == 413 and took < 2,
           f"{name}: a 64 MiB POST (headers only, nothing of the body "
           f"sent) gets 413 at once ({st} in {took:.2f} s)")
        st, _, took = post(url, b"", {"Content-Length": str(BODY_CAP + 1)},
                           send=0)
        ok(st == 413 and took < 2,
           f"{name}: one byte over the cap, signed: 413 at once ({st})")
        body = text_event(b'{"action":"ping"}') * 8000  # 224,000 bytes
        st, _, took = post(url, body, {"Content-Length": "300000"},
                           sig=False, send=1000)
        ok(st == 403 and took < 2,
           f"{name}: an unsigned POST gets 403 with its body unread "
           f"(300,000 announced, 1,000 sent; {st} in {took:.2f} s)")

    # The largest batch Pushpin makes fits: ~200,000 bytes of pings.
    n = 200000 // len(b'{"action":"ping"}')
    body = b"OPEN\r\n" + text_event(b'{"action":"ping"}') * n
    for name, url in SERVERS:
        st, out, _ = post(url + f"?userId={uid('batch')}", body, {},
                          timeout=30)
        ok(st == 200 and out.count(b'"type":"pong"') == n,
           f"{name}: a batch of {n} pings ({len(body):,} bytes) is served")
    sql("DELETE FROM connections WHERE user_id = :'p1'", uid("batch"))


def fcgi_record(kind, content, request_id=1):
    return struct.pack(">BBHHBx", 1, kind, request_id, len(content),
                       0) + content


def fcgi_params(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        for x in (k, v):
            out += bytes([len(x)]) if len(x) < 128 else \
                struct.pack(">I", len(x) | 0x80000000)
        out += k + v
    return out


async def test_worker_checks_before_reading():
    """Straight to parley-ws --listen (the FastCGI server behind nginx):
    the worker refuses an unsigned request, and one whose Content-Length
    is over its cap, without reading a byte of the body."""
    host, port = FCGI_ADDR.rsplit(":", 1)

    def ask(params):
        s = socket.create_connection((host, int(port)), timeout=5)
        try:
            started = time.monotonic()
            s.sendall(fcgi_record(1, struct.pack(">HB5x", 1, 0)) +
                      fcgi_record(4, fcgi_params(params)) +
                      fcgi_record(4, b""))  # no FCGI_STDIN at all
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            m = re.search(rb"Status: (\d+)", data)
            return (int(m.group(1)) if m else None,
                    time.monotonic() - started)
        except socket.timeout:
            return None, 5.0
        finally:
            s.close()
    base = {"REQUEST_METHOD": "POST", "QUERY_STRING": "userId=fcgi",
            "CONTENT_TYPE": "application/websocket-events",
            "HTTP_CONNECTION_ID": "fcgi-" + uuid.uuid4().hex}
    for length, signed, want, what in (
            (64 << 20, False, 403, "unsigned, 64 MiB announced"),
            (64 << 20, True, 413, "signed, 64 MiB announced"),
            (4 << 20, True, 413, "signed, 4 MiB announced")):
        p = dict(base, CONTENT_LENGTH=str(length))
        if signed:
            p["HTTP_GRIP_SIG"] = grip_sig()
        st, took = ask(p)
        ok(st == want and took < 2,
           f"worker, {what}, no body sent: {want} at once ({st} in "
           f"{took:.2f} s)")


# ---- 4. what the README says ------------------------------------------------

async def test_control_characters_get_the_workers_reason():
    for name, url in (("lighttpd", WS_URL), ("nginx", NGINX_WS_URL)):
        for esc in ("%00", "%01", "%1F", "%7F"):
            st, ctype, body = await handshake(url, f"userId=a{esc}b")
            eq((st, ctype, body.strip()),
               (400, "text/plain", "userId must be 1..128 printable ASCII "
                "characters without spaces"),
               f"{name}: userId=a{esc}b gets the one-line reason")


def walkthrough_lines():
    """The JSON lines of the README's "Try it with wscat" section."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("## Try it with wscat", 1)[1].split("\n## ", 1)[0]
    return section, re.findall(r"```json\n(.*?)\n```", section, re.S)


async def test_readme_walkthrough():
    section, blocks = walkthrough_lines()
    sends = [b for b in blocks if b.startswith('{"action":"sendMessage"')]
    ok(len(sends) >= 2, "the walkthrough has the guide's line and a second "
       "message", sends)
    ok('"duplicate":true' in section and "websocket-url.txt" in section,
       "  and says what pasting the line twice does, and how to use "
       "websocket-url.txt")
    if len(sends) < 2:
        return
    u1, u2 = uid("guide-1"), uid("guide-2")

    def ours(line):
        line = line.replace("test-user-1", u1).replace("test-user-2", u2)
        return re.sub(r'"messageId":"([^"]*)"',
                      lambda m: f'"messageId":"{uid(m.group(1))}"', line)
    a, b = await connect(u1), await connect(u2)
    first, second = ours(sends[0]), ours(sends[1])
    ack = await a.request(first, "ack")
    eq(ack["data"].get("duplicate"), False, "the guide's line: acked")
    await b.expect("message")
    ack = await a.request(first, "ack")
    eq(ack["data"].get("duplicate"), True,
       "pasted again: acked with \"duplicate\":true")
    eq([e["type"] for e in await b.quiet(1.0)], [],
       "  and nothing new reaches terminal 2")
    ack = await a.request(second, "ack")
    eq((ack["type"], ack["data"].get("duplicate")), ("ack", False),
       "the README's second message: acked")
    msg = await b.expect("message")
    ok(msg["data"]["messageId"] != uid("test-123"), "  and delivered")
    await a.close()
    await b.close()


if __name__ == "__main__":
    run(test_frame_budget_is_the_users, test_steady_stream_is_counted,
        test_connects_per_user,
        test_connects_per_address, test_worker_role, test_expire_role,
        test_installed_expiry_job, test_body_limits,
        test_worker_checks_before_reading,
        test_control_characters_get_the_workers_reason,
        test_readme_walkthrough)
