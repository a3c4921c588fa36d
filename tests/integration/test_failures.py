"""Faults: the database going away and coming back, Pushpin crashing, and
the expiry job (parley-expire) keeping the connections table true: dead
rows go, live rows stay, two jobs at once are safe, and a job that cannot
reach the database or Pushpin says so and exits non-zero."""
import asyncio
import os
import subprocess

from parley_test import (BUILD, CONNECTION_TTL, ROOT, STATE, connect, eq,
                         handshake_status, ok, run, send_frame, sql,
                         sql_value, uid)

# The expiry job runs as its own login user (parley_job: connections only).
CONF = os.path.join(STATE or "", "parley-expire.conf")


def stackctl(action):
    r = subprocess.run([os.path.join(ROOT, "scripts", "stackctl"), STATE,
                        action], capture_output=True, text=True, timeout=90)
    if r.returncode != 0:
        raise RuntimeError(f"stackctl {action}: {r.stdout}{r.stderr}")


def expire(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([os.path.join(BUILD, "src", "parley-expire"),
                           "--config", CONF, *args], capture_output=True,
                          text=True, timeout=120, env=e)


async def test_storage_down_and_back():
    a = await connect(uid("down-a"))
    b = await connect(uid("down-b"))
    mid = uid("down-m")
    stackctl("pg-stop")
    try:
        ev = await a.request(send_frame(a.user, b.user, "c-down", "later",
                                        mid), "ack", timeout=20)
        eq((ev["type"], ev["data"].get("code"), ev["data"].get("messageId")),
           ("error", "unavailable", mid),
           "a send while the database is down: unavailable, never an ack")
        eq(await handshake_status(f"userId={uid('down-c')}"), 503,
           "a handshake while the database is down: 503")
        pong = await a.request({"action": "ping"}, "pong")
        eq(pong["type"], "pong", "the connection stays usable")
    finally:
        stackctl("pg-start")
    ack = await a.request(send_frame(a.user, b.user, "c-down", "later", mid),
                          "ack", timeout=20)
    eq((ack["type"], ack["data"].get("duplicate")), ("ack", False),
       "the same send after the restart is acked (the worker reconnected)")
    got = await b.expect("message", 10)
    eq(got["data"]["messageId"], mid, "and delivered")
    eq(sql_value("SELECT count(*) FROM messages WHERE message_id = :'p1'",
                 mid), "1", "stored once")
    await a.close()
    await b.close()


async def test_expiry_keeps_live_rows():
    """TTL of CONNECTION_TTL seconds: a live connection refreshes its row
    on its requests; a dead row is deleted by the job."""
    live = await connect(uid("exp-live"))
    dead = uid("exp-dead")
    sql("INSERT INTO connections VALUES (:'p1', :'p2', now() - interval "
        "'1 hour', now() - interval '1 second')", uid("dead-conn"), dead)
    first = sql_value("SELECT expires_at FROM connections "
                      "WHERE user_id = :'p1'", live.user)
    await asyncio.sleep(CONNECTION_TTL / 2 + 1)
    await live.request({"action": "ping"}, "pong")  # a request refreshes
    later = sql_value("SELECT expires_at FROM connections "
                      "WHERE user_id = :'p1'", live.user)
    ok(later is not None and later > first,
       "a live connection's expires_at moves forward", f"{first} -> {later}")
    await asyncio.sleep(CONNECTION_TTL / 2 + 0.5)  # the first TTL is over
    r = expire()
    eq(r.returncode, 0, "parley-expire exits 0")
    ok("expired" in r.stderr, "and logs a summary line", r.stderr)
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 dead), "0", "the dead row is gone")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 live.user), "1", "the live row stays")
    eq(await live.request({"action": "ping"}, "pong"),
       {"type": "pong", "data": {}}, "and the connection works")
    await live.close()


async def test_two_jobs_at_once():
    n = 20000
    sql("INSERT INTO connections SELECT 'stale-' || :'p1' || '-' || i, "
        "'stale-user', now() - interval '2 days', now() - interval '1 day' "
        "FROM generate_series(1, :'p2'::int) AS i", uid("x"), n)
    env = dict(os.environ)
    procs = [subprocess.Popen([os.path.join(BUILD, "src", "parley-expire"),
                               "--config", CONF], stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120)[1] for p in procs]
    eq([p.returncode for p in procs], [0, 0], "two concurrent jobs exit 0")
    total = 0
    for o in outs:
        for word in o.split("expired ")[1:]:
            total += int(word.split()[0])
    ok(total >= n, f"together they expired all {n} rows", outs)
    eq(sql_value("SELECT count(*) FROM connections "
                 "WHERE user_id = 'stale-user'"), "0", "none is left")


async def test_pushpin_crash_then_reconcile():
    a = await connect(uid("crash-a"))
    b = await connect(uid("crash-b"))
    await a.request({"action": "ping"}, "pong")
    await b.request({"action": "ping"}, "pong")
    stackctl("pushpin-kill")
    try:
        eq(sql_value("SELECT count(*) FROM connections WHERE user_id IN "
                     "(:'p1', :'p2')", a.user, b.user), "2",
           "after a Pushpin crash the rows are stale (no DISCONNECT)")
    finally:
        stackctl("pushpin-start")
    c = await connect(uid("crash-c"))
    await c.request({"action": "ping"}, "pong")
    r = expire("--reconcile", "--grace", "0")
    eq(r.returncode, 0, "parley-expire --reconcile exits 0")
    ok("reconciled" in r.stderr, "and says what it did", r.stderr)
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id IN "
                 "(:'p1', :'p2')", a.user, b.user), "0",
       "rows of connections Pushpin lost are gone")
    eq(sql_value("SELECT count(*) FROM connections WHERE user_id = :'p1'",
                 c.user), "1", "the live connection's row stays")
    eq(await c.request({"action": "ping"}, "pong"),
       {"type": "pong", "data": {}}, "the new connection works")
    await c.close()


async def test_job_errors():
    r = expire(env={"PARLEY_DATABASE_URL":
                    "postgresql://parley@127.0.0.1:1/parley"})
    eq(r.returncode, 69, "database unreachable: exit 69 (EX_UNAVAILABLE)")
    ok("database unavailable" in r.stderr, "with a clear message", r.stderr)
    sql("INSERT INTO connections VALUES (:'p1', 'someone', now() - "
        "interval '1 hour', now() + interval '1 hour')", uid("to-check"))
    r = expire("--reconcile", "--grace", "0",
               env={"PARLEY_PUSHPIN_COMMAND_SPEC": "tcp://127.0.0.1:1"})
    eq(r.returncode, 75, "Pushpin not answering: exit 75 (EX_TEMPFAIL)")
    ok("did not answer" in r.stderr, "with a clear message", r.stderr)
    eq(sql_value("SELECT count(*) FROM connections WHERE connection_id = "
                 ":'p1'", uid("to-check")), "1",
       "a reconcile that cannot ask Pushpin deletes nothing")
    sql("DELETE FROM connections WHERE connection_id = :'p1'",
        uid("to-check"))
    r = expire("--bogus")
    eq(r.returncode, 64, "bad usage: exit 64")


if __name__ == "__main__":
    run(test_storage_down_and_back, test_expiry_keeps_live_rows,
        test_two_jobs_at_once, test_pushpin_crash_then_reconcile,
        test_job_errors)
