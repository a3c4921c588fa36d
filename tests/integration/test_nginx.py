"""The same workers under nginx instead of lighttpd: parley-ws --listen
serves FastCGI, nginx (nginx/parley.conf.in) mounts it, and Pushpin routes
/nginx/ws there. The original flow, the errors and the refusals behave as
under lighttpd."""
import sys

import parley_test
from parley_test import eq, run, send_frame, sql_value, uid

# From tests/stack/stack.env.in (the test stack's additions).
NGINX_WS_URL = parley_test.STACK.get("NGINX_WS_URL")
if not NGINX_WS_URL:
    print("1..0 # SKIP no NGINX_WS_URL in the stack's stack.env "
          "(scripts/test's stack has it)")
    sys.exit(0)
# Every connection of this file goes through nginx.
parley_test.WS_URL = NGINX_WS_URL
from parley_test import connect  # noqa: E402


async def test_flow_through_nginx():
    a = await connect(uid("ngx-a"))
    b = await connect(uid("ngx-b"))
    mid = uid("ngx-m")
    ack = await a.request(send_frame(a.user, b.user, "conv-1",
                                     "Hello through nginx", mid,
                                     senderId=a.user), "ack")
    eq((ack["type"], ack["data"]["messageId"]), ("ack", mid),
       "send through nginx is acked")
    msg = await b.expect("message")
    eq((msg["data"]["messageId"], msg["data"]["content"]),
       (mid, "Hello through nginx"), "and delivered")
    ev = await a.request("not json", "error")
    eq(ev["data"]["code"], "invalid_json", "bad frames get their error")
    eq(await a.request({"action": "ping"}, "pong"),
       {"type": "pong", "data": {}}, "and the connection keeps working")
    await b.request({"action": "ack", "messageIds": [mid]}, "ack")
    eq(sql_value("SELECT status FROM messages WHERE message_id = :'p1'",
                 mid), "delivered", "the ack is stored")
    await a.close()
    await b.close()


async def test_refusals_through_nginx():
    import websockets
    try:
        ws = await websockets.connect(f"{NGINX_WS_URL}?user=x", open_timeout=10)
        await ws.close()
        status = None
    except websockets.exceptions.InvalidStatusCode as e:
        status = e.status_code
    eq(status, 400, "a handshake without userId: 400")


if __name__ == "__main__":
    run(test_flow_through_nginx, test_refusals_through_nginx)
