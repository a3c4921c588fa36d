/* events.c - see events.h. */
#include "common.h"
#include "events.h"

#include <cjson/cJSON.h>

void event_free(char *json)
{
	cJSON_free(json);
}

/* {"type": type, "data": {}}; *data is the data object. */
static cJSON *event_new(const char *type, cJSON **data)
{
	cJSON *ev = cJSON_CreateObject();

	if (ev == NULL)
		return NULL;
	if (cJSON_AddStringToObject(ev, "type", type) == NULL ||
	    (*data = cJSON_AddObjectToObject(ev, "data")) == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

/* Prints and frees the event. */
static char *event_done(cJSON *ev)
{
	char *json = ev ? cJSON_PrintUnformatted(ev) : NULL;

	cJSON_Delete(ev);
	return json;
}

static void add_nullable(cJSON *obj, const char *name, const char *value)
{
	if (value == NULL)
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddStringToObject(obj, name, value);
}

/* The original receive format. */
static cJSON *message_data(const struct message *m)
{
	cJSON *d = cJSON_CreateObject();

	if (d == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "messageId", m->id);
	cJSON_AddStringToObject(d, "conversationId", m->conversation_id);
	cJSON_AddStringToObject(d, "senderId", m->sender_id);
	add_nullable(d, "senderName", m->sender_name);
	add_nullable(d, "recipientId", m->recipient_id); /* NULL: a group's */
	cJSON_AddStringToObject(d, "content", m->content);
	cJSON_AddStringToObject(d, "timestamp", m->timestamp);
	cJSON_AddStringToObject(d, "status", m->status);
	cJSON_AddBoolToObject(d, "isDeleted", m->is_deleted);
	add_nullable(d, "replyToMessageId", m->reply_to_message_id);
	add_nullable(d, "replyToContent", m->reply_to_content);
	add_nullable(d, "replyToSenderName", m->reply_to_sender_name);
	return d;
}

char *event_message(const struct message *m)
{
	cJSON *ev = cJSON_CreateObject(), *d = message_data(m);

	if (ev == NULL || d == NULL) {
		cJSON_Delete(ev);
		cJSON_Delete(d);
		return NULL;
	}
	cJSON_AddStringToObject(ev, "type", "message");
	cJSON_AddItemToObject(ev, "data", d);
	return event_done(ev);
}

char *event_send_ack(const char *message_id, const char *status,
		     bool duplicate, const char *timestamp)
{
	cJSON *d, *ev = event_new("ack", &d);

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "action", "sendMessage");
	cJSON_AddStringToObject(d, "messageId", message_id);
	cJSON_AddStringToObject(d, "status", status);
	cJSON_AddBoolToObject(d, "duplicate", duplicate);
	cJSON_AddStringToObject(d, "timestamp", timestamp);
	return event_done(ev);
}

char *event_receipts_ack(const char *action, const struct receipt_list *l)
{
	cJSON *d, *ev = event_new("ack", &d), *applied, *skipped;

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "action", action);
	applied = cJSON_AddArrayToObject(d, "messageIds");
	skipped = cJSON_AddArrayToObject(d, "skipped");
	if (applied == NULL || skipped == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	for (int i = 0; i < l->n; i++)
		cJSON_AddItemToArray(l->items[i].mine ? applied : skipped,
				     cJSON_CreateString(l->items[i].id));
	return event_done(ev);
}

char *event_delete_ack(const char *message_id)
{
	cJSON *d, *ev = event_new("ack", &d);

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "action", "deleteMessage");
	cJSON_AddStringToObject(d, "messageId", message_id);
	return event_done(ev);
}

char *event_status(const char *message_id, const char *conversation_id,
		   const char *status, bool is_deleted, const char *at,
		   const char *user_id)
{
	cJSON *d, *ev = event_new("status", &d);

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "messageId", message_id);
	cJSON_AddStringToObject(d, "conversationId", conversation_id);
	cJSON_AddStringToObject(d, "status", status);
	cJSON_AddBoolToObject(d, "isDeleted", is_deleted);
	cJSON_AddStringToObject(d, "at", at);
	if (user_id != NULL)
		cJSON_AddStringToObject(d, "userId", user_id);
	return event_done(ev);
}

char *event_group_ack(const char *action, const char *conversation_id)
{
	cJSON *d, *ev = event_new("ack", &d);

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "action", action);
	cJSON_AddStringToObject(d, "conversationId", conversation_id);
	return event_done(ev);
}

static cJSON *add_ids(cJSON *obj, const char *name, const char *const *ids,
		      int n)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, name);

	for (int i = 0; arr != NULL && i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(ids[i]));
	return arr;
}

char *event_group(const struct group_view *g, const char *change,
		  const char *by, const char *const *users, int nusers)
{
	cJSON *d, *ev = event_new("group", &d), *members, *admins;

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "conversationId", g->conversation_id);
	add_nullable(d, "title", g->title);
	members = cJSON_AddArrayToObject(d, "members");
	admins = cJSON_AddArrayToObject(d, "admins");
	for (int i = 0; members != NULL && admins != NULL && i < g->n; i++) {
		cJSON_AddItemToArray(members,
				     cJSON_CreateString(g->members[i].user_id));
		if (g->members[i].admin)
			cJSON_AddItemToArray(admins, cJSON_CreateString(
						 g->members[i].user_id));
	}
	cJSON_AddStringToObject(d, "change", change);
	cJSON_AddStringToObject(d, "by", by);
	cJSON_AddStringToObject(d, "at", g->at);
	add_ids(d, "users", users, nusers);
	return event_done(ev);
}

char *event_receipts(const char *message_id, const struct receipts_of *r,
		     size_t budget)
{
	cJSON *d, *ev = event_new("receipts", &d), *list;
	size_t used = 256 + json_escaped_len(message_id);
	bool more = r->more;

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "messageId", message_id);
	list = cJSON_AddArrayToObject(d, "receipts");
	if (list == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	for (int i = 0; i < r->n; i++) {
		const struct member_receipt *m = &r->items[i];
		/* {"userId":"","status":"delivered","at":"...Z"}, */
		size_t len = 64 + json_escaped_len(m->user_id) +
			     strlen(m->status) + strlen(m->at);
		cJSON *o;
		if (used + len > budget) {
			more = true;
			break;
		}
		o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddStringToObject(o, "userId", m->user_id);
		cJSON_AddStringToObject(o, "status", m->status);
		cJSON_AddStringToObject(o, "at", m->at);
		cJSON_AddItemToArray(list, o);
		used += len;
	}
	cJSON_AddBoolToObject(d, "hasMore", more);
	return event_done(ev);
}

char *event_error(const char *code, const char *message, const char *action,
		  const char *message_id)
{
	cJSON *d, *ev = event_new("error", &d);

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "code", code);
	cJSON_AddStringToObject(d, "message", message);
	if (action != NULL)
		cJSON_AddStringToObject(d, "action", action);
	if (message_id != NULL && *message_id != '\0')
		cJSON_AddStringToObject(d, "messageId", message_id);
	return event_done(ev);
}

char *event_typing(const char *sender_id, const char *conversation_id,
		   bool is_typing)
{
	cJSON *d, *ev = event_new("typing", &d);

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "senderId", sender_id);
	add_nullable(d, "conversationId", conversation_id);
	cJSON_AddBoolToObject(d, "isTyping", is_typing);
	return event_done(ev);
}

char *event_pong(void)
{
	cJSON *d;
	return event_done(event_new("pong", &d));
}

char *event_history(const char *conversation_id, const struct message_list *l,
		    size_t budget, bool *more)
{
	cJSON *d, *ev = event_new("messages", &d), *list;
	size_t used = 256 + json_escaped_len(conversation_id);

	if (ev == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "conversationId", conversation_id);
	list = cJSON_AddArrayToObject(d, "messages");
	if (list == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	for (int i = 0; i < l->n; i++) {
		cJSON *m = message_data(&l->items[i]);
		char *json = m ? cJSON_PrintUnformatted(m) : NULL;
		size_t len = json ? strlen(json) + 1 : 0;
		cJSON_free(json);
		if (m == NULL || used + len > budget) {
			/* The rest comes with the next page. */
			cJSON_Delete(m);
			*more = true;
			break;
		}
		used += len;
		cJSON_AddItemToArray(list, m);
	}
	cJSON_AddBoolToObject(d, "hasMore", *more);
	return event_done(ev);
}

size_t json_escaped_len(const char *s)
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
