"""The original three routes end to end: $connect, sendMessage,
$disconnect, through Pushpin, lighttpd, parley-ws and PostgreSQL,
plus the error paths of the README's "Client protocol" on a live connection."""
import asyncio
import json
import urllib.parse

from parley_test import (BUILD, CLIENT_PING_INTERVAL, CONNECTION_TTL, DB_URL,
                         ROOT, RUN,
                         WS_URL, poll_value,
                         connect, eq, handshake_status, ok, run, send_frame,
                         sql, sql_value, uid)


async def test_original_wscat_flow():
    """Two users exchange the original guide's wscat line."""
    u1, u2 = uid("test-user-1"), uid("test-user-2")
    mid = uid("test-123")
    a = await connect(u1)
    b = await connect(u2)
    line = {"action": "sendMessage", "messageId": mid,
            "conversationId": "conv-1", "senderId": u1,
            "senderName": "Test User", "recipientId": u2,
            "content": "Hello from wscat!",
            "timestamp": "2025-10-21T10:30:00Z"}
    ack = await a.request(line, "ack")
    eq(ack["type"], "ack", "sender gets an ack")
    eq({k: ack["data"].get(k) for k in ("action", "messageId", "status",
                                        "duplicate")},
       {"action": "sendMessage", "messageId": mid, "status": "sent",
        "duplicate": False}, "ack names the message, status sent")
    ok(len(ack["data"].get("timestamp", "")) == 20 and
       ack["data"]["timestamp"].endswith("Z"),
       "ack timestamp is RFC 3339 UTC whole seconds",
       ack["data"].get("timestamp"))
    msg = await b.expect("message")
    eq(msg, {"type": "message", "data": {
        "messageId": mid, "conversationId": "conv-1", "senderId": u1,
        "senderName": "Test User", "recipientId": u2,
        "content": "Hello from wscat!", "timestamp": "2025-10-21T10:30:00Z",
        "status": "sent", "isDeleted": False, "replyToMessageId": None,
        "replyToContent": None, "replyToSenderName": None}},
       "recipient gets exactly the original receive format")
    row = sql("SELECT sender_id, recipient_id, content, status, "
              "sent_at = '2025-10-21T10:30:00Z', received_at IS NOT NULL "
              "FROM messages WHERE message_id = :'p1'", mid)
    eq(row, [[u1, u2, "Hello from wscat!", "sent", "t", "t"]],
       "the message row is stored")
    eq(await a.quiet(0.5), [], "the sending connection gets only the ack")
    await a.close()
    await b.close()


async def test_connection_rows():
    """$connect stores a row with the TTL; $disconnect deletes it."""
    u = uid("rows")
    c = await connect(u)
    await c.request({"action": "ping"}, "pong")
    rows = sql("SELECT count(*), bool_and(expires_at BETWEEN now() + "
               "make_interval(secs => :'p2' - 5) AND now() + "
               "make_interval(secs => :'p2')), bool_and(connected_at <= now()) "
               "FROM connections WHERE user_id = :'p1'", u, CONNECTION_TTL)
    eq(rows, [["1", "t", "t"]],
       f"connect stores one row expiring after the TTL ({CONNECTION_TTL} s)")
    c2 = await connect(u)
    await c2.request({"action": "ping"}, "pong")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 u), "2", "a second device adds a second row")
    count = "SELECT count(*) FROM connections WHERE user_id = :'p1'"
    await c.close()
    eq(await poll_value("1", count, u), "1",
       "closing one connection deletes its row only")
    await c2.close()
    eq(await poll_value("0", count, u), "0",
       "closing the last one leaves no row")


async def test_offline_recipient():
    """A send to a user who is not connected is acked and stored."""
    a = await connect(uid("off-a"))
    offline = uid("off-b")
    mid = uid("off-msg")
    ack = await a.request(send_frame(a.user, offline, "conv-off", "later",
                                     mid), "ack")
    eq(ack["type"], "ack", "send to an offline user is acked")
    eq(sql_value("SELECT status FROM messages WHERE message_id = :'p1'",
                 mid), "sent", "and stored as sent")
    await a.close()


async def test_generated_message_id():
    a = await connect(uid("gen-a"))
    ack = await a.request(send_frame(a.user, uid("gen-b"), "c", "no id"),
                          "ack")
    mid = ack["data"].get("messageId", "")
    ok(len(mid) == 36 and mid.count("-") == 4,
       "a send without messageId gets a server UUID", mid)
    eq(sql_value("SELECT sender_id FROM messages WHERE message_id = :'p1'",
                 mid), a.user, "stored under that id")
    await a.close()


BAD_FRAMES = [
    ("not json", "hello", "invalid_json"),
    ("truncated json", '{"action":"sendMessage",', "invalid_json"),
    ("json array", "[1,2]", "invalid_json"),
    ("json string", '"sendMessage"', "invalid_json"),
    ("missing action", {"content": "x"}, "missing_field"),
    ("action of wrong type", {"action": 5}, "invalid_field"),
    ("unknown action", {"action": "launchRocket"}, "unknown_action"),
    ("missing recipientId", {"action": "sendMessage", "conversationId": "c",
                             "content": "x"}, "missing_field"),
    ("null content", {"action": "sendMessage", "conversationId": "c",
                      "recipientId": "r", "content": None}, "missing_field"),
    ("empty conversationId", {"action": "sendMessage", "conversationId": "",
                              "recipientId": "r", "content": "x"},
     "invalid_field"),
    ("numeric recipientId", {"action": "sendMessage", "conversationId": "c",
                             "recipientId": 7, "content": "x"},
     "invalid_field"),
    ("recipientId with a space", {"action": "sendMessage",
                                  "conversationId": "c",
                                  "recipientId": "a b", "content": "x"},
     "invalid_field"),
    ("bad timestamp", {"action": "sendMessage", "conversationId": "c",
                       "recipientId": "r", "content": "x",
                       "timestamp": "2025-02-30T10:00:00Z"}, "invalid_field"),
    ("NUL in content", '{"action":"sendMessage","conversationId":"c",'
     '"recipientId":"r","content":"a\\u0000b"}', "invalid_field"),
]


async def test_bad_frames_keep_connection():
    """Each bad frame gets its error code; nothing is stored; the
    connection keeps working."""
    c = await connect(uid("bad"))
    for name, frame, code in BAD_FRAMES:
        ev = await c.request(frame if isinstance(frame, str)
                             else json.dumps(frame), "error")
        eq((ev["type"], ev["data"].get("code")), ("error", code),
           f"{name}: error {code}")
        ok(isinstance(ev["data"].get("message"), str) and
           ev["data"]["message"], f"{name}: has a human message")
    await c.send(b"\x00\x01binary")
    ev = await c.expect(lambda e: e["type"] in ("error",))
    eq(ev["data"]["code"], "invalid_json", "a binary frame is invalid_json")
    pong = await c.request({"action": "ping"}, "pong")
    eq(pong, {"type": "pong", "data": {}}, "connection still answers ping")
    eq(sql_value("SELECT count(*) FROM messages WHERE sender_id = :'p1'",
                 c.user), "0", "no bad frame stored anything")
    ack = await c.request(send_frame(c.user, uid("bad-r"), "c", "fine"),
                          "ack")
    eq(ack["type"], "ack", "and a good send after them is acked")
    await c.close()


async def test_error_names_action_and_id():
    c = await connect(uid("errid"))
    ev = await c.request({"action": "sendMessage", "messageId": "m-1",
                          "conversationId": "c", "content": "x"}, "error")
    eq((ev["data"].get("action"), ev["data"].get("messageId")),
       ("sendMessage", "m-1"), "error echoes action and messageId")
    await c.close()


async def test_handshake_refusals():
    eq(await handshake_status(None), 400, "no query string: 400")
    eq(await handshake_status("user=x"), 400, "no userId: 400")
    eq(await handshake_status("userId="), 400, "empty userId: 400")
    eq(await handshake_status("userId=a%20b"), 400, "userId with space: 400")
    eq(await handshake_status("userId=" + "x" * 129), 400,
       "129-byte userId: 400")
    eq(await handshake_status("userId=a%00b"), 400, "NUL in userId: 400")
    eq(await handshake_status("userId=a&userId=b"), 400,
       "userId twice: 400")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id IN "
                 "('a', 'b', 'x', 'abc')"), "0",
       "refused handshakes store no row")
    eq(await handshake_status("userId=" + "x" * 128), None,
       "128-byte userId is accepted")


async def test_form_decoded_user():
    """%2B carries a plus: the user is a+b, and a message to a+b arrives."""
    user = uid("p+q")
    enc = user.replace("+", "%2B")
    b = await connect(user, "userId=" + enc)
    a = await connect(uid("plus-sender"))
    await a.request(send_frame(a.user, user, "c", "to plus"), "ack")
    msg = await b.expect("message")
    eq(msg["data"]["recipientId"], user, "userId is form-decoded")
    await a.close()
    await b.close()


async def test_every_printable_byte_in_an_id():
    """README, "Connecting": every printable ASCII byte, '%' included, may be in an
    id; the user is echoed exactly, and a malformed escape (which the
    bridge rewrites) or a stray parameter elsewhere changes nothing.
    (Pushpin's URL parser, finding one malformed escape, re-encodes every
    '%' of the query: an id sent with escapes and a malformed parameter
    beside it reaches us double-encoded. That case the bridge makes
    impossible; README, "Connecting".)"""
    base = "s!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    user = base + RUN
    b = await connect(user, "userId=" + urllib.parse.quote(user, safe=""))
    a = await connect(uid("bytes-sender"))
    ack = await a.request(send_frame(a.user, user, "c-bytes", "hi"), "ack")
    msg = await b.expect("message")
    eq(msg["data"]["recipientId"], user, "the id is echoed exactly")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 user), "1", "  and stored exactly")
    c = await connect("pct%zz" + RUN, "userId=pct%zz" + RUN)
    eq(await c.request({"action": "ping"}, "pong"), {"type": "pong",
       "data": {}}, "a malformed escape connects as the id it spells")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 "pct%zz" + RUN), "1", "  stored as pct%zz...")
    d = await connect(uid("junk"), f"userId={uid('junk')}&junk=%zz&x=%")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 uid("junk")), "1", "malformed parameters elsewhere do not "
       "change the user")
    for x in (a, b, c, d):
        await x.close()


async def test_ping_frames():
    c = await connect(uid("ping"))
    pong = await c.ws.ping(b"abc")
    await asyncio.wait_for(pong, 5)
    ok(True, "a WebSocket ping is answered with a pong")
    eq(await c.request({"action": "ping"}, "pong"),
       {"type": "pong", "data": {}}, "action ping answers pong")
    await c.close()


async def test_migrations_run_twice():
    """parley-migrate applies what is missing and records it; a second
    run (the stack already ran it once) applies nothing and succeeds."""
    import os
    import subprocess
    env = dict(os.environ, PARLEY_DATABASE_URL=DB_URL)
    r = subprocess.run([os.path.join(BUILD, "src", "parley-migrate"),
                        "--dir", os.path.join(ROOT, "sql")], env=env,
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, "parley-migrate on an up-to-date schema exits 0")
    ok("0 migration(s) applied now" in r.stderr, "and applies nothing",
       r.stderr)
    files = sorted(f[:-4] for f in os.listdir(os.path.join(ROOT, "sql"))
                   if f.endswith(".sql"))
    eq([row[0] for row in sql("SELECT version FROM schema_migrations "
                              "ORDER BY version")], files,
       "schema_migrations records every file in sql/")


async def test_idle_client_is_pinged():
    """An idle client gets WebSocket pings from Pushpin (GRIP keep-alive)
    every client_ping_interval seconds; its pongs refresh the row."""
    import websockets
    from websockets.frames import Opcode
    from websockets.legacy.client import WebSocketClientProtocol

    class Counting(WebSocketClientProtocol):
        pings = 0

        async def read_frame(self, max_size):
            frame = await super().read_frame(max_size)
            # Not the backend's own pull pings (payload "parley",
            # delivery.c), only Pushpin's keep-alive.
            if frame.opcode == Opcode.PING and frame.data != b"parley":
                Counting.pings += 1
            return frame

    user = uid("idle")
    ws = await websockets.connect(f"{WS_URL}?userId={user}",
                                  create_protocol=Counting)
    reader = asyncio.create_task(ws.recv())
    await asyncio.sleep(CLIENT_PING_INTERVAL * 2 + 2)
    ok(Counting.pings >= 1, f"{Counting.pings} ping(s) in "
       f"{CLIENT_PING_INTERVAL * 2 + 2} s of silence")
    reader.cancel()
    await ws.close()


if __name__ == "__main__":
    run(test_original_wscat_flow, test_connection_rows,
        test_offline_recipient, test_generated_message_id,
        test_bad_frames_keep_connection, test_error_names_action_and_id,
        test_handshake_refusals, test_form_decoded_user,
        test_every_printable_byte_in_an_id, test_ping_frames,
        test_migrations_run_twice, test_idle_client_is_pinged)
