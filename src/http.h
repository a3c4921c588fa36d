/* http.h - the plain HTTP routes beside the WebSocket endpoint, on the
 * WebSocket URL's host and port (PROTOCOL.md section 7; README,
 * "Health and metrics", "HTTP send API"): GET /healthz, GET /metrics and
 * POST /api/messages (api.h). Transport-free: parley-ws.c turns a
 * request into a struct http_request and a reply into FastCGI.
 *
 * Trust: /healthz and /metrics are read-only and take no input but the
 * method and path;
 * they show counts and whether the database and Pushpin answer, never an
 * id, a token or a message. Anyone who reaches Pushpin's port can read
 * them (as with Pushpin's own stats): README says how to keep /metrics
 * to the monitoring host.
 */
#ifndef PARLEY_HTTP_H
#define PARLEY_HTTP_H

#include "buf.h"
#include "session.h"

enum http_route { HTTP_NONE, HTTP_HEALTHZ, HTTP_METRICS, HTTP_API,
		  HTTP_API_MESSAGES };

struct http_request {
	const char *method;
	const char *authorization; /* the Authorization header, or NULL */
	const char *body;          /* a POST's, or NULL */
	size_t len;
};

struct http_reply {
	const char *status;       /* "200 OK" ... */
	const char *content_type;
	const char *allow;        /* an Allow header (405), or NULL */
	const char *www_authenticate; /* a WWW-Authenticate header (401) */
	struct buf body;          /* buf_init()ed by http_serve */
};

/* The route of a request path (the query string excluded): HTTP_API
 * for any other path under /api/ (404). */
enum http_route http_route_of(const char *path);
/* Whether the route takes a body (the caller reads it for a POST). */
bool http_route_has_body(enum http_route route);

/* Answers the route: the caller sends *out and buf_free()s its body. */
void http_serve(struct app *app, enum http_route route,
		const struct http_request *rq, struct http_reply *out);

#endif
