/* http.h - the plain HTTP routes beside the WebSocket endpoint, on the
 * WebSocket URL's host and port (PROTOCOL.md section 7; README,
 * "Health and metrics"): GET /healthz and GET /metrics. Transport-free:
 * parley-ws.c turns a reply into FastCGI.
 *
 * Trust: both are read-only and take no input but the method and path;
 * they show counts and whether the database and Pushpin answer, never an
 * id, a token or a message. Anyone who reaches Pushpin's port can read
 * them (as with Pushpin's own stats): README says how to keep /metrics
 * to the monitoring host.
 */
#ifndef PARLEY_HTTP_H
#define PARLEY_HTTP_H

#include "buf.h"
#include "session.h"

enum http_route { HTTP_NONE, HTTP_HEALTHZ, HTTP_METRICS };

struct http_reply {
	const char *status;       /* "200 OK" ... */
	const char *content_type;
	const char *allow;        /* an Allow header (405), or NULL */
	struct buf body;          /* buf_init()ed by http_serve */
};

/* The route of a request path (the query string excluded). */
enum http_route http_route_of(const char *path);

/* Answers the route: the caller sends *out and buf_free()s its body. */
void http_serve(struct app *app, enum http_route route, const char *method,
		struct http_reply *out);

#endif
