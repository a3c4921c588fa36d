"""Shared helpers for Parley's integration tests.

Each test file is a TAP producer run by `make check` (through automake's
tap-driver) with Debian's /usr/bin/python3 and python3-websockets. The
tests talk to a real stack (Pushpin -> lighttpd -> parley-ws ->
PostgreSQL) that scripts/test starts with scripts/lib.sh. They read what
they need from the stack's state directory, named by PARLEY_TEST_STATE
(absolute, or from the current directory):

  STATE/stack.env    PARLEY_STACK_* lines (scripts/lib.sh): WS_URL,
                     DATABASE_URL, BACKEND_URL (the server in front of the
                     workers), BUILD_DIR (whose src/parley-expire the tests
                     run), NODES and, for node 2 (PARLEY_NODES=2),
                     WS_URL_2, PUSH_PORT_2, STATE_2...; from
                     tests/stack/stack.env.in: JWT_WS_URL, JWT_SECRET,
                     JWT_ISSUER, NGINX_WS_URL
  STATE/parley.conf  the workers' settings (redelivery_interval,
                     connection_ttl, client_ping_interval)
  STATE/sig_key      Pushpin's Grip-Sig key

Without PARLEY_TEST_STATE every file skips itself (make check outside
scripts/test); scripts/test fails when anything was skipped.
Every wait is bounded: a receive waits at most a few seconds.
"""
import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
import urllib.parse
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STATE = os.environ.get("PARLEY_TEST_STATE")        # the stack's state dir
if not STATE or not os.path.isfile(os.path.join(STATE, "stack.env")):
    print("1..0 # SKIP PARLEY_TEST_STATE names no stack's state dir "
          "(scripts/test runs these)")
    sys.exit(0)
STATE = os.path.abspath(STATE)


def _read(name, parse):
    """{name: value} of the lines of STATE/name that parse(line) splits
    into a pair (a later line wins)."""
    out = {}
    with open(os.path.join(STATE, name)) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, v = parse(line).partition("=")
                out[k.strip()] = v.strip()
    return out


# PARLEY_STACK_NAME=VALUE lines, values quoted for the shell.
STACK = {k[len("PARLEY_STACK_"):]: v for k, v in
         _read("stack.env", lambda line: shlex.split(line)[0]).items()}
# The workers' "name = value" settings, and what the tests wait for (the
# workers' defaults when the file does not say).
SETTINGS = _read("parley.conf", lambda line: line)
REDELIVERY_INTERVAL = int(SETTINGS.get("redelivery_interval", "30"))
CONNECTION_TTL = int(SETTINGS.get("connection_ttl", "86400"))
CLIENT_PING_INTERVAL = int(SETTINGS.get("client_ping_interval", "60"))
with open(os.path.join(STATE, "sig_key")) as _f:
    SIG_KEY = _f.read().strip()                    # Pushpin's sig_key

WS_URL = STACK["WS_URL"]
DB_URL = STACK["DATABASE_URL"]
BACKEND_URL = STACK["BACKEND_URL"]   # lighttpd (or nginx) at /ws, directly
JWT_URL = STACK.get("JWT_WS_URL")    # the workers in auth mode jwt
JWT_SECRET = STACK.get("JWT_SECRET")
JWT_ISSUER = STACK.get("JWT_ISSUER")
# The build whose programs the tests run (src/parley-expire): the checkout,
# or scripts/test's sanitizer build (build-asan).
BUILD = STACK.get("BUILD_DIR", ROOT)

import websockets  # noqa: E402  (Debian's python3-websockets)

RUN = uuid.uuid4().hex[:8]  # keeps users of concurrent runs apart


def uid(name):
    """A user or conversation id unique to this run."""
    return f"{name}-{RUN}"


# ---- TAP -------------------------------------------------------------------

_count = 0
_failed = 0


def ok(cond, name, diag=None):
    global _count, _failed
    _count += 1
    if cond:
        print(f"ok {_count} - {name}")
    else:
        _failed += 1
        print(f"not ok {_count} - {name}")
        if diag is not None:
            text = str(diag)
            if len(text) > 1500:
                text = text[:1500] + f"... ({len(text)} characters)"
            for line in text.splitlines():
                print(f"#   {line}")
    sys.stdout.flush()
    return cond


def eq(got, want, name):
    return ok(got == want, name, f"got:  {got!r}\nwant: {want!r}")


def diag(msg):
    print(f"# {msg}")
    sys.stdout.flush()


def run(*tests, timeout=120):
    """Runs async test functions in order, each for at most `timeout`
    seconds; an exception is a failure."""
    for t in tests:
        diag(t.__name__)
        try:
            asyncio.run(asyncio.wait_for(t(), timeout=timeout))
        except Exception:  # a crash fails the test, the rest still run
            ok(False, f"{t.__name__} completed", traceback.format_exc())
    print(f"1..{_count}")
    sys.exit(1 if _failed else 0)


# ---- database ----------------------------------------------------------------

def sql(query, *args):
    """Runs one query with psql; returns rows as lists of strings.
    Arguments are passed as psql variables and quoted by psql itself."""
    cmd = ["psql", DB_URL, "-AtX", "-q", "-v", "ON_ERROR_STOP=1",
           "-F", "\x1f"]
    for i, a in enumerate(args, 1):
        cmd += ["-v", f"p{i}={a}"]
    out = subprocess.run(cmd, input=query, capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr}")
    return [line.split("\x1f") for line in out.stdout.splitlines()]


def sql_value(query, *args):
    rows = sql(query, *args)
    return rows[0][0] if rows else None


async def poll_value(want, query, *args, tries=50, pause=0.1):
    """sql_value until it equals want (what a worker does after a close
    happens asynchronously); returns the last value seen."""
    got = None
    for _ in range(tries):
        got = sql_value(query, *args)
        if got == want:
            break
        await asyncio.sleep(pause)
    return got


# ---- WebSocket client --------------------------------------------------------

class Client:
    """A WebSocket connection that keeps what it received, so a test can
    wait for a given event while others (redeliveries, receipts) pass by."""

    def __init__(self, ws, user):
        self.ws = ws
        self.user = user
        self.seen = []  # every event received, in order

    @classmethod
    async def connect(cls, user, query=None):
        q = query if query is not None else "userId=" + urllib.parse.quote(user, safe="")
        ws = await websockets.connect(f"{WS_URL}?{q}", open_timeout=10,
                                      max_size=2**24)
        return cls(ws, user)

    async def send(self, obj):
        # Raw UTF-8 like most clients (ensure_ascii would make \u escapes).
        await self.ws.send(obj if isinstance(obj, (str, bytes))
                           else json.dumps(obj, ensure_ascii=False))

    async def recv(self, timeout=5.0):
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        ev = json.loads(raw)
        self.seen.append(ev)
        return ev

    async def expect(self, pred, timeout=5.0):
        """The next event matching pred (a type name or a function)."""
        if isinstance(pred, str):
            t = pred
            pred = lambda e: e.get("type") == t  # noqa: E731
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching event")
            ev = await self.recv(left)
            if pred(ev):
                return ev

    async def request(self, obj, type_, timeout=5.0):
        """Sends and returns the first answer of type_ or error."""
        await self.send(obj)
        return await self.expect(lambda e: e.get("type") in (type_, "error"),
                                 timeout)

    async def quiet(self, seconds=0.5):
        """Events that arrive within `seconds` (to check nothing comes)."""
        got = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            try:
                got.append(await self.recv(left))
            except asyncio.TimeoutError:
                return got

    async def close(self):
        await self.ws.close()


async def connect(user, query=None):
    return await Client.connect(user, query)


def ids_of(events, type_="message"):
    """The messageIds of the events of type_, in order."""
    return [e["data"]["messageId"] for e in events if e["type"] == type_]


async def collect(client, type_, n, timeout=10.0):
    """The next n events of type_ (others are kept in client.seen)."""
    got = []
    while len(got) < n:
        got.append(await client.expect(type_, timeout))
    return got


async def handshake_status(query):
    """The HTTP status of a refused handshake (None when it succeeds)."""
    try:
        ws = await websockets.connect(f"{WS_URL}?{query}" if query is not None
                                      else WS_URL, open_timeout=10)
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    await ws.close()
    return None


def send_frame(sender, recipient, conv, content, message_id=None, **extra):
    f = {"action": "sendMessage", "conversationId": conv,
         "recipientId": recipient, "content": content}
    if message_id is not None:
        f["messageId"] = message_id
    f.update(extra)
    return f


# ---- tokens ------------------------------------------------------------------

def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(secret, claims, header=None):
    """A compact JWS (HS256) over claims, signed with secret."""
    import hashlib
    import hmac
    h = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    p = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256)
    return f"{h}.{p}.{b64url(mac.digest())}"


def grip_sig(key=None, exp_in=3600):
    """A Grip-Sig header value as Pushpin makes it."""
    return hs256(key or SIG_KEY, {"iss": "pushpin",
                                  "exp": int(time.time()) + exp_in})
