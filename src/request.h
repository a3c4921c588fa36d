/* request.h - one request of one connection, from any bridge.
 *
 * The order of work is fixed here and nowhere else: the events in order
 * (OPEN authenticates and stores the connection; text frames are
 * actions; CLOSE and DISCONNECT end it), then whatever delivery is due
 * (delivery.h), then the connection's state is saved, only what changed.
 */
#ifndef PARLEY_REQUEST_H
#define PARLEY_REQUEST_H

#include "auth.h"
#include "session.h"

enum request_result {
	REQUEST_OK,          /* answer with what the bridge collected */
	REQUEST_BAD,         /* 400: *why */
	REQUEST_UNAUTHORIZED,/* 401: *why */
	REQUEST_TOO_MANY,    /* 429: too many connections or attempts */
	REQUEST_UNAVAILABLE, /* 503: storage is down; retry */
};

/* events[0..n) are the request's events, already validated as a whole
 * by the bridge's codec. On anything but REQUEST_OK nothing collected in
 * the bridge may be sent. */
enum request_result handle_request(struct app *app, const struct auth *auth,
				   struct bridge *io,
				   const struct ws_event *events, size_t n,
				   const char **why) MUST_CHECK;

#endif
