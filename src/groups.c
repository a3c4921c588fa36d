/* groups.c - see groups.h. */
#include "common.h"
#include "groups.h"
#include "delivery.h"
#include "events.h"
#include "groupstore.h"
#include "outbox.h"
#include "log.h"

#include <time.h>
#include <uuid/uuid.h>

/* ---- fan-out (fanout_new() and the queue: outbox.c) ----------------- */

/* Paces the publishes: `step` of them every 50 ms. Each member's
 * devices ack what they get, one request each; all at once they would
 * be hundreds of simultaneous requests, and Pushpin drops connections
 * beyond ~100 (PUSHPIN.md). */
struct pace {
	long step, done;
};

static void paced(struct pace *p)
{
	static const struct timespec tick = { 0, 50 * 1000 * 1000 };

	if (p->step > 0 && ++p->done % p->step == 0)
		nanosleep(&tick, NULL);
}

void fanout_run(struct app *app)
{
	struct fanouts *q = &app->later;
	long rate = app->cfg->group_fanout_rate;
	struct pace pace = { .step = rate > 0 ? (rate + 19) / 20 : 0 };

	for (size_t i = 0; i < q->n; i++) {
		struct fanout *f = q->items[i];
		struct user_list online;
		/* A failed lookup loses the publishes like a dropped one:
		 * a message's redelivery covers it. */
		if (group_online(app->db, f->conversation_id, f->seq,
				 &online) == DB_OK) {
			for (int k = 0; k < online.n; k++) {
				char channel[ID_MAX + 8];
				user_channel(channel, sizeof(channel),
					     online.ids[k]);
				publish_ws(app->pub, channel, f->json,
					   f->skip_conn);
				if (f->message)
					metrics_add(M_DELIVERED, 1);
				if (k + 1 < online.n || i + 1 < q->n)
					paced(&pace);
			}
			user_list_free(&online);
		}
		fanout_free(f);
	}
	free(q->items);
	*q = (struct fanouts){ 0 };
}

/* ---- createGroup ------------------------------------------------------- */

/* Tells the group's current members (after the answer) and `gone`, the
 * users just removed or the one who left (now). */
static void tell_members(struct app *app, struct session *s,
			 const struct group_view *g, const char *change,
			 const char *const *users, int n, bool gone)
{
	char *json = event_group(g, change, s->user_id, users, n);

	if (json == NULL) {
		log_error("out of memory building a group event");
		return;
	}
	if (strlen(json) > EVENT_MAX)
		log_warn("group %s: its %s event is %zu bytes, over the %d "
			 "a client can be sent; dropped", g->conversation_id,
			 change, strlen(json), EVENT_MAX);
	else {
		publish_group(app, s, g->conversation_id, 0, json, NULL, false);
		for (int i = 0; gone && i < n; i++)
			publish_to(app, s, users[i], json, NULL);
	}
	event_free(json);
}

void handle_create_group(struct app *app, struct session *s,
			 const struct request *q)
{
	const char **others = calloc((size_t)q->nmembers + 1, sizeof(*others));
	const char *conv = q->conversation_id;
	char generated[37];
	struct group_view g;
	enum db_status st;
	int n = 0;

	if (others == NULL) {
		send_error(s, "internal", "out of memory", "createGroup", NULL);
		return;
	}
	for (int i = 0; i < q->nmembers; i++)
		if (strcmp(q->members[i], s->user_id) != 0)
			others[n++] = q->members[i];
	if (n + 1 > app->limits.max_members) {
		char msg[96];
		snprintf(msg, sizeof(msg), "a group has at most %d members, "
			 "its creator included", app->limits.max_members);
		send_error(s, "too_large", msg, "createGroup", NULL);
		free(others);
		return;
	}
	if (conv == NULL) {
		uuid_t u;
		uuid_generate_random(u);
		uuid_unparse_lower(u, generated);
		conv = generated;
	}
	st = group_create(app->db, conv, q->title, s->user_id, others, n, &g);
	if (st == DB_FULL) {
		send_error(s, "conflict", "this conversationId is taken (by a "
			   "group or by one-to-one messages)", "createGroup",
			   NULL);
	} else if (st != DB_OK) {
		send_db_error(s, st, "createGroup", NULL);
	} else {
		tell_members(app, s, &g, "created", others, n, false);
		send_ack(s, event_group_ack("createGroup", conv), "createGroup",
			 NULL);
		group_view_free(&g);
	}
	free(others);
}

/* ---- addMembers, removeMembers, leaveGroup ------------------------------ */

static void send_refusal(struct app *app, struct session *s,
			 enum action action, const struct group_result *r)
{
	const char *name = action_name(action);
	char msg[ID_MAX + 96];

	switch (r->refusal) {
	case GROUP_UNKNOWN:
		send_error(s, "not_found", "no such group", name, NULL);
		break;
	case GROUP_NOT_ADMIN:
		send_error(s, "forbidden", action == ACT_LEAVE_GROUP
			   ? "not a member of this group"
			   : "only the group's admins may change its members",
			   name, NULL);
		break;
	case GROUP_IS_MEMBER:
		snprintf(msg, sizeof(msg), "'%s' is a member already", r->user);
		send_error(s, "conflict", msg, name, NULL);
		break;
	case GROUP_NOT_MEMBER:
		snprintf(msg, sizeof(msg), "'%s' is not a member", r->user);
		send_error(s, "not_found", msg, name, NULL);
		break;
	case GROUP_TOO_MANY:
		snprintf(msg, sizeof(msg), "a group has at most %d members",
			 app->limits.max_members);
		send_error(s, "too_large", msg, name, NULL);
		break;
	case GROUP_DONE:
		break;
	}
}

void handle_group_change(struct app *app, struct session *s,
			 const struct request *q)
{
	enum group_change kind = q->action == ACT_ADD_MEMBERS ? GROUP_ADD
				 : q->action == ACT_REMOVE_MEMBERS
					 ? GROUP_REMOVE
					 : GROUP_LEAVE;
	static const char *const change[] = {
		[GROUP_ADD] = "added", [GROUP_REMOVE] = "removed",
		[GROUP_LEAVE] = "left",
	};
	const char *name = action_name(q->action);
	struct group_result r;
	enum db_status st;

	st = group_change(app->db, s->outbox.holding, kind, q->conversation_id,
			  s->user_id, q->members, q->nmembers,
			  app->limits.max_members, &r);
	if (st != DB_OK) {
		send_db_error(s, st, name, NULL);
		return;
	}
	if (r.refusal != GROUP_DONE) {
		send_refusal(app, s, q->action, &r);
	} else {
		const char *self = s->user_id;
		if (kind == GROUP_LEAVE)
			tell_members(app, s, &r.view, change[kind], &self, 1,
				     true);
		else
			tell_members(app, s, &r.view, change[kind], q->members,
				     q->nmembers, kind == GROUP_REMOVE);
		send_ack(s, event_group_ack(name, q->conversation_id), name,
			 NULL);
	}
	group_result_free(&r);
}

/* ---- getReceipts -------------------------------------------------------- */

/* Receipts per answer at most; hasMore and `after` page on. */
#define RECEIPTS_PAGE 1000

void handle_get_receipts(struct app *app, struct session *s,
			 const struct request *q)
{
	size_t budget = delivery_room(s);
	struct receipts_of r;
	enum db_status st;

	if (budget > EVENT_MAX)
		budget = EVENT_MAX;
	st = group_receipts_of(app->db, q->message_id, s->user_id, q->after,
			       RECEIPTS_PAGE, &r);
	if (st != DB_OK) {
		send_db_error(s, st, "getReceipts", q->message_id);
		return;
	}
	if (r.access == RECEIPTS_UNKNOWN)
		send_error(s, "not_found", "no such message", "getReceipts",
			   q->message_id);
	else if (r.access == RECEIPTS_FORBIDDEN)
		send_error(s, "forbidden", "only the sender may list a "
			   "message's receipts", "getReceipts", q->message_id);
	else
		send_event(s, event_receipts(q->message_id, &r, budget));
	receipts_of_free(&r);
}
