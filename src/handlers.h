/* handlers.h - the client's actions (README, "Frames: client to server") and the
 * connection's start and end, independent of the bridge.
 *
 * Each handler takes a session whose user the bridge has authenticated
 * and answers through the session's bridge; it talks to the database
 * (store.h) and the publisher. Frames are hostile and validated by
 * protocol.c before anything here acts on them.
 */
#ifndef PARLEY_HANDLERS_H
#define PARLEY_HANDLERS_H

#include "session.h"

enum open_result { OPEN_OK, OPEN_UNAVAILABLE, OPEN_TOO_MANY,
		   OPEN_RATE_LIMITED };

/* Before a handshake is authenticated: one connection attempt from the
 * client's address (NULL: unknown, not counted), within its budget. */
bool connect_allowed_from(struct app *app, const char *address) MUST_CHECK;
/* $connect: within the user's connect budget, stores the connection and
 * sets up its delivery state. */
enum open_result handle_open(struct app *app, struct session *s) MUST_CHECK;
/* One text frame from the client. */
void handle_text(struct app *app, struct session *s, const char *frame,
		 size_t len);
/* A frame the protocol does not carry (binary). */
void handle_unsupported(struct app *app, struct session *s, const char *what);
/* $disconnect, clean or not: deletes the connection row. */
void handle_close(struct app *app, struct session *s);

#endif
