/* session.h - what the chat's handlers see of a worker and a connection.
 *
 * Layers, and the one direction calls go:
 *   bridge adapter (parley-ws.c: libfcgi + WebSocket-over-HTTP + GRIP)
 *     -> request.c   the order of work in one request, transport-free
 *       -> handlers.c (actions), delivery.c (backlog, settle, sweep)
 *         -> events.c (JSON), store.c (SQL), publish.c (Pushpin)
 * A bridge fills a struct bridge with its outputs and state store, and
 * calls handle_request(); nothing below request.c knows which bridge.
 */
#ifndef PARLEY_SESSION_H
#define PARLEY_SESSION_H

#include "apikeys.h"
#include "connstate.h"
#include "metrics.h"
#include "protocol.h"
#include "publish.h"
#include "ratetable.h"
#include "settings.h"
#include "store.h"
#include "wsevent.h"

/* An event for every member of a group who is online (one publish per
 * member's channel), found and sent after the request's answer has
 * gone: the sender's ack does not wait for per-member work. */
struct fanout {
	char *json;            /* the event */
	char *conversation_id; /* the group */
	long long seq;         /* a message's: the members it was sent to;
				  <= 0: every current member */
	char *skip_conn;       /* the connection it skips, or NULL */
	bool message;          /* a message event: counted as delivered */
};

struct fanouts {
	struct fanout **items;
	size_t n, cap;
};

/* Per-worker: read-only configuration, the database connection, the
 * publisher, the host's rate buckets (ratetable.h; NULL: a bridge that
 * keeps no rate limits), the group fan-outs due after the answer, and
 * the HTTP API's keys (path "" until the bridge loads them: no API). */
struct app {
	const struct settings *cfg;
	struct limits limits;
	struct db *db;
	struct publisher *pub;
	struct rate_table *rates;
	struct fanouts later; /* groups.h: fanout_run() */
	struct apikeys_file api_keys; /* the HTTP API's (api.h) */
};

/* What a bridge provides for one request of one connection. */
struct bridge {
	const char *conn_id;       /* the bridge's id of the connection */
	const char *query;         /* the handshake's query string */
	const char *authorization; /* the handshake's Authorization, or NULL */
	const char *address;       /* the client's address, as the bridge
				      knows it (connect limits), or NULL */
	/* connection state (connstate.h), kept between requests */
	const char *(*get_state)(void *ctx, const char *name);
	void (*set_state)(void *ctx, const char *name, const char *value);
	/* the handshake is accepted: answer OPEN, keep the connection
	 * alive (a request every keepalive_s, a client ping after
	 * ping_s of silence) */
	void (*accept)(void *ctx, long keepalive_s, long ping_s);
	/* from now on, deliver `channel`'s publishes to this connection,
	 * except those published with this connection's id as skip_conn */
	void (*subscribe)(void *ctx, const char *channel);
	/* one JSON text message to the client */
	void (*send)(void *ctx, const char *json, size_t len);
	/* a bare WebSocket frame to the client: WS_PONG, WS_PING (the
	 * client's stack answers with a pong, which comes back as a
	 * request: how the backend asks for the next one), WS_CLOSE */
	void (*frame)(void *ctx, enum ws_type type, const char *data,
		      size_t len);
	/* bytes this answer may still grow by */
	size_t (*room)(void *ctx);
	void *ctx;
};

/* What may leave only after a COMMIT: acks of changes and publishes
 * (request.c holds a request's frames in one transaction when it has
 * several). Without an open transaction nothing waits here. */
struct deferred {
	char *json;       /* the event, or the published content */
	char *channel;    /* a publish: its channel; NULL: an ack to send */
	char *skip_conn;  /* a publish: the connection it skips (or NULL) */
	struct fanout *fan; /* a group's fan-out (owns it), or NULL */
	const char *action;  /* an ack: what it acknowledges */
	char *message_id;    /* an ack: its message, or NULL */
};

struct outbox {
	bool holding; /* a transaction is open: hold until COMMIT */
	struct deferred *items;
	size_t n, cap;
	uint64_t held[M_COUNT]; /* counts (metrics.h) done at COMMIT */
};

struct session {
	const char *conn_id;
	const char *user_id;     /* points into state.user_id */
	struct conn_state state; /* changed freely; saved by request.c */
	bool probe_answered;     /* the request holds a probe ping's pong */
	struct outbox outbox;
	struct bridge *io;
};

void app_init(struct app *app, const struct settings *cfg, struct db *db,
	      struct publisher *pub);

/* What a bridge's process (parley-ws, parley-websocketd) opens while it
 * may still be root, before program_drop_privileges(): the
 * authenticator and the rate and metrics tables (the files may be
 * root's). EX_OK, or the <sysexits.h> code with the reason logged. */
struct bridge_files {
	struct auth *auth;
	struct rate_table *rates;
};
int bridge_files_open(struct bridge_files *f, const struct settings *cfg)
    MUST_CHECK;
void bridge_files_close(struct bridge_files *f);

/* app_init() with the settings' own database connection (named `name`
 * in pg_stat_activity) and publisher, both connected on first use, and
 * the rate table of f: what each worker process makes after it gave
 * root up (and after a fork). EX_OK, else EX_CONFIG (publish_spec is no
 * list, logged) or EX_OSERR, with nothing left to free. */
int app_open(struct app *app, const struct settings *cfg,
	     const struct bridge_files *f, const char *name) MUST_CHECK;
void app_close(struct app *app);


/* "u:" + user id: the channel every connection of a user listens to. */
void user_channel(char *out, size_t size, const char *user_id);

#endif
