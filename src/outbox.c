/* outbox.c - see outbox.h. */
#include "common.h"
#include "outbox.h"
#include "events.h"
#include "log.h"
#include "metrics.h"

void send_event(struct session *s, char *json)
{
	if (json == NULL)
		log_error("out of memory building an event");
	else
		s->io->send(s->io->ctx, json, strlen(json));
	event_free(json);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Holds an item in the outbox; false when out of memory. */
static bool hold(struct session *s, struct deferred d)
{
	struct outbox *o = &s->outbox;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct deferred *more = realloc(o->items, cap * sizeof(*more));
		if (more == NULL)
			return false;
		o->items = more;
		o->cap = cap;
	}
	o->items[o->n++] = d;
	return true;
}

static void deferred_free(struct deferred *d)
{
	free(d->json);
	free(d->channel);
	free(d->skip_conn);
	free(d->message_id);
	fanout_free(d->fan);
}

void publish_group(struct app *app, struct session *s,
		   const char *conversation_id, long long seq,
		   const char *json, const char *skip_conn, bool message)
{
	struct fanout *f;

	if (json == NULL)
		return;
	f = fanout_new(json, conversation_id, seq, skip_conn, message);
	if (f != NULL && !s->outbox.holding && fanout_queue(app, f))
		return;
	if (f != NULL && s->outbox.holding &&
	    hold(s, (struct deferred){ .fan = f }))
		return;
	/* Lost like a dropped publish: redelivery covers a message. */
	log_error("out of memory queueing a group's publish");
	fanout_free(f);
}

void publish_to(struct app *app, struct session *s, const char *user_id,
		const char *json, const char *skip_conn)
{
	char channel[ID_MAX + 8];
	struct deferred d;

	if (json == NULL)
		return;
	user_channel(channel, sizeof(channel), user_id);
	if (!s->outbox.holding) {
		publish_ws(app->pub, channel, json, skip_conn);
		return;
	}
	d = (struct deferred){ .json = strdup(json), .channel = strdup(channel),
			       .skip_conn = dup_or_null(skip_conn) };
	if (d.json == NULL || d.channel == NULL || !hold(s, d)) {
		/* Lost like a dropped publish: redelivery covers it. */
		log_error("out of memory holding a publish");
		deferred_free(&d);
	}
}

/* An ack of a change: sent now, or after the COMMIT (then it owns json). */
void send_ack(struct session *s, char *json, const char *action,
	      const char *message_id)
{
	struct deferred d = { .json = json, .action = action,
			      .message_id = dup_or_null(message_id) };

	if (!s->outbox.holding || json == NULL) {
		free(d.message_id);
		send_event(s, json);
	} else if (!hold(s, d)) {
		deferred_free(&d);
		send_event(s, event_error("internal", "out of memory", action,
					  message_id));
	}
}

void count_metric(struct session *s, enum metric m, uint64_t n)
{
	if (s->outbox.holding)
		s->outbox.held[m] += n;
	else
		metrics_add(m, n);
}

void outbox_release(struct app *app, struct session *s)
{
	struct outbox *o = &s->outbox;

	for (int m = 0; m < M_COUNT; m++)
		metrics_add((enum metric)m, o->held[m]);

	for (size_t i = 0; i < o->n; i++) {
		struct deferred *d = &o->items[i];
		if (d->fan != NULL) {
			if (!fanout_queue(app, d->fan)) {
				log_error("out of memory queueing a group's "
					  "publish");
				fanout_free(d->fan);
			}
			d->fan = NULL;
			deferred_free(d);
		} else if (d->channel != NULL) {
			publish_ws(app->pub, d->channel, d->json, d->skip_conn);
			deferred_free(d);
		} else {
			send_event(s, d->json);
			d->json = NULL;
			deferred_free(d);
		}
	}
	free(o->items);
	*o = (struct outbox){ 0 };
}

void outbox_fail(struct session *s)
{
	struct outbox *o = &s->outbox;

	for (size_t i = 0; i < o->n; i++) {
		struct deferred *d = &o->items[i];
		if (d->channel == NULL && d->fan == NULL)
			send_error(s, "unavailable", "storage is unavailable; "
				   "retry later (with the same messageId)",
				   d->action, d->message_id);
		deferred_free(d);
	}
	free(o->items);
	*o = (struct outbox){ 0 }; /* and what it counted: not done */
}

void send_error(struct session *s, const char *code, const char *message,
		const char *action, const char *message_id)
{
	metrics_error(code);
	send_event(s, event_error(code, message, action, message_id));
}

void send_db_error(struct session *s, enum db_status st, const char *action,
		   const char *message_id)
{
	if (st == DB_UNAVAILABLE)
		send_error(s, "unavailable", "storage is unavailable; retry "
			   "later (with the same messageId)", action,
			   message_id);
	else
		send_error(s, "internal", "the server could not complete the "
			   "request", action, message_id);
}


/* ---- fan-outs (run by groups.c) ------------------------------------------ */

struct fanout *fanout_new(const char *json, const char *conversation_id,
			  long long seq, const char *skip_conn, bool message)
{
	struct fanout *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->json = strdup(json);
	f->conversation_id = strdup(conversation_id);
	f->seq = seq;
	f->message = message;
	f->skip_conn = skip_conn ? strdup(skip_conn) : NULL;
	if (f->json == NULL || f->conversation_id == NULL ||
	    (skip_conn != NULL && f->skip_conn == NULL)) {
		fanout_free(f);
		return NULL;
	}
	return f;
}

void fanout_free(struct fanout *f)
{
	if (f == NULL)
		return;
	free(f->json);
	free(f->conversation_id);
	free(f->skip_conn);
	free(f);
}

bool fanout_queue(struct app *app, struct fanout *f)
{
	struct fanouts *q = &app->later;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		struct fanout **more = realloc(q->items, cap * sizeof(*more));
		if (more == NULL)
			return false;
		q->items = more;
		q->cap = cap;
	}
	q->items[q->n++] = f;
	return true;
}
