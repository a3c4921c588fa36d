/* handlers.h - the client's actions (README, "Frames: client to server") and the
 * connection's start and end, independent of the bridge.
 *
 * Each handler takes a session whose user the bridge has authenticated
 * and answers through the session's bridge; it talks to the database
 * (store.h) and the publisher. Frames are hostile and validated by
 * protocol.c before anything here acts on them.
 */
#ifndef PARLEY_HANDLERS_H
#define PARLEY_HANDLERS_H

#include "session.h"

enum open_result { OPEN_OK, OPEN_UNAVAILABLE, OPEN_TOO_MANY,
		   OPEN_RATE_LIMITED };

/* Before a handshake is authenticated: one connection attempt from the
 * client's address (NULL: unknown, not counted), within its budget. */
bool connect_allowed_from(struct app *app, const char *address) MUST_CHECK;
/* $connect: within the user's connect budget, stores the connection and
 * sets up its delivery state. */
enum open_result handle_open(struct app *app, struct session *s) MUST_CHECK;
/* One text frame from the client. */
void handle_text(struct app *app, struct session *s, const char *frame,
		 size_t len);
/* A frame the protocol does not carry (binary). */
void handle_unsupported(struct app *app, struct session *s, const char *what);
/* $disconnect, clean or not: deletes the connection row. */
void handle_close(struct app *app, struct session *s);

/* Sends the event to the client and frees it. */
void send_event(struct session *s, char *json);

/* The outbox (session.h): after a COMMIT, every held publish goes out
 * and every held ack is sent; after a failed one, each held ack becomes
 * an `unavailable` error and the publishes are dropped. Both empty it. */
void outbox_release(struct app *app, struct session *s);
void outbox_fail(struct session *s);
/* Counts n of m (metrics.h) now, or once the open transaction commits
 * (dropped if it does not). */
void count_metric(struct session *s, enum metric m, uint64_t n);

/* For the actions' modules (handlers.c, groups.c). */
/* Publishes the event to every connection of the user but skip_conn
 * (may be NULL), now or after the COMMIT; does not free json. */
void publish_to(struct app *app, struct session *s, const char *user_id,
		const char *json, const char *skip_conn);
/* The same for every online member of the group (the members a message
 * with `seq` was sent to; seq <= 0: the current ones), queued for
 * fanout_run() (groups.h); does not free json. message: a message event
 * (each publish counts as delivered, metrics.h). */
void publish_group(struct app *app, struct session *s,
		   const char *conversation_id, long long seq,
		   const char *json, const char *skip_conn, bool message);
/* An ack of a change: sent now, or after the COMMIT (owns json). */
void send_ack(struct session *s, char *json, const char *action,
	      const char *message_id);
void send_error(struct session *s, const char *code, const char *message,
		const char *action, const char *message_id);
/* unavailable (retry) or internal, for a failed store call. */
void send_db_error(struct session *s, enum db_status st, const char *action,
		   const char *message_id);

#endif
