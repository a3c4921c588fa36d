"""The HTTP send API (PROTOCOL section 7; README, "HTTP send API"):
POST /api/messages with an API key, through Pushpin to the real workers,
with real WebSocket clients on the receiving end."""
import asyncio
import concurrent.futures
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import parley_test
from parley_test import (ROOT, STATE, WS_URL, connect, eq, ok, run, sql_value,
                         uid)
import uuid

HTTP = "http" + WS_URL[len("ws"):].rsplit("/", 1)[0]  # http://host:port
KEYS = os.path.join(STATE, "api-keys")


def fresh(name):
    """An id of this run that no other call of the test has."""
    return uid(f"{name}-{uuid.uuid4().hex[:8]}")


def first_key():
    with open(KEYS) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith("#")][0]


def post(body, key=None, path="/api/messages", auth=None, method="POST"):
    """(status, headers, parsed JSON body or text) through Pushpin."""
    data = body if isinstance(body, bytes) or body is None else (
        body.encode() if isinstance(body, str) else json.dumps(body).encode())
    req = urllib.request.Request(HTTP + path, data=data, method=method)
    if auth is not None:
        req.add_header("Authorization", auth)
    elif key is not None:
        req.add_header("Authorization", "Bearer " + key)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, headers, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw.decode(errors="replace")


def msg(sender, recipient, conv, content="hello", **extra):
    m = {"senderId": sender, "recipientId": recipient,
         "conversationId": conv, "content": content}
    m.update(extra)
    return m


async def test_keys():
    a, b = fresh("api-a"), fresh("api-b")
    body = msg(a, b, fresh("c"))
    status, headers, data = post(body)
    eq(status, 401, "no Authorization: 401")
    eq(data.get("code") if isinstance(data, dict) else data, "unauthorized",
       "  with code unauthorized")
    ok((headers.get("WWW-Authenticate") or "").startswith("Bearer"),
       "  and a WWW-Authenticate: Bearer header")
    eq(post(body, key="not-a-key-0123456789abcdef")[0], 401,
       "a wrong key: 401")
    key = first_key()
    eq(post(body, key=key[:-1])[0], 401, "the key but its last character: 401")
    eq(post(body, key=key + "0")[0], 401, "the key and one more: 401")
    eq(post(body, auth="Basic " + key)[0], 401, "another scheme: 401")
    eq(sql_value("SELECT count(*) FROM messages WHERE sender_id = :'p1'", a), "0",
       "nothing stored from refused calls")


async def test_send():
    key = first_key()
    a, b, conv = fresh("api-a"), fresh("api-b"), fresh("c")
    rb = await connect(b)
    ra = await connect(a)  # the sender's own device gets a copy
    try:
        await asyncio.sleep(0.3)
        mid = fresh("m")
        status, headers, data = post(msg(a, b, conv, "from a backend",
                                         messageId=mid), key=key)
        eq(status, 200, "a send: 200")
        eq(headers.get("Content-Type"), "application/json", "  JSON")
        eq((data.get("action"), data.get("messageId"), data.get("status"),
            data.get("duplicate")), ("sendMessage", mid, "sent", False),
           "  the ack's data")
        ok(isinstance(data.get("timestamp"), str) and
           data["timestamp"].endswith("Z"), "  with the receive time")
        ev = await rb.expect(lambda e: e["type"] == "message" and
                             e["data"]["messageId"] == mid, 5)
        eq((ev["data"]["senderId"], ev["data"]["recipientId"],
            ev["data"]["content"]), (a, b, "from a backend"),
           "the recipient's device gets the message")
        ev = await ra.expect(lambda e: e["type"] == "message" and
                             e["data"]["messageId"] == mid, 5)
        ok(ev is not None, "the sender's device gets a copy")
        status, _, data = post(msg(a, b, conv, "from a backend",
                                   messageId=mid), key=key)
        eq((status, data.get("duplicate")), (200, True),
           "the same messageId again: 200, duplicate")
        again = [e for e in await rb.quiet(1.0) if e["type"] == "message"
                 and e["data"]["messageId"] == mid]
        eq(again, [], "  and not delivered again")
        await rb.send({"action": "ack", "messageIds": [mid]})
        st = await ra.expect(lambda e: e["type"] == "status" and
                             e["data"]["messageId"] == mid, 5)
        eq(st["data"]["status"], "delivered",
           "the recipient's ack reaches the sender's device as a receipt")
        eq(sql_value("SELECT status FROM messages WHERE message_id = :'p1'",
                     mid), "delivered", "  and the row says delivered")
        status, _, data = post({"senderId": a, "recipientId": b,
                                "conversationId": conv, "content": "no id",
                                "action": "sendMessage"}, key=key)
        ok(status == 200 and len(data.get("messageId", "")) == 36,
           "action given, no messageId: the server makes one", data)
    finally:
        await rb.close()
        await ra.close()


async def test_offline_then_backlog():
    key = first_key()
    a, b, conv, mid = fresh("api-a"), fresh("api-b"), fresh("c"), fresh("m")
    eq(post(msg(a, b, conv, "while away", messageId=mid), key=key)[0], 200,
       "a send to a user with no connection: 200")
    rb = await connect(b)
    try:
        ev = await rb.expect(lambda e: e["type"] == "message" and
                             e["data"]["messageId"] == mid, 10)
        eq(ev["data"]["content"], "while away",
           "it arrives with the backlog when they connect")
    finally:
        await rb.close()


async def test_bad_input():
    key = first_key()
    a, b, conv = fresh("api-a"), fresh("api-b"), fresh("c")
    cases = [
        ("not JSON", b"{nope", 400, "invalid_json"),
        ("a JSON array", b"[1]", 400, "invalid_json"),
        ("an empty body", b"", 400, "invalid_json"),
        ("another action", {"action": "ack", "senderId": a,
                            "messageIds": ["x"]}, 400, "invalid_field"),
        ("no senderId", {"recipientId": b, "conversationId": conv,
                         "content": "x"}, 400, "missing_field"),
        ("senderId null", msg(None, b, conv), 400, "missing_field"),
        ("senderId a number", msg(7, b, conv), 400, "invalid_field"),
        ("senderId empty", msg("", b, conv), 400, "invalid_field"),
        ("no recipientId", {"senderId": a, "conversationId": conv,
                            "content": "x"}, 400, "missing_field"),
        ("no content", {"senderId": a, "recipientId": b,
                        "conversationId": conv}, 400, "missing_field"),
        ("content too large", msg(a, b, conv, "x" * 70000), 413, "too_large"),
    ]
    for name, body, want_status, want_code in cases:
        status, _, data = post(body, key=key)
        eq((status, data.get("code") if isinstance(data, dict) else data),
           (want_status, want_code), f"{name}: {want_status} {want_code}")
    eq(sql_value("SELECT count(*) FROM messages WHERE sender_id = :'p1'", a), "0",
       "nothing stored from bad calls")
    mid = fresh("m")
    eq(post(msg(a, b, conv, messageId=mid), key=key)[0], 200, "a first send")
    status, _, data = post(msg(fresh("api-x"), b, conv, messageId=mid), key=key)
    eq((status, data.get("code"), data.get("messageId")),
       (409, "conflict", mid), "its messageId from another sender: 409")
    status, headers, _ = post(None, key=key, method="GET")
    eq((status, headers.get("Allow")), (405, "POST"), "GET: 405, Allow POST")
    eq(post(msg(a, b, conv), key=key, path="/api/nothing")[0], 404,
       "another path under /api/: 404")


async def test_group():
    key = first_key()
    owner, member, outsider = fresh("g-own"), fresh("g-mem"), fresh("g-out")
    ro = await connect(owner)
    rm = await connect(member)
    try:
        ans = await ro.request({"action": "createGroup", "title": "api",
                                "members": [member]}, "ack")
        gid = ans["data"].get("conversationId")
        ok(gid, "a group", ans)
        status, _, data = post({"senderId": outsider, "conversationId": gid,
                                "content": "let me in"}, key=key)
        eq((status, data.get("code")), (403, "forbidden"),
           "a non-member sending to a group: 403")
        mid = fresh("m")
        status, _, data = post({"senderId": owner, "conversationId": gid,
                                "content": "to all", "messageId": mid},
                               key=key)
        eq(status, 200, "a member sending to the group: 200")
        ev = await rm.expect(lambda e: e["type"] == "message" and
                             e["data"]["messageId"] == mid, 5)
        eq(ev["data"]["recipientId"], None,
           "the other member gets the group message")
    finally:
        await ro.close()
        await rm.close()


async def test_rate_limit():
    """The sender's frame budget is the one their WebSocket sends use: a
    burst over it is refused with 429, and nothing refused is stored."""
    key = first_key()
    a, b, conv = fresh("api-rate"), fresh("api-b"), fresh("c")
    burst = int(parley_test.SETTINGS.get("rate_burst", "100"))
    n = burst + 40
    ids = [fresh("m") for _ in range(n)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda m: post(msg(a, b, conv, messageId=m), key=key), ids))
    codes = [r[0] for r in results]
    refused = [i for i, r in zip(ids, results) if r[0] == 429]
    ok(codes.count(429) > 0 and set(codes) <= {200, 429},
       f"{n} sends at once (burst {burst}): some 429, the rest 200",
       {c: codes.count(c) for c in set(codes)})
    ok(all(r[2].get("code") == "rate_limited" for r in results
           if r[0] == 429), "  each 429 says rate_limited")
    eq(sql_value("SELECT count(*) FROM messages "
                 "WHERE message_id = ANY(:'p1'::text[])",
                 "{" + ",".join(refused) + "}"), "0",
       "  and no refused one was stored")
    eq(sql_value("SELECT count(*) FROM messages WHERE sender_id = :'p1'", a),
       str(codes.count(200)), "  every 200 was")


def stackctl(action):
    r = subprocess.run([os.path.join(ROOT, "scripts", "stackctl"), STATE,
                        action], capture_output=True, text=True, timeout=90)
    if r.returncode != 0:
        raise RuntimeError(f"stackctl {action}: {r.stdout}{r.stderr}")


async def test_database_down():
    key = first_key()
    a, b, conv, mid = fresh("api-a"), fresh("api-b"), fresh("c"), fresh("m")
    stackctl("pg-stop")
    try:
        status, headers, data = post(msg(a, b, conv, messageId=mid), key=key)
        eq((status, data.get("code") if isinstance(data, dict) else data),
           (503, "unavailable"), "the database down: 503 unavailable")
    finally:
        stackctl("pg-start")
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status, _, data = post(msg(a, b, conv, messageId=mid), key=key)
        if status != 503:
            break
        await asyncio.sleep(0.5)
    eq((status, data.get("duplicate")), (200, False),
       "the same call once it is back: stored now, not a duplicate")


async def test_new_key_and_nginx():
    """A key appended to the file works without a restart (the workers
    re-read it), through lighttpd and through nginx."""
    new = os.urandom(24).hex()
    with open(KEYS, "a") as f:
        f.write(f"# test_api {time.time()}\n{new}\n")
    a, b, conv = fresh("api-a"), fresh("api-b"), fresh("c")
    deadline = time.monotonic() + 10
    status = None
    while time.monotonic() < deadline:
        status = post(msg(a, b, conv), key=new)[0]
        if status == 200:
            break
        await asyncio.sleep(0.5)
    eq(status, 200, "a key appended to api_keys_file is accepted")
    if not parley_test.STACK.get("NGINX_WS_URL"):
        ok(False, "nginx: the test stack has an nginx")
        return
    status, _, data = post(msg(a, b, conv), key=new, path="/nginx/api/messages")
    eq(status, 200, "under nginx too")
    eq(post(msg(a, b, conv), path="/nginx/api/messages")[0], 401,
       "  and without a key there, 401")


run(test_keys, test_send, test_offline_then_backlog, test_bad_input,
    test_group, test_rate_limit, test_database_down, test_new_key_and_nginx)
