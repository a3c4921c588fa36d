"""parley-admin (README, "Admin tool"; man/parley-admin.8) against the real
stack: connections and pending messages of real WebSocket clients, the
counts, disconnect through Pushpin (the client's socket really closes, the
user's other connections stay), and create-api-key's file.

parley-admin runs with the stack's settings (STATE/parley.conf) and, as
an operator would, as a login user in role parley_admin
(sql/006_admin.sql), made here with the stack's owner login; one check
runs it as the workers' login instead. It runs as a subprocess of the
event loop, so that the clients keep reading (a client must answer the
close frame for Pushpin to let its socket go)."""
import asyncio
import json
import os
import re
import stat
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from parley_test import (BUILD, DB_URL, STATE, WS_URL, connect, eq, ok,
                         poll_value, run, send_frame, sql, sql_value, uid)

ADMIN = os.path.join(BUILD, "src", "parley-admin")
CONF = os.path.join(STATE, "parley.conf")
HTTP = "http" + WS_URL[len("ws"):].rsplit("/", 1)[0]  # http://host:port
KEY_LINE = re.compile(r"^[0-9a-f]{64}$")
COMMENT = re.compile(r"^# (.*) created (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) "
                     r"by parley-admin$")


def admin_url():
    """The stack's database URL for the login user parley_adm (made in
    role parley_admin here: scripts/lib.sh makes only the workers' and
    the expiry job's)."""
    sql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        "'parley_adm') THEN CREATE ROLE parley_adm LOGIN IN ROLE "
        "parley_admin; END IF; END $$")
    u = urllib.parse.urlsplit(DB_URL)
    host = u.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(u._replace(netloc="parley_adm@" + host))


ADMIN_DB = admin_url()


async def admin(*args, env=None, worker_login=False, umask=None,
                timeout=30):
    """(exit code, stdout, stderr) of parley-admin --config CONF ARGS."""
    e = dict(os.environ)
    if not worker_login:
        e["PARLEY_DATABASE_URL"] = ADMIN_DB
    e.update(env or {})
    p = await asyncio.create_subprocess_exec(
        ADMIN, "--config", CONF, *args, env=e,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    try:
        out, err = await asyncio.wait_for(p.communicate(), timeout)
    except asyncio.TimeoutError:
        p.kill()
        await p.wait()
        raise
    return p.returncode, out.decode(), err.decode()


async def admin_json(*args, **kw):
    """(exit code, the one JSON document on stdout, stderr)."""
    rc, out, err = await admin("--json", *args, **kw)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {"unparsable stdout": out, "stderr": err}
    return rc, doc, err


async def live(client):
    """A client whose connection is subscribed: one answered frame."""
    r = await client.request({"action": "ping"}, "pong")
    assert r["type"] == "pong", r
    return client


def conn_ids(user):
    return sorted(r[0] for r in sql(
        "SELECT connection_id FROM connections WHERE user_id = :'p1'", user))


async def test_connections():
    user = uid("adm-conns")
    a, b = await live(await connect(user)), await live(await connect(user))
    ids = conn_ids(user)
    eq(len(ids), 2, "two connections: two rows")
    rc, doc, err = await admin_json("connections", user)
    eq(rc, 0, "connections --json exits 0")
    eq(doc.get("user_id"), user, "  names the user")
    rows = doc.get("connections", [])
    eq(sorted(r.get("connection_id") for r in rows), ids,
       "  lists the user's two connection ids")
    ok(all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", r.get(k, ""))
           for r in rows for k in ("connected_at", "expires_at")),
       "  with connected_at and expires_at as RFC 3339 UTC", rows)
    ok(all(r["expires_at"] >= r["connected_at"] and r["expired"] is False
           for r in rows), "  expiring after connecting, not expired", rows)
    rc, out, err = await admin("connections", user)
    lines = out.splitlines()
    eq((rc, lines[0] if lines else None),
       (0, "connection_id\tconnected_at\texpires_at"),
       "connections (text): a header line")
    eq(sorted(line.split("\t")[0] for line in lines[1:]), ids,
       "  and one tab-separated line per connection")
    rc, doc, _ = await admin_json("connections", uid("adm-nobody"))
    eq((rc, doc.get("connections")), (0, []),
       "a user without connections: an empty list, exit 0")
    rc, _, err = await admin("connections", "has space")
    eq(rc, 64, "a user id that is no id: usage (64)")
    rc, _, _ = await admin("connections")
    eq(rc, 64, "no user: usage (64)")
    await a.close()
    await b.close()


async def test_pending():
    s, r = uid("adm-sender"), uid("adm-rcpt")
    conv, group = uid("adm-conv"), uid("adm-group")
    secret = f"secret body {uid('x')}"
    cs = await live(await connect(s))
    m1 = uid("adm-m1")
    ack = await cs.request(send_frame(s, r, conv, secret, m1), "ack")
    eq(ack["type"], "ack", "a one-to-one message to an offline user acked")
    g = await cs.request({"action": "createGroup", "conversationId": group,
                          "members": [r]}, "ack")
    eq(g["type"], "ack", "a group with the offline user created")
    g1 = uid("adm-g1")
    ack = await cs.request({"action": "sendMessage", "conversationId": group,
                            "messageId": g1, "content": secret}, "ack")
    eq(ack["type"], "ack", "a group message to it acked")

    rc, doc, err = await admin_json("pending", r)
    eq(rc, 0, "pending --json exits 0")
    items = doc.get("pending", [])
    eq([i.get("message_id") for i in items], [m1, g1],
       "  lists both unacked messages, in receive order")
    eq([(i.get("kind"), i.get("sender_id"), i.get("status"),
         i.get("conversation_id")) for i in items],
       [("direct", s, "sent", conv), ("group", s, "sent", group)],
       "  with kind, sender, status and conversation")
    eq(items[1].get("recipient_id", "absent") if len(items) > 1 else "?", None,
       "  a group message has no recipient_id")
    ok(all("content" not in i for i in items) and secret not in err,
       "  and no content without --content (nor in the log)", doc)
    eq(doc.get("more"), False, "  more: false")
    rc, doc, _ = await admin_json("pending", s)
    eq([i["message_id"] for i in doc.get("pending", [])], [],
       "the sender's own group message is not pending for the sender")
    rc, out, err = await admin("pending", r)
    ok(rc == 0 and m1 in out and g1 in out and secret not in out
       and secret not in err, "pending (text): the ids, not the content",
       out + err)
    rc, out, _ = await admin("pending", "--content", r)
    ok(rc == 0 and json.dumps(secret) in out,
       "pending --content (text): the content, JSON-quoted", out)
    rc, doc, _ = await admin_json("pending", "--content", r)
    eq([i.get("content") for i in doc.get("pending", [])], [secret, secret],
       "pending --content --json: the content")
    rc, doc, _ = await admin_json("pending", "--limit", "1", r)
    eq(([i["message_id"] for i in doc.get("pending", [])], doc.get("more")),
       ([m1], True), "pending --limit 1: the oldest, and more: true")
    rc, _, _ = await admin("pending", "--label", "x", r)
    eq(rc, 64, "an option of another command: usage (64)")

    # The recipient connects, gets both, acks them: no longer pending.
    cr = await connect(r)
    got = set()
    while len(got) < 2:
        e = await cr.expect("message")
        got.add(e["data"]["messageId"])
    eq(got, {m1, g1}, "the recipient gets both on connect")
    a = await cr.request({"action": "ack", "messageIds": [m1, g1]}, "ack")
    eq(a["data"].get("messageIds"), [m1, g1], "  and acks both")
    rc, doc, _ = await admin_json("pending", r)
    eq((rc, doc.get("pending")), (0, []), "after the ack nothing is pending")
    # A message it receives live and does not ack is pending again.
    m2 = uid("adm-m2")
    await cs.request(send_frame(s, r, conv, "later", m2), "ack")
    await cr.expect(lambda e: e.get("type") == "message"
                    and e["data"]["messageId"] == m2)
    rc, doc, _ = await admin_json("pending", r)
    eq([i["message_id"] for i in doc.get("pending", [])], [m2],
       "a message received live but not acked is pending")
    await cr.request({"action": "ack", "messageIds": [m2]}, "ack")
    rc, doc, _ = await admin_json("pending", r)
    eq(doc.get("pending"), [], "  until it is acked")
    await cs.close()
    await cr.close()


async def counts(**kw):
    rc, doc, err = await admin_json("counts", **kw)
    assert rc == 0, (rc, doc, err)
    return doc


async def test_counts():
    before = await counts()
    for key in ("connections", "users_online", "messages", "group_messages",
                "groups", "group_members", "group_receipts", "push_queue",
                "push_queue_status"):
        ok(key in before, f"counts: {key}", before)
    eq(sorted(before.get("messages", {})),
       ["deleted", "delivered", "pending", "read", "sent"],
       "counts: messages by status, and pending")
    eq(before.get("push_queue_status"), "ok",
       "counts: push_queue read as parley_admin")
    ok(isinstance(before.get("push_queue"), dict) and
       sorted(before["push_queue"]) == ["queued", "retrying"],
       "  with queued and retrying", before.get("push_queue"))
    # The same figures as the tables, at rest (nothing else of this test
    # is connected; another test file may be: try a few times).
    for _ in range(5):
        doc = await counts()
        direct = sql("SELECT (SELECT count(*) FROM connections), "
                     "(SELECT count(DISTINCT user_id) FROM connections), "
                     "(SELECT count(*) FROM messages WHERE status = 'sent' "
                     "AND NOT is_deleted AND recipient_id IS NOT NULL), "
                     "(SELECT count(*) FROM groups)")[0]
        mine = [str(doc["connections"]["open"]), str(doc["users_online"]),
                str(doc["messages"]["pending"]), str(doc["groups"])]
        if mine == direct:
            break
        await asyncio.sleep(0.3)
    eq(mine, direct, "counts: connections, users, pending and groups as "
       "the tables have them")

    u, o = uid("adm-count"), uid("adm-count-off")
    c1, c2 = await live(await connect(u)), await live(await connect(u))
    await c1.request(send_frame(u, o, uid("adm-cc"), "hi", uid("adm-cm")),
                     "ack")
    await c1.request({"action": "createGroup", "conversationId":
                      uid("adm-cg"), "members": [o]}, "ack")
    after = await counts()

    def d(*path):
        a, b = after, before
        for p in path:
            a, b = a[p], b[p]
        return a - b
    ok(d("connections", "open") >= 2, "counts: connections.open moved by 2",
       d("connections", "open"))
    ok(d("users_online") >= 1, "counts: users_online moved by 1",
       d("users_online"))
    ok(d("messages", "pending") >= 1 and d("messages", "sent") >= 1,
       "counts: messages.sent and pending moved by 1",
       (d("messages", "sent"), d("messages", "pending")))
    ok(d("groups") >= 1 and d("group_members") >= 2,
       "counts: a group and its two members", (d("groups"),
                                               d("group_members")))
    await c1.close()
    await c2.close()
    deadline = time.monotonic() + 10
    while conn_ids(u) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    gone = await counts()
    ok(gone["connections"]["open"] <= after["connections"]["open"] - 2,
       "counts: connections.open back down after the closes",
       (after["connections"], gone["connections"]))

    rc, doc, err = await admin_json("counts", worker_login=True)
    eq((rc, doc.get("push_queue"), doc.get("push_queue_status")),
       (0, None, "unreadable"),
       "as the workers' login (no SELECT on push_queue): null, "
       "'unreadable', exit 0")
    ok("push_queue" in err, "  with a warning saying so", err)


async def closed_within(client, seconds):
    """The close code once the client's socket closed (None: still open
    after `seconds`)."""
    try:
        await asyncio.wait_for(client.ws.wait_closed(), seconds)
    except asyncio.TimeoutError:
        return None
    return client.ws.close_code


async def test_disconnect():
    user = uid("adm-disc")
    clients = [await live(await connect(user)) for _ in range(3)]
    ids = conn_ids(user)
    eq(len(ids), 3, "three connections of one user")
    first = ids[0]
    t0 = time.monotonic()
    rc, doc, err = await admin_json("disconnect", first)
    took = time.monotonic() - t0
    eq(rc, 0, "disconnect --json exits 0")
    eq((doc.get("connection_id"), doc.get("user_id"), doc.get("closed")),
       (first, user, True), "  names the connection and its user, closed")
    ok(doc.get("row") in ("deleted", "deleted by the worker"),
       "  and says the row went", doc)
    ok(took < 10, f"  within the wait ({took:.2f} s)")
    codes = await asyncio.gather(*(closed_within(c, 5) for c in clients))
    closed = [i for i, code in enumerate(codes) if code is not None]
    ok(len(closed) == 1, "exactly one client's socket closed (within 5 s)",
       codes)
    eq([code for code in codes if code is not None], [4000],
       "  with close code 4000")
    eq(conn_ids(user), ids[1:], "its row is gone, the others' stay")
    rest = [c for i, c in enumerate(clients) if i not in closed]
    for i, c in enumerate(rest):
        r = await c.request({"action": "ping"}, "pong")
        eq(r["type"], "pong", f"another connection of the user still "
           f"answers ({i + 1})")
    sender = await live(await connect(uid("adm-disc-s")))
    mid = uid("adm-disc-m")
    await sender.request(send_frame(sender.user, user, uid("adm-dc"),
                                    "still there", mid), "ack")
    for i, c in enumerate(rest):
        e = await c.expect(lambda e: e.get("type") == "message"
                           and e["data"]["messageId"] == mid)
        eq(e["data"]["messageId"], mid, f"  and gets the user's messages "
           f"live ({i + 1})")

    rc, doc, err = await admin_json("disconnect", first)
    eq(rc, 1, "disconnect of a connection gone: not found (1)")
    ok("error" in doc, "  with --json, an error document", doc)

    # A close code of one's own: the second connection, in text mode.
    rc, out, err = await admin("disconnect", "--code", "4321", ids[1])
    eq(rc, 0, "disconnect --code 4321 exits 0")
    ok(ids[1] in out and "closed" in out, "  and says so", out)
    codes = await asyncio.gather(*(closed_within(c, 5) for c in rest))
    eq(sorted(c for c in codes if c is not None), [4321],
       "  that client's socket closed with code 4321")
    eq(conn_ids(user), ids[2:], "  one row left")
    last = [c for c, code in zip(rest, codes) if code is None]
    eq(len(last), 1, "  one client left open")

    # A row Pushpin does not hold (a stale one): only the row goes.
    stale = uid("adm-stale")
    sql("INSERT INTO connections (connection_id, user_id, connected_at, "
        "expires_at) VALUES (:'p1', :'p2', now(), now() + interval '1 h')",
        stale, user)
    rc, doc, err = await admin_json("disconnect", stale)
    eq((rc, doc.get("row")), (0, "deleted"),
       "disconnect of a stale row: the row is deleted, exit 0")
    eq(sql_value("SELECT count(*) FROM connections WHERE connection_id = "
                 ":'p1'", stale), "0", "  and gone")
    rc, _, _ = await admin("disconnect", "--code", "1005", ids[2])
    eq(rc, 64, "a close code one may not send: usage (64)")
    rc, _, _ = await admin("disconnect", "--wait", "x", ids[2])
    eq(rc, 64, "a --wait that is no number: usage (64)")
    if last:
        r = await last[0].request({"action": "ping"}, "pong")
        eq(r["type"], "pong", "the user's last connection still answers")
    for c in clients + [sender]:
        await c.close()


def keys_of(path):
    """The keys of a key file as the workers read it (src/apikeys.h): one
    a line, blank and '#' lines ignored, whitespace trimmed."""
    with open(path) as f:
        return [s for s in (line.strip() for line in f)
                if s and not s.startswith("#")]


async def test_create_api_key():
    tmp = tempfile.mkdtemp(prefix="parley-admin-test-")
    path = os.path.join(tmp, "keys")
    env = {"PARLEY_API_KEYS_FILE": path}
    rc, out, err = await admin("create-api-key", "--label", "test label",
                               env=env, umask=0o077)
    key = out.strip()
    eq(rc, 0, "create-api-key exits 0")
    ok(KEY_LINE.match(key) and out == key + "\n",
       "  prints one key: 64 lowercase hex characters", out)
    ok(key not in err, "  and does not log it", err)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    eq(oct(mode), oct(0o640), "  the file is made with mode 0640 (whatever "
       "the umask)")
    with open(path) as f:
        lines = f.read().splitlines()
    m = COMMENT.match(lines[0]) if lines else None
    ok(len(lines) == 2 and m and m.group(1) == "test label" and
       lines[1] == key, "  the file: a comment line '# LABEL created TIME by "
       "parley-admin', then the key", lines)
    if m:
        t = time.mktime(time.strptime(m.group(2), "%Y-%m-%dT%H:%M:%SZ"))
        ok(abs(t - time.mktime(time.gmtime())) < 120,
           "  the time is UTC, now", m.group(2))

    rc, doc, err = await admin_json("create-api-key", env=env)
    eq(rc, 0, "create-api-key --json exits 0")
    ok(KEY_LINE.match(doc.get("key", "")) and doc.get("file") == path,
       "  {'key': 64 hex, 'file': the path}", doc)
    eq(keys_of(path), [key, doc.get("key")],
       "  appended: the file holds both keys, in order")
    ok(key != doc.get("key"), "  two different keys")

    # A file that does not end with a newline: the key gets a line.
    with open(path, "a") as f:
        f.write("  handwritten-key-0123456789  ")
    rc, out, _ = await admin("create-api-key", env=env)
    eq(keys_of(path)[-2:], ["handwritten-key-0123456789", out.strip()],
       "after a last line without a newline the key is still a line")

    before = open(path).read()
    rc, out, err = await admin("create-api-key", "--label", "a\nb", env=env)
    eq(rc, 64, "a label with a newline: usage (64)")
    eq(open(path).read(), before, "  and the file is unchanged")
    rc, out, err = await admin("create-api-key", env={
        "PARLEY_API_KEYS_FILE": ""})
    ok(rc == 78 and out == "" and "api_keys_file" in err,
       "api_keys_file unset: refused (78), with a message, nothing printed",
       (rc, out, err))
    rc, doc, _ = await admin_json("create-api-key", env={
        "PARLEY_API_KEYS_FILE": ""})
    ok(rc == 78 and "api_keys_file" in doc.get("error", ""),
       "  with --json: an error document", doc)
    missing = os.path.join(tmp, "no-such-dir", "keys")
    rc, _, err = await admin("create-api-key", env={
        "PARLEY_API_KEYS_FILE": missing})
    eq(rc, 73, "a key file that cannot be created: 73")
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)

    # The stack's own key file: the workers accept the new key.
    rc, doc, _ = await admin_json("create-api-key", "--label", "test_admin")
    eq(rc, 0, "create-api-key into the stack's api_keys_file")
    new = doc.get("key", "")
    body = json.dumps({"senderId": uid("adm-api"), "recipientId":
                       uid("adm-api-r"), "conversationId": uid("adm-apic"),
                       "content": "via a new key"}).encode()
    status = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        req = urllib.request.Request(HTTP + "/api/messages", data=body,
                                     method="POST")
        req.add_header("Authorization", "Bearer " + new)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        if status == 200:
            break
        await asyncio.sleep(0.5)
    eq(status, 200, "  POST /api/messages with it: 200 (the workers "
       "re-read the file)")


def columns(table):
    return sql_value("SELECT string_agg(column_name || ' ' || data_type, ', ' "
                     "ORDER BY ordinal_position) FROM information_schema."
                     "columns WHERE table_name = :'p1'", table)


async def test_archive():
    """archive --older-than DAYS (sql/007_archive.sql): old delivered
    messages and old group messages (with their receipts) move to the
    archive tables; an old one-to-one message still waiting for its
    recipient, and recent ones, stay; the recipient's backlog is intact."""
    s, r, late = uid("arc-s"), uid("arc-r"), uid("arc-late")
    conv, group = uid("arc-conv"), uid("arc-group")
    old_done, old_wait, recent = uid("arc-m1"), uid("arc-m2"), uid("arc-m3")
    old_group = uid("arc-g1")
    cs = await live(await connect(s))
    cr = await live(await connect(r))
    await cs.request({"action": "createGroup", "conversationId": group,
                      "members": [r]}, "ack")
    for mid, to in ((old_done, r), (old_wait, late), (recent, r)):
        a = await cs.request(send_frame(s, to, conv + to, "x", mid), "ack")
        eq(a["type"], "ack", f"{mid} acked")
    a = await cs.request({"action": "sendMessage", "conversationId": group,
                          "messageId": old_group, "content": "g"}, "ack")
    eq(a["type"], "ack", "a group message acked")
    got = set()
    while len(got) < 3:
        e = await cr.expect("message")
        got.add(e["data"]["messageId"])
    await cr.request({"action": "ack", "messageIds": sorted(got)}, "ack")
    eq(await poll_value("1", "SELECT count(*) FROM group_receipts WHERE "
                        "message_id = :'p1'", old_group), "1",
       "the member's receipt of the group message is stored")
    # Three of them received 100 days ago (as the schema owner).
    sql("UPDATE messages SET received_at = now() - interval '100 days' "
        "WHERE message_id = ANY(string_to_array(:'p1', ','))",
        ",".join((old_done, old_wait, old_group)))

    rc, _, err = await admin("archive")
    eq(rc, 64, "archive without --older-than: usage (64)")
    rc, _, err = await admin("archive", "--older-than", "0")
    eq(rc, 64, "--older-than 0: usage (64)")
    rc, _, err = await admin("archive", "--older-than", "90",
                             worker_login=True)
    eq(rc, 70, "the workers' login may not archive (70)")
    eq(sql_value("SELECT count(*) FROM messages_archive WHERE message_id = "
                 "ANY(string_to_array(:'p1', ','))",
                 ",".join((old_done, old_group))), "0",
       "  and nothing moved")
    try:
        sql("SELECT parley_archive_messages(interval '1 hour', 10)")
        short = "ran"
    except Exception as e:  # psql's error
        short = str(e)
    ok("at least 1 day" in short,
       "the function refuses a horizon under a day", short)

    rc, doc, err = await admin_json("archive", "--older-than", "90",
                                    "--batch", "1")
    eq(rc, 0, "archive --older-than 90 --batch 1 exits 0")
    ok(doc.get("archived", 0) >= 2 and doc.get("older_than_days") == 90 and
       doc.get("batches") == doc.get("archived", 0) + 1,
       "  moved them one a batch, until a batch moved none", doc)
    where = "message_id = ANY(string_to_array(:'p1', ','))"
    ids = ",".join((old_done, old_wait, recent, old_group))
    eq(sql_value(f"SELECT string_agg(message_id, ',' ORDER BY message_id) "
                 f"FROM messages_archive WHERE {where}", ids),
       ",".join(sorted((old_done, old_group))),
       "  the old delivered and the old group message are in the archive")
    eq(sql_value(f"SELECT string_agg(message_id, ',' ORDER BY message_id) "
                 f"FROM messages WHERE {where}", ids),
       ",".join(sorted((old_wait, recent))),
       "  the old one still waiting for its recipient, and the recent "
       "one, stay")
    eq(sql_value("SELECT count(*) FROM group_receipts_archive WHERE "
                 "message_id = :'p1'", old_group), "1",
       "  the group message's receipt went with it")
    eq(sql_value("SELECT status FROM messages_archive WHERE message_id = "
                 ":'p1'", old_done), "delivered",
       "  archived rows keep their columns (status)")
    cl = await connect(late)
    e = await cl.expect(lambda e: e.get("type") == "message")
    eq(e["data"]["messageId"], old_wait,
       "the waiting recipient still gets the old message on connect")
    rc, doc, _ = await admin_json("archive", "--older-than", "90")
    eq((rc, doc.get("archived")), (0, 0), "a second run moves nothing")
    eq(columns("messages_archive"), columns("messages"),
       "messages_archive has the columns of messages (a migration that "
       "adds one must add it there too)")
    eq(columns("group_receipts_archive"), columns("group_receipts"),
       "group_receipts_archive has the columns of group_receipts")
    for c in (cs, cr, cl):
        await c.close()


run(test_connections, test_pending, test_counts, test_disconnect,
    test_archive,
    test_create_api_key)
