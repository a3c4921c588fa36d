/* outbox.h - how an action answers and publishes, the same for every
 * action module (handlers.c, groups.c, delivery.c) and bridge.
 *
 * Inside a transaction (session.h: the outbox is "holding") nothing goes
 * out: acks, publishes and metric counts are held until the COMMIT, so
 * that nothing is acknowledged or announced that may still roll back;
 * outside one they go at once. Group publishes are queued as fan-outs
 * for fanout_run() (groups.h), after the request's answer has gone.
 */
#ifndef PARLEY_OUTBOX_H
#define PARLEY_OUTBOX_H

#include "session.h"

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

/* A fan-out (session.h) with copies of its strings; NULL: out of memory. */
struct fanout *fanout_new(const char *json, const char *conversation_id,
			  long long seq, const char *skip_conn, bool message);
void fanout_free(struct fanout *f);
/* Queues f on the app (which owns it from then on); false: out of
 * memory, f still the caller's. */
bool fanout_queue(struct app *app, struct fanout *f) MUST_CHECK;

#endif
