"""Delivery guarantees and the rest of the client contract (README,
"Client protocol"): offline delivery, acks and redelivery, idempotency,
sender identity, receipts, multi-device, history, delete, typing, limits
and order. The database is checked as the source of truth."""
import asyncio

from parley_test import (REDELIVERY_INTERVAL, collect, connect, eq, ids_of,
                         run, send_frame, sql, sql_value, uid)


async def send_all(client, frames):
    """Sends frames back to back, then waits for their acks (in order)."""
    for f in frames:
        await client.send(f)
    acks = []
    while len(acks) < len(frames):
        ev = await client.expect(lambda e: e["type"] in ("ack", "error"), 10)
        acks.append(ev)
    return acks


async def test_offline_delivery_and_ack():
    a = await connect(uid("od-a"))
    b_user = uid("od-b")
    mids = [uid(f"od-{i}") for i in range(5)]
    acks = await send_all(a, [send_frame(a.user, b_user, "c-od", f"m{i}", m)
                              for i, m in enumerate(mids)])
    eq([x["type"] for x in acks], ["ack"] * 5, "five sends to offline user acked")
    b = await connect(b_user)
    got = await collect(b, "message", 5)
    eq(ids_of(got), mids, "on connect, the backlog arrives oldest first")
    eq(sql("SELECT count(*) FROM messages WHERE recipient_id = :'p1' "
           "AND status = 'sent' AND delivered_at IS NULL", b_user),
       [["5"]], "before the ack they are still sent")
    ack = await b.request({"action": "ack", "messageIds": mids}, "ack")
    eq(ack["data"], {"action": "ack", "messageIds": mids, "skipped": []},
       "ack lists the applied ids")
    eq(sql("SELECT count(*) FROM messages WHERE recipient_id = :'p1' "
           "AND status = 'delivered' AND delivered_at IS NOT NULL", b_user),
       [["5"]], "ack moves sent -> delivered with delivered_at")
    st = await collect(a, "status", 5)
    eq(sorted(e["data"]["messageId"] for e in st), sorted(mids),
       "the sender gets a status event per message")
    eq({e["data"]["status"] for e in st}, {"delivered"}, "status delivered")
    again = await b.request({"action": "ack", "messageIds": mids[:1]}, "ack")
    eq(again["data"]["messageIds"], mids[:1],
       "acking again is a no-op listed as applied")
    eq(await a.quiet(0.5), [], "and sends no new status event")
    await b.close()
    b2 = await connect(b_user)
    eq(ids_of(await b2.quiet(1.0)), [], "acked messages never come again")
    await b2.close()
    await a.close()


async def test_unacked_redelivered_on_reconnect():
    a = await connect(uid("rr-a"))
    b_user = uid("rr-b")
    mid = uid("rr-m")
    await a.request(send_frame(a.user, b_user, "c-rr", "again", mid), "ack")
    for attempt in range(3):
        b = await connect(b_user)
        got = await collect(b, "message", 1)
        eq(ids_of(got), [mid], f"connection {attempt + 1} gets the unacked "
           "message")
        await b.close()
    b = await connect(b_user)
    await collect(b, "message", 1)
    await b.request({"action": "ack", "messageIds": [mid]}, "ack")
    await b.close()
    b = await connect(b_user)
    eq(ids_of(await b.quiet(1.0)), [], "after the ack it is not redelivered")
    await b.close()
    await a.close()


async def test_redelivery_interval_on_live_connection():
    """A connected device that does not ack gets the message again after
    the redelivery interval (the test stack sets it to 5 s)."""
    interval = REDELIVERY_INTERVAL
    a = await connect(uid("ri-a"))
    b = await connect(uid("ri-b"))
    mid = uid("ri-m")
    await a.request(send_frame(a.user, b.user, "c-ri", "live", mid), "ack")
    first = await b.expect("message")
    eq(first["data"]["messageId"], mid, "delivered live")
    await asyncio.sleep(interval + 1.5)
    await b.send({"action": "ping"})  # any request drives redelivery
    again = await b.expect("message", 5)
    eq(again["data"]["messageId"], mid,
       "not acked within the interval: delivered again")
    await b.request({"action": "ack", "messageIds": [mid]}, "ack")
    await asyncio.sleep(interval + 1.5)
    await b.send({"action": "ping"})
    rest = await b.quiet(1.5)
    eq(ids_of(rest), [], "once acked it is not redelivered")
    await a.close()
    await b.close()


async def test_idempotency_and_conflict():
    a = await connect(uid("id-a"))
    b = await connect(uid("id-b"))
    c = await connect(uid("id-c"))
    mid = uid("id-m")
    f = send_frame(a.user, b.user, "c-id", "once", mid)
    first = await a.request(f, "ack")
    eq(first["data"]["duplicate"], False, "first send: duplicate false")
    await b.expect("message")
    second = await a.request(f, "ack")
    eq((second["type"], second["data"].get("duplicate")), ("ack", True),
       "same messageId again: acked with duplicate true")
    eq(second["data"]["timestamp"], first["data"]["timestamp"],
       "the duplicate ack carries the original receive time")
    eq(ids_of(await b.quiet(0.8)), [], "the duplicate is not delivered")
    other = await c.request(send_frame(c.user, b.user, "c-id", "steal", mid),
                            "ack")
    eq((other["type"], other["data"].get("code"),
        other["data"].get("messageId")), ("error", "conflict", mid),
       "same messageId from another sender: conflict")
    eq(sql("SELECT count(*), min(sender_id), min(content) FROM messages "
           "WHERE message_id = :'p1'", mid), [["1", a.user, "once"]],
       "one row, the first sender's")
    for x in (a, b, c):
        await x.close()


async def test_sender_identity():
    a = await connect(uid("si-a"))
    mid = uid("si-m")
    ev = await a.request(send_frame(a.user, uid("si-b"), "c", "x", mid,
                                    senderId=uid("someone-else")), "ack")
    eq((ev["type"], ev["data"].get("code")), ("error", "forbidden"),
       "a senderId other than the connection's user is forbidden")
    eq(sql_value("SELECT count(*) FROM messages WHERE message_id = :'p1'",
                 mid), "0", "nothing stored")
    ok_ = await a.request(send_frame(a.user, uid("si-b"), "c", "x", mid,
                                     senderId=a.user), "ack")
    eq(ok_["type"], "ack", "senderId equal to the user is accepted")
    eq(sql_value("SELECT sender_id FROM messages WHERE message_id = :'p1'",
                 mid), a.user, "stored sender is the connection's user")
    await a.close()


async def test_receipts_and_mark_read():
    a1 = await connect(uid("rc-a"))
    a2 = await connect(a1.user)
    b = await connect(uid("rc-b"))
    mid = uid("rc-m")
    await a1.request(send_frame(a1.user, b.user, "c-rc", "read me", mid),
                     "ack")
    await b.expect("message")
    await a2.expect("message")  # sync copy
    wrong = await a1.request({"action": "markRead", "messageIds": [mid]},
                             "ack")
    eq(wrong["data"], {"action": "markRead", "messageIds": [],
                       "skipped": [mid]},
       "the sender cannot mark read: skipped")
    eq(sql_value("SELECT status FROM messages WHERE message_id = :'p1'",
                 mid), "sent", "status unchanged")
    res = await b.request({"action": "markRead",
                           "messageIds": [mid, uid("nope")]}, "ack")
    eq(res["data"], {"action": "markRead", "messageIds": [mid],
                     "skipped": [uid("nope")]},
       "markRead by the recipient applies; unknown ids skipped")
    for name, cl in (("first", a1), ("second", a2)):
        st = await cl.expect("status")
        eq((st["data"]["messageId"], st["data"]["status"],
            st["data"]["conversationId"], st["data"]["isDeleted"]),
           (mid, "read", "c-rc", False),
           f"sender's {name} connection gets status read")
    eq(sql("SELECT status, read_at IS NOT NULL, delivered_at IS NOT NULL "
           "FROM messages WHERE message_id = :'p1'", mid),
       [["read", "t", "t"]], "read implies delivered; both times set")
    back = await b.request({"action": "ack", "messageIds": [mid]}, "ack")
    eq(back["data"]["messageIds"], [mid], "ack after read is a no-op")
    eq(sql_value("SELECT status FROM messages WHERE message_id = :'p1'",
                 mid), "read", "status never moves backwards")
    bad = await b.request({"action": "ack", "messageIds": []}, "ack")
    eq(bad["data"].get("code"), "invalid_field", "empty messageIds: invalid_field")
    bad = await b.request({"action": "ack", "messageIds": ["ok", "a b"]},
                          "ack")
    eq(bad["data"].get("code"), "invalid_field",
       "one malformed id fails the whole frame")
    bad = await b.request({"action": "ack",
                           "messageIds": [f"x{i}" for i in range(501)]}, "ack")
    eq(bad["data"].get("code"), "invalid_field", "501 ids: invalid_field")
    many = await b.request({"action": "ack",
                            "messageIds": [f"x{i}" for i in range(500)]},
                           "ack")
    eq(len(many["data"].get("skipped", [])), 500, "500 ids are accepted")
    for x in (a1, a2, b):
        await x.close()


async def test_multi_device():
    a1 = await connect(uid("md-a"))
    a2 = await connect(a1.user)
    b1 = await connect(uid("md-b"))
    b2 = await connect(b1.user)
    mid = uid("md-m")
    await a1.request(send_frame(a1.user, b1.user, "c-md", "all devices",
                                mid), "ack")
    for name, cl in (("b1", b1), ("b2", b2), ("a2 (sync)", a2)):
        ev = await cl.expect("message")
        eq(ev["data"]["messageId"], mid, f"{name} gets the message")
    eq(ids_of(await a1.quiet(0.5)), [], "the sending connection gets none")
    for x in (a1, a2, b1, b2):
        eq(ids_of(await x.quiet(0.3)), [], "and nobody gets it twice")
        await x.close()


async def test_send_to_self():
    c1 = await connect(uid("self"))
    c2 = await connect(c1.user)
    c3 = await connect(c1.user)
    mid = uid("self-m")
    ack = await c1.request(send_frame(c1.user, c1.user, "c-self", "note",
                                      mid), "ack")
    eq(ack["type"], "ack", "send to oneself is acked")
    for name, cl in (("second", c2), ("third", c3)):
        ev = await cl.expect("message")
        eq(ev["data"]["messageId"], mid, f"{name} connection gets it")
        eq(ids_of(await cl.quiet(0.5)), [], f"{name} connection gets it once")
    eq(ids_of(await c1.quiet(0.3)), [], "the sending connection only the ack")
    for x in (c1, c2, c3):
        await x.close()


async def test_history():
    a = await connect(uid("h-a"))
    b_user = uid("h-b")
    conv = uid("h-conv")
    mids = [uid(f"h-{i}") for i in range(5)]
    await send_all(a, [send_frame(a.user, b_user, conv, f"h{i}", m)
                       for i, m in enumerate(mids)])
    # A message of other people in the same conversation id: not visible.
    x = await connect(uid("h-x"))
    await x.request(send_frame(x.user, uid("h-y"), conv, "private",
                               uid("h-private")), "ack")
    await x.close()
    page = await a.request({"action": "getMessages", "conversationId": conv,
                            "limit": 2}, "messages")
    eq([m["messageId"] for m in page["data"]["messages"]], mids[:2:-1][:2],
       "newest first, limit 2")
    eq((page["data"]["hasMore"], page["data"]["conversationId"]),
       (True, conv), "hasMore true, conversationId echoed")
    page2 = await a.request({"action": "getMessages", "conversationId": conv,
                             "limit": 2, "before": mids[3]}, "messages")
    eq([m["messageId"] for m in page2["data"]["messages"]],
       [mids[2], mids[1]], "before a messageId is exclusive")
    page3 = await a.request({"action": "getMessages", "conversationId": conv,
                             "limit": 2, "before": mids[1]}, "messages")
    eq(([m["messageId"] for m in page3["data"]["messages"]],
        page3["data"]["hasMore"]), ([mids[0]], False),
       "last page: hasMore false")
    everything = await a.request({"action": "getMessages",
                                  "conversationId": conv}, "messages")
    eq(len(everything["data"]["messages"]), 5,
       "default limit; other people's messages are not served")
    m0 = everything["data"]["messages"][-1]
    eq((m0["content"], m0["senderId"], m0["recipientId"], m0["status"]),
       ("h0", a.user, b_user, "sent"), "history items are full messages")
    future = await a.request({"action": "getMessages", "conversationId": conv,
                              "before": "2999-01-01T00:00:00Z"}, "messages")
    eq(len(future["data"]["messages"]), 5, "before as a time")
    past = await a.request({"action": "getMessages", "conversationId": conv,
                            "before": "2000-01-01T00:00:00Z"}, "messages")
    eq((past["data"]["messages"], past["data"]["hasMore"]), ([], False),
       "before a time older than everything: empty")
    b = await connect(b_user)
    theirs = await b.request({"action": "getMessages", "conversationId": conv,
                              "limit": 200}, "messages")
    eq(len(theirs["data"]["messages"]), 5, "the recipient sees them too")
    await b.close()
    for frame, code, name in (
            ({"action": "getMessages", "conversationId": conv,
              "before": "no-such-message"}, "not_found", "unknown before"),
            ({"action": "getMessages", "conversationId": conv, "limit": 0},
             "invalid_field", "limit 0"),
            ({"action": "getMessages", "conversationId": conv, "limit": 201},
             "invalid_field", "limit 201"),
            ({"action": "getMessages"}, "missing_field", "no conversationId"),
            ({"action": "getMessages", "conversationId": conv,
              "before": "not a time"}, "invalid_field", "malformed before")):
        ev = await a.request(frame, "messages")
        eq((ev["type"], ev["data"].get("code")), ("error", code), name)
    await a.close()


async def test_delete():
    a1 = await connect(uid("d-a"))
    a2 = await connect(a1.user)
    b_user = uid("d-b")
    mid = uid("d-m")
    await a1.request(send_frame(a1.user, b_user, "c-d", "oops", mid,
                                replyToMessageId="r-1",
                                replyToContent="quoted",
                                replyToSenderName="Q"), "ack")
    await a2.expect("message")
    b = await connect(b_user)
    got = await b.expect("message")
    eq((got["data"]["replyToMessageId"], got["data"]["replyToContent"],
        got["data"]["replyToSenderName"]), ("r-1", "quoted", "Q"),
       "reply fields are delivered")
    ev = await b.request({"action": "deleteMessage", "messageId": mid}, "ack")
    eq(ev["data"].get("code"), "forbidden", "the recipient may not delete")
    stranger = await connect(uid("d-s"))
    ev = await stranger.request({"action": "deleteMessage",
                                 "messageId": mid}, "ack")
    eq(ev["data"].get("code"), "not_found", "a stranger gets not_found")
    ev = await stranger.request({"action": "deleteMessage",
                                 "messageId": uid("nothing")}, "ack")
    eq(ev["data"].get("code"), "not_found", "an unknown id gets not_found")
    await stranger.close()
    ev = await a1.request({"action": "deleteMessage", "messageId": mid},
                          "ack")
    eq(ev["data"], {"action": "deleteMessage", "messageId": mid},
       "the sender deletes")
    for name, cl in (("recipient", b), ("sender's other device", a2)):
        st = await cl.expect("status")
        eq((st["data"]["messageId"], st["data"]["isDeleted"],
            st["data"]["status"]), (mid, True, "sent"),
           f"{name} gets status isDeleted true")
    eq(sql("SELECT is_deleted FROM messages WHERE message_id = :'p1'", mid),
       [["t"]], "the row is marked deleted")
    hist = await b.request({"action": "getMessages", "conversationId": "c-d"},
                           "messages")
    item = [m for m in hist["data"]["messages"] if m["messageId"] == mid][0]
    eq((item["isDeleted"], item["content"], item["replyToContent"]),
       (True, "", ""), "history serves it deleted with empty content")
    await b.close()
    b = await connect(b_user)
    eq(ids_of(await b.quiet(1.0)), [],
       "a deleted, undelivered message is no longer delivered")
    for x in (a1, a2, b):
        await x.close()


async def test_typing():
    a = await connect(uid("t-a"))
    b = await connect(uid("t-b"))
    await a.send({"action": "typing", "recipientId": b.user,
                  "conversationId": "c-t"})
    ev = await b.expect("typing")
    eq(ev["data"], {"senderId": a.user, "conversationId": "c-t",
                    "isTyping": True}, "typing is forwarded, default true")
    await a.send({"action": "typing", "recipientId": b.user,
                  "isTyping": False})
    ev = await b.expect("typing")
    eq((ev["data"]["isTyping"], ev["data"]["conversationId"]), (False, None),
       "isTyping false forwarded")
    eq(await a.quiet(0.5), [], "typing gets no answer")
    eq(sql_value("SELECT count(*) FROM messages WHERE sender_id = :'p1'",
                 a.user), "0", "typing is not stored")
    ev = await a.request({"action": "typing"}, "error")
    eq(ev["data"].get("code"), "missing_field", "typing without recipientId")
    await b.close()
    c = await connect(b.user)
    eq([e for e in await c.quiet(0.8) if e["type"] == "typing"], [],
       "typing is never replayed")
    await c.close()
    await a.close()


async def test_content_limit():
    a = await connect(uid("big-a"))
    b_user = uid("big-b")
    exact = "é" * 32768  # 65536 UTF-8 bytes
    ev = await a.request(send_frame(a.user, b_user, "c", exact,
                                    uid("big-ok")), "ack")
    eq(ev["type"], "ack", "65536 bytes of content are accepted")
    eq(sql_value("SELECT octet_length(content) FROM messages "
                 "WHERE message_id = :'p1'", uid("big-ok")), "65536",
       "and stored whole")
    ev = await a.request(send_frame(a.user, b_user, "c", exact + "x",
                                    uid("big-no")), "ack")
    eq((ev["type"], ev["data"].get("code")), ("error", "too_large"),
       "65537 bytes: too_large")
    eq(sql_value("SELECT count(*) FROM messages WHERE message_id = :'p1'",
                 uid("big-no")), "0", "nothing stored")
    ev = await a.request(send_frame(a.user, b_user, "c", "q" * 50000,
                                    uid("big-reply"),
                                    replyToContent="r" * 50000), "ack")
    eq((ev["type"], ev["data"].get("code")), ("error", "too_large"),
       "content and replyToContent that together exceed one event: too_large")
    ev = await a.request(send_frame(a.user, b_user, "c", "\u0001" * 20000,
                                    uid("big-ctl")), "ack")
    eq((ev["type"], ev["data"].get("code")), ("error", "too_large"),
       "20,000 control characters (120,000 bytes escaped): too_large")
    b = await connect(b_user)
    got = await b.expect("message", 10)
    eq(len(got["data"]["content"].encode()), 65536,
       "the large message is delivered whole")
    await b.close()
    await a.close()


async def test_order_live_and_offline():
    a = await connect(uid("o-a"))
    b = await connect(uid("o-b"))
    mids = [uid(f"o-{i:03}") for i in range(60)]
    await send_all(a, [send_frame(a.user, b.user, "c-o", str(i), m)
                       for i, m in enumerate(mids)])
    live = await collect(b, "message", 60)
    eq(ids_of(live), mids, "60 back-to-back sends arrive live in send order")
    await b.close()
    b = await connect(b.user)
    offline = await collect(b, "message", 60)
    eq(ids_of(offline), mids, "unacked, they come again in the same order")
    await b.request({"action": "ack", "messageIds": mids}, "ack")
    await b.close()
    await a.close()


if __name__ == "__main__":
    run(test_offline_delivery_and_ack, test_unacked_redelivered_on_reconnect,
        test_redelivery_interval_on_live_connection,
        test_idempotency_and_conflict, test_sender_identity,
        test_receipts_and_mark_read, test_multi_device, test_send_to_self,
        test_history, test_delete, test_typing, test_content_limit,
        test_order_live_and_offline)
