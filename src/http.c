/* http.c - see http.h. */
#include "common.h"
#include "http.h"
#include "api.h"
#include "publish.h"
#include "speclist.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#include <cjson/cJSON.h>

/* How long /healthz waits for Pushpin's publish socket. */
#define PUSHPIN_TIMEOUT_MS 1000

enum http_route http_route_of(const char *path)
{
	if (path == NULL)
		return HTTP_NONE;
	if (strcmp(path, "/healthz") == 0)
		return HTTP_HEALTHZ;
	if (strcmp(path, "/metrics") == 0)
		return HTTP_METRICS;
	if (strcmp(path, "/api/messages") == 0)
		return HTTP_API_MESSAGES;
	if (strncmp(path, "/api/", 5) == 0)
		return HTTP_API;
	return HTTP_NONE;
}

bool http_route_has_body(enum http_route route)
{
	return route == HTTP_API_MESSAGES;
}

/* 200 "ok" when the database and every Pushpin instance answer; 200
 * "degraded" when the database and some instances do (the others'
 * clients are disconnected and reconnect to these: failing the health
 * check of every node because one Pushpin died would take them all out
 * of a load balancer); else 503 "unavailable". The instances that do not
 * answer are listed (README, "Several nodes"). */
static void healthz(struct app *app, struct http_reply *out)
{
	long long conns, pending;
	char err[256];
	bool db_ok = store_counts(app->db, &conns, &pending) == DB_OK;
	int n = publisher_count(app->pub), up = 0;
	bool down[SPEC_LIST_MAX] = { false };
	const char *pp, *status;
	cJSON *body, *list = NULL;
	char *text;

	for (int i = 0; i < n; i++) {
		if (publisher_reachable(publisher_spec(app->pub, i),
					PUSHPIN_TIMEOUT_MS, err, sizeof(err))) {
			up++;
			continue;
		}
		down[i] = true;
		log_warn("healthz: Pushpin does not answer: %s: %s",
			 publisher_spec(app->pub, i), err);
	}
	if (!db_ok)
		log_warn("healthz: the database does not answer");
	pp = up == n ? "ok" : up > 0 ? "degraded" : "unavailable";
	status = !db_ok || up == 0 ? "unavailable" : pp;
	out->status = !db_ok || up == 0 ? "503 Service Unavailable" : "200 OK";
	out->content_type = "application/json";
	body = cJSON_CreateObject();
	if (body != NULL && cJSON_AddStringToObject(body, "status", status) &&
	    cJSON_AddStringToObject(body, "database",
				    db_ok ? "ok" : "unavailable") &&
	    cJSON_AddStringToObject(body, "pushpin", pp) &&
	    (up == n || n == 1 ||
	     (list = cJSON_AddArrayToObject(body, "pushpin_unavailable"))))
		for (int i = 0; list != NULL && i < n; i++)
			if (down[i])
				cJSON_AddItemToArray(list, cJSON_CreateString(
					publisher_spec(app->pub, i)));
	text = body ? cJSON_PrintUnformatted(body) : NULL;
	if (text == NULL) {
		out->status = "500 Internal Server Error";
		buf_puts(&out->body, "{\"status\":\"error\"}\n");
	} else {
		buf_printf(&out->body, "%s\n", text);
	}
	cJSON_free(text);
	cJSON_Delete(body);
}

static void metrics(struct app *app, struct http_reply *out)
{
	struct metrics_gauges g;

	/* A database that does not answer leaves the gauges out; the
	 * counters are shown all the same. */
	if (store_counts(app->db, &g.connections_open, &g.pending) != DB_OK)
		g.connections_open = g.pending = -1;
	out->status = "200 OK";
	out->content_type = "text/plain; version=0.0.4; charset=utf-8";
	metrics_write(&out->body, &g);
}

void http_serve(struct app *app, enum http_route route,
		const struct http_request *rq, struct http_reply *out)
{
	const char *method = rq->method;

	*out = (struct http_reply){ .status = "404 Not Found",
				    .content_type = "text/plain" };
	buf_init(&out->body);
	if (route == HTTP_NONE || route == HTTP_API) {
		buf_puts(&out->body, "not found\n");
		return;
	}
	if (route == HTTP_API_MESSAGES) {
		if (method != NULL && strcmp(method, "POST") == 0) {
			api_send(app, rq, out);
			return;
		}
		out->status = "405 Method Not Allowed";
		out->allow = "POST";
		buf_puts(&out->body, "use POST\n");
		return;
	}
	if (method == NULL ||
	    (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
		out->status = "405 Method Not Allowed";
		out->allow = "GET, HEAD";
		buf_puts(&out->body, "use GET\n");
		return;
	}
	if (route == HTTP_HEALTHZ)
		healthz(app, out);
	else
		metrics(app, out);
}
