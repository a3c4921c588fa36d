/* delivery.c - see delivery.h. */
#include "common.h"
#include "delivery.h"
#include "groupstore.h"
#include "outbox.h"
#include "events.h"
#include "log.h"


/* Room kept free in every answer for the small events that follow. */
#define ROOM_RESERVE 4096
/* The payload of the pings that ask for the next request. */
#define PULL_PING "parley"
/* The payload of a sweep's probe: its pong shows that the client has
 * read everything sent to it before (a connection is one ordered
 * stream), so what is still unacked then was lost on the way. */
#define PROBE_PING "parley-probe"
/* How long after subscribing the early check looks (SETTLE). */
#define SETTLE_MS 2000

size_t delivery_room(struct session *s)
{
	size_t r = s->io->room(s->io->ctx);
	return r > ROOM_RESERVE ? r - ROOM_RESERVE : 0;
}

void delivery_start(struct app *app, struct session *s)
{
	long long now = wall_ms() / 1000;

	s->state.phase = PHASE_BACKLOG;
	s->state.after = 0;
	s->state.sweep_at = now + app->cfg->redelivery_interval;
	s->state.refresh_at = now + app->cfg->connection_ttl / 2;
}

enum page { PAGE_DONE, PAGE_MORE, PAGE_FAILED };

/* Sends the user's unacked messages after seq `after` (with before_ms > 0
 * only those stored before that unix time in ms), as many as fit; *last
 * becomes the last seq sent. */
static enum page deliver_page(struct app *app, struct session *s,
			      long long after, long long before_ms,
			      long long *last)
{
	struct message_list l;
	enum page result;
	int i;

	*last = after;
	if (store_pending(app->db, s->user_id, after, before_ms,
			  app->cfg->page_messages, &l) != DB_OK)
		return PAGE_FAILED; /* again with the next request */
	for (i = 0; i < l.n; i++) {
		char *json = event_message(&l.items[i]);
		bool fits = json != NULL && strlen(json) <= delivery_room(s);
		if (fits) {
			s->io->send(s->io->ctx, json, strlen(json));
			*last = l.items[i].seq;
			count_metric(s, M_DELIVERED, 1);
			if (s->state.phase == PHASE_SWEEP)
				count_metric(s, M_REDELIVERED, 1);
		}
		event_free(json);
		if (!fits)
			break;
	}
	result = i == l.n && l.n < app->cfg->page_messages ? PAGE_DONE
							    : PAGE_MORE;
	message_list_free(&l);
	return result;
}

/* Asks the client's stack for a pong: the next request, at once. */
static void pull(struct session *s)
{
	s->io->frame(s->io->ctx, WS_PING, PULL_PING, strlen(PULL_PING));
}

/* The next page after state.after (stored before before_ms when > 0);
 * true when it was the last. A full page asks for the next request. */
static bool next_page(struct app *app, struct session *s, long long before_ms)
{
	long long last;
	enum page p = deliver_page(app, s, s->state.after, before_ms, &last);

	if (p == PAGE_FAILED)
		return false; /* again with the next request */
	s->state.after = last;
	if (p == PAGE_MORE)
		pull(s);
	return p == PAGE_DONE;
}

/* BACKLOG: the next page. After the last one: subscribe, and settle. A
 * message stored after the last page's query is published after the
 * subscription left here; only a publish that overtakes the subscription
 * inside Pushpin (or one stored in the microseconds between that query
 * and this answer) is lost, and SETTLE's check finds it. */
static void deliver_backlog(struct app *app, struct session *s)
{
	char channel[ID_MAX + 8];

	if (!next_page(app, s, 0))
		return;
	/* The connection's own channel too, which carries only
	 * parley-admin disconnect's close (2 of Pushpin's 20 channels). */
	conn_channel(channel, sizeof(channel), s->conn_id);
	s->io->subscribe(s->io->ctx, channel);
	user_channel(channel, sizeof(channel), s->user_id);
	s->io->subscribe(s->io->ctx, channel);
	s->state.phase = PHASE_SETTLE;
	s->state.after = 0;
	s->state.mark_ms = wall_ms();
}

/* SWEEP: pages of what is unacked and stored before mark_ms. */
static void deliver_sweep(struct app *app, struct session *s)
{
	if (!next_page(app, s, s->state.mark_ms))
		return;
	s->state.phase = PHASE_LIVE;
	s->state.after = 0;
	s->state.mark_ms = 0;
}

bool delivery_is_probe(const char *data, size_t len)
{
	return len == strlen(PROBE_PING) && data != NULL &&
	       memcmp(data, PROBE_PING, len) == 0;
}

static void send_probe(struct session *s)
{
	s->io->frame(s->io->ctx, WS_PING, PROBE_PING, strlen(PROBE_PING));
}

/* A sweep is due for what was stored before before_ms. When something
 * is unacked, ask the client to show first that it reads: a client that
 * has stopped reading (its buffers, and Pushpin's, full) would only get
 * more copies queued behind the ones it has not read, each a duplicate
 * when it reads again. It gets the sweep when it answers. */
static void probe(struct app *app, struct session *s, long long before_ms)
{
	struct message_list l;

	if (store_pending(app->db, s->user_id, 0, before_ms, 1, &l) != DB_OK)
		return; /* again with the next request */
	s->state.after = 0;
	if (l.n == 0) {
		s->state.phase = PHASE_LIVE;
		s->state.mark_ms = 0;
	} else {
		s->state.phase = PHASE_PROBE;
		s->state.mark_ms = before_ms;
		send_probe(s);
	}
	message_list_free(&l);
}

static void start_sweep(struct session *s, long long before_ms)
{
	s->state.phase = PHASE_SWEEP;
	s->state.after = 0;
	s->state.mark_ms = before_ms;
}

void delivery_due(struct app *app, struct session *s)
{
	long long now_ms = wall_ms(), now = now_ms / 1000;

	switch (s->state.phase) {
	case PHASE_BACKLOG:
		deliver_backlog(app, s);
		break;
	case PHASE_SETTLE:
		/* The first request SETTLE_MS after subscribing: what is
		 * still unacked and older than that, once the probe shows
		 * the client has read what came before it, was lost by a
		 * publish that overtook the subscription. */
		if (now_ms - s->state.mark_ms >= SETTLE_MS)
			probe(app, s, now_ms - SETTLE_MS);
		break;
	case PHASE_SWEEP:
		deliver_sweep(app, s);
		break;
	case PHASE_PROBE:
		if (s->probe_answered) {
			start_sweep(s, s->state.mark_ms);
			deliver_sweep(app, s);
		} else if (s->state.sweep_at <= now) {
			/* No answer for an interval: ask again, for the
			 * same messages (the first ping may still be
			 * queued, and its answer must not start a sweep
			 * of what was sent after it). */
			s->state.sweep_at = now + app->cfg->redelivery_interval;
			send_probe(s);
		}
		break;
	case PHASE_LIVE:
		if (s->state.sweep_at <= now) {
			/* What a lost publish or a dropped client buffer
			 * kept from this connection, in pages, once the
			 * probe is answered. */
			s->state.sweep_at = now + app->cfg->redelivery_interval;
			/* Where the user's group backlog starts moves past
			 * what is acked (older than a minute more: nothing
			 * still being committed is left behind). Not done:
			 * the queries only start further back. */
			if (group_catch_up(app->db, s->user_id, now_ms -
					   app->cfg->redelivery_interval *
						   1000LL - 60000) != DB_OK)
				log_debug("user %s: group catch-up failed; "
					  "again next interval", s->user_id);
			probe(app, s, now_ms -
				      app->cfg->redelivery_interval * 1000LL);
		}
		break;
	case PHASE_NONE:
		return;
	}
	if (s->state.refresh_at != 0 && s->state.refresh_at <= now &&
	    store_touch(app->db, s->conn_id, app->cfg->connection_ttl) == DB_OK)
		s->state.refresh_at = now + app->cfg->connection_ttl / 2;
}
