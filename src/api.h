/* api.h - POST /api/messages, the HTTP send API for trusted backends
 * (PROTOCOL.md section 7; README, "HTTP send API"), transport-free.
 *
 * A call is a sendMessage frame from the user named by senderId, run
 * by the same handler as a WebSocket frame (handlers.c) in a session
 * of its own that has no connection: the same validation, idempotency,
 * rate budget, storage, delivery and receipts. Its ack or error event
 * becomes the answer: 200 with the ack's data, 4xx/5xx with the error's.
 *
 * Trust: the caller must present one of the configured keys (apikeys.h)
 * as a bearer token, and may then send as any user: the keys are for
 * backends, never for clients. The body is hostile until validated.
 */
#ifndef PARLEY_API_H
#define PARLEY_API_H

#include "http.h"

/* The connection id the API's sends carry: no Pushpin connection has it
 * (theirs are "<hex>:<n>"), so every device of the sender gets a copy. */
#define API_CONN_ID "http-api"

void api_send(struct app *app, const struct http_request *rq,
	      struct http_reply *out);

#endif
