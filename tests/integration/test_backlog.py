"""A reconnecting client gets a backlog of 10,000 unacked messages
completely and in order, in pages that stay under Pushpin's 1,000,000-byte
response cap, without holding a worker for long (acks pull the next
page). Also: a page of large messages is split by size, not only count."""
import asyncio
import time

from parley_test import (connect, diag, eq, ok, poll_value, run, sql,
                         sql_value, uid)

BACKLOG = 10000


def insert_backlog(prefix, sender, recipient, n, content_sql):
    sql(f"""INSERT INTO messages (message_id, conversation_id, sender_id,
                sender_name, recipient_id, content)
            SELECT :'p1' || '-' || lpad(i::text, 6, '0'), 'c-backlog',
                   :'p2', 'Backlog', :'p3', {content_sql}
            FROM generate_series(1, {n}) AS i ORDER BY i""",
        prefix, sender, recipient)


async def drain(client, expected, deadline_s, ack_every=200):
    """Receives message events like a client would, acking what arrived
    whenever the stream pauses or ack_every are waiting, until `expected`
    distinct ids arrived or the deadline passed."""
    seen, order, pending = set(), [], []
    deadline = time.monotonic() + deadline_s
    while len(seen) < expected and time.monotonic() < deadline:
        wait = 0.05 if pending else 5.0
        try:
            ev = await client.recv(
                timeout=min(wait, max(0.01, deadline - time.monotonic())))
        except asyncio.TimeoutError:
            if pending:  # acks pull the next page
                await client.send({"action": "ack", "messageIds": pending})
                pending = []
                continue
            break
        if ev["type"] != "message":
            continue
        mid = ev["data"]["messageId"]
        if mid not in seen:
            seen.add(mid)
            order.append(mid)
        pending.append(mid)
        if len(pending) >= ack_every:
            await client.send({"action": "ack", "messageIds": pending})
            pending = []
    if pending:
        await client.send({"action": "ack", "messageIds": pending})
    return order


async def test_ten_thousand_backlog():
    recipient = uid("bl-r")
    insert_backlog(uid("bl"), uid("bl-s"), recipient, BACKLOG, "'message ' || i")
    eq(sql_value("SELECT count(*) FROM messages WHERE recipient_id = :'p1' "
                 "AND status = 'sent'", recipient), str(BACKLOG),
       f"{BACKLOG} pending messages stored")
    started = time.monotonic()
    c = await connect(recipient)
    order = await drain(c, BACKLOG, deadline_s=90)
    took = time.monotonic() - started
    diag(f"backlog of {BACKLOG} received in {took:.1f} s")
    eq(len(order), BACKLOG, "every pending message arrived")
    eq(order, sorted(order), "oldest first, in receive order")
    await asyncio.sleep(0.5)
    await c.request({"action": "ping"}, "pong")  # last acks are in
    left = await poll_value("0", "SELECT count(*) FROM messages WHERE "
                            "recipient_id = :'p1' AND status = 'sent'",
                            recipient)
    eq(left, "0", "all of them are delivered after the acks")
    await c.close()
    c = await connect(recipient)
    eq([e for e in await c.quiet(1.0) if e["type"] == "message"], [],
       "a new connection gets none of them again")
    await c.close()


async def test_large_messages_page_by_size():
    """30 messages of 60 KB make 1.8 MB: more than one answer may carry;
    they still all arrive, in order."""
    recipient = uid("big-r")
    insert_backlog(uid("big"), uid("big-s"), recipient, 30, "repeat('x', 60000)")
    c = await connect(recipient)
    order = await drain(c, 30, deadline_s=60, ack_every=5)
    eq(len(order), 30, "30 large messages arrive")
    eq(order, sorted(order), "in order")
    await c.close()


async def test_history_fits_the_answer_cap():
    """getMessages with limit 200 over 12 messages of 30 KB: each answer
    stays under the 80,000-byte event limit (Pushpin drops a larger
    message to a client), says hasMore, and paging with before gets the
    rest, newest first, each message once."""
    me, other = uid("hist-me"), uid("hist-other")
    prefix = uid("hist")
    sql("""INSERT INTO messages (message_id, conversation_id, sender_id,
                recipient_id, content, status)
            SELECT :'p1' || '-' || lpad(i::text, 3, '0'), :'p1', :'p2', :'p3',
                   repeat('y', 30000), 'delivered'
            FROM generate_series(1, 12) AS i ORDER BY i""",
        prefix, other, me)
    c = await connect(me)
    seen, before, pages = [], None, 0
    while pages < 10:
        frame = {"action": "getMessages", "conversationId": prefix,
                 "limit": 200}
        if before:
            frame["before"] = before
        await c.send(frame)
        raw = await asyncio.wait_for(c.ws.recv(), 10)
        ok(len(raw) <= 80000, f"page {pages + 1} is {len(raw)} bytes")
        page = __import__("json").loads(raw)["data"]
        pages += 1
        ids = [m["messageId"] for m in page["messages"]]
        seen += ids
        if not page["hasMore"]:
            break
        ok(ids, "a page with hasMore is not empty")
        before = ids[-1]
    ok(pages > 1, f"360 KB of history took {pages} pages")
    eq(seen, sorted(seen, reverse=True), "newest first across pages")
    eq(len(seen), 12, "every message once")
    eq(len(set(seen)), 12, "no message twice")
    await c.close()


if __name__ == "__main__":
    run(test_ten_thousand_backlog, test_large_messages_page_by_size,
        test_history_fits_the_answer_cap)
