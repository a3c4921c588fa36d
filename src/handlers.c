/* handlers.c - see handlers.h.
 *
 * Delivery, in short (README "Delivery guarantees" has the long form):
 * - A send is acked only after its INSERT committed; then it is published
 *   to the recipient's channel and the sender's (skipping the sending
 *   connection). A publish may be lost; the row stays 'sent' until a
 *   device of the recipient acks it.
 * - A new connection first gets the user's unacked messages in pages, in
 *   receive order, one page per request of that connection (acks pull the
 *   next page); it subscribes to live events only when the backlog is
 *   drained, so live messages cannot overtake older offline ones. One
 *   catch-up page after subscribing picks up what was stored in between.
 * - Every redelivery_interval each connection gets again what is still
 *   unacked and older than that interval.
 */
#include "common.h"
#include "handlers.h"
#include "buf.h"
#include "log.h"

#include <time.h>
#include <uuid/uuid.h>

/* Room kept free in every answer for the small events that follow. */
#define ROOM_RESERVE 4096
/* The largest event, as one WebSocket message to a client. Pushpin 1.36
 * with client_buffer_size=65536 silently drops an outgoing message over
 * 81,920 bytes (measured: no close, nothing logged), so every event stays
 * under this: a send whose message event could be larger is too_large,
 * and a history page is cut to fit. */
#define EVENT_MAX 80000

void app_init(struct app *app, const struct settings *cfg, struct db *db,
	      struct publisher *pub)
{
	app->cfg = cfg;
	app->db = db;
	app->pub = pub;
	app->limits.max_content_bytes = (size_t)cfg->max_content_bytes;
	app->limits.max_ids = (int)cfg->max_ids_per_frame;
	app->limits.max_depth = (int)cfg->max_json_depth;
}

void user_channel(char *out, size_t size, const char *user_id)
{
	snprintf(out, size, "u:%s", user_id);
}

static size_t room(struct session *s)
{
	size_t r = s->out.room(s->out.ctx);
	return r > ROOM_RESERVE ? r - ROOM_RESERVE : 0;
}

/* Sends and frees an event. */
static void send_event(struct session *s, cJSON *ev)
{
	char *json = ev ? cJSON_PrintUnformatted(ev) : NULL;

	if (json == NULL)
		log_error("out of memory building an event");
	else
		s->out.send(s->out.ctx, json, strlen(json));
	cJSON_free(json);
	cJSON_Delete(ev);
}

static void publish_event(struct app *app, const char *user_id, cJSON *ev,
			  const char *skip_conn)
{
	char channel[ID_MAX + 8];
	char *json = cJSON_PrintUnformatted(ev);

	user_channel(channel, sizeof(channel), user_id);
	if (json != NULL)
		publish_ws(app->pub, channel, json, skip_conn);
	cJSON_free(json);
}

static cJSON *event_new(const char *type, cJSON **data)
{
	cJSON *ev = cJSON_CreateObject();

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(ev, "type", type);
	*data = cJSON_AddObjectToObject(ev, "data");
	if (*data == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

static void send_error(struct session *s, const char *code,
		       const char *message, const char *action,
		       const char *message_id)
{
	cJSON *data, *ev = event_new("error", &data);

	if (ev == NULL)
		return;
	cJSON_AddStringToObject(data, "code", code);
	cJSON_AddStringToObject(data, "message", message);
	if (action != NULL)
		cJSON_AddStringToObject(data, "action", action);
	if (message_id != NULL && *message_id != '\0')
		cJSON_AddStringToObject(data, "messageId", message_id);
	send_event(s, ev);
}

static void send_db_error(struct session *s, enum db_status st,
			  const char *action, const char *message_id)
{
	if (st == DB_UNAVAILABLE)
		send_error(s, "unavailable", "storage is unavailable; retry "
			   "later (with the same messageId)", action,
			   message_id);
	else
		send_error(s, "internal", "the server could not complete the "
			   "request", action, message_id);
}

static void add_nullable(cJSON *obj, const char *name, PGresult *r, int row,
			 int col)
{
	if (PQgetisnull(r, row, col))
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddStringToObject(obj, name, PQgetvalue(r, row, col));
}

/* A row of MSG_COLUMNS in the original receive format. */
static cJSON *message_data(PGresult *r, int row)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL)
		return NULL;
	cJSON_AddStringToObject(m, "messageId", PQgetvalue(r, row, MC_ID));
	cJSON_AddStringToObject(m, "conversationId",
				PQgetvalue(r, row, MC_CONV));
	cJSON_AddStringToObject(m, "senderId", PQgetvalue(r, row, MC_SENDER));
	add_nullable(m, "senderName", r, row, MC_SENDER_NAME);
	cJSON_AddStringToObject(m, "recipientId",
				PQgetvalue(r, row, MC_RECIPIENT));
	cJSON_AddStringToObject(m, "content", PQgetvalue(r, row, MC_CONTENT));
	cJSON_AddStringToObject(m, "timestamp",
				PQgetvalue(r, row, MC_TIMESTAMP));
	cJSON_AddStringToObject(m, "status", PQgetvalue(r, row, MC_STATUS));
	cJSON_AddBoolToObject(m, "isDeleted",
			      PQgetvalue(r, row, MC_DELETED)[0] == 't');
	add_nullable(m, "replyToMessageId", r, row, MC_REPLY_ID);
	add_nullable(m, "replyToContent", r, row, MC_REPLY_CONTENT);
	add_nullable(m, "replyToSenderName", r, row, MC_REPLY_SENDER_NAME);
	return m;
}

static cJSON *message_event(PGresult *r, int row)
{
	cJSON *ev = cJSON_CreateObject(), *m = message_data(r, row);

	if (ev == NULL || m == NULL) {
		cJSON_Delete(ev);
		cJSON_Delete(m);
		return NULL;
	}
	cJSON_AddStringToObject(ev, "type", "message");
	cJSON_AddItemToObject(ev, "data", m);
	return ev;
}

/* Bytes a string takes inside a JSON string as cJSON prints it. */
static size_t json_escaped_len(const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\' || c == '\b' || c == '\f' ||
		    c == '\n' || c == '\r' || c == '\t')
			n += 2;
		else if (c < 0x20)
			n += 6;
		else
			n += 1;
	}
	return n;
}

static void handle_send(struct app *app, struct session *s,
			struct request *q)
{
	char generated[37], *json;
	const char *mid = q->message_id, *params[10];
	enum db_status st;
	PGresult *r;
	bool inserted;
	cJSON *ev, *data;

	if (q->sender_id != NULL && strcmp(q->sender_id, s->user_id) != 0) {
		send_error(s, "forbidden", "'senderId' must be the connected "
			   "user", "sendMessage", mid);
		return;
	}
	if (json_escaped_len(q->content) +
		    json_escaped_len(q->reply_to_content) +
		    json_escaped_len(q->sender_name) +
		    json_escaped_len(q->reply_to_sender_name) + 4 * ID_MAX +
		    1024 > EVENT_MAX) {
		send_error(s, "too_large", "message too large once encoded",
			   "sendMessage", mid);
		return;
	}
	if (mid == NULL) {
		uuid_t u;
		uuid_generate_random(u);
		uuid_unparse_lower(u, generated);
		mid = generated;
	}
	params[0] = mid;
	params[1] = q->conversation_id;
	params[2] = s->user_id;
	params[3] = q->sender_name;
	params[4] = q->recipient_id;
	params[5] = q->content;
	params[6] = q->timestamp;
	params[7] = q->reply_to_message_id;
	params[8] = q->reply_to_content;
	params[9] = q->reply_to_sender_name;
	r = db_run(app->db, S_SEND, params, &st);
	if (r == NULL || PQntuples(r) != 1) {
		if (r != NULL) /* a concurrent insert of the same id */
			st = DB_UNAVAILABLE;
		send_db_error(s, st, "sendMessage", mid);
		PQclear(r);
		return;
	}
	inserted = PQgetvalue(r, 0, MC_NCOLS)[0] == 't';
	if (!inserted && strcmp(PQgetvalue(r, 0, MC_SENDER), s->user_id)) {
		send_error(s, "conflict", "this messageId is taken by another "
			   "sender", "sendMessage", mid);
		PQclear(r);
		return;
	}
	if (inserted) {
		/* Committed: now tell the recipient's devices and the
		 * sender's other devices. */
		ev = message_event(r, 0);
		json = ev ? cJSON_PrintUnformatted(ev) : NULL;
		if (json != NULL) {
			char channel[ID_MAX + 8];
			user_channel(channel, sizeof(channel), q->recipient_id);
			publish_ws(app->pub, channel, json, s->conn_id);
			if (strcmp(q->recipient_id, s->user_id) != 0) {
				user_channel(channel, sizeof(channel),
					     s->user_id);
				publish_ws(app->pub, channel, json, s->conn_id);
			}
		}
		cJSON_free(json);
		cJSON_Delete(ev);
	}
	ev = event_new("ack", &data);
	if (ev != NULL) {
		cJSON_AddStringToObject(data, "action", "sendMessage");
		cJSON_AddStringToObject(data, "messageId", mid);
		cJSON_AddStringToObject(data, "status",
					PQgetvalue(r, 0, MC_STATUS));
		cJSON_AddBoolToObject(data, "duplicate", !inserted);
		cJSON_AddStringToObject(data, "timestamp",
					PQgetvalue(r, 0, MC_NCOLS + 1));
		send_event(s, ev);
	}
	PQclear(r);
}

enum rc_col { RC_ID, RC_MINE, RC_CHANGED, RC_SENDER, RC_CONV, RC_DELETED,
	      RC_AT };

static void handle_receipts(struct app *app, struct session *s,
			    struct request *q)
{
	bool read = q->action == ACT_MARKREAD;
	const char *action = action_name(q->action), *params[2];
	char *arr = db_text_array(q->ids, q->nids);
	cJSON *ev, *data, *applied, *skipped;
	enum db_status st = DB_ERROR;
	PGresult *r = NULL;

	params[0] = arr;
	params[1] = s->user_id;
	if (arr != NULL)
		r = db_run(app->db, read ? S_READ : S_ACK, params, &st);
	free(arr);
	if (r == NULL) {
		send_db_error(s, st, action, NULL);
		return;
	}
	ev = event_new("ack", &data);
	if (ev == NULL)
		goto out;
	cJSON_AddStringToObject(data, "action", action);
	applied = cJSON_AddArrayToObject(data, "messageIds");
	skipped = cJSON_AddArrayToObject(data, "skipped");
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, RC_ID);
		bool mine = PQgetvalue(r, i, RC_MINE)[0] == 't';
		cJSON_AddItemToArray(mine ? applied : skipped,
				     cJSON_CreateString(id));
		if (PQgetvalue(r, i, RC_CHANGED)[0] == 't') {
			cJSON *sd, *sev = event_new("status", &sd);
			if (sev == NULL)
				continue;
			cJSON_AddStringToObject(sd, "messageId", id);
			cJSON_AddStringToObject(sd, "conversationId",
						PQgetvalue(r, i, RC_CONV));
			cJSON_AddStringToObject(sd, "status",
						read ? "read" : "delivered");
			cJSON_AddBoolToObject(sd, "isDeleted",
				PQgetvalue(r, i, RC_DELETED)[0] == 't');
			cJSON_AddStringToObject(sd, "at",
						PQgetvalue(r, i, RC_AT));
			publish_event(app, PQgetvalue(r, i, RC_SENDER), sev,
				      NULL);
			cJSON_Delete(sev);
		}
	}
	send_event(s, ev);
out:
	PQclear(r);
}

enum del_col { DC_SENDER, DC_RECIPIENT, DC_CONV, DC_STATUS, DC_CHANGED,
	       DC_AT };

static void handle_delete(struct app *app, struct session *s,
			  struct request *q)
{
	const char *params[2] = { q->message_id, s->user_id };
	enum db_status st;
	PGresult *r = db_run(app->db, S_DELETE, params, &st);
	cJSON *ev, *data;

	if (r == NULL) {
		send_db_error(s, st, "deleteMessage", q->message_id);
		return;
	}
	if (PQntuples(r) == 0 ||
	    (strcmp(PQgetvalue(r, 0, DC_SENDER), s->user_id) != 0 &&
	     strcmp(PQgetvalue(r, 0, DC_RECIPIENT), s->user_id) != 0)) {
		send_error(s, "not_found", "no such message", "deleteMessage",
			   q->message_id);
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, DC_SENDER), s->user_id) != 0) {
		send_error(s, "forbidden", "only the sender may delete a "
			   "message", "deleteMessage", q->message_id);
		goto out;
	}
	if (PQgetvalue(r, 0, DC_CHANGED)[0] == 't') {
		const char *recipient = PQgetvalue(r, 0, DC_RECIPIENT);
		ev = event_new("status", &data);
		if (ev != NULL) {
			cJSON_AddStringToObject(data, "messageId",
						q->message_id);
			cJSON_AddStringToObject(data, "conversationId",
						PQgetvalue(r, 0, DC_CONV));
			cJSON_AddStringToObject(data, "status",
						PQgetvalue(r, 0, DC_STATUS));
			cJSON_AddBoolToObject(data, "isDeleted", true);
			cJSON_AddStringToObject(data, "at",
						PQgetvalue(r, 0, DC_AT));
			publish_event(app, s->user_id, ev, NULL);
			if (strcmp(recipient, s->user_id) != 0)
				publish_event(app, recipient, ev, NULL);
			cJSON_Delete(ev);
		}
	}
	ev = event_new("ack", &data);
	if (ev != NULL) {
		cJSON_AddStringToObject(data, "action", "deleteMessage");
		cJSON_AddStringToObject(data, "messageId", q->message_id);
		send_event(s, ev);
	}
out:
	PQclear(r);
}

static void handle_get(struct app *app, struct session *s, struct request *q)
{
	const char *params[5] = { q->conversation_id, s->user_id, NULL, NULL,
				  NULL };
	char seq[32], limit[16];
	enum db_status st;
	PGresult *r;
	cJSON *ev, *data, *list;
	size_t budget = room(s) < EVENT_MAX ? room(s) : EVENT_MAX;
	size_t used = 256 + json_escaped_len(q->conversation_id);
	bool more;
	int n;

	if (q->before != NULL) {
		const char *bp[2] = { q->before, q->conversation_id };
		r = db_run(app->db, S_BEFORE_SEQ, bp, &st);
		if (r == NULL) {
			send_db_error(s, st, "getMessages", NULL);
			return;
		}
		if (PQntuples(r) == 1) {
			snprintf(seq, sizeof(seq), "%s", PQgetvalue(r, 0, 0));
			params[2] = seq;
		} else if (valid_rfc3339(q->before)) {
			params[3] = q->before;
		}
		PQclear(r);
		if (params[2] == NULL && params[3] == NULL) {
			send_error(s, "not_found", "'before' is neither a "
				   "message of this conversation nor a time",
				   "getMessages", NULL);
			return;
		}
	}
	snprintf(limit, sizeof(limit), "%d", q->limit + 1);
	params[4] = limit;
	r = db_run(app->db, S_HISTORY, params, &st);
	if (r == NULL) {
		send_db_error(s, st, "getMessages", NULL);
		return;
	}
	n = PQntuples(r);
	more = n > q->limit;
	if (more)
		n = q->limit;
	ev = event_new("messages", &data);
	if (ev == NULL)
		goto out;
	cJSON_AddStringToObject(data, "conversationId", q->conversation_id);
	list = cJSON_AddArrayToObject(data, "messages");
	for (int i = 0; i < n; i++) {
		cJSON *m = message_data(r, i);
		char *json = m ? cJSON_PrintUnformatted(m) : NULL;
		size_t len = json ? strlen(json) + 1 : 0;
		cJSON_free(json);
		if (m == NULL || used + len > budget) {
			/* The rest comes with the next page. */
			cJSON_Delete(m);
			more = true;
			break;
		}
		used += len;
		cJSON_AddItemToArray(list, m);
	}
	cJSON_AddBoolToObject(data, "hasMore", more);
	send_event(s, ev);
out:
	PQclear(r);
}

static void handle_typing(struct app *app, struct session *s,
			  struct request *q)
{
	cJSON *data, *ev = event_new("typing", &data);

	if (ev == NULL)
		return;
	cJSON_AddStringToObject(data, "senderId", s->user_id);
	if (q->conversation_id != NULL)
		cJSON_AddStringToObject(data, "conversationId",
					q->conversation_id);
	else
		cJSON_AddNullToObject(data, "conversationId");
	cJSON_AddBoolToObject(data, "isTyping", q->is_typing);
	publish_event(app, q->recipient_id, ev, s->conn_id);
	cJSON_Delete(ev);
}

void session_rate_load(struct session *s, const char *value)
{
	char *end;

	s->tokens_at = 0;
	if (value == NULL)
		return;
	s->tokens = strtoll(value, &end, 10);
	if (*end == ':')
		s->tokens_at = strtoll(end + 1, NULL, 10);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The per-connection token bucket: rate_limit frames a second, at most
 * rate_burst at once. Counted in thousandths of a frame. */
static bool take_token(struct app *app, struct session *s)
{
	long long now = now_ms(), cap = app->cfg->rate_burst * 1000LL;

	if (s->tokens_at <= 0 || s->tokens_at > now) {
		s->tokens = cap;
	} else {
		s->tokens += (now - s->tokens_at) * app->cfg->rate_limit;
		if (s->tokens > cap)
			s->tokens = cap;
	}
	s->tokens_at = now;
	s->rate_changed = true;
	if (s->tokens < 1000)
		return false;
	s->tokens -= 1000;
	return true;
}

void handle_text(struct app *app, struct session *s, const char *frame,
		 size_t len)
{
	struct request q;
	struct proto_error err;
	cJSON *data, *ev;

	if (!take_token(app, s)) {
		send_error(s, "rate_limited", "too many frames; slow down and "
			   "send again", NULL, NULL);
		return;
	}
	if (len > (size_t)app->cfg->max_frame_bytes) {
		char msg[96];
		snprintf(msg, sizeof(msg), "frame larger than %ld bytes",
			 app->cfg->max_frame_bytes);
		send_error(s, "too_large", msg, NULL, NULL);
		return;
	}
	if (!proto_parse(frame, len, &app->limits, &q, &err)) {
		send_error(s, err.code, err.message, err.action,
			   err.message_id);
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
		ev = event_new("pong", &data);
		send_event(s, ev);
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

enum open_result handle_open(struct app *app, struct session *s)
{
	char ttl[24], when[24], max[24];
	const char *params[4] = { s->conn_id, s->user_id, ttl, max };
	enum db_status st;
	PGresult *r;
	long long now = (long long)time(NULL);
	bool full;

	snprintf(ttl, sizeof(ttl), "%ld", app->cfg->connection_ttl);
	snprintf(max, sizeof(max), "%ld", app->cfg->max_connections_per_user);
	r = db_run(app->db, S_CONNECT, params, &st);
	if (r == NULL)
		return OPEN_UNAVAILABLE;
	full = PQntuples(r) == 0;
	PQclear(r);
	if (full) {
		log_info("user %s refused: %ld connections open", s->user_id,
			 app->cfg->max_connections_per_user);
		return OPEN_TOO_MANY;
	}
	/* Offline delivery starts with the first page of this very answer. */
	snprintf(s->flush, sizeof(s->flush), "f:0");
	s->sweep = now + app->cfg->redelivery_interval;
	snprintf(when, sizeof(when), "%lld", s->sweep);
	s->out.set_state(s->out.ctx, STATE_SWEEP, when);
	s->refresh = now + app->cfg->connection_ttl / 2;
	snprintf(when, sizeof(when), "%lld", s->refresh);
	s->out.set_state(s->out.ctx, STATE_REFRESH, when);
	log_debug("connect %s user %s", s->conn_id, s->user_id);
	return OPEN_OK;
}

void handle_close(struct app *app, struct session *s)
{
	const char *params[1] = { s->conn_id };
	enum db_status st;
	PGresult *r = db_run(app->db, S_DISCONNECT, params, &st);

	/* If this fails the row stays until the expiry job removes it. */
	PQclear(r);
	log_debug("disconnect %s", s->conn_id);
}

/* Sends the user's unacked messages after seq `after` (and, with
 * min_age >= 0, older than min_age seconds), as many as fit. Sets *last
 * to the last seq sent and returns true when nothing is left. */
static bool deliver_page(struct app *app, struct session *s, long long after,
			 long min_age, long long *last)
{
	char after_s[32], limit_s[16], age_s[16];
	const char *params[4] = { s->user_id, after_s, limit_s,
				  min_age >= 0 ? age_s : NULL };
	enum db_status st;
	PGresult *r;
	bool done;
	int n, i;

	*last = after;
	snprintf(after_s, sizeof(after_s), "%lld", after);
	snprintf(limit_s, sizeof(limit_s), "%ld", app->cfg->page_messages);
	snprintf(age_s, sizeof(age_s), "%ld", min_age);
	r = db_run(app->db, S_PENDING, params, &st);
	if (r == NULL)
		return false; /* try again with the next request */
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		cJSON *ev = message_event(r, i);
		char *json = ev ? cJSON_PrintUnformatted(ev) : NULL;
		bool fits = json != NULL && strlen(json) <= room(s);
		if (fits) {
			s->out.send(s->out.ctx, json, strlen(json));
			*last = strtoll(PQgetvalue(r, i, MC_SEQ), NULL, 10);
		}
		cJSON_free(json);
		cJSON_Delete(ev);
		if (!fits)
			break;
	}
	done = i == n && n < app->cfg->page_messages;
	PQclear(r);
	return done;
}

void handle_flush(struct app *app, struct session *s)
{
	long long last;
	bool done;

	/* "f:SEQ": backlog being delivered, not yet subscribed;
	 * "c:SEQ": subscribed, one catch-up page still due. */
	if (s->flush[0] != 'f' && s->flush[0] != 'c')
		return;
	done = deliver_page(app, s, strtoll(s->flush + 2, NULL, 10), -1,
			    &last);
	if (s->flush[0] == 'f' && done) {
		char channel[ID_MAX + 8];
		user_channel(channel, sizeof(channel), s->user_id);
		s->out.subscribe(s->out.ctx, channel);
		snprintf(s->flush, sizeof(s->flush), "c:%lld", last);
	} else if (done) {
		s->flush[0] = '\0';
	} else {
		snprintf(s->flush, sizeof(s->flush), "%c:%lld", s->flush[0],
			 last);
	}
	s->out.set_state(s->out.ctx, STATE_FLUSH, s->flush);
}

void handle_idle(struct app *app, struct session *s)
{
	long long now = (long long)time(NULL), last;
	char val[32];

	if (s->flush[0] == '\0' && s->sweep <= now) {
		deliver_page(app, s, 0, app->cfg->redelivery_interval, &last);
		s->sweep = now + app->cfg->redelivery_interval;
		snprintf(val, sizeof(val), "%lld", s->sweep);
		s->out.set_state(s->out.ctx, STATE_SWEEP, val);
	}
	if (s->refresh != 0 && s->refresh <= now) {
		const char *params[2] = { s->conn_id, val };
		enum db_status st;
		PGresult *r;
		snprintf(val, sizeof(val), "%ld", app->cfg->connection_ttl);
		r = db_run(app->db, S_TOUCH, params, &st);
		if (r != NULL) {
			PQclear(r);
			s->refresh = now + app->cfg->connection_ttl / 2;
			snprintf(val, sizeof(val), "%lld", s->refresh);
			s->out.set_state(s->out.ctx, STATE_REFRESH, val);
		}
	}
}
