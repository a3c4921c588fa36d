/* publish.h - pushing events to other connections through Pushpin.
 *
 * One ZeroMQ PUSH socket per worker process, connected to the Pushpin
 * handler's push_in_spec: no TCP connection per publish, and a send never
 * blocks a request (a full queue drops the item, which the redelivery of
 * unacked messages covers). A publish is at-most-once by nature; nothing
 * that must not be lost relies on it alone.
 */
#ifndef PARLEY_PUBLISH_H
#define PARLEY_PUBLISH_H

struct publisher;

struct publisher *publisher_new(const char *spec);
void publisher_free(struct publisher *p);
/* Whether something listens on the publish socket `spec` (tcp://HOST:PORT
 * or ipc://PATH): a plain connect, closed at once, within timeout_ms.
 * ZeroMQ's own connect is silent about a socket nobody listens on, so
 * /healthz asks the operating system. False with a reason in err. */
bool publisher_reachable(const char *spec, int timeout_ms, char *err,
			 size_t errlen) MUST_CHECK;
/* Sends `content` as a WebSocket text message to every connection
 * subscribed to `channel`, except the one whose connection id is
 * `skip_conn` (may be NULL). */
bool publish_ws(struct publisher *p, const char *channel, const char *content,
		const char *skip_conn);
/* Closes every connection subscribed to `channel` (Pushpin's ws-message
 * action "close"): the client gets a close frame with `code` (0: none,
 * Pushpin's default). parley-admin disconnect, on conn_channel(). */
bool publish_close(struct publisher *p, const char *channel, int code);

/* "c:" + connection id: the channel only that connection subscribes to
 * (delivery.c, with its user's "u:" channel), which carries nothing but
 * parley-admin's close. */
void conn_channel(char *out, size_t size, const char *conn_id);

#endif
