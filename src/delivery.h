/* delivery.h - getting every unacked message to a connection: the
 * backlog after connecting, the catch-up after subscribing, and the
 * redelivery sweep. The state machine is connstate.h's Phase:
 *
 *   OPEN -> BACKLOG: pages of the user's unacked messages in receive
 *       order (not subscribed, so live messages cannot overtake older
 *       ones); each page ends with a WebSocket ping, whose pong brings
 *       the next request at once, so a client that never sends a frame
 *       still gets its whole backlog.
 *   BACKLOG, last page sent -> CATCHUP: subscribe, and ping; the pong's
 *       request delivers what was committed after the backlog's last
 *       query and may have been published before the subscription took
 *       effect. It runs after that request's frames, so a live copy the
 *       client already acked is not sent again.
 *   CATCHUP -> LIVE: nothing more is due; the bridge delivers publishes.
 *   LIVE: every redelivery_interval, a request delivers again what is
 *       unacked and older than that interval (a lost publish).
 *
 * While nothing fails a connection so gets each message once (the
 * catch-up page can repeat only a message committed within the few
 * milliseconds of the subscription that the client has not acked yet).
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
