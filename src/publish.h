/* publish.h - pushing events to other connections through Pushpin.
 *
 * One ZeroMQ PUSH socket per worker process and Pushpin instance, each
 * connected to one handler's push_in_spec (publish_spec lists them:
 * speclist.h), and every item sent to each: Pushpin instances share
 * nothing, and a client may be on any of them. (One PUSH socket
 * connected to several endpoints would round-robin: each item to ONE
 * instance.) No TCP connection per publish, and a send never blocks a
 * request: a PUSH socket queues what it is given until its peer takes it
 * (from the first connect on, so nothing is lost while Pushpin starts
 * or restarts), up to its high-water mark; beyond that an instance's
 * copy is dropped and counted, which the redelivery of unacked messages
 * covers. A publish is at-most-once by nature; nothing that must not be
 * lost relies on it alone.
 *
 * With `postgres:` in publish_spec every publish also goes as NOTIFY on
 * the database connection given by publisher_set_db() (notify.h), for
 * parley-websocketd's connections. The callers publish only after the
 * COMMIT of what they announce, never inside an open transaction.
 */
#ifndef PARLEY_PUBLISH_H
#define PARLEY_PUBLISH_H

struct publisher;
struct db;

/* A publisher to every endpoint of `specs` (publish_spec: a list, see
 * speclist.h). NULL when the list is not one (logged) or out of memory.
 * The sockets are made at the first publish. */
struct publisher *publisher_new(const char *specs);
void publisher_free(struct publisher *p);
/* The database connection NOTIFYs go on (app_init sets the workers'). */
void publisher_set_db(struct publisher *p, struct db *db);
/* Whether publish_spec names postgres: (publishes go as NOTIFY too). */
bool publisher_notifies(const struct publisher *p);
/* The Pushpin instances (postgres: is none): how many, and the i-th's
 * endpoint. */
int publisher_count(const struct publisher *p);
const char *publisher_spec(const struct publisher *p, int i);
/* Whether something listens on the publish socket `spec`, one endpoint
 * (tcp://HOST:PORT or ipc://PATH): a plain connect, closed at once,
 * within timeout_ms. ZeroMQ's own connect is silent about a socket
 * nobody listens on, so /healthz asks the operating system. False with
 * a reason in err. */
bool publisher_reachable(const char *spec, int timeout_ms, char *err,
			 size_t errlen) MUST_CHECK;
/* Sends `content` as a WebSocket text message to every connection
 * subscribed to `channel`, except the one whose connection id is
 * `skip_conn` (may be NULL), on every instance (and as NOTIFY). True
 * when every instance's socket took it (and the NOTIFY was sent); each
 * one that did not (its queue full) adds 1 to
 * parley_publish_failures_total. */
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
