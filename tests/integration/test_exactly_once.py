"""Exactly once while nothing fails (README, "Delivery
guarantees"): a client that acks everything sees no duplicates, whatever else
it sends (pings, keep-alives, history requests); the backlog reaches a
client that never sends a frame; an answer to a request behind a large
backlog carries its data; messages committed while a recipient connects
are not lost."""
import asyncio
import time

from parley_test import (connect, diag, eq, ok, run, send_frame, sql,
                         sql_value, uid)


def insert_backlog(prefix, sender, recipient, n):
    sql("""INSERT INTO messages (message_id, conversation_id, sender_id,
               recipient_id, content)
           SELECT :'p1' || '-' || lpad(i::text, 6, '0'), :'p1', :'p2',
                  :'p3', 'backlog ' || i
           FROM generate_series(1, """ + str(n) + ") AS i ORDER BY i",
        prefix, sender, recipient)


async def collect(client, seconds, ack=True, until=None):
    """Message ids received within `seconds` (in order, with repeats),
    acking each one as it comes when `ack`; stops early once `until`
    distinct ids arrived."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (until is None or
                                           len(set(got)) < until):
        try:
            ev = await client.recv(timeout=max(0.01,
                                               deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if ev["type"] == "message":
            got.append(ev["data"]["messageId"])
            if ack:
                await client.send({"action": "ack",
                                   "messageIds": [ev["data"]["messageId"]]})
    return got


async def test_acking_client_sees_no_duplicates():
    a = await connect(uid("once-a"))
    b = await connect(uid("once-b"))
    await asyncio.sleep(0.3)  # both subscribed
    n = 60
    received = []

    async def recipient():
        received.extend(await collect(b, 7.0))

    task = asyncio.create_task(recipient())
    for i in range(n):
        await a.send(send_frame(a.user, b.user, uid("once-c"), f"m{i}",
                                uid(f"once-{i}")))
        if i % 3 == 0:  # other traffic on both connections
            await b.send({"action": "ping"})
            await a.send({"action": "getMessages",
                          "conversationId": uid("once-c"), "limit": 1})
        await asyncio.sleep(0.02)
    await task
    eq(len(set(received)), n, f"all {n} messages delivered")
    eq(len(received) - len(set(received)), 0, "no duplicates")
    eq(sql_value("SELECT count(*) FROM messages WHERE recipient_id = :'p1' "
                 "AND status = 'delivered'", b.user), str(n),
       "every row delivered")
    # 40 pings afterwards bring nothing back.
    for _ in range(40):
        await b.send({"action": "ping"})
    again = [e for e in await b.quiet(1.5) if e["type"] == "message"]
    eq(len(again), 0, "40 pings afterwards: no message events")
    await a.close()
    await b.close()


async def test_backlog_without_client_frames():
    """An original-format client never sends a frame: the backlog still
    arrives at once, pulled by pings its WebSocket stack answers, and a
    live message sent meanwhile arrives after it."""
    sender, user = uid("silent-s"), uid("silent-r")
    insert_backlog(uid("silent"), sender, user, 450)
    b = await connect(user)
    t0 = time.monotonic()
    got = await collect(b, 10.0, ack=False, until=450)
    took = time.monotonic() - t0
    eq(len(set(got)), 450, f"450 backlog messages without a frame sent "
       f"(in {took:.2f} s)")
    ok(took < 3.0, f"  within 3 s, not at keep-alive intervals ({took:.2f} s)")
    eq(got[:450], sorted(got[:450]), "  in order")
    a = await connect(sender)
    await a.request(send_frame(sender, user, "c-live", "live",
                               uid("silent-live")), "ack")
    late = await collect(b, 2.0, ack=False)
    eq(late, [uid("silent-live")], "a live message afterwards arrives "
       "within 2 s, once")
    await a.close()
    await b.close()


async def test_answer_behind_backlog_has_its_data():
    """getMessages right after connecting, behind a backlog that fills the
    answers: the messages event carries the history."""
    sender, user = uid("bh-s"), uid("bh-r")
    conv = uid("bh-conv")
    sql("""INSERT INTO messages (message_id, conversation_id, sender_id,
               recipient_id, content)
           SELECT :'p1' || '-' || i, :'p2', :'p3', :'p4', repeat('x', 60000)
           FROM generate_series(1, 40) AS i ORDER BY i""",
        uid("bh"), conv, sender, user)
    b = await connect(user)
    ev = await b.request({"action": "getMessages", "conversationId": conv,
                          "limit": 3}, "messages")
    eq((ev["type"], len(ev["data"].get("messages", []))), ("messages", 1),
       "the answer carries history (one 60 KB message fits one event)")
    ok(ev["data"].get("hasMore") is True, "  and says there is more")
    await b.close()


async def test_sends_while_connecting_are_not_lost():
    """Messages committed while the recipient connects (between its backlog
    query and its subscription) are delivered: by the backlog, live, or by
    the early check after the subscription; and none twice."""
    a = await connect(uid("race-a"))
    user = uid("race-b")
    n = 90  # under the rate limit's burst of 100
    stop = asyncio.Event()
    acked = []

    async def sender():
        for i in range(n):
            ev = await a.request(send_frame(a.user, user, "c-race", f"{i}",
                                            uid(f"race-{i}")), "ack")
            if ev["type"] == "ack":
                acked.append(ev["data"]["messageId"])
        stop.set()

    task = asyncio.create_task(sender())
    await asyncio.sleep(0.2)
    b = await connect(user)
    got = await collect(b, 8.0, until=n)
    await task
    missing = set(acked) - set(got)
    eq(len(acked), n, f"{n} sends acked")
    eq(len(missing), 0, "every acked message delivered")
    dups = len(got) - len(set(got))
    diag(f"duplicates around the subscription: {dups}")
    eq(dups, 0, "and none twice")
    await a.close()
    await b.close()


run(test_acking_client_sees_no_duplicates,
    test_backlog_without_client_frames,
    test_answer_behind_backlog_has_its_data,
    test_sends_while_connecting_are_not_lost)
