/* connstate.h - the state that travels with one connection.
 *
 * A bridge keeps it between the requests of a connection: Pushpin as
 * Meta-* headers (a response's Set-Meta-NAME: VALUE comes back as
 * Meta-NAME on every later request), another bridge in memory. It is read
 * and written here only, as an enum and numbers; the names and encodings
 * below are the whole format. Values are never empty: lighttpd drops a
 * response header with an empty value, so an empty value could never
 * clear anything.
 *
 *   User-Id  the connection's user (set once, at OPEN)
 *   Phase    "b:SEQ"    backlog: not subscribed yet, next page after SEQ;
 *            "w:MS"     live, subscribed at MS: one early check for what
 *                       a publish racing the subscription may have lost;
 *            "p:MS"     a sweep is due for what was stored before MS: a
 *                       probe ping went out, and the sweep starts when
 *                       its pong shows that the client has read
 *                       everything sent before it;
 *            "s:SEQ:MS" redelivering what was stored before MS and is
 *                       unacked, after SEQ (a sweep);
 *            "l"        live: subscribed, nothing due
 *   Sweep    unix seconds of the next redelivery check
 *   Refresh  unix seconds of the next expires_at refresh
 * (The rate budget is the user's, not the connection's: ratetable.h.)
 *
 * Trust: the values come from the bridge, which got them from us (Pushpin
 * strips Meta-* headers from clients); a malformed value reads as absent.
 * Pure code.
 */
#ifndef PARLEY_CONNSTATE_H
#define PARLEY_CONNSTATE_H

#include "common.h"

enum phase {
	PHASE_NONE,    /* no OPEN seen: not a session */
	PHASE_BACKLOG, /* delivering the backlog, not subscribed */
	PHASE_SETTLE,  /* live; an early check due (delivery.c) */
	PHASE_PROBE,   /* subscribed; a sweep waits for the probe's pong */
	PHASE_SWEEP,   /* subscribed; redelivering what a sweep found */
	PHASE_LIVE,    /* subscribed; live delivery only */
};

struct conn_state {
	char user_id[ID_MAX + 1]; /* "" when absent */
	enum phase phase;
	long long after;      /* BACKLOG, SWEEP: last seq sent */
	long long mark_ms;    /* SETTLE: when subscribed (unix ms);
				 PROBE, SWEEP: stored before this */
	long long sweep_at;   /* 0: none */
	long long refresh_at; /* 0: none */
};

/* Reads the state through get(ctx, NAME) (NULL: absent). */
void conn_state_load(struct conn_state *st,
		     const char *(*get)(void *ctx, const char *name),
		     void *ctx);
/* Writes through set(ctx, NAME, VALUE) what differs from `was`. */
void conn_state_save(const struct conn_state *st, const struct conn_state *was,
		     void (*set)(void *ctx, const char *name,
				 const char *value),
		     void *ctx);

/* The names, for bridges that must know them (e.g. to map to headers). */
#define STATE_USER_ID "User-Id"
#define STATE_PHASE "Phase"
#define STATE_SWEEP "Sweep"
#define STATE_REFRESH "Refresh"

#endif
