"""Several nodes (README, "Several nodes"): the stack's two Pushpin
instances, each routing to its own lighttpd and workers, over one
PostgreSQL, every worker publishing to both (publish_spec lists them).
Users on different instances exchange messages, receipts, typing and a
group message; a user with a device on each instance gets everything on
both, once; parley-admin disconnect closes a connection on the second
instance; parley-expire --reconcile keeps the rows of connections on
either instance and drops the others'. Then the second instance is
killed: /healthz says "degraded", its users reconnect to the first one
(the test reconnects them) and get their backlog, nothing acked is lost,
and a reconcile deletes nothing while it cannot ask that instance (exit
75); once it is back, the reconcile drops its dead connections' rows and
publishes reach it again.

Needs a stack of two nodes (scripts/test starts its stacks with
PARLEY_NODES=2): with one, this file fails rather than skips."""
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import parley_test
from parley_test import (BUILD, STACK, STATE, WS_URL, Client, eq, ids_of, ok,
                         run, send_frame, sql, sql_value, uid)

NODES = int(STACK.get("NODES", "1"))
URL2 = STACK.get("WS_URL_2")
if NODES < 2 or not URL2:
    ok(False, "the stack has a second node (PARLEY_NODES=2: "
       f"PARLEY_STACK_NODES is {NODES}, WS_URL_2 {URL2!r})")
    print("1..1")
    sys.exit(1)

STATE2 = STACK.get("STATE_2", os.path.join(STATE, "node2"))
PUSH2 = f"tcp://127.0.0.1:{STACK['PUSH_PORT_2']}"
EXPIRE_CONF = os.path.join(STATE, "parley-expire.conf")
CONF = os.path.join(STATE, "parley.conf")


def http_of(ws_url):
    return "http" + ws_url[len("ws"):].rsplit("/", 1)[0]  # http://host:port


def healthz(ws_url):
    """(status, body) of GET /healthz through that node's Pushpin."""
    try:
        with urllib.request.urlopen(http_of(ws_url) + "/healthz",
                                    timeout=10) as r:
            return r.status, r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode().strip()


async def on(url, user):
    """A connection of user through the Pushpin at url whose
    subscription is in place (one answered frame)."""
    q = "userId=" + urllib.parse.quote(user, safe="")
    import websockets
    ws = await websockets.connect(f"{url}?{q}", open_timeout=10,
                                  max_size=2**24)
    c = Client(ws, user)
    r = await c.request({"action": "ping"}, "pong")
    assert r["type"] == "pong", r
    return c


def node_log(n):
    """The workers' log of node n: lighttpd's error log, or parley-ws
    --listen's under nginx."""
    name = ("parley-ws.log" if STACK.get("SERVER") == "nginx"
            else "lighttpd.log")
    with open(os.path.join(STATE if n == 1 else STATE2, "log", name),
              errors="replace") as f:
        return f.read()


def stackctl(*args):
    r = subprocess.run([os.path.join(parley_test.ROOT, "scripts",
                                     "stackctl"), STATE, *args],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"stackctl {args}: {r.stdout}{r.stderr}")


async def ctl(*args):
    await asyncio.to_thread(stackctl, *args)


async def expire(*args):
    p = await asyncio.create_subprocess_exec(
        os.path.join(BUILD, "src", "parley-expire"), "--config",
        EXPIRE_CONF, *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 60)
    return p.returncode, err.decode()


async def admin(*args):
    """parley-admin with the workers' settings and login (it may
    disconnect), as a subprocess: the clients keep reading meanwhile."""
    p = await asyncio.create_subprocess_exec(
        os.path.join(BUILD, "src", "parley-admin"), "--config", CONF, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 60)
    return p.returncode, out.decode(), err.decode()


def rows_of(user):
    return sorted(r[0] for r in sql(
        "SELECT connection_id FROM connections WHERE user_id = :'p1'", user))


def stale_row(name):
    """A row no instance holds, an hour old."""
    cid = uid(name)
    sql("INSERT INTO connections VALUES (:'p1', :'p2', now() - interval "
        "'1 hour', now() + interval '1 hour')", cid, uid(name + "-user"))
    return cid


def row_there(cid):
    return sql_value("SELECT count(*) FROM connections WHERE "
                     "connection_id = :'p1'", cid) == "1"


async def closed_within(client, seconds):
    try:
        await asyncio.wait_for(client.ws.wait_closed(), seconds)
    except asyncio.TimeoutError:
        return False
    return True


def message_with(mid):
    return lambda e: (e.get("type") == "message" and
                      e["data"]["messageId"] == mid)


def status_of(mid, status):
    return lambda e: (e.get("type") == "status" and
                      e["data"]["messageId"] == mid and
                      e["data"]["status"] == status)


async def test_two_nodes():
    ok(WS_URL != URL2, f"two Pushpin instances: {WS_URL} and {URL2}")
    for name, url in (("node 1", WS_URL), ("node 2", URL2)):
        eq(healthz(url), (200, '{"status":"ok","database":"ok",'
                               '"pushpin":"ok"}'),
           f"{name}: /healthz ok, both instances answering")
    pub = parley_test.SETTINGS.get("publish_spec", "")
    ok(PUSH2 in pub and "," in pub,
       "the workers publish to both instances (publish_spec)", pub)
    user = uid("mn-where")
    c = await on(URL2, user)
    cid = rows_of(user)[0]
    ok(f"connect {cid} user {user}" in node_log(2) and
       cid not in node_log(1),
       "a connection through node 2's Pushpin is served by node 2's "
       "workers")
    await c.close()


async def test_across_nodes():
    a = await on(WS_URL, uid("mn-a"))
    b = await on(URL2, uid("mn-b"))
    conv = uid("mn-ab")
    m1 = uid("mn-ab-1")
    ack = await a.request(send_frame(a.user, b.user, conv, "from node 1",
                                     m1), "ack")
    eq(ack["type"], "ack", "a send on node 1 to a user on node 2 is acked")
    ev = await b.expect(message_with(m1))
    eq(ev["data"]["content"], "from node 1", "  and delivered on node 2")
    await b.request({"action": "ack", "messageIds": [m1]}, "ack")
    await a.expect(status_of(m1, "delivered"))
    ok(True, "the ack on node 2 reaches the sender on node 1 (delivered)")
    await b.request({"action": "markRead", "messageIds": [m1]}, "ack")
    await a.expect(status_of(m1, "read"))
    ok(True, "and so does markRead (read)")
    m2 = uid("mn-ab-2")
    await b.request(send_frame(b.user, a.user, conv, "from node 2", m2),
                    "ack")
    ev = await a.expect(message_with(m2))
    eq(ev["data"]["senderId"], b.user, "node 2 to node 1: delivered")
    await a.request({"action": "ack", "messageIds": [m2]}, "ack")
    await b.expect(status_of(m2, "delivered"))
    ok(True, "  and its receipt back on node 2")

    await a.send({"action": "typing", "recipientId": b.user,
                  "conversationId": conv})
    ev = await b.expect("typing")
    eq(ev["data"], {"senderId": a.user, "conversationId": conv,
                    "isTyping": True}, "typing from node 1 shows on node 2")
    await b.send({"action": "typing", "recipientId": a.user,
                  "conversationId": conv, "isTyping": False})
    ev = await a.expect("typing")
    eq(ev["data"]["isTyping"], False, "and from node 2 on node 1")
    await a.close()
    await b.close()


async def test_group_across_nodes():
    a = await on(WS_URL, uid("mn-ga"))
    b = await on(URL2, uid("mn-gb"))
    c = await on(WS_URL, uid("mn-gc"))
    d = await on(URL2, uid("mn-gd"))
    conv = uid("mn-group")
    r = await a.request({"action": "createGroup", "conversationId": conv,
                         "title": "nodes",
                         "members": [b.user, c.user, d.user]}, "ack")
    eq(r["type"], "ack", "a group of members on both nodes")
    for m in (b, c, d):
        await m.expect(lambda e: e.get("type") == "group" and
                       e["data"]["conversationId"] == conv)
    ok(True, "  its group event reaches every member, on either node")
    mid = uid("mn-gm")
    r = await b.request({"action": "sendMessage", "conversationId": conv,
                         "content": "hello all", "messageId": mid}, "ack")
    eq(r["type"], "ack", "a group message from node 2 is acked")
    for name, m in (("a, node 1", a), ("c, node 1", c), ("d, node 2", d)):
        ev = await m.expect(message_with(mid))
        eq(ev["data"]["conversationId"], conv, f"  and reaches {name}")
    await a.request({"action": "ack", "messageIds": [mid]}, "ack")
    ev = await b.expect(status_of(mid, "delivered"))
    eq(ev["data"].get("userId"), a.user,
       "a member's ack on node 1 reaches the sender on node 2")
    await d.send({"action": "typing", "conversationId": conv})
    for name, m in (("a", a), ("b", b), ("c", c)):
        ev = await m.expect("typing")
        eq(ev["data"]["senderId"], d.user, f"  group typing reaches {name}")
    for m in (a, b, c, d):
        await m.close()


async def test_devices_on_both_nodes():
    user = uid("mn-u")
    d1 = await on(WS_URL, user)
    d2 = await on(URL2, user)
    s = await on(URL2, uid("mn-s"))
    mid = uid("mn-u-1")
    await s.request(send_frame(s.user, user, uid("mn-su"), "to both", mid),
                    "ack")
    for name, d in (("node 1", d1), ("node 2", d2)):
        ev = await d.expect(message_with(mid))
        eq(ev["data"]["content"], "to both", f"the device on {name} gets it")
    # (Within 2 s of subscribing: later, a request of the device would
    # resend what is still unacked, by design: README, "Delivery
    # guarantees".)
    extra = [e for d in (d1, d2) for e in await d.quiet(0.5)
             if e.get("type") == "message"]
    eq(ids_of(extra), [], "  each once (no second copy from the other "
       "instance)")
    sync = uid("mn-u-2")
    await d1.request(send_frame(user, s.user, uid("mn-su"), "synced", sync),
                     "ack")
    ev = await d2.expect(message_with(sync))
    eq(ev["data"]["senderId"], user,
       "a send from the device on node 1 syncs to the one on node 2")
    ev = await s.expect(message_with(sync))
    eq(ev["data"]["content"], "synced", "  and reaches the recipient")
    got = [e for e in await d1.quiet(0.5) if e.get("type") == "message"]
    ok(sync not in ids_of(got), "  the sending device gets only its ack",
       ids_of(got))
    await d2.request({"action": "ack", "messageIds": [mid]}, "ack")
    await s.expect(status_of(mid, "delivered"))
    st = [e for e in await s.quiet(1.0) if e.get("type") == "status"
          and e["data"]["messageId"] == mid]
    eq(st, [], "one status event for the sender, though two devices got it")
    for c in (d1, d2, s):
        await c.close()


async def test_disconnect_on_node2():
    user = uid("mn-disc")
    keep = await on(WS_URL, user)
    gone = await on(URL2, user)
    ids = rows_of(user)
    target = [i for i in ids if f"connect {i} user" in node_log(2)]
    eq(len(target), 1, "the connection on node 2 (by node 2's log)")
    rc, out, err = await admin("--json", "disconnect", target[0])
    doc = json.loads(out) if out.strip().startswith("{") else {}
    eq((rc, doc.get("closed")), (0, True),
       "parley-admin disconnect of a connection on node 2: closed")
    ok(await closed_within(gone, 5), "  its socket closed", err)
    ok(not await closed_within(keep, 0.5), "  the one on node 1 stays open")
    eq(rows_of(user), [i for i in ids if i != target[0]],
       "  its row is gone, the other stays")
    await keep.close()


async def test_reconcile_with_both():
    a = await on(WS_URL, uid("mn-r1"))
    b = await on(URL2, uid("mn-r2"))
    stale = stale_row("mn-r-stale")
    rc, err = await expire("--reconcile", "--grace", "0")
    eq(rc, 0, "parley-expire --reconcile, both instances up: exit 0")
    ok("reconciled" in err, "  says what it did", err)
    ok(rows_of(a.user) and rows_of(b.user),
       "  the rows of connections on node 1 and on node 2 stay (each "
       "held by one instance only)")
    ok(not row_there(stale), "  the row no instance holds is gone")
    await a.close()
    await b.close()


async def test_node_down():
    a = await on(WS_URL, uid("mn-k-a"))      # sender, on node 1
    b = await on(URL2, uid("mn-k-b"))        # recipient, on node 2
    u = uid("mn-k-u")                        # devices on both
    d1, d2 = await on(WS_URL, u), await on(URL2, u)
    other = await on(WS_URL, uid("mn-k-o"))  # disconnected meanwhile
    conv = uid("mn-k")
    acked = []

    async def send(to, n):
        mid = uid(f"mn-k-{n}")
        r = await a.request(send_frame(a.user, to, conv, f"m{n}", mid),
                            "ack", timeout=20)
        eq(r["type"], "ack", f"m{n} acked")
        acked.append(mid)
        return mid

    m1 = await send(b.user, 1)
    await b.expect(message_with(m1))
    m2 = await send(b.user, 2)
    await b.expect(message_with(m2))
    await b.request({"action": "ack", "messageIds": [m2]}, "ack")
    old_b, old_u = rows_of(b.user), rows_of(u)
    stale = stale_row("mn-k-stale")

    await ctl("pushpin-kill", "2")
    ok(await closed_within(b, 10) and await closed_within(d2, 10),
       "node 2's Pushpin killed: its clients' sockets close")
    st, body = healthz(WS_URL)
    eq((st, json.loads(body) if body.startswith("{") else body),
       (200, {"status": "degraded", "database": "ok",
              "pushpin": "degraded", "pushpin_unavailable": [PUSH2]}),
       "node 1's /healthz: 200 degraded, naming the instance down")
    m3 = await send(b.user, 3)
    m4 = await send(b.user, 4)
    m5 = await send(u, 5)
    await d1.expect(message_with(m5))
    ok(True, "  sends go on; the device on node 1 still gets its messages")

    rc, err = await expire("--reconcile", "--grace", "0")
    eq(rc, 75, "reconcile with node 2 down: exit 75 (EX_TEMPFAIL)")
    ok("did not answer" in err and "no row is deleted" in err,
       "  saying which instance did not answer", err)
    ok(row_there(stale) and rows_of(b.user) == old_b,
       "  and deletes nothing: not the unheld row, not node 2's rows "
       "(any may be on the silent instance)")

    rc, out, err = await admin("disconnect", rows_of(other.user)[0])
    ok(rc == 0 and await closed_within(other, 5),
       "parley-admin disconnect of a node-1 connection with node 2 down",
       f"exit {rc}: {out}{err}")

    # The users of node 2 reconnect to node 1 and get their backlog.
    b2 = await on(WS_URL, b.user)
    got = ids_of(b2.seen)
    eq(got, [m1, m3, m4], "b, reconnected to node 1: the backlog, every "
       "acked message it had not acked, in order (m2 it acked)")
    d2b = await on(WS_URL, u)
    eq(ids_of(d2b.seen), [m5], "the device of node 2, reconnected to node 1: "
       "the message sent while it was away")
    await b2.request({"action": "ack", "messageIds": [m1, m3, m4]}, "ack")
    await d2b.request({"action": "ack", "messageIds": [m5]}, "ack")
    eq(sql_value("SELECT count(*) FROM messages WHERE message_id = "
                 "ANY(string_to_array(:'p1', ',')) AND status IN "
                 "('delivered', 'read')", ",".join(acked)), str(len(acked)),
       f"nothing acked is lost: all {len(acked)} stored and delivered")
    m6 = await send(b.user, 6)
    ev = await b2.expect(message_with(m6))
    eq(ev["data"]["content"], "m6", "  and live delivery goes on on node 1")

    await ctl("pushpin-start", "2")
    deadline = time.monotonic() + 20
    while healthz(WS_URL)[0:2] != (200, '{"status":"ok","database":"ok",'
                                        '"pushpin":"ok"}') \
            and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    eq(healthz(WS_URL), (200, '{"status":"ok","database":"ok",'
                              '"pushpin":"ok"}'),
       "node 2 restarted: /healthz ok again")
    c = await on(URL2, uid("mn-k-c"))
    m7 = await send(c.user, 7)
    ev = await c.expect(message_with(m7), timeout=10)
    eq(ev["data"]["content"], "m7", "publishes reach node 2 again "
       "(a new connection there gets its message live)")
    rc, err = await expire("--reconcile", "--grace", "0")
    eq(rc, 0, "reconcile with both up again: exit 0")
    eq(sorted(set(old_b) & set(rows_of(b.user))), [],
       "  the rows of node 2's dead connections are gone")
    ok(not row_there(stale), "  and so is the unheld row")
    ok(len(rows_of(b.user)) == 1 and len(rows_of(u)) == 2 and
       len(set(old_u) & set(rows_of(u))) == 1 and
       rows_of(a.user) and rows_of(c.user),
       "  the live connections' rows stay (node 1's, and node 2's new one)",
       (rows_of(b.user), rows_of(u), old_u))
    for x in (a, b2, d1, d2b, c):
        await x.close()


if __name__ == "__main__":
    run(test_two_nodes, test_across_nodes, test_group_across_nodes,
        test_devices_on_both_nodes, test_disconnect_on_node2,
        test_reconcile_with_both, test_node_down, timeout=180)
