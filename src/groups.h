/* groups.h - the group actions (README, "Groups") and the fan-out of
 * group events to members' channels.
 *
 * A group's membership lives in PostgreSQL (groupstore.h); each member's
 * connections listen to the member's own channel, as for one-to-one
 * messages. So a group event is one publish per online member, and a
 * member removed from a group gets nothing published to the group from
 * then on: no subscription to take back.
 */
#ifndef PARLEY_GROUPS_H
#define PARLEY_GROUPS_H

#include "session.h"

/* createGroup, addMembers / removeMembers / leaveGroup, getReceipts. */
void handle_create_group(struct app *app, struct session *s,
			 const struct request *q);
void handle_group_change(struct app *app, struct session *s,
			 const struct request *q);
void handle_get_receipts(struct app *app, struct session *s,
			 const struct request *q);

/* Runs and empties the queue: for each fan-out, the online members it is
 * for (one query), then a publish to each member's channel. A bridge
 * calls it once its answer to the request has gone. */
void fanout_run(struct app *app);

#endif
