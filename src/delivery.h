/* delivery.h - getting every unacked message to a connection: the
 * backlog after connecting, the check after subscribing, and the
 * redelivery sweep. The state machine is connstate.h's Phase:
 *
 *   OPEN -> BACKLOG: pages of the user's unacked messages in receive
 *       order (not subscribed, so live messages cannot overtake older
 *       ones); each page ends with a WebSocket ping, whose pong brings
 *       the next request at once, so a client that never sends a frame
 *       still gets its whole backlog.
 *   BACKLOG, last page sent -> SETTLE: subscribe, note the time. What
 *       is stored after the last page's query is published after the
 *       subscription left here, so it is delivered live, unless its
 *       publish overtakes the subscription inside Pushpin (a window of a
 *       millisecond or so). The first request 2 s after subscribing
 *       delivers what is still unacked and older than 2 s: what such a
 *       race lost (a client that acks has acked its live copies by then;
 *       a connection that stays silent gets it with its next keep-alive
 *       request). No extra request per connect.
 *   SETTLE -> LIVE: the bridge delivers publishes.
 *   LIVE -> PROBE -> SWEEP -> LIVE: every redelivery_interval, a request
 *       looks for what is unacked and older than that interval (a lost
 *       publish, a dropped buffer). If there is any, it sends a probe
 *       ping first (PROBE); the probe's pong shows that the client has
 *       read everything sent before it, and its request delivers again,
 *       in pages, what is still unacked (SWEEP). A client that has stopped
 *       reading gets no copies behind the ones it has not read; without
 *       an answer the probe is repeated every interval. The check after
 *       subscribing (SETTLE) goes through PROBE the same way.
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

/* Whether a pong's payload answers a sweep's probe ping. */
bool delivery_is_probe(const char *data, size_t len);

#endif
