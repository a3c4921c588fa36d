/* delivery.h - getting every unacked message to a connection: the
 * backlog after connecting, the catch-up after subscribing, and the
 * redelivery sweep. The state machine is connstate.h's Phase:
 *
 *   OPEN -> BACKLOG: pages of the user's unacked messages in receive
 *       order (not subscribed, so live messages cannot overtake older
 *       ones); each page ends with a WebSocket ping, whose pong brings
 *       the next request at once, so a client that never sends a frame
 *       still gets its whole backlog.
 *   BACKLOG, last page sent -> CATCHUP: subscribe, note the time, ping;
 *       the pong's request delivers what was stored after the backlog's
 *       last query and before the subscription was sent (a publish of it
 *       may have gone out before the subscription took effect). What is
 *       stored after that is published after the subscription: live.
 *   CATCHUP -> SETTLE: live. The first request 2 s after subscribing
 *       delivers what is still unacked and older than 2 s: a publish that
 *       overtook the subscription inside Pushpin (a client that acks has
 *       acked its live copies by then).
 *   SETTLE -> LIVE: the bridge delivers publishes.
 *   LIVE -> SWEEP -> LIVE: every redelivery_interval, a request delivers
 *       again, in pages, what is unacked and older than that interval (a
 *       lost publish, a dropped buffer).
 * Every step runs after the request's own frames, so acks in the same
 * request count. While nothing fails, a connection so gets each message
 * once.
 */
#ifndef PARLEY_DELIVERY_H
#define PARLEY_DELIVERY_H

#include "session.h"

/* The state of a connection just stored (OPEN). */
void delivery_start(struct app *app, struct session *s);
/* After a request's frames: whatever delivery is due, and the refresh
 * of the connection row's expiry. */
void delivery_due(struct app *app, struct session *s);
/* Bytes an answer to the client's request may still use, leaving room
 * for the small events that follow it. */
size_t delivery_room(struct session *s);

#endif
