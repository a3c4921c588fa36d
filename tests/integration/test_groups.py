"""Group conversations (README, "Groups"; PROTOCOL section 6) through the
real stack: createGroup, addMembers, removeMembers, leaveGroup and their
`group` events; one message to many, stored once; per-member acks,
receipts and getReceipts; offline catch-up and redelivery per member;
membership periods in delivery and history; typing and deletion in a
group; every refusal with its code, nothing stored, the connection
kept. The database is checked as the source of truth."""
import asyncio

from parley_test import (REDELIVERY_INTERVAL, collect, connect, eq, ids_of,
                         ok, run, send_frame, sql, sql_value, uid)


def group_frame(conv, content, message_id=None, **extra):
    f = {"action": "sendMessage", "conversationId": conv, "content": content}
    if message_id is not None:
        f["messageId"] = message_id
    f.update(extra)
    return f


async def joined(user):
    """A connection that has had one answer: its subscription to the
    user's channel (sent with the handshake's answer) is in place, so it
    gets group events, which are not stored or redelivered (README,
    "Groups")."""
    c = await connect(user)
    await c.request({"action": "ping"}, "pong")
    return c


async def group_event(client, change=None, by=None, timeout=5.0):
    """The next `group` event (of that change, by that user): one that
    arrived while the client waited for something else (a group event
    may overtake the ack of the change) counts, once."""
    def match(e):
        return (e.get("type") == "group" and not e.get("_used") and
                (change is None or e["data"]["change"] == change) and
                (by is None or e["data"]["by"] == by))
    for e in client.seen:
        if match(e):
            e["_used"] = True
            return e
    e = await client.expect(match, timeout)
    e["_used"] = True
    return e


async def create(client, conv, members, title=None):
    f = {"action": "createGroup", "members": members}
    if conv is not None:
        f["conversationId"] = conv
    if title is not None:
        f["title"] = title
    return await client.request(f, "ack")


async def still_answers(client, what):
    pong = await client.request({"action": "ping"}, "pong")
    eq(pong["type"], "pong", f"{what}: the connection still answers")


def error_code(ev):
    return ev["data"]["code"] if ev["type"] == "error" else ev["type"]


async def test_create_and_group_events():
    a, b, c = [await joined(uid(n)) for n in ("cr-a", "cr-b", "cr-c")]
    conv = uid("cr-g")
    ack = await create(a, conv, [b.user, c.user, a.user], "Team")
    eq(ack["data"], {"action": "createGroup", "conversationId": conv},
       "createGroup acked with its conversationId (creator listed: folded)")
    want = sorted([a.user, b.user, c.user])
    for cl in (a, b, c):
        ev = await group_event(cl)
        d = ev["data"]
        eq((d["conversationId"], d["title"], d["members"], d["admins"],
            d["change"], d["by"]),
           (conv, "Team", want, [a.user], "created", a.user),
           f"{cl.user[:5]} gets the group event: members, admins, change")
        ok(d["at"].endswith("Z"), "the event's time is RFC 3339 UTC")
    eq(sql("SELECT user_id, role FROM group_members WHERE conversation_id "
           "= :'p1' AND left_seq IS NULL ORDER BY user_id COLLATE \"C\"",
           conv),
       sorted([[a.user, "admin"], [b.user, "member"], [c.user, "member"]]),
       "group_members: the creator admin, the others members")
    eq(sql_value("SELECT title FROM groups WHERE conversation_id = :'p1'",
                 conv), "Team", "groups row with the title")
    made = await create(a, None, [b.user])
    gen = made["data"].get("conversationId", "")
    eq(len(gen), 36, "without conversationId the server makes a UUID")
    eq(sql_value("SELECT count(*) FROM group_members WHERE "
                 "conversation_id = :'p1'", gen), "2", "... with two members")
    again = await create(a, conv, [b.user])
    eq(error_code(again), "conflict", "a group's id again: conflict")
    one = uid("cr-1to1")
    await a.request(send_frame(a.user, b.user, one, "hi"), "ack")
    taken = await create(a, one, [b.user])
    eq(error_code(taken), "conflict",
       "an id used by one-to-one messages: conflict")
    dup = await a.request({"action": "createGroup", "members":
                           [b.user, b.user]}, "ack")
    eq(error_code(dup), "invalid_field", "a member listed twice: invalid_field")
    long_title = await a.request({"action": "createGroup",
                                  "title": "t" * 257}, "ack")
    eq(error_code(long_title), "invalid_field", "a 257-byte title: invalid_field")
    many = await a.request({"action": "createGroup", "members":
                            [f"m{i}" for i in range(1000)]}, "ack")
    eq(error_code(many), "too_large",
       "1,000 others and the creator, over 1,000 members: too_large")
    eq(sql_value("SELECT count(*) FROM groups WHERE created_by = :'p1'",
                 a.user), "2", "the refused ones stored nothing")
    await still_answers(a, "after the refusals")
    for cl in (a, b, c):
        await cl.close()


async def test_send_fanout_receipts():
    a_user = uid("fo-a")
    a = await joined(a_user)
    a2 = await joined(a_user)
    b = await joined(uid("fo-b"))
    c = await joined(uid("fo-c"))
    conv = uid("fo-g")
    await create(a, conv, [b.user, c.user])
    for cl in (a, a2, b, c):
        await group_event(cl)
    mid = uid("fo-m")
    ack = await a.request(group_frame(conv, "hello all", mid,
                                      senderName="Alice"), "ack")
    eq((ack["type"], ack["data"]["messageId"], ack["data"]["duplicate"]),
       ("ack", mid, False), "a send to the group is acked")
    for cl, who in ((b, "bob"), (c, "carol"), (a2, "the sender's other "
                                               "device")):
        ev = await cl.expect("message")
        d = ev["data"]
        eq((d["messageId"], d["conversationId"], d["recipientId"],
            d["senderId"], d["content"], d["status"]),
           (mid, conv, None, a_user, "hello all", "sent"),
           f"{who} gets the message, recipientId null")
    eq(ids_of(await a.quiet(0.5)), [], "the sending connection does not")
    eq(sql("SELECT count(*), min(recipient_id IS NULL::text), min(status) "
           "FROM messages WHERE message_id = :'p1'", mid),
       [["1", "true", "sent"]], "stored once, recipient_id NULL")
    dup = await a.request(group_frame(conv, "hello all", mid), "ack")
    eq(dup["data"]["duplicate"], True, "the same messageId again: duplicate")
    eq(ids_of(await b.quiet(0.5)), [], "and no second copy to members")

    await b.request({"action": "ack", "messageIds": [mid]}, "ack")
    st = await a.expect("status")
    eq((st["data"]["messageId"], st["data"]["status"], st["data"]["userId"]),
       (mid, "delivered", b.user), "bob's ack: a status event with userId")
    rd = await c.request({"action": "markRead", "messageIds": [mid]},
                         "ack")
    eq(rd["data"]["messageIds"], [mid], "carol's markRead applied")
    st = await a.expect(lambda e: e["type"] == "status" and
                        e["data"].get("userId") == c.user)
    eq(st["data"]["status"], "read", "carol's read: status read, her userId")
    eq(sql("SELECT user_id, status FROM group_receipts WHERE message_id = "
           ":'p1' ORDER BY user_id COLLATE \"C\"", mid),
       sorted([[b.user, "delivered"], [c.user, "read"]]),
       "group_receipts: one row per member, each its own status")
    eq(sql_value("SELECT status FROM messages WHERE message_id = :'p1'",
                 mid), "sent", "the message row's status stays sent")
    again = await b.request({"action": "ack", "messageIds": [mid]}, "ack")
    eq(again["data"]["messageIds"], [mid], "acking again: applied, no-op")
    eq([e for e in await a.quiet(0.5) if e["type"] == "status"], [],
       "and no new status event")

    rc = await a.request({"action": "getReceipts", "messageId": mid},
                         "receipts")
    eq([(r["userId"], r["status"]) for r in rc["data"]["receipts"]],
       sorted([(b.user, "delivered"), (c.user, "read")]),
       "getReceipts: each member's status, by userId")
    eq(rc["data"]["hasMore"], False, "getReceipts: all of them")
    page = await a.request({"action": "getReceipts", "messageId": mid,
                            "after": min(b.user, c.user)}, "receipts")
    eq([r["userId"] for r in page["data"]["receipts"]],
       [max(b.user, c.user)], "getReceipts after a userId pages on")
    eq(error_code(await b.request({"action": "getReceipts",
                                   "messageId": mid}, "receipts")),
       "forbidden", "a member asking for the receipts: forbidden")
    eq(error_code(await a.request({"action": "getReceipts",
                                   "messageId": uid("none")}, "receipts")),
       "not_found", "an unknown message: not_found")
    one = uid("fo-1")
    await a.request(send_frame(a_user, b.user, uid("fo-c1"), "1:1", one),
                    "ack")
    r1 = await a.request({"action": "getReceipts", "messageId": one},
                         "receipts")
    eq([(r["userId"], r["status"]) for r in r1["data"]["receipts"]],
       [(b.user, "sent")], "getReceipts of a one-to-one message: its "
       "recipient")
    h = await b.request({"action": "getMessages", "conversationId": conv},
                        "messages")
    eq([(m["messageId"], m["status"]) for m in h["data"]["messages"]],
       [(mid, "delivered")], "bob's history shows his own status")
    h = await c.request({"action": "getMessages", "conversationId": conv},
                        "messages")
    eq(h["data"]["messages"][0]["status"], "read", "carol's shows hers")
    for cl in (a, a2, b, c):
        await cl.close()


async def test_offline_members_catch_up():
    a = await connect(uid("of-a"))
    b_user, d_user = uid("of-b"), uid("of-d")
    conv = uid("of-g")
    await create(a, conv, [b_user, d_user])
    mids = [uid(f"of-{i}") for i in range(4)]
    for i, m in enumerate(mids):
        ack = await a.request(group_frame(conv, f"m{i}", m), "ack")
        eq(ack["type"], "ack", f"send {i} to offline members acked")
    b = await connect(b_user)
    got = await collect(b, "message", 4)
    eq(ids_of(got), mids, "an offline member gets them on connect, oldest "
       "first")
    await b.request({"action": "ack", "messageIds": mids[:2]}, "ack")
    await b.close()
    b = await connect(b_user)
    eq(ids_of(await collect(b, "message", 2)), mids[2:],
       "after acking two, the other two come again")
    await b.request({"action": "ack", "messageIds": mids[2:]}, "ack")
    await b.close()
    b = await connect(b_user)
    eq(ids_of(await b.quiet(1.0)), [], "all acked: nothing comes again")
    await b.close()
    d = await connect(d_user)
    eq(ids_of(await collect(d, "message", 4)), mids,
       "another member's acks do not count for this member")
    await d.request({"action": "ack", "messageIds": mids}, "ack")
    await d.close()
    await a.close()


async def test_redelivery_to_live_member():
    a = await connect(uid("rl-a"))
    b = await joined(uid("rl-b"))
    conv = uid("rl-g")
    await create(a, conv, [b.user])
    await group_event(b)
    mid = uid("rl-m")
    await a.request(group_frame(conv, "live", mid), "ack")
    eq((await b.expect("message"))["data"]["messageId"], mid, "live copy")
    await asyncio.sleep(REDELIVERY_INTERVAL + 1.5)
    await b.send({"action": "ping"})
    again = await b.expect("message", 5)
    eq(again["data"]["messageId"], mid,
       "unacked past the interval: delivered again, as one-to-one")
    await b.request({"action": "ack", "messageIds": [mid]}, "ack")
    await asyncio.sleep(REDELIVERY_INTERVAL + 1.5)
    await b.send({"action": "ping"})
    eq(ids_of(await b.quiet(1.5)), [], "once acked, not again")
    await a.close()
    await b.close()


async def test_membership_changes():
    a, b, c, e = [await joined(uid(n))
                  for n in ("mc-a", "mc-b", "mc-c", "mc-e")]
    conv = uid("mc-g")
    await create(a, conv, [b.user, c.user])
    for cl in (a, b, c):
        await group_event(cl)
    before = uid("mc-before")
    await a.request(group_frame(conv, "before", before), "ack")
    await c.expect("message")
    await c.request({"action": "ack", "messageIds": [before]}, "ack")

    bad = await b.request({"action": "addMembers", "conversationId": conv,
                           "members": [e.user]}, "ack")
    eq(error_code(bad), "forbidden", "a member who is not admin: forbidden")
    eq(error_code(await a.request({"action": "addMembers", "conversationId":
                                   uid("nope"), "members": [e.user]}, "ack")),
       "not_found", "an unknown group: not_found")
    eq(error_code(await a.request({"action": "addMembers", "conversationId":
                                   conv, "members": [b.user]}, "ack")),
       "conflict", "adding a member again: conflict")
    eq(error_code(await a.request({"action": "removeMembers",
                                   "conversationId": conv,
                                   "members": [e.user]}, "ack")),
       "not_found", "removing a non-member: not_found")
    eq(error_code(await e.request({"action": "leaveGroup",
                                   "conversationId": conv}, "ack")),
       "forbidden", "leaving a group one is not in: forbidden")

    add = await a.request({"action": "addMembers", "conversationId": conv,
                           "members": [e.user]}, "ack")
    eq(add["data"], {"action": "addMembers", "conversationId": conv},
       "addMembers acked")
    ev = await group_event(e)
    eq((ev["data"]["change"], ev["data"]["users"], e.user in
        ev["data"]["members"]), ("added", [e.user], True),
       "the new member gets the group event")
    eq(ids_of(await e.quiet(1.0)), [],
       "a new member does not get what was sent before joining")
    h = await e.request({"action": "getMessages", "conversationId": conv},
                        "messages")
    eq(h["data"]["messages"], [], "nor sees it in history")

    rm = await a.request({"action": "removeMembers", "conversationId": conv,
                          "members": [c.user]}, "ack")
    eq(rm["type"], "ack", "removeMembers acked")
    ev = await group_event(c, "removed")
    eq((ev["data"]["users"], c.user in ev["data"]["members"]),
       ([c.user], False), "the removed member gets the event too")
    after = uid("mc-after")
    await a.request(group_frame(conv, "after", after), "ack")
    eq((await e.expect("message"))["data"]["messageId"], after,
       "a current member gets what follows")
    eq(ids_of(await c.quiet(1.0)), [], "the removed member does not")
    await c.close()
    c = await connect(c.user)
    eq(ids_of(await c.quiet(1.0)), [], "nor on reconnect")
    h = await c.request({"action": "getMessages", "conversationId": conv},
                        "messages")
    eq([m["messageId"] for m in h["data"]["messages"]], [before],
       "history: only what was sent while a member")
    refused = await c.request(group_frame(conv, "let me in", uid("mc-x")),
                              "ack")
    eq(error_code(refused), "forbidden", "a former member's send: forbidden")
    eq(sql_value("SELECT count(*) FROM messages WHERE conversation_id = "
                 ":'p1'", conv), "2", "nothing stored for it")

    lv = await b.request({"action": "leaveGroup", "conversationId": conv},
                         "ack")
    eq(lv["data"], {"action": "leaveGroup", "conversationId": conv},
       "leaveGroup acked")
    ev = await group_event(a, "left")
    eq(ev["data"]["by"], b.user, "members see who left")
    await a.request({"action": "leaveGroup", "conversationId": conv}, "ack")
    ev = await group_event(e, "left", a.user)
    eq((ev["data"]["members"], ev["data"]["admins"]), ([e.user], [e.user]),
       "the last admin left: the longest-standing member is admin")
    readd = await e.request({"action": "addMembers", "conversationId": conv,
                             "members": [c.user]}, "ack")
    eq(readd["type"], "ack", "the new admin may add members")
    eq(sql_value("SELECT count(*) FROM group_members WHERE conversation_id "
                 "= :'p1' AND user_id = :'p2'", conv, c.user), "2",
       "rejoining starts a second membership period")
    for cl in (a, b, c, e):
        await cl.close()


async def test_refusals_store_nothing():
    a = await connect(uid("rf-a"))
    b = await connect(uid("rf-b"))
    outsider = await connect(uid("rf-o"))
    conv = uid("rf-g")
    await create(a, conv, [b.user])
    m1, m2, m3 = uid("rf-1"), uid("rf-2"), uid("rf-3")
    both = await a.request(group_frame(conv, "x", m1, recipientId=b.user),
                           "ack")
    eq(error_code(both), "invalid_field",
       "recipientId with a group's conversationId: invalid_field")
    none = await a.request(group_frame(uid("rf-plain"), "x", m2), "ack")
    eq(error_code(none), "missing_field",
       "no recipientId and no group: missing_field")
    out = await outsider.request(group_frame(conv, "x", m3), "ack")
    eq(error_code(out), "forbidden", "a non-member's send: forbidden")
    eq(sql_value("SELECT count(*) FROM messages WHERE message_id IN "
                 "(:'p1', :'p2', :'p3')", m1, m2, m3), "0",
       "none of them stored")
    ty = await outsider.request({"action": "typing", "conversationId": conv},
                                "typing")
    eq(error_code(ty), "forbidden", "a non-member typing: forbidden")
    for cl in (a, outsider):
        await still_answers(cl, "after refusals")
    for cl in (a, b, outsider):
        await cl.close()


async def test_typing_and_delete():
    a, b, c = [await joined(uid(n)) for n in ("td-a", "td-b", "td-c")]
    conv = uid("td-g")
    await create(a, conv, [b.user, c.user])
    for cl in (a, b, c):
        await group_event(cl)
    await b.send({"action": "typing", "conversationId": conv})
    for cl in (a, c):
        ev = await cl.expect("typing")
        eq((ev["data"]["senderId"], ev["data"]["conversationId"]),
           (b.user, conv), "members get a member's typing")
    eq([e for e in await b.quiet(0.5) if e["type"] == "typing"], [],
       "the typing connection does not")
    mid = uid("td-m")
    await a.request(group_frame(conv, "oops", mid), "ack")
    for cl in (b, c):
        await cl.expect("message")
    eq(error_code(await b.request({"action": "deleteMessage",
                                   "messageId": mid}, "ack")),
       "forbidden", "a member deleting another's message: forbidden")
    dl = await a.request({"action": "deleteMessage", "messageId": mid}, "ack")
    eq(dl["type"], "ack", "the sender deletes it")
    for cl in (b, c):
        st = await cl.expect("status")
        eq((st["data"]["messageId"], st["data"]["isDeleted"]), (mid, True),
           "members get the deletion")
    h = await b.request({"action": "getMessages", "conversationId": conv},
                        "messages")
    eq((h["data"]["messages"][0]["content"],
        h["data"]["messages"][0]["isDeleted"]), ("", True),
       "history: deleted, no content")
    await b.close()
    b = await connect(b.user)
    eq(ids_of(await b.quiet(1.0)), [], "a deleted message is not delivered")
    for cl in (a, b, c):
        await cl.close()


if __name__ == "__main__":
    run(test_create_and_group_events, test_send_fanout_receipts,
        test_offline_members_catch_up, test_redelivery_to_live_member,
        test_membership_changes, test_refusals_store_nothing,
        test_typing_and_delete)
