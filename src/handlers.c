/* handlers.c - see handlers.h.
 *
 * A send is acked only after its INSERT committed; then it is published
 * to the recipient's channel and, when the sender has another connection,
 * to the sender's (skipping the sending connection). A publish may be
 * lost: the row stays 'sent' until a device of the recipient acks it, and
 * delivery.c delivers it again (README, "Delivery guarantees").
 */
#include "common.h"
#include "handlers.h"
#include "outbox.h"
#include "delivery.h"
#include "events.h"
#include "groups.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"

#include <time.h>
#include <uuid/uuid.h>

static void handle_send(struct app *app, struct session *s,
			const struct request *q)
{
	char generated[37];
	struct message_in in = {
		.id = q->message_id,
		.conversation_id = q->conversation_id,
		.sender_id = s->user_id,
		.sender_name = q->sender_name,
		.recipient_id = q->recipient_id,
		.content = q->content,
		.timestamp = q->timestamp,
		.reply_to_message_id = q->reply_to_message_id,
		.reply_to_content = q->reply_to_content,
		.reply_to_sender_name = q->reply_to_sender_name,
		.queue_push = app->cfg->push_webhook_url[0] != '\0',
	};
	struct stored row;
	enum db_status st;
	const struct message *m;

	if (q->sender_id != NULL && strcmp(q->sender_id, s->user_id) != 0) {
		send_error(s, "forbidden", "'senderId' must be the connected "
			   "user", "sendMessage", in.id);
		return;
	}
	if (json_escaped_len(q->content) +
		    json_escaped_len(q->reply_to_content) +
		    json_escaped_len(q->sender_name) +
		    json_escaped_len(q->reply_to_sender_name) + 4 * ID_MAX +
		    1024 > EVENT_MAX) {
		send_error(s, "too_large", "message too large once encoded",
			   "sendMessage", in.id);
		return;
	}
	if (in.id == NULL) {
		uuid_t u;
		uuid_generate_random(u);
		uuid_unparse_lower(u, generated);
		in.id = generated;
	}
	st = store_message(app->db, &in, s->conn_id, &row);
	if (st == DB_NOT_FOUND) {
		if (in.recipient_id != NULL)
			send_error(s, "invalid_field", "'conversationId' is a "
				   "group's: a group message has no "
				   "'recipientId'", "sendMessage", in.id);
		else if (!row.is_group)
			send_error(s, "missing_field", "'recipientId' is "
				   "required (or 'conversationId' of a group)",
				   "sendMessage", in.id);
		else
			send_error(s, "forbidden", "only a member may send to "
				   "this group", "sendMessage", in.id);
		return;
	}
	if (st != DB_OK) {
		send_db_error(s, st, "sendMessage", in.id);
		return;
	}
	m = &row.row.items[0];
	if (!row.inserted && strcmp(m->sender_id, s->user_id) != 0) {
		send_error(s, "conflict", "this messageId is taken by another "
			   "sender", "sendMessage", in.id);
		stored_free(&row);
		return;
	}
	if (row.inserted)
		count_metric(s, M_STORED, 1);
	if (row.inserted && m->recipient_id == NULL) {
		/* Committed: every online member but this connection,
		 * after the ack has gone. */
		char *json = event_message(m);
		publish_group(app, s, m->conversation_id, m->seq, json,
			      s->conn_id, true);
		event_free(json);
	} else if (row.inserted &&
		   (row.recipient_online || row.sender_has_others)) {
		/* Committed: now tell the recipient's devices and the
		 * sender's other devices, where there are any. */
		char *json = event_message(m);
		bool self = strcmp(m->recipient_id, s->user_id) == 0;
		if (row.recipient_online) {
			publish_to(app, s, m->recipient_id, json, s->conn_id);
			count_metric(s, M_DELIVERED, 1);
		}
		if (!self && row.sender_has_others)
			publish_to(app, s, s->user_id, json, s->conn_id);
		event_free(json);
	}
	send_ack(s, event_send_ack(in.id, m->status, !row.inserted,
				   row.acked_at), "sendMessage", in.id);
	stored_free(&row);
}

static void handle_receipts(struct app *app, struct session *s,
			    const struct request *q)
{
	bool read = q->action == ACT_MARKREAD;
	const char *action = action_name(q->action);
	struct receipt_list l;
	enum db_status st;

	st = store_receipts(app->db, read, s->user_id, q->ids, q->nids, &l);
	if (st != DB_OK) {
		send_db_error(s, st, action, NULL);
		return;
	}
	for (int i = 0; i < l.n; i++) {
		const struct receipt *c = &l.items[i];
		char *json;
		if (!c->changed)
			continue;
		count_metric(s, read ? M_READ : M_ACKED, 1);
		json = event_status(c->id, c->conversation_id,
				    read ? "read" : "delivered", c->is_deleted,
				    c->at, c->group ? s->user_id : NULL);
		publish_to(app, s, c->sender_id, json, NULL);
		event_free(json);
	}
	send_ack(s, event_receipts_ack(action, &l), action, NULL);
	receipt_list_free(&l);
}

static void handle_delete(struct app *app, struct session *s,
			  const struct request *q)
{
	struct deletion d;
	enum db_status st = store_delete(app->db, q->message_id, s->user_id,
					 &d);
	bool recipient;

	if (st != DB_OK) {
		send_db_error(s, st, "deleteMessage", q->message_id);
		return;
	}
	recipient = d.found && (d.recipient_id == NULL
					? d.member
					: strcmp(d.recipient_id,
						 s->user_id) == 0);
	if (!d.found || (strcmp(d.sender_id, s->user_id) != 0 && !recipient)) {
		send_error(s, "not_found", "no such message", "deleteMessage",
			   q->message_id);
	} else if (strcmp(d.sender_id, s->user_id) != 0) {
		send_error(s, "forbidden", "only the sender may delete a "
			   "message", "deleteMessage", q->message_id);
	} else {
		if (d.changed) {
			char *json = event_status(q->message_id,
						  d.conversation_id, d.status,
						  true, d.at, NULL);
			if (d.recipient_id == NULL)
				publish_group(app, s, d.conversation_id, d.seq,
					      json, NULL, false);
			else
				publish_to(app, s, s->user_id, json, NULL);
			if (d.recipient_id != NULL &&
			    strcmp(d.recipient_id, s->user_id) != 0)
				publish_to(app, s, d.recipient_id, json, NULL);
			event_free(json);
		}
		send_ack(s, event_delete_ack(q->message_id), "deleteMessage",
			 q->message_id);
	}
	deletion_free(&d);
}

static void handle_get(struct app *app, struct session *s,
		       const struct request *q)
{
	size_t budget = delivery_room(s);
	struct message_list l;
	enum db_status st;
	bool more;

	if (budget > EVENT_MAX)
		budget = EVENT_MAX;
	st = store_history(app->db, q->conversation_id, s->user_id, q->before,
			   q->limit + 1, &l);
	if (st == DB_NOT_FOUND) {
		send_error(s, "not_found", "'before' is neither a message of "
			   "this conversation nor a time", "getMessages", NULL);
		return;
	}
	if (st != DB_OK) {
		send_db_error(s, st, "getMessages", NULL);
		return;
	}
	more = l.n > q->limit;
	if (more)
		l.n = q->limit;
	send_event(s, event_history(q->conversation_id, &l, budget, &more));
	message_list_free(&l);
}

static void handle_typing(struct app *app, struct session *s,
			  const struct request *q)
{
	char *json;
	bool member;
	enum db_status st;

	if (q->recipient_id == NULL) {
		/* To a group: its members' connections but this one. */
		st = group_membership(app->db, q->conversation_id, s->user_id,
				      &member);
		if (st == DB_NOT_FOUND || (st == DB_OK && !member)) {
			send_error(s, st == DB_OK ? "forbidden" : "not_found",
				   st == DB_OK ? "only a member may type in "
				   "this group" : "no such group", "typing",
				   NULL);
			return;
		}
		if (st != DB_OK) {
			send_db_error(s, st, "typing", NULL);
			return;
		}
	}
	json = event_typing(s->user_id, q->conversation_id, q->is_typing);
	if (q->recipient_id == NULL)
		publish_group(app, s, q->conversation_id, 0, json, s->conn_id,
			      false);
	else
		publish_to(app, s, q->recipient_id, json, s->conn_id);
	event_free(json);
}

/* ack, markRead and ping are never refused for the rate (README,
 * "Limits"): each is bounded by its id count, and refusing an ack only brings
 * the message back. Everything else a client makes the server do costs
 * a token, malformed frames included. */
static bool rate_exempt(const char *action)
{
	return action != NULL && (strcmp(action, "ack") == 0 ||
				  strcmp(action, "markRead") == 0 ||
				  strcmp(action, "ping") == 0);
}

/* The user's budget, shared by all their connections on this host
 * (ratetable.h): reconnecting does not refill it. action and message_id
 * (may be NULL) name the refused frame. */
static bool take_token(struct app *app, struct session *s, const char *action,
		       const char *message_id)
{
	if (app->rates == NULL ||
	    rate_table_take(app->rates, RATE_FRAMES, s->user_id,
			    app->cfg->rate_limit, app->cfg->rate_burst,
			    rate_clock_ms()))
		return true;
	send_error(s, "rate_limited", "too many frames; slow down and send "
		   "again", action, message_id);
	return false;
}

void handle_text(struct app *app, struct session *s, const char *frame,
		 size_t len)
{
	struct request q;
	struct proto_error err;

	if (len > (size_t)app->cfg->max_frame_bytes) {
		char msg[96];
		snprintf(msg, sizeof(msg), "frame larger than %ld bytes",
			 app->cfg->max_frame_bytes);
		send_error(s, "too_large", msg, NULL, NULL);
		return;
	}
	if (!proto_parse(frame, len, &app->limits, &q, &err)) {
		if (rate_exempt(err.action) ||
		    take_token(app, s, err.action, err.message_id))
			send_error(s, err.code, err.message, err.action,
				   err.message_id);
		return;
	}
	if (!rate_exempt(action_name(q.action)) &&
	    !take_token(app, s, action_name(q.action), q.message_id)) {
		request_free(&q);
		return;
	}
	switch (q.action) {
	case ACT_SEND:
		handle_send(app, s, &q);
		break;
	case ACT_ACK:
	case ACT_MARKREAD:
		handle_receipts(app, s, &q);
		break;
	case ACT_DELETE:
		handle_delete(app, s, &q);
		break;
	case ACT_GET:
		handle_get(app, s, &q);
		break;
	case ACT_TYPING:
		handle_typing(app, s, &q);
		break;
	case ACT_PING:
		send_event(s, event_pong());
		break;
	case ACT_CREATE_GROUP:
		handle_create_group(app, s, &q);
		break;
	case ACT_ADD_MEMBERS:
	case ACT_REMOVE_MEMBERS:
	case ACT_LEAVE_GROUP:
		handle_group_change(app, s, &q);
		break;
	case ACT_GET_RECEIPTS:
		handle_get_receipts(app, s, &q);
		break;
	}
	request_free(&q);
}

void handle_unsupported(struct app *app, struct session *s, const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s frames are not supported; send JSON "
		 "text frames", what);
	send_error(s, "invalid_json", msg, NULL, NULL);
}

bool connect_allowed_from(struct app *app, const char *address)
{
	char name[64];

	if (app->rates == NULL || address == NULL)
		return true;
	address_bucket(address, name, sizeof(name));
	if (rate_table_take(app->rates, RATE_ADDR_CONNECTS, name,
			    app->cfg->address_connect_rate,
			    app->cfg->address_connect_burst, rate_clock_ms()))
		return true;
	log_debug("connect from %s refused: over %ld a second", name,
		  app->cfg->address_connect_rate);
	return false;
}

enum open_result handle_open(struct app *app, struct session *s)
{
	enum db_status st;

	if (app->rates != NULL &&
	    !rate_table_take(app->rates, RATE_USER_CONNECTS, s->user_id,
			     app->cfg->user_connect_rate,
			     app->cfg->user_connect_burst, rate_clock_ms())) {
		log_debug("user %s refused: over %ld connects a second",
			  s->user_id, app->cfg->user_connect_rate);
		return OPEN_RATE_LIMITED;
	}
	st = store_connect(app->db, s->conn_id, s->user_id,
			   app->cfg->connection_ttl,
			   app->cfg->max_connections_per_user);
	if (st == DB_FULL) {
		log_info("user %s refused: %ld connections open", s->user_id,
			 app->cfg->max_connections_per_user);
		return OPEN_TOO_MANY;
	}
	if (st != DB_OK)
		return OPEN_UNAVAILABLE;
	delivery_start(app, s);
	metrics_add(M_CONNECTS, 1);
	log_info("connect %s user %s", s->conn_id, s->user_id);
	return OPEN_OK;
}

void handle_close(struct app *app, struct session *s)
{
	/* If this fails the row stays until the expiry job removes it. */
	(void)store_disconnect(app->db, s->conn_id);
	metrics_add(M_DISCONNECTS, 1);
	log_info("disconnect %s user %s", s->conn_id,
		 s->user_id ? s->user_id : "-");
}
