"""Fault tests: break one part of the stack while steady traffic flows
between many users (tests/integration/traffic.py), then audit what
senders got acked against the `messages` table and what recipients
received. In every run: nothing acked is lost or missing from the table,
every send is acked in the end (clients retry as PROTOCOL.md 3a says),
every delivered message ends `delivered`, no ack refused with
`rate_limited` and no unexpected error; duplicates (a recipient getting
an id twice) are 0 without a fault and at most 10% of the run's messages
with one. Sends refused with `rate_limited` are 0 without a fault; after
one, a client that resends everything it queued while disconnected may
exceed its budget (they are counted, retried and acked in the end).

The faults: none; PostgreSQL stopped and started; workers SIGKILLed
mid-traffic; Pushpin killed and restarted (then the expiry job leaves
no stale rows); the server (lighttpd, or nginx and the parley-ws
--listen behind it: PARLEY_SERVER) stopped and started; PostgreSQL's
disk full (the `messages` table moved to a small tmpfs that is then
filled); a lock held on `messages` (backpressure); SIGTERM to the
server; a request in hand when the server stops; the whole stack stopped as
`scripts/up --stop` does and started again, messages in flight; a slow
reader that stops reading while 2,000 messages are sent to it; a burst of
hundreds of connections that each send at once; frames just under and
over the bridge's size limit.

Sizes come from the environment (scripts/faults --long raises them):
  PARLEY_FAULT_SECONDS  traffic seconds per fault test (default 12)
  PARLEY_FAULT_PAIRS    user pairs (default 20)
  PARLEY_FAULT_RATE     messages a second, all users (default 200)
  PARLEY_FAULT_SLOW     messages to the slow reader (default 2000)
  PARLEY_FAULT_BURST    connections in the burst (default 300)
  PARLEY_FAULT_BACKOFF  the burst's reconnect backoff, "FIRST,CAP" seconds
                        (default 0.1,2)
Every figure line starts with "# figures" (scripts/faults collects them).
"""
import asyncio
import json
import os
import subprocess
import time

import websockets

from parley_test import (BUILD, DB_URL, ROOT, STACK, STATE, connect, diag,
                         eq, ok, run, send_frame, sql, sql_value, uid)
from traffic import Traffic, summary

SECONDS = float(os.environ.get("PARLEY_FAULT_SECONDS", "12"))
SERVER = STACK.get("SERVER", "lighttpd")  # in front of the workers
PAIRS = int(os.environ.get("PARLEY_FAULT_PAIRS", "20"))
RATE = float(os.environ.get("PARLEY_FAULT_RATE", "200"))
SLOW = int(os.environ.get("PARLEY_FAULT_SLOW", "2000"))
BURST = int(os.environ.get("PARLEY_FAULT_BURST", "300"))
# The burst's reconnect backoff, first wait and cap in seconds (PROTOCOL.md
# 3a's is 1,30; the tests' default is short).
BACKOFF = tuple(float(x) for x in
                os.environ.get("PARLEY_FAULT_BACKOFF", "0.1,2").split(","))
WARM = 2.0          # seconds of traffic before the fault
DRAIN = 90.0        # at most this long for everything to arrive after it
MAX_DUP = 0.10      # duplicates allowed with a fault, of the run's messages


def stackctl(action):
    r = subprocess.run([os.path.join(ROOT, "scripts", "stackctl"), STATE,
                        action], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"stackctl {action}: {r.stdout}{r.stderr}")
    return r.stdout


async def ctl(action):
    """stackctl in a thread: the traffic goes on meanwhile."""
    return await asyncio.to_thread(stackctl, action)


def check(name, t, a, fault=True, took=None, lifted=None, extra="",
          max_dups=None):
    """The audit's assertions, and one figures line. max_dups: the
    duplicates allowed (default: 10% of the run's messages)."""
    first_ack, caught_up = t.recovery(lifted) if lifted else (None, None)
    rec = ""
    if lifted is not None:
        fa = "never" if first_ack is None else f"{first_ack:.1f} s"
        cu = "never" if caught_up is None else f"{caught_up:.1f} s"
        rec = f" recovery: first ack {fa}, caught up {cu}"
    diag("figures " + summary(name, a, rec + extra))
    ok(a["sent"] > 0, f"{name}: traffic flowed ({a['sent']} messages)")
    eq(a["unacked"], 0, f"{name}: every send was acked in the end")
    eq(a["unstored"], 0, f"{name}: every acked message is in the table")
    eq(a["lost"], 0, f"{name}: no acked message was lost")
    eq(a["undelivered"], 0, f"{name}: every received message is "
       "'delivered' (the recipients' acks counted)")
    eq(a["refused_acks"], 0, f"{name}: no ack refused with rate_limited")
    if not fault:
        eq(a["refused"], 0, f"{name}: no send refused with rate_limited")
    eq(a["errors"], {}, f"{name}: no error but unavailable")
    if fault:
        limit = MAX_DUP * a["sent"] if max_dups is None else max_dups
        ok(a["duplicates"] <= limit,
           f"{name}: duplicates {a['duplicates']} <= {limit:.0f}", a)
    else:
        eq(a["duplicates"], 0, f"{name}: no duplicates without a fault")


async def fault_case(name, fault, pairs=PAIRS, rate=RATE):
    """Traffic for SECONDS; `fault` (async) runs after WARM seconds and
    returns when the fault is lifted."""
    t = Traffic(name, pairs, rate)
    await t.start()
    lifted = None
    try:
        await asyncio.sleep(WARM)
        if fault is not None:
            await fault(t)
            lifted = time.monotonic()
        rest = SECONDS - (time.monotonic() - t.t0)
        await asyncio.sleep(max(rest, 2.0))
        took = await t.drain(DRAIN)
    finally:
        await t.close()
    a = t.audit()
    check(name, t, a, fault is not None, took, lifted)
    return t, a


async def test_no_fault():
    t, a = await fault_case("none", None)
    eq(a["unavailable"], 0, "none: no unavailable")
    eq(a["reconnects"], 0, "none: no connection dropped")
    eq(a["resends"], 0, "none: no send had to be repeated")


async def test_postgres_restart():
    async def fault(t):
        await ctl("pg-stop")
        await asyncio.sleep(5)
        await ctl("pg-start")
    t, a = await fault_case("postgres-restart", fault)
    ok(a["unavailable"] > 0, "postgres-restart: sends meanwhile got "
       "unavailable (never an ack)", a)


def worker_pids():
    """The stack's parley-ws pids (scripts/stackctl pids)."""
    return {int(pid) for name, pid in
            (line.split() for line in stackctl("pids").splitlines())
            if name == "parley-ws"}


async def test_worker_kill():
    killed = []
    before = worker_pids()

    async def fault(t):
        for _ in range(3):
            killed.append((await ctl("worker-kill")).strip())
            await asyncio.sleep(1)
    t, a = await fault_case("worker-kill", fault)
    eq(len(killed), 3, f"worker-kill: 3 workers SIGKILLed ({killed})")
    after = worker_pids()
    ok(not after & {int(k) for k in killed} and len(after) == len(before),
       "worker-kill: their parent replaced them", (before, killed, after))


async def test_pushpin_restart():
    async def fault(t):
        await ctl("pushpin-kill")
        await asyncio.sleep(1)
        await ctl("pushpin-start")
    t, a = await fault_case("pushpin-restart", fault)
    ok(a["reconnects"] >= 2 * PAIRS, "pushpin-restart: every client was "
       f"dropped and reconnected ({a['reconnects']})")
    users = [p.user for p in t.peers]
    stale = sql_value("SELECT count(*) FROM connections WHERE user_id = "
                      "ANY(string_to_array(:'p1', ','))", ",".join(users))
    r = subprocess.run([os.path.join(BUILD, "src", "parley-expire"),
                        "--config", os.path.join(STATE, "parley-expire.conf"),
                        "--reconcile", "--grace", "0"],
                       capture_output=True, text=True, timeout=120)
    eq(r.returncode, 0, "pushpin-restart: the expiry job ran", )
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = "
                 "ANY(string_to_array(:'p1', ','))", ",".join(users)), "0",
       f"pushpin-restart: no stale connection rows after it (were {stale})")


async def test_lighttpd_restart():
    async def fault(t):
        await ctl("server-stop")
        await asyncio.sleep(1)
        await ctl("server-start")
    await fault_case(f"{SERVER}-restart", fault)


def pg_owner():
    data = sql_value("SHOW data_directory")
    st = os.stat(data)
    return st.st_uid, st.st_gid


async def test_disk_full():
    """The `messages` table on a 32 MB tmpfs (its own tablespace), which a
    file then fills: sends get unavailable, never an ack, until the file
    is deleted; then the same sends are acked without a restart."""
    # Outside the state dir: PostgreSQL's user may not be able to reach
    # it (a checkout in a 0700 directory).
    where = f"/var/tmp/parley-fault-disk-{uid('d')}"
    os.makedirs(where, exist_ok=True)
    mounted = moved = False
    filler = os.path.join(where, "filler")
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs",
                        where], check=True, timeout=30)
        mounted = True
        os.makedirs(os.path.join(where, "ts"))
        os.chown(os.path.join(where, "ts"), *pg_owner())
        sql("CREATE TABLESPACE parley_fault LOCATION :'p1'",
            os.path.join(where, "ts"))
        # Compact first, so that new rows need new pages at once (free
        # space left by dead rows would take them for a while).
        sql("VACUUM FULL messages")
        sql("ALTER TABLE messages SET TABLESPACE parley_fault")
        moved = True
        full = {}

        async def fault(t):
            def fill():
                with open(filler, "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * (1 << 20))
                            f.flush()
                    except OSError:
                        pass
            await asyncio.to_thread(fill)
            st = os.statvfs(where)
            full["free"] = st.f_bavail * st.f_frsize
            full["at"] = time.monotonic()
            full["unavailable"] = t.unavailable
            acks = len(t.ack_times)
            # Rows still fit in pages PostgreSQL added ahead (under
            # contention it extends a table by up to 512 pages at once):
            # wait for the first refusal, at most 30 s, then 2 s more.
            for _ in range(60):
                if t.unavailable > full["unavailable"]:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)
            full["held"] = round(time.monotonic() - full["at"], 1)
            full["during"] = t.unavailable - full["unavailable"]
            full["acks"] = len(t.ack_times) - acks
            os.unlink(filler)
        t, a = await fault_case("disk-full", fault)
        diag(f"figures disk-full: while full ({full.get('held')} s): "
             f"{full.get('during')} unavailable, {full.get('acks')} acks "
             "(into pages added before it filled)")
        eq(full.get("free"), 0, "disk-full: the tmpfs was full")
        ok(full.get("during", 0) > 0, "disk-full: sends got unavailable "
           f"while the disk was full ({full.get('during')})")
    finally:
        if os.path.exists(filler):
            os.unlink(filler)
        if moved:
            sql("ALTER TABLE messages SET TABLESPACE pg_default")
        if mounted:
            sql("DROP TABLESPACE IF EXISTS parley_fault")
            subprocess.run(["umount", where], timeout=30)
        os.rmdir(where)


async def test_database_lock():
    """Backpressure: an operator's LOCK TABLE messages held for 6 s. Each
    request waiting on it gives up after the workers' lock_timeout (2 s)
    with unavailable, so workers do not pile up behind it; no connection
    is dropped and everything goes through after."""
    async def fault(t):
        p = await asyncio.create_subprocess_exec(
            "psql", DB_URL, "-X", "-q", "-c",
            "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; "
            "SELECT pg_sleep(6); COMMIT;",
            stdout=asyncio.subprocess.DEVNULL)
        await asyncio.wait_for(p.wait(), 30)
    t, a = await fault_case("database-lock", fault)
    ok(a["unavailable"] > 0, "database-lock: waiting sends got "
       f"unavailable ({a['unavailable']})")
    ok(a["slowest_answer"] < 6.0, "database-lock: every send was answered "
       f"before the 6 s lock ended ({a['slowest_answer']} s at most)")
    eq(a["reconnects"], 0, "database-lock: no connection was dropped")


async def test_stop_finishes_request_in_hand():
    """A send that a worker is serving (held up 1.5 s by a lock) when
    the server is stopped: the stop waits, the worker finishes it, the
    sender gets its ack and the row is stored."""
    a = await connect(uid("inhand-a"))
    b = await connect(uid("inhand-b"))
    mid = uid("inhand-m")
    lock = await asyncio.create_subprocess_exec(
        "psql", DB_URL, "-X", "-q", "-c",
        "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; "
        "SELECT pg_sleep(1.5); COMMIT;", stdout=asyncio.subprocess.DEVNULL)
    try:
        await asyncio.sleep(0.3)
        await a.send(send_frame(a.user, b.user, uid("inhand-c"), "in hand",
                                mid))
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        await ctl("server-stop")
        stop_took = time.monotonic() - t0
        ev = await a.expect(lambda e: e.get("type") in ("ack", "error"), 10)
        eq((ev["type"], ev["data"].get("messageId")), ("ack", mid),
           "the request in hand was finished and answered: ack")
        eq(sql_value("SELECT count(*) FROM messages WHERE message_id = "
                     ":'p1'", mid), "1", "and its message is stored")
        diag(f"figures {SERVER}'s graceful stop took {stop_took:.1f} s "
             "with a request in hand")
    finally:
        await asyncio.wait_for(lock.wait(), 30)
        await ctl("server-start")
    await a.close()
    await b.close()


async def test_lighttpd_sigterm():
    """SIGTERM to the server (lighttpd's immediate stop, not the graceful one), and
    a start: a request cut off may be committed without its ack reaching
    the client, which then resends and gets "duplicate": true; nothing
    acked is lost. (Pushpin's SIGTERM is in test_clean_restart: that is
    how scripts/up --stop stops it.)"""
    async def fault(t):
        await ctl("server-term")
        await ctl("server-start")
    await fault_case(f"{SERVER}-sigterm", fault)


async def test_clean_restart():
    """scripts/up --stop's sequence (parley_stack_stop) with messages in
    flight, then a start: nothing acked is lost."""
    async def fault(t):
        await ctl("restart")
    await fault_case("stop-and-start", fault)


async def test_slow_reader():
    """A recipient that stops reading (a small receive buffer, so Pushpin's
    buffers fill and it drops publishes or the connection) while SLOW
    messages are sent to it by 10 senders (20 a second each, within the
    rate limit), then reads again: everything arrives."""
    t = Traffic("slow", 0, 0)
    reader = t.add_peer("reader", "nobody")
    senders = [t.add_peer(f"s{i}", reader.user) for i in range(10)]
    reader.rcvbuf = 4096
    reader.max_queue = 1
    await t.start()
    try:
        reader.paused = True
        t0 = time.monotonic()
        for i in range(SLOW):
            await senders[i % len(senders)].send_new()
            if i % 20 == 19:
                await asyncio.sleep(0.1)   # 200 a second
        # Until every send is acked (the reader reads nothing).
        deadline = time.monotonic() + 60
        while (any(s.pending for s in senders) and
               time.monotonic() < deadline):
            await asyncio.sleep(0.2)
        sent_for = time.monotonic() - t0
        got_while_paused = len(reader.recv)
        reader.paused = False
        lifted = time.monotonic()
        await t.drain(DRAIN + 30)
    finally:
        await t.close()
    a = t.audit()
    check("slow-reader", t, a, True, lifted=lifted,
          extra=f" (sent over {sent_for:.1f} s; the reader had "
          f"{got_while_paused} before it read again)")


async def test_burst():
    """BURST connections opened at once, each sending a message as soon as
    it is connected (Pushpin refuses bursts over ~100 requests with 502
    or drops them with 1006; clients back off and retry)."""
    t = Traffic("burst", BURST // 2, 0, burst=True, backoff=BACKOFF)
    try:
        t0 = time.monotonic()
        await t.start(send=False, timeout=150)
        diag(f"figures burst: all {BURST} connected after "
             f"{time.monotonic() - t0:.1f} s")
        await asyncio.sleep(1)
        await t.drain(DRAIN)
    finally:
        await t.close()
    a = t.audit()
    # Each user gets one message: a copy comes again only with a new
    # connection (a dropped one's unacked message), so at most one
    # duplicate per reconnect.
    check("burst", t, a, True, extra=f" (connects {t.connects})",
          max_dups=max(MAX_DUP * a["sent"], a["reconnects"]))
    eq(a["sent"], BURST, f"burst: each of the {BURST} connections sent")


BRIDGE_FRAME_LIMIT = 200000   # pushpin-proxy's WebSocket-over-HTTP buffer


async def test_oversized_frames():
    """Frames just under the bridge's limit reach a worker and get a clear
    error with the connection kept; frames over it are closed by Pushpin
    (1006, before any worker sees them: a bridge limit, see the README),
    and nothing else is harmed: the client reconnects and sends."""
    user = uid("big")
    under = BRIDGE_FRAME_LIMIT - 2000
    msg = json.dumps({"action": "sendMessage", "messageId": uid("big-m"),
                      "conversationId": uid("big-c"), "recipientId":
                      uid("big-r"), "content": "x" * (under - 200)})
    ids = json.dumps({"action": "ack", "messageIds":
                      [f"i{n:07d}" for n in range((under - 40) // 12)]})
    cases = [("a message of %d bytes" % len(msg), msg, "too_large"),
             ("%d nested brackets" % under, "[" * under, "invalid_json"),
             ("an ack of %d ids (%d bytes)" % ((under - 40) // 12, len(ids)),
              ids, "invalid_field")]
    c = await connect(user)
    for name, frame, code in cases:
        ok(len(frame) < BRIDGE_FRAME_LIMIT, f"{name}: under the limit")
        await c.send(frame)
        ev = await c.expect("error", 10)
        eq(ev["data"]["code"], code, f"{name}: {code}")
        pong = await c.request({"action": "ping"}, "pong")
        eq(pong["type"], "pong", f"{name}: the connection stays")
    await c.close()
    over = BRIDGE_FRAME_LIMIT + 50000
    for name, frame in [("a message of %d bytes" % over, json.dumps(
            {"action": "sendMessage", "messageId": uid("big-m2"),
             "conversationId": uid("big-c"), "recipientId": uid("big-r"),
             "content": "x" * over})),
            ("%d nested brackets" % over, "[" * over),
            ("an ack of 100,000 ids", json.dumps(
                {"action": "ack", "messageIds":
                 [f"i{n:07d}" for n in range(100000)]}))]:
        c = await connect(user)
        await c.send(frame)
        try:
            ev = await c.recv(10)
            got = ("event", ev.get("type"))
        except websockets.exceptions.ConnectionClosed as e:
            got = ("closed", e.code)
        eq(got, ("closed", 1006), f"{name}: over the bridge's limit, "
           "Pushpin closes the connection (1006)")
        c = await connect(user)
        pong = await c.request({"action": "ping"}, "pong")
        eq(pong["type"], "pong", f"{name}: a new connection works")
        await c.close()
    eq(sql_value("SELECT count(*) FROM messages WHERE conversation_id = "
                 ":'p1'", uid("big-c")), "0", "nothing was stored")


if __name__ == "__main__":
    run(test_no_fault, test_postgres_restart, test_worker_kill,
        test_pushpin_restart, test_lighttpd_restart, test_disk_full,
        test_database_lock, test_stop_finishes_request_in_hand,
        test_lighttpd_sigterm, test_clean_restart, test_slow_reader,
        test_burst, test_oversized_frames, timeout=SECONDS + DRAIN + 180)
