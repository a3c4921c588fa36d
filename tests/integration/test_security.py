"""Security over the real stack: auth mode jwt (the test stack mounts the
workers in mode jwt at /jwt/ws), the Grip-Sig check that makes the workers
answer only Pushpin, and hostile input sent both through Pushpin and as raw
WebSocket-over-HTTP requests straight to lighttpd. Each bad input gets a
clear refusal, stores nothing wrong, and the workers keep serving."""
import asyncio
import http.client
import json
import time
import urllib.parse
import uuid

import websockets

from parley_test import (BACKEND_URL, JWT_ISSUER, JWT_SECRET, JWT_URL,
                         SETTINGS, Client, connect, eq, grip_sig,
                         handshake_status, hs256, ok, poll_value, run,
                         send_frame, sql, sql_value, uid)


def token(sub, exp_in=600, iss=None, secret=None, **extra):
    claims = {"sub": sub, "exp": int(time.time()) + exp_in,
              "iss": iss if iss is not None else JWT_ISSUER}
    claims.update(extra)
    return hs256(secret or JWT_SECRET, claims)


async def jwt_status(query, headers=None):
    try:
        ws = await websockets.connect(f"{JWT_URL}?{query}", open_timeout=10,
                                      extra_headers=headers or {})
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    await ws.close()
    return None


async def test_jwt_handshake():
    sub = uid("jwt-user")
    ws = await websockets.connect(f"{JWT_URL}?token={token(sub)}",
                                  open_timeout=10)
    c = Client(ws, sub)
    eq(await c.request({"action": "ping"}, "pong"),
       {"type": "pong", "data": {}}, "a valid token connects")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 sub), "1", "the connection's user is the token's sub")
    ev = await c.request(send_frame(sub, uid("jwt-peer"), "c", "hi",
                                    senderId=uid("not-me")), "ack")
    eq(ev["data"].get("code"), "forbidden",
       "a senderId other than the sub is forbidden")
    await c.close()

    hdr = await jwt_status("", {"Authorization": f"Bearer {token(sub)}"})
    eq(hdr, None, "Authorization: Bearer works too")

    bad = uid("jwt-bad")
    cases = [
        ("", "no token"),
        (f"userId={bad}", "userId instead of a token"),
        (f"token={token(bad)}&userId={bad}", "userId beside a good token"),
        (f"token={token(bad, secret='wrong-secret')}", "wrong signature"),
        (f"token={token(bad, exp_in=-3600)}", "expired"),
        (f"token={token(bad, iss='someone-else')}", "wrong issuer"),
        (f"token={token(bad, nbf=int(time.time()) + 3600)}", "not yet valid"),
        ("token=" + hs256(JWT_SECRET, {"sub": bad, "exp": 2**40},
                          {"alg": "none"}), "alg none"),
        ("token=" + token(bad)[:-4], "truncated signature"),
        ("token=a.b.c", "garbage"),
        (f"token={token('has space')}", "sub with a space"),
    ]
    for query, name in cases:
        eq(await jwt_status(query), 401, f"{name}: 401")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 bad), "0", "refused handshakes store nothing")


async def test_jwt_users_exchange():
    a_sub, b_sub = uid("jwt-a"), uid("jwt-b")
    a = Client(await websockets.connect(f"{JWT_URL}?token={token(a_sub)}"),
               a_sub)
    b = Client(await websockets.connect(f"{JWT_URL}?token={token(b_sub)}"),
               b_sub)
    mid = uid("jwt-m")
    ack = await a.request(send_frame(a_sub, b_sub, "c-jwt", "signed in",
                                     mid), "ack")
    eq(ack["type"], "ack", "a jwt user's send is acked")
    msg = await b.expect("message")
    eq((msg["data"]["messageId"], msg["data"]["senderId"]), (mid, a_sub),
       "and delivered with the sub as sender")
    await a.close()
    await b.close()


def raw(body, headers=None, query="userId=raw-user", sig=True):
    """POSTs WebSocket-over-HTTP events straight to lighttpd (as only
    Pushpin should). Returns (status, body)."""
    u = urllib.parse.urlsplit(BACKEND_URL)
    h = {"Content-Type": "application/websocket-events",
         "Connection-Id": "raw-" + uuid.uuid4().hex}
    if sig:
        h["Grip-Sig"] = grip_sig()
    h.update(headers or {})
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("POST", f"{u.path}?{query}", body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def text_event(payload):
    return b"TEXT %x\r\n" % len(payload) + payload + b"\r\n"


async def test_only_pushpin_may_call():
    user = uid("forged")
    for name, headers in (
            ("no Grip-Sig", {}),
            ("a Grip-Sig signed with another key",
             {"Grip-Sig": grip_sig("guessed-key")}),
            ("an expired Grip-Sig", {"Grip-Sig": grip_sig(exp_in=-60)}),
            ("garbage Grip-Sig", {"Grip-Sig": "x.y.z"})):
        h = dict(headers)
        h["Meta-User-Id"] = user
        st, _ = raw(b"OPEN\r\n", h, f"userId={user}", sig=False)
        eq(st, 403, f"{name}: 403")
        st, _ = raw(text_event(json.dumps(send_frame(
            user, uid("victim"), "c", "forged")).encode()), h, sig=False)
        eq(st, 403, f"{name}, forged Meta-User-Id on a TEXT: 403")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 user), "0", "no connection row from forged requests")
    eq(sql_value("SELECT count(*) FROM messages WHERE sender_id = :'p1'",
                 user), "0", "no message from forged requests")
    st, body = raw(b"OPEN\r\n", query=f"userId={user}")
    eq((st, body[:6]), (200, b"OPEN\r\n"),
       "the same OPEN with Pushpin's Grip-Sig is served (control)")
    sql("DELETE FROM connections WHERE user_id = :'p1'", user)


async def test_hostile_event_streams():
    """Lying or truncated WebSocket-over-HTTP bodies: 400, nothing done,
    the workers keep serving."""
    bodies = [
        (b"TEXT 10\r\nshort\r\n", "content shorter than its length"),
        (b"TEXT 2\r\nlonger than two\r\n", "content longer than its length"),
        (b"TEXT zz\r\nab\r\n", "non-hex length"),
        (b"TEXT ffffffffffff\r\nab\r\n", "huge length"),
        (b"TEXT 2\r\nab", "missing CRLF"),
        (b"HELLO\r\n", "unknown event"),
        (b"OPEN", "unterminated line"),
        (b"\x00\x01\x02", "binary junk"),
    ]
    for body, name in bodies:
        st, _ = raw(body, {"Meta-User-Id": uid("h")})
        eq(st, 400, f"{name}: 400")
    st, _ = raw(b"TEXT 2\r\nab\r\n")
    eq(st, 400, "a TEXT with no session (no Meta-User-Id): 400")
    c = await connect(uid("after-hostile"))
    eq(await c.request({"action": "ping"}, "pong"),
       {"type": "pong", "data": {}}, "the workers still serve others")
    await c.close()


def events_in(body):
    """Decodes a WebSocket-over-HTTP response body (m: messages only)."""
    out, i = [], 0
    while i < len(body):
        line_end = body.index(b"\r\n", i)
        parts = body[i:line_end].split(b" ")
        i = line_end + 2
        if len(parts) == 2:
            n = int(parts[1], 16)
            data = body[i:i + n]
            i += n + 2
            if data.startswith(b"m:"):
                out.append(json.loads(data[2:]))
    return out


async def test_hostile_frames():
    user = uid("hostile")
    meta = {"Meta-User-Id": user}
    frames = [
        (b'{"action":"ping"\x00}', "invalid_json", "NUL byte in the frame"),
        (b'{"action":"sendMessage","content":"\xff\xfe"}', "invalid_json",
         "invalid UTF-8"),
        (b'{"action":"sendMessage","content":"\xc0\xaf"}', "invalid_json",
         "overlong UTF-8"),
        (b"[" * 10000 + b"]" * 10000, "invalid_json", "10,000 levels deep"),
        (json.dumps({"action": "ack", "messageIds":
                     [f"id-{i}" for i in range(10000)]}).encode(),
         "invalid_field", "10,000 ids in one ack"),
        (b'{"action":"sendMessage","recipientId":"r","conversationId":"c",'
         b'"content":"a\\u0000b"}', "invalid_field", "escaped NUL"),
    ]
    for payload, code, name in frames:
        st, body = raw(text_event(payload), meta)
        evs = events_in(body)
        eq((st, [e["data"].get("code") for e in evs if e["type"] == "error"]),
           (200, [code]), f"{name}: error {code}")
    eq(sql_value("SELECT count(*) FROM messages WHERE sender_id = :'p1'",
                 user), "0", "nothing stored from hostile frames")


async def test_sql_injection_strings_are_data():
    evil = ["'; DROP TABLE messages; --", "\" OR 1=1 --", "x'||pg_sleep(5)||'",
            "$1", "\\'; DELETE FROM connections; --"]
    a = await connect(uid("inj-a"))
    b_user = uid("inj-b")
    started = time.monotonic()
    for i, e in enumerate(evil):
        ids = e.replace(" ", "_")
        mid = uid(f"inj-{i}")
        ack = await a.request(send_frame(a.user, b_user, "c-" + ids, e, mid,
                                         senderName=e), "ack")
        eq(ack["type"], "ack", f"stored: {e!r}")
        eq(sql("SELECT content, sender_name, conversation_id FROM messages "
               "WHERE message_id = :'p1'", mid), [[e, e, "c-" + ids]],
           f"stored literally: {e!r}")
    ok(time.monotonic() - started < 4.5, "no injected pg_sleep ran")
    eq(sql_value("SELECT count(*) > 0 FROM messages"), "t",
       "the messages table is still there")
    await a.close()


async def test_rate_limit():
    """A connection asking more of the server than rate_limit (50/s) and
    rate_burst (the stack's settings) gets rate_limited for the excess and
    keeps working; acks, marks and pings are never refused (README,
    "Limits")."""
    burst = int(SETTINGS.get("rate_burst", "100"))
    c = await connect(uid("rate"))
    n = burst + 50
    conv = uid("rate-conv")
    for _ in range(n):
        await c.send({"action": "getMessages", "conversationId": conv})
    mid = uid("rate-send")
    await c.send(send_frame(c.user, uid("rate-peer"), conv, "x", mid))
    got = []
    while len(got) < n + 1:
        got.append(await c.expect(lambda e: e["type"] in ("messages", "ack",
                                                          "error")))
    last = got.pop()
    served = sum(1 for e in got if e["type"] == "messages")
    limited = [e for e in got if e["type"] == "error"]
    ok(burst <= served < n, f"the burst is served ({served} of {n} requests)")
    ok(limited and all(e["data"]["code"] == "rate_limited" for e in limited),
       f"the rest get rate_limited ({len(limited)})")
    ok(all(e["data"].get("action") == "getMessages" for e in limited),
       "  each naming the refused action")
    eq((last["data"].get("code"), last["data"].get("action"),
        last["data"].get("messageId")), ("rate_limited", "sendMessage", mid),
       "a refused send names its messageId (resend it later)")
    # Right away, with the budget spent: acks, marks and pings all pass.
    for i in range(n):
        await c.send({"action": "ack", "messageIds": [uid(f"nope-{i}")]})
        await c.send({"action": "markRead", "messageIds": [uid(f"no-{i}")]})
        await c.send({"action": "ping"})
    got = []
    while len(got) < 3 * n:
        got.append(await c.expect(lambda e: e["type"] in ("ack", "pong",
                                                          "error")))
    eq(sum(1 for e in got if e["type"] == "error"), 0,
       f"then {n} acks, {n} markReads and {n} pings: none refused")
    await asyncio.sleep(2.5)
    eq(await c.request({"action": "ping"}, "pong"),
       {"type": "pong", "data": {}}, "after a pause the connection works")
    await c.close()


async def test_connections_per_user():
    user = uid("many")
    conns = [await connect(user) for _ in range(20)]
    eq(await handshake_status(f"userId={user}"), 429,
       "the 21st connection of a user: 429")
    await conns[0].close()
    await poll_value("19", "SELECT count(*) FROM connections "
                     "WHERE user_id = :'p1'", user)
    eq(await handshake_status(f"userId={user}"), None,
       "after one closes, a new one is accepted")
    for c in conns[1:]:
        await c.close()


async def test_frame_limit():
    st, body = raw(text_event(b'{"action":"ping","pad":"' + b"x" * 300000
                              + b'"}'), {"Meta-User-Id": uid("frame")})
    evs = events_in(body)
    eq((st, [e["data"].get("code") for e in evs if e["type"] == "error"]),
       (200, ["too_large"]), "a frame over max_frame_bytes: too_large")


async def test_workers_do_not_run_as_root():
    """lighttpd starts the workers as root; they switch to run_as_user
    before serving. Checked on the live processes of this stack."""
    import os
    from parley_test import STATE
    uids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "parley-ws":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if STATE.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/status") as f:
                uids += [int(line.split()[1]) for line in f
                         if line.startswith("Uid:")]
        except OSError:
            continue
    ok(uids, f"found this stack's workers ({len(uids)})")
    ok(uids and 0 not in uids, f"none runs as root (uids {sorted(set(uids))})")


if __name__ == "__main__":
    run(test_jwt_handshake, test_jwt_users_exchange,
        test_only_pushpin_may_call, test_hostile_event_streams,
        test_hostile_frames, test_sql_injection_strings_are_data,
        test_rate_limit, test_connections_per_user, test_frame_limit,
        test_workers_do_not_run_as_root)
