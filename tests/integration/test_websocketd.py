"""parley-websocketd under a real websocketd (README, "websocketd"), beside
Pushpin on the same database: the client protocol's rules that apply to
this bridge, and deliveries between the two bridges through NOTIFY
(publish_spec's postgres:).

Needs a stack started with PARLEY_WEBSOCKETD=1 (scripts/test's check pass):
its websocketd URL is PARLEY_STACK_WEBSOCKETD_URL in stack.env. The JWT
checks run a second websocketd of this test's own, on a free loopback
port, with the workers' settings and auth mode jwt (the stack's HS256
secret). Every wait is bounded."""
import asyncio
import json
import os
import socket
import subprocess
import time
import urllib.parse

import websockets

from parley_test import (BUILD, CLIENT_PING_INTERVAL, DB_URL,
                         REDELIVERY_INTERVAL, STACK, STATE, Client, connect,
                         eq, hs256, ids_of, ok, run, send_frame, sql,
                         sql_value, uid, JWT_ISSUER, JWT_SECRET)

WSD_URL = STACK.get("WEBSOCKETD_URL", "")
if not WSD_URL:
    print("1..0 # SKIP the stack runs no websocketd (PARLEY_WEBSOCKETD=1)")
    raise SystemExit(0)
CONF = os.path.join(STATE, "parley.conf")
PROGRAM = os.path.join(BUILD, "src", "parley-websocketd")
ADMIN = os.path.join(BUILD, "src", "parley-admin")
# The keep-alive timer: min(keepalive_interval, client_ping_interval).
TICK = min(CLIENT_PING_INTERVAL, 25)


async def wsd(user=None, query=None, url=None, headers=None):
    """A client of websocketd (as Client, the stack's Pushpin)."""
    q = query if query is not None else \
        "userId=" + urllib.parse.quote(user, safe="")
    ws = await websockets.connect(f"{url or WSD_URL}?{q}", open_timeout=10,
                                  max_size=2**24, extra_headers=headers)
    return Client(ws, user)


async def live(client):
    """Once its backlog is done and it listens (a ping is answered after
    the connect's work, and the LISTEN is made before): its row's id."""
    pong = await client.request({"action": "ping"}, "pong")
    eq(pong["type"], "pong", f"  {client.user}: ping answered")
    return client


def conn_ids(user):
    return [r[0] for r in sql("SELECT connection_id FROM connections WHERE "
                              "user_id = :'p1' ORDER BY connected_at, "
                              "connection_id", user)]


async def refused(query, url=None, headers=None):
    """(first event, closed) of a connect the process refuses."""
    c = await wsd(query=query, url=url, headers=headers)
    try:
        ev = await c.recv(5)
    except Exception as e:  # closed without a word
        return (repr(e), True)
    try:
        await asyncio.wait_for(c.ws.recv(), 5)
        closed = False
    except websockets.exceptions.ConnectionClosed:
        closed = True
    except asyncio.TimeoutError:
        closed = False
    return (ev, closed)


async def gone_within(query, args, seconds):
    """Polls sql_value until it answers '0'; the time it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if sql_value(query, *args) == "0":
            return time.monotonic() - t0
        await asyncio.sleep(0.1)
    return None


# ---- connect ---------------------------------------------------------------

async def test_connect():
    user = uid("wsd-conn")
    c = await live(await wsd(user))
    ids = conn_ids(user)
    eq(len(ids), 1, "a connection row for the websocketd connection")
    ok(ids and ids[0].startswith("wsd-") and len(ids[0]) == 36,
       "  its id is wsd- and 32 hex digits", ids)
    ack = await c.request(send_frame(user, uid("wsd-nobody"), uid("cv"),
                                     "hello"), "ack")
    eq((ack["type"], ack["data"].get("status")), ("ack", "sent"),
       "send -> ack after COMMIT")
    eq(sql_value("SELECT count(*) FROM messages WHERE message_id = :'p1'",
                 ack["data"]["messageId"]), "1", "  the message is stored")
    await c.close()


async def test_refused_connect():
    for query, code, status, what in (
            ("", "invalid_field", 400, "no userId"),
            ("userId=", "invalid_field", 400, "an empty userId"),
            ("userId=" + "x" * 129, "invalid_field", 400,
             "a userId of 129 bytes"),
            ("userId=a%20b", "invalid_field", 400, "a userId with a space")):
        ev, closed = await refused(query)
        ok(isinstance(ev, dict) and ev.get("type") == "error" and
           ev["data"].get("code") == code and
           ev["data"].get("status") == status and
           ev["data"].get("action") == "connect" and
           ev["data"].get("message"),
           f"{what}: an error event ({code}, status {status}) with a "
           "reason", ev)
        ok(closed, f"  then the connection is closed")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id IN "
                 "('', 'a b')"), "0", "no row for a refused connect")


def worker_url():
    """The stack's database URL for the workers' login (parley.conf's)."""
    u = urllib.parse.urlsplit(DB_URL)
    host = u.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(u._replace(netloc="parley_ws@" + host))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_jwt():
    """A websocketd of its own in auth mode jwt (the stack's secret)."""
    if not ok(bool(JWT_SECRET), "the stack has a JWT secret"):
        return
    port = free_port()
    env = dict(PATH=os.environ.get("PATH", "/usr/bin:/bin"),
               PARLEY_AUTH_MODE="jwt", PARLEY_JWT_SECRET=JWT_SECRET,
               PARLEY_JWT_ISSUER=JWT_ISSUER or "",
               PARLEY_DATABASE_URL=worker_url(),
               # directly, as the stack's websocketd: its LISTEN needs a
               # session (the settings may name a pooler's transaction
               # mode)
               PARLEY_DATABASE_POOL_MODE="session")
    log = open(os.path.join(STATE, "log", "websocketd-jwt.log"), "ab")
    p = subprocess.Popen(
        ["websocketd", "--port", str(port), "--address", "127.0.0.1",
         "--loglevel", "error", "--passenv",
         ",".join(sorted(env)), PROGRAM, "--config", CONF],
        env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    url = f"ws://127.0.0.1:{port}/ws"
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        user = uid("wsd-jwt")
        now = int(time.time())
        good = hs256(JWT_SECRET, {"sub": user, "iss": JWT_ISSUER,
                                  "exp": now + 300})
        c = await live(await wsd(user, query="token=" + good, url=url))
        eq(len(conn_ids(user)), 1, "jwt: a good token connects")
        await c.close()
        user2 = uid("wsd-jwt2")
        bearer = hs256(JWT_SECRET, {"sub": user2, "iss": JWT_ISSUER,
                                    "exp": now + 300})
        c = await live(await wsd(user2, query="", url=url,
                                 headers={"Authorization": "Bearer " + bearer}))
        eq(len(conn_ids(user2)), 1,
           "jwt: Authorization: Bearer connects (HTTP_AUTHORIZATION)")
        await c.close()
        for token, what in (
                (hs256("wrong-secret", {"sub": user, "iss": JWT_ISSUER,
                                        "exp": now + 300}), "a wrong signature"),
                (hs256(JWT_SECRET, {"sub": user, "iss": JWT_ISSUER,
                                    "exp": now - 3600}), "an expired token"),
                ("not.a.token", "a malformed token")):
            ev, closed = await refused("token=" + token, url=url)
            ok(isinstance(ev, dict) and ev["data"].get("code") == "forbidden"
               and ev["data"].get("status") == 401 and closed,
               f"jwt: {what}: forbidden (status 401), closed", ev)
        ev, closed = await refused(f"userId={user}", url=url)
        ok(isinstance(ev, dict) and ev["data"].get("status") == 401 and closed,
           "jwt: a userId parameter: 401, closed", ev)
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        log.close()


# ---- delivery --------------------------------------------------------------

async def test_delivery_between_bridges():
    a, b, c = uid("wsd-a"), uid("wsd-b"), uid("pp-c")
    conv = uid("cv")
    ca = await live(await wsd(a))
    ca2 = await live(await wsd(a))     # a's second device
    cb = await live(await wsd(b))
    cc = await live(await connect(c))  # through Pushpin
    await cc.request({"action": "ping"}, "pong")

    ack = await ca.request(send_frame(a, b, conv, "w to w"), "ack")
    mid = ack["data"]["messageId"]
    got = await cb.expect("message")
    eq((got["data"]["messageId"], got["data"]["content"]), (mid, "w to w"),
       "websocketd -> websocketd user")
    got = await ca2.expect("message")
    eq(got["data"]["messageId"], mid,
       "  the sender's other websocketd connection gets it too")
    eq([e for e in await ca.quiet(0.7) if e["type"] == "message"], [],
       "  the sending connection does not (skip_conn)")

    ack = await ca.request(send_frame(a, c, conv, "w to p"), "ack")
    got = await cc.expect("message")
    eq((got["data"]["messageId"], got["data"]["content"]),
       (ack["data"]["messageId"], "w to p"), "websocketd -> Pushpin user")

    ack = await cc.request(send_frame(c, b, conv, "p to w"), "ack")
    got = await cb.expect("message")
    eq((got["data"]["messageId"], got["data"]["content"]),
       (ack["data"]["messageId"], "p to w"), "Pushpin -> websocketd user")

    # typing, both ways
    await ca.send({"action": "typing", "recipientId": c,
                   "conversationId": conv})
    t = await cc.expect("typing")
    eq((t["data"]["senderId"], t["data"]["isTyping"]), (a, True),
       "typing websocketd -> Pushpin")
    await cc.send({"action": "typing", "recipientId": b,
                   "conversationId": conv, "isTyping": False})
    t = await cb.expect("typing")
    eq((t["data"]["senderId"], t["data"]["isTyping"]), (c, False),
       "typing Pushpin -> websocketd")
    for x in (ca, ca2, cb, cc):
        await x.close()


async def test_receipts_and_history():
    a, b = uid("wsd-ra"), uid("wsd-rb")
    conv = uid("cv")
    ca = await live(await wsd(a))
    cb = await live(await wsd(b))
    ack = await ca.request(send_frame(a, b, conv, "receipt me"), "ack")
    mid = ack["data"]["messageId"]
    await cb.expect("message")
    r = await cb.request({"action": "ack", "messageIds": [mid]}, "ack")
    eq(r["data"].get("messageIds"), [mid], "the recipient's ack is applied")
    st = await ca.expect("status")
    eq((st["data"]["messageId"], st["data"]["status"]), (mid, "delivered"),
       "  the sender gets status delivered")
    await cb.request({"action": "markRead", "messageIds": [mid]}, "ack")
    st = await ca.expect("status")
    eq(st["data"]["status"], "read", "markRead: the sender gets status read")
    h = await ca.request({"action": "getMessages", "conversationId": conv},
                         "messages")
    eq(([m["messageId"] for m in h["data"]["messages"]],
        h["data"]["messages"][0]["status"] if h["data"]["messages"] else None,
        h["data"]["hasMore"]), ([mid], "read", False),
       "getMessages: the history with its status")
    await ca.close()
    await cb.close()


async def test_redelivery_and_backlog():
    a, b = uid("wsd-da"), uid("wsd-db")
    conv = uid("cv")
    ca = await live(await wsd(a))
    # backlog: b is offline
    m0 = (await ca.request(send_frame(a, b, conv, "offline"), "ack"))["data"]["messageId"]
    cb = await wsd(b)
    got = await cb.expect("message")
    eq(got["data"]["messageId"], m0, "backlog: delivered on connect")
    await cb.request({"action": "ack", "messageIds": [m0]}, "ack")
    await live(cb)
    m1 = (await ca.request(send_frame(a, b, conv, "acked"), "ack"))["data"]["messageId"]
    m2 = (await ca.request(send_frame(a, b, conv, "unacked"), "ack"))["data"]["messageId"]
    first = await cb.expect("message")
    second = await cb.expect("message")
    eq([first["data"]["messageId"], second["data"]["messageId"]], [m1, m2],
       "live, in send order")
    await cb.request({"action": "ack", "messageIds": [m1]}, "ack")
    # The sweep runs on the keep-alive timer once the interval has passed.
    wait = 2 * REDELIVERY_INTERVAL + TICK + 3
    again = await cb.quiet(wait)
    ids = ids_of(again)
    ok(m2 in ids, f"the unacked message is delivered again within {wait} s",
       ids)
    ok(m1 not in ids and m0 not in ids, "  the acked ones are not", ids)
    await cb.request({"action": "ack", "messageIds": [m2]}, "ack")
    await cb.close()
    # reconnect: nothing left
    cb = await wsd(b)
    await live(cb)
    eq(ids_of(await cb.quiet(1.0)), [],
       "a reconnect after acking everything: no backlog")
    m3 = (await ca.request(send_frame(a, b, conv, "later"), "ack"))["data"]["messageId"]
    await cb.expect("message")
    await cb.close()
    cb = await wsd(b)
    eq(ids_of([await cb.expect("message")]), [m3],
       "an unacked message comes again on the next connect")
    await cb.close()
    await ca.close()


async def test_group():
    a, b, c = uid("wsd-ga"), uid("wsd-gb"), uid("pp-gc")
    ca = await live(await wsd(a))
    cb = await live(await wsd(b))
    cc = await live(await connect(c))
    g = await ca.request({"action": "createGroup", "title": "both",
                          "members": [b, c]}, "ack")
    conv = g["data"].get("conversationId")
    ok(conv, "createGroup from a websocketd connection", g)
    for x, who in ((cb, "websocketd"), (cc, "Pushpin")):
        ev = await x.expect("group")
        eq((ev["data"]["conversationId"], ev["data"]["change"]),
           (conv, "created"), f"  the {who} member gets the group event")
    ack = await ca.request({"action": "sendMessage", "conversationId": conv,
                            "content": "to the group"}, "ack")
    mid = ack["data"]["messageId"]
    for x, who in ((cb, "websocketd"), (cc, "Pushpin")):
        ev = await x.expect("message")
        eq(ev["data"]["messageId"], mid,
           f"group message reaches the {who} member")
    await cc.request({"action": "ack", "messageIds": [mid]}, "ack")
    st = await ca.expect("status")
    eq((st["data"]["status"], st["data"].get("userId")), ("delivered", c),
       "  a member's receipt reaches the websocketd sender")
    for x in (ca, cb, cc):
        await x.close()


async def test_big_message():
    """60 KB over NOTIFY (several payloads, notify.h), both ways."""
    a, b, c = uid("wsd-ba"), uid("wsd-bb"), uid("pp-bc")
    conv = uid("cv")
    ca = await live(await wsd(a))
    cb = await live(await wsd(b))
    cc = await live(await connect(c))
    text = ("é€ \"quoted\" \\ " * 4000)[:60000]
    while len(text.encode()) > 60000:
        text = text[:-1]
    for src, dst, what in ((ca, cb, "websocketd -> websocketd"),
                           (cc, cb, "Pushpin -> websocketd"),
                           (ca, cc, "websocketd -> Pushpin")):
        ack = await src.request(send_frame(src.user, dst.user, conv, text),
                                "ack", timeout=10)
        eq(ack["type"], "ack", f"{what}: 60 KB acked")
        got = await dst.expect("message", timeout=10)
        eq((got["data"]["messageId"], got["data"]["content"] == text),
           (ack["data"]["messageId"], True), f"  delivered whole")
    for x in (ca, cb, cc):
        await x.close()


# ---- input -----------------------------------------------------------------

async def test_bad_input():
    a = uid("wsd-bad")
    ca = await live(await wsd(a))
    e = await ca.request("this is not json", "error")
    eq((e["type"], e["data"]["code"]), ("error", "invalid_json"),
       "a line that is not JSON: invalid_json")
    pretty = json.dumps(send_frame(a, uid("wsd-x"), uid("cv"), "multi"),
                        indent=1)
    await ca.send(pretty)
    errs = []
    for _ in range(pretty.count("\n") + 1):
        errs.append(await ca.expect(lambda e: e["type"] in ("error", "ack"),
                                    timeout=5))
    ok(all(e["type"] == "error" and e["data"]["code"] == "invalid_json"
           for e in errs),
       f"pretty-printed JSON arrives as {len(errs)} lines: each invalid_json",
       errs)
    e = await ca.request({"action": "nope"}, "error")
    eq(e["data"]["code"], "unknown_action", "an unknown action")
    e = await ca.request("x" * 262145, "error", timeout=10)
    eq(e["data"]["code"], "too_large", "a line over max_frame_bytes")
    await live(ca)
    eq(sql_value("SELECT count(*) FROM messages WHERE sender_id = :'p1'", a),
       "0", "  nothing stored")
    await ca.close()


# ---- the end of a connection -----------------------------------------------

async def test_client_close():
    a = uid("wsd-close")
    ca = await live(await wsd(a))
    eq(len(conn_ids(a)), 1, "connected: one row")
    # Pushpin does not hold it, and the expiry job does not ask it.
    p = await asyncio.create_subprocess_exec(
        os.path.join(BUILD, "src", "parley-expire"), "--config",
        os.path.join(STATE, "parley-expire.conf"), "--reconcile",
        "--grace", "0", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(p.communicate(), 30)
    ok(p.returncode == 0, "parley-expire --reconcile exits 0", err.decode())
    eq(len(conn_ids(a)), 1, "  and keeps the live websocketd row")
    await ca.close()
    took = await gone_within("SELECT count(*) FROM connections WHERE "
                             "user_id = :'p1'", (a,), 5)
    ok(took is not None, f"the client closes: its row is gone within 5 s "
       f"({took and round(took, 2)} s)")


async def test_admin_disconnect():
    a = uid("wsd-adm")
    c1 = await live(await wsd(a))
    c2 = await live(await wsd(a))
    ids = conn_ids(a)
    eq(len(ids), 2, "two websocketd connections of one user")
    # The stack's owner login: parley-admin's SQL is its role's subset.
    env = dict(os.environ, PARLEY_DATABASE_URL=DB_URL)
    p = await asyncio.create_subprocess_exec(
        ADMIN, "--config", CONF, "--json", "disconnect", ids[0], env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 30)
    ok(p.returncode == 0, "parley-admin disconnect of a websocketd "
       "connection exits 0", err.decode())
    try:
        doc = json.loads(out or b"{}")
    except ValueError:
        doc = {}
    eq((doc.get("closed"), doc.get("user_id")), (True, a),
       "  it says closed, and names the user")
    # ids[0] is c1's: the rows are ordered by connected_at.
    try:
        await asyncio.wait_for(c1.ws.wait_closed(), 5)
        closed = True
    except asyncio.TimeoutError:
        closed = False
    ok(closed, "  the client's socket is closed")
    eq(conn_ids(a), ids[1:], "  its row is gone, the other stays")
    pong = await c2.request({"action": "ping"}, "pong")
    eq(pong["type"], "pong", "  the user's other connection still works")
    await c2.close()


run(test_connect, test_refused_connect, test_jwt,
    test_delivery_between_bridges, test_receipts_and_history,
    test_redelivery_and_backlog, test_group, test_big_message,
    test_bad_input, test_client_close, test_admin_disconnect)
