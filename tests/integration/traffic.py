"""Steady chat traffic between many users, and the audit that compares
what senders got acked, what the `messages` table holds and what
recipients received: the fault tests (test_faults.py) and the soak
(test_soak.py) break the stack while it runs.

Each user is a Peer: one WebSocket connection that behaves as
PROTOCOL.md section 3a asks of a client: it reconnects with jittered
exponential backoff (by default 0.1 s doubling to 2 s), resends every unacked send
with the same messageId after a reconnect, after `unavailable` or
`rate_limited`, and when no answer came for RESEND_AFTER seconds; it acks
every `message` it receives at once, and acks again what an ack answered
with `unavailable` got no ack for (the server answers a connection's
frames in order, so the answers pair with the ack frames). Users come in pairs that send to
each other, so a recipient's counts say exactly what reached it.

The audit (Traffic.audit) after drain():
  sent        messages made (distinct messageIds)
  acked       of those, acked to their sender
  stored      rows in `messages` with the run's ids
  received    distinct ids that reached their recipient
  lost        acked but never received (must be 0)
  unstored    acked but not in the table (must be 0: an ack is a COMMIT)
  duplicates  deliveries beyond the first (a recipient got an id twice)
  undelivered stored rows whose status is still `sent` (a recipient's ack
              that did not count)
  refused     `rate_limited` answers (refused_acks: those for anything
              but a send, a bug: acks are never refused); errors: other
              error codes
Every wait is bounded; everything is on loopback (WS_URL).
"""
import asyncio
import collections
import json
import random
import time
import urllib.parse

import websockets

from parley_test import WS_URL, sql, uid

RESEND_AFTER = 4.0   # seconds without an ack before a send is repeated
# A client keeps its sends within the server's rate limit (50 a second,
# 100 at once by default): what it queued while disconnected goes out at
# this pace after a reconnect instead of all at once.
SEND_RATE, SEND_BURST = 40.0, 80.0


class Peer:
    def __init__(self, traffic, user, partner):
        self.t = traffic
        self.user = user
        self.partner = partner
        self.ws = None
        self.n = 0
        self.pending = {}        # messageId -> frame (text), not yet acked
        self.sent_at = {}        # messageId -> last time it was sent
        self.acked = set()
        self.recv = collections.Counter()   # messageId -> deliveries
        self.paused = False      # a slow reader: stop reading
        self.rcvbuf = None       # SO_RCVBUF of its socket (slow reader)
        self.max_queue = 32      # frames websockets buffers unread
        self.tokens, self.tokens_at = SEND_BURST, time.monotonic()
        self.ack_fifo = collections.deque()  # ids of acks not answered
        self.reack = []          # (when, ids) acks to send again
        self.task = None
        self.stop = False
        self.connected_once = asyncio.Event()

    async def sock_args(self):
        """A socket with a small receive buffer for a slow reader, so
        that not reading fills Pushpin's buffers instead of the kernel's."""
        if self.rcvbuf is None:
            return {}
        import socket
        u = urllib.parse.urlsplit(self.t.url)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        s.setblocking(False)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(
                s, (u.hostname, u.port)), 5)
        except BaseException:
            s.close()
            raise
        return {"sock": s}

    async def churn(self):
        """Closes the connection (cleanly); run() reconnects."""
        ws = self.ws
        if ws is not None:
            self.t.churns += 1
            try:
                await asyncio.wait_for(ws.close(), 3)
            except Exception:
                pass

    def url(self):
        return f"{self.t.url}?userId={urllib.parse.quote(self.user, safe='')}"

    async def run(self):
        backoff = self.t.backoff[0]
        while not self.stop:
            try:
                ws = await websockets.connect(
                    self.url(), open_timeout=10, close_timeout=2,
                    ping_interval=None, max_size=2**24,
                    max_queue=self.max_queue, **(await self.sock_args()))
            except Exception as e:  # refused handshake, 502, timeout
                code = getattr(e, "status_code", None)
                self.t.count("connect_failed:" + (f"HTTP {code}" if code
                                                  else type(e).__name__))
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, self.t.backoff[1])
                continue
            backoff = self.t.backoff[0]
            self.ws = ws
            self.ack_fifo.clear()
            self.t.connects += 1
            self.connected_once.set()
            try:
                for mid, frame in list(self.pending.items()):
                    await self._send(mid, frame)
                if self.t.burst and self.n == 0:
                    await self.send_new()
                async for raw in ws:
                    await self.on_event(json.loads(raw))
                    while self.paused and not self.stop:
                        await asyncio.sleep(0.05)
            except websockets.exceptions.ConnectionClosed as e:
                if not self.stop:
                    self.t.count(f"closed:{e.code}")
            except Exception as e:
                if not self.stop:
                    self.t.count("client_error:" + type(e).__name__)
            finally:
                self.ws = None
            if not self.stop:
                self.t.drops += 1
                self.t.drop_times.append(time.monotonic())
                # A real client waits a little before it reconnects.
                await asyncio.sleep(random.uniform(0.05, 0.3))

    def _may_send(self):
        now = time.monotonic()
        self.tokens = min(SEND_BURST, self.tokens +
                          (now - self.tokens_at) * SEND_RATE)
        self.tokens_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def _send(self, mid, frame):
        """Sends (or, over the client's own pace, leaves it to the
        resend loop, which tries what was never sent every 0.5 s)."""
        ws = self.ws
        if ws is None or not self._may_send():
            return
        self.sent_at[mid] = time.monotonic()
        try:
            await ws.send(frame)
            self.t.attempts += 1
        except websockets.exceptions.ConnectionClosed:
            pass

    async def send_new(self):
        self.n += 1
        mid = f"{self.t.prefix}-{self.user}-{self.n}"
        frame = json.dumps({"action": "sendMessage", "messageId": mid,
                            "conversationId": self.t.conv(self.user,
                                                          self.partner),
                            "recipientId": self.partner,
                            "content": f"m{self.n} " + "x" * 40})
        self.pending[mid] = frame
        self.t.made.add(mid)
        self.t.made_at[mid] = time.monotonic()
        await self._send(mid, frame)

    async def send_ack(self, ids):
        ws = self.ws
        if ws is None or not ids:
            return
        self.ack_fifo.append(ids)
        try:
            await ws.send(json.dumps({"action": "ack", "messageIds": ids}))
        except websockets.exceptions.ConnectionClosed:
            pass

    async def resend_stale(self, now):
        due = [ids for at, ids in self.reack if at <= now]
        self.reack = [(at, ids) for at, ids in self.reack if at > now]
        for ids in due:
            await self.send_ack(ids)
        for mid, frame in list(self.pending.items()):
            if self.ws is not None and \
                    now - self.sent_at.get(mid, 0) >= RESEND_AFTER:
                if mid in self.sent_at:
                    self.t.resends += 1
                await self._send(mid, frame)

    def answered(self, mid):
        """Keeps the seconds from a message's first send to its first
        answer (ack or error)."""
        at = self.t.made_at.get(mid)
        if at is not None and mid not in self.t.answered:
            self.t.answered.add(mid)
            self.t.answer_times.append((time.monotonic(),
                                        time.monotonic() - at))

    async def on_event(self, ev):
        t, d = ev.get("type"), ev.get("data") or {}
        if t == "message":
            mid = d.get("messageId")
            if mid is None or not mid.startswith(self.t.prefix):
                return
            self.recv[mid] += 1
            self.t.recv_at.setdefault(mid, time.monotonic())
            await self.send_ack([mid])
        elif t == "ack" and d.get("action") == "ack":
            if self.ack_fifo:
                self.ack_fifo.popleft()
        elif t == "ack" and d.get("action") == "sendMessage":
            mid = d.get("messageId")
            self.answered(mid)
            if mid in self.pending:
                del self.pending[mid]
                self.acked.add(mid)
                self.t.ack_times.append(time.monotonic())
            if d.get("duplicate"):
                self.t.dup_acks += 1
        elif t == "error" and d.get("action") == "ack":
            ids = self.ack_fifo.popleft() if self.ack_fifo else []
            if d.get("code") == "unavailable":
                self.t.unavailable += 1
                self.reack.append((time.monotonic() + 0.5, ids))
            else:
                self.t.count(f"error:{d.get('code')}")
        elif t == "error":
            code = d.get("code")
            mid = d.get("messageId")
            self.answered(mid)
            if code in ("unavailable", "rate_limited"):
                if code == "rate_limited":
                    self.t.refused += 1
                    if d.get("action") != "sendMessage":
                        self.t.refused_other += 1
                else:
                    self.t.unavailable += 1
                if mid in self.pending:
                    # Again in about half a second.
                    self.sent_at[mid] = (time.monotonic() - RESEND_AFTER +
                                         random.uniform(0.3, 0.7))
            else:
                self.t.count(f"error:{code}")


class Traffic:
    """pairs pairs of users sending `rate` messages a second in all."""

    def __init__(self, name, pairs=20, rate=200.0, url=None, burst=False,
                 backoff=(0.1, 2.0)):
        self.name = name
        # Reconnect backoff: first wait and cap, in seconds (jittered,
        # doubling). The tests' is short; PROTOCOL.md 3a's is (1, 30).
        self.backoff = backoff
        self.url = url or WS_URL
        self.prefix = uid(f"t{name}")
        self.rate = rate
        self.burst = burst   # each peer sends one message as it connects
        self.peers = []
        for i in range(pairs):
            a = f"{self.prefix}-a{i}"
            b = f"{self.prefix}-b{i}"
            pa, pb = Peer(self, a, b), Peer(self, b, a)
            self.peers += [pa, pb]
        self.made = set()
        self.made_at = {}
        self.recv_at = {}
        self.ack_times = []
        self.answer_times = []   # (when, seconds from send to answer)
        self.answered = set()
        self.events = collections.Counter()
        self.attempts = self.resends = self.dup_acks = 0
        self.refused = self.unavailable = 0
        self.refused_other = 0   # rate_limited for anything but a send
        self.connects = self.drops = self.churns = 0
        self.drop_times = []
        self.sending = False
        self.sender_task = None
        self.t0 = None

    def conv(self, a, b):
        return "c-" + "-".join(sorted([a[-6:], b[-6:]])) + "-" + self.prefix

    def count(self, what):
        self.events[what] += 1

    def add_peer(self, name, partner):
        """One more user (partner: whom it sends to, a user id)."""
        p = Peer(self, f"{self.prefix}-{name}", partner)
        self.peers.append(p)
        return p

    def peer(self, user):
        return next(p for p in self.peers if p.user == user)

    async def start(self, send=True, timeout=30):
        """Connects every peer (all at once; waits at most timeout) and
        starts sending."""
        self.t0 = time.monotonic()
        for p in self.peers:
            p.task = asyncio.ensure_future(p.run())
        await asyncio.wait_for(asyncio.gather(
            *(p.connected_once.wait() for p in self.peers)), timeout)
        if send:
            self.sending = True
        self.sender_task = asyncio.ensure_future(self._sender())

    async def _sender(self):
        """Sends at self.rate (round robin over the peers) while
        self.sending, and repeats stale sends, until drain() ends."""
        made = 0
        tick = time.monotonic()
        last_resend = tick
        rr = 0
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            if self.sending:
                due = int((now - tick) * self.rate) - made
                for _ in range(max(0, due)):
                    p = self.peers[rr % len(self.peers)]
                    rr += 1
                    if not p.paused:
                        await p.send_new()
                    made += 1
            else:
                tick, made = now, 0
            if now - last_resend >= 0.5:
                last_resend = now
                for p in self.peers:
                    await p.resend_stale(now)

    async def run_for(self, seconds):
        await asyncio.sleep(seconds)

    def acked(self):
        return set().union(*(p.acked for p in self.peers))

    def received(self):
        c = collections.Counter()
        for p in self.peers:
            c.update(p.recv)
        return c

    def settled(self):
        """Every send acked and every acked message received."""
        if any(p.pending for p in self.peers):
            return False
        got = self.received()
        return all(m in got for m in self.acked())

    async def drain(self, timeout=60.0):
        """Stops making messages; waits (at most timeout) until every send
        is acked and every acked message has reached its recipient, and
        the recipients' acks have been applied; then closes every
        connection. Returns the seconds it took."""
        self.sending = False
        t = time.monotonic()
        self.sent_for = t - self.t0
        deadline = t + timeout
        while time.monotonic() < deadline and not self.settled():
            await asyncio.sleep(0.2)
        # The recipients' acks are applied by their next requests: give
        # them a moment, then stop.
        while time.monotonic() < deadline and self.undelivered() > 0:
            await asyncio.sleep(0.3)
        took = time.monotonic() - t
        await self.close()
        return took

    async def close(self):
        if self.sender_task is not None:
            self.sender_task.cancel()
        for p in self.peers:
            p.stop = True
            p.paused = False
        for p in self.peers:
            if p.ws is not None:
                try:
                    await asyncio.wait_for(p.ws.close(), 3)
                except Exception:
                    pass
        for p in self.peers:
            if p.task is not None:
                p.task.cancel()
        await asyncio.gather(*(p.task for p in self.peers if p.task),
                             return_exceptions=True)

    def stored(self):
        return {r[0] for r in sql(
            "SELECT message_id FROM messages WHERE message_id LIKE "
            ":'p1' || '-%'", self.prefix)}

    def undelivered(self):
        return int(sql("SELECT count(*) FROM messages WHERE message_id "
                       "LIKE :'p1' || '-%' AND status = 'sent'",
                       self.prefix)[0][0])

    def audit(self):
        acked = self.acked()
        got = self.received()
        stored = self.stored()
        a = {
            "seconds": round(getattr(self, "sent_for", 0.0), 1),
            "sent": len(self.made),
            "acked": len(acked),
            "stored": len(stored),
            "received": len(got),
            "lost": len(acked - set(got)),
            "unstored": len(acked - stored),
            "duplicates": sum(n - 1 for n in got.values() if n > 1),
            "undelivered": self.undelivered(),
            "unacked": sum(len(p.pending) for p in self.peers),
            "refused": self.refused,
            "refused_acks": self.refused_other,
            "unavailable": self.unavailable,
            "resends": self.resends,
            "duplicate_acks": self.dup_acks,
            "slowest_answer": round(max((w for _, w in self.answer_times),
                                        default=0.0), 1),
            "reconnects": self.drops - self.churns,
            "churns": self.churns,
            "errors": {k: v for k, v in self.events.items()
                       if k.startswith("error:")},
            "closes": {k: v for k, v in self.events.items()
                       if not k.startswith("error:")},
        }
        return a

    def recovery(self, lifted):
        """Seconds from `lifted` (a monotonic time) until the first ack
        after it, and until every message made before it had reached its
        recipient (None: never)."""
        first_ack = next((t - lifted for t in sorted(self.ack_times)
                          if t >= lifted), None)
        before = [m for m, t in self.made_at.items() if t < lifted]
        times = [self.recv_at.get(m) for m in before]
        caught_up = (max(times) - lifted if times and None not in times
                     else None)
        if caught_up is not None:
            caught_up = max(caught_up, 0.0)
        return first_ack, caught_up


def summary(name, a, extra=""):
    """One line for the test's log (and the README's figures)."""
    dup_pct = 100.0 * a["duplicates"] / max(a["sent"], 1)
    return (f"{name}: {a['seconds']} s, sent {a['sent']} acked {a['acked']} stored "
            f"{a['stored']} received {a['received']} lost {a['lost']} "
            f"unstored {a['unstored']} duplicates {a['duplicates']} "
            f"({dup_pct:.1f}%) undelivered {a['undelivered']} refused "
            f"{a['refused']} (acks {a['refused_acks']}) unavailable "
            f"{a['unavailable']} resends "
            f"{a['resends']} slowest answer {a['slowest_answer']} s reconnects "
            f"{a['reconnects']} errors "
            f"{a['errors']} closes {a['closes']}{extra}")
