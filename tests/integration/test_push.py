"""Offline push (PROTOCOL section 7; README, "Offline push"): parley-push
POSTs a notification for every recipient with no live connection to the
webhook of the test stack's settings. The webhook here is a real HTTP
server on loopback that this test starts, stops, slows down and makes
fail; the messages come from real WebSocket clients through Pushpin."""
import asyncio
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import parley_test
from parley_test import connect, eq, ok, run, send_frame, sql_value, uid

PORT = int(parley_test.STACK["HOOK_PORT"])
TOKEN = parley_test.SETTINGS.get("push_webhook_token", "")
TIMEOUT = int(parley_test.SETTINGS.get("push_timeout", "5"))


def fresh(name):
    return uid(f"{name}-{uuid.uuid4().hex[:8]}")


class Hook:
    """The webhook: records every call; per message id, a list of
    statuses to answer first (then 200), or a delay before answering."""

    def __init__(self):
        self.calls = []
        self.plan = {}    # messageId -> [status, ...] answered in turn
        self.delay = {}   # messageId -> seconds before answering
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                mid = body.get("messageId") if isinstance(body, dict) else None
                with hook.lock:
                    hook.calls.append({"path": self.path, "body": body,
                                       "headers": dict(self.headers),
                                       "at": time.monotonic()})
                    plan = hook.plan.get(mid) or []
                    status = plan.pop(0) if plan else 200
                    delay = hook.delay.pop(mid, 0)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def of(self, mid, user=None):
        with self.lock:
            return [c for c in self.calls if isinstance(c["body"], dict)
                    and c["body"].get("messageId") == mid
                    and (user is None or c["body"].get("userId") == user)]

    async def wait(self, mid, user, n=1, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.of(mid, user)
            if len(got) >= n:
                return got
            await asyncio.sleep(0.1)
        return self.of(mid, user)


HOOK = Hook()


def queued(mid, user=None):
    if user is None:
        return int(sql_value("SELECT count(*) FROM push_queue "
                             "WHERE message_id = :'p1'", mid))
    return int(sql_value("SELECT count(*) FROM push_queue WHERE "
                         "message_id = :'p1' AND user_id = :'p2'", mid, user))


async def gone(mid, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if queued(mid) == 0:
            return True
        await asyncio.sleep(0.2)
    return False


async def send(client, recipient, conv, mid, **extra):
    t0 = time.monotonic()
    ans = await client.request(send_frame(client.user, recipient, conv,
                                          "secret text", mid, **extra), "ack")
    return ans, time.monotonic() - t0


async def test_offline_recipient_is_pushed():
    a, b, c, conv = fresh("p-a"), fresh("p-b"), fresh("p-c"), fresh("conv")
    ra = await connect(a)
    rc = await connect(c)
    try:
        mid = fresh("m")
        ans, _ = await send(ra, b, conv, mid, senderName="Alice")
        eq(ans["type"], "ack", "a message to an offline user is acked")
        got = await HOOK.wait(mid, b)
        eq(len(got), 1, "the webhook gets one call for the offline recipient")
        if got:
            call = got[0]
            eq(call["body"], {"userId": b, "messageId": mid,
                              "conversationId": conv, "senderId": a,
                              "senderName": "Alice"},
               "  with userId, messageId, conversationId, senderId, "
               "senderName (no content: push_content is 0)")
            eq(call["path"], "/push", "  at the configured URL")
            eq(call["headers"].get("Authorization"), "Bearer " + TOKEN,
               "  with the configured bearer token")
            eq(call["headers"].get("Idempotency-Key"), f"{mid}/{b}",
               "  and an Idempotency-Key of message and user")
        ok(await gone(mid), "the queue row is deleted once the webhook took it")
        mid2 = fresh("m")
        await send(ra, c, conv, mid2)
        await rc.expect(lambda e: e["type"] == "message" and
                        e["data"]["messageId"] == mid2, 5)
        eq(queued(mid2), 0, "an online recipient: nothing queued")
        await asyncio.sleep(1.5)
        eq(HOOK.of(mid2), [], "  and no call")
        mid3 = fresh("m")
        await send(ra, b, conv, mid3)
        await send(ra, b, conv, mid3)  # a retry of the same send
        await HOOK.wait(mid3, b)
        await asyncio.sleep(1.0)
        eq(len(HOOK.of(mid3)), 1, "a retried send is pushed once")
    finally:
        await ra.close()
        await rc.close()


async def test_group_members_offline():
    owner, on, off = fresh("g-own"), fresh("g-on"), fresh("g-off")
    ro = await connect(owner)
    rn = await connect(on)
    try:
        ans = await ro.request({"action": "createGroup", "title": "push",
                                "members": [on, off]}, "ack")
        gid = ans["data"]["conversationId"]
        mid = fresh("m")
        await ro.request({"action": "sendMessage", "conversationId": gid,
                          "content": "to all", "messageId": mid}, "ack")
        got = await HOOK.wait(mid, off)
        eq(len(got), 1, "a group message: the offline member is pushed")
        await asyncio.sleep(1.0)
        eq(sorted(c["body"]["userId"] for c in HOOK.of(mid)), [off],
           "  nobody else (not the sender, not the online member)")
    finally:
        await ro.close()
        await rn.close()


def counters():
    """The push counters of /metrics."""
    import urllib.request
    base = "http" + parley_test.WS_URL[len("ws"):].rsplit("/", 1)[0]
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("parley_push_"):
            name, _, value = line.partition(" ")
            out[name] = float(value)
    return out


async def test_failing_webhook_recovers():
    a, b, conv, mid = fresh("p-a"), fresh("p-b"), fresh("conv"), fresh("m")
    HOOK.plan[mid] = [500, 503]
    before = counters()
    ra = await connect(a)
    try:
        ans, took = await send(ra, b, conv, mid)
        eq(ans["type"], "ack", "acked while the webhook fails")
        got = await HOOK.wait(mid, b, n=3, timeout=20)
        eq(len(got), 3, "500, 503, then 200: three calls (retried)")
        if len(got) == 3:
            gaps = [got[i + 1]["at"] - got[i]["at"] for i in range(2)]
            ok(0.7 <= gaps[0] and gaps[0] < gaps[1] + 0.5,
               "  with backoff between them (about 1 s, then 2 s)", gaps)
        ok(await gone(mid), "  then the row is gone")
        await asyncio.sleep(1.0)
        eq(len(HOOK.of(mid)), 3, "  and no call after the 200")
        after = counters()
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        ok(delta.get("parley_push_failures_total", 0) >= 2 and
           delta.get("parley_push_sent_total", 0) >= 1,
           "  /metrics counts the failed calls and the push sent", delta)
    finally:
        await ra.close()


async def test_webhook_down_then_up():
    a, b, conv, mid = fresh("p-a"), fresh("p-b"), fresh("conv"), fresh("m")
    HOOK.stop()
    ra = await connect(a)
    try:
        ans, took = await send(ra, b, conv, mid)
        eq(ans["type"], "ack", "acked while the webhook is down")
        deadline = time.monotonic() + 10
        attempts = 0
        while time.monotonic() < deadline and attempts < 1:
            attempts = int(sql_value(
                "SELECT COALESCE(max(attempts), 0) FROM push_queue "
                "WHERE message_id = :'p1'", mid))
            await asyncio.sleep(0.2)
        ok(attempts >= 1, "  the failed calls are recorded on the row",
           attempts)
        ok(sql_value("SELECT last_error FROM push_queue WHERE "
                     "message_id = :'p1'", mid) not in (None, ""),
           "  with the reason")
    finally:
        HOOK.start()
    try:
        got = await HOOK.wait(mid, b, timeout=20)
        eq(len(got), 1, "once the webhook is back, the push arrives")
        ok(await gone(mid), "  and the row is gone")
    finally:
        await ra.close()


async def test_slow_webhook():
    a, b, conv = fresh("p-a"), fresh("p-b"), fresh("conv")
    slow, next_ = fresh("m"), fresh("m")
    HOOK.delay[slow] = TIMEOUT + 1.5
    ra = await connect(a)
    try:
        await send(ra, b, conv, slow)
        first = await HOOK.wait(slow, b, timeout=10)
        eq(len(first), 1, "the slow webhook got the call")
        # While it hangs, sends are acked as fast as ever.
        took = []
        for _ in range(5):
            _, t = await send(ra, b, conv, fresh("m"))
            took.append(t)
        ok(max(took) < 1.0, "sends are acked at once while the webhook "
           "hangs", [round(t, 3) for t in took])
        await send(ra, b, conv, next_)
        got = await HOOK.wait(next_, b, timeout=10)
        eq(len(got), 1, "another push goes out while one call hangs")
        again = await HOOK.wait(slow, b, n=2, timeout=25)
        eq(len(again), 2, "the call that timed out is made again")
        ok(await gone(slow, timeout=20), "  and then settled")
    finally:
        await ra.close()


async def test_delivered_meanwhile_not_pushed():
    a, b, conv, mid = fresh("p-a"), fresh("p-b"), fresh("conv"), fresh("m")
    HOOK.stop()
    ra = await connect(a)
    try:
        await send(ra, b, conv, mid)
        eq(queued(mid, b), 1, "queued for the offline recipient")
        rb = await connect(b)
        ev = await rb.expect(lambda e: e["type"] == "message" and
                             e["data"]["messageId"] == mid, 10)
        await rb.send({"action": "ack", "messageIds": [mid]})
        await ra.expect(lambda e: e["type"] == "status" and
                        e["data"]["messageId"] == mid, 5)
        await rb.close()
    finally:
        HOOK.start()
    try:
        ok(await gone(mid, timeout=25), "the row is dropped once due")
        eq(HOOK.of(mid), [], "  without a call: a device acked it first")
    finally:
        await ra.close()


try:
    HOOK.start()
    run(test_offline_recipient_is_pushed, test_group_members_offline,
        test_failing_webhook_recovers, test_webhook_down_then_up,
        test_slow_webhook, test_delivered_meanwhile_not_pushed)
finally:
    HOOK.stop()
