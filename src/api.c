/* api.c - see api.h. */
#include "common.h"
#include "api.h"
#include "apikeys.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"

#include <cjson/cJSON.h>

/* What the handler answered: its one event. */
struct capture {
	char *json;
	bool more; /* a second event: not expected from sendMessage */
};

static void capture_send(void *ctx, const char *json, size_t len)
{
	struct capture *c = ctx;

	if (c->json != NULL) {
		c->more = true;
		return;
	}
	c->json = malloc(len + 1);
	if (c->json != NULL) {
		memcpy(c->json, json, len);
		c->json[len] = '\0';
	}
}

static size_t capture_room(void *ctx)
{
	(void)ctx;
	return 1u << 20;
}

/* An error code's HTTP status (PROTOCOL.md section 7). */
static const char *status_of(const char *code)
{
	static const struct { const char *code, *status; } map[] = {
		{ "invalid_json", "400 Bad Request" },
		{ "unknown_action", "400 Bad Request" },
		{ "missing_field", "400 Bad Request" },
		{ "invalid_field", "400 Bad Request" },
		{ "forbidden", "403 Forbidden" },
		{ "not_found", "404 Not Found" },
		{ "conflict", "409 Conflict" },
		{ "too_large", "413 Payload Too Large" },
		{ "rate_limited", "429 Too Many Requests" },
		{ "unavailable", "503 Service Unavailable" },
	};

	for (size_t i = 0; i < ARRAY_LEN(map); i++)
		if (strcmp(map[i].code, code) == 0)
			return map[i].status;
	return "500 Internal Server Error";
}

/* An answer of our own (not the handler's): the error's data. */
static void refuse(struct http_reply *out, const char *status,
		   const char *code, const char *message)
{
	cJSON *d = cJSON_CreateObject();
	char *json;

	metrics_error(code);
	cJSON_AddStringToObject(d, "code", code);
	cJSON_AddStringToObject(d, "message", message);
	cJSON_AddStringToObject(d, "action", "sendMessage");
	json = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);
	out->status = status;
	out->content_type = "application/json";
	buf_printf(&out->body, "%s\n", json ? json : "{}");
	free(json);
}

/* The handler's event as the answer: its data, with the status of its
 * type (an ack: 200) or error code. */
static void answer(struct http_reply *out, const char *event)
{
	cJSON *ev = event ? cJSON_Parse(event) : NULL;
	cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
	cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
	cJSON *code = cJSON_GetObjectItemCaseSensitive(data, "code");
	char *json = cJSON_IsObject(data) ? cJSON_PrintUnformatted(data)
					  : NULL;

	out->content_type = "application/json";
	if (json == NULL || !cJSON_IsString(type)) {
		log_error("api: the handler gave no answer");
		out->status = "500 Internal Server Error";
		buf_puts(&out->body, "{\"code\":\"internal\",\"message\":"
			 "\"the server could not complete the request\"}\n");
	} else {
		out->status = strcmp(type->valuestring, "ack") == 0
			? "200 OK"
			: status_of(cJSON_IsString(code) ? code->valuestring
							  : "internal");
		buf_printf(&out->body, "%s\n", json);
	}
	free(json);
	cJSON_Delete(ev);
}

/* The body as a sendMessage frame: "action" added when absent, and the
 * sending user; NULL after refusing. */
static char *frame_of(const struct http_request *rq, struct http_reply *out,
		      char *user, size_t usize)
{
	cJSON *o = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->len);
	cJSON *action = cJSON_GetObjectItemCaseSensitive(o, "action");
	cJSON *sender = cJSON_GetObjectItemCaseSensitive(o, "senderId");
	char *frame = NULL;

	if (!cJSON_IsObject(o))
		refuse(out, "400 Bad Request", "invalid_json",
		       "the body must be a JSON object (a sendMessage frame)");
	else if (action != NULL && !(cJSON_IsString(action) &&
				     strcmp(action->valuestring,
					    "sendMessage") == 0))
		refuse(out, "400 Bad Request", "invalid_field",
		       "'action' must be sendMessage (or left out)");
	else if (sender == NULL || cJSON_IsNull(sender))
		refuse(out, "400 Bad Request", "missing_field",
		       "'senderId' is required: the user the message is "
		       "from");
	else if (!cJSON_IsString(sender) || sender->valuestring[0] == '\0' ||
		 strlen(sender->valuestring) >= usize)
		refuse(out, "400 Bad Request", "invalid_field",
		       "'senderId' must be a user id");
	else if (action == NULL &&
		 !cJSON_AddStringToObject(o, "action", "sendMessage"))
		refuse(out, "500 Internal Server Error", "internal",
		       "out of memory");
	else if ((frame = cJSON_PrintUnformatted(o)) == NULL)
		refuse(out, "500 Internal Server Error", "internal",
		       "out of memory");
	else
		snprintf(user, usize, "%s", sender->valuestring);
	cJSON_Delete(o);
	return frame;
}

void api_send(struct app *app, const struct http_request *rq,
	      struct http_reply *out)
{
	const struct apikeys *keys = apikeys_file_get(&app->api_keys);
	char user[ID_MAX + 1], *frame;
	const char *key;
	size_t keylen = 0;
	struct capture cap = { 0 };
	struct bridge io = { .conn_id = API_CONN_ID, .send = capture_send,
			     .room = capture_room, .ctx = &cap };
	struct session s = { .conn_id = API_CONN_ID, .io = &io };

	if (app->api_keys.path[0] == '\0') {
		refuse(out, "404 Not Found", "not_found", "the HTTP API is "
		       "off (no api_keys_file configured)");
		return;
	}
	key = apikeys_bearer(rq->authorization, &keylen);
	if (key == NULL || !apikeys_match(keys, key, keylen)) {
		log_warn("api: a call without a valid API key refused");
		refuse(out, "401 Unauthorized", "unauthorized",
		       "an API key is required: Authorization: Bearer KEY");
		out->www_authenticate = "Bearer realm=\"parley\"";
		return;
	}
	if (rq->len > (size_t)app->cfg->max_frame_bytes) {
		refuse(out, "413 Payload Too Large", "too_large",
		       "body larger than max_frame_bytes");
		return;
	}
	frame = frame_of(rq, out, user, sizeof(user));
	if (frame == NULL)
		return;
	s.user_id = user;
	handle_text(app, &s, frame, strlen(frame));
	if (cap.more)
		log_error("api: the handler answered more than once");
	answer(out, cap.json);
	if (strcmp(out->status, "200 OK") == 0)
		log_info("api: message stored from %s", user);
	free(cap.json);
	cJSON_free(frame);
}
