/* handlers.h - the chat protocol (PROTOCOL.md), independent of transport.
 *
 * Each handler takes an already-identified session and a parsed request,
 * talks to the database and the publisher, and answers through the
 * session's output functions. The WebSocket-over-HTTP adapter
 * (parley-ws.c) is one transport; tests and a second bridge can be others.
 *
 * Trust: the session's user id and connection id come from the transport,
 * which must have authenticated them; frames are hostile and validated by
 * protocol.c before anything here sees them.
 */
#ifndef PARLEY_HANDLERS_H
#define PARLEY_HANDLERS_H

#include "db.h"
#include "protocol.h"
#include "publish.h"
#include "settings.h"

struct app {
	const struct settings *cfg;
	struct limits limits;
	struct db *db;
	struct publisher *pub;
};

/* What a transport provides to answer one connection. */
struct session_out {
	/* a JSON text frame to this connection */
	void (*send)(void *ctx, const char *json, size_t len);
	/* start delivering the user channel's events to this connection */
	void (*subscribe)(void *ctx, const char *channel);
	/* per-connection state the transport keeps between requests
	 * (an empty value removes it) */
	void (*set_state)(void *ctx, const char *name, const char *value);
	/* bytes this answer may still grow by */
	size_t (*room)(void *ctx);
	void *ctx;
};

/* Per-connection state, kept by the transport between requests. */
#define STATE_FLUSH "Flush"   /* offline delivery cursor, see handlers.c */
#define STATE_SWEEP "Sweep"   /* next redelivery check, unix seconds */
#define STATE_REFRESH "Refresh" /* next expires_at refresh, unix seconds */
#define STATE_RATE "Rate"     /* token bucket: "tokens/1000:unix ms" */

struct session {
	const char *conn_id;
	const char *user_id;
	char flush[32];    /* STATE_FLUSH value; "" when done */
	long long sweep;   /* STATE_SWEEP */
	long long refresh; /* STATE_REFRESH */
	long long tokens;  /* STATE_RATE: frames left, in thousandths */
	long long tokens_at; /* STATE_RATE: when counted, unix ms; 0: full */
	bool rate_changed;
	struct session_out out;
};

enum open_result { OPEN_OK, OPEN_UNAVAILABLE, OPEN_TOO_MANY };

void app_init(struct app *app, const struct settings *cfg, struct db *db,
	      struct publisher *pub);

/* $connect: stores the connection and starts offline delivery. */
enum open_result handle_open(struct app *app, struct session *s) MUST_CHECK;
/* Reads STATE_RATE's value into the session (NULL: a full bucket). */
void session_rate_load(struct session *s, const char *value);

/* One text frame from the client. */
void handle_text(struct app *app, struct session *s, const char *frame,
		 size_t len);
/* A frame the protocol does not carry (binary). */
void handle_unsupported(struct app *app, struct session *s, const char *what);
/* $disconnect, clean or not: deletes the connection row. */
void handle_close(struct app *app, struct session *s);
/* Once per request, after OPEN and before the client's frames: the next
 * page of offline delivery while one is due. */
void handle_flush(struct app *app, struct session *s);
/* After every request: redelivery of unacked messages, refresh of the
 * connection's expiry. */
void handle_idle(struct app *app, struct session *s);

/* "u:" + user id: the channel every connection of a user listens to. */
void user_channel(char *out, size_t size, const char *user_id);

#endif
