/* http.c - see http.h. */
#include "common.h"
#include "http.h"
#include "api.h"
#include "publish.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

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

static void healthz(struct app *app, struct http_reply *out)
{
	long long conns, pending;
	char err[256];
	bool db_ok = store_counts(app->db, &conns, &pending) == DB_OK;
	bool pp_ok = publisher_reachable(app->cfg->publish_spec,
					  PUSHPIN_TIMEOUT_MS, err, sizeof(err));

	if (!db_ok)
		log_warn("healthz: the database does not answer");
	if (!pp_ok)
		log_warn("healthz: Pushpin does not answer: %s", err);
	out->status = db_ok && pp_ok ? "200 OK" : "503 Service Unavailable";
	out->content_type = "application/json";
	buf_printf(&out->body, "{\"status\":\"%s\",\"database\":\"%s\","
		   "\"pushpin\":\"%s\"}\n", db_ok && pp_ok ? "ok" : "unavailable",
		   db_ok ? "ok" : "unavailable", pp_ok ? "ok" : "unavailable");
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
